// B/shadow/update: what a sketch publishes on the local bus, as a report to the device shadow.
//
// A message on `$arduino.cloud.<name>` becomes `{"state":{"reported":{"<name>":<data>}}}`, with
// <data>:
// - the bytes as sent, when they are UTF-8 JSON (so numbers keep every digit, keys their order);
// - a JSON string of the text, when they are UTF-8 but not JSON (the Go agent pasted such text in
//   as it was, which made the whole message invalid JSON);
// - a JSON string `data:application/octet-stream;base64,<bytes>` (an RFC 2397 data URL, which any
//   client can decode to the exact bytes) when they are not UTF-8.
// <name> is one subject token (NATS forbids spaces and dots in it); it is written as a JSON string,
// escaped, so no name can break out of it.

/** The NATS subject a sketch publishes on for `name`. */
export const shadowSubjectPrefix = '$arduino.cloud.';
/** What the agent subscribes: one token after the prefix, as the Go agent did. */
export const shadowSubjects = `${shadowSubjectPrefix}*`;

export interface ShadowUpdate {
  state: { reported: Record<string, unknown> };
}

const binaryPrefix = 'data:application/octet-stream;base64,';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The report for one bus message: its JSON text. */
export function encodeShadowUpdate(name: string, data: Uint8Array): string {
  return `{"state":{"reported":{${JSON.stringify(name)}:${shadowValue(data)}}}}`;
}

/** <data> as described above. */
export function shadowValue(data: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return JSON.stringify(binaryPrefix + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'));
  }
  if (isJson(text)) return text;
  return JSON.stringify(text);
}

function isJson(text: string): boolean {
  // JSON.parse also takes what is not one JSON text by itself: nothing but blanks (refused below)
  // is all; it refuses a byte-order mark, which is then sent as a string, as is any text it refuses.
  if (text.trim() === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    // Not JSON, or nested too deep for this parser: either way, sent as a string.
    return false;
  }
}

/** The name and value of a B/shadow/update message (clients, tests). */
export function decodeShadowUpdate(payload: string): { name: string; value: unknown } {
  const update = JSON.parse(payload) as ShadowUpdate;
  const [entry] = Object.entries(update.state.reported);
  if (!entry) throw new Error('no reported value');
  return { name: entry[0], value: entry[1] };
}

/** The bytes a `data:` value of a non-UTF-8 message stands for, else undefined. */
export function binaryOfShadowValue(value: unknown): Buffer | undefined {
  return typeof value === 'string' && value.startsWith(binaryPrefix) ? Buffer.from(value.slice(binaryPrefix.length), 'base64') : undefined;
}
