/*
 * snap.c - the administrative actions about snapshots, clones and volume
 * options: each one a thin translation of a wafl/ call into the words an
 * administrator reads (filerctl prints msg), as state.c does for volumes.
 *
 * Nothing here waits: a change is durable once the wafl_stab it returns
 * is, and the control socket answers then (control.c). Snapshots,
 * clones and the snapdir option live inside the aggregate, so none of
 * this has a state file; schedules do (sched.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "filer/filer.h"

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

static const char *words(int rc)
{
	switch (rc) {
	case -ENOSPC:
		return "not enough space";
	case -EAGAIN:
		return "busy (log full): try again";
	case -EROFS:
		return "the aggregate is read-only (a write failed)";
	case -ENXIO:
		return "the volume is not online";
	default:
		return strerror(-rc);
	}
}

bool filer_snap_name_valid(const char *name)
{
	return name && strlen(name) <= WAFL_SNAPNAME_MAX && wafl_name_valid(name);
}

/* The volume, with its aggregate; fills msg when there is none. */
static struct wafl_vol *vol_of(struct filer *f, const char *vol, struct wafl_aggr **a, char *msg,
			       size_t len)
{
	struct filer_aggr *fa;
	struct wafl_vol *v = filer_vol_find(f, vol, &fa);
	if (!v) {
		/* filerctl tells "no volume" from "no snapshot" by these words */
		fail(msg, len, -ENOENT, "no volume %s", vol);
		return NULL;
	}
	if (a)
		*a = fa->a;
	return v;
}

static int bad_name(const char *name, char *msg, size_t len)
{
	return fail(msg, len, -EINVAL,
		    "bad snapshot name '%s': a letter or '_', then letters, digits, '_', '-' or "
		    "'.', at most %u bytes",
		    name, WAFL_SNAPNAME_MAX);
}

int filer_snap_create(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		      struct wafl_stab *st, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, vol, a, msg, len);
	if (!v)
		return -ENOENT;
	if (!filer_snap_name_valid(name))
		return bad_name(name, msg, len);
	int rc = wafl_snap_create(v, name, st);
	if (rc == -EEXIST)
		return fail(msg, len, rc, "%s has a snapshot %s already", vol, name);
	if (rc == -ENOSPC) {
		struct wafl_vol_info vi;
		wafl_vol_info(v, &vi);
		if (vi.nsnaps >= WAFL_SNAP_MAX)
			return fail(msg, len, rc,
				    "%s has %u snapshots, the most a volume can have: delete one "
				    "first",
				    vol, vi.nsnaps);
	}
	if (rc == -EBUSY)
		return fail(msg, len, rc,
			    "%s is being split from its parent: wait until it is done", vol);
	if (rc)
		return fail(msg, len, rc, "cannot snapshot %s: %s", vol, words(rc));
	flog(LOG_NOTICE, "volume %s: snapshot %s created", vol, name);
	return 0;
}

int filer_snap_delete(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		      struct wafl_stab *st, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, vol, a, msg, len);
	if (!v)
		return -ENOENT;
	char why[256] = "";
	int rc = wafl_snap_delete(v, name, why, sizeof(why), st);
	if (rc == -ENOENT)
		return fail(msg, len, rc, "%s has no snapshot %s", vol, name);
	if (rc == -EBUSY)
		return fail(msg, len, rc, "%s", why[0] ? why : "a clone depends on it");
	if (rc)
		return fail(msg, len, rc, "cannot delete snapshot %s of %s: %s", name, vol,
			    words(rc));
	flog(LOG_NOTICE, "volume %s: snapshot %s deleted", vol, name);
	return 0;
}

int filer_snap_rename(struct filer *f, const char *vol, const char *from, const char *to,
		      struct wafl_aggr **a, struct wafl_stab *st, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, vol, a, msg, len);
	if (!v)
		return -ENOENT;
	if (!filer_snap_name_valid(to))
		return bad_name(to, msg, len);
	int rc = wafl_snap_rename(v, from, to, st);
	if (rc == -ENOENT)
		return fail(msg, len, rc, "%s has no snapshot %s", vol, from);
	if (rc == -EEXIST)
		return fail(msg, len, rc, "%s has a snapshot %s already", vol, to);
	if (rc)
		return fail(msg, len, rc, "cannot rename snapshot %s of %s: %s", from, vol,
			    words(rc));
	flog(LOG_NOTICE, "volume %s: snapshot %s renamed %s", vol, from, to);
	return 0;
}

