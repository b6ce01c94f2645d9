/*
 * wafl_int.h - what the files of wafl/ share with each other, and nothing
 * outside wafl/ may include.
 *
 * Map of the module:
 *   util.c    checksums, u64 sets, clocks, logging
 *   disk.c    disks, labels, RAID groups: slot I/O and context checks
 *   buf.c     the buffer cache: every block in memory, dirty tracking
 *   bmap.c    block trees of files: fbn -> buffer, growth, truncation
 *   map.c     active maps and the block allocator, delayed frees
 *   inode.c   the inode file: get, allocate, free
 *   cp.c      consistency points and the CP writer thread
 *   nvlog.c   the intent log, its writer thread, reading it for replay
 *   ops.c     the NFS-shaped volume operations, their log records, replay
 *   aggr.c    create, open, close; flexible volumes
 *   snap.c    snapshots: the table, the summary map, create, delete
 *             (background reclaim), restore, read-only images, diffs;
 *             clones and their split
 *   check.c   the consistency checker
 *   dir.c     directories (B+trees), through struct dir_io
 */
#ifndef WAFL_WAFL_INT_H
#define WAFL_WAFL_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <bsd/sys/queue.h>

#include "wafl/ondisk.h"
#include "wafl/wafl.h"

#define WAFL_BS		  WAFL_BLOCK_SIZE
#define BITS_PER_MAPBLOCK (WAFL_BS * 8u)

/* ---- util.c --------------------------------------------------------- */

uint64_t wafl_cksum(const void *data, size_t len, uint64_t seed);
uint64_t wafl_now_usec(void);
void wafl_now(struct timespec *ts);
void wafl_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define WLOG_ERR   3
#define WLOG_WARN  4
#define WLOG_INFO  6
#define WLOG_DEBUG 7
extern int wafl_log_level;
void wafl_uuid(uint8_t out[16]);

/* An open-addressing set of nonzero u64s (VBNs in flight). */
struct u64set {
	uint64_t *slot;
	size_t cap, n;
};
int u64set_add(struct u64set *s, uint64_t v);
bool u64set_has(const struct u64set *s, uint64_t v);
void u64set_clear(struct u64set *s);
void u64set_free(struct u64set *s);

/* A growable array of u64 pairs. */
struct vbnpair {
	uint64_t vbn;  /* in the instance's own space (VVBN for a flexvol) */
	uint64_t pvbn; /* flexvol: the physical block; else = vbn */
};
struct pairvec {
	struct vbnpair *v;
	size_t n, cap;
};
int pairvec_push(struct pairvec *pv, uint64_t vbn, uint64_t pvbn);

/* ---- disk.c --------------------------------------------------------- */

struct wafl_disk {
	int fd;
	char *path;
	uint8_t uuid[16];
	uint32_t group, position;
	uint64_t dbn_count;
};

struct wafl_rgroup {
	enum wafl_raid_level level;
	unsigned ndisks;
	struct wafl_disk **disks; /* by position */
	uint64_t dbn_count;	  /* per disk */
	uint64_t base;		  /* first PVBN */
	uint64_t nblocks;	  /* PVBNs in the group */
};

struct wafl_raid {
	unsigned ngroups;
	struct wafl_rgroup groups[WAFL_MAX_GROUPS];
	unsigned ndisks;
	struct wafl_disk *disks[WAFL_MAX_DISKS];
	uint64_t nblocks; /* PVBN space */
};

/* Where a PVBN lives. */
int raid_map(const struct wafl_raid *r, uint64_t pvbn, struct wafl_disk **d, uint64_t *slot);
/* Reads one slot (4160 bytes). */
int raid_read_slot(const struct wafl_raid *r, uint64_t pvbn, uint8_t *slot);
int disk_read_slot(struct wafl_disk *d, uint64_t slot, uint8_t *buf);
int disk_write_slot(struct wafl_disk *d, uint64_t slot, const uint8_t *buf);
int disk_open(const char *path, bool create, uint64_t size_bytes, bool rdonly,
	      struct wafl_disk **out);
