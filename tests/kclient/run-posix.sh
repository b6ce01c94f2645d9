#!/bin/bash
# run-posix.sh - the kernel-client stage of `make check` (make check-kclient).
#
# Starts a filer as root on a fresh home in a network namespace of its own,
# boots Debian's kernel under qemu (tests/kclient/vm.sh) and, in the guest
# (tests/kclient/guest-posix.sh), mounts /vol/vol0 with the kernel's NFSv3
# client: with explicit ports, through the portmapper alone, with the
# `mount -t nfs` command of any Linux host (nfs-common's mount.nfs, fetched
# like the kernel), and with MOUNT over UDP. It runs the POSIX suite
# (tests/posix) and the data check (KC_DATA_MIB MiB written by
# KC_DATA_PROCS processes, read back on a fresh mount, checksums compared)
# and the snapshot step (.snapshot through the kernel client: the guest
# asks for `filerctl snap ...` through the job directory, relayed here by
# vm.sh's kc_ctl_relay). Then it stops the filer with SIGTERM and runs
# waflck on its disks.
#
# Not root: prints "kclient: skipped: ..." and exits 0. Root: exits 1 when
# any step or case fails, or the harness cannot run. The last line is
# "kclient: N passed, N failed".
#
# Environment: FILER, WAFLCK, FILERCTL (default build/bin/...), KC_BIN (the static
# guest programs, default build/kclient/bin), KC_DATA_MIB (1024),
# KC_DATA_PROCS (4), KC_TIMEOUT (guest time limit, 1200 s), KC_KEEP=1 keeps
# the filer's home and the job directory; see vm.sh for the rest.
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/vm.sh"

kc_skip_unless_root check-kclient
start=$SECONDS
KC_HOSTROOT=1 # for mount.nfs
kc_prepare
for b in posix bigdata; do
	[ -x "$KC_BIN/$b" ] || kc_die "missing $KC_BIN/$b (make check-kclient builds it)"
done
kc_netns
kc_filer_start
kc_job "$KC_REPO/tests/kclient/guest-posix.sh" "$KC_BIN/posix" "$KC_BIN/bigdata" \
	"$KC_CACHE/mount.nfs"
cat > "$KC_JOB/env" << EOF
DATA_MIB=${KC_DATA_MIB:-1024}
DATA_PROCS=${KC_DATA_PROCS:-4}
EOF

kc_ctl_relay_start
guest_rc=0
kc_guest "${KC_TIMEOUT:-1200}" || guest_rc=$?
kc_ctl_relay_stop
passed=0 failed=0
counts=$(grep -aE '^guest: [0-9]+ passed, [0-9]+ failed' "$KC_JOB/guest.out" | tail -n1)
if [ -n "$counts" ]; then
	read -r _ passed _ failed _ <<< "${counts//,/}"
fi
if [ -z "$counts" ] || { [ "$guest_rc" != 0 ] && [ "$failed" = 0 ]; }; then
	echo "kclient: FAIL guest: exit status $guest_rc"
	failed=$((failed + 1))
fi

if kc_filer_stop; then
	echo "kclient: ok   filer-stop-and-waflck: $(tail -n1 "$KC_HOME/waflck.out")"
	passed=$((passed + 1))
else
	echo "kclient: FAIL filer-stop-and-waflck"
	failed=$((failed + 1))
fi
echo "kclient: stage took $((SECONDS - start)) s"
echo "kclient: $passed passed, $failed failed"
[ "$failed" = 0 ]
