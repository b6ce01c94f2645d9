/*
 * test_restart.c - what a client was promised survives the filer going
 * away: stopped cleanly (SIGTERM: a final CP) or killed (SIGKILL: the
 * NVLOG is replayed at the next start).
 *
 *  - Every byte written and committed (COMMIT, fsync, FILE_SYNC and
 *    DATA_SYNC writes) is there after the restart, and every metadata
 *    change that was answered (they answer once durable).
 *  - File handles saved before still work: the handle secret persists
 *    and replay reproduces inode numbers and generations (DESIGN.md §9.1);
 *    so do READDIR cookies and EXCLUSIVE create verifiers.
 *  - The WRITE verifier changes with every start (§9.6), so a client
 *    knows to resend what it wrote UNSTABLE and did not commit.
 *  - After each case the disks pass waflck: right after a SIGKILL (the
 *    newest CP is consistent by itself) and after the final clean stop.
 *
 * Like test_nfs3.c, this file speaks to the real filer binary through
 * libnfs's raw RPC API and must never include the project's nfs/proto
 * headers (they define the same type names).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "tests/lib/filerproc.h"

#define EXPORT_PATH    "/vol/vol0"
#define KIB	       1024u
#define MIB	       (1024u * 1024u)
#define GIB	       (1024ull * MIB)
#define RPC_TIMEOUT_MS 20000

/* ---- a small raw client (as in test_nfs3.c) ---------------------------- */

struct fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

struct pending {
	bool done;
	int rpc_status;
	void *res;
	size_t size;
	void (*fix)(struct pending *p, void *data);
	struct fh *fh;
	void *buf;
	size_t buflen;
	void (*entry)(void *arg, const char *name, uint64_t cookie);
	void *arg;
	char err[128];
};

static struct filerproc fp;
static struct rpc_context *R; /* root, on the running filer */
static struct fh ROOT;
static bool killed_under_us; /* the connection may break: the test killed the filer */

static void on_reply(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->done = true;
	p->rpc_status = status;
	if (status == RPC_STATUS_ERROR && data != NULL)
		snprintf(p->err, sizeof(p->err), "%s", (const char *)data);
	if (status != RPC_STATUS_SUCCESS || data == NULL)
		return;
	if (p->res)
		memcpy(p->res, data, p->size);
	if (p->fix)
		p->fix(p, data);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void raw_service(struct rpc_context *rpc, int ms)
{
	struct pollfd pfd = {.fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc)};
	int n = poll(&pfd, 1, ms);
	cr_assert_geq(n, 0, "poll: %s", strerror(errno));
	if (n > 0 && rpc_service(rpc, pfd.revents) < 0)
		cr_assert(killed_under_us, "rpc_service: %s", rpc_get_error(rpc));
}

static void raw_run(struct rpc_context *rpc, struct pending *p, int queued)
{
	cr_assert_eq(queued, 0, "queueing an RPC: %s", rpc_get_error(rpc));
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (!p->done) {
		cr_assert_lt(now_ms(), end, "no reply within %d ms", RPC_TIMEOUT_MS);
		raw_service(rpc, 100);
	}
	cr_assert_eq(p->rpc_status, RPC_STATUS_SUCCESS, "RPC failed (%d): %s", p->rpc_status,
		     p->err);
}

static void fh_from(struct fh *out, const char *data, u_int len)
{
	cr_assert_leq(len, NFS3_FHSIZE);
	out->len = len;
	memcpy(out->data, data, len);
}

static bool fh_eq(const struct fh *a, const struct fh *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static nfs_fh3 nfh(const struct fh *f)
{
	nfs_fh3 h;
	h.data.data_len = f->len;
	h.data.data_val = (char *)f->data;
	return h;
}

static void fix_mnt(struct pending *p, void *data)
{
	mountres3 *r = data;
	if (r->fhs_status == MNT3_OK)
		fh_from(p->fh, r->mountres3_u.mountinfo.fhandle.fhandle3_val,
			r->mountres3_u.mountinfo.fhandle.fhandle3_len);
}

/* Connects as root to the running filer and mounts; sets R and ROOT. */
static void connect_root(void)
{
	if (R)
		rpc_destroy_context(R);
	R = rpc_init_context();
	cr_assert_not_null(R);
	struct pending p = {0};
	raw_run(R, &p, rpc_connect_async(R, "127.0.0.1", fp.port, on_reply, &p));
	rpc_set_auth(R, libnfs_authunix_create("restarttest", 0, 0, 0, NULL));
	mountres3 r;
	struct pending m = {.res = &r, .size = sizeof(r), .fix = fix_mnt, .fh = &ROOT};
	raw_run(R, &m, rpc_mount3_mnt_async(R, on_reply, (char *)EXPORT_PATH, &m));
	cr_assert_eq(r.fhs_status, MNT3_OK);
}

static nfsstat3 r_getattr(const struct fh *f, fattr3 *out)
{
	GETATTR3args a = {.object = nfh(f)};
	GETATTR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_getattr_async(R, on_reply, &a, &p));
	if (r.status == NFS3_OK && out)
		*out = r.GETATTR3res_u.resok.obj_attributes;
	return r.status;
}

static fattr3 getattr_ok(const struct fh *f)
{
	fattr3 a;
	nfsstat3 st = r_getattr(f, &a);
	cr_assert_eq(st, NFS3_OK, "GETATTR: %d", st);
	return a;
}

static void fix_lookup(struct pending *p, void *data)
{
	LOOKUP3res *r = data;
	if (r->status == NFS3_OK)
		fh_from(p->fh, r->LOOKUP3res_u.resok.object.data.data_val,
			r->LOOKUP3res_u.resok.object.data.data_len);
}

static nfsstat3 r_lookup(const struct fh *dir, const char *name, struct fh *out)
{
	struct fh tmp;
	LOOKUP3args a = {.what = {.dir = nfh(dir), .name = (char *)name}};
	LOOKUP3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_lookup, .fh = out ? out : &tmp};
	raw_run(R, &p, rpc_nfs3_lookup_async(R, on_reply, &a, &p));
	return r.status;
}

static void fix_create(struct pending *p, void *data)
{
	CREATE3res *r = data;
	if (r->status == NFS3_OK)
		fh_from(p->fh, r->CREATE3res_u.resok.obj.post_op_fh3_u.handle.data.data_val,
			r->CREATE3res_u.resok.obj.post_op_fh3_u.handle.data.data_len);
}

