// The attacker: a process of its own that sends the seeded hostile requests as fast as its MQTT
// client can, without reading any answer (they go to the response topic the run listens on).
// Usage: node --import tsx sender.ts BROKER_URL BASE_TOPIC RESPONSE_TOPIC SEED COUNT

import mqtt from 'mqtt';
import { hostileRequests } from './payloads.js';
import { seededRandom } from './random.js';

const [url, base, responseTopic, seed, count] = process.argv.slice(2) as [string, string, string, string, string];
const requests = hostileRequests(Number(count), seededRandom(Number(seed)));
const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
const start = performance.now();
for (let i = 0; i < requests.length; i++) {
  const { command, payload } = requests[i]!;
  client.publish(`${base}/${command}/post`, payload, { qos: 0, properties: { responseTopic, correlationData: Buffer.from(`f${i}`) } });
}
// QoS 0 publishes are only written to the socket: ending the session flushes them.
await client.endAsync();
process.stdout.write(`sent ${requests.length} in ${(performance.now() - start).toFixed(0)} ms\n`);
