/*
 * mount.c - MOUNT (RFC 1813 appendix I), program 100005.
 *
 * Version 3 is the one that matters: MNT hands out the root handle of an
 * export, the same 40-byte handle NFSv3 uses (fh.c). Versions 1 and 2 are
 * answered too, because showmount(8) asks version 1 for EXPORT and DUMP and
 * those, like NULL, UMNT and UMNTALL, have the same wire format in every
 * version. MNT in versions 1 and 2 would have to return a 32-byte NFSv2
 * handle for a protocol this server does not speak: PROC_UNAVAIL.
 *
 * MNT checks what NFS checks again on every call (the export exists, the
 * client matches a rule, `secure` rules want a port below 1024): a client
 * that skips MOUNT and guesses a handle gets nothing it could not get here,
 * and a forged one fails its MAC.
 *
 * The mount list (DUMP) is advisory, as in every NFS server: clients that
 * crash never send UMNT. It is kept in memory only, keyed by the client's
 * address as the server sees it (not the AUTH_SYS machine name, which the
 * client chooses and AUTH_NONE calls lack) and the export's path, without
 * duplicates, and capped at MOUNT_LIST_MAX entries: past that, MNT still
 * succeeds but the mount is not listed (logged once).
 *
 * Lists go out through flat XDR loops (list_*) rather than rpcgen's
 * routines, which recurse once per element; the bytes are the same.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/mount3.h"

#define MOUNT_LIST_MAX 4096

struct mount_entry {
	char host[INET6_ADDRSTRLEN]; /* the client's address, IPv4 as a.b.c.d */
	char path[MNTPATHLEN + 1];   /* the export's path, canonical */
	TAILQ_ENTRY(mount_entry) link;
};

/* ---- helpers ------------------------------------------------------------ */

/* The peer's address as text; IPv4-mapped IPv6 addresses as plain IPv4. */
static void peer_host(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void *a = NULL;
	int af = ss->ss_family;
	if (af == AF_INET) {
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	} else if (af == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			af = AF_INET;
			a = &a6->s6_addr[12];
		} else {
			a = a6;
		}
	}
	if (!a || !inet_ntop(af, a, out, (socklen_t)len))
		snprintf(out, len, "unknown");
}

/* Runs of '/' as one, no trailing '/' (except for "/" itself): the form
 * mount entries are kept and compared in. False: too long. */
static bool path_canon(const char *in, char *out, size_t len)
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (*p == '/' && n && out[n - 1] == '/')
			continue;
		if (n + 1 >= len)
			return false;
		out[n++] = *p;
	}
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = 0;
	return true;
}

static struct mount_entry *mount_find(struct nfs_server *s, const char *host, const char *path,
				      size_t *count)
{
	struct mount_entry *m, *hit = NULL;
	size_t n = 0;
	TAILQ_FOREACH(m, &s->mounts, link)
	{
		n++;
		if (!hit && strcmp(m->host, host) == 0 && strcmp(m->path, path) == 0)
			hit = m;
	}
	if (count)
		*count = n;
	return hit;
}

static void mount_record(struct nfs_server *s, const char *host, const char *path)
{
	static bool warned;
	size_t n;
	if (mount_find(s, host, path, &n))
		return;
	struct mount_entry *m = n < MOUNT_LIST_MAX ? calloc(1, sizeof(*m)) : NULL;
	if (!m) {
		/* the list is advisory: the mount works, DUMP just omits it */
		if (!warned)
			fprintf(stderr, "nfs: mount list %s (%zu entries): %s:%s not listed\n",
				n < MOUNT_LIST_MAX ? "out of memory" : "full", n, host, path);
		warned = true;
		return;
	}
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->path, sizeof(m->path), "%s", path);
	TAILQ_INSERT_TAIL(&s->mounts, m, link);
}

void mount_forget_all(struct nfs_server *s)
{
	struct mount_entry *m;
	while ((m = TAILQ_FIRST(&s->mounts))) {
		TAILQ_REMOVE(&s->mounts, m, link);
		free(m);
	}
}

/* ---- flat list encoders ------------------------------------------------- */

static bool_t list_more(XDR *x, bool more)
{
	bool_t b = more ? TRUE : FALSE;
	return xdr_bool(x, &b);
}

