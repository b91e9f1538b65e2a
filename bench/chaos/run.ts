// One chaos run: the flood, the kill rounds, the broker outage and the sustained load, in that
// order, on one agent and one data folder. The bench (bench/chaos.bench.ts) runs it in full; the
// test suite (test/chaos.test.ts) runs a short version and checks what must hold.

import { commandNames } from '../../src/api.js';
import { brokerOutage, type OutageResult } from './outage.js';
import { flood, type FloodResult } from './flood.js';
import { killRounds, type KillResult } from './kills.js';
import { sustainedLoad, type LoadResult } from './load.js';
import { hostileRequests } from './payloads.js';
import { seededRandom } from './random.js';
import { ChaosWorld, type AgentCommand } from './world.js';

export interface ChaosOptions {
  agentCommand: AgentCommand;
  seed: number;
  payloads: number;
  killRounds: number;
  /** 0: no outage. */
  outageSeconds: number;
  /** 0: no sustained load. */
  loadSeconds: number;
  loadClients: number;
  /** How long the agent idles after its warm-up before its idle memory is read (the agent's idle
   * collector runs within 20 s of a burst). */
  idleSeconds: number;
  /** How long after the flood memory is read again. */
  settleSeconds: number;
  /** Progress lines (the bench prints them on stderr). */
  say?: (line: string) => void;
}

export interface ChaosResult {
  flood: FloodResult;
  kills: KillResult;
  outage?: OutageResult;
  load?: LoadResult;
  /** Request kinds sent, with their counts. */
  kinds: Record<string, number>;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const say = options.say ?? (() => {});
  const random = seededRandom(options.seed + 1);
  // mosquitto queues at most 1,000 messages for a client by default, and an unthrottled sender
  // outruns any reader: with that queue it drops thousands of the flood even for mosquitto_sub
  // (floodFloor below measures it). The run's broker holds the whole flood, so what it shows is
  // whether the agent reads and answers everything.
  const world = await ChaosWorld.create({ agentCommand: options.agentCommand, brokerConfig: ['max_queued_messages 0'] });
  try {
    await world.startAgent();
    // The idle figure is that of an agent that has served each command once: the code of a
    // family (dockerode's modules, say) is loaded on its first request and stays, whatever the
    // burst. Read once the agent has settled.
    for (const command of commandNames) await world.call(command, '{}', 30_000);
    await new Promise((r) => setTimeout(r, options.idleSeconds * 1000));
    // The same requests the sender makes from the same seed, counted by kind for the report.
    const kinds: Record<string, number> = {};
    for (const r of hostileRequests(options.payloads, seededRandom(options.seed))) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    say(`chaos: ${options.payloads} hostile requests (seed ${options.seed})...`);
    const floodResult = await flood(world, { seed: options.seed, count: options.payloads, settleSeconds: options.settleSeconds });
    say(`chaos: ${options.killRounds} kill -9 rounds...`);
    const kills = await killRounds(world, options.killRounds, random);
    let outage: OutageResult | undefined;
    if (options.outageSeconds > 0) {
      say(`chaos: a ${options.outageSeconds} s broker outage...`);
      outage = await brokerOutage(world, options.outageSeconds);
    }
    let load: LoadResult | undefined;
    if (options.loadSeconds > 0) {
      say(`chaos: ${options.loadSeconds} s of load from ${options.loadClients} clients...`);
      load = await sustainedLoad(world, options.loadClients, options.loadSeconds, options.seed);
    }
    return { flood: floodResult, kills, outage, load, kinds };
  } catch (err) {
    say(`chaos: the agent's log: ${world.agentLog.slice(-4000)}`);
    throw err;
  } finally {
    await world.close();
  }
}

/** The flood alone against an agent on a broker with mosquitto's default queue (1,000 messages a
 * client), beside floodFloor's mosquitto_sub on the same kind of broker. */
export async function floodOnDefaultBroker(options: Pick<ChaosOptions, 'agentCommand' | 'seed' | 'payloads'>): Promise<FloodResult> {
  const world = await ChaosWorld.create({ agentCommand: options.agentCommand, brokerConfig: [] });
  try {
    await world.startAgent();
    return await flood(world, { seed: options.seed, count: options.payloads, settleSeconds: 0, quietMs: 5000 });
  } finally {
    await world.close();
  }
}
