/*
 * wafl.h - the whole public interface of the write-anywhere file system.
 *
 * An *aggregate* (struct wafl_aggr) is anything that owns disks: either a
 * real aggregate, whose files are container files for flexible volumes, or
 * a traditional volume, which serves files directly from its RAID groups.
 * A *volume* (struct wafl_vol) is a file system instance that serves files:
 * a flexible volume inside an aggregate, or the traditional volume itself.
 *
 * Threading: every function here runs on the thread that owns the
 * event_base given to wafl_aggr_open(). Blocking I/O (NVLOG group commit,
 * consistency point writes) runs on helper threads that report back through
 * that event_base, so the caller must keep the loop running.
 *
 * Stability: a modifying operation changes the in-memory file system at
 * once and fills a struct wafl_stab. Its result is durable (survives a
 * crash) once wafl_when_durable() calls back; callers that promise
 * stability to a client reply only then. Operations with an UNSTABLE write
 * are not logged: they become durable with the consistency point that
 * contains them, which wafl_commit() asks for.
 *
 * Errors: 0 or a negative errno. -EUCLEAN means the disk returned a block
 * whose context did not verify (corruption, a lost or misdirected write);
 * it is logged with the block's address and never returned as data.
 * -EAGAIN means the NVLOG or the cache is full while a consistency point
 * runs: retry once wafl_on_progress() calls back. -ESTALE means a handle
 * names an inode that no longer exists (or a generation that was reused).
 *
 * Caveats, honestly: cache misses are read synchronously on the loop
 * thread (the disks sit behind the OS page cache); RAID groups are RAID-0
 * until parity lands.
 */
#ifndef WAFL_WAFL_H
#define WAFL_WAFL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct event_base;
struct wafl_aggr;
struct wafl_vol;

#define WAFL_BLOCK_SIZE	   4096u
#define WAFL_NAME_MAX	   255u
#define WAFL_PATH_MAX	   4095u
#define WAFL_VOLNAME_MAX   63u
#define WAFL_MAX_FILE_SIZE (1ull << 46) /* 64 TiB */
#define WAFL_LINK_MAX	   65000u

/* ---- names ---------------------------------------------------------- */

/* Aggregate and volume names: a letter or '_', then letters, digits, '_',
 * '-' or '.', at most WAFL_VOLNAME_MAX bytes. */
bool wafl_name_valid(const char *name);

/* ---- aggregates ----------------------------------------------------- */

enum wafl_aggr_kind {
	WAFL_AGGR = 1, /* holds flexible volumes */
	WAFL_TRAD = 2, /* a traditional volume: one volume straight on disks */
};

struct wafl_aggr_params {
	const char *name;	   /* aggregate or traditional volume name */
	enum wafl_aggr_kind kind;  /* WAFL_AGGR or WAFL_TRAD */
	const char *const *disks;  /* paths: files (created sparse) or devices */
	unsigned ndisks;	   /* at least 1 */
	uint64_t disk_size_bytes;  /* size of each file disk; 0 = device size */
	unsigned raid_group_size;  /* disks per RAID group; 0 = all in one */
	const char *nvlog_path;	   /* the intent log file (created) */
	uint64_t nvlog_size_bytes; /* 0 = default (64 MiB) */
};

/* Lays a new, empty aggregate (or traditional volume) over the disks. */
int wafl_aggr_create(const struct wafl_aggr_params *p);

struct wafl_open_params {
	const char *const *disks; /* any order: disk labels say where each goes */
	unsigned ndisks;
	const char *nvlog_path;
	bool read_only;		 /* no replay, no CPs, every write refused */
	uint64_t cache_bytes;	 /* 0 = default (256 MiB) */
	unsigned cp_interval_ms; /* 0 = default (10 s); timer-driven CPs */
	uint64_t cp_dirty_bytes; /* 0 = default (cache/6); dirty data that starts a CP */
	unsigned test_cp_delay_ms; /* tests only: the CP writer waits this long first */
};

/* Mounts: reads the newest valid superblock, replays the NVLOG, and (when
 * anything was replayed) takes a consistency point before returning. */
int wafl_aggr_open(struct event_base *base, const struct wafl_open_params *p,
		   struct wafl_aggr **out);

/* Takes a final consistency point (unless read-only) and frees everything.
 * Runs the event loop internally until the CP is durable: for shutdown. */
