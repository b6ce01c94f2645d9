/*
 * portmap.c - the built-in port mapper (RFC 1833): portmap version 2
 * (GETPORT, DUMP) and rpcbind versions 3 and 4 (GETADDR, GETVERSADDR,
 * GETADDRLIST, DUMP, GETTIME), program 100000, served only when cfg.portmapper is on
 * (rpc.c checks), so that a plain `mount host:/vol/x` works on a machine
 * without rpcbind.
 *
 * It knows only the filer's own programs, derived from the program tables
 * so that it can never advertise a version that is not served:
 *   NFS    100003  nfs3_program's versions    on the NFS port
 *   MOUNT  100005  mount3_program's versions  on the NFS port
 *   PMAP   100000  versions 2, 3, 4           on the port mapper's port
 * each over TCP, and over UDP where it is served (NFS and MOUNT only with
 * cfg.udp; the port mapper always listens on both). SET and UNSET answer
 * FALSE: other programs on this host register with the system rpcbind,
 * which cannot run beside this one on port 111. CALLIT (v2), CALLIT/BCAST
 * and INDIRECT (v3/v4) are PROC_UNAVAIL: forwarding a small UDP call into
 * a larger reply to a spoofed source is an amplification vector, and
 * nothing the filer serves needs it. So are UADDR2TADDR and TADDR2UADDR,
 * which no client of ours asks, and GETSTAT (`rpcinfo -m`): this port
 * mapper keeps no statistics of its own. GETADDRLIST (`rpcinfo -l`) lists
 * the addresses of one (prog, vers) in the caller's address family.
 *
 * Lookups follow rpcbind: GETPORT and GETADDR answer for the asked version
 * if it is registered, else for any version of the program on that
 * transport, so that the client learns the served range from the server's
 * PROG_MISMATCH (rpcinfo(8) finds versions by calling version 0);
 * GETVERSADDR wants the exact version. Not registered: port 0, address "".
 *
 * Addresses: a registration exists for the address families the server
 * listens on: cfg.addr IPv4 gives the netids "tcp"/"udp", IPv6 gives
 * "tcp6"/"udp6", and "::" (dual-stack on Linux) gives all four. The
 * universal address ("h1.h2.h3.h4.p1.p2", or "ipv6-address.p1.p2") is
 * cfg.addr when that is a specific address. For a wildcard ("0.0.0.0",
 * "::") the address the client connected to would be right, but rpc.c does
 * not expose the connection's socket; instead it is the local address the
 * kernel routes to the client from (a connected UDP socket, no packet
 * sent), which is the same on any host with one address per route. When
 * that lookup fails it is the loopback address; a family the client did
 * not call in (an IPv4 client asking for "tcp6" on "::", or the reverse)
 * has no address: "" from GETADDR, left out of DUMP.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/pmap.h"

#define PMAP_MAX_REGS  64
#define PMAP_OWNER     "filer"
#define PMAP_UADDR_MAX (INET6_ADDRSTRLEN + 8) /* address + ".255.255" */

/* One registration, transport-level: (prog, vers) over TCP or UDP. */
struct pmap_reg {
	uint32_t prog, vers;
	uint32_t prot; /* FPM_IPPROTO_TCP or FPM_IPPROTO_UDP */
	uint16_t port;
};

static size_t add_prog(struct pmap_reg *r, size_t n, const struct rpc_program *p, bool udp,
		       uint16_t port)
{
	for (uint32_t v = p->vers_lo; v <= p->vers_hi && n + 2 <= PMAP_MAX_REGS; v++) {
		r[n++] = (struct pmap_reg){p->prog, v, FPM_IPPROTO_TCP, port};
		if (udp)
			r[n++] = (struct pmap_reg){p->prog, v, FPM_IPPROTO_UDP, port};
	}
	return n;
}

/* Everything the server serves, in the order DUMP lists it. */
static size_t pmap_regs(const struct nfs_server *s, struct pmap_reg r[PMAP_MAX_REGS])
{
	size_t n = 0;
	n = add_prog(r, n, &pmap2_program, true, s->pmap_port);
	n = add_prog(r, n, &rpcb3_program, true, s->pmap_port);
	n = add_prog(r, n, &rpcb4_program, true, s->pmap_port);
	n = add_prog(r, n, &nfs3_program, s->cfg.udp, s->port);
	n = add_prog(r, n, &mount3_program, s->cfg.udp, s->port);
	return n;
}

