/*
 * test_badinput.c - hostile and broken input against a real filer process
 * (DESIGN.md §8 invariant 5, §9.7, §9.9): records in pieces and records
 * that claim too much, truncated arguments, malformed call headers and
 * credentials, unknown programs, versions and procedures, forged file
 * handles, names that try to leave the export or hide a NUL, values at
 * the edges of their types, a client that never reads its replies, calls
 * pipelined past the outstanding limit, connections that vanish with
 * calls in flight, retransmissions, SIGTERM with calls waiting for the
 * NVLOG, and UDP datagrams of garbage or asking for too much.
 *
 * Calls are encoded here, by hand, with libtirpc's XDR memory streams and
 * the generated xdr_* routines of nfs/proto/, and written to raw sockets,
 * so no client library tidies them up on the way. Every test ends by
 * checking that the filer still runs and answers a fresh connection: bad
 * input may cost a call or a connection, never the filer.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nfs/proto/mount3.h"
#include "nfs/proto/nfs3.h"
#include "tests/lib/filerproc.h"

#define P_NFS	100003u
#define P_MOUNT 100005u
#define P_PMAP	100000u

#define REPLY_MAX   ((2u << 20) + 65536) /* the largest reply: a 1 MiB READ */
#define TIMEOUT_MS  5000		 /* for a reply that must come */
#define RECORD_LAST 0x80000000u

static struct filerproc fp;
static uint8_t *rbuf; /* the last reply record */

static void up(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
	rbuf = malloc(REPLY_MAX);
	cr_assert_not_null(rbuf);
	signal(SIGPIPE, SIG_IGN);
}

static void down(void)
{
	fp_destroy(&fp);
	free(rbuf);
}

TestSuite(badinput, .init = up, .fini = down, .timeout = 60);

/* ---- sockets ---------------------------------------------------------- */

static int conn_open_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "connect to %u: %s",
		     port, strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int conn_open(void)
{
	return conn_open_to(fp.port);
}

static void send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		cr_assert_gt(k, 0, "send: %s", strerror(errno));
		b += k;
		n -= (size_t)k;
	}
}

/* Reads exactly n bytes within timeout_ms. 1: done; 0: the peer closed
 * the connection (or reset it); -1: nothing (more) came in time. */
static int recv_exact(int fd, void *p, size_t n, int timeout_ms)
{
	uint8_t *b = p;
	while (n) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int k = poll(&pf, 1, timeout_ms);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			return -1;
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return 0;
		cr_assert_gt(r, 0, "recv: %s", strerror(errno));
		b += r;
		n -= (size_t)r;
	}
	return 1;
}

/* One whole record (all its fragments) into buf. Its length; -1: nothing
 * came in time; -2: the connection was closed. */
static ssize_t recv_rec_into(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	for (;;) {
		uint32_t mark;
		int k = recv_exact(fd, &mark, 4, timeout_ms);
		if (k <= 0)
			return k == 0 ? -2 : -1;
		mark = ntohl(mark);
		size_t n = mark & ~RECORD_LAST;
		cr_assert_leq(len + n, cap, "a reply record of more than %zu bytes", cap);
		k = recv_exact(fd, buf + len, n, timeout_ms);
		cr_assert_eq(k, 1, "a reply fragment cut short");
		len += n;
		if (mark & RECORD_LAST)
			return (ssize_t)len;
	}
}

static ssize_t recv_rec(int fd, int timeout_ms)
{
	return recv_rec_into(fd, rbuf, REPLY_MAX, timeout_ms);
}

/* True if the filer closes fd within timeout_ms (whatever it sends first
 * is read and dropped). */
static bool closed_within(int fd, int timeout_ms)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = timeout_ms -
			    ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return false;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		char junk[4096];
		ssize_t r = recv(fd, junk, sizeof(junk), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
	}
}

/* ---- encoding calls ----------------------------------------------------- */

/* A call being built: 4 bytes of room for the record mark, then XDR. */
struct msg {
	uint8_t *buf;
	size_t cap;
	XDR x;
};

static struct msg *msg_new(size_t cap)
{
	struct msg *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	m->buf = malloc(cap + 4);
	cr_assert_not_null(m->buf);
	m->cap = cap;
	xdrmem_create(&m->x, (char *)m->buf + 4, (u_int)cap, XDR_ENCODE);
	return m;
}

static void msg_free(struct msg *m)
{
	xdr_destroy(&m->x);
	free(m->buf);
	free(m);
}

static size_t msg_len(struct msg *m)
{
	return xdr_getpos(&m->x);
}

/* The call's bytes, without a record mark. */
static const uint8_t *msg_body(struct msg *m)
{
	return m->buf + 4;
}

static void put32(struct msg *m, uint32_t v)
{
	cr_assert(xdr_u_int(&m->x, &v), "call buffer full");
}

/* Variable-length opaque (or string) of len bytes, padded. */
static void put_var(struct msg *m, const void *p, uint32_t len)
{
	put32(m, len);
	if (len)
		cr_assert(xdr_opaque(&m->x, (char *)p, len), "call buffer full");
}

static void put_args(struct msg *m, xdrproc_t proc, void *obj)
{
	cr_assert(proc(&m->x, obj), "cannot encode the arguments");
}

/* The call header up to (not including) the credential. */
static void put_hdr(struct msg *m, uint32_t xid, uint32_t rpcvers, uint32_t prog, uint32_t vers,
		    uint32_t proc)
{
	put32(m, xid);
	put32(m, CALL);
	put32(m, rpcvers);
	put32(m, prog);
	put32(m, vers);
	put32(m, proc);
}

/* An AUTH_SYS credential: uid and gid 0, ngids groups, a machine name of
 * namelen bytes. */
static void put_cred_sys(struct msg *m, uint32_t ngids, uint32_t namelen)
{
	char name[1024];
	cr_assert_leq(namelen, sizeof(name));
	memset(name, 'm', namelen);
	uint32_t body = 4 + 4 + ((namelen + 3) & ~3u) + 4 + 4 + 4 + 4 * ngids;
	put32(m, AUTH_SYS);
	put32(m, body);
	put32(m, 12345); /* stamp */
	put_var(m, name, namelen);
	put32(m, 0); /* uid */
	put32(m, 0); /* gid */
	put32(m, ngids);
	for (uint32_t i = 0; i < ngids; i++)
		put32(m, 100 + i);
}

static void put_verf_none(struct msg *m)
{
	put32(m, AUTH_NONE);
	put32(m, 0);
}

/* A well-formed call header with an ordinary AUTH_SYS credential. */
static struct msg *call_new(size_t cap, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	struct msg *m = msg_new(cap);
	put_hdr(m, xid, 2, prog, vers, proc);
	put_cred_sys(m, 2, 8);
	put_verf_none(m);
	return m;
}

/* Puts the record mark in front and sends the call as one fragment. */
static void msg_send(int fd, struct msg *m)
{
	uint32_t mark = htonl(RECORD_LAST | (uint32_t)msg_len(m));
	memcpy(m->buf, &mark, 4);
	send_all(fd, m->buf, msg_len(m) + 4);
}

/* ---- decoding replies ----------------------------------------------------- */

struct reply {
	uint32_t xid;
	uint32_t stat;	     /* MSG_ACCEPTED or MSG_DENIED */
	uint32_t astat;	     /* accepted: accept_stat */
	uint32_t rstat;	     /* denied: RPC_MISMATCH or AUTH_ERROR */
	uint32_t lo, hi;     /* PROG_MISMATCH, RPC_MISMATCH */
	uint32_t why;	     /* AUTH_ERROR: auth_stat */
	const uint8_t *body; /* SUCCESS: the results */
	size_t body_len;
	size_t len; /* the whole reply */
};

static uint32_t get32(const uint8_t *p, size_t len, size_t *off)
{
	cr_assert_leq(*off + 4, len, "reply cut short at byte %zu of %zu", *off, len);
	uint32_t v;
	memcpy(&v, p + *off, 4);
	*off += 4;
	return ntohl(v);
}

/* Parses an RPC reply header strictly (RFC 5531 §9). */
static void parse_reply(const uint8_t *p, size_t len, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	size_t off = 0;
	r->len = len;
	r->xid = get32(p, len, &off);
	cr_assert_eq(get32(p, len, &off), REPLY, "not a reply");
	r->stat = get32(p, len, &off);
	if (r->stat == MSG_ACCEPTED) {
		get32(p, len, &off); /* verifier flavor */
		uint32_t vlen = get32(p, len, &off);
		cr_assert_leq(vlen, 400);
		off += (vlen + 3) & ~3u;
		r->astat = get32(p, len, &off);
		if (r->astat == PROG_MISMATCH) {
			r->lo = get32(p, len, &off);
			r->hi = get32(p, len, &off);
		}
		if (r->astat != SUCCESS)
			cr_assert_eq(off, len, "%zu bytes after an error reply", len - off);
		r->body = p + off;
		r->body_len = len - off;
	} else {
		cr_assert_eq(r->stat, MSG_DENIED, "reply_stat %u", r->stat);
		r->rstat = get32(p, len, &off);
		if (r->rstat == RPC_MISMATCH) {
			r->lo = get32(p, len, &off);
			r->hi = get32(p, len, &off);
		} else {
			cr_assert_eq(r->rstat, AUTH_ERROR, "reject_stat %u", r->rstat);
			r->why = get32(p, len, &off);
		}
		cr_assert_eq(off, len, "%zu bytes after a denial", len - off);
	}
}

/* Sends m, waits for its reply (same xid) and parses it into r. */
static void rpc(int fd, struct msg *m, struct reply *r)
{
	uint32_t xid;
	memcpy(&xid, msg_body(m), 4);
	msg_send(fd, m);
	ssize_t n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0, "no reply to xid %#x (%s)", ntohl(xid),
		      n == -2 ? "connection closed" : "timeout");
	parse_reply(rbuf, (size_t)n, r);
	cr_assert_eq(r->xid, ntohl(xid), "reply xid %#x to call xid %#x", r->xid, ntohl(xid));
}

static void expect_accept(const struct reply *r, uint32_t astat)
{
	cr_assert_eq(r->stat, MSG_ACCEPTED, "denied (reject_stat %u, auth_stat %u)", r->rstat,
		     r->why);
	cr_assert_eq(r->astat, astat, "accept_stat %u, wanted %u", r->astat, astat);
}

static void expect_auth_error(const struct reply *r, uint32_t why)
{
	cr_assert_eq(r->stat, MSG_DENIED, "accepted (accept_stat %u)", r->astat);
	cr_assert_eq(r->rstat, AUTH_ERROR, "reject_stat %u", r->rstat);
	cr_assert_eq(r->why, why, "auth_stat %u, wanted %u", r->why, why);
}

