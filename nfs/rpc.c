/*
 * rpc.c - ONC RPC (RFC 5531) over TCP and UDP on libevent.
 *
 * TCP: records arrive as fragments, each behind a 4-byte mark (last-
 * fragment bit, 31-bit length). Fragments are gathered until the last one;
 * a record longer than the limit closes the connection (it is hostile or
 * broken, and buffering it would let it grow the filer without bound).
 * Calls on one connection are decoded in order but may finish in any
 * order (a WRITE waiting for the NVLOG does not hold up a GETATTR).
 *
 * Back-pressure (DESIGN.md §9.7): a connection whose unsent replies pass
 * max_conn_out_bytes, or that has too many calls outstanding, is not read
 * until the client drains it. A closed connection stays allocated until
 * its last outstanding call has finished; those replies are dropped.
 *
 * Every byte from the network is bounds-checked by the XDR memory stream
 * before it is used; bad input costs that call (an error reply) or that
 * connection, never the filer.
 *
 * UNIX sockets (nfs_rpc_listen_unix) carry one program of the caller's
 * through the same connections, records and replies; a connection knows
 * its listener and dispatches to that program alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "nfs/nfs_int.h"

#define RPC_CALL	0
#define RPC_REPLY	1
#define MSG_ACCEPTED_	0
#define MSG_DENIED_	1
#define RPC_MISMATCH_	0
#define AUTH_ERROR_	1
#define MAX_AUTH_BYTES	400
#define MAX_OUTSTANDING 256

struct rpc_conn {
	struct nfs_server *srv;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint8_t *rec;	    /* the record being received: its fragments so far */
	size_t rec_len;	    /* bytes of it received */
	uint32_t frag_left; /* bytes of the current fragment still to come */
	bool in_frag, last_frag;
	bool paused, closed;
	unsigned refs; /* the connection itself + outstanding calls */
	unsigned outstanding;
	const struct rpc_unix *ux; /* a UNIX listener's connection: its program */
	bool denied;		   /* the peer may not use it: refuse, then close */
	bool close_when_sent;	   /* close once the output buffer has drained */
	bool have_cred;
	uid_t peer_uid; /* SO_PEERCRED, when have_cred */
	TAILQ_ENTRY(rpc_conn) link;
};

/* A UNIX-domain listener serving one program (nfs_rpc_listen_unix). */
struct rpc_unix {
	struct nfs_server *srv;
	struct evconnlistener *l;
	char *path; /* removed on close */
	gid_t gid;  /* members may use it; (gid_t)-1: none */
	struct nfs_rpc_program prog;
	TAILQ_ENTRY(rpc_unix) link;
};

struct rpc_sink {
	rpc_sink_fn fn;
	void *arg;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);

static size_t max_record(const struct nfs_server *s)
{
	return s->cfg.max_record_bytes ? s->cfg.max_record_bytes : (1u << 20) + 4096;
}

static size_t max_out(const struct nfs_server *s)
{
	return s->cfg.max_conn_out_bytes ? s->cfg.max_conn_out_bytes : 8u << 20;
}

static void conn_unref(struct rpc_conn *c)
{
	if (--c->refs)
		return;
	free(c->rec);
	free(c);
}

static void conn_close(struct rpc_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	TAILQ_REMOVE(&c->srv->conns, c, link);
	if (!c->ux)
		c->srv->xfer.connections_open--;
	bufferevent_free(c->bev);
	c->bev = NULL;
	conn_unref(c);
}

uint16_t rpc_peer_port(const struct rpc_call *c)
{
	if (c->peer.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&c->peer)->sin_port);
	if (c->peer.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&c->peer)->sin6_port);
	return 0;
}

/* ---- replies ------------------------------------------------------ */

