#!/bin/bash
# ganesha-ns.sh DIR [GANESHA] - nfs-ganesha for `make bench`, run by
# bench-nfs.sh as
#   setsid ip netns exec NS bash ganesha-ns.sh DIR /usr/bin/ganesha.nfsd
# with DIR/ganesha.conf written. Runs in the foreground until SIGTERM.
#
# nfs-ganesha 4.3 exits when it cannot register NFS and MOUNT with rpcbind,
# so it gets one of its own: `ip netns exec` gives this script a mount
# namespace of its own (checked below), where a tmpfs over /run holds
# rpcbind's socket and state, out of the host's sight; in the network
# namespace, rpcbind's port 111 is that namespace's. On SIGTERM both
# processes (this script's children, by pid) are stopped.
set -u
D=${1:?usage: ganesha-ns.sh DIR [GANESHA]}
GANESHA=${2:-ganesha.nfsd}
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
	{ echo "ganesha-ns: not in a mount namespace of its own: refusing to mount /run" >&2; exit 1; }
[ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] ||
	{ echo "ganesha-ns: not in a network namespace of its own: refusing" >&2; exit 1; }
mount -t tmpfs -o mode=0755 filerbench-run /run || exit 1
mkdir -p /run/rpcbind
RPID= GAN=
finish() {
	trap - TERM INT HUP
	[ -n "$GAN" ] && kill -TERM "$GAN" 2>/dev/null && wait "$GAN" 2>/dev/null
	[ -n "$RPID" ] && kill -TERM "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	exit 0
}
trap finish TERM INT HUP
rpcbind -f &
RPID=$!
echo "$RPID" >"$D/rpcbind.pid" # for bench-nfs.sh, should this script be killed
for _ in $(seq 50); do
	[ -S /run/rpcbind.sock ] && break
	sleep 0.1
done
[ -S /run/rpcbind.sock ] || { echo "ganesha-ns: rpcbind did not start" >&2; finish; }
"$GANESHA" -F -f "$D/ganesha.conf" -L "$D/ganesha.log" -p "$D/ganesha.pid" -N NIV_EVENT &
GAN=$!
wait "$GAN"
echo "ganesha-ns: ganesha.nfsd exited ($?)" >&2
GAN=
finish