/* Exact version if registered, else (any_vers) any version of prog. */
static const struct pmap_reg *pmap_find(const struct pmap_reg *r, size_t n, uint32_t prog,
					uint32_t vers, uint32_t prot, bool any_vers)
{
	const struct pmap_reg *other = NULL;
	for (size_t i = 0; i < n; i++) {
		if (r[i].prog != prog || r[i].prot != prot)
			continue;
		if (r[i].vers == vers)
			return &r[i];
		if (!other)
			other = &r[i];
	}
	return any_vers ? other : NULL;
}

/* ---- addresses ----------------------------------------------------------- */

struct pmap_listen {
	bool v4, v6;	   /* families served */
	bool wild;	   /* bound to 0.0.0.0 or :: */
	struct in_addr a4; /* specific addresses */
	struct in6_addr a6;
};

static void pmap_listen_of(const struct nfs_server *s, struct pmap_listen *l)
{
	/* rpc.c listens on 127.0.0.1 when no address is configured */
	const char *addr = s->cfg.addr && *s->cfg.addr ? s->cfg.addr : "127.0.0.1";
	memset(l, 0, sizeof(*l));
	if (inet_pton(AF_INET, addr, &l->a4) == 1) {
		l->v4 = true;
		l->wild = l->a4.s_addr == htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, addr, &l->a6) == 1) {
		l->v6 = true;
		l->wild = IN6_IS_ADDR_UNSPECIFIED(&l->a6);
		l->v4 = l->wild; /* "::" takes IPv4 too (IPV6_V6ONLY is off) */
	}
}

/* The local address the kernel would answer the peer from. */
static bool local_toward(const struct rpc_call *c, struct sockaddr_storage *out)
{
	int fd = socket(c->peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	socklen_t len = sizeof(*out);
	bool ok = connect(fd, (const struct sockaddr *)&c->peer, c->peerlen) == 0 &&
		  getsockname(fd, (struct sockaddr *)out, &len) == 0;
	close(fd);
	return ok;
}

/* The addresses a calling client should use, per family. */
struct pmap_addrs {
	bool have4, have6;
	struct in_addr a4;
	struct in6_addr a6;
};

static void pmap_addrs_for(const struct rpc_call *c, const struct pmap_listen *l,
			   struct pmap_addrs *a)
{
	a->have4 = l->v4;
	a->have6 = l->v6;
	a->a4 = l->a4;
	a->a6 = l->a6;
	if (!l->wild)
		return;
	struct sockaddr_storage ss;
	if (!local_toward(c, &ss)) {
		a->a4.s_addr = htonl(INADDR_LOOPBACK);
		a->a6 = in6addr_loopback;
		return;
	}
	a->have4 = a->have6 = false;
	if (ss.ss_family == AF_INET) {
		a->a4 = ((struct sockaddr_in *)&ss)->sin_addr;
		a->have4 = l->v4;
	} else if (ss.ss_family == AF_INET6) {
		a->a6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a->a6)) {
			memcpy(&a->a4, &a->a6.s6_addr[12], 4);
			a->have4 = l->v4;
		} else {
			a->have6 = l->v6;
		}
	}
}

/* The universal address of port in family v6 (else IPv4). False: the
 * client has no address of ours in that family (see the top). */
static bool pmap_uaddr(const struct pmap_addrs *a, bool v6, uint16_t port, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (!(v6 ? a->have6 : a->have4) ||
	    !inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? (const void *)&a->a6 : (const void *)&a->a4,
		       host, sizeof(host)))
		return false;
	int n = snprintf(out, len, "%s.%u.%u", host, port >> 8, port & 0xffu);
	return n > 0 && (size_t)n < len;
}

/* netid → family and protocol. False: not one of ours. */
static bool pmap_netid(const char *netid, bool *v6, uint32_t *prot)
{
	static const struct {
		const char *name;
		bool v6;
		uint32_t prot;
	} ids[] = {
		{"tcp", false, FPM_IPPROTO_TCP},
		{"udp", false, FPM_IPPROTO_UDP},
		{"tcp6", true, FPM_IPPROTO_TCP},
		{"udp6", true, FPM_IPPROTO_UDP},
	};
	for (size_t i = 0; netid && i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (strcmp(netid, ids[i].name) == 0) {
			*v6 = ids[i].v6;
			*prot = ids[i].prot;
			return true;
		}
	}
	return false;
}

