/*
 * test_nfs3.c - the NFSv3 server end to end: one real filer per test (in a
 * scratch home, on free ports), spoken to through libnfs. The sync API
 * does ordinary file I/O; the raw RPC API is used wherever the exact
 * arguments (cookies, verifiers, guards, stable modes, broken handles) or
 * the exact NFS status matter.
 *
 * Not covered here, and why:
 *  - NFS3ERR_NOSPC: the filer's volume (4 GiB) is not configurable from
 *    outside yet and filling it is too slow; the wafl tests cover ENOSPC.
 *  - NFS3ERR_ROFS: no read-only export or volume can be configured yet.
 *  - NFS3ERR_XDEV: the filer serves a single export.
 *  - NFS3ERR_BAD_COOKIE: the server never invalidates a cookie (cookies
 *    are name hashes that stay valid across inserts and removes, and the
 *    cookie verifier is ignored); readdir_cookies_never_go_bad checks that.
 *  - NFS3ERR_MLINK (optional): 65 000 links would dominate the runtime.
 *
 * Never include the project's nfs/proto headers here: they and libnfs's
 * raw headers define the same type names.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "tests/lib/filerproc.h"

#define EXPORT_PATH "/vol/vol0"
#define MIB (1024u * 1024u)
#define GIB (1024ull * MIB)
#define MAX_FILE_SIZE (1ull << 46) /* 64 TiB */
#define RPC_TIMEOUT_MS 60000

/* ---- the raw RPC client ----------------------------------------------- */

/* A file handle, by value: easy to keep, copy and corrupt. */
struct fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

/* One connection with one credential. */
struct raw {
	struct rpc_context *rpc;
};

/* One call in flight: on_reply copies the result (shallowly) into res and
 * lets fix copy what the result points at before libnfs frees it. */
struct pending {
	bool done;
	int rpc_status;
	void *res;
	size_t size;
	void (*fix)(struct pending *p, void *data);
	struct fh *fh;  /* a handle the result carries */
	void *buf;      /* READ data, READLINK text */
	size_t buflen;  /* in: room in buf; out: bytes copied */
	void (*entry)(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
		      const entryplus3 *plus);
	void *arg;
};

static struct filerproc fp;
static struct raw *R; /* root (the export is no_root_squash) */
static struct fh ROOT;

#define MAX_CLIENTS 16
static struct raw *raws[MAX_CLIENTS];
static struct nfs_context *nfss[MAX_CLIENTS];

static void on_reply(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->done = true;
	p->rpc_status = status;
	if (status != RPC_STATUS_SUCCESS || data == NULL)
		return;
	if (p->res)
		memcpy(p->res, data, p->size);
	if (p->fix)
		p->fix(p, data);
}

/* Services the connection once: waits up to ms for it to be ready. */
static void raw_service(struct raw *c, int ms)
{
	struct pollfd pfd = {.fd = rpc_get_fd(c->rpc), .events = (short)rpc_which_events(c->rpc)};
	int n = poll(&pfd, 1, ms);
	cr_assert_geq(n, 0, "poll: %s", strerror(errno));
	if (n == 0)
		return;
	cr_assert_geq(rpc_service(c->rpc, pfd.revents), 0, "rpc_service: %s",
		      rpc_get_error(c->rpc));
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void raw_wait(struct raw *c, const bool *done)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (!*done) {
		cr_assert_lt(now_ms(), end, "no reply within %d ms", RPC_TIMEOUT_MS);
		raw_service(c, 100);
	}
}

/* Waits for the call queued with result `queued`; the RPC must succeed. */
static void raw_run(struct raw *c, struct pending *p, int queued)
{
	cr_assert_eq(queued, 0, "queueing an RPC: %s", rpc_get_error(c->rpc));
	raw_wait(c, &p->done);
	cr_assert_eq(p->rpc_status, RPC_STATUS_SUCCESS, "RPC failed: %s", rpc_get_error(c->rpc));
}

static void fh_from(struct fh *out, const char *data, u_int len)
{
	cr_assert_leq(len, NFS3_FHSIZE);
	out->len = len;
	memcpy(out->data, data, len);
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

/* A new connection with an AUTH_SYS credential (uid, gid, groups). */
static struct raw *raw_open_as(uint32_t uid, uint32_t gid, uint32_t ngroups, uint32_t *groups)
{
	struct raw *c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	c->rpc = rpc_init_context();
	cr_assert_not_null(c->rpc);
	struct pending p = {0};
	raw_run(c, &p, rpc_connect_async(c->rpc, "127.0.0.1", fp.port, on_reply, &p));
	rpc_set_auth(c->rpc, libnfs_authunix_create("nfs3test", uid, gid, ngroups, groups));
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (!raws[i]) {
			raws[i] = c;
			return c;
		}
	}
	cr_assert_fail("too many clients");
	return NULL;
}

