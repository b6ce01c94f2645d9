/*
 * test_snap.c - snapshots, restore, diffs and clones through the volume
 * API, each case ending with the consistency checker.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/wtest.h"

static struct wt T;

static void setup_flex(void)
{
	cr_assert_eq(wt_make(&T, WAFL_AGGR, 2, 256ull << 20, 320ull << 20), 0);
}

static void setup_trad(void)
{
	cr_assert_eq(wt_make(&T, WAFL_TRAD, 2, 128ull << 20, 0), 0);
}

static void teardown(void)
{
	wt_destroy(&T);
}

static void done(void)
{
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0, "the checker found problems");
}

static struct wafl_fh root(void)
{
	struct wafl_fh r;
	cr_assert_eq(wafl_root(T.v, &r), 0);
	return r;
}

static void fill(uint8_t *buf, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = wt_rand(&seed);
		memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
	}
}

/* Creates (or rewrites) name with len bytes made from seed. */
static struct wafl_fh put(const struct wafl_fh *dir, const char *name, size_t len, uint64_t seed)
{
	struct wafl_fh fh;
	struct wafl_attr a;
	struct wafl_stab st;
	int rc = wafl_lookup(T.v, NULL, dir, name, &fh, &a);
	if (rc == -ENOENT) {
		struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0644};
		rc = WT_RETRY(&T, wafl_create(T.v, NULL, dir, name, WAFL_UNCHECKED, &sa, 0, &fh, &a,
					      &st));
	}
	cr_assert_eq(rc, 0, "create %s: %d", name, rc);
	uint8_t *buf = malloc(len ? len : 1);
	fill(buf, len, seed);
	for (size_t off = 0; off < len; off += 65536) {
		uint32_t n = len - off < 65536 ? (uint32_t)(len - off) : 65536;
		rc = WT_RETRY(&T, wafl_write(T.v, NULL, &fh, off, n, buf + off, WAFL_UNSTABLE, &a,
					     &st));
		cr_assert_eq(rc, 0, "write %s: %d", name, rc);
	}
	free(buf);
	return fh;
}

/* Reads fh whole and compares with what put() wrote from seed. */
static void expect(const struct wafl_fh *fh, size_t len, uint64_t seed)
{
	struct wafl_attr a;
	cr_assert_eq(wafl_getattr(T.v, fh, &a), 0);
	cr_assert_eq(a.size, len, "size %llu, expected %zu", (unsigned long long)a.size, len);
	uint8_t *want = malloc(len + 1), *got = malloc(len + 1);
	fill(want, len, seed);
	size_t off = 0;
	while (off < len) {
		uint32_t n;
		bool eof;
		cr_assert_eq(wafl_read(T.v, NULL, fh, off, 65536, got + off, &n, &eof), 0);
		cr_assert(n > 0);
		off += n;
	}
	cr_assert(memcmp(want, got, len) == 0, "contents differ");
	free(want);
	free(got);
}

static void snap(const char *name)
{
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(&T, wafl_snap_create(T.v, name, &st)), 0);
	cr_assert_eq(wt_wait(&T, &st), 0);
}

/* The directory dir as snapshot name has it. */
static struct wafl_fh in_snap(const struct wafl_fh *dir, const char *name)
{
	struct wafl_fh sd, d;
	struct wafl_attr a;
	cr_assert_eq(wafl_lookup(T.v, NULL, dir, ".snapshot", &sd, &a), 0);
	cr_assert_eq(a.type, WAFL_FT_DIR);
	cr_assert_eq(sd.snapid, WAFL_SNAPID_DIR);
	cr_assert_eq(wafl_lookup(T.v, NULL, &sd, name, &d, &a), 0, "lookup .snapshot/%s", name);
	cr_assert_neq(d.snapid, 0);
	return d;
}