static nfsstat3 r_create(const struct fh *dir, const char *name, createmode3 how, uint64_t verf,
			 struct fh *out)
{
	struct fh tmp;
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.how.mode = how;
	if (how == EXCLUSIVE) {
		memcpy(a.how.createhow3_u.verf, &verf, sizeof(verf));
	} else {
		a.how.createhow3_u.obj_attributes.mode.set_it = 1;
		a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	}
	CREATE3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_create, .fh = out ? out : &tmp};
	raw_run(R, &p, rpc_nfs3_create_async(R, on_reply, &a, &p));
	return r.status;
}

static struct fh create_ok(const struct fh *dir, const char *name)
{
	struct fh f;
	nfsstat3 st = r_create(dir, name, GUARDED, 0, &f);
	cr_assert_eq(st, NFS3_OK, "CREATE %s: %d", name, st);
	return f;
}

static void fix_mkdir(struct pending *p, void *data)
{
	MKDIR3res *r = data;
	if (r->status == NFS3_OK)
		fh_from(p->fh, r->MKDIR3res_u.resok.obj.post_op_fh3_u.handle.data.data_val,
			r->MKDIR3res_u.resok.obj.post_op_fh3_u.handle.data.data_len);
}

static struct fh mkdir_ok(const struct fh *dir, const char *name)
{
	struct fh f;
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.attributes.mode.set_it = 1;
	a.attributes.mode.set_mode3_u.mode = 0755;
	MKDIR3res r;
	struct pending p = {.res = &r, .size = sizeof(r), .fix = fix_mkdir, .fh = &f};
	raw_run(R, &p, rpc_nfs3_mkdir_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "MKDIR %s: %d", name, r.status);
	return f;
}

static void fix_symlink(struct pending *p, void *data)
{
	SYMLINK3res *r = data;
	if (r->status == NFS3_OK)
		fh_from(p->fh, r->SYMLINK3res_u.resok.obj.post_op_fh3_u.handle.data.data_val,
			r->SYMLINK3res_u.resok.obj.post_op_fh3_u.handle.data.data_len);
}

static struct fh symlink_ok(const struct fh *dir, const char *name, const char *target)
{
	struct fh f;
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_data = (char *)target;
	SYMLINK3res r;
	struct pending p = {.res = &r, .size = sizeof(r), .fix = fix_symlink, .fh = &f};
	raw_run(R, &p, rpc_nfs3_symlink_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "SYMLINK %s: %d", name, r.status);
	return f;
}

static void fix_readlink(struct pending *p, void *data)
{
	READLINK3res *r = data;
	if (r->status == NFS3_OK)
		snprintf(p->buf, p->buflen, "%s", r->READLINK3res_u.resok.data);
}

static nfsstat3 r_readlink(const struct fh *f, char *buf, size_t len)
{
	READLINK3args a = {.symlink = nfh(f)};
	READLINK3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_readlink, .buf = buf, .buflen = len};
	raw_run(R, &p, rpc_nfs3_readlink_async(R, on_reply, &a, &p));
	return r.status;
}

static void setattr_ok(const struct fh *f, const sattr3 *sa)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = nfh(f);
	a.new_attributes = *sa;
	SETATTR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_setattr_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "SETATTR: %d", r.status);
}

static void link_ok(const struct fh *f, const struct fh *dir, const char *name)
{
	LINK3args a = {.file = nfh(f), .link = {.dir = nfh(dir), .name = (char *)name}};
	LINK3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_link_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "LINK %s: %d", name, r.status);
}

static void rename_ok(const struct fh *fd, const char *from, const struct fh *td, const char *to)
{
	RENAME3args a = {.from = {.dir = nfh(fd), .name = (char *)from},
			 .to = {.dir = nfh(td), .name = (char *)to}};
	RENAME3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_rename_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "RENAME %s: %d", from, r.status);
}

static void remove_ok(const struct fh *dir, const char *name)
{
	REMOVE3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	REMOVE3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_remove_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "REMOVE %s: %d", name, r.status);
}

/* WRITE; returns its verifier. */
static uint64_t write_ok(const struct fh *f, uint64_t off, const void *buf, uint32_t len,
			 stable_how how)
{
	WRITE3args a = {.file = nfh(f), .offset = off, .count = len, .stable = how};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	WRITE3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_write_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "WRITE %u at %llu: %d", len, (unsigned long long)off,
		     r.status);
	cr_assert_eq(r.WRITE3res_u.resok.count, len);
	cr_assert_geq(r.WRITE3res_u.resok.committed, how);
	uint64_t v;
	memcpy(&v, r.WRITE3res_u.resok.verf, sizeof(v));
	return v;
}

static uint64_t commit_ok(const struct fh *f)
{
	COMMIT3args a = {.file = nfh(f)};
	COMMIT3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_commit_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "COMMIT: %d", r.status);
	uint64_t v;
	memcpy(&v, r.COMMIT3res_u.resok.verf, sizeof(v));
	return v;
}

static void fix_read(struct pending *p, void *data)
{
	READ3res *r = data;
	size_t n = 0;
	if (r->status == NFS3_OK) {
		n = r->READ3res_u.resok.data.data_len;
		if (n > p->buflen)
			n = p->buflen;
		memcpy(p->buf, r->READ3res_u.resok.data.data_val, n);
	}
	p->buflen = n;
}

/* Reads [off, off + len) whole (several READs); returns the bytes read. */
static size_t read_all(const struct fh *f, uint64_t off, size_t len, uint8_t *buf)
{
	size_t done = 0;
	while (done < len) {
		uint32_t want = len - done > MIB ? MIB : (uint32_t)(len - done);
		READ3args a = {.file = nfh(f), .offset = off + done, .count = want};
		READ3res r;
		struct pending p = {.res = &r,
				    .size = sizeof(r),
				    .fix = fix_read,
				    .buf = buf + done,
				    .buflen = want};
		raw_run(R, &p, rpc_nfs3_read_async(R, on_reply, &a, &p));
		cr_assert_eq(r.status, NFS3_OK, "READ at %llu: %d",
			     (unsigned long long)(off + done), r.status);
		done += p.buflen;
		if (r.READ3res_u.resok.eof || p.buflen == 0)
			break;
	}
	return done;
}

