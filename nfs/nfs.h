/*
 * nfs.h - the whole public interface of the NFS server: ONC RPC over TCP
 * and UDP, NFSv3, MOUNT v3, an optional built-in portmapper, exports and
 * signed file handles, on top of wafl/'s volume API.
 *
 * Everything runs on the thread that owns the event_base; replies that
 * promise stability wait (without blocking) for wafl/ to say the change
 * is durable.
 */
#ifndef NFS_NFS_H
#define NFS_NFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rpc/types.h> /* libtirpc: consumers compile with its include path */
#include <rpc/xdr.h>

struct event_base;
struct wafl_vol;
struct nfs_server;

#define NFS_SECRET_BYTES 32

struct nfs_config {
	struct event_base *base;
	const char *addr;		  /* listen address, e.g. "127.0.0.1" or "::1" */
	uint16_t port;			  /* NFS and MOUNT; 0 = any free port */
	bool udp;			  /* also serve UDP on the same port */
	bool portmapper;		  /* serve portmap v2 / rpcbind v3,v4 ... */
	uint16_t portmap_port;		  /* ... on this port (111; 0 = any, for tests) */
	uint8_t secret[NFS_SECRET_BYTES]; /* keys the file handle MACs */
	uint64_t boot_verifier;		  /* changes every start: the WRITE verifier */
	size_t max_record_bytes;	  /* 0 = default (1 MiB + headers) */
	size_t max_conn_out_bytes;	  /* stop reading a connection past this; 0 = 8 MiB */
};

int nfs_server_new(const struct nfs_config *cfg, struct nfs_server **out);
void nfs_server_free(struct nfs_server *s);
uint16_t nfs_server_port(struct nfs_server *s);
uint16_t nfs_server_portmap_port(struct nfs_server *s);

/* Exports a volume's root as `path` (e.g. "/vol/vol0") to the clients
 * `clients` in exports(5) syntax: "127.0.0.1(rw,insecure,no_root_squash)
 * 10.0.0.0/8(ro) *.example.com(rw,all_squash,anonuid=99,anongid=99)".
 * Returns 0, -EEXIST, or -EINVAL (with a message in err). */
int nfs_export_add(struct nfs_server *s, const char *path, struct wafl_vol *vol,
		   const char *clients, char *err, size_t errlen);
int nfs_export_remove(struct nfs_server *s, const char *path);
/* Drops every export whose volume is v (before the volume goes away). */
void nfs_export_remove_vol(struct nfs_server *s, struct wafl_vol *v);

/* Calls fn once per export. */
typedef void (*nfs_export_fn)(void *arg, const char *path, const char *clients,
			      struct wafl_vol *vol);
void nfs_export_list(struct nfs_server *s, nfs_export_fn fn, void *arg);

/* Per-procedure counters, for filerctl stats and metrics. */
struct nfs_proc_stats {
	const char *name;
	uint64_t calls;
	uint64_t errors;
	uint64_t usec_total;
	uint64_t usec_max;
};
/* Fills up to n entries (NFSv3 NULL..COMMIT, then MOUNT); returns how many. */
size_t nfs_stats(struct nfs_server *s, struct nfs_proc_stats *out, size_t n);

struct nfs_xfer_stats {
	uint64_t bytes_read, bytes_written;
	uint64_t connections, connections_open;
	uint64_t rpc_calls, rpc_garbage, drc_hits;
};
void nfs_xfer_stats(struct nfs_server *s, struct nfs_xfer_stats *out);

/* ---- hosting another RPC program ------------------------------------ */

/*
 * The server's RPC machinery (record marking, dispatch, XDR, replies,
 * back-pressure) can serve a program of the caller's on a UNIX-domain
 * stream socket: the filer's control program is one. Only that program
 * (and only its one version) is answered on that socket, and NFS is never
 * answered there.
 *
 * Who may connect: the socket file's mode (and group) is the first guard.
 * A peer whose SO_PEERCRED uid is neither 0 nor the server's effective
 * uid, and which is not a member of gid (when gid is not (gid_t)-1), gets
 * AUTH_ERROR (AUTH_TOOWEAK) to its first call and the connection closed.
 *
 * A procedure gets the call and the program's arg; it must answer the
 * call exactly once, now or later (nfs_rpc_reply), after which the call
 * is gone. A call answered after its connection closed is dropped.
 */
struct nfs_rpc_call;
typedef void (*nfs_rpc_proc_fn)(struct nfs_rpc_call *c, void *arg);
struct nfs_rpc_program {
	uint32_t prog, vers;
	uint32_t nprocs;	      /* procedures 0..nprocs-1 */
	const nfs_rpc_proc_fn *procs; /* NULL slots answer PROC_UNAVAIL; must outlive s */
	void *arg;
};

/* Listens on path (a stale socket file there is removed first; any other
 * kind of file is -EEXIST) with the file's mode and group (gid (gid_t)-1:
 * unchanged). The file is removed when the server is freed. */
int nfs_rpc_listen_unix(struct nfs_server *s, const char *path, mode_t mode, gid_t gid,
			const struct nfs_rpc_program *p);
/* Stops listening on path: closes its connections (calls still being
 * answered are dropped when they are) and removes the file. */
void nfs_rpc_close_unix(struct nfs_server *s, const char *path);
/* Decodes the call's arguments into obj, which the caller has zeroed and
 * which must live until the call is answered (what XDR allocated in it is
 * freed then). False: garbage; the call was answered GARBAGE_ARGS and is
 * gone. */
bool nfs_rpc_args(struct nfs_rpc_call *c, xdrproc_t proc, void *obj);
/* Answers SUCCESS with res (encoded now: res may go away after); frees the
 * call. A res that does not encode is answered SYSTEM_ERR instead. */
void nfs_rpc_reply(struct nfs_rpc_call *c, xdrproc_t proc, const void *res);
/* Answers SYSTEM_ERR (e.g. out of memory); frees the call. */
void nfs_rpc_reply_system_err(struct nfs_rpc_call *c);
/* The connected peer's uid (SO_PEERCRED). 0 or -errno. */
int nfs_rpc_peer_uid(struct nfs_rpc_call *c, uid_t *uid);

#endif
