/*
 * The filer daemon as a process: no configuration in an empty directory
 * (then mounted with libnfs, written, read, stopped, started, read
 * again), a second instance refused, --daemon with its pidfile, SIGHUP
 * reloading exports under a live client, the metrics endpoint, config
 * errors, --version.
 *
 * The binary is $FILER (make check sets it), else build/bin/filer.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define OUT_MAX 8192

static char filer_bin[PATH_MAX];

/* One run of the binary. */
struct run {
	pid_t pid;
	char out[OUT_MAX]; /* its standard output, up to "mount with" */
	char err_path[PATH_MAX];
	uint16_t port, pmap_port, metrics_port;
	int status; /* once it has exited */
};

/* What a test leaves behind when an assertion ends it early: filers
 * still running and scratch directories. cleanup() (the suite's fini)
 * kills and removes them. */
static pid_t spawned[16];
static char scratch[4][PATH_MAX];

static void track(pid_t pid)
{
	for (unsigned i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
		if (!spawned[i]) {
			spawned[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	for (unsigned i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
		if (spawned[i] == pid)
			spawned[i] = 0;
}

static void rm_rf(const char *dir);

static void cleanup(void)
{
	for (unsigned i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++)
		if (spawned[i] > 0) {
			kill(spawned[i], SIGKILL);
			waitpid(spawned[i], NULL, WNOHANG);
		}
	usleep(100000);
	for (unsigned i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
		if (scratch[i][0])
			rm_rf(scratch[i]);
}

static void find_binary(void)
{
	const char *b = getenv("FILER");
	if (!b)
		b = "build/bin/filer";
	cr_assert(realpath(b, filer_bin), "no filer binary at %s", b);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 32];
	if (!strstr(dir, "filerd."))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static void make_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, len, "%s/filerd.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(dir));
	for (unsigned i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
		if (!scratch[i][0]) {
			snprintf(scratch[i], sizeof(scratch[i]), "%s", dir);
			break;
		}
}

/* Starts the filer in cwd with argv (argv[0] is ignored), FILER_HOME
 * unset, stderr appended to cwd/stderr.log; reads standard output until
 * the "mount with" line or the end (a refused start, or --daemon's parent
 * leaving). */
static void start(struct run *r, const char *cwd, const char *const *argv)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->err_path, sizeof(r->err_path), "%s/stderr.log", cwd);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (chdir(cwd) < 0)
			_exit(126);
		int e = open(r->err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (e < 0)
			_exit(126);
		dup2(p[1], 1);
		dup2(e, 2);
		close(p[0]);
		close(p[1]);
		close(e);
		unsetenv("FILER_HOME");
		char *args[32];
		unsigned n = 0;
		args[n++] = "filer";
		for (unsigned i = 1; argv[i] && n < 31; i++)
			args[n++] = (char *)argv[i];
		args[n] = NULL;
		execv(filer_bin, args);
		_exit(127);
	}
	close(p[1]);
	r->pid = pid;
	track(pid);
	FILE *in = fdopen(p[0], "r");
	char line[1024];
	size_t used = 0;
	while (fgets(line, sizeof(line), in)) {
		size_t l = strlen(line);
		if (used + l < sizeof(r->out)) {
			memcpy(r->out + used, line, l + 1);
			used += l;
		}
		char *q;
		if (strstr(line, "filer: serving") && (q = strstr(line, " port ")))
			r->port = (uint16_t)atoi(q + 6);
		if ((q = strstr(line, "portmapper on port ")))
			r->pmap_port = (uint16_t)atoi(q + 19);
		if ((q = strstr(line, "metrics on http://"))) {
			char *end = strstr(q, "/metrics");
			if (end) {
				*end = '\0';
				r->metrics_port = (uint16_t)atoi(strrchr(q, ':') + 1);
			}
		}
		if (strstr(line, "mount with"))
			break;
	}
	fclose(in);
}

static int wait_exit(struct run *r)
{
	int st;
	while (waitpid(r->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	untrack(r->pid);
	r->pid = 0;
	r->status = st;
	return st;
}

/* SIGTERM, then its exit status (cr_assert on a clean exit 0). */
static void stop_clean(struct run *r)
{
	cr_assert_eq(kill(r->pid, SIGTERM), 0);
	int st = wait_exit(r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "filer exited with status %#x", st);
}

static char *slurp(const char *path)
{
	static char buf[65536];
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return buf;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static struct nfs_context *mount_export(uint16_t port, const char *path)
{
	struct nfs_context *n = nfs_init_context();
	cr_assert_not_null(n);
	nfs_set_timeout(n, 10000);
	char url[512];
	snprintf(url, sizeof(url), "nfs://127.0.0.1%s?nfsport=%u&mountport=%u&version=3", path,
		 port, port);
	struct nfs_url *u = nfs_parse_url_dir(n, url);
	cr_assert_not_null(u, "%s: %s", url, nfs_get_error(n));
	int rc = nfs_mount(n, u->server, u->path);
	nfs_destroy_url(u);
	if (rc) {
		nfs_destroy_context(n);
		return NULL;
	}
	return n;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed * 7) >> 3);
}

static void write_file(struct nfs_context *n, const char *path, const char *data, size_t len)
{
	struct nfsfh *h;
	cr_assert_eq(nfs_creat(n, path, 0644, &h), 0, "creat %s: %s", path, nfs_get_error(n));
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < 65536 ? len - off : 65536;
		int w = nfs_pwrite(n, h, off, chunk, data + off);
		cr_assert_eq(w, (int)chunk, "write %s: %s", path, nfs_get_error(n));
		off += chunk;
	}
	cr_assert_eq(nfs_fsync(n, h), 0, "%s", nfs_get_error(n));
	cr_assert_eq(nfs_close(n, h), 0);
}

static void check_file(struct nfs_context *n, const char *path, const char *data, size_t len)
{
	struct nfsfh *h;
	cr_assert_eq(nfs_open(n, path, O_RDONLY, &h), 0, "open %s: %s", path, nfs_get_error(n));
	char *back = malloc(len + 1);
	size_t got = 0;
	while (got < len) {
		int r = nfs_pread(n, h, got, len - got < 65536 ? len - got : 65536, back + got);
		cr_assert_gt(r, 0, "read %s: %s", path, nfs_get_error(n));
		got += (size_t)r;
	}
	cr_assert_eq(memcmp(back, data, len), 0, "%s reads back different", path);
	free(back);
	cr_assert_eq(nfs_close(n, h), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

TestSuite(daemon, .init = find_binary, .fini = cleanup, .timeout = 240);

Test(daemon, no_configuration_in_an_empty_directory_serves_and_restarts)
{
	char dir[PATH_MAX];
	make_dir(dir, sizeof(dir));
	const char *argv[] = {"filer", "--port", "0", "--portmap-port", "0", NULL};
	struct run r;
	start(&r, dir, argv);
	cr_assert_neq(r.port, 0, "no port in:\n%s\nstderr:\n%s", r.out, slurp(r.err_path));
	cr_assert(strstr(r.out, "filer: serving /vol/vol0 on 127.0.0.1 port "), "%s", r.out);
	cr_assert(strstr(r.out, "portmapper on port "), "%s", r.out);
	cr_assert(strstr(r.out, "filer: mount with: mount -t nfs -o vers=3"), "%s", r.out);
	cr_assert_null(strstr(r.out, "metrics"), "metrics are off by default");
	/* it made ./var with the default's files */
	char p[PATH_MAX + 32];
	struct stat st;
	const char *files[] = {"disk0", "disk1", "disk2", "nvlog", "secret", "filer.lock", "state"};
	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/var/%s", dir, files[i]);
		cr_assert_eq(stat(p, &st), 0, "%s is missing", p);
	}
	size_t len = 300000;
	char *data = malloc(len);
	fill(data, len, 1);
	struct nfs_context *n = mount_export(r.port, "/vol/vol0");
	cr_assert_not_null(n, "cannot mount /vol/vol0");
	cr_assert_eq(nfs_mkdir(n, "/d"), 0, "%s", nfs_get_error(n));
	write_file(n, "/d/file", data, len);
	check_file(n, "/d/file", data, len);
	nfs_destroy_context(n);
	stop_clean(&r);
	const char *log1 = slurp(r.err_path);
	cr_assert(strstr(log1, "creating aggregate aggr0"), "%s", log1);
	cr_assert(strstr(log1, "creating volume vol0"), "%s", log1);
	cr_assert(strstr(log1, "stopped"), "%s", log1);
	cr_assert_null(strstr(log1, "replayed"), "%s", log1);
	(void)!truncate(r.err_path, 0);

	/* again on the same directory: the same data, nothing to replay */
	start(&r, dir, argv);
	cr_assert_neq(r.port, 0, "restart:\n%s\n%s", r.out, slurp(r.err_path));
	n = mount_export(r.port, "/vol/vol0");
	cr_assert_not_null(n, "cannot mount /vol/vol0 after a restart");
	check_file(n, "/d/file", data, len);
	nfs_destroy_context(n);
	stop_clean(&r);
	const char *log2 = slurp(r.err_path);
	cr_assert_null(strstr(log2, "creating"), "%s", log2);
	cr_assert_null(strstr(log2, "replayed"), "a clean stop leaves nothing to replay:\n%s",
		       log2);
	free(data);
	rm_rf(dir);
}

Test(daemon, a_second_instance_on_the_same_home_or_disks_is_refused)
{
	char dir[PATH_MAX], home[PATH_MAX + 8];
	make_dir(dir, sizeof(dir));
	snprintf(home, sizeof(home), "%s/h", dir);
	const char *argv[] = {"filer", "--home", home, "--port", "0", "--portmap-port", "0", NULL};
	struct run a, b;
	start(&a, dir, argv);
	cr_assert_neq(a.port, 0, "%s", slurp(a.err_path));
	(void)!truncate(a.err_path, 0);
	start(&b, dir, argv);
	cr_assert_eq(b.port, 0, "the second one serves:\n%s", b.out);
	int st = wait_exit(&b);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	const char *log = slurp(b.err_path);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "another filer (pid %d) is using ", (int)a.pid);
	cr_assert(strstr(log, want), "%s", log);
	stop_clean(&a);

	/* two homes, one set of disks (named in a configuration) */
	char conf[PATH_MAX + 16];
	snprintf(conf, sizeof(conf), "%s/filer.conf", dir);
	char text[4 * PATH_MAX];
	snprintf(text, sizeof(text),
		 "port 0\nportmap_port 0\n"
		 "aggregate shared {\n disks %s/d0\n disk_size 64M\n nvlog %s/log\n"
		 " nvlog_size 8M\n type trad\n}\n",
		 dir, dir);
	write_text(conf, text);
	char h1[PATH_MAX + 8], h2[PATH_MAX + 8];
	snprintf(h1, sizeof(h1), "%s/h1", dir);
	snprintf(h2, sizeof(h2), "%s/h2", dir);
	const char *a1[] = {"filer", "-c", conf, "--home", h1, NULL};
	const char *a2[] = {"filer", "-c", conf, "--home", h2, NULL};
	start(&a, dir, a1);
	cr_assert_neq(a.port, 0, "%s\n%s", a.out, slurp(a.err_path));
	cr_assert(strstr(a.out, "serving no exports yet"), "%s", a.out);
	cr_assert(strstr(a.out, "mount with: nothing exported yet"), "%s", a.out);
	(void)!truncate(a.err_path, 0);
	start(&b, dir, a2);
	st = wait_exit(&b);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	log = slurp(b.err_path);
	snprintf(want, sizeof(want), "%s/d0 is in use by another filer", dir);
	cr_assert(strstr(log, want), "%s", log);
	stop_clean(&a);
	rm_rf(dir);
}

Test(daemon, daemon_mode_writes_a_pidfile_and_serves)
{
	char dir[PATH_MAX], home[PATH_MAX + 8], pidf[PATH_MAX + 16];
	make_dir(dir, sizeof(dir));
	snprintf(home, sizeof(home), "%s/h", dir);
	snprintf(pidf, sizeof(pidf), "%s/filer.pid", dir);
	const char *argv[] = {"filer",	"--daemon", "--pidfile",      "filer.pid", "--home", home,
			      "--port", "0",	    "--portmap-port", "0",	   NULL};
	struct run r;
	start(&r, dir, argv);
	/* the parent leaves only once the child serves, and with 0 */
	int st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st, slurp(r.err_path));
	cr_assert_neq(r.port, 0, "%s", r.out);
	char *pidtext = slurp(pidf);
	pid_t pid = (pid_t)atoi(pidtext);
	cr_assert_gt(pid, 1, "pidfile: '%s'", pidtext);
	track(pid);
	cr_assert_eq(kill(pid, 0), 0);
	struct nfs_context *n = mount_export(r.port, "/vol/vol0");
	cr_assert_not_null(n);
	char data[5000];
	fill(data, sizeof(data), 3);
	write_file(n, "/f", data, sizeof(data));
	check_file(n, "/f", data, sizeof(data));
	nfs_destroy_context(n);
	/* SIGTERM: it removes the pidfile and lets go of the home */
	cr_assert_eq(kill(pid, SIGTERM), 0);
	struct stat sb;
	int waited = 0;
	while (stat(pidf, &sb) == 0 && waited < 30000) {
		usleep(20000);
		waited += 20;
	}
	cr_assert_neq(stat(pidf, &sb), 0, "the pidfile stays");
	char lock[PATH_MAX + 32];
	snprintf(lock, sizeof(lock), "%s/filer.lock", home);
	int fd = open(lock, O_RDWR);
	cr_assert_geq(fd, 0);
	bool free_now = false;
	for (int i = 0; i < 500 && !free_now; i++) {
		free_now = flock(fd, LOCK_EX | LOCK_NB) == 0;
		if (!free_now)
			usleep(10000);
	}
	cr_assert(free_now, "the home stays locked");
	untrack(pid);
	close(fd);
	rm_rf(dir);
}

Test(daemon, sighup_reloads_exports_without_dropping_a_client)
{
	char dir[PATH_MAX], conf[PATH_MAX + 16], home[PATH_MAX + 8];
	make_dir(dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/filer.conf", dir);
	snprintf(home, sizeof(home), "%s/h", dir);
	const char *base = "port 0\n"
			   "portmap_port 0\n"
			   "cp_interval 1s\n"
			   "aggregate t1 {\n disks t1.d0\n disk_size 64M\n nvlog_size 8M\n"
			   " type trad\n}\n"
			   "aggregate t2 {\n disks t2.d0\n disk_size 64M\n nvlog_size 8M\n"
			   " type trad\n}\n"
			   "export /vol/t1 t1 127.0.0.1(rw,insecure,no_root_squash)\n";
	write_text(conf, base);
	const char *argv[] = {"filer", "-c", "filer.conf", "--home", home, NULL};
	struct run r;
	start(&r, dir, argv);
	cr_assert_neq(r.port, 0, "%s\n%s", r.out, slurp(r.err_path));
	cr_assert(strstr(r.out, "filer: serving /vol/t1 on 127.0.0.1 port "), "%s", r.out);
	struct nfs_context *a = mount_export(r.port, "/vol/t1");
	cr_assert_not_null(a);
	char data[20000];
	fill(data, sizeof(data), 5);
	write_file(a, "/before", data, sizeof(data));
	cr_assert_null(mount_export(r.port, "/vol/t2"), "t2 is not exported yet");

	/* add an export of t2 and another of t1, reload */
	char text[2048];
	snprintf(text, sizeof(text),
		 "%sexport /vol/t2 t2 127.0.0.1(rw,insecure,no_root_squash)\n"
		 "export /vol/t1-ro t1 127.0.0.1(ro,insecure)\n",
		 base);
	write_text(conf, text);
	cr_assert_eq(kill(r.pid, SIGHUP), 0);
	struct nfs_context *b = NULL;
	for (int i = 0; i < 200 && !b; i++) {
		b = mount_export(r.port, "/vol/t2");
		if (!b)
			usleep(50000);
	}
	cr_assert_not_null(b, "/vol/t2 never came:\n%s", slurp(r.err_path));
	write_file(b, "/on-t2", data, sizeof(data));
	struct nfs_context *ro = mount_export(r.port, "/vol/t1-ro");
	cr_assert_not_null(ro);
	check_file(ro, "/before", data, sizeof(data));
	nfs_destroy_context(ro);
	/* the first client never noticed: same context, same handles */
	check_file(a, "/before", data, sizeof(data));
	write_file(a, "/after", data, sizeof(data));
	const char *log = slurp(r.err_path);
	cr_assert(strstr(log, "exports reloaded: 2 added, 0 removed, 0 changed, 1 kept"), "%s",
		  log);

	/* and back: t2's export goes, t1's stays */
	write_text(conf, base);
	cr_assert_eq(kill(r.pid, SIGHUP), 0);
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		struct nfs_context *c = mount_export(r.port, "/vol/t2");
		gone = c == NULL;
		if (c) {
			nfs_destroy_context(c);
			usleep(50000);
		}
	}
	cr_assert(gone, "/vol/t2 is still exported");
	check_file(a, "/after", data, sizeof(data));
	nfs_destroy_context(a);
	nfs_destroy_context(b);
	/* a broken file changes nothing */
	write_text(conf, "bogus line\n");
	cr_assert_eq(kill(r.pid, SIGHUP), 0);
	for (int i = 0; i < 100 && !strstr(slurp(r.err_path), "bogus"); i++)
		usleep(50000);
	log = slurp(r.err_path);
	cr_assert(strstr(log, "filer.conf:1: unknown setting 'bogus' (exports unchanged)"), "%s",
		  log);
	a = mount_export(r.port, "/vol/t1");
	cr_assert_not_null(a);
	check_file(a, "/after", data, sizeof(data));
	nfs_destroy_context(a);
	stop_clean(&r);
	rm_rf(dir);
}

Test(daemon, remembered_exports_are_served_at_start)
{
	char dir[PATH_MAX], home[PATH_MAX + 8], path[PATH_MAX + 32];
	make_dir(dir, sizeof(dir));
	snprintf(home, sizeof(home), "%s/h", dir);
	cr_assert_eq(mkdir(home, 0700), 0);
	snprintf(path, sizeof(path), "%s/state", home);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/state/exports", home);
	write_text(path, "# as filerctl export add leaves it\n"
			 "export /vol/again vol0 127.0.0.1(rw,insecure,no_root_squash)\n"
			 "export /vol/ghost nosuchvol 127.0.0.1(rw)\n");
	const char *argv[] = {"filer", "--home", home, "--port", "0", "--portmap-port", "0", NULL};
	struct run r;
	start(&r, dir, argv);
	cr_assert_neq(r.port, 0, "%s\n%s", r.out, slurp(r.err_path));
	cr_assert(strstr(r.out, "serving /vol/vol0, /vol/again on "), "%s", r.out);
	struct nfs_context *n = mount_export(r.port, "/vol/again");
	cr_assert_not_null(n);
	char data[1000];
	fill(data, sizeof(data), 11);
	write_file(n, "/x", data, sizeof(data));
	nfs_destroy_context(n);
	n = mount_export(r.port, "/vol/vol0");
	cr_assert_not_null(n);
	check_file(n, "/x", data, sizeof(data));
	nfs_destroy_context(n);
	stop_clean(&r);
	const char *log = slurp(r.err_path);
	cr_assert(strstr(log, "export /vol/ghost: no volume nosuchvol (yet): not exported"), "%s",
		  log);
	rm_rf(dir);
}

/* GET (or another method) on the metrics port: the whole response. */
static char *http(uint16_t port, const char *method, const char *path)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method,
			 path);
	cr_assert_eq(write(s, req, (size_t)n), n);
	size_t cap = 1 << 20, used = 0;
	char *buf = malloc(cap);
	for (;;) {
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		cr_assert_gt(poll(&pfd, 1, 10000), 0, "no answer");
		ssize_t r = read(s, buf + used, cap - used - 1);
		cr_assert_geq(r, 0);
		if (r == 0)
			break;
		used += (size_t)r;
		cr_assert_lt(used, cap - 1);
	}
	buf[used] = '\0';
	close(s);
	return buf;
}