static struct raw *raw_open(uint32_t uid, uint32_t gid)
{
	return raw_open_as(uid, gid, 0, NULL);
}

/* MOUNT's MNT, on the NFS port (the filer serves MOUNT there too). */
static struct fh raw_mnt(struct raw *c)
{
	struct fh root = {0};
	mountres3 r;
	struct pending p = {.res = &r, .size = sizeof(r), .fix = fix_mnt, .fh = &root};
	raw_run(c, &p, rpc_mount3_mnt_async(c->rpc, on_reply, (char *)EXPORT_PATH, &p));
	cr_assert_eq(r.fhs_status, MNT3_OK, "MNT: %d", r.fhs_status);
	cr_assert_eq(root.len, 40, "the root handle has %u bytes", root.len);
	return root;
}

/* ---- one helper per procedure ----------------------------------------- */

static nfsstat3 r_getattr(struct raw *c, const struct fh *f, fattr3 *out)
{
	GETATTR3args a = {.object = nfh(f)};
	GETATTR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_getattr_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && out)
		*out = r.GETATTR3res_u.resok.obj_attributes;
	return r.status;
}

static fattr3 getattr_ok(const struct fh *f)
{
	fattr3 a;
	nfsstat3 st = r_getattr(R, f, &a);
	cr_assert_eq(st, NFS3_OK, "GETATTR: %d", st);
	return a;
}

/* guard: NULL, or the ctime the object must still have. */
static nfsstat3 r_setattr(struct raw *c, const struct fh *f, const sattr3 *sa,
			  const nfstime3 *guard, fattr3 *out)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = nfh(f);
	a.new_attributes = *sa;
	if (guard) {
		a.guard.check = 1;
		a.guard.sattrguard3_u.obj_ctime = *guard;
	}
	SETATTR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_setattr_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && out) {
		cr_assert(r.SETATTR3res_u.resok.obj_wcc.after.attributes_follow);
		*out = r.SETATTR3res_u.resok.obj_wcc.after.post_op_attr_u.attributes;
	}
	return r.status;
}

static void fix_lookup(struct pending *p, void *data)
{
	LOOKUP3res *r = data;
	if (r->status == NFS3_OK)
		fh_from(p->fh, r->LOOKUP3res_u.resok.object.data.data_val,
			r->LOOKUP3res_u.resok.object.data.data_len);
}

static nfsstat3 r_lookup(struct raw *c, const struct fh *dir, const char *name, struct fh *out,
			 fattr3 *attr)
{
	struct fh tmp;
	LOOKUP3args a = {.what = {.dir = nfh(dir), .name = (char *)name}};
	LOOKUP3res r;
	struct pending p = {.res = &r, .size = sizeof(r), .fix = fix_lookup, .fh = out ? out : &tmp};
	raw_run(c, &p, rpc_nfs3_lookup_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.LOOKUP3res_u.resok.obj_attributes.attributes_follow);
		*attr = r.LOOKUP3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

static struct fh lookup_ok(const struct fh *dir, const char *name)
{
	struct fh f;
	nfsstat3 st = r_lookup(R, dir, name, &f, NULL);
	cr_assert_eq(st, NFS3_OK, "LOOKUP %s: %d", name, st);
	return f;
}

static nfsstat3 r_access(struct raw *c, const struct fh *f, uint32_t want, uint32_t *got)
{
	ACCESS3args a = {.object = nfh(f), .access = want};
	ACCESS3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_access_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK)
		*got = r.ACCESS3res_u.resok.access;
	return r.status;
}

static void fix_readlink(struct pending *p, void *data)
{
	READLINK3res *r = data;
	if (r->status == NFS3_OK)
		snprintf(p->buf, p->buflen, "%s", r->READLINK3res_u.resok.data);
}

static nfsstat3 r_readlink(struct raw *c, const struct fh *f, char *buf, size_t len)
{
	READLINK3args a = {.symlink = nfh(f)};
	READLINK3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_readlink, .buf = buf, .buflen = len};
	raw_run(c, &p, rpc_nfs3_readlink_async(c->rpc, on_reply, &a, &p));
	return r.status;
}

static void fix_read(struct pending *p, void *data)
{
	READ3res *r = data;
	if (r->status != NFS3_OK) {
		p->buflen = 0;
		return;
	}
	size_t n = r->READ3res_u.resok.data.data_len;
	if (n > p->buflen)
		n = p->buflen;
	memcpy(p->buf, r->READ3res_u.resok.data.data_val, n);
	p->buflen = n;
}

