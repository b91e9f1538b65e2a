// Issue 10's chaos run (bench/chaos/): 10,000 hostile requests over every topic, unthrottled, from
// a sender of their own; 20 kill -9s during uploads and sketch actions; a 20 s broker outage with a
// sketch printing; 60 s of mixed load from four clients. Fixed seed (BENCH_CHAOS_SEED). The agent
// runs compiled, as a device runs it; apt runs in a throw-away world, and nothing mounts.

import { floodFloor } from './chaos/flood.js';
import { floodOnDefaultBroker, runChaos } from './chaos/run.js';
import { agentNodeArgs } from './agent.js';
import type { BenchResult } from './types.js';

const seed = Number(process.env.BENCH_CHAOS_SEED ?? 20261201);
const payloads = Number(process.env.BENCH_CHAOS_PAYLOADS ?? 10_000);
const agentCommand = (args: string[]) => ({ command: process.execPath, args: agentNodeArgs(args) });

export default async function chaosBench(): Promise<BenchResult[]> {
  const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const r = await runChaos({
    agentCommand,
    seed,
    payloads,
    killRounds: Number(process.env.BENCH_CHAOS_KILLS ?? 20),
    outageSeconds: Number(process.env.BENCH_CHAOS_OUTAGE ?? 20),
    loadSeconds: Number(process.env.BENCH_CHAOS_LOAD ?? 60),
    loadClients: 4,
    idleSeconds: 25,
    settleSeconds: 30,
    say,
  });
  say("chaos: the flood on brokers with mosquitto's default queue (the agent, mosquitto_sub, a bare MQTT.js client)...");
  const onDefault = await floodOnDefaultBroker({ agentCommand, seed, payloads });
  const cFloor = await floodFloor({ seed, count: payloads, reader: 'mosquitto_sub' });
  const jsFloor = await floodFloor({ seed, count: payloads, reader: 'MQTT.js' });
  const { flood, kills, outage, load } = r;
  for (const problem of kills.problems) say(`chaos: ${problem}`);
  const rows: BenchResult[] = [
    { name: `flood: answered / sent (seed ${seed})`, value: flood.answered, unit: `of ${flood.sent}`, target: 'all', met: flood.answered === flood.sent },
    { name: 'flood: answers that are not INFO:/ERROR:', value: flood.malformedAnswers, unit: '', target: '0', met: flood.malformedAnswers === 0 },
    { name: 'flood: broker drops (broker holding the flood)', value: flood.brokerDrops, unit: 'messages', target: '0', met: flood.brokerDrops === 0 },
    { name: 'flood: sender done (its start included)', value: flood.sendMs, unit: 'ms' },
    { name: 'flood: first request to last answer', value: flood.answerMs, unit: 'ms' },
    { name: 'flood: agent RSS idle (after one request per command)', value: flood.rssBeforeMiB, unit: 'MiB' },
    { name: 'flood: agent RSS peak', value: flood.rssPeakMiB, unit: 'MiB' },
    { name: `flood: agent RSS ${flood.settleSeconds} s after the last answer`, value: flood.rssAfterMiB, unit: 'MiB' },
    { name: 'flood: RSS after - idle', value: flood.rssAfterMiB - flood.rssBeforeMiB, unit: 'MiB', target: '<= 10 MiB', met: flood.rssAfterMiB - flood.rssBeforeMiB <= 10 },
    { name: 'flood, default broker queue: the agent answered', value: onDefault.answered, unit: `of ${onDefault.sent}` },
    { name: 'flood, default broker queue: a bare MQTT.js client received', value: jsFloor.received, unit: `of ${jsFloor.sent}` },
    { name: 'flood, default broker queue: mosquitto_sub received', value: cFloor.received, unit: `of ${cFloor.sent}` },
    { name: 'kill -9 rounds with files intact and the agent serving again', value: kills.intact, unit: `of ${kills.rounds}`, target: 'all', met: kills.intact === kills.rounds },
    { name: 'kill -9 rounds with a sketch running twice', value: kills.twins, unit: '', target: '0', met: kills.twins === 0 },
  ];
  if (outage) {
    rows.push(
      { name: `outage ${outage.outageSeconds} s: broker back to status answered`, value: outage.answerAfterReturnMs, unit: 'ms' },
      { name: 'outage: sketch output lines lost', value: outage.linesLost, unit: `of ${outage.linesPrinted}`, target: '0', met: outage.linesLost === 0 },
      { name: 'outage: broker back to every line printed by then received', value: outage.deliveredAfterReturnMs, unit: 'ms' },
      { name: 'outage: agent RSS before / peak while it delivers', value: outage.rssPeakMiB, unit: `MiB (from ${outage.rssBeforeMiB.toFixed(1)})` },
    );
  }
  if (load) {
    rows.push(
      { name: `load ${load.seconds} s, ${load.clients} clients: requests answered`, value: load.requests - load.unanswered, unit: `of ${load.requests}` },
      { name: 'load: latency p50', value: load.p50Ms, unit: 'ms' },
      { name: 'load: latency p99', value: load.p99Ms, unit: 'ms' },
    );
  }
  return rows;
}
