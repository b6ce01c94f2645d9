/*
 * Volumes and the operations on them: space (ENOSPC and recovery, thin
 * provisioning, guarantees, resize), several volumes per aggregate,
 * destroy, stale handles, huge sparse files, names, links, special files,
 * rename rules, permissions, replay idempotency.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/wtest.h"

static struct wafl_fh root_of(struct wt *t)
{
	struct wafl_fh r;
	cr_assert_eq(wafl_root(t->v, &r), 0);
	return r;
}

static struct wafl_fh mkfile(struct wt *t, const struct wafl_fh *dir, const char *name)
{
	struct wafl_fh f;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(t, wafl_create(t->v, NULL, dir, name, WAFL_GUARDED, NULL, 0, &f, &at,
					     &st)),
		     0, "create %s", name);
	return f;
}

static int put(struct wt *t, const struct wafl_fh *f, uint64_t off, size_t len, int seed,
	       enum wafl_stable how)
{
	char *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 31);
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = WT_RETRY(t, wafl_write(t->v, NULL, f, off, (uint32_t)len, buf, how, &at, &st));
	free(buf);
	return rc;
}

static void expect(struct wt *t, const struct wafl_fh *f, uint64_t off, size_t len, int seed)
{
	char *buf = malloc(len);
	uint32_t got;
	bool eof;
	cr_assert_eq(wafl_read(t->v, NULL, f, off, (uint32_t)len, buf, &got, &eof), 0);
	cr_assert_eq(got, len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], (char)(seed + i * 31), "byte %zu", i);
	free(buf);
}

Test(vol, enospc_then_recovery)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 4 << 20), 0);
	struct wafl_fh root = root_of(&t);
	struct wafl_fh keep = mkfile(&t, &root, "keep");
	cr_assert_eq(put(&t, &keep, 0, 64 << 10, 7, WAFL_FILE_SYNC), 0);
	struct wafl_fh big = mkfile(&t, &root, "big");
	uint64_t off = 0;
	int rc = 0;
	while ((rc = put(&t, &big, off, 256 << 10, 1, WAFL_UNSTABLE)) == 0)
		off += 256 << 10;
	cr_assert_eq(rc, -ENOSPC);
	cr_assert(off >= 2 << 20, "a 4 MiB volume held only %llu bytes", (unsigned long long)off);
	cr_assert(off <= 4 << 20);
	/* refused, not damaged: everything written before is intact */
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	expect(&t, &keep, 0, 64 << 10, 7);
	expect(&t, &big, 0, 256 << 10, 1);
	struct wafl_fh x;
	struct wafl_attr at;
	struct wafl_stab st;
	struct wafl_fsstat fss;
	cr_assert_eq(wafl_fsstat(t.v, &fss), 0);
	cr_assert_lt(fss.avail_bytes, 1 << 20);
	/* freeing space makes it usable again (after the CP that frees it) */
	cr_assert_eq(WT_RETRY(&t, wafl_remove(t.v, NULL, &root, "big", &st)), 0);
	cr_assert_eq(wafl_getattr(t.v, &big, &at), -ESTALE);
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(wafl_fsstat(t.v, &fss), 0);
	cr_assert_gt(fss.avail_bytes, 2 << 20);
	x = mkfile(&t, &root, "again");
	cr_assert_eq(put(&t, &x, 0, 2 << 20, 3, WAFL_UNSTABLE), 0);
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	expect(&t, &x, 0, 2 << 20, 3);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(vol, thin_volume_larger_than_aggregate)
{
	struct wt t;
	/* 2 x 16 MiB of disks, a 1 GiB volume: thin by default */
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 16 << 20, 1 << 30), 0);
	struct wafl_fh root = root_of(&t);
	struct wafl_fh f = mkfile(&t, &root, "f");
	uint64_t off = 0;
	int rc;
	while ((rc = put(&t, &f, off, 1 << 20, 2, WAFL_UNSTABLE)) == 0)
		off += 1 << 20;
	cr_assert_eq(rc, -ENOSPC, "the aggregate, not the volume, runs out");
	cr_assert(off >= 24 << 20 && off < 32 << 20, "wrote %llu", (unsigned long long)off);
	struct wafl_aggr_info ai;
	wafl_aggr_info(t.a, &ai);
	cr_assert_eq(ai.size_blocks, 2 * ((16 << 20) / 4160 - 4));
	/* adding disks makes room */
	char p[2][300];
	const char *paths[2];
	for (int i = 0; i < 2; i++) {
		snprintf(p[i], sizeof(p[i]), "%s/extra%d", t.dir, i);
		paths[i] = p[i];
	}
	cr_assert_eq(wafl_aggr_add_disks(t.a, paths, 2, 16 << 20), 0);
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	wafl_aggr_info(t.a, &ai);
	cr_assert_eq(ai.ngroups, 2);
	cr_assert_eq(put(&t, &f, off, 8 << 20, 2, WAFL_UNSTABLE), 0);
	cr_assert_eq(wt_close(&t), 0);
	/* the new disks are part of the aggregate now */
	t.disks[2] = p[0];
	t.disks[3] = p[1];
	t.op.ndisks = t.ndisks = 4;
	strcpy(t.disk_path[2], p[0]);
	strcpy(t.disk_path[3], p[1]);
	cr_assert_eq(wt_check(&t, true), 0);
	cr_assert_eq(wt_open(&t), 0);
	expect(&t, &f, off, 8 << 20, 2);
	cr_assert_eq(wt_close(&t), 0);
	wt_destroy(&t);
}

