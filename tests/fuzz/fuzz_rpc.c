/*
 * fuzz_rpc.c - a libFuzzer target for everything behind the wire: the RPC
 * call header and credentials (rpc.c), the duplicate-request cache, file
 * handles, NFSv3, MOUNT and the port mapper, and wafl/ under them.
 *
 * One server, made once (LLVMFuzzerInitialize): a scratch aggregate in
 * /tmp (tests/lib/wtest.c) with vol0 exported as /vol/vol0 to
 * 127.0.0.1(rw,insecure,no_root_squash), a fixed handle secret, and a few
 * files, a directory and a symbolic link whose handles the seeds carry.
 * Each input is then used twice:
 *
 *   1. as one record, exactly as it came (rpc_feed_record: as if from
 *      127.0.0.1 port 700 over TCP);
 *   2. as a TCP byte stream: record marks and fragments, reassembled here
 *      the way rpc.c does (the same record limit), each record fed in
 *      turn. In this pass the MAC of every handle-shaped field (length 40,
 *      version 1) is recomputed first, so mutated inode numbers,
 *      generations, snapshot and export ids reach the code behind
 *      fh_parse, as stale handles of real clients do. rpc.c's own record
 *      marking needs a socket and is not reached from here; the filer's
 *      tests (tests/unit/nfs/test_badinput.c) cover it.
 *
 * Then the event loop runs a few times without blocking, so that replies
 * waiting for the NVLOG go out and CPs make progress.
 *
 * Every reply is checked (and a violation abort()s, which libFuzzer
 * reports like a crash): it must be a well-formed RPC reply to the call;
 * the results of NFSv3 and MOUNT calls must decode with the generated XDR
 * routines to exactly their length; and in pass 1 (no MACs fixed) no
 * NFSv3 call may succeed on a handle whose MAC does not verify (DESIGN.md
 * §9.9: forged handles never reach anything).
 *
 * Seeds: when a corpus directory given on the command line is empty, a
 * valid call of each kind is written into it (NULL, GETATTR, LOOKUP,
 * READDIR, WRITE, CREATE, ... MOUNT MNT, portmap GETPORT, and streams of
 * several calls). FUZZ_RPC_WRITE_SEEDS=dir writes them into dir and exits.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/mount3.h"
#include "nfs/proto/nfs3.h"
#include "nfs/proto/pmap.h"
#include "tests/lib/wtest.h"

#define EXPORT_PATH	"/vol/vol0"
#define MAX_RECORD	((1u << 20) + 4096) /* rpc.c's default record limit */
#define MAX_STREAM_RECS 32
#define LOOP_TURNS	4

static struct wt t;
static struct nfs_server *srv;
static uint16_t export_id;
static struct wafl_fh fh_root, fh_file, fh_dir, fh_link;

