/*
 * state.c - the running filer: its home directory, aggregates, volumes
 * and exports, and every administrative action filerctl can ask for.
 *
 * Home (HOME, the `home` setting) holds:
 *
 *   filer.lock      flock(2)ed while a filer runs; holds its pid
 *   secret          the key of the file handle MACs (32 bytes, made once)
 *   state/aggr.NAME aggregates created with filerctl, and disks added to
 *                   any aggregate at run time: filer.conf(5) blocks
 *   state/exports   exports added with filerctl: filer.conf(5) lines
 *   state/snapsched snapshot schedules (sched.c)
 *   disk0.. nvlog   the embedded default's disks and intent log
 *
 * Volumes need no state file: they live inside their aggregates (and
 * so do their snapshots, clones and options).
 *
 * What a filer serves is the configuration (filer.conf or the embedded
 * default) plus what the state files remember: aggregates = configured
 * ones (with any remembered extra disks) + remembered ones; exports =
 * configured + remembered (a configured path wins).
 *
 * The state files are written atomically (a temporary file, fsync, rename,
 * fsync of the directory). That syncs on the loop thread, which the
 * design otherwise forbids: these are administrative actions, rare and
 * never on a client's path, and a state file that survives a crash is
 * worth a few milliseconds of paused service.
 *
 * A second filer on the same home or the same disks is refused: the home
 * lock, and an flock(2) on every disk and intent log file the filer has
 * open (held on descriptors of our own: wafl/ opens its own).
 *
 * Nothing here may run the event loop (wafl_wait, wafl_cp_sync,
 * wafl_aggr_close) once it is dispatching: the actions below are called
 * from its callbacks, and libevent refuses a nested loop. filer_start and
 * filer_stop run outside the loop and may.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "filer/filer.h"

#define DEFAULT_DISK_BYTES (2ull << 30)

static int fail(char *msg, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t len, int rc, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static char *path_join(const char *home, const char *p)
{
	char *out;
	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", home, p) < 0)
		return NULL;
	return out;
}

/* Relative paths of an aggregate are relative to home. */
static int aggr_resolve(const char *home, struct conf_aggr *a)
{
	for (unsigned i = 0; i < a->ndisks; i++) {
		char *p = path_join(home, a->disks[i]);
		if (!p)
			return -ENOMEM;
		free(a->disks[i]);
		a->disks[i] = p;
	}
	if (a->nvlog) {
		char *p = path_join(home, a->nvlog);
		if (!p)
			return -ENOMEM;
		free(a->nvlog);
		a->nvlog = p;
	}
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- state files ------------------------------------------------------ */

static char *state_path(struct filer *f, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/state/%s", f->conf.home, name) < 0)
		return NULL;
	return p;
}

/* Replaces path with text, atomically and durably (see the top). */
static int write_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	int rc = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

char *filer_state_path(struct filer *f, const char *name)
{
	return state_path(f, name);
}

int filer_state_write(struct filer *f, const char *name, const char *text)
{
	char *path = state_path(f, name);
	if (!path)
		return -ENOMEM;
	int rc = write_atomic(path, text);
	free(path);
	return rc;
}

static int remove_durably(const char *path)
{
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

/* Remembers an aggregate in its state file, with "create no": a
 * remembered aggregate whose disks vanished must not come back empty. */
static int state_save_aggr(struct filer *f, const struct conf_aggr *a)
{
	char name[WAFL_VOLNAME_MAX + 8];
	snprintf(name, sizeof(name), "aggr.%s", a->name);
	char *path = state_path(f, name);
	if (!path)
		return -ENOMEM;
	/* paths inside home are written relative to it, so that a home
	 * that moves (or is restored elsewhere) keeps working */
	struct conf_aggr copy = *a;
	copy.create = false;
	size_t hl = strlen(f->conf.home);
	for (unsigned i = 0; i <= copy.ndisks; i++) {
		char **p = i < copy.ndisks ? &copy.disks[i] : &copy.nvlog;
		if (*p && !strncmp(*p, f->conf.home, hl) && (*p)[hl] == '/' && (*p)[hl + 1])
			*p += hl + 1;
	}
	char *body = conf_aggr_text(&copy);
	char *text = NULL;
	int rc = -ENOMEM;
	if (body && asprintf(&text,
			     "# Remembered by filer(8): an aggregate created, or disks added,\n"
			     "# with filerctl. Written whole each time; see filer.conf(5).\n%s",
			     body) >= 0)
		rc = write_atomic(path, text);
	free(text);
	free(body);
	free(path);
	return rc;
}

static int state_forget_aggr(struct filer *f, const char *aggr)
{
	char name[WAFL_VOLNAME_MAX + 8];
	snprintf(name, sizeof(name), "aggr.%s", aggr);
	char *path = state_path(f, name);
	if (!path)
		return -ENOMEM;
	int rc = remove_durably(path);
	free(path);
	return rc;
}

/* Loads state/exports into ex (its exports only); a missing file is empty. */
static int state_load_exports(struct filer *f, struct conf *ex, char *msg, size_t len)
{
	char *path = state_path(f, "exports");
	if (!path)
		return fail(msg, len, -ENOMEM, "out of memory");
	int rc = conf_load(path, ex, msg, len);
	free(path);
	if (rc == -ENOENT) {
		memset(ex, 0, sizeof(*ex));
		return 0;
	}
	return rc;
}

static int state_save_exports(struct filer *f, const struct conf *ex)
{
	char *path = state_path(f, "exports");
	if (!path)
		return -ENOMEM;
	char *text = NULL;
	size_t tlen = 0;
	FILE *o = open_memstream(&text, &tlen);
	if (!o) {
		free(path);
		return -ENOMEM;
	}
	fprintf(o, "# Remembered by filer(8): exports added with filerctl.\n"
		   "# Written whole each time; see filer.conf(5).\n");
	for (unsigned i = 0; i < ex->nexports; i++)
		fprintf(o, "export %s %s %s\n", ex->exports[i].path, ex->exports[i].volume,
			ex->exports[i].clients);
	int rc = fclose(o) ? -ENOMEM : write_atomic(path, text);
	free(text);
	free(path);
	return rc;
}

/* ---- locks -------------------------------------------------------------- */

static int lock_home(struct filer *f, char *msg, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/filer.lock", f->conf.home);
	f->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->lock_fd < 0)
		return fail(msg, len, -errno, "%s: %s", path, strerror(errno));
	if (flock(f->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(f->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(f->lock_fd);
		f->lock_fd = -1;
		if (e == EWOULDBLOCK)
			return fail(msg, len, -EBUSY, "another filer%s%s%s is using %s",
				    *pid ? " (pid " : "", pid, *pid ? ")" : "", f->conf.home);
		return fail(msg, len, -e, "%s: %s", path, strerror(e));
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f->lock_fd, 0) < 0 || pwrite(f->lock_fd, pid, (size_t)n, 0) != n)
		flog(LOG_WARNING, "%s: cannot record the pid: %s", path, strerror(errno));
	return 0;
}

static void aggr_unlock(struct filer_aggr *fa)
{
	for (unsigned i = 0; i < fa->nlock_fds; i++)
		close(fa->lock_fds[i]);
	fa->nlock_fds = 0;
}

/* flock()s one file (creating it empty when create says so). */
static int lock_file(struct filer_aggr *fa, const char *path, bool create, char *msg, size_t len)
{
	if (fa->nlock_fds >= sizeof(fa->lock_fds) / sizeof(fa->lock_fds[0]))
		return fail(msg, len, -E2BIG, "too many disks");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return fail(msg, len, -errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return fail(msg, len, -EBUSY, "%s is in use by another filer", path);
		return fail(msg, len, -e, "%s: %s", path, strerror(e));
	}
	fa->lock_fds[fa->nlock_fds++] = fd;
	return 0;
}

/* ---- aggregates ----------------------------------------------------------- */

struct filer_aggr *filer_aggr_find(struct filer *f, const char *name)
{
	for (unsigned i = 0; i < f->naggrs; i++)
		if (!strcmp(f->aggrs[i].conf.name, name))
			return &f->aggrs[i];
	return NULL;
}

static const struct conf_aggr *configured_aggr(struct filer *f, const char *name)
{
	for (unsigned i = 0; i < f->conf.naggrs; i++)
		if (!strcmp(f->conf.aggrs[i].name, name))
			return &f->conf.aggrs[i];
	return NULL;
}

/* Which aggregate of ours already uses path as a disk or log (NULL: none). */
static const char *path_owner(struct filer *f, const char *path)
{
	for (unsigned i = 0; i < f->naggrs; i++) {
		const struct conf_aggr *a = &f->aggrs[i].conf;
		for (unsigned k = 0; k < a->ndisks; k++)
			if (!strcmp(a->disks[k], path))
				return a->name;
		if (a->nvlog && !strcmp(a->nvlog, path))
			return a->name;
	}
	return NULL;
}

/* How many of the disks exist (as files with data, or as devices). A
 * missing disk, or an empty regular file, is blank. */
static unsigned disks_present(const struct conf_aggr *a)
{
	unsigned n = 0;
	for (unsigned i = 0; i < a->ndisks; i++) {
		struct stat st;
		if (stat(a->disks[i], &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > 0))
			n++;
	}
	return n;
}

static int wafl_create_aggr(const struct conf_aggr *a)
{
	struct wafl_aggr_params p = {
		.name = a->name,
		.kind = a->trad ? WAFL_TRAD : WAFL_AGGR,
		.disks = (const char *const *)a->disks,
		.ndisks = a->ndisks,
		.disk_size_bytes = a->disk_size_bytes ? a->disk_size_bytes : DEFAULT_DISK_BYTES,
		.raid_group_size = a->raid_group_size,
		.nvlog_path = a->nvlog,
		.nvlog_size_bytes = a->nvlog_size_bytes,
	};
	return wafl_aggr_create(&p);
}

/* Locks, creates if asked (and blank), opens. fa->conf is set already. */
static int aggr_bring_up(struct filer *f, struct filer_aggr *fa, bool *created, char *msg,
			 size_t len)
{
	struct conf_aggr *ca = &fa->conf;
	*created = false;
	unsigned present = disks_present(ca);
	bool create = ca->create && present == 0;
	if (present == 0 && !ca->create)
		return fail(msg, len, -ENOENT,
			    "aggregate %s: its disks are missing or blank (and 'create no')",
			    ca->name);
	for (unsigned i = 0; create && i < ca->ndisks; i++) {
		struct stat st;
		/* a misspelt device must not become a file in /dev */
		if (!strncmp(ca->disks[i], "/dev/", 5) && stat(ca->disks[i], &st) < 0)
			return fail(msg, len, -ENOENT,
				    "aggregate %s: %s does not exist (devices are not created)",
				    ca->name, ca->disks[i]);
	}
	if (present && present < ca->ndisks && ca->create) {
		/* some there, some not: a disk was lost, or added by hand */
		flog(LOG_WARNING, "aggregate %s: only %u of %u disks hold data; opening anyway",
		     ca->name, present, ca->ndisks);
	}
	int rc;
	for (unsigned i = 0; i < ca->ndisks; i++) {
		struct stat st;
		bool exists = stat(ca->disks[i], &st) == 0;
		if (!exists && !create)
			continue; /* wafl/ says what is missing */
		if ((rc = lock_file(fa, ca->disks[i], create, msg, len)))
			goto err;
	}
	if (create) {
		uint64_t sz = ca->disk_size_bytes ? ca->disk_size_bytes : DEFAULT_DISK_BYTES;
		flog(LOG_NOTICE, "creating %s %s (%u disks of %llu MiB)",
		     ca->trad ? "traditional volume" : "aggregate", ca->name, ca->ndisks,
		     (unsigned long long)(sz >> 20));
		if ((rc = wafl_create_aggr(ca))) {
			fail(msg, len, rc, "cannot create aggregate %s: %s", ca->name,
			     strerror(-rc));
			goto err;
		}
		*created = true;
	}
	if ((rc = lock_file(fa, ca->nvlog, false, msg, len)))
		goto err;
	struct wafl_open_params op = {
		.disks = (const char *const *)ca->disks,
		.ndisks = ca->ndisks,
		.nvlog_path = ca->nvlog,
		.cache_bytes = f->conf.cache_bytes,
		.cp_interval_ms = f->conf.cp_interval_ms,
	};
	if ((rc = wafl_aggr_open(f->base, &op, &fa->a))) {
		fail(msg, len, rc, "cannot open aggregate %s: %s", ca->name, strerror(-rc));
		goto err;
	}
	struct wafl_aggr_info ai;
	wafl_aggr_info(fa->a, &ai);
	if (strcmp(ai.name, ca->name)) {
		fail(msg, len, -EINVAL, "the disks of aggregate %s hold aggregate %s", ca->name,
		     ai.name);
		rc = -EINVAL;
		goto err_close;
	}
	if ((ai.kind == WAFL_TRAD) != ca->trad) {
		fail(msg, len, -EINVAL, "aggregate %s is %s, not %s", ca->name,
		     ai.kind == WAFL_TRAD ? "a traditional volume" : "an aggregate",
		     ca->trad ? "a traditional volume" : "an aggregate");
		rc = -EINVAL;
		goto err_close;
	}
	flog(LOG_INFO, "aggregate %s: %u disks, %llu MiB, CP %llu", ca->name, ai.ndisks,
	     (unsigned long long)(ai.size_blocks * WAFL_BLOCK_SIZE >> 20),
	     (unsigned long long)ai.cp_count);
	return 0;
err_close:
	wafl_aggr_abandon(fa->a); /* nothing changed since it opened */
	fa->a = NULL;
err:
	aggr_unlock(fa);
	return rc;
}

/* Adds the extra disks a state file remembers for a configured aggregate. */
static int merge_disks(struct conf_aggr *dst, const struct conf_aggr *src)
{
	for (unsigned i = 0; i < src->ndisks; i++) {
		bool have = false;
		for (unsigned k = 0; k < dst->ndisks; k++)
			have |= !strcmp(dst->disks[k], src->disks[i]);
		if (have)
			continue;
		if (dst->ndisks >= FILER_MAX_DISKS)
			return -E2BIG;
		if (!(dst->disks[dst->ndisks] = strdup(src->disks[i])))
			return -ENOMEM;
		dst->ndisks++;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The aggregates to open: configured (+ remembered disks), then remembered. */
static int plan_aggrs(struct filer *f, char *msg, size_t len)
{
	int rc;
	for (unsigned i = 0; i < f->conf.naggrs; i++) {
		struct filer_aggr *fa = &f->aggrs[f->naggrs];
		if ((rc = conf_aggr_copy(&fa->conf, &f->conf.aggrs[i])))
			return fail(msg, len, rc, "out of memory");
		f->naggrs++;
		if ((rc = aggr_resolve(f->conf.home, &fa->conf)))
			return fail(msg, len, rc, "out of memory");
	}
	char *dir = state_path(f, "");
	if (!dir)
		return fail(msg, len, -ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		rc = -errno;
		fail(msg, len, rc, "%s: %s", dir, strerror(errno));
		free(dir);
		return rc;
	}
	/* readdir order is arbitrary: sort the names so the order is stable */
	char *names[FILER_MAX_AGGRS * 2];
	unsigned nn = 0;
	struct dirent *e;
	rc = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "aggr.", 5) || (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")))
			continue;
		if (nn >= sizeof(names) / sizeof(names[0])) {
			rc = fail(msg, len, -E2BIG, "%s: too many aggr.* files", dir);
			break;
		}
		if (!(names[nn] = strdup(e->d_name))) {
			rc = fail(msg, len, -ENOMEM, "out of memory");
			break;
		}
		nn++;
	}
	closedir(d);
	qsort(names, nn, sizeof(names[0]), cmp_names);
	for (unsigned i = 0; i < nn && !rc; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s%s", dir, names[i]);
		struct conf sc;
		if ((rc = conf_load(path, &sc, msg, len)))
			break;
		if (sc.naggrs != 1 || strcmp(sc.aggrs[0].name, names[i] + 5)) {
			conf_free(&sc);
			rc = fail(msg, len, -EINVAL, "%s: wants one block: aggregate %s { ... }",
				  path, names[i] + 5);
			break;
		}
		struct conf_aggr *sa = &sc.aggrs[0];
		struct filer_aggr *fa = filer_aggr_find(f, sa->name);
		if (fa) {
			if ((rc = aggr_resolve(f->conf.home, sa)) ||
			    (rc = merge_disks(&fa->conf, sa)))
				fail(msg, len, rc, "%s: %s", path, strerror(-rc));
		} else if (f->naggrs >= FILER_MAX_AGGRS) {
			rc = fail(msg, len, -E2BIG, "more than %u aggregates", FILER_MAX_AGGRS);
		} else {
			fa = &f->aggrs[f->naggrs];
			*fa = (struct filer_aggr){0};
			if ((rc = conf_aggr_copy(&fa->conf, sa)) ||
			    (rc = aggr_resolve(f->conf.home, &fa->conf)))
				fail(msg, len, rc, "out of memory");
			else
				f->naggrs++;
		}
		conf_free(&sc);
	}
	for (unsigned i = 0; i < nn; i++)
		free(names[i]);
	free(dir);
	return rc;
}

/* ---- volumes -------------------------------------------------------------- */

struct wafl_vol *filer_vol_find(struct filer *f, const char *name, struct filer_aggr **fa)
{
	for (unsigned i = 0; i < f->naggrs; i++) {
		if (!f->aggrs[i].a)
			continue;
		struct wafl_vol *v = wafl_vol_find(f->aggrs[i].a, name);
		if (v) {
			if (fa)
				*fa = &f->aggrs[i];
			return v;
		}
	}
	return NULL;
}

/* ---- exports -------------------------------------------------------------- */

struct live_export {
	char path[1024];
	char clients[2048];
	struct wafl_vol *vol;
};

struct live_list {
	struct live_export *e;
	unsigned n, cap;
};

static void live_add(void *arg, const char *path, const char *clients, struct wafl_vol *vol)
{
	struct live_list *l = arg;
	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 16;
		struct live_export *e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return; /* listed short: the caller sees fewer; next reload fixes it */
		l->e = e;
		l->cap = cap;
	}
	struct live_export *e = &l->e[l->n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->clients, sizeof(e->clients), "%s", clients);
	e->vol = vol;
}

/* What should be exported: the configuration's, then the state file's
 * whose path the configuration does not name. */
struct want {
	const struct conf_export *e;
	const char *src; /* file name for messages */
};

static const struct conf_export *find_export(const struct conf *c, const char *path)
{
	for (unsigned i = 0; i < c->nexports; i++)
		if (!strcmp(c->exports[i].path, path))
			return &c->exports[i];
	return NULL;
}

/* Appends a line to msg (best effort). */
static void note(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *msg, size_t len, const char *fmt, ...)
{
	if (!msg || !len)
		return;
	size_t used = strlen(msg);
	if (used + 2 >= len)
		return;
	if (used)
		msg[used++] = '\n', msg[used] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + used, len - used, fmt, ap);
	va_end(ap);
}

/*
 * exports_sync makes the NFS server's exports what the configuration and
 * the state file say: removes those that went away, adds new ones,
 * replaces those whose volume or clients changed, and leaves the rest
 * untouched (so clients keep their mounts and file handles). An export
 * whose volume does not exist (yet) is skipped with a warning. What it
 * did, and each problem, goes to *k and msg.
 */
struct sync_counts {
	unsigned added, removed, changed, kept, problems;
	unsigned bad_config; /* the configuration's exports nfs/ refused */
};

static void exports_sync(struct filer *f, const struct conf *st, const char *st_name,
			 struct sync_counts *k, char *msg, size_t len)
{
	const char *cname = f->conf_path ? f->conf_path : "(embedded default)";
	unsigned nw = 0;
	struct want *want = calloc(f->conf.nexports + st->nexports + 1, sizeof(*want));
	struct live_list live = {0};
	memset(k, 0, sizeof(*k));
	if (!want) {
		note(msg, len, "out of memory");
		k->problems++;
		return;
	}
	for (unsigned i = 0; i < f->conf.nexports; i++)
		want[nw++] = (struct want){&f->conf.exports[i], cname};
	for (unsigned i = 0; i < st->nexports; i++)
		if (!find_export(&f->conf, st->exports[i].path))
			want[nw++] = (struct want){&st->exports[i], st_name};
	nfs_export_list(f->nfs, live_add, &live);
	for (unsigned i = 0; i < live.n; i++) {
		struct live_export *le = &live.e[i];
		const struct want *w = NULL;
		for (unsigned j = 0; j < nw && !w; j++)
			if (!strcmp(want[j].e->path, le->path))
				w = &want[j];
		struct wafl_vol *v = w ? filer_vol_find(f, w->e->volume, NULL) : NULL;
		if (w && v == le->vol && !strcmp(w->e->clients, le->clients)) {
			k->kept++;
			continue;
		}
		nfs_export_remove(f->nfs, le->path);
		if (w)
			k->changed++;
		else
			k->removed++;
		flog(LOG_NOTICE, "export %s %s", le->path, w ? "changed" : "removed");
	}
	for (unsigned j = 0; j < nw; j++) {
		const struct conf_export *e = want[j].e;
		bool live_same = false;
		for (unsigned i = 0; i < live.n; i++)
			if (!strcmp(live.e[i].path, e->path)) {
				struct wafl_vol *v = filer_vol_find(f, e->volume, NULL);
				live_same = v == live.e[i].vol &&
					    !strcmp(e->clients, live.e[i].clients);
			}
		if (live_same)
			continue;
		struct wafl_vol *v = filer_vol_find(f, e->volume, NULL);
		bool was_live = false;
		for (unsigned i = 0; i < live.n; i++)
			was_live |= !strcmp(live.e[i].path, e->path);
		if (!v) {
			flog(LOG_WARNING, "%s:%u: export %s: no volume %s (yet): not exported",
			     want[j].src, e->line, e->path, e->volume);
			note(msg, len, "%s:%u: export %s: no volume %s (yet)", want[j].src, e->line,
			     e->path, e->volume);
			k->problems++;
			continue;
		}
		char err[256];
		int rc = nfs_export_add(f->nfs, e->path, v, e->clients, err, sizeof(err));
		if (rc) {
			flog(LOG_ERR, "%s:%u: export %s: %s", want[j].src, e->line, e->path, err);
			note(msg, len, "%s:%u: export %s: %s", want[j].src, e->line, e->path, err);
			k->problems++;
			if (want[j].src == cname)
				k->bad_config++;
			continue;
		}
		if (!was_live)
			k->added++;
		flog(LOG_INFO, "exported %s (volume %s) to %s", e->path, e->volume, e->clients);
	}
	free(live.e);
	free(want);
}

int filer_reload_exports(struct filer *f, char *msg, size_t len)
{
	if (msg && len)
		msg[0] = '\0';
	if (f->conf_path) {
		struct conf nc;
		char err[512];
		int rc = conf_load(f->conf_path, &nc, err, sizeof(err));
		if (rc) {
			flog(LOG_ERR, "%s (exports unchanged)", err);
			return fail(msg, len, rc, "%s (exports unchanged)", err);
		}
		/* only exports are reloaded; the rest takes a restart */
		conf_exports_free(&f->conf);
		memcpy(f->conf.exports, nc.exports, sizeof(nc.exports));
		f->conf.nexports = nc.nexports;
		nc.nexports = 0;
		conf_free(&nc);
	}
	struct conf st;
	char err[512] = "";
	int rc = state_load_exports(f, &st, err, sizeof(err));
	if (rc) {
		flog(LOG_ERR, "%s (its exports are left as they are)", err);
		note(msg, len, "%s (its exports are left as they are)", err);
	}
	char *stp = state_path(f, "exports");
	struct sync_counts k;
	char notes[2048] = "";
	if (rc) {
		/* keep what the unreadable state file had exported */
		struct conf keep = {0};
		struct live_list live = {0};
		nfs_export_list(f->nfs, live_add, &live);
		for (unsigned i = 0; i < live.n && keep.nexports < FILER_MAX_EXPORTS; i++) {
			if (find_export(&f->conf, live.e[i].path))
				continue;
			struct wafl_vol *v = live.e[i].vol;
			struct wafl_vol_info vi;
			wafl_vol_info(v, &vi);
			struct conf_export *e = &keep.exports[keep.nexports++];
			e->path = strdup(live.e[i].path);
			e->volume = strdup(vi.name);
			e->clients = strdup(live.e[i].clients);
		}
		free(live.e);
		exports_sync(f, &keep, stp ? stp : "state/exports", &k, notes, sizeof(notes));
		conf_free(&keep);
	} else {
		exports_sync(f, &st, stp ? stp : "state/exports", &k, notes, sizeof(notes));
		conf_free(&st);
	}
	free(stp);
	note(msg, len, "exports: %u added, %u removed, %u changed, %u kept%s%s", k.added, k.removed,
	     k.changed, k.kept, *notes ? "\n" : "", notes);
	flog(LOG_NOTICE, "exports reloaded: %u added, %u removed, %u changed, %u kept", k.added,
	     k.removed, k.changed, k.kept);
	return rc ? rc : k.problems ? -EINVAL : 0;
}

int filer_export_add(struct filer *f, const char *path, const char *vol, const char *clients,
		     char *msg, size_t len)
{
	if (!path || path[0] != '/' || !conf_valid_word(path) || strlen(path) > 1023)
		return fail(msg, len, -EINVAL, "an export path is absolute, without blanks: %s",
			    path ? path : "");
	if (!clients || !*clients || strlen(clients) > 2047 || strpbrk(clients, "#\n\r;"))
		return fail(msg, len, -EINVAL, "bad client list");
	struct wafl_vol *v = filer_vol_find(f, vol, NULL);
	if (!v)
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	char err[256];
	int rc = nfs_export_add(f->nfs, path, v, clients, err, sizeof(err));
	if (rc)
		return fail(msg, len, rc, "%s", err);
	struct conf st;
	char lerr[512];
	if ((rc = state_load_exports(f, &st, lerr, sizeof(lerr)))) {
		nfs_export_remove(f->nfs, path);
		return fail(msg, len, rc, "%s", lerr);
	}
	const struct conf_export *old = find_export(&st, path);
	if (old) {
		/* a stale entry (its volume went away): replace it */
		unsigned i = (unsigned)(old - st.exports);
		free(st.exports[i].path);
		free(st.exports[i].volume);
		free(st.exports[i].clients);
		st.exports[i] = st.exports[--st.nexports];
	}
	if (st.nexports >= FILER_MAX_EXPORTS) {
		conf_free(&st);
		nfs_export_remove(f->nfs, path);
		return fail(msg, len, -E2BIG, "more than %u exports", FILER_MAX_EXPORTS);
	}
	struct conf_export *e = &st.exports[st.nexports++];
	*e = (struct conf_export){strdup(path), strdup(vol), strdup(clients), 0};
	rc = e->path && e->volume && e->clients ? state_save_exports(f, &st) : -ENOMEM;
	conf_free(&st);
	if (rc) {
		nfs_export_remove(f->nfs, path);
		return fail(msg, len, rc, "cannot remember the export: %s", strerror(-rc));
	}
	flog(LOG_NOTICE, "exported %s (volume %s) to %s", path, vol, clients);
	return 0;
}

/* Drops state/exports entries matching path (or, path NULL, volume vol). */
static int state_drop_exports(struct filer *f, const char *path, const char *vol, bool *dropped)
{
	struct conf st;
	char err[512];
	*dropped = false;
	int rc = state_load_exports(f, &st, err, sizeof(err));
	if (rc) {
		flog(LOG_ERR, "%s", err);
		return rc;
	}
	for (unsigned i = 0; i < st.nexports;) {
		struct conf_export *e = &st.exports[i];
		if (path ? !strcmp(e->path, path) : !strcmp(e->volume, vol)) {
			free(e->path);
			free(e->volume);
			free(e->clients);
			st.exports[i] = st.exports[--st.nexports];
			*dropped = true;
		} else {
			i++;
		}
	}
	if (*dropped)
		rc = state_save_exports(f, &st);
	conf_free(&st);
	return rc;
}

int filer_export_remove(struct filer *f, const char *path, char *msg, size_t len)
{
	if (msg && len)
		msg[0] = '\0';
	bool dropped;
	int rc = nfs_export_remove(f->nfs, path);
	int src = state_drop_exports(f, path, NULL, &dropped);
	if (rc && !dropped)
		return fail(msg, len, -ENOENT, "%s is not exported", path);
	if (src)
		return fail(msg, len, src, "%s: not exported now, but state/exports: %s", path,
			    strerror(-src));
	const struct conf_export *ce = find_export(&f->conf, path);
	if (ce)
		note(msg, len, "%s is in %s (line %u): it comes back on reload or restart", path,
		     f->conf_path ? f->conf_path : "the embedded default", ce->line);
	flog(LOG_NOTICE, "export %s removed", path);
	return 0;
}

/* ---- administrative actions ------------------------------------------------ */

/* Aggregates may not share disks or logs, and a disk filerctl names must
 * be blank (missing, or an empty file, or a device): a typo must not
 * overwrite data. */
static int check_new_paths(struct filer *f, const char *const *paths, unsigned n, const char *nvlog,
			   char *msg, size_t len)
{
	for (unsigned i = 0; i < n; i++) {
		if (!conf_valid_word(paths[i]))
			return fail(msg, len, -EINVAL, "bad disk path '%s'", paths[i]);
		const char *o = path_owner(f, paths[i]);
		if (o)
			return fail(msg, len, -EBUSY, "%s is already used by aggregate %s",
				    paths[i], o);
		for (unsigned k = 0; k < i; k++)
			if (!strcmp(paths[k], paths[i]))
				return fail(msg, len, -EINVAL, "disk %s named twice", paths[i]);
		if (nvlog && !strcmp(nvlog, paths[i]))
			return fail(msg, len, -EINVAL, "%s is both a disk and the NVLOG", paths[i]);
		struct stat st;
		if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
			return fail(msg, len, -EEXIST,
				    "%s exists and is not empty: remove it first", paths[i]);
	}
	if (nvlog) {
		if (!conf_valid_word(nvlog))
			return fail(msg, len, -EINVAL, "bad NVLOG path '%s'", nvlog);
		const char *o = path_owner(f, nvlog);
		if (o)
			return fail(msg, len, -EBUSY, "%s is already used by aggregate %s", nvlog,
				    o);
	}
	return 0;
}

static void unlink_files(const struct conf_aggr *a)
{
	for (unsigned i = 0; i <= a->ndisks; i++) {
		const char *p = i < a->ndisks ? a->disks[i] : a->nvlog;
		struct stat st;
		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) < 0)
			flog(LOG_WARNING, "%s: %s", p, strerror(errno));
	}
}

