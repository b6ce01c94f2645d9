/*
 * test_portmap.c - the built-in port mapper against a real in-process
 * server, through libtirpc's client: portmap v2 GETPORT and DUMP, rpcbind
 * v3/v4 GETADDR, GETVERSADDR, DUMP and GETTIME, SET/UNSET refused,
 * CALLIT and other procedures unavailable, version ranges, the universal
 * addresses for specific, wildcard and IPv6 listen addresses, and the
 * port mapper switched off.
 *
 * Interop: rpcinfo(8) against the server's ports (-n, -a), and, where the
 * test may make a network namespace (root), a server on the real ports
 * 111 and 2049 inside one, asked by `rpcinfo -p/-s/-l`, version discovery,
 * `showmount -e/-a`, libtirpc's rpcb_getaddr and pmap_getport, and libnfs's
 * nfs-ls. Missing tools skip with a message.
 *
 * The server runs on a thread of its own with its own event_base.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/mount3.h"
#include "nfs/proto/pmap.h"
#include "tests/lib/wtest.h"

/* ---- an in-process server on its own thread ------------------------------ */

struct psrv {
	bool up;
	struct wt t;
	struct nfs_server *s;
	pthread_t thr;
	int stop_fd;
	struct event *stop_ev;
	uint16_t port, pmport;
};

static void psrv_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	event_base_loopbreak(arg);
}

static void *psrv_loop(void *arg)
{
	struct psrv *p = arg;
	event_base_dispatch(p->t.base);
	return NULL;
}

/* A server on addr (NFS port nport, port mapper pport; 0 = any), /vol/vol0
 * exported to 127.0.0.1 and 10/8. Returns -errno from nfs_server_new
 * (e.g. no IPv6) without asserting. */
static int psrv_start(struct psrv *p, const char *addr, bool udp, bool portmapper, uint16_t nport,
		      uint16_t pport)
{
	memset(p, 0, sizeof(*p));
	p->stop_fd = -1;
	cr_assert_eq(wt_make(&p->t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	p->up = true;
	struct nfs_config cfg = {
		.base = p->t.base,
		.addr = addr,
		.port = nport,
		.udp = udp,
		.portmapper = portmapper,
		.portmap_port = pport,
		.boot_verifier = 1,
	};
	memset(cfg.secret, 9, sizeof(cfg.secret));
	int rc = nfs_server_new(&cfg, &p->s);
	if (rc)
		return rc;
	p->port = nfs_server_port(p->s);
	p->pmport = nfs_server_portmap_port(p->s);
	char err[256] = "";
	cr_assert_eq(nfs_export_add(p->s, "/vol/vol0", p->t.v,
				    "127.0.0.1(rw,insecure,no_root_squash) 10.0.0.0/8(ro)", err,
				    sizeof(err)),
		     0, "%s", err);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert(p->stop_fd >= 0);
	p->stop_ev =
		event_new(p->t.base, p->stop_fd, EV_READ | EV_PERSIST, psrv_stop_cb, p->t.base);
	event_add(p->stop_ev, NULL);
	cr_assert_eq(pthread_create(&p->thr, NULL, psrv_loop, p), 0);
	return 0;
}

static void psrv_free(struct psrv *p)
{
	if (!p->up)
		return;
	if (p->stop_fd >= 0) {
		uint64_t one = 1;
		(void)!write(p->stop_fd, &one, sizeof(one));
		pthread_join(p->thr, NULL);
		event_free(p->stop_ev);
		close(p->stop_fd);
	}
	nfs_server_free(p->s);
	wt_close(&p->t);
	wt_destroy(&p->t);
	p->up = false;
}

static struct psrv P;

static void teardown(void)
{
	psrv_free(&P);
}

TestSuite(portmap, .fini = teardown, .timeout = 60);

static void start_default(void)
{
	cr_assert_eq(psrv_start(&P, "127.0.0.1", true, true, 0, 0), 0);
}

/* ---- clients ------------------------------------------------------------- */

static const struct timeval TMO = {10, 0};

static bool_t xdr_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}

static CLIENT *client(int af, const char *host, uint16_t port, uint32_t vers, bool udp)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET, host, &s4->sin_addr), 1);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET6, host, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	}
	struct netbuf nb = {.maxlen = len, .len = len, .buf = &ss};
	struct netconfig *nc =
		getnetconfigent(af == AF_INET ? (udp ? "udp" : "tcp") : (udp ? "udp6" : "tcp6"));
	cr_assert_not_null(nc);
	CLIENT *cl = clnt_tli_create(RPC_ANYFD, nc, &nb, FPM_PROG, vers, 0, 0);
	freenetconfigent(nc);
	cr_assert_not_null(cl, "%s", clnt_spcreateerror("clnt_tli_create"));
	return cl;
}