static void fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(const char *what, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fuzz_rpc: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- checking replies ----------------------------------------------------- */

/* What the harness knows of the call it fed. */
struct call_info {
	const uint8_t *rec;
	size_t len;
	bool fixed;  /* pass 2: handle MACs were recomputed */
	bool parsed; /* a complete call header was found */
	uint32_t xid, prog, vers, proc;
	size_t args_off; /* where the arguments start */
	unsigned replies;
};

static uint32_t be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

/* The call header, as far as it goes; false if it is not a whole call
 * header (then only the reply's shape is checked). */
static bool parse_call(struct call_info *ci)
{
	const uint8_t *p = ci->rec;
	size_t n = ci->len, off = 24;
	if (n < 24 || be32(p + 4) != 0 || be32(p + 8) != 2)
		return false;
	ci->xid = be32(p);
	ci->prog = be32(p + 12);
	ci->vers = be32(p + 16);
	ci->proc = be32(p + 20);
	for (int i = 0; i < 2; i++) { /* credential, verifier */
		if (off + 8 > n)
			return false;
		uint32_t len = be32(p + off + 4);
		if (len > 400 || off + 8 + ((len + 3) & ~3u) > n)
			return false;
		off += 8 + ((len + 3) & ~3u);
	}
	ci->args_off = off;
	return true;
}

static const xdrproc_t nfs3_res[22] = {
	NULL,
	(xdrproc_t)xdr_GETATTR3res,
	(xdrproc_t)xdr_SETATTR3res,
	(xdrproc_t)xdr_LOOKUP3res,
	(xdrproc_t)xdr_ACCESS3res,
	(xdrproc_t)xdr_READLINK3res,
	(xdrproc_t)xdr_READ3res,
	(xdrproc_t)xdr_WRITE3res,
	(xdrproc_t)xdr_CREATE3res,
	(xdrproc_t)xdr_MKDIR3res,
	(xdrproc_t)xdr_SYMLINK3res,
	(xdrproc_t)xdr_MKNOD3res,
	(xdrproc_t)xdr_REMOVE3res,
	(xdrproc_t)xdr_RMDIR3res,
	(xdrproc_t)xdr_RENAME3res,
	(xdrproc_t)xdr_LINK3res,
	(xdrproc_t)xdr_READDIR3res,
	(xdrproc_t)xdr_READDIRPLUS3res,
	(xdrproc_t)xdr_FSSTAT3res,
	(xdrproc_t)xdr_FSINFO3res,
	(xdrproc_t)xdr_PATHCONF3res,
	(xdrproc_t)xdr_COMMIT3res,
};

/* The XDR routine for the results of a call, NULL: not checked. *none:
 * the procedure returns nothing (void). */
static xdrproc_t results_of(const struct call_info *ci, bool *none)
{
	*none = ci->proc == 0;
	if (ci->prog == 100003 && ci->vers == 3 && ci->proc < 22)
		return nfs3_res[ci->proc];
	if (ci->prog == 100005 && ci->vers >= 1 && ci->vers <= 3) {
		*none = ci->proc == 0 || ci->proc == 3 || ci->proc == 4;
		switch (ci->proc) {
		case 1:
			return (xdrproc_t)xdr_mountres3;
		case 2:
			return (xdrproc_t)xdr_mnt3_mountlist;
		case 5:
			return (xdrproc_t)xdr_mnt3_exports;
		}
		return NULL;
	}
	if (ci->prog == 100000 && ci->vers == 2 && ci->proc == 3)
		return (xdrproc_t)xdr_u_int;
	return NULL;
}

/* Big enough for any of the result structures above. */
union any_res {
	GETATTR3res getattr;
	READDIRPLUS3res readdirplus;
	FSINFO3res fsinfo;
	mountres3 mnt;
	mnt3_mountlist dump;
	mnt3_exports exports;
	uint32_t u;
	char pad[1024];
};

/* Pass 1: an NFSv3 call that succeeded must have named a genuine handle. */
static void check_handle(const struct call_info *ci, const uint8_t *body, size_t len)
{
	if (ci->fixed || ci->prog != 100003 || ci->vers != 3 || ci->proc == 0 || ci->proc >= 22 ||
	    len < 4 || be32(body) != NFS3_OK)
		return;
	nfs_fh3 h = {{0, NULL}};
	XDR x;
	xdrmem_create(&x, (char *)ci->rec + ci->args_off, (u_int)(ci->len - ci->args_off),
		      XDR_DECODE);
	bool ok = xdr_nfs_fh3(&x, &h);
	xdr_destroy(&x);
	if (!ok)
		fail("forged call", "NFS3 procedure %u succeeded on undecodable arguments",
		     ci->proc);
	struct nfs_export *ex;
	struct wafl_fh wfh;
	int rc = fh_parse(srv, (const uint8_t *)h.data.data_val, h.data.data_len, &ex, &wfh);
	xdr_free((xdrproc_t)xdr_nfs_fh3, (char *)&h);
	if (rc)
		fail("forged handle",
		     "NFS3 procedure %u succeeded on a handle fh_parse refuses (%d)", ci->proc, rc);
}

static void check_reply(void *arg, const uint8_t *p, size_t len)
{
	struct call_info *ci = arg;
	if (len < 12 || len % 4)
		fail("reply", "%zu bytes", len);
	uint32_t xid = be32(p), stat = be32(p + 8);
	if (be32(p + 4) != 1)
		fail("reply", "message type %u", be32(p + 4));
	bool ours = ci->parsed && xid == ci->xid;
	ci->replies += ours;
	size_t off = 12;
	if (stat == 1) { /* MSG_DENIED */
		if (len != 20 && len != 24)
			fail("denial", "%zu bytes", len);
		uint32_t why = be32(p + 12);
		if (why == 0 && (len != 24 || be32(p + 16) > be32(p + 20)))
			fail("denial", "RPC_MISMATCH %u..%u", be32(p + 16), be32(p + 20));
		if (why == 1 && (len != 20 || be32(p + 16) == 0 || be32(p + 16) > 7))
			fail("denial", "AUTH_ERROR %u", len == 20 ? be32(p + 16) : 0);
		if (why > 1)
			fail("denial", "reject_stat %u", why);
		return;
	}
	if (stat != 0)
		fail("reply", "reply_stat %u", stat);
	if (len < 24)
		fail("accepted reply", "%zu bytes", len);
	uint32_t vlen = be32(p + 16);
	if (vlen > 400 || 20 + ((vlen + 3) & ~3u) + 4 > len)
		fail("accepted reply", "verifier of %u bytes", vlen);
	off = 20 + ((vlen + 3) & ~3u);
	uint32_t astat = be32(p + off);
	off += 4;
	if (astat > 5)
		fail("accepted reply", "accept_stat %u", astat);
	if (astat == 2) { /* PROG_MISMATCH */
		if (len != off + 8 || be32(p + off) > be32(p + off + 4))
			fail("PROG_MISMATCH", "%zu bytes", len);
		return;
	}
	if (astat != 0) {
		if (len != off)
			fail("accepted reply", "%zu bytes after accept_stat %u", len - off, astat);
		return;
	}
	if (!ours)
		return;
	bool none;
	xdrproc_t proc = results_of(ci, &none);
	if (none) {
		if (len != off)
			fail("void results", "%zu bytes (program %u procedure %u)", len - off,
			     ci->prog, ci->proc);
		return;
	}
	if (!proc)
		return;
	union any_res res;
	memset(&res, 0, sizeof(res));
	XDR x;
	xdrmem_create(&x, (char *)p + off, (u_int)(len - off), XDR_DECODE);
	bool ok = proc(&x, (char *)&res);
	size_t used = xdr_getpos(&x);
	xdr_destroy(&x);
	xdr_free(proc, (char *)&res);
	if (!ok || used != len - off)
		fail("results", "program %u version %u procedure %u: %s (%zu of %zu bytes)",
		     ci->prog, ci->vers, ci->proc, ok ? "trailing bytes" : "do not decode", used,
		     len - off);
	check_handle(ci, p + off, len - off);
}

static void feed(const uint8_t *rec, size_t len, bool fixed)
{
	struct call_info ci = {.rec = rec, .len = len, .fixed = fixed};
	ci.parsed = parse_call(&ci);
	rpc_feed_record(srv, rec, len, check_reply, &ci);
	if (ci.replies > 1)
		fail("replies", "%u replies to one call", ci.replies);
}

/* ---- pass 2: a byte stream, handles re-signed ------------------------------- */

static void fix_macs(uint8_t *rec, size_t len)
{
	for (size_t i = 0; i + 4 + FH_BYTES <= len; i += 4) {
		uint8_t *h = rec + i + 4;
		if (be32(rec + i) != FH_BYTES || h[0] != FH_VERSION || h[1] != 0)
			continue;
		struct wafl_fh f;
		uint16_t ex = (uint16_t)(h[2] | h[3] << 8);
		f.volid = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
			  (uint32_t)h[7] << 24;
		f.snapid = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 |
			   (uint32_t)h[11] << 24;
		f.gen = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
			(uint32_t)h[15] << 24;
		f.ino = 0;
		for (int k = 7; k >= 0; k--)
			f.ino = f.ino << 8 | h[16 + k];
		fh_make(srv, ex, &f, h);
	}
}

static void feed_stream(const uint8_t *d, size_t n)
{
	static uint8_t *rec;
	if (!rec && !(rec = malloc(MAX_RECORD)))
		return;
	size_t off = 0, rlen = 0;
	for (int nrec = 0; off + 4 <= n && nrec < MAX_STREAM_RECS;) {
		uint32_t mark = be32(d + off);
		size_t fl = mark & 0x7fffffffu;
		off += 4;
		if (fl > n - off || rlen + fl > MAX_RECORD)
			return; /* the rest never comes, or the filer would hang up */
		memcpy(rec + rlen, d + off, fl);
		rlen += fl;
		off += fl;
		if (mark >> 31) {
			fix_macs(rec, rlen);
			feed(rec, rlen, true);
			rlen = 0;
			nrec++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	feed(data, size, false);
	feed_stream(data, size);
	for (int i = 0; i < LOOP_TURNS; i++)
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	return 0;
}

/* ---- seeds ------------------------------------------------------------- */

struct enc {
	uint8_t buf[16384];
	XDR x;
};

static void put(struct enc *e, uint32_t v)
{
	if (!xdr_u_int(&e->x, &v))
		fail("seed", "buffer full");
}

static void enc_call(struct enc *e, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	xdrmem_create(&e->x, (char *)e->buf, sizeof(e->buf), XDR_ENCODE);
	put(e, xid);
	put(e, 0); /* CALL */
	put(e, 2);
	put(e, prog);
	put(e, vers);
	put(e, proc);
	put(e, AUTH_SYS_FLAVOR); /* stamp, "fuzz", uid 0, gid 0, one group */
	put(e, 4 + 4 + 4 + 4 + 4 + 4 + 4);
	put(e, 1);
	put(e, 4);
	put(e, 0x66757a7a);
	put(e, 0);
	put(e, 0);
	put(e, 1);
	put(e, 0);
	put(e, AUTH_NONE_FLAVOR);
	put(e, 0);
}

static void enc_args(struct enc *e, xdrproc_t proc, void *obj)
{
	if (!proc(&e->x, obj))
		fail("seed", "cannot encode arguments");
}

static nfs_fh3 fh3_of(const struct wafl_fh *f, uint8_t buf[FH_BYTES])
{
	fh_make(srv, export_id, f, buf);
	nfs_fh3 h = {{FH_BYTES, (char *)buf}};
	return h;
}

struct seed_writer {
	const char *dir;
	uint8_t stream[65536]; /* calls collected for a stream seed */
	size_t slen;
	uint32_t xid;
};

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n)
		fail("seed", "cannot write %s: %s", path, strerror(errno));
	fclose(f);
}

/* Writes the call in e as the seed name, and appends it, record-marked,
 * to the stream being collected. */
static void seed(struct seed_writer *w, struct enc *e, const char *name)
{
	size_t n = xdr_getpos(&e->x);
	xdr_destroy(&e->x);
	write_file(w->dir, name, e->buf, n);
	if (w->slen + 4 + n <= sizeof(w->stream)) {
		uint32_t mark = htonl(0x80000000u | (uint32_t)n);
		memcpy(w->stream + w->slen, &mark, 4);
		memcpy(w->stream + w->slen + 4, e->buf, n);
		w->slen += 4 + n;
	}
}

/* Writes the collected stream as the seed name and starts another. */
static void seed_stream(struct seed_writer *w, const char *name)
{
	write_file(w->dir, name, w->stream, w->slen);
	w->slen = 0;
}

static void nfs_call(struct seed_writer *w, uint32_t proc, xdrproc_t argp, void *args,
		     const char *name)
{
	struct enc e;
	enc_call(&e, w->xid++, 100003, 3, proc);
	if (argp)
		enc_args(&e, argp, args);
	seed(w, &e, name);
}

static void write_seeds(const char *dir)
{
	static struct seed_writer w;
	w.dir = dir;
	w.slen = 0;
	w.xid = 0x5eed0001;
	uint8_t b0[FH_BYTES], b1[FH_BYTES], b2[FH_BYTES], b3[FH_BYTES];
	nfs_fh3 root = fh3_of(&fh_root, b0), file = fh3_of(&fh_file, b1);
	nfs_fh3 dir_ = fh3_of(&fh_dir, b2), link = fh3_of(&fh_link, b3);
	static char data[512];
	memset(data, 'w', sizeof(data));

	/* each NFSv3 procedure once; together they make the stream "nfs3" */
	nfs_call(&w, 0, NULL, NULL, "nfs3-null");
	nfs_call(&w, 1, (xdrproc_t)xdr_nfs_fh3, &root, "nfs3-getattr");
	SETATTR3args sa = {.object = file};
	sa.new_attributes.mode.set_it = TRUE;
	sa.new_attributes.mode.set_mode3_u.mode = 0640;
	sa.new_attributes.size.set_it = TRUE;
	sa.new_attributes.size.set_size3_u.size = 100;
	sa.new_attributes.mtime.set_it = SET_TO_SERVER_TIME;
	nfs_call(&w, 2, (xdrproc_t)xdr_SETATTR3args, &sa, "nfs3-setattr");
	LOOKUP3args la = {.what = {.dir = root, .name = "f0"}};
	nfs_call(&w, 3, (xdrproc_t)xdr_LOOKUP3args, &la, "nfs3-lookup");
	la.what.name = "..";
	nfs_call(&w, 3, (xdrproc_t)xdr_LOOKUP3args, &la, "nfs3-lookup-dotdot");
	ACCESS3args aa = {.object = file, .access = 0x3f};
	nfs_call(&w, 4, (xdrproc_t)xdr_ACCESS3args, &aa, "nfs3-access");
	nfs_call(&w, 5, (xdrproc_t)xdr_nfs_fh3, &link, "nfs3-readlink");
	READ3args ra = {.file = file, .offset = 0, .count = 4096};
	nfs_call(&w, 6, (xdrproc_t)xdr_READ3args, &ra, "nfs3-read");
	WRITE3args wa = {.file = file, .offset = 10, .count = sizeof(data), .stable = FILE_SYNC};
	wa.data.data_len = sizeof(data);
	wa.data.data_val = data;
	nfs_call(&w, 7, (xdrproc_t)xdr_WRITE3args, &wa, "nfs3-write");
	wa.stable = UNSTABLE;
	wa.offset = 1u << 20;
	nfs_call(&w, 7, (xdrproc_t)xdr_WRITE3args, &wa, "nfs3-write-unstable");
	CREATE3args ca = {.where = {.dir = root, .name = "new"}};
	ca.how.mode = GUARDED;
	ca.how.createhow3_u.obj_attributes.mode.set_it = TRUE;
	ca.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	nfs_call(&w, 8, (xdrproc_t)xdr_CREATE3args, &ca, "nfs3-create");
	ca.how.mode = EXCLUSIVE;
	memcpy(ca.how.createhow3_u.verf, "verifier", 8);
	ca.where.name = "excl";
	nfs_call(&w, 8, (xdrproc_t)xdr_CREATE3args, &ca, "nfs3-create-exclusive");
	MKDIR3args ma = {.where = {.dir = dir_, .name = "sub"}};
	nfs_call(&w, 9, (xdrproc_t)xdr_MKDIR3args, &ma, "nfs3-mkdir");
	SYMLINK3args sl = {.where = {.dir = root, .name = "ln"}};
	sl.symlink.symlink_data = "../f0";
	nfs_call(&w, 10, (xdrproc_t)xdr_SYMLINK3args, &sl, "nfs3-symlink");
	MKNOD3args mk = {.where = {.dir = root, .name = "fifo"}};
	mk.what.type = NF3FIFO;
	nfs_call(&w, 11, (xdrproc_t)xdr_MKNOD3args, &mk, "nfs3-mknod");
	mk.what.type = NF3CHR;
	mk.where.name = "chr";
	mk.what.mknoddata3_u.device.spec.specdata1 = 1;
	mk.what.mknoddata3_u.device.spec.specdata2 = 3;
	nfs_call(&w, 11, (xdrproc_t)xdr_MKNOD3args, &mk, "nfs3-mknod-chr");
	LINK3args lk = {.file = file, .link = {.dir = dir_, .name = "hard"}};
	nfs_call(&w, 15, (xdrproc_t)xdr_LINK3args, &lk, "nfs3-link");
	RENAME3args rn = {.from = {.dir = root, .name = "new"},
			  .to = {.dir = dir_, .name = "moved"}};
	nfs_call(&w, 14, (xdrproc_t)xdr_RENAME3args, &rn, "nfs3-rename");
	READDIR3args rd = {.dir = root, .cookie = 0, .count = 4096};
	nfs_call(&w, 16, (xdrproc_t)xdr_READDIR3args, &rd, "nfs3-readdir");
	READDIRPLUS3args rp = {.dir = dir_, .cookie = 0, .dircount = 1024, .maxcount = 8192};
	nfs_call(&w, 17, (xdrproc_t)xdr_READDIRPLUS3args, &rp, "nfs3-readdirplus");
	nfs_call(&w, 18, (xdrproc_t)xdr_nfs_fh3, &root, "nfs3-fsstat");
	nfs_call(&w, 19, (xdrproc_t)xdr_nfs_fh3, &root, "nfs3-fsinfo");
	nfs_call(&w, 20, (xdrproc_t)xdr_nfs_fh3, &root, "nfs3-pathconf");
	COMMIT3args cm = {.file = file, .offset = 0, .count = 0};
	nfs_call(&w, 21, (xdrproc_t)xdr_COMMIT3args, &cm, "nfs3-commit");
	REMOVE3args rm = {.object = {.dir = dir_, .name = "hard"}};
	nfs_call(&w, 12, (xdrproc_t)xdr_REMOVE3args, &rm, "nfs3-remove");
	RMDIR3args rmd = {.object = {.dir = dir_, .name = "sub"}};
	nfs_call(&w, 13, (xdrproc_t)xdr_RMDIR3args, &rmd, "nfs3-rmdir");
	seed_stream(&w, "stream-nfs3");

	/* a retransmitted CREATE (the duplicate-request cache), then REMOVE
	 * twice */
	w.xid = 0x5eed1000;
	ca.how.mode = GUARDED;
	ca.where.name = "dup";
	nfs_call(&w, 8, (xdrproc_t)xdr_CREATE3args, &ca, "nfs3-create-dup");
	w.xid--;
	nfs_call(&w, 8, (xdrproc_t)xdr_CREATE3args, &ca, "nfs3-create-dup");
	rm.object.dir = root;
	rm.object.name = "dup";
	nfs_call(&w, 12, (xdrproc_t)xdr_REMOVE3args, &rm, "nfs3-remove-dup");
	w.xid--;
	nfs_call(&w, 12, (xdrproc_t)xdr_REMOVE3args, &rm, "nfs3-remove-dup");
	seed_stream(&w, "stream-drc");

	/* MOUNT, every procedure */
	struct enc e;
	mnt3_dirpath path = EXPORT_PATH;
	enc_call(&e, w.xid++, 100005, 3, 0);
	seed(&w, &e, "mount-null");
	enc_call(&e, w.xid++, 100005, 3, 1);
	enc_args(&e, (xdrproc_t)xdr_mnt3_dirpath, &path);
	seed(&w, &e, "mount-mnt");
	enc_call(&e, w.xid++, 100005, 3, 2);
	seed(&w, &e, "mount-dump");
	enc_call(&e, w.xid++, 100005, 1, 5);
	seed(&w, &e, "mount-export");
	enc_call(&e, w.xid++, 100005, 3, 3);
	enc_args(&e, (xdrproc_t)xdr_mnt3_dirpath, &path);
	seed(&w, &e, "mount-umnt");
	enc_call(&e, w.xid++, 100005, 3, 4);
	seed(&w, &e, "mount-umntall");
	seed_stream(&w, "stream-mount");

	/* the port mapper: GETPORT and DUMP (v2), GETADDR (v3, v4), DUMP v4 */
	fpm_mapping m = {.prog = 100003, .vers = 3, .prot = FPM_IPPROTO_TCP, .port = 0};
	enc_call(&e, w.xid++, 100000, 2, 3);
	enc_args(&e, (xdrproc_t)xdr_fpm_mapping, &m);
	seed(&w, &e, "pmap-getport");
	enc_call(&e, w.xid++, 100000, 2, 4);
	seed(&w, &e, "pmap-dump");
	fpm_rpcb rb = {.r_prog = 100005,
		       .r_vers = 3,
		       .r_netid = "tcp",
		       .r_addr = "127.0.0.1.0.111",
		       .r_owner = ""};
	enc_call(&e, w.xid++, 100000, 3, 3);
	enc_args(&e, (xdrproc_t)xdr_fpm_rpcb, &rb);
	seed(&w, &e, "rpcb3-getaddr");
	enc_call(&e, w.xid++, 100000, 4, 11);
	enc_args(&e, (xdrproc_t)xdr_fpm_rpcb, &rb);
	seed(&w, &e, "rpcb4-getaddrlist");
	enc_call(&e, w.xid++, 100000, 4, 4);
	seed(&w, &e, "rpcb4-dump");
	enc_call(&e, w.xid++, 100000, 4, 9);
	enc_args(&e, (xdrproc_t)xdr_fpm_rpcb, &rb);
	seed(&w, &e, "rpcb4-getversaddr");
	enc_call(&e, w.xid++, 100000, 4, 6);
	seed(&w, &e, "rpcb4-gettime");
	enc_call(&e, w.xid++, 100000, 3, 1);
	enc_args(&e, (xdrproc_t)xdr_fpm_rpcb, &rb);
	seed(&w, &e, "rpcb3-set");
	enc_call(&e, w.xid++, 100000, 2, 1);
	enc_args(&e, (xdrproc_t)xdr_fpm_mapping, &m);
	seed(&w, &e, "pmap-set");
	enc_call(&e, w.xid++, 100000, 2, 0);
	seed(&w, &e, "pmap-null");
	fpm_call_args cl = {.prog = 100003, .vers = 3, .proc = 0};
	enc_call(&e, w.xid++, 100000, 2, 5);
	enc_args(&e, (xdrproc_t)xdr_fpm_call_args, &cl);
	seed(&w, &e, "pmap-callit");
	seed_stream(&w, "stream-pmap");
}

/* True if path is a directory with nothing in it. */
static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *de;
	bool empty = true;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* ---- the server ----------------------------------------------------------- */

/* At exit: only the scratch files go. The server and the aggregate stay
 * as they are: calls may still be parked in wafl/ waiting for the NVLOG,
 * and nothing here should depend on the order in which those two are
 * torn down (see the filer's own shutdown, tested in test_badinput.c). */
static void teardown(void)
{
	for (unsigned i = 0; i < t.ndisks; i++)
		unlink(t.disk_path[i]);
	unlink(t.nvlog);
	rmdir(t.dir);
}

static void make_files(void)
{
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0666};
	struct wafl_attr a;
	struct wafl_stab st;
	static const char text[] = "the quick brown fox jumps over the lazy dog\n";
	int rc = wafl_root(t.v, &fh_root);
	if (!rc)
		rc = WT_RETRY(&t, wafl_create(t.v, NULL, &fh_root, "f0", WAFL_UNCHECKED, &sa, 0,
					      &fh_file, &a, &st));
	if (!rc)
		rc = WT_RETRY(&t, wafl_write(t.v, NULL, &fh_file, 0, sizeof(text), text,
					     WAFL_FILE_SYNC, &a, &st));
	sa.mode = 0777;
	if (!rc)
		rc = WT_RETRY(&t, wafl_mkdir(t.v, NULL, &fh_root, "d0", &sa, &fh_dir, &a, &st));
	if (!rc)
		rc = WT_RETRY(
			&t, wafl_symlink(t.v, NULL, &fh_root, "l0", "f0", &sa, &fh_link, &a, &st));
	if (!rc)
		rc = wt_wait(&t, &st);
	if (rc)
		fail("setup", "cannot make the files: %s", strerror(-rc));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int rc = wt_make(&t, WAFL_AGGR, 2, 128ull << 20, 192ull << 20);
	if (rc)
		fail("setup", "wt_make: %s", strerror(-rc));
	struct nfs_config cfg = {
		.base = t.base,
		.addr = "127.0.0.1",
		.port = 0,
		.udp = false,
		.portmapper = true,
		.portmap_port = 0,
		.boot_verifier = 0x0123456789abcdefull,
	};
	memcpy(cfg.secret, "fuzz_rpc: a fixed handle secret.", NFS_SECRET_BYTES);
	if ((rc = nfs_server_new(&cfg, &srv)))
		fail("setup", "nfs_server_new: %s", strerror(-rc));
	char err[256];
	if ((rc = nfs_export_add(srv, EXPORT_PATH, t.v, "127.0.0.1(rw,insecure,no_root_squash)",
				 err, sizeof(err))))
		fail("setup", "nfs_export_add: %s", err);
	export_id = export_by_path(srv, EXPORT_PATH)->id;
	make_files();
	atexit(teardown);

	const char *out = getenv("FUZZ_RPC_WRITE_SEEDS");
	if (out) {
		mkdir(out, 0755);
		write_seeds(out);
		fprintf(stderr, "fuzz_rpc: seeds written to %s\n", out);
		exit(0);
	}
	for (int i = 1; i < *argc; i++)
		if ((*argv)[i][0] != '-' && empty_dir((*argv)[i])) {
			write_seeds((*argv)[i]);
			fprintf(stderr, "fuzz_rpc: %s was empty: seeds written\n", (*argv)[i]);
		}
	return 0;
}