int wafl_aggr_close(struct wafl_aggr *a);

/* Drops everything without a CP, as a crash would (tests only). */
void wafl_aggr_abandon(struct wafl_aggr *a);

struct wafl_aggr_info {
	char name[WAFL_VOLNAME_MAX + 1];
	enum wafl_aggr_kind kind;
	uint64_t size_blocks;	  /* every PVBN */
	uint64_t used_blocks;	  /* allocated, including in-flight frees */
	uint64_t reserved_blocks; /* promised to guaranteed volumes */
	uint64_t cp_count;	  /* of the newest durable CP */
	unsigned ndisks, ngroups, nvols;
	uint64_t nvlog_size_bytes, nvlog_used_bytes;
	uint64_t cache_bytes, cache_used_bytes, dirty_bytes;
	uint64_t cache_hits, cache_misses;
	uint64_t cps, cp_last_usec, cp_total_usec; /* since open */
	uint64_t disk_bytes_written, disk_bytes_read, nvlog_bytes_written;
	bool cp_running;
};
void wafl_aggr_info(struct wafl_aggr *a, struct wafl_aggr_info *out);

/* Adds disks to a mounted aggregate as a new RAID group. */
int wafl_aggr_add_disks(struct wafl_aggr *a, const char *const *disks, unsigned ndisks,
			uint64_t disk_size_bytes);

/* ---- consistency points and durability ------------------------------ */

/* What a modifying operation must wait for before it is durable. */
struct wafl_stab {
	uint64_t log_seq; /* NVLOG record; 0 = none */
	uint64_t cp;	  /* consistency point number; 0 = none */
};

typedef void (*wafl_done_fn)(void *arg);

/* Calls fn(arg) once *st is durable: immediately (before returning) if it
 * already is. */
void wafl_when_durable(struct wafl_aggr *a, const struct wafl_stab *st, wafl_done_fn fn, void *arg);
bool wafl_is_durable(struct wafl_aggr *a, const struct wafl_stab *st);

/* Starts a consistency point now (or right after the running one) and
 * fills *st with what to wait for to see it durable. */
void wafl_cp_start(struct wafl_aggr *a, struct wafl_stab *st);

/* Calls fn(arg) once after the next CP or log sync completes: when an
 * operation returned -EAGAIN, retry it then. */
void wafl_on_progress(struct wafl_aggr *a, wafl_done_fn fn, void *arg);

/* For tools and tests, never for a serving loop: runs the event loop until
 * *st is durable. */
int wafl_wait(struct wafl_aggr *a, const struct wafl_stab *st);
/* Same: a CP, waited for. */
int wafl_cp_sync(struct wafl_aggr *a);

/* ---- volumes -------------------------------------------------------- */

enum wafl_guarantee { WAFL_GUAR_NONE = 0, WAFL_GUAR_VOLUME = 1 };
enum wafl_vol_state { WAFL_VOL_ONLINE = 1, WAFL_VOL_OFFLINE = 2, WAFL_VOL_RESTRICTED = 3 };

int wafl_vol_create(struct wafl_aggr *a, const char *name, uint64_t size_bytes,
		    enum wafl_guarantee g, struct wafl_stab *st);
int wafl_vol_destroy(struct wafl_aggr *a, const char *name, struct wafl_stab *st);
/* Grows or shrinks while mounted; shrinking below what is used is -ENOSPC. */
int wafl_vol_resize(struct wafl_vol *v, uint64_t size_bytes, struct wafl_stab *st);
int wafl_vol_set_state(struct wafl_vol *v, enum wafl_vol_state s, struct wafl_stab *st);

struct wafl_vol *wafl_vol_find(struct wafl_aggr *a, const char *name);
struct wafl_vol *wafl_vol_by_id(struct wafl_aggr *a, uint32_t volid);
/* Iterates volumes: i = 0, 1, ... until NULL. */
struct wafl_vol *wafl_vol_at(struct wafl_aggr *a, unsigned i);
struct wafl_aggr *wafl_vol_aggr(struct wafl_vol *v);

