/*
 * filer.h - what the files of filer/ share (private to filer/).
 *
 *   main.c     arguments, daemonizing, signals, the loop
 *   config.c   filer.conf(5): parsing, the embedded default
 *   state.c    the running filer: aggregates, volumes, exports; every
 *              administrative action filerctl can ask for
 *   snap.c     ... those about snapshots, clones and volume options
 *   sched.c    snapshot schedules: remembered, run on the loop's clock
 *   control.c  the control socket: the FILERCTL RPC program (ctl.x)
 *   metrics.c  Prometheus text over HTTP (optional)
 *   log.c      logging to stderr or syslog, with levels
 *
 * All of it runs on the loop thread.
 */
#ifndef FILER_FILER_H
#define FILER_FILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "nfs/nfs.h"
#include "wafl/wafl.h"

#define FILER_VERSION	  "0.1.0"
#define FILER_MAX_AGGRS	  16
#define FILER_MAX_EXPORTS 256
#define FILER_MAX_DISKS	  64

/* ---- configuration (config.c) -------------------------------------- */

struct conf_aggr {
	char name[WAFL_VOLNAME_MAX + 1];
	char *disks[FILER_MAX_DISKS]; /* paths (owned) */
	unsigned ndisks;
	uint64_t disk_size_bytes; /* create file disks this big when missing */
	unsigned raid_group_size;
	char *nvlog; /* path (owned) */
	uint64_t nvlog_size_bytes;
	bool trad;     /* a traditional volume */
	bool create;   /* create when the disks are blank */
	unsigned line; /* where filer.conf defines it (0: not there) */
};

struct conf_export {
	char *path;    /* /vol/NAME */
	char *volume;  /* volume name */
	char *clients; /* exports(5) client list */
	unsigned line; /* where filer.conf defines it (0: not there) */
};

struct conf {
	char *home;    /* state directory (owned) */
	char *listen;  /* address */
	uint16_t port; /* 0: pick a free one */
	bool udp;
	bool portmapper;
	uint16_t portmap_port;
	char *control_socket; /* path */
	char *control_group;  /* NULL: mode 0600, root only */
	char *metrics;	      /* "ADDR:PORT" or NULL (off) */
	unsigned cp_interval_ms;
	uint64_t cache_bytes;
	int log_level; /* LOG_ERR .. LOG_DEBUG (syslog numbers) */
	bool log_syslog;
	struct conf_aggr aggrs[FILER_MAX_AGGRS];
	unsigned naggrs;
	struct conf_export exports[FILER_MAX_EXPORTS];
	unsigned nexports;
	/* the embedded default also makes vol0 when its aggregate is new */
	char *default_volume;
	uint64_t default_volume_bytes;
};

/* Reads a configuration file; -errno with a message "FILE:LINE: what". */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);
/* The embedded default (no file): see filer(8). home may be NULL. */
void conf_default(struct conf *c, const char *home, bool root);
void conf_free(struct conf *c);
/* The same from text in memory; name is the file name for messages. */
int conf_parse(const char *name, const char *text, struct conf *c, char *err, size_t errlen);
void conf_exports_free(struct conf *c);
/* Deep copy (the paths are owned); 0 or -ENOMEM. */
int conf_aggr_copy(struct conf_aggr *dst, const struct conf_aggr *src);
void conf_aggr_free(struct conf_aggr *a);
/* The aggregate as a filer.conf block (malloc'd; NULL: out of memory). */
char *conf_aggr_text(const struct conf_aggr *a);
/* Values: sizes "256M" (K, M, G, T: powers of 1024), durations "500ms",
 * "10s", "2m" (a bare number is seconds), "ADDR:PORT" or "[V6]:PORT". */
int conf_parse_size(const char *s, uint64_t *out);
int conf_parse_duration_ms(const char *s, unsigned *out);
int conf_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* An aggregate or volume name wafl/ accepts. */
bool conf_valid_name(const char *name);
/* A word filer.conf can carry (no blanks, no '#', not a brace). */
bool conf_valid_word(const char *w);

/* ---- logging (log.c) -------------------------------------------------- */

void flog_init(int level, bool syslog, const char *ident);
void flog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "err", "warning", ... <-> LOG_ERR, LOG_WARNING, ...; -1: unknown. */
int flog_level_by_name(const char *name);
const char *flog_level_name(int level);