static void reclaim_wait(void)
{
	for (int i = 0; i < 20000; i++) {
		struct wafl_vol_info vi;
		wafl_vol_info(T.v, &vi);
		if (!vi.reclaiming_blocks)
			break;
		event_base_loop(T.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	struct wafl_vol_info vi;
	wafl_vol_info(T.v, &vi);
	cr_assert_eq(vi.reclaiming_blocks, 0);
	cr_assert_eq(wafl_cp_sync(T.a), 0);
}

static void snapshot_keeps_old_contents(void)
{
	struct wafl_fh r = root();
	struct wafl_fh f = put(&r, "f", 300000, 1);
	put(&r, "g", 5000, 2);
	snap("s1");
	/* change everything after it */
	put(&r, "f", 300000, 3);
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(&T, wafl_remove(T.v, NULL, &r, "g", &st)), 0);
	put(&r, "h", 7000, 4);
	cr_assert_eq(wafl_cp_sync(T.a), 0);
	expect(&f, 300000, 3);
	struct wafl_fh sr = in_snap(&r, "s1"), sf, sg, x;
	struct wafl_attr a;
	cr_assert_eq(wafl_lookup(T.v, NULL, &sr, "f", &sf, &a), 0);
	expect(&sf, 300000, 1);
	cr_assert_eq(wafl_lookup(T.v, NULL, &sr, "g", &sg, &a), 0);
	expect(&sg, 5000, 2);
	cr_assert_eq(wafl_lookup(T.v, NULL, &sr, "h", &x, &a), -ENOENT);
	cr_assert_eq(wafl_lookup(T.v, NULL, &sr, ".snapshot", &x, &a), -ENOENT);
	/* a snapshot is read-only */
	cr_assert_eq(wafl_write(T.v, NULL, &sf, 0, 1, "x", WAFL_FILE_SYNC, &a, &st), -EROFS);
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0644};
	cr_assert_eq(wafl_create(T.v, NULL, &sr, "new", WAFL_UNCHECKED, &sa, 0, &x, &a, &st),
		     -EROFS);
	cr_assert_eq(wafl_remove(T.v, NULL, &sr, "f", &st), -EROFS);
	/* and survives a remount */
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	expect(&sf, 300000, 1);
	expect(&f, 300000, 3);
	/* delete: its blocks come back */
	struct wafl_vol_info before, after;
	wafl_vol_info(T.v, &before);
	cr_assert_gt(before.snap_blocks, 70);
	char why[160];
	cr_assert_eq(wafl_snap_delete(T.v, "s1", why, sizeof(why), &st), 0);
	cr_assert_eq(wafl_getattr(T.v, &sf, &a), -ESTALE);
	reclaim_wait();
	wafl_vol_info(T.v, &after);
	cr_assert_eq(after.snap_blocks, 0);
	cr_assert_eq(after.nsnaps, 0);
	done();
}

Test(snap, flex_keeps_old_contents, .init = setup_flex, .fini = teardown)
{
	snapshot_keeps_old_contents();
}

Test(snap, trad_keeps_old_contents, .init = setup_trad, .fini = teardown)
{
	snapshot_keeps_old_contents();
}