int filer_aggr_create(struct filer *f, const struct conf_aggr *ca, char *msg, size_t len)
{
	if (!conf_valid_name(ca->name))
		return fail(msg, len, -EINVAL, "bad aggregate name '%s'", ca->name);
	if (filer_aggr_find(f, ca->name) || filer_vol_find(f, ca->name, NULL))
		return fail(msg, len, -EEXIST, "%s exists already", ca->name);
	if (!ca->create)
		return fail(msg, len, -EINVAL,
			    "filerctl creates aggregates on blank disks; to open existing ones, "
			    "name them in filer.conf with 'create no'");
	if (ca->ndisks == 0 || ca->ndisks > FILER_MAX_DISKS)
		return fail(msg, len, -EINVAL, "an aggregate has 1 to %u disks", FILER_MAX_DISKS);
	if (f->naggrs >= FILER_MAX_AGGRS)
		return fail(msg, len, -E2BIG, "a filer has at most %u aggregates", FILER_MAX_AGGRS);
	struct filer_aggr *fa = &f->aggrs[f->naggrs];
	*fa = (struct filer_aggr){0};
	int rc = conf_aggr_copy(&fa->conf, ca);
	if (rc)
		return fail(msg, len, rc, "out of memory");
	fa->conf.line = 0;
	if (!fa->conf.nvlog && asprintf(&fa->conf.nvlog, "%s.nvlog", ca->name) < 0) {
		fa->conf.nvlog = NULL;
		rc = fail(msg, len, -ENOMEM, "out of memory");
		goto err;
	}
	if (!fa->conf.disk_size_bytes)
		fa->conf.disk_size_bytes = DEFAULT_DISK_BYTES;
	if ((rc = aggr_resolve(f->conf.home, &fa->conf))) {
		fail(msg, len, rc, "out of memory");
		goto err;
	}
	if ((rc = check_new_paths(f, (const char *const *)fa->conf.disks, fa->conf.ndisks,
				  fa->conf.nvlog, msg, len)))
		goto err;
	bool created;
	if ((rc = aggr_bring_up(f, fa, &created, msg, len)))
		goto err;
	if ((rc = state_save_aggr(f, &fa->conf))) {
		fail(msg, len, rc, "created, but cannot remember it: %s (destroyed again)",
		     strerror(-rc));
		wafl_aggr_abandon(fa->a);
		fa->a = NULL;
		aggr_unlock(fa);
		unlink_files(&fa->conf);
		goto err;
	}
	f->naggrs++;
	flog(LOG_NOTICE, "%s %s created on %u disks", ca->trad ? "traditional volume" : "aggregate",
	     ca->name, ca->ndisks);
	return 0;
err:
	conf_aggr_free(&fa->conf);
	return rc;
}