static bool_t list_mounts(XDR *x, mnt3_mountlist *l)
{
	for (mnt3_mountbody *b = *l; b; b = b->ml_next)
		if (!list_more(x, true) || !xdr_mnt3_name(x, &b->ml_hostname) ||
		    !xdr_mnt3_dirpath(x, &b->ml_directory))
			return FALSE;
	return list_more(x, false);
}

static bool_t list_exports(XDR *x, mnt3_exports *l)
{
	for (mnt3_exportnode *e = *l; e; e = e->ex_next) {
		if (!list_more(x, true) || !xdr_mnt3_dirpath(x, &e->ex_dir))
			return FALSE;
		for (mnt3_groupnode *g = e->ex_groups; g; g = g->gr_next)
			if (!list_more(x, true) || !xdr_mnt3_name(x, &g->gr_name))
				return FALSE;
		if (!list_more(x, false))
			return FALSE;
	}
	return list_more(x, false);
}

/* ---- procedures --------------------------------------------------------- */

static void mount_null(struct rpc_call *c)
{
	rpc_reply(c, NULL, NULL);
}

static void mount_mnt(struct rpc_call *c)
{
	if (c->vers != 3) {
		rpc_reply_accept_err(c, PROC_UNAVAIL, 0, 0);
		return;
	}
	mnt3_dirpath path = NULL;
	if (!rpc_decode(c, (xdrproc_t)xdr_mnt3_dirpath, &path))
		return;
	mountres3 res = {.fhs_status = MNT3_OK};
	char host[INET6_ADDRSTRLEN];
	peer_host(&c->peer, host, sizeof(host));
	struct nfs_export *e = export_by_path(c->srv, path);
	const struct export_rule *r = e ? export_match(e, &c->peer) : NULL;
	struct wafl_fh root;
	uint8_t fh[FH_BYTES];
	static int flavors[] = {AUTH_SYS_FLAVOR, AUTH_NONE_FLAVOR};
	char canon[MNTPATHLEN + 1];
	int rc;
	if (!e) {
		res.fhs_status = MNT3ERR_NOENT;
	} else if (!r) {
		res.fhs_status = MNT3ERR_ACCES;
	} else if (r->secure && rpc_peer_port(c) >= 1024) {
		/* the usual surprise: a client behind NAT, or a user-space one */
		fprintf(stderr,
			"nfs: mount of %s from %s port %u refused: the export is `secure` "
			"(wants a port < 1024); add `insecure` to allow it\n",
			e->path, host, rpc_peer_port(c));
		res.fhs_status = MNT3ERR_ACCES;
	} else if ((rc = wafl_root(e->vol, &root))) {
		res.fhs_status = rc == -EIO ? MNT3ERR_IO : MNT3ERR_SERVERFAULT;
	} else {
		fh_make(c->srv, e->id, &root, fh);
		res.mountres3_u.mountinfo.fhandle.fhandle3_len = FH_BYTES;
		res.mountres3_u.mountinfo.fhandle.fhandle3_val = (char *)fh;
		res.mountres3_u.mountinfo.auth_flavors.auth_flavors_len = 2;
		res.mountres3_u.mountinfo.auth_flavors.auth_flavors_val = flavors;
		if (path_canon(e->path, canon, sizeof(canon)))
			mount_record(c->srv, host, canon);
	}
	rpc_reply(c, (xdrproc_t)xdr_mountres3, &res);
}

static void mount_dump(struct rpc_call *c)
{
	size_t n = 0;
	struct mount_entry *m;
	TAILQ_FOREACH(m, &c->srv->mounts, link)
	{
		n++;
	}
	mnt3_mountbody *body = calloc(n ? n : 1, sizeof(*body));
	if (!body) {
		rpc_reply_accept_err(c, SYSTEM_ERR, 0, 0);
		return;
	}
	size_t i = 0;
	TAILQ_FOREACH(m, &c->srv->mounts, link)
	{
		body[i].ml_hostname = m->host;
		body[i].ml_directory = m->path;
		body[i].ml_next = i + 1 < n ? &body[i + 1] : NULL;
		i++;
	}
	mnt3_mountlist list = n ? body : NULL;
	rpc_reply(c, (xdrproc_t)list_mounts, &list);
	free(body);
}