void disk_close(struct wafl_disk *d);
/* Fills the context and checksum of a slot (data at slot[0..4095]). */
void ctx_seal(uint8_t *slot, const struct wafl_ctx *id);
/* What a read expects to find. */
struct ctx_expect {
	uint32_t volid;
	uint64_t ino;
	uint8_t level;
	uint64_t fbn;
	uint64_t pvbn;
	uint64_t vvbn;
	uint64_t cp;	/* 0 = unknown (superblocks, labels) */
	uint32_t cksum; /* with cp */
	uint32_t volid2; /* also accepted as the owner: a clone's parent (0 = none) */
};
/* 0, or -EUCLEAN with a description in why (may be NULL). */
int ctx_verify(const uint8_t *slot, const struct ctx_expect *e, char *why, size_t whylen);
/* The same with the block and its context apart. */
int ctx_verify_parts(const uint8_t *data, const uint8_t *ctx, const struct ctx_expect *e, char *why,
		     size_t whylen);
/* Builds the RAID layout from labels + superblock. */
int raid_assemble(struct wafl_raid *r, const struct wafl_super *sb, struct wafl_disk **disks,
		  unsigned ndisks);
void raid_layout(struct wafl_raid *r);
int raid_sync(const struct wafl_raid *r);
/* Reads both superblock copies of every disk; picks the newest valid. */
int super_read_best(struct wafl_disk **disks, unsigned ndisks, const uint8_t aggr_uuid[16],
		    struct wafl_super *out, unsigned *best_copy);
/* Writes copy 0 or 1 on every disk: always the one that does NOT hold the
 * newest durable superblock, so a torn write leaves that one intact. */
int super_write_all(const struct wafl_raid *r, const struct wafl_super *sb, unsigned copy);

/* ---- buf.c ---------------------------------------------------------- */

struct wafl_fs;
struct wafl_aggr;

#define B_DIRTY 0x01 /* changed since the last CP froze */
#define B_HOMED 0x02 /* given a new home by the CP being frozen */

struct wbuf {
	struct wafl_fs *fs;
	uint64_t ino;
	uint64_t idx;	       /* block index at its level */
	uint8_t level;	       /* 0 = data */
	uint8_t kind;	       /* enum wafl_bkind */
	uint8_t flags;	       /* B_* */
	struct wafl_bptr home; /* where it lives (pvbn 0 = nowhere yet) */
	uint8_t *data;	       /* WAFL_BS bytes */
	TAILQ_ENTRY(wbuf) hash_link;
	TAILQ_ENTRY(wbuf) lru_link;   /* clean buffers only */
	TAILQ_ENTRY(wbuf) dirty_link; /* dirty buffers only, per fs */
};
TAILQ_HEAD(wbuf_list, wbuf);

struct wcache {
	struct wbuf_list *hash;
	size_t hash_size; /* power of two */
	size_t nbufs;
	size_t max_bufs;
	uint64_t bytes; /* as configured: buffers, headers and CP copies */
	struct wbuf_list lru;
	uint64_t hits, misses;
};

int cache_init(struct wcache *c, uint64_t bytes);
void cache_destroy(struct wcache *c);
struct wbuf *cache_find(struct wcache *c, struct wafl_fs *fs, uint64_t ino, uint8_t level,
			uint64_t idx);
struct wbuf *cache_new(struct wcache *c, struct wafl_fs *fs, uint64_t ino, uint8_t level,
		       uint64_t idx);
void cache_drop(struct wcache *c, struct wbuf *b);
/* Evicts clean, unpinned buffers beyond the limit (between operations). */
void cache_trim(struct wafl_aggr *a);
void cache_drop_fs(struct wcache *c, struct wafl_fs *fs);
void cache_mark_dirty(struct wcache *c, struct wbuf *b);
void cache_mark_clean(struct wcache *c, struct wbuf *b);

/* ---- file system instances ------------------------------------------ */

