# vm.sh - the kernel-client test machine, sourced by the tests/kclient/run-*.sh
# scripts (bash).
#
# The host kernel has no NFS client, so the tests bring one: Debian's Linux
# kernel, booted under qemu with TCG (KVM hangs when nested), mounts the
# filer with its own NFS client. Everything runs inside a network namespace
# made for the run, in which only `lo` exists:
#
#   host netns kclient-PID:  filer on 127.0.0.1:2049 (+ portmapper on 111)
#                            qemu, slirp networking
#   guest:                   10.0.2.15; 10.0.2.2 is the namespace's 127.0.0.1
#
# slirp turns each guest connection to 10.0.2.2:P into a connect() to
# 127.0.0.1:P in the namespace, from an unprivileged port: the export must
# say `insecure`, and every client is 127.0.0.1 (the default export of
# `filer --home` is 127.0.0.1(rw,insecure,no_root_squash)). Nothing can
# leave the namespace.
#
# The guest boots a busybox initramfs (tests/kclient/init) that loads the
# virtio, 9p and NFS modules, mounts a per-run job directory shared over
# virtio-9p at /job and runs /job/guest.sh; that script's output is printed
# here, its exit status comes back in /job/rc. With KC_HOSTROOT=1 the host's
# / is shared read-only too (tag "hostroot"), for jobs that need host
# programs (perl, prove, pjdfstest).
#
# What is built is cached under $KC_CACHE (build/kclient): the kernel
# (vmlinuz and the few modules the guest loads, from `apt-get download` of
# the package linux-image-amd64 depends on, unpacked with dpkg -x) and the
# initramfs, and mount.nfs (nfs-common, unpacked the same way) for guests
# that use the host's root. Set KDIR to an unpacked kernel package tree to
# use that instead. The static guest programs (bin/) are built by make.
#
# Interface (all functions exit the script on harness errors, status 1):
#   kc_skip_unless_root WHAT   prints "kclient: skipped: ..." and exits 0
#   kc_prepare                 packages, kernel, initramfs (and mount.nfs
#                              with KC_HOSTROOT=1)
#   kc_netns                   makes the namespace
#   kc_filer_start             a filer on a fresh home in the namespace
#   kc_job SCRIPT FILE...      a fresh job directory ($KC_JOB) holding SCRIPT
#                              as guest.sh, guest-lib.sh and the FILEs
#   kc_guest SECONDS           boots the guest on $KC_JOB; its output goes to
#                              stdout and $KC_JOB/guest.out; returns its status
#   kc_filer_stop              SIGTERM, wait, waflck on the disks; 0 = clean
#   kc_ctl_relay_start         runs the guest's filerctl requests (below)
#   kc_ctl_relay_stop
# and an EXIT trap that kills what is left and deletes the namespace.
#
# The guest cannot reach the filer's control socket, so a job that needs an
# administrator's action mid-run (a snapshot of what it wrote, say) asks
# the host through the job directory: it writes the arguments of one
# filerctl command as a line to ctl.N.tmp and renames it to ctl.N.req
# (N = 1, 2, ...); the relay runs `filerctl -s SOCKET ARGS` and answers
# with ctl.N.out (its output) and then ctl.N.rc (its exit status), which
# the guest polls for. Only snapshot commands and `vol options` are run.