static void mount_umnt(struct rpc_call *c)
{
	mnt3_dirpath path = NULL;
	if (!rpc_decode(c, (xdrproc_t)xdr_mnt3_dirpath, &path))
		return;
	char host[INET6_ADDRSTRLEN], canon[MNTPATHLEN + 1];
	peer_host(&c->peer, host, sizeof(host));
	struct mount_entry *m;
	if (path_canon(path, canon, sizeof(canon)) && (m = mount_find(c->srv, host, canon, NULL))) {
		TAILQ_REMOVE(&c->srv->mounts, m, link);
		free(m);
	}
	rpc_reply(c, NULL, NULL);
}

static void mount_umntall(struct rpc_call *c)
{
	char host[INET6_ADDRSTRLEN];
	peer_host(&c->peer, host, sizeof(host));
	struct mount_entry *m, *next;
	TAILQ_FOREACH_SAFE(m, &c->srv->mounts, link, next)
	{
		if (strcmp(m->host, host) == 0) {
			TAILQ_REMOVE(&c->srv->mounts, m, link);
			free(m);
		}
	}
	rpc_reply(c, NULL, NULL);
}

/* The next client item of an export spec: its pattern (the text before
 * '(') at *pat, *patlen bytes; advances *p. False at the end. */
static bool next_client(const char **p, const char **pat, size_t *patlen)
{
	*p += strspn(*p, " \t\r\n");
	size_t len = strcspn(*p, " \t\r\n");
	if (!len)
		return false;
	size_t name = strcspn(*p, "(");
	*pat = *p;
	*patlen = name < len ? name : len;
	*p += len;
	return true;
}

/*
 * EXPORT: every export with the client patterns of its spec as groups, as
 * the administrator wrote them (the text before each '('), not as parsed:
 * a host name parses into one rule per address, and showmount -e should
 * show the name. One block holds the nodes and the names.
 */
static void mount_export(struct rpc_call *c)
{
	struct nfs_server *s = c->srv;
	size_t nex = 0, ngr = 0, text = 0, len;
	const char *p, *pat;
	struct nfs_export *e;
	TAILQ_FOREACH(e, &s->exports, link)
	{
		nex++;
		for (p = e->clients; next_client(&p, &pat, &len);)
			ngr++;
		text += strlen(e->clients);
	}
	/* each name is at most its item's length, plus a NUL */
	size_t bytes = nex * sizeof(mnt3_exportnode) + ngr * sizeof(mnt3_groupnode) + text + ngr;
	void *block = calloc(1, bytes ? bytes : 1);
	if (!block) {
		rpc_reply_accept_err(c, SYSTEM_ERR, 0, 0);
		return;
	}
	mnt3_exportnode *ex = block, *head = NULL, **tail = &head;
	mnt3_groupnode *gr = (mnt3_groupnode *)(ex + nex);
	char *names = (char *)(gr + ngr);
	TAILQ_FOREACH(e, &s->exports, link)
	{
		mnt3_exportnode *n = ex++;
		n->ex_dir = e->path;
		mnt3_groupnode **gt = &n->ex_groups;
		for (p = e->clients; next_client(&p, &pat, &len);) {
			/* "(opts)" alone is exports(5)'s "everyone"; a name over
			 * MNTNAMLEN would fail the whole reply: cut it, it is
			 * only a listing */
			if (!len) {
				pat = "*";
				len = 1;
			}
			if (len > MNTNAMLEN)
				len = MNTNAMLEN;
			memcpy(names, pat, len);
			gr->gr_name = names;
			names += len + 1;
			*gt = gr;
			gt = &gr->gr_next;
			gr++;
		}
		*tail = n;
		tail = &n->ex_next;
	}
	rpc_reply(c, (xdrproc_t)list_exports, &head);
	free(block);
}

static void (*const mount_procs[])(struct rpc_call *) = {
	mount_null, mount_mnt, mount_dump, mount_umnt, mount_umntall, mount_export,
};

static const char *const mount_names[] = {
	"null", "mnt", "dump", "umnt", "umntall", "export",
};

_Static_assert(sizeof(mount_procs) / sizeof(mount_procs[0]) ==
		       sizeof(mount_names) / sizeof(mount_names[0]),
	       "one name per procedure");

const struct rpc_program mount3_program = {
	.prog = MOUNT_PROGRAM,
	.vers_lo = 1,
	.vers_hi = MOUNT_V3,
	.procs = mount_procs,
	.nprocs = sizeof(mount_procs) / sizeof(mount_procs[0]),
	.names = mount_names,
	.cacheable = NULL,
};
