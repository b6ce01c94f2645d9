#!/bin/bash
# bench-nfs.sh - `make bench`: the filer against nfs-ganesha, same disk,
# same client, same run (issue #7).
#
# Everything happens inside a network namespace this script creates
# (filerbench.PID, only lo up) and deletes at the end, even on failure:
# the ceilings, each server in turn, and the load generator (bench-nfs,
# tests/bench/bench_nfs.c). Nothing listens on or sends to the host's
# network; the host's port 111 is never touched.
#
#   1. ceilings: loopback TCP, the disk's sequential write with fdatasync
#      and its 4 KiB write+fdatasync rate, in the scratch directory
#   2. the filer, from a configuration written here (cache $BENCH_CACHE_MIB,
#      three sparse 4 GiB file disks, one 8 GiB volume exported as
#      /vol/vol0), loaded by bench-nfs; then its peak RSS (VmHWM), a clean
#      stop (final CP) and waflck on its disks
#   3. nfs-ganesha (VFS FSAL) exporting a directory of the same scratch
#      directory, with a private rpcbind (ganesha 4.3 will not start
#      without one) on a private /run (tests/bench/ganesha-ns.sh); when
#      ganesha.nfsd is not installed, this step says so and is skipped
#   4. the ceilings once more (the report judges against the better one)
#   5. the table (bench-nfs report)
#
# Needs root (network namespaces). Environment:
#   FILER FILERCTL WAFLCK BENCH_NFS  the programs (the make target sets them)
#   BENCH_DIR     where the scratch directory goes (default build/bench);
#                 both servers' data live there, on one file system
#   BENCH_KEEP=1  keep the scratch directory (logs, configurations)
#   BENCH_CACHE_MIB  the filer's cache (default 256)
#   BENCH_GANESHA the ganesha.nfsd to run (default: the one on PATH)
#   BENCH_FILES BENCH_META_OPS BENCH_SEQ_MIB BENCH_RAND_OPS BENCH_SYNC_SECS
#   BENCH_DIR_ENTRIES BENCH_CONNS   workload sizes (bench_nfs.c); defaults
#                 50000 300000 2048 131072 10 100000 4; the disk ceiling
#                 writes as much as the sequential workload (BENCH_SEQ_MIB)
set -u -o pipefail

FILER=${FILER:-build/bin/filer}
FILERCTL=${FILERCTL:-build/bin/filerctl}
WAFLCK=${WAFLCK:-build/bin/waflck}
BENCH=${BENCH_NFS:-build/bin/bench-nfs}
CACHE_MIB=${BENCH_CACHE_MIB:-256}
GANESHA=${BENCH_GANESHA:-ganesha.nfsd}
HERE=$(cd "$(dirname "$0")" && pwd)
SEQ_MIB=${BENCH_SEQ_MIB:-2048}
SIZES=(--files "${BENCH_FILES:-50000}" --meta-ops "${BENCH_META_OPS:-300000}"
	--seq-mib "$SEQ_MIB" --rand-ops "${BENCH_RAND_OPS:-131072}"
	--sync-secs "${BENCH_SYNC_SECS:-10}" --dir-entries "${BENCH_DIR_ENTRIES:-100000}"
	--conns "${BENCH_CONNS:-4}")

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it runs the servers in a network namespace of its own)"
command -v ip >/dev/null || die "needs ip (Debian: iproute2)"
for p in "$FILER" "$FILERCTL" "$WAFLCK" "$BENCH"; do
	[ -x "$p" ] || die "$p: not built (make bench builds it)"
done

mkdir -p "${BENCH_DIR:-build/bench}" || exit 1
W=$(mktemp -d "${BENCH_DIR:-build/bench}/run.XXXXXX") || exit 1
W=$(cd "$W" && pwd)
NS=filerbench.$$
NS_MADE=0 FPID= GPID=

