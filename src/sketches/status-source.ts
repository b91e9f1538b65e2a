import type { SketchStatus } from '../api.js';

/** What the status command needs of the sketch supervisor: the table now, and word of changes. */
export interface SketchStatusSource {
  snapshot(): Record<string, SketchStatus>;
  /** Calls the listener after every state change; returns the function that stops listening. */
  onChange(listener: () => void): () => void;
}