static void fix_readdir(struct pending *p, void *data)
{
	READDIR3res *r = data;
	if (r->status != NFS3_OK)
		return;
	/* libnfs 4.0 decodes entries at 4-byte alignment: copy each out */
	void *next = r->READDIR3res_u.resok.reply.entries;
	while (next) {
		entry3 e;
		memcpy(&e, next, sizeof(e));
		p->entry(p->arg, e.name, e.cookie);
		next = e.nextentry;
	}
}

/* One READDIR page; returns eof. */
static bool readdir_ok(const struct fh *dir, uint64_t cookie, uint32_t count,
		       void (*fn)(void *, const char *, uint64_t), void *arg)
{
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = nfh(dir);
	a.cookie = cookie;
	a.count = count;
	READDIR3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_readdir, .entry = fn, .arg = arg};
	raw_run(R, &p, rpc_nfs3_readdir_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "READDIR: %d", r.status);
	return r.READDIR3res_u.resok.reply.eof;
}

/* ---- pipelined writes --------------------------------------------------- */

struct flight {
	unsigned inflight, bad;
	int first_bad;
};

static void flight_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct flight *f = priv;
	f->inflight--;
	int st = status == RPC_STATUS_SUCCESS ? (int)*(const nfsstat3 *)data : -1;
	if (st == NFS3_OK && status == RPC_STATUS_SUCCESS) {
		const WRITE3res *w = data;
		if (w->WRITE3res_u.resok.committed != FILE_SYNC)
			st = -2;
	}
	if (st != NFS3_OK && f->bad++ == 0)
		f->first_bad = st;
}

static void async_write(struct flight *fl, const struct fh *f, uint64_t off, const void *buf,
			uint32_t len)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (fl->inflight >= 64) {
		cr_assert_lt(now_ms(), end, "pipeline stalled");
		raw_service(R, 100);
	}
	WRITE3args a = {.file = nfh(f), .offset = off, .count = len, .stable = FILE_SYNC};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	cr_assert_eq(rpc_nfs3_write_async(R, flight_cb, &a, fl), 0);
	fl->inflight++;
}

static void flight_drain(struct flight *fl)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (fl->inflight) {
		cr_assert_lt(now_ms(), end, "pipeline stalled");
		raw_service(R, 100);
	}
	cr_assert_eq(fl->bad, 0, "%u writes failed, the first with %d", fl->bad, fl->first_bad);
}

/* ---- data --------------------------------------------------------------- */

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i += 8) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		uint64_t v = s * 0x2545F4914F6CDD1Dull;
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return n;
}

/* ---- the filer's life --------------------------------------------------- */

