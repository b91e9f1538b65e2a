/** An error whose message is meant for the one who sent the command: the router answers it as
 * `ERROR: <message>` without a stack trace in the log. */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/** A configuration or start-up problem that should end the program with a clear message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