static CLIENT *pm_client(uint32_t vers)
{
	return client(AF_INET, "127.0.0.1", P.pmport, vers, false);
}

static u_int getport(CLIENT *cl, uint32_t prog, uint32_t vers, uint32_t prot)
{
	fpm_mapping m = {prog, vers, prot, 0};
	u_int port = 12345;
	enum clnt_stat st = clnt_call(cl, FPM_PMAPPROC_GETPORT, (xdrproc_t)xdr_fpm_mapping,
				      (char *)&m, (xdrproc_t)xdr_u_int, (char *)&port, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "GETPORT: %s", clnt_sperrno(st));
	return port;
}

/* GETADDR (or GETVERSADDR) into out. */
static void getaddr(CLIENT *cl, uint32_t proc, uint32_t prog, uint32_t vers, const char *netid,
		    char *out, size_t len)
{
	fpm_rpcb b = {prog, vers, (char *)netid, "", ""};
	char *res = NULL;
	enum clnt_stat st = clnt_call(cl, proc, (xdrproc_t)xdr_fpm_rpcb, (char *)&b,
				      (xdrproc_t)xdr_wrapstring, (char *)&res, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "GETADDR: %s", clnt_sperrno(st));
	snprintf(out, len, "%s", res);
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&res);
}

static void uaddr(const char *host, uint16_t port, char *out, size_t len)
{
	snprintf(out, len, "%s.%u.%u", host, port >> 8, port & 255);
}

static enum clnt_stat call_null(CLIENT *cl, uint32_t proc)
{
	return clnt_call(cl, proc, (xdrproc_t)xdr_nothing, NULL, (xdrproc_t)xdr_nothing, NULL, TMO);
}

/* ---- portmap version 2 ----------------------------------------------------- */

Test(portmap, getport_answers_the_filer_programs)
{
	start_default();
	CLIENT *cl = pm_client(2);
	cr_assert_eq(call_null(cl, FPM_PMAPPROC_NULL), RPC_SUCCESS);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_TCP), P.port);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_UDP), P.port);
	cr_assert_eq(getport(cl, 100005, 3, FPM_IPPROTO_TCP), P.port);
	cr_assert_eq(getport(cl, 100005, 1, FPM_IPPROTO_UDP), P.port);
	cr_assert_eq(getport(cl, 100000, 2, FPM_IPPROTO_TCP), P.pmport);
	cr_assert_eq(getport(cl, 100000, 4, FPM_IPPROTO_UDP), P.pmport);
	cr_assert_neq(P.port, P.pmport);
	/* not ours, or not a protocol */
	cr_assert_eq(getport(cl, 100021, 4, FPM_IPPROTO_TCP), 0); /* NLM */
	cr_assert_eq(getport(cl, 123456, 1, FPM_IPPROTO_TCP), 0);
	cr_assert_eq(getport(cl, 100003, 3, 132), 0);
	/* like rpcbind: another version of a registered program gets its
	 * port, so that the client hears the range from the program itself */
	cr_assert_eq(getport(cl, 100003, 4, FPM_IPPROTO_TCP), P.port);
	clnt_destroy(cl);

	/* over UDP too */
	cl = client(AF_INET, "127.0.0.1", P.pmport, 2, true);
	cr_assert_eq(getport(cl, 100005, 3, FPM_IPPROTO_UDP), P.port);
	clnt_destroy(cl);
}

Test(portmap, getport_without_udp)
{
	cr_assert_eq(psrv_start(&P, "127.0.0.1", false, true, 0, 0), 0);
	CLIENT *cl = pm_client(2);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_TCP), P.port);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_UDP), 0);
	cr_assert_eq(getport(cl, 100005, 3, FPM_IPPROTO_UDP), 0);
	cr_assert_eq(getport(cl, 100000, 2, FPM_IPPROTO_UDP), P.pmport);
	clnt_destroy(cl);
}

