// The web console for a test: built by Vite into a folder of the test's own, served by the
// console's real server, and driven by Debian's chromium through playwright-core.

import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds the console into `outDir` with the project's own Vite configuration. */
export async function buildConsole(outDir: string): Promise<void> {
  await build({ configFile: join(root, 'console', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
}

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