/* Decodes a SUCCESS reply's results; xdr_free them afterwards. */
static void decode(const struct reply *r, xdrproc_t proc, void *obj, size_t size)
{
	expect_accept(r, SUCCESS);
	memset(obj, 0, size);
	XDR x;
	xdrmem_create(&x, (char *)r->body, (u_int)r->body_len, XDR_DECODE);
	cr_assert(proc(&x, obj), "cannot decode the results");
	cr_assert_eq(xdr_getpos(&x), r->body_len, "bytes after the results");
	xdr_destroy(&x);
}

/* ---- NFS and MOUNT calls ---------------------------------------------------- */

static uint32_t next_xid = 0x1000;

struct fh {
	uint8_t data[NFS3_FHSIZE + 8];
	uint32_t len;
};

static nfs_fh3 fh3(const struct fh *h)
{
	nfs_fh3 f = {.data = {.data_len = h->len, .data_val = (char *)h->data}};
	return f;
}

static struct fh root_fh(int fd)
{
	struct msg *m = call_new(1024, next_xid++, P_MOUNT, 3, 1);
	mnt3_dirpath path = "/vol/vol0";
	put_args(m, (xdrproc_t)xdr_mnt3_dirpath, &path);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	mountres3 res;
	decode(&r, (xdrproc_t)xdr_mountres3, &res, sizeof(res));
	cr_assert_eq(res.fhs_status, MNT3_OK, "MNT: %d", res.fhs_status);
	struct fh h = {.len = res.mountres3_u.mountinfo.fhandle.fhandle3_len};
	cr_assert_eq(h.len, 40);
	memcpy(h.data, res.mountres3_u.mountinfo.fhandle.fhandle3_val, h.len);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res);
	return h;
}

/* GETATTR; the status (and attributes when OK). */
static nfsstat3 getattr(int fd, const struct fh *h, fattr3 *attr)
{
	struct msg *m = call_new(1024, next_xid++, P_NFS, 3, 1);
	nfs_fh3 f = fh3(h);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	GETATTR3res res;
	decode(&r, (xdrproc_t)xdr_GETATTR3res, &res, sizeof(res));
	if (res.status == NFS3_OK && attr)
		*attr = res.GETATTR3res_u.resok.obj_attributes;
	return res.status;
}

/* LOOKUP of a name of namelen bytes (which may hold NUL or '/'). */
static nfsstat3 lookup(int fd, const struct fh *dir, const char *name, uint32_t namelen,
		       struct fh *out, fattr3 *attr)
{
	struct msg *m = call_new(16384, next_xid++, P_NFS, 3, 3);
	nfs_fh3 f = fh3(dir);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put_var(m, name, namelen);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	LOOKUP3res res;
	decode(&r, (xdrproc_t)xdr_LOOKUP3res, &res, sizeof(res));
	if (res.status == NFS3_OK) {
		LOOKUP3resok *ok = &res.LOOKUP3res_u.resok;
		cr_assert(ok->obj_attributes.attributes_follow);
		if (out) {
			out->len = ok->object.data.data_len;
			cr_assert_leq(out->len, NFS3_FHSIZE);
			memcpy(out->data, ok->object.data.data_val, out->len);
		}
		if (attr)
			*attr = ok->obj_attributes.post_op_attr_u.attributes;
	}
	nfsstat3 st = res.status;
	xdr_free((xdrproc_t)xdr_LOOKUP3res, (char *)&res);
	return st;
}

static struct msg *create_msg(uint32_t xid, const struct fh *dir, const char *name,
			      uint32_t namelen, createmode3 how)
{
	struct msg *m = call_new(16384, xid, P_NFS, 3, 8);
	nfs_fh3 f = fh3(dir);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put_var(m, name, namelen);
	createhow3 ch = {.mode = how};
	ch.createhow3_u.obj_attributes.mode.set_it = TRUE;
	ch.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	put_args(m, (xdrproc_t)xdr_createhow3, &ch);
	return m;
}

/* CREATE; the status and the new file's handle. */
static nfsstat3 create(int fd, const struct fh *dir, const char *name, uint32_t namelen,
		       createmode3 how, struct fh *out)
{
	struct msg *m = create_msg(next_xid++, dir, name, namelen, how);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	CREATE3res res;
	decode(&r, (xdrproc_t)xdr_CREATE3res, &res, sizeof(res));
	if (res.status == NFS3_OK && out) {
		post_op_fh3 *pf = &res.CREATE3res_u.resok.obj;
		cr_assert(pf->handle_follows);
		out->len = pf->post_op_fh3_u.handle.data.data_len;
		cr_assert_leq(out->len, NFS3_FHSIZE);
		memcpy(out->data, pf->post_op_fh3_u.handle.data.data_val, out->len);
	}
	nfsstat3 st = res.status;
	xdr_free((xdrproc_t)xdr_CREATE3res, (char *)&res);
	return st;
}

static struct msg *write_msg_how(uint32_t xid, const struct fh *h, uint64_t off, const void *data,
				 uint32_t len, stable_how how)
{
	struct msg *m = call_new(len + 1024, xid, P_NFS, 3, 7);
	WRITE3args a = {.file = fh3(h), .offset = off, .count = len, .stable = how};
	a.data.data_len = len;
	a.data.data_val = (char *)data;
	put_args(m, (xdrproc_t)xdr_WRITE3args, &a);
	return m;
}

static struct msg *write_msg(uint32_t xid, const struct fh *h, uint64_t off, const void *data,
			     uint32_t len)
{
	return write_msg_how(xid, h, off, data, len, FILE_SYNC);
}

static nfsstat3 write_sync(int fd, const struct fh *h, uint64_t off, const void *data, uint32_t len)
{
	struct msg *m = write_msg(next_xid++, h, off, data, len);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	WRITE3res res;
	decode(&r, (xdrproc_t)xdr_WRITE3res, &res, sizeof(res));
	if (res.status == NFS3_OK)
		cr_assert_eq(res.WRITE3res_u.resok.count, len);
	nfsstat3 st = res.status;
	xdr_free((xdrproc_t)xdr_WRITE3res, (char *)&res);
	return st;
}

/* READ; the raw reply is left in r (rbuf) for inspection. */
static nfsstat3 read_raw(int fd, const struct fh *h, uint32_t count, struct reply *r, uint32_t *got)
{
	struct msg *m = call_new(1024, next_xid++, P_NFS, 3, 6);
	READ3args a = {.file = fh3(h), .offset = 0, .count = count};
	put_args(m, (xdrproc_t)xdr_READ3args, &a);
	rpc(fd, m, r);
	msg_free(m);
	READ3res res;
	decode(r, (xdrproc_t)xdr_READ3res, &res, sizeof(res));
	*got = res.status == NFS3_OK ? res.READ3res_u.resok.data.data_len : 0;
	nfsstat3 st = res.status;
	xdr_free((xdrproc_t)xdr_READ3res, (char *)&res);
	return st;
}

static struct msg *remove_msg(uint32_t xid, const struct fh *dir, const char *name)
{
	struct msg *m = call_new(4096, xid, P_NFS, 3, 12);
	REMOVE3args a = {.object = {.dir = fh3(dir), .name = (char *)name}};
	put_args(m, (xdrproc_t)xdr_REMOVE3args, &a);
	return m;
}

/* How many entries of dir are called name (READDIR, every page). */
static unsigned count_named(int fd, const struct fh *dir, const char *name)
{
	unsigned n = 0;
	cookie3 cookie = 0;
	for (int pages = 0; pages < 1000; pages++) {
		struct msg *m = call_new(1024, next_xid++, P_NFS, 3, 16);
		READDIR3args a = {.dir = fh3(dir), .cookie = cookie, .count = 8192};
		put_args(m, (xdrproc_t)xdr_READDIR3args, &a);
		struct reply r;
		rpc(fd, m, &r);
		msg_free(m);
		READDIR3res res;
		decode(&r, (xdrproc_t)xdr_READDIR3res, &res, sizeof(res));
		cr_assert_eq(res.status, NFS3_OK, "READDIR: %d", res.status);
		bool eof = res.READDIR3res_u.resok.reply.eof;
		for (entry3 *e = res.READDIR3res_u.resok.reply.entries; e; e = e->nextentry) {
			n += strcmp(e->name, name) == 0;
			cookie = e->cookie;
		}
		xdr_free((xdrproc_t)xdr_READDIR3res, (char *)&res);
		if (eof)
			return n;
	}
	cr_assert_fail("READDIR never reached eof");
	return n;
}

/* One NFS call with generated arguments and results; res stays decoded
 * (xdr_free it); returns its status. */
static nfsstat3 nfs_call(int fd, uint32_t proc, xdrproc_t argp, void *args, xdrproc_t resp,
			 void *res, size_t size)
{
	struct msg *m = call_new(xdr_sizeof(argp, args) + 1024, next_xid++, P_NFS, 3, proc);
	put_args(m, argp, args);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	decode(&r, resp, res, size);
	return *(nfsstat3 *)res;
}