int filer_aggr_destroy(struct filer *f, const char *name, char *msg, size_t len)
{
	struct filer_aggr *fa = filer_aggr_find(f, name);
	if (!fa)
		return fail(msg, len, -ENOENT, "no aggregate %s", name);
	const struct conf_aggr *cfg = configured_aggr(f, name);
	if (cfg)
		return fail(msg, len, -EPERM,
			    "aggregate %s is in %s (line %u): remove it there, then restart", name,
			    f->conf_path ? f->conf_path : "the embedded default", cfg->line);
	struct wafl_aggr_info ai;
	wafl_aggr_info(fa->a, &ai);
	if (ai.kind == WAFL_AGGR && ai.nvols)
		return fail(msg, len, -EBUSY, "aggregate %s holds %u volume%s: destroy %s first",
			    name, ai.nvols, ai.nvols == 1 ? "" : "s",
			    ai.nvols == 1 ? "it" : "them");
	int rc = state_forget_aggr(f, name);
	if (rc)
		return fail(msg, len, rc, "cannot forget aggregate %s: %s", name, strerror(-rc));
	if (ai.kind == WAFL_TRAD) {
		struct wafl_vol *v = wafl_vol_at(fa->a, 0);
		bool dropped;
		if (v)
			nfs_export_remove_vol(f->nfs, v);
		state_drop_exports(f, NULL, name, &dropped);
	}
	/* it is going away: no final CP (abandon), and its files with it */
	wafl_aggr_abandon(fa->a);
	aggr_unlock(fa);
	unlink_files(&fa->conf);
	conf_aggr_free(&fa->conf);
	unsigned i = (unsigned)(fa - f->aggrs);
	memmove(&f->aggrs[i], &f->aggrs[i + 1], (f->naggrs - i - 1) * sizeof(f->aggrs[0]));
	f->naggrs--;
	memset(&f->aggrs[f->naggrs], 0, sizeof(f->aggrs[0]));
	flog(LOG_NOTICE, "aggregate %s destroyed", name);
	return 0;
}

