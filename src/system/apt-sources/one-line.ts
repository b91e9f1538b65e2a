// The one-line format of sources.list and sources.list.d/*.list: "deb [options] uri suite
// components # comment", a "# deb ..." line being a disabled repository.

import { InvalidError } from '../../errors.js';
import { words, sameRepository, type RepositoryFields, type SourcesFormat } from './repository.js';

const sourceLine =
  /^[ \t]*(#[ \t]*)?(deb|deb-src)[ \t]+(?:\[([^\]]*)\][ \t]+)?(cdrom:\[[^\]]*\]\S*|[^\s#[]\S*)[ \t]+([^\s#]+)(?:[ \t]+([^#]*?))?[ \t]*(?:#[ \t]*(.*?))?[ \t]*$/;

/** The repository a line describes (a "# deb ..." line is a disabled one), or undefined. */
export function parseSourceLine(line: string): RepositoryFields | undefined {
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

/** The one-line form of a repository, as written to managed.list. */
export function formatSourceLine(repo: RepositoryFields): string {
  let line = `${repo.enabled ? '' : '# '}${repo.sourceRepo ? 'deb-src' : 'deb'} `;
  if (repo.options.trim() !== '') line += `[${repo.options.trim()}] `;
  line += `${repo.uri} ${repo.distribution}`;
  if (repo.components.trim() !== '') line += ` ${words(repo.components)}`;
  if (repo.comment.trim() !== '') line += ` # ${repo.comment.trim()}`;
  return line;
}

/** Refuses what could not be written back as one sources line (or would change its meaning). */
export function assertWritable(repo: RepositoryFields, what = 'repository'): void {
  const problems: string[] = [];
  if (/[[\]#]/.test(repo.options)) problems.push('options must not contain "[", "]" or "#"');
  if (/#/.test(repo.uri) || repo.uri.startsWith('[')) problems.push('uri must not contain "#" or start with "["');
  if (/#/.test(repo.distribution)) problems.push('distribution must not contain "#"');
  if (/#/.test(repo.components)) problems.push('components must not contain "#"');
  for (const token of repo.options.trim().split(/\s+/).filter(Boolean)) {
    if (!/^[A-Za-z][A-Za-z0-9-]*[+-]?=\S+$/.test(token)) problems.push(`option "${token}" is not name=value`);
  }
  if (problems.length) throw new InvalidError(`${what}: ${problems.join('; ')}`);
}

export const oneLineFormat: SourcesFormat = {
  entries(lines) {
    return lines.flatMap((line) => parseSourceLine(line) ?? []);
  },

  replace(lines, old, replacement) {
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
  },
};
