/*
 * wtest.c - scratch aggregates for the wafl/ tests (see wtest.h).
 */
#include "tests/lib/wtest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wt_make(struct wt *t, enum wafl_aggr_kind kind, unsigned ndisks, uint64_t disk_bytes,
	    uint64_t vol_bytes)
{
	memset(t, 0, sizeof(*t));
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/wafltest.XXXXXX", tmp);
	if (!mkdtemp(t->dir))
		return -errno;
	t->ndisks = ndisks;
	for (unsigned i = 0; i < ndisks; i++) {
		snprintf(t->disk_path[i], sizeof(t->disk_path[i]), "%s/disk%u", t->dir, i);
		t->disks[i] = t->disk_path[i];
	}
	snprintf(t->nvlog, sizeof(t->nvlog), "%s/nvlog", t->dir);
	struct wafl_aggr_params p = {
		.name = kind == WAFL_AGGR ? "aggr0" : "trad0",
		.kind = kind,
		.disks = t->disks,
		.ndisks = ndisks,
		.disk_size_bytes = disk_bytes,
		.nvlog_path = t->nvlog,
		.nvlog_size_bytes = 16 << 20,
	};
	int rc = wafl_aggr_create(&p);
	if (rc)
		return rc;
	t->op.disks = t->disks;
	t->op.ndisks = ndisks;
	t->op.nvlog_path = t->nvlog;
	t->op.cache_bytes = 64 << 20;
	t->op.cp_interval_ms = 1000;
	if ((rc = wt_open(t)))
		return rc;
	if (kind == WAFL_AGGR) {
		struct wafl_stab st;
		rc = wafl_vol_create(t->a, "vol0", vol_bytes, WAFL_GUAR_NONE, &st);
		if (rc)
			return rc;
		t->v = wafl_vol_find(t->a, "vol0");
		rc = wt_wait(t, &st);
	}
	return rc;
}

int wt_open(struct wt *t)
{
	if (!t->base)
		t->base = event_base_new();
	int rc = wafl_aggr_open(t->base, &t->op, &t->a);
	if (rc)
		return rc;
	t->v = wafl_vol_find(t->a, "vol0");
	if (!t->v)
		t->v = wafl_vol_at(t->a, 0);
	return 0;
}

int wt_close(struct wt *t)
{
	int rc = 0;
	if (t->a)
		rc = wafl_aggr_close(t->a);
	t->a = NULL;
	t->v = NULL;
	return rc;
}

void wt_crash(struct wt *t)
{
	if (t->a)
		wafl_aggr_abandon(t->a);
	t->a = NULL;
	t->v = NULL;
}

void wt_destroy(struct wt *t)
{
	if (t->a)
		wt_close(t);
	if (t->base)
		event_base_free(t->base);
	t->base = NULL;
	for (unsigned i = 0; i < t->ndisks; i++)
		unlink(t->disk_path[i]);
	unlink(t->nvlog);
	rmdir(t->dir);
}

static void print_problem(void *arg, const struct wafl_problem *p)
{
	(void)arg;
	fprintf(stderr, "checker: %s pvbn %llu vol %u ino %llu L%u fbn %llu: %s\n",
		wafl_problem_name(p->kind), (unsigned long long)p->pvbn, p->volid,
		(unsigned long long)p->ino, p->level, (unsigned long long)p->fbn, p->msg);
}

long wt_check(struct wt *t, bool print)
{
	struct wafl_check_result r;
	int rc =
		wafl_check(t->disks, t->ndisks, print ? print_problem : NULL, NULL, NULL, NULL, &r);
	if (rc)
		return rc;
	return (long)r.problems;
}

int wt_wait(struct wt *t, const struct wafl_stab *st)
{
	return wafl_wait(t->a, st);
}

void wt_poll(struct wt *t)
{
	event_base_loop(t->base, EVLOOP_NONBLOCK);
}
