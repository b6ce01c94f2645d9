# guest-pjdfstest.sh - the guest's half of `make pjdfstest` (run-pjdfstest.sh),
# run by the guest's init with busybox sh.
#
# pjdfstest is a host build (perl's prove, bash, the pjdfstest binary), so
# the guest runs it in the host's file system: the host's / comes over
# virtio-9p read-only (tag hostroot) with a tmpfs overlay on top (writable
# for the run, the host untouched), and the run chroots there. The filer's
# /vol/vol0 is mounted at /mnt/nfs (NFSv3, TCP, explicit ports); prove
# runs as root in a fresh directory on it.
#
# Process creation dominates pjdfstest, and a dynamically linked exec costs
# about three times a static one under TCG: the small tools the test
# scripts call (tail, grep, awk, dd, ...) come first in PATH as static
# busybox, and "openssl md5" (only used to make names) as a busybox shim.
. /job/env
R=/newroot
A=10.0.2.2
die() {
	echo "pjdfstest-guest: $*"
	exit 125
}

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /host ||
	die "cannot mount the host's root"
mkdir -p /tmp/overlay
mount -t tmpfs -o size=50%,mode=755 overlay /tmp/overlay || die "tmpfs"
mkdir -p /tmp/overlay/upper /tmp/overlay/work $R
mount -t overlay -o lowerdir=/host,upperdir=/tmp/overlay/upper,workdir=/tmp/overlay/work \
	root $R || die "overlay root"
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs shm $R/dev/shm
mount -t tmpfs run $R/run
mkdir -p $R/mnt/nfs
kmount nfs "$A:/vol/vol0" $R/mnt/nfs \
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
chroot $R /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
	PATH=/run/fast:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	/bin/bash -c 'cd /mnt/nfs/pjdfstest && prove -r "$1/tests" 2>&1 | cat; exit ${PIPESTATUS[0]}' \
	prove "$PJDFSTEST"
rc=$?
# what the tests left (they clean up after themselves)
left=$(ls -A $R/mnt/nfs/pjdfstest | head -n 10)
[ -z "$left" ] || echo "pjdfstest-guest: left on the export: $left"
rm -rf $R/mnt/nfs/pjdfstest
umount $R/mnt/nfs || echo "pjdfstest-guest: umount failed"
exit $rc
