// apt's repositories, read and edited in place: one-line files (sources.list, sources.list.d/*.list)
// and deb822 files (sources.list.d/*.sources, where one stanza with several Types, URIs or Suites
// is several repositories). Only the lines of the repository concerned change: comments, options
// and unrelated lines stay byte for byte. Files are replaced atomically, the old one kept as .bak.

import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from '../api.js';
import { CommandError } from '../errors.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { SerialQueue } from '../lib/serial-queue.js';

export const MANAGED_FILE = 'managed.list';

type RepositoryInput = Partial<Repository> & Pick<Repository, 'uri' | 'distribution'>;

/** Fills the optional fields, so every repository has the shape API.md writes. */
export function normaliseRepository(input: RepositoryInput): Repository {
  return {
    enabled: input.enabled ?? true,
    sourceRepo: input.sourceRepo ?? false,
    options: (input.options ?? '').trim(),
    uri: input.uri,
    distribution: input.distribution,
    components: (input.components ?? '').trim(),
    comment: (input.comment ?? '').trim(),
  };
}

const words = (text: string) => text.trim().split(/\s+/).filter(Boolean).join(' ');

/** Two repositories are the same when all fields but `enabled` and `comment` are (API.md). */
export function sameRepository(a: Repository, b: Repository): boolean {
  return (
    a.sourceRepo === b.sourceRepo &&
    a.uri === b.uri &&
    a.distribution === b.distribution &&
    words(a.options) === words(b.options) &&
    words(a.components) === words(b.components)
  );
}

/** The one-line form of a repository, as written to managed.list. */
export function formatSourceLine(repo: Repository): string {
  let line = `${repo.enabled ? '' : '# '}${repo.sourceRepo ? 'deb-src' : 'deb'} `;
  if (repo.options.trim() !== '') line += `[${repo.options.trim()}] `;
  line += `${repo.uri} ${repo.distribution}`;
  if (repo.components.trim() !== '') line += ` ${words(repo.components)}`;
  if (repo.comment.trim() !== '') line += ` # ${repo.comment.trim()}`;
  return line;
}

