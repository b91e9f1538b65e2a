// Command line and environment → settings. Precedence: flags over environment over config file
// over defaults. Flags take one or two dashes, as the Go agent's `-config` did.

import { ConfigError } from '../errors.js';
import { readConfigFile } from './config-file.js';
import { defaultSettings, findSetting, settingDefinitions, type SettingDefinition, type Settings } from '../settings.js';

export const DEFAULT_CONFIG_FILE = '/etc/arduino-connector/arduino-connector.cfg';

/** Flags that are not settings: they choose what the program does. */
export interface FlagDefinition {
  name: string;
  takesValue: boolean;
  help: string;
}

export interface ParsedArgs {
  positionals: string[];
  /** Setting values given as flags, as text. */
  settings: Record<string, string>;
  /** Other flags: true for switches, text for flags with a value. */
  flags: Record<string, string | true>;
}

function parseBoolean(text: string, what: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off', ''].includes(t)) return false;
  throw new ConfigError(`${what}: expected true or false, got "${text}"`);
}

/** Splits argv into positionals, setting flags and program flags; unknown flags are errors. */
export function parseArgs(argv: string[], programFlags: FlagDefinition[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], settings: {}, flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      out.positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = (eq >= 0 ? body.slice(0, eq) : body).toLowerCase();
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`flag ${arg} needs a value`);
      i++;
      return next;
    };
    const program = programFlags.find((f) => f.name === name || f.name === name.replaceAll('_', '-'));
    if (program) {
      out.flags[program.name] = program.takesValue ? takeValue() : inline === undefined ? true : String(parseBoolean(inline, arg));
      continue;
    }
    const setting = findSetting(name);
    if (setting) {
      // A boolean setting given alone means true (`-check_ro_fs`); `-check_ro_fs=false` works too.
      out.settings[setting.key] = setting.type === 'boolean' ? (inline ?? 'true') : takeValue();
      continue;
    }
    throw new ConfigError(`unknown flag ${arg} (see --help)`);
  }
  return out;
}

function convert(definition: SettingDefinition, text: string, source: string): string | number | boolean {
  const what = `${definition.key} (${source})`;
  if (definition.type === 'boolean') return parseBoolean(text, what);
  if (definition.type === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(`${what}: expected a non-negative number, got "${text}"`);
    return n;
  }
  return text;
}

export interface LoadOptions {
  args: ParsedArgs;
  env: NodeJS.ProcessEnv;
  /** The -config flag's value, if given (then the file must exist). */
  configFile?: string;
  /** The config file may be missing even when named (-register writes it). */
  configOptional?: boolean;
}

export interface LoadedSettings {
  settings: Settings;
  configFile: string;
  /** Where each value came from, for `--help`-style diagnostics and tests. */
  sources: Record<string, 'default' | 'file' | 'env' | 'flag'>;
}

export async function loadSettings(options: LoadOptions): Promise<LoadedSettings> {
  const configFile = options.configFile ?? options.env.CONFIG ?? DEFAULT_CONFIG_FILE;
  const explicit = !options.configOptional && (options.configFile !== undefined || options.env.CONFIG !== undefined);
  const fromFile = await readConfigFile(configFile, explicit);
  const settings = defaultSettings() as Record<string, unknown>;
  const sources: LoadedSettings['sources'] = {};
  for (const d of settingDefinitions) {
    sources[d.key] = 'default';
    const layers: [string | undefined, 'file' | 'env' | 'flag', string][] = [
      [fromFile[d.key], 'file', configFile],
      [options.env[d.key.toUpperCase()], 'env', `environment ${d.key.toUpperCase()}`],
      [options.args.settings[d.key], 'flag', `flag -${d.key}`],
    ];
    for (const [text, source, label] of layers) {
      if (text === undefined) continue;
      settings[d.key] = convert(d, text, label);
      sources[d.key] = source;
    }
  }
  return { settings: settings as Settings, configFile, sources };
}

export function settingsHelp(): string {
  const width = Math.max(...settingDefinitions.map((d) => d.key.length)) + 2;
  return settingDefinitions
    .map((d) => {
      const def = d.default === '' ? '' : ` (default: ${String(d.default)})`;
      return `  -${d.key.padEnd(width)}${d.help}${def}  [env ${d.key.toUpperCase()}]`;
    })
    .join('\n');
}