Test(vol, guarantee_resize_destroy)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 32 << 20, 8 << 20), 0);
	struct wafl_stab st;
	/* ~63 MiB of aggregate: a 100 MiB guarantee cannot be given */
	cr_assert_eq(wafl_vol_create(t.a, "big", 100 << 20, WAFL_GUAR_VOLUME, &st), -ENOSPC);
	cr_assert_eq(wafl_vol_create(t.a, "g", 40 << 20, WAFL_GUAR_VOLUME, &st), 0);
	cr_assert_eq(wafl_vol_create(t.a, "g", 4 << 20, WAFL_GUAR_NONE, &st), -EEXIST);
	cr_assert_eq(wafl_vol_create(t.a, "bad/name", 4 << 20, WAFL_GUAR_NONE, &st), -EINVAL);
	cr_assert_eq(wafl_vol_create(t.a, "thin", 200 << 20, WAFL_GUAR_NONE, &st), 0);
	struct wafl_vol *g = wafl_vol_find(t.a, "g"), *thin = wafl_vol_find(t.a, "thin");
	cr_assert(g && thin);
	struct wafl_vol_info gi, ti;
	wafl_vol_info(g, &gi);
	wafl_vol_info(thin, &ti);
	cr_assert_neq(gi.fsid, ti.fsid);
	cr_assert_neq(gi.volid, ti.volid);
	/* the guaranteed 40 MiB are not available to the thin volume */
	struct wafl_fsstat fs;
	cr_assert_eq(wafl_fsstat(thin, &fs), 0);
	cr_assert_lt(fs.avail_bytes, 24 << 20);
	cr_assert_eq(wafl_fsstat(g, &fs), 0);
	cr_assert_gt(fs.avail_bytes, 36 << 20);
	/* each volume has its own inode space: same first inode number */
	struct wafl_fh rg, rt, fg, ft;
	struct wafl_attr at;
	cr_assert_eq(wafl_root(g, &rg), 0);
	cr_assert_eq(wafl_root(thin, &rt), 0);
	cr_assert_eq(wafl_create(g, NULL, &rg, "a", WAFL_GUARDED, NULL, 0, &fg, &at, &st), 0);
	cr_assert_eq(wafl_create(thin, NULL, &rt, "a", WAFL_GUARDED, NULL, 0, &ft, &at, &st), 0);
	cr_assert_eq(fg.ino, ft.ino);
	cr_assert_neq(fg.volid, ft.volid);
	/* a handle of one volume is stale in another */
	cr_assert_eq(wafl_getattr(g, &ft, &at), -ESTALE);
	/* resize while mounted */
	char buf[4096] = {1};
	for (int i = 0; i < 512; i++)
		cr_assert_eq(wafl_write(thin, NULL, &ft, (uint64_t)i * 4096, 4096, buf,
					WAFL_UNSTABLE, &at, &st),
			     0);
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(wafl_vol_resize(thin, 1 << 20, &st), -ENOSPC); /* 2 MiB used */
	cr_assert_eq(wafl_vol_resize(thin, 4 << 20, &st), 0);
	cr_assert_eq(wafl_fsstat(thin, &fs), 0);
	cr_assert_eq(fs.total_bytes, 4 << 20);
	cr_assert_eq(wafl_vol_resize(thin, 300 << 20, &st), 0);
	cr_assert_eq(wafl_fsstat(thin, &fs), 0);
	cr_assert_eq(fs.total_bytes, 300 << 20);
	/* destroy: only offline volumes; it gives the space back */
	cr_assert_eq(wafl_vol_destroy(t.a, "g", &st), -EBUSY);
	cr_assert_eq(wafl_vol_set_state(g, WAFL_VOL_OFFLINE, &st), 0);
	cr_assert_eq(wafl_getattr(g, &fg, &at), -ENXIO);
	cr_assert_eq(wafl_vol_destroy(t.a, "g", &st), 0);
	cr_assert_null(wafl_vol_find(t.a, "g"));
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(wafl_fsstat(thin, &fs), 0);
	cr_assert_gt(fs.avail_bytes, 50 << 20);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	/* all of it survives a remount */
	cr_assert_eq(wt_open(&t), 0);
	cr_assert_null(wafl_vol_find(t.a, "g"));
	thin = wafl_vol_find(t.a, "thin");
	cr_assert_not_null(thin);
	wafl_vol_info(thin, &ti);
	cr_assert_eq(ti.size_bytes, 300 << 20);
	cr_assert_eq(wafl_getattr(thin, &ft, &at), 0);
	cr_assert_eq(at.size, 512 * 4096);
	cr_assert_eq(wt_close(&t), 0);
	wt_destroy(&t);
}

