// docs/asyncapi.yaml: current with the API map, valid AsyncAPI 3 by the reference parser, and its
// request schemas accept what the agent accepts and refuse what it refuses.

import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { documentPath, renderDocument } from '../scripts/asyncapi.js';
import { answerSchemas, commandNames, fileName, fileNameProblem, streams, validateRequest, ValidationError, type CommandName } from '../src/api.js';
import { patternOf } from '../src/api/schema.js';
import { toWireNetwork } from '../src/commands/stats-network.js';

type Doc = { channels: Record<string, { address: string; messages: Record<string, { payload: object }> }>; operations: Record<string, unknown> };

const idOf = (command: string) => command.replaceAll('/', '.');

let text: string;
let doc: Doc;

before(async () => {
  text = await readFile(documentPath, 'utf8');
  doc = parseYaml(text) as Doc;
});

it('is what scripts/asyncapi.ts writes from the map today (npm run asyncapi regenerates it)', () => {
  assert.equal(text, renderDocument(), 'docs/asyncapi.yaml is stale: run npm run asyncapi and commit it');
});

it('is a valid AsyncAPI 3 document for @asyncapi/parser, with an operation and a reply for every command', async () => {
  const { document, diagnostics } = await new Parser().parse(text);
  // Spectral's severities: 0 error, 1 warning; the rest are hints (e.g. that 3.1.0 exists).
  const problems = diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);
  assert.deepEqual(problems, []);
  assert.ok(document, 'the parser returned no document');
  for (const command of commandNames) {
    const operation = document.operations().get(idOf(command));
    assert.ok(operation, `no operation for ${command}`);
    assert.equal(operation.action(), 'receive');
    assert.deepEqual(operation.channels().all().map((c) => c.address()), [`{base}/${command}/post`]);
    assert.equal(operation.reply()?.channel()?.address(), `{base}/${command}`);
    assert.deepEqual(operation.reply()?.messages().all().map((m) => m.id()), ['info', 'error']);
  }
  for (const stream of Object.keys(streams)) {
    assert.equal(document.operations().get(`stream.${idOf(stream)}`)?.action(), 'send', stream);
  }
});

// Requests the agent takes (first list) and refuses (second), per command: the document's schema
// must agree on each. Field names are spelled exactly: the agent's case-folding of names is a
// leniency the document states in words, not in the schema.
const requests: Record<CommandName, [ok: unknown[], bad: unknown[]]> = {
  status: [[{}, { extra: 1 }], [[], 'x']],
  upload: [
    [{ url: 'https://h/b', name: 'blink' }, { url: 'HTTP://h/b', name: 'blink', id: 'b2', token: 't' }],
    [{ url: 'https://h/b' }, { url: 'file:///etc/passwd', name: 'a' }, { url: 'http://h/b', name: '../x' }, { url: 'http://h/b', name: '.hidden' }],
  ],
  sketch: [
    [{ id: 'blink', action: 'START' }, { name: 'blink', action: 'DELETE' }],
    [{ action: 'STOP' }, { id: 'blink', action: 'JUMP' }, { id: 'a#b', action: 'STOP' }, { id: 'a/b', action: 'STOP' }],
  ],
  stats: [[{}], [null]],
  wifi: [[{ ssid: 'home', password: 'correct horse' }, { ssid: 'cafe', hidden: true }], [{ password: 'correct horse' }, { ssid: 'x'.repeat(33) }, { ssid: 'home', interface: 'wlan 0' }]],
  ethernet: [
    [{ method: 'auto' }, { method: 'manual', address: '192.168.1.10', prefix: 24, gateway: '192.168.1.1', dns: ['1.1.1.1'] }, { manual: false, config: {} }],
    [{}, { method: 'static' }, { method: 'auto', dns: '1.1.1.1' }],
  ],
  'apt/get': [[{ package: 'firmware-linux' }, { package: 'libc6:amd64' }], [{}, { package: '-oAPT::Get' }, { package: 'Upper' }]],
  'apt/list': [[{}, { search: 'linux', page: 2 }], [{ page: -1 }, { page: 1.5 }, { search: 'a b' }]],
  'apt/update': [[{}], [[]]],
  'apt/install': [[{ packages: ['a', 'g++'] }], [{ packages: [] }, { packages: 'a' }, { packages: ['a;rm'] }]],
  'apt/upgrade': [[{ packages: [] }], [{}, { packages: ['--purge'] }]],
  'apt/remove': [[{ packages: ['a'] }], [{ packages: [] }]],
  'apt/repos/list': [[{}], ['']],
  'apt/repos/add': [
    [{ repository: { enabled: true, sourceRepo: false, uri: 'http://x', distribution: 'stable', components: 'main' } }],
    [{ repository: { enabled: true, sourceRepo: false, uri: 'http://x', distribution: 'a', comment: 'x\ndeb http://evil / main' } }, { repository: { enabled: true } }],
  ],
  'apt/repos/remove': [[{ repository: { enabled: false, sourceRepo: true, uri: 'http://x', distribution: 'a' } }], [{ repository: { enabled: 'yes', sourceRepo: true, uri: 'http://x', distribution: 'a' } }]],
  'apt/repos/edit': [
    [{ old_repository: { enabled: true, sourceRepo: false, uri: 'http://x', distribution: 'a' }, new_repository: { enabled: true, sourceRepo: false, uri: 'http://y', distribution: 'a' } }],
    [{ old_repository: { enabled: true, sourceRepo: false, uri: 'http://x', distribution: 'a' } }],
  ],
  'containers/ps': [[{}, { id: 'abc' }], [{ id: '' }]],
  'containers/images': [[{}, { name: 'alpine' }], [{ name: 7 }]],
  'containers/action': [
    [{ action: 'run', image: 'registry:5000/alpine:3', name: 'web', background: true, host_config: { Binds: [] } }, { action: 'stop', id: 'web' }],
    [{ action: 'fly' }, { action: 'run', image: '../x' }, { action: 'start', id: '-x' }, { action: 'run', host_config: [] }],
  ],
  'containers/rename': [[{ id: 'web', name: 'web2' }], [{ id: 'web' }, { id: 'web', name: 'a/b' }]],
  update: [
    [{ url: 'https://h/r.tar.gz' }, { url: 'https://h/r.tar.gz', signature: 'QUJD', allow_downgrade: true }],
    [{}, { url: 'ftp://h/r' }, { url: 'https://h/r', signature: 'not base64!' }],
  ],
};

