// Streaming a large download allocates a new buffer for every socket read. They die at once, but
// V8 collects buffers only when its heap (not the buffers' memory outside it) fills, so a 100 MB
// download leaves ~35 MB of dead buffers resident before anything frees them. A minor collection
// every few megabytes frees them while they are still young: cheap (~1 ms), and it keeps a device's
// memory flat during uploads. The interval must stay well above what is in flight at any time
// (queued for the disk or the broker): a buffer that survives two collections is promoted, and
// then waits for a major one.

import { garbageCollector } from './gc.js';

/** Counts streamed bytes and runs a minor collection after every `everyBytes`. */
export class YoungGarbageCollector {
  private sinceLast = 0;

  constructor(private readonly everyBytes = 4 * 1024 * 1024) {}

  add(bytes: number): void {
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes) return;
    this.sinceLast = 0;
    garbageCollector()?.({ type: 'minor' });
  }
}
