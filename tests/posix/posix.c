/*
 * posix.c - the runner of the POSIX behaviour suite, and the helpers its
 * cases share (posix.h).
 *
 *   posix [-l] DIR [CASE...]
 *
 * runs every case (or those named) in DIR, one line per case:
 *
 *   ok   rename_dir_nlink (0.3 s)
 *   FAIL chmod_sgid_nonmember: attrs.c:120: st.st_mode & 07777 == 0755: got ...
 *
 * and a closing line "N passed, N failed". Exit status 0 when nothing
 * failed, 1 otherwise, 2 on usage. -l lists the cases.
 */
#include "tests/posix/posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds a case may take before the runner kills it. */
#define PX_CASE_LIMIT_S 900

const struct px_user PX_U1 = {1001, 1001, 2, {1001, PX_G_SHARED}};
const struct px_user PX_U2 = {1002, 1002, 1, {1002}};
const struct px_user PX_U3 = {1003, 1003, 3, {1003, PX_G_SHARED, 2002}};

/* The first failure of the running case: shared with every process the
 * case forks, so that a failure as another user reaches the runner. */
static char *px_msg;
#define PX_MSG_SIZE 4096

const char *px_errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

void px_fail(const char *file, int line, const char *fmt, ...)
{
	if (px_msg && !px_msg[0]) {
		int n = snprintf(px_msg, PX_MSG_SIZE, "%s:%d: ", file, line);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(px_msg + n, PX_MSG_SIZE - (size_t)n, fmt, ap);
		va_end(ap);
	}
	_exit(1);
}

void px_as(const struct px_user *u, void (*fn)(void *), void *arg)
{
	pid_t pid = PX_OK(fork());
	if (pid == 0) {
		PX_OK(setgroups(u->ngroups, u->groups));
		PX_OK(setgid(u->gid));
		PX_OK(setuid(u->uid));
		fn(arg);
		_exit(0);
	}
	int st;
	PX_OK(waitpid(pid, &st, 0));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		PX_FAIL("as uid %u: status 0x%x", (unsigned)u->uid, (unsigned)st);
}

/* ---- helpers ---------------------------------------------------------- */

void px_put(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = PX_OK(open(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
	px_pwrite(fd, data, len, 0);
	PX_OK(close(fd));
}

size_t px_get(const char *path, void *buf, size_t cap)
{
	int fd = PX_OK(open(path, O_RDONLY));
	size_t got = 0;
	for (;;) {
		ssize_t n = PX_OK(read(fd, (char *)buf + got, cap - got));
		if (n == 0 || got + (size_t)n == cap) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	PX_OK(close(fd));
	return got;
}

void px_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n =
			PX_OK(pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done));
		if (n == 0)
			PX_FAIL("pwrite at %lld wrote nothing", (long long)(off + (off_t)done));
		done += (size_t)n;
	}
}

void px_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = PX_OK(pread(fd, (char *)buf + done, len - done, off + (off_t)done));
		if (n == 0)
			PX_FAIL("pread at %lld: end of file, %zu bytes short",
				(long long)(off + (off_t)done), len - done);
		done += (size_t)n;
	}
}

struct stat px_lstat(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		PX_FAIL("lstat(\"%s\"): %s", path, px_errname(errno));
	return st;
}

static uint64_t px_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void px_pattern(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint64_t w = px_mix(seed * 0x100000001b3ull ^ (o >> 3));
		p[i] = (unsigned char)(w >> ((o & 7) * 8));
		/* never zero, so that a hole cannot pass for data */
		if (!p[i])
			p[i] = 0x5a;
	}
}

void px_expect_zero(const void *buf, size_t len, const char *what)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			PX_FAIL("%s: byte %zu is 0x%02x, expected 0", what, i, p[i]);
}

void px_expect_same(const void *got, const void *want, size_t len, const char *what)
{
	const unsigned char *g = got, *w = want;
	for (size_t i = 0; i < len; i++)
		if (g[i] != w[i])
			PX_FAIL("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, g[i], w[i]);
}

void px_drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return; /* not root, or no /proc: the check reads the cache */
	(void)!write(fd, "3\n", 2);
	close(fd);
}

void px_set_old_times(const char *path)
{
	struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	PX_OK(utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW));
	px_tick();
}

void px_tick(void)
{
	usleep(20000);
}

bool px_ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

time_t px_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec;
}

void px_expect_recent(struct timespec t, time_t lo, const char *what)
{
	/* the server's clock and the guest's come from the same host clock;
	 * a few seconds of slack for the guest's drift under emulation */
	if (t.tv_sec < lo - 5 || t.tv_sec > px_now() + 5)
		PX_FAIL("%s: %lld.%09ld is not between %lld and now (%lld)", what,
			(long long)t.tv_sec, t.tv_nsec, (long long)lo, (long long)px_now());
}

