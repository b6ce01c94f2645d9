/*
 * test_snap.c - snapshots, clones and snapshot schedules through the real
 * filerctl and a real filer (tests/lib/filerproc.h): every command with
 * its exit status and words, the 255-snapshot limit, a snapshot a clone
 * depends on, a clone's writes that leave its parent alone (over NFS,
 * with libnfs), a clone split, .snapshot from an NFS client, the snapdir
 * option, schedules that survive a restart and expire exactly what they
 * should (by `snap sched-run`, and by the clock itself sped up with
 * FILER_SNAP_HOUR_SECONDS).
 *
 * Each test starts build/bin/filer ($FILER) on the embedded default in a
 * scratch home: aggregate aggr0, volume vol0 exported as /vol/vol0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/filerproc.h"
#include "tests/unit/filer/ctlrun.h"

static struct filerproc fp;
static struct run R; /* big: not on the stack */

static void start(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
}

static void stop(void)
{
	run_done(&R);
	if (fp.pid > 0) {
		int st = fp_stop(&fp, SIGTERM);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the filer exited with %d", st);
	}
	fp_destroy(&fp);
}

/* A clean stop and a start on the same home (with the environment the
 * test set). */
static void restart(void)
{
	int st = fp_stop(&fp, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the filer exited with %d", st);
	int rc = fp_start(&fp);
	cr_assert_eq(rc, 0, "cannot start the filer again: %s", strerror(-rc));
}

TestSuite(snap, .init = start, .fini = stop, .timeout = 180);

/* ---- helpers -------------------------------------------------------------- */

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static struct nfs_context *mount_port(const char *path)
{
	struct nfs_context *n = nfs_init_context();
	cr_assert_not_null(n);
	nfs_set_timeout(n, 10000);
	char url[512];
	snprintf(url, sizeof(url), "nfs://127.0.0.1%s?nfsport=%u&mountport=%u&version=3", path,
		 fp.port, fp.port);
	struct nfs_url *u = nfs_parse_url_dir(n, url);
	cr_assert_not_null(u, "%s: %s", url, nfs_get_error(n));
	int rc = nfs_mount(n, u->server, u->path);
	cr_assert_eq(rc, 0, "mount %s: %s", url, nfs_get_error(n));
	nfs_destroy_url(u);
	return n;
}

static void put_text(struct nfs_context *n, const char *path, const char *text)
{
	struct nfsfh *h;
	int rc = nfs_open(n, path, O_WRONLY | O_TRUNC, &h);
	if (rc == -ENOENT)
		rc = nfs_creat(n, path, 0644, &h);
	cr_assert_eq(rc, 0, "open %s: %s", path, nfs_get_error(n));
	size_t len = strlen(text);
	cr_assert_eq(nfs_pwrite(n, h, 0, len, text), (int)len, "write %s: %s", path,
		     nfs_get_error(n));
	cr_assert_eq(nfs_fsync(n, h), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_close(n, h), 0);
}

/* The file's text, or NULL when it does not exist. */
static char *get_text(struct nfs_context *n, const char *path)
{
	struct nfsfh *h;
	int rc = nfs_open(n, path, O_RDONLY, &h);
	if (rc == -ENOENT)
		return NULL;
	cr_assert_eq(rc, 0, "open %s: %s", path, nfs_get_error(n));
	static char buf[4096];
	int got = nfs_pread(n, h, 0, sizeof(buf) - 1, buf);
	cr_assert_geq(got, 0, "read %s: %s", path, nfs_get_error(n));
	buf[got] = '\0';
	nfs_close(n, h);
	return buf;
}

static void expect_text(struct nfs_context *n, const char *path, const char *text)
{
	char *got = get_text(n, path);
	cr_assert_not_null(got, "%s does not exist", path);
	cr_assert_str_eq(got, text, "%s", path);
}

/* Whether a directory listing has name. */
static bool lists(struct nfs_context *n, const char *dir, const char *name)
{
	struct nfsdir *d;
	cr_assert_eq(nfs_opendir(n, dir, &d), 0, "opendir %s: %s", dir, nfs_get_error(n));
	bool found = false;
	struct nfsdirent *e;
	while ((e = nfs_readdir(n, d)))
		found |= !strcmp(e->name, name);
	nfs_closedir(n, d);
	return found;
}

/* The snapshots of vol, as JSON (r->json.snapshots), asserted to succeed. */
static size_t snap_list(struct run *r, const char *vol)
{
	run_done(r);
	ctl(r, &fp, "--json", "snap", "list", vol, NULL);
	EXPECT_OK(r);
	return jlen(&r->json, "snapshots");
}

/* vol status VOL --json into r, asserted to succeed. */
static void vol_status(struct run *r, const char *vol)
{
	run_done(r);
	ctl(r, &fp, "--json", "vol", "status", vol, NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "volumes"), 1);
}