struct wafl_vol_info {
	char name[WAFL_VOLNAME_MAX + 1];
	uint32_t volid;
	uint64_t fsid;
	bool flexible;
	enum wafl_vol_state state;
	enum wafl_guarantee guarantee;
	uint64_t size_bytes;
	uint64_t used_blocks; /* active file system, including metadata */
	uint64_t files_used, files_max;
	unsigned nsnaps;
	uint64_t snap_blocks;	    /* held by snapshots only (not by the active fs) */
	uint64_t reclaiming_blocks; /* being freed by snapshot deletions */
	bool snapdir_visible;	    /* ".snapshot" listed by readdir */
	/* clones */
	char parent[WAFL_VOLNAME_MAX + 1];	/* "" unless a clone not yet split */
	char parent_snap[WAFL_VOLNAME_MAX + 1]; /* the parent's snapshot it grew from */
	bool splitting;
	uint64_t split_blocks_left; /* blocks still shared with the parent */
};
void wafl_vol_info(struct wafl_vol *v, struct wafl_vol_info *out);

/* ---- snapshots ------------------------------------------------------ */

/*
 * A snapshot is a read-only image of a volume at one consistency point:
 * creating one costs that CP. Its files are served under ".snapshot/NAME"
 * from every directory of the volume (handles with snapid != 0); writes
 * there fail with -EROFS. Deleting a snapshot frees, in the background,
 * exactly the blocks no other image holds. Names follow wafl_name_valid().
 */
#define WAFL_SNAP_MAX	  255u
#define WAFL_SNAPNAME_MAX 63u
#define WAFL_SNAPDIR_NAME ".snapshot"
/* fh.snapid of a ".snapshot" directory; its fh.ino is the directory it
 * appears in (whose own handle has snapid 0). */
#define WAFL_SNAPID_DIR 0xffffffffu

struct wafl_snap_info {
	uint32_t snapid;
	char name[WAFL_SNAPNAME_MAX + 1];
	struct timespec ctime;
	uint64_t cp;
	uint64_t map_blocks; /* blocks its image holds */
	uint64_t own_blocks; /* held by it alone: what deleting it frees (with_space) */
	char clone[WAFL_VOLNAME_MAX + 1]; /* a clone volume grown from it, or "" */
};

/* Takes a snapshot: it exists (and *st is durable) after the next CP,
 * which this requests. -EEXIST; -ENOSPC: 255 already, or no space for
 * the table; -EINVAL: the name; -EBUSY: a clone split is under way.
 * Every snapshot call: -EROFS (read-only aggregate), -ENXIO (volume not
 * online), -EAGAIN (log full: retry after wafl_on_progress). */
int wafl_snap_create(struct wafl_vol *v, const char *name, struct wafl_stab *st);
/* -ENOENT; -EBUSY when a clone depends on it: why (if given) names the
 * clone. Its blocks are freed in the background (wafl_vol_info's
 * reclaiming_blocks). */
int wafl_snap_delete(struct wafl_vol *v, const char *name, char *why, size_t whylen,
		     struct wafl_stab *st);
int wafl_snap_rename(struct wafl_vol *v, const char *from, const char *to, struct wafl_stab *st);
/* Reverts the whole active file system to the snapshot, online. Other
 * snapshots stay. Handles of files that the snapshot does not have become
 * -ESTALE: generations are never reused within a volume. -EBUSY while the
 * snapshot's CP is not durable yet, or during a clone split. */
int wafl_snap_restore(struct wafl_vol *v, const char *name, struct wafl_stab *st);
/* Oldest first; fills min(max, *n) entries, *n = how many exist.
 * with_space also computes own_blocks (reads every snapshot's map). */
int wafl_snap_list(struct wafl_vol *v, struct wafl_snap_info *out, unsigned max, unsigned *n,
		   bool with_space);
/* Whether readdir lists ".snapshot" (lookup always finds it). */
int wafl_vol_set_snapdir(struct wafl_vol *v, bool visible, struct wafl_stab *st);

/* The blocks new in `to` since snapshot `base` (added) and those `base`
 * held that `to` no longer does (freed); to = NULL is the active file
 * system as of the newest CP. Map blocks that did not change between the
 * two are skipped without being read, so the cost follows the change, not
 * the volume. vbn is the volume's block number (VVBN of a flexible
 * volume), pvbn where the data lives (0 for freed blocks). */
struct wafl_diff_stats {
	uint64_t added, freed;
	uint64_t map_blocks_read, map_blocks_skipped;
};
typedef int (*wafl_diff_fn)(void *arg, uint64_t vbn, uint64_t pvbn, bool added);
int wafl_snap_diff(struct wafl_vol *v, const char *base, const char *to, wafl_diff_fn fn, void *arg,
		   struct wafl_diff_stats *st);

