// The web console end to end: a real mosquitto with a WebSocket listener, two real agents, the
// console built by Vite and served by its own server, driven in Debian's chromium. Sketches are
// real signed programs fetched from a real HTTP server.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { buildConsole, launchChromium, screenshotDir } from '../helpers/console.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/net.js';
import { makeKeyPair, signFile, type TestKeyPair } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const token = 'console-test-token';
// Heartbeats every second and offline after three missed: the kill case takes seconds, not 45.
const STALE_AFTER_SECONDS = 3;
// Long enough for a local download and a sketch's start on a loaded machine; short enough to see
// a request to a stopped device give up.
const ANSWER_TIMEOUT_SECONDS = 8;

let work: { path: string; remove(): Promise<void> };
let broker: Broker;
let wsPort: number;
let www: TestHttpServer;
let keys: TestKeyPair;
let agents: TestAgent[] = [];
let server: ConsoleServer;
let browser: Browser;
let page: Page;
let shots: string;

async function publishSketch(name: string, body: string): Promise<string> {
  const file = join(work.path, 'www', name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await signFile(keys.privateKeyPath, file);
  return www.url(`/${name}`);
}

const row = (id: string) => page.locator(`[data-device="${id}"]`);
const sketchRow = (id: string) => page.locator(`tr[data-sketch="${id}"]`);

describe('web console', { concurrency: false }, () => {
  before(async () => {
    work = await tempDir('ac-console-');
    const appDir = join(work.path, 'app');
    wsPort = await freePort();
    const [, b, k] = await Promise.all([
      buildConsole(appDir),
      startMosquitto({ extraConfig: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] }),
      makeKeyPair(work.path),
      mkdir(join(work.path, 'www')),
    ]);
    broker = b;
    keys = k;
    www = await startHttpServer({ folder: join(work.path, 'www'), token });
    for (const name of ['alpha', 'beta']) {
      agents.push(
        await startTestAgent(broker.url, {
          id: `console-${name}-${process.pid}`,
          heartbeat_interval: 1,
          signature_key: keys.publicKeyPath,
        }),
      );
    }
    server = await startConsoleServer({
      root: appDir,
      port: 0,
      config: { brokerUrl: `ws://127.0.0.1:${wsPort}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: STALE_AFTER_SECONDS, answerTimeoutSeconds: ANSWER_TIMEOUT_SECONDS },
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    page.setDefaultTimeout(20_000);
    shots = await screenshotDir();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const a of agents) await a.stop().catch(() => {});
    await www?.close();
    await broker?.close();
    await work?.remove();
  });

  it('lists both agents online, with their version and running sketch count', async () => {
    await page.goto(server.url);
    for (const a of agents) {
      await row(a.settings.id).and(page.locator('[data-state="online"]')).waitFor();
      await row(a.settings.id).locator('[data-testid="running"]', { hasText: '0' }).waitFor();
    }
    assert.match(await page.getByTestId('connection').innerText(), /connected \(MQTT 5\)/);
    await page.getByTestId('fleet-summary').filter({ hasText: '2 devices, 2 online' }).waitFor();
    // The filter narrows the list to one device.
    await page.getByRole('searchbox').fill('beta');
    await page.getByTestId('fleet-summary').filter({ hasText: '1 devices, 1 online' }).waitFor();
    assert.equal(await row(agents[0]!.settings.id).count(), 0);
    await page.getByRole('searchbox').fill('');
    await page.screenshot({ path: join(shots, 'fleet.png') });
  });

  it('deploys a signed sketch by URL, shows its output in the terminal and sends typed input to it', async () => {
    const alpha = agents[0]!;
    const url = await publishSketch('echo', 'echo ready\nwhile read line; do echo "got:$line"; done');
    await row(alpha.settings.id).click();
    await page.getByRole('heading', { name: alpha.settings.id }).waitFor();
    await page.getByLabel('Program URL').fill(url);
    await page.getByLabel('Name').fill('echo');
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByTestId('deploy-answer').filter({ hasText: /Sketch started with PID \d+/ }).waitFor();
    await sketchRow('echo').getByTestId('sketch-state').filter({ hasText: 'RUNNING' }).waitFor();
    await sketchRow('echo').getByRole('button', { name: 'terminal' }).click();
    const terminal = page.locator('[data-testid="terminal"][data-sketch="echo"] .xterm-rows');
    await terminal.waitFor();
    await page.locator('[data-testid="terminal"] textarea').focus();
    await page.keyboard.type('hello-console');
    await page.keyboard.press('Enter');
    await terminal.filter({ hasText: 'got:hello-console' }).waitFor();
    await page.screenshot({ path: join(shots, 'device-sketches.png'), fullPage: true });
  });

  it('STOP, START and DELETE change the table, each answer shown on its row', async () => {
    const answer = page.getByTestId('answer-echo');
    await sketchRow('echo').getByRole('button', { name: 'STOP' }).click();
    await sketchRow('echo').getByTestId('sketch-state').filter({ hasText: 'STOPPED' }).waitFor();
    await answer.filter({ hasText: 'successfully performed STOP on sketch echo' }).waitFor();
    await sketchRow('echo').getByRole('button', { name: 'START' }).click();
    await sketchRow('echo').getByTestId('sketch-state').filter({ hasText: 'RUNNING' }).waitFor();
    await sketchRow('echo').getByRole('button', { name: 'PAUSE' }).click();
    await sketchRow('echo').getByTestId('sketch-state').filter({ hasText: 'PAUSED' }).waitFor();
    await sketchRow('echo').getByRole('button', { name: 'DELETE' }).click();
    await sketchRow('echo').waitFor({ state: 'detached' });
    await page.locator('[data-testid="terminal"]').waitFor({ state: 'detached' });
  });

  it('shows an ERROR: answer where the command was given', async () => {
    await page.getByLabel('Program URL').fill(www.url('/missing'));
    await page.getByLabel('Name').fill('missing');
    await page.getByRole('button', { name: 'Deploy' }).click();
    const answer = page.getByTestId('deploy-answer');
    await answer.filter({ hasText: 'ERROR: download failed: HTTP 404' }).waitFor();
    assert.equal(await answer.getAttribute('role'), 'alert');
    // What the API map refuses is refused in place, before anything is sent.
    await page.getByLabel('Program URL').fill('ftp://127.0.0.1/program');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await answer.filter({ hasText: /ERROR: not sent: field "url": .*http/ }).waitFor();
    await page.screenshot({ path: join(shots, 'device-error.png'), fullPage: true });
  });

  it('draws memory and disk over the session on the stats tab', async () => {
    // By keyboard: the arrow key moves from the sketches tab to the stats tab.
    await page.getByRole('tab', { name: 'sketches' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'stats' }).getAttribute('aria-selected'), 'true');
    await page.locator('[data-testid="chart-memory used"] polyline').waitFor();
    assert.match(await page.locator('figure.chart figcaption').first().innerText(), /memory used: \d+\.\d %/);
    // No NetworkManager on this machine's system bus: the agent's reason is shown in its place.
    await page.getByTestId('network-unavailable').filter({ hasText: /^network: \S/ }).waitFor();
    await page.screenshot({ path: join(shots, 'device-stats.png'), fullPage: true });
  });

  it('shows a device whose agent stopped as offline once its heartbeats stop', async () => {
    const beta = agents[1]!;
    await page.goto(`${server.url}#/`);
    await row(beta.settings.id).and(page.locator('[data-state="online"]')).waitFor();
    await beta.stop();
    agents = agents.filter((a) => a !== beta);
    await row(beta.settings.id).and(page.locator('[data-state="offline"]')).waitFor();
    await row(agents[0]!.settings.id).and(page.locator('[data-state="online"]')).waitFor();
    await page.setViewportSize({ width: 390, height: 760 });
    await page.screenshot({ path: join(shots, 'fleet-phone.png') });
    await page.setViewportSize({ width: 1100, height: 760 });
  });

  it('says so where a command was given when no answer comes in time', async () => {
    const beta = `console-beta-${process.pid}`;
    await row(beta).click();
    await page.getByTestId('device-state').filter({ hasText: 'offline' }).waitFor();
    await page.getByLabel('Program URL').fill(www.url('/echo'));
    await page.getByLabel('Name').fill('echo');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByTestId('deploy-answer').filter({ hasText: `upload echo: no answer from the device within ${ANSWER_TIMEOUT_SECONDS} s` }).waitFor({ timeout: (ANSWER_TIMEOUT_SECONDS + 10) * 1000 });
  });
});

describe('web console against a broker that asks for credentials', { concurrency: false }, () => {
  let secured: Broker;
  let securedWs: number;
  let dir: { path: string; remove(): Promise<void> };
  let app: ConsoleServer;
  let chromium: Browser;

  before(async () => {
    dir = await tempDir('ac-console-auth-');
    const passwords = join(dir.path, 'passwords');
    await writeFile(passwords, '');
    await run('mosquitto_passwd', ['-b', passwords, 'operator', 'open sesame']);
    securedWs = await freePort();
    const appDir = join(dir.path, 'app');
    [secured] = await Promise.all([
      startMosquitto({ extraConfig: ['allow_anonymous false', `password_file ${passwords}`, `listener ${securedWs} 127.0.0.1`, 'protocol websockets'] }),
      buildConsole(appDir),
    ]);
    // A device as the presence contract describes it: a retained B/presence, no heartbeat yet.
    const presence = JSON.stringify({ state: 'online', version: '9.8.7', host: 'pi-kitchen', since: '2026-01-01T00:00:00Z' });
    await run('mosquitto_pub', ['-p', String(secured.port), '-u', 'operator', '-P', 'open sesame', '-r', '-q', '1', '-t', '$aws/things/kitchen/presence', '-m', presence]);
    app = await startConsoleServer({ root: appDir, port: 0, config: { brokerUrl: `ws://127.0.0.1:${securedWs}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: 45, answerTimeoutSeconds: 30 } });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await app?.close();
    await secured?.close();
    await dir?.remove();
  });

  it('asks for the credentials only when refused, keeps them out of the URL and storage, and lists a device by its presence', async () => {
    const p = await chromium.newPage();
    p.setDefaultTimeout(20_000);
    await p.goto(app.url);
    await p.getByRole('alert').filter({ hasText: 'the broker asks for credentials' }).waitFor();
    await p.getByLabel('User name').fill('operator');
    await p.getByLabel('Password').fill('wrong');
    await p.getByRole('button', { name: 'Connect' }).click();
    await p.getByRole('alert').filter({ hasText: 'the broker refused these credentials' }).waitFor();
    // The user name stays filled in; the refused password does not.
    assert.equal(await p.getByLabel('User name').inputValue(), 'operator');
    assert.equal(await p.getByLabel('Password').inputValue(), '');
    await p.getByLabel('Password').fill('open sesame');
    await p.getByRole('button', { name: 'Connect' }).click();
    await p.getByTestId('connection').filter({ hasText: 'connected' }).waitFor();
    const kitchen = p.locator('[data-device="kitchen"][data-state="online"]');
    await kitchen.waitFor();
    assert.match(await kitchen.innerText(), /9\.8\.7[\s\S]*pi-kitchen/);
    assert.doesNotMatch(p.url(), /sesame|operator/);
    // Runs in the page, where these globals exist (the test's types have no DOM).
    const stored = await p.evaluate('JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])');
    assert.doesNotMatch(String(stored), /sesame/);
    await p.close();
  });
});
