// The console's packages tab on a real agent, real apt and dpkg: 33 throw-away packages in a local
// repository (APT_CONFIG points at it, as test/commands/apt.test.ts does), apt update with its live
// progress, a search that pages, apt/get, an install and a remove (asked first), an ERROR: shown in
// place; and a repository added, edited and removed through the form in a throw-away apt_config_dir.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { createLocalAptRepo, defaultDescription, type LocalAptRepo } from '../helpers/apt-repo.js';
import { dpkgStatus } from '../helpers/apt-system.js';
import { screenshotDir } from '../helpers/console.js';
import { startConsoleStack, type ConsoleStack } from '../helpers/console-stack.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const prefix = `ac-console-${randomBytes(3).toString('hex')}`;
// 33: a first page of 30 and a second of 3.
const names = Array.from({ length: 33 }, (_, i) => `${prefix}-p${String(i).padStart(2, '0')}`);

describe('console packages tab', { concurrency: false }, () => {
  let repo: LocalAptRepo;
  let sources: { path: string; remove(): Promise<void> };
  let stack: ConsoleStack;
  let page: Page;
  let shots: string;
  const savedAptConfig = process.env.APT_CONFIG;
  const row = (name: string) => page.locator(`tr[data-package="${name}"]`);

  before(async () => {
    repo = await createLocalAptRepo();
    for (const name of names) await repo.add({ name, version: '1.0' });
    await repo.publish();
    // The in-process agent's apt and dpkg inherit it.
    process.env.APT_CONFIG = repo.env.APT_CONFIG;
    sources = await tempDir('ac-console-sources-');
    await mkdir(join(sources.path, 'sources.list.d'));
    await writeFile(join(sources.path, 'sources.list'), 'deb http://deb.debian.org/debian bookworm main\n');
    stack = await startConsoleStack({ apt_config_dir: sources.path });
    page = stack.page;
    shots = await screenshotDir();
    await page.getByRole('tab', { name: 'packages' }).click();
  });

  after(async () => {
    await run('dpkg', ['--purge', ...names]).catch(() => {});
    await stack?.close();
    await sources?.remove();
    await repo?.remove();
    if (savedAptConfig === undefined) delete process.env.APT_CONFIG;
    else process.env.APT_CONFIG = savedAptConfig;
  });

  it('runs apt update with its live progress, then a search pages through 33 packages', async () => {
    // Before any update the test's lists are empty: nothing is upgradable.
    await page.getByTestId('packages-summary').filter({ hasText: 'upgradable: 0 packages, page 1 of 1' }).waitFor();
    await page.getByRole('button', { name: 'apt update' }).click();
    await page.getByTestId('apt-progress').filter({ hasText: /\[apt\/update #\d+\] .*Reading package lists/ }).waitFor({ timeout: 90_000 });
    await page.getByTestId('apt-answer').filter({ hasText: 'apt/update: done' }).waitFor({ timeout: 90_000 });
    await page.getByLabel('Search packages').fill(prefix);
    await page.getByLabel('Search packages').press('Enter');
    await page.getByTestId('packages-summary').filter({ hasText: `“${prefix}”: 33 packages, page 1 of 2` }).waitFor();
    assert.equal(await page.locator('tr[data-package]').count(), 30);
    assert.equal(await row(names[0]!).getByTestId('package-status').innerText(), 'not-installed');
    await page.getByRole('button', { name: 'next page' }).click();
    await page.getByTestId('packages-summary').filter({ hasText: 'page 2 of 2' }).waitFor();
    assert.deepEqual(await page.locator('tr[data-package] th').allInnerTexts(), names.slice(30));
    assert.equal(await page.getByRole('button', { name: 'next page' }).isDisabled(), true);
    // The update's lines have been read: cleared, they stay out of the screenshot.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByTestId('apt-progress').waitFor({ state: 'detached' });
    await page.screenshot({ path: join(shots, 'device-packages.png'), fullPage: true });
    await page.getByRole('button', { name: 'previous page' }).click();
    await page.getByTestId('packages-summary').filter({ hasText: 'page 1 of 2' }).waitFor();
  });

  it('shows one package as apt/get answers it', async () => {
    const name = names[1]!;
    await row(name).getByRole('button', { name: 'details' }).click();
    await page.getByTestId(`package-${name}`).filter({ hasText: `apt/get ${name}: ${name} 1.0 (all), not-installed, 0 KiB: ${defaultDescription}` }).waitFor();
  });

  it('installs a package, then removes it once the removal is confirmed', async () => {
    const name = names[2]!;
    await row(name).getByRole('button', { name: 'install' }).click();
    await page.getByTestId('apt-answer').filter({ hasText: `apt/install ${name}: done` }).waitFor({ timeout: 120_000 });
    await row(name).getByTestId('package-status').filter({ hasText: /^installed$/ }).waitFor();
    assert.match(await page.getByTestId('apt-progress').innerText(), new RegExp(`\\[apt/install #\\d+\\] .*Setting up ${name}`));
    assert.equal(await dpkgStatus(name), 'installed 1.0');
    await row(name).getByRole('button', { name: 'remove' }).click();
    // Nothing is removed before the confirmation, which has the focus.
    assert.equal(await dpkgStatus(name), 'installed 1.0');
    await page.keyboard.press('Enter');
    await page.getByTestId('apt-answer').filter({ hasText: `apt/remove ${name}: done` }).waitFor({ timeout: 120_000 });
    await row(name).getByTestId('package-status').filter({ hasText: /^not-installed$/ }).waitFor();
    assert.notEqual(await dpkgStatus(name), 'installed 1.0');
  });

  it('shows an ERROR: in place for a search the API map refuses', async () => {
    await page.getByLabel('Search packages').fill('no spaces allowed');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const answer = page.getByTestId('packages-answer');
    await answer.filter({ hasText: /apt\/list: ERROR: not sent: field "search": may hold only/ }).waitFor();
    assert.equal(await answer.getAttribute('role'), 'alert');
  });

  it('adds, edits and removes a repository through the form', async () => {
    const managed = join(sources.path, 'sources.list.d', 'managed.list');
    const repoRow = page.locator('tr[data-repo="http://example.org/debian"]');
    await page.locator('tr[data-repo="http://deb.debian.org/debian"]').waitFor();
    await page.getByLabel('URI').fill('http://example.org/debian');
    await page.getByLabel('Distribution').fill('stable');
    await page.getByLabel('Components').fill('main');
    await page.getByLabel('Options').fill('arch=amd64');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByTestId('repos-answer').filter({ hasText: 'add http://example.org/debian: OK' }).waitFor();
    await repoRow.waitFor();
    assert.match(await readFile(managed, 'utf8'), /^deb \[arch=amd64\] http:\/\/example\.org\/debian stable main$/m);

    await repoRow.getByRole('button', { name: 'edit' }).click();
    assert.equal(await page.getByLabel('Components').inputValue(), 'main');
    await page.getByLabel('Components').fill('main contrib');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('repos-answer').filter({ hasText: 'edit http://example.org/debian: OK' }).waitFor();
    await repoRow.filter({ hasText: 'main contrib' }).waitFor();
    assert.match(await readFile(managed, 'utf8'), /^deb \[arch=amd64\] http:\/\/example\.org\/debian stable main contrib$/m);
    await page.locator('section.repos').screenshot({ path: join(shots, 'device-repositories.png') });

    await repoRow.getByRole('button', { name: 'remove' }).click();
    await repoRow.getByRole('button', { name: 'confirm remove' }).click();
    await page.getByTestId('repos-answer').filter({ hasText: 'remove http://example.org/debian: OK' }).waitFor();
    await repoRow.waitFor({ state: 'detached' });
    assert.doesNotMatch(await readFile(managed, 'utf8'), /example\.org/);
    // The system's own sources were never read or written: only the throw-away folder.
    assert.equal(await readFile(join(sources.path, 'sources.list'), 'utf8'), 'deb http://deb.debian.org/debian bookworm main\n');
  });

  it('is readable on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(shots, 'device-packages-phone.png') });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0);
  });
});
