// Gives the C library's free memory back to the system (native/malloc-trim.c, beside the bundle).
// Without the addon (the agent run from its sources, a C library without malloc_trim) nothing is
// trimmed and the memory stays with the process until it is needed again.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const trimAddonFile = 'malloc-trim.node';

/** The trim function of the addon beside this module, or undefined when it cannot be loaded. */
export function loadMallocTrim(path = join(dirname(fileURLToPath(import.meta.url)), trimAddonFile)): (() => boolean) | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const addon = createRequire(import.meta.url)(path) as { trim?: unknown };
    return typeof addon.trim === 'function' ? (addon.trim as () => boolean) : undefined;
  } catch {
    return undefined;
  }
}
