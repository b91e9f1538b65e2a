// Deploy from a file in local mode, as a newcomer does it: local mode started as the real CLI, a
// program chosen in the page is posted to the console's server, signed with local mode's key,
// served once, fetched by the agent, run, and its output shows in its terminal. The console's
// server refuses the same POST from another origin, another host name, or without the page's token.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { buildConsole, launchChromium, screenshotDir } from '../helpers/console.js';
import { startProcess, type Started } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'src/cli/main.ts');
// A small cap, so the size refusal is cheap to reach.
const MAX_SKETCH_SIZE = 64 * 1024;

let work: { path: string; remove(): Promise<void> };
let tmp: string;
let local: Started;
let consoleUrl: string;
let deviceId: string;
let browser: Browser;
let page: Page;

/** A raw POST /deploy, with the headers a browser (or an attacker's page) would send. */
function post(headers: Record<string, string>, body: Buffer, method = 'POST', path = 'deploy'): Promise<{ status: number; body: string }> {
  const url = new URL(path, consoleUrl);
  return new Promise((resolvePost, reject) => {
    const all: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(body.length), ...headers };
    if (all['transfer-encoding']) delete all['content-length'];
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolvePost({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer (and close) before the whole body was written.
    req.on('error', reject);
    req.end(body);
  });
}

const dropDirs = async () => (await readdir(tmp)).filter((name) => name.startsWith('ac-console-drop-'));

describe('deploy from a dropped file, local mode', { concurrency: false }, () => {
  before(async () => {
    work = await tempDir('ac-console-drop-test-');
    tmp = join(work.path, 'tmp');
    await mkdir(tmp);
    const app = join(work.path, 'app');
    await buildConsole(app);
    const data = join(work.path, 'data');
    const args = ['local', '--data', data, '--mqtt-port', '0', '--ws-port', '0', '--console-port', '0', '--console-dir', app, '-heartbeat_interval', '1', '-max_sketch_size', String(MAX_SKETCH_SIZE)];
    local = startProcess(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp } });
    consoleUrl = await waitFor(() => /^console: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(local.stdout())?.[1], 'the console line', 60_000);
    deviceId = /device id:\s+(\S+)/.exec(local.stdout())![1]!;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.setDefaultTimeout(20_000);
  });

  after(async () => {
    await browser?.close();
    if (local) {
      local.child.kill('SIGTERM');
      await local.exit;
    }
    await work?.remove();
  });

  it('signs a chosen program with the local key, the agent runs it and its output shows in the terminal', async () => {
    const config = (await (await fetch(new URL('config.json', consoleUrl))).json()) as { deploy?: { token: string; maxBytes: number } };
    assert.equal(config.deploy?.maxBytes, MAX_SKETCH_SIZE);
    assert.match(config.deploy?.token ?? '', /^[0-9a-f]{64}$/);

    const program = join(work.path, 'hello.sh');
    await writeFile(program, '#!/bin/sh\nwhile true; do echo "hello from a dropped file"; sleep 0.5; done\n');
    await page.goto(consoleUrl);
    await page.locator(`[data-device="${deviceId}"][data-state="online"]`).click();
    await page.getByText('0 sketches').waitFor();
    await page.locator('input[name="program"]').setInputFiles(program);
    await page.getByTestId('drop-file').filter({ hasText: /hello\.sh, \d+ bytes/ }).waitFor();
    assert.equal(await page.getByLabel('Run as sketch').inputValue(), 'hello.sh');
    await page.getByRole('button', { name: 'Sign and run' }).click();
    await page.getByTestId('drop-answer').filter({ hasText: /upload hello\.sh: Sketch started with PID \d+/ }).waitFor();
    const row = page.locator('tr[data-sketch="hello.sh"]');
    await row.getByTestId('sketch-state').filter({ hasText: 'RUNNING' }).waitFor();
    await row.getByRole('button', { name: 'terminal' }).click();
    await page.locator('[data-testid="terminal"][data-sketch="hello.sh"] .xterm-rows').filter({ hasText: 'hello from a dropped file' }).waitFor();
    await page.screenshot({ path: join(await screenshotDir(), 'device-drop-deploy.png'), fullPage: true });
    // Dropped rather than chosen: the same path from the drop zone's drop event.
    // (A string runs in the page, whose DOM types the test's tsconfig does not have.)
    const dataTransfer = await page.evaluateHandle("(() => { const t = new DataTransfer(); t.items.add(new File(['#!/bin/sh\\necho dropped\\n'], 'dropped.sh')); return t; })()");
    await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer });
    await page.getByTestId('drop-file').filter({ hasText: 'dropped.sh, 23 bytes' }).waitFor();
    await page.getByRole('button', { name: 'Sign and run' }).click();
    await page.getByTestId('drop-answer').filter({ hasText: /upload dropped\.sh: Sketch started with PID \d+/ }).waitFor();
    // The program's copy is removed once the agent fetched it.
    await waitFor(async () => (await dropDirs()).length === 0 || undefined, 'the temporary copy removed', 20_000);
  });

  it('refuses a POST without the token, from another origin, or to another host name, and one over max_sketch_size', async () => {
    const config = (await (await fetch(new URL('config.json', consoleUrl))).json()) as { deploy: { token: string } };
    const origin = consoleUrl.replace(/\/$/, '');
    const body = Buffer.from('#!/bin/sh\necho never\n');
    const noToken = await post({ origin }, body);
    assert.equal(noToken.status, 403);
    assert.match(noToken.body, /missing or wrong console token/);
    const wrongToken = await post({ origin, 'x-console-token': 'f'.repeat(64) }, body);
    assert.equal(wrongToken.status, 403);
    const crossOrigin = await post({ origin: 'http://evil.example', 'x-console-token': config.deploy.token }, body);
    assert.equal(crossOrigin.status, 403);
    assert.match(crossOrigin.body, /cross-origin requests are refused/);
    const noOrigin = await post({ 'x-console-token': config.deploy.token }, body);
    assert.equal(noOrigin.status, 403);
    const rebound = await post({ host: `rebind.example:${new URL(consoleUrl).port}`, origin: `http://rebind.example:${new URL(consoleUrl).port}`, 'x-console-token': config.deploy.token }, body);
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /wrong host/);
    // Nor can a rebound name read the token from the page's config.
    const reboundConfig = await post({ host: `rebind.example:${new URL(consoleUrl).port}` }, Buffer.alloc(0), 'GET', 'config.json');
    assert.equal(reboundConfig.status, 403);
    assert.doesNotMatch(reboundConfig.body, new RegExp(config.deploy.token));
    const tooBig = await post({ origin, 'x-console-token': config.deploy.token }, Buffer.alloc(MAX_SKETCH_SIZE + 1, 0x41));
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body, new RegExp(`larger than ${MAX_SKETCH_SIZE} bytes`));
    const unsized = await post({ origin, 'x-console-token': config.deploy.token, 'transfer-encoding': 'chunked' }, body);
    assert.equal(unsized.status, 411);
    // And the browser itself: a page of another origin cannot read the token, and its POST never
    // reaches the server (a custom header needs a preflight that the server does not allow).
    const other = await browser.newPage();
    try {
      await other.goto('about:blank');
      const outcome = await other.evaluate(async (url) => {
        try {
          const r = await fetch(`${url}deploy`, { method: 'POST', headers: { 'x-console-token': 'guess' }, body: 'x' });
          return `status ${r.status}`;
        } catch (err) {
          return `blocked: ${String(err)}`;
        }
      }, consoleUrl);
      assert.match(outcome, /^blocked: /);
    } finally {
      await other.close();
    }
    assert.deepEqual(await dropDirs(), []);
    // The refusals left the agent's key where it was, private.
    assert.equal((await stat(join(work.path, 'data', 'signing-key.pem'))).mode & 0o077, 0);
  });
});
