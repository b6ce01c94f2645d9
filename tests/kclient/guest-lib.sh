# guest-lib.sh - what the guest scripts (guest-*.sh) share; sourced by them
# from /job, where vm.sh's kc_job puts it. Busybox sh.

# The filer, as the guest sees it: slirp's address for the host's network
# namespace, whose 127.0.0.1 the filer listens on.
A=10.0.2.2
EXPORT=/vol/vol0
# The host's root, when the run shares it (KC_HOSTROOT=1)
R=/newroot

# The host's / (read-only over virtio-9p) with a tmpfs overlay on top at
# $R, so that host programs (dynamically linked: perl, bash, mount.nfs)
# run in the guest with `in_root`; the overlay takes the writes and the
# host is never changed. Fresh proc, sys, dev and run inside. cache=loose:
# the host must not change what the guest uses during the run.
hostroot_up() {
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /host ||
		return 1
	mkdir -p /tmp/overlay
	mount -t tmpfs -o size=50%,mode=755 overlay /tmp/overlay || return 1
	mkdir -p /tmp/overlay/upper /tmp/overlay/work $R
	mount -t overlay -o lowerdir=/host,upperdir=/tmp/overlay/upper,workdir=/tmp/overlay/work \
		root $R || return 1
	mount -t proc proc $R/proc &&
		mount -t sysfs sysfs $R/sys &&
		mount -t devtmpfs devtmpfs $R/dev &&
		mkdir -p $R/dev/pts $R/dev/shm &&
		mount -t devpts devpts $R/dev/pts &&
		mount -t tmpfs shm $R/dev/shm &&
		mount -t tmpfs run $R/run
}

# in_root CMD [ARG...]: CMD in the host's root, with a clean environment
# (PATH first has /run/fast, where a script may put static tools).
in_root() {
	chroot $R /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/run/fast:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
