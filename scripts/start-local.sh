#!/usr/bin/env bash
# `npm start`: the agent in local mode on a fresh machine. Installs what running needs, builds,
# then starts an embedded broker on 127.0.0.1 and the agent connected to it. Extra arguments go to
# `arduino-connector local` (e.g. npm start -- --mqtt-port 1884 --data /srv/ac).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --runtime
npm run --silent build
exec ./dist/arduino-connector.js local "$@"
