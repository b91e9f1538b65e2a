// apt/get, apt/list, apt/update, apt/install, apt/upgrade, apt/remove, and the repositories of
// apt/repos/list, add, remove, edit.

import { packageName, sourcesField } from './fields.js';
import { arrayOf, bool, fixedObject, int, listOf, num, object, optional, str, text, type Infer } from './schema.js';

export const repositorySchema = object(
  {
    enabled: bool(),
    sourceRepo: bool(),
    options: optional(sourcesField()),
    uri: str({ min: 1, max: 2048, pattern: /^[^\s\0]+$/, patternText: 'must be a URI without spaces' }),
    distribution: str({ min: 1, max: 256, pattern: /^[^\s\0]+$/, patternText: 'must be one word' }),
    components: optional(sourcesField()),
    comment: optional(sourcesField()),
  },
);
export type RepositoryRequest = Infer<typeof repositorySchema>;
/** A repository as the agent writes it: every field present, exactly as named in API.md. */
export interface Repository {
  enabled: boolean;
  sourceRepo: boolean;
  options: string;
  uri: string;
  distribution: string;
  components: string;
  comment: string;
}

const empty = object({});

export const aptRequests = {
  'apt/get': object({ package: packageName }),
  'apt/list': object({
    search: optional(str({ max: 128, pattern: /^[A-Za-z0-9+.:_-]*$/, patternText: 'may hold only letters, digits and "+.:_-"' })),
    page: optional(int({ min: 0, max: 1_000_000 })),
  }),
  'apt/update': empty,
  'apt/install': object({ packages: arrayOf(packageName, { min: 1, max: 500 }) }),
  'apt/upgrade': object({ packages: arrayOf(packageName, { max: 500 }) }),
  'apt/remove': object({ packages: arrayOf(packageName, { min: 1, max: 500 }) }),
};

export const aptRepoRequests = {
  'apt/repos/list': empty,
  'apt/repos/add': object({ repository: repositorySchema }),
  'apt/repos/remove': object({ repository: repositorySchema }),
  'apt/repos/edit': object({ old_repository: repositorySchema, new_repository: repositorySchema }),
};

export interface AptPackage {
  Name: string;
  /** dpkg's status word (`installed`, `config-files`, …), `not-installed` or `upgradable`. */
  Status: string;
  Architecture: string;
  /** The installed version; for `upgradable` and `not-installed` the candidate. */
  Version: string;
  /** The first line of that version's description, "" when unknown. */
  ShortDescription: string;
  /** That version's Installed-Size in KiB, 0 when unknown. */
  InstalledSizeKB: number;
}

export interface AptPackagesBody {
  packages: AptPackage[];
}

export interface AptListBody {
  packages: AptPackage[];
  page: number;
  pages: number;
  total_items: number;
}

export interface CommandOutputBody {
  output: string;
}

export interface AptAnswers {
  'apt/get': AptPackagesBody;
  'apt/list': AptListBody;
  'apt/update': CommandOutputBody;
  'apt/install': CommandOutputBody;
  'apt/upgrade': CommandOutputBody;
  'apt/remove': CommandOutputBody;
}

export interface AptRepoAnswers {
  'apt/repos/list': Repository[];
  'apt/repos/add': string;
  'apt/repos/remove': string;
  'apt/repos/edit': string;
}

// Answer schemas are built on first use: the agent itself never needs them (docs/asyncapi.yaml,
// the tests and the console do).

export function aptAnswerSchemas() {
  const aptPackageSchema = fixedObject({
    Name: text(),
    Status: text(),
    Architecture: text(),
    Version: text(),
    ShortDescription: text(),
    InstalledSizeKB: num(),
  });

  const commandOutputSchema = fixedObject({ output: text('What apt printed.') });

  return {
    'apt/get': fixedObject({ packages: listOf(aptPackageSchema) }),
    'apt/list': fixedObject({ packages: listOf(aptPackageSchema), page: int({ min: 0 }), pages: int({ min: 0 }), total_items: int({ min: 0 }) }),
    'apt/update': commandOutputSchema,
    'apt/install': commandOutputSchema,
    'apt/upgrade': commandOutputSchema,
    'apt/remove': commandOutputSchema,
  };
}

export function aptRepoAnswerSchemas() {
  const repositoryAnswerSchema = fixedObject({
    enabled: bool(),
    sourceRepo: bool(),
    options: text(),
    uri: text(),
    distribution: text(),
    components: text(),
    comment: text(),
  });

  return {
    'apt/repos/list': listOf(repositoryAnswerSchema),
    'apt/repos/add': text('`OK`'),
    'apt/repos/remove': text('`OK`'),
    'apt/repos/edit': text('`OK`'),
  };
}
