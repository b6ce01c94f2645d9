/*
 * test_mount.c - MOUNT v3 against a real in-process server, through
 * libtirpc's client: MNT (handle, flavors, unknown path, client not in the
 * export, `secure` and the client's port), EXPORT, DUMP/UMNT/UMNTALL,
 * version and procedure errors, oversized arguments, UDP, and the
 * per-procedure counters.
 *
 * The server runs on a thread of its own with its own event_base (it and
 * wafl are touched only there while it runs); the test thread makes
 * blocking RPC calls to it over loopback.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/mount3.h"
#include "tests/lib/wtest.h"

/* ---- an in-process server on its own thread ------------------------------ */

struct msrv {
	struct wt t;
	struct nfs_server *s;
	pthread_t thr;
	int stop_fd;
	struct event *stop_ev;
	uint16_t port;
};

static void msrv_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	event_base_loopbreak(arg);
}

static void *msrv_loop(void *arg)
{
	struct msrv *m = arg;
	event_base_dispatch(m->t.base);
	return NULL;
}

/* Exports, all of vol0: /vol/vol0 to 127.0.0.1 (insecure) and 10/8,
 * /vol/secure to 127.0.0.1 (secure by default), /vol/other to 10/8 only,
 * /vol/all to everyone; and nextra more, /vol/x0 ..., to everyone. */
static void msrv_start(struct msrv *m, unsigned nextra)
{
	memset(m, 0, sizeof(*m));
	cr_assert_eq(wt_make(&m->t, WAFL_AGGR, 1, 64 << 20, 32 << 20), 0);
	struct nfs_config cfg = {
		.base = m->t.base,
		.addr = "127.0.0.1",
		.udp = true,
		.portmapper = true,
		.boot_verifier = 1,
	};
	memset(cfg.secret, 7, sizeof(cfg.secret));
	cr_assert_eq(nfs_server_new(&cfg, &m->s), 0);
	m->port = nfs_server_port(m->s);
	char err[256] = "";
	static const char *const ex[][2] = {
		{"/vol/vol0", "127.0.0.1(rw,insecure,no_root_squash) 10.0.0.0/8(ro)"},
		{"/vol/secure", "127.0.0.1(rw)"},
		{"/vol/other", "10.0.0.0/8(rw,insecure)"},
		{"/vol/all", "*(ro,insecure)"},
	};
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		cr_assert_eq(nfs_export_add(m->s, ex[i][0], m->t.v, ex[i][1], err, sizeof(err)), 0,
			     "%s: %s", ex[i][0], err);
	for (unsigned i = 0; i < nextra; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/vol/x%u", i);
		cr_assert_eq(nfs_export_add(m->s, path, m->t.v, "*(insecure)", err, sizeof(err)),
			     0);
	}
	m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert(m->stop_fd >= 0);
	m->stop_ev =
		event_new(m->t.base, m->stop_fd, EV_READ | EV_PERSIST, msrv_stop_cb, m->t.base);
	event_add(m->stop_ev, NULL);
	cr_assert_eq(pthread_create(&m->thr, NULL, msrv_loop, m), 0);
}

/* Stops the loop; the server stays, for reading its counters. */
static void msrv_halt(struct msrv *m)
{
	if (m->stop_fd < 0)
		return;
	uint64_t one = 1;
	(void)!write(m->stop_fd, &one, sizeof(one));
	pthread_join(m->thr, NULL);
	event_free(m->stop_ev);
	close(m->stop_fd);
	m->stop_fd = -1;
}

static void msrv_free(struct msrv *m)
{
	msrv_halt(m);
	nfs_server_free(m->s);
	cr_assert_eq(wt_close(&m->t), 0);
	wt_destroy(&m->t);
}

/* ---- clients ------------------------------------------------------------- */

static const struct timeval TMO = {10, 0};

/* xdr_void, with the signature xdrproc_t casts from cleanly */
static bool_t xdr_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}

static struct sockaddr_in lo_addr(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A TCP client from a port of our choice: reserved (bindresvport, root
 * only) or an ordinary ephemeral one. *local gets the port. */
static CLIENT *tcp_client(uint16_t port, uint32_t prog, uint32_t vers, bool reserved,
			  uint16_t *local)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in me = lo_addr(0);
	if (reserved)
		cr_assert_eq(bindresvport(fd, &me), 0, "bindresvport: %s", strerror(errno));
	else
		cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	struct sockaddr_in to = lo_addr(port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	socklen_t len = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &len);
	if (local)
		*local = ntohs(me.sin_port);
	CLIENT *cl = clnttcp_create(&to, prog, vers, &fd, 0, 0);
	cr_assert_not_null(cl, "%s", clnt_spcreateerror("clnttcp_create"));
	/* the client owns the socket from here */
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	auth_destroy(cl->cl_auth);
	cl->cl_auth = authunix_create_default();
	return cl;
}