static void call_free(struct rpc_call *c)
{
	if (c->args_proc && c->args_obj)
		xdr_free(c->args_proc, (char *)c->args_obj);
	if (c->drc)
		drc_abandon(c->srv->drc, c->drc);
	free(c->record);
	if (c->conn) {
		c->conn->outstanding--;
		if (c->conn->paused && !c->conn->closed &&
		    c->conn->outstanding < MAX_OUTSTANDING / 2 &&
		    evbuffer_get_length(bufferevent_get_output(c->conn->bev)) <
			    max_out(c->srv) / 2) {
			c->conn->paused = false;
			bufferevent_enable(c->conn->bev, EV_READ);
			conn_read_cb(c->conn->bev, c->conn);
		}
		conn_unref(c->conn);
	}
	free(c);
}

static void account(struct rpc_call *c, bool error)
{
	struct nfs_proc_stats *st = NULL;
	if (c->prog == 100003 && c->vers == 3 && c->proc < 22)
		st = &c->srv->nfs3_stats[c->proc];
	else if (c->prog == 100005 && c->proc < 6)
		st = &c->srv->mnt_stats[c->proc];
	if (!st)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint64_t us = now - c->t0_usec;
	st->calls++;
	st->errors += error;
	st->usec_total += us;
	if (us > st->usec_max)
		st->usec_max = us;
}

/* Sends len bytes at buf + 4 (buf[0..3] is room for the record mark). */
static void free_cb(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/* Sends len bytes at buf + 4 (buf[0..3] is room for the record mark).
 * owned: buf is malloc'd and now ours: TCP hands it to libevent as is
 * (no copy of READ data or any other reply). */
static void send_reply(struct rpc_call *c, uint8_t *buf, size_t len, bool owned)
{
	if (c->drc) {
		drc_store(c->srv->drc, c->drc, buf + 4, len);
		c->drc = NULL;
	}
	if (c->conn) {
		if (!c->conn->closed) {
			uint32_t mark = htonl(0x80000000u | (uint32_t)len);
			memcpy(buf, &mark, 4);
			struct evbuffer *out = bufferevent_get_output(c->conn->bev);
			/* big replies (READ data) go by reference; small ones are
			 * copied, packing them into shared chains: a reference per
			 * small reply would cost more memory than the reply */
			if (owned && len >= 16384 &&
			    evbuffer_add_reference(out, buf, len + 4, free_cb, NULL) == 0)
				owned = false; /* libevent frees it once sent */
			else
				evbuffer_add(out, buf, len + 4);
			if (evbuffer_get_length(out) > max_out(c->srv) && !c->conn->paused) {
				c->conn->paused = true;
				bufferevent_disable(c->conn->bev, EV_READ);
			}
		}
	} else if (c->udp_fd >= 0) {
		/* a lost datagram is the client's to retransmit */
		(void)sendto(c->udp_fd, buf + 4, len, MSG_DONTWAIT, (struct sockaddr *)&c->peer,
			     c->peerlen);
	}
	if (owned)
		free(buf);
}

static void reply_header(XDR *x, uint32_t xid, uint32_t accepted)
{
	uint32_t v[3] = {xid, RPC_REPLY, accepted};
	for (int i = 0; i < 3; i++)
		xdr_u_int(x, &v[i]);
}

static void verf_none(XDR *x)
{
	uint32_t flavor = AUTH_NONE_FLAVOR, len = 0;
	xdr_u_int(x, &flavor);
	xdr_u_int(x, &len);
}

/* Where the reply of a fed record (fuzzing, tests) goes; a reply that
 * comes later (after a durability wait) finds it gone and is dropped. */
static __thread struct rpc_sink *feed_sink;

static void deliver_owned(struct rpc_call *c, uint8_t *buf, size_t len, bool owned)
{
	if (c->udp_fd == -2) {
		if (c->drc) {
			drc_store(c->srv->drc, c->drc, buf + 4, len);
			c->drc = NULL;
		}
		if (feed_sink)
			feed_sink->fn(feed_sink->arg, buf + 4, len);
		if (owned)
			free(buf);
		return;
	}
	send_reply(c, buf, len, owned);
}

static void deliver(struct rpc_call *c, uint8_t *buf, size_t len)
{
	deliver_owned(c, buf, len, false);
}

/* The accepted-SUCCESS header a reply body follows. */
#define REPLY_HDR_BYTES 24

uint8_t *rpc_reply_alloc(struct rpc_call *c, size_t body_max)
{
	uint8_t *buf = malloc(4 + REPLY_HDR_BYTES + body_max);
	if (!buf)
		return NULL;
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, REPLY_HDR_BYTES, XDR_ENCODE);
	reply_header(&x, c->xid, MSG_ACCEPTED_);
	verf_none(&x);
	uint32_t ok = SUCCESS;
	xdr_u_int(&x, &ok);
	xdr_destroy(&x);
	return buf;
}

