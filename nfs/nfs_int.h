/*
 * nfs_int.h - what the files of nfs/ share; nothing outside nfs/ includes it.
 *
 *   rpc.c      ONC RPC: record marking on TCP, UDP, call headers, auth,
 *              program dispatch, replies, back-pressure
 *   drc.c      the duplicate-request cache
 *   fh.c       file handles: layout and MAC
 *   export.c   exports(5) parsing, client matching, credential squashing
 *   nfs3.c     the 22 NFSv3 procedures
 *   mount.c    MOUNT v3
 *   portmap.c  portmap v2 and rpcbind v3/v4 (GETPORT, GETADDR, DUMP)
 *   server.c   nfs_server_new and the public functions of nfs.h
 */
#ifndef NFS_NFS_INT_H
#define NFS_NFS_INT_H

#include <netinet/in.h>
#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <bsd/sys/queue.h>

#include "nfs/nfs.h"
#include "wafl/wafl.h"

/* ---- RPC ------------------------------------------------------------ */

#define RPC_MAX_GIDS	 16
#define AUTH_SYS_FLAVOR	 1
#define AUTH_NONE_FLAVOR 0

struct rpc_cred {
	uint32_t flavor; /* AUTH_NONE_FLAVOR or AUTH_SYS_FLAVOR */
	uint32_t uid, gid;
	uint32_t ngids;
	uint32_t gids[RPC_MAX_GIDS];
	char machine[256];
};

struct rpc_conn;
struct rpc_unix;
struct drc_entry;

/* One call, from decode to reply. Owned by rpc.c; handlers get it, must
 * answer it exactly once (rpc_reply*, or rpc_drop), then not touch it. */
struct rpc_call {
	struct nfs_server *srv;
	struct rpc_conn *conn; /* TCP; NULL for UDP */
	int udp_fd;	       /* UDP: where to answer */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint32_t xid, prog, vers, proc;
	struct rpc_cred cred;
	const uint8_t *args; /* the call's arguments, XDR */
	size_t args_len;
	uint8_t *record;       /* owns args */
	struct drc_entry *drc; /* non-idempotent calls: the cache slot */
	uint64_t t0_usec;
	xdrproc_t args_proc; /* set by rpc_decode: freed with the call */
	void *args_obj;
};

/* Decodes the call's arguments into obj (the caller zeroes it). False: garbage
 * (the call has been answered GARBAGE_ARGS and freed: return at once). */
bool rpc_decode(struct rpc_call *c, xdrproc_t proc, void *obj);
/* Accepted, SUCCESS, with a result; frees the call. */
void rpc_reply(struct rpc_call *c, xdrproc_t proc, const void *res);
/* A reply built in place (READ: the data goes straight from the cache
 * into the buffer that is sent): rpc_reply_alloc returns a buffer with
 * the accepted-SUCCESS header written; the body goes at offset
 * RPC_REPLY_BODY; rpc_reply_send takes the buffer and frees the call. */
#define RPC_REPLY_BODY (4 + 24)
uint8_t *rpc_reply_alloc(struct rpc_call *c, size_t body_max);
void rpc_reply_send(struct rpc_call *c, uint8_t *buf, size_t body_len);
/* Accepted with an error status (PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS,
 * SYSTEM_ERR); PROG_MISMATCH takes the version range. */
void rpc_reply_accept_err(struct rpc_call *c, uint32_t stat, uint32_t lo, uint32_t hi);
/* Denied: AUTH_ERROR with an auth_stat. */
void rpc_reply_auth_err(struct rpc_call *c, uint32_t why);
/* No reply at all (e.g. a retransmission of a call still in progress). */
void rpc_drop(struct rpc_call *c);
/* The client's port (secure/insecure exports). */
uint16_t rpc_peer_port(const struct rpc_call *c);

struct rpc_program {
	uint32_t prog, vers_lo, vers_hi;
	/* procedures 0..nprocs-1; NULL slots answer PROC_UNAVAIL */
	void (*const *procs)(struct rpc_call *c);
	uint32_t nprocs;
	const char *const *names; /* for stats */
	const bool *cacheable;	  /* non-idempotent: through the DRC */
};

/* ---- the duplicate-request cache (drc.c) ----------------------------- */

struct drc;
int drc_new(size_t max_entries, struct drc **out);
void drc_free(struct drc *d);
/* Looks a call up. Returns: 0 = new (c->drc set, answer normally);
 * 1 = a finished duplicate (reply and len: the reply to resend);
 * 2 = a duplicate still in progress (drop it). */
int drc_lookup(struct drc *d, struct rpc_call *c, const uint8_t **reply, size_t *len);
/* Stores the reply of the call that owns e. */
void drc_store(struct drc *d, struct drc_entry *e, const uint8_t *reply, size_t len);
void drc_abandon(struct drc *d, struct drc_entry *e);
/* The argument checksum of the key: XXH64, seed 0 (for tests). */
uint64_t drc_checksum(const uint8_t *p, size_t len);

