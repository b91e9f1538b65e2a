#!/usr/bin/env bash
# `npm run bench [suite...]`: the benchmarks of bench/*.bench.ts, printed as one table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The agent is measured as a device runs it: compiled.
npm run --silent build
exec node --import tsx bench/run.ts "$@"