/* ---- snapshots -------------------------------------------------------------- */

Test(snap, create_list_rename_delete)
{
	struct run *r = &R;
	cr_assert_eq(snap_list(r, "vol0"), 0);
	run_done(r);
	ctl(r, &fp, "snap", "list", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Volume 'vol0' has no snapshots."), "%s", r->out);

	time_t t0 = time(NULL);
	ctl(r, &fp, "snap", "create", "vol0", "s1", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Snapshot 's1' of volume 'vol0' created."), "%s", r->out);
	ctl(r, &fp, "--json", "snap", "create", "vol0", "s2", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "volume"), "vol0");
	cr_assert_str_eq(jstr(&r->json, "snapshot"), "s2");
	run_done(r);

	/* oldest first; durable when filerctl returned, so in the list now */
	cr_assert_eq(snap_list(r, "vol0"), 2);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.name"), "s1");
	cr_assert_str_eq(jstr(&r->json, "snapshots.1.name"), "s2");
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.volume"), "vol0");
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.clone"), "");
	unsigned long long cp1 = jnum(&r->json, "snapshots.0.cp");
	unsigned long long cp2 = jnum(&r->json, "snapshots.1.cp");
	cr_assert_gt(cp1, 0);
	cr_assert_gt(cp2, cp1, "each snapshot is its own CP");
	long long created = (long long)jnum(&r->json, "snapshots.0.created_sec");
	cr_assert(created >= (long long)t0 - 1 && created <= (long long)time(NULL) + 1,
		  "created %lld, started %lld", created, (long long)t0);
	cr_assert_gt(jnum(&r->json, "snapshots.0.image_bytes"), 0);
	cr_assert_neq(jnum(&r->json, "snapshots.0.snapid"), jnum(&r->json, "snapshots.1.snapid"));
	run_done(r);

	ctl(r, &fp, "snap", "list", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Snapshot") && strstr(r->out, "Created") &&
			  strstr(r->out, "Own") && strstr(r->out, "Clone"),
		  "%s", r->out);
	cr_assert(strstr(r->out, "\ns1 ") && strstr(r->out, "\ns2 "), "%s", r->out);
	/* every volume: a column for the volume */
	ctl(r, &fp, "snap", "list", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Volume") && strstr(r->out, "\nvol0 "), "%s", r->out);
	cr_assert(strstr(strstr(r->out, "\nvol0 "), " s1 "), "%s", r->out);

	vol_status(r, "vol0");
	cr_assert_eq(jnum(&r->json, "volumes.0.nsnaps"), 2);
	cr_assert_str_eq(jstr(&r->json, "volumes.0.parent"), "");
	run_done(r);
	ctl(r, &fp, "vol", "status", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Snaps") && strstr(r->out, "Snapshots: 2,"), "%s", r->out);

	/* the same name twice */
	ctl(r, &fp, "snap", "create", "vol0", "s1", NULL);
	EXPECT_FAIL(r, 1, "snapshot 's1' of volume 'vol0' already exists");
	ctl(r, &fp, "--json", "snap", "create", "vol0", "s1", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EEXIST");
	run_done(r);

	/* rename */
	ctl(r, &fp, "snap", "rename", "vol0", "s1", "first", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "renamed 'first'"), "%s", r->out);
	cr_assert_eq(snap_list(r, "vol0"), 2);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.name"), "first");
	cr_assert_eq(jnum(&r->json, "snapshots.0.cp"), cp1, "a rename keeps the image");
	run_done(r);
	ctl(r, &fp, "snap", "rename", "vol0", "s1", "again", NULL);
	EXPECT_FAIL(r, 1, "no such snapshot 's1' of volume 'vol0'");
	ctl(r, &fp, "snap", "rename", "vol0", "first", "s2", NULL);
	EXPECT_FAIL(r, 1, "snapshot 's2' of volume 'vol0' already exists");

	/* delete */
	ctl(r, &fp, "snap", "delete", "vol0", "first", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Snapshot 'first' of volume 'vol0' deleted"), "%s", r->out);
	ctl(r, &fp, "snap", "delete", "vol0", "first", NULL);
	EXPECT_FAIL(r, 1, "no such snapshot 'first' of volume 'vol0'");
	cr_assert_eq(snap_list(r, "vol0"), 1);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.name"), "s2");
	run_done(r);

	/* what is not there, and what is not a name */
	ctl(r, &fp, "snap", "create", "nosuch", "s1", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "snap", "list", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "snap", "delete", "nosuch", "s2", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "--json", "snap", "create", "vol0", "bad/name", NULL);
	cr_assert_eq(r->code, 1, "%s", r->err);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EINVAL");
	cr_assert(strstr(jstr(&r->json, "error.detail"), "bad snapshot name"), "%s", r->out);
	run_done(r);
	ctl(r, &fp, "snap", "create", "vol0", NULL);
	EXPECT_FAIL(r, 2, "usage: filerctl snap create VOLUME NAME");
	ctl(r, &fp, "snap", "rename", "vol0", "s2", NULL);
	EXPECT_FAIL(r, 2, "'snap rename' takes a volume, a snapshot and its new name");
	ctl(r, &fp, "snap", NULL);
	EXPECT_FAIL(r, 2, "'snap' needs a subcommand: create, delete, rename, list, restore");
	ctl(r, &fp, "snap", "craete", "vol0", "x", NULL);
	EXPECT_FAIL(r, 2, "did you mean 'snap create'?");
	ctl(r, &fp, "help", "snap", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "snap sched-run") && strstr(r->out, "snap restore"), "%s", r->out);

	/* snapshots survive a restart */
	restart();
	cr_assert_eq(snap_list(r, "vol0"), 1);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.name"), "s2");
	cr_assert_eq(jnum(&r->json, "snapshots.0.cp"), cp2);
}

Test(snap, restore_and_snapshot_directory)
{
	struct run *r = &R;
	struct nfs_context *n = mount_port("/vol/vol0");
	put_text(n, "/f", "before\n");
	cr_assert_eq(nfs_mkdir(n, "/d"), 0, "%s", nfs_get_error(n));
	put_text(n, "/d/inner", "inner before\n");
	ctl(r, &fp, "snap", "create", "vol0", "r1", NULL);
	EXPECT_OK(r);
	put_text(n, "/f", "after\n");
	put_text(n, "/g", "new\n");
	put_text(n, "/d/inner", "inner after\n");

	/* the snapshot from the client: .snapshot in every directory */
	expect_text(n, "/.snapshot/r1/f", "before\n");
	expect_text(n, "/.snapshot/r1/d/inner", "inner before\n");
	expect_text(n, "/d/.snapshot/r1/inner", "inner before\n");
	cr_assert_null(get_text(n, "/.snapshot/r1/g"));
	cr_assert(lists(n, "/.snapshot", "r1"));
	/* read-only */
	struct nfsfh *h;
	cr_assert_neq(nfs_creat(n, "/.snapshot/r1/x", 0644, &h), 0);
	cr_assert_neq(nfs_open(n, "/.snapshot/r1/f", O_WRONLY, &h), 0);
	/* the copy back a user would make */
	char *old = get_text(n, "/.snapshot/r1/f");
	cr_assert_not_null(old);
	char keep[64];
	snprintf(keep, sizeof(keep), "%s", old);
	put_text(n, "/f.restored", keep);
	expect_text(n, "/f.restored", "before\n");

	/* snapdir: listed or not, entered either way */
	ctl(r, &fp, "vol", "options", "vol0", "snapdir", "visible", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Volume 'vol0': snapdir visible."), "%s", r->out);
	ctl(r, &fp, "vol", "options", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "snapdir visible"), "%s", r->out);
	cr_assert(lists(n, "/", ".snapshot"));
	cr_assert(lists(n, "/d", ".snapshot"));
	ctl(r, &fp, "vol", "options", "vol0", "snapdir", "hidden", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "vol", "options", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "options.snapdir"), "hidden");
	run_done(r);
	vol_status(r, "vol0");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.snapdir"), "hidden");
	run_done(r);
	cr_assert_not(lists(n, "/", ".snapshot"));
	expect_text(n, "/.snapshot/r1/f", "before\n");
	ctl(r, &fp, "vol", "options", "vol0", "snapdir", "maybe", NULL);
	EXPECT_FAIL(r, 2, "snapdir is visible or hidden, not 'maybe'");
	ctl(r, &fp, "vol", "options", "vol0", "colour", "blue", NULL);
	EXPECT_FAIL(r, 2, "no volume option 'colour'");
	ctl(r, &fp, "vol", "options", "nosuch", "snapdir", "hidden", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	nfs_destroy_context(n);

	/* the option is the volume's: it survives a restart */
	restart();
	ctl(r, &fp, "vol", "options", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "snapdir hidden"), "%s", r->out);
	ctl(r, &fp, "vol", "options", "vol0", "snapdir", "visible", NULL);
	EXPECT_OK(r);

	/* restore: the whole volume as it was, other snapshots kept */
	ctl(r, &fp, "snap", "create", "vol0", "r2", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "restore", "vol0", "r1", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Restored from snapshot 'r1'"), "%s", r->out);
	n = mount_port("/vol/vol0");
	expect_text(n, "/f", "before\n");
	expect_text(n, "/d/inner", "inner before\n");
	cr_assert_null(get_text(n, "/g"));
	cr_assert_null(get_text(n, "/f.restored"));
	expect_text(n, "/.snapshot/r2/g", "new\n");
	/* and it is writable as before */
	put_text(n, "/f", "rewritten\n");
	expect_text(n, "/f", "rewritten\n");
	nfs_destroy_context(n);
	cr_assert_eq(snap_list(r, "vol0"), 2);
	run_done(r);
	ctl(r, &fp, "snap", "restore", "vol0", "nope", NULL);
	EXPECT_FAIL(r, 1, "no such snapshot 'nope' of volume 'vol0'");
}

Test(snap, at_most_255_per_volume, .timeout = 600)
{
	struct run *r = &R;
	double t0 = now_sec();
	for (int i = 0; i < 255; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%03d", i);
		ctl(r, &fp, "snap", "create", "vol0", name, NULL);
		cr_assert_eq(r->code, 0, "snapshot %d: exit %d: %s", i, r->code, r->err);
	}
	fprintf(stderr, "snap: 255 snapshots in %.1f s\n", now_sec() - t0);
	ctl(r, &fp, "snap", "create", "vol0", "one-too-many", NULL);
	EXPECT_FAIL(r, 1, "no room for another snapshot of 'vol0'");
	cr_assert(strstr(r->err, "255 snapshots"), "%s", r->err);
	ctl(r, &fp, "--json", "snap", "create", "vol0", "one-too-many", NULL);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "ENOSPC");
	run_done(r);
	cr_assert_eq(snap_list(r, "vol0"), 255);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.name"), "n000");
	cr_assert_str_eq(jstr(&r->json, "snapshots.254.name"), "n254");
	run_done(r);
	vol_status(r, "vol0");
	cr_assert_eq(jnum(&r->json, "volumes.0.nsnaps"), 255);
	run_done(r);
	/* one deleted makes room for one */
	ctl(r, &fp, "snap", "delete", "vol0", "n100", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "create", "vol0", "last", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "create", "vol0", "one-too-many", NULL);
	EXPECT_FAIL(r, 1, "no room for another snapshot");
}

/* ---- clones ----------------------------------------------------------------- */

/* Polls vol status until the clone is split (60 s at most). */
static void wait_split(struct run *r, const char *vol)
{
	double until = now_sec() + 60;
	unsigned ms = 20;
	for (;;) {
		vol_status(r, vol);
		if (!jstr(&r->json, "volumes.0.parent")[0])
			break;
		cr_assert_lt(now_sec(), until, "%s still a clone after 60 s: %s", vol, r->out);
		pause_ms(ms);
		ms = ms < 500 ? ms * 2 : ms;
	}
	cr_assert_not(jbool(&r->json, "volumes.0.splitting"));
	run_done(r);
}

Test(snap, clone_is_independent_and_pins_its_snapshot)
{
	struct run *r = &R;
	struct nfs_context *p = mount_port("/vol/vol0");
	put_text(p, "/a", "parent a\n");
	put_text(p, "/keep", "shared\n");
	ctl(r, &fp, "snap", "create", "vol0", "base", NULL);
	EXPECT_OK(r);
	put_text(p, "/a", "parent a, later\n");

	ctl(r, &fp, "vol", "clone", "create", "c1", "-s", "base", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Volume 'c1' cloned from snapshot 'base' of volume 'vol0'."), "%s",
		  r->out);
	vol_status(r, "c1");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.parent"), "vol0");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.parent_snapshot"), "base");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.aggregate"), "aggr0");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.state"), "online");
	cr_assert_not(jbool(&r->json, "volumes.0.splitting"));
	run_done(r);
	ctl(r, &fp, "vol", "status", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Clone of") && strstr(r->out, "vol0@base"), "%s", r->out);
	cr_assert_eq(snap_list(r, "vol0"), 1);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.clone"), "c1");
	run_done(r);
	ctl(r, &fp, "snap", "list", "vol0", NULL);
	cr_assert(strstr(r->out, " c1"), "%s", r->out);

	/* the snapshot is pinned: the refusal names the clone */
	ctl(r, &fp, "snap", "delete", "vol0", "base", NULL);
	EXPECT_FAIL(r, 1, "snapshot 'base' of volume 'vol0' is busy");
	cr_assert(strstr(r->err, "c1"), "the clone is not named: %s", r->err);
	ctl(r, &fp, "--json", "snap", "delete", "vol0", "base", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EBUSY");
	cr_assert(strstr(jstr(&r->json, "error.message"), "c1"), "%s", r->out);
	run_done(r);

	/* exported like any volume, and its own */
	ctl(r, &fp, "export", "add", "/vol/c1", "c1", "127.0.0.1(rw,insecure,no_root_squash)",
	    NULL);
	EXPECT_OK(r);
	struct nfs_context *c = mount_port("/vol/c1");
	expect_text(c, "/a", "parent a\n");
	expect_text(c, "/keep", "shared\n");
	put_text(c, "/a", "clone a\n");
	put_text(c, "/b", "clone b\n");
	expect_text(c, "/a", "clone a\n");
	expect_text(p, "/a", "parent a, later\n");
	cr_assert_null(get_text(p, "/b"));
	expect_text(p, "/.snapshot/base/a", "parent a\n");
	/* and the parent's writes do not reach the clone */
	put_text(p, "/keep", "parent changed it\n");
	expect_text(c, "/keep", "shared\n");

	/* clones of clones are not the point here; names are */
	ctl(r, &fp, "vol", "clone", "create", "c1", "-s", "base", "vol0", NULL);
	EXPECT_FAIL(r, 1, "volume 'c1' already exists");
	ctl(r, &fp, "vol", "clone", "create", "c2", "-s", "nope", "vol0", NULL);
	EXPECT_FAIL(r, 1, "no such snapshot 'nope' of volume 'vol0'");
	ctl(r, &fp, "vol", "clone", "create", "c2", "-s", "base", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "clone", "create", "c2", "vol0", NULL);
	EXPECT_FAIL(r, 2, "needs -s SNAPSHOT");
	ctl(r, &fp, "vol", "clone", NULL);
	EXPECT_FAIL(r, 2, "'vol clone' needs a subcommand: create, split");
	ctl(r, &fp, "vol", "clone", "craete", "c2", NULL);
	EXPECT_FAIL(r, 2, "did you mean 'vol clone create'?");
	ctl(r, &fp, "vol", "clone", "split", "vol0", NULL);
	EXPECT_FAIL(r, 1, "not a clone");

	/* split: then the snapshot is free to go, and the clone keeps its data */
	ctl(r, &fp, "vol", "clone", "split", "c1", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Splitting clone 'c1'"), "%s", r->out);
	wait_split(r, "c1");
	vol_status(r, "c1");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.parent_snapshot"), "");
	run_done(r);
	cr_assert_eq(snap_list(r, "vol0"), 1);
	cr_assert_str_eq(jstr(&r->json, "snapshots.0.clone"), "");
	run_done(r);
	ctl(r, &fp, "snap", "delete", "vol0", "base", NULL);
	EXPECT_OK(r);
	expect_text(c, "/a", "clone a\n");
	expect_text(c, "/keep", "shared\n");
	expect_text(c, "/b", "clone b\n");
	expect_text(p, "/keep", "parent changed it\n");
	nfs_destroy_context(c);
	nfs_destroy_context(p);

	/* a clone goes like any volume, its export with it */
	ctl(r, &fp, "vol", "offline", "c1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "vol", "destroy", "c1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "export", "list", NULL);
	EXPECT_OK(r);
	cr_assert_null(jfind(&r->json, "exports", "path", "/vol/c1"));
}

Test(snap, a_clone_survives_a_restart_and_its_export_comes_back)
{
	struct run *r = &R;
	ctl(r, &fp, "snap", "create", "vol0", "base", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "vol", "clone", "create", "c1", "-s", "base", "vol0", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "export", "add", "/vol/c1", "c1", "127.0.0.1(rw,insecure,no_root_squash)",
	    NULL);
	EXPECT_OK(r);
	struct nfs_context *c = mount_port("/vol/c1");
	put_text(c, "/x", "in the clone\n");
	nfs_destroy_context(c);
	restart();
	vol_status(r, "c1");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.parent"), "vol0");
	run_done(r);
	c = mount_port("/vol/c1");
	expect_text(c, "/x", "in the clone\n");
	nfs_destroy_context(c);
	ctl(r, &fp, "snap", "delete", "vol0", "base", NULL);
	EXPECT_FAIL(r, 1, "c1");
}

/* ---- schedules -------------------------------------------------------------- */

/* The names of vol's snapshots, oldest first, joined by blanks. */
static const char *snap_names(struct run *r, const char *vol, char *buf, size_t len)
{
	size_t n = snap_list(r, vol);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "snapshots.%zu.name", i);
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? " " : "", jstr(&r->json, path));
	}
	run_done(r);
	return buf;
}