Test(vol, stale_handles_and_generations)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct wafl_fh root = root_of(&t), f = mkfile(&t, &root, "f"), g;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_remove(t.v, NULL, &root, "f", &st), 0);
	cr_assert_eq(wafl_getattr(t.v, &f, &at), -ESTALE);
	g = mkfile(&t, &root, "g"); /* reuses the inode with a new generation */
	cr_assert_eq(g.ino, f.ino);
	cr_assert_eq(g.gen, f.gen + 1);
	cr_assert_eq(wafl_getattr(t.v, &f, &at), -ESTALE);
	struct wafl_fh bad = g;
	bad.ino = 1; /* a metafile */
	cr_assert_eq(wafl_getattr(t.v, &bad, &at), -ESTALE);
	bad.ino = 1ull << 40;
	cr_assert_eq(wafl_getattr(t.v, &bad, &at), -ESTALE);
	bad = g;
	bad.snapid = 9;
	cr_assert_eq(wafl_getattr(t.v, &bad, &at), -ESTALE);
	/* handles survive a remount */
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_open(&t), 0);
	cr_assert_eq(wafl_getattr(t.v, &g, &at), 0);
	cr_assert_eq(wafl_getattr(t.v, &f, &at), -ESTALE);
	cr_assert_eq(wt_close(&t), 0);
	wt_destroy(&t);
}

