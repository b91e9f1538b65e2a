import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfigText, readConfigFile, writeConfigFile } from '../../src/cli/config-file.js';
import { loadSettings, parseArgs, settingsHelp } from '../../src/cli/options.js';
import { applyProxyEnvironment } from '../../src/system/proxy-environment.js';
import { defaultSettings, settingDefinitions } from '../../src/settings.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { stat } from 'node:fs/promises';

const flags = [
  { name: 'config', takesValue: true, help: '' },
  { name: 'debug-mqtt', takesValue: false, help: '' },
];

describe('command-line flags', () => {
  it('takes one or two dashes, = or a separate value', () => {
    const parsed = parseArgs(['-id', 'dev1', '--url=mqtt://h:1', '-config', '/x.cfg', '--check_ro_fs', 'call', 'status'], flags);
    assert.deepEqual(parsed.settings, { id: 'dev1', url: 'mqtt://h:1', check_ro_fs: 'true' });
    assert.deepEqual(parsed.flags, { config: '/x.cfg' });
    assert.deepEqual(parsed.positionals, ['call', 'status']);
  });

  it('accepts -debug-mqtt and dashed spellings of keys', () => {
    const parsed = parseArgs(['-debug-mqtt', '--sketches-path', '/s', '-check_ro_fs=false'], flags);
    assert.equal(parsed.flags['debug-mqtt'], true);
    assert.deepEqual(parsed.settings, { sketches_path: '/s', check_ro_fs: 'false' });
  });

  it('refuses unknown flags and flags without their value', () => {
    assert.throws(() => parseArgs(['-nonsense'], flags), /unknown flag -nonsense/);
    assert.throws(() => parseArgs(['-id'], flags), /needs a value/);
  });
});

describe('settings precedence: flags over environment over file over defaults', () => {
  it('layers the sources', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'a.cfg');
      await writeFile(file, '# comment\nid=from-file\nurl=mqtt://file:1\nsketches_path=/file\nheartbeat_interval=7\n\n');
      const args = parseArgs(['-id', 'from-flag'], flags);
      const { settings, sources } = await loadSettings({ args, env: { ID: 'from-env', URL: 'mqtt://env:2' }, configFile: file });
      assert.equal(settings.id, 'from-flag');
      assert.equal(settings.url, 'mqtt://env:2');
      assert.equal(settings.sketches_path, '/file');
      assert.equal(settings.heartbeat_interval, 7);
      assert.equal(settings.base_topic, '$aws/things/{id}');
      assert.deepEqual([sources.id, sources.url, sources.sketches_path, sources.base_topic], ['flag', 'env', 'file', 'default']);
    } finally {
      await dir.remove();
    }
  });

  it('a missing default config file is fine, a missing named one is an error', async () => {
    const args = parseArgs([], flags);
    await assert.rejects(loadSettings({ args, env: {}, configFile: '/nonexistent/x.cfg' }), /cannot read config file \/nonexistent\/x\.cfg/);
    const { settings } = await loadSettings({ args, env: { CONFIG: undefined } });
    assert.equal(typeof settings.id, 'string');
  });

  it('refuses a wrongly typed value, naming where it came from', async () => {
    const args = parseArgs(['-heartbeat_interval', 'soon'], flags);
    await assert.rejects(loadSettings({ args, env: {}, configFile: undefined }), /heartbeat_interval \(flag -heartbeat_interval\): expected a non-negative number/);
    await assert.rejects(loadSettings({ args: parseArgs([], flags), env: { CHECK_RO_FS: 'maybe' } }), /check_ro_fs \(environment CHECK_RO_FS\): expected true or false/);
  });
});

describe('config file', () => {
  it('names the line of an unknown key or a malformed line', () => {
    assert.throws(() => parseConfigText('id=a\nfoo=bar\n', 'x.cfg'), (err: unknown) => err instanceof ConfigError && /x\.cfg:2: unknown key "foo"/.test(err.message));
    assert.throws(() => parseConfigText('id=a\n\njust words\n', 'x.cfg'), /x\.cfg:3: expected key=value/);
  });

  it('keeps "=" inside values and the PEM escape of signature_key as written', () => {
    const parsed = parseConfigText('url=wss://h/mqtt?a=b\nsignature_key=-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----\n', 'x');
    assert.equal(parsed.url, 'wss://h/mqtt?a=b');
    assert.equal(parsed.signature_key, '-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----');
  });

  it('is written atomically, 0600, and read back the same', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'w.cfg');
      await writeConfigFile(file, { ...defaultSettings(), id: 'dev', url: 'h.example', mqtt_password: 'p' });
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await readConfigFile(file, true), { id: 'dev', url: 'h.example', mqtt_password: 'p' });
      await assert.rejects(writeConfigFile(file, { id: 'a\nurl=evil' }), /newline/);
      assert.deepEqual(await readConfigFile(file, true), { id: 'dev', url: 'h.example', mqtt_password: 'p' });
    } finally {
      await dir.remove();
    }
  });
});

describe('proxy settings', () => {
  it('are exported in both spellings with loopback exempt', () => {
    const env: NodeJS.ProcessEnv = { no_proxy: 'internal.example' };
    applyProxyEnvironment({ ...defaultSettings(), http_proxy: 'http://proxy:3128', https_proxy: 'http://proxy:3129' }, env);
    assert.equal(env.http_proxy, 'http://proxy:3128');
    assert.equal(env.HTTP_PROXY, 'http://proxy:3128');
    assert.equal(env.HTTPS_PROXY, 'http://proxy:3129');
    assert.equal(env.ALL_PROXY, undefined);
    assert.deepEqual(env.no_proxy?.split(','), ['internal.example', 'localhost', '127.0.0.1', '::1']);
    assert.equal(env.NO_PROXY, env.no_proxy);
  });

  it('leave the environment alone when none is set', () => {
    const env: NodeJS.ProcessEnv = {};
    applyProxyEnvironment(defaultSettings(), env);
    assert.deepEqual(env, {});
  });
});

it('help lists every setting with its environment variable', () => {
  const help = settingsHelp();
  for (const d of settingDefinitions) {
    assert.ok(help.includes(`-${d.key} `), d.key);
    assert.ok(help.includes(`[env ${d.key.toUpperCase()}]`), d.key);
  }
});