Test(portmap, pmap_dump_lists_every_mapping)
{
	start_default();
	CLIENT *cl = pm_client(2);
	fpm_pmaplist_ptr l = NULL;
	enum clnt_stat st = clnt_call(cl, FPM_PMAPPROC_DUMP, (xdrproc_t)xdr_nothing, NULL,
				      (xdrproc_t)xdr_fpm_pmaplist_ptr, (char *)&l, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "%s", clnt_sperrno(st));
	char got[2048] = "", want[2048] = "";
	for (fpm_pmaplist *e = l; e; e = e->next)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%u/%u/%u/%u ", e->map.prog,
			 e->map.vers, e->map.prot, e->map.port);
	xdr_free((xdrproc_t)xdr_fpm_pmaplist_ptr, (char *)&l);
	const struct {
		uint32_t prog, lo, hi;
		uint16_t port;
	} progs[] = {{100000, 2, 4, P.pmport}, {100003, 3, 3, P.port}, {100005, 1, 3, P.port}};
	for (size_t i = 0; i < 3; i++)
		for (uint32_t v = progs[i].lo; v <= progs[i].hi; v++)
			for (int u = 0; u < 2; u++)
				snprintf(want + strlen(want), sizeof(want) - strlen(want),
					 "%u/%u/%u/%u ", progs[i].prog, v, u ? 17 : 6,
					 progs[i].port);
	cr_assert_str_eq(got, want);
	clnt_destroy(cl);
}

Test(portmap, set_and_unset_are_refused)
{
	start_default();
	CLIENT *cl = pm_client(2);
	fpm_mapping m = {200000, 1, FPM_IPPROTO_TCP, 999};
	bool_t ok = TRUE;
	cr_assert_eq(clnt_call(cl, FPM_PMAPPROC_SET, (xdrproc_t)xdr_fpm_mapping, (char *)&m,
			       (xdrproc_t)xdr_bool, (char *)&ok, TMO),
		     RPC_SUCCESS);
	cr_assert_eq(ok, FALSE);
	cr_assert_eq(getport(cl, 200000, 1, FPM_IPPROTO_TCP), 0);
	m = (fpm_mapping){100003, 3, FPM_IPPROTO_TCP, 0};
	ok = TRUE;
	cr_assert_eq(clnt_call(cl, FPM_PMAPPROC_UNSET, (xdrproc_t)xdr_fpm_mapping, (char *)&m,
			       (xdrproc_t)xdr_bool, (char *)&ok, TMO),
		     RPC_SUCCESS);
	cr_assert_eq(ok, FALSE);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_TCP), P.port);
	clnt_destroy(cl);

	cl = pm_client(4);
	fpm_rpcb b = {200000, 1, "tcp", "127.0.0.1.3.231", "me"};
	ok = TRUE;
	cr_assert_eq(clnt_call(cl, FPM_RPCBPROC_SET, (xdrproc_t)xdr_fpm_rpcb, (char *)&b,
			       (xdrproc_t)xdr_bool, (char *)&ok, TMO),
		     RPC_SUCCESS);
	cr_assert_eq(ok, FALSE);
	clnt_destroy(cl);
}

/* ---- rpcbind versions 3 and 4 -------------------------------------------- */

Test(portmap, getaddr_gives_universal_addresses)
{
	start_default();
	char nfs[64], pm[64], got[128];
	uaddr("127.0.0.1", P.port, nfs, sizeof(nfs));
	uaddr("127.0.0.1", P.pmport, pm, sizeof(pm));
	for (uint32_t v = 3; v <= 4; v++) {
		CLIENT *cl = pm_client(v);
		cr_assert_eq(call_null(cl, FPM_RPCBPROC_NULL), RPC_SUCCESS);
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp", got, sizeof(got));
		cr_assert_str_eq(got, nfs);
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "udp", got, sizeof(got));
		cr_assert_str_eq(got, nfs);
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100005, 3, "tcp", got, sizeof(got));
		cr_assert_str_eq(got, nfs);
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100000, v, "udp", got, sizeof(got));
		cr_assert_str_eq(got, pm);
		/* any version, as rpcbind does (rpcinfo finds versions so) */
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 0, "tcp", got, sizeof(got));
		cr_assert_str_eq(got, nfs);
		/* not registered: "" */
		getaddr(cl, FPM_RPCBPROC_GETADDR, 123456, 1, "tcp", got, sizeof(got));
		cr_assert_str_eq(got, "");
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp6", got, sizeof(got));
		cr_assert_str_eq(got, ""); /* an IPv4-only server */
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "rdma", got, sizeof(got));
		cr_assert_str_eq(got, "");
		getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "", got, sizeof(got));
		cr_assert_str_eq(got, "");
		clnt_destroy(cl);
	}
	/* GETVERSADDR (v4) wants the exact version */
	CLIENT *cl = pm_client(4);
	getaddr(cl, FPM_RPCBPROC_GETVERSADDR, 100003, 3, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, nfs);
	getaddr(cl, FPM_RPCBPROC_GETVERSADDR, 100003, 4, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, "");
	getaddr(cl, FPM_RPCBPROC_GETVERSADDR, 100005, 1, "udp", got, sizeof(got));
	cr_assert_str_eq(got, nfs);
	clnt_destroy(cl);
}