int filer_aggr_add_disks(struct filer *f, const char *name, const char *const *disks, unsigned n,
			 uint64_t disk_size_bytes, char *msg, size_t len)
{
	struct filer_aggr *fa = filer_aggr_find(f, name);
	if (!fa)
		return fail(msg, len, -ENOENT, "no aggregate %s", name);
	if (n == 0 || fa->conf.ndisks + n > FILER_MAX_DISKS)
		return fail(msg, len, -E2BIG, "an aggregate has at most %u disks", FILER_MAX_DISKS);
	char *paths[FILER_MAX_DISKS];
	unsigned np = 0;
	int rc = 0;
	for (; np < n; np++) {
		if (!disks[np] || !(paths[np] = path_join(f->conf.home, disks[np]))) {
			rc = fail(msg, len, disks[np] ? -ENOMEM : -EINVAL, "bad disk list");
			goto out;
		}
	}
	if ((rc = check_new_paths(f, (const char *const *)paths, n, NULL, msg, len)))
		goto out;
	unsigned locked = fa->nlock_fds;
	for (unsigned i = 0; i < n; i++)
		if ((rc = lock_file(fa, paths[i], true, msg, len)))
			goto unlock;
	uint64_t sz = disk_size_bytes		 ? disk_size_bytes
		      : fa->conf.disk_size_bytes ? fa->conf.disk_size_bytes
						 : DEFAULT_DISK_BYTES;
	if ((rc = wafl_aggr_add_disks(fa->a, (const char *const *)paths, n, sz))) {
		fail(msg, len, rc, "cannot add the disks to %s: %s", name,
		     rc == -E2BIG ? "too many disks or RAID groups" : strerror(-rc));
		goto unlock;
	}
	for (unsigned i = 0; i < n; i++) {
		fa->conf.disks[fa->conf.ndisks++] = paths[i];
		paths[i] = NULL;
	}
	/* remembered for the next start, configured aggregate or not */
	if ((rc = state_save_aggr(f, &fa->conf))) {
		fail(msg, len, rc,
		     "disks added, but state/aggr.%s could not be written (%s): add them to "
		     "filer.conf before the next start",
		     name, strerror(-rc));
		goto out;
	}
	flog(LOG_NOTICE, "aggregate %s: %u disk%s added", name, n, n == 1 ? "" : "s");
	goto out;
unlock:
	while (fa->nlock_fds > locked)
		close(fa->lock_fds[--fa->nlock_fds]);
out:
	for (unsigned i = 0; i < np; i++)
		free(paths[i]);
	return rc;
}