/* The value of the sample line that starts with name (with its labels). */
static double sample(const char *text, const char *name)
{
	size_t l = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, l) && p[l] == ' ')
			return atof(p + l + 1);
	cr_assert_fail("no sample %s in:\n%s", name, text);
	return -1;
}

Test(daemon, metrics_endpoint_counts_nfs_procedures)
{
	char dir[PATH_MAX], conf[PATH_MAX + 16];
	make_dir(dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/filer.conf", dir);
	write_text(conf, "home h\n"
			 "port 0\n"
			 "portmapper off\n"
			 "udp off\n"
			 "metrics 127.0.0.1:0\n"
			 "aggregate tv {\n disks tv.d0 tv.d1\n disk_size 64M\n nvlog_size 8M\n"
			 " type trad\n}\n"
			 "export /vol/tv tv 127.0.0.1(rw,insecure,no_root_squash)\n");
	const char *argv[] = {"filer", "--config", conf, NULL};
	struct run r;
	start(&r, dir, argv);
	cr_assert_neq(r.port, 0, "%s\n%s", r.out, slurp(r.err_path));
	cr_assert_neq(r.metrics_port, 0, "%s", r.out);
	cr_assert(strstr(r.out, "(NFSv3 and MOUNT v3, TCP)\n"), "%s", r.out);
	struct nfs_context *n = mount_export(r.port, "/vol/tv");
	cr_assert_not_null(n);
	char data[100000];
	fill(data, sizeof(data), 9);
	write_file(n, "/m", data, sizeof(data));
	check_file(n, "/m", data, sizeof(data));
	/* a snapshot, then the file changed: the snapshot holds the old data */
	char cmd[PATH_MAX * 2 + 64];
	const char *ctlbin = getenv("FILERCTL") ? getenv("FILERCTL") : "build/bin/filerctl";
	snprintf(cmd, sizeof(cmd), "'%s' -s '%s/h/filer.sock' snap create tv m1 >/dev/null", ctlbin,
		 dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	fill(data, sizeof(data), 10);
	write_file(n, "/m", data, sizeof(data));
	snprintf(cmd, sizeof(cmd), "'%s' -s '%s/h/filer.sock' cp >/dev/null", ctlbin, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	char *resp = http(r.metrics_port, "GET", "/metrics");
	cr_assert(!strncmp(resp, "HTTP/1.0 200 OK\r\n", 17) ||
			  !strncmp(resp, "HTTP/1.1 200 OK\r\n", 17),
		  "%.200s", resp);
	cr_assert(strstr(resp, "Content-Type: text/plain; version=0.0.4"), "%.400s", resp);
	char *body = strstr(resp, "\r\n\r\n");
	cr_assert_not_null(body);
	body += 4;
	cr_assert(strstr(body, "# TYPE filer_rpc_calls_total counter\n"), "%s", body);
	cr_assert_geq(sample(body, "filer_rpc_calls_total{program=\"nfs3\",proc=\"write\"}"), 1);
	cr_assert_geq(sample(body, "filer_rpc_calls_total{program=\"nfs3\",proc=\"read\"}"), 1);
	cr_assert_geq(sample(body, "filer_rpc_calls_total{program=\"nfs3\",proc=\"create\"}"), 1);
	cr_assert_geq(sample(body, "filer_rpc_calls_total{program=\"mount3\",proc=\"mnt\"}"), 1);
	cr_assert_geq(sample(body, "filer_rpc_call_seconds_count{program=\"nfs3\",proc=\"write\"}"),
		      1);
	cr_assert_geq(sample(body, "filer_nfs_written_bytes_total"), sizeof(data));
	cr_assert_geq(sample(body, "filer_nfs_read_bytes_total"), sizeof(data));
	cr_assert_geq(sample(body, "filer_nfs_connections_open"), 1);
	cr_assert_gt(sample(body, "filer_aggr_size_bytes{aggr=\"tv\"}"), 100 << 20);
	cr_assert_geq(sample(body, "filer_aggr_cps_total{aggr=\"tv\"}"), 0);
	cr_assert_gt(sample(body, "filer_aggr_nvlog_size_bytes{aggr=\"tv\"}"), 0);
	cr_assert_geq(sample(body, "filer_aggr_cache_hits_total{aggr=\"tv\"}"), 0);
	cr_assert_gt(sample(body, "filer_vol_size_bytes{vol=\"tv\",aggr=\"tv\"}"), 0);
	cr_assert_geq(sample(body, "filer_vol_files_used{vol=\"tv\",aggr=\"tv\"}"), 1);
	cr_assert_eq(sample(body, "filer_vol_online{vol=\"tv\",aggr=\"tv\"}"), 1);
	cr_assert(strstr(body, "# TYPE filer_vol_snapshots gauge\n"), "%s", body);
	cr_assert_eq(sample(body, "filer_vol_snapshots{vol=\"tv\",aggr=\"tv\"}"), 1);
	cr_assert_geq(sample(body, "filer_vol_snapshot_bytes{vol=\"tv\",aggr=\"tv\"}"),
		      sizeof(data) - 4096);
	cr_assert_eq(sample(body, "filer_vol_snapshot_reclaiming_bytes{vol=\"tv\",aggr=\"tv\"}"),
		     0);
	cr_assert_eq(sample(body, "filer_vol_clone_split_remaining_bytes{vol=\"tv\",aggr=\"tv\"}"),
		     0);
	cr_assert_eq(sample(body, "filer_metrics_scrapes_total"), 1);
	free(resp);
	nfs_destroy_context(n);
	resp = http(r.metrics_port, "GET", "/nothing");
	cr_assert(strstr(resp, " 404 "), "%.200s", resp);
	free(resp);
	resp = http(r.metrics_port, "POST", "/metrics");
	cr_assert(strstr(resp, " 405 "), "%.200s", resp);
	free(resp);
	stop_clean(&r);
	rm_rf(dir);
}

Test(daemon, configuration_errors_stop_the_start)
{
	char dir[PATH_MAX], conf[PATH_MAX + 16];
	make_dir(dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/filer.conf", dir);
	write_text(conf, "port 0\n\naggregate a {\n disks x\n colour blue\n}\n");
	const char *argv[] = {"filer", "-c", conf, NULL};
	struct run r;
	start(&r, dir, argv);
	int st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "filer: %s:5: unknown aggregate setting 'colour'\n", conf);
	cr_assert_str_eq(slurp(r.err_path), want);
	/* a bad client list in an export */
	(void)!truncate(r.err_path, 0);
	write_text(conf, "port 0\nportmap_port 0\n"
			 "aggregate tv {\n disks d\n disk_size 64M\n nvlog_size 8M\n type trad\n}\n"
			 "export /vol/tv tv 127.0.0.1(rw,frobnicate)\n");
	start(&r, dir, argv);
	st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	const char *log = slurp(r.err_path);
	snprintf(want, sizeof(want), "%s:9: export /vol/tv: ", conf);
	cr_assert(strstr(log, want), "%s", log);
	/* usage errors are status 2 */
	const char *bad[] = {"filer", "--port", "70000", NULL};
	start(&r, dir, bad);
	st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	const char *bad2[] = {"filer", "--frobnicate", NULL};
	start(&r, dir, bad2);
	st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	rm_rf(dir);
}

Test(daemon, version_and_help)
{
	char dir[PATH_MAX];
	make_dir(dir, sizeof(dir));
	const char *argv[] = {"filer", "--version", NULL};
	struct run r;
	start(&r, dir, argv);
	int st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_str_eq(r.out, "filer 0.1.0\n");
	const char *help[] = {"filer", "--help", NULL};
	start(&r, dir, help);
	st = wait_exit(&r);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert(!strncmp(r.out, "usage: filer [-c FILE]", 22), "%s", r.out);
	/* neither touched the directory */
	struct stat sb;
	char var[PATH_MAX + 8];
	snprintf(var, sizeof(var), "%s/var", dir);
	cr_assert_neq(stat(var, &sb), 0);
	rm_rf(dir);
}