static nfsstat3 r_read(struct raw *c, const struct fh *f, uint64_t off, uint32_t count, void *buf,
		       uint32_t *got, bool *eof)
{
	READ3args a = {.file = nfh(f), .offset = off, .count = count};
	READ3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_read, .buf = buf, .buflen = count};
	raw_run(c, &p, rpc_nfs3_read_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK) {
		cr_assert_eq(r.READ3res_u.resok.count, r.READ3res_u.resok.data.data_len);
		cr_assert_eq(p.buflen, r.READ3res_u.resok.count, "READ returned more than asked");
		if (got)
			*got = r.READ3res_u.resok.count;
		if (eof)
			*eof = r.READ3res_u.resok.eof;
	}
	return r.status;
}

struct wres {
	uint32_t count;
	stable_how committed;
	uint64_t verf;
	fattr3 after;
};

static nfsstat3 r_write(struct raw *c, const struct fh *f, uint64_t off, const void *buf,
			uint32_t len, stable_how how, struct wres *out)
{
	WRITE3args a = {.file = nfh(f), .offset = off, .count = len, .stable = how};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	WRITE3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_write_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && out) {
		WRITE3resok *ok = &r.WRITE3res_u.resok;
		out->count = ok->count;
		out->committed = ok->committed;
		memcpy(&out->verf, ok->verf, sizeof(out->verf));
		cr_assert(ok->file_wcc.after.attributes_follow);
		out->after = ok->file_wcc.after.post_op_attr_u.attributes;
	}
	return r.status;
}

static void write_ok(const struct fh *f, uint64_t off, const void *buf, uint32_t len,
		     stable_how how)
{
	struct wres w;
	nfsstat3 st = r_write(R, f, off, buf, len, how, &w);
	cr_assert_eq(st, NFS3_OK, "WRITE %u at %llu: %d", len, (unsigned long long)off, st);
	cr_assert_eq(w.count, len);
}

static nfsstat3 r_commit(struct raw *c, const struct fh *f, uint64_t *verf)
{
	COMMIT3args a = {.file = nfh(f), .offset = 0, .count = 0};
	COMMIT3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_commit_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && verf)
		memcpy(verf, r.COMMIT3res_u.resok.verf, sizeof(*verf));
	return r.status;
}

