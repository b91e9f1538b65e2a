// kill -9 of the agent at random moments during uploads and sketch actions: after each, the sketch
// table and the sketch files must be whole (the previous or the next version, never a torn one),
// the next start must serve again, and no sketch may run twice.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { between, pick, type Random } from './random.js';
import { printerSketch, type ChaosWorld } from './world.js';

export interface KillResult {
  rounds: number;
  /** Rounds after which the table and every sketch file were whole, and the agent served again. */
  intact: number;
  /** Rounds after which some sketch ran twice. */
  twins: number;
  /** What was wrong, one line per problem. */
  problems: string[];
}

const sketchIds = ['chaos-k1', 'chaos-k2', 'chaos-k3'];
const actions = ['START', 'STOP', 'PAUSE', 'DELETE'];

/** Live processes whose argv holds `file`. */
export async function processesRunning(file: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (!cmdline.split('\0').includes(file)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'latin1').catch(() => '');
    // Zombies (state Z) are dead processes waiting for their parent.
    if (stat !== '' && !/^\d+ \(.*\) Z /.test(stat)) found.push(Number(entry));
  }
  return found;
}

/** What is wrong with the agent's files now (nothing: []). */
async function checkFiles(world: ChaosWorld, sketch: Buffer): Promise<string[]> {
  const problems: string[] = [];
  const tableFile = join(world.dataDir, 'sketches.json');
  const text = await readFile(tableFile, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : `unreadable: ${err.message}`));
  if (text !== undefined) {
    try {
      const table = JSON.parse(text) as { version?: unknown; sketches?: unknown };
      if (table.version !== 1 || !Array.isArray(table.sketches)) problems.push(`sketches.json has an unknown shape: ${text.slice(0, 200)}`);
    } catch {
      problems.push(`sketches.json is torn: ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
  const folder = join(world.dataDir, 'sketches');
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    if (!sketchIds.includes(name)) continue;
    const content = await readFile(join(folder, name));
    if (!content.equals(sketch)) problems.push(`sketch file ${name} is torn (${content.length} of ${sketch.length} bytes)`);
  }
  return problems;
}

async function twinsNow(world: ChaosWorld): Promise<string[]> {
  const problems: string[] = [];
  for (const id of sketchIds) {
    const pids = await processesRunning(join(world.dataDir, 'sketches', id));
    if (pids.length > 1) problems.push(`${id} runs ${pids.length} times (pids ${pids.join(', ')})`);
  }
  return problems;
}

export async function killRounds(world: ChaosWorld, rounds: number, random: Random): Promise<KillResult> {
  // A sketch of some size, served slowly, so that kills also land during the download.
  const padding = `# ${'x'.repeat(64 * 1024)}\n`;
  const sketch = Buffer.from(printerSketch.replace('\n', `\n${padding}`));
  await world.publishSketch('killed', sketch);
  world.http.behave('/killed', { kind: 'slow', chunkBytes: 8 * 1024, everyMs: 5 });
  const result: KillResult = { rounds, intact: 0, twins: 0, problems: [] };
  if (!world.agent) await world.startAgent();
  for (let round = 0; round < rounds; round++) {
    const id = pick(random, sketchIds);
    const upload = random() < 0.55;
    const payload = upload ? JSON.stringify({ id, name: id, url: world.http.url('/killed') }) : JSON.stringify({ id, action: pick(random, actions) });
    void world.call(upload ? 'upload' : 'sketch', payload, 5_000);
    await new Promise((r) => setTimeout(r, between(random, 0, 250)));
    await world.killAgent('SIGKILL');
    const problems = await checkFiles(world, sketch);
    try {
      await world.startAgent();
    } catch (err) {
      problems.push(`the agent did not serve again: ${(err as Error).message}`);
    }
    const twins = [...(await twinsNow(world)), ...(await new Promise((r) => setTimeout(r, 500)).then(() => twinsNow(world)))];
    if (twins.length > 0) result.twins++;
    problems.push(...twins);
    if (problems.length === 0) result.intact++;
    result.problems.push(...problems.map((p) => `round ${round + 1}: ${p}`));
  }
  world.http.clear('/killed');
  return result;
}