/* ---- exports (export.c) ----------------------------------------------- */

enum squash { SQUASH_ROOT = 0, SQUASH_NONE = 1, SQUASH_ALL = 2 };

struct export_rule {
	enum { M_ANY, M_HOST, M_CIDR4, M_CIDR6, M_WILD } kind;
	char pattern[256];    /* host name or wildcard, lower case */
	struct in6_addr addr; /* M_CIDR*: IPv4 as ::ffff:a.b.c.d */
	unsigned prefix;      /* bits (IPv4-mapped: 96 + v4 bits) */
	bool rw;
	enum squash squash;
	uint32_t anonuid, anongid;
	bool secure; /* require a port < 1024 */
	TAILQ_ENTRY(export_rule) link;
};
TAILQ_HEAD(export_rule_list, export_rule);

struct nfs_export {
	char path[1024];
	char clients[2048]; /* as given, for listing */
	struct wafl_vol *vol;
	uint32_t volid;
	uint16_t id; /* in every handle */
	struct export_rule_list rules;
	TAILQ_ENTRY(nfs_export) link;
};
TAILQ_HEAD(nfs_export_list, nfs_export);

/* Parses "client(opts) client(opts)"; -EINVAL with a message. */
int export_parse(const char *spec, struct export_rule_list *out, char *err, size_t errlen);
void export_rules_free(struct export_rule_list *l);
/* The first rule that matches the peer (NULL: not exported to it). */
const struct export_rule *export_match(const struct nfs_export *e,
				       const struct sockaddr_storage *peer);
/* The credential the file system sees, after squashing. */
void export_cred(const struct export_rule *r, const struct rpc_cred *rc, struct wafl_cred *out);
struct nfs_export *export_by_path(struct nfs_server *s, const char *path);
struct nfs_export *export_by_id(struct nfs_server *s, uint16_t id);

/* ---- file handles (fh.c) -------------------------------------------- */

/*
 * Wire layout of an NFSv3 file handle (40 bytes):
 *  off size field
 *    0    1 version   FH_VERSION
 *    1    1 flags     0
 *    2    2 export    export id (LE)
 *    4    4 volid     (LE)
 *    8    4 snapid    (LE)
 *   12    4 gen       (LE)
 *   16    8 ino       (LE)
 *   24   16 mac       HMAC-SHA256(secret, bytes 0..23), first 16 bytes
 */
#define FH_VERSION 1
#define FH_BYTES   40
void fh_make(const struct nfs_server *s, uint16_t export_id, const struct wafl_fh *fh,
	     uint8_t out[FH_BYTES]);
/* 0; -EBADMSG (not ours: length, version, MAC); -ESTALE (export gone). */
int fh_parse(struct nfs_server *s, const uint8_t *data, size_t len, struct nfs_export **ex,
	     struct wafl_fh *out);

/* ---- the server ------------------------------------------------------- */

struct nfs_server {
	struct nfs_config cfg;
	struct event_base *base;
	struct evconnlistener *tcp, *pmap_tcp;
	struct event *udp_ev, *pmap_udp_ev;
	int udp_fd, pmap_udp_fd;
	uint16_t port, pmap_port;
	struct nfs_export_list exports;
	uint16_t next_export_id;
	struct drc *drc;
	struct nfs_xfer_stats xfer;
	/* per program, per procedure counters */
	struct nfs_proc_stats nfs3_stats[22];
	struct nfs_proc_stats mnt_stats[6];
	TAILQ_HEAD(, rpc_conn) conns;
	/* nfs_rpc_listen_unix: other programs on UNIX sockets */
	TAILQ_HEAD(, rpc_unix) unix_listeners;
	/* MOUNT's DUMP list: who mounted what */
	TAILQ_HEAD(, mount_entry) mounts;
};

extern const struct rpc_program nfs3_program;
extern const struct rpc_program mount3_program;
extern const struct rpc_program pmap2_program;
extern const struct rpc_program rpcb3_program;
extern const struct rpc_program rpcb4_program;

/* mount.c: forget every client (server shutdown) */
void mount_forget_all(struct nfs_server *s);

/* rpc.c: listening */
int rpc_listen_tcp(struct nfs_server *s, const char *addr, uint16_t port,
		   struct evconnlistener **out, uint16_t *bound);
int rpc_listen_udp(struct nfs_server *s, const char *addr, uint16_t port, int *fd,
		   struct event **ev, uint16_t *bound);
void rpc_close_all(struct nfs_server *s);
/* Closes the UNIX listeners and removes their socket files (after
 * rpc_close_all). */
void rpc_unix_close_all(struct nfs_server *s);
/* Feeds one whole record (for the fuzz target and tests): as if it came
 * from peer on TCP; replies go to sink. */
typedef void (*rpc_sink_fn)(void *arg, const uint8_t *reply, size_t len);
void rpc_feed_record(struct nfs_server *s, const uint8_t *rec, size_t len, rpc_sink_fn sink,
		     void *arg);

#endif