#define NFS_CALL(fd, proc, T, a, r)                                                                \
	nfs_call(fd, proc, (xdrproc_t)xdr_##T##args, a, (xdrproc_t)xdr_##T##res, r, sizeof(*(r)))
#define NFS_FREE(T, r) xdr_free((xdrproc_t)xdr_##T##res, (char *)(r))

/* NULL answers SUCCESS with no results. */
static void null_ok(int fd, uint32_t prog, uint32_t vers)
{
	struct msg *m = call_new(1024, next_xid++, prog, vers, 0);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	expect_accept(&r, SUCCESS);
	cr_assert_eq(r.body_len, 0);
}

/* The filer is running and answers a new connection. */
static void assert_alive(void)
{
	int st;
	cr_assert_eq(waitpid(fp.pid, &st, WNOHANG), 0, "the filer exited (status %#x)", st);
	int fd = conn_open();
	null_ok(fd, P_NFS, 3);
	struct fh root = root_fh(fd);
	cr_assert_eq(getattr(fd, &root, NULL), NFS3_OK);
	close(fd);
}

/* ---- (a) records in pieces ------------------------------------------------ */

Test(badinput, record_in_pieces)
{
	int fd = conn_open();
	struct fh root = root_fh(fd);

	/* NULL, one byte per write (mark included) */
	struct msg *m = call_new(1024, 0xa001, P_NFS, 3, 0);
	uint32_t mark = htonl(RECORD_LAST | (uint32_t)msg_len(m));
	memcpy(m->buf, &mark, 4);
	for (size_t i = 0; i < msg_len(m) + 4; i++) {
		send_all(fd, m->buf + i, 1);
		usleep(500);
	}
	struct reply r;
	ssize_t n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0, "no reply to a NULL call sent a byte at a time");
	parse_reply(rbuf, (size_t)n, &r);
	cr_assert_eq(r.xid, 0xa001);
	expect_accept(&r, SUCCESS);

	/* the same NULL as fragments of 1, 0, 3, 0, 7 bytes and the rest,
	 * each mark and fragment a write of its own */
	memcpy(m->buf + 4, &(uint32_t){htonl(0xa002)}, 4);
	size_t cuts[] = {1, 0, 3, 0, 7};
	size_t off = 0, len = msg_len(m);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		uint32_t fm = htonl((uint32_t)cuts[i]);
		send_all(fd, &fm, 4);
		usleep(1000);
		if (cuts[i])
			send_all(fd, msg_body(m) + off, cuts[i]);
		usleep(1000);
		off += cuts[i];
	}
	uint32_t lm = htonl(RECORD_LAST | (uint32_t)(len - off));
	send_all(fd, &lm, 4);
	send_all(fd, msg_body(m) + off, len - off);
	n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0, "no reply to a NULL call in six fragments");
	parse_reply(rbuf, (size_t)n, &r);
	cr_assert_eq(r.xid, 0xa002);
	expect_accept(&r, SUCCESS);
	cr_assert_eq(r.body_len, 0);
	msg_free(m);

	/* an empty record and a record that is not a call: no answer, and
	 * the connection goes on */
	uint8_t junk[16] = {0x80, 0, 0, 0, 0x80, 0, 0, 8, 0, 0, 0, 1};
	memcpy(junk + 12, &(uint32_t){htonl(REPLY)}, 4);
	send_all(fd, junk, sizeof(junk));
	null_ok(fd, P_NFS, 3);

	/*
	 * 300 calls (NULL and GETATTR of the root, alternately) in one
	 * stream: every call cut into up to four fragments at random places
	 * (empty fragments included), the stream written in random pieces
	 * of 1 to 3000 bytes. Every reply must come, in order, correct.
	 */
	enum { NCALLS = 300 };
	size_t cap = NCALLS * 400, slen = 0;
	uint8_t *stream = malloc(cap);
	cr_assert_not_null(stream);
	uint64_t seed = 0x5eed;
	for (unsigned i = 0; i < NCALLS; i++) {
		struct msg *c = call_new(1024, 0xb000 + i, P_NFS, 3, i % 2);
		if (i % 2) {
			nfs_fh3 f = fh3(&root);
			put_args(c, (xdrproc_t)xdr_nfs_fh3, &f);
		}
		size_t clen = msg_len(c), done = 0;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned nfrag = 1 + (unsigned)(seed >> 60) % 4;
		for (unsigned k = 0; k < nfrag; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t fl = k + 1 == nfrag ? clen - done : (seed >> 33) % (clen - done + 1);
			uint32_t fmark = htonl((k + 1 == nfrag ? RECORD_LAST : 0) | (uint32_t)fl);
			memcpy(stream + slen, &fmark, 4);
			memcpy(stream + slen + 4, msg_body(c) + done, fl);
			slen += 4 + fl;
			done += fl;
		}
		msg_free(c);
	}
	for (size_t o = 0; o < slen;) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = 1 + (seed >> 33) % 3000;
		if (k > slen - o)
			k = slen - o;
		send_all(fd, stream + o, k);
		o += k;
		if ((seed >> 20) % 8 == 0)
			usleep(200);
	}
	free(stream);
	for (unsigned i = 0; i < NCALLS; i++) {
		n = recv_rec(fd, TIMEOUT_MS);
		cr_assert_geq(n, 0, "reply %u of %u missing", i, NCALLS);
		parse_reply(rbuf, (size_t)n, &r);
		cr_assert_eq(r.xid, 0xb000 + i, "reply %u: xid %#x", i, r.xid);
		expect_accept(&r, SUCCESS);
		if (i % 2) {
			GETATTR3res res;
			decode(&r, (xdrproc_t)xdr_GETATTR3res, &res, sizeof(res));
			cr_assert_eq(res.status, NFS3_OK);
			cr_assert_eq(res.GETATTR3res_u.resok.obj_attributes.type, NF3DIR);
		} else {
			cr_assert_eq(r.body_len, 0);
		}
	}
	close(fd);
	assert_alive();
}

/* ---- (b) records that claim too much --------------------------------------- */

Test(badinput, record_too_long)
{
	/* a mark claiming 2 GiB (the last-fragment bit and 2^31 - 1) */
	int fd = conn_open();
	uint8_t big[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0};
	send_all(fd, big, sizeof(big));
	cr_assert(closed_within(fd, TIMEOUT_MS),
		  "a 2 GiB record mark did not close the connection");
	close(fd);

	/* the same claim split over fragments that are fine one by one:
	 * 700 KiB, then a mark for 700 KiB more */
	fd = conn_open();
	size_t half = 700u << 10;
	uint8_t *zeros = calloc(1, half + 4);
	cr_assert_not_null(zeros);
	uint32_t fm = htonl((uint32_t)half);
	memcpy(zeros, &fm, 4);
	send_all(fd, zeros, half + 4);
	fm = htonl(RECORD_LAST | (uint32_t)half);
	(void)send(fd, &fm, 4, MSG_NOSIGNAL); /* the filer may be closing already */
	cr_assert(closed_within(fd, TIMEOUT_MS),
		  "fragments adding up to 1.4 MiB did not close the connection");
	close(fd);
	free(zeros);

	/* a second connection still gets answers, including the largest
	 * legitimate record: a 1 MiB WRITE, whole and in 64 fragments */
	fd = conn_open();
	null_ok(fd, P_NFS, 3);
	struct fh root = root_fh(fd), f;
	cr_assert_eq(create(fd, &root, "big", 3, UNCHECKED, &f), NFS3_OK);
	uint32_t mib = 1u << 20;
	uint8_t *data = malloc(mib);
	cr_assert_not_null(data);
	for (uint32_t i = 0; i < mib; i++)
		data[i] = (uint8_t)(i * 7);
	cr_assert_eq(write_sync(fd, &f, 0, data, mib), NFS3_OK);

	struct msg *m = write_msg(0xc001, &f, mib, data, mib);
	size_t len = msg_len(m), piece = (len + 63) / 64;
	for (size_t o = 0; o < len; o += piece) {
		size_t k = len - o < piece ? len - o : piece;
		uint32_t mk = htonl((o + k == len ? RECORD_LAST : 0) | (uint32_t)k);
		send_all(fd, &mk, 4);
		send_all(fd, msg_body(m) + o, k);
	}
	msg_free(m);
	ssize_t n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0, "no reply to a 1 MiB WRITE in 64 fragments");
	struct reply r;
	parse_reply(rbuf, (size_t)n, &r);
	cr_assert_eq(r.xid, 0xc001);
	WRITE3res wr;
	decode(&r, (xdrproc_t)xdr_WRITE3res, &wr, sizeof(wr));
	cr_assert_eq(wr.status, NFS3_OK, "WRITE: %d", wr.status);
	cr_assert_eq(wr.WRITE3res_u.resok.count, mib);
	xdr_free((xdrproc_t)xdr_WRITE3res, (char *)&wr);

	uint32_t got;
	cr_assert_eq(read_raw(fd, &f, mib, &r, &got), NFS3_OK);
	cr_assert_eq(got, mib);
	free(data);
	close(fd);
	assert_alive();
}

/* ---- (c) truncated arguments ------------------------------------------------ */

Test(badinput, truncated_args)
{
	int fd = conn_open();
	struct fh root = root_fh(fd);
	struct reply r;

	/* GETATTR whose handle claims 40 bytes and has 20 */
	struct msg *m = call_new(1024, next_xid++, P_NFS, 3, 1);
	put_var(m, root.data, 40);
	size_t cut = msg_len(m) - 20;
	xdr_setpos(&m->x, (u_int)cut);
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* GETATTR with no arguments at all, and with only the length word */
	m = call_new(1024, next_xid++, P_NFS, 3, 1);
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);
	m = call_new(1024, next_xid++, P_NFS, 3, 1);
	put32(m, 40);
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* a handle longer than NFS3_FHSIZE is not even XDR */
	m = call_new(1024, next_xid++, P_NFS, 3, 1);
	uint8_t long_fh[65] = {0};
	put_var(m, long_fh, sizeof(long_fh));
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* LOOKUP whose name claims 4 GiB - 1 bytes (nothing may be
	 * allocated for that claim) */
	m = call_new(1024, next_xid++, P_NFS, 3, 3);
	nfs_fh3 f = fh3(&root);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put32(m, 0xffffffffu);
	put32(m, 0x41414141u);
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* WRITE whose data claims 1 MiB and carries 8 bytes */
	m = call_new(1024, next_xid++, P_NFS, 3, 7);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put32(m, 0); /* offset, hyper */
	put32(m, 0);
	put32(m, 1u << 20); /* count */
	put32(m, FILE_SYNC);
	put32(m, 1u << 20); /* data length */
	put32(m, 0x41414141u);
	put32(m, 0x41414141u);
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* MOUNT MNT with a path cut short */
	m = call_new(1024, next_xid++, P_MOUNT, 3, 1);
	put32(m, 9);
	put32(m, 0x2f766f6c); /* "/vol" and nothing more */
	rpc(fd, m, &r);
	expect_accept(&r, GARBAGE_ARGS);
	msg_free(m);

	/* the connection is still good */
	cr_assert_eq(getattr(fd, &root, NULL), NFS3_OK);
	close(fd);
	assert_alive();
}

/* ---- (d) programs, versions, procedures, RPC versions --------------------- */

