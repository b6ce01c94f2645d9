/*
 * test_interop.c - the filer against the real tools of a Debian system:
 * rpcinfo(8) and showmount(8) (the port mapper, MOUNT's EXPORT and DUMP)
 * and libnfs's nfs-cp and nfs-ls (MOUNT, and NFSv3 file I/O as a
 * user-space client does it).
 *
 * rpcinfo -p and showmount only talk to port 111, and rpcinfo -n still
 * asks port 111 first; so, when running as root, those tests start a
 * filer on ports 111 and 2049 inside a private network namespace
 * (unshare -n), where nothing else listens, and run the tools in there.
 * Elsewhere rpcinfo -a (a universal address, no port mapper) checks the
 * ports a filer picked itself. A missing tool skips its test, saying so.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tests/lib/filerproc.h"

#define OUT_MAX (64u << 10)

static char *out; /* what the last command printed */

/* Runs cmd through sh, stdout and stderr into out; its exit status
 * (-1: it did not exit normally). */
static int run(const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof(full), "( %s ) 2>&1", cmd);
	FILE *p = popen(full, "r");
	cr_assert_not_null(p, "popen: %s", strerror(errno));
	size_t n = 0, k;
	while (n + 1 < OUT_MAX && (k = fread(out + n, 1, OUT_MAX - 1 - n, p)) > 0)
		n += k;
	out[n] = 0;
	char junk[4096];
	while (fread(junk, 1, sizeof(junk), p) > 0)
		; /* whatever did not fit */
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s", name);
	return run(cmd) == 0;
}

#define NEED_TOOL(name, package)                                                                   \
	do {                                                                                       \
		if (!have_tool(name))                                                              \
			cr_skip_test("%s is not installed (Debian package %s)", name, package);    \
	} while (0)

/* True if some line of text, split at white space, starts with the words
 * of want (also split at white space). */
static bool has_line(const char *text, const char *want)
{
	char w[16][64];
	int nw = 0, used;
	for (const char *p = want; nw < 16 && sscanf(p, "%63s%n", w[nw], &used) == 1; p += used)
		nw++;
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024], tok[64];
		snprintf(buf, sizeof(buf), "%.*s", (int)(len < 1023 ? len : 1023), line);
		const char *q = buf;
		int i = 0;
		while (i < nw && sscanf(q, "%63s%n", tok, &used) == 1 && strcmp(tok, w[i]) == 0) {
			i++;
			q += used;
		}
		if (i == nw)
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* "h1.h2.h3.h4.p1.p2" for 127.0.0.1:port */
static void uaddr(uint16_t port, char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1.%u.%u", port >> 8, port & 255);
}

static void sha256_file(const char *path, unsigned char md[32], size_t *size)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	cr_assert(c && EVP_DigestInit_ex(c, EVP_sha256(), NULL));
	unsigned char buf[65536];
	size_t n;
	*size = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		cr_assert(EVP_DigestUpdate(c, buf, n));
		*size += n;
	}
	unsigned int mdlen;
	cr_assert(EVP_DigestFinal_ex(c, md, &mdlen));
	cr_assert_eq(mdlen, 32);
	EVP_MD_CTX_free(c);
	fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (strstr(dir, "/filertest."))
		(void)run(cmd);
}

/* ---- fixtures ------------------------------------------------------------- */

static struct filerproc fp;

static void up_bare(void)
{
	out = malloc(OUT_MAX);
	cr_assert_not_null(out);
}

static void down_bare(void)
{
	free(out);
}

static void up(void)
{
	up_bare();
	int rc = fp_start_new(&fp);
	cr_assert_eq(rc, 0, "cannot start %s: %s", fp_binary(), strerror(-rc));
}

static void down(void)
{
	fp_destroy(&fp);
	down_bare();
}

TestSuite(interop, .timeout = 60);

/* ---- rpcinfo on the filer's own ports ---------------------------------------- */

