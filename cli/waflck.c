/*
 * waflck - check an aggregate's (or traditional volume's) disks offline.
 *
 *   waflck [-q] DISK...
 *
 * Prints one line per problem (kind, block, volume, inode, fbn, what),
 * then a summary. Exit status: 0 clean, 1 problems found, 2 the disks
 * could not be read as an aggregate. `filerctl aggr check` runs the same
 * checker inside a running filer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wafl/wafl.h"

static void print_problem(void *arg, const struct wafl_problem *p)
{
	(void)arg;
	printf("%-11s pvbn %-10llu vol %-4u ino %-8llu L%u fbn %-10llu %s\n",
	       wafl_problem_name(p->kind), (unsigned long long)p->pvbn, p->volid,
	       (unsigned long long)p->ino, p->level, (unsigned long long)p->fbn, p->msg);
}

int main(int argc, char **argv)
{
	int opt;
	bool quiet = false;
	while ((opt = getopt(argc, argv, "qh")) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-q] DISK...\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [-q] DISK...\n", argv[0]);
		return 2;
	}
	struct wafl_check_result r;
	int rc = wafl_check((const char *const *)argv + optind, (unsigned)(argc - optind),
			    quiet ? NULL : print_problem, NULL, NULL, NULL, &r);
	if (rc) {
		fprintf(stderr, "waflck: cannot read the disks as an aggregate: %s\n",
			strerror(-rc));
		return 2;
	}
	printf("waflck: CP %llu: %u volume(s), %llu inodes, %llu directories, %llu blocks "
	       "checked: %llu problem(s), %llu corrupt block(s)\n",
	       (unsigned long long)r.cp_count, r.vols_checked, (unsigned long long)r.inodes_checked,
	       (unsigned long long)r.dirs_checked, (unsigned long long)r.blocks_checked,
	       (unsigned long long)r.problems, (unsigned long long)r.corrupt_blocks);
	return r.problems ? 1 : 0;
}
