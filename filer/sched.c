/*
 * sched.c - snapshot schedules: how many hourly, nightly and weekly
 * snapshots each volume keeps (filer.h says what a run does), remembered
 * in HOME/state/snapsched and run by a timer on the event loop.
 *
 * The clock: one libevent timer, armed for the next hour boundary of the
 * local time (minute 0), every time it fires. Each hour it takes the
 * hourly snapshots; at 00:00 the nightly ones instead, and on Sunday at
 * 00:00 the weekly ones (only the rarest kind a volume keeps, when
 * several fall due at once, as Data ONTAP does). The filer does not
 * catch up on hours it was down for. FILER_SNAP_HOUR_SECONDS=N (a testing
 * aid, documented in filer(8)) makes an "hour" N seconds of Unix time, a
 * "day" 24 of those and a "week" 168, so a test sees the clock work in
 * seconds; `filerctl snap sched-run` runs one kind at once.
 *
 * A run is a small state machine, because every step may meet -EAGAIN
 * (the NVLOG or the cache is full while a CP runs) and then waits for
 * wafl_on_progress before it tries again:
 *
 *   CREATE   if KIND.0 exists, rename KIND.i to KIND.i+1, highest first;
 *            then create KIND.0. Tried again after -EAGAIN in the middle
 *            of the renames, it renames again (KIND.0 is renamed last, so
 *            it still exists): the numbers may then skip one, which
 *            changes nothing, since expiry goes by age, not by number.
 *   EXPIRE   once KIND.0 is durable (it then shows in wafl_snap_list),
 *            delete the oldest of its kind beyond the count; one a clone
 *            depends on is kept (and logged).
 *   DONE     once the deletions are durable, tell the caller.
 *
 * "Of its kind" means named KIND.N, N a decimal number without leading
 * zeros: a snapshot an administrator names so takes part in the rotation.
 *
 * The state file is one line per volume:
 *
 *   schedule VOL hourly=N nightly=N weekly=N
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "filer/filer.h"

#define STATE_FILE "snapsched"

enum run_step { STEP_CREATE = 0, STEP_EXPIRE, STEP_DONE };

struct sched;

struct run {
	struct sched *s; /* NULL once the schedules stopped: finish quietly */
	char vol[WAFL_VOLNAME_MAX + 1];
	enum filer_sched_kind kind;
	unsigned keep;
	enum run_step step;
	struct wafl_stab st; /* what the next step waits for */
	filer_sched_done_fn done;
	void *arg;
	struct filer_sched_result res;
	LIST_ENTRY(run) link;
};

struct sched {
	struct filer *f;
	struct filer_sched *v; /* sorted by volume name */
	unsigned n, cap;
	struct event *timer;
	unsigned hour_sec; /* FILER_SNAP_HOUR_SECONDS; 0: the real clock */
	int64_t last_slot; /* the slot last handled */
	LIST_HEAD(, run) runs;
};

static const char *const kind_names[FILER_SCHED_KINDS] = {"hourly", "nightly", "weekly"};

const char *filer_sched_kind_name(enum filer_sched_kind k)
{
	return (unsigned)k < FILER_SCHED_KINDS ? kind_names[k] : "?";
}

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

/* ---- the state file --------------------------------------------------- */

static struct filer_sched *find(struct sched *s, const char *vol)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].vol, vol))
			return &s->v[i];
	return NULL;
}

static int cmp_sched(const void *a, const void *b)
{
	return strcmp(((const struct filer_sched *)a)->vol, ((const struct filer_sched *)b)->vol);
}

/* Adds (or replaces) one; keeps the array sorted. */
static int put(struct sched *s, const struct filer_sched *e)
{
	struct filer_sched *old = find(s, e->vol);
	if (old) {
		*old = *e;
		return 0;
	}
	if (s->n == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 8;
		struct filer_sched *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *e;
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_sched);
	return 0;
}