struct wafl_fs {
	struct wafl_aggr *aggr;
	enum wafl_fstype type;
	uint32_t volid;
	struct wafl_fsinfo fsi; /* live root; fsi.inofile is the inode file's inode */
	uint64_t container;	/* flexvol: its container inode in the aggregate */
	bool read_only;

	/* allocation */
	uint64_t alloc_cursor;	/* next VBN the allocator tries */
	uint64_t ninflight;	/* cleared in the map by an unfinished CP */
	struct u64set inflight; /* those VBNs: not reusable until it is durable */
	struct pairvec pending; /* freed since the last CP froze: bits still set */
	uint64_t ndirty;	/* dirty buffers: each needs a home at the next CP */
	uint64_t limit_blocks;	/* flexvol: size in blocks (quota on used) */
	struct wbuf_list dirty;
	uint64_t ino_cursor;

	/* snapshots (snap.c); none of this in a snapshot image */
	struct wafl_dinode snapdi;	/* the table as a file: height 1, top[0] */
	struct wafl_snap **snaps;	/* by snapid, oldest first */
	unsigned nsnaps;
	struct pairvec sfree;		/* left the summary, in no map: free at the next CP */
	struct u64set sfree_set;	/* the same VBNs, kept from the allocator */
	uint64_t sum_only;		/* blocks the summary holds and the active map does not */
	bool rebuild;			/* summary rebuild after a delete, under way */
	uint64_t rebuild_next;		/* next map block it looks at */
	unsigned rebuild_word;		/* and the next 64-bit word in it */
	bool rebuild_again;		/* another delete came during the pass */
	struct event *rebuild_ev;
	uint64_t reclaimed;		/* blocks freed by rebuilds since open */
	struct timespec snap_changed;	/* the table's last change since open */
	/* a snapshot image: the active instance it belongs to */
	struct wafl_fs *active;
	uint32_t snapid;
	/* a clone: its parent volume and snapshot; split progress */
	uint32_t parent_volid, parent_snapid;
	uint64_t split_next; /* next inode the split looks at */
	struct event *split_ev;
};

/* One snapshot of an instance (in memory; on disk a wafl_snapent). */
struct wafl_snap {
	uint32_t snapid;
	uint32_t flags; /* WAFL_SNAP_* */
	unsigned slot;	/* in the snapshot table */
	char name[WAFL_SNAPNAME_MAX + 1];
	struct timespec ctime;
	uint64_t cp;		/* the CP that took it; 0 = the next one */
	struct wafl_fsinfo fsi; /* its root, once cp is set */
	struct wafl_bptr tab;	/* the table's index block its CP wrote (vvbn, pvbn) */
	struct wafl_fs *img;	/* read-only instance, made on first use */
};

struct wafl_vol {
	struct wafl_fs *fs; /* flexvol: owned; trad: the aggregate's fs */
	struct wafl_aggr *aggr;
	unsigned slot; /* flexvol: volume table slot */
	char name[WAFL_VOLNAME_MAX + 1];
	uint64_t size_bytes;
	enum wafl_guarantee guarantee;
	enum wafl_vol_state state;
	uint64_t unstable_cp; /* the CP that holds its newest UNSTABLE write */
	TAILQ_ENTRY(wafl_vol) link;
};
TAILQ_HEAD(wafl_vol_list, wafl_vol);

struct waiter {
	uint64_t key;
	wafl_done_fn fn;
	void *arg;
	TAILQ_ENTRY(waiter) link;
};
TAILQ_HEAD(waiter_list, waiter);

struct cp_io;
struct nvlog;

struct wafl_aggr {
	struct event_base *base;
	char name[WAFL_VOLNAME_MAX + 1];
	enum wafl_aggr_kind kind;
	uint8_t uuid[16];
	struct wafl_super sb; /* last durable superblock (its fsinfo is stale) */
	struct wafl_raid raid;
	struct wafl_fs fs; /* the aggregate (or traditional volume) itself */
	struct wafl_vol_list vols;
	struct wafl_vol *trad; /* WAFL_TRAD: its one volume */
	bool read_only;
	bool replaying;
	bool checking; /* opened by the checker: tolerate bad metadata */
	struct wcache cache;
	uint64_t ndirty;	  /* dirty buffers, all instances */
	uint64_t cp_dirty_bufs;	  /* start a CP at this many dirty buffers */
	uint64_t hard_dirty_bufs; /* refuse with -EAGAIN past this during a CP */
	unsigned cp_interval_ms;
	unsigned test_cp_delay_ms;

