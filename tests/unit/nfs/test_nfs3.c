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

#define EXPORT_PATH    "/vol/vol0"
#define MIB	       (1024u * 1024u)
#define GIB	       (1024ull * MIB)
#define MAX_FILE_SIZE  (1ull << 46) /* 64 TiB */
#define RPC_TIMEOUT_MS 20000

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
	struct fh *fh; /* a handle the result carries */
	void *buf;     /* READ data, READLINK text */
	size_t buflen; /* in: room in buf; out: bytes copied */
	void (*entry)(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
		      const entryplus3 *plus);
	void *arg;
	char err[128]; /* what libnfs said when the RPC failed */
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
	if (status == RPC_STATUS_ERROR && data != NULL)
		snprintf(p->err, sizeof(p->err), "%s", (const char *)data);
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
	cr_assert_eq(p->rpc_status, RPC_STATUS_SUCCESS, "RPC failed (%d): %s", p->rpc_status,
		     p->err);
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
	struct pending p = {
		.res = &r, .size = sizeof(r), .fix = fix_lookup, .fh = out ? out : &tmp};
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
			cr_assert(r->T##_u.resok.obj.handle_follows);                              \
			fh_from(p->fh, r->T##_u.resok.obj.post_op_fh3_u.handle.data.data_val,      \
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

static nfsstat3 r_symlink(struct raw *c, const struct fh *dir, const char *name, const char *target,
			  struct fh *out, fattr3 *attr)
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
			uint32_t mode, uint32_t major, uint32_t minor, struct fh *out, fattr3 *attr)
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

/* READDIR and READDIRPLUS hand every entry to p->entry. libnfs 4.0
 * decodes list entries at 4-byte alignment: copy each out before use
 * (reading them in place is undefined, and UBSan says so). */
static void fix_readdir(struct pending *p, void *data)
{
	READDIR3res *r = data;
	if (r->status != NFS3_OK)
		return;
	void *next = r->READDIR3res_u.resok.reply.entries;
	while (next) {
		entry3 e;
		memcpy(&e, next, sizeof(e));
		p->entry(p->arg, e.name, e.cookie, e.fileid, NULL);
		next = e.nextentry;
	}
}

static void fix_readdirplus(struct pending *p, void *data)
{
	READDIRPLUS3res *r = data;
	if (r->status != NFS3_OK)
		return;
	void *next = r->READDIRPLUS3res_u.resok.reply.entries;
	while (next) {
		entryplus3 e;
		memcpy(&e, next, sizeof(e));
		p->entry(p->arg, e.name, e.cookie, e.fileid, &e);
		next = e.nextentry;
	}
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

/* Services c until at most `most` calls are in flight; fails when no
 * call is answered for RPC_TIMEOUT_MS. */
static void flight_wait(struct raw *c, struct flight *f, unsigned most)
{
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	unsigned done = f->done;
	while (f->inflight > most) {
		if (f->done != done) {
			done = f->done;
			end = now_ms() + RPC_TIMEOUT_MS;
		}
		cr_assert_lt(now_ms(), end, "pipeline stalled: %u calls unanswered for %d ms",
			     f->inflight, RPC_TIMEOUT_MS);
		raw_service(c, 100);
	}
}

static void flight_make_room(struct raw *c, struct flight *f)
{
	flight_wait(c, f, WINDOW - 1);
}

static void flight_drain(struct raw *c, struct flight *f)
{
	flight_wait(c, f, 0);
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

static void async_write(struct raw *c, struct flight *f, const struct fh *file, uint64_t off,
			const void *buf, uint32_t len, stable_how how)
{
	flight_make_room(c, f);
	WRITE3args a = {.file = nfh(file), .offset = off, .count = len, .stable = how};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	cr_assert_eq(rpc_nfs3_write_async(c->rpc, flight_cb, &a, f), 0);
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

Test(nfs3, getattr_of_the_root)
{
	fattr3 a = getattr_ok(&ROOT);
	cr_assert_eq(a.type, NF3DIR);
	cr_assert_eq(a.nlink, 2, "an empty root has nlink %u", a.nlink);
	cr_assert_eq(a.size % 4096, 0);
	/* a new subdirectory adds one link to its parent */
	mkdir_ok(&ROOT, "sub", 0755);
	fattr3 b = getattr_ok(&ROOT);
	cr_assert_eq(b.nlink, 3);
	cr_assert_eq(b.fileid, a.fileid);
	cr_assert_eq(b.fsid, a.fsid);
}

Test(nfs3, setattr_mode_ids_size_and_times)
{
	struct fh f = create_ok(&ROOT, "f", 0644);
	fattr3 a, b;
	sattr3 s = sa_mode(0751);
	fattr3 before = getattr_ok(&f);
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(a.mode, 0751);
	cr_assert_eq(getattr_ok(&f).mode, 0751);
	cr_assert(a.ctime.seconds > before.ctime.seconds ||
			  (a.ctime.seconds == before.ctime.seconds &&
			   a.ctime.nseconds >= before.ctime.nseconds),
		  "SETATTR moved ctime backwards");

	/* uid and gid, as root */
	memset(&s, 0, sizeof(s));
	s.uid.set_it = 1;
	s.uid.set_uid3_u.uid = 1234;
	s.gid.set_it = 1;
	s.gid.set_gid3_u.gid = 5678;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(a.uid, 1234);
	cr_assert_eq(a.gid, 5678);
	b = getattr_ok(&f);
	cr_assert_eq(b.uid, 1234);
	cr_assert_eq(b.gid, 5678);

	/* size up (a hole), down (cut), and up again (the cut tail reads as zeros) */
	write_ok(&f, 0, "hello, world", 12, FILE_SYNC);
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = 3 * MIB + 5;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(a.size, 3 * MIB + 5);
	uint8_t buf[8192];
	uint32_t got;
	bool eof;
	cr_assert_eq(r_read(R, &f, 0, 12, buf, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 12);
	cr_assert_eq(memcmp(buf, "hello, world", 12), 0);
	cr_assert_eq(r_read(R, &f, 2 * MIB, 8192, buf, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 8192);
	cr_assert(all_zero(buf, got));
	cr_assert_eq(r_read(R, &f, 3 * MIB, 8192, buf, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 5);
	cr_assert(eof);

	s.size.set_size3_u.size = 2;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(a.size, 2);
	cr_assert_eq(r_read(R, &f, 0, 100, buf, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 2);
	cr_assert(eof);
	cr_assert_eq(memcmp(buf, "he", 2), 0);
	s.size.set_size3_u.size = 12;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(r_read(R, &f, 0, 100, buf, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 12);
	cr_assert_eq(memcmp(buf, "he", 2), 0);
	cr_assert(all_zero(buf + 2, 10), "bytes cut by a truncate came back");

	/* explicit times, to the nanosecond */
	memset(&s, 0, sizeof(s));
	s.atime.set_it = SET_TO_CLIENT_TIME;
	s.atime.set_atime_u.atime.seconds = 1234567890;
	s.atime.set_atime_u.atime.nseconds = 123456789;
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime.seconds = 1000000000;
	s.mtime.set_mtime_u.mtime.nseconds = 999999999;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	b = getattr_ok(&f);
	cr_assert_eq(b.atime.seconds, 1234567890);
	cr_assert_eq(b.atime.nseconds, 123456789);
	cr_assert_eq(b.mtime.seconds, 1000000000);
	cr_assert_eq(b.mtime.nseconds, 999999999);
	cr_assert_eq(a.mtime.seconds, b.mtime.seconds);
	cr_assert_eq(a.atime.nseconds, b.atime.nseconds);

	/* past 2038: the whole unsigned 32-bit range of nfstime3 */
	s.atime.set_atime_u.atime.seconds = 0xffffffffu;
	s.atime.set_atime_u.atime.nseconds = 0;
	s.mtime.set_mtime_u.mtime.seconds = 3000000000u;
	s.mtime.set_mtime_u.mtime.nseconds = 1;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3_OK);
	b = getattr_ok(&f);
	cr_assert_eq(b.atime.seconds, 0xffffffffu);
	cr_assert_eq(b.mtime.seconds, 3000000000u);
	cr_assert_eq(b.mtime.nseconds, 1);

	/* a nanosecond count of a second or more is not a time */
	s.mtime.set_mtime_u.mtime.nseconds = 1000000000;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3ERR_INVAL);

	/* the server's clock */
	memset(&s, 0, sizeof(s));
	s.atime.set_it = SET_TO_SERVER_TIME;
	s.mtime.set_it = SET_TO_SERVER_TIME;
	time_t t0 = time(NULL);
	cr_assert_eq(r_setattr(R, &f, &s, NULL, &a), NFS3_OK);
	time_t t1 = time(NULL);
	b = getattr_ok(&f);
	cr_assert(b.atime.seconds + 1 >= (uint32_t)t0 && b.atime.seconds <= (uint32_t)t1 + 1,
		  "atime %u not in [%ld, %ld]", b.atime.seconds, (long)t0, (long)t1);
	cr_assert(b.mtime.seconds + 1 >= (uint32_t)t0 && b.mtime.seconds <= (uint32_t)t1 + 1,
		  "mtime %u not in [%ld, %ld]", b.mtime.seconds, (long)t0, (long)t1);
	cr_assert(b.ctime.seconds + 1 >= (uint32_t)t0);
}

Test(nfs3, lookup_dot_dotdot_and_access)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	struct fh f = create_ok(&d, "f", 0644);
	struct fh x = create_ok(&d, "x", 0755);
	fattr3 ra = getattr_ok(&ROOT), da = getattr_ok(&d), fa;
	struct fh g;
	cr_assert_eq(r_lookup(R, &d, "f", &g, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, getattr_ok(&f).fileid);
	cr_assert_eq(g.len, f.len);
	cr_assert_eq(memcmp(g.data, f.data, f.len), 0, "LOOKUP and CREATE gave different handles");
	cr_assert_eq(fa.type, NF3REG);
	cr_assert_eq(r_lookup(R, &d, ".", &g, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, da.fileid);
	cr_assert_eq(r_lookup(R, &d, "..", &g, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, ra.fileid);
	/* ".." of the export root is the root: nothing above it */
	cr_assert_eq(r_lookup(R, &ROOT, "..", &g, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, ra.fileid);
	cr_assert_eq(r_lookup(R, &g, "..", NULL, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, ra.fileid);

	/* root reads and writes anything, executes what has an x bit */
	const uint32_t all = ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND |
			     ACCESS3_DELETE | ACCESS3_EXECUTE;
	uint32_t got;
	cr_assert_eq(r_access(R, &f, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND, "0644 file: %#x", got);
	cr_assert_eq(r_access(R, &x, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_EXECUTE,
		     "0755 file: %#x", got);
	cr_assert_eq(r_access(R, &d, all, &got), NFS3_OK);
	cr_assert_eq(got,
		     ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND |
			     ACCESS3_DELETE,
		     "directory: %#x", got);
	/* only what was asked for comes back */
	cr_assert_eq(r_access(R, &f, ACCESS3_READ, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ);
}

Test(nfs3, symlink_and_readlink)
{
	struct fh l;
	fattr3 a;
	const char *target = "../some/where/../else";
	cr_assert_eq(r_symlink(R, &ROOT, "l", target, &l, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3LNK);
	cr_assert_eq(a.size, strlen(target));
	char buf[5000];
	cr_assert_eq(r_readlink(R, &l, buf, sizeof(buf)), NFS3_OK);
	cr_assert_str_eq(buf, target);
	/* a long target (libnfs cannot encode one of 4095 bytes, the most
	 * the server keeps, in its 4 KiB call buffer) */
	char longt[3501];
	memset(longt, 'a', 3500);
	for (int i = 0; i < 3500; i += 100)
		longt[i] = '/';
	longt[3500] = 0;
	cr_assert_eq(r_symlink(R, &ROOT, "long", longt, &l, &a), NFS3_OK);
	cr_assert_eq(a.size, 3500);
	cr_assert_eq(r_readlink(R, &l, buf, sizeof(buf)), NFS3_OK);
	cr_assert_str_eq(buf, longt);
	/* the link is not followed by LOOKUP */
	cr_assert_eq(r_lookup(R, &ROOT, "l", NULL, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3LNK);
	/* a symlink is not a regular file, a regular file not a symlink */
	struct fh f = create_ok(&ROOT, "f", 0644);
	cr_assert_eq(r_readlink(R, &f, buf, sizeof(buf)), NFS3ERR_INVAL);
}

Test(nfs3, write_stable_modes_share_one_verifier)
{
	struct fh f = create_ok(&ROOT, "w", 0644);
	static uint8_t data[3 * 8192 + 100], back[sizeof(data)];
	fill_random(data, sizeof(data), 1);
	struct wres w[4];
	cr_assert_eq(r_write(R, &f, 0, data, 8192, UNSTABLE, &w[0]), NFS3_OK);
	cr_assert_eq(w[0].count, 8192);
	cr_assert_eq(w[0].committed, UNSTABLE);
	cr_assert_eq(w[0].after.size, 8192);
	cr_assert_eq(r_write(R, &f, 8192, data + 8192, 8192, DATA_SYNC, &w[1]), NFS3_OK);
	cr_assert_eq(w[1].count, 8192);
	cr_assert_geq(w[1].committed, DATA_SYNC);
	cr_assert_eq(r_write(R, &f, 16384, data + 16384, 8192, FILE_SYNC, &w[2]), NFS3_OK);
	cr_assert_eq(w[2].committed, FILE_SYNC);
	cr_assert_eq(r_write(R, &f, 24576, data + 24576, 100, UNSTABLE, &w[3]), NFS3_OK);
	cr_assert_eq(w[3].after.size, sizeof(data));
	for (int i = 1; i < 4; i++)
		cr_assert_eq(w[i].verf, w[0].verf, "write %d: verifier %#llx, first %#llx", i,
			     (unsigned long long)w[i].verf, (unsigned long long)w[0].verf);
	uint64_t cv;
	cr_assert_eq(r_commit(R, &f, &cv), NFS3_OK);
	cr_assert_eq(cv, w[0].verf, "COMMIT's verifier differs from WRITE's");
	/* another file, same server run: the same verifier */
	struct fh g = create_ok(&ROOT, "w2", 0644);
	struct wres wg;
	cr_assert_eq(r_write(R, &g, 0, "x", 1, UNSTABLE, &wg), NFS3_OK);
	cr_assert_eq(wg.verf, w[0].verf);

	uint32_t got;
	bool eof;
	cr_assert_eq(r_read(R, &f, 0, sizeof(back), back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, sizeof(data));
	cr_assert(eof);
	cr_assert_eq(memcmp(back, data, sizeof(data)), 0, "differs at %zu",
		     first_diff(back, data, sizeof(data)));
	/* across the end, and past it */
	cr_assert_eq(r_read(R, &f, 24000, 4096, back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, sizeof(data) - 24000);
	cr_assert(eof);
	cr_assert_eq(memcmp(back, data + 24000, got), 0);
	cr_assert_eq(r_read(R, &f, MIB, 4096, back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 0);
	cr_assert(eof);
	/* not at the end: no eof */
	cr_assert_eq(r_read(R, &f, 0, 100, back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 100);
	cr_assert(!eof);
	/* a WRITE moves mtime to the server's clock */
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime.seconds = 42;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3_OK);
	write_ok(&f, 0, data, 1, FILE_SYNC);
	cr_assert_gt(getattr_ok(&f).mtime.seconds, 42);
	cr_assert_geq(getattr_ok(&f).used, 3 * 8192, "used %llu",
		      (unsigned long long)getattr_ok(&f).used);
	/* a count beyond the data sent */
	WRITE3args wa = {.file = nfh(&f), .offset = 0, .count = 10, .stable = FILE_SYNC};
	wa.data.data_len = 5;
	wa.data.data_val = (char *)"abcde";
	WRITE3res wr;
	struct pending wp = {.res = &wr, .size = sizeof(wr)};
	raw_run(R, &wp, rpc_nfs3_write_async(R->rpc, on_reply, &wa, &wp));
	cr_assert_eq(wr.status, NFS3ERR_INVAL);
	/* an empty write changes nothing and succeeds */
	struct wres we;
	cr_assert_eq(r_write(R, &f, 5, "", 0, FILE_SYNC, &we), NFS3_OK);
	cr_assert_eq(we.count, 0);
	cr_assert_eq(we.after.size, sizeof(data));
	cr_assert_eq(r_write(R, &f, 10 * MIB, "", 0, UNSTABLE, &we), NFS3_OK);
	cr_assert_eq(we.after.size, sizeof(data), "an empty write past the end grew the file");
	cr_assert_eq(getattr_ok(&f).size, sizeof(data));
}

Test(nfs3, create_unchecked_guarded_exclusive)
{
	struct fh u, u2, g, x, x2;
	fattr3 a, b;
	sattr3 s = sa_mode(0640);
	cr_assert_eq(r_create(R, &ROOT, "u", UNCHECKED, &s, 0, &u, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3REG);
	cr_assert_eq(a.mode, 0640);
	cr_assert_eq(a.size, 0);
	cr_assert_eq(a.nlink, 1);
	cr_assert_eq(a.uid, 0);
	write_ok(&u, 0, "0123456789", 10, FILE_SYNC);
	/* UNCHECKED over an existing file: the same file, kept as it is ... */
	cr_assert_eq(r_create(R, &ROOT, "u", UNCHECKED, &s, 0, &u2, &b), NFS3_OK);
	cr_assert_eq(b.fileid, a.fileid);
	cr_assert_eq(b.size, 10);
	cr_assert_eq(u2.len, u.len);
	cr_assert_eq(memcmp(u2.data, u.data, u.len), 0);
	/* ... or truncated when the attributes ask for size 0 */
	s.size.set_it = 1;
	s.size.set_size3_u.size = 0;
	cr_assert_eq(r_create(R, &ROOT, "u", UNCHECKED, &s, 0, &u2, &b), NFS3_OK);
	cr_assert_eq(b.fileid, a.fileid);
	cr_assert_eq(b.size, 0);
	cr_assert_eq(getattr_ok(&u).size, 0);

	s = sa_mode(0600);
	cr_assert_eq(r_create(R, &ROOT, "g", GUARDED, &s, 0, &g, &a), NFS3_OK);
	cr_assert_eq(a.mode, 0600);
	cr_assert_eq(r_create(R, &ROOT, "g", GUARDED, &s, 0, NULL, NULL), NFS3ERR_EXIST);

	/* EXCLUSIVE: a retransmission (same verifier) gets the same file */
	uint64_t v1 = 0x1122334455667788ull, v2 = 0x8877665544332211ull;
	cr_assert_eq(r_create(R, &ROOT, "x", EXCLUSIVE, NULL, v1, &x, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3REG);
	cr_assert_eq(r_create(R, &ROOT, "x", EXCLUSIVE, NULL, v1, &x2, &b), NFS3_OK);
	cr_assert_eq(b.fileid, a.fileid);
	cr_assert_eq(x2.len, x.len);
	cr_assert_eq(memcmp(x2.data, x.data, x.len), 0, "the retry got another handle");
	cr_assert_eq(r_create(R, &ROOT, "x", EXCLUSIVE, NULL, v2, NULL, NULL), NFS3ERR_EXIST);
	/* a file not made by an exclusive create never matches a verifier */
	cr_assert_eq(r_create(R, &ROOT, "g", EXCLUSIVE, NULL, 0, NULL, NULL), NFS3ERR_EXIST);
	/* the client then sets the real attributes (the verifier may live in
	 * the times): the file is an ordinary file from then on */
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = 0604;
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime.seconds = 1500000000;
	cr_assert_eq(r_setattr(R, &x, &s, NULL, &a), NFS3_OK);
	cr_assert_eq(a.mode, 0604);
	cr_assert_eq(a.mtime.seconds, 1500000000);
	write_ok(&x, 0, "data", 4, FILE_SYNC);
	cr_assert_eq(getattr_ok(&x).size, 4);
}

Test(nfs3, mkdir_and_rmdir)
{
	struct fh d;
	fattr3 a;
	cr_assert_eq(r_mkdir(R, &ROOT, "d", 0750, &d, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3DIR);
	cr_assert_eq(a.mode, 0750);
	cr_assert_eq(a.nlink, 2);
	cr_assert_eq(getattr_ok(&ROOT).nlink, 3);
	struct fh e = mkdir_ok(&d, "e", 0755);
	cr_assert_eq(getattr_ok(&d).nlink, 3);
	cr_assert_eq(r_mkdir(R, &ROOT, "d", 0755, NULL, NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_rmdir(R, &ROOT, "d"), NFS3ERR_NOTEMPTY);
	cr_assert_eq(r_rmdir(R, &d, "e"), NFS3_OK);
	cr_assert_eq(getattr_ok(&d).nlink, 2);
	cr_assert_eq(r_getattr(R, &e, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_rmdir(R, &ROOT, "d"), NFS3_OK);
	cr_assert_eq(getattr_ok(&ROOT).nlink, 2);
	cr_assert_eq(r_lookup(R, &ROOT, "d", NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_getattr(R, &d, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_rmdir(R, &ROOT, "d"), NFS3ERR_NOENT);
}

Test(nfs3, mknod_fifo_socket_and_devices)
{
	struct fh n;
	fattr3 a;
	cr_assert_eq(r_mknod(R, &ROOT, "fifo", NF3FIFO, 0640, 0, 0, &n, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3FIFO);
	cr_assert_eq(a.mode, 0640);
	cr_assert_eq(getattr_ok(&n).type, NF3FIFO);
	cr_assert_eq(r_mknod(R, &ROOT, "sock", NF3SOCK, 0600, 0, 0, &n, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3SOCK);
	cr_assert_eq(a.mode, 0600);
	cr_assert_eq(r_mknod(R, &ROOT, "chr", NF3CHR, 0620, 4, 64, &n, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3CHR);
	cr_assert_eq(a.rdev.specdata1, 4);
	cr_assert_eq(a.rdev.specdata2, 64);
	a = getattr_ok(&n);
	cr_assert_eq(a.rdev.specdata1, 4);
	cr_assert_eq(a.rdev.specdata2, 64);
	cr_assert_eq(r_mknod(R, &ROOT, "blk", NF3BLK, 0660, 8, 1, &n, &a), NFS3_OK);
	cr_assert_eq(a.type, NF3BLK);
	cr_assert_eq(a.rdev.specdata1, 8);
	cr_assert_eq(a.rdev.specdata2, 1);
	/* MKNOD makes special files only */
	cr_assert_eq(r_mknod(R, &ROOT, "reg", NF3REG, 0644, 0, 0, NULL, NULL), NFS3ERR_BADTYPE);
	cr_assert_eq(r_mknod(R, &ROOT, "dir", NF3DIR, 0755, 0, 0, NULL, NULL), NFS3ERR_BADTYPE);
	cr_assert_eq(r_mknod(R, &ROOT, "fifo", NF3FIFO, 0640, 0, 0, NULL, NULL), NFS3ERR_EXIST);
	/* only a regular file has data */
	uint8_t b[16];
	cr_assert_eq(r_read(R, &n, 0, sizeof(b), b, NULL, NULL), NFS3ERR_INVAL);
	cr_assert_eq(r_remove(R, &ROOT, "fifo"), NFS3_OK);
	cr_assert_eq(r_remove(R, &ROOT, "blk"), NFS3_OK);
	cr_assert_eq(r_getattr(R, &n, NULL), NFS3ERR_STALE);
}

Test(nfs3, remove_makes_handles_stale)
{
	struct fh f = create_ok(&ROOT, "f", 0644);
	write_ok(&f, 0, "abc", 3, FILE_SYNC);
	fattr3 before = getattr_ok(&ROOT);
	cr_assert_eq(r_remove(R, &ROOT, "f"), NFS3_OK);
	fattr3 after = getattr_ok(&ROOT);
	cr_assert(after.mtime.seconds > before.mtime.seconds ||
			  (after.mtime.seconds == before.mtime.seconds &&
			   after.mtime.nseconds > before.mtime.nseconds),
		  "REMOVE did not change the directory's mtime");
	cr_assert_eq(r_lookup(R, &ROOT, "f", NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_getattr(R, &f, NULL), NFS3ERR_STALE);
	uint8_t b[4];
	cr_assert_eq(r_read(R, &f, 0, 3, b, NULL, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_write(R, &f, 0, "x", 1, FILE_SYNC, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_remove(R, &ROOT, "f"), NFS3ERR_NOENT);
	/* a new file may reuse the inode: the old handle stays stale */
	struct fh g = create_ok(&ROOT, "f", 0644);
	cr_assert_eq(r_getattr(R, &f, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_getattr(R, &g, NULL), NFS3_OK);
	/* REMOVE is for non-directories */
	mkdir_ok(&ROOT, "d", 0755);
	cr_assert_eq(r_remove(R, &ROOT, "d"), NFS3ERR_ISDIR);
	cr_assert_eq(r_rmdir(R, &ROOT, "f"), NFS3ERR_NOTDIR);
}

Test(nfs3, rename_over_files_and_directories)
{
	struct fh d1 = mkdir_ok(&ROOT, "d1", 0755);
	struct fh d2 = mkdir_ok(&ROOT, "d2", 0755);
	struct fh a = create_ok(&d1, "a", 0644);
	struct fh b = create_ok(&d1, "b", 0644);
	write_ok(&a, 0, "AAAA", 4, FILE_SYNC);
	write_ok(&b, 0, "BB", 2, FILE_SYNC);
	uint64_t aid = getattr_ok(&a).fileid;

	/* a file over a file, in one directory: atomic, the old target gone */
	cr_assert_eq(r_rename(R, &d1, "a", &d1, "b"), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d1, "a", NULL, NULL), NFS3ERR_NOENT);
	fattr3 fa;
	cr_assert_eq(r_lookup(R, &d1, "b", NULL, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, aid);
	cr_assert_eq(fa.size, 4);
	cr_assert_eq(r_getattr(R, &b, NULL), NFS3ERR_STALE);
	cr_assert_eq(getattr_ok(&a).nlink, 1);

	/* a file over a file in another directory */
	struct fh c = create_ok(&d2, "c", 0644);
	cr_assert_eq(r_rename(R, &d1, "b", &d2, "c"), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d2, "c", NULL, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, aid);
	cr_assert_eq(r_getattr(R, &c, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_lookup(R, &d1, "b", NULL, NULL), NFS3ERR_NOENT);

	/* a directory over an empty directory: link counts follow */
	struct fh s = mkdir_ok(&d1, "s", 0755);
	create_ok(&s, "inside", 0644);
	struct fh t = mkdir_ok(&d2, "t", 0755);
	cr_assert_eq(getattr_ok(&d1).nlink, 3);
	cr_assert_eq(getattr_ok(&d2).nlink, 3);
	cr_assert_eq(r_rename(R, &d1, "s", &d2, "t"), NFS3_OK);
	cr_assert_eq(getattr_ok(&d1).nlink, 2);
	cr_assert_eq(getattr_ok(&d2).nlink, 3);
	cr_assert_eq(r_getattr(R, &t, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_lookup(R, &d2, "t", NULL, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, getattr_ok(&s).fileid);
	cr_assert_eq(fa.nlink, 2);
	/* its ".." now names the new parent */
	cr_assert_eq(r_lookup(R, &s, "..", NULL, &fa), NFS3_OK);
	cr_assert_eq(fa.fileid, getattr_ok(&d2).fileid);
	cr_assert_eq(r_lookup(R, &s, "inside", NULL, NULL), NFS3_OK);

	/* a directory to a new name within its parent: no link count changes */
	cr_assert_eq(r_rename(R, &d2, "t", &d2, "t2"), NFS3_OK);
	cr_assert_eq(getattr_ok(&d2).nlink, 3);
	cr_assert_eq(getattr_ok(&s).nlink, 2);
	cr_assert_eq(r_rename(R, &d2, "t2", &d2, "t"), NFS3_OK);
	/* a directory within its parent, over an empty sibling */
	mkdir_ok(&d2, "u", 0755);
	cr_assert_eq(getattr_ok(&d2).nlink, 4);
	cr_assert_eq(r_rename(R, &d2, "t", &d2, "u"), NFS3_OK);
	cr_assert_eq(getattr_ok(&d2).nlink, 3);
	cr_assert_eq(r_lookup(R, &d2, "t", NULL, NULL), NFS3ERR_NOENT);

	/* a directory over a non-empty one, a file over a directory and back */
	struct fh v = mkdir_ok(&d2, "v", 0755);
	create_ok(&v, "x", 0644);
	cr_assert_eq(r_rename(R, &d2, "u", &d2, "v"), NFS3ERR_NOTEMPTY);
	cr_assert_eq(r_rename(R, &d2, "c", &d2, "u"), NFS3ERR_ISDIR);
	cr_assert_eq(r_rename(R, &d2, "u", &d2, "c"), NFS3ERR_NOTDIR);
	cr_assert_eq(r_rename(R, &d2, "missing", &d2, "y"), NFS3ERR_NOENT);

	/* a name onto itself, and two links of one file: nothing happens */
	cr_assert_eq(r_rename(R, &d2, "c", &d2, "c"), NFS3_OK);
	cr_assert_eq(r_link(R, &a, &d1, "hard", NULL), NFS3_OK);
	cr_assert_eq(r_rename(R, &d1, "hard", &d2, "c"), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d1, "hard", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d2, "c", NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&a).nlink, 2);

	/* the data moved with the name */
	uint8_t buf[8];
	uint32_t got;
	cr_assert_eq(r_read(R, &a, 0, 8, buf, &got, NULL), NFS3_OK);
	cr_assert_eq(got, 4);
	cr_assert_eq(memcmp(buf, "AAAA", 4), 0);
}

Test(nfs3, link_across_directories)
{
	struct fh d1 = mkdir_ok(&ROOT, "d1", 0755);
	struct fh d2 = mkdir_ok(&ROOT, "d2", 0755);
	struct fh f = create_ok(&d1, "a", 0644);
	write_ok(&f, 0, "linked", 6, FILE_SYNC);
	fattr3 a;
	cr_assert_eq(r_link(R, &f, &d2, "b", &a), NFS3_OK);
	cr_assert_eq(a.nlink, 2);
	cr_assert_eq(r_link(R, &f, &d1, "c", &a), NFS3_OK);
	cr_assert_eq(a.nlink, 3);
	fattr3 la;
	struct fh g;
	cr_assert_eq(r_lookup(R, &d2, "b", &g, &la), NFS3_OK);
	cr_assert_eq(la.fileid, a.fileid);
	cr_assert_eq(la.nlink, 3);
	/* directories do not count links of files */
	cr_assert_eq(getattr_ok(&d1).nlink, 2);
	cr_assert_eq(getattr_ok(&d2).nlink, 2);
	cr_assert_eq(r_link(R, &f, &d2, "b", NULL), NFS3ERR_EXIST);
	/* hard links to directories are refused */
	cr_assert_eq(r_link(R, &d1, &d2, "dirlink", NULL), NFS3ERR_PERM);

	cr_assert_eq(r_remove(R, &d1, "a"), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).nlink, 2);
	uint8_t buf[8];
	uint32_t got;
	cr_assert_eq(r_read(R, &g, 0, 8, buf, &got, NULL), NFS3_OK);
	cr_assert_eq(got, 6);
	cr_assert_eq(memcmp(buf, "linked", 6), 0);
	/* a write through one name shows through the other */
	write_ok(&g, 0, "LI", 2, FILE_SYNC);
	struct fh h = lookup_ok(&d1, "c");
	cr_assert_eq(r_read(R, &h, 0, 8, buf, &got, NULL), NFS3_OK);
	cr_assert_eq(memcmp(buf, "LInked", 6), 0);
	cr_assert_eq(r_remove(R, &d1, "c"), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).nlink, 1);
	cr_assert_eq(r_remove(R, &d2, "b"), NFS3_OK);
	cr_assert_eq(r_getattr(R, &f, NULL), NFS3ERR_STALE);
}

/* A small listing, kept. */
struct small_list {
	unsigned n;
	struct {
		char name[64];
		uint64_t cookie, fileid;
		bool plus_ok;
		fattr3 attr;
		struct fh fh;
	} e[32];
};

static void small_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
			const entryplus3 *plus)
{
	struct small_list *l = arg;
	cr_assert_lt(l->n, 32, "too many entries");
	snprintf(l->e[l->n].name, sizeof(l->e[l->n].name), "%s", name);
	l->e[l->n].cookie = cookie;
	l->e[l->n].fileid = fileid;
	if (plus) {
		l->e[l->n].plus_ok =
			plus->name_attributes.attributes_follow && plus->name_handle.handle_follows;
		if (l->e[l->n].plus_ok) {
			l->e[l->n].attr = plus->name_attributes.post_op_attr_u.attributes;
			fh_from(&l->e[l->n].fh,
				plus->name_handle.post_op_fh3_u.handle.data.data_val,
				plus->name_handle.post_op_fh3_u.handle.data.data_len);
		}
	}
	l->n++;
}

static int small_find(const struct small_list *l, const char *name)
{
	int at = -1;
	for (unsigned i = 0; i < l->n; i++) {
		if (strcmp(l->e[i].name, name) == 0) {
			cr_assert_eq(at, -1, "%s listed twice", name);
			at = (int)i;
		}
	}
	return at;
}

Test(nfs3, readdir_and_readdirplus)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	static const char *const names[] = {"a", "bb", "sub", "lnk", "fifo"};
	create_ok(&d, "a", 0644);
	create_ok(&d, "bb", 0600);
	mkdir_ok(&d, "sub", 0755);
	cr_assert_eq(r_symlink(R, &d, "lnk", "a", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_mknod(R, &d, "fifo", NF3FIFO, 0644, 0, 0, NULL, NULL), NFS3_OK);
	static const ftype3 types[] = {NF3REG, NF3REG, NF3DIR, NF3LNK, NF3FIFO};

	struct small_list l = {0};
	bool eof = false;
	cr_assert_eq(r_readdir(R, &d, 0, 0, 8192, small_entry, &l, &eof), NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(l.n, 7, "%u entries", l.n);
	int dot = small_find(&l, "."), dotdot = small_find(&l, "..");
	cr_assert_geq(dot, 0);
	cr_assert_geq(dotdot, 0);
	cr_assert_eq(l.e[dot].fileid, getattr_ok(&d).fileid);
	cr_assert_eq(l.e[dotdot].fileid, getattr_ok(&ROOT).fileid);
	for (unsigned i = 0; i < 5; i++) {
		int at = small_find(&l, names[i]);
		cr_assert_geq(at, 0, "%s not listed", names[i]);
		fattr3 a;
		cr_assert_eq(r_lookup(R, &d, names[i], NULL, &a), NFS3_OK);
		cr_assert_eq(l.e[at].fileid, a.fileid, "%s: fileid", names[i]);
	}
	for (unsigned i = 0; i < l.n; i++) {
		cr_assert_neq(l.e[i].cookie, 0, "%s has cookie 0", l.e[i].name);
		for (unsigned j = 0; j < i; j++)
			cr_assert_neq(l.e[i].cookie, l.e[j].cookie, "two entries share a cookie");
	}
	/* resuming after any entry gives exactly the entries after it */
	for (unsigned k = 0; k < l.n; k++) {
		struct small_list rest = {0};
		cr_assert_eq(r_readdir(R, &d, l.e[k].cookie, 0, 8192, small_entry, &rest, &eof),
			     NFS3_OK);
		cr_assert(eof);
		cr_assert_eq(rest.n, l.n - k - 1, "after entry %u: %u entries", k, rest.n);
		for (unsigned i = 0; i < rest.n; i++)
			cr_assert_str_eq(rest.e[i].name, l.e[k + 1 + i].name);
	}

	struct small_list p = {0};
	cr_assert_eq(r_readdirplus(R, &d, 0, 4096, 32768, small_entry, &p, &eof), NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(p.n, 7);
	for (unsigned i = 0; i < p.n; i++) {
		cr_assert_str_eq(p.e[i].name, l.e[i].name, "READDIR and READDIRPLUS disagree");
		cr_assert_eq(p.e[i].cookie, l.e[i].cookie);
		cr_assert(p.e[i].plus_ok, "%s: no attributes or handle", p.e[i].name);
		cr_assert_eq(p.e[i].attr.fileid, p.e[i].fileid);
		fattr3 a = getattr_ok(&p.e[i].fh);
		cr_assert_eq(a.fileid, p.e[i].fileid, "%s: its handle names another file",
			     p.e[i].name);
	}
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(p.e[small_find(&p, names[i])].attr.type, types[i], "%s: type",
			     names[i]);
	/* paging one entry at a time: small counts still make progress */
	uint64_t cookie = 0;
	unsigned pages = 0, total = 0;
	eof = false;
	while (!eof) {
		struct small_list one = {0};
		cr_assert_eq(
			r_readdir(R, &d, cookie, 0, 24 + 88 + 8 + 8 + 40, small_entry, &one, &eof),
			NFS3_OK);
		cr_assert_leq(one.n, 1);
		if (one.n) {
			cr_assert_str_eq(one.e[0].name, l.e[total].name);
			cookie = one.e[0].cookie;
			total++;
		}
		cr_assert_lt(++pages, 20, "no end");
	}
	cr_assert_eq(total, l.n);
}

/* What an entry costs on the wire (RFC 1813 READDIR3resok, READDIRPLUS3resok). */
struct sized_list {
	unsigned n;
	size_t bytes;
};

static void sized_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
			const entryplus3 *plus)
{
	(void)cookie;
	(void)fileid;
	struct sized_list *l = arg;
	size_t b = 4 + 8 + 4 + ((strlen(name) + 3) & ~(size_t)3) + 8;
	if (plus) {
		b += 4 + (plus->name_attributes.attributes_follow ? 84 : 0);
		b += 4;
		if (plus->name_handle.handle_follows)
			b += 4 + ((plus->name_handle.post_op_fh3_u.handle.data.data_len + 3) & ~3u);
	}
	l->n++;
	l->bytes += b;
}

/* A reply never exceeds the count the client gave (a Linux client sizes
 * its buffer by it), and a count with room for one entry gets one. */
Test(nfs3, readdir_replies_fit_the_count)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	for (int i = 0; i < 40; i++) {
		char n[64];
		snprintf(n, sizeof(n), "%.*s%d", i % 30 + 1, "abcdefghijklmnopqrstuvwxyz0123", i);
		create_ok(&d, n, 0644);
	}
	/* status, dir attributes, verifier ... entries ... end of list, eof */
	const size_t fixed = 4 + 4 + 84 + 8 + 4 + 4;
	for (uint32_t count = 100; count < 3000; count += 37) {
		struct sized_list l = {0};
		bool eof = false;
		nfsstat3 st = r_readdir(R, &d, 0, 0, count, sized_entry, &l, &eof);
		/* "." needs 28 bytes; the server keeps 8 more in hand */
		if (count < fixed + 28) {
			cr_assert_eq(st, NFS3ERR_TOOSMALL, "count %u: %d", count, st);
			continue;
		}
		if (count < fixed + 28 + 8 && st == NFS3ERR_TOOSMALL)
			continue;
		cr_assert_eq(st, NFS3_OK, "count %u: %d", count, st);
		cr_assert_leq(fixed + l.bytes, count, "READDIR count %u: a reply of %zu bytes",
			      count, fixed + l.bytes);
		cr_assert_gt(l.n, 0, "count %u: no entry", count);
		struct sized_list p = {0};
		st = r_readdirplus(R, &d, 0, count, count, sized_entry, &p, &eof);
		/* "." with its attributes and handle needs 164 bytes */
		if (count < fixed + 164) {
			cr_assert_eq(st, NFS3ERR_TOOSMALL, "maxcount %u: %d", count, st);
			continue;
		}
		if (count < fixed + 164 + 8 && st == NFS3ERR_TOOSMALL)
			continue;
		cr_assert_eq(st, NFS3_OK, "count %u: %d", count, st);
		cr_assert_leq(fixed + p.bytes, count, "READDIRPLUS maxcount %u: %zu bytes", count,
			      fixed + p.bytes);
		cr_assert_gt(p.n, 0, "maxcount %u: no entry", count);
	}
}

/* Names are bytes: anything but '/' and NUL, case kept, compared exactly. */
Test(nfs3, names_are_opaque_bytes)
{
	static const char *const names[] = {
		"a",	    "A",	   "a b",	   " lead",	  "trail ",  "new\nline",
		"\xff\xfe", "caf\xc3\xa9", "cafe\xcc\x81", "...",	  ".hidden", "-",
		"\x01\x02", "*?[]",	   "a\\b",	   "\xe2\x82\xac"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	uint64_t ids[N];
	for (int i = 0; i < N; i++) {
		fattr3 a;
		cr_assert_eq(r_create(R, &d, names[i], GUARDED, NULL, 0, NULL, &a), NFS3_OK,
			     "create #%d", i);
		ids[i] = a.fileid;
	}
	for (int i = 0; i < N; i++) {
		fattr3 a;
		cr_assert_eq(r_lookup(R, &d, names[i], NULL, &a), NFS3_OK, "lookup #%d", i);
		cr_assert_eq(a.fileid, ids[i], "#%d found another file", i);
	}
	struct small_list l = {0};
	bool eof;
	cr_assert_eq(r_readdir(R, &d, 0, 0, 32768, small_entry, &l, &eof), NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(l.n, N + 2);
	for (int i = 0; i < N; i++) {
		int at = small_find(&l, names[i]);
		cr_assert_geq(at, 0, "#%d not listed byte for byte", i);
		cr_assert_eq(l.e[at].fileid, ids[i]);
	}
	cr_assert_eq(r_lookup(R, &d, "B", NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_lookup(R, &d, "a ", NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_remove(R, &d, "A"), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d, "a", NULL, NULL), NFS3_OK);
}

static void same_wcc(const wcc_attr *w, const fattr3 *a, const char *what)
{
	cr_assert_eq(w->size, a->size, "%s: size", what);
	cr_assert_eq(w->mtime.seconds, a->mtime.seconds, "%s: mtime", what);
	cr_assert_eq(w->mtime.nseconds, a->mtime.nseconds, "%s: mtime ns", what);
	cr_assert_eq(w->ctime.seconds, a->ctime.seconds, "%s: ctime", what);
	cr_assert_eq(w->ctime.nseconds, a->ctime.nseconds, "%s: ctime ns", what);
}

static void same_post(const post_op_attr *p, fattr3 a_, const char *what)
{
	const fattr3 *a = &a_;
	cr_assert(p->attributes_follow, "%s: no attributes", what);
	const fattr3 *b = &p->post_op_attr_u.attributes;
	cr_assert_eq(b->fileid, a->fileid, "%s: fileid", what);
	cr_assert_eq(b->size, a->size, "%s: size", what);
	cr_assert_eq(b->nlink, a->nlink, "%s: nlink", what);
	cr_assert_eq(b->mtime.seconds, a->mtime.seconds, "%s: mtime", what);
	cr_assert_eq(b->mtime.nseconds, a->mtime.nseconds, "%s: mtime ns", what);
	cr_assert_eq(b->ctime.nseconds, a->ctime.nseconds, "%s: ctime ns", what);
}

/* Weak cache consistency: "before" is the object as it was right before
 * the change, "after" as it is right after (clients trust these to keep
 * their caches). */
Test(nfs3, wcc_data_brackets_each_change)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	struct fh f = create_ok(&d, "f", 0644);
	write_ok(&f, 0, "12345", 5, FILE_SYNC);
	fattr3 before = getattr_ok(&f);

	WRITE3args wa = {.file = nfh(&f), .offset = 100, .count = 3, .stable = FILE_SYNC};
	wa.data.data_len = 3;
	wa.data.data_val = (char *)"abc";
	WRITE3res wr;
	struct pending wp = {.res = &wr, .size = sizeof(wr)};
	raw_run(R, &wp, rpc_nfs3_write_async(R->rpc, on_reply, &wa, &wp));
	cr_assert_eq(wr.status, NFS3_OK);
	cr_assert(wr.WRITE3res_u.resok.file_wcc.before.attributes_follow);
	same_wcc(&wr.WRITE3res_u.resok.file_wcc.before.pre_op_attr_u.attributes, &before,
		 "WRITE before");
	fattr3 after = getattr_ok(&f);
	cr_assert_eq(after.size, 103);
	same_post(&wr.WRITE3res_u.resok.file_wcc.after, after, "WRITE after");

	before = after;
	SETATTR3args sa;
	memset(&sa, 0, sizeof(sa));
	sa.object = nfh(&f);
	sa.new_attributes.size.set_it = 1;
	sa.new_attributes.size.set_size3_u.size = 1;
	SETATTR3res sr;
	struct pending sp = {.res = &sr, .size = sizeof(sr)};
	raw_run(R, &sp, rpc_nfs3_setattr_async(R->rpc, on_reply, &sa, &sp));
	cr_assert_eq(sr.status, NFS3_OK);
	cr_assert(sr.SETATTR3res_u.resok.obj_wcc.before.attributes_follow);
	same_wcc(&sr.SETATTR3res_u.resok.obj_wcc.before.pre_op_attr_u.attributes, &before,
		 "SETATTR before");
	same_post(&sr.SETATTR3res_u.resok.obj_wcc.after, getattr_ok(&f), "SETATTR after");

	before = getattr_ok(&d);
	CREATE3args ca;
	memset(&ca, 0, sizeof(ca));
	ca.where.dir = nfh(&d);
	ca.where.name = (char *)"g";
	ca.how.mode = GUARDED;
	CREATE3res cres;
	struct fh g;
	struct pending cp = {.res = &cres, .size = sizeof(cres), .fix = fix_CREATE3res, .fh = &g};
	raw_run(R, &cp, rpc_nfs3_create_async(R->rpc, on_reply, &ca, &cp));
	cr_assert_eq(cres.status, NFS3_OK);
	cr_assert(cres.CREATE3res_u.resok.dir_wcc.before.attributes_follow);
	same_wcc(&cres.CREATE3res_u.resok.dir_wcc.before.pre_op_attr_u.attributes, &before,
		 "CREATE dir before");
	after = getattr_ok(&d);
	same_post(&cres.CREATE3res_u.resok.dir_wcc.after, after, "CREATE dir after");
	same_post(&cres.CREATE3res_u.resok.obj_attributes, getattr_ok(&g), "CREATE object");

	before = after;
	fattr3 rbefore = getattr_ok(&ROOT);
	RENAME3args ra = {.from = {.dir = nfh(&d), .name = (char *)"g"},
			  .to = {.dir = nfh(&ROOT), .name = (char *)"g"}};
	RENAME3res rr;
	struct pending rp = {.res = &rr, .size = sizeof(rr)};
	raw_run(R, &rp, rpc_nfs3_rename_async(R->rpc, on_reply, &ra, &rp));
	cr_assert_eq(rr.status, NFS3_OK);
	same_wcc(&rr.RENAME3res_u.resok.fromdir_wcc.before.pre_op_attr_u.attributes, &before,
		 "RENAME from before");
	same_wcc(&rr.RENAME3res_u.resok.todir_wcc.before.pre_op_attr_u.attributes, &rbefore,
		 "RENAME to before");
	same_post(&rr.RENAME3res_u.resok.fromdir_wcc.after, getattr_ok(&d), "RENAME from after");
	same_post(&rr.RENAME3res_u.resok.todir_wcc.after, getattr_ok(&ROOT), "RENAME to after");

	before = getattr_ok(&ROOT);
	REMOVE3args ma = {.object = {.dir = nfh(&ROOT), .name = (char *)"g"}};
	REMOVE3res mr;
	struct pending mp = {.res = &mr, .size = sizeof(mr)};
	raw_run(R, &mp, rpc_nfs3_remove_async(R->rpc, on_reply, &ma, &mp));
	cr_assert_eq(mr.status, NFS3_OK);
	same_wcc(&mr.REMOVE3res_u.resok.dir_wcc.before.pre_op_attr_u.attributes, &before,
		 "REMOVE before");
	same_post(&mr.REMOVE3res_u.resok.dir_wcc.after, getattr_ok(&ROOT), "REMOVE after");

	/* LINK: the file's new attributes, the directory bracketed */
	before = getattr_ok(&ROOT);
	LINK3args la = {.file = nfh(&f), .link = {.dir = nfh(&ROOT), .name = (char *)"l"}};
	LINK3res lr;
	struct pending lp = {.res = &lr, .size = sizeof(lr)};
	raw_run(R, &lp, rpc_nfs3_link_async(R->rpc, on_reply, &la, &lp));
	cr_assert_eq(lr.status, NFS3_OK);
	same_wcc(&lr.LINK3res_u.resok.linkdir_wcc.before.pre_op_attr_u.attributes, &before,
		 "LINK dir before");
	same_post(&lr.LINK3res_u.resok.linkdir_wcc.after, getattr_ok(&ROOT), "LINK dir after");
	same_post(&lr.LINK3res_u.resok.file_attributes, getattr_ok(&f), "LINK file");
	cr_assert_eq(getattr_ok(&f).nlink, 2);
}

Test(nfs3, fsstat_fsinfo_pathconf)
{
	FSINFO3args fa = {.fsroot = nfh(&ROOT)};
	FSINFO3res fr;
	struct pending p = {.res = &fr, .size = sizeof(fr)};
	raw_run(R, &p, rpc_nfs3_fsinfo_async(R->rpc, on_reply, &fa, &p));
	cr_assert_eq(fr.status, NFS3_OK);
	FSINFO3resok *fi = &fr.FSINFO3res_u.resok;
	cr_assert_eq(fi->rtmax, MIB);
	cr_assert_eq(fi->wtmax, MIB);
	cr_assert_eq(fi->rtpref, MIB);
	cr_assert_eq(fi->wtpref, MIB);
	cr_assert_eq(fi->rtmult, 4096);
	cr_assert_eq(fi->wtmult, 4096);
	cr_assert_eq(fi->maxfilesize, MAX_FILE_SIZE);
	cr_assert_eq(fi->time_delta.seconds, 0);
	cr_assert_eq(fi->time_delta.nseconds, 1);
	cr_assert_eq(fi->properties, FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME);
	cr_assert(fi->obj_attributes.attributes_follow);

	PATHCONF3args pa = {.object = nfh(&ROOT)};
	PATHCONF3res pr;
	struct pending pp = {.res = &pr, .size = sizeof(pr)};
	raw_run(R, &pp, rpc_nfs3_pathconf_async(R->rpc, on_reply, &pa, &pp));
	cr_assert_eq(pr.status, NFS3_OK);
	PATHCONF3resok *pc = &pr.PATHCONF3res_u.resok;
	cr_assert_eq(pc->name_max, 255);
	cr_assert_eq(pc->linkmax, 65000);
	cr_assert(pc->no_trunc);
	cr_assert(pc->chown_restricted);
	cr_assert(!pc->case_insensitive);
	cr_assert(pc->case_preserving);

	FSSTAT3args sa = {.fsroot = nfh(&ROOT)};
	FSSTAT3res sr;
	struct pending sp = {.res = &sr, .size = sizeof(sr)};
	raw_run(R, &sp, rpc_nfs3_fsstat_async(R->rpc, on_reply, &sa, &sp));
	cr_assert_eq(sr.status, NFS3_OK);
	FSSTAT3resok *fs = &sr.FSSTAT3res_u.resok;
	/* vol0 is 4 GiB; metadata may take a little of it */
	cr_assert_leq(fs->tbytes, 4 * GIB);
	cr_assert_geq(fs->tbytes, 4 * GIB - 64 * MIB, "tbytes %llu",
		      (unsigned long long)fs->tbytes);
	cr_assert_leq(fs->fbytes, fs->tbytes);
	cr_assert_leq(fs->abytes, fs->fbytes);
	cr_assert_geq(fs->fbytes, fs->tbytes - 64 * MIB, "an empty volume has %llu free",
		      (unsigned long long)fs->fbytes);
	cr_assert_gt(fs->tfiles, 1000);
	cr_assert_leq(fs->ffiles, fs->tfiles);
	cr_assert_leq(fs->afiles, fs->ffiles);
	/* a new file takes one inode */
	create_ok(&ROOT, "one", 0644);
	FSSTAT3res sr2;
	struct pending sp2 = {.res = &sr2, .size = sizeof(sr2)};
	raw_run(R, &sp2, rpc_nfs3_fsstat_async(R->rpc, on_reply, &sa, &sp2));
	cr_assert_eq(sr2.status, NFS3_OK);
	cr_assert_eq(sr2.FSSTAT3res_u.resok.ffiles, fs->ffiles - 1);

	/* written and committed data takes space; removed, it comes back */
	struct fh big = create_ok(&ROOT, "space", 0644);
	uint8_t *buf = calloc(1, MIB);
	cr_assert_not_null(buf);
	buf[0] = 1;
	for (unsigned i = 0; i < 32; i++)
		write_ok(&big, (uint64_t)i * MIB, buf, MIB, UNSTABLE);
	cr_assert_eq(r_commit(R, &big, NULL), NFS3_OK);
	free(buf);
	FSSTAT3res sr3;
	struct pending sp3 = {.res = &sr3, .size = sizeof(sr3)};
	raw_run(R, &sp3, rpc_nfs3_fsstat_async(R->rpc, on_reply, &sa, &sp3));
	cr_assert_eq(sr3.status, NFS3_OK);
	cr_assert_leq(sr3.FSSTAT3res_u.resok.fbytes, fs->fbytes - 32 * MIB,
		      "32 MiB written, free went from %llu to %llu", (unsigned long long)fs->fbytes,
		      (unsigned long long)sr3.FSSTAT3res_u.resok.fbytes);
	cr_assert_geq(getattr_ok(&big).used, 32 * MIB);
	cr_assert_eq(r_remove(R, &ROOT, "space"), NFS3_OK);
	/* a freed block counts as free once the CP that freed it is on disk:
	 * an UNSTABLE write and a COMMIT make a CP, twice */
	struct fh other = create_ok(&ROOT, "other", 0644);
	for (int i = 0; i < 2; i++) {
		write_ok(&other, 0, "x", 1, UNSTABLE);
		cr_assert_eq(r_commit(R, &other, NULL), NFS3_OK);
	}
	FSSTAT3res sr4;
	struct pending sp4 = {.res = &sr4, .size = sizeof(sr4)};
	raw_run(R, &sp4, rpc_nfs3_fsstat_async(R->rpc, on_reply, &sa, &sp4));
	cr_assert_eq(sr4.status, NFS3_OK);
	cr_assert_geq(sr4.FSSTAT3res_u.resok.fbytes, fs->fbytes - 4 * MIB,
		      "removed, free went only back to %llu of %llu",
		      (unsigned long long)sr4.FSSTAT3res_u.resok.fbytes,
		      (unsigned long long)fs->fbytes);

	/* the sync API sees the same */
	struct nfs_context *n = nfs_as(0, 0);
	struct statvfs sv;
	cr_assert_eq(nfs_statvfs(n, "/", &sv), 0, "%s", nfs_get_error(n));
	cr_assert_eq((uint64_t)sv.f_blocks * sv.f_frsize, fs->tbytes);
}

/* ---- errors ----------------------------------------------------------- */

Test(nfs3, errors_noent_exist_notdir_isdir_notempty)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	struct fh f = create_ok(&ROOT, "f", 0644);
	create_ok(&d, "inside", 0644);
	/* NOENT */
	cr_assert_eq(r_lookup(R, &ROOT, "nope", NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(r_remove(R, &ROOT, "nope"), NFS3ERR_NOENT);
	cr_assert_eq(r_rmdir(R, &ROOT, "nope"), NFS3ERR_NOENT);
	cr_assert_eq(r_rename(R, &ROOT, "nope", &ROOT, "x"), NFS3ERR_NOENT);
	/* EXIST */
	cr_assert_eq(r_mkdir(R, &ROOT, "f", 0755, NULL, NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_mkdir(R, &ROOT, "d", 0755, NULL, NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_create(R, &ROOT, "d", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_symlink(R, &ROOT, "f", "t", NULL, NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_link(R, &f, &ROOT, "d", NULL), NFS3ERR_EXIST);
	cr_assert_eq(r_mknod(R, &ROOT, "f", NF3FIFO, 0644, 0, 0, NULL, NULL), NFS3ERR_EXIST);
	/* NOTDIR: a file where a directory must be */
	cr_assert_eq(r_lookup(R, &f, "x", NULL, NULL), NFS3ERR_NOTDIR);
	cr_assert_eq(r_create(R, &f, "x", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_NOTDIR);
	cr_assert_eq(r_mkdir(R, &f, "x", 0755, NULL, NULL), NFS3ERR_NOTDIR);
	cr_assert_eq(r_readdir(R, &f, 0, 0, 4096, small_entry, NULL, NULL), NFS3ERR_NOTDIR);
	cr_assert_eq(r_rmdir(R, &ROOT, "f"), NFS3ERR_NOTDIR);
	cr_assert_eq(r_rename(R, &ROOT, "d", &ROOT, "f"), NFS3ERR_NOTDIR);
	/* ISDIR: a directory where a file must be */
	uint8_t b[16];
	cr_assert_eq(r_read(R, &d, 0, sizeof(b), b, NULL, NULL), NFS3ERR_ISDIR);
	cr_assert_eq(r_write(R, &d, 0, "x", 1, FILE_SYNC, NULL), NFS3ERR_ISDIR);
	cr_assert_eq(r_remove(R, &ROOT, "d"), NFS3ERR_ISDIR);
	cr_assert_eq(r_rename(R, &ROOT, "f", &ROOT, "d"), NFS3ERR_ISDIR);
	cr_assert_eq(r_create(R, &ROOT, "d", UNCHECKED, NULL, 0, NULL, NULL), NFS3ERR_ISDIR);
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	cr_assert_eq(r_setattr(R, &d, &s, NULL, NULL), NFS3ERR_ISDIR);
	/* NOTEMPTY */
	cr_assert_eq(r_rmdir(R, &ROOT, "d"), NFS3ERR_NOTEMPTY);
	mkdir_ok(&ROOT, "e", 0755);
	cr_assert_eq(r_rename(R, &ROOT, "e", &ROOT, "d"), NFS3ERR_NOTEMPTY);
	/* nothing above changed anything */
	struct small_list l = {0};
	bool eof;
	cr_assert_eq(r_readdir(R, &ROOT, 0, 0, 8192, small_entry, &l, &eof), NFS3_OK);
	cr_assert_eq(l.n, 5, "the root has %u entries", l.n);
	cr_assert_eq(getattr_ok(&f).size, 0);
}

Test(nfs3, errors_names)
{
	char name[300];
	memset(name, 'n', sizeof(name));
	name[256] = 0;
	cr_assert_eq(r_create(R, &ROOT, name, GUARDED, NULL, 0, NULL, NULL), NFS3ERR_NAMETOOLONG);
	cr_assert_eq(r_mkdir(R, &ROOT, name, 0755, NULL, NULL), NFS3ERR_NAMETOOLONG);
	cr_assert_eq(r_lookup(R, &ROOT, name, NULL, NULL), NFS3ERR_NAMETOOLONG);
	cr_assert_eq(r_symlink(R, &ROOT, name, "t", NULL, NULL), NFS3ERR_NAMETOOLONG);
	name[255] = 0; /* 255 bytes: the longest name */
	struct fh f;
	cr_assert_eq(r_create(R, &ROOT, name, GUARDED, NULL, 0, &f, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(R, &ROOT, name, NULL, NULL), NFS3_OK);
	name[255] = 'n';
	name[256] = 'n';
	name[257] = 0;
	cr_assert_eq(r_rename(R, &ROOT, "x", &ROOT, name), NFS3ERR_NAMETOOLONG);
	cr_assert_eq(r_link(R, &f, &ROOT, name, NULL), NFS3ERR_NAMETOOLONG);
	/* a name is one path component, never empty */
	cr_assert_eq(r_create(R, &ROOT, "a/b", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_INVAL);
	cr_assert_eq(r_create(R, &ROOT, "", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_INVAL);
	cr_assert_eq(r_lookup(R, &ROOT, "", NULL, NULL), NFS3ERR_INVAL);
	cr_assert_eq(r_remove(R, &ROOT, "."), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &ROOT, ".", &ROOT, "x"), NFS3ERR_INVAL);
}

Test(nfs3, errors_stale_and_badhandle)
{
	struct fh f = create_ok(&ROOT, "f", 0644);
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	cr_assert_eq(r_remove(R, &ROOT, "f"), NFS3_OK);
	cr_assert_eq(r_rmdir(R, &ROOT, "d"), NFS3_OK);
	cr_assert_eq(r_getattr(R, &f, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_lookup(R, &d, "x", NULL, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_create(R, &d, "x", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_STALE);
	cr_assert_eq(r_readdir(R, &d, 0, 0, 4096, small_entry, NULL, NULL), NFS3ERR_STALE);
	sattr3 s = sa_mode(0600);
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3ERR_STALE);
	uint32_t got;
	cr_assert_eq(r_access(R, &f, ACCESS3_READ, &got), NFS3ERR_STALE);
	cr_assert_eq(r_commit(R, &f, NULL), NFS3ERR_STALE);

	/* every single flipped bit of a live handle: refused as not ours
	 * (BADHANDLE), never served, never crashing the server */
	struct fh g = create_ok(&ROOT, "g", 0644);
	for (uint32_t i = 0; i < g.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			struct fh bad = g;
			bad.data[i] ^= (char)(1 << bit);
			nfsstat3 st = r_getattr(R, &bad, NULL);
			cr_assert_eq(st, NFS3ERR_BADHANDLE, "byte %u bit %d: %d", i, bit, st);
		}
	}
	/* wrong lengths */
	struct fh shorter = g, longer = g, empty = {0};
	shorter.len--;
	longer.data[longer.len++] = 0;
	cr_assert_eq(r_getattr(R, &shorter, NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_getattr(R, &longer, NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_getattr(R, &empty, NULL), NFS3ERR_BADHANDLE);
	struct fh maxlen = {.len = NFS3_FHSIZE};
	memcpy(maxlen.data, g.data, g.len);
	cr_assert_eq(r_getattr(R, &maxlen, NULL), NFS3ERR_BADHANDLE);
	/* a bad handle in any position */
	struct fh bad = g;
	bad.data[20] ^= 1;
	cr_assert_eq(r_lookup(R, &bad, "g", NULL, NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_write(R, &bad, 0, "x", 1, FILE_SYNC, NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_rename(R, &ROOT, "g", &bad, "h"), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_link(R, &bad, &ROOT, "h", NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_link(R, &g, &bad, "h", NULL), NFS3ERR_BADHANDLE);
	cr_assert_eq(r_lookup(R, &ROOT, "h", NULL, NULL), NFS3ERR_NOENT);
	/* the good handle still works */
	cr_assert_eq(r_getattr(R, &g, NULL), NFS3_OK);
}

Test(nfs3, errors_not_sync_toosmall_inval_fbig)
{
	struct fh f = create_ok(&ROOT, "f", 0644);
	fattr3 a = getattr_ok(&f);
	/* NOT_SYNC: the guard names another ctime; nothing changes */
	sattr3 s = sa_mode(0600);
	nfstime3 wrong = a.ctime;
	wrong.nseconds = (wrong.nseconds + 1) % 1000000000u;
	cr_assert_eq(r_setattr(R, &f, &s, &wrong, NULL), NFS3ERR_NOT_SYNC);
	cr_assert_eq(getattr_ok(&f).mode, 0644);
	wrong = a.ctime;
	wrong.seconds -= 1;
	cr_assert_eq(r_setattr(R, &f, &s, &wrong, NULL), NFS3ERR_NOT_SYNC);
	fattr3 b;
	cr_assert_eq(r_setattr(R, &f, &s, &a.ctime, &b), NFS3_OK);
	cr_assert_eq(b.mode, 0600);
	/* the guard now fails: the ctime moved on with the change */
	s = sa_mode(0644);
	cr_assert_eq(r_setattr(R, &f, &s, &a.ctime, NULL), NFS3ERR_NOT_SYNC);

	/* TOOSMALL: no room for even one entry */
	cr_assert_eq(r_readdir(R, &ROOT, 0, 0, 10, small_entry, NULL, NULL), NFS3ERR_TOOSMALL);
	cr_assert_eq(r_readdirplus(R, &ROOT, 0, 10, 10, small_entry, NULL, NULL), NFS3ERR_TOOSMALL);

	/* INVAL: a directory moved under itself */
	struct fh a1 = mkdir_ok(&ROOT, "a", 0755);
	struct fh a2 = mkdir_ok(&a1, "b", 0755);
	struct fh a3 = mkdir_ok(&a2, "c", 0755);
	cr_assert_eq(r_rename(R, &ROOT, "a", &a1, "x"), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &ROOT, "a", &a3, "x"), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &a1, "b", &a3, "x"), NFS3ERR_INVAL);
	cr_assert_eq(r_lookup(R, &ROOT, "a", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(R, &a3, "x", NULL, NULL), NFS3ERR_NOENT);
	/* moving it up is fine */
	cr_assert_eq(r_rename(R, &a2, "c", &ROOT, "c"), NFS3_OK);
	/* the check follows parents as renames left them: a is moved under
	 * c, so c may not go under a's subdirectory b */
	cr_assert_eq(r_rename(R, &ROOT, "a", &a3, "a"), NFS3_OK);
	cr_assert_eq(r_rename(R, &ROOT, "c", &a2, "c2"), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &ROOT, "c", &a1, "c2"), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &a3, "a", &ROOT, "a"), NFS3_OK);
	cr_assert_eq(r_rename(R, &ROOT, "c", &a2, "c2"), NFS3_OK);
	/* "." and ".." are no names to remove or move */
	cr_assert_eq(r_rmdir(R, &a1, "."), NFS3ERR_INVAL);
	cr_assert_eq(r_rmdir(R, &a1, ".."), NFS3ERR_NOTEMPTY);
	cr_assert_eq(r_rename(R, &a1, "..", &ROOT, "x"), NFS3ERR_INVAL);
	cr_assert_eq(r_rename(R, &ROOT, "f", &a1, ".."), NFS3ERR_INVAL);

	/* FBIG: past 64 TiB */
	struct wres w;
	cr_assert_eq(r_write(R, &f, MAX_FILE_SIZE, "x", 1, FILE_SYNC, NULL), NFS3ERR_FBIG);
	cr_assert_eq(r_write(R, &f, MAX_FILE_SIZE - 1, "xy", 2, FILE_SYNC, NULL), NFS3ERR_FBIG);
	cr_assert_eq(r_write(R, &f, UINT64_MAX, "x", 1, FILE_SYNC, NULL), NFS3ERR_FBIG);
	cr_assert_eq(r_write(R, &f, MAX_FILE_SIZE - 1, "z", 1, FILE_SYNC, &w), NFS3_OK);
	cr_assert_eq(w.after.size, MAX_FILE_SIZE);
	uint8_t c = 0;
	uint32_t got;
	bool eof;
	cr_assert_eq(r_read(R, &f, MAX_FILE_SIZE - 1, 10, &c, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 1);
	cr_assert_eq(c, 'z');
	cr_assert(eof);
	/* deep in the hole below it: zeros */
	uint8_t hole[4096];
	memset(hole, 0xff, sizeof(hole));
	cr_assert_eq(r_read(R, &f, MAX_FILE_SIZE - MIB, sizeof(hole), hole, &got, &eof), NFS3_OK);
	cr_assert_eq(got, sizeof(hole));
	cr_assert(!eof);
	cr_assert(all_zero(hole, sizeof(hole)));
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = MAX_FILE_SIZE + 1;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3ERR_FBIG);
	cr_assert_eq(getattr_ok(&f).size, MAX_FILE_SIZE);
	s.size.set_size3_u.size = 0;
	cr_assert_eq(r_setattr(R, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).size, 0);
}

static void count_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
			const entryplus3 *plus)
{
	(void)name;
	(void)cookie;
	(void)fileid;
	(void)plus;
	(*(unsigned *)arg)++;
}

/* NFS3ERR_BAD_COOKIE is never answered: cookies are name hashes that stay
 * valid across any change, and the cookie verifier is neither set (it is
 * always 0) nor checked. This documents that. */
Test(nfs3, readdir_cookies_never_go_bad)
{
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	for (int i = 0; i < 20; i++) {
		char n[16];
		snprintf(n, sizeof(n), "e%02d", i);
		create_ok(&d, n, 0644);
	}
	struct small_list l = {0};
	bool eof;
	cr_assert_eq(r_readdir(R, &d, 0, 0, 8192, small_entry, &l, &eof), NFS3_OK);
	cr_assert_eq(l.n, 22);
	/* the cookie of a removed entry still works, whatever the verifier */
	unsigned k = 10;
	cr_assert_eq(r_remove(R, &d, l.e[k].name), NFS3_OK);
	struct small_list rest = {0};
	cr_assert_eq(r_readdir(R, &d, l.e[k].cookie, 0xdeadbeefcafef00dull, 8192, small_entry,
			       &rest, &eof),
		     NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(rest.n, l.n - k - 1);
	for (unsigned i = 0; i < rest.n; i++)
		cr_assert_str_eq(rest.e[i].name, l.e[k + 1 + i].name);
	/* a cookie the server never gave out is a position too */
	unsigned n = 0;
	cr_assert_eq(r_readdir(R, &d, 0x123456789abcdefull, 0, 8192, count_entry, &n, &eof),
		     NFS3_OK);
	cr_assert(eof);
	cr_assert_leq(n, 22);
	n = 0;
	cr_assert_eq(r_readdir(R, &d, UINT64_MAX, 0, 8192, count_entry, &n, &eof), NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(n, 0);
	/* the verifier the server hands out */
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = nfh(&d);
	a.count = 8192;
	READDIR3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(R, &p, rpc_nfs3_readdir_async(R->rpc, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK);
	uint64_t verf;
	memcpy(&verf, r.READDIR3res_u.resok.cookieverf, sizeof(verf));
	cr_assert_eq(verf, 0);
}

/* ---- permissions ------------------------------------------------------ */

#define OWNER 1000u
#define GROUP 100u

static void chown_ok(const struct fh *f, uint32_t uid, uint32_t gid)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.uid.set_it = 1;
	s.uid.set_uid3_u.uid = uid;
	s.gid.set_it = 1;
	s.gid.set_gid3_u.gid = gid;
	cr_assert_eq(r_setattr(R, f, &s, NULL, NULL), NFS3_OK);
}

static void chmod_ok(const struct fh *f, uint32_t mode)
{
	sattr3 s = sa_mode(mode);
	cr_assert_eq(r_setattr(R, f, &s, NULL, NULL), NFS3_OK);
}

Test(nfs3, permissions_owner_group_other)
{
	uint32_t supp[2] = {7, GROUP};
	struct raw *own = raw_open(OWNER, GROUP);
	struct raw *grp = raw_open(1001, GROUP);
	struct raw *oth = raw_open(1002, 200);
	struct raw *sup = raw_open_as(1003, 300, 2, supp); /* in GROUP as a supplementary */
	struct fh f = create_ok(&ROOT, "f", 0640);
	chown_ok(&f, OWNER, GROUP);
	write_ok(&f, 0, "secret", 6, FILE_SYNC);
	const uint32_t all = ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND |
			     ACCESS3_DELETE | ACCESS3_EXECUTE;
	uint32_t got;
	cr_assert_eq(r_access(own, &f, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND, "owner: %#x", got);
	cr_assert_eq(r_access(grp, &f, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ, "group: %#x", got);
	cr_assert_eq(r_access(sup, &f, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ, "supplementary group: %#x", got);
	cr_assert_eq(r_access(oth, &f, all, &got), NFS3_OK);
	cr_assert_eq(got, 0, "other: %#x", got);

	uint8_t b[16];
	cr_assert_eq(r_read(own, &f, 0, 6, b, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_read(grp, &f, 0, 6, b, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_read(sup, &f, 0, 6, b, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_read(oth, &f, 0, 6, b, NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_write(own, &f, 0, "S", 1, FILE_SYNC, NULL), NFS3_OK);
	cr_assert_eq(r_write(grp, &f, 0, "X", 1, FILE_SYNC, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_write(oth, &f, 0, "X", 1, FILE_SYNC, NULL), NFS3ERR_ACCES);
	sattr3 trunc;
	memset(&trunc, 0, sizeof(trunc));
	trunc.size.set_it = 1;
	cr_assert_eq(r_setattr(grp, &f, &trunc, NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(getattr_ok(&f).size, 6);

	/* the group class decides for group members, even when other may more */
	struct fh g = create_ok(&ROOT, "g", 0604);
	chown_ok(&g, OWNER, GROUP);
	cr_assert_eq(r_read(grp, &g, 0, 1, b, NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_read(oth, &g, 0, 1, b, NULL, NULL), NFS3_OK);

	/* directories: search (x) for LOOKUP, read for READDIR, write+x to change */
	struct fh d = mkdir_ok(&ROOT, "d", 0750);
	chown_ok(&d, OWNER, GROUP);
	create_ok(&d, "in", 0644);
	cr_assert_eq(r_lookup(own, &d, "in", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(grp, &d, "in", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(oth, &d, "in", NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_readdir(oth, &d, 0, 0, 4096, small_entry, NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_create(grp, &d, "g1", GUARDED, NULL, 0, NULL, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_remove(grp, &d, "in"), NFS3ERR_ACCES);
	cr_assert_eq(r_create(own, &d, "o1", GUARDED, NULL, 0, NULL, NULL), NFS3_OK);
	fattr3 a;
	cr_assert_eq(r_lookup(own, &d, "o1", NULL, &a), NFS3_OK);
	cr_assert_eq(a.uid, OWNER, "a new file belongs to its creator");
	cr_assert_eq(a.gid, GROUP);
	cr_assert_eq(r_access(grp, &d, all, &got), NFS3_OK);
	cr_assert_eq(got, ACCESS3_READ | ACCESS3_LOOKUP, "group on a 0750 dir: %#x", got);
	/* x only: names can be looked up but not listed */
	struct fh x = mkdir_ok(&ROOT, "x", 0711);
	create_ok(&x, "known", 0644);
	cr_assert_eq(r_lookup(oth, &x, "known", NULL, NULL), NFS3_OK);
	unsigned n = 0;
	cr_assert_eq(r_readdir(oth, &x, 0, 0, 4096, count_entry, &n, NULL), NFS3ERR_ACCES);
	cr_assert_eq(r_readdirplus(oth, &x, 0, 4096, 4096, count_entry, &n, NULL), NFS3ERR_ACCES);
}

Test(nfs3, permissions_chmod_chown_times_mknod)
{
	uint32_t supp[1] = {500};
	struct raw *own = raw_open_as(OWNER, GROUP, 1, supp);
	struct raw *grp = raw_open(1001, GROUP);
	struct fh f = create_ok(&ROOT, "f", 0660);
	chown_ok(&f, OWNER, GROUP);
	sattr3 s = sa_mode(0666);
	/* chmod: the owner only */
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).mode, 0666);
	/* chown: root only, even to oneself or by the owner */
	memset(&s, 0, sizeof(s));
	s.uid.set_it = 1;
	s.uid.set_uid3_u.uid = 1001;
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(getattr_ok(&f).uid, OWNER);
	/* chgrp: the owner, to a group it is in */
	memset(&s, 0, sizeof(s));
	s.gid.set_it = 1;
	s.gid.set_gid3_u.gid = 500;
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).gid, 500);
	s.gid.set_gid3_u.gid = 12345;
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(getattr_ok(&f).gid, 500);
	chown_ok(&f, OWNER, GROUP);
	/* explicit times: the owner; the server's time: anyone who may write */
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime.seconds = 42;
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).mtime.seconds, 42);
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_SERVER_TIME;
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_gt(getattr_ok(&f).mtime.seconds, 42);
	chmod_ok(&f, 0640);
	cr_assert_eq(r_setattr(grp, &f, &s, NULL, NULL), NFS3ERR_ACCES);
	/* devices: root only; fifos and sockets: anyone who may write the dir */
	struct fh d = mkdir_ok(&ROOT, "d", 0777);
	cr_assert_eq(r_mknod(own, &d, "c", NF3CHR, 0600, 1, 3, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_mknod(own, &d, "b", NF3BLK, 0600, 8, 0, NULL, NULL), NFS3ERR_PERM);
	cr_assert_eq(r_mknod(own, &d, "p", NF3FIFO, 0600, 0, 0, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_mknod(own, &d, "s", NF3SOCK, 0600, 0, 0, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(R, &d, "c", NULL, NULL), NFS3ERR_NOENT);
}

Test(nfs3, permissions_sticky_directory)
{
	struct raw *a = raw_open(OWNER, GROUP);
	struct raw *b = raw_open(1001, GROUP);
	struct raw *o = raw_open(1002, GROUP);
	struct fh t = mkdir_ok(&ROOT, "tmp", 01777);
	chown_ok(&t, 1002, GROUP); /* o owns the directory */
	cr_assert_eq(getattr_ok(&t).mode, 01777);
	cr_assert_eq(r_create(a, &t, "a", GUARDED, NULL, 0, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_create(a, &t, "a2", GUARDED, NULL, 0, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_mkdir(a, &t, "adir", 0777, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_create(b, &t, "b", GUARDED, NULL, 0, NULL, NULL), NFS3_OK);
	/* unlink(2) and rename(2) on Linux give EPERM here: so does wafl */
	cr_assert_eq(r_remove(b, &t, "a"), NFS3ERR_PERM);
	cr_assert_eq(r_rmdir(b, &t, "adir"), NFS3ERR_PERM);
	cr_assert_eq(r_rename(b, &t, "a", &t, "mine"), NFS3ERR_PERM);
	/* nor may b replace a's file with its own */
	cr_assert_eq(r_rename(b, &t, "b", &t, "a"), NFS3ERR_PERM);
	cr_assert_eq(r_lookup(R, &t, "a", NULL, NULL), NFS3_OK);
	cr_assert_eq(r_lookup(R, &t, "b", NULL, NULL), NFS3_OK);
	/* the file's owner, the directory's owner and root may */
	cr_assert_eq(r_remove(b, &t, "b"), NFS3_OK);
	cr_assert_eq(r_remove(a, &t, "a"), NFS3_OK);
	cr_assert_eq(r_remove(o, &t, "a2"), NFS3_OK);
	cr_assert_eq(r_rmdir(R, &t, "adir"), NFS3_OK);
	/* without the sticky bit, anyone who may write the directory may */
	chmod_ok(&t, 0777);
	cr_assert_eq(r_create(a, &t, "a3", GUARDED, NULL, 0, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_remove(b, &t, "a3"), NFS3_OK);
}

Test(nfs3, permissions_setgid_directory_inheritance)
{
	struct raw *u = raw_open(OWNER, GROUP);
	struct fh sg = mkdir_ok(&ROOT, "sg", 0777);
	chown_ok(&sg, 0, 300);
	chmod_ok(&sg, 02777);
	cr_assert_eq(getattr_ok(&sg).mode, 02777);
	fattr3 a;
	struct fh sub;
	cr_assert_eq(r_create(u, &sg, "f", GUARDED, NULL, 0, NULL, &a), NFS3_OK);
	cr_assert_eq(a.uid, OWNER);
	cr_assert_eq(a.gid, 300, "a file in a setgid directory takes its group");
	cr_assert_eq(a.mode & 02000, 0);
	cr_assert_eq(r_mkdir(u, &sg, "sub", 0755, &sub, &a), NFS3_OK);
	cr_assert_eq(a.gid, 300);
	cr_assert_eq(a.mode, 02755, "a subdirectory inherits the setgid bit: %#o", a.mode);
	cr_assert_eq(r_create(u, &sub, "deeper", GUARDED, NULL, 0, NULL, &a), NFS3_OK);
	cr_assert_eq(a.gid, 300);
	cr_assert_eq(r_symlink(u, &sg, "l", "f", NULL, &a), NFS3_OK);
	cr_assert_eq(a.gid, 300);
	/* elsewhere, the creator's own group */
	struct fh pl = mkdir_ok(&ROOT, "plain", 0777);
	chown_ok(&pl, 0, 300);
	cr_assert_eq(r_create(u, &pl, "f", GUARDED, NULL, 0, NULL, &a), NFS3_OK);
	cr_assert_eq(a.gid, GROUP);
	cr_assert_eq(r_mkdir(u, &pl, "sub", 0755, NULL, &a), NFS3_OK);
	cr_assert_eq(a.gid, GROUP);
	cr_assert_eq(a.mode, 0755);
}

Test(nfs3, permissions_setid_bits_and_moving_directories)
{
	struct raw *own = raw_open(OWNER, GROUP);
	struct raw *grp = raw_open(1001, GROUP);
	/* a write by anyone but root drops set-uid and set-gid */
	struct fh f = create_ok(&ROOT, "f", 0644);
	chown_ok(&f, OWNER, GROUP);
	chmod_ok(&f, 06775);
	write_ok(&f, 0, "root", 4, FILE_SYNC);
	cr_assert_eq(getattr_ok(&f).mode, 06775, "root's write dropped set-id bits");
	cr_assert_eq(r_write(grp, &f, 0, "grp", 3, FILE_SYNC, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).mode, 0775, "mode %#o", getattr_ok(&f).mode);
	chmod_ok(&f, 04755);
	cr_assert_eq(r_write(own, &f, 0, "own", 3, FILE_SYNC, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).mode, 0755, "mode %#o", getattr_ok(&f).mode);
	/* so does a size change */
	chmod_ok(&f, 04755);
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = 1;
	cr_assert_eq(r_setattr(own, &f, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).mode, 0755, "mode %#o", getattr_ok(&f).mode);
	/* the owner cannot give a file to a group it is not in, set-gid */
	s = sa_mode(02755);
	struct fh g = create_ok(&ROOT, "g", 0755);
	chown_ok(&g, OWNER, 999);
	cr_assert_eq(r_setattr(own, &g, &s, NULL, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&g).mode, 0755, "set-gid kept outside the group: %#o",
		     getattr_ok(&g).mode);

	/* a directory moved to another parent has its ".." rewritten: that
	 * takes write permission on it, as on Linux; within one parent not */
	struct fh d1 = mkdir_ok(&ROOT, "d1", 0755);
	struct fh d2 = mkdir_ok(&ROOT, "d2", 0755);
	chown_ok(&d1, OWNER, GROUP);
	chown_ok(&d2, OWNER, GROUP);
	mkdir_ok(&d1, "rootdir", 0755);
	cr_assert_eq(r_rename(own, &d1, "rootdir", &d2, "rootdir"), NFS3ERR_ACCES);
	cr_assert_eq(r_rename(own, &d1, "rootdir", &d1, "renamed"), NFS3_OK);
	cr_assert_eq(r_mkdir(own, &d1, "mine", 0755, NULL, NULL), NFS3_OK);
	cr_assert_eq(r_rename(own, &d1, "mine", &d2, "mine"), NFS3_OK);
	/* and write permission on both directories */
	cr_assert_eq(r_rename(grp, &d2, "mine", &ROOT, "x"), NFS3ERR_ACCES);
}

/* The same rules through libnfs's sync API, one context per user. */
Test(nfs3, permissions_through_libnfs_contexts)
{
	struct nfs_context *root = nfs_as(0, 0);
	struct nfs_context *own = nfs_as(OWNER, GROUP);
	struct nfs_context *oth = nfs_as(1002, 200);
	cr_assert_eq(nfs_mkdir2(root, "/p", 0777), 0, "%s", nfs_get_error(root));
	cr_assert_eq(nfs_chmod(root, "/p", 0777), 0);
	struct nfsfh *h;
	cr_assert_eq(nfs_creat(root, "/p/secret", 0600, &h), 0, "%s", nfs_get_error(root));
	cr_assert_eq(nfs_pwrite(root, h, 0, 6, "hidden"), 6);
	cr_assert_eq(nfs_close(root, h), 0);
	cr_assert_eq(nfs_chown(root, "/p/secret", OWNER, GROUP), 0, "%s", nfs_get_error(root));

	char buf[16] = {0};
	cr_assert_eq(nfs_open(own, "/p/secret", O_RDWR, &h), 0, "%s", nfs_get_error(own));
	cr_assert_eq(nfs_pread(own, h, 0, sizeof(buf), buf), 6);
	cr_assert_str_eq(buf, "hidden");
	cr_assert_eq(nfs_close(own, h), 0);
	cr_assert_eq(nfs_open(oth, "/p/secret", O_RDONLY, &h), -EACCES, "%s", nfs_get_error(oth));
	cr_assert_eq(nfs_chmod(oth, "/p/secret", 0644), -EPERM);
	cr_assert_eq(nfs_chown(oth, "/p/secret", 1002, 200), -EPERM);
	cr_assert_eq(nfs_chown(own, "/p/secret", 1002, GROUP), -EPERM);
	cr_assert_eq(nfs_chmod(own, "/p/secret", 0644), 0, "%s", nfs_get_error(own));
	cr_assert_eq(nfs_open(oth, "/p/secret", O_RDONLY, &h), 0, "%s", nfs_get_error(oth));
	cr_assert_eq(nfs_close(oth, h), 0);
	cr_assert_eq(nfs_open(oth, "/p/secret", O_WRONLY, &h), -EACCES);

	cr_assert_eq(nfs_creat(oth, "/p/theirs", 0644, &h), 0, "%s", nfs_get_error(oth));
	cr_assert_eq(nfs_close(oth, h), 0);
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_stat64(root, "/p/theirs", &st), 0);
	cr_assert_eq(st.nfs_uid, 1002);
	cr_assert_eq(st.nfs_gid, 200);
	cr_assert_eq(st.nfs_mode & 07777, 0644);
	cr_assert_eq(nfs_mkdir2(oth, "/p/theirdir", 0700), 0);
	cr_assert_eq(nfs_mkdir2(own, "/p/theirdir/x", 0700), -EACCES);
}

/* ---- big files, holes, exact data ------------------------------------- */

Test(nfs3, file_past_4gib_and_sparse_holes)
{
	struct nfs_context *n = nfs_as(0, 0);
	struct nfsfh *h;
	cr_assert_eq(nfs_creat(n, "/big", 0644, &h), 0, "%s", nfs_get_error(n));
	uint8_t *data = malloc(MIB), *back = malloc(MIB);
	cr_assert_not_null(data);
	cr_assert_not_null(back);
	fill_random(data, MIB, 5);
	cr_assert_eq(nfs_pwrite(n, h, 5 * GIB, MIB, data), (int)MIB, "%s", nfs_get_error(n));
	/* across the 4 GiB line: catches 32-bit offsets */
	cr_assert_eq(nfs_pwrite(n, h, 4 * GIB - 100, 200, data + 1000), 200);
	cr_assert_eq(nfs_fsync(n, h), 0, "%s", nfs_get_error(n));
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_fstat64(n, h, &st), 0);
	cr_assert_eq(st.nfs_size, 5 * GIB + MIB);
	cr_assert_lt(st.nfs_used, 16 * MIB, "a sparse file uses %llu bytes",
		     (unsigned long long)st.nfs_used);

	cr_assert_eq(nfs_pread(n, h, 5 * GIB, MIB, back), (int)MIB);
	cr_assert_eq(memcmp(back, data, MIB), 0, "differs at %zu", first_diff(back, data, MIB));
	memset(back, 0xff, MIB);
	cr_assert_eq(nfs_pread(n, h, 4 * GIB - 4096, 8192, back), 8192);
	cr_assert(all_zero(back, 4096 - 100));
	cr_assert_eq(memcmp(back + 4096 - 100, data + 1000, 200), 0);
	cr_assert(all_zero(back + 4096 + 100, 4096 - 100));
	/* holes read as zeros, at the start, in the middle, right before data */
	memset(back, 0xff, MIB);
	cr_assert_eq(nfs_pread(n, h, 0, MIB, back), (int)MIB);
	cr_assert(all_zero(back, MIB));
	memset(back, 0xff, MIB);
	cr_assert_eq(nfs_pread(n, h, 3 * GIB + 12345, MIB, back), (int)MIB);
	cr_assert(all_zero(back, MIB));
	memset(back, 0xff, MIB);
	cr_assert_eq(nfs_pread(n, h, 5 * GIB - 4096, 8192, back), 8192);
	cr_assert(all_zero(back, 4096));
	cr_assert_eq(memcmp(back + 4096, data, 4096), 0);
	/* at and past the end */
	cr_assert_eq(nfs_pread(n, h, 5 * GIB + MIB, 4096, back), 0);
	cr_assert_eq(nfs_pread(n, h, 6 * GIB, 4096, back), 0);
	cr_assert_eq(nfs_close(n, h), 0);

	/* the raw view: size, eof */
	struct fh f = lookup_ok(&ROOT, "big");
	fattr3 a = getattr_ok(&f);
	cr_assert_eq(a.size, 5 * GIB + MIB);
	uint32_t got;
	bool eof;
	cr_assert_eq(r_read(R, &f, 5 * GIB + MIB - 10, 4096, back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, 10);
	cr_assert(eof);
	cr_assert_eq(memcmp(back, data + MIB - 10, 10), 0);
	/* shrinking below 4 GiB and growing again: the old data is gone */
	cr_assert_eq(nfs_truncate(n, "/big", 4 * GIB - 50), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_truncate(n, "/big", 5 * GIB + MIB), 0);
	cr_assert_eq(r_read(R, &f, 4 * GIB - 100, 200, back, &got, NULL), NFS3_OK);
	cr_assert_eq(got, 200);
	cr_assert_eq(memcmp(back, data + 1000, 50), 0);
	cr_assert(all_zero(back + 50, 150), "truncated bytes came back");
	cr_assert_eq(r_read(R, &f, 5 * GIB, MIB, back, &got, NULL), NFS3_OK);
	cr_assert_eq(got, MIB);
	cr_assert(all_zero(back, MIB), "truncated data came back");
	free(data);
	free(back);
}

Test(nfs3, checksummed_random_data_in_odd_chunks)
{
	const size_t total = 6 * MIB + 12345;
	uint8_t *data = malloc(total), *back = malloc(total);
	cr_assert_not_null(data);
	cr_assert_not_null(back);
	fill_random(data, total, 42);
	struct fh f = create_ok(&ROOT, "data", 0644);
	static const uint32_t chunks[] = {MIB, 4099, 65537, MIB - 1, 333333, 1, 12288, 700001};
	static const stable_how modes[] = {UNSTABLE, FILE_SYNC, DATA_SYNC};
	size_t off = 0;
	unsigned i = 0;
	while (off < total) {
		uint32_t n = chunks[i % 8];
		if (n > total - off)
			n = (uint32_t)(total - off);
		write_ok(&f, off, data + off, n, modes[i % 3]);
		off += n;
		i++;
	}
	cr_assert_eq(r_commit(R, &f, NULL), NFS3_OK);
	/* overwrite an unaligned stretch across block and chunk edges */
	fill_random(data + 3 * MIB + 17, MIB - 3, 43);
	write_ok(&f, 3 * MIB + 17, data + 3 * MIB + 17, MIB - 3, UNSTABLE);
	cr_assert_eq(r_commit(R, &f, NULL), NFS3_OK);
	cr_assert_eq(getattr_ok(&f).size, total);

	/* read back in 1 MiB pieces (raw) */
	memset(back, 0, total);
	off = 0;
	while (off < total) {
		uint32_t got;
		bool eof;
		cr_assert_eq(r_read(R, &f, off, MIB, back + off, &got, &eof), NFS3_OK);
		cr_assert_gt(got, 0);
		off += got;
		cr_assert_eq(eof, off == total, "eof at %zu", off);
	}
	cr_assert_eq(fnv1a(back, total), fnv1a(data, total), "checksums differ: first at %zu",
		     first_diff(back, data, total));
	/* a READ asking for more than rtmax gets rtmax */
	uint32_t got;
	bool eof;
	cr_assert_eq(r_read(R, &f, 17, 3 * MIB, back, &got, &eof), NFS3_OK);
	cr_assert_eq(got, MIB);
	cr_assert(!eof);
	cr_assert_eq(memcmp(back, data + 17, MIB), 0);
	/* and in odd pieces through the sync API */
	struct nfs_context *n = nfs_as(0, 0);
	struct nfsfh *h;
	cr_assert_eq(nfs_open(n, "/data", O_RDONLY, &h), 0, "%s", nfs_get_error(n));
	memset(back, 0, total);
	off = 0;
	i = 3;
	while (off < total) {
		uint32_t want = chunks[i++ % 8];
		int got = nfs_pread(n, h, off, want, back + off);
		cr_assert_gt(got, 0, "%s", nfs_get_error(n));
		off += (size_t)got;
	}
	cr_assert_eq(memcmp(back, data, total), 0, "differs at %zu", first_diff(back, data, total));
	cr_assert_eq(nfs_close(n, h), 0);
	free(data);
	free(back);
}

/* ---- a 100 000-entry directory, paged while it changes ----------------- */

#define BIG_N	100000u
#define BIG_NEW 4000u

/* Names: "f%06u" for the first BIG_N, "g%06u" for the ones added later. */
struct name_state {
	uint8_t exists;	  /* now */
	uint8_t at_start; /* when this listing began */
	uint8_t touched;  /* created or removed during this listing */
	uint8_t seen;	  /* times listed */
};

struct big_dir {
	struct fh dir;
	struct name_state *s; /* BIG_N + BIG_NEW */
	unsigned nnew;
	unsigned dots, dotdots, unknown, entries;
	uint64_t last_cookie;
	unsigned last_idx; /* UINT32_MAX if the last entry was "." or ".." */
	bool plus;
	unsigned plus_bad;
	struct fh sample[16];
	uint64_t sample_id[16];
	unsigned nsample;
	uint64_t rng;
};

static void big_name(unsigned idx, char *out, size_t len)
{
	if (idx < BIG_N)
		snprintf(out, len, "f%06u", idx);
	else
		snprintf(out, len, "g%06u", idx - BIG_N);
}

static void big_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
		      const entryplus3 *plus)
{
	struct big_dir *b = arg;
	b->entries++;
	b->last_cookie = cookie;
	b->last_idx = UINT32_MAX;
	if (strcmp(name, ".") == 0) {
		b->dots++;
		return;
	}
	if (strcmp(name, "..") == 0) {
		b->dotdots++;
		return;
	}
	char *end;
	unsigned long v = strtoul(name + 1, &end, 10);
	unsigned idx;
	if ((name[0] == 'f' || name[0] == 'g') && *end == 0 && strlen(name) == 7 &&
	    v < (name[0] == 'f' ? BIG_N : BIG_NEW)) {
		idx = (unsigned)v + (name[0] == 'g' ? BIG_N : 0);
	} else {
		b->unknown++;
		return;
	}
	if (b->s[idx].seen < 255)
		b->s[idx].seen++;
	b->last_idx = idx;
	if (plus) {
		bool ok = plus->name_attributes.attributes_follow &&
			  plus->name_handle.handle_follows &&
			  plus->name_attributes.post_op_attr_u.attributes.fileid == fileid &&
			  plus->name_attributes.post_op_attr_u.attributes.type == NF3REG &&
			  plus->name_handle.post_op_fh3_u.handle.data.data_len == 40;
		if (!ok)
			b->plus_bad++;
		else if (b->entries % 6007 == 0 && b->nsample < 16) {
			fh_from(&b->sample[b->nsample],
				plus->name_handle.post_op_fh3_u.handle.data.data_val,
				plus->name_handle.post_op_fh3_u.handle.data.data_len);
			b->sample_id[b->nsample++] = fileid;
		}
	}
}

/* Removes one name and adds one, and now and then removes the entry the
 * next page continues after: the cookie of a gone entry must still work. */
static void big_mutate(struct big_dir *b, unsigned page)
{
	struct flight fl = {0};
	char name[16];
	if (page % 3 == 0 && b->last_idx != UINT32_MAX && b->s[b->last_idx].exists) {
		big_name(b->last_idx, name, sizeof(name));
		async_remove(R, &fl, &b->dir, name);
		b->s[b->last_idx].exists = 0;
		b->s[b->last_idx].touched = 1;
	}
	for (int tries = 0; tries < 64; tries++) {
		unsigned idx = (unsigned)(rng_next(&b->rng) % BIG_N);
		if (b->s[idx].exists && !b->s[idx].seen) {
			big_name(idx, name, sizeof(name));
			async_remove(R, &fl, &b->dir, name);
			b->s[idx].exists = 0;
			b->s[idx].touched = 1;
			break;
		}
	}
	if (b->nnew < BIG_NEW) {
		unsigned idx = BIG_N + b->nnew++;
		big_name(idx, name, sizeof(name));
		async_create(R, &fl, &b->dir, name);
		b->s[idx].exists = 1;
		b->s[idx].touched = 1;
	}
	flight_drain(R, &fl);
}

static void big_list(struct big_dir *b, bool plus)
{
	for (unsigned i = 0; i < BIG_N + BIG_NEW; i++) {
		b->s[i].at_start = b->s[i].exists;
		b->s[i].touched = 0;
		b->s[i].seen = 0;
	}
	b->dots = b->dotdots = b->unknown = b->entries = 0;
	b->plus_bad = 0;
	b->nsample = 0;
	uint64_t cookie = 0;
	bool eof = false;
	unsigned page = 0;
	while (!eof) {
		unsigned before = b->entries;
		nfsstat3 st =
			plus ? r_readdirplus(R, &b->dir, cookie, 8192, 32768, big_entry, b, &eof)
			     : r_readdir(R, &b->dir, cookie, 0, 16384, big_entry, b, &eof);
		cr_assert_eq(st, NFS3_OK, "page %u: %d", page, st);
		cr_assert(eof || b->entries > before, "page %u is empty but not the end", page);
		cookie = b->last_cookie;
		cr_assert_lt(++page, 10000, "the listing does not end");
		if (!eof)
			big_mutate(b, page);
	}
	cr_log_info("%s: %u entries in %u pages", plus ? "READDIRPLUS" : "READDIR", b->entries,
		    page);
	cr_assert_eq(b->dots, 1);
	cr_assert_eq(b->dotdots, 1);
	cr_assert_eq(b->unknown, 0);
	cr_assert_eq(b->plus_bad, 0, "%u entries without good attributes or handle", b->plus_bad);
	unsigned stable = 0;
	for (unsigned i = 0; i < BIG_N + b->nnew; i++) {
		char name[16];
		big_name(i, name, sizeof(name));
		const struct name_state *s = &b->s[i];
		if (s->at_start && !s->touched) {
			cr_assert_eq(s->seen, 1, "%s, there all along, was listed %u times", name,
				     s->seen);
			stable++;
		} else if (!s->at_start && !s->touched) {
			cr_assert_eq(s->seen, 0, "%s, gone before, was listed", name);
		} else {
			cr_assert_leq(s->seen, 1, "%s was listed %u times", name, s->seen);
		}
	}
	cr_assert_gt(stable, BIG_N - BIG_N / 10);
}

Test(nfs3, readdir_pages_through_100k_entries_while_they_change)
{
	uint64_t t0 = now_ms();
	struct big_dir *b = calloc(1, sizeof(*b));
	cr_assert_not_null(b);
	b->s = calloc(BIG_N + BIG_NEW, sizeof(*b->s));
	cr_assert_not_null(b->s);
	b->rng = 7;
	b->dir = mkdir_ok(&ROOT, "big", 0755);
	struct flight fl = {0};
	for (unsigned i = 0; i < BIG_N; i++) {
		char name[16];
		big_name(i, name, sizeof(name));
		async_create(R, &fl, &b->dir, name);
		b->s[i].exists = 1;
	}
	flight_drain(R, &fl);
	uint64_t t1 = now_ms();
	cr_log_info("%u creates: %llu ms", BIG_N, (unsigned long long)(t1 - t0));
	cr_assert_eq(getattr_ok(&b->dir).nlink, 2);

	big_list(b, false);
	uint64_t t2 = now_ms();
	big_list(b, true);
	uint64_t t3 = now_ms();
	cr_log_info("READDIR pass: %llu ms, READDIRPLUS pass: %llu ms",
		    (unsigned long long)(t2 - t1), (unsigned long long)(t3 - t2));
	/* READDIRPLUS's handles work */
	cr_assert_gt(b->nsample, 5);
	for (unsigned i = 0; i < b->nsample; i++) {
		fattr3 a;
		nfsstat3 st = r_getattr(R, &b->sample[i], &a);
		if (st == NFS3ERR_STALE)
			continue; /* removed since */
		cr_assert_eq(st, NFS3_OK);
		cr_assert_eq(a.fileid, b->sample_id[i]);
	}
	/* empty it again: every leaf goes; then the directory itself */
	for (unsigned i = 0; i < BIG_N + b->nnew; i++) {
		if (!b->s[i].exists)
			continue;
		char name[16];
		big_name(i, name, sizeof(name));
		async_remove(R, &fl, &b->dir, name);
	}
	flight_drain(R, &fl);
	struct small_list rest = {0};
	bool eof;
	cr_assert_eq(r_readdir(R, &b->dir, 0, 0, 8192, small_entry, &rest, &eof), NFS3_OK);
	cr_assert(eof);
	cr_assert_eq(rest.n, 2, "%u entries left", rest.n);
	cr_assert_eq(r_rmdir(R, &ROOT, "big"), NFS3_OK);
	cr_assert_eq(getattr_ok(&ROOT).nlink, 2);
	cr_log_info("removing them all: %llu ms", (unsigned long long)(now_ms() - t3));
	free(b->s);
	free(b);
}

/* Whole B+tree leaves emptied around the position a listing is at (and
 * refilled by new names), between two pages: the listing goes on with
 * every entry that stayed, once. */
struct order {
	unsigned n;
	char (*name)[16];
	uint64_t *cookie;
	unsigned *seen;
	unsigned cap;
};

static void order_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
			const entryplus3 *plus)
{
	(void)fileid;
	(void)plus;
	struct order *o = arg;
	cr_assert_lt(o->n, o->cap);
	snprintf(o->name[o->n], 16, "%s", name);
	o->cookie[o->n++] = cookie;
}

static void mark_entry(void *arg, const char *name, uint64_t cookie, uint64_t fileid,
		       const entryplus3 *plus)
{
	(void)fileid;
	(void)plus;
	struct order *o = arg;
	unsigned long v = strtoul(name + 1, NULL, 10);
	if (name[0] == 'f' && v < o->cap)
		o->seen[v]++;
	o->cookie[0] = cookie;
}

Test(nfs3, readdir_survives_emptied_leaves)
{
	enum { N = 20000, CUT = 1500 };
	struct fh d = mkdir_ok(&ROOT, "d", 0755);
	struct flight fl = {0};
	char name[16];
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%05u", i);
		async_create(R, &fl, &d, name);
	}
	flight_drain(R, &fl);
	struct order o = {.cap = N + 2};
	o.name = calloc(N + 2, sizeof(*o.name));
	o.cookie = calloc(N + 2, sizeof(*o.cookie));
	o.seen = calloc(N, sizeof(*o.seen));
	cr_assert(o.name && o.cookie && o.seen);
	uint64_t cookie = 0;
	for (bool eof = false; !eof;) {
		unsigned before = o.n;
		cr_assert_eq(r_readdir(R, &d, cookie, 0, 65536, order_entry, &o, &eof), NFS3_OK);
		cr_assert(eof || o.n > before);
		cookie = o.cookie[o.n - 1];
	}
	cr_assert_eq(o.n, N + 2);
	/* the cookie order is the directory's key order: a run of CUT
	 * consecutive entries covers whole leaves */
	unsigned at = N / 2;
	bool *gone = calloc(N, sizeof(bool));
	cr_assert_not_null(gone);
	for (unsigned i = at - CUT; i < at + CUT; i++) {
		async_remove(R, &fl, &d, o.name[i]);
		gone[strtoul(o.name[i] + 1, NULL, 10)] = true;
	}
	for (unsigned i = 0; i < CUT; i++) {
		snprintf(name, sizeof(name), "g%05u", i);
		async_create(R, &fl, &d, name);
	}
	flight_drain(R, &fl);
	/* continue from the (removed) entry at `at` */
	struct order m = {.cap = N, .seen = o.seen, .cookie = &cookie};
	cookie = o.cookie[at];
	for (bool eof = false; !eof;)
		cr_assert_eq(r_readdir(R, &d, cookie, 0, 8192, mark_entry, &m, &eof), NFS3_OK);
	for (unsigned i = at + 1; i < o.n; i++) {
		unsigned long v = strtoul(o.name[i] + 1, NULL, 10);
		if (o.name[i][0] != 'f')
			continue;
		cr_assert_eq(o.seen[v], gone[v] ? 0 : 1, "%s listed %u times", o.name[i],
			     o.seen[v]);
	}
	for (unsigned i = 0; i <= at; i++) {
		unsigned long v = strtoul(o.name[i] + 1, NULL, 10);
		if (o.name[i][0] == 'f')
			cr_assert_eq(o.seen[v], 0, "%s is before the cookie but was listed",
				     o.name[i]);
	}
	/* and a fresh listing has exactly what is left, each once */
	struct order f = {.cap = N + 2};
	f.name = o.name; /* reused */
	f.cookie = o.cookie;
	cookie = 0;
	for (bool eof = false; !eof;) {
		cr_assert_eq(r_readdir(R, &d, cookie, 0, 65536, order_entry, &f, &eof), NFS3_OK);
		cookie = f.cookie[f.n - 1];
	}
	cr_assert_eq(f.n, N - 2 * CUT + CUT + 2, "%u entries listed", f.n);
	for (unsigned i = 1; i < f.n; i++)
		cr_assert_neq(f.cookie[i], f.cookie[i - 1]);
	unsigned g = 0;
	for (unsigned i = 0; i < f.n; i++) {
		if (f.name[i][0] == 'g')
			g++;
		else if (f.name[i][0] == 'f')
			cr_assert(!gone[strtoul(f.name[i] + 1, NULL, 10)], "%s came back",
				  f.name[i]);
	}
	cr_assert_eq(g, CUT);
	free(o.name);
	free(o.cookie);
	free(o.seen);
	free(gone);
}

/* FILE_SYNC writes filling the NVLOG on two connections, UNSTABLE writes
 * past the dirty-data limit on a third: calls that find no room wait for
 * the running CP and are re-run when it ends. Every byte must land and the
 * filer must stay writable.
 *
 * This caught two CPs in flight at once (wafl/cp.c): the re-run calls
 * started the next CP from inside cp_done_cb (waiters_fire -> p_write ->
 * wafl_write -> dirty_room or log_rec -> cp_request/cp_maybe), and then
 * cp_done_cb called cp_begin() again because cp_again was set. a->cp_io
 * was overwritten: "CP n could not be written (Unknown error -1)" and a
 * read-only aggregate, a double free that killed the filer, calls that
 * never got an answer, or a CP never written ("no block context" on a
 * later read). The race depends on timing: this load showed it in most
 * runs before the fix. */
Test(nfs3, writes_past_the_log_and_dirty_limits_keep_the_filer_writable)
{
	enum { NCONN = 3, MIBS_EACH = 96 };
	struct raw *c[NCONN] = {R, raw_open(0, 0), raw_open(0, 0)};
	struct fh f[NCONN];
	struct flight fl[NCONN];
	memset(fl, 0, sizeof(fl));
	/* chunk m of file i is pattern + (7 * m + i) % 4096: all distinct */
	uint8_t *pattern = malloc(MIB + 4096);
	cr_assert_not_null(pattern);
	fill_random(pattern, MIB + 4096, 9);
	for (int i = 0; i < NCONN; i++) {
		char n[16];
		snprintf(n, sizeof(n), "w%d", i);
		f[i] = create_ok(&ROOT, n, 0644);
	}
	uint64_t t0 = now_ms();
	for (unsigned m = 0; m < MIBS_EACH; m++) {
		for (int i = 0; i < NCONN; i++) {
			async_write(c[i], &fl[i], &f[i], (uint64_t)m * MIB,
				    pattern + (7 * m + (unsigned)i) % 4096, MIB,
				    i < 2 ? FILE_SYNC : UNSTABLE);
			raw_service(c[i], 0);
		}
	}
	for (int i = 0; i < NCONN; i++)
		flight_drain(c[i], &fl[i]);
	for (int i = 0; i < NCONN; i++) {
		cr_assert_eq(r_commit(c[i], &f[i], NULL), NFS3_OK);
		cr_assert_eq(getattr_ok(&f[i]).size, (uint64_t)MIBS_EACH * MIB);
	}
	cr_log_info("%u MiB FILE_SYNC + %u MiB UNSTABLE: %llu ms", 2 * MIBS_EACH, MIBS_EACH,
		    (unsigned long long)(now_ms() - t0));
	/* still writable, and every byte is there */
	cr_assert_eq(r_write(R, &f[0], 0, pattern, 1, FILE_SYNC, NULL), NFS3_OK);
	uint8_t *back = malloc(MIB);
	cr_assert_not_null(back);
	for (unsigned m = 0; m < MIBS_EACH; m++) {
		for (int i = 0; i < NCONN; i++) {
			const uint8_t *want = pattern + (7 * m + (unsigned)i) % 4096;
			uint32_t got;
			cr_assert_eq(r_read(R, &f[i], (uint64_t)m * MIB, MIB, back, &got, NULL),
				     NFS3_OK);
			cr_assert_eq(got, MIB);
			cr_assert_eq(memcmp(back, want, MIB), 0, "w%d, MiB %u: differs at %zu", i,
				     m, first_diff(back, want, MIB));
		}
	}
	free(back);
	free(pattern);
}

/* ---- the sync API, once around ---------------------------------------- */

Test(nfs3, libnfs_sync_api_round_trip)
{
	struct nfs_context *n = nfs_as(0, 0);
	cr_assert_eq(nfs_mkdir(n, "/a"), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_mkdir(n, "/a"), -EEXIST);
	struct nfsfh *h;
	cr_assert_eq(nfs_open2(n, "/a/f", O_CREAT | O_RDWR, 0640, &h), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_pwrite(n, h, 0, 11, "hello world"), 11);
	cr_assert_eq(nfs_fsync(n, h), 0);
	char buf[32] = {0};
	cr_assert_eq(nfs_pread(n, h, 6, 5, buf), 5);
	cr_assert_str_eq(buf, "world");
	cr_assert_eq(nfs_ftruncate(n, h, 5), 0);
	cr_assert_eq(nfs_close(n, h), 0);
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_stat64(n, "/a/f", &st), 0);
	cr_assert_eq(st.nfs_size, 5);
	cr_assert_eq(st.nfs_mode, S_IFREG | 0640);
	cr_assert_eq(st.nfs_nlink, 1);

	cr_assert_eq(nfs_symlink(n, "f", "/a/l"), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_readlink(n, "/a/l", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "f");
	cr_assert_eq(nfs_lstat64(n, "/a/l", &st), 0);
	cr_assert(S_ISLNK(st.nfs_mode));
	cr_assert_eq(nfs_link(n, "/a/f", "/a/hard"), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/a/hard", &st), 0);
	cr_assert_eq(st.nfs_nlink, 2);
	cr_assert_eq(nfs_rename(n, "/a/hard", "/renamed"), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/a/hard", &st), -ENOENT);
	cr_assert_eq(nfs_mknod(n, "/a/fifo", S_IFIFO | 0600, 0), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/a/fifo", &st), 0);
	cr_assert(S_ISFIFO(st.nfs_mode));
	cr_assert_eq(nfs_mknod(n, "/a/null", S_IFCHR | 0666, makedev(1, 3)), 0, "%s",
		     nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/a/null", &st), 0);
	cr_assert(S_ISCHR(st.nfs_mode));
	cr_assert_eq(st.nfs_rdev, makedev(1, 3));
	cr_assert_eq(nfs_chmod(n, "/a/f", 0604), 0);
	cr_assert_eq(nfs_chown(n, "/a/f", 77, 88), 0);
	struct timeval tv[2] = {{.tv_sec = 1111111111, .tv_usec = 5}, {.tv_sec = 222222222}};
	cr_assert_eq(nfs_utimes(n, "/a/f", tv), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/a/f", &st), 0);
	cr_assert_eq(st.nfs_mode & 07777, 0604);
	cr_assert_eq(st.nfs_uid, 77);
	cr_assert_eq(st.nfs_gid, 88);
	cr_assert_eq(st.nfs_atime, 1111111111);
	cr_assert_eq(st.nfs_atime_nsec, 5000);
	cr_assert_eq(st.nfs_mtime, 222222222);
	cr_assert_eq(nfs_truncate(n, "/a/f", 1 << 20), 0);
	cr_assert_eq(nfs_stat64(n, "/a/f", &st), 0);
	cr_assert_eq(st.nfs_size, 1 << 20);

	struct nfsdir *dir;
	cr_assert_eq(nfs_opendir(n, "/a", &dir), 0, "%s", nfs_get_error(n));
	unsigned seen = 0;
	struct nfsdirent *e;
	while ((e = nfs_readdir(n, dir)) != NULL) {
		static const char *const want[] = {".", "..", "f", "l", "fifo", "null"};
		for (unsigned i = 0; i < 6; i++)
			if (strcmp(e->name, want[i]) == 0)
				seen |= 1u << i;
	}
	nfs_closedir(n, dir);
	cr_assert_eq(seen, 0x3f, "listed: %#x", seen);
	cr_assert_eq(nfs_rmdir(n, "/a"), -ENOTEMPTY);
	cr_assert_eq(nfs_unlink(n, "/a/f"), 0);
	cr_assert_eq(nfs_unlink(n, "/a/l"), 0);
	cr_assert_eq(nfs_unlink(n, "/a/fifo"), 0);
	cr_assert_eq(nfs_unlink(n, "/a/null"), 0);
	cr_assert_eq(nfs_rmdir(n, "/a"), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_stat64(n, "/renamed", &st), 0);
	cr_assert_eq(st.nfs_nlink, 1);
}