static void drop(struct sched *s, const char *vol)
{
	struct filer_sched *e = find(s, vol);
	if (!e)
		return;
	unsigned i = (unsigned)(e - s->v);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

static int save(struct sched *s)
{
	char *text = NULL;
	size_t tlen = 0;
	FILE *o = open_memstream(&text, &tlen);
	if (!o)
		return -ENOMEM;
	fprintf(o, "# Remembered by filer(8): snapshot schedules set with filerctl.\n"
		   "# Written whole each time; see filerctl(8), snap sched.\n");
	for (unsigned i = 0; i < s->n; i++)
		fprintf(o, "schedule %s hourly=%u nightly=%u weekly=%u\n", s->v[i].vol,
			s->v[i].keep[0], s->v[i].keep[1], s->v[i].keep[2]);
	int rc = fclose(o) ? -ENOMEM : filer_state_write(s->f, STATE_FILE, text);
	free(text);
	return rc;
}

/* "hourly=6" into keep[]; false when it is not one of those. */
static bool parse_count(const char *w, unsigned keep[FILER_SCHED_KINDS], bool seen[])
{
	for (unsigned k = 0; k < FILER_SCHED_KINDS; k++) {
		size_t l = strlen(kind_names[k]);
		if (strncmp(w, kind_names[k], l) || w[l] != '=')
			continue;
		const char *v = w + l + 1;
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (*end || end == v || *v == '-' || *v == '+' || n > WAFL_SNAP_MAX || seen[k])
			return false;
		keep[k] = (unsigned)n;
		seen[k] = true;
		return true;
	}
	return false;
}

static int load(struct sched *s, char *msg, size_t len)
{
	char *path = filer_state_path(s->f, STATE_FILE);
	if (!path)
		return fail(msg, len, -ENOMEM, "out of memory");
	FILE *in = fopen(path, "re");
	if (!in) {
		int e = errno;
		int rc = e == ENOENT ? 0 : fail(msg, len, -e, "%s: %s", path, strerror(e));
		free(path);
		return rc;
	}
	char line[1024];
	unsigned lineno = 0;
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), in)) {
		lineno++;
		char *w[8], *save_p;
		unsigned nw = 0;
		for (char *t = strtok_r(line, " \t\r\n", &save_p); t && nw < 8;
		     t = strtok_r(NULL, " \t\r\n", &save_p))
			w[nw++] = t;
		if (!nw || w[0][0] == '#')
			continue;
		struct filer_sched e = {0};
		bool seen[FILER_SCHED_KINDS] = {0};
		bool ok = nw >= 3 && nw <= 5 && !strcmp(w[0], "schedule") &&
			  conf_valid_name(w[1]) && strlen(w[1]) <= WAFL_VOLNAME_MAX;
		for (unsigned i = 2; ok && i < nw; i++)
			ok = parse_count(w[i], e.keep, seen);
		if (!ok) {
			rc = fail(msg, len, -EINVAL,
				  "%s:%u: want 'schedule VOLUME hourly=N nightly=N weekly=N'", path,
				  lineno);
			break;
		}
		snprintf(e.vol, sizeof(e.vol), "%s", w[1]);
		if (e.keep[0] || e.keep[1] || e.keep[2])
			rc = put(s, &e) ? fail(msg, len, -ENOMEM, "out of memory") : 0;
	}
	fclose(in);
	free(path);
	return rc;
}

/* ---- the clock ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Slots are the hours of the schedule: slot numbers (the Unix time of the
 * hour's start, or with hour_sec the count of such "hours" since the
 * Epoch), with the hour of the day and the day of the week they fall on.
 */
struct slot {
	int64_t id;
	time_t start;
	int hour, wday;
};

static void slot_at(const struct sched *s, time_t t, struct slot *o)
{
	if (s->hour_sec) {
		int64_t k = (int64_t)t / s->hour_sec;
		o->id = k;
		o->start = (time_t)(k * s->hour_sec);
		o->hour = (int)(k % 24);
		/* the Epoch's "day" 0 counts as a Sunday */
		o->wday = (int)(k / 24 % 7);
		return;
	}
	struct tm tm;
	localtime_r(&t, &tm);
	tm.tm_min = 0;
	tm.tm_sec = 0;
	o->hour = tm.tm_hour;
	o->wday = tm.tm_wday;
	o->start = mktime(&tm);
	o->id = (int64_t)o->start;
}

/* The slot after o (the next hour boundary). */
static void slot_next(const struct sched *s, const struct slot *o, struct slot *n)
{
	if (s->hour_sec) {
		slot_at(s, (time_t)((o->id + 1) * s->hour_sec), n);
		return;
	}
	struct tm tm;
	localtime_r(&o->start, &tm);
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_hour++;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	if (t <= o->start) /* a repeated hour (DST ends): an hour on */
		t = o->start + 3600;
	slot_at(s, t, n);
	if (n->id <= o->id)
		slot_at(s, o->start + 3600, n);
}

