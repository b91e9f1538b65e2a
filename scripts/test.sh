#!/usr/bin/env bash
# The test suite: type-checks, then runs test files with node's test runner.
#   scripts/test.sh           every test, against real services (mosquitto, RabbitMQ, dbus-daemon,
#                             dockerd, apt...): installs what is missing first
#   scripts/test.sh --unit    the fast tier only (*.unit.test.ts): no service, no Debian package,
#                             the agent over an in-memory broker; seconds
#   scripts/test.sh FILE...   the named files
set -euo pipefail
cd "$(dirname "$0")/.."
unit=false
if [ "${1:-}" = "--unit" ]; then unit=true; shift; fi
if $unit; then
  bash scripts/bootstrap.sh --npm-only
  mapfile -t files < <(find test -name '*.unit.test.ts' | sort)
else
  bash scripts/bootstrap.sh
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
npx --no-install tsc -p tsconfig.test.json
if [ $# -gt 0 ]; then files=("$@"); fi
# --test-force-exit: a test file ends when its tests and hooks have, even if a child process it
# lost track of still holds a pipe open (one such agent once held a CI run until it was killed).
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 --test-force-exit "${files[@]}"
