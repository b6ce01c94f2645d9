/*
 * bench_snap.c - what snapshots cost, in process (no network):
 *
 *   make bench-snap          (or build/bin/bench-snap)
 *   BENCH_DIR=/some/fs build/bin/bench-snap
 *
 * One aggregate of four 6 GiB file disks (sparse, in a fresh directory
 * under $BENCH_DIR, else $TMPDIR, else /tmp, removed at the end), cache
 * 256 MiB, and two flexible volumes: "big" (20 GiB) and "small" (5 GiB).
 * The figures, in the order printed:
 *
 *   plain CP                  a CP after one 4 KiB write (the floor a
 *                             snapshot's CP cannot go under): ms, median
 *                             of 7.
 *   create, 1 GiB / 16 GiB    wafl_snap_create, waited until its CP is
 *                             durable, with 1 GiB and then 16 GiB of data
 *                             in "big" (idle otherwise): ms, median and
 *                             max of 7. Creating a snapshot is one CP, so
 *                             the two should agree within noise.
 *   delete                    with 16 GiB written, a snapshot is taken,
 *                             2 GiB of the file rewritten (so the snapshot
 *                             alone holds 2 GiB), and deleted; then the
 *                             background reclaim runs on the event loop
 *                             until every block is back: blocks/s, and the
 *                             longest single turn of the loop the reclaim
 *                             took (what a client could have waited).
 *   diff, 1% of 4 GiB         in "small", a 4 GiB file, snapshot "base",
 *                             41 943 random 4 KiB blocks rewritten (1%),
 *                             snapshot "next"; wafl_snap_diff(base, next):
 *                             ms, blocks reported, map blocks read and
 *                             skipped unread (equal pointers).
 *   diff, nothing changed     the same between "next" and the active fs
 *                             right after it: ms (the floor).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/wtest.h"

static struct wt T;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-snap: %s: %s\n", what, strerror(-rc));
	exit(1);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct wafl_fh make_file(struct wafl_vol *v, const char *name)
{
	struct wafl_fh r, fh;
	struct wafl_attr a;
	struct wafl_stab st;
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0644};
	int rc = wafl_root(v, &r);
	if (!rc)
		rc = WT_RETRY(&T, wafl_create(v, NULL, &r, name, WAFL_UNCHECKED, &sa, 0, &fh, &a, &st));
	if (rc)
		die("create", rc);
	return fh;
}

/* Writes [from, to) of fh in 1 MiB UNSTABLE writes, then a commit. */
static void write_range(struct wafl_vol *v, const struct wafl_fh *fh, uint64_t from, uint64_t to,
			uint64_t seed)
{
	static uint8_t buf[1 << 20];
	struct wafl_attr a;
	struct wafl_stab st;
	unsigned n = 0;
	for (uint64_t off = from; off < to; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i += 4096) {
			uint64_t x = seed ^ (off + i);
			memcpy(buf + i, &x, 8);
		}
		int rc = WT_RETRY(&T, wafl_write(v, NULL, fh, off, sizeof(buf), buf, WAFL_UNSTABLE,
						 &a, &st));
		if (rc)
			die("write", rc);
		if (++n % 4 == 0)
			event_base_loop(T.base, EVLOOP_NONBLOCK);
	}
	int rc = wafl_commit(v, fh, &st);
	if (!rc)
		rc = wt_wait(&T, &st);
	if (rc)
		die("commit", rc);
}

static double snap_once(struct wafl_vol *v, const char *name)
{
	struct wafl_stab st;
	double t0 = now_ms();
	int rc = WT_RETRY(&T, wafl_snap_create(v, name, &st));
	if (!rc)
		rc = wt_wait(&T, &st);
	if (rc)
		die("snap create", rc);
	return now_ms() - t0;
}

static void creates(struct wafl_vol *v, const char *label, const char *prefix)
{
	double ms[7];
	char name[32];
	/* a CP first, so every create starts from a clean cache */
	int rc = wafl_cp_sync(T.a);
	if (rc)
		die("cp", rc);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		ms[i] = snap_once(v, name);
	}
	qsort(ms, 7, sizeof(ms[0]), cmp_d);
	printf("  %-28s %8.2f ms median, %8.2f ms max\n", label, ms[3], ms[6]);
	struct wafl_stab st;
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if ((rc = WT_RETRY(&T, wafl_snap_delete(v, name, NULL, 0, &st))))
			die("snap delete", rc);
	}
}

struct diffn {
	uint64_t n;
};

static int count_cb(void *arg, uint64_t vbn, uint64_t pvbn, bool added)
{
	(void)vbn;
	(void)pvbn;
	(void)added;
	((struct diffn *)arg)->n++;
	return 0;
}

static void reclaim_all(struct wafl_vol *v, double *longest_ms)
{
	*longest_ms = 0;
	for (;;) {
		struct wafl_vol_info vi;
		wafl_vol_info(v, &vi);
		if (!vi.reclaiming_blocks)
			break;
		double t0 = now_ms();
		event_base_loop(T.base, EVLOOP_ONCE);
		double d = now_ms() - t0;
		if (d > *longest_ms)
			*longest_ms = d;
	}
}