/* CREATE, MKDIR, SYMLINK and MKNOD all answer a post_op_fh3 first. */
#define FIX_NEW_OBJECT(T)                                                                          \
	static void fix_##T(struct pending *p, void *data)                                         \
	{                                                                                          \
		T *r = data;                                                                       \
		if (r->status == NFS3_OK) {                                                        \
			cr_assert(r->T##_u.resok.obj.handle_follows);                             \
			fh_from(p->fh, r->T##_u.resok.obj.post_op_fh3_u.handle.data.data_val,       \
				r->T##_u.resok.obj.post_op_fh3_u.handle.data.data_len);            \
		}                                                                                  \
	}
FIX_NEW_OBJECT(CREATE3res)
FIX_NEW_OBJECT(MKDIR3res)
FIX_NEW_OBJECT(SYMLINK3res)
FIX_NEW_OBJECT(MKNOD3res)

static nfsstat3 r_create(struct raw *c, const struct fh *dir, const char *name, createmode3 how,
			 const sattr3 *sa, uint64_t verf, struct fh *out, fattr3 *attr)
{
	struct fh tmp;
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.how.mode = how;
	if (how == EXCLUSIVE)
		memcpy(a.how.createhow3_u.verf, &verf, sizeof(verf));
	else if (sa)
		a.how.createhow3_u.obj_attributes = *sa;
	CREATE3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_CREATE3res, .fh = out ? out : &tmp};
	raw_run(c, &p, rpc_nfs3_create_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.CREATE3res_u.resok.obj_attributes.attributes_follow);
		*attr = r.CREATE3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

static sattr3 sa_mode(uint32_t mode)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = mode;
	return s;
}

static struct fh create_ok(const struct fh *dir, const char *name, uint32_t mode)
{
	struct fh f;
	sattr3 sa = sa_mode(mode);
	nfsstat3 st = r_create(R, dir, name, GUARDED, &sa, 0, &f, NULL);
	cr_assert_eq(st, NFS3_OK, "CREATE %s: %d", name, st);
	return f;
}

static nfsstat3 r_mkdir(struct raw *c, const struct fh *dir, const char *name, uint32_t mode,
			struct fh *out, fattr3 *attr)
{
	struct fh tmp;
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.attributes = sa_mode(mode);
	MKDIR3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_MKDIR3res, .fh = out ? out : &tmp};
	raw_run(c, &p, rpc_nfs3_mkdir_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.MKDIR3res_u.resok.obj_attributes.attributes_follow);
		*attr = r.MKDIR3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

static struct fh mkdir_ok(const struct fh *dir, const char *name, uint32_t mode)
{
	struct fh f;
	nfsstat3 st = r_mkdir(R, dir, name, mode, &f, NULL);
	cr_assert_eq(st, NFS3_OK, "MKDIR %s: %d", name, st);
	return f;
}

static nfsstat3 r_symlink(struct raw *c, const struct fh *dir, const char *name,
			  const char *target, struct fh *out, fattr3 *attr)
{
	struct fh tmp;
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_data = (char *)target;
	SYMLINK3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_SYMLINK3res, .fh = out ? out : &tmp};
	raw_run(c, &p, rpc_nfs3_symlink_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.SYMLINK3res_u.resok.obj_attributes.attributes_follow);
		*attr = r.SYMLINK3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

static nfsstat3 r_mknod(struct raw *c, const struct fh *dir, const char *name, ftype3 type,
			uint32_t mode, uint32_t major, uint32_t minor, struct fh *out,
			fattr3 *attr)
{
	struct fh tmp;
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.what.type = type;
	switch (type) {
	case NF3CHR:
	case NF3BLK:
		a.what.mknoddata3_u.chr_device.dev_attributes = sa_mode(mode);
		a.what.mknoddata3_u.chr_device.spec.specdata1 = major;
		a.what.mknoddata3_u.chr_device.spec.specdata2 = minor;
		break;
	case NF3SOCK:
	case NF3FIFO:
		a.what.mknoddata3_u.pipe_attributes = sa_mode(mode);
		break;
	default:
		break;
	}
	MKNOD3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_MKNOD3res, .fh = out ? out : &tmp};
	raw_run(c, &p, rpc_nfs3_mknod_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.MKNOD3res_u.resok.obj_attributes.attributes_follow);
		*attr = r.MKNOD3res_u.resok.obj_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

static nfsstat3 r_remove(struct raw *c, const struct fh *dir, const char *name)
{
	REMOVE3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	REMOVE3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_remove_async(c->rpc, on_reply, &a, &p));
	return r.status;
}

static nfsstat3 r_rmdir(struct raw *c, const struct fh *dir, const char *name)
{
	RMDIR3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	RMDIR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_rmdir_async(c->rpc, on_reply, &a, &p));
	return r.status;
}

static nfsstat3 r_rename(struct raw *c, const struct fh *fdir, const char *from,
			 const struct fh *tdir, const char *to)
{
	RENAME3args a = {.from = {.dir = nfh(fdir), .name = (char *)from},
			 .to = {.dir = nfh(tdir), .name = (char *)to}};
	RENAME3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_rename_async(c->rpc, on_reply, &a, &p));
	return r.status;
}

static nfsstat3 r_link(struct raw *c, const struct fh *f, const struct fh *dir, const char *name,
		       fattr3 *attr)
{
	LINK3args a = {.file = nfh(f), .link = {.dir = nfh(dir), .name = (char *)name}};
	LINK3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(c, &p, rpc_nfs3_link_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && attr) {
		cr_assert(r.LINK3res_u.resok.file_attributes.attributes_follow);
		*attr = r.LINK3res_u.resok.file_attributes.post_op_attr_u.attributes;
	}
	return r.status;
}

/* READDIR and READDIRPLUS hand every entry to p->entry. */
static void fix_readdir(struct pending *p, void *data)
{
	READDIR3res *r = data;
	if (r->status != NFS3_OK)
		return;
	for (entry3 *e = r->READDIR3res_u.resok.reply.entries; e; e = e->nextentry)
		p->entry(p->arg, e->name, e->cookie, e->fileid, NULL);
}

static void fix_readdirplus(struct pending *p, void *data)
{
	READDIRPLUS3res *r = data;
	if (r->status != NFS3_OK)
		return;
	for (entryplus3 *e = r->READDIRPLUS3res_u.resok.reply.entries; e; e = e->nextentry)
		p->entry(p->arg, e->name, e->cookie, e->fileid, e);
}

typedef void (*entry_fn)(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
			 const entryplus3 *plus);

