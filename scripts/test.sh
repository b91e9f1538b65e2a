#!/usr/bin/env bash
# The whole test suite: installs what is missing, type-checks, then runs every test file with
# node's test runner against real services (mosquitto, nats-server, dbus-daemon, apt...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npx --no-install tsc -p tsconfig.test.json
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ $# -gt 0 ]; then files=("$@"); fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