/* ---- clones --------------------------------------------------------- */

/* A new writable flexible volume whose contents start as snapshot `snap`
 * of flexible volume `parent`, sharing its blocks: costs metadata only.
 * The snapshot cannot be deleted while the clone depends on it. A clone
 * is thin (no guarantee). -EBUSY: the snapshot is not durable yet, or
 * the parent is itself a clone not yet split. */
int wafl_vol_clone(struct wafl_aggr *a, const char *name, const char *parent, const char *snap,
		   struct wafl_stab *st);
/* Starts copying the blocks the clone still shares with its parent, in the
 * background; when done the clone is independent (wafl_vol_info). -EINVAL
 * if not a clone; -EBUSY if the clone has snapshots (they hold shared
 * blocks too: delete them first). The split resumes after a restart once
 * the CP this requests is durable. */
int wafl_vol_clone_split(struct wafl_vol *v);

/* ---- files: the handle-based, NFS-shaped operations ----------------- */

struct wafl_fh {
	uint32_t volid;
	uint32_t snapid; /* 0 = the active file system */
	uint64_t ino;
	uint32_t gen;
};

enum wafl_ftype {
	WAFL_FT_REG = 1,
	WAFL_FT_DIR = 2,
	WAFL_FT_BLK = 3,
	WAFL_FT_CHR = 4,
	WAFL_FT_LNK = 5,
	WAFL_FT_SOCK = 6,
	WAFL_FT_FIFO = 7,
};

struct wafl_attr {
	enum wafl_ftype type;
	uint32_t mode; /* permission bits only: 07777 */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t used_bytes;
	uint32_t rdev_major, rdev_minor;
	uint64_t fsid;
	uint64_t ino;
	uint32_t gen;
	struct timespec atime, mtime, ctime;
};

/* Who asks. NULL = the file system itself (no permission checks). */
#define WAFL_NGROUPS_MAX 16
struct wafl_cred {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[WAFL_NGROUPS_MAX];
};

#define WAFL_SA_MODE	    (1u << 0)
#define WAFL_SA_UID	    (1u << 1)
#define WAFL_SA_GID	    (1u << 2)
#define WAFL_SA_SIZE	    (1u << 3)
#define WAFL_SA_ATIME	    (1u << 4) /* to .atime */
#define WAFL_SA_MTIME	    (1u << 5) /* to .mtime */
#define WAFL_SA_ATIME_NOW   (1u << 6) /* to the server's clock */
#define WAFL_SA_MTIME_NOW   (1u << 7)
#define WAFL_SA_CTIME_GUARD (1u << 8) /* only if ctime == guard_ctime */

struct wafl_sattr {
	uint32_t mask;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime;
	struct timespec guard_ctime; /* WAFL_SA_CTIME_GUARD: -EPROTO (NOT_SYNC) if not */
};

enum wafl_stable { WAFL_UNSTABLE = 0, WAFL_DATA_SYNC = 1, WAFL_FILE_SYNC = 2 };
enum wafl_how { WAFL_UNCHECKED = 0, WAFL_GUARDED = 1, WAFL_EXCLUSIVE = 2 };

int wafl_root(struct wafl_vol *v, struct wafl_fh *out);
int wafl_getattr(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_attr *out);
int wafl_setattr(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		 const struct wafl_sattr *sa, struct wafl_attr *out, struct wafl_stab *st);
/* Checks access like access(2): want is a mask of 4 (r), 2 (w), 1 (x). */
int wafl_access(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		unsigned want, unsigned *granted);
int wafl_lookup(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, struct wafl_fh *out, struct wafl_attr *attr);
int wafl_read(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh, uint64_t off,
	      uint32_t len, void *buf, uint32_t *got, bool *eof);
int wafl_write(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
	       uint64_t off, uint32_t len, const void *buf, enum wafl_stable stable,
	       struct wafl_attr *out, struct wafl_stab *st);
/* Exclusive create stores verf; a retry with the same verf returns the file. */
int wafl_create(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, enum wafl_how how, const struct wafl_sattr *sa, uint64_t verf,
		struct wafl_fh *out, struct wafl_attr *attr, struct wafl_stab *st);