Test(interop, rpcinfo_direct, .init = up, .fini = down)
{
	NEED_TOOL("rpcinfo", "rpcbind");
	char nfs[64], pmap[64], cmd[512];
	uaddr(fp.port, nfs, sizeof(nfs));
	uaddr(fp.pmap_port, pmap, sizeof(pmap));
	struct {
		const char *addr, *netid;
		unsigned prog;
		const char *versions;
	} probes[] = {
		{nfs, "tcp", 100003, "3"},	{nfs, "udp", 100003, "3"},
		{nfs, "tcp", 100005, "1 2 3"},	{nfs, "udp", 100005, "1 2 3"},
		{pmap, "tcp", 100000, "2 3 4"}, {pmap, "udp", 100000, "2 3 4"},
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		/* no version: rpcinfo calls version 0, learns the range from
		 * PROG_MISMATCH, then pings each version */
		snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T %s %u", probes[i].addr,
			 probes[i].netid, probes[i].prog);
		int st = run(cmd);
		cr_assert_eq(st, 0, "%s: exit %d:\n%s", cmd, st, out);
		char vs[16], want[128];
		snprintf(vs, sizeof(vs), "%s", probes[i].versions);
		for (char *v = strtok(vs, " "); v; v = strtok(NULL, " ")) {
			snprintf(want, sizeof(want), "program %u version %s ready and waiting",
				 probes[i].prog, v);
			cr_assert(has_line(out, want), "%s: no '%s' in:\n%s", cmd, want, out);
		}
	}
	/* a program the filer does not serve */
	snprintf(cmd, sizeof(cmd), "rpcinfo -a %s -T tcp 100021 4", nfs);
	cr_assert_neq(run(cmd), 0, "rpcinfo found NLM:\n%s", out);
	cr_assert(strstr(out, "unavailable") != NULL, "%s", out);
}

/* ---- rpcinfo -p and showmount on port 111, in a namespace ------------------------ */

/* Runs script under sh in a private network namespace (loopback up), a
 * filer on 2049 and 111 started first; what it printed is in out. False
 * if network namespaces are not available here. */
static bool in_namespace(const char *script)
{
	if (geteuid() != 0 || !have_tool("unshare") || !have_tool("ip"))
		return false;
	if (run("unshare -n true") != 0)
		return false;
	char bin[PATH_MAX];
	cr_assert_not_null(realpath(fp_binary(), bin), "%s: %s", fp_binary(), strerror(errno));
	char dir[] = "/tmp/filertest.XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/script.sh", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"H=%s\n"
		"ip link set lo up || exit 97\n"
		"'%s' --home \"$H/home\" --port 2049 --portmap-port 111 \\\n"
		"\t>\"$H/out\" 2>\"$H/err\" &\n"
		"F=$!\n"
		"trap 'kill $F 2>/dev/null; wait $F' EXIT\n"
		"for i in $(seq 100); do\n"
		"\tgrep -q 'mount with' \"$H/out\" && break; sleep 0.1\n"
		"done\n"
		"grep -q 'mount with' \"$H/out\" || { cat \"$H/err\"; exit 98; }\n"
		"%s\n",
		dir, bin, script);
	fclose(f);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "unshare -n sh '%s'; echo \"exit=$?\"", path);
	(void)run(cmd);
	char *saved = strdup(out);
	cr_assert_not_null(saved);
	rm_rf(dir);
	memcpy(out, saved, strlen(saved) + 1);
	free(saved);
	cr_assert(strstr(out, "exit=97") == NULL, "cannot bring up lo:\n%s", out);
	cr_assert(strstr(out, "exit=98") == NULL, "the filer did not start on 2049/111:\n%s", out);
	return true;
}