/* clnt_destroy leaves the AUTH_SYS handle tcp_client made */
static void mclose(CLIENT *cl)
{
	auth_destroy(cl->cl_auth);
	clnt_destroy(cl);
}

static CLIENT *mnt_client(struct msrv *m, uint32_t vers)
{
	return tcp_client(m->port, MOUNT_PROGRAM, vers, false, NULL);
}

static mountstat3 mnt(CLIENT *cl, const char *path, mountres3 *res)
{
	memset(res, 0, sizeof(*res));
	char *p = (char *)path;
	enum clnt_stat st = clnt_call(cl, MOUNTPROC3_MNT, (xdrproc_t)xdr_mnt3_dirpath, (char *)&p,
				      (xdrproc_t)xdr_mountres3, (char *)res, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "MNT %s: %s", path, clnt_sperrno(st));
	return res->fhs_status;
}

static mountstat3 mnt_status(CLIENT *cl, const char *path)
{
	mountres3 res;
	mountstat3 s = mnt(cl, path, &res);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res);
	return s;
}

static void call_void(CLIENT *cl, uint32_t proc, const char *path)
{
	char *p = (char *)path;
	enum clnt_stat st =
		clnt_call(cl, proc, path ? (xdrproc_t)xdr_mnt3_dirpath : (xdrproc_t)xdr_nothing,
			  path ? (char *)&p : NULL, (xdrproc_t)xdr_nothing, NULL, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "proc %u: %s", proc, clnt_sperrno(st));
}

/* DUMP as "host:path host:path ..." */
static void dump(CLIENT *cl, char *out, size_t len)
{
	mnt3_mountlist l = NULL;
	enum clnt_stat st = clnt_call(cl, MOUNTPROC3_DUMP, (xdrproc_t)xdr_nothing, NULL,
				      (xdrproc_t)xdr_mnt3_mountlist, (char *)&l, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "DUMP: %s", clnt_sperrno(st));
	out[0] = 0;
	for (mnt3_mountbody *b = l; b; b = b->ml_next)
		snprintf(out + strlen(out), len - strlen(out), "%s%s:%s", out[0] ? " " : "",
			 b->ml_hostname, b->ml_directory);
	xdr_free((xdrproc_t)xdr_mnt3_mountlist, (char *)&l);
}

/* EXPORT as "path=group,group;path=..." */
static void exports(CLIENT *cl, char *out, size_t len)
{
	mnt3_exports l = NULL;
	enum clnt_stat st = clnt_call(cl, MOUNTPROC3_EXPORT, (xdrproc_t)xdr_nothing, NULL,
				      (xdrproc_t)xdr_mnt3_exports, (char *)&l, TMO);
	cr_assert_eq(st, RPC_SUCCESS, "EXPORT: %s", clnt_sperrno(st));
	out[0] = 0;
	for (mnt3_exportnode *e = l; e; e = e->ex_next) {
		snprintf(out + strlen(out), len - strlen(out), "%s%s=", out[0] ? ";" : "",
			 e->ex_dir);
		for (mnt3_groupnode *g = e->ex_groups; g; g = g->gr_next)
			snprintf(out + strlen(out), len - strlen(out), "%s%s",
				 g == e->ex_groups ? "" : ",", g->gr_name);
	}
	xdr_free((xdrproc_t)xdr_mnt3_exports, (char *)&l);
}

static struct msrv M;

static void setup(void)
{
	msrv_start(&M, 0);
}

static void teardown(void)
{
	msrv_free(&M);
}

TestSuite(mount, .init = setup, .fini = teardown, .timeout = 60);

/* ---- MNT ----------------------------------------------------------------- */

