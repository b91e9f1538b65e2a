// A repository as apt's sources describe it, whichever file format it was read from, and what
// each format does with it.

/** One repository: one type (deb or deb-src), one URI, one suite. The field names are those of
 * API.md's REPO, which describes the one-line form. */
export interface RepositoryFields {
  enabled: boolean;
  /** deb-src rather than deb. */
  sourceRepo: boolean;
  /** `name=value` options, space separated (one-line syntax, also for deb822 fields). */
  options: string;
  uri: string;
  /** The suite. */
  distribution: string;
  /** Space separated. */
  components: string;
  comment: string;
}

/** A repository as a request names it: only uri and distribution are needed. */
export type RepositoryInput = Partial<RepositoryFields> & Pick<RepositoryFields, 'uri' | 'distribution'>;

/** Fills the optional fields, so every repository has the shape API.md writes. */
export function normaliseRepository(input: RepositoryInput): RepositoryFields {
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

/** The words of a field, single-spaced. */
export const words = (text: string) => text.trim().split(/\s+/).filter(Boolean).join(' ');

/** Two repositories are the same when all fields but `enabled` and `comment` are (API.md). */
export function sameRepository(a: RepositoryFields, b: RepositoryFields): boolean {
  return (
    a.sourceRepo === b.sourceRepo &&
    a.uri === b.uri &&
    a.distribution === b.distribution &&
    words(a.options) === words(b.options) &&
    words(a.components) === words(b.components)
  );
}

/** One of apt's sources file formats. A file is handled as its lines (split at "\n", a "\r"
 * kept on its line), and every line that is not part of the change is given back unchanged. */
export interface SourcesFormat {
  /** The repositories the lines describe, in the order apt reads them. */
  entries(lines: readonly string[]): RepositoryFields[];
  /** The lines with every repository equal to `old` taken out and the first of them replaced by
   * `replacement` when there is one; undefined when `old` is not there. */
  replace(lines: readonly string[], old: RepositoryFields, replacement?: RepositoryFields): string[] | undefined;
}
