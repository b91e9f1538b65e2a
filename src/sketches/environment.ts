// The environment a sketch runs with (API.md): the connector's own, the proxy settings (in both
// spellings programs look for), the operator's env_vars_to_load, and LD_LIBRARY_PATH with the
// sketches' own lib folder first so a sketch can ship its shared libraries next to it.

import { join } from 'node:path';
import { settingDefinitions } from '../settings.js';
import { ConfigError } from '../errors.js';
import { applyProxyEnvironment } from '../system/proxy-environment.js';

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The agent's own secrets may reach it through the environment (every setting is also an
 * upper-case variable); a sketch is someone else's program and does not inherit them. */
const agentSecrets = new Set<string>([
  ...settingDefinitions.filter((d) => 'secret' in d && d.secret).map((d) => d.key.toUpperCase()),
  'TOKEN',
]);

/** Parses `NAME=value,NAME=value`; empty entries are skipped, a malformed one is a ConfigError. */
export function parseEnvVarsToLoad(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new ConfigError(`env_vars_to_load: "${entry}" is not NAME=value`);
    const name = entry.slice(0, eq);
    if (!variableName.test(name)) throw new ConfigError(`env_vars_to_load: "${name}" is not a variable name`);
    if (entry.includes('\0')) throw new ConfigError(`env_vars_to_load: the value of ${name} contains NUL`);
    out[name] = entry.slice(eq + 1);
  }
  return out;
}

/** The settings that shape a sketch's environment. */
export interface EnvironmentSettings {
  http_proxy: string;
  https_proxy: string;
  all_proxy: string;
  /** `NAME=value,NAME=value`. */
  env_vars_to_load: string;
}

export interface EnvironmentOptions {
  settings: EnvironmentSettings;
  /** The sketches folder; `<folder>/lib` leads LD_LIBRARY_PATH. */
  sketchesDir: string;
  /** The connector's environment (default process.env). */
  base?: NodeJS.ProcessEnv;
}

export function sketchEnvironment(options: EnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.base ?? process.env)) {
    if (value !== undefined && !agentSecrets.has(key)) env[key] = value;
  }
  const { settings } = options;
  applyProxyEnvironment(settings, env);
  Object.assign(env, parseEnvVarsToLoad(settings.env_vars_to_load));
  const lib = join(options.sketchesDir, 'lib');
  const rest = (env.LD_LIBRARY_PATH ?? '').split(':').filter((p) => p !== '' && p !== lib);
  env.LD_LIBRARY_PATH = [lib, ...rest].join(':');
  return env;
}