Test(vol, sparse_file_past_16_tib)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0);
	struct wafl_fh root = root_of(&t), f = mkfile(&t, &root, "sparse");
	uint64_t far = (16ull << 40) + 12345;
	cr_assert_eq(put(&t, &f, far, 10000, 5, WAFL_FILE_SYNC), 0);
	cr_assert_eq(put(&t, &f, 4 << 20, 100, 6, WAFL_FILE_SYNC), 0);
	struct wafl_attr at;
	cr_assert_eq(wafl_getattr(t.v, &f, &at), 0);
	cr_assert_eq(at.size, far + 10000);
	cr_assert_lt(at.used_bytes, 64 << 10, "holes cost nothing: %llu",
		     (unsigned long long)at.used_bytes);
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	expect(&t, &f, far, 10000, 5);
	/* a hole reads as zeros */
	char z[8192];
	uint32_t got;
	bool eof;
	cr_assert_eq(wafl_read(t.v, NULL, &f, 1ull << 40, sizeof(z), z, &got, &eof), 0);
	cr_assert_eq(got, sizeof(z));
	for (unsigned i = 0; i < sizeof(z); i++)
		cr_assert_eq(z[i], 0);
	cr_assert_not(eof);
	/* past the limit */
	struct wafl_stab st;
	cr_assert_eq(wafl_write(t.v, NULL, &f, WAFL_MAX_FILE_SIZE, 1, z, WAFL_UNSTABLE, &at, &st),
		     -EFBIG);
	/* truncate down frees the far blocks */
	struct wafl_sattr sa = {.mask = WAFL_SA_SIZE, .size = (4 << 20) + 50};
	cr_assert_eq(wafl_setattr(t.v, NULL, &f, &sa, &at, &st), 0);
	cr_assert_eq(at.size, (4 << 20) + 50);
	/* the tail past the new size reads as zeros after growing again */
	sa.size = 8 << 20;
	cr_assert_eq(wafl_setattr(t.v, NULL, &f, &sa, &at, &st), 0);
	char b[100];
	cr_assert_eq(wafl_read(t.v, NULL, &f, 4 << 20, 100, b, &got, &eof), 0);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(b[i], (char)(6 + i * 31));
	for (int i = 50; i < 100; i++)
		cr_assert_eq(b[i], 0);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(vol, names_links_special_files)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_TRAD, 1, 64 << 20, 0), 0);
	struct wafl_fh root = root_of(&t), f, d, x;
	struct wafl_attr at;
	struct wafl_stab st;
	char n255[256], n256[257];
	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	cr_assert_eq(wafl_create(t.v, NULL, &root, n255, WAFL_GUARDED, NULL, 0, &f, &at, &st), 0);
	cr_assert_eq(wafl_create(t.v, NULL, &root, n256, WAFL_GUARDED, NULL, 0, &x, &at, &st),
		     -ENAMETOOLONG);
	cr_assert_eq(wafl_create(t.v, NULL, &root, "a/b", WAFL_GUARDED, NULL, 0, &x, &at, &st),
		     -EINVAL);
	cr_assert_eq(wafl_create(t.v, NULL, &root, "", WAFL_GUARDED, NULL, 0, &x, &at, &st),
		     -EINVAL);
	cr_assert_eq(wafl_create(t.v, NULL, &root, n255, WAFL_GUARDED, NULL, 0, &x, &at, &st),
		     -EEXIST);
	cr_assert_eq(wafl_create(t.v, NULL, &root, ".", WAFL_GUARDED, NULL, 0, &x, &at, &st),
		     -EEXIST);
	/* ".." of the root is the root */
	cr_assert_eq(wafl_lookup(t.v, NULL, &root, "..", &x, &at), 0);
	cr_assert_eq(x.ino, root.ino);
	/* exclusive create: a retry with the same verifier gets the file */
	struct wafl_fh e1, e2;
	cr_assert_eq(wafl_create(t.v, NULL, &root, "ex", WAFL_EXCLUSIVE, NULL, 77, &e1, &at, &st),
		     0);
	cr_assert_eq(wafl_create(t.v, NULL, &root, "ex", WAFL_EXCLUSIVE, NULL, 77, &e2, &at, &st),
		     0);
	cr_assert_eq(e1.ino, e2.ino);
	cr_assert_eq(wafl_create(t.v, NULL, &root, "ex", WAFL_EXCLUSIVE, NULL, 78, &e2, &at, &st),
		     -EEXIST);
	/* hard links across directories */
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "d", NULL, &d, &at, &st), 0);
	cr_assert_eq(wafl_link(t.v, NULL, &f, &d, "l", &st), 0);
	cr_assert_eq(wafl_getattr(t.v, &f, &at), 0);
	cr_assert_eq(at.nlink, 2);
	cr_assert_eq(wafl_link(t.v, NULL, &d, &root, "dl", &st), -EPERM);
	cr_assert_eq(wafl_remove(t.v, NULL, &root, n255, &st), 0);
	cr_assert_eq(wafl_getattr(t.v, &f, &at), 0);
	cr_assert_eq(at.nlink, 1);
	/* symlinks */
	cr_assert_eq(wafl_symlink(t.v, NULL, &d, "s", "../target/x", NULL, &x, &at, &st), 0);
	cr_assert_eq(at.type, WAFL_FT_LNK);
	cr_assert_eq(at.size, 11);
	char lb[WAFL_PATH_MAX + 1];
	size_t ll;
	cr_assert_eq(wafl_readlink(t.v, NULL, &x, lb, sizeof(lb), &ll), 0);
	cr_assert_eq(ll, 11);
	cr_assert_eq(memcmp(lb, "../target/x", 11), 0);
	char longt[4096];
	memset(longt, 'x', 4095);
	longt[4095] = 0;
	cr_assert_eq(wafl_symlink(t.v, NULL, &d, "s2", longt, NULL, &x, &at, &st), 0);
	cr_assert_eq(wafl_readlink(t.v, NULL, &x, lb, sizeof(lb), &ll), 0);
	cr_assert_eq(ll, 4095);
	/* device nodes, fifos, sockets */
	cr_assert_eq(wafl_mknod(t.v, NULL, &d, "c", WAFL_FT_CHR, 4, 64, NULL, &x, &at, &st), 0);
	cr_assert_eq(at.type, WAFL_FT_CHR);
	cr_assert_eq(at.rdev_major, 4);
	cr_assert_eq(at.rdev_minor, 64);
	cr_assert_eq(wafl_mknod(t.v, NULL, &d, "p", WAFL_FT_FIFO, 0, 0, NULL, &x, &at, &st), 0);
	cr_assert_eq(wafl_mknod(t.v, NULL, &d, "k", WAFL_FT_SOCK, 0, 0, NULL, &x, &at, &st), 0);
	struct wafl_cred user = {.uid = 1000, .gid = 1000};
	cr_assert_eq(wafl_mknod(t.v, &user, &root, "c2", WAFL_FT_CHR, 1, 1, NULL, &x, &at, &st),
		     -EPERM);
	/* rmdir of a non-empty directory, of a file, of "." */
	cr_assert_eq(wafl_rmdir(t.v, NULL, &root, "d", &st), -ENOTEMPTY);
	cr_assert_eq(wafl_rmdir(t.v, NULL, &root, "ex", &st), -ENOTDIR);
	cr_assert_eq(wafl_remove(t.v, NULL, &root, "d", &st), -EISDIR);
	cr_assert_eq(wafl_rmdir(t.v, NULL, &d, ".", &st), -EINVAL);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(vol, rename_rules)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct wafl_fh root = root_of(&t), a, b, c, f, g, x;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "a", NULL, &a, &at, &st), 0);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &a, "b", NULL, &b, &at, &st), 0);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "c", NULL, &c, &at, &st), 0);
	f = mkfile(&t, &a, "f");
	g = mkfile(&t, &c, "g");
	/* a directory may not move under itself */
	cr_assert_eq(wafl_rename(t.v, NULL, &root, "a", &b, "a2", &st), -EINVAL);
	cr_assert_eq(wafl_rename(t.v, NULL, &root, "a", &a, "a2", &st), -EINVAL);
	/* file over file: atomic replace, the old target is gone */
	cr_assert_eq(wafl_rename(t.v, NULL, &a, "f", &c, "g", &st), 0);
	cr_assert_eq(wafl_getattr(t.v, &g, &at), -ESTALE);
	cr_assert_eq(wafl_lookup(t.v, NULL, &c, "g", &x, &at), 0);
	cr_assert_eq(x.ino, f.ino);
	cr_assert_eq(wafl_lookup(t.v, NULL, &a, "f", &x, &at), -ENOENT);
	/* same name to the same file: nothing happens */
	cr_assert_eq(wafl_rename(t.v, NULL, &c, "g", &c, "g", &st), 0);
	cr_assert_eq(wafl_lookup(t.v, NULL, &c, "g", &x, &at), 0);
	/* file over directory and directory over file */
	cr_assert_eq(wafl_rename(t.v, NULL, &c, "g", &a, "b", &st), -EISDIR);
	cr_assert_eq(wafl_rename(t.v, NULL, &a, "b", &c, "g", &st), -ENOTDIR);
	/* directory over a non-empty directory, then over an empty one */
	struct wafl_fh e;
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "e", NULL, &e, &at, &st), 0);
	cr_assert_eq(wafl_rename(t.v, NULL, &root, "e", &root, "c", &st), -ENOTEMPTY);
	cr_assert_eq(wafl_rename(t.v, NULL, &root, "c", &root, "e", &st), 0);
	cr_assert_eq(wafl_getattr(t.v, &e, &at), -ESTALE);
	/* moving a directory fixes ".." and link counts */
	cr_assert_eq(wafl_rename(t.v, NULL, &a, "b", &c, "b", &st), 0);
	cr_assert_eq(wafl_lookup(t.v, NULL, &b, "..", &x, &at), 0);
	cr_assert_eq(x.ino, c.ino);
	cr_assert_eq(wafl_getattr(t.v, &a, &at), 0);
	cr_assert_eq(at.nlink, 2);
	cr_assert_eq(wafl_getattr(t.v, &c, &at), 0);
	cr_assert_eq(at.nlink, 3);
	cr_assert_eq(wafl_rename(t.v, NULL, &root, "nope", &root, "x", &st), -ENOENT);
	cr_assert_eq(wafl_rename(t.v, NULL, &root, ".", &root, "x", &st), -EINVAL);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(vol, permissions)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct wafl_fh root = root_of(&t), d, f, x;
	struct wafl_attr at;
	struct wafl_stab st;
	struct wafl_cred alice = {.uid = 1000, .gid = 100};
	struct wafl_cred bob = {.uid = 1001, .gid = 100};
	struct wafl_cred carol = {.uid = 1002, .gid = 200, .ngroups = 1, .groups = {300}};
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 01777};
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "tmp", &sa, &d, &at, &st), 0);
	cr_assert_eq(at.mode, 01777);
	cr_assert_eq(wafl_create(t.v, &alice, &d, "af", WAFL_GUARDED, NULL, 0, &f, &at, &st), 0);
	cr_assert_eq(at.uid, 1000);
	cr_assert_eq(at.gid, 100);
	cr_assert_eq(at.mode, 0644);
	char buf[10] = "x";
	cr_assert_eq(wafl_write(t.v, &bob, &f, 0, 1, buf, WAFL_UNSTABLE, &at, &st), -EACCES);
	cr_assert_eq(wafl_write(t.v, &alice, &f, 0, 1, buf, WAFL_UNSTABLE, &at, &st), 0);
	/* sticky: bob may not remove or rename alice's file */
	cr_assert_eq(wafl_remove(t.v, &bob, &d, "af", &st), -EPERM);
	cr_assert_eq(wafl_rename(t.v, &bob, &d, "af", &d, "bf", &st), -EPERM);
	/* chown: only root; chgrp to a group the owner is in */
	struct wafl_sattr ch = {.mask = WAFL_SA_UID, .uid = 1001};
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &ch, &at, &st), -EPERM);
	ch = (struct wafl_sattr){.mask = WAFL_SA_GID, .gid = 300};
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &ch, &at, &st), -EPERM);
	cr_assert_eq(wafl_setattr(t.v, NULL, &f, &ch, &at, &st), 0);
	cr_assert_eq(at.gid, 300);
	/* supplementary groups count for access */
	sa = (struct wafl_sattr){.mask = WAFL_SA_MODE, .mode = 0060};
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &sa, &at, &st), 0);
	cr_assert_eq(wafl_write(t.v, &carol, &f, 0, 1, buf, WAFL_UNSTABLE, &at, &st), 0);
	cr_assert_eq(wafl_write(t.v, &bob, &f, 0, 1, buf, WAFL_UNSTABLE, &at, &st), -EACCES);
	unsigned granted;
	cr_assert_eq(wafl_access(t.v, &carol, &f, 7, &granted), 0);
	cr_assert_eq(granted, 6);
	/* setgid directories hand down their group */
	sa = (struct wafl_sattr){.mask = WAFL_SA_MODE, .mode = 02777};
	struct wafl_fh sg;
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "sg", &sa, &sg, &at, &st), 0);
	ch = (struct wafl_sattr){.mask = WAFL_SA_GID, .gid = 555};
	cr_assert_eq(wafl_setattr(t.v, NULL, &sg, &ch, &at, &st), 0);
	cr_assert_eq(wafl_mkdir(t.v, &alice, &sg, "sub", NULL, &x, &at, &st), 0);
	cr_assert_eq(at.gid, 555);
	cr_assert(at.mode & 02000);
	cr_assert_eq(wafl_create(t.v, &alice, &sg, "sf", WAFL_GUARDED, NULL, 0, &x, &at, &st), 0);
	cr_assert_eq(at.gid, 555);
	/* no search permission, no lookup */
	sa = (struct wafl_sattr){.mask = WAFL_SA_MODE, .mode = 0700};
	struct wafl_fh priv;
	cr_assert_eq(wafl_mkdir(t.v, &alice, &root, "priv", NULL, &priv, &at, &st), -EACCES);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "priv", &sa, &priv, &at, &st), 0);
	cr_assert_eq(wafl_lookup(t.v, &bob, &priv, "x", &x, &at), -EACCES);
	/* times: explicit values only by the owner */
	struct wafl_sattr tm = {.mask = WAFL_SA_MTIME, .mtime = {1000, 5}};
	cr_assert_eq(wafl_setattr(t.v, &bob, &f, &tm, &at, &st), -EPERM);
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &tm, &at, &st), 0);
	cr_assert_eq(at.mtime.tv_sec, 1000);
	cr_assert_eq(at.mtime.tv_nsec, 5);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(vol, replay_twice_is_replay_once)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0);
	struct wafl_fh root = root_of(&t), d;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "d", NULL, &d, &at, &st), 0);
	struct wafl_fh f = mkfile(&t, &d, "f");
	cr_assert_eq(put(&t, &f, 0, 100000, 9, WAFL_FILE_SYNC), 0);
	struct wafl_sattr sa = {.mask = WAFL_SA_SIZE, .size = 5000};
	cr_assert_eq(wafl_setattr(t.v, NULL, &f, &sa, &at, &st), 0);
	cr_assert_eq(put(&t, &f, 4000, 3000, 11, WAFL_FILE_SYNC), 0);
	cr_assert_eq(wafl_link(t.v, NULL, &f, &root, "l", &st), 0);
	cr_assert_eq(wt_wait(&t, &st), 0);
	wt_crash(&t);
	/* replay, then crash again right away, and replay again */
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(wt_check(&t, true), 0);
		cr_assert_eq(wt_open(&t), 0);
		cr_assert_eq(wafl_getattr(t.v, &f, &at), 0, "round %d", round);
		cr_assert_eq(at.size, 7000);
		cr_assert_eq(at.nlink, 2);
		expect(&t, &f, 0, 4000, 9);
		expect(&t, &f, 4000, 3000, 11);
		wt_crash(&t);
	}
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