/* ---- the runner ------------------------------------------------------- */

static double px_clock(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int px_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP) {
		/* the client removes silly-renamed files (.nfsXXXX) a moment
		 * after their last close */
		for (int i = 0; i < 50; i++) {
			if (rmdir(path) == 0)
				return 0;
			if (errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY)
				break;
			usleep(100000);
		}
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* rm -rf; 0 or the errno of what could not be removed. */
static int px_rm_tree(const char *dir, char *why, size_t whylen)
{
	if (nftw(dir, px_rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0)
		return 0;
	int e = errno;
	snprintf(why, whylen, "%s", px_errname(e));
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		size_t used = strlen(why);
		while ((de = readdir(d)) && used + 40 < whylen) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			used += (size_t)snprintf(why + used, whylen - used, " %s", de->d_name);
		}
		closedir(d);
	}
	return e ? e : EIO;
}

static bool px_selected(const char *name, int argc, char **argv)
{
	if (argc == 0)
		return true;
	for (int i = 0; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

/* Runs one case in its own directory; true when it passed. */
static bool px_run(const char *base, const struct px_case *c)
{
	char dir[4096 + 256], why[1024];
	snprintf(dir, sizeof(dir), "%s/%s", base, c->name);
	if (access(dir, F_OK) == 0 && px_rm_tree(dir, why, sizeof(why)) != 0) {
		printf("FAIL %s: cannot remove the old %s: %s\n", c->name, dir, why);
		return false;
	}
	if (mkdir(dir, 0755) != 0) {
		printf("FAIL %s: mkdir %s: %s\n", c->name, dir, px_errname(errno));
		return false;
	}
	px_msg[0] = '\0';
	fflush(stdout);
	double t0 = px_clock();
	pid_t pid = fork();
	if (pid < 0) {
		printf("FAIL %s: fork: %s\n", c->name, px_errname(errno));
		return false;
	}
	if (pid == 0) {
		alarm(PX_CASE_LIMIT_S);
		umask(022);
		if (chdir(dir) != 0)
			PX_FAIL("chdir %s: %s", dir, px_errname(errno));
		c->run();
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	double secs = px_clock() - t0;
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && !px_msg[0];
	if (ok && px_rm_tree(dir, why, sizeof(why)) != 0) {
		snprintf(px_msg, PX_MSG_SIZE, "passed, but its directory cannot be removed: %s",
			 why);
		ok = false;
	} else if (!ok) {
		(void)px_rm_tree(dir, why, sizeof(why));
	}
	if (ok) {
		printf("ok   %s (%.1f s)\n", c->name, secs);
	} else if (px_msg[0]) {
		printf("FAIL %s: %s\n", c->name, px_msg);
	} else if (WIFSIGNALED(st)) {
		printf("FAIL %s: killed by signal %d (%s)%s\n", c->name, WTERMSIG(st),
		       strsignal(WTERMSIG(st)), WTERMSIG(st) == SIGALRM ? ": took too long" : "");
	} else {
		printf("FAIL %s: exit status %d\n", c->name, WEXITSTATUS(st));
	}
	fflush(stdout);
	return ok;
}

static const struct px_case *const px_tables[] = {px_cases_files, px_cases_names, px_cases_attrs};

int main(int argc, char **argv)
{
	bool list = false;
	int opt;
	while ((opt = getopt(argc, argv, "l")) != -1) {
		if (opt == 'l') {
			list = true;
		} else {
			fprintf(stderr, "usage: posix [-l] DIR [CASE...]\n");
			return 2;
		}
	}
	if (list) {
		for (size_t t = 0; t < sizeof(px_tables) / sizeof(px_tables[0]); t++)
			for (const struct px_case *c = px_tables[t]; c->name; c++)
				printf("%s\n", c->name);
		return 0;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: posix [-l] DIR [CASE...]\n");
		return 2;
	}
	char base[4096];
	if (!realpath(argv[optind], base)) {
		fprintf(stderr, "posix: %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	px_msg = mmap(NULL, PX_MSG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (px_msg == MAP_FAILED) {
		perror("posix: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct statfs sfs;
	if (statfs(base, &sfs) == 0)
		printf("posix: running in %s (file system type 0x%lx) as uid %u\n", base,
		       (unsigned long)sfs.f_type, (unsigned)getuid());
	unsigned passed = 0, failed = 0;
	double t0 = px_clock();
	for (size_t t = 0; t < sizeof(px_tables) / sizeof(px_tables[0]); t++)
		for (const struct px_case *c = px_tables[t]; c->name; c++) {
			if (!px_selected(c->name, argc - optind - 1, argv + optind + 1))
				continue;
			if (px_run(base, c))
				passed++;
			else
				failed++;
		}
	printf("posix: %.1f s in all\n", px_clock() - t0);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