Test(badinput, rpc_header_errors)
{
	int fd = conn_open();
	struct reply r;
	struct msg *m;

	/* an unknown program */
	m = call_new(1024, next_xid++, 100099, 1, 0);
	rpc(fd, m, &r);
	expect_accept(&r, PROG_UNAVAIL);
	msg_free(m);

	/* NFS versions 2 and 4: the range served is 3..3 */
	for (uint32_t v = 2; v <= 4; v += 2) {
		m = call_new(1024, next_xid++, P_NFS, v, 0);
		rpc(fd, m, &r);
		expect_accept(&r, PROG_MISMATCH);
		cr_assert_eq(r.lo, 3, "NFS v%u: low %u", v, r.lo);
		cr_assert_eq(r.hi, 3, "NFS v%u: high %u", v, r.hi);
		msg_free(m);
	}

	/* MOUNT version 4 does not exist: 1..3 */
	m = call_new(1024, next_xid++, P_MOUNT, 4, 0);
	rpc(fd, m, &r);
	expect_accept(&r, PROG_MISMATCH);
	cr_assert_eq(r.lo, 1);
	cr_assert_eq(r.hi, 3);
	msg_free(m);

	/* procedure 99, and the first procedure past the table */
	uint32_t procs[][3] = {{P_NFS, 3, 99},
			       {P_NFS, 3, 22},
			       {P_MOUNT, 3, 99},
			       {P_MOUNT, 3, 6},
			       {P_NFS, 3, 0xffffffffu}};
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		m = call_new(1024, next_xid++, procs[i][0], procs[i][1], procs[i][2]);
		rpc(fd, m, &r);
		expect_accept(&r, PROC_UNAVAIL);
		msg_free(m);
	}

	/* RPC version 3 (and 0): MSG_DENIED, RPC_MISMATCH, 2..2 */
	for (uint32_t rv = 0; rv <= 3; rv += 3) {
		m = msg_new(1024);
		put_hdr(m, next_xid++, rv, P_NFS, 3, 0);
		put_cred_sys(m, 0, 4);
		put_verf_none(m);
		rpc(fd, m, &r);
		cr_assert_eq(r.stat, MSG_DENIED, "RPC version %u accepted", rv);
		cr_assert_eq(r.rstat, RPC_MISMATCH);
		cr_assert_eq(r.lo, 2);
		cr_assert_eq(r.hi, 2);
		msg_free(m);
	}

	/* a call header cut short after the program number: refused
	 * (AUTH_BADCRED, as the credential is missing) */
	m = msg_new(64);
	put32(m, next_xid++);
	put32(m, CALL);
	put32(m, 2);
	put32(m, P_NFS);
	rpc(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);
	msg_free(m);

	/* cut short right after the message type: no RPC version to
	 * answer with. A denial or silence; the connection goes on. */
	m = msg_new(64);
	uint32_t xid = next_xid++;
	put32(m, xid);
	put32(m, CALL);
	msg_send(fd, m);
	msg_free(m);
	ssize_t n = recv_rec(fd, 500);
	if (n >= 0) {
		parse_reply(rbuf, (size_t)n, &r);
		cr_assert_eq(r.xid, xid);
		cr_assert_eq(r.stat, MSG_DENIED, "a headless call was accepted");
	}
	null_ok(fd, P_NFS, 3);

	/* a reply sent to the server, and 4 bytes: nothing to answer */
	m = msg_new(64);
	put32(m, next_xid++);
	put32(m, REPLY);
	put32(m, MSG_ACCEPTED);
	msg_send(fd, m);
	msg_free(m);
	m = msg_new(64);
	put32(m, next_xid++);
	msg_send(fd, m);
	msg_free(m);
	null_ok(fd, P_NFS, 3);
	close(fd);
	assert_alive();
}

/* ---- (d) credentials ---------------------------------------------------- */

/* A NULL call to NFS with the credential the caller wrote into m. */
static void null_with(int fd, struct msg *m, struct reply *r)
{
	rpc(fd, m, r);
	msg_free(m);
}

static struct msg *hdr_only(void)
{
	struct msg *m = msg_new(4096);
	put_hdr(m, next_xid++, 2, P_NFS, 3, 0);
	return m;
}

Test(badinput, auth_errors)
{
	int fd = conn_open();
	struct reply r;
	struct msg *m;

	/* 16 groups and a 255-byte machine name are the limits, and fine */
	m = hdr_only();
	put_cred_sys(m, 16, 255);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_accept(&r, SUCCESS);

	/* 17 groups */
	m = hdr_only();
	put_cred_sys(m, 17, 8);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* a 300-byte machine name */
	m = hdr_only();
	put_cred_sys(m, 0, 300);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* an AUTH_SYS body cut short: stamp, empty name, uid; no gid, no
	 * group count */
	m = hdr_only();
	put32(m, AUTH_SYS);
	put32(m, 12);
	put32(m, 1);
	put32(m, 0);
	put32(m, 0);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* an AUTH_SYS body with 8 bytes too many */
	m = hdr_only();
	put32(m, AUTH_SYS);
	put32(m, 20 + 8);
	for (int i = 0; i < 5 + 2; i++)
		put32(m, 0);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* a group count that runs past the body */
	m = hdr_only();
	put32(m, AUTH_SYS);
	put32(m, 20);
	put32(m, 1);
	put32(m, 0);
	put32(m, 0);
	put32(m, 0);
	put32(m, 16);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* a credential length past the end of the record, and one over
	 * the RFC's 400 bytes */
	m = hdr_only();
	put32(m, AUTH_SYS);
	put32(m, 200);
	put32(m, 0);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);
	m = hdr_only();
	put32(m, AUTH_SYS);
	put32(m, 404);
	for (int i = 0; i < 101; i++)
		put32(m, 0);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADCRED);

	/* a verifier over 400 bytes */
	m = hdr_only();
	put_cred_sys(m, 0, 4);
	put32(m, AUTH_NONE);
	put32(m, 500);
	for (int i = 0; i < 125; i++)
		put32(m, 0);
	null_with(fd, m, &r);
	expect_auth_error(&r, AUTH_BADVERF);

	/* RPCSEC_GSS (6) and an unknown flavor (0x4000): not served. The
	 * filer answers AUTH_REJECTEDCRED, as libtirpc's server does (Linux
	 * knfsd says AUTH_BADCRED); either way the call is refused. */
	uint32_t flavors[] = {6, 0x4000};
	for (size_t i = 0; i < 2; i++) {
		m = hdr_only();
		put32(m, flavors[i]);
		put32(m, 8);
		put32(m, 1);
		put32(m, 2);
		put_verf_none(m);
		null_with(fd, m, &r);
		expect_auth_error(&r, AUTH_REJECTEDCRED);
	}

	/* AUTH_NONE is accepted (the export decides what it may do) */
	m = hdr_only();
	put32(m, AUTH_NONE);
	put32(m, 0);
	put_verf_none(m);
	null_with(fd, m, &r);
	expect_accept(&r, SUCCESS);

	null_ok(fd, P_NFS, 3);
	close(fd);
	assert_alive();
}

/* ---- (e) forged handles ------------------------------------------------- */

/* True if needle occurs in the reply. */
static bool reply_holds(const struct reply *r, const void *needle, size_t len)
{
	return memmem(rbuf, r->len, needle, len) != NULL;
}

Test(badinput, forged_handles)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), file, gone;
	static const char secret[] = "forged-handle-secret-payload-0123456789";
	cr_assert_eq(create(fd, &root, "secret", 6, UNCHECKED, &file), NFS3_OK);
	cr_assert_eq(write_sync(fd, &file, 0, secret, sizeof(secret)), NFS3_OK);
	struct reply r;
	uint32_t got;
	cr_assert_eq(read_raw(fd, &file, 4096, &r, &got), NFS3_OK);
	cr_assert_eq(got, sizeof(secret));
	cr_assert(reply_holds(&r, secret, sizeof(secret)));

	struct fh forged[8];
	unsigned nf = 0;
	forged[nf] = file; /* a MAC byte flipped */
	forged[nf++].data[30] ^= 0x01;
	forged[nf] = file; /* the inode changed, the MAC kept */
	forged[nf++].data[16] ^= 0x01;
	forged[nf] = file; /* the generation changed */
	forged[nf++].data[12] ^= 0x80;
	forged[nf] = file; /* the export id changed */
	forged[nf++].data[2] ^= 0x01;
	forged[nf] = file; /* another handle version */
	forged[nf++].data[0] ^= 0x02;
	memset(&forged[nf++], 0, sizeof(forged[0])); /* all zeros */
	forged[nf - 1].len = 40;
	forged[nf] = file; /* 64 bytes: the real handle and 24 more */
	memset(forged[nf].data + 40, 0xab, 24);
	forged[nf++].len = 64;
	forged[nf] = file; /* 39 bytes */
	forged[nf++].len = 39;

	for (unsigned i = 0; i < nf; i++) {
		fattr3 a;
		nfsstat3 st = getattr(fd, &forged[i], &a);
		cr_assert_eq(st, NFS3ERR_BADHANDLE, "GETATTR of forged handle %u: %d", i, st);
		st = read_raw(fd, &forged[i], 4096, &r, &got);
		cr_assert_eq(st, NFS3ERR_BADHANDLE, "READ with forged handle %u: %d", i, st);
		cr_assert_eq(got, 0);
		cr_assert(!reply_holds(&r, secret, 16), "READ with forged handle %u: data", i);
		st = lookup(fd, &forged[i], "secret", 6, NULL, NULL);
		cr_assert_neq(st, NFS3_OK, "LOOKUP under forged handle %u", i);
	}
	/* a zero-length handle */
	struct fh empty = {.len = 0};
	cr_assert_eq(getattr(fd, &empty, NULL), NFS3ERR_BADHANDLE);

	/* a genuine handle of a removed file: STALE, never data */
	cr_assert_eq(create(fd, &root, "gone", 4, UNCHECKED, &gone), NFS3_OK);
	cr_assert_eq(write_sync(fd, &gone, 0, secret, sizeof(secret)), NFS3_OK);
	struct msg *m = remove_msg(next_xid++, &root, "gone");
	rpc(fd, m, &r);
	msg_free(m);
	REMOVE3res rr;
	decode(&r, (xdrproc_t)xdr_REMOVE3res, &rr, sizeof(rr));
	cr_assert_eq(rr.status, NFS3_OK);
	xdr_free((xdrproc_t)xdr_REMOVE3res, (char *)&rr);
	cr_assert_eq(getattr(fd, &gone, NULL), NFS3ERR_STALE);
	cr_assert_eq(read_raw(fd, &gone, 4096, &r, &got), NFS3ERR_STALE);
	cr_assert(!reply_holds(&r, secret, 16));

	/* the real handle still works */
	cr_assert_eq(getattr(fd, &file, NULL), NFS3_OK);
	close(fd);
	assert_alive();
}

/* ---- (f) names ------------------------------------------------------------ */