struct page {
	uint64_t last;
	unsigned n, want;
	char (*names)[16];
	uint64_t *cookies;
};

static int page_cb(void *arg, const struct wafl_dirent *e)
{
	struct page *p = arg;
	if (p->n == p->want)
		return 1;
	snprintf(p->names[p->n], 16, "%.*s", (int)e->namelen, e->name);
	p->cookies[p->n] = e->cookie;
	p->last = e->cookie;
	p->n++;
	return 0;
}

Test(vol, readdir_cookies_stable_across_changes)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 128 << 20, 256 << 20), 0);
	struct wafl_fh root = root_of(&t), d, x;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "big", NULL, &d, &at, &st), 0);
	enum { N = 20000 };
	char name[16];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		cr_assert_eq(WT_RETRY(&t, wafl_create(t.v, NULL, &d, name, WAFL_GUARDED, NULL, 0,
						      &x, &at, &st)),
			     0);
	}
	/* page through 100 at a time; between pages remove odd names ahead
	 * and add new ones: every name present throughout appears once */
	char *seen = calloc(N, 1);
	struct page p = {.want = 100};
	p.names = calloc(100, 16);
	p.cookies = calloc(100, 8);
	uint64_t cookie = 0, prev = 0;
	bool eof = false;
	int added = 0, pages = 0;
	uint64_t rnd = 42;
	while (!eof) {
		p.n = 0;
		cr_assert_eq(wafl_readdir(t.v, NULL, &d, cookie, page_cb, &p, &eof), 0);
		for (unsigned i = 0; i < p.n; i++) {
			cr_assert_gt(p.cookies[i], prev, "cookies increase");
			prev = p.cookies[i];
			int k;
			if (sscanf(p.names[i], "n%d", &k) == 1) {
				cr_assert_eq(seen[k], 0, "n%d twice", k);
				seen[k] = 1;
			}
		}
		if (p.n)
			cookie = p.last;
		if (p.n < p.want)
			eof = true;
		pages++;
		for (int j = 0; j < 20; j++) {
			int k = (int)(wt_rand(&rnd) % N) | 1;
			snprintf(name, sizeof(name), "n%d", k);
			if (!seen[k] && wafl_remove(t.v, NULL, &d, name, &st) == 0)
				seen[k] = 2; /* gone before it was reached */
			snprintf(name, sizeof(name), "new%d", added++);
			cr_assert_eq(WT_RETRY(&t, wafl_create(t.v, NULL, &d, name, WAFL_GUARDED,
							      NULL, 0, &x, &at, &st)),
				     0);
		}
	}
	for (int k = 0; k < N; k++)
		cr_assert(seen[k] != 0 || (k & 1), "n%d was never returned", k);
	for (int k = 0; k < N; k += 2)
		cr_assert_eq(seen[k], 1, "even name n%d missing", k);
	cr_assert_gt(pages, N / 100);
	free(seen);
	free(p.names);
	free(p.cookies);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