Test(mount, mnt_returns_the_signed_root_handle_and_flavors)
{
	CLIENT *cl = mnt_client(&M, 3);
	mountres3 res;
	cr_assert_eq(mnt(cl, "/vol/vol0", &res), MNT3_OK);
	mountres3_ok *ok = &res.mountres3_u.mountinfo;
	cr_assert_eq(ok->fhandle.fhandle3_len, FH_BYTES);
	cr_assert_eq(ok->auth_flavors.auth_flavors_len, 2);
	cr_assert_eq(ok->auth_flavors.auth_flavors_val[0], AUTH_SYS_FLAVOR);
	cr_assert_eq(ok->auth_flavors.auth_flavors_val[1], AUTH_NONE_FLAVOR);

	/* the same handle fh_make makes for the export's root, and it parses */
	struct nfs_export *e = export_by_path(M.s, "/vol/vol0");
	struct wafl_fh root, back;
	cr_assert_eq(wafl_root(M.t.v, &root), 0);
	uint8_t want[FH_BYTES];
	fh_make(M.s, e->id, &root, want);
	cr_assert_arr_eq(ok->fhandle.fhandle3_val, want, FH_BYTES);
	struct nfs_export *pe;
	cr_assert_eq(fh_parse(M.s, (uint8_t *)ok->fhandle.fhandle3_val, FH_BYTES, &pe, &back), 0);
	cr_assert_eq(pe, e);
	cr_assert_eq(back.ino, root.ino);

	/* a trailing slash and doubled slashes name the same export */
	mountres3 res2;
	cr_assert_eq(mnt(cl, "/vol/vol0/", &res2), MNT3_OK);
	cr_assert_arr_eq(res2.mountres3_u.mountinfo.fhandle.fhandle3_val, want, FH_BYTES);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res2);
	cr_assert_eq(mnt_status(cl, "//vol//vol0//"), MNT3_OK);

	/* another export of the same volume: same inode, another export id */
	cr_assert_eq(mnt(cl, "/vol/all", &res2), MNT3_OK);
	cr_assert_arr_neq(res2.mountres3_u.mountinfo.fhandle.fhandle3_val, want, FH_BYTES);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res2);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res);
	mclose(cl);
}

Test(mount, mnt_unknown_path_is_noent)
{
	CLIENT *cl = mnt_client(&M, 3);
	cr_assert_eq(mnt_status(cl, "/vol/nope"), MNT3ERR_NOENT);
	cr_assert_eq(mnt_status(cl, "/vol"), MNT3ERR_NOENT);
	cr_assert_eq(mnt_status(cl, "/vol/vol0/sub"), MNT3ERR_NOENT);
	cr_assert_eq(mnt_status(cl, ""), MNT3ERR_NOENT);
	cr_assert_eq(mnt_status(cl, "vol/vol0"), MNT3ERR_NOENT);
	mclose(cl);
}

Test(mount, mnt_of_an_export_not_for_this_client_is_acces)
{
	CLIENT *cl = mnt_client(&M, 3);
	cr_assert_eq(mnt_status(cl, "/vol/other"), MNT3ERR_ACCES);
	char d[512];
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "");
	mclose(cl);
}

Test(mount, secure_export_wants_a_reserved_port)
{
	uint16_t lp;
	CLIENT *cl = tcp_client(M.port, MOUNT_PROGRAM, 3, false, &lp);
	cr_assert_geq(lp, 1024);
	cr_assert_eq(mnt_status(cl, "/vol/secure"), MNT3ERR_ACCES);
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK); /* insecure */
	mclose(cl);

	/* libtirpc's own socket: clnttcp_create binds a reserved port when
	 * it can (bindresvport, as root), else the kernel picks one */
	struct sockaddr_in to = lo_addr(M.port);
	int fd = RPC_ANYSOCK;
	cl = clnttcp_create(&to, MOUNT_PROGRAM, 3, &fd, 0, 0);
	cr_assert_not_null(cl);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	bool reserved = ntohs(me.sin_port) < 1024;
	cr_assert_eq(reserved, geteuid() == 0, "port %u", ntohs(me.sin_port));
	cr_assert_eq(mnt_status(cl, "/vol/secure"), reserved ? MNT3_OK : MNT3ERR_ACCES);
	mclose(cl);

	if (geteuid() != 0) {
		cr_log_warn("not root: no reserved port to test `secure` with");
		return;
	}
	cl = tcp_client(M.port, MOUNT_PROGRAM, 3, true, &lp);
	cr_assert_lt(lp, 1024);
	cr_assert_eq(mnt_status(cl, "/vol/secure"), MNT3_OK);
	mclose(cl);
}