static const char *waflck_path(char *buf, size_t len)
{
	const char *env = getenv("WAFLCK");
	if (env)
		return env;
	/* next to the filer binary, else from the top of the tree */
	const char *filer = fp_binary();
	const char *slash = strrchr(filer, '/');
	if (slash) {
		snprintf(buf, len, "%.*s/waflck", (int)(slash - filer), filer);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return "build/bin/waflck";
}

/* The filer must be stopped: its disks must check clean. */
static void check_disks(const char *when)
{
	char pb[600], d[3][300];
	const char *ck = waflck_path(pb, sizeof(pb));
	cr_assert_eq(access(ck, X_OK), 0, "%s: %s (set WAFLCK)", ck, strerror(errno));
	for (int i = 0; i < 3; i++)
		snprintf(d[i], sizeof(d[i]), "%s/disk%d", fp.home, i);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(ck, "waflck", d[0], d[1], d[2], (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "waflck %s: status %#x", when, st);
}

static void stop(int sig)
{
	if (R) {
		rpc_destroy_context(R);
		R = NULL;
	}
	int st = fp_stop(&fp, sig);
	if (sig == SIGTERM)
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the filer stopped with %#x", st);
	else
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sig, "the filer ended with %#x", st);
}

static void restart(void)
{
	killed_under_us = false;
	int rc = fp_start(&fp);
	cr_assert_eq(rc, 0, "cannot restart %s: %s", fp_binary(), strerror(-rc));
	struct fh old = ROOT;
	connect_root();
	cr_assert(fh_eq(&ROOT, &old), "the root handle changed with the restart");
}

/* Stops (sig), checks the disks after a kill, starts again. */
static void bounce(int sig)
{
	stop(sig);
	if (sig == SIGKILL)
		check_disks("after SIGKILL");
	restart();
}

static void setup(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
	connect_root();
}

static void teardown(void)
{
	if (R) {
		rpc_destroy_context(R);
		R = NULL;
	}
	fp_destroy(&fp);
}

/* The last step of every test: a clean stop, then waflck. */
static void finish(void)
{
	stop(SIGTERM);
	check_disks("after the final SIGTERM");
}

TestSuite(restart, .init = setup, .fini = teardown);

/* ---- a populated tree, before and after --------------------------------- */

#define NFILES 5

struct tree {
	struct fh root, d, sub, lnk, gone, x, reuse, victim, winner, m1;
	struct fh f[NFILES];
	fattr3 fa[NFILES], da, suba, xa;
	uint8_t *data[NFILES];
	size_t len[NFILES];
	uint64_t xverf;
	uint64_t cookie_mid; /* a READDIR position in d, taken before */
	unsigned names_before_mid;
	unsigned rounds;
};

static const char *const fname[NFILES] = {"unstable", "filesync", "datasync", "sparse", "libnfs"};

struct names {
	unsigned n;
	char name[32][32];
	uint64_t cookie[32];
};

static void names_add(void *arg, const char *name, uint64_t cookie)
{
	struct names *l = arg;
	cr_assert_lt(l->n, 32);
	snprintf(l->name[l->n], sizeof(l->name[l->n]), "%s", name);
	l->cookie[l->n++] = cookie;
}

static void populate(struct tree *t)
{
	t->root = ROOT;
	t->d = mkdir_ok(&ROOT, "d");
	t->sub = mkdir_ok(&t->d, "sub");
	const size_t sizes[NFILES] = {3 * MIB + 123, MIB, 700 * KIB + 1, 1, 2 * MIB - 7};
	for (int i = 0; i < NFILES; i++) {
		t->len[i] = sizes[i];
		t->data[i] = malloc(sizes[i]);
		cr_assert_not_null(t->data[i]);
		fill_random(t->data[i], sizes[i], (uint64_t)i + 100);
		if (i != 4)
			t->f[i] = create_ok(&t->d, fname[i]);
	}
	/* UNSTABLE in 64 KiB pieces, then COMMIT */
	for (size_t off = 0; off < t->len[0]; off += 64 * KIB) {
		size_t n = t->len[0] - off < 64 * KIB ? t->len[0] - off : 64 * KIB;
		write_ok(&t->f[0], off, t->data[0] + off, (uint32_t)n, UNSTABLE);
	}
	commit_ok(&t->f[0]);
	/* FILE_SYNC in 256 KiB pieces, one overwritten later */
	for (size_t off = 0; off < t->len[1]; off += 256 * KIB)
		write_ok(&t->f[1], off, t->data[1] + off, 256 * KIB, FILE_SYNC);
	fill_random(t->data[1] + 1000, 5000, 7);
	write_ok(&t->f[1], 1000, t->data[1] + 1000, 5000, FILE_SYNC);
	/* DATA_SYNC in odd pieces */
	for (size_t off = 0; off < t->len[2]; off += 100003) {
		size_t n = t->len[2] - off < 100003 ? t->len[2] - off : 100003;
		write_ok(&t->f[2], off, t->data[2] + off, (uint32_t)n, DATA_SYNC);
	}
	/* one byte at 5 GiB */
	write_ok(&t->f[3], 5 * GIB, t->data[3], 1, FILE_SYNC);
	/* through the sync API: open, write, fsync */
	struct nfs_context *n = nfs_init_context();
	cr_assert_not_null(n);
	struct nfs_url *u = nfs_parse_url_dir(n, fp.url);
	cr_assert_not_null(u, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_mount(n, u->server, u->path), 0, "%s", nfs_get_error(n));
	nfs_destroy_url(u);
	struct nfsfh *h;
	cr_assert_eq(nfs_creat(n, "/d/libnfs", 0600, &h), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_pwrite(n, h, 0, t->len[4], t->data[4]), (int)t->len[4], "%s",
		     nfs_get_error(n));
	cr_assert_eq(nfs_fsync(n, h), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_close(n, h), 0);
	nfs_destroy_context(n);
	cr_assert_eq(r_lookup(&t->d, "libnfs", &t->f[4]), NFS3_OK);

	/* metadata of every kind */
	t->lnk = symlink_ok(&t->d, "lnk", "filesync");
	link_ok(&t->f[0], &t->sub, "hard");
	rename_ok(&t->d, "datasync", &t->sub, "moved");
	t->gone = create_ok(&t->d, "gone");
	write_ok(&t->gone, 0, "gone", 4, FILE_SYNC);
	remove_ok(&t->d, "gone");
	/* likely the same inode again, with a new generation */
	t->reuse = create_ok(&t->d, "reuse");
	write_ok(&t->reuse, 0, "reused", 6, FILE_SYNC);
	/* a file renamed over another */
	t->victim = create_ok(&t->d, "victim");
	write_ok(&t->victim, 0, "victim", 6, FILE_SYNC);
	t->winner = create_ok(&t->d, "winner");
	write_ok(&t->winner, 0, "winner", 6, DATA_SYNC);
	rename_ok(&t->d, "winner", &t->d, "victim");
	/* a directory moved to another parent */
	t->m1 = mkdir_ok(&t->d, "m1");
	rename_ok(&t->d, "m1", &t->sub, "m1");
	/* cut and grown again: the cut part reads as zeros */
	sattr3 cut;
	memset(&cut, 0, sizeof(cut));
	cut.size.set_it = 1;
	cut.size.set_size3_u.size = 500001;
	setattr_ok(&t->f[2], &cut);
	cut.size.set_size3_u.size = t->len[2];
	setattr_ok(&t->f[2], &cut);
	memset(t->data[2] + 500001, 0, t->len[2] - 500001);
	sattr3 sa;
	memset(&sa, 0, sizeof(sa));
	sa.mode.set_it = 1;
	sa.mode.set_mode3_u.mode = 0751;
	sa.uid.set_it = 1;
	sa.uid.set_uid3_u.uid = 4321;
	sa.mtime.set_it = SET_TO_CLIENT_TIME;
	sa.mtime.set_mtime_u.mtime.seconds = 1300000000;
	sa.mtime.set_mtime_u.mtime.nseconds = 7;
	setattr_ok(&t->f[1], &sa);
	t->xverf = 0xabcdef0123456789ull;
	cr_assert_eq(r_create(&t->d, "excl", EXCLUSIVE, t->xverf, &t->x), NFS3_OK);

	for (int i = 0; i < NFILES; i++)
		t->fa[i] = getattr_ok(&t->f[i]);
	t->da = getattr_ok(&t->d);
	t->suba = getattr_ok(&t->sub);
	t->xa = getattr_ok(&t->x);
	cr_assert_eq(t->fa[0].nlink, 2);
	cr_assert_eq(t->fa[3].size, 5 * GIB + 1);

	/* a READDIR position to continue from after the restart */
	struct names l = {0};
	readdir_ok(&t->d, 0, 8192, names_add, &l);
	cr_assert_geq(l.n, 6);
	t->names_before_mid = l.n / 2;
	t->cookie_mid = l.cookie[l.n / 2 - 1];
}

static void same_attr(const fattr3 *a, const fattr3 *b, const char *what)
{
	cr_assert_eq(a->type, b->type, "%s: type", what);
	cr_assert_eq(a->fileid, b->fileid, "%s: fileid", what);
	cr_assert_eq(a->fsid, b->fsid, "%s: fsid", what);
	cr_assert_eq(a->size, b->size, "%s: size %llu, was %llu", what, (unsigned long long)a->size,
		     (unsigned long long)b->size);
	cr_assert_eq(a->mode, b->mode, "%s: mode", what);
	cr_assert_eq(a->nlink, b->nlink, "%s: nlink", what);
	cr_assert_eq(a->uid, b->uid, "%s: uid", what);
	cr_assert_eq(a->gid, b->gid, "%s: gid", what);
	cr_assert_eq(a->mtime.seconds, b->mtime.seconds, "%s: mtime", what);
	cr_assert_eq(a->mtime.nseconds, b->mtime.nseconds, "%s: mtime ns", what);
	cr_assert_eq(a->ctime.seconds, b->ctime.seconds, "%s: ctime", what);
	cr_assert_eq(a->ctime.nseconds, b->ctime.nseconds, "%s: ctime ns", what);
}

static void verify(struct tree *t)
{
	/* the handles from before, as they were */
	for (int i = 0; i < NFILES; i++) {
		fattr3 a;
		nfsstat3 st = r_getattr(&t->f[i], &a);
		cr_assert_eq(st, NFS3_OK, "%s: the old handle gets %d", fname[i], st);
		same_attr(&a, &t->fa[i], fname[i]);
	}
	fattr3 a = getattr_ok(&t->d);
	same_attr(&a, &t->da, "d");
	a = getattr_ok(&t->sub);
	same_attr(&a, &t->suba, "d/sub");
	a = getattr_ok(&t->x);
	same_attr(&a, &t->xa, "d/excl");
	cr_assert_eq(r_getattr(&t->gone, NULL), NFS3ERR_STALE, "a removed file came back");
	cr_assert_eq(r_getattr(&t->victim, NULL), NFS3ERR_STALE, "a replaced file came back");
	uint8_t small[16] = {0};
	cr_assert_eq(read_all(&t->reuse, 0, sizeof(small), small), 6);
	cr_assert_eq(memcmp(small, "reused", 6), 0);
	cr_assert_eq(read_all(&t->winner, 0, sizeof(small), small), 6);
	cr_assert_eq(memcmp(small, "winner", 6), 0);
	/* the moved directory knows its new parent */
	struct fh up;
	cr_assert_eq(r_lookup(&t->m1, "..", &up), NFS3_OK);
	cr_assert(fh_eq(&up, &t->sub), "m1/.. is not d/sub");
	RENAME3args ra = {.from = {.dir = nfh(&t->d), .name = (char *)"sub"},
			  .to = {.dir = nfh(&t->m1), .name = (char *)"x"}};
	RENAME3res rr;
	struct pending rp = {.res = &rr, .size = sizeof(rr)};
	raw_run(R, &rp, rpc_nfs3_rename_async(R, on_reply, &ra, &rp));
	cr_assert_eq(rr.status, NFS3ERR_INVAL, "d/sub moved under its own child: %d", rr.status);
	/* every byte */
	size_t maxlen = 0;
	for (int i = 0; i < NFILES; i++)
		if (t->len[i] > maxlen)
			maxlen = t->len[i];
	uint8_t *buf = malloc(maxlen);
	cr_assert_not_null(buf);
	for (int i = 0; i < NFILES; i++) {
		if (i == 3)
			continue;
		memset(buf, 0, maxlen);
		size_t got = read_all(&t->f[i], 0, t->len[i], buf);
		cr_assert_eq(got, t->len[i], "%s: %zu bytes of %zu", fname[i], got, t->len[i]);
		cr_assert_eq(memcmp(buf, t->data[i], got), 0, "%s: differs at %zu", fname[i],
			     first_diff(buf, t->data[i], got));
	}
	cr_assert_eq(read_all(&t->f[3], 5 * GIB, 10, buf), 1);
	cr_assert_eq(buf[0], t->data[3][0]);
	cr_assert_eq(read_all(&t->f[3], 5 * GIB - 4096, 4096, buf), 4096);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(buf[i], 0);
	free(buf);
	/* names lead to the same handles */
	struct fh g;
	cr_assert_eq(r_lookup(&t->root, "d", &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->d));
	cr_assert_eq(r_lookup(&t->sub, "hard", &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->f[0]));
	cr_assert_eq(r_lookup(&t->sub, "moved", &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->f[2]));
	cr_assert_eq(r_lookup(&t->d, "datasync", NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_lookup(&t->d, "gone", NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_lookup(&t->d, "victim", &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->winner));
	cr_assert_eq(r_lookup(&t->d, "winner", NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_lookup(&t->sub, "m1", &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->m1));
	char target[64];
	cr_assert_eq(r_readlink(&t->lnk, target, sizeof(target)), NFS3_OK);
	cr_assert_str_eq(target, "filesync");
	/* an EXCLUSIVE create retransmitted after the restart finds its file */
	cr_assert_eq(r_create(&t->d, "excl", EXCLUSIVE, t->xverf, &g), NFS3_OK);
	cr_assert(fh_eq(&g, &t->x));
	cr_assert_eq(r_create(&t->d, "excl", EXCLUSIVE, t->xverf + 1, NULL), NFS3ERR_EXIST);
	/* the READDIR cookie from before still continues the listing */
	struct names all = {0}, rest = {0};
	cr_assert(readdir_ok(&t->d, 0, 8192, names_add, &all));
	cr_assert(readdir_ok(&t->d, t->cookie_mid, 8192, names_add, &rest));
	cr_assert_eq(rest.n, all.n - t->names_before_mid);
	for (unsigned i = 0; i < rest.n; i++)
		cr_assert_str_eq(rest.name[i], all.name[t->names_before_mid + i]);
	static const char *const want[] = {".",	       "..",	 "sub",	   "unstable",
					   "filesync", "sparse", "libnfs", "lnk",
					   "excl",     "reuse",	 "victim"};
	enum { NWANT = sizeof(want) / sizeof(want[0]) };
	cr_assert_eq(all.n, NWANT, "d has %u entries", all.n);
	for (unsigned i = 0; i < NWANT; i++) {
		unsigned k = 0;
		for (unsigned j = 0; j < all.n; j++)
			k += strcmp(all.name[j], want[i]) == 0;
		cr_assert_eq(k, 1, "%s listed %u times", want[i], k);
	}
	/* and the file system goes on working (away from what is checked) */
	char name[32];
	snprintf(name, sizeof(name), "after%u", t->rounds++);
	struct fh nd = mkdir_ok(&t->root, name);
	struct fh nf = create_ok(&nd, "f");
	write_ok(&nf, 0, "new", 3, FILE_SYNC);
	rename_ok(&nd, "f", &nd, "g");
	remove_ok(&nd, "g");
}

static void tree_free(struct tree *t)
{
	for (int i = 0; i < NFILES; i++)
		free(t->data[i]);
}

Test(restart, committed_data_and_handles_survive_sigterm)
{
	struct tree t = {0};
	populate(&t);
	bounce(SIGTERM);
	verify(&t);
	finish();
	tree_free(&t);
}

Test(restart, committed_data_and_handles_survive_sigkill)
{
	struct tree t = {0};
	populate(&t);
	bounce(SIGKILL);
	verify(&t);
	/* and once more, now that replay has run once */
	bounce(SIGKILL);
	verify(&t);
	finish();
	tree_free(&t);
}

Test(restart, write_verifier_changes_with_every_start)
{
	struct fh f = create_ok(&ROOT, "f");
	uint64_t v[3];
	v[0] = write_ok(&f, 0, "one", 3, UNSTABLE);
	cr_assert_eq(write_ok(&f, 3, "two", 3, UNSTABLE), v[0]);
	cr_assert_eq(commit_ok(&f), v[0]);
	bounce(SIGTERM);
	v[1] = write_ok(&f, 6, "three", 5, UNSTABLE);
	cr_assert_neq(v[1], v[0], "the verifier did not change with a restart");
	cr_assert_eq(commit_ok(&f), v[1]);
	bounce(SIGKILL);
	v[2] = write_ok(&f, 11, "four", 4, UNSTABLE);
	cr_assert_neq(v[2], v[1], "the verifier did not change with a restart after a kill");
	cr_assert_neq(v[2], v[0]);
	cr_assert_eq(commit_ok(&f), v[2]);
	/* FILE_SYNC writes carry the verifier too */
	cr_assert_eq(write_ok(&f, 15, "!", 1, FILE_SYNC), v[2]);
	uint8_t buf[32] = {0};
	cr_assert_eq(read_all(&f, 0, sizeof(buf), buf), 16);
	cr_assert_eq(memcmp(buf, "onetwothreefour!", 16), 0, "%.16s", buf);
	finish();
}

/* UNSTABLE data not committed may be lost in a crash (the verifier tells
 * the client); what was committed before it may not. */
Test(restart, sigkill_keeps_what_was_committed_before_unstable_writes)
{
	const size_t half = 2 * MIB;
	uint8_t *a = malloc(2 * half), *b = malloc(2 * half);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	fill_random(a, 2 * half, 11);
	struct fh f = create_ok(&ROOT, "f");
	for (size_t off = 0; off < half; off += 128 * KIB)
		write_ok(&f, off, a + off, 128 * KIB, UNSTABLE);
	uint64_t v = commit_ok(&f);
	/* more UNSTABLE data after it, never committed */
	for (size_t off = 0; off < half; off += 128 * KIB)
		write_ok(&f, half + off, a + half + off, 128 * KIB, UNSTABLE);
	bounce(SIGKILL);
	size_t got = read_all(&f, 0, half, b);
	cr_assert_eq(got, half);
	cr_assert_eq(memcmp(a, b, half), 0, "committed data lost at %zu", first_diff(a, b, half));
	/* the client sees a new verifier and resends; then it all is there */
	cr_assert_neq(write_ok(&f, half, a + half, 128 * KIB, UNSTABLE), v);
	for (size_t off = 128 * KIB; off < half; off += 128 * KIB)
		write_ok(&f, half + off, a + half + off, 128 * KIB, UNSTABLE);
	commit_ok(&f);
	cr_assert_eq(read_all(&f, 0, 2 * half, b), 2 * half);
	cr_assert_eq(memcmp(a, b, 2 * half), 0, "differs at %zu", first_diff(a, b, 2 * half));
	finish();
	free(a);
	free(b);
}

/* A kill while FILE_SYNC writes are in flight: every write that was
 * answered is there after the restart (those not answered may or may not
 * be). A SIGKILL keeps what the filer handed to the kernel, so this
 * catches a reply sent before its log record was even written. */
struct killer {
	unsigned inflight, acked, bad;
	bool *ok;
	unsigned kill_after;
	bool killed;
};

struct kill_call {
	struct killer *k;
	unsigned idx;
};

static void kill_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct kill_call *c = priv;
	struct killer *k = c->k;
	k->inflight--;
	if (status == RPC_STATUS_SUCCESS && ((const WRITE3res *)data)->status == NFS3_OK &&
	    ((const WRITE3res *)data)->WRITE3res_u.resok.committed == FILE_SYNC) {
		k->ok[c->idx] = true;
		k->acked++;
	} else if (!k->killed) {
		k->bad++;
	}
	if (!k->killed && k->acked >= k->kill_after) {
		killed_under_us = true;
		kill(fp.pid, SIGKILL);
		k->killed = true;
	}
}

Test(restart, sigkill_with_sync_writes_in_flight)
{
	enum { N = 256, CHUNK = 128 * 1024 };
	uint8_t *data = malloc((size_t)N * CHUNK), *back = malloc(CHUNK);
	cr_assert_not_null(data);
	cr_assert_not_null(back);
	fill_random(data, (size_t)N * CHUNK, 31);
	struct fh f = create_ok(&ROOT, "f");
	struct fh g = create_ok(&ROOT, "g");
	struct killer k = {.ok = calloc(N, sizeof(bool)), .kill_after = N / 2};
	struct kill_call *calls = calloc(N, sizeof(*calls));
	cr_assert(k.ok && calls);
	unsigned next = 0;
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (!k.killed) {
		cr_assert_lt(now_ms(), end, "stalled");
		while (next < N && k.inflight < 48) {
			/* chunks alternate between two files, in shuffled order */
			unsigned idx = (next * 97) % N;
			calls[idx] = (struct kill_call){&k, idx};
			WRITE3args a = {.file = nfh(idx % 2 ? &g : &f),
					.offset = (uint64_t)(idx / 2) * CHUNK,
					.count = CHUNK,
					.stable = FILE_SYNC};
			a.data.data_len = CHUNK;
			a.data.data_val = (char *)data + (size_t)idx * CHUNK;
			cr_assert_eq(rpc_nfs3_write_async(R, kill_cb, &a, &calls[idx]), 0);
			k.inflight++;
			next++;
		}
		raw_service(R, 100);
	}
	cr_assert_eq(k.bad, 0);
	unsigned acked = k.acked;
	cr_log_info("%u of %u writes answered before the kill, %u sent", acked, N, next);
	rpc_destroy_context(R);
	R = NULL;
	int st = fp_stop(&fp, SIGKILL);
	cr_assert(WIFSIGNALED(st), "%#x", st);
	check_disks("after SIGKILL");
	restart();
	unsigned present = 0;
	for (unsigned idx = 0; idx < N; idx++) {
		size_t got = read_all(idx % 2 ? &g : &f, (uint64_t)(idx / 2) * CHUNK, CHUNK, back);
		bool same = got == CHUNK && memcmp(back, data + (size_t)idx * CHUNK, CHUNK) == 0;
		if (k.ok[idx])
			cr_assert(same, "chunk %u was answered FILE_SYNC but is lost (%zu bytes)",
				  idx, got);
		present += same;
	}
	cr_log_info("%u chunks present after the restart", present);
	finish();
	free(k.ok);
	free(calls);
	free(data);
	free(back);
}

/* Crash rounds: a mixed workload in flight (creates, renames, removes,
 * FILE_SYNC writes, and UNSTABLE writes big enough to start CPs), killed
 * at a different point each round. After each kill the disks check clean,
 * and after the restart every answered change is there, every rename is
 * all or nothing (one name, never both or none), and the data of every
 * answered FILE_SYNC write is intact. */
enum { CR_NAMES = 4000, CR_FILES = 16, CR_WRITES = 2048, CR_CHUNK = 4096 };

enum cr_kind { CR_CREATE, CR_RENAME, CR_REMOVE, CR_WRITE, CR_BULK };

struct cr_state {
	/* per name n%05u: 0 none, 1 create sent, 2 created, 3 rename sent,
	 * 4 renamed (to m%05u), 5 remove sent, 6 removed */
	uint8_t name[CR_NAMES];
	bool write_acked[CR_WRITES];
	/* names whose CREATE (then RENAME) was answered, oldest first */
	unsigned created[CR_NAMES], ncreated, created_used;
	unsigned renamed[CR_NAMES], nrenamed, renamed_used;
	unsigned inflight, acked, kill_after;
	bool killed;
	unsigned errors;
};

struct cr_call {
	struct cr_state *s;
	enum cr_kind kind;
	unsigned idx;
};

static void cr_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct cr_call *c = priv;
	struct cr_state *s = c->s;
	s->inflight--;
	bool ok = status == RPC_STATUS_SUCCESS && *(const nfsstat3 *)data == NFS3_OK;
	if (!ok) {
		if (!s->killed)
			s->errors++;
		free(c);
		return;
	}
	s->acked++;
	switch (c->kind) {
	case CR_CREATE:
		s->name[c->idx] = 2;
		s->created[s->ncreated++] = c->idx;
		break;
	case CR_RENAME:
		s->name[c->idx] = 4;
		s->renamed[s->nrenamed++] = c->idx;
		break;
	case CR_REMOVE:
		s->name[c->idx] = 6;
		break;
	case CR_WRITE:
		s->write_acked[c->idx] = true;
		break;
	case CR_BULK:
		break;
	}
	if (!s->killed && s->acked >= s->kill_after) {
		killed_under_us = true;
		kill(fp.pid, SIGKILL);
		s->killed = true;
	}
	free(c);
}

static void cr_send(struct cr_state *s, enum cr_kind kind, unsigned idx, const struct fh *dir,
		    const struct fh *files, const struct fh *bulk, const uint8_t *data)
{
	struct cr_call *c = malloc(sizeof(*c));
	cr_assert_not_null(c);
	*c = (struct cr_call){s, kind, idx};
	char n1[16], n2[16];
	snprintf(n1, sizeof(n1), "n%05u", idx);
	snprintf(n2, sizeof(n2), "m%05u", idx);
	int rc = -1;
	switch (kind) {
	case CR_CREATE: {
		CREATE3args a;
		memset(&a, 0, sizeof(a));
		a.where.dir = nfh(dir);
		a.where.name = n1;
		a.how.mode = GUARDED;
		rc = rpc_nfs3_create_async(R, cr_cb, &a, c);
		s->name[idx] = 1;
		break;
	}
	case CR_RENAME: {
		RENAME3args a = {.from = {.dir = nfh(dir), .name = n1},
				 .to = {.dir = nfh(dir), .name = n2}};
		rc = rpc_nfs3_rename_async(R, cr_cb, &a, c);
		s->name[idx] = 3;
		break;
	}
	case CR_REMOVE: {
		REMOVE3args a = {.object = {.dir = nfh(dir), .name = n2}};
		rc = rpc_nfs3_remove_async(R, cr_cb, &a, c);
		s->name[idx] = 5;
		break;
	}
	case CR_WRITE: {
		WRITE3args a = {.file = nfh(&files[idx % CR_FILES]),
				.offset = (uint64_t)(idx / CR_FILES) * CR_CHUNK,
				.count = CR_CHUNK,
				.stable = FILE_SYNC};
		a.data.data_len = CR_CHUNK;
		a.data.data_val = (char *)data + (size_t)idx * CR_CHUNK;
		rc = rpc_nfs3_write_async(R, cr_cb, &a, c);
		break;
	}
	case CR_BULK: {
		WRITE3args a = {.file = nfh(bulk),
				.offset = (uint64_t)(idx % 64) * MIB,
				.count = MIB,
				.stable = UNSTABLE};
		a.data.data_len = MIB;
		a.data.data_val = (char *)data;
		rc = rpc_nfs3_write_async(R, cr_cb, &a, c);
		break;
	}
	}
	cr_assert_eq(rc, 0, "queueing: %s", rpc_get_error(R));
	s->inflight++;
}

static void crash_round(unsigned round, unsigned kill_after, const uint8_t *data)
{
	char dn[16];
	snprintf(dn, sizeof(dn), "round%u", round);
	struct fh dir = mkdir_ok(&ROOT, dn);
	struct fh files[CR_FILES];
	for (unsigned i = 0; i < CR_FILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "w%02u", i);
		files[i] = create_ok(&dir, n);
	}
	struct fh bulk = create_ok(&dir, "bulk");
	struct cr_state *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	s->kill_after = kill_after;
	unsigned next_create = 0, next_write = 0, step = 0;
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (!s->killed) {
		cr_assert_lt(now_ms(), end, "round %u stalled (%u answered)", round, s->acked);
		cr_assert_eq(s->errors, 0, "round %u: %u calls failed", round, s->errors);
		while (s->inflight < 64 && !s->killed) {
			step++;
			if (step % 16 == 0) {
				cr_send(s, CR_BULK, step / 16, &dir, files, &bulk, data);
			} else if (step % 4 == 1 && next_write < CR_WRITES) {
				cr_send(s, CR_WRITE, next_write++, &dir, files, &bulk, data);
			} else if (step % 4 == 2 && s->created_used < s->ncreated) {
				/* rename a name whose CREATE was answered */
				cr_send(s, CR_RENAME, s->created[s->created_used++], &dir, files,
					&bulk, data);
			} else if (step % 8 == 3 && s->renamed_used < s->nrenamed) {
				/* remove one whose RENAME was answered */
				cr_send(s, CR_REMOVE, s->renamed[s->renamed_used++], &dir, files,
					&bulk, data);
			} else if (next_create < CR_NAMES) {
				cr_send(s, CR_CREATE, next_create++, &dir, files, &bulk, data);
			} else {
				break;
			}
		}
		raw_service(R, 50);
	}
	rpc_destroy_context(R); /* what was not answered yet never will be */
	R = NULL;
	int st = fp_stop(&fp, SIGKILL);
	cr_assert(WIFSIGNALED(st), "%#x", st);
	check_disks("after a SIGKILL in a crash round");
	restart();

	unsigned counts[7] = {0};
	for (unsigned i = 0; i < next_create; i++) {
		char n1[16], n2[16];
		snprintf(n1, sizeof(n1), "n%05u", i);
		snprintf(n2, sizeof(n2), "m%05u", i);
		bool has_n = r_lookup(&dir, n1, NULL) == NFS3_OK;
		bool has_m = r_lookup(&dir, n2, NULL) == NFS3_OK;
		cr_assert(!(has_n && has_m), "round %u: %s and %s both exist", round, n1, n2);
		counts[s->name[i]]++;
		switch (s->name[i]) {
		case 1: /* create sent: created or not */
			cr_assert(!has_m);
			break;
		case 2: /* created */
			cr_assert(has_n, "round %u: answered CREATE %s lost", round, n1);
			break;
		case 3: /* rename sent: one name or the other */
			cr_assert(has_n || has_m, "round %u: a rename lost both %s and %s", round,
				  n1, n2);
			break;
		case 4: /* renamed */
			cr_assert(has_m && !has_n, "round %u: answered RENAME to %s lost", round,
				  n2);
			break;
		case 5: /* remove sent */
			cr_assert(!has_n);
			break;
		case 6:
			cr_assert(!has_n && !has_m, "round %u: answered REMOVE of %s undone", round,
				  n2);
			break;
		}
	}
	uint8_t back[CR_CHUNK];
	unsigned wacked = 0;
	for (unsigned i = 0; i < next_write; i++) {
		if (!s->write_acked[i])
			continue;
		wacked++;
		size_t got = read_all(&files[i % CR_FILES], (uint64_t)(i / CR_FILES) * CR_CHUNK,
				      CR_CHUNK, back);
		cr_assert_eq(got, CR_CHUNK, "round %u: write %u: %zu bytes", round, i, got);
		cr_assert_eq(memcmp(back, data + (size_t)i * CR_CHUNK, CR_CHUNK), 0,
			     "round %u: answered FILE_SYNC write %u differs at %zu", round, i,
			     first_diff(back, data + (size_t)i * CR_CHUNK, CR_CHUNK));
	}
	cr_log_info("round %u: killed after %u answers: names created %u, renamed %u, removed "
		    "%u, in flight %u; %u FILE_SYNC writes checked",
		    round, s->acked, counts[2], counts[4], counts[6],
		    counts[1] + counts[3] + counts[5], wacked);
	free(s);
}

Test(restart, crash_rounds_with_mixed_work_in_flight)
{
	uint8_t *data = malloc((size_t)CR_WRITES * CR_CHUNK);
	cr_assert_not_null(data);
	fill_random(data, (size_t)CR_WRITES * CR_CHUNK, 1234);
	static const unsigned kill_after[] = {150, 900, 2500, 4000};
	for (unsigned r = 0; r < 4; r++)
		crash_round(r, kill_after[r], data);
	finish();
	free(data);
}

/* FILE_SYNC and DATA_SYNC writes and metadata changes are durable when
 * answered: a kill right after the last reply loses none of them. */
Test(restart, acknowledged_sync_writes_survive_sigkill)
{
	enum { NF = 4 };
	const size_t size = 3 * MIB;
	uint8_t *data[NF], *back = malloc(size);
	cr_assert_not_null(back);
	struct fh f[NF];
	struct fh d = mkdir_ok(&ROOT, "d");
	for (int i = 0; i < NF; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		f[i] = create_ok(&d, name);
		data[i] = malloc(size);
		cr_assert_not_null(data[i]);
		fill_random(data[i], size, (uint64_t)i + 1);
	}
	/* one at a time, interleaved across files, odd sizes, some overwrites */
	static const uint32_t sizes[] = {MIB, 4099, 65536, 1, 300001, MIB - 1, 12288};
	size_t off[NF] = {0};
	unsigned k = 0;
	for (bool more = true; more;) {
		more = false;
		for (int i = 0; i < NF; i++) {
			if (off[i] >= size)
				continue;
			uint32_t n = sizes[k++ % 7];
			if (n > size - off[i])
				n = (uint32_t)(size - off[i]);
			write_ok(&f[i], off[i], data[i] + off[i], n, k % 2 ? FILE_SYNC : DATA_SYNC);
			off[i] += n;
			more = true;
		}
	}
	fill_random(data[1] + 777, 70000, 99);
	write_ok(&f[1], 777, data[1] + 777, 70000, FILE_SYNC);
	/* then many in flight at once, the kill right after the last reply */
	struct fh p = create_ok(&d, "pipelined");
	uint8_t *pd = malloc(16 * MIB);
	cr_assert_not_null(pd);
	fill_random(pd, 16 * MIB, 77);
	struct flight fl = {0};
	for (size_t o = 0; o < 16 * MIB; o += 256 * KIB)
		async_write(&fl, &p, o, pd + o, 256 * KIB);
	flight_drain(&fl);
	struct fh last = create_ok(&d, "last");
	bounce(SIGKILL);

	for (int i = 0; i < NF; i++) {
		cr_assert_eq(getattr_ok(&f[i]).size, size);
		cr_assert_eq(read_all(&f[i], 0, size, back), size);
		cr_assert_eq(memcmp(back, data[i], size), 0, "f%d differs at %zu", i,
			     first_diff(back, data[i], size));
	}
	uint8_t *pb = malloc(16 * MIB);
	cr_assert_not_null(pb);
	cr_assert_eq(read_all(&p, 0, 16 * MIB, pb), 16 * MIB);
	cr_assert_eq(memcmp(pb, pd, 16 * MIB), 0, "pipelined differs at %zu",
		     first_diff(pb, pd, 16 * MIB));
	cr_assert_eq(r_getattr(&last, NULL), NFS3_OK, "the last CREATE was lost");
	finish();
	for (int i = 0; i < NF; i++)
		free(data[i]);
	free(back);
	free(pd);
	free(pb);
}
