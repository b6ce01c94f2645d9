/*
 * control.c - the control socket: FILERCTL (filer/ctl.x) served through
 * nfs/'s RPC machinery on a UNIX stream socket, each procedure a thin
 * translation between the wire and the filer_* actions of state.c.
 *
 * Who may ask: the socket file is mode 0600 (root, or whoever runs the
 * filer), or 0660 with the configured control group; nfs/ also refuses a
 * peer whose SO_PEERCRED says it is none of those. Every change is logged
 * with the peer's uid.
 *
 * Results are built from the filer's state into memory owned by a
 * `struct reply` (a list of allocations) and freed once encoded. Strings
 * are cut to what ctl.x allows, so a reply always encodes. CP is
 * answered once every aggregate's CP is durable; snapshot, clone and
 * option changes once their change is (wafl_when_durable); a scheduled
 * snapshot run once it ends. The volume actions answer at once.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "filer/ctl.h"
#include "filer/filer.h"

/* A CP call waiting for filer_cp's callback. */
struct cp_wait {
	struct control *ctl;	   /* NULL once the control socket is gone */
	struct nfs_rpc_call *call; /* NULL once answered */
	uint64_t t0_usec;
	LIST_ENTRY(cp_wait) link;
};

/* A call answered once its change is durable (or, run, once a scheduled
 * snapshot run ends). Its arguments live here: nfs/ frees what XDR
 * allocated in them when the call is answered. */
struct dur_wait {
	struct control *ctl;	   /* NULL once the control socket is gone */
	struct nfs_rpc_call *call; /* NULL once answered */
	bool run;		   /* answered with ctl_snap_sched_run_res */
	union {
		ctl_name_args name;
		ctl_snap_args snap;
		ctl_snap_rename_args rename;
		ctl_vol_clone_args clone;
		ctl_vol_option_args option;
		ctl_snap_sched_run_args run;
	} args;
	LIST_ENTRY(dur_wait) link;
};

struct control {
	struct filer *f;
	char path[FILERCTL_PATH_MAX + 1];
	LIST_HEAD(, cp_wait) cps;
	LIST_HEAD(, dur_wait) durs;
};

/* Allocations that live until the reply is encoded. */
struct reply {
	void **p;
	size_t n, cap;
};

static void *rmem(struct reply *r, size_t size)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		void **p = realloc(r->p, cap * sizeof(*p));
		if (!p)
			return NULL;
		r->p = p;
		r->cap = cap;
	}
	void *m = calloc(1, size ? size : 1);
	if (m)
		r->p[r->n++] = m;
	return m;
}

/* A copy of s cut to max bytes (never NULL: XDR cannot encode NULL). */
static char *rstr(struct reply *r, const char *s, size_t max)
{
	if (!s)
		s = "";
	size_t len = strnlen(s, max);
	char *d = rmem(r, len + 1);
	if (!d)
		return "";
	memcpy(d, s, len);
	d[len] = 0;
	return d;
}

static void rfree(struct reply *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->p[i]);
	free(r->p);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Since filer_start (state.c stamps started_usec from CLOCK_REALTIME). */
static uint64_t uptime_usec(const struct filer *f)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return f->started_usec && now > f->started_usec ? now - f->started_usec : 0;
}

/* Sets a result's status from a filer_* return (0 or -errno). */
static int result(int rc, int *status, ctl_msg *msg, char *text)
{
	*status = rc < 0 ? -rc : rc;
	*msg = rc && text[0] ? text : (rc ? strerror(*status) : "");
	return rc;
}

static void fail(int *status, ctl_msg *msg, char *text, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void fail(int *status, ctl_msg *msg, char *text, size_t len, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, len, fmt, ap);
	va_end(ap);
	*status = err;
	*msg = text;
}

/* Who asked, for the log. */
static unsigned peer(struct nfs_rpc_call *c)
{
	uid_t uid;
	return nfs_rpc_peer_uid(c, &uid) ? (unsigned)-1 : (unsigned)uid;
}

static void audit(struct nfs_rpc_call *c, int rc, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void audit(struct nfs_rpc_call *c, int rc, const char *msg, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (rc)
		flog(LOG_WARNING, "control (uid %u): %s: %s", peer(c), what,
		     msg && *msg ? msg : strerror(-rc));
	else
		flog(LOG_NOTICE, "control (uid %u): %s", peer(c), what);
}

/* ---- procedures ------------------------------------------------------- */

#define DECODE(c, proc, args)                                                                      \
	do {                                                                                       \
		memset(&(args), 0, sizeof(args));                                                  \
		if (!nfs_rpc_args((c), (xdrproc_t)(proc), &(args)))                                \
			return;                                                                    \
	} while (0)

static void proc_null(struct nfs_rpc_call *c, void *arg)
{
	(void)arg;
	nfs_rpc_reply(c, NULL, NULL);
}

static void proc_version(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	struct reply r = {0};
	ctl_version_res res = {0};
	res.msg = "";
	res.filer_version = FILER_VERSION;
	res.protocol = FILERCTL_VERS;
	res.uptime_usec = uptime_usec(f);
	res.pid = (int)getpid();
	res.home = rstr(&r, f->conf.home, FILERCTL_PATH_MAX);
	res.config = rstr(&r, f->conf_path, FILERCTL_PATH_MAX);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_version_res, &res);
	rfree(&r);
}

