/*
 * test_filerctl.c - filerctl against a real filer: every command, every
 * error path and its exit status, the --json output parsed (by the
 * strict JSON parser of ctlrun.c, which also proves the output is JSON), the
 * control socket's wire behaviour (version mismatch, wrong program,
 * unknown procedure, garbage) and what filerctl says of each, that an
 * unprivileged user can use neither filerctl nor the socket itself, and
 * that members of a configured control group can.
 *
 * Each test starts build/bin/filer ($FILER) in a scratch home on free
 * ports (tests/lib/filerproc.h); its control socket is HOME/filer.sock.
 * filerctl is $FILERCTL, else build/bin/filerctl.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/filerproc.h"
#include "tests/unit/filer/ctlrun.h"

#define NOBODY	      65534
#define FILERCTL_PROG 0x20464c52u

Test(json_parser, parses_and_rejects)
{
	struct jv v;
	cr_assert(json_parse(" {\"a\":[1,2,{\"b\":\"x\\\"\\u00e9\\n\"}],\"c\":true,\"d\":null} ",
			     &v));
	cr_assert_eq(jnum(&v, "a.1"), 2);
	cr_assert_str_eq(jstr(&v, "a.2.b"), "x\"\xc3\xa9\n");
	cr_assert(jbool(&v, "c"));
	cr_assert_null(jget(&v, "a.3"));
	jv_free(&v);
	cr_assert_not(json_parse("{\"a\":1,}", &v));
	cr_assert_not(json_parse("{\"a\":1} x", &v));
	cr_assert_not(json_parse("[\"tab\there\"]", &v));
	cr_assert_not(json_parse("{'a':1}", &v));
}

static struct filerproc fp;
static struct run R; /* big: not on the stack */

static void start(void)
{
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
}

static void stop(void)
{
	run_done(&R);
	if (fp.pid > 0) {
		int st = fp_stop(&fp, SIGTERM);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the filer exited with %d", st);
	}
	fp_destroy(&fp);
}

TestSuite(filerctl, .init = start, .fini = stop, .timeout = 120);

/* ---- every command ---------------------------------------------------- */

Test(filerctl, version_and_status)
{
	struct run *r = &R;
	cr_assert_eq(ctl(r, &fp, "version", NULL), 0, "%s", r->err);
	cr_assert(strstr(r->out, "control protocol 1"), "%s", r->out);

	ctl(r, &fp, "--json", "version", NULL);
	EXPECT_OK(r);
	cr_assert(jbool(&r->json, "ok"));
	cr_assert_str_eq(jstr(&r->json, "command"), "version");
	cr_assert_eq(jnum(&r->json, "protocol"), 1);
	cr_assert_eq(jnum(&r->json, "pid"), (unsigned long long)fp.pid);
	char real[PATH_MAX];
	cr_assert(realpath(fp.home, real));
	cr_assert_str_eq(jstr(&r->json, "home"), real);
	cr_assert_str_eq(jstr(&r->json, "config"), "");
	cr_assert_neq(jstr(&r->json, "filer_version")[0], 0);
	run_done(r);

	/* --json also after the command */
	ctl(r, &fp, "aggr", "status", "--json", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "aggregates"), 1);
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.name"), "aggr0");
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.type"), "aggr");
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.state"), "online");
	cr_assert_eq(jnum(&r->json, "aggregates.0.ndisks"), 3);
	cr_assert_eq(jnum(&r->json, "aggregates.0.ngroups"), 1);
	cr_assert_eq(jnum(&r->json, "aggregates.0.nvols"), 1);
	cr_assert_eq(jlen(&r->json, "aggregates.0.disks"), 3);
	unsigned long long size = jnum(&r->json, "aggregates.0.size_bytes");
	unsigned long long used = jnum(&r->json, "aggregates.0.used_bytes");
	cr_assert_gt(size, 5ull << 30);
	cr_assert_eq(jnum(&r->json, "aggregates.0.avail_bytes"),
		     size - used - jnum(&r->json, "aggregates.0.reserved_bytes"));
	cr_assert_geq(jnum(&r->json, "aggregates.0.cp_count"), 1);
	run_done(r);

	ctl(r, &fp, "aggr", "status", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "Aggr") && strstr(r->out, "aggr0") && strstr(r->out, "online"),
		  "%s", r->out);
	ctl(r, &fp, "aggr", "status", "aggr0", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "/disk0") && strstr(r->out, "NVLOG"), "%s", r->out);

	ctl(r, &fp, "--json", "vol", "status", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "volumes"), 1);
	cr_assert_str_eq(jstr(&r->json, "volumes.0.name"), "vol0");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.aggregate"), "aggr0");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.state"), "online");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.type"), "flex");
	cr_assert_str_eq(jstr(&r->json, "volumes.0.guarantee"), "none");
	cr_assert_eq(jnum(&r->json, "volumes.0.size_bytes"), 4ull << 30);
	cr_assert_gt(jnum(&r->json, "volumes.0.files_max"), 0);
	run_done(r);
	ctl(r, &fp, "vol", "status", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "vol0") && strstr(r->out, "4G"), "%s", r->out);

	ctl(r, &fp, "--json", "export", "list", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "exports"), 1);
	cr_assert_str_eq(jstr(&r->json, "exports.0.path"), "/vol/vol0");
	cr_assert_str_eq(jstr(&r->json, "exports.0.volume"), "vol0");
	cr_assert(strstr(jstr(&r->json, "exports.0.clients"), "127.0.0.1"));
	run_done(r);
	ctl(r, &fp, "export", "list", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "/vol/vol0"), "%s", r->out);
}

