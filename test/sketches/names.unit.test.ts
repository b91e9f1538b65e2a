import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidError } from '../../src/errors.js';
import { checkFileName, isFileName, sketchFilePath } from '../../src/sketches/names.js';

describe('sketchFilePath', () => {
  const folder = join('/var/lib/arduino-connector', 'sketches');

  it('places a plain name directly in the folder', () => {
    assert.equal(sketchFilePath(folder, 'blink'), join(folder, 'blink'));
    assert.equal(sketchFilePath(folder, 'my sketch-v1.2_ünïcode'), join(folder, 'my sketch-v1.2_ünïcode'));
    assert.equal(sketchFilePath(`${folder}/`, 'sketchLoadedThroughUSB'), join(folder, 'sketchLoadedThroughUSB'));
  });

  it('resolves a relative folder to an absolute path', () => {
    const path = sketchFilePath('relative/sketches', 'blink');
    assert.ok(path.startsWith('/'));
    assert.ok(path.endsWith('/relative/sketches/blink'));
  });

  const refused: Array<[string, RegExp]> = [
    ['', /empty/],
    ['..', /"\.\."/],
    ['.', /starts with "\."/],
    ['../etc/passwd', /"\/"|"\.\."/],
    ['a/../../b', /"\/"|"\.\."/],
    ['/etc/passwd', /"\/"/],
    ['sub/dir', /"\/"/],
    ['evil\0name', /NUL/],
    ['..hidden', /"\.\."/],
    ['.download-1234.part', /starts with "\."/],
    ['line\nbreak', /control character/],
    ['x'.repeat(256), /longer than 255 bytes/],
    // MQTT wildcards: an id goes into the topic B/sketches/<id>/stdout.
    ['a+b', /"\+" or "#"/],
    ['+', /"\+" or "#"/],
    ['c#', /"\+" or "#"/],
  ];
  for (const [name, message] of refused) {
    it(`refuses ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…` : name)}`, () => {
      assert.throws(() => sketchFilePath(folder, name), (err: Error) => err instanceof InvalidError && message.test(err.message));
    });
  }

  it('accepts a name of exactly 255 bytes', () => {
    assert.equal(sketchFilePath(folder, 'y'.repeat(255)), join(folder, 'y'.repeat(255)));
  });

  it('checkFileName names what it checks in the message', () => {
    assert.throws(() => checkFileName('a/b', 'sketch id'), (err: Error) => err instanceof InvalidError && err.message === 'sketch id "a/b" contains "/"');
  });

  it('isFileName says whether checkFileName would accept', () => {
    assert.equal(isFileName('blink'), true);
    assert.equal(isFileName('a#b'), false);
    assert.equal(isFileName('../x'), false);
  });
});