	/* consistency points */
	uint64_t cp_durable; /* newest durable CP number */
	unsigned sb_copy;    /* which superblock copy holds it (0 or 1) */
	uint64_t cp_next;    /* number the next CP will get */
	bool cp_running;
	bool cp_again; /* another CP wanted when this one ends */
	struct cp_io *cp_io;
	struct event *cp_timer;
	struct event *cp_done_ev;
	struct event *cp_kick_ev;
	pthread_t cp_thread;
	pthread_mutex_t cp_mu;
	pthread_cond_t cp_cv;
	bool cp_thread_stop;
	struct waiter_list cp_waiters;
	struct waiter_list progress;
	uint64_t cps, cp_last_usec, cp_total_usec;
	uint64_t disk_bytes_written;

	struct nvlog *log;
	uint64_t volid_next;
};

/* ---- bmap.c --------------------------------------------------------- */

/* Flags for bmap_get. */
#define BM_CREATE 0x1 /* fill a hole with a new zeroed (dirty) block */

/* Gets the block (level, idx) of file ino. *out = NULL means a hole
 * (without BM_CREATE). di is the file's inode (for the inode file, the
 * fsinfo's inofile). */
int bmap_get(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level, uint64_t idx,
	     unsigned flags, struct wbuf **out);
/* Marks b dirty, and every ancestor up to the fsinfo. */
int buf_dirty(struct wbuf *b);
/* Frees every block of the file from data block `from_fbn` on. */
int bmap_truncate(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t from_fbn);
/* Finds the slot that points at b: in a parent buffer, an inode or the fsinfo. */
int bmap_parent_slot(struct wbuf *b, struct wafl_bptr **slot);
uint8_t bmap_kind(uint64_t ino, uint8_t level, const struct wafl_dinode *di);
uint64_t bmap_capacity(unsigned height, unsigned level);
/* Reads the data blocks [fbn, fbn + n) of a file that are not cached,
 * disk by disk in runs (one call per run), into the cache. Blocks that do
 * not verify are left out: bmap_get reads and reports them. */
int bmap_prefetch(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t fbn,
		  uint64_t n);
/* Reads a block from disk and verifies it against its pointer. */
int block_read(struct wafl_fs *fs, const struct wafl_bptr *p, uint64_t ino, uint8_t level,
	       uint64_t idx, uint8_t *data);

/* ---- inode.c -------------------------------------------------------- */

/* The inode, inside its (cached) inode-file block. */
int inode_get(struct wafl_fs *fs, uint64_t ino, struct wbuf **b, struct wafl_dinode **di);
/* Same, marked dirty. */
int inode_get_dirty(struct wafl_fs *fs, uint64_t ino, struct wbuf **b, struct wafl_dinode **di);
/* Picks a free inode number (no change made). */
int inode_pick(struct wafl_fs *fs, uint64_t *ino, uint32_t *gen);
/* Frees an inode whose blocks were truncated away: mode 0, gen kept. */
int inode_release(struct wafl_fs *fs, uint64_t ino);
uint64_t inode_max(struct wafl_fs *fs);

/* ---- map.c ---------------------------------------------------------- */

int map_alloc(struct wafl_fs *fs, uint64_t *vbn);
int map_set(struct wafl_fs *fs, uint64_t vbn, bool on);
int map_test(struct wafl_fs *fs, uint64_t vbn, bool *on);
/* A block the active file system stops using: freed at the next CP. */
int map_free_later(struct wafl_fs *fs, uint64_t vbn, uint64_t pvbn);
/* Free blocks, less what dirty buffers and reservations will need. */
uint64_t fs_avail_blocks(struct wafl_fs *fs);
/* -ENOSPC unless nblocks more can be dirtied in fs. */
int fs_space_check(struct wafl_fs *fs, uint64_t nblocks);