Test(interop, rpcinfo_portmap_111, .init = up_bare, .fini = down_bare)
{
	NEED_TOOL("rpcinfo", "rpcbind");
	if (!in_namespace("echo '== -p'; rpcinfo -p 127.0.0.1; echo \"rc=$?\"\n"
			  "echo '== -s'; rpcinfo -s 127.0.0.1; echo \"rc=$?\"\n"
			  "echo '== -t'; rpcinfo -t 127.0.0.1 nfs 3; echo \"rc=$?\"\n"
			  "echo '== -u'; rpcinfo -u 127.0.0.1 mountd; echo \"rc=$?\"\n"
			  "echo '== -l'; rpcinfo -l 127.0.0.1 100003 3; echo \"rc=$?\"\n"
			  "echo '== -n'; rpcinfo -n 2049 -t 127.0.0.1 100003 3; echo \"rc=$?\"\n"))
		cr_skip_test("needs root and unshare -n (a network namespace) for port 111");
	cr_log_info("rpcinfo in a namespace:\n%s", out);
	cr_assert(strstr(out, "rc=1") == NULL && strstr(out, "rc=2") == NULL,
		  "an rpcinfo failed:\n%s", out);
	/* -p: portmap v2 DUMP */
	const char *dump[] = {
		"100000 2 tcp 111 portmapper", "100000 2 udp 111 portmapper",
		"100003 3 tcp 2049 nfs",       "100003 3 udp 2049 nfs",
		"100005 3 tcp 2049 mountd",    "100005 1 udp 2049 mountd",
	};
	for (size_t i = 0; i < sizeof(dump) / sizeof(dump[0]); i++)
		cr_assert(has_line(out, dump[i]), "rpcinfo -p: no '%s' in:\n%s", dump[i], out);
	/* -s: rpcbind v3/v4 DUMP, summarised */
	cr_assert(has_line(out, "100003 3 udp,tcp nfs"), "rpcinfo -s:\n%s", out);
	cr_assert(has_line(out, "100005 3,2,1 udp,tcp mountd"), "rpcinfo -s:\n%s", out);
	/* -t, -u, -n: GETADDR, then pings */
	cr_assert(has_line(out, "program 100003 version 3 ready and waiting"), "%s", out);
	cr_assert(has_line(out, "program 100005 version 1 ready and waiting"), "%s", out);
	/* -l: GETADDRLIST */
	cr_assert(has_line(out, "100003 3 inet/tcp/cots_ord 127.0.0.1.8.1 nfs"), "rpcinfo -l:\n%s",
		  out);
}

Test(interop, showmount_111, .init = up_bare, .fini = down_bare)
{
	NEED_TOOL("showmount", "nfs-common");
	bool ls = have_tool("nfs-ls");
	char script[1024];
	snprintf(script, sizeof(script),
		 "echo '== -e'; showmount -e 127.0.0.1; echo \"rc=$?\"\n"
		 "%s\n"
		 "echo '== -a'; showmount -a 127.0.0.1; echo \"rc=$?\"\n"
		 "echo '== -d'; showmount -d 127.0.0.1; echo \"rc=$?\"\n",
		 ls ? "nfs-ls nfs://127.0.0.1/vol/vol0 >/dev/null; echo \"mount rc=$?\"" : "");
	if (!in_namespace(script))
		cr_skip_test("needs root and unshare -n (a network namespace) for port 111");
	cr_log_info("showmount in a namespace:\n%s", out);
	cr_assert(strstr(out, "rc=1") == NULL, "a showmount failed:\n%s", out);
	/* EXPORT: the path and the client pattern as configured */
	cr_assert(has_line(out, "/vol/vol0 127.0.0.1"), "showmount -e:\n%s", out);
	if (ls) {
		/* DUMP: the mount nfs-ls made through the port mapper (it
		 * does not unmount) */
		cr_assert(has_line(out, "mount rc=0"), "nfs-ls through port 111:\n%s", out);
		cr_assert(has_line(out, "127.0.0.1:/vol/vol0"), "showmount -a:\n%s", out);
		cr_assert(has_line(out, "/vol/vol0"), "showmount -d:\n%s", out);
	}
}

/* ---- libnfs: nfs-cp and nfs-ls ---------------------------------------------- */

/* A URL for name in the export (the export itself: NULL), on the
 * filer's own ports. */
static void url_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "nfs://127.0.0.1/vol/vol0%s%s?nfsport=%u&mountport=%u&version=3",
		 name ? "/" : "", name ? name : "", fp.port, fp.port);
}