/* ---- flat list encoders (rpcgen's recurse once per element) ------------- */

static bool_t list_more(XDR *x, bool more)
{
	bool_t b = more ? TRUE : FALSE;
	return xdr_bool(x, &b);
}

static bool_t list_pmap(XDR *x, fpm_pmaplist_ptr *l)
{
	for (fpm_pmaplist *p = *l; p; p = p->next)
		if (!list_more(x, true) || !xdr_fpm_mapping(x, &p->map))
			return FALSE;
	return list_more(x, false);
}

static bool_t list_rpcb(XDR *x, fpm_rpcblist_ptr *l)
{
	for (fpm_rpcblist *p = *l; p; p = p->rpcb_next)
		if (!list_more(x, true) || !xdr_fpm_rpcb(x, &p->rpcb_map))
			return FALSE;
	return list_more(x, false);
}

/* ---- procedures, all versions ------------------------------------------- */

static void pmap_null(struct rpc_call *c)
{
	rpc_reply(c, NULL, NULL);
}

static void reply_bool(struct rpc_call *c, bool v)
{
	bool_t b = v ? TRUE : FALSE;
	rpc_reply(c, (xdrproc_t)xdr_bool, &b);
}

/* ---- portmap version 2 --------------------------------------------------- */

static void pmap2_set(struct rpc_call *c)
{
	fpm_mapping m = {0};
	if (rpc_decode(c, (xdrproc_t)xdr_fpm_mapping, &m))
		reply_bool(c, false);
}

static void pmap2_getport(struct rpc_call *c)
{
	fpm_mapping m = {0};
	if (!rpc_decode(c, (xdrproc_t)xdr_fpm_mapping, &m))
		return;
	struct pmap_reg r[PMAP_MAX_REGS];
	size_t n = pmap_regs(c->srv, r);
	const struct pmap_reg *hit = pmap_find(r, n, m.prog, m.vers, m.prot, true);
	u_int port = hit ? hit->port : 0;
	rpc_reply(c, (xdrproc_t)xdr_u_int, &port);
}

static void pmap2_dump(struct rpc_call *c)
{
	struct pmap_reg r[PMAP_MAX_REGS];
	size_t n = pmap_regs(c->srv, r);
	fpm_pmaplist l[PMAP_MAX_REGS];
	for (size_t i = 0; i < n; i++) {
		l[i].map = (fpm_mapping){r[i].prog, r[i].vers, r[i].prot, r[i].port};
		l[i].next = i + 1 < n ? &l[i + 1] : NULL;
	}
	fpm_pmaplist_ptr head = n ? l : NULL;
	rpc_reply(c, (xdrproc_t)list_pmap, &head);
}

/* ---- rpcbind versions 3 and 4 ------------------------------------------ */

static void rpcbind_set(struct rpc_call *c)
{
	fpm_rpcb b = {0};
	if (rpc_decode(c, (xdrproc_t)xdr_fpm_rpcb, &b))
		reply_bool(c, false);
}

static void rpcbind_lookup(struct rpc_call *c, bool any_vers)
{
	fpm_rpcb b = {0};
	if (!rpc_decode(c, (xdrproc_t)xdr_fpm_rpcb, &b))
		return;
	char addr[PMAP_UADDR_MAX] = "";
	bool v6;
	uint32_t prot;
	if (pmap_netid(b.r_netid, &v6, &prot)) {
		struct pmap_reg r[PMAP_MAX_REGS];
		size_t n = pmap_regs(c->srv, r);
		const struct pmap_reg *hit = pmap_find(r, n, b.r_prog, b.r_vers, prot, any_vers);
		struct pmap_listen l;
		struct pmap_addrs a;
		pmap_listen_of(c->srv, &l);
		pmap_addrs_for(c, &l, &a);
		if (!hit || !pmap_uaddr(&a, v6, hit->port, addr, sizeof(addr)))
			addr[0] = 0;
	}
	char *res = addr;
	rpc_reply(c, (xdrproc_t)xdr_wrapstring, &res);
}

static void rpcbind_getaddr(struct rpc_call *c)
{
	rpcbind_lookup(c, true);
}