/* The rpcbind DUMP as "prog/vers/netid/addr/owner " lines. */
static void rpcb_dump_str(CLIENT *cl, char *out, size_t len)
{
	fpm_rpcblist_ptr l = NULL;
	enum clnt_stat st = clnt_call(cl, FPM_RPCBPROC_DUMP, (xdrproc_t)xdr_nothing, NULL,
				      (xdrproc_t)xdr_fpm_rpcblist_ptr, (char *)&l, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "%s", clnt_sperrno(st));
	out[0] = 0;
	for (fpm_rpcblist *e = l; e; e = e->rpcb_next)
		snprintf(out + strlen(out), len - strlen(out), "%u/%u/%s/%s/%s ",
			 e->rpcb_map.r_prog, e->rpcb_map.r_vers, e->rpcb_map.r_netid,
			 e->rpcb_map.r_addr, e->rpcb_map.r_owner);
	xdr_free((xdrproc_t)xdr_fpm_rpcblist_ptr, (char *)&l);
}

Test(portmap, rpcbind_dump_lists_every_registration)
{
	start_default();
	char nfs[64], pm[64], want[4096] = "", got[4096];
	uaddr("127.0.0.1", P.port, nfs, sizeof(nfs));
	uaddr("127.0.0.1", P.pmport, pm, sizeof(pm));
	const struct {
		uint32_t prog, lo, hi;
		const char *addr;
	} progs[] = {{100000, 2, 4, pm}, {100003, 3, 3, nfs}, {100005, 1, 3, nfs}};
	for (size_t i = 0; i < 3; i++)
		for (uint32_t v = progs[i].lo; v <= progs[i].hi; v++)
			for (int u = 0; u < 2; u++)
				snprintf(want + strlen(want), sizeof(want) - strlen(want),
					 "%u/%u/%s/%s/filer ", progs[i].prog, v, u ? "udp" : "tcp",
					 progs[i].addr);
	for (uint32_t v = 3; v <= 4; v++) {
		CLIENT *cl = pm_client(v);
		rpcb_dump_str(cl, got, sizeof(got));
		cr_assert_str_eq(got, want, "v%u", v);
		clnt_destroy(cl);
	}
}

Test(portmap, getaddrlist_lists_one_version_everywhere)
{
	start_default();
	CLIENT *cl = pm_client(4);
	char nfs[64], got[1024] = "";
	uaddr("127.0.0.1", P.port, nfs, sizeof(nfs));
	fpm_rpcb b = {100005, 3, "tcp", "", ""};
	fpm_rpcb_entry_list_ptr l = NULL;
	enum clnt_stat st =
		clnt_call(cl, FPM_RPCBPROC_GETADDRLIST, (xdrproc_t)xdr_fpm_rpcb, (char *)&b,
			  (xdrproc_t)xdr_fpm_rpcb_entry_list_ptr, (char *)&l, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "%s", clnt_sperrno(st));
	for (fpm_rpcb_entry_list *e = l; e; e = e->rpcb_entry_next)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s/%s/%u/%s/%s ",
			 e->rpcb_entry_map.r_maddr, e->rpcb_entry_map.r_nc_netid,
			 e->rpcb_entry_map.r_nc_semantics, e->rpcb_entry_map.r_nc_protofmly,
			 e->rpcb_entry_map.r_nc_proto);
	xdr_free((xdrproc_t)xdr_fpm_rpcb_entry_list_ptr, (char *)&l);
	char want[1024];
	snprintf(want, sizeof(want), "%s/tcp/3/inet/tcp %s/udp/1/inet/udp ", nfs, nfs);
	cr_assert_str_eq(got, want);
	/* an unregistered version: an empty list */
	b.r_vers = 4;
	cr_assert_eq(clnt_call(cl, FPM_RPCBPROC_GETADDRLIST, (xdrproc_t)xdr_fpm_rpcb, (char *)&b,
			       (xdrproc_t)xdr_fpm_rpcb_entry_list_ptr, (char *)&l, TMO),
		     RPC_SUCCESS);
	cr_assert_null(l);
	clnt_destroy(cl);
}