int main(void)
{
	const char *dir = getenv("BENCH_DIR");
	if (dir)
		setenv("TMPDIR", dir, 1);
	int rc = wt_make(&T, WAFL_AGGR, 4, 6ull << 30, 20ull << 30);
	if (rc)
		die("make", rc);
	/* reopen with a server's cache */
	if ((rc = wt_close(&T)))
		die("close", rc);
	T.op.cache_bytes = 256ull << 20;
	T.op.cp_interval_ms = 10000;
	if ((rc = wt_open(&T)))
		die("open", rc);
	struct wafl_stab st;
	if ((rc = wafl_vol_create(T.a, "small", 5ull << 30, WAFL_GUAR_NONE, &st)) ||
	    (rc = wt_wait(&T, &st)))
		die("vol create", rc);
	struct wafl_vol *big = wafl_vol_find(T.a, "vol0"), *small = wafl_vol_find(T.a, "small");
	printf("bench-snap: aggregate of 4 x 6 GiB file disks in %s, cache 256 MiB\n", T.dir);

	/* the floor: a CP with one block dirty */
	struct wafl_fh f = make_file(big, "data");
	double plain[7];
	for (int i = 0; i < 7; i++) {
		struct wafl_attr a;
		uint8_t blk[4096] = {(uint8_t)i};
		if ((rc = WT_RETRY(&T, wafl_write(big, NULL, &f, 0, sizeof(blk), blk, WAFL_UNSTABLE,
						  &a, &st))))
			die("write", rc);
		double t0 = now_ms();
		if ((rc = wafl_cp_sync(T.a)))
			die("cp", rc);
		plain[i] = now_ms() - t0;
	}
	qsort(plain, 7, sizeof(plain[0]), cmp_d);
	printf("  %-28s %8.2f ms median\n", "plain CP (one block)", plain[3]);

	double t0 = now_ms();
	write_range(big, &f, 0, 1ull << 30, 1);
	printf("  (wrote 1 GiB in %.1f s)\n", (now_ms() - t0) / 1e3);
	creates(big, "create, 1 GiB in the volume", "a");
	t0 = now_ms();
	write_range(big, &f, 1ull << 30, 16ull << 30, 1);
	printf("  (wrote 15 GiB more in %.1f s)\n", (now_ms() - t0) / 1e3);
	creates(big, "create, 16 GiB in the volume", "b");
	double longest;
	reclaim_all(big, &longest);

	/* delete: a snapshot that alone holds 2 GiB */
	snap_once(big, "old");
	write_range(big, &f, 0, 2ull << 30, 2);
	struct wafl_snap_info si[2];
	unsigned n;
	if ((rc = wafl_snap_list(big, si, 2, &n, true)))
		die("snap list", rc);
	uint64_t own = si[0].own_blocks;
	t0 = now_ms();
	if ((rc = WT_RETRY(&T, wafl_snap_delete(big, "old", NULL, 0, &st))))
		die("snap delete", rc);
	double t_call = now_ms() - t0;
	reclaim_all(big, &longest);
	if ((rc = wafl_cp_sync(T.a)))
		die("cp", rc);
	double t_all = now_ms() - t0;
	printf("  %-28s %8.0f blocks/s (%" PRIu64 " blocks, %.2f s, the call %.2f ms, "
	       "longest loop turn %.2f ms)\n",
	       "delete (reclaim)", own / (t_all / 1e3), own, t_all / 1e3, t_call, longest);

	/* diff: 1% of 4 GiB */
	struct wafl_fh g = make_file(small, "data");
	write_range(small, &g, 0, 4ull << 30, 3);
	snap_once(small, "base");
	uint64_t seed = 42;
	uint64_t nblocks = (4ull << 30) / 4096, change = nblocks / 100;
	uint8_t blk[4096];
	for (uint64_t i = 0; i < change; i++) {
		struct wafl_attr a;
		uint64_t b = wt_rand(&seed) % nblocks;
		memcpy(blk, &i, 8);
		if ((rc = WT_RETRY(&T, wafl_write(small, NULL, &g, b * 4096, 4096, blk,
						  WAFL_UNSTABLE, &a, &st))))
			die("write", rc);
		if (i % 64 == 0)
			event_base_loop(T.base, EVLOOP_NONBLOCK);
	}
	snap_once(small, "next");
	struct diffn dn = {0};
	struct wafl_diff_stats ds;
	t0 = now_ms();
	if ((rc = wafl_snap_diff(small, "base", "next", count_cb, &dn, &ds)))
		die("diff", rc);
	double t_diff = now_ms() - t0;
	printf("  %-28s %8.2f ms (%" PRIu64 " blocks written, %" PRIu64 " added, %" PRIu64
	       " freed; map blocks read %" PRIu64 ", skipped %" PRIu64 ")\n",
	       "diff, 1% of 4 GiB", t_diff, change, ds.added, ds.freed, ds.map_blocks_read,
	       ds.map_blocks_skipped);
	dn.n = 0;
	t0 = now_ms();
	if ((rc = wafl_snap_diff(small, "next", NULL, count_cb, &dn, &ds)))
		die("diff", rc);
	printf("  %-28s %8.2f ms (%" PRIu64 " blocks; map blocks read %" PRIu64
	       ", skipped %" PRIu64 ")\n",
	       "diff, nothing changed", now_ms() - t0, dn.n, ds.map_blocks_read,
	       ds.map_blocks_skipped);
	if ((rc = wt_close(&T)))
		die("close", rc);
	long problems = wt_check(&T, true);
	printf("  checker: %ld problems\n", problems);
	wt_destroy(&T);
	return problems ? 1 : 0;
}
