import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redactPayload } from '../../src/mqtt/redact.js';

it('hides secret fields, passwords in URLs and secret query values, keeping the rest', () => {
  const shown = redactPayload(JSON.stringify({
    id: 'sketch-1',
    token: 'bearer-abc',
    url: 'https://user:pw@files.example/s.bin?token=abc&v=2',
    nested: { password: 'hunter2', image: 'busybox' },
  }));
  assert.ok(!/bearer-abc|hunter2|:pw@|token=abc/.test(shown), shown);
  assert.match(shown, /"id":"sketch-1"/);
  assert.match(shown, /v=2/);
  assert.match(shown, /"image":"busybox"/);
});

it('hides secret-looking fields of broken JSON too', () => {
  const shown = redactPayload('{"token":"abc", "password":"x');
  assert.ok(!/abc|"x/.test(shown.replace(/\*\*\*/g, '')), shown);
});

it('cuts long payloads', () => {
  assert.match(redactPayload('a'.repeat(5000), 100), /… \(5000 chars\)$/);
});