/*
 * The checker runs synchronously on the loop thread, so no CP can start
 * while it walks: service pauses for its duration (filerctl(8) says so).
 * A CP already writing goes on, but it writes only blocks that are free
 * in the durable image and then the other superblock copy, so the image
 * the checker walks stays whole. What it checks is the newest durable CP:
 * changes since are in the NVLOG only. To check them too, filer_cp() first
 * and check from its callback (nothing here may wait for a CP: see top).
 */
int filer_aggr_check(struct filer *f, const char *name, wafl_problem_fn fn, void *arg,
		     struct wafl_check_result *res, char *msg, size_t len)
{
	struct filer_aggr *fa = filer_aggr_find(f, name);
	if (!fa)
		return fail(msg, len, -ENOENT, "no aggregate %s", name);
	memset(res, 0, sizeof(*res));
	int rc = wafl_check((const char *const *)fa->conf.disks, fa->conf.ndisks, fn, arg, NULL,
			    NULL, res);
	if (rc)
		return fail(msg, len, rc, "cannot read aggregate %s: %s", name, strerror(-rc));
	flog(res->problems ? LOG_ERR : LOG_NOTICE,
	     "aggregate %s checked at CP %llu: %llu problem%s, %llu blocks", name,
	     (unsigned long long)res->cp_count, (unsigned long long)res->problems,
	     res->problems == 1 ? "" : "s", (unsigned long long)res->blocks_checked);
	return 0;
}

