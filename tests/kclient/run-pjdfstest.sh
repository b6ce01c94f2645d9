#!/bin/bash
# run-pjdfstest.sh - pjdfstest through the Linux kernel NFS client (make
# pjdfstest PJDFSTEST=DIR).
#
#   tests/kclient/run-pjdfstest.sh DIR [TEST...]
#
# DIR is a pjdfstest checkout built on this host (autoreconf -ifs &&
# ./configure && make pjdfstest); it is the user's, the project ships none
# of it. A filer on a fresh home in a network namespace, Debian's kernel
# under qemu (tests/kclient/vm.sh) mounting /vol/vol0 with NFSv3 over TCP,
# and prove -r DIR/tests as root in the guest
# (tests/kclient/guest-pjdfstest.sh); prove's output is printed as it comes,
# its summary last. TESTs (paths under DIR/tests: chmod/11.t, unlink) run
# only those, with prove -v. Then the filer is stopped with SIGTERM and waflck
# checks its disks. A full run takes about 20 minutes under TCG.
#
# Exit status: prove's (0 when every test passed; 124 when the guest timed
# out, 125 when it said nothing), 1 when the filer did not stop cleanly,
# waflck found problems or the harness could not run. Not root: "skipped"
# and 0. Environment: as run-posix.sh; KC_TIMEOUT defaults to 5400 s.
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/vm.sh"

[ $# -ge 1 ] || {
	echo "usage: $0 PJDFSTEST-DIR [TEST...]" >&2
	exit 2
}
pjd=$(cd "$1" 2> /dev/null && pwd) || kc_die "no directory $1"
[ -x "$pjd/pjdfstest" ] && [ -d "$pjd/tests" ] ||
	kc_die "$pjd has no pjdfstest binary and tests/ (build it first: autoreconf -ifs && ./configure && make pjdfstest)"
kc_skip_unless_root pjdfstest
command -v prove > /dev/null || kc_die "no prove on this host (apt-get install perl)"

KC_HOSTROOT=1
start=$SECONDS
kc_prepare
kc_netns
kc_filer_start
kc_job "$KC_REPO/tests/kclient/guest-pjdfstest.sh"
shift
printf 'PJDFSTEST=%q\nPJD_TESTS=%q\n' "$pjd" "$*" > "$KC_JOB/env"
rc=0
kc_guest "${KC_TIMEOUT:-5400}" || rc=$?
if kc_filer_stop; then
	echo "kclient: filer stopped cleanly; $(tail -n1 "$KC_HOME/waflck.out")"
else
	echo "kclient: FAIL: the filer did not stop cleanly or waflck found problems"
	[ $rc = 0 ] && rc=1
fi
echo "kclient: pjdfstest took $((SECONDS - start)) s"
exit $rc
