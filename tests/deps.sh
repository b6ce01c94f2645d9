#!/bin/sh
# Installs the Debian packages named on the command line that are missing,
# when run as root; silent when everything is there. Not root: says what
# is missing and goes on (the build will tell whether it mattered).
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "filer: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "filer: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null
