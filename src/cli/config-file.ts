// The agent's config file: one `key=value` a line, `#` comments, as the Go agent wrote it.

import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { findSetting, settingDefinitions, type Settings } from '../settings.js';

/** Parses the file's text; unknown keys and malformed lines are errors naming the line. */
export function parseConfigText(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const where = `${source}:${index + 1}`;
    if (eq <= 0) throw new ConfigError(`${where}: expected key=value, got "${line.slice(0, 80)}"`);
    const key = line.slice(0, eq).trim();
    const definition = findSetting(key);
    if (!definition || 'flagOnly' in definition) {
      throw new ConfigError(`${where}: unknown key "${key}" (known: ${settingDefinitions.map((d) => d.key).join(', ')})`);
    }
    out[definition.key] = line.slice(eq + 1).trim();
  });
  return out;
}

export async function readConfigFile(path: string, required: boolean): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}

/** The file's text: the settings that differ from their defaults (and always id and url, and
 * the keys in `always`); flag-only settings (the -token) never. */
export function formatConfigFile(settings: Partial<Settings>, always: readonly string[] = []): string {
  const lines: string[] = [];
  for (const d of settingDefinitions) {
    const value = (settings as Record<string, unknown>)[d.key];
    if (value === undefined || 'flagOnly' in d) continue;
    if (value === d.default && d.key !== 'id' && d.key !== 'url' && !always.includes(d.key)) continue;
    const text = String(value);
    if (/[\r\n]/.test(text)) throw new ConfigError(`setting ${d.key} cannot hold a newline (write "\\n" instead)`);
    lines.push(`${d.key}=${text}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the settings as formatConfigFile says, mode 0600 since the file can hold a broker
 * password. */
export async function writeConfigFile(path: string, settings: Partial<Settings>): Promise<void> {
  await writeFileAtomic(path, formatConfigFile(settings), { mode: 0o600 });
}
