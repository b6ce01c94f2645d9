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
#   snap  mount(2) as tcp: snapshots through the kernel client. The host
#         takes, restores and deletes them when asked (ctl, through the
#         job directory: vm.sh's kc_ctl_relay). .snapshot is hidden from
#         ls -a but there; .snapshot/NAME is the directory as it was, a
#         submount (another fsid: its own st_dev and /proc/mounts line);
#         old data reads back after an overwrite and can be copied out;
#         changes there fail (EROFS; opening a file for writing is EACCES,
#         the client asks ACCESS first); after a restore the newer files
#         are gone and the older data is back; after a delete the
#         snapshot's files are gone (the server says STALE, the client
#         looks the path up again: ENOENT) and a fresh mount does not
#         list it
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

# ---- snapshots

ctl_n=0
# ctl ARGS...: `filerctl ARGS` run by the host (vm.sh's relay); prints its
# output, returns its exit status
ctl() {
	local t=0
	ctl_n=$((ctl_n + 1))
	echo "$*" > /job/ctl.$ctl_n.tmp && mv /job/ctl.$ctl_n.tmp /job/ctl.$ctl_n.req || return 1
	while [ ! -f /job/ctl.$ctl_n.rc ]; do
		t=$((t + 1))
		if [ $t -gt 600 ]; then
			echo "no answer from the host in 60 s to: filerctl $*"
			return 1
		fi
		sleep 0.1
	done
	cat /job/ctl.$ctl_n.out
	return "$(cat /job/ctl.$ctl_n.rc)"
}

# host_ctl STEP ARGS...: ctl, one step (not in a $(...): ctl counts its
# requests in ctl_n)
host_ctl() {
	local step=$1
	shift
	if ctl "$@" > /tmp/ctl.out 2>&1; then
		ok "$step: filerctl $* ($(cat /tmp/ctl.out))"
	else
		fail "$step: filerctl $*: $(cat /tmp/ctl.out)"
		return 1
	fi
}

# refused STEP PATTERN CMD...: CMD must fail, saying PATTERN (grep -E)
refused() {
	local step=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$step: $* succeeded"
	elif echo "$out" | grep -qE "$want"; then
		ok "$step: $(echo "$out" | tail -n1)"
	else
		fail "$step: $*: '$out', not '$want'"
	fi
}

# umount_subs DIR: the submounts under DIR (.snapshot/NAME), deepest first.
# One of a deleted snapshot may go by itself: the path to it is looked up
# again, the client finds the name gone and detaches what was mounted there
umount_subs() {
	local m
	for m in $(grep " $1/" /proc/mounts | cut -d' ' -f2 | sort -r); do
		umount "$m" 2> /dev/null && continue
		grep -q " $m " /proc/mounts && fail "umount $m: $(umount "$m" 2>&1)"
	done
}

# umount_tree DIR: its submounts, then DIR
umount_tree() {
	umount_subs "$1"
	umnt "$1"
}

# names DIR: what ls lists, on one line
names() { ls "$1" | tr '\n' ' '; }

