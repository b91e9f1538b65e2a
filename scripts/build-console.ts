// The web console's build (console/vite.config.ts) into a folder of the caller's choice: the
// release puts it beside the agent's bundle, tests into their own folders.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildConsole(outDir: string): Promise<void> {
  await build({ configFile: join(root, 'console', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
}