/* Which kind a slot takes for e: the rarest it keeps that falls due. */
static bool slot_kind(const struct slot *sl, const struct filer_sched *e,
		      enum filer_sched_kind *kind)
{
	if (sl->hour == 0 && sl->wday == 0 && e->keep[FILER_SCHED_WEEKLY])
		*kind = FILER_SCHED_WEEKLY;
	else if (sl->hour == 0 && e->keep[FILER_SCHED_NIGHTLY])
		*kind = FILER_SCHED_NIGHTLY;
	else if (e->keep[FILER_SCHED_HOURLY])
		*kind = FILER_SCHED_HOURLY;
	else
		return false;
	return true;
}

static void arm(struct sched *s)
{
	struct slot cur, next;
	int64_t ms = now_ms();
	slot_at(s, (time_t)(ms / 1000), &cur);
	slot_next(s, &cur, &next);
	int64_t delay = (int64_t)next.start * 1000 - ms + 20; /* land after the boundary */
	if (delay < 20)
		delay = 20;
	struct timeval tv = {.tv_sec = (time_t)(delay / 1000),
			     .tv_usec = (suseconds_t)(delay % 1000 * 1000)};
	evtimer_add(s->timer, &tv);
}

time_t filer_sched_next(struct filer *f, const struct filer_sched *e, enum filer_sched_kind *kind)
{
	struct sched *s = f->sched;
	if (!s)
		return 0;
	struct slot sl;
	slot_at(s, time(NULL), &sl);
	/* a week of slots holds every kind */
	for (int i = 0; i < 24 * 7 + 1; i++) {
		struct slot n;
		slot_next(s, &sl, &n);
		sl = n;
		if (slot_kind(&sl, e, kind))
			return sl.start;
	}
	return 0;
}

/* ---- runs --------------------------------------------------------------- */

static void step(struct run *r);

static struct run *running(struct sched *s, const char *vol)
{
	struct run *r;
	LIST_FOREACH(r, &s->runs, link)
	if (!strcmp(r->vol, vol))
		return r;
	return NULL;
}

static void finish(struct run *r, int rc)
{
	if (r->s)
		LIST_REMOVE(r, link);
	const char *kn = kind_names[r->kind];
	if (rc)
		flog(LOG_ERR, "volume %s: %s snapshot: %s", r->vol, kn, r->res.msg);
	else
		flog(LOG_NOTICE, "volume %s: %s snapshot %s taken, %u of its kind kept, %u expired",
		     r->vol, kn, r->res.created, r->res.kept, r->res.ndeleted);
	if (r->done)
		r->done(r->arg, rc, &r->res);
	free(r);
}

static void on_event(void *arg)
{
	struct run *r = arg;
	if (!r->s) {
		/* the filer is stopping: its final CP made this durable */
		snprintf(r->res.msg, sizeof(r->res.msg), "the filer is shutting down");
		finish(r, -ESHUTDOWN);
		return;
	}
	step(r);
}

/* Waits for st (or, st NULL, for progress after -EAGAIN), then steps on. */
static void wait_then(struct run *r, struct wafl_aggr *a, const struct wafl_stab *st)
{
	if (st)
		wafl_when_durable(a, st, on_event, r); /* may call back at once */
	else
		wafl_on_progress(a, on_event, r);
}

static void stab_max(struct wafl_stab *acc, const struct wafl_stab *st)
{
	if (st->log_seq > acc->log_seq)
		acc->log_seq = st->log_seq;
	if (st->cp > acc->cp)
		acc->cp = st->cp;
}

/* The index N of a snapshot named KIND.N, or -1. */
static long kind_index(const char *name, enum filer_sched_kind k)
{
	size_t l = strlen(kind_names[k]);
	if (strncmp(name, kind_names[k], l) || name[l] != '.')
		return -1;
	const char *d = name + l + 1;
	if (!*d || (d[0] == '0' && d[1]) || strspn(d, "0123456789") != strlen(d) || strlen(d) > 6)
		return -1;
	return strtol(d, NULL, 10);
}

