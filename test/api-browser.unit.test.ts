// The API map also runs in the console's browser page (its forms validate with validateRequest):
// bundled for a browser, it must work in a context with none of Node's globals.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';

it('validates requests in a context without Buffer, process or require', async () => {
  const bundle = await build({
    entryPoints: ['src/api.ts'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'api',
    write: false,
    logLevel: 'error',
  });
  const context: Record<string, unknown> = { TextEncoder, TextDecoder };
  runInNewContext(bundle.outputFiles[0]!.text, context);
  const api = context.api as typeof import('../src/api.js');
  // (JSON round trip: the objects come from the other context, with its Object prototype.)
  assert.deepEqual(JSON.parse(JSON.stringify(api.validateRequest('sketch', { name: 'blink', action: 'START' }))), { id: 'blink', name: 'blink', action: 'START' });
  assert.throws(() => api.validateRequest('upload', { url: 'http://h/x', name: 'é'.repeat(128) }), /longer than 255 bytes/);
  assert.throws(() => api.validateRequest('apt/get', { package: '-oAPT::Get' }), /not a Debian package name/);
  assert.equal(api.answerSchemas().status.json.type, 'object');
});