Test(filerctl, vol_lifecycle)
{
	struct run *r = &R;
	ctl(r, &fp, "vol", "create", "vol1", "aggr0", "1G", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "vol1"), "%s", r->out);

	ctl(r, &fp, "--json", "vol", "status", "vol1", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "volumes"), 1);
	cr_assert_eq(jnum(&r->json, "volumes.0.size_bytes"), 1ull << 30);
	cr_assert_str_eq(jstr(&r->json, "volumes.0.state"), "online");
	run_done(r);

	/* sizes: show, grow, shrink, absolute */
	ctl(r, &fp, "vol", "size", "vol1", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "1G"), "%s", r->out);
	ctl(r, &fp, "--json", "vol", "size", "vol1", "+512M", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "size_bytes"), 3ull << 29);
	cr_assert_eq(jnum(&r->json, "old_size_bytes"), 1ull << 30);
	run_done(r);
	ctl(r, &fp, "--json", "vol", "size", "vol1", "-1G", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "size_bytes"), 1ull << 29);
	run_done(r);
	ctl(r, &fp, "--json", "vol", "size", "vol1", "2g", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "size_bytes"), 2ull << 30);
	run_done(r);
	ctl(r, &fp, "--json", "vol", "size", "vol1", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "size_bytes"), 2ull << 30);
	run_done(r);

	/* states */
	const char *states[][2] = {
		{"restrict", "restricted"}, {"offline", "offline"}, {"online", "online"}};
	for (int i = 0; i < 3; i++) {
		ctl(r, &fp, "--json", "vol", states[i][0], "vol1", NULL);
		EXPECT_OK(r);
		cr_assert_str_eq(jstr(&r->json, "state"), states[i][1]);
		run_done(r);
		ctl(r, &fp, "--json", "vol", "status", "vol1", NULL);
		cr_assert_str_eq(jstr(&r->json, "volumes.0.state"), states[i][1]);
		run_done(r);
	}

	/* exports */
	ctl(r, &fp, "export", "add", "/vol/vol1", "vol1", "127.0.0.1(rw,insecure)", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "export", "list", NULL);
	const struct jv *e = jfind(&r->json, "exports", "path", "/vol/vol1");
	cr_assert(e, "%s", r->out);
	cr_assert_str_eq(jstr(e, "volume"), "vol1");
	cr_assert_str_eq(jstr(e, "clients"), "127.0.0.1(rw,insecure)");
	run_done(r);
	ctl(r, &fp, "export", "add", "/vol/vol1", "vol1", "127.0.0.1(rw)", NULL);
	EXPECT_FAIL(r, 1, "already exists");
	ctl(r, &fp, "--json", "export", "remove", "/vol/vol1", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "path"), "/vol/vol1");
	run_done(r);
	ctl(r, &fp, "--json", "export", "list", NULL);
	cr_assert_null(jfind(&r->json, "exports", "path", "/vol/vol1"));
	run_done(r);

	/* volume busy: destroy while online */
	ctl(r, &fp, "vol", "destroy", "vol1", NULL);
	EXPECT_FAIL(r, 1, "volume is busy (online): take it offline first");
	ctl(r, &fp, "--json", "vol", "destroy", "vol1", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_not(jbool(&r->json, "ok"));
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EBUSY");
	cr_assert_eq(jnum(&r->json, "error.errno"), EBUSY);
	cr_assert_eq(jnum(&r->json, "error.exit"), 1);
	run_done(r);

	ctl(r, &fp, "vol", "offline", "vol1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "vol", "destroy", "vol1", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "volume"), "vol1");
	run_done(r);
	ctl(r, &fp, "--json", "vol", "status", "vol1", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "ENOENT");
	run_done(r);
	EXPECT_FAIL(r, 1, "no such volume 'vol1'");

	/* a guaranteed volume reserves its space in the aggregate */
	ctl(r, &fp, "--json", "vol", "create", "g1", "aggr0", "1G", "-g", "volume", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "guarantee"), "volume");
	run_done(r);
	ctl(r, &fp, "--json", "aggr", "status", "aggr0", NULL);
	/* the whole size, less what the new volume already uses */
	cr_assert_gt(jnum(&r->json, "aggregates.0.reserved_bytes"), (1ull << 30) - (1ull << 20));
	run_done(r);
}