static const char *vol_err(int rc)
{
	switch (rc) {
	case -ENOSPC:
		return "not enough space";
	case -EAGAIN:
		return "busy (log full): try again";
	case -EROFS:
		return "the aggregate is read-only (a write failed)";
	default:
		return strerror(-rc);
	}
}

int filer_vol_create(struct filer *f, const char *aggr, const char *vol, uint64_t size_bytes,
		     enum wafl_guarantee g, char *msg, size_t len)
{
	struct filer_aggr *fa = filer_aggr_find(f, aggr);
	if (!fa)
		return fail(msg, len, -ENOENT, "no aggregate %s", aggr);
	if (!conf_valid_name(vol))
		return fail(msg, len, -EINVAL, "bad volume name '%s'", vol);
	if (filer_vol_find(f, vol, NULL) || filer_aggr_find(f, vol))
		return fail(msg, len, -EEXIST, "%s exists already", vol);
	struct wafl_stab st;
	int rc = wafl_vol_create(fa->a, vol, size_bytes, g, &st);
	if (rc == -EOPNOTSUPP)
		return fail(msg, len, rc, "%s is a traditional volume: it holds no volumes", aggr);
	if (rc == -EINVAL)
		return fail(msg, len, rc, "a volume is at least 1M");
	if (rc)
		return fail(msg, len, rc, "cannot create %s in %s: %s", vol, aggr, vol_err(rc));
	flog(LOG_NOTICE, "volume %s created in %s (%llu MiB)", vol, aggr,
	     (unsigned long long)(size_bytes >> 20));
	filer_vol_appeared(f, vol);
	return 0;
}

