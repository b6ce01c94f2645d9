# guest-pjdfstest.sh - the guest's half of `make pjdfstest` (run-pjdfstest.sh),
# run by the guest's init with busybox sh.
#
# pjdfstest is a host build (perl's prove, bash, the pjdfstest binary), so
# the guest runs it in the host's file system: the host's / comes over
# virtio-9p read-only (tag hostroot) with a tmpfs overlay on top (writable
# for the run, the host untouched), and the run chroots there. The filer's
# /vol/vol0 is mounted at /mnt/nfs (NFSv3, TCP, explicit ports); prove
# runs as root in a fresh directory on it: all of PJDFSTEST/tests, or with
# PJD_TESTS (paths under tests/) those, verbosely.
#
# Process creation dominates pjdfstest, and a dynamically linked exec costs
# about three times a static one under TCG: the small tools the test
# scripts call (tail, grep, awk, dd, ...) come first in PATH as static
# busybox, and "openssl md5" (only used to make names) as a busybox shim.
. /job/env
. /job/guest-lib.sh
die() {
	echo "pjdfstest-guest: $*"
	exit 125
}

hostroot_up || die "cannot set up the host's root"
mkdir -p $R/mnt/nfs
kmount nfs "$A:$EXPORT" $R/mnt/nfs \
	"vers=3,proto=tcp,port=2049,mountport=2049,mountproto=tcp,addr=$A,mountaddr=$A,nolock" ||
	die "NFS mount failed"
grep " $R/mnt/nfs " /proc/mounts

mkdir -p $R/run/fast
for t in tail head grep egrep awk dd cut wc tr sed; do
	ln -s /bin/busybox "$R/run/fast/$t"
done
cat > $R/run/fast/openssl << 'EOF'
#!/bin/busybox sh
# "openssl md5" for pjdfstest's name maker, nothing else
[ "$1" = md5 ] || { echo "openssl: only md5 here" >&2; exit 1; }
h=$(/bin/busybox md5sum)
echo "MD5(stdin)= ${h%% *}"
EOF
chmod 755 $R/run/fast/openssl

mkdir $R/mnt/nfs/pjdfstest || die "mkdir on the mount"
# prove's output through cat: not a terminal, so no progress lines
in_root /bin/bash -c '
	cd /mnt/nfs/pjdfstest || exit 125
	if [ -n "$2" ]; then
		set -- $(for t in $2; do echo "$1/tests/$t"; done)
		prove -v -r "$@"
	else
		prove -r "$1/tests"
	fi 2>&1 | cat
	exit ${PIPESTATUS[0]}' prove "$PJDFSTEST" "${PJD_TESTS:-}"
rc=$?
# what the tests left (they clean up after themselves)
left=$(ls -A $R/mnt/nfs/pjdfstest | head -n 10)
[ -z "$left" ] || echo "pjdfstest-guest: left on the export: $left"
rm -rf $R/mnt/nfs/pjdfstest
umount $R/mnt/nfs || echo "pjdfstest-guest: umount failed"
exit $rc
