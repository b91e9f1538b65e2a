// A sketch's side of the local bus, as its own process: connects to the NATS server at argv[2]
// and publishes each message of argv[3] (JSON: [[subject, base64 payload], ...]) in order, then
// flushes and exits.

import { connect } from '@nats-io/transport-node';

const [server, list] = process.argv.slice(2);
const messages = JSON.parse(list!) as Array<[string, string]>;
const nc = await connect({ servers: server });
for (const [subject, payload] of messages) nc.publish(subject, Buffer.from(payload, 'base64'));
await nc.flush();
await nc.close();