void rpc_reply_send(struct rpc_call *c, uint8_t *buf, size_t body_len)
{
	account(c, false);
	deliver_owned(c, buf, REPLY_HDR_BYTES + body_len, true);
	call_free(c);
}

void rpc_reply(struct rpc_call *c, xdrproc_t proc, const void *res)
{
	unsigned long body = proc ? xdr_sizeof(proc, (void *)res) : 0;
	size_t len = 24 + body;
	uint8_t *buf = malloc(len + 4);
	if (!buf) {
		call_free(c);
		return;
	}
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, (u_int)len, XDR_ENCODE);
	reply_header(&x, c->xid, MSG_ACCEPTED_);
	verf_none(&x);
	uint32_t ok = SUCCESS;
	xdr_u_int(&x, &ok);
	bool good = !proc || proc(&x, (void *)res);
	xdr_destroy(&x);
	if (good) {
		account(c, false);
		deliver_owned(c, buf, len, true);
	} else {
		free(buf);
	}
	call_free(c);
}

void rpc_reply_accept_err(struct rpc_call *c, uint32_t stat, uint32_t lo, uint32_t hi)
{
	uint8_t buf[4 + 40];
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, sizeof(buf) - 4, XDR_ENCODE);
	reply_header(&x, c->xid, MSG_ACCEPTED_);
	verf_none(&x);
	xdr_u_int(&x, &stat);
	if (stat == PROG_MISMATCH) {
		xdr_u_int(&x, &lo);
		xdr_u_int(&x, &hi);
	}
	size_t len = xdr_getpos(&x);
	xdr_destroy(&x);
	account(c, true);
	deliver(c, buf, len);
	call_free(c);
}

void rpc_reply_auth_err(struct rpc_call *c, uint32_t why)
{
	uint8_t buf[4 + 20];
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, sizeof(buf) - 4, XDR_ENCODE);
	reply_header(&x, c->xid, MSG_DENIED_);
	uint32_t v[2] = {AUTH_ERROR_, why};
	xdr_u_int(&x, &v[0]);
	xdr_u_int(&x, &v[1]);
	size_t len = xdr_getpos(&x);
	xdr_destroy(&x);
	deliver(c, buf, len);
	call_free(c);
}

static void reply_rpc_mismatch(struct rpc_call *c)
{
	uint8_t buf[4 + 24];
	XDR x;
	xdrmem_create(&x, (char *)buf + 4, sizeof(buf) - 4, XDR_ENCODE);
	reply_header(&x, c->xid, MSG_DENIED_);
	uint32_t v[3] = {RPC_MISMATCH_, 2, 2};
	for (int i = 0; i < 3; i++)
		xdr_u_int(&x, &v[i]);
	size_t len = xdr_getpos(&x);
	xdr_destroy(&x);
	deliver(c, buf, len);
	call_free(c);
}

void rpc_drop(struct rpc_call *c)
{
	call_free(c);
}

bool rpc_decode(struct rpc_call *c, xdrproc_t proc, void *obj)
{
	XDR x;
	xdrmem_create(&x, (char *)c->args, (u_int)c->args_len, XDR_DECODE);
	bool ok = proc(&x, obj);
	xdr_destroy(&x);
	c->args_proc = proc;
	c->args_obj = obj;
	if (!ok) {
		c->srv->xfer.rpc_garbage++;
		rpc_reply_accept_err(c, GARBAGE_ARGS, 0, 0);
		return false;
	}
	return true;
}