static void rpcbind_getversaddr(struct rpc_call *c)
{
	rpcbind_lookup(c, false);
}

static void rpcbind_dump(struct rpc_call *c)
{
	struct pmap_reg r[PMAP_MAX_REGS];
	size_t n = pmap_regs(c->srv, r);
	struct pmap_listen l;
	struct pmap_addrs a;
	pmap_listen_of(c->srv, &l);
	pmap_addrs_for(c, &l, &a);
	static char *const netids[2][2] = {{"tcp", "udp"}, {"tcp6", "udp6"}};
	static char owner[] = PMAP_OWNER;
	fpm_rpcblist list[2 * PMAP_MAX_REGS];
	char addrs[2 * PMAP_MAX_REGS][PMAP_UADDR_MAX];
	fpm_rpcblist *head = NULL, **tail = &head;
	size_t k = 0;
	for (int fam = 0; fam < 2; fam++) {
		for (size_t i = 0; i < n; i++) {
			if (!pmap_uaddr(&a, fam, r[i].port, addrs[k], sizeof(addrs[k])))
				continue;
			fpm_rpcblist *e = &list[k];
			e->rpcb_map.r_prog = r[i].prog;
			e->rpcb_map.r_vers = r[i].vers;
			e->rpcb_map.r_netid = netids[fam][r[i].prot == FPM_IPPROTO_UDP];
			e->rpcb_map.r_addr = addrs[k];
			e->rpcb_map.r_owner = owner;
			e->rpcb_next = NULL;
			*tail = e;
			tail = &e->rpcb_next;
			k++;
		}
	}
	rpc_reply(c, (xdrproc_t)list_rpcb, &head);
}

static bool_t list_entries(XDR *x, fpm_rpcb_entry_list_ptr *l)
{
	for (fpm_rpcb_entry_list *p = *l; p; p = p->rpcb_entry_next)
		if (!list_more(x, true) || !xdr_fpm_rpcb_entry(x, &p->rpcb_entry_map))
			return FALSE;
	return list_more(x, false);
}

/* GETADDRLIST (v4): every address of exactly (prog, vers), in the address
 * family the client called from, as rpcbind does. */
static void rpcbind_getaddrlist(struct rpc_call *c)
{
	fpm_rpcb b = {0};
	if (!rpc_decode(c, (xdrproc_t)xdr_fpm_rpcb, &b))
		return;
	struct pmap_reg r[PMAP_MAX_REGS];
	size_t n = pmap_regs(c->srv, r);
	struct pmap_listen l;
	struct pmap_addrs a;
	pmap_listen_of(c->srv, &l);
	pmap_addrs_for(c, &l, &a);
	const struct in6_addr *p6 = &((const struct sockaddr_in6 *)&c->peer)->sin6_addr;
	bool v6 = c->peer.ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(p6);
	static char tcp[] = "tcp", udp[] = "udp", tcp6[] = "tcp6", udp6[] = "udp6";
	static char inet[] = "inet", inet6[] = "inet6";
	fpm_rpcb_entry_list list[PMAP_MAX_REGS];
	char addrs[PMAP_MAX_REGS][PMAP_UADDR_MAX];
	fpm_rpcb_entry_list *head = NULL, **tail = &head;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].prog != b.r_prog || r[i].vers != b.r_vers ||
		    !pmap_uaddr(&a, v6, r[i].port, addrs[k], sizeof(addrs[k])))
			continue;
		bool is_udp = r[i].prot == FPM_IPPROTO_UDP;
		fpm_rpcb_entry *e = &list[k].rpcb_entry_map;
		e->r_maddr = addrs[k];
		e->r_nc_netid = v6 ? (is_udp ? udp6 : tcp6) : (is_udp ? udp : tcp);
		e->r_nc_semantics = is_udp ? FPM_NC_TPI_CLTS : FPM_NC_TPI_COTS_ORD;
		e->r_nc_protofmly = v6 ? inet6 : inet;
		e->r_nc_proto = is_udp ? udp : tcp;
		list[k].rpcb_entry_next = NULL;
		*tail = &list[k];
		tail = &list[k].rpcb_entry_next;
		k++;
	}
	rpc_reply(c, (xdrproc_t)list_entries, &head);
}