static void proc_aggr_create(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_aggr_create_args a;
	DECODE(c, xdr_ctl_aggr_create_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	struct conf_aggr ca = {0};
	int rc = 0;
	if (!a.name[0]) {
		fail(&res.status, &res.msg, text, sizeof(text), EINVAL,
		     "an aggregate needs a name");
		goto out;
	}
	if (strlen(a.name) > WAFL_VOLNAME_MAX) {
		fail(&res.status, &res.msg, text, sizeof(text), ENAMETOOLONG,
		     "aggregate names are at most %u bytes", WAFL_VOLNAME_MAX);
		goto out;
	}
	if (a.disks.disks_len == 0 || a.disks.disks_len > FILER_MAX_DISKS) {
		fail(&res.status, &res.msg, text, sizeof(text), EINVAL,
		     "an aggregate needs 1 to %d disks", FILER_MAX_DISKS);
		goto out;
	}
	/* state.c copies it, puts relative paths in the home directory and
	 * fills in the defaults (NVLOG HOME/NAME.nvlog, the disk size) */
	snprintf(ca.name, sizeof(ca.name), "%s", a.name);
	for (u_int i = 0; i < a.disks.disks_len; i++)
		ca.disks[i] = a.disks.disks_val[i];
	ca.ndisks = a.disks.disks_len;
	ca.disk_size_bytes = a.disk_size;
	ca.raid_group_size = a.raid_group_size;
	ca.nvlog = a.nvlog[0] ? a.nvlog : NULL;
	ca.nvlog_size_bytes = a.nvlog_size;
	ca.trad = a.type == CTL_AGGR_TRAD;
	ca.create = true;
	rc = filer_aggr_create(f, &ca, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "aggr create %s (%u disks)", a.name, a.disks.disks_len);
out:
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void aggr_info(struct reply *r, struct filer_aggr *fa, ctl_aggr_info *o)
{
	struct wafl_aggr_info ai = {0};
	if (fa->a)
		wafl_aggr_info(fa->a, &ai);
	o->name = rstr(r, fa->conf.name, FILERCTL_NAME_MAX);
	o->type = fa->conf.trad ? CTL_AGGR_TRAD : CTL_AGGR_FLEX;
	o->state = fa->a ? "online" : "failed";
	o->size = ai.size_blocks * WAFL_BLOCK_SIZE;
	o->used = ai.used_blocks * WAFL_BLOCK_SIZE;
	o->reserved = ai.reserved_blocks * WAFL_BLOCK_SIZE;
	o->ndisks = fa->a ? ai.ndisks : fa->conf.ndisks;
	o->ngroups = ai.ngroups;
	o->nvols = ai.nvols;
	o->cp_count = ai.cp_count;
	unsigned n = fa->conf.ndisks < FILERCTL_DISKS_MAX ? fa->conf.ndisks : FILERCTL_DISKS_MAX;
	o->disks.disks_val = rmem(r, n * sizeof(ctl_path));
	if (o->disks.disks_val) {
		o->disks.disks_len = n;
		for (unsigned i = 0; i < n; i++)
			o->disks.disks_val[i] = rstr(r, fa->conf.disks[i], FILERCTL_PATH_MAX);
	}
	o->nvlog = rstr(r, fa->conf.nvlog, FILERCTL_PATH_MAX);
}

static void proc_aggr_status(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	struct reply r = {0};
	ctl_aggr_status_res res = {0};
	res.msg = "";
	res.aggrs.aggrs_val = rmem(&r, FILER_MAX_AGGRS * sizeof(ctl_aggr_info));
	if (!res.aggrs.aggrs_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	for (unsigned i = 0; i < f->naggrs && i < FILERCTL_AGGRS_MAX; i++) {
		struct filer_aggr *fa = &f->aggrs[i];
		if (a.name[0] && strcmp(a.name, fa->conf.name))
			continue;
		aggr_info(&r, fa, &res.aggrs.aggrs_val[res.aggrs.aggrs_len++]);
	}
	if (a.name[0] && !res.aggrs.aggrs_len)
		fail(&res.status, &res.msg, text, sizeof(text), ENOENT, "no aggregate named %s",
		     a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_aggr_status_res, &res);
	rfree(&r);
}

static void proc_aggr_add_disks(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_aggr_add_disks_args a;
	DECODE(c, xdr_ctl_aggr_add_disks_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc;
	if (a.disks.disks_len == 0) {
		fail(&res.status, &res.msg, text, sizeof(text), EINVAL, "no disks to add");
		goto out;
	}
	rc = filer_aggr_add_disks(f, a.name, (const char *const *)a.disks.disks_val,
				  a.disks.disks_len, a.disk_size, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "aggr add-disks %s (%u disks)", a.name, a.disks.disks_len);
out:
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

struct check_acc {
	struct reply *r;
	ctl_aggr_check_res *res;
};

static void check_problem(void *arg, const struct wafl_problem *p)
{
	struct check_acc *acc = arg;
	ctl_aggr_check_res *res = acc->res;
	if (res->problems.problems_len >= FILERCTL_PROBLEMS_MAX || !res->problems.problems_val)
		return;
	ctl_problem *o = &res->problems.problems_val[res->problems.problems_len++];
	o->kind = rstr(acc->r, wafl_problem_name(p->kind), 31);
	o->pvbn = p->pvbn;
	o->volid = p->volid;
	o->ino = p->ino;
	o->fbn = p->fbn;
	o->text = rstr(acc->r, p->msg, 159);
}

static void proc_aggr_check(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct reply r = {0};
	ctl_aggr_check_res res = {0};
	res.problems.problems_val = rmem(&r, FILERCTL_PROBLEMS_MAX * sizeof(ctl_problem));
	struct check_acc acc = {&r, &res};
	struct wafl_check_result cr = {0};
	int rc = filer_aggr_check(f, a.name, check_problem, &acc, &cr, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	res.nproblems = cr.problems;
	res.corrupt_blocks = cr.corrupt_blocks;
	res.blocks_checked = cr.blocks_checked;
	res.inodes_checked = cr.inodes_checked;
	res.dirs_checked = cr.dirs_checked;
	res.vols_checked = cr.vols_checked;
	res.cp_count = cr.cp_count;
	if (rc || cr.problems)
		flog(rc ? LOG_WARNING : LOG_ERR, "control (uid %u): aggr check %s: %s", peer(c),
		     a.name, rc ? res.msg : "problems found");
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_aggr_check_res, &res);
	rfree(&r);
}

static void proc_aggr_destroy(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc = filer_aggr_destroy(ctl->f, a.name, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "aggr destroy %s", a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void proc_vol_create(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_vol_create_args a;
	DECODE(c, xdr_ctl_vol_create_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	enum wafl_guarantee g = a.guarantee == CTL_GUAR_VOLUME ? WAFL_GUAR_VOLUME : WAFL_GUAR_NONE;
	int rc = filer_vol_create(ctl->f, a.aggr, a.name, a.size, g, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "vol create %s in %s, %llu bytes, guarantee %s", a.name, a.aggr,
	      (unsigned long long)a.size, g == WAFL_GUAR_VOLUME ? "volume" : "none");
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void vol_info(struct reply *r, struct filer_aggr *fa, struct wafl_vol *v, ctl_vol_info *o)
{
	struct wafl_vol_info vi;
	wafl_vol_info(v, &vi);
	o->name = rstr(r, vi.name, FILERCTL_NAME_MAX);
	o->aggr = rstr(r, fa->conf.name, FILERCTL_NAME_MAX);
	o->volid = vi.volid;
	o->flexible = vi.flexible;
	o->state = vi.state == WAFL_VOL_OFFLINE	     ? CTL_VOL_OFFLINE
		   : vi.state == WAFL_VOL_RESTRICTED ? CTL_VOL_RESTRICTED
						     : CTL_VOL_ONLINE;
	o->guarantee = vi.guarantee == WAFL_GUAR_VOLUME ? CTL_GUAR_VOLUME : CTL_GUAR_NONE;
	o->size = vi.size_bytes;
	o->used = vi.used_blocks * WAFL_BLOCK_SIZE;
	o->files_used = vi.files_used;
	o->files_max = vi.files_max;
}

static void proc_vol_status(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	struct reply r = {0};
	ctl_vol_status_res res = {0};
	res.msg = "";
	size_t n = 0;
	for (unsigned i = 0; i < f->naggrs; i++)
		for (unsigned j = 0; f->aggrs[i].a && wafl_vol_at(f->aggrs[i].a, j); j++)
			n++;
	if (n > FILERCTL_VOLS_MAX)
		n = FILERCTL_VOLS_MAX;
	res.vols.vols_val = rmem(&r, n * sizeof(ctl_vol_info));
	if (!res.vols.vols_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	for (unsigned i = 0; i < f->naggrs; i++) {
		struct filer_aggr *fa = &f->aggrs[i];
		struct wafl_vol *v;
		for (unsigned j = 0; fa->a && res.vols.vols_len < n && (v = wafl_vol_at(fa->a, j));
		     j++) {
			ctl_vol_info *o = &res.vols.vols_val[res.vols.vols_len];
			vol_info(&r, fa, v, o);
			if (a.name[0] && strcmp(a.name, o->name))
				continue;
			res.vols.vols_len++;
		}
	}
	if (a.name[0] && !res.vols.vols_len)
		fail(&res.status, &res.msg, text, sizeof(text), ENOENT, "no volume named %s",
		     a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_vol_status_res, &res);
	rfree(&r);
}

static void proc_vol_size(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_vol_size_args a;
	DECODE(c, xdr_ctl_vol_size_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_vol_size_res res = {0};
	int rc = filer_vol_resize(ctl->f, a.name, a.size, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	struct wafl_vol *v = filer_vol_find(ctl->f, a.name, NULL);
	if (v) {
		struct wafl_vol_info vi;
		wafl_vol_info(v, &vi);
		res.size = vi.size_bytes;
	}
	audit(c, rc, text, "vol size %s %llu bytes", a.name, (unsigned long long)a.size);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_vol_size_res, &res);
}

static void proc_vol_state(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_vol_state_args a;
	DECODE(c, xdr_ctl_vol_state_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	enum wafl_vol_state s;
	const char *word;
	switch (a.state) {
	case CTL_VOL_ONLINE:
		s = WAFL_VOL_ONLINE;
		word = "online";
		break;
	case CTL_VOL_OFFLINE:
		s = WAFL_VOL_OFFLINE;
		word = "offline";
		break;
	case CTL_VOL_RESTRICTED:
		s = WAFL_VOL_RESTRICTED;
		word = "restrict";
		break;
	default:
		fail(&res.status, &res.msg, text, sizeof(text), EINVAL, "no volume state %d",
		     (int)a.state);
		goto out;
	}
	int rc = filer_vol_state(ctl->f, a.name, s, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "vol %s %s", word, a.name);
out:
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void proc_vol_destroy(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc = filer_vol_destroy(ctl->f, a.name, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "vol destroy %s", a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void proc_export_add(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_export_add_args a;
	DECODE(c, xdr_ctl_export_add_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc = filer_export_add(ctl->f, a.path, a.vol, a.clients, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "export add %s (volume %s) to %s", a.path, a.vol, a.clients);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void proc_export_remove(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_export_remove_args a;
	DECODE(c, xdr_ctl_export_remove_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc = filer_export_remove(ctl->f, a.path, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "export remove %s", a.path);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

struct export_acc {
	struct reply *r;
	ctl_export_list_res *res;
	size_t cap;
};

static void export_one(void *arg, const char *path, const char *clients, struct wafl_vol *vol)
{
	struct export_acc *acc = arg;
	ctl_export_list_res *res = acc->res;
	if (res->exports.exports_len == acc->cap) {
		if (acc->cap >= FILERCTL_EXPORTS_MAX)
			return;
		size_t cap = acc->cap ? 2 * acc->cap : 16;
		ctl_export_info *v = rmem(acc->r, cap * sizeof(*v));
		if (!v)
			return;
		if (res->exports.exports_len)
			memcpy(v, res->exports.exports_val, res->exports.exports_len * sizeof(*v));
		res->exports.exports_val = v;
		acc->cap = cap;
	}
	ctl_export_info *o = &res->exports.exports_val[res->exports.exports_len++];
	struct wafl_vol_info vi;
	wafl_vol_info(vol, &vi);
	o->path = rstr(acc->r, path, FILERCTL_PATH_MAX);
	o->vol = rstr(acc->r, vi.name, FILERCTL_NAME_MAX);
	o->clients = rstr(acc->r, clients, FILERCTL_CLIENTS_MAX);
}

static void proc_export_list(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct reply r = {0};
	ctl_export_list_res res = {0};
	res.msg = "";
	struct export_acc acc = {&r, &res, 0};
	nfs_export_list(ctl->f->nfs, export_one, &acc);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_export_list_res, &res);
	rfree(&r);
}

static void proc_stats(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	struct reply r = {0};
	ctl_stats_res res = {0};
	res.msg = "";
	res.uptime_usec = uptime_usec(f);
	struct nfs_proc_stats ps[FILERCTL_PROCS_MAX];
	size_t n = nfs_stats(f->nfs, ps, FILERCTL_PROCS_MAX);
	res.procs.procs_val = rmem(&r, (n ? n : 1) * sizeof(ctl_proc_stats));
	res.aggrs.aggrs_val = rmem(&r, FILER_MAX_AGGRS * sizeof(ctl_aggr_stats));
	if (!res.procs.procs_val || !res.aggrs.aggrs_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ctl_proc_stats *o = &res.procs.procs_val[res.procs.procs_len++];
		/* nfs_stats: the 22 NFSv3 procedures, then MOUNT's */
		o->prog = i < 22 ? "nfs3" : "mount3";
		o->name = rstr(&r, ps[i].name, 31);
		o->calls = ps[i].calls;
		o->errors = ps[i].errors;
		o->usec_total = ps[i].usec_total;
		o->usec_max = ps[i].usec_max;
	}
	struct nfs_xfer_stats xs;
	nfs_xfer_stats(f->nfs, &xs);
	res.xfer.bytes_read = xs.bytes_read;
	res.xfer.bytes_written = xs.bytes_written;
	res.xfer.connections = xs.connections;
	res.xfer.connections_open = xs.connections_open;
	res.xfer.rpc_calls = xs.rpc_calls;
	res.xfer.rpc_garbage = xs.rpc_garbage;
	res.xfer.drc_hits = xs.drc_hits;
	for (unsigned i = 0; i < f->naggrs && i < FILERCTL_AGGRS_MAX; i++) {
		struct filer_aggr *fa = &f->aggrs[i];
		if (!fa->a)
			continue;
		struct wafl_aggr_info ai;
		wafl_aggr_info(fa->a, &ai);
		ctl_aggr_stats *o = &res.aggrs.aggrs_val[res.aggrs.aggrs_len++];
		o->name = rstr(&r, fa->conf.name, FILERCTL_NAME_MAX);
		o->cp_count = ai.cp_count;
		o->cps = ai.cps;
		o->cp_last_usec = ai.cp_last_usec;
		o->cp_total_usec = ai.cp_total_usec;
		o->cp_running = ai.cp_running;
		o->cache_bytes = ai.cache_bytes;
		o->cache_used = ai.cache_used_bytes;
		o->dirty = ai.dirty_bytes;
		o->cache_hits = ai.cache_hits;
		o->cache_misses = ai.cache_misses;
		o->nvlog_size = ai.nvlog_size_bytes;
		o->nvlog_used = ai.nvlog_used_bytes;
		o->disk_read = ai.disk_bytes_read;
		o->disk_written = ai.disk_bytes_written;
		o->nvlog_written = ai.nvlog_bytes_written;
	}
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_stats_res, &res);
	rfree(&r);
}

static void cp_done(void *arg)
{
	struct cp_wait *w = arg;
	if (w->call) {
		struct filer *f = w->ctl->f;
		struct reply r = {0};
		ctl_cp_res res = {0};
		res.msg = "";
		res.usec = mono_usec() - w->t0_usec;
		res.aggrs.aggrs_val = rmem(&r, FILER_MAX_AGGRS * sizeof(ctl_cp_aggr));
		for (unsigned i = 0; res.aggrs.aggrs_val && i < f->naggrs; i++) {
			struct filer_aggr *fa = &f->aggrs[i];
			if (!fa->a)
				continue;
			struct wafl_aggr_info ai;
			wafl_aggr_info(fa->a, &ai);
			ctl_cp_aggr *o = &res.aggrs.aggrs_val[res.aggrs.aggrs_len++];
			o->name = rstr(&r, fa->conf.name, FILERCTL_NAME_MAX);
			o->cp_count = ai.cp_count;
		}
		nfs_rpc_reply(w->call, (xdrproc_t)xdr_ctl_cp_res, &res);
		rfree(&r);
		LIST_REMOVE(w, link);
	}
	free(w);
}

static void proc_cp(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct cp_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		nfs_rpc_reply_system_err(c);
		return;
	}
	w->ctl = ctl;
	w->call = c;
	w->t0_usec = mono_usec();
	LIST_INSERT_HEAD(&ctl->cps, w, link);
	flog(LOG_INFO, "control (uid %u): cp", peer(c));
	/* may call cp_done before it returns */
	filer_cp(ctl->f, cp_done, w);
}

/* ---- snapshots, clones, options: answered once durable ----------------- */

/* The wait of a call that may be answered later (NULL: answered already,
 * out of memory). */
static struct dur_wait *dur_new(struct control *ctl, struct nfs_rpc_call *c, bool run)
{
	struct dur_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		nfs_rpc_reply_system_err(c);
		return NULL;
	}
	w->ctl = ctl;
	w->call = c;
	w->run = run;
	return w;
}

static void dur_done(void *arg)
{
	struct dur_wait *w = arg;
	if (w->call) {
		ctl_status_res res = {0};
		res.msg = "";
		nfs_rpc_reply(w->call, (xdrproc_t)xdr_ctl_status_res, &res);
		LIST_REMOVE(w, link);
	}
	free(w);
}

/* A change: answered now when it failed, else once st is durable on a. */
static void change_done(struct dur_wait *w, int rc, char *text, struct wafl_aggr *a,
			const struct wafl_stab *st)
{
	if (rc) {
		ctl_status_res res = {0};
		result(rc, &res.status, &res.msg, text);
		nfs_rpc_reply(w->call, (xdrproc_t)xdr_ctl_status_res, &res);
		free(w);
		return;
	}
	LIST_INSERT_HEAD(&w->ctl->durs, w, link);
	wafl_when_durable(a, st, dur_done, w); /* may answer before it returns */
}

static void vol_detail(struct reply *r, struct filer_aggr *fa, struct wafl_vol *v,
		       ctl_vol_detail *o)
{
	struct wafl_vol_info vi;
	vol_info(r, fa, v, &o->vol);
	wafl_vol_info(v, &vi);
	o->nsnaps = vi.nsnaps;
	o->snap_used = vi.snap_blocks * WAFL_BLOCK_SIZE;
	o->reclaiming = vi.reclaiming_blocks * WAFL_BLOCK_SIZE;
	o->snapdir_visible = vi.snapdir_visible;
	o->parent = rstr(r, vi.parent, FILERCTL_NAME_MAX);
	o->parent_snap = rstr(r, vi.parent_snap, FILERCTL_NAME_MAX);
	o->splitting = vi.splitting;
	o->split_left = vi.split_blocks_left * WAFL_BLOCK_SIZE;
}

static void proc_vol_show(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	struct reply r = {0};
	ctl_vol_show_res res = {0};
	res.msg = "";
	size_t n = 0;
	for (unsigned i = 0; i < f->naggrs; i++)
		for (unsigned j = 0; f->aggrs[i].a && wafl_vol_at(f->aggrs[i].a, j); j++)
			n++;
	if (n > FILERCTL_VOLS_MAX)
		n = FILERCTL_VOLS_MAX;
	res.vols.vols_val = rmem(&r, n * sizeof(ctl_vol_detail));
	if (!res.vols.vols_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	for (unsigned i = 0; i < f->naggrs; i++) {
		struct filer_aggr *fa = &f->aggrs[i];
		struct wafl_vol *v;
		for (unsigned j = 0; fa->a && res.vols.vols_len < n && (v = wafl_vol_at(fa->a, j));
		     j++) {
			struct wafl_vol_info vi;
			wafl_vol_info(v, &vi);
			if (a.name[0] && strcmp(a.name, vi.name))
				continue;
			vol_detail(&r, fa, v, &res.vols.vols_val[res.vols.vols_len++]);
		}
	}
	if (a.name[0] && !res.vols.vols_len)
		fail(&res.status, &res.msg, text, sizeof(text), ENOENT, "no volume named %s",
		     a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_vol_show_res, &res);
	rfree(&r);
}

/* Decodes a deferrable call's arguments into its wait (field of
 * w->args); returns from the procedure when it cannot. */
#define DECODE_WAIT(c, proc, w, field)                                                             \
	do {                                                                                       \
		if (!((w) = dur_new(ctl, (c), false)))                                             \
			return;                                                                    \
		if (!nfs_rpc_args((c), (xdrproc_t)(proc), &(w)->args.field)) {                     \
			free(w);                                                                   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void proc_vol_clone(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_vol_clone_args, w, clone);
	ctl_vol_clone_args *a = &w->args.clone;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc = filer_vol_clone(ctl->f, a->name, a->parent, a->snap, &ag, &st, text, sizeof(text));
	audit(c, rc, text, "vol clone create %s from snapshot %s of %s", a->name, a->snap,
	      a->parent);
	change_done(w, rc, text, ag, &st);
}

static void proc_vol_clone_split(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	ctl_status_res res = {0};
	int rc = filer_vol_clone_split(ctl->f, a.name, text, sizeof(text));
	result(rc, &res.status, &res.msg, text);
	audit(c, rc, text, "vol clone split %s", a.name);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_status_res, &res);
}

static void proc_vol_option(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_vol_option_args, w, option);
	ctl_vol_option_args *a = &w->args.option;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc;
	if (strcmp(a->option, "snapdir")) {
		rc = -EINVAL;
		snprintf(text, sizeof(text), "no volume option '%s' (there is: snapdir)",
			 a->option);
	} else if (strcmp(a->value, "visible") && strcmp(a->value, "hidden")) {
		rc = -EINVAL;
		snprintf(text, sizeof(text), "snapdir is visible or hidden, not '%s'", a->value);
	} else {
		rc = filer_vol_set_snapdir(ctl->f, a->vol, !strcmp(a->value, "visible"), &ag, &st,
					   text, sizeof(text));
	}
	audit(c, rc, text, "vol options %s %s %s", a->vol, a->option, a->value);
	change_done(w, rc, text, ag, &st);
}

static void proc_snap_create(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_snap_args, w, snap);
	ctl_snap_args *a = &w->args.snap;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc = filer_snap_create(ctl->f, a->vol, a->name, &ag, &st, text, sizeof(text));
	audit(c, rc, text, "snap create %s %s", a->vol, a->name);
	change_done(w, rc, text, ag, &st);
}

static void proc_snap_delete(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_snap_args, w, snap);
	ctl_snap_args *a = &w->args.snap;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc = filer_snap_delete(ctl->f, a->vol, a->name, &ag, &st, text, sizeof(text));
	audit(c, rc, text, "snap delete %s %s", a->vol, a->name);
	change_done(w, rc, text, ag, &st);
}

static void proc_snap_rename(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_snap_rename_args, w, rename);
	ctl_snap_rename_args *a = &w->args.rename;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc = filer_snap_rename(ctl->f, a->vol, a->from, a->to, &ag, &st, text, sizeof(text));
	audit(c, rc, text, "snap rename %s %s %s", a->vol, a->from, a->to);
	change_done(w, rc, text, ag, &st);
}

static void proc_snap_restore(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_snap_args, w, snap);
	ctl_snap_args *a = &w->args.snap;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct wafl_aggr *ag = NULL;
	struct wafl_stab st = {0};
	int rc = filer_snap_restore(ctl->f, a->vol, a->name, &ag, &st, text, sizeof(text));
	audit(c, rc, text, "snap restore %s %s", a->vol, a->name);
	change_done(w, rc, text, ag, &st);
}

/* Appends the snapshots of one volume; 0 or -errno (text says why). */
static int snap_list_vol(struct filer *f, struct reply *r, ctl_snap_list_res *res, size_t cap,
			 const char *vol, char *text, size_t len)
{
	struct wafl_snap_info *l;
	unsigned n;
	int rc = filer_snap_list(f, vol, true, &l, &n, text, len);
	if (rc)
		return rc;
	for (unsigned i = 0; i < n && res->snaps.snaps_len < cap; i++) {
		ctl_snap_info *o = &res->snaps.snaps_val[res->snaps.snaps_len++];
		o->vol = rstr(r, vol, FILERCTL_NAME_MAX);
		o->name = rstr(r, l[i].name, FILERCTL_NAME_MAX);
		o->snapid = l[i].snapid;
		o->ctime_sec = (int64_t)l[i].ctime.tv_sec;
		o->ctime_nsec = (u_int)l[i].ctime.tv_nsec;
		o->cp = l[i].cp;
		o->image = l[i].map_blocks * WAFL_BLOCK_SIZE;
		o->own = l[i].own_blocks * WAFL_BLOCK_SIZE;
		o->clone = rstr(r, l[i].clone, FILERCTL_NAME_MAX);
	}
	free(l);
	return 0;
}

static void proc_snap_list(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_name_args a;
	DECODE(c, xdr_ctl_name_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct reply r = {0};
	ctl_snap_list_res res = {0};
	res.msg = "";
	size_t nvols = 0;
	for (unsigned i = 0; i < f->naggrs; i++)
		for (unsigned j = 0; f->aggrs[i].a && wafl_vol_at(f->aggrs[i].a, j); j++)
			nvols++;
	size_t cap = a.name[0] ? WAFL_SNAP_MAX : nvols * WAFL_SNAP_MAX;
	if (cap > FILERCTL_SNAP_LIST_MAX)
		cap = FILERCTL_SNAP_LIST_MAX;
	res.snaps.snaps_val = rmem(&r, cap * sizeof(ctl_snap_info));
	if (!res.snaps.snaps_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	int rc = 0;
	if (a.name[0]) {
		rc = snap_list_vol(f, &r, &res, cap, a.name, text, sizeof(text));
	} else {
		for (unsigned i = 0; !rc && i < f->naggrs; i++) {
			struct wafl_vol *v;
			for (unsigned j = 0;
			     !rc && f->aggrs[i].a && (v = wafl_vol_at(f->aggrs[i].a, j)); j++) {
				struct wafl_vol_info vi;
				wafl_vol_info(v, &vi);
				rc = snap_list_vol(f, &r, &res, cap, vi.name, text, sizeof(text));
			}
		}
	}
	if (rc) {
		res.snaps.snaps_len = 0;
		result(rc, &res.status, &res.msg, text);
	}
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_snap_list_res, &res);
	rfree(&r);
}

static void sched_out(struct filer *f, struct reply *r, const struct filer_sched *e,
		      ctl_snap_sched *o)
{
	o->vol = rstr(r, e->vol, FILERCTL_NAME_MAX);
	o->hourly = e->keep[FILER_SCHED_HOURLY];
	o->nightly = e->keep[FILER_SCHED_NIGHTLY];
	o->weekly = e->keep[FILER_SCHED_WEEKLY];
	enum filer_sched_kind k = FILER_SCHED_HOURLY;
	o->next_sec = (int64_t)filer_sched_next(f, e, &k);
	o->next_kind = (ctl_sched_kind)(k + 1);
}

static void proc_snap_sched(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct filer *f = ctl->f;
	ctl_snap_sched_args a;
	DECODE(c, xdr_ctl_snap_sched_args, a);
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	struct reply r = {0};
	ctl_snap_sched_res res = {0};
	res.msg = "";
	int rc = 0;
	if (a.set) {
		int keep[FILER_SCHED_KINDS] = {a.hourly, a.nightly, a.weekly};
		for (unsigned k = 0; k < FILER_SCHED_KINDS; k++)
			if (keep[k] < -1)
				keep[k] = (int)WAFL_SNAP_MAX + 1; /* refused as too many */
		rc = filer_sched_set(f, a.vol, keep, text, sizeof(text));
		audit(c, rc, text, "snap sched %s hourly=%d nightly=%d weekly=%d", a.vol, a.hourly,
		      a.nightly, a.weekly);
	} else if (a.vol[0] && !filer_vol_find(f, a.vol, NULL)) {
		rc = -ENOENT;
		snprintf(text, sizeof(text), "no volume %s", a.vol);
	}
	if (rc) {
		result(rc, &res.status, &res.msg, text);
		goto out;
	}
	struct filer_sched e;
	unsigned n = 0;
	while (filer_sched_at(f, n, &e))
		n++;
	res.scheds.scheds_val = rmem(&r, (n + 1) * sizeof(ctl_snap_sched));
	if (!res.scheds.scheds_val) {
		nfs_rpc_reply_system_err(c);
		rfree(&r);
		return;
	}
	bool found = false;
	for (unsigned i = 0;
	     filer_sched_at(f, i, &e) && res.scheds.scheds_len < FILERCTL_SCHEDS_MAX; i++) {
		if (a.vol[0] && strcmp(a.vol, e.vol))
			continue;
		found = true;
		sched_out(f, &r, &e, &res.scheds.scheds_val[res.scheds.scheds_len++]);
	}
	if (a.vol[0] && !found) {
		/* a volume without a schedule: all counts 0 */
		struct filer_sched none = {0};
		snprintf(none.vol, sizeof(none.vol), "%s", a.vol);
		sched_out(f, &r, &none, &res.scheds.scheds_val[res.scheds.scheds_len++]);
	}
out:
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_snap_sched_res, &res);
	rfree(&r);
}

static void sched_run_done(void *arg, int rc, const struct filer_sched_result *sr)
{
	struct dur_wait *w = arg;
	if (w->call) {
		ctl_snap_sched_run_res res = {0};
		char *deleted[WAFL_SNAP_MAX];
		char text[FILERCTL_MSG_MAX];
		snprintf(text, sizeof(text), "%s", sr->msg);
		result(rc, &res.status, &res.msg, text);
		res.created = rc ? "" : (char *)sr->created;
		for (unsigned i = 0; i < sr->ndeleted && i < WAFL_SNAP_MAX; i++)
			deleted[i] = (char *)sr->deleted[i];
		res.deleted.deleted_len = sr->ndeleted;
		res.deleted.deleted_val = deleted;
		res.kept = sr->kept;
		nfs_rpc_reply(w->call, (xdrproc_t)xdr_ctl_snap_sched_run_res, &res);
		LIST_REMOVE(w, link);
	}
	free(w);
}

static void proc_snap_sched_run(struct nfs_rpc_call *c, void *arg)
{
	struct control *ctl = arg;
	struct dur_wait *w;
	DECODE_WAIT(c, xdr_ctl_snap_sched_run_args, w, run);
	w->run = true;
	ctl_snap_sched_run_args *a = &w->args.run;
	char text[FILERCTL_MSG_MAX];
	text[0] = 0;
	int rc;
	if (a->kind < CTL_SCHED_HOURLY || a->kind > CTL_SCHED_WEEKLY) {
		rc = -EINVAL;
		snprintf(text, sizeof(text), "no kind of schedule %d", (int)a->kind);
	} else {
		enum filer_sched_kind k = (enum filer_sched_kind)(a->kind - 1);
		flog(LOG_NOTICE, "control (uid %u): snap sched-run %s %s", peer(c), a->vol,
		     filer_sched_kind_name(k));
		/* sched_run_done answers, maybe before this returns */
		LIST_INSERT_HEAD(&ctl->durs, w, link);
		rc = filer_sched_run(ctl->f, a->vol, k, sched_run_done, w, text, sizeof(text));
		if (!rc)
			return;
		LIST_REMOVE(w, link);
	}
	ctl_snap_sched_run_res res = {0};
	result(rc, &res.status, &res.msg, text);
	res.created = "";
	audit(c, rc, text, "snap sched-run %s", a->vol);
	nfs_rpc_reply(c, (xdrproc_t)xdr_ctl_snap_sched_run_res, &res);
	free(w);
}

static const nfs_rpc_proc_fn procs[] = {
	[FILERCTL_NULL] = proc_null,
	[FILERCTL_VERSION] = proc_version,
	[FILERCTL_AGGR_CREATE] = proc_aggr_create,
	[FILERCTL_AGGR_STATUS] = proc_aggr_status,
	[FILERCTL_AGGR_ADD_DISKS] = proc_aggr_add_disks,
	[FILERCTL_AGGR_CHECK] = proc_aggr_check,
	[FILERCTL_AGGR_DESTROY] = proc_aggr_destroy,
	[FILERCTL_VOL_CREATE] = proc_vol_create,
	[FILERCTL_VOL_STATUS] = proc_vol_status,
	[FILERCTL_VOL_SIZE] = proc_vol_size,
	[FILERCTL_VOL_STATE] = proc_vol_state,
	[FILERCTL_VOL_DESTROY] = proc_vol_destroy,
	[FILERCTL_EXPORT_ADD] = proc_export_add,
	[FILERCTL_EXPORT_REMOVE] = proc_export_remove,
	[FILERCTL_EXPORT_LIST] = proc_export_list,
	[FILERCTL_STATS] = proc_stats,
	[FILERCTL_CP] = proc_cp,
	[FILERCTL_VOL_SHOW] = proc_vol_show,
	[FILERCTL_VOL_CLONE] = proc_vol_clone,
	[FILERCTL_VOL_CLONE_SPLIT] = proc_vol_clone_split,
	[FILERCTL_VOL_OPTION] = proc_vol_option,
	[FILERCTL_SNAP_CREATE] = proc_snap_create,
	[FILERCTL_SNAP_DELETE] = proc_snap_delete,
	[FILERCTL_SNAP_RENAME] = proc_snap_rename,
	[FILERCTL_SNAP_RESTORE] = proc_snap_restore,
	[FILERCTL_SNAP_LIST] = proc_snap_list,
	[FILERCTL_SNAP_SCHED] = proc_snap_sched,
	[FILERCTL_SNAP_SCHED_RUN] = proc_snap_sched_run,
};

/* ---- start and stop --------------------------------------------------- */

int control_start(struct filer *f, char *msg, size_t len)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	ctl->f = f;
	LIST_INIT(&ctl->cps);
	LIST_INIT(&ctl->durs);
	if (f->conf.control_socket && f->conf.control_socket[0])
		snprintf(ctl->path, sizeof(ctl->path), "%s", f->conf.control_socket);
	else
		snprintf(ctl->path, sizeof(ctl->path), "%s/filer.sock",
			 f->conf.home ? f->conf.home : ".");
	mode_t mode = 0600;
	gid_t gid = (gid_t)-1;
	if (f->conf.control_group && f->conf.control_group[0]) {
		struct group *g = getgrnam(f->conf.control_group);
		char *end;
		unsigned long n = strtoul(f->conf.control_group, &end, 10);
		if (g) {
			gid = g->gr_gid;
		} else if (!*end && end != f->conf.control_group) {
			gid = (gid_t)n;
		} else {
			snprintf(msg, len, "control group %s: no such group",
				 f->conf.control_group);
			free(ctl);
			return -ENOENT;
		}
		mode = 0660;
	}
	const struct nfs_rpc_program prog = {
		.prog = FILERCTL_PROG,
		.vers = FILERCTL_VERS,
		.nprocs = sizeof(procs) / sizeof(procs[0]),
		.procs = procs,
		.arg = ctl,
	};
	int rc = nfs_rpc_listen_unix(f->nfs, ctl->path, mode, gid, &prog);
	if (rc) {
		snprintf(msg, len, "control socket %s: %s", ctl->path,
			 rc == -EADDRINUSE ? "another filer listens there" : strerror(-rc));
		free(ctl);
		return rc;
	}
	f->control = ctl;
	flog(LOG_INFO, "control socket %s (mode %04o%s%s)", ctl->path, (unsigned)mode,
	     gid != (gid_t)-1 ? ", group " : "", gid != (gid_t)-1 ? f->conf.control_group : "");
	return 0;
}

/* Closes the socket and its connections. A CP (or a change waiting to be
 * durable) still running answers nobody when it ends. */
void control_stop(struct filer *f)
{
	struct control *ctl = f->control;
	if (!ctl)
		return;
	struct cp_wait *w;
	while ((w = LIST_FIRST(&ctl->cps))) {
		LIST_REMOVE(w, link);
		ctl_cp_res res = {0};
		res.status = ESHUTDOWN;
		res.msg = "the filer is shutting down; its final CP makes everything durable";
		nfs_rpc_reply(w->call, (xdrproc_t)xdr_ctl_cp_res, &res);
		w->call = NULL;
		w->ctl = NULL;
	}
	struct dur_wait *d;
	while ((d = LIST_FIRST(&ctl->durs))) {
		LIST_REMOVE(d, link);
		const char *why = "the filer is shutting down; its final CP makes the change "
				  "durable";
		if (d->run) {
			ctl_snap_sched_run_res res = {0};
			res.status = ESHUTDOWN;
			res.msg = (char *)why;
			res.created = "";
			nfs_rpc_reply(d->call, (xdrproc_t)xdr_ctl_snap_sched_run_res, &res);
		} else {
			ctl_status_res res = {ESHUTDOWN, (char *)why};
			nfs_rpc_reply(d->call, (xdrproc_t)xdr_ctl_status_res, &res);
		}
		d->call = NULL;
		d->ctl = NULL;
	}
	if (f->nfs)
		nfs_rpc_close_unix(f->nfs, ctl->path);
	free(ctl);
	f->control = NULL;
}