/* ---- cp.c ----------------------------------------------------------- */

/* The container file's pointer for a flexvol VVBN (dirtied). */
int cp_container_slot(struct wafl_aggr *a, struct wafl_fs *fs, uint64_t vvbn, bool create,
		      struct wafl_bptr **slot);
int cp_init(struct wafl_aggr *a);
void cp_shutdown(struct wafl_aggr *a);
/* The copy of a block the running CP is writing, or NULL. */
const uint8_t *cp_inflight_slot(struct wafl_aggr *a, uint64_t pvbn);
/* How many blocks (copies) it holds. */
size_t cp_inflight_blocks(struct wafl_aggr *a);
/* Starts a CP unless one runs (then one more follows it). */
void cp_request(struct wafl_aggr *a);
/* Called after every modifying operation: starts a CP past thresholds. */
void cp_maybe(struct wafl_aggr *a);
void waiters_fire(struct waiter_list *l, uint64_t upto);
int waiter_add(struct waiter_list *l, uint64_t key, wafl_done_fn fn, void *arg);

/* ---- nvlog.c -------------------------------------------------------- */

int nvlog_create(const char *path, uint64_t bytes, uint8_t uuid[16]);
int nvlog_open(struct wafl_aggr *a, const char *path, bool rdonly);
void nvlog_close(struct wafl_aggr *a);
/* Appends one record (payload) for the current epoch; -EAGAIN when the
 * half is full. *seq receives its sequence number. */
int nvlog_append(struct wafl_aggr *a, const void *payload, size_t len, uint64_t *seq);
/* Room for a payload of len bytes in the current half? */
bool nvlog_has_room(struct wafl_aggr *a, size_t len);
/* Could a record this big fit an empty half at all? */
bool nvlog_could_fit(struct wafl_aggr *a, size_t len);
/* The CP froze: later records belong to epoch. */
void nvlog_switch(struct wafl_aggr *a, uint64_t epoch);
uint64_t nvlog_durable_seq(struct wafl_aggr *a);
uint64_t nvlog_last_seq(struct wafl_aggr *a);
uint64_t nvlog_fill_pct(struct wafl_aggr *a);
void nvlog_stats(struct wafl_aggr *a, uint64_t *size, uint64_t *used, uint64_t *written);
typedef int (*nvlog_replay_fn)(struct wafl_aggr *a, const uint8_t *payload, size_t len);
/* Replays records after CP `cp`; *n = how many. */
int nvlog_replay(struct wafl_aggr *a, uint64_t cp, nvlog_replay_fn fn, uint64_t *n);
int nvlog_waiter_add(struct wafl_aggr *a, uint64_t seq, wafl_done_fn fn, void *arg);

/* ---- ops.c ---------------------------------------------------------- */

struct dir_io;
/* A directory inode seen through dir.h's struct dir_io. */
struct dirctx {
	struct wafl_fs *fs;
	uint64_t ino;
	struct wafl_dinode *di;
};
void dirctx_init(struct dir_io *io, struct dirctx *d, struct wafl_fs *fs, uint64_t ino,
		 struct wafl_dinode *di);

int ops_replay(struct wafl_aggr *a, const uint8_t *payload, size_t len);
/* Volume administration records; op: 0 create, 1 destroy, 2 resize, 3 state. */
int ops_log_vol(struct wafl_aggr *a, int op, uint32_t volid, const char *name, uint64_t container,
		uint64_t size_bytes, uint32_t guarantee, uint64_t fsid, uint32_t state,
		const struct timespec *t, struct wafl_stab *st);