static int cmp_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* CREATE: 0, -EAGAIN (wait for progress), or another error in res.msg. */
static int do_create(struct run *r, struct wafl_vol *v, struct wafl_stab *st)
{
	/* what would refuse the snapshot: before anything is renamed */
	struct wafl_vol_info vi;
	wafl_vol_info(v, &vi);
	if (vi.state != WAFL_VOL_ONLINE || vi.splitting) {
		snprintf(r->res.msg, sizeof(r->res.msg), "skipped: the volume is %s",
			 vi.splitting ? "being split from its parent" : "not online");
		return vi.splitting ? -EBUSY : -ENXIO;
	}
	char msg[256];
	struct wafl_snap_info *l;
	unsigned n;
	int rc = filer_snap_list(r->s->f, r->vol, false, &l, &n, msg, sizeof(msg));
	if (rc) {
		snprintf(r->res.msg, sizeof(r->res.msg), "%s", msg);
		return rc;
	}
	const char *kn = kind_names[r->kind];
	long idx[WAFL_SNAP_MAX];
	unsigned ni = 0;
	bool zero = false;
	for (unsigned i = 0; i < n; i++) {
		long k = kind_index(l[i].name, r->kind);
		if (k >= 0) {
			idx[ni++] = k;
			zero |= k == 0;
		}
	}
	qsort(idx, ni, sizeof(idx[0]), cmp_desc);
	for (unsigned i = 0; zero && i < ni; i++) {
		char from[WAFL_SNAPNAME_MAX + 1], to[WAFL_SNAPNAME_MAX + 1];
		snprintf(from, sizeof(from), "%s.%ld", kn, idx[i]);
		snprintf(to, sizeof(to), "%s.%ld", kn, idx[i] + 1);
		struct wafl_stab rst;
		if ((rc = wafl_snap_rename(v, from, to, &rst))) {
			snprintf(r->res.msg, sizeof(r->res.msg), "cannot rename %s to %s: %s", from,
				 to, strerror(-rc));
			goto out;
		}
		stab_max(st, &rst);
	}
	snprintf(r->res.created, sizeof(r->res.created), "%s.0", kn);
	struct wafl_stab cst;
	rc = wafl_snap_create(v, r->res.created, &cst);
	if (rc == -ENOSPC && ni >= r->keep) {
		/* 255 snapshots: the oldest of the kind goes first, as it
		 * would right after; it was renamed one up above */
		for (unsigned i = 0; i < n; i++) {
			long k = kind_index(l[i].name, r->kind);
			if (k < 0 || l[i].clone[0])
				continue;
			char name[WAFL_SNAPNAME_MAX + 1], why[256];
			snprintf(name, sizeof(name), "%s.%ld", kn, k + (zero ? 1 : 0));
			struct wafl_stab dst;
			if (wafl_snap_delete(v, name, why, sizeof(why), &dst) == 0) {
				snprintf(r->res.deleted[r->res.ndeleted++], WAFL_SNAPNAME_MAX + 1,
					 "%s", name);
				stab_max(st, &dst);
				rc = wafl_snap_create(v, r->res.created, &cst);
			}
			break;
		}
	}
	if (rc) {
		snprintf(r->res.msg, sizeof(r->res.msg), "cannot create %s: %s", r->res.created,
			 rc == -ENOSPC ? "no room (255 snapshots, or no space)" : strerror(-rc));
		goto out;
	}
	stab_max(st, &cst);
out:
	free(l);
	return rc;
}

/* EXPIRE: deletes the oldest of the kind beyond the count. */
static int do_expire(struct run *r, struct wafl_vol *v, struct wafl_stab *st)
{
	char msg[256];
	struct wafl_snap_info *l;
	unsigned n;
	int rc = filer_snap_list(r->s->f, r->vol, false, &l, &n, msg, sizeof(msg));
	if (rc) {
		snprintf(r->res.msg, sizeof(r->res.msg), "%s", msg);
		return rc;
	}
	unsigned have = 0;
	for (unsigned i = 0; i < n; i++)
		have += kind_index(l[i].name, r->kind) >= 0;
	/* the oldest beyond the count, oldest first; never one of the newest
	 * `keep`, even when an older one must stay for a clone */
	unsigned excess = have > r->keep ? have - r->keep : 0;
	for (unsigned i = 0; i < n && excess; i++) {
		if (kind_index(l[i].name, r->kind) < 0)
			continue;
		excess--;
		char why[256] = "";
		struct wafl_stab dst;
		rc = wafl_snap_delete(v, l[i].name, why, sizeof(why), &dst);
		if (rc == -EBUSY) {
			flog(LOG_WARNING, "volume %s: snapshot %s not expired: %s", r->vol,
			     l[i].name, why[0] ? why : "busy");
			rc = 0;
			continue;
		}
		if (rc) {
			if (rc != -EAGAIN)
				snprintf(r->res.msg, sizeof(r->res.msg), "cannot delete %s: %s",
					 l[i].name, strerror(-rc));
			break;
		}
		if (r->res.ndeleted < WAFL_SNAP_MAX)
			snprintf(r->res.deleted[r->res.ndeleted++], WAFL_SNAPNAME_MAX + 1, "%s",
				 l[i].name);
		stab_max(st, &dst);
		have--;
	}
	r->res.kept = have;
	free(l);
	return rc;
}