/* Configured (or remembered) exports of a volume that did not exist come
 * alive when it does: created, or cloned. */
void filer_vol_appeared(struct filer *f, const char *vol)
{
	struct conf stc;
	char err[512];
	if (state_load_exports(f, &stc, err, sizeof(err)) == 0) {
		bool any = false;
		for (unsigned i = 0; i < f->conf.nexports; i++)
			any |= !strcmp(f->conf.exports[i].volume, vol);
		for (unsigned i = 0; i < stc.nexports; i++)
			any |= !strcmp(stc.exports[i].volume, vol);
		if (any) {
			struct sync_counts k;
			char *stp = state_path(f, "exports");
			exports_sync(f, &stc, stp ? stp : "state/exports", &k, NULL, 0);
			free(stp);
		}
		conf_free(&stc);
	}
}

int filer_vol_resize(struct filer *f, const char *vol, uint64_t size_bytes, char *msg, size_t len)
{
	struct wafl_vol *v = filer_vol_find(f, vol, NULL);
	if (!v)
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	struct wafl_stab st;
	int rc = wafl_vol_resize(v, size_bytes, &st);
	if (rc == -EOPNOTSUPP)
		return fail(msg, len, rc, "%s is a traditional volume: as big as its disks", vol);
	if (rc == -ENOSPC)
		return fail(msg, len, rc, "%s: more is used than that, or the aggregate is full",
			    vol);
	if (rc)
		return fail(msg, len, rc, "cannot resize %s: %s", vol, vol_err(rc));
	flog(LOG_NOTICE, "volume %s resized to %llu MiB", vol,
	     (unsigned long long)(size_bytes >> 20));
	return 0;
}

int filer_vol_state(struct filer *f, const char *vol, enum wafl_vol_state s, char *msg, size_t len)
{
	struct wafl_vol *v = filer_vol_find(f, vol, NULL);
	if (!v)
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	struct wafl_stab st;
	int rc = wafl_vol_set_state(v, s, &st);
	if (rc)
		return fail(msg, len, rc, "cannot change the state of %s: %s", vol, vol_err(rc));
	flog(LOG_NOTICE, "volume %s is %s", vol,
	     s == WAFL_VOL_ONLINE    ? "online"
	     : s == WAFL_VOL_OFFLINE ? "offline"
				     : "restricted");
	return 0;
}

int filer_vol_destroy(struct filer *f, const char *vol, char *msg, size_t len)
{
	struct filer_aggr *fa;
	struct wafl_vol *v = filer_vol_find(f, vol, &fa);
	if (!v)
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	struct wafl_vol_info vi;
	wafl_vol_info(v, &vi);
	if (!vi.flexible)
		return fail(msg, len, -EOPNOTSUPP,
			    "%s is a traditional volume: destroy the aggregate", vol);
	if (vi.state != WAFL_VOL_OFFLINE)
		return fail(msg, len, -EBUSY, "%s is not offline: take it offline first", vol);
	/* its exports go first (nfs/ must not see the volume vanish under
	 * them); they come back if the destroy fails */
	struct live_list live = {0};
	nfs_export_list(f->nfs, live_add, &live);
	nfs_export_remove_vol(f->nfs, v);
	struct wafl_stab st;
	int rc = wafl_vol_destroy(fa->a, vol, &st);
	if (rc) {
		char err[256];
		for (unsigned i = 0; i < live.n; i++)
			if (live.e[i].vol == v &&
			    nfs_export_add(f->nfs, live.e[i].path, v, live.e[i].clients, err,
					   sizeof(err)))
				flog(LOG_ERR, "export %s lost: %s", live.e[i].path, err);
		free(live.e);
		return fail(msg, len, rc, "cannot destroy %s: %s", vol, vol_err(rc));
	}
	free(live.e);
	bool dropped;
	state_drop_exports(f, NULL, vol, &dropped);
	filer_sched_forget(f, vol);
	flog(LOG_NOTICE, "volume %s destroyed", vol);
	return 0;
}

/* ---- CPs -------------------------------------------------------------------- */

struct cp_wait {
	unsigned pending;
	void (*done)(void *arg);
	void *arg;
};

static void cp_one_done(void *arg)
{
	struct cp_wait *w = arg;
	if (--w->pending == 0) {
		void (*done)(void *) = w->done;
		void *darg = w->arg;
		free(w);
		if (done)
			done(darg);
	}
}

void filer_cp(struct filer *f, void (*done)(void *arg), void *arg)
{
	struct cp_wait *w = malloc(sizeof(*w));
	if (!w) {
		/* no memory to wait with: start the CPs, answer now */
		for (unsigned i = 0; i < f->naggrs; i++) {
			struct wafl_stab st;
			wafl_cp_start(f->aggrs[i].a, &st);
		}
		if (done)
			done(arg);
		return;
	}
	/* one extra count until every CP is started: a CP may be durable at
	 * once, and wafl_when_durable then calls back before returning */
	*w = (struct cp_wait){f->naggrs + 1, done, arg};
	for (unsigned i = 0; i < f->naggrs; i++) {
		struct wafl_stab st;
		wafl_cp_start(f->aggrs[i].a, &st);
		wafl_when_durable(f->aggrs[i].a, &st, cp_one_done, w);
	}
	cp_one_done(w);
}

/* ---- start and stop ------------------------------------------------------ */

static int read_secret(const char *home, uint8_t secret[NFS_SECRET_BYTES], char *msg, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/secret", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, secret, NFS_SECRET_BYTES);
		close(fd);
		if (n == NFS_SECRET_BYTES)
			return 0;
		return fail(msg, len, -EINVAL, "%s is damaged (not %u bytes)", path,
			    NFS_SECRET_BYTES);
	}
	if (getrandom(secret, NFS_SECRET_BYTES, 0) != NFS_SECRET_BYTES)
		return fail(msg, len, -EIO, "no random bytes for %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(msg, len, -errno, "%s: %s", path, strerror(errno));
	int rc = write(fd, secret, NFS_SECRET_BYTES) == NFS_SECRET_BYTES && fsync(fd) == 0 ? 0
											   : -EIO;
	close(fd);
	if (rc)
		return fail(msg, len, rc, "cannot write %s", path);
	return 0;
}

