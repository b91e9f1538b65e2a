// The deb822 format of sources.list.d/*.sources: stanzas of "Field: value" lines, where one
// stanza with several Types, URIs or Suites is several repositories (their cross product).
// Editing one of them splits the stanza so that the others stay as they were.

import { words, sameRepository, type RepositoryFields, type SourcesFormat } from './repository.js';

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

function parseStanzas(lines: readonly string[]): Stanza[] {
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
  repo: RepositoryFields;
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
function fieldsFor(stanza: Stanza, repo: RepositoryFields): Record<string, string | undefined> {
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

/** Every stanza entry equal to `old` taken out; the first one replaced by `replacement`. */
function replaceInStanzas(lines: readonly string[], old: RepositoryFields, replacement: RepositoryFields | undefined): string[] | undefined {
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

export const deb822Format: SourcesFormat = {
  entries: (lines) => parseStanzas(lines).flatMap((stanza) => stanzaEntries(stanza).map((e) => e.repo)),
  replace: replaceInStanzas,
};