static void step(struct run *r)
{
	struct filer_aggr *fa;
	struct wafl_vol *v = filer_vol_find(r->s->f, r->vol, &fa);
	if (!v) {
		snprintf(r->res.msg, sizeof(r->res.msg), "no volume %s", r->vol);
		finish(r, -ENOENT);
		return;
	}
	struct wafl_aggr *a = fa->a;
	struct wafl_stab st = {0};
	int rc;
	switch (r->step) {
	case STEP_CREATE:
		rc = do_create(r, v, &st);
		if (rc == -EAGAIN)
			break;
		if (rc) {
			finish(r, rc);
			return;
		}
		r->step = STEP_EXPIRE;
		wait_then(r, a, &st);
		return;
	case STEP_EXPIRE:
		rc = do_expire(r, v, &st);
		if (rc == -EAGAIN)
			break;
		if (rc) {
			finish(r, rc);
			return;
		}
		r->step = STEP_DONE;
		wait_then(r, a, &st);
		return;
	default:
		finish(r, 0);
		return;
	}
	/* -EAGAIN: the same step once a CP or log sync made room */
	wait_then(r, a, NULL);
}

static int start_run(struct sched *s, const char *vol, enum filer_sched_kind k, unsigned keep,
		     filer_sched_done_fn done, void *arg, char *msg, size_t len)
{
	if (running(s, vol))
		return fail(msg, len, -EBUSY, "a scheduled snapshot of %s is under way", vol);
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return fail(msg, len, -ENOMEM, "out of memory");
	r->s = s;
	snprintf(r->vol, sizeof(r->vol), "%s", vol);
	r->kind = k;
	r->keep = keep;
	r->done = done;
	r->arg = arg;
	LIST_INSERT_HEAD(&s->runs, r, link);
	step(r); /* may finish (and call done) before it returns */
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sched *s = arg;
	struct slot sl;
	slot_at(s, time(NULL), &sl);
	if (sl.id > s->last_slot) {
		s->last_slot = sl.id;
		/* runs may drop schedules (a volume gone): copy the list */
		unsigned n = s->n;
		struct filer_sched *copy = n ? malloc(n * sizeof(*copy)) : NULL;
		if (n && !copy) {
			flog(LOG_ERR, "snapshot schedules: out of memory; this hour is skipped");
			n = 0;
		} else if (n) {
			memcpy(copy, s->v, n * sizeof(*copy));
		}
		for (unsigned i = 0; i < n; i++) {
			enum filer_sched_kind k;
			if (!slot_kind(&sl, &copy[i], &k))
				continue;
			char msg[256];
			if (start_run(s, copy[i].vol, k, copy[i].keep[k], NULL, NULL, msg,
				      sizeof(msg)))
				flog(LOG_WARNING, "volume %s: %s snapshot skipped: %s", copy[i].vol,
				     kind_names[k], msg);
		}
		free(copy);
	}
	arm(s);
}

/* ---- the interface ------------------------------------------------------ */

int sched_start(struct filer *f, char *msg, size_t len)
{
	struct sched *s = calloc(1, sizeof(*s));
	if (!s)
		return fail(msg, len, -ENOMEM, "out of memory");
	s->f = f;
	LIST_INIT(&s->runs);
	const char *h = getenv("FILER_SNAP_HOUR_SECONDS");
	if (h && *h) {
		char *end;
		unsigned long n = strtoul(h, &end, 10);
		if (*end || n == 0 || n > 3600) {
			free(s);
			return fail(msg, len, -EINVAL,
				    "FILER_SNAP_HOUR_SECONDS wants 1 to 3600, not '%s'", h);
		}
		s->hour_sec = (unsigned)n;
		flog(LOG_WARNING,
		     "FILER_SNAP_HOUR_SECONDS=%lu: snapshot schedules run on a test clock", n);
	}
	int rc = load(s, msg, len);
	if (rc) {
		free(s->v);
		free(s);
		return rc;
	}
	s->timer = evtimer_new(f->base, on_timer, s);
	if (!s->timer) {
		free(s->v);
		free(s);
		return fail(msg, len, -ENOMEM, "out of memory");
	}
	struct slot sl;
	slot_at(s, time(NULL), &sl);
	s->last_slot = sl.id; /* the hour under way is not taken at start */
	f->sched = s;
	arm(s);
	if (s->n)
		flog(LOG_INFO, "snapshot schedules for %u volume%s", s->n, s->n == 1 ? "" : "s");
	return 0;
}