snapshots() {
	local M=/mnt/snap T=snaptest S=/mnt/snap/.snapshot d0 dsd ds line got
	head -c 300000 /dev/urandom > /tmp/v1
	head -c 200000 /dev/urandom > /tmp/v2
	head -c 100000 /dev/urandom > /tmp/v3
	if ! mkdir $M/$T || ! cp /tmp/v1 $M/$T/f || ! echo keep > $M/$T/keep; then
		fail "snap-setup: cannot write $M/$T"
		return
	fi
	# kc1 has v1 and keep; kc2 has v2, no keep; the active fs v3 and after
	host_ctl snap-create snap create vol0 kc1 || return
	cp /tmp/v2 $M/$T/f && rm $M/$T/keep || fail "snap-setup: overwrite f, rm keep"
	host_ctl snap-create snap create vol0 kc2 || return
	cp /tmp/v3 $M/$T/f && echo after > $M/$T/after || fail "snap-setup: overwrite f, after"

	case " $(ls -a $M | tr '\n' ' ') " in
	*" .snapshot "*) fail "snap-hidden: ls -a $M lists .snapshot" ;;
	*) ok "snap-hidden: ls -a $M does not list .snapshot" ;;
	esac
	got=$(names $S)
	[ "$got" = "kc1 kc2 " ] && ok "snap-list: ls .snapshot: $got" ||
		fail "snap-list: ls .snapshot: '$got', not 'kc1 kc2 '"
	got=$(names $M/$T/.snapshot)
	[ "$got" = "kc1 kc2 " ] && ok "snap-list-subdir: ls $T/.snapshot: $got" ||
		fail "snap-list-subdir: ls $T/.snapshot: '$got'"
	if cmp $S/kc1/$T/f /tmp/v1 && cmp $S/kc2/$T/f /tmp/v2 && cmp $M/$T/.snapshot/kc1/f /tmp/v1 &&
		[ "$(cat $S/kc1/$T/keep)" = keep ] && [ ! -e $S/kc2/$T/keep ] && cmp $M/$T/f /tmp/v3; then
		ok "snap-read: .snapshot/kc1, .snapshot/kc2 and $T/.snapshot/kc1 hold the old data"
	else
		fail "snap-read: a snapshot does not hold what it should"
	fi

	# .snapshot is the active file system's; .snapshot/kc1 another one
	d0=$(stat -c %d $M) dsd=$(stat -c %d $S) ds=$(stat -c %d $S/kc1/$T)
	line=$(grep " $S/kc1 " /proc/mounts)
	if [ "$dsd" = "$d0" ] && [ "$ds" != "$d0" ] && [ -n "$line" ]; then
		ok "snap-submount: st_dev $d0 (/, .snapshot), $ds (kc1); /proc/mounts: $line"
	else
		fail "snap-submount: st_dev $d0 /, $dsd .snapshot, $ds kc1; /proc/mounts: $(grep " $M" /proc/mounts)"
	fi
	echo "kclient: snap: stat -c '%i' .snapshot .snapshot/kc1 $T: $(stat -c %i $S $S/kc1 $M/$T | tr '\n' ' ')"
	if line=$(stat -f -c 'type %T, blocks %b, free %f, files %c' $S/kc1/$T); then
		ok "snap-statfs: stat -f .snapshot/kc1/$T: $line"
	else
		fail "snap-statfs: stat -f .snapshot/kc1/$T"
	fi

	# nothing changes in a snapshot
	refused snap-refuse-create "Read-only file system" touch $S/kc1/$T/new
	refused snap-refuse-rm "Read-only file system" rm $S/kc1/$T/f
	refused snap-refuse-mkdir "Read-only file system" mkdir $S/kc1/$T/d
	refused snap-refuse-mkdir-snapdir "Read-only file system" mkdir $S/kc3
	refused snap-refuse-chmod "Read-only file system" chmod 600 $S/kc1/$T/f
	refused snap-refuse-rename "Read-only file system" mv $S/kc1/$T/f $S/kc1/$T/g
	refused snap-refuse-write "Read-only file system|Permission denied" \
		sh -c "echo x >> $S/kc1/$T/f"
	refused snap-refuse-truncate "Read-only file system|Permission denied" \
		truncate -s 0 $S/kc1/$T/f
	cmp $S/kc1/$T/f /tmp/v1 && ok "snap-unchanged: kc1's f after the refusals" ||
		fail "snap-unchanged: kc1's f changed"

	# copied back out into the active file system
	if cp $S/kc1/$T/f $M/$T/f.restored && cmp $M/$T/f.restored /tmp/v1 &&
		[ "$(stat -c %d $M/$T/f.restored)" = "$d0" ]; then
		ok "snap-copy-back: cp .snapshot/kc1/$T/f $T/f.restored && cmp"
	else
		fail "snap-copy-back"
	fi

	# restore kc2: f is v2 again, after and f.restored are gone. The
	# client learns that at open (close-to-open): a stat could still be
	# answered from its cache
	host_ctl snap-restore snap restore vol0 kc2
	refused snap-restored-stale "Stale file handle|No such file" cat $M/$T/after
	got=$(names $M/$T)
	if [ "$got" = "f " ] && cmp $M/$T/f /tmp/v2; then
		ok "snap-restored: $T is as kc2 had it: $got, f has kc2's data"
	else
		fail "snap-restored: $T has '$got', not 'f '"
	fi

	# delete kc1: its files fail; a fresh mount no longer lists it
	host_ctl snap-delete snap delete vol0 kc1
	refused snap-deleted-stale "Stale file handle|No such file" cat $S/kc1/$T/f
	echo "kclient: snap: ls .snapshot on the mount that saw kc1, after its delete: $(names $S)"
	if mnt snap2 "vers=3,proto=tcp,port=2049,mountport=2049,mountproto=tcp,addr=$A,mountaddr=$A,nolock"; then
		got=$(names /mnt/snap2/.snapshot)
		[ "$got" = "kc2 " ] && ok "snap-deleted-list: ls .snapshot on a fresh mount: $got" ||
			fail "snap-deleted-list: ls .snapshot on a fresh mount: '$got', not 'kc2 '"
		umount_tree /mnt/snap2
	fi
	host_ctl snap-delete snap delete vol0 kc2
	echo "kclient: snap: submounts: $(grep " $M/" /proc/mounts | cut -d' ' -f1,2 | tr '\n' ' ')"
	umount_subs $M
	rm -r $M/$T || fail "snap-cleanup: rm -r $M/$T"
}

if mnt snap "vers=3,proto=tcp,port=2049,mountport=2049,mountproto=tcp,addr=$A,mountaddr=$A,nolock"; then
	snapshots
	umount_tree /mnt/snap
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