Test(filerctl, error_paths)
{
	struct run *r = &R;
	/* unknown aggregate */
	ctl(r, &fp, "vol", "create", "v1", "aggr9", "1G", NULL);
	EXPECT_FAIL(r, 1, "no such aggregate 'aggr9'");
	ctl(r, &fp, "aggr", "status", "aggr9", NULL);
	EXPECT_FAIL(r, 1, "no such aggregate 'aggr9'");
	ctl(r, &fp, "aggr", "check", "aggr9", NULL);
	EXPECT_FAIL(r, 1, "no such aggregate 'aggr9'");
	ctl(r, &fp, "aggr", "destroy", "aggr9", NULL);
	EXPECT_FAIL(r, 1, "no such aggregate 'aggr9'");
	ctl(r, &fp, "--json", "aggr", "add-disks", "aggr9", "dx", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "ENOENT");
	run_done(r);

	/* unknown volume */
	ctl(r, &fp, "vol", "size", "nosuch", "2G", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "size", "nosuch", "+1G", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "offline", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "online", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "restrict", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "vol", "destroy", "nosuch", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");

	/* no space: bigger than the aggregate, with a guarantee */
	ctl(r, &fp, "vol", "create", "huge", "aggr0", "100G", "-g", "volume", NULL);
	EXPECT_FAIL(r, 1, "not enough space");
	ctl(r, &fp, "--json", "vol", "create", "huge", "aggr0", "100G", "--guarantee=volume", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "ENOSPC");
	cr_assert_str_eq(jstr(&r->json, "error.message"), "not enough space");
	run_done(r);
	ctl(r, &fp, "vol", "size", "vol0", "-5G", NULL);
	EXPECT_FAIL(r, 1, "cannot shrink volume 'vol0'");

	/* already exists */
	ctl(r, &fp, "vol", "create", "vol0", "aggr0", "1G", NULL);
	EXPECT_FAIL(r, 1, "volume 'vol0' already exists");
	ctl(r, &fp, "--json", "vol", "create", "vol0", "aggr0", "1G", NULL);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EEXIST");
	run_done(r);

	/* export of an unknown volume; removing what is not exported */
	ctl(r, &fp, "export", "add", "/vol/x", "nosuch", "127.0.0.1(rw)", NULL);
	EXPECT_FAIL(r, 1, "no such volume 'nosuch'");
	ctl(r, &fp, "export", "remove", "/vol/nothere", NULL);
	EXPECT_FAIL(r, 1, "no such export '/vol/nothere'");
	ctl(r, &fp, "export", "add", "/vol/bad", "vol0", "127.0.0.1(frobnicate)", NULL);
	cr_assert_eq(r->code, 1, "%s", r->err);

	/* usage errors: exit 2 */
	ctl(r, &fp, "vol", "create", "v1", "aggr0", "12Q", NULL);
	EXPECT_FAIL(r, 2, "bad size '12Q'");
	ctl(r, &fp, "vol", "create", "v1", "aggr0", "-3G", NULL);
	cr_assert_eq(r->code, 2, "%s", r->err);
	ctl(r, &fp, "vol", "size", "vol0", "+lots", NULL);
	EXPECT_FAIL(r, 2, "bad size 'lots'");
	ctl(r, &fp, "vol", "create", "v1", "aggr0", NULL);
	EXPECT_FAIL(r, 2, "usage: filerctl vol create");
	ctl(r, &fp, "vol", "create", "v1", "aggr0", "1G", "-g", "maybe", NULL);
	EXPECT_FAIL(r, 2, "-g takes none or volume");
	ctl(r, &fp, "vol", "create", "--frob", "v1", "aggr0", "1G", NULL);
	EXPECT_FAIL(r, 2, "unknown option '--frob'");
	ctl(r, &fp, "export", "add", "vol/x", "vol0", "127.0.0.1(rw)", NULL);
	EXPECT_FAIL(r, 2, "must be absolute");
	ctl(r, &fp, "vol", "creat", "v1", "aggr0", "1G", NULL);
	EXPECT_FAIL(r, 2, "unknown command 'vol creat'; did you mean 'vol create'?");
	ctl(r, &fp, "stat", NULL);
	EXPECT_FAIL(r, 2, "unknown command 'stat'; did you mean 'stats'?");
	ctl(r, &fp, "agr", "status", NULL);
	EXPECT_FAIL(r, 2, "did you mean 'aggr status'?");
	ctl(r, &fp, "xyzzy", NULL);
	EXPECT_FAIL(r, 2, "unknown command 'xyzzy'");
	ctl(r, &fp, "vol", NULL);
	EXPECT_FAIL(r, 2, "'vol' needs a subcommand");
	ctl(r, &fp, "--json", "vol", "destory", "x", NULL);
	cr_assert_eq(r->code, 2);
	cr_assert_str_eq(jstr(&r->json, "error.code"), "usage");
	cr_assert(strstr(jstr(&r->json, "error.message"), "did you mean 'vol destroy'?"));
	run_done(r);

	/* none of it changed anything */
	ctl(r, &fp, "--json", "vol", "status", NULL);
	cr_assert_eq(jlen(&r->json, "volumes"), 1);
	run_done(r);
}

Test(filerctl, aggr_lifecycle)
{
	struct run *r = &R;
	char path[600];
	struct stat st;
	ctl(r, &fp, "--json", "aggr", "create", "aggr1", "-s", "256M", "d1", "d2", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "aggregate"), "aggr1");
	cr_assert_eq(jnum(&r->json, "ndisks"), 2);
	run_done(r);
	/* new file disks in the filer's home */
	snprintf(path, sizeof(path), "%s/d1", fp.home);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 256 << 20);
	snprintf(path, sizeof(path), "%s/aggr1.nvlog", fp.home);
	cr_assert_eq(stat(path, &st), 0);

	ctl(r, &fp, "aggr", "create", "aggr1", "-s", "256M", "d8", NULL);
	EXPECT_FAIL(r, 1, "aggregate 'aggr1' already exists");
	ctl(r, &fp, "aggr", "create", "aggr2", "-s", "256M", "d1", NULL);
	cr_assert_eq(r->code, 1, "a disk of aggr1 again: %s", r->err);
	ctl(r, &fp, "aggr", "create", "aggr2", NULL);
	EXPECT_FAIL(r, 2, "usage");

	ctl(r, &fp, "--json", "aggr", "status", "aggr1", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "aggregates.0.ndisks"), 2);
	cr_assert_eq(jnum(&r->json, "aggregates.0.nvols"), 0);
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.nvlog"), path);
	run_done(r);

	ctl(r, &fp, "vol", "create", "v1", "aggr1", "100M", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "aggr", "destroy", "aggr1", NULL);
	EXPECT_FAIL(r, 1, "busy");

	ctl(r, &fp, "--json", "aggr", "add-disks", "aggr1", "-s", "256M", "d3", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jnum(&r->json, "disks_added"), 1);
	run_done(r);
	ctl(r, &fp, "--json", "aggr", "status", "aggr1", NULL);
	cr_assert_eq(jnum(&r->json, "aggregates.0.ndisks"), 3);
	cr_assert_eq(jnum(&r->json, "aggregates.0.ngroups"), 2);
	cr_assert_eq(jnum(&r->json, "aggregates.0.nvols"), 1);
	run_done(r);

	/* the checker sees the durable image: make it current first */
	ctl(r, &fp, "cp", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "aggr", "check", "aggr1", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "0 problems"), "%s", r->out);
	ctl(r, &fp, "--json", "aggr", "check", "aggr1", NULL);
	EXPECT_OK(r);
	cr_assert(jbool(&r->json, "ok"));
	cr_assert_eq(jnum(&r->json, "problems"), 0);
	cr_assert_eq(jnum(&r->json, "corrupt_blocks"), 0);
	cr_assert_eq(jlen(&r->json, "problem_list"), 0);
	cr_assert_eq(jnum(&r->json, "vols_checked"), 1);
	cr_assert_gt(jnum(&r->json, "blocks_checked"), 0);
	cr_assert_gt(jnum(&r->json, "inodes_checked"), 0);
	run_done(r);

	ctl(r, &fp, "vol", "offline", "v1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "vol", "destroy", "v1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "aggr", "destroy", "aggr1", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "aggregate"), "aggr1");
	run_done(r);
	ctl(r, &fp, "aggr", "status", "aggr1", NULL);
	EXPECT_FAIL(r, 1, "no such aggregate 'aggr1'");
	snprintf(path, sizeof(path), "%s/d1", fp.home);
	cr_assert_neq(stat(path, &st), 0, "the destroyed aggregate's disk is still there");

	/* a traditional volume: an aggregate that is its own volume */
	ctl(r, &fp, "aggr", "create", "trad1", "-t", "trad", "-s", "256M", "t1", NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "aggr", "status", "trad1", NULL);
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.type"), "trad");
	run_done(r);
	ctl(r, &fp, "--json", "vol", "status", "trad1", NULL);
	EXPECT_OK(r);
	cr_assert_str_eq(jstr(&r->json, "volumes.0.type"), "trad");
	run_done(r);
	ctl(r, &fp, "aggr", "destroy", "trad1", NULL);
	EXPECT_OK(r);
}

