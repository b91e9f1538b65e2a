// containers/ps, containers/images, containers/action and containers/rename, on the Docker Engine API.

import { containerRef, imageRef } from './fields.js';
import { anyJson, bool, fixedObject, jsonObject, listOf, num, object, oneOf, optional, str, text } from './schema.js';

export const containerRequests = {
  'containers/ps': object({ id: optional(str({ min: 1, max: 256 })) }),
  'containers/images': object({ name: optional(str({ min: 1, max: 512 })) }),
  'containers/action': object({
    action: oneOf('run', 'start', 'stop', 'remove'),
    id: optional(containerRef),
    image: optional(imageRef),
    name: optional(str({ max: 256, pattern: /^(\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$/, patternText: 'must be a container name (letters, digits, "_", ".", "-")' })),
    background: optional(bool()),
    user: optional(str({ max: 1024 })),
    password: optional(str({ max: 4096 })),
    save_registry_credentials: optional(bool()),
    container_config: optional(jsonObject()),
    host_config: optional(jsonObject()),
    networking_config: optional(jsonObject()),
  }),
  'containers/rename': object({ id: containerRef, name: containerRef }),
};

export interface ContainerActionResult {
  action: string;
  background: boolean;
  id: string;
  image: string;
  name: string;
  /** remove: the images that the prune after it untagged or deleted (beyond the Go agent). */
  pruned?: { images: string[]; space_reclaimed: number };
  /** run: the pull failed and the copy already on the device was run (beyond the Go agent). */
  pull_error?: string;
}

export interface ContainerAnswers {
  /** The engine's container list, passed through. */
  'containers/ps': unknown[];
  /** The engine's image list, passed through. */
  'containers/images': unknown[];
  'containers/action': ContainerActionResult[];
  'containers/rename': { id: string; name: string };
}

/** Built on first use (see aptAnswerSchemas). */
export function containerAnswerSchemas() {
  return {
    'containers/ps': listOf(anyJson('A container as the Docker Engine API lists it (GET /containers/json?all=true), passed through.')),
    'containers/images': listOf(anyJson('An image as the Docker Engine API lists it (GET /images/json), passed through.')),
    'containers/action': listOf(
      fixedObject({
        action: text(),
        background: bool(),
        id: text(),
        image: text(),
        name: text(),
        pruned: optional(fixedObject({ images: listOf(text()), space_reclaimed: num() })),
        pull_error: optional(text()),
      }),
    ),
    'containers/rename': fixedObject({ id: text(), name: text() }),
  };
}
