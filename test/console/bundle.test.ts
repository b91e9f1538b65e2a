// The console's first page stays within its budget: everything index.html loads before the fleet
// shows (its scripts and their static imports, its stylesheets), gzipped, at most 250 KB. And every
// asset comes from the console itself, never from a CDN.

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildConsole, firstPageFiles, firstPageGzipBytes } from '../helpers/console.js';
import { tempDir } from '../helpers/tmp.js';

const BUDGET_BYTES = 250 * 1024;

let work: { path: string; remove(): Promise<void> };
let app: string;

describe('console bundle', () => {
  before(async () => {
    work = await tempDir('ac-console-bundle-');
    app = join(work.path, 'app');
    await buildConsole(app);
  });
  after(async () => work?.remove());

  it(`loads at most ${BUDGET_BYTES / 1024} KB gzipped for the first page`, async () => {
    const files = await firstPageFiles(app);
    assert.ok(files.some((f) => f.endsWith('.js')) && files.some((f) => f.endsWith('.css')), files.join(', '));
    const { total, files: sizes } = await firstPageGzipBytes(app);
    const list = Object.entries(sizes).map(([f, n]) => `${f} ${n}`).join(', ');
    console.log(`first page: ${total} bytes gzipped (${list})`);
    assert.ok(total <= BUDGET_BYTES, `first page ${total} bytes gzipped > ${BUDGET_BYTES}: ${list}`);
  });

  it('loads the terminal (xterm.js) only when one opens', async () => {
    const first = await firstPageFiles(app);
    const assets = await readdir(join(app, 'assets'));
    const terminal = assets.filter((f) => f.startsWith('terminal-') && f.endsWith('.js'));
    assert.equal(terminal.length, 1, assets.join(', '));
    assert.ok(!first.includes(`assets/${terminal[0]}`), first.join(', '));
  });

  it('loads the packages and containers tabs only when one opens', async () => {
    const first = await firstPageFiles(app);
    const assets = await readdir(join(app, 'assets'));
    for (const tab of ['packages-tab-', 'containers-tab-']) {
      const chunk = assets.filter((f) => f.startsWith(tab) && f.endsWith('.js'));
      assert.equal(chunk.length, 1, assets.join(', '));
      assert.ok(!first.includes(`assets/${chunk[0]}`), first.join(', '));
    }
  });

  it('references no asset outside the console', async () => {
    const html = await readFile(join(app, 'index.html'), 'utf8');
    const references = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(references.length > 0);
    for (const ref of references) assert.match(ref, /^\.\/assets\//, ref);
    for (const file of await readdir(join(app, 'assets'))) {
      if (!file.endsWith('.css')) continue;
      assert.doesNotMatch(await readFile(join(app, 'assets', file), 'utf8'), /url\(\s*["']?(?:https?:)?\/\//, file);
    }
  });
});
