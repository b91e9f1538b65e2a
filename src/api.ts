// The device API of ../shared/API.md as one typed map: every command family with its commands'
// requests (validated before any handler runs) and answer bodies, and every stream's payload. The
// agent's router, its features and the command-line client all use it, so a client cannot send
// what the agent would refuse and a feature cannot leave a command without a handler.

import { aptAnswerSchemas, aptRepoAnswerSchemas, aptRepoRequests, aptRequests, type AptAnswers, type AptRepoAnswers } from './api/apt.js';
import { containerAnswerSchemas, containerRequests, type ContainerAnswers } from './api/containers.js';
import type { Infer, Schema } from './api/schema.js';
import { sketchAnswerSchemas, sketchRequests, statusAnswerSchemas, statusRequests, type SketchAnswers, type StatusAnswers } from './api/sketches.js';
import { statsAnswerSchemas, statsRequests, type StatsAnswers } from './api/stats.js';
import { updateAnswerSchemas, updateRequests, type UpdateAnswers } from './api/update.js';
import { networkAnswerSchemas, networkRequests, type NetworkAnswers } from './api/network.js';

export * from './api/answer.js';
export * from './api/apt.js';
export * from './api/containers.js';
export * from './api/fields.js';
export * from './api/network.js';
export * from './api/register.js';
export { ValidationError, type JsonSchema, type Schema } from './api/schema.js';
export * from './api/shadow.js';
export * from './api/sketches.js';
export * from './api/stats.js';
export * from './api/streams.js';
export * from './api/topics.js';
export * from './api/update.js';

/** Command families: each is served by one feature, and becomes unavailable as one. */
export const commandFamilies = {
  status: statusRequests,
  sketches: sketchRequests,
  stats: statsRequests,
  apt: aptRequests,
  'apt-repos': aptRepoRequests,
  containers: containerRequests,
  update: updateRequests,
  network: networkRequests,
};

export type Family = keyof typeof commandFamilies;

export const requestSchemas = {
  ...statusRequests,
  ...sketchRequests,
  ...statsRequests,
  ...aptRequests,
  ...aptRepoRequests,
  ...containerRequests,
  ...updateRequests,
  ...networkRequests,
};

/** Every command's answer body, from the family files. */
export interface Answers extends StatusAnswers, SketchAnswers, StatsAnswers, AptAnswers, AptRepoAnswers, ContainerAnswers, UpdateAnswers, NetworkAnswers {}

export type CommandName = keyof typeof requestSchemas;

/** Every command's answer body (what follows `INFO: `) as a schema: docs/asyncapi.yaml declares
 * these, and the tests hold the live agent's answers to them. A body that is text rather than
 * JSON is a string schema. Built on each call: the agent itself never needs them. */
export function answerSchemas(): { [K in CommandName]: Schema<Answers[K]> } {
  return {
    ...statusAnswerSchemas(),
    ...sketchAnswerSchemas(),
    ...statsAnswerSchemas(),
    ...aptAnswerSchemas(),
    ...aptRepoAnswerSchemas(),
    ...containerAnswerSchemas(),
    ...updateAnswerSchemas(),
    ...networkAnswerSchemas(),
  };
}

/** The commands of one family. */
export type CommandsOf<F extends Family> = Extract<keyof (typeof commandFamilies)[F], CommandName>;
export type RequestOf<K extends CommandName> = Infer<(typeof requestSchemas)[K]>;
export type AnswerOf<K extends CommandName> = Answers[K];

export const commandNames = Object.keys(requestSchemas) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(requestSchemas, name);
}

/** Checks a request as the agent will before any handler runs: the request completed (a sketch's
 * `id` from its `name`), or ValidationError naming the field (`field "url": must be an http://
 * or https:// URL`). Clients (the `call` command, the console's forms) check with this. */
export function validateRequest<K extends CommandName>(command: K, request: unknown): RequestOf<K> {
  return requestSchemas[command].parse(request, '') as RequestOf<K>;
}

/** Largest request each command accepts, in bytes: far below the router's 1 MiB where the API
 * never needs more. 500 package names of up to 256 characters, or a container's Docker API
 * configuration, need more than the rest. */
const defaultPayloadLimit = 64 * 1024;
const payloadLimits: Partial<Record<CommandName, number>> = {
  'apt/install': 160 * 1024,
  'apt/upgrade': 160 * 1024,
  'apt/remove': 160 * 1024,
  'containers/action': 256 * 1024,
  wifi: 4 * 1024,
  ethernet: 16 * 1024,
};

export function payloadLimitOf(command: CommandName): number {
  return payloadLimits[command] ?? defaultPayloadLimit;
}

/** Requests of one family that may be in progress at once; more are answered `ERROR: busy, retry`
 * rather than queued without end. Commands that run one at a time anyway (apt changes, repository
 * edits) need few; status answers from memory at once and has no bound. */
const concurrencyLimits: Record<Family, number> = {
  status: Infinity,
  sketches: 32,
  stats: 16,
  apt: 16,
  'apt-repos': 16,
  containers: 16,
  // One update at a time; the next is refused while one runs.
  update: 1,
  // NetworkManager profiles are changed one request at a time anyway (the feature's queue).
  network: 4,
};

export function concurrencyLimitOf(family: Family): number {
  return concurrencyLimits[family];
}

/** Requests of one family that may wait to be handled while requests arrive faster than the agent
 * answers them (src/mqtt/intake.ts); beyond it `ERROR: busy, retry`. */
const queueLimits: Record<Family, number> = {
  status: 4096,
  sketches: 256,
  stats: 256,
  apt: 256,
  'apt-repos': 256,
  containers: 256,
  update: 4,
  network: 16,
};

export function queueLimitOf(family: Family): number {
  return queueLimits[family];
}

/** Deepest nesting of objects and arrays any request may have (a Docker API configuration is the
 * deepest the API needs, at under ten levels). */
export const MAX_REQUEST_DEPTH = 32;

const familyByCommand = new Map<string, Family>(
  Object.entries(commandFamilies).flatMap(([family, requests]) => Object.keys(requests).map((c) => [c, family as Family] as const)),
);

/** The family a command belongs to. */
export function familyOf(command: CommandName): Family {
  return familyByCommand.get(command)!;
}
