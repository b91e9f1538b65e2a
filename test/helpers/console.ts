// The web console for a test: built by Vite into a folder of the test's own, served by the
// console's real server, and driven by Debian's chromium through playwright-core.

import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { buildConsole } from '../../scripts/build-console.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export { buildConsole };

/** Headless chromium with the flags this machine needs (TEST-ENVIRONMENT.md). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Where tests save their screenshots (git-ignored); the README's come from here. */
export async function screenshotDir(): Promise<string> {
  const dir = join(root, '.console-screenshots');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The files the first page loads: index.html's own references, then each script's static imports. */
export async function firstPageFiles(app: string): Promise<string[]> {
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

/** The first page's files gzipped (level 9), in bytes, each and in total. */
export async function firstPageGzipBytes(app: string): Promise<{ total: number; files: Record<string, number> }> {
  const files: Record<string, number> = {};
  let total = 0;
  for (const file of await firstPageFiles(app)) {
    const gz = gzipSync(await readFile(join(app, file)), { level: 9 }).length;
    files[file] = gz;
    total += gz;
  }
  return { total, files };
}
