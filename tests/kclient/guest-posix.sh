# guest-posix.sh - the guest's half of `make check-kclient` (run-posix.sh),
# run by the guest's init with busybox sh; /job holds this script, env,
# guest-lib.sh, the static programs (posix, bigdata) and mount.nfs.
#
# Mounts the filer's /vol/vol0 (host 10.0.2.2) four ways and checks each:
#   tcp   the kernel's mount(2), explicit ports (port=2049,mountport=2049):
#         the POSIX suite, then the data check writes DATA_MIB MiB with
#         DATA_PROCS processes
#   pmap  mount(2) with no ports, version or protocol: only addr= (what
#         mount.nfs makes of the host name) and nolock (the guest runs no
#         lockd, the filer no NLM); the kernel asks the filer's portmapper
#         (111) for NFS and MOUNT. The data check reads everything back on
#         this fresh mount (the first is gone, so is the client's cache)
#         and compares checksums
#   cmd   `mount -t nfs -o nolock 10.0.2.2:/vol/vol0 /mnt/cmd`, util-linux
#         and nfs-common's mount.nfs as on any Linux host (in the host's
#         root): it tries NFSv4.2, 4.1, 4.0, gets "not supported", falls
#         back to v3 and asks the portmapper, MOUNT over UDP. The data
#         files are removed through it
#   udp   mount(2) with mountproto=udp: the kernel's own MOUNT and
#         portmapper calls over UDP (NFS itself stays on TCP: Debian's
#         kernel is built without NFS over UDP, CONFIG_NFS_DISABLE_UDP_SUPPORT,
#         proto=udp gets EINVAL). The export must be empty at the end
# One line per step, "kclient: ok STEP" or "kclient: FAIL STEP: why", and
# last "guest: N passed, N failed" counting steps and POSIX cases.
set -o pipefail
. /job/env
. /job/guest-lib.sh
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

# mnt NAME OPTIONS: mount(2) of the export at /mnt/NAME
mnt() {
	mkdir -p "/mnt/$1"
	if kmount nfs "$A:$EXPORT" "/mnt/$1" "$2"; then
		ok "mount-$1 ($(grep " /mnt/$1 " /proc/mounts | cut -d' ' -f4))"
	else
		fail "mount-$1: mount -o $2 failed"
		return 1
	fi
}

# umnt DIR
umnt() {
	if umount "$1"; then
		ok "umount $1"
	else
		fail "umount $1"
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
	umnt /mnt/tcp
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
	umnt /mnt/pmap
fi

# ---- the mount command, as on any Linux host
if hostroot_up && cp /job/mount.nfs $R/sbin/mount.nfs && mkdir -p $R/mnt/cmd; then
	if in_root mount -t nfs -o nolock "$A:$EXPORT" /mnt/cmd > /job/mount.out 2>&1; then
		ok "mount-cmd: mount -t nfs -o nolock $A:$EXPORT ($(grep " $R/mnt/cmd " /proc/mounts | cut -d' ' -f4))"
		if rm -r $R/mnt/cmd/data; then
			ok "data-remove"
		else
			fail "data-remove"
		fi
		umnt $R/mnt/cmd
	else
		cat /job/mount.out
		fail "mount-cmd: mount -t nfs -o nolock $A:$EXPORT failed"
	fi
else
	fail "mount-cmd: cannot set up the host's root with mount.nfs"
fi

# ---- MOUNT and portmapper over UDP
if mnt udp "vers=3,proto=tcp,mountproto=udp,addr=$A,nolock"; then
	left=$(ls -A /mnt/udp)
	if [ -z "$left" ]; then
		ok "export-empty-at-end"
	else
		fail "export-empty-at-end: left on the export: $left"
	fi
	umnt /mnt/udp
fi

echo "kclient: guest done after $(now) s"
echo "guest: $passed passed, $failed failed"
[ $failed = 0 ]