Test(portmap, gettime_is_the_time)
{
	start_default();
	for (uint32_t v = 3; v <= 4; v++) {
		CLIENT *cl = pm_client(v);
		u_int t = 0;
		time_t before = time(NULL);
		cr_assert_eq(clnt_call(cl, FPM_RPCBPROC_GETTIME, (xdrproc_t)xdr_nothing, NULL,
				       (xdrproc_t)xdr_u_int, (char *)&t, TMO),
			     RPC_SUCCESS);
		time_t after = time(NULL);
		cr_assert(t >= (u_int)before && t <= (u_int)after, "%u not in [%ld, %ld]", t,
			  (long)before, (long)after);
		clnt_destroy(cl);
	}
}

Test(portmap, unserved_procedures_and_versions)
{
	start_default();
	CLIENT *cl = pm_client(2);
	fpm_call_args a = {100003, 3, 0, {0, NULL}};
	fpm_call_result r = {0};
	enum clnt_stat st = clnt_call(cl, FPM_PMAPPROC_CALLIT, (xdrproc_t)xdr_fpm_call_args,
				      (char *)&a, (xdrproc_t)xdr_fpm_call_result, (char *)&r, TMO);
	cr_assert_eq(st, RPC_PROCUNAVAIL, "CALLIT: %s", clnt_sperrno(st));
	cr_assert_eq(call_null(cl, 6), RPC_PROCUNAVAIL);
	clnt_destroy(cl);

	cl = pm_client(3);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_CALLIT), RPC_PROCUNAVAIL);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_UADDR2TADDR), RPC_PROCUNAVAIL);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_GETVERSADDR), RPC_PROCUNAVAIL); /* v4 only */
	clnt_destroy(cl);

	cl = pm_client(4);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_BCAST), RPC_PROCUNAVAIL);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_INDIRECT), RPC_PROCUNAVAIL);
	cr_assert_eq(call_null(cl, FPM_RPCBPROC_GETSTAT), RPC_PROCUNAVAIL);
	cr_assert_eq(call_null(cl, 13), RPC_PROCUNAVAIL);
	clnt_destroy(cl);

	uint32_t bad[] = {1, 5};
	for (size_t i = 0; i < 2; i++) {
		cl = pm_client(bad[i]);
		st = call_null(cl, 0);
		cr_assert_eq(st, RPC_PROGVERSMISMATCH, "v%u: %s", bad[i], clnt_sperrno(st));
		struct rpc_err err;
		clnt_geterr(cl, &err);
		cr_assert_eq(err.re_vers.low, 2);
		cr_assert_eq(err.re_vers.high, 4);
		clnt_destroy(cl);
	}

	/* garbage arguments */
	cl = pm_client(2);
	u_int junk = 7, port = 0;
	st = clnt_call(cl, FPM_PMAPPROC_GETPORT, (xdrproc_t)xdr_u_int, (char *)&junk,
		       (xdrproc_t)xdr_u_int, (char *)&port, TMO);
	cr_assert_eq(st, RPC_CANTDECODEARGS, "%s", clnt_sperrno(st));
	clnt_destroy(cl);
}

Test(portmap, off_means_not_served)
{
	cr_assert_eq(psrv_start(&P, "127.0.0.1", true, false, 0, 0), 0);
	cr_assert_eq(P.pmport, 0);
	/* program 100000 on the NFS port: not there */
	CLIENT *cl = client(AF_INET, "127.0.0.1", P.port, 2, false);
	enum clnt_stat st = call_null(cl, 0);
	cr_assert_eq(st, RPC_PROGUNAVAIL, "%s", clnt_sperrno(st));
	clnt_destroy(cl);
}