Test(mount, oversized_path_is_garbage_args)
{
	CLIENT *cl = mnt_client(&M, 3);
	static char big[MNTPATHLEN + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	char *p = big;
	mountres3 res = {0};
	/* the generated encoder refuses it; send it with a wider bound */
	enum clnt_stat st = clnt_call(cl, MOUNTPROC3_MNT, (xdrproc_t)xdr_wrapstring, (char *)&p,
				      (xdrproc_t)xdr_mountres3, (char *)&res, TMO);
	cr_assert_eq(st, RPC_CANTDECODEARGS, "%s", clnt_sperrno(st));
	/* exactly MNTPATHLEN is fine (and unknown) */
	big[MNTPATHLEN] = 0;
	cr_assert_eq(mnt_status(cl, big), MNT3ERR_NOENT);
	mclose(cl);
}

/* ---- EXPORT, DUMP, UMNT, UMNTALL ------------------------------------------ */

Test(mount, export_lists_every_export_with_its_clients)
{
	CLIENT *cl = mnt_client(&M, 3);
	char out[1024];
	exports(cl, out, sizeof(out));
	cr_assert_str_eq(out, "/vol/vol0=127.0.0.1,10.0.0.0/8;/vol/secure=127.0.0.1;"
			      "/vol/other=10.0.0.0/8;/vol/all=*");
	mclose(cl);
	/* version 1 (showmount's) has the same answer */
	cl = mnt_client(&M, 1);
	char v1[1024];
	exports(cl, v1, sizeof(v1));
	cr_assert_str_eq(v1, out);
	mclose(cl);
}

Test(mount, dump_shows_mounts_until_umnt)
{
	CLIENT *cl = mnt_client(&M, 3);
	char d[1024];
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "");
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "127.0.0.1:/vol/vol0");
	/* mounting again, or by another spelling, adds nothing */
	cr_assert_eq(mnt_status(cl, "/vol/vol0/"), MNT3_OK);
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	cr_assert_eq(mnt_status(cl, "/vol/all"), MNT3_OK);
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "127.0.0.1:/vol/vol0 127.0.0.1:/vol/all");
	/* a failed MNT is not listed */
	cr_assert_eq(mnt_status(cl, "/vol/other"), MNT3ERR_ACCES);
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "127.0.0.1:/vol/vol0 127.0.0.1:/vol/all");

	call_void(cl, MOUNTPROC3_UMNT, "/vol/vol0/");
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "127.0.0.1:/vol/all");
	call_void(cl, MOUNTPROC3_UMNT, "/vol/nope"); /* not mounted: still void */
	call_void(cl, MOUNTPROC3_UMNT, "/vol/vol0");
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "127.0.0.1:/vol/all");

	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	call_void(cl, MOUNTPROC3_UMNTALL, NULL);
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "");
	call_void(cl, MOUNTPROC3_NULL, NULL);
	mclose(cl);
}

/* 4104 exports, all mounted: the list keeps 4096 (the cap in mount.c),
 * every MNT still succeeds, and the long DUMP and EXPORT replies (encoded
 * flat, not recursively) arrive whole. */
Test(mount, mount_list_is_capped)
{
	/* Criterion runs a suite's .init before a test's own: restart here */
	msrv_free(&M);
	msrv_start(&M, 4100);
	CLIENT *cl = mnt_client(&M, 3);
	char path[64];
	for (unsigned i = 0; i < 4100; i++) {
		snprintf(path, sizeof(path), "/vol/x%u", i);
		cr_assert_eq(mnt_status(cl, path), MNT3_OK, "%s", path);
	}
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	mnt3_mountlist l = NULL;
	cr_assert_eq(clnt_call(cl, MOUNTPROC3_DUMP, (xdrproc_t)xdr_nothing, NULL,
			       (xdrproc_t)xdr_mnt3_mountlist, (char *)&l, TMO),
		     RPC_SUCCESS);
	unsigned n = 0;
	for (mnt3_mountbody *b = l; b; b = b->ml_next) {
		snprintf(path, sizeof(path), "/vol/x%u", n);
		cr_assert_str_eq(b->ml_directory, path);
		n++;
	}
	cr_assert_eq(n, 4096);
	xdr_free((xdrproc_t)xdr_mnt3_mountlist, (char *)&l);
	mnt3_exports ex = NULL;
	cr_assert_eq(clnt_call(cl, MOUNTPROC3_EXPORT, (xdrproc_t)xdr_nothing, NULL,
			       (xdrproc_t)xdr_mnt3_exports, (char *)&ex, TMO),
		     RPC_SUCCESS);
	n = 0;
	for (mnt3_exportnode *e = ex; e; e = e->ex_next)
		n++;
	cr_assert_eq(n, 4104);
	xdr_free((xdrproc_t)xdr_mnt3_exports, (char *)&ex);
	/* room again after UMNT */
	call_void(cl, MOUNTPROC3_UMNT, "/vol/x0");
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	cr_assert_eq(clnt_call(cl, MOUNTPROC3_DUMP, (xdrproc_t)xdr_nothing, NULL,
			       (xdrproc_t)xdr_mnt3_mountlist, (char *)&l, TMO),
		     RPC_SUCCESS);
	n = 0;
	mnt3_mountbody *last = NULL;
	for (mnt3_mountbody *b = l; b; b = b->ml_next) {
		last = b;
		n++;
	}
	cr_assert_eq(n, 4096);
	cr_assert_str_eq(last->ml_directory, "/vol/vol0");
	xdr_free((xdrproc_t)xdr_mnt3_mountlist, (char *)&l);
	mclose(cl);
}

