// The console's static server over a real socket: content types, the page's config, and no path
// that leaves the app's folder.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileOfPath, startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { tempDir } from '../helpers/tmp.js';

let work: { path: string; remove(): Promise<void> };
let server: ConsoleServer;
const config = { brokerUrl: 'wss://broker.example:8084/mqtt', baseTopic: 'fleet/{id}/agent', staleAfterSeconds: 45, answerTimeoutSeconds: 60 };

/** A raw GET: fetch() would normalise `..` out of the path before sending it. */
function rawGet(path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console server', () => {
  before(async () => {
    work = await tempDir('ac-console-server-');
    const app = join(work.path, 'app');
    await mkdir(join(app, 'assets'), { recursive: true });
    await writeFile(join(app, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(app, 'assets', 'index-abc.js'), 'export {}');
    await writeFile(join(app, 'assets', 'index-abc.css'), 'body{}');
    await writeFile(join(work.path, 'secret.txt'), 'outside the app');
    server = await startConsoleServer({ root: app, config, port: 0 });
  });
  after(async () => {
    await server?.close();
    await work?.remove();
  });

  it('listens on 127.0.0.1 only', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves the page, scripts and styles with their content types', async () => {
    assert.deepEqual(await rawGet('/'), { status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>t</title>' });
    assert.equal((await rawGet('/assets/index-abc.js')).type, 'text/javascript; charset=utf-8');
    assert.equal((await rawGet('/assets/index-abc.css')).type, 'text/css; charset=utf-8');
    const head = await rawGet('/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers /config.json with the broker, base topic pattern and stale window', async () => {
    const answer = await rawGet('/config.json');
    assert.equal(answer.type, 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(answer.body), config);
  });

  it('never serves a file outside its folder', async () => {
    for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets%2f..%2f..%2fsecret.txt', '/%00']) {
      const answer = await rawGet(path);
      assert.equal(answer.status, 404, path);
      assert.doesNotMatch(answer.body, /outside the app/, path);
    }
    assert.equal(fileOfPath('/srv/app', '/../secret.txt'), undefined);
    assert.equal(fileOfPath('/srv/app', '/%E0%A4%A'), undefined);
    assert.equal(fileOfPath('/srv/app', '/assets/x.js'), '/srv/app/assets/x.js');
  });

  it('answers 404 for a missing file and 405 for anything but GET and HEAD', async () => {
    assert.equal((await rawGet('/nothing.js')).status, 404);
    assert.equal((await rawGet('/assets')).status, 404);
    assert.equal((await rawGet('/', 'POST')).status, 405);
  });

  it('refuses a configuration the page could not use', async () => {
    const root = join(work.path, 'app');
    await assert.rejects(startConsoleServer({ root, port: 0, config: { ...config, brokerUrl: 'mqtt://x:1883' } }), /expected a ws:\/\/ or wss:\/\/ URL/);
    await assert.rejects(startConsoleServer({ root, port: 0, config: { ...config, baseTopic: 'fleet/all' } }), /expected a pattern with \{id\}/);
  });
});
