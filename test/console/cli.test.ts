// Where the console runs: `arduino-connector console` and local mode serve the built app and its
// /config.json on 127.0.0.1, as real child processes.

import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { buildConsole, launchChromium } from '../helpers/console.js';
import { runProcess, startProcess, type Started } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');
const env = { PATH: process.env.PATH, HOME: process.env.HOME };

let work: { path: string; remove(): Promise<void> };
let app: string;

async function stopped(p: Started): Promise<number | null> {
  p.child.kill('SIGTERM');
  return (await p.exit).code;
}

function consoleUrl(p: Started): Promise<string> {
  return waitFor(() => /^console: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(p.stdout())?.[1], 'the console line', 20_000);
}

describe('console command line', () => {
  before(async () => {
    work = await tempDir('ac-console-cli-');
    app = join(work.path, 'app');
    await buildConsole(app);
  });
  after(async () => work?.remove());

  it('`console` serves the app and tells the page the broker and base topic it was given', async () => {
    const p = startProcess(process.execPath, ['--import', 'tsx', main, 'console', '--broker', 'ws://127.0.0.1:9999', '--port', '0', '--base-topic', 'fleet/{id}', '--stale-after', '20', '--timeout', '12', '--console-dir', app], { cwd: root, env });
    try {
      const url = await consoleUrl(p);
      const config = await fetch(new URL('config.json', url));
      assert.equal(config.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await config.json(), { brokerUrl: 'ws://127.0.0.1:9999', baseTopic: 'fleet/{id}', staleAfterSeconds: 20, answerTimeoutSeconds: 12 });
      const page = await fetch(url);
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(await page.text(), /<title>My Devices<\/title>/);
    } finally {
      assert.equal(await stopped(p), 0);
    }
  });

  it('`console` refuses a broker URL the browser cannot use and an app that is not there', async () => {
    const mqttUrl = await runProcess(process.execPath, ['--import', 'tsx', main, 'console', '--broker', 'mqtt://127.0.0.1:1883', '--port', '0', '--console-dir', app], { cwd: root, env });
    assert.equal(mqttUrl.code, 2);
    assert.match(mqttUrl.stderr, /expected a ws:\/\/ or wss:\/\/ URL, got "mqtt:\/\/127\.0\.0\.1:1883"/);
    const missing = await runProcess(process.execPath, ['--import', 'tsx', main, 'console', '--port', '0', '--console-dir', join(work.path, 'nothing')], { cwd: root, env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no built app in .*nothing \(run npm run build\)/);
  });

  it('local mode serves the console for its own broker (MQTT 3.1.1 only), and the page works there', async () => {
    const data = join(work.path, 'data');
    const args = ['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0', '--console-dir', app, '-heartbeat_interval', '1'];
    const p = startProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env });
    let browser: Browser | undefined;
    try {
      const url = await consoleUrl(p);
      const wsUrl = /WebSocket: (ws:\/\/\S+)\)/.exec(p.stdout())?.[1];
      const id = /device id:\s+(\S+)/.exec(p.stdout())?.[1];
      assert.ok(wsUrl && id);
      const config = (await (await fetch(new URL('config.json', url))).json()) as { brokerUrl: string; baseTopic: string };
      assert.equal(config.brokerUrl, wsUrl);
      assert.equal(config.baseTopic, '$aws/things/{id}');

      // The embedded broker (aedes) speaks 3.1.1: the page falls back to it, and its requests
      // take their answers from the answer topic.
      browser = await launchChromium();
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(url);
      await page.getByTestId('connection').filter({ hasText: 'connected (MQTT 3.1.1)' }).waitFor();
      await page.locator(`[data-device="${id}"][data-state="online"]`).click();
      await page.getByText('0 sketches').waitFor();
      await page.getByLabel('Program URL').fill('http://127.0.0.1:9/program');
      await page.getByLabel('Name').fill('program');
      await page.getByRole('button', { name: 'Deploy' }).click();
      await page.getByTestId('deploy-answer').filter({ hasText: /^upload program: ERROR: / }).waitFor();
    } finally {
      await browser?.close();
      assert.equal(await stopped(p), 0);
    }
  });
});
