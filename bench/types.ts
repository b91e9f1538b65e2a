/** One measured figure of `npm run bench`. */
export interface BenchResult {
  /** What was measured, e.g. "status round trip p99". */
  name: string;
  value: number;
  unit: string;
  /** The target as text, e.g. "<= 5 ms", when the issue sets one. */
  target?: string;
  /** Whether the target was met (absent when there is no target). */
  met?: boolean;
}

/** A bench module's default export: runs its measurements and returns the figures. */
export type BenchSuite = () => Promise<BenchResult[]>;
