// Hostile requests over every command topic, the way an attacker or a broken client sends them:
// malformed JSON, wrong types, unknown actions, path traversal, option injection, forged log lines,
// bytes that are not UTF-8, oversized and deeply nested payloads, URLs that fail. None of them can
// change the machine: package names do not exist, repositories and sketches live in the run's own
// folders, and the apt world is a throw-away one (see world.ts).

import { commandNames } from '../../src/api.js';
import { between, pick, type Random } from './random.js';

export interface HostileRequest {
  command: string;
  kind: string;
  payload: Buffer;
}

const forged = '\n2026-01-01T00:00:00.000Z ERROR [mqtt] forged line\u001b[31m red\u001b[0m\r';

function nested(depth: number, key?: string): string {
  return key === undefined ? '['.repeat(depth) + ']'.repeat(depth) : `{"${key}":`.repeat(depth) + '{}' + '}'.repeat(depth);
}

/** A JSON text of about `bytes` bytes. */
function oversized(bytes: number): string {
  return `{"search":"${'a'.repeat(bytes)}"}`;
}

type Maker = (random: Random, command: string) => string | Buffer;

const makers: Record<string, { weight: number; make: Maker }> = {
  malformed: { weight: 10, make: (r) => pick(r, ['{"a":', 'not json', '{"package":}', '{"search":"x",}', '\u0000', '', '{{{{', '"unterminated']) },
  'wrong type': {
    weight: 10,
    make: (r) => pick(r, ['{"package":12}', '{"packages":"bash"}', '{"search":[]}', '{"page":-1}', '{"page":1e309}', '[]', 'null', '"text"', '42', '{"id":{},"action":7}', '{"name":null,"url":false}']),
  },
  'unknown action': { weight: 8, make: (r) => JSON.stringify({ id: 'chaos-none', action: pick(r, ['DESTROY', 'start ', `STOP${forged}`, '', '🔥']) }) },
  traversal: {
    weight: 8,
    make: (r) =>
      JSON.stringify(
        pick(r, [
          { id: '../../etc', name: '../../../etc/passwd', url: 'http://127.0.0.1:1/x', token: '' },
          { id: 'chaos', name: '/etc/shadow', url: 'file:///etc/passwd' },
          { package: '../../../../bin/sh' },
          { id: '..', action: 'DELETE' },
          { name: '..', id: '.', url: 'http://127.0.0.1:1/x' },
        ]),
      ),
  },
  injection: {
    weight: 8,
    make: (r) =>
      JSON.stringify(
        pick(r, [
          { packages: ['-oAPT::Get::Assume-Yes=true', '--purge'] },
          { packages: ['chaos-none; rm -rf /'] },
          { package: '--help' },
          { search: '$(reboot)' },
          { image: '--privileged', name: '-v/:/host' },
          { url: 'http://127.0.0.1:1/x;id', name: 'chaos`id`', id: 'chaos-$(id)' },
        ]),
      ),
  },
  'forged log line': { weight: 8, make: (r) => JSON.stringify(pick(r, [{ action: forged, id: forged }, { package: forged }, { search: forged }, { name: forged, url: forged }, { command: forged }])) },
  'not UTF-8': { weight: 6, make: () => Buffer.concat([Buffer.from('{"package":"chaos-'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]), Buffer.from('"}')]) },
  oversized: { weight: 2, make: (r) => oversized(between(r, 200 * 1024, 1024 * 1024)) },
  'deeply nested': { weight: 3, make: (r) => pick(r, [nested(10_000), nested(20_000, 'container_config'), `{"container_config":${nested(40, 'a')}}`]) },
  'failing URL': {
    weight: 4,
    make: (r) => JSON.stringify({ id: `chaos-${between(r, 0, 5)}`, name: `chaos-${between(r, 0, 5)}`, token: 'chaos', url: pick(r, ['http://127.0.0.1:1/sketch', 'ftp://127.0.0.1/sketch', 'http://[::1', 'gopher://x']) }),
  },
  'missing package': { weight: 6, make: (r) => JSON.stringify(pick(r, [{ packages: [`chaos-none-${between(r, 0, 1e6)}`] }, { package: `chaos-none-${between(r, 0, 1e6)}` }])) },
  'valid read': { weight: 27, make: (r, command) => validRead(r, command) },
};

/** A well-formed request that only reads (or is refused as a harmless not-found). */
function validRead(random: Random, command: string): string {
  switch (command) {
    case 'apt/get':
      return JSON.stringify({ package: pick(random, ['bash', 'coreutils', 'chaos-none']) });
    case 'apt/list':
      return JSON.stringify({ search: pick(random, ['lib', 'python', 'x']), page: between(random, 0, 5) });
    default:
      return '{}';
  }
}

const totalWeight = Object.values(makers).reduce((sum, m) => sum + m.weight, 0);

/** `count` hostile requests spread over every command of the API map. */
export function hostileRequests(count: number, random: Random): HostileRequest[] {
  const commands = commandNames;
  const out: HostileRequest[] = [];
  for (let i = 0; i < count; i++) {
    const command = pick(random, commands);
    let roll = random() * totalWeight;
    let kind = 'valid read';
    for (const [name, maker] of Object.entries(makers)) {
      roll -= maker.weight;
      if (roll < 0) {
        kind = name;
        break;
      }
    }
    const made = (makers[kind] as { make: Maker }).make(random, command);
    out.push({ command, kind, payload: typeof made === 'string' ? Buffer.from(made) : made });
  }
  return out;
}
