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

#endif