/* ---- calls ------------------------------------------------------------ */

static bool parse_auth_sys(const uint8_t *body, uint32_t len, struct rpc_cred *cr)
{
	XDR x;
	xdrmem_create(&x, (char *)body, len, XDR_DECODE);
	uint32_t stamp, namelen;
	bool ok = xdr_u_int(&x, &stamp) && xdr_u_int(&x, &namelen) && namelen <= 255;
	if (ok) {
		char *name = cr->machine;
		ok = xdr_opaque(&x, name, namelen);
		cr->machine[ok ? namelen : 0] = 0;
	}
	ok = ok && xdr_u_int(&x, &cr->uid) && xdr_u_int(&x, &cr->gid) &&
	     xdr_u_int(&x, &cr->ngids) && cr->ngids <= RPC_MAX_GIDS;
	for (uint32_t i = 0; ok && i < cr->ngids; i++)
		ok = xdr_u_int(&x, &cr->gids[i]);
	/* the body must be exactly this long */
	ok = ok && xdr_getpos(&x) == len;
	xdr_destroy(&x);
	return ok;
}

static const struct rpc_program *const programs[] = {
	&nfs3_program, &mount3_program, &pmap2_program, &rpcb3_program, &rpcb4_program,
};

static bool is_portmap(uint32_t prog)
{
	return prog == 100000;
}

/* A call on a UNIX listener's connection: its program, nothing else. */
static void dispatch_unix(struct rpc_call *c, const struct rpc_unix *ux)
{
	const struct nfs_rpc_program *p = &ux->prog;
	if (c->prog != p->prog) {
		rpc_reply_accept_err(c, PROG_UNAVAIL, 0, 0);
		return;
	}
	if (c->vers != p->vers) {
		rpc_reply_accept_err(c, PROG_MISMATCH, p->vers, p->vers);
		return;
	}
	if (c->proc >= p->nprocs || !p->procs[c->proc]) {
		rpc_reply_accept_err(c, PROC_UNAVAIL, 0, 0);
		return;
	}
	p->procs[c->proc]((struct nfs_rpc_call *)c, p->arg);
}