int wafl_mkdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, const struct wafl_sattr *sa, struct wafl_fh *out,
	       struct wafl_attr *attr, struct wafl_stab *st);
int wafl_symlink(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		 const char *name, const char *target, const struct wafl_sattr *sa,
		 struct wafl_fh *out, struct wafl_attr *attr, struct wafl_stab *st);
int wafl_mknod(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, enum wafl_ftype type, uint32_t rdev_major, uint32_t rdev_minor,
	       const struct wafl_sattr *sa, struct wafl_fh *out, struct wafl_attr *attr,
	       struct wafl_stab *st);
int wafl_readlink(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		  char *buf, size_t size, size_t *len);
int wafl_link(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
	      const struct wafl_fh *dir, const char *name, struct wafl_stab *st);
int wafl_rename(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *from_dir,
		const char *from, const struct wafl_fh *to_dir, const char *to,
		struct wafl_stab *st);
int wafl_remove(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, struct wafl_stab *st);
int wafl_rmdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, struct wafl_stab *st);

/* Readdir: entries come in cookie order, starting after `cookie` (0 = from
 * the start; "." and ".." come first with cookies 1 and 2). Cookies stay
 * valid across inserts and removes. fn returns nonzero to stop; *eof says
 * whether the directory ended. */
struct wafl_dirent {
	const char *name;
	size_t namelen;
	uint64_t ino;
	uint64_t cookie;
	enum wafl_ftype type;
};
typedef int (*wafl_readdir_fn)(void *arg, const struct wafl_dirent *e);
int wafl_readdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		 uint64_t cookie, wafl_readdir_fn fn, void *arg, bool *eof);

struct wafl_fsstat {
	uint64_t total_bytes, free_bytes, avail_bytes;
	uint64_t total_files, free_files, avail_files;
};
int wafl_fsstat(struct wafl_vol *v, struct wafl_fsstat *out);

/* Makes every UNSTABLE write to the volume durable: *st says what to wait
 * for (nothing, if it already is). */
int wafl_commit(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_stab *st);

/* ---- the consistency checker ---------------------------------------- */

enum wafl_problem_kind {
	WAFL_P_CORRUPT = 1, /* a block's context did not verify */
	WAFL_P_LEAKED,	    /* allocated in a map, owned by nothing */
	WAFL_P_UNALLOCATED, /* owned by something, free in the map */
	WAFL_P_DOUBLE,	    /* owned twice */
	WAFL_P_BADPTR,	    /* a pointer outside the space */
	WAFL_P_NLINK,	    /* link count disagrees with directory entries */
	WAFL_P_DIR,	    /* directory structure */
	WAFL_P_ORPHAN,	    /* inode in use but in no directory */
	WAFL_P_INODE,	    /* inode fields impossible */
	WAFL_P_CONTAINER,   /* flexible volume and container disagree */
	WAFL_P_SUPER,	    /* superblock or volume table */
	WAFL_P_UNVERIFIED,  /* blocks that hang under a corrupt block */
};

struct wafl_problem {
	enum wafl_problem_kind kind;
	uint64_t pvbn;	/* 0 when not about a block */
	uint32_t volid; /* 0 when not about a volume */
	uint64_t ino;
	uint64_t fbn;
	unsigned level;
	char msg[160];
};

struct wafl_check_result {
	uint64_t problems;
	uint64_t corrupt_blocks;
	uint64_t blocks_checked;
	uint64_t inodes_checked;
	uint64_t dirs_checked;
	unsigned vols_checked;
	uint64_t cp_count;
};

typedef void (*wafl_problem_fn)(void *arg, const struct wafl_problem *p);
/* Optional: every reachable block with its owner, for tests and tools. */
typedef void (*wafl_owner_fn)(void *arg, uint64_t pvbn, uint32_t volid, uint64_t ino,
			      unsigned level, uint64_t fbn);

/* Walks the newest durable image read-only (the NVLOG is not replayed:
 * a CP is consistent by itself). Returns 0 when it could walk (problems or
 * not: see res->problems), negative when the disks could not be read at all. */
int wafl_check(const char *const *disks, unsigned ndisks, wafl_problem_fn fn, void *arg,
	       wafl_owner_fn owner, void *owner_arg, struct wafl_check_result *res);

const char *wafl_problem_name(enum wafl_problem_kind k);

#endif
