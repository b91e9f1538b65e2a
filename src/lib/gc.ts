// V8's collector, when node runs with --expose-gc (the bin's shebang passes it). Without it the
// callers leave collection to V8, as any node program does.

export type Collector = (options?: { type: 'minor' | 'major'; execution?: 'sync'; flavor?: 'regular' | 'last-resort' }) => void;

export function garbageCollector(): Collector | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Collector) : undefined;
}