static void dispatch(struct rpc_call *c)
{
	struct nfs_server *s = c->srv;
	XDR x;
	xdrmem_create(&x, (char *)c->record, (u_int)c->args_len, XDR_DECODE);
	uint32_t mtype = 0, rpcvers = 0, flavor = 0, clen = 0, vflavor = 0, vlen = 0;
	if (!xdr_u_int(&x, &c->xid) || !xdr_u_int(&x, &mtype) || mtype != RPC_CALL) {
		/* not a call, or not even an xid: nothing to answer */
		xdr_destroy(&x);
		s->xfer.rpc_garbage++;
		rpc_drop(c);
		return;
	}
	const struct rpc_unix *ux = c->conn ? c->conn->ux : NULL;
	if (!ux)
		s->xfer.rpc_calls++;
	if (!xdr_u_int(&x, &rpcvers) || !xdr_u_int(&x, &c->prog) || !xdr_u_int(&x, &c->vers) ||
	    !xdr_u_int(&x, &c->proc) || !xdr_u_int(&x, &flavor) || !xdr_u_int(&x, &clen) ||
	    clen > MAX_AUTH_BYTES) {
		xdr_destroy(&x);
		s->xfer.rpc_garbage++;
		if (rpcvers != 2)
			reply_rpc_mismatch(c);
		else
			rpc_reply_auth_err(c, AUTH_BADCRED);
		return;
	}
	if (rpcvers != 2) {
		xdr_destroy(&x);
		reply_rpc_mismatch(c);
		return;
	}
	if (c->conn && c->conn->denied) {
		xdr_destroy(&x);
		struct rpc_conn *cn = c->conn;
		cn->close_when_sent = true;
		bufferevent_disable(cn->bev, EV_READ);
		rpc_reply_auth_err(c, AUTH_TOOWEAK);
		return;
	}
	u_int pos = xdr_getpos(&x);
	const uint8_t *cbody = c->record + pos;
	size_t total = c->args_len;
	if ((size_t)pos + ((clen + 3) & ~3u) + 8 > total) {
		xdr_destroy(&x);
		s->xfer.rpc_garbage++;
		rpc_reply_auth_err(c, AUTH_BADCRED);
		return;
	}
	xdr_setpos(&x, pos + ((clen + 3) & ~3u));
	if (!xdr_u_int(&x, &vflavor) || !xdr_u_int(&x, &vlen) || vlen > MAX_AUTH_BYTES ||
	    (size_t)xdr_getpos(&x) + ((vlen + 3) & ~3u) > total) {
		xdr_destroy(&x);
		s->xfer.rpc_garbage++;
		rpc_reply_auth_err(c, AUTH_BADVERF);
		return;
	}
	pos = xdr_getpos(&x) + ((vlen + 3) & ~3u);
	xdr_destroy(&x);
	c->cred.flavor = flavor;
	if (flavor == AUTH_SYS_FLAVOR) {
		if (!parse_auth_sys(cbody, clen, &c->cred)) {
			rpc_reply_auth_err(c, AUTH_BADCRED);
			return;
		}
	} else if (flavor == AUTH_NONE_FLAVOR) {
		c->cred.uid = c->cred.gid = 65534;
	} else {
		rpc_reply_auth_err(c, AUTH_REJECTEDCRED);
		return;
	}
	c->args = c->record + pos;
	c->args_len = total - pos;

	if (ux) {
		dispatch_unix(c, ux);
		return;
	}
	const struct rpc_program *p = NULL;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		const struct rpc_program *q = programs[i];
		if (q->prog != c->prog || (is_portmap(q->prog) && !s->cfg.portmapper))
			continue;
		if (q->vers_lo < lo)
			lo = q->vers_lo;
		if (q->vers_hi > hi)
			hi = q->vers_hi;
		if (c->vers >= q->vers_lo && c->vers <= q->vers_hi)
			p = q;
	}
	if (!p) {
		if (hi == 0)
			rpc_reply_accept_err(c, PROG_UNAVAIL, 0, 0);
		else
			rpc_reply_accept_err(c, PROG_MISMATCH, lo, hi);
		return;
	}
	if (c->proc >= p->nprocs || !p->procs[c->proc]) {
		rpc_reply_accept_err(c, PROC_UNAVAIL, 0, 0);
		return;
	}
	if (p->cacheable && p->cacheable[c->proc] && s->drc) {
		const uint8_t *old;
		size_t oldlen;
		int d = drc_lookup(s->drc, c, &old, &oldlen);
		if (d == 1) {
			s->xfer.drc_hits++;
			uint8_t *buf = malloc(oldlen + 4);
			if (buf) {
				memcpy(buf + 4, old, oldlen);
				deliver(c, buf, oldlen);
				free(buf);
			}
			call_free(c);
			return;
		}
		if (d == 2) {
			s->xfer.drc_hits++;
			rpc_drop(c);
			return;
		}
	}
	p->procs[c->proc](c);
}

