#!/bin/bash
# The getting started on a device, as root: installs the agent's .deb, gives it its identity, starts
# the service and says how to reach it. Running it again changes nothing that is already so.
#
#   install.sh --deb FILE|URL --id ID --url BROKER --certificate CERT.pem --key KEY.pem [--ca CA.pem]
#       an identity you already have: the device certificate and key (and the broker's CA)
#   install.sh --deb FILE|URL [--ca CA.pem] [-- REGISTER-ARGS...]
#       registers the device with the cloud: `arduino-connector -register REGISTER-ARGS...`
#       (skipped when the config already has an id); --ca: the broker's CA, when it is not public
set -euo pipefail

config_dir=/etc/arduino-connector
config=$config_dir/arduino-connector.cfg
unit=arduino-connector.service

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

deb='' id='' url='' cert='' key='' ca=''
register_args=()
while [ $# -gt 0 ]; do
	case "$1" in
		--deb) deb=${2:?--deb needs a file or URL}; shift 2 ;;
		--id) id=${2:?--id needs a value}; shift 2 ;;
		--url) url=${2:?--url needs a value}; shift 2 ;;
		--certificate) cert=${2:?--certificate needs a file}; shift 2 ;;
		--key) key=${2:?--key needs a file}; shift 2 ;;
		--ca) ca=${2:?--ca needs a file}; shift 2 ;;
		--) shift; register_args=("$@"); break ;;
		-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "run it as root"
[ -n "$deb" ] || die "--deb FILE|URL is required"
if [ -n "$cert$key$id$url" ] && { [ -z "$cert" ] || [ -z "$key" ] || [ -z "$id" ] || [ -z "$url" ]; }; then
	die "an existing identity needs --id, --url, --certificate and --key together"
fi
case "$id$url" in *[[:space:]]*) die "--id and --url cannot hold spaces" ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The package: downloaded when given a URL, installed unless this very version already is.
case "$deb" in
	http://*|https://*)
		if command -v curl >/dev/null; then curl -fsSL -o "$work/agent.deb" "$deb"
		elif command -v wget >/dev/null; then wget -q -O "$work/agent.deb" "$deb"
		else die "curl or wget is needed to download $deb (or pass a file)"; fi
		deb=$work/agent.deb ;;
	*) [ -f "$deb" ] || die "$deb: no such file" ;;
esac
version=$(dpkg-deb -f "$deb" Version) || die "$deb is not a Debian package"
[ "$(dpkg-deb -f "$deb" Package)" = arduino-connector ] || die "$deb is not the arduino-connector package"
installed=$(dpkg-query -W -f='${Status} ${Version}' arduino-connector 2>/dev/null || true)
if [ "$installed" = "install ok installed $version" ]; then
	say "arduino-connector $version is already installed"
else
	say "installing arduino-connector $version"
	cp "$deb" "$work/arduino-connector.deb"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$work/arduino-connector.deb" >"$work/apt.log" 2>&1 \
		|| { cat "$work/apt.log" >&2; die "apt-get install failed"; }
fi

# 2. The identity: files are replaced (0600, atomically) only when their content differs.
changed=false
put() { # put SOURCE-FILE TARGET: copies when different; sets changed=true
	if ! cmp -s "$1" "$2"; then
		install -m 0600 "$1" "$2.new" && mv "$2.new" "$2"
		changed=true
	fi
}
if [ -n "$cert" ]; then
	[ -r "$cert" ] && [ -r "$key" ] || die "cannot read $cert or $key"
	[ -z "$ca" ] || [ -r "$ca" ] || die "cannot read $ca"
	put "$cert" "$config_dir/certificate.pem"
	put "$key" "$config_dir/certificate.key"
	[ -z "$ca" ] || put "$ca" "$config_dir/ca.pem"
	# The config keeps every other key; id and url are set.
	{ grep -Ev '^[[:space:]]*(id|url)[[:space:]]*=' "$config" 2>/dev/null || true; echo "id=$id"; echo "url=$url"; } > "$work/config"
	put "$work/config" "$config"
	$changed && say "identity written to $config_dir" || say "identity unchanged"
elif grep -qs '^[[:space:]]*id[[:space:]]*=[[:space:]]*[^[:space:]]' "$config"; then
	say "already registered"
else
	[ -z "$ca" ] || { [ -r "$ca" ] || die "cannot read $ca"; put "$ca" "$config_dir/ca.pem"; }
	say "registering the device"
	arduino-connector -register "${register_args[@]}"
	changed=true
fi
id=$(sed -n 's/^[[:space:]]*id[[:space:]]*=[[:space:]]*//p' "$config" | tail -n 1)
url=$(sed -n 's/^[[:space:]]*url[[:space:]]*=[[:space:]]*//p' "$config" | tail -n 1)
base=$(sed -n 's/^[[:space:]]*base_topic[[:space:]]*=[[:space:]]*//p' "$config" | tail -n 1)
base=${base:-'$aws/things/{id}'}
base=${base//\{id\}/$id}

# 3. The service: enabled by the package; started, or restarted when the identity changed.
if [ -d /run/systemd/system ]; then
	systemctl enable "$unit" >/dev/null 2>&1
	if $changed || ! systemctl is-active --quiet "$unit"; then
		systemctl restart "$unit"
		say "$unit started"
	else
		say "$unit is running"
	fi
	running="running as $unit (journalctl -u ${unit%.service} -f for its log)"
else
	running="enabled as $unit; systemd does not run here, so it starts at the next boot"
fi

# 4. How to reach it.
cat <<EOT

arduino-connector $version is installed and $running.
  device id:   $id
  broker:      $url
  base topic:  $base
Send a command on $base/<command>/post and read the answer on $base/<command>, e.g. with a client
the broker accepts:
  arduino-connector call status --broker <broker URL> --device $id
EOT