Test(snap, schedules_persist_and_expire)
{
	struct run *r = &R;
	ctl(r, &fp, "snap", "sched", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "No snapshot schedules."), "%s", r->out);
	ctl(r, &fp, "--json", "snap", "sched", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "schedules"), 1);
	cr_assert_eq(jnum(&r->json, "schedules.0.hourly"), 0);
	cr_assert_eq(jnum(&r->json, "schedules.0.next_sec"), 0);
	run_done(r);

	ctl(r, &fp, "snap", "sched", "vol0", "hourly=3", "nightly=2", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "vol0") && strstr(r->out, "hourly"), "%s", r->out);
	ctl(r, &fp, "--json", "snap", "sched", "vol0", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "schedules.0.hourly"), 3);
	cr_assert_eq(jnum(&r->json, "schedules.0.nightly"), 2);
	cr_assert_eq(jnum(&r->json, "schedules.0.weekly"), 0);
	/* the next hour boundary (or midnight, which takes the nightly one) */
	long long next = (long long)jnum(&r->json, "schedules.0.next_sec");
	long long now = (long long)time(NULL);
	cr_assert(next > now && next <= now + 3600 + 1, "next %lld, now %lld", next, now);
	cr_assert_eq(next % 60, 0, "%lld is not on a minute", next);
	const char *kind = jstr(&r->json, "schedules.0.next_kind");
	cr_assert(!strcmp(kind, "hourly") || !strcmp(kind, "nightly"), "%s", kind);
	run_done(r);

	/* remembered in the state directory, and across a restart */
	char path[600];
	snprintf(path, sizeof(path), "%s/state/snapsched", fp.home);
	FILE *in = fopen(path, "r");
	cr_assert_not_null(in, "%s", path);
	char text[1024] = "";
	size_t got = fread(text, 1, sizeof(text) - 1, in);
	text[got] = '\0';
	fclose(in);
	cr_assert(strstr(text, "schedule vol0 hourly=3 nightly=2 weekly=0\n"), "%s", text);
	restart();
	ctl(r, &fp, "--json", "snap", "sched", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "schedules"), 1);
	cr_assert_str_eq(jstr(&r->json, "schedules.0.volume"), "vol0");
	cr_assert_eq(jnum(&r->json, "schedules.0.hourly"), 3);
	cr_assert_eq(jnum(&r->json, "schedules.0.nightly"), 2);
	run_done(r);

	/* runs: hourly.0 is the newest; the oldest beyond 3 expire */
	char names[4096];
	const char *want[] = {"hourly.0", "hourly.1 hourly.0", "hourly.2 hourly.1 hourly.0",
			      "hourly.2 hourly.1 hourly.0", "hourly.2 hourly.1 hourly.0"};
	unsigned long long first_ids[5];
	for (int i = 0; i < 5; i++) {
		ctl(r, &fp, "--json", "snap", "sched-run", "vol0", "hourly", NULL);
		EXPECT_OK(r);
		cr_assert_str_eq(jstr(&r->json, "created"), "hourly.0");
		cr_assert_eq(jnum(&r->json, "kept"), i < 3 ? (unsigned)i + 1 : 3);
		cr_assert_eq(jlen(&r->json, "deleted"), i < 3 ? 0 : 1, "run %d: %s", i, r->out);
		if (i >= 3)
			cr_assert_str_eq(jstr(&r->json, "deleted.0"), "hourly.3");
		run_done(r);
		cr_assert_str_eq(snap_names(r, "vol0", names, sizeof(names)), want[i]);
		cr_assert_eq(snap_list(r, "vol0"), i < 3 ? (size_t)i + 1 : 3);
		/* the newest's id: expiry must keep exactly the newest three */
		char p[64];
		snprintf(p, sizeof(p), "snapshots.%d.snapid", i < 3 ? i : 2);
		first_ids[i] = jnum(&r->json, p);
		run_done(r);
	}
	cr_assert_eq(snap_list(r, "vol0"), 3);
	for (int i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof(p), "snapshots.%d.snapid", i);
		cr_assert_eq(jnum(&r->json, p), first_ids[2 + i], "snapshot %d is not run %d's", i,
			     2 + i);
	}
	run_done(r);

	/* text; other kinds leave the hourly ones alone; an administrator's
	 * own snapshot is not of any kind */
	ctl(r, &fp, "snap", "create", "vol0", "mine", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "sched-run", "vol0", "nightly", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Snapshot 'nightly.0' of volume 'vol0' created; 1 nightly "
				 "snapshot kept."),
		  "%s", r->out);
	ctl(r, &fp, "snap", "sched-run", "vol0", "nightly", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "sched-run", "vol0", "nightly", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "2 nightly snapshots kept; expired: nightly.2."), "%s", r->out);
	cr_assert_str_eq(snap_names(r, "vol0", names, sizeof(names)),
			 "hourly.2 hourly.1 hourly.0 mine nightly.1 nightly.0");

	/* lower the count: the next run expires down to it */
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "snap", "sched-run", "vol0", "hourly", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "deleted"), 3, "%s", r->out);
	cr_assert_eq(jnum(&r->json, "kept"), 1);
	run_done(r);
	cr_assert_str_eq(snap_names(r, "vol0", names, sizeof(names)),
			 "mine nightly.1 nightly.0 hourly.0");

	/* a scheduled snapshot a clone depends on is kept, not expired */
	ctl(r, &fp, "vol", "clone", "create", "c1", "-s", "hourly.0", "vol0", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "snap", "sched-run", "vol0", "hourly", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "deleted"), 0, "%s", r->out);
	cr_assert_eq(jnum(&r->json, "kept"), 2);
	run_done(r);
	cr_assert_str_eq(snap_names(r, "vol0", names, sizeof(names)),
			 "mine nightly.1 nightly.0 hourly.1 hourly.0");

	/* refusals */
	ctl(r, &fp, "snap", "sched-run", "vol0", "weekly", NULL);
	EXPECT_FAIL(r, 1, "vol0 keeps no weekly snapshots");
	ctl(r, &fp, "snap", "sched-run", "vol0", "daily", NULL);
	EXPECT_FAIL(r, 2, "'daily' is not hourly, nightly or weekly");
	ctl(r, &fp, "snap", "sched-run", "nosuch", "hourly", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "snap", "sched", "nosuch", "hourly=1", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=-1", NULL);
	EXPECT_FAIL(r, 2, "bad count in 'hourly=-1'");
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=300", NULL);
	EXPECT_FAIL(r, 2, "bad count in 'hourly=300'");
	ctl(r, &fp, "snap", "sched", "vol0", "yearly=1", NULL);
	EXPECT_FAIL(r, 2, "'yearly=1' is not hourly=N, nightly=N or weekly=N");
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=200", "nightly=50", "weekly=6", NULL);
	EXPECT_FAIL(r, 1, "a volume holds at most 255");

	/* all zero: no schedule, and the state file says so too */
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=0", "nightly=0", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "sched", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "No snapshot schedules."), "%s", r->out);
	restart();
	ctl(r, &fp, "--json", "snap", "sched", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "schedules"), 0, "%s", r->out);
	run_done(r);
}

