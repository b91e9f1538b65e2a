// The status body without its `parts`, once `parts` is checked to list the four optional parts as
// booleans: which of them a machine has is the machine's business, the rest of the body is not.

import assert from 'node:assert/strict';
import { partNames } from '../../src/api.js';

export function withoutParts(body: unknown): Record<string, unknown> {
  const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown>;
  const { parts, ...rest } = parsed;
  assert.ok(parts !== null && typeof parts === 'object', 'status lists the optional parts');
  assert.deepEqual(Object.keys(parts).sort(), [...partNames].sort());
  for (const [name, present] of Object.entries(parts)) assert.equal(typeof present, 'boolean', name);
  return rest;
}