void sched_stop(struct filer *f)
{
	struct sched *s = f->sched;
	if (!s)
		return;
	struct run *r;
	while ((r = LIST_FIRST(&s->runs))) {
		LIST_REMOVE(r, link);
		r->s = NULL; /* finishes when its wait ends (the final CP) */
	}
	event_free(s->timer);
	free(s->v);
	free(s);
	f->sched = NULL;
}

int filer_sched_set(struct filer *f, const char *vol, const int keep[FILER_SCHED_KINDS], char *msg,
		    size_t len)
{
	struct sched *s = f->sched;
	if (!s)
		return fail(msg, len, -ESHUTDOWN, "the schedules are stopped");
	if (!filer_vol_find(f, vol, NULL))
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	struct filer_sched e = {0}, *old = find(s, vol);
	if (old)
		e = *old;
	snprintf(e.vol, sizeof(e.vol), "%s", vol);
	unsigned total = 0;
	for (unsigned k = 0; k < FILER_SCHED_KINDS; k++) {
		if (keep[k] > (int)WAFL_SNAP_MAX)
			return fail(msg, len, -EINVAL, "at most %u %s snapshots", WAFL_SNAP_MAX,
				    kind_names[k]);
		if (keep[k] >= 0)
			e.keep[k] = (unsigned)keep[k];
		total += e.keep[k];
	}
	if (total > WAFL_SNAP_MAX)
		return fail(msg, len, -EINVAL,
			    "%u snapshots in all: a volume holds at most %u (scheduled or not)",
			    total, WAFL_SNAP_MAX);
	struct filer_sched before = old ? *old : (struct filer_sched){0};
	bool had = old != NULL;
	int rc = total ? put(s, &e) : 0;
	if (!total)
		drop(s, vol);
	if (!rc && (rc = save(s))) {
		/* as it was */
		if (had)
			put(s, &before);
		else
			drop(s, vol);
		return fail(msg, len, rc, "cannot remember the schedule: %s", strerror(-rc));
	}
	if (rc)
		return fail(msg, len, rc, "out of memory");
	flog(LOG_NOTICE, "volume %s: snapshot schedule hourly=%u nightly=%u weekly=%u", vol,
	     e.keep[0], e.keep[1], e.keep[2]);
	return 0;
}

bool filer_sched_at(struct filer *f, unsigned i, struct filer_sched *out)
{
	struct sched *s = f->sched;
	if (!s || i >= s->n)
		return false;
	*out = s->v[i];
	return true;
}

int filer_sched_run(struct filer *f, const char *vol, enum filer_sched_kind k,
		    filer_sched_done_fn done, void *arg, char *msg, size_t len)
{
	struct sched *s = f->sched;
	if (!s)
		return fail(msg, len, -ESHUTDOWN, "the schedules are stopped");
	if ((unsigned)k >= FILER_SCHED_KINDS)
		return fail(msg, len, -EINVAL, "no such kind of snapshot schedule");
	if (!filer_vol_find(f, vol, NULL))
		return fail(msg, len, -ENOENT, "no volume %s", vol);
	struct filer_sched *e = find(s, vol);
	if (!e || !e->keep[k])
		return fail(msg, len, -EINVAL, "%s keeps no %s snapshots (snap sched %s %s=N)", vol,
			    kind_names[k], vol, kind_names[k]);
	return start_run(s, vol, k, e->keep[k], done, arg, msg, len);
}

void filer_sched_forget(struct filer *f, const char *vol)
{
	struct sched *s = f->sched;
	if (!s || !find(s, vol))
		return;
	drop(s, vol);
	int rc = save(s);
	if (rc)
		flog(LOG_ERR, "state/%s: cannot forget the schedule of %s: %s", STATE_FILE, vol,
		     strerror(-rc));
}