/* An NFS NULL call on the filer's NFS port, for the counters. */
static void nfs_null(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	uint32_t call[11] = {htonl(0x80000000u | 40),
			     htonl(7),
			     0,
			     htonl(2),
			     htonl(100003),
			     htonl(3),
			     0,
			     0,
			     0,
			     0,
			     0};
	cr_assert_eq(write(fd, call, sizeof(call)), (ssize_t)sizeof(call));
	uint32_t rep[7];
	size_t got = 0;
	while (got < sizeof(rep)) {
		ssize_t n = read(fd, (char *)rep + got, sizeof(rep) - got);
		cr_assert_gt(n, 0);
		got += (size_t)n;
	}
	cr_assert_eq(ntohl(rep[1]), 7);
	close(fd);
}

Test(filerctl, stats_and_cp)
{
	struct run *r = &R;
	nfs_null(fp.port);
	nfs_null(fp.port);

	ctl(r, &fp, "--json", "stats", NULL);
	EXPECT_OK(r);
	const struct jv *p = jfind(&r->json, "nfs.procedures", "name", "null");
	cr_assert(p);
	cr_assert_str_eq(jstr(p, "program"), "nfs3");
	cr_assert_eq(jnum(p, "calls"), 2);
	cr_assert_eq(jnum(p, "errors"), 0);
	cr_assert_geq(jnum(p, "usec_max"), jnum(p, "usec_avg"));
	cr_assert(jfind(&r->json, "nfs.procedures", "name", "write"));
	cr_assert(jfind(&r->json, "nfs.procedures", "name", "mnt"));
	cr_assert_geq(jnum(&r->json, "nfs.rpc_calls"), 2);
	cr_assert_geq(jnum(&r->json, "nfs.connections"), 2);
	jnum(&r->json, "nfs.bytes_read");
	jnum(&r->json, "nfs.bytes_written");
	cr_assert_gt(jnum(&r->json, "uptime_usec"), 0);
	cr_assert_eq(jlen(&r->json, "aggregates"), 1);
	cr_assert_str_eq(jstr(&r->json, "aggregates.0.name"), "aggr0");
	cr_assert_gt(jnum(&r->json, "aggregates.0.nvlog_size_bytes"), 0);
	cr_assert_gt(jnum(&r->json, "aggregates.0.cache_bytes"), 0);
	double hit = jdbl(&r->json, "aggregates.0.cache_hit_rate");
	cr_assert(hit >= 0 && hit <= 1, "hit rate %f", hit);
	unsigned long long cps = jnum(&r->json, "aggregates.0.cps");
	unsigned long long cpc = jnum(&r->json, "aggregates.0.cp_count");
	jnum(&r->json, "aggregates.0.cp_avg_usec");
	jnum(&r->json, "aggregates.0.nvlog_used_bytes");
	run_done(r);

	ctl(r, &fp, "stats", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "null") && strstr(r->out, "aggr0") && strstr(r->out, "NVLOG"),
		  "%s", r->out);
	ctl(r, &fp, "stats", "-a", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "readdirplus"), "%s", r->out);

	/* cp answers once the CP is durable: the count has moved */
	ctl(r, &fp, "--json", "cp", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "aggregates"), 1);
	cr_assert_gt(jnum(&r->json, "aggregates.0.cp_count"), cpc);
	run_done(r);
	ctl(r, &fp, "cp", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "durable"), "%s", r->out);
	ctl(r, &fp, "--json", "stats", NULL);
	cr_assert_geq(jnum(&r->json, "aggregates.0.cps"), cps + 2);
	run_done(r);
}