/* ---- the running filer (state.c) ---------------------------------- */

struct filer_aggr {
	struct wafl_aggr *a;
	struct conf_aggr conf; /* how to open it again (disks, nvlog) */
	/* flock()ed descriptors of its disks and NVLOG: no second filer */
	int lock_fds[FILER_MAX_DISKS + 1];
	unsigned nlock_fds;
};

struct filer {
	struct conf conf;
	const char *conf_path; /* NULL: the embedded default */
	struct event_base *base;
	struct nfs_server *nfs;
	struct filer_aggr aggrs[FILER_MAX_AGGRS];
	unsigned naggrs;
	int lock_fd;
	uint64_t started_usec; /* CLOCK_REALTIME at filer_start: uptime */
	void *control;	       /* control.c's state */
	void *metrics;	       /* metrics.c's state */
	void *sched;	       /* sched.c's state */
};

/* Results of administrative actions: 0 or -errno, and a message for the
 * admin in msg (always filled on error). */
struct filer_aggr *filer_aggr_find(struct filer *f, const char *name);
int filer_aggr_create(struct filer *f, const struct conf_aggr *ca, char *msg, size_t len);
int filer_aggr_destroy(struct filer *f, const char *name, char *msg, size_t len);
int filer_aggr_add_disks(struct filer *f, const char *name, const char *const *disks, unsigned n,
			 uint64_t disk_size_bytes, char *msg, size_t len);
/* Runs the consistency checker on a mounted aggregate (CPs held): on the
 * loop thread, so service pauses while it runs. It checks the newest
 * durable CP; to include the latest changes, filer_cp() first and check
 * from its callback. */
int filer_aggr_check(struct filer *f, const char *name, wafl_problem_fn fn, void *arg,
		     struct wafl_check_result *res, char *msg, size_t len);
struct wafl_vol *filer_vol_find(struct filer *f, const char *name, struct filer_aggr **fa);
int filer_vol_create(struct filer *f, const char *aggr, const char *vol, uint64_t size_bytes,
		     enum wafl_guarantee g, char *msg, size_t len);
int filer_vol_resize(struct filer *f, const char *vol, uint64_t size_bytes, char *msg, size_t len);
int filer_vol_state(struct filer *f, const char *vol, enum wafl_vol_state s, char *msg, size_t len);
int filer_vol_destroy(struct filer *f, const char *vol, char *msg, size_t len);
int filer_export_add(struct filer *f, const char *path, const char *vol, const char *clients,
		     char *msg, size_t len);
int filer_export_remove(struct filer *f, const char *path, char *msg, size_t len);
/* A volume came into being (created, cloned): the exports that name it
 * in the configuration or the state file are served from now on. */
void filer_vol_appeared(struct filer *f, const char *vol);
/* The state directory: HOME/state/NAME (malloc'd), and NAME replaced
 * atomically and durably with text. */
char *filer_state_path(struct filer *f, const char *name);
int filer_state_write(struct filer *f, const char *name, const char *text);
/* Forces a CP on every aggregate; calls done(arg) once all are durable. */
void filer_cp(struct filer *f, void (*done)(void *arg), void *arg);
/* Re-reads exports from the configuration (SIGHUP). */
int filer_reload_exports(struct filer *f, char *msg, size_t len);

/* Opens everything the configuration names; creates what it says to.
 * Wants f->conf, f->conf_path and f->base set; makes f->conf.home and the
 * control socket path absolute. On failure everything is closed again. */
int filer_start(struct filer *f, char *msg, size_t len);
/* Final CPs, close. */
int filer_stop(struct filer *f);

/* ---- snapshots, clones, volume options (snap.c) -------------------- */

/*
 * Like the actions above, but a change is durable only once *st is
 * (wafl_when_durable on *a): the control socket answers then. A snapshot
 * exists once the CP its creation asks for is durable.
 */
int filer_snap_create(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		      struct wafl_stab *st, char *msg, size_t len);
/* -EBUSY, with the clone that depends on it named in msg. */
int filer_snap_delete(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		      struct wafl_stab *st, char *msg, size_t len);
int filer_snap_rename(struct filer *f, const char *vol, const char *from, const char *to,
		      struct wafl_aggr **a, struct wafl_stab *st, char *msg, size_t len);