Test(mount, mounts_are_forgotten_with_the_server)
{
	CLIENT *cl = mnt_client(&M, 3);
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	cr_assert_eq(mnt_status(cl, "/vol/all"), MNT3_OK);
	mclose(cl);
	msrv_halt(&M);
	cr_assert_not_null(TAILQ_FIRST(&M.s->mounts));
	mount_forget_all(M.s);
	cr_assert_null(TAILQ_FIRST(&M.s->mounts));
	/* and nfs_server_free (teardown) forgets them again: nothing leaks */
}

/* ---- versions, procedures, UDP, counters ---------------------------------- */

Test(mount, version_and_procedure_errors)
{
	CLIENT *cl = mnt_client(&M, 4);
	enum clnt_stat st = clnt_call(cl, MOUNTPROC3_NULL, (xdrproc_t)xdr_nothing, NULL,
				      (xdrproc_t)xdr_nothing, NULL, TMO);
	cr_assert_eq(st, RPC_PROGVERSMISMATCH, "%s", clnt_sperrno(st));
	struct rpc_err err;
	clnt_geterr(cl, &err);
	cr_assert_eq(err.re_vers.low, 1);
	cr_assert_eq(err.re_vers.high, 3);
	mclose(cl);

	cl = mnt_client(&M, 3);
	st = clnt_call(cl, 6, (xdrproc_t)xdr_nothing, NULL, (xdrproc_t)xdr_nothing, NULL, TMO);
	cr_assert_eq(st, RPC_PROCUNAVAIL, "%s", clnt_sperrno(st));
	mclose(cl);

	/* MNT of versions 1 and 2 would need an NFSv2 handle */
	cl = mnt_client(&M, 1);
	char *p = "/vol/vol0";
	st = clnt_call(cl, MOUNTPROC3_MNT, (xdrproc_t)xdr_mnt3_dirpath, (char *)&p,
		       (xdrproc_t)xdr_nothing, NULL, TMO);
	cr_assert_eq(st, RPC_PROCUNAVAIL, "%s", clnt_sperrno(st));
	char d[256];
	dump(cl, d, sizeof(d));
	cr_assert_str_eq(d, "");
	mclose(cl);
}

Test(mount, mnt_over_udp)
{
	struct sockaddr_in to = lo_addr(M.port);
	int fd = RPC_ANYSOCK;
	CLIENT *cl = clntudp_create(&to, MOUNT_PROGRAM, 3, (struct timeval){1, 0}, &fd);
	cr_assert_not_null(cl, "%s", clnt_spcreateerror("clntudp_create"));
	mountres3 res;
	cr_assert_eq(mnt(cl, "/vol/vol0", &res), MNT3_OK);
	cr_assert_eq(res.mountres3_u.mountinfo.fhandle.fhandle3_len, FH_BYTES);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res);
	char out[1024];
	exports(cl, out, sizeof(out));
	cr_assert(strncmp(out, "/vol/vol0=", 10) == 0, "%s", out);
	mclose(cl);
}

Test(mount, calls_are_counted_per_procedure)
{
	CLIENT *cl = mnt_client(&M, 3);
	cr_assert_eq(mnt_status(cl, "/vol/vol0"), MNT3_OK);
	cr_assert_eq(mnt_status(cl, "/vol/nope"), MNT3ERR_NOENT);
	call_void(cl, MOUNTPROC3_UMNTALL, NULL);
	mclose(cl);
	msrv_halt(&M);
	struct nfs_proc_stats st[64];
	size_t n = nfs_stats(M.s, st, 64);
	cr_assert_eq(n, 22 + 6);
	static const char *const names[] = {"null", "mnt", "dump", "umnt", "umntall", "export"};
	for (int i = 0; i < 6; i++)
		cr_assert_str_eq(st[22 + i].name, names[i]);
	cr_assert_eq(st[22 + 1].calls, 2); /* a MNT that says NOENT is still a reply */
	cr_assert_eq(st[22 + 4].calls, 1);
	cr_assert_eq(st[22 + 0].calls, 0);
}