/* The CP taken after a replay must not overwrite the superblock copy that
 * holds the newest durable CP: if its own superblock write tears, the
 * older one must still mount (and the log replays again). */
Test(vol, torn_superblock_after_replay_cp)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct wafl_fh root = root_of(&t), f = mkfile(&t, &root, "f");
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(put(&t, &f, 0, 20000, 4, WAFL_FILE_SYNC), 0);
	struct wafl_stab st;
	struct wafl_attr at;
	cr_assert_eq(wafl_write(t.v, NULL, &f, 20000, 10, "0123456789", WAFL_FILE_SYNC, &at, &st),
		     0);
	cr_assert_eq(wt_wait(&t, &st), 0);
	wt_crash(&t);
	cr_assert_eq(wt_open(&t), 0); /* replays, then takes a CP */
	wt_crash(&t);
	/* tear the newest superblock: flip a byte in the copy with the
	 * highest CP number */
	FILE *d = fopen(t.disk_path[0], "r+b");
	cr_assert_not_null(d);
	uint64_t cp[2];
	for (int c = 0; c < 2; c++) {
		cr_assert_eq(fseek(d, (long)(1 + c) * 4160 + 24, SEEK_SET), 0);
		cr_assert_eq(fread(&cp[c], 8, 1, d), 1);
	}
	int newest = cp[1] > cp[0];
	cr_assert_eq(fseek(d, (long)(1 + newest) * 4160 + 100, SEEK_SET), 0);
	int ch = fgetc(d);
	cr_assert_eq(fseek(d, (long)(1 + newest) * 4160 + 100, SEEK_SET), 0);
	fputc(ch ^ 0xff, d);
	fclose(d);
	cr_assert_eq(wt_check(&t, true), 0, "the older superblock's tree is intact");
	cr_assert_eq(wt_open(&t), 0);
	expect(&t, &f, 0, 20000, 4);
	char b[10];
	uint32_t got;
	bool eof;
	cr_assert_eq(wafl_read(t.v, NULL, &f, 20000, 10, b, &got, &eof), 0);
	cr_assert_eq(memcmp(b, "0123456789", 10), 0);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

