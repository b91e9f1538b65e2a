#!/usr/bin/env bash
# Installs what the agent and its tests need on a Debian machine, idempotently: Debian packages
# (only the missing ones; apt-get update only when something is missing) and the npm packages.
#   scripts/bootstrap.sh            everything the test suite needs
#   scripts/bootstrap.sh --runtime  only what running the agent needs
#   scripts/bootstrap.sh --npm-only the npm packages alone (the fast test tier)
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=(nats-server)
testing=(mosquitto mosquitto-clients nats-server dbus python3 python3-dbusmock dpkg-dev openssl curl gcc libc6-dev docker.io busybox-static docker-registry rabbitmq-server libmosquitto-dev mmdebstrap binutils chromium)

packages=("${testing[@]}")
[ "${1:-}" = "--runtime" ] && packages=("${runtime[@]}")
[ "${1:-}" = "--npm-only" ] && packages=()

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d may forbid starting services: the packages install anyway, and nothing here
  # relies on a service the package would start.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: install when missing or when the lock file changed since the last install.
stamp=node_modules/.bootstrap-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
