/*
 * test_errors.c - the NFS errors that need more than one volume or export
 * to provoke, each against its own filer configured with filerctl:
 *  - NFS3ERR_NOSPC: a 16 MiB volume filled through libnfs; what was
 *    written before reads back, and the space returns after a remove
 *    and a CP;
 *  - NFS3ERR_ROFS: every modifying procedure through a read-only export
 *    of vol0, while the same volume stays writable through /vol/vol0;
 *  - NFS3ERR_XDEV: RENAME and LINK between two volumes' exports.
 * Each test stops its filer with SIGTERM and runs waflck on its disks.
 *
 * Never include the project's nfs/proto headers here: they and libnfs's
 * raw headers define the same type names.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "tests/lib/filerproc.h"

#define MIB	       (1024u * 1024u)
#define RPC_TIMEOUT_MS 20000
#define CLIENTS_RW     "127.0.0.1(rw,insecure,no_root_squash)"
#define CLIENTS_RO     "127.0.0.1(ro,insecure,no_root_squash)"

static struct filerproc fp;
static struct rpc_context *R; /* raw, as root */
#define MAX_CTX 4
static struct nfs_context *ctxs[MAX_CTX];

/* ---- filerctl and waflck ------------------------------------------------ */

static const char *tool(const char *env, const char *name, char *buf, size_t len)
{
	const char *e = getenv(env);
	if (e)
		return e;
	const char *filer = fp_binary(), *slash = strrchr(filer, '/');
	if (slash) {
		snprintf(buf, len, "%.*s/%s", (int)(slash - filer), filer, name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	snprintf(buf, len, "build/bin/%s", name);
	return buf;
}

/* Runs argv (NULL-terminated), its output into out; returns the wait status. */
static int run(char *const argv[], char *out, size_t outlen)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t got = 0;
	ssize_t n;
	while ((n = read(pfd[0], out + got, outlen - 1 - got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			got += (size_t)n;
	out[got] = 0;
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return st;
}

/* filerctl -s HOME/filer.sock ARGS...: must exit 0. */
static void ctl(const char *a0, ...)
{
	char pb[600], sock[400], out[4096];
	const char *argv[16] = {tool("FILERCTL", "filerctl", pb, sizeof(pb)), "-s", sock, a0};
	snprintf(sock, sizeof(sock), "%s/filer.sock", fp.home);
	int n = 4;
	va_list ap;
	va_start(ap, a0);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	int st = run((char *const *)argv, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "filerctl %s ... (%#x): %s", a0, st, out);
}

/* Stops the filer cleanly; its disks must check clean. */
static void finish(void)
{
	for (int i = 0; i < MAX_CTX; i++)
		if (ctxs[i]) {
			nfs_destroy_context(ctxs[i]);
			ctxs[i] = NULL;
		}
	if (R) {
		rpc_destroy_context(R);
		R = NULL;
	}
	int st = fp_stop(&fp, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the filer stopped with %#x", st);
	char pb[600], d[3][300], out[4096];
	for (int i = 0; i < 3; i++)
		snprintf(d[i], sizeof(d[i]), "%s/disk%d", fp.home, i);
	char *argv[] = {(char *)tool("WAFLCK", "waflck", pb, sizeof(pb)), d[0], d[1], d[2], NULL};
	st = run(argv, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "waflck (%#x): %s", st, out);
}

/* ---- libnfs --------------------------------------------------------------- */

static struct nfs_context *mount_ctx(const char *export)
{
	char url[600];
	snprintf(url, sizeof(url), "nfs://127.0.0.1%s?nfsport=%u&mountport=%u&version=3", export,
		 fp.port, fp.port);
	struct nfs_context *n = nfs_init_context();
	cr_assert_not_null(n);
	struct nfs_url *u = nfs_parse_url_dir(n, url);
	cr_assert_not_null(u, "%s: %s", url, nfs_get_error(n));
	int rc = nfs_mount(n, u->server, u->path);
	nfs_destroy_url(u);
	cr_assert_eq(rc, 0, "mount %s: %s", url, nfs_get_error(n));
	for (int i = 0; i < MAX_CTX; i++)
		if (!ctxs[i])
			return ctxs[i] = n;
	cr_assert_fail("too many contexts");
	return NULL;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		p[i] = (uint8_t)((s * 0x2545F4914F6CDD1Dull) >> 56);
	}
}

static void put_file(struct nfs_context *n, const char *path, const void *buf, size_t len)
{
	struct nfsfh *fh;
	cr_assert_eq(nfs_create(n, path, O_RDWR | O_TRUNC, 0644, &fh), 0, "create %s: %s", path,
		     nfs_get_error(n));
	cr_assert_eq(nfs_pwrite(n, fh, 0, len, buf), (int)len, "write %s: %s", path,
		     nfs_get_error(n));
	cr_assert_eq(nfs_close(n, fh), 0);
}

/* The file at path holds exactly len bytes of buf. */
static void check_file(struct nfs_context *n, const char *path, const uint8_t *buf, size_t len)
{
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_stat64(n, path, &st), 0, "stat %s: %s", path, nfs_get_error(n));
	cr_assert_eq(st.nfs_size, len, "%s has %llu bytes, not %zu", path,
		     (unsigned long long)st.nfs_size, len);
	struct nfsfh *fh;
	cr_assert_eq(nfs_open(n, path, O_RDONLY, &fh), 0, "open %s: %s", path, nfs_get_error(n));
	uint8_t *got = malloc(len + 1);
	size_t off = 0;
	while (off < len) {
		int r = nfs_pread(n, fh, off, len - off, got + off);
		cr_assert_gt(r, 0, "read %s at %zu: %d %s", path, off, r, nfs_get_error(n));
		off += (size_t)r;
	}
	cr_assert(memcmp(got, buf, len) == 0, "%s: the data changed", path);
	free(got);
	nfs_close(n, fh);
}

static void expect_enoent(struct nfs_context *n, const char *path)
{
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_stat64(n, path, &st), -ENOENT, "%s exists", path);
}

/* ---- raw RPC -------------------------------------------------------------- */

struct fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

struct pending {
	bool done;
	int status;
	void *res;
	size_t size;
	struct fh *fh;	   /* MNT's root */
	struct fh *lookup; /* LOOKUP's object */
	char err[128];
};

static void on_reply(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct pending *p = priv;
	p->done = true;
	p->status = status;
	if (status == RPC_STATUS_ERROR && data)
		snprintf(p->err, sizeof(p->err), "%s", (const char *)data);
	if (status != RPC_STATUS_SUCCESS || !data)
		return;
	if (p->res)
		memcpy(p->res, data, p->size);
	if (p->fh) {
		mountres3 *m = data;
		if (m->fhs_status == MNT3_OK) {
			fhandle3 *h = &m->mountres3_u.mountinfo.fhandle;
			cr_assert_leq(h->fhandle3_len, NFS3_FHSIZE);
			p->fh->len = h->fhandle3_len;
			memcpy(p->fh->data, h->fhandle3_val, h->fhandle3_len);
		}
	}
	if (p->lookup) {
		LOOKUP3res *l = data;
		if (l->status == NFS3_OK) {
			nfs_fh3 *h = &l->LOOKUP3res_u.resok.object;
			cr_assert_leq(h->data.data_len, NFS3_FHSIZE);
			p->lookup->len = h->data.data_len;
			memcpy(p->lookup->data, h->data.data_val, h->data.data_len);
		}
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void raw_run(struct pending *p, int queued)
{
	cr_assert_eq(queued, 0, "queueing an RPC: %s", rpc_get_error(R));
	uint64_t end = now_ms() + RPC_TIMEOUT_MS;
	while (!p->done) {
		cr_assert_lt(now_ms(), end, "no reply within %d ms", RPC_TIMEOUT_MS);
		struct pollfd pfd = {.fd = rpc_get_fd(R), .events = (short)rpc_which_events(R)};
		int n = poll(&pfd, 1, 100);
		cr_assert_geq(n, 0, "poll: %s", strerror(errno));
		if (n > 0)
			cr_assert_geq(rpc_service(R, pfd.revents), 0, "rpc_service: %s",
				      rpc_get_error(R));
	}
	cr_assert_eq(p->status, RPC_STATUS_SUCCESS, "RPC failed (%d): %s", p->status, p->err);
}

static void raw_connect(void)
{
	R = rpc_init_context();
	cr_assert_not_null(R);
	struct pending p = {0};
	raw_run(&p, rpc_connect_async(R, "127.0.0.1", fp.port, on_reply, &p));
	rpc_set_auth(R, libnfs_authunix_create("nfserr", 0, 0, 0, NULL));
}

static struct fh raw_mnt(const char *path)
{
	struct fh root = {0};
	mountres3 r;
	struct pending p = {.res = &r, .size = sizeof(r), .fh = &root};
	raw_run(&p, rpc_mount3_mnt_async(R, on_reply, (char *)path, &p));
	cr_assert_eq(r.fhs_status, MNT3_OK, "MNT %s: %d", path, r.fhs_status);
	return root;
}

static nfs_fh3 nfh(const struct fh *f)
{
	nfs_fh3 h = {.data = {.data_len = f->len, .data_val = (char *)f->data}};
	return h;
}

/* LOOKUP of name in dir: its handle. */
static struct fh fh_of(const struct fh *dir, const char *name)
{
	struct fh f = {0};
	LOOKUP3args a = {.what = {.dir = nfh(dir), .name = (char *)name}};
	LOOKUP3res r;
	struct pending p = {.res = &r, .size = sizeof(r), .lookup = &f};
	raw_run(&p, rpc_nfs3_lookup_async(R, on_reply, &a, &p));
	cr_assert_eq(r.status, NFS3_OK, "LOOKUP %s: %d", name, r.status);
	return f;
}

/* Every result starts with its nfsstat3: one call, its status. */
#define RAW_CALL(FN, ARGS, RES)                                                                    \
	({                                                                                         \
		RES r_;                                                                            \
		struct pending p_ = {.res = &r_, .size = sizeof(r_)};                              \
		raw_run(&p_, FN(R, on_reply, ARGS, &p_));                                          \
		r_.status;                                                                         \
	})

static nfsstat3 r_rename(const struct fh *fd, const char *from, const struct fh *td, const char *to)
{
	RENAME3args a = {.from = {.dir = nfh(fd), .name = (char *)from},
			 .to = {.dir = nfh(td), .name = (char *)to}};
	return RAW_CALL(rpc_nfs3_rename_async, &a, RENAME3res);
}

static nfsstat3 r_link(const struct fh *f, const struct fh *dir, const char *name)
{
	LINK3args a = {.file = nfh(f), .link = {.dir = nfh(dir), .name = (char *)name}};
	return RAW_CALL(rpc_nfs3_link_async, &a, LINK3res);
}

/* ---- the suite ------------------------------------------------------------ */

static void setup(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
}

static void teardown(void)
{
	for (int i = 0; i < MAX_CTX; i++)
		if (ctxs[i]) {
			nfs_destroy_context(ctxs[i]);
			ctxs[i] = NULL;
		}
	if (R) {
		rpc_destroy_context(R);
		R = NULL;
	}
	fp_destroy(&fp);
}

TestSuite(nfserr, .init = setup, .fini = teardown, .timeout = 120);

/* ---- NFS3ERR_NOSPC ---------------------------------------------------------- */

static nfsstat3 r_write_at(const struct fh *f, uint64_t off, const void *buf, uint32_t len,
			   uint32_t *count)
{
	WRITE3args a = {.file = nfh(f), .offset = off, .count = len, .stable = FILE_SYNC};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	WRITE3res r;
	struct pending p = {.res = &r, .size = sizeof(r)};
	raw_run(&p, rpc_nfs3_write_async(R, on_reply, &a, &p));
	*count = r.status == NFS3_OK ? r.WRITE3res_u.resok.count : 0;
	return r.status;
}

/* The fill is raw: libnfs 4.0's nfs_pwrite reports every NFS error of a
 * WRITE as -EFAULT, with an empty message, so it cannot show NOSPC. */
Test(nfserr, nospc_on_a_full_volume)
{
	ctl("vol", "create", "small", "aggr0", "16M", NULL);
	ctl("export", "add", "/vol/small", "small", CLIENTS_RW, NULL);
	struct nfs_context *n = mount_ctx("/vol/small");
	struct nfsfh *nf;
	cr_assert_eq(nfs_create(n, "/fill", O_RDWR, 0644, &nf), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_close(n, nf), 0);
	raw_connect();
	struct fh root = raw_mnt("/vol/small"), f = fh_of(&root, "fill");

	uint8_t *buf = malloc(MIB), *got = malloc(MIB);
	unsigned i;
	nfsstat3 st = NFS3_OK;
	for (i = 0; i < 64; i++) {
		fill(buf, MIB, i);
		uint32_t count;
		st = r_write_at(&f, (uint64_t)i * MIB, buf, MIB, &count);
		if (st != NFS3_OK)
			break;
		cr_assert_eq(count, MIB, "chunk %u: a short FILE_SYNC write of %u", i, count);
	}
	cr_assert_lt(i, 64, "64 MiB went into a 16 MiB volume");
	cr_assert_gt(i, 0, "not even 1 MiB fits: status %d", st);
	cr_assert_eq(st, NFS3ERR_NOSPC, "chunk %u failed with %d, not NFS3ERR_NOSPC", i, st);
	cr_log_info("nospc: %u MiB written before NFS3ERR_NOSPC", i);

	/* what was written before the failure is intact */
	cr_assert_eq(nfs_open(n, "/fill", O_RDONLY, &nf), 0, "%s", nfs_get_error(n));
	for (unsigned k = 0; k < i; k++) {
		fill(buf, MIB, k);
		size_t off = 0;
		while (off < MIB) {
			int r = nfs_pread(n, nf, (uint64_t)k * MIB + off, MIB - off, got + off);
			cr_assert_gt(r, 0, "read chunk %u at %zu: %s", k, off, nfs_get_error(n));
			off += (size_t)r;
		}
		cr_assert(memcmp(got, buf, MIB) == 0, "chunk %u changed", k);
	}
	cr_assert_eq(nfs_close(n, nf), 0);

	/* the space comes back with the next CP */
	cr_assert_eq(nfs_unlink(n, "/fill"), 0, "%s", nfs_get_error(n));
	ctl("cp", NULL);
	fill(buf, MIB, 999);
	put_file(n, "/again", buf, MIB);
	check_file(n, "/again", buf, MIB);
	free(buf);
	free(got);
	finish();
}

/* ---- NFS3ERR_ROFS ----------------------------------------------------------- */

static nfsstat3 r_write(const struct fh *f, const void *buf, uint32_t len)
{
	WRITE3args a = {.file = nfh(f), .offset = 0, .count = len, .stable = FILE_SYNC};
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	return RAW_CALL(rpc_nfs3_write_async, &a, WRITE3res);
}

static nfsstat3 r_setattr_mode(const struct fh *f, uint32_t mode)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = nfh(f);
	a.new_attributes.mode.set_it = 1;
	a.new_attributes.mode.set_mode3_u.mode = mode;
	return RAW_CALL(rpc_nfs3_setattr_async, &a, SETATTR3res);
}

static nfsstat3 r_truncate(const struct fh *f)
{
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = nfh(f);
	a.new_attributes.size.set_it = 1;
	a.new_attributes.size.set_size3_u.size = 0;
	return RAW_CALL(rpc_nfs3_setattr_async, &a, SETATTR3res);
}

static nfsstat3 r_create(const struct fh *dir, const char *name)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.how.mode = UNCHECKED;
	return RAW_CALL(rpc_nfs3_create_async, &a, CREATE3res);
}

static nfsstat3 r_mkdir(const struct fh *dir, const char *name)
{
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	return RAW_CALL(rpc_nfs3_mkdir_async, &a, MKDIR3res);
}

static nfsstat3 r_symlink(const struct fh *dir, const char *name, const char *target)
{
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_data = (char *)target;
	return RAW_CALL(rpc_nfs3_symlink_async, &a, SYMLINK3res);
}

static nfsstat3 r_mknod_fifo(const struct fh *dir, const char *name)
{
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = nfh(dir);
	a.where.name = (char *)name;
	a.what.type = NF3FIFO;
	return RAW_CALL(rpc_nfs3_mknod_async, &a, MKNOD3res);
}

static nfsstat3 r_remove(const struct fh *dir, const char *name)
{
	REMOVE3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	return RAW_CALL(rpc_nfs3_remove_async, &a, REMOVE3res);
}

static nfsstat3 r_rmdir(const struct fh *dir, const char *name)
{
	RMDIR3args a = {.object = {.dir = nfh(dir), .name = (char *)name}};
	return RAW_CALL(rpc_nfs3_rmdir_async, &a, RMDIR3res);
}

#define EXPECT(st, want, what)                                                                     \
	do {                                                                                       \
		nfsstat3 st_ = (st);                                                               \
		cr_expect_eq(st_, want, "%s: status %d, not %d", what, st_, want);                 \
	} while (0)

Test(nfserr, rofs_through_a_read_only_export)
{
	ctl("export", "add", "/vol/ro", "vol0", CLIENTS_RO, NULL);
	struct nfs_context *rw = mount_ctx("/vol/vol0");
	uint8_t data[100000];
	fill(data, sizeof(data), 7);
	put_file(rw, "/f", data, sizeof(data));
	cr_assert_eq(nfs_mkdir(rw, "/d"), 0, "%s", nfs_get_error(rw));
	struct nfs_stat_64 before;
	cr_assert_eq(nfs_stat64(rw, "/f", &before), 0);

	/* reads work */
	struct nfs_context *ro = mount_ctx("/vol/ro");
	check_file(ro, "/f", data, sizeof(data));

	/* every modifying procedure, raw */
	raw_connect();
	struct fh root = raw_mnt("/vol/ro"), f = fh_of(&root, "f");
	uint8_t junk[4096];
	memset(junk, 0xee, sizeof(junk));
	EXPECT(r_write(&f, junk, sizeof(junk)), NFS3ERR_ROFS, "WRITE");
	EXPECT(r_setattr_mode(&f, 0600), NFS3ERR_ROFS, "SETATTR mode");
	EXPECT(r_truncate(&f), NFS3ERR_ROFS, "SETATTR size");
	EXPECT(r_create(&root, "new"), NFS3ERR_ROFS, "CREATE");
	EXPECT(r_mkdir(&root, "newdir"), NFS3ERR_ROFS, "MKDIR");
	EXPECT(r_symlink(&root, "sym", "f"), NFS3ERR_ROFS, "SYMLINK");
	EXPECT(r_mknod_fifo(&root, "fifo"), NFS3ERR_ROFS, "MKNOD");
	EXPECT(r_remove(&root, "f"), NFS3ERR_ROFS, "REMOVE");
	EXPECT(r_rmdir(&root, "d"), NFS3ERR_ROFS, "RMDIR");
	EXPECT(r_rename(&root, "f", &root, "g"), NFS3ERR_ROFS, "RENAME");
	EXPECT(r_link(&f, &root, "l"), NFS3ERR_ROFS, "LINK");

	/* and through libnfs's path API */
	struct nfsfh *nf;
	cr_expect_eq(nfs_create(ro, "/new2", O_RDWR, 0644, &nf), -EROFS, "create: %s",
		     nfs_get_error(ro));
	cr_expect_eq(nfs_unlink(ro, "/f"), -EROFS, "unlink: %s", nfs_get_error(ro));
	cr_expect_eq(nfs_rename(ro, "/f", "/g"), -EROFS, "rename: %s", nfs_get_error(ro));
	cr_expect_eq(nfs_chmod(ro, "/f", 0600), -EROFS, "chmod: %s", nfs_get_error(ro));
	cr_expect_eq(nfs_mkdir(ro, "/newdir2"), -EROFS, "mkdir: %s", nfs_get_error(ro));

	/* nothing changed */
	check_file(rw, "/f", data, sizeof(data));
	struct nfs_stat_64 after;
	cr_assert_eq(nfs_stat64(rw, "/f", &after), 0);
	cr_expect_eq(after.nfs_mode, before.nfs_mode);
	cr_expect_eq(after.nfs_mtime, before.nfs_mtime);
	cr_expect_eq(after.nfs_mtime_nsec, before.nfs_mtime_nsec);
	cr_expect_eq(after.nfs_nlink, 1);
	cr_assert_eq(nfs_stat64(rw, "/d", &after), 0, "/d is gone");
	const char *absent[] = {"/new", "/newdir", "/sym",  "/fifo",
				"/g",	"/l",	   "/new2", "/newdir2"};
	for (size_t k = 0; k < sizeof(absent) / sizeof(absent[0]); k++)
		expect_enoent(rw, absent[k]);

	/* the read-only export did not make the volume read-only */
	struct fh rwroot = raw_mnt("/vol/vol0");
	EXPECT(r_create(&rwroot, "rw-still"), NFS3_OK, "CREATE through /vol/vol0");
	put_file(rw, "/f2", data, 1000);
	finish();
}

/* ---- NFS3ERR_XDEV ----------------------------------------------------------- */

Test(nfserr, xdev_between_two_volumes)
{
	ctl("vol", "create", "vol1", "aggr0", "1G", NULL);
	ctl("export", "add", "/vol/vol1", "vol1", CLIENTS_RW, NULL);
	struct nfs_context *a = mount_ctx("/vol/vol0"), *b = mount_ctx("/vol/vol1");
	uint8_t da[5000], db[7000];
	fill(da, sizeof(da), 1);
	fill(db, sizeof(db), 2);
	put_file(a, "/fa", da, sizeof(da));
	put_file(b, "/fb", db, sizeof(db));
	cr_assert_eq(nfs_mkdir(a, "/sub"), 0, "%s", nfs_get_error(a));

	/* one raw connection mounts both exports: libnfs's path API keeps
	 * one export per context and could not send these */
	raw_connect();
	struct fh r0 = raw_mnt("/vol/vol0"), r1 = raw_mnt("/vol/vol1");
	struct fh fa = fh_of(&r0, "fa"), fb = fh_of(&r1, "fb"), sub = fh_of(&r0, "sub");

	EXPECT(r_rename(&r0, "fa", &r1, "fa"), NFS3ERR_XDEV, "RENAME vol0 -> vol1");
	EXPECT(r_rename(&r1, "fb", &r0, "fb"), NFS3ERR_XDEV, "RENAME vol1 -> vol0");
	EXPECT(r_rename(&sub, "x", &r1, "x"), NFS3ERR_XDEV, "RENAME of a missing name");
	EXPECT(r_rename(&r0, "fa", &r1, "fb"), NFS3ERR_XDEV, "RENAME onto a file");
	EXPECT(r_rename(&r0, "sub", &r1, "sub"), NFS3ERR_XDEV, "RENAME of a directory");
	EXPECT(r_link(&fa, &r1, "la"), NFS3ERR_XDEV, "LINK vol0 file into vol1");
	EXPECT(r_link(&fb, &r0, "lb"), NFS3ERR_XDEV, "LINK vol1 file into vol0");
	EXPECT(r_link(&fb, &sub, "lb"), NFS3ERR_XDEV, "LINK vol1 file into a vol0 subdirectory");

	/* the same handles work within their own volume */
	EXPECT(r_rename(&r0, "fa", &sub, "fa"), NFS3_OK, "RENAME within vol0");
	EXPECT(r_rename(&sub, "fa", &r0, "fa"), NFS3_OK, "RENAME back within vol0");
	EXPECT(r_link(&fb, &r1, "lb"), NFS3_OK, "LINK within vol1");
	EXPECT(r_remove(&r1, "lb"), NFS3_OK, "REMOVE the link");

	/* nothing moved */
	check_file(a, "/fa", da, sizeof(da));
	check_file(b, "/fb", db, sizeof(db));
	struct nfs_stat_64 st;
	cr_assert_eq(nfs_stat64(a, "/fa", &st), 0);
	cr_expect_eq(st.nfs_nlink, 1);
	cr_assert_eq(nfs_stat64(b, "/fb", &st), 0);
	cr_expect_eq(st.nfs_nlink, 1);
	cr_assert_eq(nfs_stat64(a, "/sub", &st), 0);
	expect_enoent(a, "/fb");
	expect_enoent(a, "/lb");
	expect_enoent(a, "/sub/lb");
	expect_enoent(b, "/fa");
	expect_enoent(b, "/la");
	expect_enoent(b, "/sub");
	expect_enoent(b, "/x");
	finish();
}
