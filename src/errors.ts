// The errors the agent's parts speak in. Adapters and features throw these; the router alone turns
// them into `ERROR:` answers (src/mqtt/answer-error.ts), so no part below it knows the wire format.

/** What went wrong, as the one who sent the command should understand it. */
export type FailureKind =
  /** The request itself is wrong (beyond what the API map's schema checks). */
  | 'invalid'
  /** It names something that is not there (a sketch id, a repository, a container). */
  | 'not-found'
  /** It clashes with what is there (a name in use, a repository already configured). */
  | 'conflict'
  /** A part the command needs is missing or down (no container engine, no sketch folder). */
  | 'unavailable'
  /** Understood, but the agent will not do it (no signature key, a bad signature, shutting down). */
  | 'refused'
  /** It ran out of time (a hung apt-get, an engine that stopped answering). */
  | 'timed-out'
  /** It was tried and failed (apt-get exited 100, a download broke). */
  | 'failed'
  /** Too much of its kind is in progress; the sender should try again later. */
  | 'busy';

/** An error whose message is meant for the one who sent the command: answered as `ERROR:` and
 * logged without a stack trace. */
export class DomainError extends Error {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    // An expected outcome, answered with its message: its stack is never shown, and capturing it
    // was the largest cost of refusing a request (a flood of bad requests is thousands a second).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = stackTraceLimit;
    this.kind = kind;
    this.name = 'DomainError';
  }
}

export class InvalidError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid', message, options);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('not-found', message, options);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', message, options);
  }
}

/** A part is missing or down; the router answers `ERROR: <family> unavailable: <message>`. */
export class UnavailableError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

export class RefusedError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('refused', message, options);
  }
}

export class TimedOutError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('timed-out', message, options);
  }
}

export class FailedError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('failed', message, options);
  }
}

export class BusyError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('busy', message, options);
  }
}

const errorOfKind: Record<FailureKind, new (message: string, options?: { cause?: unknown }) => DomainError> = {
  invalid: InvalidError,
  'not-found': NotFoundError,
  conflict: ConflictError,
  unavailable: UnavailableError,
  refused: RefusedError,
  'timed-out': TimedOutError,
  failed: FailedError,
  busy: BusyError,
};

/** The same failure, its message prefixed with the step it happened in ("download failed: HTTP 404"). */
export function prefixedError(label: string, err: DomainError): DomainError {
  return new errorOfKind[err.kind](`${label}: ${err.message}`, { cause: err });
}

/** A configuration or start-up problem that should end the program with a clear message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