Test(snap, a_destroyed_volume_loses_its_schedule)
{
	struct run *r = &R;
	ctl(r, &fp, "vol", "create", "v1", "aggr0", "64M", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "sched", "v1", "weekly=2", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=2", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "vol", "offline", "v1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "vol", "destroy", "v1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "snap", "sched", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "schedules"), 1, "%s", r->out);
	cr_assert_str_eq(jstr(&r->json, "schedules.0.volume"), "vol0");
	run_done(r);
	/* a new volume of the same name starts without one */
	ctl(r, &fp, "vol", "create", "v1", "aggr0", "64M", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "snap", "sched", "v1", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "schedules.0.weekly"), 0);
	run_done(r);
}

static unsigned long long newest_snapid(struct run *r)
{
	size_t n = snap_list(r, "vol0");
	unsigned long long max = 0;
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof(p), "snapshots.%zu.snapid", i);
		if (jnum(&r->json, p) > max)
			max = jnum(&r->json, p);
	}
	run_done(r);
	return max;
}

/* The clock itself, with an "hour" of one second: hourly snapshots appear
 * on their own and the oldest expire, leaving exactly the count. */
Test(snap, the_clock_takes_and_expires_snapshots)
{
	struct run *r = &R;
	int st = fp_stop(&fp, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	setenv("FILER_SNAP_HOUR_SECONDS", "1", 1);
	cr_assert_eq(fp_start(&fp), 0);
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=2", NULL);
	EXPECT_OK(r);
	/* a week of 1-second hours has nightlies every 24: none scheduled,
	 * so every slot takes an hourly one */
	double until = now_sec() + 60;
	unsigned long long first = 0, oldest = 0;
	size_t n = 0;
	for (;;) {
		n = snap_list(r, "vol0");
		if (n && !first)
			first = jnum(&r->json, "snapshots.0.snapid");
		oldest = n ? jnum(&r->json, "snapshots.0.snapid") : 0;
		bool expired = first && oldest != first;
		bool named = n == 2 && !strcmp(jstr(&r->json, "snapshots.0.name"), "hourly.1") &&
			     !strcmp(jstr(&r->json, "snapshots.1.name"), "hourly.0");
		run_done(r);
		if (expired && named)
			break;
		cr_assert_lt(now_sec(), until, "after 60 s: %zu snapshots, first %llu, oldest %llu",
			     n, first, oldest);
		pause_ms(100);
	}
	/* without a schedule, nothing more is taken (a run under way when
	 * it went may still expire one: look at the newest id, not the count) */
	ctl(r, &fp, "snap", "sched", "vol0", "hourly=0", NULL);
	EXPECT_OK(r);
	unsigned long long newest = newest_snapid(r);
	pause_ms(2500);
	cr_assert_eq(newest_snapid(r), newest, "a snapshot taken without a schedule");
	unsetenv("FILER_SNAP_HOUR_SECONDS");
}
