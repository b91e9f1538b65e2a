// The console's first page stays within its budget: everything index.html loads before the fleet
// shows (its scripts and their static imports, its stylesheets), gzipped, at most 250 KB. And every
// asset comes from the console itself, never from a CDN.

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../helpers/console.js';
import { tempDir } from '../helpers/tmp.js';

const BUDGET_BYTES = 250 * 1024;

let work: { path: string; remove(): Promise<void> };
let app: string;

/** The files the first page loads: index.html's own references, then each script's static imports. */
async function firstPageFiles(): Promise<string[]> {
  const html = await readFile(join(app, 'index.html'), 'utf8');
  const queue = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => posix.normalize(m[1]!));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith('.js')) continue;
    const code = await readFile(join(app, file), 'utf8');
    // Static imports only (`from"./x.js"`, `import"./x.js"`); `import("./x.js")` loads later.
    for (const m of code.matchAll(/\bfrom\s*["'](\.\.?\/[^"']+)["']|\bimport\s*["'](\.\.?\/[^"']+)["']/g)) {
      queue.push(posix.normalize(posix.join(posix.dirname(file), (m[1] ?? m[2])!)));
    }
  }
  return [...seen];
}

describe('console bundle', () => {
  before(async () => {
    work = await tempDir('ac-console-bundle-');
    app = join(work.path, 'app');
    await buildConsole(app);
  });
  after(async () => work?.remove());

  it(`loads at most ${BUDGET_BYTES / 1024} KB gzipped for the first page`, async () => {
    const files = await firstPageFiles();
    assert.ok(files.some((f) => f.endsWith('.js')) && files.some((f) => f.endsWith('.css')), files.join(', '));
    let total = 0;
    const sizes: string[] = [];
    for (const file of files) {
      const gz = gzipSync(await readFile(join(app, file)), { level: 9 }).length;
      total += gz;
      sizes.push(`${file} ${gz}`);
    }
    console.log(`first page: ${total} bytes gzipped (${sizes.join(', ')})`);
    assert.ok(total <= BUDGET_BYTES, `first page ${total} bytes gzipped > ${BUDGET_BYTES}: ${sizes.join(', ')}`);
  });

  it('loads the terminal (xterm.js) only when one opens', async () => {
    const first = await firstPageFiles();
    const assets = await readdir(join(app, 'assets'));
    const terminal = assets.filter((f) => f.startsWith('terminal-') && f.endsWith('.js'));
    assert.equal(terminal.length, 1, assets.join(', '));
    assert.ok(!first.includes(`assets/${terminal[0]}`), first.join(', '));
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