Test(portmap, portmapper_is_served_on_the_nfs_port_too)
{
	/* rpc.c serves every program on every listener: harmless, and the
	 * answers are the same */
	start_default();
	CLIENT *cl = client(AF_INET, "127.0.0.1", P.port, 2, false);
	cr_assert_eq(getport(cl, 100003, 3, FPM_IPPROTO_TCP), P.port);
	clnt_destroy(cl);
}

/* ---- addresses: wildcard and IPv6 ------------------------------------------- */

Test(portmap, wildcard_ipv4_answers_with_a_reachable_address)
{
	cr_assert_eq(psrv_start(&P, "0.0.0.0", true, true, 0, 0), 0);
	char want[64], got[128];
	uaddr("127.0.0.1", P.port, want, sizeof(want));
	CLIENT *cl = pm_client(4);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, want);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp6", got, sizeof(got));
	cr_assert_str_eq(got, "");
	clnt_destroy(cl);
	/* over UDP, and in the DUMP */
	cl = client(AF_INET, "127.0.0.1", P.pmport, 3, true);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100005, 3, "udp", got, sizeof(got));
	cr_assert_str_eq(got, want);
	char d[4096], entry[128];
	rpcb_dump_str(cl, d, sizeof(d));
	snprintf(entry, sizeof(entry), "100003/3/tcp/%s/filer ", want);
	cr_assert(strstr(d, entry), "%s", d);
	clnt_destroy(cl);
	/* (a client that called 127.0.0.2 would also hear 127.0.0.1: the
	 * address is the one the kernel answers it from, see portmap.c) */
}

Test(portmap, ipv6_addresses)
{
	int rc = psrv_start(&P, "::1", true, true, 0, 0);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		cr_skip_test("no IPv6 loopback here");
	cr_assert_eq(rc, 0);
	char want[64], got[128];
	uaddr("::1", P.port, want, sizeof(want));
	CLIENT *cl = client(AF_INET6, "::1", P.pmport, 4, false);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp6", got, sizeof(got));
	cr_assert_str_eq(got, want);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100005, 3, "udp6", got, sizeof(got));
	cr_assert_str_eq(got, want);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, "");
	char d[4096];
	rpcb_dump_str(cl, d, sizeof(d));
	cr_assert(strstr(d, "100003/3/tcp6/") && !strstr(d, "/tcp/"), "%s", d);
	clnt_destroy(cl);
}

Test(portmap, dual_stack_wildcard)
{
	int rc = psrv_start(&P, "::", true, true, 0, 0);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		cr_skip_test("no IPv6 here");
	cr_assert_eq(rc, 0);
	char want4[64], want6[64], got[128];
	uaddr("127.0.0.1", P.port, want4, sizeof(want4));
	uaddr("::1", P.port, want6, sizeof(want6));
	/* an IPv4 client gets IPv4 addresses, an IPv6 one IPv6 addresses */
	CLIENT *cl = pm_client(4);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, want4);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp6", got, sizeof(got));
	cr_assert_str_eq(got, "");
	clnt_destroy(cl);
	cl = client(AF_INET6, "::1", P.pmport, 4, false);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp6", got, sizeof(got));
	cr_assert_str_eq(got, want6);
	getaddr(cl, FPM_RPCBPROC_GETADDR, 100003, 3, "tcp", got, sizeof(got));
	cr_assert_str_eq(got, "");
	clnt_destroy(cl);
}

/* ---- interop with rpcinfo(8) and showmount(8) -------------------------------- */

