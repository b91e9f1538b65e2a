// The selector: the first program the service runs (the unit's ExecStart). It belongs to the
// packaged release (/usr/lib/arduino-connector/bin/start, owned by dpkg) and is never replaced by
// an update, so a bad update cannot break the step that rolls it back. It is POSIX sh because it
// must work when every node release on the device is broken. What it does is the design at the top
// of src/update/releases.ts; the state file it reads and writes is described there too.

import { MAX_PROBATION_STARTS, STATE_FILE } from './releases.js';
import { releasePaths, systemPaths } from '../service/layout.js';

export function renderSelector(version: string): string {
  return `#!/bin/sh
# arduino-connector ${version}: the service's start. Picks the release to run (an update under
# releases_path on probation or committed, else this packaged one), counts a start of a release on
# probation and switches back to the previous release when it failed its probation, then execs the
# chosen release's launcher (exec: the pid stays the service's main process, for sd_notify).
set -u
packaged=$(dirname "$(dirname "$(readlink -f "$0")")")
releases=\${RELEASES_PATH:-}
config=\${CONFIG:-${systemPaths.configFile}}
# As the agent finds it: releases_path, else releases/ in sketches_path; each from the
# environment first, then the config file.
setting() {
  [ -r "$config" ] && sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$config" | tail -n 1
}
[ -n "$releases" ] || releases=$(setting releases_path)
if [ -z "$releases" ]; then
  data=\${SKETCHES_PATH:-}
  [ -n "$data" ] || data=$(setting sketches_path)
  releases=\${data:-${systemPaths.dataDir}}/releases
fi
state=$releases/${STATE_FILE}
ro_fs=\${CHECK_RO_FS:-}
[ -n "$ro_fs" ] || ro_fs=$(setting check_ro_fs)

# Runs "$@" with the releases folder's file system read-write when check_ro_fs is set (the agent's
# -check_ro_fs, for a read-only root), read-only again after.
writable() {
  case $(echo "$ro_fs" | tr '[:upper:]' '[:lower:]') in
    true|1|yes|on) ;;
    *) "$@"; return ;;
  esac
  mnt=$(stat -c %m "$releases") && mount -o remount,rw "$mnt" || return 1
  "$@"
  rc=$?
  mount -o remount,ro "$mnt"
  return $rc
}

version='' from='' phase='' starts=0 since=0 reason='' reported=0 known_good_only='' packaged_only=''
if [ -f "$state" ]; then
  while IFS='=' read -r key value; do
    case $key in
      version) version=$value ;;
      from) from=$value ;;
      phase) phase=$value ;;
      starts) starts=$value ;;
      since) since=$value ;;
      reason) reason=$value ;;
      reported) reported=$value ;;
    esac
  done <"$state"
fi
case $starts in ''|*[!0-9]*) starts=0 ;; esac
case $since in ''|*[!0-9]*) since=0 ;; esac

# Replaced whole (a new file, flushed, renamed over the old one): a power cut leaves one or the other.
save_state() {
  tmp=$releases/.state.$$.tmp
  (umask 077 && printf 'version=%s\\nfrom=%s\\nphase=%s\\nstarts=%s\\nsince=%s\\nreason=%s\\nreported=%s\\n' \\
    "$version" "$from" "$phase" "$starts" "$since" "$reason" "$reported" >"$tmp") &&
    sync "$tmp" && mv -f "$tmp" "$state"
}
write_state() {
  writable save_state 2>/dev/null && return 0
  rm -f "$releases/.state.$$.tmp" 2>/dev/null
  echo "arduino-connector start: cannot write $state" >&2
  return 1
}

# current back to previous (a new link renamed over the old: never a moment without one), or no
# current at all, which runs this packaged release.
switch_back() {
  if [ -L "$releases/previous" ] && [ -e "$releases/previous/${releasePaths.launcher}" ]; then
    ln -sfn "$(readlink "$releases/previous")" "$releases/.current.$$" && mv -fT "$releases/.current.$$" "$releases/current"
  else
    rm -f "$releases/current"
  fi
}
roll_back() {
  writable switch_back 2>/dev/null || known_good_only=yes
  phase=rolled-back
  reason=$1
  reported=0
  write_state
  echo "arduino-connector start: update to $version rolled back: $reason" >&2
}

running=''
if [ -L "$releases/current" ]; then running=$(basename "$(readlink "$releases/current")"); fi
case $phase in
  probation)
    if [ "$running" != "$version" ]; then
      # Killed between writing the state and switching: the new release never ran.
      roll_back 'interrupted before the switch'
    elif [ "$starts" -ge ${MAX_PROBATION_STARTS} ]; then
      roll_back "exited $starts times before answering status"
    else
      starts=$((starts + 1))
      # A start that cannot be counted could repeat without end: the known-good release runs instead.
      write_state || known_good_only=yes
    fi
    ;;
  expired)
    # The release on probation ended itself at its deadline and wrote why.
    roll_back "\${reason:-not connected and answering status before its deadline}"
    ;;
esac

# A newer packaged release (apt upgraded the .deb) wins over an older update: current and
# previous are dropped, so the update state no longer applies.
running=''
if [ -L "$releases/current" ]; then running=$(basename "$(readlink "$releases/current")"); fi
if [ -n "$running" ] && command -v dpkg >/dev/null 2>&1 && dpkg --compare-versions "$running" lt '${version}'; then
  packaged_only=yes
  writable rm -f "$releases/current" "$releases/previous" 2>/dev/null
fi

target=$packaged
if [ -n "$packaged_only" ]; then
  :
elif [ -n "$known_good_only" ]; then
  # The state or the links could not be written (a read-only file system): without changing them,
  # this start runs the release that was running before the update.
  if [ -L "$releases/previous" ] && [ -x "$releases/previous/${releasePaths.launcher}" ]; then
    target=$(readlink -f "$releases/previous")
  fi
elif [ -L "$releases/current" ] && [ -x "$releases/current/${releasePaths.launcher}" ]; then
  target=$(readlink -f "$releases/current")
fi
# Tells the agent which release this selector belongs to: it refuses updates older than it.
ARDUINO_CONNECTOR_PACKAGED=$packaged
export ARDUINO_CONNECTOR_PACKAGED
exec "$target/${releasePaths.launcher}" "$@"
`;
}