static struct rpc_call *call_new(struct nfs_server *s, uint8_t *rec, size_t len,
				 const struct sockaddr_storage *peer, socklen_t peerlen)
{
	struct rpc_call *c = calloc(1, sizeof(*c));
	if (!c) {
		free(rec);
		return NULL;
	}
	c->srv = s;
	c->record = rec;
	c->args_len = len; /* the whole record until dispatch() splits it */
	c->udp_fd = -1;
	if (peer) {
		memcpy(&c->peer, peer, peerlen);
		c->peerlen = peerlen;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->t0_usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return c;
}

/* ---- TCP -------------------------------------------------------------- */

/* A whole record has arrived: the call takes its buffer as it is. */
static void conn_record(struct rpc_conn *cn)
{
	uint8_t *rec = cn->rec;
	size_t len = cn->rec_len;
	cn->rec = NULL;
	cn->rec_len = 0;
	if (!rec && !(rec = malloc(1))) { /* an empty record */
		conn_close(cn);
		return;
	}
	struct rpc_call *c = call_new(cn->srv, rec, len, &cn->peer, cn->peerlen);
	if (!c)
		return;
	c->conn = cn;
	cn->refs++;
	cn->outstanding++;
	if (cn->outstanding >= MAX_OUTSTANDING && !cn->paused) {
		cn->paused = true;
		bufferevent_disable(cn->bev, EV_READ);
	}
	dispatch(c);
}

/* The rest of the current fragment, straight from the socket into the
 * record. Through the bufferevent it would come 4 KiB at a time (libevent
 * 2.1 reads at most EVBUFFER_MAX_READ per callback): 256 loop turns, reads
 * and FIONREADs for a 1 MiB WRITE, then a copy into the record. Called
 * with the input buffer empty, so the byte order holds. -1: closed. */
static int conn_recv(struct rpc_conn *cn)
{
	evutil_socket_t fd = bufferevent_getfd(cn->bev);
	while (cn->frag_left) {
		ssize_t n = recv(fd, cn->rec + cn->rec_len, cn->frag_left, MSG_DONTWAIT);
		if (n > 0) {
			cn->rec_len += (size_t)n;
			cn->frag_left -= (uint32_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 0;
		} else {
			conn_close(cn); /* end of stream, or the connection failed */
			return -1;
		}
	}
	return 0;
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	cn->refs++; /* a reply below may close it */
	while (!cn->closed && !cn->paused) {
		if (!cn->in_frag) {
			if (evbuffer_get_length(in) < 4)
				break;
			uint32_t mark;
			evbuffer_remove(in, &mark, 4);
			mark = ntohl(mark);
			cn->last_frag = mark >> 31;
			cn->frag_left = mark & 0x7fffffffu;
			if (cn->rec_len + cn->frag_left > max_record(cn->srv)) {
				cn->srv->xfer.rpc_garbage++;
				conn_close(cn);
				break;
			}
			/* room for the fragment: at most the record limit, as
			 * the fragments buffered before (DESIGN.md §9.7) */
			if (cn->frag_left) {
				uint8_t *r = realloc(cn->rec, cn->rec_len + cn->frag_left);
				if (!r) {
					conn_close(cn);
					break;
				}
				cn->rec = r;
			}
			cn->in_frag = true;
		}
		size_t have = evbuffer_get_length(in);
		size_t n = have < cn->frag_left ? have : cn->frag_left;
		if (n) {
			evbuffer_remove(in, cn->rec + cn->rec_len, n);
			cn->rec_len += n;
			cn->frag_left -= (uint32_t)n;
		}
		/* (a refused peer's connection reads no further: it closes) */
		if (cn->frag_left && !cn->close_when_sent && conn_recv(cn) < 0)
			break;
		if (cn->frag_left)
			break;
		cn->in_frag = false;
		if (cn->last_frag)
			conn_record(cn);
	}
	conn_unref(cn);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *cn = arg;
	if (cn->close_when_sent) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_close(cn);
		return;
	}
	if (cn->paused && cn->outstanding < MAX_OUTSTANDING / 2 &&
	    evbuffer_get_length(bufferevent_get_output(bev)) < max_out(cn->srv) / 2) {
		cn->paused = false;
		bufferevent_enable(bev, EV_READ);
		conn_read_cb(bev, cn);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(arg);
}

static struct rpc_conn *conn_new(struct nfs_server *s, evutil_socket_t fd, struct sockaddr *sa,
				 int salen)
{
	struct rpc_conn *cn = calloc(1, sizeof(*cn));
	if (!cn) {
		close(fd);
		return NULL;
	}
	cn->srv = s;
	cn->refs = 1;
	memcpy(&cn->peer, sa, (size_t)salen);
	cn->peerlen = (socklen_t)salen;
	cn->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cn->bev) {
		close(fd);
		free(cn);
		return NULL;
	}
	bufferevent_setcb(cn->bev, conn_read_cb, conn_write_cb, conn_event_cb, cn);
	bufferevent_setwatermark(cn->bev, EV_WRITE, max_out(s) / 2, 0);
	/* libevent writes 16 KiB per loop turn by default: a 1 MiB READ reply
	 * would take 64 turns and 64 writev()s; let one writev() take what the
	 * socket will (at most the output limit) */
	bufferevent_set_max_single_write(cn->bev, max_out(s));
	bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->conns, cn, link);
	return cn;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	(void)l;
	struct nfs_server *s = arg;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	if (conn_new(s, fd, sa, salen)) {
		s->xfer.connections++;
		s->xfer.connections_open++;
	}
}

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (!addr || !*addr)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int rpc_listen_tcp(struct nfs_server *s, const char *addr, uint16_t port,
		   struct evconnlistener **out, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, port, &ss, &len))
		return -EINVAL;
	*out = evconnlistener_new_bind(s->base, accept_cb, s,
				       LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
					       LEV_OPT_CLOSE_ON_EXEC,
				       128, (struct sockaddr *)&ss, (int)len);
	if (!*out)
		return errno ? -errno : -EADDRINUSE;
	*bound = bound_port(evconnlistener_get_fd(*out));
	return 0;
}