Test(filerctl, help)
{
	struct run *r = &R;
	ctl(r, &fp, "help", NULL);
	EXPECT_OK(r);
	const char *all[] = {"aggr create",  "aggr status",   "aggr add-disks", "aggr check",
			     "aggr destroy", "vol create",    "vol status",	"vol size",
			     "vol offline",  "vol online",    "vol restrict",	"vol destroy",
			     "export add",   "export remove", "export list",	"stats",
			     "cp",	     "version"};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cr_assert(strstr(r->out, all[i]), "help lacks %s", all[i]);
	ctl(r, &fp, "help", "vol", "create", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "usage: filerctl vol create NAME AGGR SIZE"), "%s", r->out);
	ctl(r, &fp, "vol", "create", "--help", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "usage: filerctl vol create"), "%s", r->out);
	ctl(r, &fp, "help", "export", NULL);
	EXPECT_OK(r);
	cr_assert(strstr(r->out, "export remove"), "%s", r->out);
	ctl(r, &fp, "help", "vol", "craete", NULL);
	EXPECT_FAIL(r, 2, "did you mean 'vol create'?");
	ctl(r, &fp, NULL);
	EXPECT_FAIL(r, 2, "usage: filerctl");
}

/* ---- reaching the filer ------------------------------------------------ */

static int ctl_sock(struct run *r, const char *sock, const char *cmd)
{
	char *argv[] = {(char *)filerctl_bin(), "-s", (char *)sock, (char *)cmd, NULL};
	run_as(r, 0, 0, argv);
	return r->code;
}