int ops_vol_room(struct wafl_aggr *a);
/* Logs a snapshot-administration record (snap.c builds it). */
int ops_log_raw(struct wafl_aggr *a, const void *rec, size_t len, struct wafl_stab *st);
int ops_room(struct wafl_aggr *a, size_t payload);
/* Formats a new instance's metadata files (and root directory). */
int fs_format(struct wafl_fs *fs, bool with_root, const struct timespec *now);
/* Active instance and inode of a handle, also in a snapshot image (*fs). */
int fh_resolve(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_fs **fs, struct wbuf **b,
	       struct wafl_dinode **di);

/* ---- snap.c --------------------------------------------------------- */

/* Loads the snapshot table of an active instance (open, clone). */
int snap_load(struct wafl_fs *fs);
/* Frees snapshots, images and background work (close, destroy). */
void snap_release(struct wafl_fs *fs);
/* At the freeze, before homing: merge new snapshots into the summary,
 * write new table entries, hand reclaimed blocks to the CP. */
int snap_freeze(struct wafl_fs *fs);
/* At sealing, when the inode file is sealed: the new entries get the
 * fsinfo this CP writes. */
void snap_seal_entries(struct wafl_fs *fs, uint64_t cp);
/* The summary holds vbn (a snapshot has it)? */
int snap_summary_test(struct wafl_fs *fs, uint64_t vbn, bool *on);
/* The summary map block for map block blk; NULL if none. */
int snap_summary_block(struct wafl_fs *fs, uint64_t blk, const uint8_t **data);
/* The container pointer of a flexible volume's VVBN, read-only (nothing
 * dirtied); *out NULL when the container has none. */
int container_ptr(struct wafl_fs *fs, uint64_t vvbn, struct wafl_bptr **out);
/* Read-only image of a snapshot, or NULL (-ESTALE) if none by that id. */
int snap_image(struct wafl_fs *fs, uint32_t snapid, struct wafl_fs **img);
struct wafl_snap *snap_by_id(struct wafl_fs *fs, uint32_t snapid);
struct wafl_snap *snap_by_name(struct wafl_fs *fs, const char *name);
/* Log replay of the snapshot records. */
int snap_replay(struct wafl_aggr *a, int op, const void *rec, size_t len);
/* The fsid a snapshot's files report. */
uint64_t snap_fsid(uint64_t fsid, uint32_t snapid);
/* Snapshot and clone fields of wafl_vol_info. */
void snap_vol_info(struct wafl_vol *v, struct wafl_vol_info *o);

/* ---- aggr.c --------------------------------------------------------- */

struct wafl_vol *vol_by_id(struct wafl_aggr *a, uint32_t volid);
/* The flexvol instances, then nothing: for CP ordering. */
int aggr_vol_create_apply(struct wafl_aggr *a, const char *name, uint32_t volid, uint64_t container,
			  uint64_t size_bytes, uint32_t guarantee, uint64_t fsid,
			  const struct timespec *now);
int aggr_vol_destroy_apply(struct wafl_aggr *a, uint32_t volid);
int aggr_vol_resize_apply(struct wafl_vol *v, uint64_t size_bytes);
int aggr_vol_state_apply(struct wafl_vol *v, uint32_t state);
/* Read-only, no log, no threads: for the checker. */
int aggr_open_check(const char *const *disks, unsigned n, struct wafl_aggr **out);
void aggr_close_check(struct wafl_aggr *a);
int voltab_get(struct wafl_aggr *a, unsigned slot, bool dirty, struct wbuf **b,
	       struct wafl_volent **e);
uint64_t aggr_reserved_blocks(struct wafl_aggr *a);
/* Clones (snap.c decides, aggr.c keeps the volume table). */
int aggr_vol_clone_attach(struct wafl_aggr *a, const char *name, uint32_t volid,
			  uint64_t container, uint64_t size_bytes, uint64_t fsid,
			  const struct wafl_fsinfo *fsi, uint32_t parent_volid, uint32_t parent_snap,
			  const struct timespec *now, struct wafl_vol **out);
/* The clone no longer shares anything: forget its parent. */
int aggr_vol_clone_detach(struct wafl_vol *v);

#endif