int filer_snap_restore(struct filer *f, const char *vol, const char *name, struct wafl_aggr **a,
		       struct wafl_stab *st, char *msg, size_t len);
/* The volume's snapshots, oldest first, into *out (malloc'd: free it);
 * with_space also computes what each holds alone (reads their maps). */
int filer_snap_list(struct filer *f, const char *vol, bool with_space, struct wafl_snap_info **out,
		    unsigned *n, char *msg, size_t len);
/* A snapshot name wafl/ accepts. */
bool filer_snap_name_valid(const char *name);
int filer_vol_clone(struct filer *f, const char *name, const char *parent, const char *snap,
		    struct wafl_aggr **a, struct wafl_stab *st, char *msg, size_t len);
/* Starts splitting a clone from its parent (in the background). */
int filer_vol_clone_split(struct filer *f, const char *name, char *msg, size_t len);
int filer_vol_set_snapdir(struct filer *f, const char *vol, bool visible, struct wafl_aggr **a,
			  struct wafl_stab *st, char *msg, size_t len);

/* ---- snapshot schedules (sched.c) ----------------------------------- */

/*
 * Per volume, how many hourly (every hour at minute 0), nightly (00:00)
 * and weekly (Sunday 00:00) snapshots to keep, local time. A run creates
 * KIND.0 (renaming KIND.0, KIND.1, ... one up first, as Data ONTAP does)
 * and, once it is durable, deletes the oldest of its kind beyond the
 * count. When kinds fall due together only the rarest scheduled one is
 * taken. Remembered in HOME/state/snapsched.
 */
enum filer_sched_kind { FILER_SCHED_HOURLY = 0, FILER_SCHED_NIGHTLY, FILER_SCHED_WEEKLY };
#define FILER_SCHED_KINDS 3

struct filer_sched {
	char vol[WAFL_VOLNAME_MAX + 1];
	unsigned keep[FILER_SCHED_KINDS]; /* 0: not taken */
};

/* What a run did (for its caller). */
struct filer_sched_result {
	char created[WAFL_SNAPNAME_MAX + 1];
	char deleted[WAFL_SNAP_MAX][WAFL_SNAPNAME_MAX + 1];
	unsigned ndeleted;
	unsigned kept; /* of that kind, the new one included */
	char msg[512]; /* on failure: why */
};
typedef void (*filer_sched_done_fn)(void *arg, int rc, const struct filer_sched_result *r);

const char *filer_sched_kind_name(enum filer_sched_kind k);
/* Loads HOME/state/snapsched and arms the clock. */
int sched_start(struct filer *f, char *msg, size_t len);
/* Disarms the clock. A run under way finishes on its own (and tells no
 * one) when the final CP makes its steps durable. */
void sched_stop(struct filer *f);
/* keep[k] < 0 leaves that count as it is; all zero drops the schedule. */
int filer_sched_set(struct filer *f, const char *vol, const int keep[FILER_SCHED_KINDS], char *msg,
		    size_t len);
/* The i-th schedule (i = 0, 1, ... until false), by volume name. */
bool filer_sched_at(struct filer *f, unsigned i, struct filer_sched *out);
/* When s next takes a snapshot, and which kind (0: never). */
time_t filer_sched_next(struct filer *f, const struct filer_sched *s, enum filer_sched_kind *kind);
/* A scheduled run of kind k now (a testing aid); done(arg, rc, result)
 * once it is durable or failed (maybe before this returns). */
int filer_sched_run(struct filer *f, const char *vol, enum filer_sched_kind k,
		    filer_sched_done_fn done, void *arg, char *msg, size_t len);
/* The volume is gone: so is its schedule. */
void filer_sched_forget(struct filer *f, const char *vol);

/* ---- control socket (control.c) and metrics (metrics.c) ---------- */

int control_start(struct filer *f, char *msg, size_t len);
void control_stop(struct filer *f);
int metrics_start(struct filer *f, char *msg, size_t len);
void metrics_stop(struct filer *f);
/* The port the metrics listener got (0: off). */
uint16_t metrics_port(struct filer *f);

#endif