Test(snap, list_rename_limits, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root();
	put(&r, "a", 10000, 1);
	snap("one");
	put(&r, "a", 10000, 2);
	snap("two");
	struct wafl_stab st;
	cr_assert_eq(wafl_snap_create(T.v, "two", &st), -EEXIST);
	cr_assert_eq(wafl_snap_create(T.v, "bad/name", &st), -EINVAL);
	cr_assert_eq(wafl_snap_rename(T.v, "one", "two", &st), -EEXIST);
	cr_assert_eq(wafl_snap_rename(T.v, "one", "first", &st), 0);
	struct wafl_snap_info si[4];
	unsigned n;
	cr_assert_eq(wafl_snap_list(T.v, si, 4, &n, true), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(si[0].name, "first");
	cr_assert_str_eq(si[1].name, "two");
	/* "a" was rewritten between them: each holds its own 3 data blocks */
	cr_assert_geq(si[0].own_blocks, 3);
	cr_assert_lt(si[0].own_blocks, 40);
	/* 255 at most */
	char name[32];
	for (unsigned i = 2; i < WAFL_SNAP_MAX; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		cr_assert_eq(WT_RETRY(&T, wafl_snap_create(T.v, name, &st)), 0, "%s", name);
	}
	cr_assert_eq(wt_wait(&T, &st), 0);
	cr_assert_eq(wafl_snap_create(T.v, "one-too-many", &st), -ENOSPC);
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	cr_assert_eq(wafl_snap_list(T.v, si, 0, &n, false), 0);
	cr_assert_eq(n, WAFL_SNAP_MAX);
	struct wafl_fh sd, d;
	struct wafl_attr a;
	cr_assert_eq(wafl_lookup(T.v, NULL, &r, ".snapshot", &sd, &a), 0);
	cr_assert_eq(wafl_lookup(T.v, NULL, &sd, "first", &d, &a), 0);
	struct wafl_fh fa;
	cr_assert_eq(wafl_lookup(T.v, NULL, &d, "a", &fa, &a), 0);
	expect(&fa, 10000, 1);
	/* delete them all, oldest first */
	struct wafl_snap_info *all = calloc(WAFL_SNAP_MAX, sizeof(*all));
	cr_assert_eq(wafl_snap_list(T.v, all, WAFL_SNAP_MAX, &n, false), 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(WT_RETRY(&T, wafl_snap_delete(T.v, all[i].name, NULL, 0, &st)), 0);
	free(all);
	reclaim_wait();
	done();
}

static int count_entries(void *arg, const struct wafl_dirent *e)
{
	char *names = arg;
	strcat(names, e->name);
	strcat(names, " ");
	return 0;
}

Test(snap, snapdir_listing, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root(), d, sd;
	struct wafl_attr a;
	struct wafl_stab st;
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0755};
	cr_assert_eq(wafl_mkdir(T.v, NULL, &r, "d", &sa, &d, &a, &st), 0);
	snap("s1");
	snap("s2");
	char names[512] = "";
	bool eof;
	cr_assert_eq(wafl_readdir(T.v, NULL, &r, 0, count_entries, names, &eof), 0);
	cr_assert_str_eq(names, ". .. d ");
	cr_assert_eq(wafl_vol_set_snapdir(T.v, true, &st), 0);
	names[0] = 0;
	cr_assert_eq(wafl_readdir(T.v, NULL, &r, 0, count_entries, names, &eof), 0);
	cr_assert_str_eq(names, ". .. .snapshot d ");
	cr_assert_eq(wafl_lookup(T.v, NULL, &d, ".snapshot", &sd, &a), 0);
	names[0] = 0;
	cr_assert_eq(wafl_readdir(T.v, NULL, &sd, 0, count_entries, names, &eof), 0);
	cr_assert_str_eq(names, ". .. s1 s2 ");
	cr_assert(eof);
	/* d did not exist when neither was taken: a later directory's
	 * .snapshot lists nothing */
	struct wafl_fh e, se;
	cr_assert_eq(wafl_mkdir(T.v, NULL, &r, "e", &sa, &e, &a, &st), 0);
	cr_assert_eq(wafl_lookup(T.v, NULL, &e, ".snapshot", &se, &a), 0);
	names[0] = 0;
	cr_assert_eq(wafl_readdir(T.v, NULL, &se, 0, count_entries, names, &eof), 0);
	cr_assert_str_eq(names, ". .. ");
	cr_assert_eq(wafl_mkdir(T.v, NULL, &r, ".snapshot", &sa, &e, &a, &st), -EACCES);
	done();
}

Test(snap, restore, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root();
	struct wafl_fh f = put(&r, "f", 100000, 1);
	snap("base");
	put(&r, "f", 150000, 2);
	struct wafl_fh g = put(&r, "g", 20000, 3);
	cr_assert_eq(wafl_cp_sync(T.a), 0);
	put(&r, "g", 30000, 4); /* dirty at the restore */
	struct wafl_stab st;
	cr_assert_eq(wafl_snap_restore(T.v, "nope", &st), -ENOENT);
	cr_assert_eq(WT_RETRY(&T, wafl_snap_restore(T.v, "base", &st)), 0);
	cr_assert_eq(wt_wait(&T, &st), 0);
	expect(&f, 100000, 1);
	struct wafl_attr a;
	cr_assert_eq(wafl_getattr(T.v, &g, &a), -ESTALE);
	struct wafl_fh x;
	cr_assert_eq(wafl_lookup(T.v, NULL, &r, "g", &x, &a), -ENOENT);
	/* a new file never gets g's handle back */
	struct wafl_fh g2 = put(&r, "g", 100, 5);
	cr_assert(g2.ino != g.ino || g2.gen != g.gen);
	cr_assert_eq(wafl_getattr(T.v, &g, &a), -ESTALE);
	/* the snapshot itself is still there */
	struct wafl_fh sr = in_snap(&r, "base"), sf;
	cr_assert_eq(wafl_lookup(T.v, NULL, &sr, "f", &sf, &a), 0);
	expect(&sf, 100000, 1);
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	expect(&f, 100000, 1);
	/* restore, then crash before the CP: replay restores again */
	put(&r, "f", 5000, 6);
	cr_assert_eq(wafl_cp_sync(T.a), 0);
	cr_assert_eq(WT_RETRY(&T, wafl_snap_restore(T.v, "base", &st)), 0);
	struct wafl_stab logged = {.log_seq = st.log_seq};
	cr_assert_eq(wt_wait(&T, &logged), 0);
	wt_crash(&T);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	expect(&f, 100000, 1);
	done();
}

struct diffc {
	uint64_t added, freed;
};

static int diff_cb(void *arg, uint64_t vbn, uint64_t pvbn, bool added)
{
	struct diffc *d = arg;
	(void)vbn;
	if (added) {
		d->added++;
		cr_assert_neq(pvbn, 0);
	} else {
		d->freed++;
	}
	return 0;
}

Test(snap, diff_follows_change, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root();
	struct wafl_fh f = put(&r, "big", 64ull << 20, 1);
	snap("base");
	/* rewrite 1% of it: 164 blocks spread out */
	struct wafl_attr a;
	struct wafl_stab st;
	uint8_t blk[4096];
	for (unsigned i = 0; i < 164; i++) {
		fill(blk, sizeof(blk), 100 + i);
		cr_assert_eq(WT_RETRY(&T, wafl_write(T.v, NULL, &f, (uint64_t)i * 100 * 4096, 4096, blk,
						     WAFL_UNSTABLE, &a, &st)),
			     0);
	}
	snap("next");
	struct diffc d = {0};
	struct wafl_diff_stats ds;
	cr_assert_eq(wafl_snap_diff(T.v, "base", "next", diff_cb, &d, &ds), 0);
	cr_assert_eq(d.added, ds.added);
	/* the data blocks, and the metadata above them */
	cr_assert_geq(ds.added, 164);
	cr_assert_lt(ds.added, 164 + 200);
	cr_assert_geq(ds.freed, 164);
	/* base and next against the active fs, which equals next */
	struct diffc d2 = {0};
	struct wafl_diff_stats ds2;
	cr_assert_eq(wafl_snap_diff(T.v, "next", NULL, diff_cb, &d2, &ds2), 0);
	cr_assert_lt(ds2.added, 40);
	cr_assert_eq(wafl_snap_diff(T.v, "nope", NULL, diff_cb, &d2, &ds2), -ENOENT);
	done();
}

Test(snap, clone_and_split, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root();
	struct wafl_fh f = put(&r, "f", 400000, 1);
	snap("base");
	struct wafl_stab st;
	cr_assert_eq(wafl_vol_clone(T.a, "c1", "vol0", "nope", &st), -ENOENT);
	cr_assert_eq(WT_RETRY(&T, wafl_vol_clone(T.a, "c1", "vol0", "base", &st)), 0);
	cr_assert_eq(wt_wait(&T, &st), 0);
	struct wafl_vol *pv = T.v, *cv = wafl_vol_find(T.a, "c1");
	cr_assert_not_null(cv);
	struct wafl_vol_info vi;
	wafl_vol_info(cv, &vi);
	cr_assert_str_eq(vi.parent, "vol0");
	cr_assert_str_eq(vi.parent_snap, "base");
	cr_assert_gt(vi.split_blocks_left, 90);
	/* the clone reads the parent's data, then writes its own */
	T.v = cv;
	struct wafl_fh cr_ = root(), cf;
	struct wafl_attr a;
	cr_assert_eq(wafl_lookup(cv, NULL, &cr_, "f", &cf, &a), 0);
	expect(&cf, 400000, 1);
	put(&cr_, "f", 400000, 2);
	put(&cr_, "new", 9000, 3);
	cr_assert_eq(wafl_cp_sync(T.a), 0);
	expect(&cf, 400000, 2);
	T.v = pv;
	expect(&f, 400000, 1);
	char why[160];
	cr_assert_eq(wafl_snap_delete(pv, "base", why, sizeof(why), &st), -EBUSY);
	cr_assert(strstr(why, "c1") != NULL, "why: %s", why);
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	cv = wafl_vol_find(T.a, "c1");
	pv = T.v;
	/* split, then the snapshot can go */
	cr_assert_eq(wafl_vol_clone_split(cv), 0);
	for (int i = 0; i < 200000; i++) {
		wafl_vol_info(cv, &vi);
		if (!vi.parent[0])
			break;
		event_base_loop(T.base, EVLOOP_ONCE);
	}
	wafl_vol_info(cv, &vi);
	cr_assert_str_eq(vi.parent, "");
	cr_assert_eq(wafl_cp_sync(T.a), 0);
	cr_assert_eq(WT_RETRY(&T, wafl_snap_delete(pv, "base", why, sizeof(why), &st)), 0);
	reclaim_wait();
	T.v = cv;
	cr_assert_eq(wafl_lookup(cv, NULL, &cr_, "f", &cf, &a), 0);
	expect(&cf, 400000, 2);
	T.v = pv;
	cr_assert_eq(wt_close(&T), 0);
	cr_assert_eq(wt_check(&T, true), 0);
	cr_assert_eq(wt_open(&T), 0);
	cv = wafl_vol_find(T.a, "c1");
	T.v = cv;
	cr_assert_eq(wafl_lookup(cv, NULL, &cr_, "f", &cf, &a), 0);
	expect(&cf, 400000, 2);
	T.v = wafl_vol_find(T.a, "vol0");
	expect(&f, 400000, 1);
	done();
}

/* Deleting the older of two snapshots while the newer one is not merged
 * yet, then the newer one: nothing may stay in the summary map. */
Test(snap, delete_both_before_merge, .init = setup_flex, .fini = teardown)
{
	struct wafl_fh r = root();
	put(&r, "f", 50000, 1);
	snap("s1");
	put(&r, "f", 50000, 2);
	snap("s2");
	struct wafl_stab st;
	cr_assert_eq(wafl_snap_delete(T.v, "s1", NULL, 0, &st), 0);
	/* s1's reclaim runs to its end with no CP in between */
	for (int i = 0; i < 20000; i++) {
		struct wafl_vol_info vi;
		wafl_vol_info(T.v, &vi);
		if (!vi.reclaiming_blocks)
			break;
		event_base_loop(T.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	cr_assert_eq(wafl_snap_delete(T.v, "s2", NULL, 0, &st), 0);
	reclaim_wait();
	struct wafl_vol_info vi;
	wafl_vol_info(T.v, &vi);
	cr_assert_eq(vi.snap_blocks, 0);
	done();
}
