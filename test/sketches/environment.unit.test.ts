// The environment sketches run with: the connector's, proxies, env_vars_to_load, LD_LIBRARY_PATH.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { parseEnvVarsToLoad, sketchEnvironment } from '../../src/sketches/environment.js';
import { SketchProcess } from '../../src/sketches/process.js';
import { tempDir } from '../helpers/tmp.js';

const noExtras = { http_proxy: '', https_proxy: '', all_proxy: '', env_vars_to_load: '' };

describe('parseEnvVarsToLoad', () => {
  it('reads NAME=value pairs, keeping "=" inside values and skipping empty entries', () => {
    assert.deepEqual(parseEnvVarsToLoad('A=1, B=x=y,,C='), { A: '1', B: 'x=y', C: '' });
    assert.deepEqual(parseEnvVarsToLoad(''), {});
  });

  it('refuses an entry without a name or "="', () => {
    assert.throws(() => parseEnvVarsToLoad('A=1,JUSTTEXT'), (err: unknown) => err instanceof ConfigError && /JUSTTEXT/.test(err.message));
    assert.throws(() => parseEnvVarsToLoad('=1'), ConfigError);
    assert.throws(() => parseEnvVarsToLoad('1A=1'), /not a variable name/);
  });
});

describe('sketchEnvironment', () => {
  it('keeps the connector environment and adds proxies in both spellings', () => {
    const env = sketchEnvironment({
      base: { PATH: '/usr/bin', HOME: '/root' },
      settings: { ...noExtras, http_proxy: 'http://proxy:3128', all_proxy: 'socks5://s:1080' },
      sketchesDir: '/data/sketches',
    });
    assert.equal(env.PATH, '/usr/bin');
    assert.equal(env.HOME, '/root');
    assert.equal(env.http_proxy, 'http://proxy:3128');
    assert.equal(env.HTTP_PROXY, 'http://proxy:3128');
    assert.equal(env.ALL_PROXY, 'socks5://s:1080');
    assert.equal(env.https_proxy, undefined);
  });

  it('does not pass on the agent\'s own secrets', () => {
    const env = sketchEnvironment({ base: { MQTT_PASSWORD: 'hunter2', TOKEN: 'abc', KEEP: '1' }, settings: noExtras, sketchesDir: '/s' });
    assert.equal(env.MQTT_PASSWORD, undefined);
    assert.equal(env.TOKEN, undefined);
    assert.equal(env.KEEP, '1');
  });

  it('puts <sketches>/lib first in LD_LIBRARY_PATH and keeps what was there', () => {
    const fresh = sketchEnvironment({ base: {}, settings: noExtras, sketchesDir: '/data/sketches' });
    assert.equal(fresh.LD_LIBRARY_PATH, '/data/sketches/lib');
    const kept = sketchEnvironment({ base: { LD_LIBRARY_PATH: '/opt/lib:/data/sketches/lib' }, settings: noExtras, sketchesDir: '/data/sketches' });
    assert.equal(kept.LD_LIBRARY_PATH, '/data/sketches/lib:/opt/lib');
  });

  it('env_vars_to_load win over the inherited environment', () => {
    const env = sketchEnvironment({ base: { MODE: 'a' }, settings: { ...noExtras, env_vars_to_load: 'MODE=b,EXTRA=1' }, sketchesDir: '/s' });
    assert.equal(env.MODE, 'b');
    assert.equal(env.EXTRA, '1');
  });

  it('is what a real sketch sees', async () => {
    const dir = await tempDir('ac-env-');
    try {
      const env = sketchEnvironment({ settings: { ...noExtras, https_proxy: 'http://p:8080', env_vars_to_load: 'GREETING=hello world' }, sketchesDir: dir.path });
      const sketch = SketchProcess.start({
        file: '/bin/sh',
        args: ['-c', 'printf "%s|%s|%s" "$GREETING" "$HTTPS_PROXY" "$LD_LIBRARY_PATH"'],
        cwd: dir.path,
        env,
      });
      let out = '';
      sketch.onOutput((chunk) => (out += chunk.toString()));
      await sketch.exited;
      assert.equal(out, `hello world|http://p:8080|${dir.path}/lib${process.env.LD_LIBRARY_PATH ? `:${process.env.LD_LIBRARY_PATH}` : ''}`);
    } finally {
      await dir.remove();
    }
  });
});
