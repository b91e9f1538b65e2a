// The node flags the agent runs with, wherever it is started: the bin's shebang
// (src/cli/main.ts), the service unit and the launcher of a release. A unit test holds the
// shebang to this list. Why these two: README ("The bin runs node with ...") and BENCHMARKS.md.

export const NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'] as const;