Test(badinput, names)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), h, sub;
	fattr3 ra, a;
	cr_assert_eq(getattr(fd, &root, &ra), NFS3_OK);

	/* "." and ".." at the export root are the root */
	cr_assert_eq(lookup(fd, &root, ".", 1, &h, &a), NFS3_OK);
	cr_assert_eq(a.fileid, ra.fileid);
	cr_assert_eq(lookup(fd, &root, "..", 2, &h, &a), NFS3_OK, "LOOKUP .. at the root");
	cr_assert_eq(a.fileid, ra.fileid, "'..' left the export root: fileid %llu, root %llu",
		     (unsigned long long)a.fileid, (unsigned long long)ra.fileid);
	cr_assert_eq(getattr(fd, &h, &a), NFS3_OK);
	cr_assert_eq(a.fileid, ra.fileid);
	/* and ".." of that is still the root */
	cr_assert_eq(lookup(fd, &h, "..", 2, NULL, &a), NFS3_OK);
	cr_assert_eq(a.fileid, ra.fileid);

	/* ".." of a subdirectory is the root again */
	struct msg *m = call_new(1024, next_xid++, P_NFS, 3, 9);
	MKDIR3args md = {.where = {.dir = fh3(&root), .name = "sub"}};
	put_args(m, (xdrproc_t)xdr_MKDIR3args, &md);
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	MKDIR3res mr;
	decode(&r, (xdrproc_t)xdr_MKDIR3res, &mr, sizeof(mr));
	cr_assert_eq(mr.status, NFS3_OK);
	xdr_free((xdrproc_t)xdr_MKDIR3res, (char *)&mr);
	cr_assert_eq(lookup(fd, &root, "sub", 3, &sub, NULL), NFS3_OK);
	cr_assert_eq(lookup(fd, &sub, "..", 2, NULL, &a), NFS3_OK);
	cr_assert_eq(a.fileid, ra.fileid);

	/* a name is one component: '/' anywhere is NFS3ERR_INVAL (wafl/
	 * refuses it before looking), whether or not the path would exist */
	const char *slashes[] = {"../..", "/", "sub/..", "../../etc/passwd", "/etc", "sub/"};
	for (size_t i = 0; i < sizeof(slashes) / sizeof(slashes[0]); i++) {
		nfsstat3 st =
			lookup(fd, &root, slashes[i], (uint32_t)strlen(slashes[i]), NULL, NULL);
		cr_assert_eq(st, NFS3ERR_INVAL, "LOOKUP '%s': %d", slashes[i], st);
		st = create(fd, &root, slashes[i], (uint32_t)strlen(slashes[i]), UNCHECKED, NULL);
		cr_assert_neq(st, NFS3_OK, "CREATE '%s' succeeded", slashes[i]);
	}

	/* the empty name: NFS3ERR_INVAL */
	nfsstat3 st = lookup(fd, &root, "", 0, NULL, NULL);
	cr_assert_eq(st, NFS3ERR_INVAL, "LOOKUP '': %d", st);
	cr_assert_neq(create(fd, &root, "", 0, UNCHECKED, NULL), NFS3_OK);

	/* 255 bytes is a name (absent); 256 is NAMETOOLONG; 8193 is past
	 * what the XDR decoder accepts at all */
	char name[8200];
	memset(name, 'n', sizeof(name));
	cr_assert_eq(lookup(fd, &root, name, 255, NULL, NULL), NFS3ERR_NOENT);
	cr_assert_eq(lookup(fd, &root, name, 256, NULL, NULL), NFS3ERR_NAMETOOLONG);
	cr_assert_eq(create(fd, &root, name, 256, UNCHECKED, NULL), NFS3ERR_NAMETOOLONG);
	m = call_new(16384, next_xid++, P_NFS, 3, 3);
	nfs_fh3 f = fh3(&root);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put_var(m, name, 8193);
	rpc(fd, m, &r);
	msg_free(m);
	expect_accept(&r, GARBAGE_ARGS);

	close(fd);
	assert_alive();
}

/* The server refuses a name with a NUL inside at decode time: the call
 * gets GARBAGE_ARGS (an NFS error status would do too, success never). */
static void expect_refused(int fd, struct msg *m, xdrproc_t res_proc, size_t res_size,
			   const char *what)
{
	struct reply r;
	rpc(fd, m, &r);
	msg_free(m);
	cr_assert_eq(r.stat, MSG_ACCEPTED, "%s: denied", what);
	if (r.astat == GARBAGE_ARGS)
		return;
	cr_assert_eq(r.astat, SUCCESS, "%s: accept_stat %u", what, r.astat);
	union {
		LOOKUP3res l;
		CREATE3res c;
	} res;
	decode(&r, res_proc, &res, res_size);
	cr_expect_neq(res.l.status, NFS3_OK, "%s succeeded", what);
	xdr_free(res_proc, (char *)&res);
}

/* A NUL inside a name is not the end of a shorter name (DESIGN §9.9):
 * "a\0b" must not find, or create, "a". */
Test(badinput, names_with_nul)
{
	int fd = conn_open();
	struct fh root = root_fh(fd);
	cr_assert_eq(create(fd, &root, "a", 1, UNCHECKED, NULL), NFS3_OK);
	struct msg *m = call_new(16384, next_xid++, P_NFS, 3, 3);
	nfs_fh3 f = fh3(&root);
	put_args(m, (xdrproc_t)xdr_nfs_fh3, &f);
	put_var(m, "a\0b", 3);
	expect_refused(fd, m, (xdrproc_t)xdr_LOOKUP3res, sizeof(LOOKUP3res), "LOOKUP \"a\\0b\"");
	m = create_msg(next_xid++, &root, "c\0d", 3, GUARDED);
	expect_refused(fd, m, (xdrproc_t)xdr_CREATE3res, sizeof(CREATE3res), "CREATE \"c\\0d\"");
	cr_assert_eq(lookup(fd, &root, "c", 1, NULL, NULL), NFS3ERR_NOENT,
		     "CREATE \"c\\0d\" created \"c\"");
	close(fd);
	assert_alive();
}

/* ---- (g) a client that never reads its replies ------------------------------ */

static long vmrss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	cr_assert_gt(kib, 0);
	return kib;
}

static double now_sec(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(badinput, unread_replies, .timeout = 90)
{
	/* Under ASan freed memory is held in a quarantine (256 MiB by
	 * default), which would count as growth: restart the filer with a
	 * small one. The plain build ignores ASAN_OPTIONS. */
	fp_destroy(&fp);
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = asan ? strdup(asan) : NULL;
	char opts[1024];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", asan ? asan : "", asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	int rc = fp_start_new(&fp);
	if (saved)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	cr_assert_eq(rc, 0);

	int b = conn_open();
	struct fh root = root_fh(b);
	cr_assert_eq(getattr(b, &root, NULL), NFS3_OK);
	long rss0 = vmrss_kib(fp.pid);

	/* a batch of 1024 pipelined GETATTRs, sent over and over */
	enum { BATCH = 1024 };
	struct msg *one = call_new(1024, 0, P_NFS, 3, 1);
	nfs_fh3 f = fh3(&root);
	put_args(one, (xdrproc_t)xdr_nfs_fh3, &f);
	size_t rl = msg_len(one) + 4, blen = rl * BATCH;
	uint32_t mark = htonl(RECORD_LAST | (uint32_t)msg_len(one));
	memcpy(one->buf, &mark, 4);
	uint8_t *batch = malloc(blen);
	cr_assert_not_null(batch);
	for (unsigned i = 0; i < BATCH; i++)
		memcpy(batch + i * rl, one->buf, rl);
	msg_free(one);

	int a = conn_open();
	fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
	/* Send until the filer stops reading (nothing accepted for 1.5 s),
	 * at least 10 000 calls; past 600 000 (72 MB of replies) it has
	 * plainly not stopped. */
	size_t calls = 0, off = 0;
	uint32_t xid = 0x20000000;
	bool stalled = false;
	while (calls < 600000) {
		if (off == 0)
			for (unsigned i = 0; i < BATCH; i++) {
				uint32_t x = htonl(xid + (uint32_t)calls + i);
				memcpy(batch + i * rl + 4, &x, 4);
			}
		ssize_t n = send(a, batch + off, blen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			if (off == blen) {
				off = 0;
				calls += BATCH;
			}
			continue;
		}
		cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR),
			  "send: %s", strerror(errno));
		struct pollfd pf = {.fd = a, .events = POLLOUT};
		if (poll(&pf, 1, 1500) == 0 && calls >= 10000) {
			stalled = true;
			break;
		}
	}
	long rss1 = vmrss_kib(fp.pid);
	cr_log_info("unread_replies: %zu calls sent before the filer stopped reading; VmRSS "
		    "%ld -> %ld KiB",
		    calls, rss0, rss1);
	cr_assert(stalled, "the filer read %zu calls whose replies nobody read: it never stopped",
		  calls);
	cr_assert_lt(rss1 - rss0, 64 * 1024, "the filer grew by %ld KiB", rss1 - rss0);

	/* meanwhile another connection is served, promptly */
	double t0 = now_sec();
	null_ok(b, P_NFS, 3);
	cr_assert_eq(getattr(b, &root, NULL), NFS3_OK);
	cr_assert_lt(now_sec() - t0, 2.0, "a second connection waited %.1f s", now_sec() - t0);

	/* now read: the rest of the batch goes out, and every call gets its
	 * reply, in order */
	size_t total = calls + BATCH, replies = 0;
	uint8_t *rb = malloc(65536);
	cr_assert_not_null(rb);
	size_t have = 0;
	double last = now_sec();
	while (replies < total) {
		struct pollfd pf = {.fd = a, .events = POLLIN | (off ? POLLOUT : 0)};
		cr_assert_geq(poll(&pf, 1, 1000), 0);
		if ((pf.revents & POLLOUT) && off) {
			ssize_t n = send(a, batch + off, blen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off = (off + (size_t)n) % blen;
		}
		if (pf.revents & POLLIN) {
			ssize_t n = recv(a, rb + have, 65536 - have, 0);
			cr_assert_gt(n, 0, "the stalled connection was closed after %zu replies",
				     replies);
			have += (size_t)n;
			last = now_sec();
			size_t p = 0;
			while (have - p >= 8) {
				uint32_t m, x;
				memcpy(&m, rb + p, 4);
				m = ntohl(m);
				cr_assert(m & RECORD_LAST);
				size_t len = m & ~RECORD_LAST;
				if (have - p < 4 + len)
					break;
				memcpy(&x, rb + p + 4, 4);
				cr_assert_eq(ntohl(x), xid + (uint32_t)replies,
					     "reply %zu: xid %#x, wanted %#x", replies, ntohl(x),
					     xid + (uint32_t)replies);
				replies++;
				p += 4 + len;
			}
			memmove(rb, rb + p, have - p);
			have -= p;
		}
		cr_assert_lt(now_sec() - last, 10.0, "no reply for 10 s after %zu of %zu", replies,
			     total);
	}
	free(rb);
	free(batch);
	close(a);
	cr_assert_eq(getattr(b, &root, NULL), NFS3_OK);
	close(b);
	assert_alive();
}

/* ---- (h) retransmissions ----------------------------------------------------- */

/* Sends m and returns a copy of its reply (len in *len). */
static uint8_t *send_copy(int fd, struct msg *m, size_t *len)
{
	msg_send(fd, m);
	ssize_t n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0, "no reply");
	uint8_t *c = malloc((size_t)n + 1);
	cr_assert_not_null(c);
	memcpy(c, rbuf, (size_t)n);
	*len = (size_t)n;
	return c;
}

static nfsstat3 status_of(const uint8_t *rep, size_t len, xdrproc_t proc, void *obj, size_t size)
{
	struct reply r;
	parse_reply(rep, len, &r);
	decode(&r, proc, obj, size);
	nfsstat3 st = *(nfsstat3 *)obj;
	xdr_free(proc, obj);
	return st;
}