static void rpcbind_gettime(struct rpc_call *c)
{
	u_int now = (u_int)time(NULL);
	rpc_reply(c, (xdrproc_t)xdr_u_int, &now);
}

/* ---- the programs -------------------------------------------------------- */

/* clang-format off */
static void (*const pmap2_procs[])(struct rpc_call *) = {
	[FPM_PMAPPROC_NULL] = pmap_null,
	[FPM_PMAPPROC_SET] = pmap2_set,
	[FPM_PMAPPROC_UNSET] = pmap2_set,
	[FPM_PMAPPROC_GETPORT] = pmap2_getport,
	[FPM_PMAPPROC_DUMP] = pmap2_dump,
	[FPM_PMAPPROC_CALLIT] = NULL,
};

static const char *const pmap2_names[] = {
	"null", "set", "unset", "getport", "dump", "callit",
};

static void (*const rpcbind3_procs[])(struct rpc_call *) = {
	[FPM_RPCBPROC_NULL] = pmap_null,
	[FPM_RPCBPROC_SET] = rpcbind_set,
	[FPM_RPCBPROC_UNSET] = rpcbind_set,
	[FPM_RPCBPROC_GETADDR] = rpcbind_getaddr,
	[FPM_RPCBPROC_DUMP] = rpcbind_dump,
	[FPM_RPCBPROC_CALLIT] = NULL,
	[FPM_RPCBPROC_GETTIME] = rpcbind_gettime,
	[FPM_RPCBPROC_UADDR2TADDR] = NULL,
	[FPM_RPCBPROC_TADDR2UADDR] = NULL,
};

static void (*const rpcbind4_procs[])(struct rpc_call *) = {
	[FPM_RPCBPROC_NULL] = pmap_null,
	[FPM_RPCBPROC_SET] = rpcbind_set,
	[FPM_RPCBPROC_UNSET] = rpcbind_set,
	[FPM_RPCBPROC_GETADDR] = rpcbind_getaddr,
	[FPM_RPCBPROC_DUMP] = rpcbind_dump,
	[FPM_RPCBPROC_BCAST] = NULL,
	[FPM_RPCBPROC_GETTIME] = rpcbind_gettime,
	[FPM_RPCBPROC_UADDR2TADDR] = NULL,
	[FPM_RPCBPROC_TADDR2UADDR] = NULL,
	[FPM_RPCBPROC_GETVERSADDR] = rpcbind_getversaddr,
	[FPM_RPCBPROC_INDIRECT] = NULL,
	[FPM_RPCBPROC_GETADDRLIST] = rpcbind_getaddrlist,
	[FPM_RPCBPROC_GETSTAT] = NULL,
};

/* clang-format on */

static const char *const rpcbind_names[] = {
	"null",	    "set",	   "unset",	  "getaddr",	 "dump",
	"callit",   "gettime",	   "uaddr2taddr", "taddr2uaddr", "getversaddr",
	"indirect", "getaddrlist", "getstat",
};

#define NPROCS(a) (uint32_t)(sizeof(a) / sizeof((a)[0]))
_Static_assert(NPROCS(pmap2_names) >= NPROCS(pmap2_procs), "a name per procedure");
_Static_assert(NPROCS(rpcbind_names) >= NPROCS(rpcbind4_procs), "a name per procedure");

const struct rpc_program pmap2_program = {
	.prog = FPM_PROG,
	.vers_lo = FPM_PMAP_VERS,
	.vers_hi = FPM_PMAP_VERS,
	.procs = pmap2_procs,
	.nprocs = NPROCS(pmap2_procs),
	.names = pmap2_names,
	.cacheable = NULL,
};

const struct rpc_program rpcb3_program = {
	.prog = FPM_PROG,
	.vers_lo = FPM_RPCB_VERS,
	.vers_hi = FPM_RPCB_VERS,
	.procs = rpcbind3_procs,
	.nprocs = NPROCS(rpcbind3_procs),
	.names = rpcbind_names,
	.cacheable = NULL,
};

const struct rpc_program rpcb4_program = {
	.prog = FPM_PROG,
	.vers_lo = FPM_RPCB_VERS4,
	.vers_hi = FPM_RPCB_VERS4,
	.procs = rpcbind4_procs,
	.nprocs = NPROCS(rpcbind4_procs),
	.names = rpcbind_names,
	.cacheable = NULL,
};