Test(filerctl, unreachable)
{
	struct run *r = &R;
	char p[600];
	snprintf(p, sizeof(p), "%s/no.sock", fp.home);
	ctl_sock(r, p, "version");
	EXPECT_FAIL(r, 3, "no control socket at");
	snprintf(p, sizeof(p), "%s/secret", fp.home);
	ctl_sock(r, p, "version");
	EXPECT_FAIL(r, 3, "is not a socket");
	/* $FILER_HOME names the default socket */
	setenv("FILER_HOME", fp.home, 1);
	char *argv[] = {(char *)filerctl_bin(), "version", NULL};
	run_as(r, 0, 0, argv);
	unsetenv("FILER_HOME");
	EXPECT_OK(r);

	/* a stopped filer removes its socket */
	cr_assert_eq(fp_stop(&fp, SIGTERM), 0);
	sock_path(&fp, p, sizeof(p));
	struct stat st;
	cr_assert_neq(stat(p, &st), 0, "the socket outlived the filer");
	ctl(r, &fp, "version", NULL);
	EXPECT_FAIL(r, 3, "cannot reach the filer");
	/* a stale socket file (a filer that was killed) is replaced at start */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	cr_assert_lt(strlen(p), sizeof(sun.sun_path));
	memcpy(sun.sun_path, p, strlen(p) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ctl(r, &fp, "version", NULL);
	EXPECT_FAIL(r, 3, "nothing listens");
	cr_assert_eq(fp_start(&fp), 0);
	ctl(r, &fp, "version", NULL);
	EXPECT_OK(r);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

/* ---- the wire ---------------------------------------------------------- */

static int connect_sock(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Sends a call (prog, vers, proc, AUTH_NONE, args) and reads the reply
 * record into rep (host order words); returns its length in words, 0 when
 * the connection closed without one. */
static size_t raw_call(int fd, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc,
		       const uint32_t *args, size_t nargs, uint32_t *rep, size_t max)
{
	uint32_t call[64];
	size_t n = 0;
	call[n++] = 0;
	uint32_t hdr[] = {xid, 0, 2, prog, vers, proc, 0, 0, 0, 0};
	for (size_t i = 0; i < 10; i++)
		call[n++] = htonl(hdr[i]);
	for (size_t i = 0; i < nargs; i++)
		call[n++] = htonl(args[i]);
	call[0] = htonl(0x80000000u | (uint32_t)((n - 1) * 4));
	if (write(fd, call, n * 4) != (ssize_t)(n * 4))
		return 0;
	uint32_t mark;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, 10000) != 1 || read(fd, &mark, 4) != 4)
		return 0;
	size_t len = ntohl(mark) & 0x7fffffffu, got = 0;
	cr_assert_leq(len, max * 4);
	while (got < len) {
		ssize_t k = read(fd, (char *)rep + got, len - got);
		if (k <= 0)
			return 0;
		got += (size_t)k;
	}
	for (size_t i = 0; i < len / 4; i++)
		rep[i] = ntohl(rep[i]);
	return len / 4;
}

Test(filerctl, wire)
{
	char p[600];
	sock_path(&fp, p, sizeof(p));
	int fd = connect_sock(p);
	cr_assert_geq(fd, 0);
	uint32_t rep[256];
	/* NULL: accepted, SUCCESS */
	size_t n = raw_call(fd, 1, FILERCTL_PROG, 1, 0, NULL, 0, rep, 256);
	cr_assert_eq(n, 6);
	cr_assert_eq(rep[0], 1);
	cr_assert_eq(rep[2], 0); /* MSG_ACCEPTED */
	cr_assert_eq(rep[5], 0); /* SUCCESS */
	/* another version: PROG_MISMATCH 1..1 */
	n = raw_call(fd, 2, FILERCTL_PROG, 2, 1, NULL, 0, rep, 256);
	cr_assert_eq(n, 8);
	cr_assert_eq(rep[5], 2);
	cr_assert_eq(rep[6], 1);
	cr_assert_eq(rep[7], 1);
	/* NFS is not served here: PROG_UNAVAIL */
	n = raw_call(fd, 3, 100003, 3, 0, NULL, 0, rep, 256);
	cr_assert_eq(n, 6);
	cr_assert_eq(rep[5], 1);
	/* an unknown procedure: PROC_UNAVAIL */
	n = raw_call(fd, 4, FILERCTL_PROG, 1, 999, NULL, 0, rep, 256);
	cr_assert_eq(n, 6);
	cr_assert_eq(rep[5], 3);
	/* garbage arguments (a string longer than its limit): GARBAGE_ARGS */
	uint32_t bad[] = {100000};
	n = raw_call(fd, 5, FILERCTL_PROG, 1, 8 /* VOL_STATUS */, bad, 1, rep, 256);
	cr_assert_eq(n, 6);
	cr_assert_eq(rep[5], 4);
	/* and the connection still works */
	uint32_t empty[] = {0};
	n = raw_call(fd, 6, FILERCTL_PROG, 1, 8, empty, 1, rep, 256);
	cr_assert_gt(n, 6);
	cr_assert_eq(rep[0], 6);
	cr_assert_eq(rep[5], 0);
	cr_assert_eq(rep[6], 0); /* status */
	close(fd);
}

/* ---- who may use it ---------------------------------------------------- */

/* A copy of filerctl that nobody may run (the build tree may not be). */
static void filerctl_copy(char *dir, size_t dlen, char *bin, size_t blen)
{
	snprintf(dir, dlen, "/tmp/filerctl-test.XXXXXX");
	cr_assert(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(bin, blen, "%s/filerctl", dir);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 755 '%s'", filerctl_bin(), bin, bin);
	cr_assert_eq(system(cmd), 0);
}

/* In a child running as nobody: connects to path and sends a FILERCTL
 * NULL call. Returns 0 when connected (then *what: 'D' denied with
 * AUTH_ERROR/AUTH_TOOWEAK, 'A' accepted, 'C' closed without a reply, '?'
 * anything else; *closed: the filer hung up after answering), else the
 * errno of connect(). */
static int nobody_connect(const char *path, char *what, bool *closed)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		char res[3] = {0, 0, 0};
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(126);
		int fd = connect_sock(path);
		if (fd < 0) {
			res[0] = 'E';
			res[1] = (char)errno;
		} else {
			uint32_t rep[64];
			size_t n = raw_call(fd, 9, FILERCTL_PROG, 1, 0, NULL, 0, rep, 64);
			if (n == 0)
				res[0] = 'C';
			else if (n >= 5 && rep[2] == 1 && rep[3] == 1)
				res[0] = rep[4] == 5 ? 'D' : '?';
			else
				res[0] = rep[2] == 0 ? 'A' : '?';
			char b;
			struct pollfd q = {.fd = fd, .events = POLLIN};
			res[2] = poll(&q, 1, 5000) == 1 && read(fd, &b, 1) == 0;
		}
		(void)!write(pfd[1], res, 3);
		_exit(0);
	}
	close(pfd[1]);
	char res[3] = {0, 0, 0};
	cr_assert_eq(read(pfd[0], res, 3), 3);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child could not become nobody");
	*what = res[0];
	*closed = res[2];
	return res[0] == 'E' ? res[1] : 0;
}

