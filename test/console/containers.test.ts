// The console's containers tab on a real agent and a real Docker engine (its own folders, a tiny
// image from busybox-static, a private registry with a password): the ps and images tables, a
// container run from the registry with its pull progress, stopped, renamed and removed from the
// page, and an ERROR: shown where the run was asked.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshotDir } from '../helpers/console.js';
import { startConsoleStack, type ConsoleStack } from '../helpers/console-stack.js';
import { startDockerEngine, type TestDockerEngine } from '../helpers/docker-engine.js';
import { tempDir } from '../helpers/tmp.js';

const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

describe('console containers tab', { concurrency: false }, () => {
  let engine: TestDockerEngine;
  let configDir: { path: string; remove(): Promise<void> };
  let stack: ConsoleStack;
  let page: Page;
  let shots: string;
  const keeper = unique('ac-keeper');
  const name = unique('ac-console-run');
  const renamed = `${name}-renamed`;
  const row = (n: string) => page.locator(`tr[data-container="${n}"]`);
  const runningIn = async (n: string) => (await engine.docker(['inspect', '--format', '{{.State.Running}}', n])).trim();

  before(async () => {
    [engine, configDir] = await Promise.all([startDockerEngine(), tempDir('ac-console-docker-')]);
    await engine.docker(['create', '--network', 'none', '--name', keeper, engine.localImage]);
    stack = await startConsoleStack({}, { featureOptions: { containers: { socketPath: engine.socketPath, dockerConfigPath: join(configDir.path, 'config.json'), progressIntervalMs: 0 } } });
    page = stack.page;
    shots = await screenshotDir();
    await page.getByRole('tab', { name: 'containers' }).click();
  });

  after(async () => {
    await stack?.close();
    await engine?.close();
    await configDir?.remove();
  });

  it('shows the engine’s containers and images', async () => {
    await row(keeper).getByTestId('container-state').filter({ hasText: 'created' }).waitFor();
    await page.locator('table[aria-label="images"] th', { hasText: engine.localImage }).waitFor();
  });

  it('runs a container from the registry with its pull progress, the password gone from the form', async () => {
    await page.getByLabel('Image', { exact: true }).fill(engine.registryImage);
    await page.getByLabel('Container name').fill(name);
    await page.getByLabel('Registry user').fill(engine.registry.user);
    await page.getByLabel('Registry password').fill(engine.registry.password);
    await page.getByText('Engine configuration').click();
    await page.getByLabel(/^Host config/).fill('{"NetworkMode":"none"}');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await page.getByLabel('Registry password').inputValue(), '');
    await page.getByTestId('run-answer').filter({ hasText: new RegExp(`run ${engine.registryImage}: started ${name} [0-9a-f]{12}$`) }).waitFor({ timeout: 90_000 });
    await page.getByTestId('pull-progress').filter({ hasText: `${engine.registryImage}: pulled` }).waitFor();
    await row(name).getByTestId('container-state').filter({ hasText: 'running' }).waitFor();
    assert.equal(await runningIn(name), 'true');
    await page.screenshot({ path: join(shots, 'device-containers.png'), fullPage: true });
  });

  it('stops, renames and removes the container from its row', async () => {
    await row(name).getByRole('button', { name: 'stop' }).click();
    await page.getByTestId('container-action-answer').filter({ hasText: `stop ${name}: stop done` }).waitFor({ timeout: 60_000 });
    await row(name).getByTestId('container-state').filter({ hasText: 'exited' }).waitFor();
    assert.equal(await runningIn(name), 'false');

    await row(name).getByRole('button', { name: 'rename' }).click();
    await page.getByLabel(`new name for ${name}`).fill(renamed);
    await page.keyboard.press('Enter');
    await page.getByTestId('container-action-answer').filter({ hasText: `rename ${name} to ${renamed}: renamed` }).waitFor();
    await row(renamed).waitFor();

    await row(renamed).getByRole('button', { name: 'remove' }).click();
    await row(renamed).getByRole('button', { name: 'confirm remove' }).click();
    await page.getByTestId('container-action-answer').filter({ hasText: `remove ${renamed}: remove done` }).waitFor({ timeout: 60_000 });
    await row(renamed).waitFor({ state: 'detached' });
    assert.doesNotMatch(await engine.docker(['ps', '-a', '--format', '{{.Names}}']), new RegExp(renamed));
    await row(keeper).waitFor();
  });

  it('shows an ERROR: in place for an image the registry does not have', async () => {
    const image = `${engine.registry.address}/does-not-exist:1`;
    await page.getByLabel('Image', { exact: true }).fill(image);
    await page.getByLabel('Container name').fill('');
    await page.getByLabel('Registry password').fill(engine.registry.password);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const answer = page.getByTestId('run-answer');
    await answer.filter({ hasText: new RegExp(`run ${image}: ERROR: pull of .*does-not-exist:1 failed`) }).waitFor({ timeout: 90_000 });
    assert.equal(await answer.getAttribute('role'), 'alert');
    await page.screenshot({ path: join(shots, 'device-containers-error.png'), fullPage: true });
  });

  it('is readable on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole('tab', { name: 'containers' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'device-containers-phone.png') });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0);
  });
});