/** Refuses what could not be written back as one sources line (or would change its meaning). */
export function assertWritable(repo: Repository, what = 'repository'): void {
  const problems: string[] = [];
  if (/[[\]#]/.test(repo.options)) problems.push('options must not contain "[", "]" or "#"');
  if (/#/.test(repo.uri) || repo.uri.startsWith('[')) problems.push('uri must not contain "#" or start with "["');
  if (/#/.test(repo.distribution)) problems.push('distribution must not contain "#"');
  if (/#/.test(repo.components)) problems.push('components must not contain "#"');
  for (const token of repo.options.trim().split(/\s+/).filter(Boolean)) {
    if (!/^[A-Za-z][A-Za-z0-9-]*[+-]?=\S+$/.test(token)) problems.push(`option "${token}" is not name=value`);
  }
  if (problems.length) throw new CommandError(`${what}: ${problems.join('; ')}`);
}

// ---- one-line format -----------------------------------------------------------------------

const sourceLine =
  /^[ \t]*(#[ \t]*)?(deb|deb-src)[ \t]+(?:\[([^\]]*)\][ \t]+)?(cdrom:\[[^\]]*\]\S*|[^\s#[]\S*)[ \t]+([^\s#]+)(?:[ \t]+([^#]*?))?[ \t]*(?:#[ \t]*(.*?))?[ \t]*$/;

/** The repository a line describes (a "# deb ..." line is a disabled one), or undefined. */
export function parseSourceLine(line: string): Repository | undefined {
  const m = sourceLine.exec(line.replace(/\r$/, ''));
  if (!m) return undefined;
  return {
    enabled: m[1] === undefined,
    sourceRepo: m[2] === 'deb-src',
    options: (m[3] ?? '').trim(),
    uri: m[4] as string,
    distribution: m[5] as string,
    components: words(m[6] ?? ''),
    comment: (m[7] ?? '').trim(),
  };
}

// ---- deb822 format ---------------------------------------------------------------------------

interface Field {
  /** Field name as spelled in the file. */
  name: string;
  /** The field's lines: "Name: value" and its continuation lines, verbatim. */
  lines: string[];
}

type StanzaLine = { comment: string } | { field: Field };

interface Stanza {
  /** Line range [start, end) in the file. */
  start: number;
  end: number;
  items: StanzaLine[];
}

const coreFields = new Set(['types', 'uris', 'suites', 'components', 'enabled']);
const toOptionKey: Record<string, string> = { architectures: 'arch', languages: 'lang', targets: 'target' };
const toFieldName: Record<string, string> = {
  arch: 'Architectures',
  lang: 'Languages',
  target: 'Targets',
  'signed-by': 'Signed-By',
  pdiffs: 'PDiffs',
  'by-hash': 'By-Hash',
  'inrelease-path': 'InRelease-Path',
};

function fieldValue(field: Field): string {
  const first = field.lines[0] ?? '';
  const head = first.slice(first.indexOf(':') + 1);
  return [head, ...field.lines.slice(1)].map((l) => l.replace(/\r$/, '')).join('\n').trim();
}

function parseStanzas(lines: string[]): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      current = undefined;
      return;
    }
    if (!current) {
      current = { start: index, end: index, items: [] };
      stanzas.push(current);
    }
    current.end = index + 1;
    const last = current.items[current.items.length - 1];
    if (line.startsWith('#')) current.items.push({ comment: raw });
    else if (/^[ \t]/.test(line) && last && 'field' in last) last.field.lines.push(raw);
    else current.items.push({ field: { name: line.slice(0, Math.max(0, line.indexOf(':'))).trim(), lines: [raw] } });
  });
  return stanzas;
}

const fieldsOf = (stanza: Stanza) => stanza.items.flatMap((i) => ('field' in i ? [i.field] : []));

function getField(stanza: Stanza, name: string): Field | undefined {
  return fieldsOf(stanza).find((f) => f.name.toLowerCase() === name);
}

/** The stanza's other fields in one-line option syntax; multi-line values (an embedded key)
 * have no one-line form and are left out (and left alone on edits). */
function stanzaOptions(stanza: Stanza): string {
  const options: string[] = [];
  for (const field of fieldsOf(stanza)) {
    const key = field.name.toLowerCase();
    if (coreFields.has(key) || field.lines.length > 1) continue;
    options.push(`${toOptionKey[key] ?? key}=${fieldValue(field).split(/\s+/).join(',')}`);
  }
  return options.join(' ');
}

interface StanzaEntry {
  repo: Repository;
  type: string;
  uri: string;
  suite: string;
}

function stanzaEntries(stanza: Stanza): StanzaEntry[] {
  const list = (name: string) => (getField(stanza, name) ? fieldValue(getField(stanza, name) as Field).split(/\s+/).filter(Boolean) : []);
  const enabledField = getField(stanza, 'enabled');
  const enabled = !enabledField || fieldValue(enabledField).toLowerCase() !== 'no';
  const options = stanzaOptions(stanza);
  const components = list('components').join(' ');
  const entries: StanzaEntry[] = [];
  for (const type of list('types')) {
    if (type !== 'deb' && type !== 'deb-src') continue;
    for (const uri of list('uris')) {
      for (const suite of list('suites')) {
        entries.push({ type, uri, suite, repo: { enabled, sourceRepo: type === 'deb-src', options, uri, distribution: suite, components, comment: '' } });
      }
    }
  }
  return entries;
}

/** A copy of the stanza with some fields set (undefined: removed); new fields go last. */
function withFields(stanza: Stanza, values: Record<string, string | undefined>, keepComments: boolean): string[] {
  const pending = new Map(Object.entries(values).map(([k, v]) => [k.toLowerCase(), { name: k, value: v }]));
  const out: string[] = [];
  for (const item of stanza.items) {
    if ('comment' in item) {
      if (keepComments) out.push(item.comment);
      continue;
    }
    const change = pending.get(item.field.name.toLowerCase());
    if (!change) {
      out.push(...item.field.lines);
      continue;
    }
    pending.delete(item.field.name.toLowerCase());
    // An unchanged value keeps its lines as they were (spacing, continuation lines).
    if (change.value !== undefined && words(change.value) === words(fieldValue(item.field))) out.push(...item.field.lines);
    else if (change.value !== undefined) out.push(`${item.field.name}: ${change.value}`);
  }
  for (const { name, value } of pending.values()) if (value !== undefined) out.push(`${name}: ${value}`);
  return out;
}

/** Field changes that make a stanza describe exactly `repo` (one type, URI and suite). */
function fieldsFor(stanza: Stanza, repo: Repository): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {
    Types: repo.sourceRepo ? 'deb-src' : 'deb',
    URIs: repo.uri,
    Suites: repo.distribution,
    Components: repo.components === '' ? undefined : words(repo.components),
  };
  if (!repo.enabled) values.Enabled = 'no';
  else if (getField(stanza, 'enabled')) values.Enabled = 'yes';
  if (words(repo.options) !== words(stanzaOptions(stanza))) {
    for (const field of fieldsOf(stanza)) {
      const key = field.name.toLowerCase();
      if (!coreFields.has(key) && field.lines.length === 1) values[field.name] = undefined;
    }
    for (const token of repo.options.trim().split(/\s+/).filter(Boolean)) {
      const eq = token.indexOf('=');
      const key = token.slice(0, eq).toLowerCase();
      const name = toFieldName[key] ?? key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
      values[name] = token.slice(eq + 1).split(',').join(' ');
    }
  }
  return values;
}

/** The stanzas that keep every entry of `stanza` except `gone` (at most three: the cross
 * product minus one element is not a product, so it is split by the dimension that differs). */
function stanzasWithout(stanza: Stanza, gone: StanzaEntry): string[][] {
  const list = (name: string) => fieldValue(getField(stanza, name) as Field).split(/\s+/).filter(Boolean);
  const types = list('types');
  const uris = list('uris');
  const suites = list('suites');
  const parts: Record<string, string>[] = [];
  const otherTypes = types.filter((t) => t !== gone.type);
  const otherUris = uris.filter((u) => u !== gone.uri);
  const otherSuites = suites.filter((s) => s !== gone.suite);
  if (otherTypes.length) parts.push({ Types: otherTypes.join(' ') });
  if (otherUris.length) parts.push({ Types: gone.type, URIs: otherUris.join(' ') });
  if (otherSuites.length) parts.push({ Types: gone.type, URIs: gone.uri, Suites: otherSuites.join(' ') });
  return parts.map((values, i) => withFields(stanza, values, i === 0));
}

// ---- the folder --------------------------------------------------------------------------------

export interface RepositoryLocation {
  repo: Repository;
  file: string;
}

interface SourceFile {
  path: string;
  format: 'one-line' | 'deb822';
  lines: string[];
}

export class AptSources {
  private readonly changes = new SerialQueue();

  /** `configDir` is apt's configuration folder (settings.apt_config_dir, default /etc/apt). */
  constructor(private readonly configDir: string) {}

  private get partsDir(): string {
    return join(this.configDir, 'sources.list.d');
  }

  /** Changes one at a time, so two edits never read the same old file. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.changes.run(work);
  }

  private async files(): Promise<SourceFile[]> {
    const paths: { path: string; format: SourceFile['format'] }[] = [{ path: join(this.configDir, 'sources.list'), format: 'one-line' }];
    let names: string[] = [];
    try {
      names = (await readdir(this.partsDir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // apt reads only these names; backups, ".disabled" copies and the like are not sources.
    for (const name of names) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) continue;
      if (name.endsWith('.list')) paths.push({ path: join(this.partsDir, name), format: 'one-line' });
      else if (name.endsWith('.sources')) paths.push({ path: join(this.partsDir, name), format: 'deb822' });
    }
    const files: SourceFile[] = [];
    for (const { path, format } of paths) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EISDIR') continue;
        throw err;
      }
      files.push({ path, format, lines: text.split('\n') });
    }
    return files;
  }

  private static entries(file: SourceFile): RepositoryLocation[] {
    if (file.format === 'one-line') {
      return file.lines.flatMap((line) => {
        const repo = parseSourceLine(line);
        return repo ? [{ repo, file: file.path }] : [];
      });
    }
    return parseStanzas(file.lines).flatMap((s) => stanzaEntries(s).map((e) => ({ repo: e.repo, file: file.path })));
  }

  /** Every repository, in the order apt reads them. */
  async list(): Promise<RepositoryLocation[]> {
    return (await this.files()).flatMap((f) => AptSources.entries(f));
  }

  async add(input: RepositoryInput): Promise<void> {
    const repo = normaliseRepository(input);
    assertWritable(repo);
    await this.exclusive(async () => {
      const existing = (await this.list()).find((l) => sameRepository(l.repo, repo));
      if (existing) throw new CommandError(`the repository "${formatSourceLine(repo)}" is already configured in ${existing.file}`);
      const path = join(this.partsDir, MANAGED_FILE);
      await mkdir(this.partsDir, { recursive: true });
      let current = '';
      try {
        current = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const separator = current === '' || current.endsWith('\n') ? '' : '\n';
      await writeFileAtomic(path, `${current}${separator}${formatSourceLine(repo)}\n`, { backup: true });
    });
  }

  async remove(input: RepositoryInput): Promise<void> {
    const repo = normaliseRepository(input);
    await this.exclusive(async () => {
      let found = false;
      for (const file of await this.files()) {
        const next = file.format === 'one-line' ? removeFromLines(file.lines, repo) : replaceInStanzas(file.lines, repo, undefined);
        if (!next) continue;
        found = true;
        await writeFileAtomic(file.path, next.join('\n'), { backup: true });
      }
      if (!found) throw new CommandError(`no such repository: "${formatSourceLine(repo)}"`);
    });
  }

  async edit(oldInput: RepositoryInput, newInput: RepositoryInput): Promise<void> {
    const oldRepo = normaliseRepository(oldInput);
    const newRepo = normaliseRepository(newInput);
    assertWritable(newRepo, 'new_repository');
    await this.exclusive(async () => {
      const files = await this.files();
      const all = files.flatMap((f) => AptSources.entries(f));
      if (!all.some((l) => sameRepository(l.repo, oldRepo))) throw new CommandError(`no such repository: "${formatSourceLine(oldRepo)}"`);
      const clash = !sameRepository(oldRepo, newRepo) && all.find((l) => sameRepository(l.repo, newRepo));
      if (clash) throw new CommandError(`the repository "${formatSourceLine(newRepo)}" is already configured in ${clash.file}`);
      // The first occurrence becomes the new repository; duplicates of the old one go.
      let replaced = false;
      for (const file of files) {
        const replacement = replaced ? undefined : newRepo;
        const next = file.format === 'one-line' ? editLines(file.lines, oldRepo, replacement) : replaceInStanzas(file.lines, oldRepo, replacement);
        if (!next) continue;
        replaced = true;
        await writeFileAtomic(file.path, next.join('\n'), { backup: true });
      }
    });
  }
}

/** The lines without those describing `repo`, or undefined when none did. */
function removeFromLines(lines: string[], repo: Repository): string[] | undefined {
  const kept = lines.filter((line) => {
    const parsed = parseSourceLine(line);
    return !(parsed && sameRepository(parsed, repo));
  });
  return kept.length === lines.length ? undefined : kept;
}

/** The first line describing `old` replaced by `replacement` (later ones dropped), or undefined. */
function editLines(lines: string[], old: Repository, replacement: Repository | undefined): string[] | undefined {
  let changed = false;
  let written = replacement === undefined;
  const out: string[] = [];
  for (const line of lines) {
    const parsed = parseSourceLine(line);
    if (!parsed || !sameRepository(parsed, old)) {
      out.push(line);
      continue;
    }
    changed = true;
    if (!written && replacement) {
      out.push(formatSourceLine(replacement) + (line.endsWith('\r') ? '\r' : ''));
      written = true;
    }
  }
  return changed ? out : undefined;
}

/** Every stanza entry equal to `old` taken out; the first one replaced by `replacement`. */
function replaceInStanzas(lines: string[], old: Repository, replacement: Repository | undefined): string[] | undefined {
  const stanzas = parseStanzas(lines);
  let pendingReplacement = replacement;
  // Later stanzas first, so earlier line numbers stay valid while splicing.
  const edits: { stanza: Stanza; lines: string[][] }[] = [];
  for (const stanza of stanzas) {
    const entries = stanzaEntries(stanza);
    const gone = entries.find((e) => sameRepository(e.repo, old));
    if (!gone) continue;
    let result: string[][];
    if (entries.length === 1) result = [];
    else result = stanzasWithout(stanza, gone);
    if (pendingReplacement) {
      if (entries.length === 1) result = [withFields(stanza, fieldsFor(stanza, pendingReplacement), true)];
      else result.push(withFields(stanza, fieldsFor(stanza, pendingReplacement), false));
      pendingReplacement = undefined;
    }
    edits.push({ stanza, lines: result });
  }
  if (edits.length === 0) return undefined;
  const out = [...lines];
  for (const { stanza, lines: replacementStanzas } of edits.reverse()) {
    const block = replacementStanzas.flatMap((s, i) => (i === 0 ? s : ['', ...s]));
    if (block.length > 0) {
      out.splice(stanza.start, stanza.end - stanza.start, ...block);
    } else {
      // The stanza disappears with one blank line that separated it from a neighbour.
      const after = out[stanza.end];
      const blankAfter = after !== undefined && after.trim() === '' && stanza.end < out.length - 1;
      const before = out[stanza.start - 1];
      const blankBefore = stanza.start > 0 && before !== undefined && before.trim() === '';
      if (blankAfter) out.splice(stanza.start, stanza.end - stanza.start + 1);
      else if (blankBefore) out.splice(stanza.start - 1, stanza.end - stanza.start + 1);
      else out.splice(stanza.start, stanza.end - stanza.start);
    }
  }
  return out;
}
