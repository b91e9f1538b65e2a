// update: the agent replaces its own release with a signed one, on probation until it has
// connected and answered status (design: src/update/releases.ts).

import { httpUrl } from './fields.js';
import { bool, fixedObject, object, oneOf, optional, str, text } from './schema.js';

export const updateRequests = {
  update: object({
    url: httpUrl,
    token: optional(str({ max: 8192 })),
    /** RSA/SHA-256 over the tarball, base64; without it, `url + ".sig"` is fetched. */
    signature: optional(str({ min: 1, max: 4096, pattern: /^[A-Za-z0-9+/]+={0,2}$/, patternText: 'not base64' })),
    allow_downgrade: optional(bool()),
  }),
};

export interface UpdateAnswers {
  /** `updating to <version>`, or `<version> is already running`. */
  update: string;
}

/** Built on first use (see aptAnswerSchemas). */
export function updateAnswerSchemas() {
  return { update: text('`updating to <version>`, or `<version> is already running`') };
}

export function updateOutcomeSchema() {
  return fixedObject({
    version: text(),
    from: text(),
    outcome: oneOf('probation', 'committed', 'rolled back'),
    reason: optional(text()),
  });
}

/** The last update, in `status`: how it went. */
export interface UpdateOutcome {
  version: string;
  from: string;
  outcome: 'probation' | 'committed' | 'rolled back';
  /** Why it was rolled back. */
  reason?: string;
}