/* The embedded default makes its volume in a new (or empty) aggregate. */
static int default_volume(struct filer *f, bool created, char *msg, size_t len)
{
	if (!f->conf.default_volume || !f->naggrs || !f->aggrs[0].a)
		return 0;
	struct wafl_aggr *a = f->aggrs[0].a;
	struct wafl_aggr_info ai;
	wafl_aggr_info(a, &ai);
	if (wafl_vol_find(a, f->conf.default_volume) || (!created && ai.nvols))
		return 0;
	flog(LOG_NOTICE, "creating volume %s (%llu MiB) in %s", f->conf.default_volume,
	     (unsigned long long)(f->conf.default_volume_bytes >> 20), ai.name);
	struct wafl_stab st;
	int rc = wafl_vol_create(a, f->conf.default_volume, f->conf.default_volume_bytes,
				 WAFL_GUAR_NONE, &st);
	if (!rc)
		rc = wafl_wait(a, &st); /* not dispatching yet: may wait */
	if (rc)
		return fail(msg, len, rc, "cannot create volume %s: %s", f->conf.default_volume,
			    strerror(-rc));
	return 0;
}

int filer_start(struct filer *f, char *msg, size_t len)
{
	int rc;
	f->lock_fd = -1;
	if ((rc = mkdir_p(f->conf.home, 0700)))
		return fail(msg, len, rc, "%s: %s", f->conf.home, strerror(-rc));
	char real[PATH_MAX];
	if (!realpath(f->conf.home, real))
		return fail(msg, len, -errno, "%s: %s", f->conf.home, strerror(errno));
	char *home = strdup(real);
	if (!home)
		return fail(msg, len, -ENOMEM, "out of memory");
	free(f->conf.home);
	f->conf.home = home;
	if (f->conf.control_socket) {
		char *p = path_join(home, f->conf.control_socket);
		if (!p)
			return fail(msg, len, -ENOMEM, "out of memory");
		free(f->conf.control_socket);
		f->conf.control_socket = p;
	}
	if ((rc = lock_home(f, msg, len)))
		return rc;
	char *sd = state_path(f, "");
	if (!sd)
		return fail(msg, len, -ENOMEM, "out of memory");
	rc = mkdir(sd, 0700) < 0 && errno != EEXIST ? -errno : 0;
	if (rc)
		fail(msg, len, rc, "%s: %s", sd, strerror(-rc));
	free(sd);
	if (rc || (rc = plan_aggrs(f, msg, len)))
		goto err;
	for (unsigned i = 0; i < f->naggrs; i++) {
		const struct conf_aggr *a = &f->aggrs[i].conf;
		for (unsigned d = 0; d <= a->ndisks; d++) {
			const char *p = d < a->ndisks ? a->disks[d] : a->nvlog;
			const char *o = path_owner(f, p);
			if (o != a->name) {
				rc = fail(msg, len, -EINVAL, "aggregates %s and %s share %s", o,
					  a->name, p);
				goto err;
			}
		}
	}
	bool created0 = false;
	for (unsigned i = 0; i < f->naggrs; i++) {
		bool created;
		if ((rc = aggr_bring_up(f, &f->aggrs[i], &created, msg, len)))
			goto err;
		if (i == 0)
			created0 = created;
	}
	if ((rc = default_volume(f, created0, msg, len)))
		goto err;
	struct nfs_config nc = {
		.base = f->base,
		.addr = f->conf.listen,
		.port = f->conf.port,
		.udp = f->conf.udp,
		.portmapper = f->conf.portmapper,
		.portmap_port = f->conf.portmap_port,
	};
	if ((rc = read_secret(f->conf.home, nc.secret, msg, len)))
		goto err;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	nc.boot_verifier = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	f->started_usec = (uint64_t)now.tv_sec * 1000000ull + (uint64_t)now.tv_nsec / 1000;
	rc = nfs_server_new(&nc, &f->nfs);
	if (rc == -EADDRINUSE && nc.portmapper) {
		/* most likely a system rpcbind on 111: serve without ours */
		flog(LOG_WARNING,
		     "portmapper port %u is taken (a system rpcbind?): serving without the "
		     "built-in portmapper; clients then need port= and mountport=",
		     nc.portmap_port);
		nc.portmapper = false;
		rc = nfs_server_new(&nc, &f->nfs);
	}
	if (rc) {
		char pm[48] = "";
		if (f->conf.portmapper)
			snprintf(pm, sizeof(pm), " (portmapper: port %u)", f->conf.portmap_port);
		fail(msg, len, rc, "cannot listen on %s port %u%s: %s", f->conf.listen,
		     f->conf.port, pm, strerror(-rc));
		goto err;
	}
	/* exports: a bad client list in the configuration stops the start; a
	 * missing volume does not (filerctl may create it) */
	struct conf st;
	char err[512];
	if ((rc = state_load_exports(f, &st, err, sizeof(err)))) {
		fail(msg, len, rc, "%s", err);
		goto err;
	}
	struct sync_counts k;
	char *stp = state_path(f, "exports");
	char notes[1024] = "";
	exports_sync(f, &st, stp ? stp : "state/exports", &k, notes, sizeof(notes));
	free(stp);
	conf_free(&st);
	if (k.bad_config) {
		rc = fail(msg, len, -EINVAL, "%s", notes);
		goto err;
	}
	return 0;
err:
	filer_stop(f);
	return rc;
}

/*
 * The order matters. Calls parked until their change is durable hold
 * pointers into nfs/ that wafl/ calls back when the final CP lands, so
 * the NFS server must outlive the aggregates' final CPs; but while those
 * CPs run the loop, clients keep sending. So: first unexport everything
 * (a new call then fails on its file handle and touches no volume, and
 * nothing new is logged), then the final CPs, which answer every parked
 * call, then the NFS server.
 */
int filer_stop(struct filer *f)
{
	int rc = 0;
	if (f->nfs) {
		struct live_list live = {0};
		nfs_export_list(f->nfs, live_add, &live);
		for (unsigned i = 0; i < live.n; i++)
			nfs_export_remove(f->nfs, live.e[i].path);
		free(live.e);
	}
	for (unsigned i = 0; i < f->naggrs; i++) {
		struct filer_aggr *fa = &f->aggrs[i];
		if (fa->a) {
			int r = wafl_aggr_close(fa->a); /* the final CP */
			if (r) {
				flog(LOG_ERR, "aggregate %s: the final CP failed: %s",
				     fa->conf.name, strerror(-r));
				rc = rc ? rc : r;
			}
			fa->a = NULL;
		}
		aggr_unlock(fa);
		conf_aggr_free(&fa->conf);
	}
	f->naggrs = 0;
	if (f->nfs) {
		nfs_server_free(f->nfs);
		f->nfs = NULL;
	}
	if (f->lock_fd >= 0) {
		close(f->lock_fd);
		f->lock_fd = -1;
	}
	return rc;
}