KC_REPO=${KC_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KC_CACHE=${KC_CACHE:-$KC_REPO/build/kclient}
KC_BIN=${KC_BIN:-$KC_CACHE/bin}
FILER=${FILER:-$KC_REPO/build/bin/filer}
WAFLCK=${WAFLCK:-$KC_REPO/build/bin/waflck}
FILERCTL=${FILERCTL:-$KC_REPO/build/bin/filerctl}
KC_MEM=${KC_MEM:-2048}
# One vCPU: with two, the TCG threads and slirp (qemu's main thread) fight
# over the host's two cores; measured, one is 2-4x faster for NFS.
KC_SMP=${KC_SMP:-1}
KC_CPU=${KC_CPU:-qemu64}
KC_HOSTROOT=${KC_HOSTROOT:-0}
KC_KEEP=${KC_KEEP:-0}
KC_DEBS="qemu-system-x86 busybox-static cpio iproute2 kmod"
# what the guest loads (their dependencies come along)
KC_MODULES="virtio_pci virtio_net 9pnet_virtio 9p overlay nfsv3"

KC_NS='' KC_QPID='' KC_FPID='' KC_RPID='' KC_HOME='' KC_HOME_MOUNTED=0 KC_JOB='' KC_FILER_RC=''

kc_log() { echo "kclient: $*"; }
kc_die() {
	echo "kclient: FAIL: $*" >&2
	exit 1
}

kc_skip_unless_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "kclient: skipped: $1 needs root (network namespace, qemu, ports 2049 and 111)"
		exit 0
	fi
}

# ---- kernel and initramfs -------------------------------------------------

# $1: unpacked kernel package; fills $KC_CACHE/kernel with vmlinuz, the
# modules the guest needs and "order" (dependencies first).
kc_take_kernel() {
	local tree=$1 kver moddir out=$KC_CACHE/kernel.new
	kver=$(ls "$tree/lib/modules" | head -n1)
	moddir=$tree/lib/modules/$kver
	[ -n "$kver" ] && [ -r "$tree/boot/vmlinuz-$kver" ] || kc_die "no kernel in $tree"
	rm -rf "$out"
	mkdir -p "$out/modules"
	cp "$tree/boot/vmlinuz-$kver" "$out/vmlinuz"
	local seen=" " order=()
	kc_add_module() {
		local name=$1 file dep
		case $seen in *" $name "*) return 0 ;; esac
		seen="$seen$name "
		file=$(find "$moddir" -name "$name.ko" -o -name "$name.ko.xz" | head -n1)
		[ -n "$file" ] || return 0 # built into the kernel
		for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
			kc_add_module "$dep"
		done
		case $file in
		*.xz) xz -dc "$file" > "$out/modules/$name.ko" ;;
		*) cp "$file" "$out/modules/$name.ko" ;;
		esac
		order+=("$name")
	}
	local m
	for m in $KC_MODULES; do kc_add_module "$m"; done
	printf '%s\n' "${order[@]}" > "$out/modules/order"
	echo "$kver" > "$out/version"
	rm -rf "$KC_CACHE/kernel"
	mv "$out" "$KC_CACHE/kernel"
}

