import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileName, packageName, requestSchemas } from '../src/api.js';
import { ValidationError } from '../src/api/schema.js';

it('sketch names and ids are plain file names that fit in a topic', () => {
  for (const ok of ['blink', 'sketch-1.bin', 'Ünïcode', 'v1.2']) assert.equal(fileName.parse(ok, 'name'), ok);
  for (const bad of ['', '.', '..', 'a/b', '../x', 'a\\b', 'a\0b', 'a\nb', 'a+b', 'a#b']) {
    assert.throws(() => fileName.parse(bad, 'name'), ValidationError, JSON.stringify(bad));
  }
});

it('package names follow Debian grammar: no option or shell injection', () => {
  for (const ok of ['firmware-linux', 'libc6:amd64', 'g++', 'nginx=1.22.1-9', 'curl/bookworm-backports']) {
    assert.equal(packageName.parse(ok, 'p'), ok);
  }
  for (const bad of ['-oAPT::Get', '--purge', 'a b', 'a;rm -rf /', 'a\nb', '$(x)', 'Upper']) {
    assert.throws(() => packageName.parse(bad, 'p'), ValidationError, bad);
  }
});

it('requests name the field that is wrong', () => {
  assert.throws(() => requestSchemas.sketch.parse({ id: 'a', action: 'JUMP' }, ''), /field "action": unknown value "JUMP"/);
  assert.throws(() => requestSchemas.upload.parse({ url: 'file:///etc/passwd', name: 'a', id: 'a' }, ''), /field "url": must be an http/);
  assert.throws(() => requestSchemas['apt/install'].parse({ packages: [] }, ''), /field "packages": needs at least 1/);
  assert.throws(() => requestSchemas['apt/repos/add'].parse({ repository: { enabled: true, sourceRepo: false, uri: 'http://x', distribution: 'a', comment: 'x\ndeb http://evil / main' } }, ''), /comment: must not contain a newline/);
});

it('reads request keys without regard to case, as the Go agent did', () => {
  assert.deepEqual(requestSchemas.sketch.parse({ ID: 'blink', Action: 'START' }, ''), { id: 'blink', action: 'START' });
  // A key spelled exactly wins over one that differs only in case.
  assert.deepEqual(requestSchemas['apt/get'].parse({ PACKAGE: 'a', package: 'b' }, ''), { package: 'b' });
  const repo = requestSchemas['apt/repos/add'].parse({ Repository: { Enabled: true, SourceRepo: false, URI: 'http://x', Distribution: 'a' } }, '');
  assert.equal(repo.repository.uri, 'http://x');
});

it('takes the name as the id of upload and sketch requests without one, as the Go agent did', () => {
  assert.equal(requestSchemas.upload.parse({ url: 'http://x/b', name: 'blink' }, '').id, 'blink');
  assert.equal(requestSchemas.upload.parse({ url: 'http://x/b', name: 'blink', id: 'other' }, '').id, 'other');
  assert.deepEqual(requestSchemas.sketch.parse({ name: 'blink', action: 'STOP' }, ''), { id: 'blink', name: 'blink', action: 'STOP' });
  assert.throws(() => requestSchemas.sketch.parse({ action: 'STOP' }, ''), /field "id": missing/);
});