Test(filerctl, unprivileged_user_is_refused)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root to become nobody (uid %d)", NOBODY);
		return;
	}
	struct run *r = &R;
	char dir[64], bin[128], sock[600];
	filerctl_copy(dir, sizeof(dir), bin, sizeof(bin));
	sock_path(&fp, sock, sizeof(sock));
	struct stat st;
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);

	/* the home is 0700, the socket 0600: permission denied at connect */
	char *argv[] = {bin, "-s", sock, "version", NULL};
	run_as(r, NOBODY, NOBODY, argv);
	EXPECT_FAIL(r, 3, "permission denied");
	char *jargv[] = {bin, "-s", sock, "--json", "vol", "status", NULL};
	run_as(r, NOBODY, NOBODY, jargv);
	cr_assert_eq(r->code, 3);
	cr_assert(json_parse(r->out, &r->json), "%s", r->out);
	r->parsed = true;
	cr_assert_str_eq(jstr(&r->json, "error.code"), "EACCES");
	run_done(r);
	char what;
	bool closed;
	cr_assert_eq(nobody_connect(sock, &what, &closed), EACCES);

	/* even when the file lets anyone in, the filer checks the peer's
	 * credentials: AUTH_ERROR, then the connection is closed */
	cr_assert_eq(chmod(fp.home, 0755), 0);
	cr_assert_eq(chmod(sock, 0666), 0);
	cr_assert_eq(nobody_connect(sock, &what, &closed), 0);
	cr_assert_eq(what, 'D', "nobody got '%c'", what);
	cr_assert(closed, "the filer kept the connection open");
	run_as(r, NOBODY, NOBODY, argv);
	EXPECT_FAIL(r, 3, "permission denied");

	/* root still may, and nothing changed */
	ctl(r, &fp, "--json", "vol", "status", NULL);
	EXPECT_OK(r);
	cr_assert_eq(jlen(&r->json, "volumes"), 1);
	run_done(r);
	chmod(sock, 0600);
	chmod(fp.home, 0700);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A filer started with -c FILE (fp_start knows only the embedded
 * default): same home, same output protocol. */