# $1 package, $2 what to call with the unpacked tree. apt-get download
# and dpkg -x, nothing installed.
kc_apt_unpack() {
	local pkg=$1 take=$2 tmp
	tmp=$(mktemp -d "$KC_CACHE/fetch.XXXXXX")
	# apt's download sandbox user must be able to write there
	id _apt > /dev/null 2>&1 && chown _apt "$tmp"
	(cd "$tmp" && apt-get download -qq "$pkg") || kc_die "apt-get download $pkg failed"
	dpkg -x "$tmp"/*.deb "$tmp/root" || kc_die "dpkg -x $pkg failed"
	"$take" "$tmp/root"
	rm -rf "$tmp"
}

kc_fetch_kernel() {
	if [ -n "${KDIR:-}" ]; then
		kc_take_kernel "$KDIR"
		return
	fi
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2> /dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -qq > /dev/null 2>&1
		pkg=$(apt-cache depends linux-image-amd64 2> /dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || kc_die "apt-cache knows no linux-image-amd64"
	kc_log "fetching the guest kernel ($pkg)"
	kc_apt_unpack "$pkg" kc_take_kernel
}

# mount.nfs from nfs-common, unpacked, not installed: the guest runs it in
# the host's root (its libraries are the host's: libtirpc3, libmount1).
kc_take_mount_nfs() {
	cp "$1/sbin/mount.nfs" "$KC_CACHE/mount.nfs.tmp" && mv "$KC_CACHE/mount.nfs.tmp" "$KC_CACHE/mount.nfs"
}

kc_fetch_mount_nfs() {
	kc_log "fetching mount.nfs (nfs-common)"
	apt-cache show nfs-common > /dev/null 2>&1 || apt-get update -qq > /dev/null 2>&1
	kc_apt_unpack nfs-common kc_take_mount_nfs
}

kc_build_initramfs() {
	local d=$KC_CACHE/initramfs.d
	rm -rf "$d"
	mkdir -p "$d"/{bin,lib/modules,proc,sys,dev,job,mnt,host,tmp}
	cp /bin/busybox "$d/bin/busybox"
	cp "$KC_BIN/kmount" "$d/bin/kmount"
	cp "$KC_CACHE"/kernel/modules/* "$d/lib/modules/"
	cp "$KC_REPO/tests/kclient/init" "$d/init"
	chmod 755 "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) > "$KC_CACHE/initramfs.tmp" ||
		kc_die "cannot pack the initramfs"
	mv "$KC_CACHE/initramfs.tmp" "$KC_CACHE/initramfs.cpio.gz"
	rm -rf "$d"
}

kc_prepare() {
	sh "$KC_REPO/tests/deps.sh" $KC_DEBS
	local t
	for t in qemu-system-x86_64 ip cpio gzip modinfo; do
		command -v $t > /dev/null || kc_die "missing $t (apt-get install $KC_DEBS)"
	done
	[ -x /bin/busybox ] || kc_die "missing /bin/busybox (apt-get install busybox-static)"
	for t in "$FILER" "$WAFLCK" "$KC_BIN/kmount"; do
		[ -x "$t" ] || kc_die "missing $t (make check-kclient builds it)"
	done
	mkdir -p "$KC_CACHE"
	(
		flock 9 # runs at once share the cache
		[ -s "$KC_CACHE/kernel/vmlinuz" ] || kc_fetch_kernel
		[ "$KC_HOSTROOT" = 0 ] || [ -x "$KC_CACHE/mount.nfs" ] || kc_fetch_mount_nfs
		local img=$KC_CACHE/initramfs.cpio.gz f stale=0
		for f in "$KC_REPO/tests/kclient/init" "$KC_BIN/kmount" \
			"$KC_CACHE/kernel/modules/order" /bin/busybox; do
			[ -s "$img" ] && [ ! "$f" -nt "$img" ] || stale=1
		done
		[ $stale = 0 ] || kc_build_initramfs
	) 9> "$KC_CACHE/.lock" || exit 1
	kc_log "guest kernel $(cat "$KC_CACHE/kernel/version")"
}

# ---- namespace, filer, guest ------------------------------------------------

kc_cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$KC_QPID" ] && kill -0 "$KC_QPID" 2> /dev/null; then
		kill -KILL "$KC_QPID" 2> /dev/null
		wait "$KC_QPID" 2> /dev/null
	fi
	if [ -n "$KC_FPID" ] && kill -0 "$KC_FPID" 2> /dev/null; then
		kill -KILL "$KC_FPID" 2> /dev/null
		wait "$KC_FPID" 2> /dev/null
	fi
	kc_ctl_relay_stop
	[ -n "$KC_NS" ] && ip netns del "$KC_NS" 2> /dev/null
	# after a failure the job directory stays, with the filer's logs; the
	# home (disks) only with KC_KEEP=1
	if [ -n "$KC_HOME" ] && [ -n "$KC_JOB" ] && [ $rc != 0 ]; then
		cp "$KC_HOME"/filer.out "$KC_HOME"/filer.log "$KC_HOME"/waflck.out "$KC_JOB/" 2> /dev/null
	fi
	if [ -n "$KC_HOME" ]; then
		if [ "$KC_KEEP" = 1 ]; then
			echo "kclient: kept the filer's home $KC_HOME" >&2
			[ "$KC_HOME_MOUNTED" = 1 ] && echo "kclient: (a tmpfs: umount it when done)" >&2
		else
			[ "$KC_HOME_MOUNTED" = 1 ] && umount "$KC_HOME"
			rm -rf "$KC_HOME"
		fi
	fi
	if [ -n "$KC_JOB" ]; then
		if [ "$KC_KEEP" = 1 ] || [ $rc != 0 ]; then
			echo "kclient: kept the job directory $KC_JOB (guest.out, console.log, filer.log)" >&2
		else
			rm -rf "$KC_JOB"
		fi
	fi
	exit $rc
}
trap kc_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

kc_netns() {
	KC_NS=kclient-$$
	ip netns add "$KC_NS" || kc_die "ip netns add $KC_NS"
	ip -n "$KC_NS" link set lo up || kc_die "no lo in $KC_NS"
}

# The filer's home is a tmpfs mounted for the run when the machine has the
# memory (KC_HOME_TMPFS=0: a plain directory), so that the filer's
# fdatasyncs cost nothing: every metadata operation waits for one (NVLOG),
# one at a time when a single client process works, and a virtual disk's
# sync takes milliseconds; on disk the 10 000-file directory case alone
# takes minutes longer. Durability is not what these tests are about (the
# crash tests see to it). Only the blocks written take memory: about the
# 1 GiB of the data check.
kc_home_tmpfs() {
	[ "${KC_HOME_TMPFS:-1}" = 1 ] || return 1
	local avail
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	[ -n "$avail" ] && [ "$avail" -gt $((4 * 1024 * 1024)) ]
}

# A filer as root on a fresh home: 127.0.0.1:2049, portmapper on 111,
# /vol/vol0 exported to 127.0.0.1 (rw,insecure,no_root_squash).
kc_filer_start() {
	KC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/kclient-home.XXXXXX")
	if kc_home_tmpfs; then
		mount -t tmpfs -o size=8g,mode=700 kclient-home "$KC_HOME" ||
			kc_die "cannot mount a tmpfs on $KC_HOME"
		KC_HOME_MOUNTED=1
	fi
	ip netns exec "$KC_NS" "$FILER" --home "$KC_HOME" < /dev/null \
		> "$KC_HOME/filer.out" 2> "$KC_HOME/filer.log" &
	KC_FPID=$!
	for _ in $(seq 1 600); do
		grep -q '^filer: mount with' "$KC_HOME/filer.out" 2> /dev/null && break
		if ! kill -0 "$KC_FPID" 2> /dev/null; then
			cat "$KC_HOME/filer.out" "$KC_HOME/filer.log" >&2
			kc_die "the filer exited at start"
		fi
		sleep 0.1
	done
	grep -q '^filer: mount with' "$KC_HOME/filer.out" || kc_die "the filer did not start in 60 s"
	kc_log "$(head -n1 "$KC_HOME/filer.out")"
}

kc_job() {
	local script=$1
	shift
	KC_JOB=$(mktemp -d "${TMPDIR:-/tmp}/kclient-job.XXXXXX")
	cp "$script" "$KC_JOB/guest.sh"
	cp "$KC_REPO/tests/kclient/guest-lib.sh" "$KC_JOB/"
	[ $# = 0 ] || cp "$@" "$KC_JOB/"
}

# $1 time limit in seconds. The job's output (second serial port) goes to
# $KC_JOB/guest.out and, as it comes, to stdout; returns the job's exit
# status, 124 on timeout, 125 when the guest did not say.
kc_guest() {
	local job=$KC_JOB limit=$1 k=$KC_CACHE/kernel hostroot=() tailpid
	rm -f "$job/rc"
	: > "$job/guest.out"
	if [ "$KC_HOSTROOT" = 1 ]; then
		hostroot=(-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
			-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot)
	fi
	# qemu64 and mitigations=off: exec in the guest costs about half of
	# what it does with -cpu max (glibc's AVX2 routines are slow in TCG)
	ip netns exec "$KC_NS" timeout -k 10 "$limit" qemu-system-x86_64 \
		-accel tcg -machine pc -cpu "$KC_CPU" -m "$KC_MEM" -smp "$KC_SMP" \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$k/vmlinuz" -initrd "$KC_CACHE/initramfs.cpio.gz" \
		-append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init mitigations=off" \
		-chardev file,id=con,path="$job/console.log" -serial chardev:con \
		-chardev file,id=out,path="$job/guest.out" -serial chardev:out \
		-fsdev local,id=job,path="$job",security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=job,mount_tag=job \
		"${hostroot[@]}" \
		-netdev user,id=n0,net=10.0.2.0/24,host=10.0.2.2,ipv6=off \
		-device virtio-net-pci,netdev=n0 < /dev/null > "$job/qemu.log" 2>&1 &
	KC_QPID=$!
	tail -n +1 -s 0.2 -f --pid="$KC_QPID" "$job/guest.out" &
	tailpid=$!
	local qrc=0
	wait "$KC_QPID" || qrc=$?
	KC_QPID=
	wait "$tailpid"
	if [ $qrc = 124 ] || [ $qrc = 137 ]; then
		echo "kclient: the guest timed out after $limit s; console:" >&2
		tail -n 30 "$job/console.log" >&2
		return 124
	fi
	if [ ! -s "$job/rc" ]; then
		echo "kclient: no exit status from the guest (qemu status $qrc); console:" >&2
		tail -n 30 "$job/console.log" "$job/qemu.log" >&2
		return 125
	fi
	return "$(cat "$job/rc")"
}

# The guest's filerctl requests (see the top): one at a time, in order.
kc_ctl_relay() {
	local job=$1 n=1 args rc
	while :; do
		if [ ! -f "$job/ctl.$n.req" ]; then
			sleep 0.1
			continue
		fi
		read -r -a args < "$job/ctl.$n.req"
		case "${args[0]:-} ${args[1]:-}" in
		snap\ * | "vol options")
			"$FILERCTL" -s "$KC_HOME/filer.sock" "${args[@]}" > "$job/ctl.$n.out" 2>&1
			rc=$?
			;;
		*)
			echo "kclient: the host relays snapshot commands only, not: ${args[*]}" \
				> "$job/ctl.$n.out"
			rc=2
			;;
		esac
		echo "kclient: host: filerctl ${args[*]}: exit status $rc" >> "$job/relay.log"
		echo "$rc" > "$job/ctl.$n.rc.tmp"
		mv "$job/ctl.$n.rc.tmp" "$job/ctl.$n.rc"
		n=$((n + 1))
	done
}

kc_ctl_relay_start() {
	[ -x "$FILERCTL" ] || kc_die "missing $FILERCTL (make check-kclient builds it)"
	kc_ctl_relay "$KC_JOB" < /dev/null &
	KC_RPID=$!
}

kc_ctl_relay_stop() {
	if [ -n "$KC_RPID" ]; then
		kill "$KC_RPID" 2> /dev/null
		wait "$KC_RPID" 2> /dev/null
		KC_RPID=
	fi
}

# SIGTERM (a clean stop: final CP), then the consistency checker on the
# disks. Returns 0 when both are clean.
kc_filer_stop() {
	local bad=0
	kill -TERM "$KC_FPID" 2> /dev/null
	for _ in $(seq 1 1200); do
		kill -0 "$KC_FPID" 2> /dev/null || break
		sleep 0.1
	done
	if kill -0 "$KC_FPID" 2> /dev/null; then
		echo "kclient: the filer did not stop within 120 s of SIGTERM" >&2
		kill -KILL "$KC_FPID"
		bad=1
	fi
	KC_FILER_RC=0
	wait "$KC_FPID" || KC_FILER_RC=$?
	KC_FPID=
	if [ "$KC_FILER_RC" != 0 ]; then
		echo "kclient: the filer exited with status $KC_FILER_RC; its log:" >&2
		tail -n 30 "$KC_HOME/filer.log" >&2
		bad=1
	fi
	if ! "$WAFLCK" "$KC_HOME"/disk0 "$KC_HOME"/disk1 "$KC_HOME"/disk2 > "$KC_HOME/waflck.out" 2>&1; then
		echo "kclient: waflck found problems:" >&2
		head -n 40 "$KC_HOME/waflck.out" >&2
		bad=1
	fi
	return $bad
}
