// The `debug` package as the agent's bundle sees it (scripts/build.ts resolves `debug` here).
// MQTT.js and mqtt-packet call their debug loggers dozens of times per packet, and a disabled
// logger of the real package still gathers its arguments into an array on every call: about 8 KB
// of garbage for every command the agent answers. A namespace that DEBUG does not enable gets a
// function that does nothing and allocates nothing; DEBUG=mqttjs* and the like still print.
// (Calling debug.enable() at run time does not wake loggers created before it.)

interface Debugger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  extend(suffix: string, delimiter?: string): Debugger;
  destroy(): boolean;
}

interface CreateDebug {
  (namespace: string): Debugger;
  enabled(namespace: string): boolean;
}

// The package's own implementation file: a path the bundle does not redirect.
const real = require('debug/src/node.js') as CreateDebug;

function quiet(namespace: string): Debugger {
  const logger = function quietDebug(): void {} as Debugger;
  logger.enabled = false;
  logger.namespace = namespace;
  logger.extend = (suffix, delimiter = ':') => createDebug(`${namespace}${delimiter}${suffix}`);
  logger.destroy = () => false;
  return logger;
}

function createDebug(namespace: string): Debugger {
  return real.enabled(namespace) ? real(namespace) : quiet(namespace);
}

// The rest of the package's API (enable, disable, formatters, humanize...) is the real one.
Object.assign(createDebug, real);

export = createDebug;
