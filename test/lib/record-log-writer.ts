// A process that appends records to a RecordLog as fast as it can and acknowledges them half as
// fast, printing "<last appended> <last acknowledged>" after each append returned, until it is
// killed (record-log.unit.test.ts kills it with SIGKILL).

import { RecordLog } from '../../src/lib/record-log.js';

const path = process.argv[2]!;
const log = await RecordLog.open(path, { maxBytes: 1 << 30, segmentBytes: 64 * 1024 });
let acked = -1;
for (let i = 0; ; i++) {
  await log.append(log.takeSeq(), Buffer.from(`record ${i} `.padEnd(40, '.')));
  if (i % 2 === 0) {
    const record = await log.read();
    if (record) {
      await log.ack(record);
      acked = Number(/record (\d+)/.exec(record.body.toString())![1]);
    }
  }
  process.stdout.write(`${i} ${acked}\n`);
}