/* ---- UDP -------------------------------------------------------------- */

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct nfs_server *s = arg;
	for (int i = 0; i < 64; i++) {
		uint8_t *buf = malloc(65536);
		if (!buf)
			return;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, 65536, MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
		if (n <= 0) {
			free(buf);
			return;
		}
		struct rpc_call *c = call_new(s, buf, (size_t)n, &peer, plen);
		if (!c)
			return;
		c->udp_fd = fd;
		dispatch(c);
	}
}

int rpc_listen_udp(struct nfs_server *s, const char *addr, uint16_t port, int *fd,
		   struct event **ev, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, port, &ss, &len))
		return -EINVAL;
	int f = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int sz = 4 << 20;
	(void)setsockopt(f, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(f, (struct sockaddr *)&ss, len) < 0) {
		int e = -errno;
		close(f);
		return e;
	}
	*ev = event_new(s->base, f, EV_READ | EV_PERSIST, udp_read_cb, s);
	if (!*ev) {
		close(f);
		return -ENOMEM;
	}
	event_add(*ev, NULL);
	*fd = f;
	*bound = bound_port(f);
	return 0;
}

void rpc_close_all(struct nfs_server *s)
{
	struct rpc_conn *c;
	while ((c = TAILQ_FIRST(&s->conns)))
		conn_close(c);
}

void rpc_feed_record(struct nfs_server *s, const uint8_t *rec, size_t len, rpc_sink_fn sink,
		     void *arg)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, rec, len);
	struct sockaddr_storage peer;
	socklen_t plen;
	parse_addr("127.0.0.1", 700, &peer, &plen);
	struct rpc_call *c = call_new(s, copy, len, &peer, plen);
	if (!c)
		return;
	c->udp_fd = -2;
	struct rpc_sink sk = {sink, arg};
	struct rpc_sink *saved = feed_sink;
	feed_sink = &sk;
	dispatch(c);
	feed_sink = saved;
}

/* ---- UNIX sockets: another program ------------------------------------ */

/* May this peer use the socket? Root, our own user, and members of the
 * listener's group. SO_PEERGROUPS gives the peer's supplementary groups
 * as they were at connect(); without it only the primary group counts. */