Test(badinput, retransmission)
{
	int fd = conn_open();
	struct fh root = root_fh(fd);
	CREATE3res cres;
	REMOVE3res rres;

	/* the same GUARDED CREATE twice, the second after the first's reply:
	 * the same reply, byte for byte (not NFS3ERR_EXIST), one file */
	struct msg *m = create_msg(0xd001, &root, "retrans", 7, GUARDED);
	size_t l1, l2;
	uint8_t *r1 = send_copy(fd, m, &l1);
	uint8_t *r2 = send_copy(fd, m, &l2);
	msg_free(m);
	cr_assert_eq(status_of(r1, l1, (xdrproc_t)xdr_CREATE3res, &cres, sizeof(cres)), NFS3_OK);
	cr_assert_eq(status_of(r2, l2, (xdrproc_t)xdr_CREATE3res, &cres, sizeof(cres)), NFS3_OK,
		     "the retransmitted CREATE was run again");
	cr_assert(l1 == l2 && memcmp(r1, r2, l1) == 0, "the two replies differ");
	free(r1);
	free(r2);
	cr_assert_eq(count_named(fd, &root, "retrans"), 1);

	/* the same REMOVE twice: OK twice (not NFS3ERR_NOENT) */
	m = remove_msg(0xd002, &root, "retrans");
	r1 = send_copy(fd, m, &l1);
	r2 = send_copy(fd, m, &l2);
	msg_free(m);
	cr_assert_eq(status_of(r1, l1, (xdrproc_t)xdr_REMOVE3res, &rres, sizeof(rres)), NFS3_OK);
	cr_assert_eq(status_of(r2, l2, (xdrproc_t)xdr_REMOVE3res, &rres, sizeof(rres)), NFS3_OK,
		     "the retransmitted REMOVE was run again");
	cr_assert(l1 == l2 && memcmp(r1, r2, l1) == 0);
	free(r1);
	free(r2);
	cr_assert_eq(lookup(fd, &root, "retrans", 7, NULL, NULL), NFS3ERR_NOENT);

	/* back to back: the copy arrives while the original may still wait
	 * for the NVLOG. It is dropped, or answered with the same reply;
	 * never run twice */
	m = create_msg(0xd003, &root, "retrans2", 8, GUARDED);
	uint32_t mk = htonl(RECORD_LAST | (uint32_t)msg_len(m));
	memcpy(m->buf, &mk, 4);
	size_t one = msg_len(m) + 4;
	uint8_t *two = malloc(2 * one);
	cr_assert_not_null(two);
	memcpy(two, m->buf, one);
	memcpy(two + one, m->buf, one);
	send_all(fd, two, 2 * one);
	free(two);
	msg_free(m);
	ssize_t n = recv_rec(fd, TIMEOUT_MS);
	cr_assert_geq(n, 0);
	r1 = malloc((size_t)n);
	cr_assert_not_null(r1);
	memcpy(r1, rbuf, (size_t)n);
	l1 = (size_t)n;
	cr_assert_eq(status_of(r1, l1, (xdrproc_t)xdr_CREATE3res, &cres, sizeof(cres)), NFS3_OK);
	n = recv_rec(fd, 1000);
	if (n >= 0)
		cr_assert(l1 == (size_t)n && memcmp(r1, rbuf, l1) == 0,
			  "the back-to-back copy got another reply");
	free(r1);
	cr_assert_eq(count_named(fd, &root, "retrans2"), 1);

	/* a new XID is a new call: now the name exists */
	cr_assert_eq(create(fd, &root, "retrans2", 8, GUARDED, NULL), NFS3ERR_EXIST);
	close(fd);
	assert_alive();
}

/* ---- hostile values ------------------------------------------------------ */

/* Offsets and sizes at the edges of their types, cookies nobody handed
 * out, counts of 0 and 4 GiB, and "." and "..", where they cannot go. */
Test(badinput, hostile_values)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), f, d, e;
	cr_assert_eq(create(fd, &root, "hv", 2, UNCHECKED, &f), NFS3_OK);
	cr_assert_eq(write_sync(fd, &f, 0, "0123456789", 10), NFS3_OK);
	nfsstat3 st;

	/* READ at the end of the offset space, across its end, and 4 GiB */
	uint64_t roffs[] = {UINT64_MAX, UINT64_MAX - 4, 1ull << 63, 10, 11};
	for (size_t i = 0; i < sizeof(roffs) / sizeof(roffs[0]); i++) {
		READ3args a = {.file = fh3(&f), .offset = roffs[i], .count = 4096};
		READ3res r;
		st = NFS_CALL(fd, 6, READ3, &a, &r);
		if (st == NFS3_OK) {
			cr_assert_eq(r.READ3res_u.resok.data.data_len, 0, "READ at %llu",
				     (unsigned long long)roffs[i]);
			cr_assert(r.READ3res_u.resok.eof);
		} else {
			cr_assert_eq(st, NFS3ERR_INVAL, "READ at %llu: %d",
				     (unsigned long long)roffs[i], st);
		}
		NFS_FREE(READ3, &r);
	}
	READ3args ra = {.file = fh3(&f), .offset = 0, .count = UINT32_MAX};
	READ3res rr;
	cr_assert_eq(NFS_CALL(fd, 6, READ3, &ra, &rr), NFS3_OK);
	cr_assert_eq(rr.READ3res_u.resok.data.data_len, 10);
	cr_assert(rr.READ3res_u.resok.eof);
	NFS_FREE(READ3, &rr);

	/* WRITE that wraps past 2^64, or ends past the largest file */
	uint64_t woffs[] = {UINT64_MAX - 4, UINT64_MAX, 1ull << 63, (1ull << 46) - 4, 1ull << 46};
	for (size_t i = 0; i < sizeof(woffs) / sizeof(woffs[0]); i++) {
		WRITE3args a = {
			.file = fh3(&f), .offset = woffs[i], .count = 10, .stable = FILE_SYNC};
		a.data.data_len = 10;
		a.data.data_val = "abcdefghij";
		WRITE3res r;
		st = NFS_CALL(fd, 7, WRITE3, &a, &r);
		cr_assert_neq(st, NFS3_OK, "WRITE of 10 bytes at %llu succeeded",
			      (unsigned long long)woffs[i]);
		NFS_FREE(WRITE3, &r);
	}
	/* a count larger than the data sent */
	WRITE3args wa = {.file = fh3(&f), .offset = 0, .count = 100, .stable = FILE_SYNC};
	wa.data.data_len = 10;
	wa.data.data_val = "abcdefghij";
	WRITE3res wr;
	cr_assert_eq(NFS_CALL(fd, 7, WRITE3, &wa, &wr), NFS3ERR_INVAL);
	NFS_FREE(WRITE3, &wr);

	/* SETATTR: sizes past the largest file, nanoseconds past a second */
	uint64_t sizes[] = {UINT64_MAX, (1ull << 46) + 1};
	for (size_t i = 0; i < 2; i++) {
		SETATTR3args a = {.object = fh3(&f)};
		a.new_attributes.size.set_it = TRUE;
		a.new_attributes.size.set_size3_u.size = sizes[i];
		SETATTR3res r;
		st = NFS_CALL(fd, 2, SETATTR3, &a, &r);
		cr_assert_neq(st, NFS3_OK, "SETATTR size %llu succeeded",
			      (unsigned long long)sizes[i]);
		NFS_FREE(SETATTR3, &r);
	}
	SETATTR3args sa = {.object = fh3(&f)};
	sa.new_attributes.mtime.set_it = SET_TO_CLIENT_TIME;
	sa.new_attributes.mtime.set_mtime_u.mtime.nseconds = 2000000000u;
	SETATTR3res sr;
	cr_assert_eq(NFS_CALL(fd, 2, SETATTR3, &sa, &sr), NFS3ERR_INVAL);
	NFS_FREE(SETATTR3, &sr);
	fattr3 fa;
	cr_assert_eq(getattr(fd, &f, &fa), NFS3_OK);
	cr_assert_eq(fa.size, 10, "the file is %llu bytes now", (unsigned long long)fa.size);

	/* READDIR from cookies no READDIR handed out */
	uint64_t cookies[] = {1,	  2,	      3,	  0x7fffffff,
			      1ull << 32, 1ull << 63, UINT64_MAX, 0xdeadbeefcafef00dull};
	for (size_t i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		READDIR3args a = {.dir = fh3(&root), .cookie = cookies[i], .count = 4096};
		READDIR3res r;
		st = NFS_CALL(fd, 16, READDIR3, &a, &r);
		if (st == NFS3_OK)
			for (entry3 *en = r.READDIR3res_u.resok.reply.entries; en;
			     en = en->nextentry)
				cr_assert(en->name[0] && strlen(en->name) <= 255);
		else
			cr_assert(st == NFS3ERR_BAD_COOKIE || st == NFS3ERR_INVAL,
				  "READDIR from cookie %#llx: %d", (unsigned long long)cookies[i],
				  st);
		NFS_FREE(READDIR3, &r);
	}
	/* counts of 0, 1 and 4 GiB; dircount 0 */
	uint32_t counts[] = {0, 1, UINT32_MAX};
	for (size_t i = 0; i < 3; i++) {
		READDIR3args a = {.dir = fh3(&root), .count = counts[i]};
		READDIR3res r;
		st = NFS_CALL(fd, 16, READDIR3, &a, &r);
		cr_assert_eq(st, counts[i] < 100 ? NFS3ERR_TOOSMALL : NFS3_OK,
			     "READDIR count %u: %d", counts[i], st);
		NFS_FREE(READDIR3, &r);
		READDIRPLUS3args pa = {.dir = fh3(&root), .dircount = 0, .maxcount = counts[i]};
		READDIRPLUS3res pr;
		st = NFS_CALL(fd, 17, READDIRPLUS3, &pa, &pr);
		cr_assert_eq(st, counts[i] < 100 ? NFS3ERR_TOOSMALL : NFS3_OK,
			     "READDIRPLUS maxcount %u: %d", counts[i], st);
		NFS_FREE(READDIRPLUS3, &pr);
	}
	/* directory procedures on a file */
	READDIR3args da = {.dir = fh3(&f), .count = 4096};
	READDIR3res dr;
	cr_assert_eq(NFS_CALL(fd, 16, READDIR3, &da, &dr), NFS3ERR_NOTDIR);
	NFS_FREE(READDIR3, &dr);
	cr_assert_eq(lookup(fd, &f, "x", 1, NULL, NULL), NFS3ERR_NOTDIR);
	cr_assert_eq(lookup(fd, &f, "..", 2, NULL, NULL), NFS3ERR_NOTDIR);

	/* COMMIT of a range past 2^64; ACCESS asking for every bit */
	COMMIT3args ca = {.file = fh3(&f), .offset = UINT64_MAX, .count = UINT32_MAX};
	COMMIT3res cres;
	st = NFS_CALL(fd, 21, COMMIT3, &ca, &cres);
	cr_assert(st == NFS3_OK || st == NFS3ERR_INVAL, "COMMIT: %d", st);
	NFS_FREE(COMMIT3, &cres);
	ACCESS3args aa = {.object = fh3(&f), .access = UINT32_MAX};
	ACCESS3res ar;
	cr_assert_eq(NFS_CALL(fd, 4, ACCESS3, &aa, &ar), NFS3_OK);
	cr_assert_eq(ar.ACCESS3res_u.resok.access & ~0x3fu, 0, "ACCESS granted %#x",
		     ar.ACCESS3res_u.resok.access);
	NFS_FREE(ACCESS3, &ar);

	/* MKNOD of types that are not nodes */
	ftype3 types[] = {NF3REG, NF3DIR, NF3LNK, (ftype3)99};
	for (size_t i = 0; i < 4; i++) {
		MKNOD3args a = {.where = {.dir = fh3(&root), .name = "node"}};
		a.what.type = types[i];
		MKNOD3res r;
		st = NFS_CALL(fd, 11, MKNOD3, &a, &r);
		cr_assert_eq(st, NFS3ERR_BADTYPE, "MKNOD type %d: %d", types[i], st);
		NFS_FREE(MKNOD3, &r);
	}
	/* SYMLINK with a 5000-byte target */
	char *target = malloc(5001);
	cr_assert_not_null(target);
	memset(target, 't', 5000);
	target[5000] = 0;
	SYMLINK3args sla = {.where = {.dir = fh3(&root), .name = "longlink"}};
	sla.symlink.symlink_data = target;
	SYMLINK3res slr;
	st = NFS_CALL(fd, 10, SYMLINK3, &sla, &slr);
	cr_assert_neq(st, NFS3_OK, "a 5000-byte symbolic link was made");
	NFS_FREE(SYMLINK3, &slr);
	free(target);

	/* "." and ".." cannot be made, removed, renamed or linked to */
	const char *dots[] = {".", ".."};
	for (size_t i = 0; i < 2; i++) {
		const char *n = dots[i];
		cr_assert_neq(create(fd, &root, n, (uint32_t)strlen(n), GUARDED, NULL), NFS3_OK);
		MKDIR3args ma = {.where = {.dir = fh3(&root), .name = (char *)n}};
		MKDIR3res mr;
		cr_assert_neq(NFS_CALL(fd, 9, MKDIR3, &ma, &mr), NFS3_OK, "MKDIR %s", n);
		NFS_FREE(MKDIR3, &mr);
		REMOVE3args rma = {.object = {.dir = fh3(&root), .name = (char *)n}};
		REMOVE3res rmr;
		cr_assert_neq(NFS_CALL(fd, 12, REMOVE3, &rma, &rmr), NFS3_OK, "REMOVE %s", n);
		NFS_FREE(REMOVE3, &rmr);
		RMDIR3res rdr;
		cr_assert_neq(NFS_CALL(fd, 13, RMDIR3, &rma, &rdr), NFS3_OK, "RMDIR %s", n);
		NFS_FREE(RMDIR3, &rdr);
		RENAME3args rna = {.from = {.dir = fh3(&root), .name = (char *)n},
				   .to = {.dir = fh3(&root), .name = "renamed"}};
		RENAME3res rnr;
		cr_assert_neq(NFS_CALL(fd, 14, RENAME3, &rna, &rnr), NFS3_OK, "RENAME %s", n);
		NFS_FREE(RENAME3, &rnr);
		rna.from.name = "hv";
		rna.to.name = (char *)n;
		cr_assert_neq(NFS_CALL(fd, 14, RENAME3, &rna, &rnr), NFS3_OK, "RENAME to %s", n);
		NFS_FREE(RENAME3, &rnr);
		LINK3args la = {.file = fh3(&f), .link = {.dir = fh3(&root), .name = (char *)n}};
		LINK3res lr;
		cr_assert_neq(NFS_CALL(fd, 15, LINK3, &la, &lr), NFS3_OK, "LINK to %s", n);
		NFS_FREE(LINK3, &lr);
	}
	/* a directory moved under itself */
	MKDIR3args ma = {.where = {.dir = fh3(&root), .name = "d"}};
	MKDIR3res mr;
	cr_assert_eq(NFS_CALL(fd, 9, MKDIR3, &ma, &mr), NFS3_OK);
	NFS_FREE(MKDIR3, &mr);
	cr_assert_eq(lookup(fd, &root, "d", 1, &d, NULL), NFS3_OK);
	ma.where.dir = fh3(&d);
	ma.where.name = "e";
	cr_assert_eq(NFS_CALL(fd, 9, MKDIR3, &ma, &mr), NFS3_OK);
	NFS_FREE(MKDIR3, &mr);
	cr_assert_eq(lookup(fd, &d, "e", 1, &e, NULL), NFS3_OK);
	RENAME3args rna = {.from = {.dir = fh3(&root), .name = "d"},
			   .to = {.dir = fh3(&e), .name = "x"}};
	RENAME3res rnr;
	cr_assert_eq(NFS_CALL(fd, 14, RENAME3, &rna, &rnr), NFS3ERR_INVAL);
	NFS_FREE(RENAME3, &rnr);

	/* the root is still the root, a directory with its entries */
	fattr3 r0, r1;
	cr_assert_eq(getattr(fd, &root, &r0), NFS3_OK);
	cr_assert_eq(r0.type, NF3DIR);
	cr_assert_eq(lookup(fd, &root, "..", 2, NULL, &r1), NFS3_OK);
	cr_assert_eq(r1.fileid, r0.fileid);
	cr_assert_eq(lookup(fd, &root, "hv", 2, NULL, NULL), NFS3_OK);
	close(fd);
	assert_alive();
}