/* A stable write bigger than a log half cannot be logged: it is made
 * durable by a CP instead of waiting forever for log room. */
Test(vol, stable_write_larger_than_log_half)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0); /* 8 MiB halves */
	struct wafl_fh root = root_of(&t), f = mkfile(&t, &root, "f");
	size_t len = 9 << 20;
	char *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 13 + 1);
	struct wafl_stab st;
	struct wafl_attr at;
	cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &f, 0, (uint32_t)len, buf, WAFL_FILE_SYNC,
					     &at, &st)),
		     0);
	cr_assert_neq(st.cp, 0, "durability comes from a CP");
	cr_assert_eq(wt_wait(&t, &st), 0);
	wt_crash(&t);
	cr_assert_eq(wt_open(&t), 0);
	char *back = malloc(len);
	uint32_t got;
	bool eof;
	cr_assert_eq(wafl_read(t.v, NULL, &f, 0, (uint32_t)len, back, &got, &eof), 0);
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(buf, back, len), 0);
	free(buf);
	free(back);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

/* pjdfstest chmod/11 and chown/07: an owner may set the sticky bit on a
 * file; a non-owner's chown is EPERM even when it would change nothing. */
Test(vol, sticky_bit_and_noop_chown)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct wafl_fh root = root_of(&t), f;
	struct wafl_attr at;
	struct wafl_stab st;
	struct wafl_cred alice = {.uid = 1000, .gid = 100}, bob = {.uid = 1001, .gid = 100};
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0777};
	cr_assert_eq(wafl_setattr(t.v, NULL, &root, &sa, &at, &st), 0);
	cr_assert_eq(wafl_create(t.v, &alice, &root, "f", WAFL_GUARDED, NULL, 0, &f, &at, &st), 0);
	sa.mode = 01644;
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &sa, &at, &st), 0);
	cr_assert_eq(at.mode, 01644);
	struct wafl_sattr ch = {.mask = WAFL_SA_UID | WAFL_SA_GID, .uid = 1000, .gid = 100};
	cr_assert_eq(wafl_setattr(t.v, &bob, &f, &ch, &at, &st), -EPERM);
	cr_assert_eq(wafl_setattr(t.v, &alice, &f, &ch, &at, &st), 0);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}