static bool peer_allowed(int fd, const struct rpc_unix *ux, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) < 0)
		return false;
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	if (ux->gid == (gid_t)-1)
		return false;
	if (cr->gid == ux->gid)
		return true;
	gid_t groups[256];
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: more than 256 groups; refuse rather than guess */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == ux->gid)
			return true;
	return false;
}

static void unix_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			   int salen, void *arg)
{
	(void)l;
	struct rpc_unix *ux = arg;
	struct ucred cr = {0};
	bool ok = peer_allowed(fd, ux, &cr);
	struct rpc_conn *cn = conn_new(ux->srv, fd, sa, salen);
	if (!cn)
		return;
	cn->ux = ux;
	cn->denied = !ok;
	cn->have_cred = cr.pid != 0;
	cn->peer_uid = cr.uid;
}

/* A socket file already at path: a stale one (nobody listening) goes;
 * a live one, or anything that is not a socket, stays. */
static int unix_clear(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int nfs_rpc_listen_unix(struct nfs_server *s, const char *path, mode_t mode, gid_t gid,
			const struct nfs_rpc_program *p)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int rc = unix_clear(path, &sun);
	if (rc)
		return rc;
	struct rpc_unix *ux = calloc(1, sizeof(*ux));
	if (!ux || !(ux->path = strdup(path))) {
		free(ux);
		return -ENOMEM;
	}
	ux->srv = s;
	ux->gid = gid;
	ux->prog = *p;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	/* nobody can connect before listen(): set the owner and mode first */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		goto err;
	}
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		goto err;
	}
	ux->l = evconnlistener_new(s->base, unix_accept_cb, ux,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (!ux->l) {
		rc = errno ? -errno : -ENOMEM;
		close(fd);
		unlink(path);
		goto err;
	}
	TAILQ_INSERT_TAIL(&s->unix_listeners, ux, link);
	return 0;
err:
	free(ux->path);
	free(ux);
	return rc;
}

static void unix_close(struct nfs_server *s, struct rpc_unix *ux)
{
	struct rpc_conn *c, *n;
	TAILQ_FOREACH_SAFE(c, &s->conns, link, n)
	{
		if (c->ux == ux)
			conn_close(c);
	}
	TAILQ_REMOVE(&s->unix_listeners, ux, link);
	evconnlistener_free(ux->l);
	(void)unlink(ux->path); /* gone already is fine */
	free(ux->path);
	free(ux);
}

void nfs_rpc_close_unix(struct nfs_server *s, const char *path)
{
	struct rpc_unix *ux;
	TAILQ_FOREACH(ux, &s->unix_listeners, link)
	{
		if (!strcmp(ux->path, path)) {
			unix_close(s, ux);
			return;
		}
	}
}

void rpc_unix_close_all(struct nfs_server *s)
{
	struct rpc_unix *ux;
	while ((ux = TAILQ_FIRST(&s->unix_listeners)))
		unix_close(s, ux);
}
bool nfs_rpc_args(struct nfs_rpc_call *c, xdrproc_t proc, void *obj)
{
	return rpc_decode((struct rpc_call *)c, proc, obj);
}

void nfs_rpc_reply(struct nfs_rpc_call *c, xdrproc_t proc, const void *res)
{
	/* a result that does not encode (a string over its limit) must still
	 * get an answer, or the caller waits for ever */
	if (proc && xdr_sizeof(proc, (void *)res) == 0) {
		rpc_reply_accept_err((struct rpc_call *)c, SYSTEM_ERR, 0, 0);
		return;
	}
	rpc_reply((struct rpc_call *)c, proc, res);
}

void nfs_rpc_reply_system_err(struct nfs_rpc_call *c)
{
	rpc_reply_accept_err((struct rpc_call *)c, SYSTEM_ERR, 0, 0);
}

int nfs_rpc_peer_uid(struct nfs_rpc_call *c, uid_t *uid)
{
	struct rpc_call *rc = (struct rpc_call *)c;
	if (!rc->conn || !rc->conn->have_cred)
		return -ENOTCONN;
	*uid = rc->conn->peer_uid;
	return 0;
}
