// Runs a build tool with an argv (never a shell); its output is returned, and a failure throws
// with what the tool printed.

import { spawn } from 'node:child_process';

export async function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const stdout = Buffer.concat(out).toString();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(err).toString().trim() || stdout.trim()}`);
  return stdout;
}