/* ---- connections that go away ------------------------------------------- */

/* Calls outstanding (waiting for the NVLOG) when their connection closes,
 * is reset, or stops mid-record: their replies have nowhere to go. */
Test(badinput, abandoned_calls)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), f;
	cr_assert_eq(create(fd, &root, "ab", 2, UNCHECKED, &f), NFS3_OK);
	uint8_t *data = calloc(1, 65536);
	cr_assert_not_null(data);
	for (unsigned i = 0; i < 40; i++) {
		int c = conn_open();
		char name[16];
		snprintf(name, sizeof(name), "ab%u", i);
		struct msg *m =
			create_msg(0xf000 + i, &root, name, (uint32_t)strlen(name), GUARDED);
		msg_send(c, m);
		msg_free(m);
		m = write_msg(0xf100 + i, &f, (uint64_t)i << 16, data, 65536);
		msg_send(c, m);
		if (i % 4 == 2) /* half a record, then gone */
			send_all(c, m->buf, 100);
		msg_free(m);
		if (i % 4 == 1) { /* reset, not closed */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		if (i % 4 == 3)
			shutdown(c, SHUT_WR); /* half-closed: it could still read */
		close(c);
	}
	free(data);
	/* whatever ran, ran once; and the filer goes on */
	for (unsigned i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof(name), "ab%u", i);
		cr_assert_leq(count_named(fd, &root, name), 1);
	}
	close(fd);
	assert_alive();
}

/* ---- many calls that wait for the NVLOG, pipelined -------------------------- */

/* Sends out while reading single-fragment replies; calls on_reply for each
 * until nrep came. */
static void pump(int fd, const uint8_t *out, size_t len, size_t nrep,
		 void (*on_reply)(void *arg, const uint8_t *rep, size_t n), void *arg)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t cap = 1u << 20, have = 0, got = 0, sent = 0;
	uint8_t *in = malloc(cap);
	cr_assert_not_null(in);
	double last = now_sec();
	while (got < nrep) {
		struct pollfd pf = {.fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
		cr_assert_geq(poll(&pf, 1, 1000), 0);
		if ((pf.revents & POLLOUT) && sent < len) {
			ssize_t n = send(fd, out + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, in + have, cap - have, MSG_DONTWAIT);
			cr_assert(n > 0 || (n < 0 && errno == EAGAIN),
				  "connection closed after %zu of %zu replies", got, nrep);
			if (n > 0) {
				have += (size_t)n;
				last = now_sec();
			}
			size_t p = 0;
			while (have - p >= 4) {
				uint32_t mk;
				memcpy(&mk, in + p, 4);
				mk = ntohl(mk);
				cr_assert(mk & RECORD_LAST);
				size_t rl = mk & ~RECORD_LAST;
				cr_assert_lt(rl, cap - 4);
				if (have - p < 4 + rl)
					break;
				on_reply(arg, in + p + 4, rl);
				got++;
				p += 4 + rl;
			}
			memmove(in, in + p, have - p);
			have -= p;
		}
		cr_assert_lt(now_sec() - last, 15.0, "nothing for 15 s after %zu of %zu replies",
			     got, nrep);
	}
	free(in);
	fcntl(fd, F_SETFL, fl);
}

struct seen {
	uint32_t base;
	size_t n;
	uint8_t *hit;
	xdrproc_t proc;
	size_t size;
};

static void on_status_ok(void *arg, const uint8_t *rep, size_t n)
{
	struct seen *s = arg;
	struct reply r;
	parse_reply(rep, n, &r);
	cr_assert(r.xid >= s->base && r.xid < s->base + s->n, "xid %#x", r.xid);
	cr_assert_not(s->hit[r.xid - s->base], "two replies to xid %#x", r.xid);
	s->hit[r.xid - s->base] = 1;
	union {
		CREATE3res c;
		WRITE3res w;
	} res;
	decode(&r, s->proc, &res, s->size);
	cr_assert_eq(*(nfsstat3 *)&res, NFS3_OK, "xid %#x: %d", r.xid, *(nfsstat3 *)&res);
	xdr_free(s->proc, (char *)&res);
}

