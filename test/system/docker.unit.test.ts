// The Docker adapter's own rules, which hold whoever calls it: no engine is needed, because what
// is checked here never reaches one. The engine itself is exercised by test/commands/containers.test.ts.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, InvalidError, UnavailableError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { DockerEngine, EngineError, EngineUnavailableError, resolveDockerEndpoint } from '../../src/system/docker.js';

describe('Docker adapter', () => {
  const nowhere = join(tmpdir(), `ac-no-docker-${process.pid}`, 'docker.sock');
  const engine = new DockerEngine({ kind: 'unix', socketPath: nowhere }, silentLogger, { callTimeoutMs: 2000 });

  it('refuses an id or reference that could leave its URL path before asking the engine', async () => {
    const refused: Array<[Promise<unknown>, RegExp]> = [
      [engine.inspectContainer('../../images/x'), /^container: must be a container id or name/],
      [engine.startContainer('a/b'), /^container: must be a container id or name/],
      [engine.removeContainer('x?force=1'), /^container: must be a container id or name/],
      [engine.renameContainer('', 'new'), /^container: must not be empty$/],
      [engine.stopContainer('c'.repeat(257)), /^container: longer than 256 characters$/],
      [engine.hasImage('library/../../containers/json'), /^image: must be an image reference/],
      [engine.hasImage('registry//name'), /^image: must be an image reference/],
      [engine.hasImage('name%2F..'), /^image: must be an image reference/],
    ];
    for (const [pending, message] of refused) {
      await assert.rejects(pending, (err: Error) => {
        assert.ok(err instanceof InvalidError, `${err.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it('lets plain ids and references through to the engine, which is not there', async () => {
    for (const pending of [engine.inspectContainer('/my_app-1.2'), engine.hasImage('localhost:5000/team/app:1.0@sha256:abc')]) {
      await assert.rejects(pending, (err: Error) => {
        assert.ok(err instanceof EngineUnavailableError && err instanceof UnavailableError, `${err.name}: ${err.message}`);
        assert.match(err.message, /^no container engine at .*docker\.sock: .*ENOENT/);
        return true;
      });
    }
  });

  it('gives engine HTTP errors the kind their status means', () => {
    assert.equal(new EngineError('m', 400).kind, 'invalid');
    assert.equal(new EngineError('m', 404).kind, 'not-found');
    assert.equal(new EngineError('m', 409).kind, 'conflict');
    assert.equal(new EngineError('m', 500).kind, 'failed');
    assert.equal(new EngineError('m', 404).status, 404);
  });

  it('takes an engine address it cannot use for a configuration problem', () => {
    assert.throws(() => resolveDockerEndpoint('ssh://host', {}), (err: Error) => err instanceof ConfigError && /^unsupported container engine address ssh:\/\/host/.test(err.message));
    assert.throws(() => resolveDockerEndpoint('tcp://[nonsense', {}), ConfigError);
  });
});