static bool have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* Runs a shell command; its stdout and stderr into out; returns its
 * exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *f = popen(full, "r");
	cr_assert_not_null(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = 0;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `rpcinfo -n PORT -t|-u` would be the direct way, but Debian's rpcinfo
 * (rpcbind 1.2.6) asks the rpcbind on port 111 first all the same (seen
 * with strace): -a with a universal address does reach only the server. */
Test(portmap, rpcinfo_pings_by_universal_address)
{
	if (!have_tool("rpcinfo"))
		cr_skip_test("rpcinfo is not installed (Debian: rpcbind)");
	start_default();
	char nfs[64], pm[64], cmd[256], out[4096];
	uaddr("127.0.0.1", P.port, nfs, sizeof(nfs));
	uaddr("127.0.0.1", P.pmport, pm, sizeof(pm));
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T tcp 100003 3", nfs);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "program 100003 version 3 ready and waiting\n");
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T udp 100005 3", nfs);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "program 100005 version 3 ready and waiting\n");
	/* no version: rpcinfo calls version 0 and reads the range */
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T tcp 100005", nfs);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "program 100005 version 1 ready and waiting\n"
			      "program 100005 version 2 ready and waiting\n"
			      "program 100005 version 3 ready and waiting\n");
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T udp 100000", pm);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "program 100000 version 2 ready and waiting\n"
			      "program 100000 version 3 ready and waiting\n"
			      "program 100000 version 4 ready and waiting\n");
	/* not served */
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T tcp 100021 4", nfs);
	cr_assert_neq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "Program not registered") || strstr(out, "Program unavailable"), "%s",
		  out);
}

/*
 * The real ports, in a network namespace of our own (needs root, or
 * CAP_SYS_ADMIN): a child process unshares its network, brings up lo,
 * serves on 127.0.0.1 ports 2049 and 111, and runs the tools, whose
 * output it writes to a file the test then checks.
 */
static void lo_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		_exit(78);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		_exit(78);
	close(fd);
}

static const char *const netns_cmds[] = {
	"rpcinfo -p 127.0.0.1",
	"rpcinfo -s 127.0.0.1",
	"rpcinfo -t 127.0.0.1 100003",
	"rpcinfo -T udp 127.0.0.1 100005 3",
	"rpcinfo -l 127.0.0.1 100003 3",
	"showmount -e 127.0.0.1",
	"showmount -a 127.0.0.1",
	"showmount -a --no-headers 127.0.0.1",
	/* libnfs: another client's RPC code; portmap, EXPORT, MNT, then NFS */
	"nfs-ls -D nfs://127.0.0.1",
	"nfs-ls nfs://127.0.0.1/vol/vol0",
};
#define NETNS_FIRST_NFSLS 8
#define NETNS_NCMDS	  (sizeof(netns_cmds) / sizeof(netns_cmds[0]))

static void netns_child(const char *dir)
{
	if (unshare(CLONE_NEWNET) < 0)
		_exit(77);
	lo_up();
	struct psrv s;
	if (psrv_start(&s, "127.0.0.1", true, true, 2049, 111))
		_exit(79);
	/* one mount, for showmount -a */
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(2049)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = RPC_ANYSOCK;
	CLIENT *cl = clnttcp_create(&to, MOUNT_PROGRAM, 3, &fd, 0, 0);
	char *path = "/vol/vol0";
	mountres3 res = {0};
	if (!cl ||
	    clnt_call(cl, MOUNTPROC3_MNT, (xdrproc_t)xdr_mnt3_dirpath, (char *)&path,
		      (xdrproc_t)xdr_mountres3, (char *)&res, TMO) != RPC_SUCCESS ||
	    res.fhs_status != MNT3_OK)
		_exit(80);
	clnt_destroy(cl);
	/* libtirpc's own look-ups, which know only port 111 */
	char path2[512];
	snprintf(path2, sizeof(path2), "%s/lib", dir);
	FILE *f = fopen(path2, "w");
	if (!f)
		_exit(82);
	struct netconfig *nc = getnetconfigent("tcp");
	struct sockaddr_in sa = {0};
	struct netbuf nb = {.maxlen = sizeof(sa), .buf = &sa};
	bool_t ok = nc && rpcb_getaddr(100003, 3, nc, &nb, "127.0.0.1");
	fprintf(f, "rpcb_getaddr %d %u\n", ok, ok ? ntohs(sa.sin_port) : 0);
	if (nc)
		freenetconfigent(nc);
	fprintf(f, "pmap_getport %u\n", pmap_getport(&to, 100005, 3, IPPROTO_UDP));
	fclose(f);
	for (size_t i = 0; i < NETNS_NCMDS; i++) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s > %s/out%zu 2>&1; echo $? > %s/rc%zu", netns_cmds[i],
			 dir, i, dir, i);
		if (system(cmd) < 0)
			_exit(81);
	}
	psrv_free(&s);
	_exit(0);
}