Test(badinput, pipelined_durable, .timeout = 120)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), f;

	/* 2000 GUARDED CREATEs in one stream: more than the filer lets be
	 * outstanding on a connection, each waiting for the NVLOG */
	enum { NC = 2000 };
	size_t cap = NC * 300, len = 0;
	uint8_t *out = malloc(cap);
	cr_assert_not_null(out);
	for (unsigned i = 0; i < NC; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%04u", i);
		struct msg *m = create_msg(0x30000 + i, &root, name, 5, GUARDED);
		uint32_t mk = htonl(RECORD_LAST | (uint32_t)msg_len(m));
		memcpy(m->buf, &mk, 4);
		memcpy(out + len, m->buf, msg_len(m) + 4);
		len += msg_len(m) + 4;
		msg_free(m);
	}
	struct seen s = {.base = 0x30000,
			 .n = NC,
			 .hit = calloc(NC, 1),
			 .proc = (xdrproc_t)xdr_CREATE3res,
			 .size = sizeof(CREATE3res)};
	cr_assert_not_null(s.hit);
	pump(fd, out, len, NC, on_status_ok, &s);
	free(out);
	free(s.hit);
	cr_assert_eq(count_named(fd, &root, "p1999"), 1);

	/* 48 FILE_SYNC WRITEs of 1 MiB in one stream (more than the NVLOG
	 * holds, if it is smaller), then every byte read back */
	enum { NW = 48 };
	uint32_t mib = 1u << 20;
	cr_assert_eq(create(fd, &root, "pw", 2, UNCHECKED, &f), NFS3_OK);
	out = malloc((size_t)NW * (mib + 1024));
	uint8_t *data = malloc(mib);
	cr_assert(out && data);
	len = 0;
	for (unsigned i = 0; i < NW; i++) {
		for (uint32_t k = 0; k < mib; k += 4) {
			uint32_t v = i * 0x9e3779b9u + k;
			memcpy(data + k, &v, 4);
		}
		struct msg *m = write_msg(0x40000 + i, &f, (uint64_t)i * mib, data, mib);
		uint32_t mk = htonl(RECORD_LAST | (uint32_t)msg_len(m));
		memcpy(m->buf, &mk, 4);
		memcpy(out + len, m->buf, msg_len(m) + 4);
		len += msg_len(m) + 4;
		msg_free(m);
	}
	struct seen w = {.base = 0x40000,
			 .n = NW,
			 .hit = calloc(NW, 1),
			 .proc = (xdrproc_t)xdr_WRITE3res,
			 .size = sizeof(WRITE3res)};
	cr_assert_not_null(w.hit);
	pump(fd, out, len, NW, on_status_ok, &w);
	free(out);
	free(w.hit);
	for (unsigned i = 0; i < NW; i++) {
		READ3args a = {.file = fh3(&f), .offset = (uint64_t)i * mib, .count = mib};
		READ3res r;
		cr_assert_eq(NFS_CALL(fd, 6, READ3, &a, &r), NFS3_OK);
		cr_assert_eq(r.READ3res_u.resok.data.data_len, mib);
		const uint8_t *p = (const uint8_t *)r.READ3res_u.resok.data.data_val;
		for (uint32_t k = 0; k < mib; k += 4) {
			uint32_t v = i * 0x9e3779b9u + k, g;
			memcpy(&g, p + k, 4);
			cr_assert_eq(g, v, "MiB %u, byte %u", i, k);
		}
		NFS_FREE(READ3, &r);
	}
	free(data);
	close(fd);
	assert_alive();
}

/* ---- shutting down with calls in flight ------------------------------------- */

struct sender {
	int fd;
	const uint8_t *p;
	size_t len;
};

/* Sends until done or the filer hangs up. */
static void *sender_main(void *arg)
{
	struct sender *s = arg;
	for (size_t off = 0; off < s->len;) {
		ssize_t n = send(s->fd, s->p + off, s->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	return NULL;
}

/*
 * SIGTERM while calls wait for the NVLOG (FILE_SYNC WRITEs, CREATEs):
 * the filer must still stop cleanly, exit status 0. The replies may be
 * sent or dropped; what the filer must not do is touch what it has freed
 * (under ASan that is an abort; MALLOC_PERTURB_ makes freed memory
 * garbage in the plain build too). A thread keeps calls coming, so that
 * some are being read, and parked, as the loop winds down.
 */
Test(badinput, sigterm_with_calls_in_flight, .timeout = 60)
{
	/* a filer of our own, started with freed memory scribbled over */
	fp_destroy(&fp);
	setenv("MALLOC_PERTURB_", "165", 1);
	int rc = fp_start_new(&fp);
	unsetenv("MALLOC_PERTURB_");
	cr_assert_eq(rc, 0);
	int fd = conn_open();
	struct fh root = root_fh(fd), f;
	cr_assert_eq(create(fd, &root, "inflight", 8, UNCHECKED, &f), NFS3_OK);
	/* 32 MiB of UNSTABLE data, so that the COMMIT below waits for a CP
	 * that takes a while */
	uint32_t mib = 1u << 20;
	uint8_t *big = calloc(1, mib);
	cr_assert_not_null(big);
	for (unsigned i = 0; i < 32; i++) {
		struct msg *m =
			write_msg_how(next_xid++, &f, (uint64_t)i * mib, big, mib, UNSTABLE);
		struct reply r;
		rpc(fd, m, &r);
		msg_free(m);
		WRITE3res wr;
		decode(&r, (xdrproc_t)xdr_WRITE3res, &wr, sizeof(wr));
		cr_assert_eq(wr.status, NFS3_OK);
		NFS_FREE(WRITE3, &wr);
	}
	free(big);

	/* then a COMMIT, and CREATEs and FILE_SYNC WRITEs, sent on and on */
	enum { NCALLS = 8000 };
	static uint8_t data[65536];
	size_t cap = NCALLS * (sizeof(data) + 300), len = 0;
	uint8_t *out = malloc(cap);
	cr_assert_not_null(out);
	struct msg *cm = call_new(1024, 0x4ffff, P_NFS, 3, 21);
	COMMIT3args ca = {.file = fh3(&f), .offset = 0, .count = 0};
	put_args(cm, (xdrproc_t)xdr_COMMIT3args, &ca);
	uint32_t cmk = htonl(RECORD_LAST | (uint32_t)msg_len(cm));
	memcpy(cm->buf, &cmk, 4);
	memcpy(out, cm->buf, msg_len(cm) + 4);
	len = msg_len(cm) + 4;
	msg_free(cm);
	for (unsigned i = 0; i < NCALLS; i++) {
		struct msg *m;
		if (i % 4 == 3) {
			m = write_msg(0x50000 + i, &f, (uint64_t)(i % 1024) << 16, data,
				      sizeof(data));
		} else {
			char name[16];
			snprintf(name, sizeof(name), "if%u", i);
			m = create_msg(0x50000 + i, &root, name, (uint32_t)strlen(name), GUARDED);
		}
		uint32_t mk = htonl(RECORD_LAST | (uint32_t)msg_len(m));
		memcpy(m->buf, &mk, 4);
		memcpy(out + len, m->buf, msg_len(m) + 4);
		len += msg_len(m) + 4;
		msg_free(m);
	}
	struct sender s = {.fd = fd, .p = out, .len = len};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, sender_main, &s), 0);
	uint32_t first;
	cr_assert_eq(recv_exact(fd, &first, 4, TIMEOUT_MS), 1, "no reply at all");
	usleep(20000);
	int st = fp_stop(&fp, SIGTERM);
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(fd);
	free(out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "SIGTERM with calls in flight: the filer %s %d",
		  WIFEXITED(st) ? "exited" : "died of signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- UDP ---------------------------------------------------------------- */

Test(badinput, udp_garbage)
{
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(u, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(fp.port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(u, (struct sockaddr *)&sin, sizeof(sin)), 0);

	/* datagrams of 0, 3, 7 bytes, a truncated header, 60 KiB of 0xff */
	uint8_t *junk = malloc(60 << 10);
	cr_assert_not_null(junk);
	memset(junk, 0xff, 60 << 10);
	size_t sizes[] = {0, 3, 7, 16, 60 << 10};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		(void)send(u, junk, sizes[i], 0);
	free(junk);

	/* then a NULL call over UDP is answered */
	struct msg *m = call_new(1024, 0xe001, P_NFS, 3, 0);
	cr_assert_eq(send(u, msg_body(m), msg_len(m), 0), (ssize_t)msg_len(m));
	msg_free(m);
	struct pollfd pf = {.fd = u, .events = POLLIN};
	struct reply r;
	for (;;) {
		cr_assert_eq(poll(&pf, 1, TIMEOUT_MS), 1, "no UDP reply");
		ssize_t n = recv(u, rbuf, REPLY_MAX, 0);
		cr_assert_gt(n, 0);
		parse_reply(rbuf, (size_t)n, &r);
		if (r.xid == 0xe001)
			break;
	}
	expect_accept(&r, SUCCESS);
	close(u);
	assert_alive();
}

/* Sends m as one datagram on the connected UDP socket u; the length of the
 * reply to it in rbuf, or -1 if none came within timeout_ms. */
static ssize_t udp_rpc(int u, struct msg *m, int timeout_ms)
{
	uint32_t xid;
	memcpy(&xid, msg_body(m), 4);
	cr_assert_eq(send(u, msg_body(m), msg_len(m), 0), (ssize_t)msg_len(m));
	for (;;) {
		struct pollfd pf = {.fd = u, .events = POLLIN};
		if (poll(&pf, 1, timeout_ms) != 1)
			return -1;
		ssize_t n = recv(u, rbuf, REPLY_MAX, 0);
		cr_assert_gt(n, 0);
		if (n >= 4 && memcmp(rbuf, &xid, 4) == 0)
			return n;
	}
}

/*
 * Over UDP a reply must fit a datagram (65507 bytes of payload). A READ
 * (or READDIR) asking for more than that is legal - the server may
 * always return fewer bytes - and must still be answered: a call that
 * gets no reply at all is retransmitted by its client forever.
 */
Test(badinput, udp_large_read)
{
	int fd = conn_open();
	struct fh root = root_fh(fd), f;
	cr_assert_eq(create(fd, &root, "udpread", 7, UNCHECKED, &f), NFS3_OK);
	uint32_t size = 256u << 10;
	uint8_t *data = malloc(size);
	cr_assert_not_null(data);
	for (uint32_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	cr_assert_eq(write_sync(fd, &f, 0, data, size), NFS3_OK);
	close(fd);

	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(u, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(fp.port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(u, (struct sockaddr *)&sin, sizeof(sin)), 0);
	uint32_t counts[] = {32768, 65536, 1u << 20};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct msg *m = call_new(1024, 0xe100 + (uint32_t)i, P_NFS, 3, 6);
		READ3args a = {.file = fh3(&f), .offset = 0, .count = counts[i]};
		put_args(m, (xdrproc_t)xdr_READ3args, &a);
		ssize_t n = udp_rpc(u, m, 1000);
		msg_free(m);
		cr_expect_geq(n, 0, "READ of %u bytes over UDP: no reply at all", counts[i]);
		if (n < 0)
			continue;
		struct reply r;
		parse_reply(rbuf, (size_t)n, &r);
		READ3res res;
		decode(&r, (xdrproc_t)xdr_READ3res, &res, sizeof(res));
		cr_assert_eq(res.status, NFS3_OK);
		READ3resok *ok = &res.READ3res_u.resok;
		cr_assert_leq(ok->data.data_len, counts[i]);
		cr_assert_gt(ok->data.data_len, 0);
		cr_assert(memcmp(ok->data.data_val, data, ok->data.data_len) == 0);
		NFS_FREE(READ3, &res);
	}
	free(data);
	close(u);
	assert_alive();
}