describe("the document's request schemas agree with the agent's validation", () => {
  const ajv = new Ajv({ allErrors: true });
  for (const command of commandNames) {
    it(command, () => {
      const check = ajv.compile(doc.channels[`${idOf(command)}.request`]!.messages.request!.payload);
      const [ok, bad] = requests[command];
      assert.ok(ok.length > 0 && bad.length > 0);
      for (const request of ok) {
        validateRequest(command, request);
        assert.ok(check(request), `the document refuses ${JSON.stringify(request)}: ${ajv.errorsText(check.errors)}`);
      }
      for (const request of bad) {
        assert.throws(() => validateRequest(command, request), ValidationError, JSON.stringify(request));
        assert.equal(check(request), false, `the document accepts ${JSON.stringify(request)}`);
      }
    });
  }
});

it('declares every answer body and every stream payload of the map', () => {
  const answers = answerSchemas();
  for (const command of commandNames) {
    assert.deepEqual(doc.channels[`${idOf(command)}.answer`]!.messages.info!.payload, answers[command].json, command);
  }
  assert.deepEqual(doc.channels['stream.apt.progress']!.messages.message!.payload, streams['apt/progress'].schema().json);
});

it("says a sketch file name's rule as a pattern that agrees with the agent's", () => {
  const pattern = new RegExp(fileName.json.pattern as string, 'u');
  for (const name of ['blink', 'sketch-1.bin', 'Ünïcode', 'v1.2', 'a.b.c', '', '.', '..', '.x', 'a..b', 'a/b', 'a\\b', 'a\0b', 'a\nb', 'a\x7fb', 'a+b', 'a#b']) {
    assert.equal(pattern.test(name), fileNameProblem(name) === undefined, JSON.stringify(name));
  }
});

it('writes a case-insensitive pattern with both cases, since JSON Schema patterns have no flags', () => {
  const source = patternOf(/^https?:\/\/[a-z]\S+$/i);
  assert.equal(source, '^[hH][tT][tT][pP][sS]?:\\/\\/[a-zA-Z]\\S+$');
  assert.throws(() => patternOf(/a/g), /flags/);
});

it("declares the network part of stats as the agent writes it from a NetworkManager reading (no NetworkManager runs in the live test)", () => {
  const ajv = new Ajv({ allErrors: true });
  const check = ajv.compile(doc.channels['stats.answer']!.messages.info!.payload);
  const ip4Config = {
    addresses: [{ address: '10.0.0.7', prefix: 16, gateway: '10.0.0.1' }],
    gateway: '10.0.0.1',
    nameservers: ['10.0.0.1'],
    domains: [],
    routes: [
      { dest: '10.0.0.0', prefix: 16, metric: 600 },
      { dest: '0.0.0.0', prefix: 0, nextHop: '10.0.0.1', metric: 600 },
    ],
  };
  const network = toWireNetwork({
    state: 70,
    devices: [
      { path: '/d/0', interface: 'eth0', type: 1, state: 30, hwAddress: '78:DD:08:D2:3D:43', ip4Config: null, accessPoints: null, availableConnections: [] },
      {
        path: '/d/1',
        interface: 'wlan0',
        type: 2,
        state: 100,
        hwAddress: '11:22:33:44:55:66',
        ip4Config,
        accessPoints: [{ ssid: 'Workshop', hwAddress: '00:11:22:33:44:55', flags: 1, wpaFlags: 256, rsnFlags: 256, mode: 2, frequencyMHz: 5180, maxBitrateKbps: 54000, strengthPercent: 82 }],
        availableConnections: [{ path: '/c/1', id: 'Workshop', uuid: '0c9a4b3e-6a0e-4d7c-9a55-3f1f4b8e2d11', type: '802-11-wireless' }],
      },
    ],
  });
  const memory = { FreeMem: 1, TotalMem: 2, AvailableMem: 1, Buffers: 0, Cached: 0, FreeSwapMem: 0, TotalSwapMem: 0 };
  const body = JSON.parse(JSON.stringify({ memory, disk: [], network })) as { network: { Devices: object[] } };
  assert.ok(check(body), ajv.errorsText(check.errors));
  assert.equal(check({ ...body, network: { ...body.network, Devices: [{ ...body.network.Devices[0], Extra: 1 }] } }), false);
});