static void start_with_conf(struct filerproc *f, const char *home, const char *conf_text)
{
	char conf[700];
	snprintf(conf, sizeof(conf), "%s/filer.conf", home);
	FILE *o = fopen(conf, "w");
	cr_assert(o);
	fputs(conf_text, o);
	fclose(o);
	int out[2];
	cr_assert_eq(pipe(out), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl(fp_binary(), "filer", "-c", conf, "--home", home, "--port", "0",
		      "--portmap-port", "0", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f->pid = pid;
	FILE *in = fdopen(out[0], "r");
	char line[512];
	bool up = false;
	while (!up && fgets(line, sizeof(line), in))
		up = strstr(line, "mount with") != NULL;
	fclose(in);
	cr_assert(up, "the filer did not start with %s", conf_text);
}

Test(filerctl, control_group_members_may_use_it)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root to become other users");
		return;
	}
	struct run *r = &R;
	/* a second filer, configured with a control group, in a home of its own */
	struct filerproc g = {0};
	cr_assert_lt(strlen(fp.home) + 2, sizeof(g.home));
	memcpy(g.home, fp.home, strlen(fp.home));
	memcpy(g.home + strlen(fp.home), "/g", 3);
	cr_assert_eq(mkdir(g.home, 0755), 0);
	cr_assert_eq(chmod(fp.home, 0755), 0);
	char text[64];
	snprintf(text, sizeof(text), "control_group %u\n", NOBODY);
	start_with_conf(&g, g.home, text);
	char dir[64], bin[128], sock[600];
	filerctl_copy(dir, sizeof(dir), bin, sizeof(bin));
	sock_path(&g, sock, sizeof(sock));
	struct stat st;
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
	cr_assert_eq(st.st_gid, NOBODY);

	char *argv[] = {bin, "-s", sock, "--json", "version", NULL};
	/* the group as primary group */
	run_as(r, NOBODY, NOBODY, argv);
	EXPECT_OK(r);
	/* the group as a supplementary group */
	gid_t sup[] = {NOBODY};
	run_as_groups(r, NOBODY - 1, 100, 1, sup, argv);
	EXPECT_OK(r);
	cr_assert(json_parse(r->out, &r->json), "%s", r->out);
	r->parsed = true;
	cr_assert(jbool(&r->json, "ok"));
	run_done(r);
	/* not in the group: the file says no */
	run_as(r, NOBODY - 1, 100, argv);
	EXPECT_FAIL(r, 3, "permission denied");

	int stc = fp_stop(&g, SIGTERM);
	cr_expect(WIFEXITED(stc) && WEXITSTATUS(stc) == 0, "the second filer exited with %d", stc);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Strings that need escaping come back intact through --json. */
Test(filerctl, json_escapes)
{
	struct run *r = &R;
	const char *path = "/vol/q\"uo\\te\xc3\xa9";
	const char *clients = "127.0.0.1(rw)\t10.0.0.1(ro)";
	ctl(r, &fp, "export", "add", path, "vol0", clients, NULL);
	EXPECT_OK(r);
	ctl(r, &fp, "--json", "export", "list", NULL);
	EXPECT_OK(r);
	const struct jv *e = jfind(&r->json, "exports", "path", path);
	cr_assert(e, "%s", r->out);
	cr_assert_str_eq(jstr(e, "clients"), clients);
	run_done(r);
	ctl(r, &fp, "--json", "vol", "status", "x\x01y\"z", NULL);
	cr_assert_eq(r->code, 1);
	cr_assert(strstr(jstr(&r->json, "error.message"), "x\x01y\"z"));
	run_done(r);
}

/* A fake control socket that answers every call with accept_stat `stat`
 * (and the version range lo..hi for PROG_MISMATCH), once. */
static pid_t fake_server(const char *path, uint32_t stat, uint32_t lo, uint32_t hi)
{
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	cr_assert_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(ls, 1), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = accept(ls, NULL, NULL);
		uint32_t rec[64];
		if (fd < 0 || read(fd, rec, sizeof(rec)) < 8)
			_exit(1);
		uint32_t rep[] = {htonl(0x80000000u | 32),
				  rec[1],
				  htonl(1),
				  0,
				  0,
				  0,
				  htonl(stat),
				  htonl(lo),
				  htonl(hi)};
		size_t len = stat == 2 ? sizeof(rep) : sizeof(rep) - 8;
		rep[0] = htonl(0x80000000u | (uint32_t)(len - 4));
		(void)!write(fd, rep, len);
		close(fd);
		_exit(0);
	}
	close(ls);
	return pid;
}

Test(filerctl, other_protocols_are_named)
{
	struct run *r = &R;
	char p[600];
	snprintf(p, sizeof(p), "%s/fake.sock", fp.home);
	pid_t pid = fake_server(p, 2 /* PROG_MISMATCH */, 2, 3);
	ctl_sock(r, p, "version");
	EXPECT_FAIL(r, 3,
		    "version mismatch: this filerctl speaks control protocol 1, the filer "
		    "speaks 2..3");
	waitpid(pid, NULL, 0);
	unlink(p);
	pid = fake_server(p, 1 /* PROG_UNAVAIL */, 0, 0);
	ctl_sock(r, p, "version");
	EXPECT_FAIL(r, 3, "is not a filer control socket");
	waitpid(pid, NULL, 0);
	unlink(p);
	pid = fake_server(p, 5 /* SYSTEM_ERR */, 0, 0);
	ctl_sock(r, p, "version");
	EXPECT_FAIL(r, 1, "the filer failed to answer");
	waitpid(pid, NULL, 0);
}