# Stops a process this script started: SIGTERM, then SIGKILL after $2 s.
stop_pid() {
	local pid=$1 secs=${2:-30}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# The last resort for ganesha.nfsd and its rpcbind, should their wrapper
# not have stopped them: the pids they wrote, if still those programs.
kill_pidfile() {
	local f=$1 prog=$2 pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	# ours ran in the benchmark's network namespace, never in the host's
	[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$(readlink /proc/1/ns/net)" ] || return 0
	case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
	*/"$prog") kill -KILL "$pid" 2>/dev/null ;;
	esac
	return 0
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	stop_pid "$FPID" 5
	stop_pid "$GPID" 10
	kill_pidfile "$W/ganesha/ganesha.pid" "$(basename "$GANESHA")"
	kill_pidfile "$W/ganesha/rpcbind.pid" rpcbind
	[ "$NS_MADE" = 1 ] && ip netns del "$NS" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
		say "scratch directory kept: $W"
	else
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ip netns add "$NS" || die "cannot create network namespace $NS"
NS_MADE=1
ip -n "$NS" link set lo up || die "cannot bring lo up in $NS"
inns() { ip netns exec "$NS" "$@"; }

say "scratch $W ($(df -h --output=source,fstype,avail "$W" | tail -1 | tr -s ' '))," \
	"network namespace $NS, $(nproc) CPUs"

# ---- 1. the ceilings ---------------------------------------------------------
inns "$BENCH" ceilings --dir "$W" --out "$W/ceilings.res" --disk-mib "$SEQ_MIB" ||
	die "ceilings failed"

# ---- 2. the filer ------------------------------------------------------------
FH=$W/filer
mkdir -p "$FH"
cat >"$FH/filer.conf" <<EOF
# written by tests/bench/bench-nfs.sh
home        $FH
listen      127.0.0.1
port        2049
udp         off
portmapper  off
cache       ${CACHE_MIB}M
cp_interval 10s
log_level   notice

aggregate aggr0 {
	disks       d0 d1 d2
	disk_size   4G
	nvlog       aggr0.nvlog
	nvlog_size  64M
}

export /vol/vol0 vol0 127.0.0.1(rw,insecure,no_root_squash)
EOF
# not through inns: a function run with & is a subshell, and $! its pid
ip netns exec "$NS" "$FILER" -c "$FH/filer.conf" --foreground >"$FH/stdout" 2>"$FH/log" &
FPID=$!
for _ in $(seq 300); do
	grep -q "mount with" "$FH/stdout" 2>/dev/null && break
	kill -0 "$FPID" 2>/dev/null || { cat "$FH/log" >&2; FPID=; die "the filer did not start"; }
	sleep 0.1
done
grep -q "mount with" "$FH/stdout" || die "the filer did not come up in 30 s"
# the peak RSS below must be the filer's own
[ "$(readlink "/proc/$FPID/exe")" = "$(readlink -f "$FILER")" ] ||
	die "pid $FPID is not the filer"
"$FILERCTL" -s "$FH/filer.sock" vol create vol0 aggr0 8G >/dev/null ||
	die "filerctl vol create failed"
say "filer: pid $FPID, cache ${CACHE_MIB} MiB, volume vol0 (8 GiB) on 3 x 4 GiB file disks"

FILER_OK=1
inns "$BENCH" run --label filer --port 2049 --export /vol/vol0 --out "$W/filer.res" \
	--server-pid "$FPID" "${SIZES[@]}" || FILER_OK=0
RSS_KIB=$(awk '/^VmHWM:/ {print $2}' "/proc/$FPID/status" 2>/dev/null)
stop_pid "$FPID" 120
FPID=
if "$WAFLCK" "$FH"/d0 "$FH"/d1 "$FH"/d2 >"$FH/waflck.out" 2>&1; then
	say "filer: stopped; waflck: the aggregate is clean"
else
	say "filer: stopped; waflck found problems:"
	head -20 "$FH/waflck.out" >&2
	FILER_OK=0
fi

# ---- 3. nfs-ganesha ----------------------------------------------------------
GRES=()
NOG=
if ! command -v "$GANESHA" >/dev/null || ! command -v rpcbind >/dev/null ||
	! ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1; then
	NOG="nfs-ganesha not found (Debian: nfs-ganesha nfs-ganesha-vfs rpcbind)"
	say "$NOG: filer only"
else
	GH=$W/ganesha
	mkdir -p "$GH/export" "$GH/recov"
	cat >"$GH/ganesha.conf" <<EOF
# written by tests/bench/bench-nfs.sh: NFSv3 over TCP only, one export
NFS_CORE_PARAM {
	NFS_Port = 2049;
	MNT_Port = 20048;
	Protocols = 3;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
	Mount_Path_Pseudo = true;
}
NFSV4 {
	RecoveryRoot = $GH/recov;
	Graceless = true;
}
EXPORT {
	Export_Id = 1;
	Path = $GH/export;
	Pseudo = /export;
	Protocols = 3;
	Transports = TCP;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
EOF
	setsid ip netns exec "$NS" bash "$HERE/ganesha-ns.sh" "$GH" "$(command -v "$GANESHA")" \
		>"$GH/stdout" 2>&1 &
	GPID=$!
	say "nfs-ganesha $("$GANESHA" -v 2>/dev/null | grep -o 'Release = V[^ ]*' | head -1 |
		cut -d' ' -f3): exporting $GH/export"
	if inns "$BENCH" run --label ganesha --port 2049 --mount-port 20048 --export /export \
		--wait 60 --server-pid-file "$GH/ganesha.pid" --out "$W/ganesha.res" "${SIZES[@]}"; then
		GRES=(--ganesha "$W/ganesha.res")
	else
		say "the ganesha run failed; its log:"
		tail -20 "$GH/ganesha.log" "$GH/stdout" >&2 2>/dev/null
		[ -s "$W/ganesha.res" ] && GRES=(--ganesha "$W/ganesha.res")
		NOG="its run failed"
	fi
	stop_pid "$GPID" 30
	GPID=
	kill_pidfile "$GH/ganesha.pid" "$(basename "$GANESHA")"
	kill_pidfile "$GH/rpcbind.pid" rpcbind
fi

# ---- 4. the ceilings again, now that the servers are gone: the report
# judges against the better of the two (bench_report.c) ------------------------
inns "$BENCH" ceilings --dir "$W" --out "$W/ceilings2.res" --disk-mib "$SEQ_MIB" ||
	die "ceilings failed"

# ---- 5. the table ------------------------------------------------------------
EXTRA=()
[ -n "$NOG" ] && EXTRA+=(--no-ganesha "$NOG")
[ -n "${RSS_KIB:-}" ] && EXTRA+=(--rss-kib "$RSS_KIB")
"$BENCH" report --filer "$W/filer.res" --ceilings "$W/ceilings.res" "${GRES[@]}" "${EXTRA[@]}" \
	--ceilings "$W/ceilings2.res" --cache-mib "$CACHE_MIB"
[ "$FILER_OK" = 1 ] || die "the filer's run failed (see above)"
