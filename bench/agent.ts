// How the benchmarks start the agent: the built bin (dist/), with the node flags of its shebang,
// so that they measure what a device runs. BENCH_AGENT_FLAGS replaces the flags to compare others.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const agentBin = join(root, 'dist/arduino-connector.js');

/** The node flags of the bin's `#!/usr/bin/env -S node ...` line. */
export function shebangFlags(): string[] {
  const first = readFileSync(agentBin, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node\b(.*)$/.exec(first);
  if (!match) throw new Error(`${agentBin} does not start with a node shebang: ${first}`);
  return (match[1] ?? '').split(/\s+/).filter(Boolean);
}

/** The arguments of `node` that start the agent with `args`. */
export function agentNodeArgs(args: string[]): string[] {
  const flags = process.env.BENCH_AGENT_FLAGS !== undefined ? process.env.BENCH_AGENT_FLAGS.split(/\s+/).filter(Boolean) : shebangFlags();
  return [...flags, agentBin, ...args];
}

/** Resolves once an agent's log (read again each time) matches `pattern` and says it is serving
 * its commands; fails after 30 s with the log. */
export function agentReady(log: () => string, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const check = () => {
      if (pattern.test(log()) && /serving \d+ commands/.test(log())) resolve();
      else if (Date.now() > deadline) reject(new Error(`an agent did not start: ${log()}`));
      else setTimeout(check, 50);
    };
    check();
  });
}