static nfsstat3 r_readdir(struct raw *c, const struct fh *dir, uint64_t cookie, uint64_t verf,
			  uint32_t count, entry_fn fn, void *arg, bool *eof)
{
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = nfh(dir);
	a.cookie = cookie;
	memcpy(a.cookieverf, &verf, sizeof(verf));
	a.count = count;
	READDIR3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_readdir, .entry = fn, .arg = arg};
	raw_run(c, &p, rpc_nfs3_readdir_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && eof)
		*eof = r.READDIR3res_u.resok.reply.eof;
	return r.status;
}

static nfsstat3 r_readdirplus(struct raw *c, const struct fh *dir, uint64_t cookie,
			      uint32_t dircount, uint32_t maxcount, entry_fn fn, void *arg,
			      bool *eof)
{
	READDIRPLUS3args a;
	memset(&a, 0, sizeof(a));
	a.dir = nfh(dir);
	a.cookie = cookie;
	a.dircount = dircount;
	a.maxcount = maxcount;
	READDIRPLUS3res r;
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_readdirplus, .entry = fn, .arg = arg};
	raw_run(c, &p, rpc_nfs3_readdirplus_async(c->rpc, on_reply, &a, &p));
	if (r.status == NFS3_OK && eof)
		*eof = r.READDIRPLUS3res_u.resok.reply.eof;
	return r.status;
}

/* ---- pipelined calls (for many small operations) ---------------------- */

struct flight {
	unsigned inflight, done, bad;
	int first_bad; /* the first failure's nfsstat3, or -1 for an RPC error */
};

static void flight_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct flight *f = priv;
	f->inflight--;
	f->done++;
	/* every NFSv3 result starts with its nfsstat3 */
	int st = status == RPC_STATUS_SUCCESS ? (int)*(const nfsstat3 *)data : -1;
	if (st != NFS3_OK && f->bad++ == 0)
		f->first_bad = st;
}

#define WINDOW 128

static void flight_make_room(struct raw *c, struct flight *f)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (f->inflight >= WINDOW) {
		cr_assert_lt(now_ms(), end, "pipeline stalled");
		raw_service(c, 100);
	}
}

static void flight_drain(struct raw *c, struct flight *f)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (f->inflight) {
		cr_assert_lt(now_ms(), end, "pipeline stalled");
		raw_service(c, 100);
	}
	cr_assert_eq(f->bad, 0, "%u of %u calls failed, the first with %d", f->bad, f->done,
		     f->first_bad);
}

static void async_create(struct raw *c, struct flight *f, const struct fh *dir, const char *name)
{
	flight_make_room(c, f);
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.how.mode = UNCHECKED;
	a.how.createhow3_u.obj_attributes = sa_mode(0644);
	/* libnfs encodes the arguments before it returns */
	cr_assert_eq(rpc_nfs3_create_async(c->rpc, flight_cb, &a, f), 0);
	f->inflight++;
}

static void async_remove(struct raw *c, struct flight *f, const struct fh *dir, const char *name)
{
	flight_make_room(c, f);
	REMOVE3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	cr_assert_eq(rpc_nfs3_remove_async(c->rpc, flight_cb, &a, f), 0);
	f->inflight++;
}

/* ---- the sync API ----------------------------------------------------- */

static struct nfs_context *nfs_as(int uid, int gid)
{
	struct nfs_context *n = nfs_init_context();
	cr_assert_not_null(n);
	nfs_set_uid(n, uid);
	nfs_set_gid(n, gid);
	struct nfs_url *u = nfs_parse_url_dir(n, fp.url);
	cr_assert_not_null(u, "%s: %s", fp.url, nfs_get_error(n));
	int rc = nfs_mount(n, u->server, u->path);
	nfs_destroy_url(u);
	cr_assert_eq(rc, 0, "mount %s: %s", fp.url, nfs_get_error(n));
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (!nfss[i]) {
			nfss[i] = n;
			return n;
		}
	}
	cr_assert_fail("too many contexts");
	return NULL;
}

/* ---- data ------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next(&s);
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(p + i, &v, k);
	}
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The first offset where a and b differ, or n. */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- fixture ---------------------------------------------------------- */

static void setup(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
	R = raw_open(0, 0);
	ROOT = raw_mnt(R);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (nfss[i]) {
			nfs_destroy_context(nfss[i]);
			nfss[i] = NULL;
		}
		if (raws[i]) {
			rpc_destroy_context(raws[i]->rpc);
			free(raws[i]);
			raws[i] = NULL;
		}
	}
	R = NULL;
	fp_destroy(&fp);
}

TestSuite(nfs3, .init = setup, .fini = teardown);

/* ---- every procedure, its success path -------------------------------- */

Test(nfs3, null_procedure)
{
	struct pending p = {0};
	raw_run(R, &p, rpc_nfs3_null_async(R->rpc, on_reply, &p));
	cr_assert(p.done);
}