/* nfs-cp from to; its exit status. */
static int nfs_cp(const char *from, const char *to)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "nfs-cp '%s' '%s'", from, to);
	return run(cmd);
}

Test(interop, nfs_cp_roundtrip, .init = up, .fini = down)
{
	NEED_TOOL("nfs-cp", "libnfs-utils");
	NEED_TOOL("nfs-ls", "libnfs-utils");
	char dir[] = "/tmp/filertest.XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char src[64], dst[64], empty[64], empty_out[64], absent_out[64], url[256], cmd[512];
	snprintf(src, sizeof(src), "%s/src.bin", dir);
	snprintf(dst, sizeof(dst), "%s/dst.bin", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(empty_out, sizeof(empty_out), "%s/empty.out", dir);
	snprintf(absent_out, sizeof(absent_out), "%s/absent.out", dir);

	/* 10 MiB of random bytes, and an empty file */
	size_t size = 10u << 20;
	uint8_t *data = malloc(size);
	cr_assert_not_null(data);
	for (size_t off = 0; off < size;) {
		ssize_t n = getrandom(data + off, size - off, 0);
		cr_assert_gt(n, 0);
		off += (size_t)n;
	}
	FILE *f = fopen(src, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, size, f), size);
	fclose(f);
	free(data);
	f = fopen(empty, "wb");
	cr_assert_not_null(f);
	fclose(f);

	/* in */
	url_of("big.bin", url, sizeof(url));
	int st = nfs_cp(src, url);
	cr_assert_eq(st, 0, "nfs-cp %s %s: exit %d:\n%s", src, url, st, out);
	url_of("empty", url, sizeof(url));
	st = nfs_cp(empty, url);
	cr_assert_eq(st, 0, "nfs-cp %s %s: exit %d:\n%s", empty, url, st, out);

	/* listed, with the right sizes */
	url_of(NULL, url, sizeof(url));
	snprintf(cmd, sizeof(cmd), "nfs-ls '%s'", url);
	st = run(cmd);
	cr_assert_eq(st, 0, "%s: exit %d:\n%s", cmd, st, out);
	bool big = false, emp = false;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char mode[32], name[256];
		unsigned long long nlink, uid, gid, sz;
		if (sscanf(line, "%31s %llu %llu %llu %llu %255s", mode, &nlink, &uid, &gid, &sz,
			   name) != 6)
			continue;
		if (strcmp(name, "big.bin") == 0) {
			cr_assert_eq(sz, size, "nfs-ls: big.bin is %llu bytes", sz);
			cr_assert_eq(mode[0], '-');
			big = true;
		}
		if (strcmp(name, "empty") == 0) {
			cr_assert_eq(sz, 0);
			emp = true;
		}
	}
	cr_assert(big && emp, "nfs-ls does not list big.bin and empty");

	/* out, and the same bytes */
	url_of("big.bin", url, sizeof(url));
	st = nfs_cp(url, dst);
	cr_assert_eq(st, 0, "nfs-cp %s %s: exit %d:\n%s", url, dst, st, out);
	unsigned char h1[32], h2[32];
	size_t s1, s2;
	sha256_file(src, h1, &s1);
	sha256_file(dst, h2, &s2);
	cr_assert_eq(s2, s1, "copied out %zu bytes of %zu", s2, s1);
	cr_assert(memcmp(h1, h2, 32) == 0, "the copy out differs from what went in (sha256)");
	url_of("empty", url, sizeof(url));
	cr_assert_eq(nfs_cp(url, empty_out), 0, "%s", out);
	struct stat sb;
	cr_assert_eq(stat(empty_out, &sb), 0);
	cr_assert_eq(sb.st_size, 0);

	/* a file that is not there: nfs-cp fails, the filer goes on */
	url_of("absent", url, sizeof(url));
	cr_assert_neq(nfs_cp(url, absent_out), 0);
	url_of(NULL, url, sizeof(url));
	snprintf(cmd, sizeof(cmd), "nfs-ls '%s'", url);
	cr_assert_eq(run(cmd), 0, "%s", out);
	rm_rf(dir);
}
