/*
 * kmount.c - mount(2) with a text option string, for the test guest.
 *
 * The guest has no mount.nfs: busybox's mount cannot speak NFS, and the
 * kernel's NFS client takes its options as text anyway (addr=, port=,
 * mountport=, vers=, proto=, ...), so handing that text to mount(2)
 * directly is all a mount needs. Without port= and mountport= the kernel
 * asks the portmapper at addr= for both, as mount.nfs would.
 *
 *   kmount TYPE SOURCE TARGET OPTIONS
 *
 * Exit status 0 on success, 1 with the errno text on failure, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: kmount TYPE SOURCE TARGET OPTIONS\n");
		return 2;
	}
	const char *type = argv[1], *source = argv[2], *target = argv[3], *opts = argv[4];
	if (mount(source, target, type, 0, opts) != 0) {
		fprintf(stderr, "kmount: mount -t %s %s %s -o %s: %s\n", type, source, target, opts,
			strerror(errno));
		return 1;
	}
	return 0;
}
