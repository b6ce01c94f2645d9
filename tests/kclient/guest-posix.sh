# guest-posix.sh - the guest's half of `make check-kclient` (run-posix.sh),
# run by the guest's init with busybox sh; /job holds this script, env and
# the static programs (posix, bigdata).
#
# Mounts the filer's /vol/vol0 (host 10.0.2.2) three ways with the kernel's
# NFSv3 client and checks each:
#   tcp   explicit ports (port=2049,mountport=2049): the POSIX suite, then
#         the data check writes DATA_MIB MiB with DATA_PROCS processes
#   pmap  no ports, no version, no protocol: only addr= (what mount.nfs
#         makes of the host name) and nolock (the guest runs no lockd, the
#         filer no NLM). The kernel asks the filer's portmapper (111) for
#         NFS and MOUNT, as `mount -o nolock host:/vol/vol0 /mnt` does. The
#         data check reads everything back on this fresh mount (the first
#         one is gone, so is the client's cache) and compares checksums
#   udp   MOUNT and its portmapper query over UDP (mountproto=udp), NFS
#         itself over TCP: Debian's kernel is built without NFS over UDP
#         (CONFIG_NFS_DISABLE_UDP_SUPPORT=y, proto=udp gets EINVAL). The
#         data files are removed through it, and the export must be empty
# One line per step, "kclient: ok STEP" or "kclient: FAIL STEP: why", and
# last "guest: N passed, N failed" counting steps and POSIX cases.
set -o pipefail
. /job/env
A=10.0.2.2
EXPORT=/vol/vol0
passed=0
failed=0

ok() {
	echo "kclient: ok   $*"
	passed=$((passed + 1))
}
fail() {
	echo "kclient: FAIL $*"
	failed=$((failed + 1))
}
now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# mount NAME OPTIONS: the export at /mnt/NAME
mnt() {
	mkdir -p "/mnt/$1"
	if kmount nfs "$A:$EXPORT" "/mnt/$1" "$2"; then
		ok "mount-$1 ($(grep " /mnt/$1 " /proc/mounts | cut -d' ' -f4))"
	else
		fail "mount-$1: mount -o $2 failed"
		return 1
	fi
}

umnt() {
	if umount "/mnt/$1"; then
		ok "umount-$1"
	else
		fail "umount-$1"
		return 1
	fi
}

# suite NAME: the POSIX suite in /mnt/NAME/posix.NAME; its cases count
suite() {
	local dir=/mnt/$1/posix.$1 t0 counts p f
	t0=$(now)
	mkdir "$dir" || {
		fail "posix-$1: mkdir $dir"
		return
	}
	/job/posix "$dir" 2>&1 | tee "/job/posix-$1.out"
	counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "/job/posix-$1.out")
	if [ -z "$counts" ]; then
		fail "posix-$1: the suite did not finish"
		return
	fi
	p=${counts%% passed*}
	f=${counts#*passed, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
	if rmdir "$dir"; then
		echo "kclient: posix-$1: $p passed, $f failed in $(secs "$t0") s"
	else
		fail "posix-$1: $dir is not empty after the suite: $(ls -A "$dir" | head -5)"
	fi
}

echo "kclient: guest up after $(now) s"

# ---- tcp, explicit ports: POSIX suite, data written
if mnt tcp "vers=3,proto=tcp,port=2049,mountport=2049,mountproto=tcp,addr=$A,mountaddr=$A,nolock"; then
	suite tcp
	mkdir -p /mnt/tcp/data
	if /job/bigdata write /mnt/tcp/data "$DATA_PROCS" "$DATA_MIB" > /job/write.out 2>&1; then
		ok "data-write: $(tail -n1 /job/write.out)"
	else
		cat /job/write.out
		fail "data-write"
	fi
	umnt tcp
fi

# ---- portmapper only: data read back on a fresh mount
if mnt pmap "addr=$A,nolock"; then
	if [ -s /job/write.out ]; then
		/job/bigdata read /mnt/pmap/data "$DATA_PROCS" "$DATA_MIB" > /job/read.out 2>&1
		rc=$?
		grep '^data\.[0-9]* [0-9]* [0-9a-f]*$' /job/write.out > /job/write.sums
		grep '^data\.[0-9]* [0-9]* [0-9a-f]*$' /job/read.out > /job/read.sums
		if [ $rc = 0 ] && [ -s /job/write.sums ] && cmp -s /job/write.sums /job/read.sums; then
			ok "data-read: checksums match: $(tail -n1 /job/read.out)"
		else
			echo "written:"
			cat /job/write.out
			echo "read:"
			cat /job/read.out
			fail "data-read: what was read is not what was written"
		fi
	fi
	umnt pmap
fi

# ---- MOUNT and portmapper over UDP
if mnt udp "vers=3,proto=tcp,mountproto=udp,addr=$A,nolock"; then
	if rm -r /mnt/udp/data; then
		ok "data-remove"
	else
		fail "data-remove"
	fi
	left=$(ls -A /mnt/udp)
	if [ -z "$left" ]; then
		ok "export-empty-at-end"
	else
		fail "export-empty-at-end: left on the export: $left"
	fi
	umnt udp
fi

echo "kclient: guest done after $(now) s"
echo "guest: $passed passed, $failed failed"
[ $failed = 0 ]