/* Runs of blanks and tabs become one space. */
static void squash(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		bool blank = *r == ' ' || *r == '\t';
		if (blank && w > s && w[-1] == ' ')
			continue;
		*w++ = blank ? ' ' : *r;
	}
	*w = 0;
}

static void slurp(const char *dir, const char *what, size_t i, char *out, size_t len)
{
	char path[512];
	if (strcmp(what, "lib") == 0)
		snprintf(path, sizeof(path), "%s/lib", dir);
	else
		snprintf(path, sizeof(path), "%s/%s%zu", dir, what, i);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = 0;
	fclose(f);
	unlink(path);
}

Test(portmap, rpcinfo_and_showmount_on_port_111_in_a_netns, .timeout = 120)
{
	if (!have_tool("rpcinfo") || !have_tool("showmount"))
		cr_skip_test("rpcinfo or showmount is not installed (Debian: rpcbind, nfs-common)");
	char dir[] = "/tmp/pmapns.XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		netns_child(dir);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		rmdir(dir);
		cr_skip_test("cannot make a network namespace (not root?)");
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %d", st);
	char out[NETNS_NCMDS][4096], rc[16], lib[256];
	bool nfsls = have_tool("nfs-ls");
	if (!nfsls)
		cr_log_warn("nfs-ls is not installed (Debian: libnfs-utils): not tried");
	for (size_t i = 0; i < NETNS_NCMDS; i++) {
		slurp(dir, "out", i, out[i], sizeof(out[i]));
		slurp(dir, "rc", i, rc, sizeof(rc));
		if (i < NETNS_FIRST_NFSLS || nfsls)
			cr_assert_str_eq(rc, "0\n", "%s: %s", netns_cmds[i], out[i]);
	}
	slurp(dir, "lib", 0, lib, sizeof(lib));
	rmdir(dir);
	cr_assert_str_eq(lib, "rpcb_getaddr 1 2049\npmap_getport 2049\n");

	/* the tables compare with runs of blanks as one space */
	for (size_t i = 0; i < 5; i++)
		squash(out[i]);
	/* rpcinfo -p: portmap v2 DUMP, names from /etc/rpc */
	const char *p = out[0];
	cr_assert(strstr(p, " program vers proto port service\n") == p, "%s", p);
	static const char *const lines[] = {
		" 100000 2 tcp 111 portmapper\n", " 100000 4 udp 111 portmapper\n",
		" 100003 3 tcp 2049 nfs\n",	  " 100003 3 udp 2049 nfs\n",
		" 100005 1 tcp 2049 mountd\n",	  " 100005 3 udp 2049 mountd\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_assert(strstr(p, lines[i]), "missing %s in:\n%s", lines[i], p);
	/* rpcinfo -s: rpcbind v4 DUMP, one line per program */
	cr_assert(strstr(out[1], " 100000 4,3,2 udp,tcp portmapper filer\n"), "%s", out[1]);
	cr_assert(strstr(out[1], " 100003 3 udp,tcp nfs filer\n"), "%s", out[1]);
	cr_assert(strstr(out[1], " 100005 3,2,1 udp,tcp mountd filer\n"), "%s", out[1]);
	/* version discovery through GETADDR version 0 */
	cr_assert_str_eq(out[2], "program 100003 version 3 ready and waiting\n");
	cr_assert_str_eq(out[3], "program 100005 version 3 ready and waiting\n");
	/* rpcinfo -l: GETADDRLIST */
	cr_assert(strstr(out[4], " 100003 3 inet/tcp/cots_ord 127.0.0.1.8.1 nfs \n") &&
			  strstr(out[4], " 100003 3 inet/udp/clts 127.0.0.1.8.1 nfs \n"),
		  "%s", out[4]);
	/* showmount asks MOUNT version 1 for EXPORT and DUMP */
	cr_assert_str_eq(out[5], "Export list for 127.0.0.1:\n/vol/vol0 127.0.0.1,10.0.0.0/8\n");
	cr_assert_str_eq(out[6], "All mount points on 127.0.0.1:\n127.0.0.1:/vol/vol0\n");
	cr_assert_str_eq(out[7], "127.0.0.1:/vol/vol0\n");
	if (nfsls) {
		cr_assert_str_eq(out[8], "nfs://127.0.0.1/vol/vol0\n");
		cr_assert_str_eq(out[9], ""); /* an empty volume */
	}
}