int filer_snap_restore(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		       struct wafl_stab *st, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, vol, a, msg, len);
	if (!v)
		return -ENOENT;
	int rc = wafl_snap_restore(v, name, st);
	if (rc == -ENOENT)
		return fail(msg, len, rc, "%s has no snapshot %s", vol, name);
	if (rc == -EBUSY)
		return fail(msg, len, rc,
			    "%s is being split from its parent, or snapshot %s is not durable yet",
			    vol, name);
	if (rc)
		return fail(msg, len, rc, "cannot restore %s from snapshot %s: %s", vol, name,
			    words(rc));
	flog(LOG_NOTICE, "volume %s: restored from snapshot %s", vol, name);
	return 0;
}

int filer_snap_list(struct filer *f, const char *vol, bool with_space, struct wafl_snap_info **out,
		    unsigned *n, char *msg, size_t len)
{
	*out = NULL;
	*n = 0;
	struct wafl_vol *v = vol_of(f, vol, NULL, msg, len);
	if (!v)
		return -ENOENT;
	struct wafl_snap_info *s = calloc(WAFL_SNAP_MAX, sizeof(*s));
	if (!s)
		return fail(msg, len, -ENOMEM, "out of memory");
	unsigned have = 0;
	int rc = wafl_snap_list(v, s, WAFL_SNAP_MAX, &have, with_space);
	if (rc) {
		free(s);
		return fail(msg, len, rc, "cannot list the snapshots of %s: %s", vol, words(rc));
	}
	*out = s;
	*n = have < WAFL_SNAP_MAX ? have : WAFL_SNAP_MAX;
	return 0;
}

int filer_vol_clone(struct filer *f, const char *name, const char *parent, const char *snap,
		    struct wafl_aggr **a, struct wafl_stab *st, char *msg, size_t len)
{
	if (!conf_valid_name(name))
		return fail(msg, len, -EINVAL, "bad volume name '%s'", name);
	if (filer_vol_find(f, name, NULL) || filer_aggr_find(f, name))
		return fail(msg, len, -EEXIST, "%s exists already", name);
	struct wafl_vol *pv = vol_of(f, parent, a, msg, len);
	if (!pv)
		return -ENOENT;
	struct wafl_vol_info pi;
	wafl_vol_info(pv, &pi);
	if (!pi.flexible)
		return fail(msg, len, -EOPNOTSUPP,
			    "%s is a traditional volume: only flexible volumes have clones",
			    parent);
	int rc = wafl_vol_clone(*a, name, parent, snap, st);
	if (rc == -ENOENT)
		return fail(msg, len, rc, "%s has no snapshot %s", parent, snap);
	if (rc == -EEXIST)
		return fail(msg, len, rc, "%s exists already", name);
	if (rc == -EBUSY && pi.parent[0])
		return fail(msg, len, rc, "%s is itself a clone (of %s): split it first", parent,
			    pi.parent);
	if (rc == -EBUSY)
		return fail(msg, len, rc, "snapshot %s of %s is not durable yet: try again", snap,
			    parent);
	if (rc)
		return fail(msg, len, rc, "cannot clone %s from snapshot %s of %s: %s", name, snap,
			    parent, words(rc));
	flog(LOG_NOTICE, "volume %s cloned from snapshot %s of %s", name, snap, parent);
	filer_vol_appeared(f, name);
	return 0;
}

int filer_vol_clone_split(struct filer *f, const char *name, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, name, NULL, msg, len);
	if (!v)
		return -ENOENT;
	struct wafl_vol_info vi;
	wafl_vol_info(v, &vi);
	if (!vi.parent[0])
		return fail(msg, len, -EINVAL, "%s is not a clone (or is split already)", name);
	if (vi.splitting)
		return fail(msg, len, -EALREADY, "%s is being split already", name);
	int rc = wafl_vol_clone_split(v);
	if (rc == -EBUSY)
		return fail(msg, len, rc,
			    "%s has %u snapshot%s, which hold blocks of its parent too: delete "
			    "them first",
			    name, vi.nsnaps, vi.nsnaps == 1 ? "" : "s");
	if (rc == -EINVAL)
		return fail(msg, len, rc, "%s is not a clone (or is split already)", name);
	if (rc)
		return fail(msg, len, rc, "cannot split %s: %s", name, words(rc));
	flog(LOG_NOTICE, "volume %s: splitting from %s (%llu blocks shared)", name, vi.parent,
	     (unsigned long long)vi.split_blocks_left);
	return 0;
}

int filer_vol_set_snapdir(struct filer *f, const char *vol, bool visible, struct wafl_aggr **a,
			  struct wafl_stab *st, char *msg, size_t len)
{
	struct wafl_vol *v = vol_of(f, vol, a, msg, len);
	if (!v)
		return -ENOENT;
	int rc = wafl_vol_set_snapdir(v, visible, st);
	if (rc)
		return fail(msg, len, rc, "cannot set snapdir of %s: %s", vol, words(rc));
	flog(LOG_NOTICE, "volume %s: snapdir %s", vol, visible ? "visible" : "hidden");
	return 0;
}
