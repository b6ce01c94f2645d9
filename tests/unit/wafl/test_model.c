/*
 * test_model.c - a model-based randomized test of the file operations.
 *
 * Thousands of random operations go to a volume and, at the same time, to
 * an in-memory model of what the volume must hold: create (unchecked,
 * guarded, exclusive), write at random offsets and sizes (now and then far
 * out, to grow tall sparse trees), truncate up and down, rename within and
 * across directories and over existing names, link, remove, mkdir, rmdir,
 * setattr, symlink, mknod, lookup, read, readlink, readdir, commit, and
 * bursts of creates and removes that grow and shrink directory B+trees.
 * Now and then a handle is stale, a name is "." or too long, an inode is
 * of the wrong type. The model predicts every return code, errors
 * included, in the order the checks are made (the decisions are written
 * above each operation).
 *
 * The whole volume is compared with the model -- every name through
 * readdir (read in random slices resumed by cookie) and lookup, every
 * attribute the model knows, every byte of every file below 4 MiB and the
 * written blocks and sampled holes beyond, the kept handles, the handles
 * of removed inodes (stale) -- after forced consistency points (then the
 * checker also runs on the mounted disks), after clean unmount and
 * remount (the checker must find nothing, and every inode's times must be
 * unchanged), and after crashes. Before a crash the test makes everything
 * durable and then does only logged operations, keeping the model after
 * each: either it waits for all of them (replay must rebuild the model
 * exactly, times included), or it crashes with some in flight (the volume
 * must come back as the model was after one of the operations, no earlier
 * than the last one acknowledged durable). Every mount gets a random cache
 * size and dirty-data trigger; CPs start at random operations, never from
 * the timer, so that a run does not depend on the clock.
 *
 * Snapshots come and go among the operations: each one taken keeps a copy
 * of the model (and every inode's times) as it was, and is compared with
 * it through ".snapshot/NAME" -- names, types, sizes, modes, times, every
 * byte -- after CPs, remounts and crashes. Snapshots are deleted, renamed
 * and restored (the model becomes the snapshot's; handles of files it
 * lacks must be stale; no handle is ever handed out twice); files inside
 * them are read and refuse every change (-EROFS); ".snapshot" of any
 * directory lists the snapshots that have it. Deletions, renames and
 * restores also come with operations in flight before a crash. A space
 * audit now and then deletes every snapshot, waits for the reclaim and
 * proves that nothing stays held: no snapshot blocks, free space equal to
 * total less used, the used counters equal to what the checker reaches
 * and to their recount after a remount. It then takes an "anchor"
 * snapshot; the next audit often restores it first, and then every inode
 * must use exactly the blocks it used when the anchor was taken (only the
 * active map, the summary map and the snapshot table may differ): a leak
 * of a single block shows.
 *
 * Reproducing a failure: the seed is printed first ("model: seed N");
 * WAFL_SEED=N runs the same sequence, and a failure prints the seed, the
 * operation's index and the operations before it. WAFL_MODEL_OPS=N sets
 * the length of the flexible-volume run (default 6000; the traditional
 * volume runs half of it); WAFL_MODEL_TRACE=1 prints every operation as it
 * runs; WAFL_MODEL_PARANOID=1 also compares before every close;
 * WAFL_MODEL_KEEP=1 keeps the disks of a failed run.
 *
 * Not modelled: times set to "now" (only explicitly set atime and mtime
 * are predicted; snapshots and restores keep the times they saw),
 * directory sizes, and the space files use (beyond the audits above).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wtest.h"
#include "wafl/ondisk.h" /* WAFL_INO_*: the space audit counts blocks by inode */

#define BS	    WAFL_BLOCK_SIZE
#define MAXF	    WAFL_MAX_FILE_SIZE
#define NEAR_BYTES  (2ull << 20) /* most writes land below this */
#define DENSE_BYTES (4ull << 20) /* compared byte for byte; beyond, sampled */
#define FAR_OFF	    (5ull << 30) /* "far": a hole, then a tall tree */
#define IO_MAX	    (256u << 10) /* the largest single read or write */
#define BLOCK_CAP   12288u	 /* file data the model may hold: 48 MiB */
#define DEAD_MAX    512u	 /* stale handles remembered */
#define NAME_BUF    (WAFL_NAME_MAX + 8)
#define RING	    64 /* operations shown when something fails */
#define VSNAP_MAX   6  /* volume snapshots kept at once */
#define GONE_MAX    32 /* handles into deleted snapshots remembered */
#define SNAME_BUF   80

/* ---- handles ever handed out --------------------------------------------- */

/* (inode, generation) pairs: every handle the volume gave out, so that a
 * new file proves it never gets an old file's handle, also after a
 * restore brought older inodes back. */
struct hset {
	uint64_t *slot; /* 0 = empty, else ino << 32 | gen */
	size_t n, cap;
};

static uint64_t hkey(const struct wafl_fh *fh)
{
	return fh->ino << 32 | fh->gen;
}

static size_t hs_home(const struct hset *s, uint64_t k)
{
	uint64_t h = k * 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 29)) & (s->cap - 1);
}

static bool hs_has(const struct hset *s, uint64_t k)
{
	if (!s->cap)
		return false;
	for (size_t i = hs_home(s, k);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == k)
			return true;
		if (!s->slot[i])
			return false;
	}
}

static void hs_add(struct hset *s, uint64_t k)
{
	if (2 * (s->n + 1) > s->cap) {
		struct hset g = {calloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)), 0,
				 s->cap ? 2 * s->cap : 1024};
		cr_assert_not_null(g.slot);
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				hs_add(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	size_t i = hs_home(s, k);
	while (s->slot[i] && s->slot[i] != k)
		i = (i + 1) & (s->cap - 1);
	if (!s->slot[i]) {
		s->slot[i] = k;
		s->n++;
	}
}

static void hs_copy(const struct hset *src, struct hset *dst)
{
	*dst = *src;
	if (!src->cap)
		return;
	dst->slot = malloc(src->cap * sizeof(uint64_t));
	cr_assert_not_null(dst->slot);
	memcpy(dst->slot, src->slot, src->cap * sizeof(uint64_t));
}

static void hs_free(struct hset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* ---- the model ---------------------------------------------------------- */

/* A block's bytes, shared by the snapshots of the model that hold it. */
struct mdata {
	unsigned refs;
	uint8_t b[BS]; /* bytes past the file's size are zero */
};

struct mblk {
	uint64_t fbn;
	struct mdata *d;
};

struct ment {
	char *name;
	struct mnode *node;
};

/* One inode: a directory, a file with its content, a symlink, a device. */
struct mnode {
	enum wafl_ftype type;
	uint32_t mode; /* 07777 */
	uint32_t uid, gid;
	uint32_t nlink; /* non-directories: names; directories: m_nlink() */
	struct wafl_fh fh;
	uint32_t rdev_major, rdev_minor;
	uint64_t size;	   /* regular files */
	struct mblk *blks; /* regular files: written blocks, by fbn */
	size_t nblks, capblks;
	char *target;	   /* symlinks */
	struct ment *ents; /* directories */
	size_t nents, capents;
	struct mnode *parent; /* directories; the root is its own */
	bool excl;	      /* created EXCLUSIVE, verifier still kept */
	uint64_t verf;
	bool atime_known, mtime_known; /* set explicitly and not touched since */
	struct timespec atime, mtime;
	struct timespec t_a, t_m, t_c; /* as read before a remount or crash */
	size_t slot;		       /* index in run.nodes */
	uint64_t seen;		       /* compare walk that visited it last */
};

/* A handle an operation uses: n is its model inode, NULL if stale. */
struct hd {
	struct wafl_fh fh;
	struct mnode *n;
};

struct rd_ent {
	char name[WAFL_NAME_MAX + 1];
	uint64_t ino, cookie;
	enum wafl_ftype type;
};

struct rd_acc {
	struct rd_ent *e;
	size_t n, cap;
	size_t limit, taken;
	bool bad_len;
};

/* The model: every live inode, and the handles of removed ones. */
struct model {
	struct mnode *root;
	struct mnode **nodes; /* every live inode, the root included */
	size_t nnodes, capnodes;
	struct wafl_fh *dead; /* handles of removed inodes */
	size_t ndead, capdead;
	uint64_t blocks;  /* file blocks held */
	struct hset ever; /* every handle handed out (empty in a vsnap's copy) */
};

/* What the checker's walk reaches of the volume, by inode (counted through
 * its owner callback on the closed disks). */
enum { C_INOFILE, C_MAP, C_ROOT, C_SUMMARY, C_SNAPTAB, C_META, C_FILES, NCENSUS };
static const char *const census_name[NCENSUS] = {"inode file",	"active map",	  "root",
						 "summary map", "snapshot table", "other metadata",
						 "files"};

/* A snapshot of the volume and the model as it was when taken. */
struct vsnap {
	char name[WAFL_SNAPNAME_MAX + 1];
	uint32_t snapid;
	uint64_t fsid;		  /* its files' fsid */
	struct model m;		  /* with every inode's times (t_a, t_m, t_c) */
	unsigned long op;	  /* taken after this many operations */
	bool anchor;		  /* taken right after a space audit, without snapshots */
	uint64_t census[NCENSUS]; /* anchor: the blocks the volume used then */
};

/* Everything about snapshots the volume must show. */
struct vstate {
	struct vsnap *v; /* oldest first, as wafl_snap_list() gives them */
	size_t n, cap;
	bool snapdir_visible;
	struct wafl_fh gone[GONE_MAX]; /* handles into deleted snapshots */
	unsigned ngone;
};

/* The model as it was after an operation, and what made that durable. */
struct snap {
	struct model m;
	struct vstate vs;
	struct wafl_stab st;
	unsigned long op;
};

struct run {
	struct wt t;
	const char *label;
	uint64_t seed, rng;
	uint64_t crng; /* for compare's own choices: comparing more or less
			* often does not change the operations */
	unsigned long op, nops;
	struct model m;
	struct vstate vst;  /* the volume's snapshots */
	uint32_t view;	    /* compare through this snapshot (0: the active fs) */
	uint64_t view_fsid; /* its fsid */
	uint64_t fsid;	    /* the active file system's */
	unsigned anchor_seq;
	struct snap *snaps; /* a crash is coming: the model after each operation */
	size_t nsnaps, capsnaps;
	struct wafl_stab last_stab; /* of the last operation */
	bool soft;		    /* a failing CHECK jumps to soft_jmp */
	jmp_buf soft_jmp;
	char soft_msg[1024];
	struct rd_acc rd; /* compare's buffers */
	struct ment *want;
	size_t capwant;
	uint64_t max_seq;	     /* newest NVLOG record since the last mount */
	bool stable_only;	     /* a crash is coming: every write is logged */
	struct wafl_stab cp_started; /* by the last "cp start" operation */
	uint64_t files_base;
	uint64_t epoch;
	unsigned bulk_id;
	bool trace;
	bool paranoid;	/* WAFL_MODEL_PARANOID: compare before closing, too */
	bool in_flight; /* crashes come with operations in flight */
	char ring[RING][256];
	unsigned long ring_op[RING];
	unsigned long nnotes;
	uint8_t *buf, *mbuf; /* IO_MAX + BS each */
	struct {
		unsigned long compares, cps, remounts, crashes, errors, eagain;
		unsigned long long bytes;
		unsigned long snap_creates, snap_deletes, snap_renames, snap_restores;
		unsigned long snap_compares, snap_reads, snap_erofs, audits, anchors_checked;
		unsigned long reclaim_waits, max_snaps;
	} st;
};

enum { F_DIR, F_REG, F_NONDIR, F_ANY };

/* ---- failing with enough to reproduce ------------------------------------ */

static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct run *r, const char *fmt, ...)
{
	unsigned i = (unsigned)(r->nnotes++ % RING);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->ring[i], sizeof(r->ring[i]), fmt, ap);
	va_end(ap);
	r->ring_op[i] = r->op;
	if (r->trace)
		fprintf(stderr, "model %s: op %lu: %s\n", r->label, r->op, r->ring[i]);
}

static void fail_at(struct run *r, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));

static void fail_at(struct run *r, const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->soft) {
		snprintf(r->soft_msg, sizeof(r->soft_msg), "%.700s [%.200s:%d]", msg, file, line);
		longjmp(r->soft_jmp, 1);
	}
	fprintf(stderr, "model: FAILED (%s) seed %llu at op %lu: %s [%s:%d]\n", r->label,
		(unsigned long long)r->seed, r->op, msg, file, line);
	fprintf(stderr, "model: the operations before it:\n");
	unsigned long from = r->nnotes > RING ? r->nnotes - RING : 0;
	for (unsigned long k = from; k < r->nnotes; k++)
		fprintf(stderr, "  op %lu: %s\n", r->ring_op[k % RING], r->ring[k % RING]);
	if (getenv("WAFL_MODEL_KEEP")) {
		fprintf(stderr, "model: disks kept in %s\n", r->t.dir);
	} else {
		for (unsigned i = 0; i < r->t.ndisks; i++)
			unlink(r->t.disk_path[i]);
		unlink(r->t.nvlog);
		rmdir(r->t.dir);
	}
	cr_assert_fail("model (%s): seed %llu, op %lu: %s [%s:%d]", r->label,
		       (unsigned long long)r->seed, r->op, msg, file, line);
	criterion_abort_test();
}

#define CHECK(r, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_at((r), __FILE__, __LINE__, __VA_ARGS__);                             \
	} while (0)

#define CHECK_RC(r, got, want, what)                                                               \
	CHECK((r), (got) == (want), "%s returned %d (%s), the model expects %d (%s)", (what),      \
	      (got), strerror(-(got)), (want), strerror(-(want)))

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? 2 * (cap) : 8;                                             \
			(arr) = realloc((arr), (cap) * sizeof(*(arr)));                            \
			cr_assert_not_null((arr));                                                 \
		}                                                                                  \
	} while (0)

/* Counts (and traces) the -EAGAINs: a full log, or too much dirty data. */
static int count_eagain(struct run *r, int rc)
{
	if (rc == -EAGAIN) {
		r->st.eagain++;
		if (r->trace)
			fprintf(stderr, "model %s: op %lu: -EAGAIN, retrying\n", r->label, r->op);
	}
	return rc;
}

/* Waits until no CP runs. Whether a CP is still running when an operation
 * comes depends on when the loop saw it end, that is on thread timing,
 * whenever the loop runs: so after every wait for something the test waits
 * for the CPs too, and a seed replays the same way every time. */
static void settle(struct run *r)
{
	for (;;) {
		struct wafl_aggr_info ai;
		wafl_aggr_info(r->t.a, &ai);
		if (!ai.cp_running)
			return;
		struct wafl_stab st = {.cp = ai.cp_count + 1};
		int rc = wt_wait(&r->t, &st);
		CHECK(r, rc == 0, "waiting for CP %llu: %d", (unsigned long long)st.cp, rc);
	}
}

/* WT_RETRY, and settle() if the operation had to wait. */
#define RETRY(r, expr)                                                                             \
	({                                                                                         \
		unsigned long _before = (r)->st.eagain;                                            \
		int _res = WT_RETRY(&(r)->t, count_eagain((r), (expr)));                           \
		if ((r)->st.eagain != _before)                                                     \
			settle(r);                                                                 \
		_res;                                                                              \
	})

/* ---- randomness --------------------------------------------------------- */

static uint64_t rnd(struct run *r)
{
	return wt_rand(&r->rng);
}

static uint64_t below(struct run *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct run *r, unsigned pct)
{
	return below(r, 100) < pct;
}

static uint64_t cbelow(struct run *r, uint64_t n)
{
	return n ? wt_rand(&r->crng) % n : 0;
}

static void fill_random(struct run *r, uint8_t *p, size_t len)
{
	uint64_t s = rnd(r);
	if ((s & 15) == 0) {
		memset(p, 0, len); /* zeros are data too: they must not become holes */
		return;
	}
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = wt_rand(&s);
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(p + i, &v, n);
	}
}

static struct timespec rand_time(struct run *r)
{
	struct timespec ts;
	ts.tv_sec = (time_t)below(r, 1ull << 32);
	if (chance(r, 5))
		ts.tv_sec = -(time_t)below(r, 1ull << 31); /* before 1970 */
	ts.tv_nsec = (long)below(r, 1000000000);
	return ts;
}

/* ---- model inodes -------------------------------------------------------- */

static uint32_t m_nlink(const struct mnode *n)
{
	if (n->type != WAFL_FT_DIR)
		return n->nlink;
	uint32_t k = 2;
	for (size_t i = 0; i < n->nents; i++)
		k += n->ents[i].node->type == WAFL_FT_DIR;
	return k;
}

static struct mnode *m_new(struct run *r, enum wafl_ftype type, const struct wafl_fh *fh)
{
	for (size_t i = 0; i < r->m.nnodes; i++)
		CHECK(r, r->m.nodes[i]->fh.ino != fh->ino,
		      "new inode %llu (gen %u) is still in use (gen %u)",
		      (unsigned long long)fh->ino, fh->gen, r->m.nodes[i]->fh.gen);
	CHECK(r, fh->ino < (1ull << 32) && fh->gen, "new inode %llu gen %u: out of range",
	      (unsigned long long)fh->ino, fh->gen);
	CHECK(r, !hs_has(&r->m.ever, hkey(fh)),
	      "new inode %llu gen %u: that handle was handed out before (a generation reused)",
	      (unsigned long long)fh->ino, fh->gen);
	hs_add(&r->m.ever, hkey(fh));
	struct mnode *n = calloc(1, sizeof(*n));
	cr_assert_not_null(n);
	n->type = type;
	n->fh = *fh;
	n->nlink = 1;
	GROW(r->m.nodes, r->m.nnodes, r->m.capnodes);
	n->slot = r->m.nnodes;
	r->m.nodes[r->m.nnodes++] = n;
	return n;
}

static void m_unref(struct mdata *d)
{
	if (--d->refs == 0)
		free(d);
}

static void m_node_free(struct model *m, struct mnode *n)
{
	for (size_t i = 0; i < n->nblks; i++)
		m_unref(n->blks[i].d);
	m->blocks -= n->nblks;
	for (size_t i = 0; i < n->nents; i++)
		free(n->ents[i].name);
	free(n->blks);
	free(n->target);
	free(n->ents);
	free(n);
}

/* Remembers a handle that must be stale from now on. */
static void m_dead_add(struct run *r, const struct wafl_fh *fh)
{
	if (r->m.ndead == DEAD_MAX)
		r->m.dead[below(r, DEAD_MAX)] = *fh;
	else {
		GROW(r->m.dead, r->m.ndead, r->m.capdead);
		r->m.dead[r->m.ndead++] = *fh;
	}
}

/* Removes an inode from the model; its handle becomes a stale one. */
static void m_free(struct run *r, struct mnode *n)
{
	struct mnode *last = r->m.nodes[--r->m.nnodes];
	r->m.nodes[n->slot] = last;
	last->slot = n->slot;
	m_dead_add(r, &n->fh);
	m_node_free(&r->m, n);
}

static long m_ent_index(const struct mnode *d, const char *name)
{
	for (size_t i = 0; i < d->nents; i++)
		if (!strcmp(d->ents[i].name, name))
			return (long)i;
	return -1;
}

/* What a name resolves to in a directory ("." and ".." included). */
static struct mnode *m_find(struct mnode *d, const char *name)
{
	if (!strcmp(name, "."))
		return d;
	if (!strcmp(name, ".."))
		return d->parent;
	long i = m_ent_index(d, name);
	return i < 0 ? NULL : d->ents[i].node;
}

static void m_add_ent(struct mnode *d, const char *name, struct mnode *n)
{
	GROW(d->ents, d->nents, d->capents);
	d->ents[d->nents].name = strdup(name);
	cr_assert_not_null(d->ents[d->nents].name);
	d->ents[d->nents++].node = n;
	if (n->type == WAFL_FT_DIR)
		n->parent = d;
}

static void m_del_ent(struct mnode *d, long i)
{
	free(d->ents[i].name);
	d->ents[i] = d->ents[--d->nents];
}

/* A name went away: the inode loses a link, and goes with its last. */
static void m_drop(struct run *r, struct mnode *n)
{
	if (n->type == WAFL_FT_DIR || --n->nlink == 0)
		m_free(r, n);
}

/* ---- model file data: a sorted array of 4 KiB blocks -------------------- */

static size_t m_blk_lb(const struct mnode *n, uint64_t fbn)
{
	size_t lo = 0, hi = n->nblks;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (n->blks[mid].fbn < fbn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Block i's bytes, to change: copied first if a snapshot shares them. */
static uint8_t *m_blk_own(struct mnode *n, size_t i)
{
	struct mdata *d = n->blks[i].d;
	if (d->refs > 1) {
		struct mdata *c = malloc(sizeof(*c));
		cr_assert_not_null(c);
		memcpy(c->b, d->b, BS);
		c->refs = 1;
		d->refs--;
		n->blks[i].d = d = c;
	}
	return d->b;
}

/* The block at fbn, to change; made (zeroed) if the file has none there. */
static uint8_t *m_blk(struct run *r, struct mnode *n, uint64_t fbn)
{
	size_t i = m_blk_lb(n, fbn);
	if (i < n->nblks && n->blks[i].fbn == fbn)
		return m_blk_own(n, i);
	GROW(n->blks, n->nblks, n->capblks);
	memmove(&n->blks[i + 1], &n->blks[i], (n->nblks - i) * sizeof(n->blks[0]));
	n->nblks++;
	n->blks[i].fbn = fbn;
	n->blks[i].d = calloc(1, sizeof(struct mdata));
	cr_assert_not_null(n->blks[i].d);
	n->blks[i].d->refs = 1;
	r->m.blocks++;
	return n->blks[i].d->b;
}

static void m_write(struct run *r, struct mnode *n, uint64_t off, uint32_t len, const uint8_t *p)
{
	uint32_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint32_t in = (uint32_t)(pos % BS), k = BS - in;
		if (k > len - done)
			k = len - done;
		memcpy(m_blk(r, n, pos / BS) + in, p + done, k);
		done += k;
	}
	if (off + len > n->size)
		n->size = off + len;
}

/* Reads len bytes at off (the caller keeps off + len within the size). */
static void m_read(const struct mnode *n, uint64_t off, uint32_t len, uint8_t *out)
{
	memset(out, 0, len);
	for (size_t i = m_blk_lb(n, off / BS); i < n->nblks; i++) {
		uint64_t b0 = n->blks[i].fbn * BS;
		if (b0 >= off + len)
			break;
		uint64_t s = b0 > off ? b0 : off;
		uint64_t e = b0 + BS < off + len ? b0 + BS : off + len;
		memcpy(out + (s - off), n->blks[i].d->b + (s - b0), e - s);
	}
}

static void m_truncate(struct run *r, struct mnode *n, uint64_t size)
{
	if (size < n->size) {
		size_t keep = m_blk_lb(n, (size + BS - 1) / BS);
		for (size_t i = keep; i < n->nblks; i++)
			m_unref(n->blks[i].d);
		r->m.blocks -= n->nblks - keep;
		n->nblks = keep;
		size_t i = m_blk_lb(n, size / BS);
		if (size % BS && i < n->nblks && n->blks[i].fbn == size / BS)
			memset(m_blk_own(n, i) + size % BS, 0, BS - size % BS);
	}
	n->size = size;
}

/* ---- snapshots of the model --------------------------------------------- */

/* A deep copy that shares file blocks (copied when either side writes). */
static void model_clone(const struct model *src, struct model *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->nnodes = dst->capnodes = src->nnodes;
	dst->nodes = malloc(src->nnodes * sizeof(*dst->nodes));
	cr_assert_not_null(dst->nodes);
	for (size_t i = 0; i < src->nnodes; i++) {
		dst->nodes[i] = malloc(sizeof(struct mnode));
		cr_assert_not_null(dst->nodes[i]);
		*dst->nodes[i] = *src->nodes[i];
	}
	for (size_t i = 0; i < src->nnodes; i++) {
		const struct mnode *s = src->nodes[i];
		struct mnode *n = dst->nodes[i];
		n->capblks = n->nblks;
		n->blks = NULL;
		if (s->nblks) {
			n->blks = malloc(s->nblks * sizeof(*n->blks));
			cr_assert_not_null(n->blks);
			memcpy(n->blks, s->blks, s->nblks * sizeof(*n->blks));
			for (size_t k = 0; k < s->nblks; k++)
				n->blks[k].d->refs++;
		}
		n->target = s->target ? strdup(s->target) : NULL;
		n->capents = n->nents;
		n->ents = NULL;
		if (s->nents) {
			n->ents = malloc(s->nents * sizeof(*n->ents));
			cr_assert_not_null(n->ents);
		}
		for (size_t k = 0; k < s->nents; k++) {
			n->ents[k].name = strdup(s->ents[k].name);
			cr_assert_not_null(n->ents[k].name);
			n->ents[k].node = dst->nodes[s->ents[k].node->slot];
		}
		n->parent = s->parent ? dst->nodes[s->parent->slot] : NULL;
	}
	dst->root = dst->nodes[src->root->slot];
	dst->ndead = dst->capdead = src->ndead;
	dst->dead = NULL;
	if (src->ndead) {
		dst->dead = malloc(src->ndead * sizeof(*dst->dead));
		cr_assert_not_null(dst->dead);
		memcpy(dst->dead, src->dead, src->ndead * sizeof(*dst->dead));
	}
	dst->blocks = src->blocks;
	hs_copy(&src->ever, &dst->ever);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->nnodes; i++)
		m_node_free(m, m->nodes[i]);
	free(m->nodes);
	free(m->dead);
	hs_free(&m->ever);
	memset(m, 0, sizeof(*m));
}

static void vstate_free(struct vstate *s)
{
	for (size_t i = 0; i < s->n; i++)
		model_free(&s->v[i].m);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void vstate_clone(const struct vstate *src, struct vstate *dst)
{
	*dst = *src;
	dst->v = NULL;
	dst->cap = src->n;
	if (!src->n)
		return;
	dst->v = malloc(src->n * sizeof(*dst->v));
	cr_assert_not_null(dst->v);
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		model_clone(&src->v[i].m, &dst->v[i].m);
	}
}

static struct vsnap *vs_find(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->vst.n; i++)
		if (!strcmp(r->vst.v[i].name, name))
			return &r->vst.v[i];
	return NULL;
}

/* The node with this handle in m, or NULL. */
static struct mnode *m_by_fh(const struct model *m, const struct wafl_fh *fh)
{
	for (size_t i = 0; i < m->nnodes; i++)
		if (m->nodes[i]->fh.ino == fh->ino && m->nodes[i]->fh.gen == fh->gen)
			return m->nodes[i];
	return NULL;
}

/* ---- describing things in the operation log ----------------------------- */

/* A short form of a name (long ones abridged); four rotating buffers. */
static const char *sh(const char *name)
{
	static char b[4][64];
	static unsigned k;
	char *o = b[k++ % 4];
	size_t len = strlen(name);
	if (len <= 24)
		snprintf(o, 64, "\"%s\"", name);
	else
		snprintf(o, 64, "\"%.12s...\"(len %zu)", name, len);
	return o;
}

static void dir_path(const struct mnode *d, char *out, size_t size)
{
	if (d == d->parent) {
		snprintf(out, size, "/");
		return;
	}
	char up[512];
	dir_path(d->parent, up, sizeof(up));
	const char *name = "?";
	for (size_t i = 0; i < d->parent->nents; i++)
		if (d->parent->ents[i].node == d)
			name = d->parent->ents[i].name;
	snprintf(out, size, "%s%s%.24s", up, strcmp(up, "/") ? "/" : "", name);
}

static const char *hdesc(const struct hd *h)
{
	static char b[4][600];
	static unsigned k;
	char *o = b[k++ % 4];
	if (!h->n)
		snprintf(o, 600, "stale(vol %u snap %u ino %llu gen %u)", h->fh.volid, h->fh.snapid,
			 (unsigned long long)h->fh.ino, h->fh.gen);
	else if (h->n->type == WAFL_FT_DIR)
		dir_path(h->n, o, 600);
	else
		snprintf(o, 600, "ino %llu", (unsigned long long)h->fh.ino);
	return o;
}

/* ---- choosing what to operate on ----------------------------------------- */

static bool kind_ok(const struct mnode *n, int kind)
{
	switch (kind) {
	case F_DIR:
		return n->type == WAFL_FT_DIR;
	case F_REG:
		return n->type == WAFL_FT_REG;
	case F_NONDIR:
		return n->type != WAFL_FT_DIR;
	default:
		return true;
	}
}

static size_t count_kind(struct run *r, int kind)
{
	size_t k = 0;
	for (size_t i = 0; i < r->m.nnodes; i++)
		k += kind_ok(r->m.nodes[i], kind);
	return k;
}

static struct mnode *pick_node(struct run *r, int kind)
{
	size_t cnt = count_kind(r, kind);
	if (!cnt)
		return NULL;
	size_t k = below(r, cnt);
	for (size_t i = 0; i < r->m.nnodes; i++)
		if (kind_ok(r->m.nodes[i], kind) && k-- == 0)
			return r->m.nodes[i];
	return NULL;
}

/* Mostly a live inode of the kind asked for; sometimes another kind, a
 * removed inode's handle, or a handle that never was. */
static struct hd pick_handle(struct run *r, int kind)
{
	struct hd h = {{0}, NULL};
	unsigned p = (unsigned)below(r, 100);
	if (p < 3 && r->m.ndead) {
		h.fh = r->m.dead[below(r, r->m.ndead)];
		return h;
	}
	if (p < 4) {
		h.fh = r->m.nodes[below(r, r->m.nnodes)]->fh;
		switch (below(r, 4)) {
		case 0:
			h.fh.gen++;
			break;
		case 1:
			h.fh.ino = 1ull << 50;
			break;
		case 2:
			h.fh.volid += 7;
			break;
		default:
			h.fh.snapid = 0x7fff0000u; /* a snapshot that never was */
			break;
		}
		return h;
	}
	if (p < 8)
		kind = F_ANY;
	h.n = pick_node(r, kind);
	if (!h.n)
		h.n = r->m.root;
	h.fh = h.n->fh;
	return h;
}

static const char *const name_pool[] = {
	"a",
	"b",
	"c",
	"d",
	"e",
	"f",
	"g",
	"h",
	"x.dat",
	"with space",
	"\xc3\xa9t\xc3\xa9",
	"UPPER",
	".hidden",
	"..x",
	"-",
	"0",
};

static void long_name(char *out, unsigned k, size_t len)
{
	memset(out, 'n', len);
	out[0] = 'L';
	out[1] = (char)('0' + k);
	out[len] = 0;
}

/* A name from a small pool (so names collide), sometimes 255 bytes long,
 * sometimes one the file system must refuse. */
static void pick_name(struct run *r, char *out)
{
	unsigned p = (unsigned)below(r, 1000);
	if (p < 15)
		strcpy(out, ".");
	else if (p < 30)
		strcpy(out, "..");
	else if (p < 38)
		strcpy(out, "");
	else if (p < 46)
		strcpy(out, "a/b");
	else if (p < 56)
		long_name(out, (unsigned)below(r, 4), WAFL_NAME_MAX + 1);
	else if (p < 110)
		long_name(out, (unsigned)below(r, 4), WAFL_NAME_MAX);
	else
		strcpy(out, name_pool[below(r, sizeof(name_pool) / sizeof(name_pool[0]))]);
}

/* An existing entry of d (pct% of the time, when it has one), else a pool name. */
static void pick_name_in(struct run *r, const struct hd *d, unsigned pct, char *out)
{
	if (d->n && d->n->type == WAFL_FT_DIR && d->n->nents && chance(r, pct))
		strcpy(out, d->n->ents[below(r, d->n->nents)].name);
	else
		pick_name(r, out);
}

/* ---- comparing one inode ------------------------------------------------- */

static uint64_t m_size(const struct mnode *n)
{
	switch (n->type) {
	case WAFL_FT_REG:
		return n->size;
	case WAFL_FT_LNK:
		return strlen(n->target);
	default:
		return 0;
	}
}

/* n's handle in the current view: the active file system or a snapshot. */
static struct wafl_fh vfh(const struct run *r, const struct mnode *n)
{
	struct wafl_fh fh = n->fh;
	fh.snapid = r->view;
	return fh;
}

static void cmp_attr(struct run *r, const struct mnode *n, const struct wafl_attr *a,
		     const char *where)
{
	unsigned long long ino = (unsigned long long)n->fh.ino;
	CHECK(r, a->type == n->type, "%s: ino %llu type %d, model %d", where, ino, a->type,
	      n->type);
	CHECK(r, a->ino == n->fh.ino && a->gen == n->fh.gen,
	      "%s: attr names ino %llu gen %u, model ino %llu gen %u", where,
	      (unsigned long long)a->ino, a->gen, ino, n->fh.gen);
	CHECK(r, a->mode == n->mode, "%s: ino %llu mode %04o, model %04o", where, ino, a->mode,
	      n->mode);
	CHECK(r, a->nlink == m_nlink(n), "%s: ino %llu nlink %u, model %u", where, ino, a->nlink,
	      m_nlink(n));
	CHECK(r, a->uid == n->uid && a->gid == n->gid, "%s: ino %llu uid/gid %u/%u, model %u/%u",
	      where, ino, a->uid, a->gid, n->uid, n->gid);
	if (n->type != WAFL_FT_DIR)
		CHECK(r, a->size == m_size(n), "%s: ino %llu size %llu, model %llu", where, ino,
		      (unsigned long long)a->size, (unsigned long long)m_size(n));
	if (n->type == WAFL_FT_BLK || n->type == WAFL_FT_CHR)
		CHECK(r, a->rdev_major == n->rdev_major && a->rdev_minor == n->rdev_minor,
		      "%s: ino %llu rdev %u:%u, model %u:%u", where, ino, a->rdev_major,
		      a->rdev_minor, n->rdev_major, n->rdev_minor);
	if (n->atime_known)
		CHECK(r, a->atime.tv_sec == n->atime.tv_sec && a->atime.tv_nsec == n->atime.tv_nsec,
		      "%s: ino %llu atime %lld.%09ld, set to %lld.%09ld", where, ino,
		      (long long)a->atime.tv_sec, a->atime.tv_nsec, (long long)n->atime.tv_sec,
		      n->atime.tv_nsec);
	if (n->mtime_known)
		CHECK(r, a->mtime.tv_sec == n->mtime.tv_sec && a->mtime.tv_nsec == n->mtime.tv_nsec,
		      "%s: ino %llu mtime %lld.%09ld, set to %lld.%09ld", where, ino,
		      (long long)a->mtime.tv_sec, a->mtime.tv_nsec, (long long)n->mtime.tv_sec,
		      n->mtime.tv_nsec);
	if (!r->view)
		return;
	/* in a snapshot: every time as it was when the snapshot was taken */
	CHECK(r, a->fsid == r->view_fsid, "%s: ino %llu fsid %#llx, its snapshot's %#llx", where,
	      ino, (unsigned long long)a->fsid, (unsigned long long)r->view_fsid);
	CHECK(r, ts_eq(a->atime, n->t_a) && ts_eq(a->mtime, n->t_m) && ts_eq(a->ctime, n->t_c),
	      "%s: ino %llu times a/m/c %lld.%09ld/%lld.%09ld/%lld.%09ld, when the snapshot was "
	      "taken %lld.%09ld/%lld.%09ld/%lld.%09ld",
	      where, ino, (long long)a->atime.tv_sec, a->atime.tv_nsec, (long long)a->mtime.tv_sec,
	      a->mtime.tv_nsec, (long long)a->ctime.tv_sec, a->ctime.tv_nsec,
	      (long long)n->t_a.tv_sec, n->t_a.tv_nsec, (long long)n->t_m.tv_sec, n->t_m.tv_nsec,
	      (long long)n->t_c.tv_sec, n->t_c.tv_nsec);
}

/* Reads [off, off + len) and compares it, the count and eof with the model. */
static void cmp_range(struct run *r, struct mnode *n, uint64_t off, uint32_t len, const char *where)
{
	uint32_t got = 0;
	bool eof = false;
	struct wafl_fh fh = vfh(r, n);
	int rc = RETRY(r, wafl_read(r->t.v, NULL, &fh, off, len, r->buf, &got, &eof));
	CHECK(r, rc == 0, "%s: read ino %llu [%llu, +%u) failed: %d", where,
	      (unsigned long long)n->fh.ino, (unsigned long long)off, len, rc);
	uint32_t want = 0;
	if (off < n->size)
		want = n->size - off < len ? (uint32_t)(n->size - off) : len;
	CHECK(r, got == want, "%s: read ino %llu [%llu, +%u) got %u bytes, model %u (size %llu)",
	      where, (unsigned long long)n->fh.ino, (unsigned long long)off, len, got, want,
	      (unsigned long long)n->size);
	CHECK(r, eof == (off + got >= n->size), "%s: read ino %llu [%llu, +%u): eof %d, size %llu",
	      where, (unsigned long long)n->fh.ino, (unsigned long long)off, len, eof,
	      (unsigned long long)n->size);
	m_read(n, off, want, r->mbuf);
	if (memcmp(r->buf, r->mbuf, want)) {
		uint32_t i = 0;
		while (r->buf[i] == r->mbuf[i])
			i++;
		fail_at(r, __FILE__, __LINE__,
			"%s: ino %llu (size %llu) byte %llu is 0x%02x, model 0x%02x", where,
			(unsigned long long)n->fh.ino, (unsigned long long)n->size,
			(unsigned long long)(off + i), r->buf[i], r->mbuf[i]);
	}
}

/* Every byte below DENSE_BYTES; beyond it, every block the model holds with
 * its neighbours, a few holes, and the tail. */
static void cmp_content(struct run *r, struct mnode *n, const char *where)
{
	uint64_t dense = n->size < DENSE_BYTES ? n->size : DENSE_BYTES;
	for (uint64_t off = 0; off < dense;) {
		uint32_t len = (cbelow(r, 100) < 50) ? IO_MAX : (uint32_t)(1 + cbelow(r, IO_MAX));
		cmp_range(r, n, off, len, where);
		off += len;
	}
	if (n->size > dense) {
		for (size_t i = m_blk_lb(n, DENSE_BYTES / BS); i < n->nblks; i++) {
			uint64_t b0 = n->blks[i].fbn * BS;
			cmp_range(r, n, b0 - 100, BS + 200, where);
		}
		for (int k = 0; k < 4; k++)
			cmp_range(r, n, dense + cbelow(r, n->size - dense), BS, where);
		uint64_t tail = n->size - dense < 2 * BS ? n->size - dense : 2 * BS;
		cmp_range(r, n, n->size - tail, (uint32_t)tail + 10, where);
	}
	cmp_range(r, n, n->size, 10, where);
}

static void cmp_link(struct run *r, struct mnode *n, const char *where)
{
	char buf[WAFL_PATH_MAX + 2];
	size_t len = 0;
	struct wafl_fh fh = vfh(r, n);
	int rc = RETRY(r, wafl_readlink(r->t.v, NULL, &fh, buf, sizeof(buf), &len));
	CHECK(r, rc == 0, "%s: readlink ino %llu: %d", where, (unsigned long long)n->fh.ino, rc);
	CHECK(r, len == strlen(n->target) && !memcmp(buf, n->target, len),
	      "%s: readlink ino %llu gave %zu bytes \"%.40s\", model %zu \"%.40s\"", where,
	      (unsigned long long)n->fh.ino, len, buf, strlen(n->target), n->target);
}

/* getattr through the kept handle, compared. */
static void cmp_handle(struct run *r, struct mnode *n, const char *where)
{
	struct wafl_attr at;
	struct wafl_fh fh = vfh(r, n);
	int rc = RETRY(r, wafl_getattr(r->t.v, &fh, &at));
	CHECK(r, rc == 0, "%s: getattr ino %llu: %d", where, (unsigned long long)n->fh.ino, rc);
	cmp_attr(r, n, &at, where);
}

/* ---- comparing a directory ----------------------------------------------- */

static int rd_cb(void *arg, const struct wafl_dirent *e)
{
	struct rd_acc *a = arg;
	if (a->limit && a->taken == a->limit)
		return 1;
	GROW(a->e, a->n, a->cap);
	struct rd_ent *x = &a->e[a->n++];
	size_t len = e->namelen;
	if (len > WAFL_NAME_MAX || strlen(e->name) != len) {
		a->bad_len = true;
		len = len > WAFL_NAME_MAX ? WAFL_NAME_MAX : len;
	}
	memcpy(x->name, e->name, len);
	x->name[len] = 0;
	x->ino = e->ino;
	x->cookie = e->cookie;
	x->type = e->type;
	a->taken++;
	return 0;
}

static int rd_name_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rd_ent *)x)->name, ((const struct rd_ent *)y)->name);
}

static int ment_name_cmp(const void *x, const void *y)
{
	return strcmp(((const struct ment *)x)->name, ((const struct ment *)y)->name);
}

/* Reads the whole directory, in random slices resumed from the last cookie. */
static void read_dir(struct run *r, struct mnode *d, struct rd_acc *acc, const char *where)
{
	uint64_t cookie = 0;
	for (int rounds = 0;; rounds++) {
		CHECK(r, rounds < 100000, "%s: readdir does not end", where);
		acc->taken = 0;
		acc->limit = (cbelow(r, 100) < 30) ? 1 + cbelow(r, 40) : 0;
		bool eof = false;
		struct wafl_fh fh = vfh(r, d);
		int rc = RETRY(r, wafl_readdir(r->t.v, NULL, &fh, cookie, rd_cb, acc, &eof));
		CHECK(r, rc == 0, "%s: readdir from cookie %llu: %d", where,
		      (unsigned long long)cookie, rc);
		if (acc->taken)
			cookie = acc->e[acc->n - 1].cookie;
		if (eof)
			break;
		CHECK(r, acc->taken, "%s: readdir from cookie %llu returned nothing, not eof",
		      where, (unsigned long long)cookie);
	}
	CHECK(r, !acc->bad_len, "%s: readdir gave a name whose length is wrong", where);
}

static void cmp_dir(struct run *r, struct mnode *d, const char *path, bool recurse);

static void cmp_node(struct run *r, struct mnode *n, const char *path, bool recurse)
{
	struct wafl_attr at;
	struct wafl_fh nfh = vfh(r, n);
	int rc = RETRY(r, wafl_getattr(r->t.v, &nfh, &at));
	CHECK(r, rc == 0, "%s: getattr of the kept handle (ino %llu gen %u): %d", path,
	      (unsigned long long)n->fh.ino, n->fh.gen, rc);
	cmp_attr(r, n, &at, path);
	if (n->seen == r->epoch)
		return;
	n->seen = r->epoch;
	if (n->type == WAFL_FT_REG)
		cmp_content(r, n, path);
	else if (n->type == WAFL_FT_LNK)
		cmp_link(r, n, path);
	else if (n->type == WAFL_FT_DIR && recurse)
		cmp_dir(r, n, path, true);
}

static void cmp_dir(struct run *r, struct mnode *d, const char *path, bool recurse)
{
	/* run-owned buffers: a soft compare may jump out of here */
	struct rd_acc *acc = &r->rd;
	acc->n = 0;
	acc->bad_len = false;
	read_dir(r, d, acc, path);
	CHECK(r,
	      acc->n >= 2 && !strcmp(acc->e[0].name, ".") && acc->e[0].cookie == 1 &&
		      acc->e[0].ino == d->fh.ino && acc->e[0].type == WAFL_FT_DIR,
	      "%s: readdir does not start with \".\" (cookie 1, ino %llu)", path,
	      (unsigned long long)d->fh.ino);
	CHECK(r,
	      !strcmp(acc->e[1].name, "..") && acc->e[1].cookie == 2 &&
		      acc->e[1].ino == d->parent->fh.ino && acc->e[1].type == WAFL_FT_DIR,
	      "%s: second entry is %s cookie %llu ino %llu, not \"..\" (2, ino %llu)", path,
	      sh(acc->e[1].name), (unsigned long long)acc->e[1].cookie,
	      (unsigned long long)acc->e[1].ino, (unsigned long long)d->parent->fh.ino);
	if (!r->view && r->vst.snapdir_visible) {
		/* listed third, in every directory of the active file system */
		CHECK(r,
		      acc->n >= 3 && !strcmp(acc->e[2].name, WAFL_SNAPDIR_NAME) &&
			      acc->e[2].cookie == 3 && acc->e[2].type == WAFL_FT_DIR,
		      "%s: \".snapshot\" is visible but not listed third with cookie 3 (%s, "
		      "cookie %llu)",
		      path, acc->n >= 3 ? sh(acc->e[2].name) : "nothing",
		      acc->n >= 3 ? (unsigned long long)acc->e[2].cookie : 0ull);
	}
	for (size_t i = 2; i < acc->n; i++)
		CHECK(r, acc->e[i].cookie > acc->e[i - 1].cookie && acc->e[i].cookie > 2,
		      "%s: cookie of %s (%llu) not above the one before (%llu)", path,
		      sh(acc->e[i].name), (unsigned long long)acc->e[i].cookie,
		      (unsigned long long)acc->e[i - 1].cookie);
	if (!r->view && r->vst.snapdir_visible) {
		memmove(&acc->e[2], &acc->e[3], (acc->n - 3) * sizeof(acc->e[0]));
		acc->n--;
	}
	qsort(acc->e + 2, acc->n - 2, sizeof(acc->e[0]), rd_name_cmp);
	if (d->nents + 1 > r->capwant) {
		r->capwant = 2 * (d->nents + 1);
		r->want = realloc(r->want, r->capwant * sizeof(*r->want));
		cr_assert_not_null(r->want);
	}
	struct ment *want = r->want;
	if (d->nents)
		memcpy(want, d->ents, d->nents * sizeof(*want));
	qsort(want, d->nents, sizeof(*want), ment_name_cmp);
	size_t i = 0, k = 2;
	while (i < d->nents || k < acc->n) {
		int c = i == d->nents ? 1 : k == acc->n ? -1 : strcmp(want[i].name, acc->e[k].name);
		CHECK(r, c >= 0, "%s: readdir misses %s (ino %llu)", path, sh(want[i].name),
		      (unsigned long long)want[i].node->fh.ino);
		CHECK(r, c <= 0, "%s: readdir lists %s (ino %llu), which the model has not%s", path,
		      sh(acc->e[k].name), (unsigned long long)acc->e[k].ino,
		      k > 2 && !strcmp(acc->e[k].name, acc->e[k - 1].name) ? " (twice)" : "");
		CHECK(r,
		      acc->e[k].ino == want[i].node->fh.ino && acc->e[k].type == want[i].node->type,
		      "%s: readdir entry %s is ino %llu type %d, model ino %llu type %d", path,
		      sh(want[i].name), (unsigned long long)acc->e[k].ino, acc->e[k].type,
		      (unsigned long long)want[i].node->fh.ino, want[i].node->type);
		i++;
		k++;
	}
	/* "." and ".." through lookup */
	struct wafl_fh fh, dfh = vfh(r, d);
	struct wafl_attr at;
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, &dfh, ".", &fh, &at));
	CHECK(r, rc == 0 && fh.ino == d->fh.ino && fh.gen == d->fh.gen && fh.snapid == r->view,
	      "%s: lookup \".\": %d", path, rc);
	rc = RETRY(r, wafl_lookup(r->t.v, NULL, &dfh, "..", &fh, &at));
	CHECK(r,
	      rc == 0 && fh.ino == d->parent->fh.ino && fh.gen == d->parent->fh.gen &&
		      fh.snapid == r->view,
	      "%s: lookup \"..\": %d (ino %llu snapid %u)", path, rc, (unsigned long long)fh.ino,
	      fh.snapid);
	/* every name through lookup, then the inode itself */
	for (size_t j = 0; j < d->nents; j++) {
		struct mnode *n = d->ents[j].node;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s%s%.40s", path, strcmp(path, "/") ? "/" : "",
			 d->ents[j].name);
		rc = RETRY(r, wafl_lookup(r->t.v, NULL, &dfh, d->ents[j].name, &fh, &at));
		CHECK(r, rc == 0, "%s: lookup: %d", sub, rc);
		CHECK(r,
		      fh.volid == n->fh.volid && fh.snapid == r->view && fh.ino == n->fh.ino &&
			      fh.gen == n->fh.gen,
		      "%s: lookup gives ino %llu gen %u snapid %u, model ino %llu gen %u snapid %u",
		      sub, (unsigned long long)fh.ino, fh.gen, fh.snapid,
		      (unsigned long long)n->fh.ino, n->fh.gen, r->view);
		cmp_attr(r, n, &at, sub);
		cmp_node(r, n, sub, recurse);
	}
}

/* Reads the ".snapshot" directory of dir (active handle) into acc. */
static int read_snapdir(struct run *r, const struct wafl_fh *dir, struct rd_acc *acc,
			struct wafl_fh *sd)
{
	struct wafl_attr at;
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, dir, WAFL_SNAPDIR_NAME, sd, &at));
	if (rc)
		return rc;
	CHECK(r, sd->snapid == WAFL_SNAPID_DIR && sd->ino == dir->ino && at.type == WAFL_FT_DIR,
	      "lookup \".snapshot\" in ino %llu gave snapid %u ino %llu type %d",
	      (unsigned long long)dir->ino, sd->snapid, (unsigned long long)sd->ino, at.type);
	acc->n = 0;
	acc->limit = 0;
	acc->bad_len = false;
	uint64_t cookie = 0;
	for (int rounds = 0;; rounds++) {
		CHECK(r, rounds < 1000, "readdir of .snapshot does not end");
		acc->taken = 0;
		acc->limit = cbelow(r, 100) < 30 ? 1 + cbelow(r, 3) : 0;
		bool eof = false;
		rc = RETRY(r, wafl_readdir(r->t.v, NULL, sd, cookie, rd_cb, acc, &eof));
		if (rc)
			return rc;
		if (acc->taken)
			cookie = acc->e[acc->n - 1].cookie;
		if (eof)
			break;
	}
	acc->limit = 0;
	return 0;
}

/* The snapshots in dir's ".snapshot" against the model's: those that have
 * the directory (same inode and generation), oldest first. */
static void cmp_snapdir(struct run *r, const struct mnode *d, const char *why)
{
	struct rd_acc *acc = &r->rd;
	struct wafl_fh sd;
	int rc = read_snapdir(r, &d->fh, acc, &sd);
	CHECK(r, rc == 0, "%s: reading .snapshot of ino %llu: %d", why,
	      (unsigned long long)d->fh.ino, rc);
	CHECK(r, acc->n >= 2 && !strcmp(acc->e[0].name, ".") && !strcmp(acc->e[1].name, ".."),
	      "%s: .snapshot of ino %llu does not start with . and ..", why,
	      (unsigned long long)d->fh.ino);
	size_t k = 2;
	for (size_t i = 0; i < r->vst.n; i++) {
		const struct vsnap *vs = &r->vst.v[i];
		const struct mnode *x = m_by_fh(&vs->m, &d->fh);
		if (!x || x->type != WAFL_FT_DIR)
			continue;
		CHECK(r, k < acc->n && !strcmp(acc->e[k].name, vs->name),
		      "%s: .snapshot of ino %llu lists %s where the model has %s", why,
		      (unsigned long long)d->fh.ino, k < acc->n ? sh(acc->e[k].name) : "nothing",
		      sh(vs->name));
		CHECK(r, acc->e[k].cookie == 2ull + vs->snapid && acc->e[k].type == WAFL_FT_DIR,
		      "%s: .snapshot entry %s has cookie %llu type %d (snapid %u)", why,
		      sh(vs->name), (unsigned long long)acc->e[k].cookie, acc->e[k].type,
		      vs->snapid);
		k++;
	}
	CHECK(r, k == acc->n, "%s: .snapshot of ino %llu lists %s, which the model has not", why,
	      (unsigned long long)d->fh.ino, k < acc->n ? sh(acc->e[k].name) : "?");
}

/* The volume's list of snapshots and what it says of their space. */
static void cmp_snaplist(struct run *r, const char *why)
{
	struct wafl_snap_info si[VSNAP_MAX + 1];
	unsigned n = 0;
	int rc = wafl_snap_list(r->t.v, si, VSNAP_MAX + 1, &n, true);
	CHECK(r, rc == 0, "%s: wafl_snap_list: %d", why, rc);
	CHECK(r, n == r->vst.n, "%s: %u snapshots, the model has %zu", why, n, r->vst.n);
	uint64_t own = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct vsnap *vs = &r->vst.v[i];
		CHECK(r, !strcmp(si[i].name, vs->name) && si[i].snapid == vs->snapid,
		      "%s: snapshot %u is %s (id %u), the model's %s (id %u)", why, i,
		      sh(si[i].name), si[i].snapid, sh(vs->name), vs->snapid);
		CHECK(r, si[i].cp, "%s: snapshot %s has no CP", why, sh(vs->name));
		own += si[i].own_blocks;
	}
	struct wafl_vol_info vi;
	wafl_vol_info(r->t.v, &vi);
	CHECK(r, vi.nsnaps == n, "%s: vol info says %u snapshots, the list %u", why, vi.nsnaps, n);
	CHECK(r, vi.snapdir_visible == r->vst.snapdir_visible, "%s: .snapshot visible %d, model %d",
	      why, vi.snapdir_visible, r->vst.snapdir_visible);
	/* blocks held by one snapshot alone are a part of those held by any */
	CHECK(r, own <= vi.snap_blocks,
	      "%s: the snapshots alone hold %llu blocks, but snap_blocks is %llu", why,
	      (unsigned long long)own, (unsigned long long)vi.snap_blocks);
	if (!vi.reclaiming_blocks && n <= 1)
		CHECK(r, own == vi.snap_blocks,
		      "%s: %u snapshots holding %llu blocks of their own, snap_blocks %llu", why, n,
		      (unsigned long long)own, (unsigned long long)vi.snap_blocks);
	/* the root has every snapshot */
	cmp_snapdir(r, r->m.root, why);
}

/* The whole volume against the whole model. */
static void compare(struct run *r, const char *why)
{
	note(r, "compare (%s)", why);
	r->epoch++;
	struct wafl_fh root;
	CHECK(r, wafl_root(r->t.v, &root) == 0, "%s: wafl_root failed", why);
	CHECK(r,
	      root.ino == r->m.root->fh.ino && root.gen == r->m.root->fh.gen &&
		      root.volid == r->m.root->fh.volid,
	      "%s: the root handle changed", why);
	cmp_node(r, r->m.root, "/", true);
	for (size_t i = 0; i < r->m.nnodes; i++)
		CHECK(r, r->m.nodes[i]->seen == r->epoch,
		      "%s: model inode %llu not reached (model bug)", why,
		      (unsigned long long)r->m.nodes[i]->fh.ino);
	for (unsigned k = 0; k < 16 && r->m.ndead; k++) {
		struct wafl_fh fh = r->m.dead[cbelow(r, r->m.ndead)];
		struct wafl_attr at;
		int rc = wafl_getattr(r->t.v, &fh, &at);
		CHECK(r, rc == -ESTALE, "%s: getattr of removed ino %llu gen %u: %d, not ESTALE",
		      why, (unsigned long long)fh.ino, fh.gen, rc);
	}
	struct wafl_vol_info vi;
	wafl_vol_info(r->t.v, &vi);
	CHECK(r, vi.files_used == r->files_base + r->m.nnodes - 1,
	      "%s: files_used %llu, model %llu", why, (unsigned long long)vi.files_used,
	      (unsigned long long)(r->files_base + r->m.nnodes - 1));
	for (unsigned k = 0; k < 4 && r->vst.ngone; k++) {
		struct wafl_fh fh = r->vst.gone[cbelow(r, r->vst.ngone)];
		struct wafl_attr at;
		int rc = wafl_getattr(r->t.v, &fh, &at);
		CHECK(r, rc == -ESTALE,
		      "%s: getattr of ino %llu in deleted snapshot %u: %d, not ESTALE", why,
		      (unsigned long long)fh.ino, fh.snapid, rc);
	}
	cmp_snaplist(r, why);
	r->st.compares++;
}

/* The root of snapshot vs, through ".snapshot" of the active root. */
static struct wafl_fh snap_root(struct run *r, const struct vsnap *vs, struct wafl_attr *at,
				const char *why)
{
	struct wafl_fh root, sd, sr;
	CHECK(r, wafl_root(r->t.v, &root) == 0, "%s: wafl_root failed", why);
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, &root, WAFL_SNAPDIR_NAME, &sd, at));
	CHECK(r, rc == 0 && sd.snapid == WAFL_SNAPID_DIR, "%s: lookup /.snapshot: %d (snapid %u)",
	      why, rc, sd.snapid);
	rc = RETRY(r, wafl_lookup(r->t.v, NULL, &sd, vs->name, &sr, at));
	CHECK(r, rc == 0, "%s: lookup /.snapshot/%s: %d", why, sh(vs->name), rc);
	CHECK(r,
	      sr.volid == root.volid && sr.snapid == vs->snapid && sr.ino == vs->m.root->fh.ino &&
		      sr.gen == vs->m.root->fh.gen,
	      "%s: /.snapshot/%s is vol %u snapid %u ino %llu gen %u, model snapid %u ino %llu "
	      "gen %u",
	      why, sh(vs->name), sr.volid, sr.snapid, (unsigned long long)sr.ino, sr.gen,
	      vs->snapid, (unsigned long long)vs->m.root->fh.ino, vs->m.root->fh.gen);
	return sr;
}

/* Snapshot vs, walked from ".snapshot/NAME" of the root, against the model
 * as it was when it was taken: names, attributes, times, every byte. */
static void compare_snap(struct run *r, struct vsnap *vs, const char *why)
{
	note(r, "compare snapshot %s (id %u, taken after op %lu) (%s)", sh(vs->name), vs->snapid,
	     vs->op, why);
	struct wafl_attr at;
	struct wafl_fh sr = snap_root(r, vs, &at, why);
	CHECK(r, at.fsid == vs->fsid, "%s: snapshot %s fsid %#llx, was %#llx", why, sh(vs->name),
	      (unsigned long long)at.fsid, (unsigned long long)vs->fsid);
	struct wafl_fh x;
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, &sr, WAFL_SNAPDIR_NAME, &x, &at));
	CHECK(r, rc == -ENOENT, "%s: lookup .snapshot inside snapshot %s: %d, not ENOENT", why,
	      sh(vs->name), rc);
	char path[128];
	snprintf(path, sizeof(path), "/.snapshot/%s", vs->name);
	struct model saved = r->m;
	r->m = vs->m;
	r->view = vs->snapid;
	r->view_fsid = vs->fsid;
	r->epoch++;
	cmp_node(r, r->m.root, path, true);
	for (size_t i = 0; i < r->m.nnodes; i++)
		CHECK(r, r->m.nodes[i]->seen == r->epoch,
		      "%s: inode %llu of snapshot %s not reached (model bug)", why,
		      (unsigned long long)r->m.nodes[i]->fh.ino, sh(vs->name));
	for (unsigned k = 0; k < 8 && r->m.ndead; k++) {
		struct wafl_fh fh = r->m.dead[cbelow(r, r->m.ndead)];
		fh.snapid = vs->snapid;
		rc = wafl_getattr(r->t.v, &fh, &at);
		CHECK(r, rc == -ESTALE,
		      "%s: getattr of ino %llu gen %u, removed before snapshot %s: %d, not ESTALE",
		      why, (unsigned long long)fh.ino, fh.gen, sh(vs->name), rc);
	}
	r->view = 0;
	vs->m = r->m;
	r->m = saved;
	/* files made since are not in it */
	for (unsigned k = 0; k < 8; k++) {
		struct mnode *n = r->m.nodes[cbelow(r, r->m.nnodes)];
		if (m_by_fh(&vs->m, &n->fh))
			continue;
		struct wafl_fh fh = n->fh;
		fh.snapid = vs->snapid;
		rc = wafl_getattr(r->t.v, &fh, &at);
		CHECK(r, rc == -ESTALE,
		      "%s: getattr of ino %llu gen %u, made after snapshot %s: %d, not ESTALE", why,
		      (unsigned long long)fh.ino, fh.gen, sh(vs->name), rc);
	}
	r->st.snap_compares++;
}

/* Every snapshot (at most `most` of them, chosen at random). */
static void compare_snaps(struct run *r, size_t most, const char *why)
{
	size_t n = r->vst.n;
	if (n <= most) {
		for (size_t i = 0; i < n; i++)
			compare_snap(r, &r->vst.v[i], why);
		return;
	}
	size_t start = cbelow(r, n);
	for (size_t i = 0; i < most; i++)
		compare_snap(r, &r->vst.v[(start + i * (n / most)) % n], why);
}

/* compare(), but a difference makes it return false (soft_msg says which). */
static bool compare_soft(struct run *r, const char *why)
{
	r->soft = true;
	if (setjmp(r->soft_jmp)) {
		r->soft = false;
		return false;
	}
	compare(r, why);
	r->soft = false;
	return true;
}

/* ---- the operations ------------------------------------------------------ */

static void track(struct run *r, const struct wafl_stab *st)
{
	r->last_stab = *st;
	if (st->log_seq > r->max_seq)
		r->max_seq = st->log_seq;
}

static int name_err(const char *name)
{
	size_t n = strnlen(name, WAFL_NAME_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > WAFL_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* What every operation that changes a directory checks first, in order:
 * the handle, that it is a directory, the name. */
static int m_prep(const struct hd *d, const char *name)
{
	if (!d->n)
		return -ESTALE;
	if (d->n->type != WAFL_FT_DIR)
		return -ENOTDIR;
	return name_err(name);
}

static void counted(struct run *r, int rc)
{
	r->op++;
	if (rc)
		r->st.errors++;
}

/* New inodes: the creator's ids, a setgid directory's group (and, for a
 * directory, its setgid bit), then ids from the attributes (the caller is
 * root here). */
static void m_init_ids(struct mnode *n, const struct mnode *dir, const struct wafl_cred *c,
		       const struct wafl_sattr *sa)
{
	n->uid = c ? c->uid : 0;
	n->gid = c ? c->gid : 0;
	if (dir->mode & S_ISGID) {
		n->gid = dir->gid;
		if (n->type == WAFL_FT_DIR)
			n->mode |= S_ISGID;
	}
	if (sa && (sa->mask & WAFL_SA_UID))
		n->uid = sa->uid;
	if (sa && (sa->mask & WAFL_SA_GID))
		n->gid = sa->gid;
}

static void rand_sattr_ids(struct run *r, struct wafl_sattr *sa)
{
	if (chance(r, 60)) {
		sa->mask |= WAFL_SA_MODE;
		sa->mode = chance(r, 70) ? (uint32_t)below(r, 01000) : (uint32_t)below(r, 010000);
	}
	if (chance(r, 20)) {
		sa->mask |= WAFL_SA_UID;
		sa->uid = (uint32_t)below(r, 3) * 1000;
	}
	if (chance(r, 20)) {
		sa->mask |= WAFL_SA_GID;
		sa->gid = (uint32_t)below(r, 3) * 100;
	}
}

static struct wafl_cred *maybe_root_cred(struct run *r, struct wafl_cred *cr)
{
	if (!chance(r, 15))
		return NULL;
	memset(cr, 0, sizeof(*cr));
	cr->gid = (uint32_t)below(r, 3) * 100;
	return cr;
}

static const char *how_name(enum wafl_how how)
{
	return how == WAFL_UNCHECKED ? "unchecked" : how == WAFL_GUARDED ? "guarded" : "exclusive";
}

/*
 * create. An existing name: GUARDED is -EEXIST; EXCLUSIVE returns the file
 * if it was made EXCLUSIVE with the same verifier and no explicit time was
 * set since, else -EEXIST; UNCHECKED is -EISDIR for a directory, else
 * returns what is there, truncated when the attributes carry a size and it
 * is a regular file. A new file takes mode, ids, size and times from the
 * attributes, except that EXCLUSIVE takes only the mode.
 */
static void op_create(struct run *r)
{
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 30, name);
	enum wafl_how how = (enum wafl_how)below(r, 3);
	struct wafl_sattr sa = {0};
	bool use_sa = chance(r, 60);
	if (use_sa) {
		rand_sattr_ids(r, &sa);
		if (chance(r, 15)) {
			sa.mask |= WAFL_SA_SIZE;
			sa.size = chance(r, 30) ? 0 : below(r, 300000);
		}
		if (chance(r, 10)) {
			sa.mask |= WAFL_SA_ATIME;
			sa.atime = rand_time(r);
		}
		if (chance(r, 10)) {
			sa.mask |= WAFL_SA_MTIME;
			sa.mtime = rand_time(r);
		}
	}
	struct wafl_cred cr, *c = maybe_root_cred(r, &cr);
	uint64_t verf = 1 + below(r, 3);

	int want = m_prep(&d, name);
	struct mnode *ex = want ? NULL : m_find(d.n, name);
	if (ex) {
		if (how == WAFL_GUARDED)
			want = -EEXIST;
		else if (how == WAFL_EXCLUSIVE)
			want = ex->type == WAFL_FT_REG && ex->excl && ex->verf == verf ? 0
										       : -EEXIST;
		else if (ex->type == WAFL_FT_DIR)
			want = -EISDIR;
	}
	note(r, "create %s %s %s mask %#x mode %04o size %llu verf %llu cred %s", hdesc(&d),
	     sh(name), how_name(how), use_sa ? sa.mask : 0, sa.mode, (unsigned long long)sa.size,
	     (unsigned long long)verf, c ? "root" : "none");
	struct wafl_fh out;
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_create(r->t.v, c, &d.fh, name, how, use_sa ? &sa : NULL, verf, &out,
				      &at, &st));
	CHECK_RC(r, rc, want, "create");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	if (ex) {
		CHECK(r, out.ino == ex->fh.ino && out.gen == ex->fh.gen,
		      "create of existing %s gave ino %llu, model %llu", sh(name),
		      (unsigned long long)out.ino, (unsigned long long)ex->fh.ino);
		if (how == WAFL_UNCHECKED && use_sa && (sa.mask & WAFL_SA_SIZE) &&
		    ex->type == WAFL_FT_REG) {
			m_truncate(r, ex, sa.size);
			ex->mtime_known = false;
		}
		cmp_attr(r, ex, &at, "create (existing)");
		return;
	}
	struct mnode *n = m_new(r, WAFL_FT_REG, &out);
	n->mode = use_sa && (sa.mask & WAFL_SA_MODE) ? sa.mode & 07777 : 0644;
	m_init_ids(n, d.n, c, how == WAFL_EXCLUSIVE || !use_sa ? NULL : &sa);
	if (how == WAFL_EXCLUSIVE) {
		n->excl = true;
		n->verf = verf;
	} else if (use_sa) {
		if ((sa.mask & WAFL_SA_SIZE) && sa.size)
			m_truncate(r, n, sa.size);
		if (sa.mask & WAFL_SA_ATIME) {
			n->atime_known = true;
			n->atime = sa.atime;
		}
		if (sa.mask & WAFL_SA_MTIME) {
			n->mtime_known = true;
			n->mtime = sa.mtime;
		}
	}
	m_add_ent(d.n, name, n);
	d.n->mtime_known = false;
	cmp_attr(r, n, &at, "create");
}

/* mkdir, symlink and mknod: -EEXIST for any existing name, "." and ".."
 * included. A symlink's mode is 0777 whatever the attributes say; a
 * symlink target is checked before the name's existence. */
static void op_mkdir(struct run *r)
{
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 15, name);
	struct wafl_sattr sa = {0};
	bool use_sa = chance(r, 50);
	if (use_sa)
		rand_sattr_ids(r, &sa);
	struct wafl_cred cr, *c = maybe_root_cred(r, &cr);
	int want = m_prep(&d, name);
	if (!want && m_find(d.n, name))
		want = -EEXIST;
	note(r, "mkdir %s %s mask %#x mode %04o", hdesc(&d), sh(name), use_sa ? sa.mask : 0,
	     sa.mode);
	struct wafl_fh out;
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_mkdir(r->t.v, c, &d.fh, name, use_sa ? &sa : NULL, &out, &at, &st));
	CHECK_RC(r, rc, want, "mkdir");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	struct mnode *n = m_new(r, WAFL_FT_DIR, &out);
	n->mode = use_sa && (sa.mask & WAFL_SA_MODE) ? sa.mode & 07777 : 0755;
	m_init_ids(n, d.n, c, use_sa ? &sa : NULL);
	m_add_ent(d.n, name, n);
	d.n->mtime_known = false;
	cmp_attr(r, n, &at, "mkdir");
	cmp_handle(r, d.n, "mkdir's parent");
}

static void op_symlink(struct run *r)
{
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 15, name);
	static char target[WAFL_PATH_MAX + 2];
	unsigned p = (unsigned)below(r, 100);
	size_t tlen = p < 3    ? 0
		      : p < 6  ? WAFL_PATH_MAX + 1
		      : p < 10 ? WAFL_PATH_MAX
		      : p < 14 ? 3000 + below(r, WAFL_PATH_MAX - 3000)
			       : 1 + below(r, 60);
	for (size_t i = 0; i < tlen; i++)
		target[i] = (char)(chance(r, 15) ? '/' : 'a' + below(r, 26));
	target[tlen] = 0;
	struct wafl_sattr sa = {0};
	bool use_sa = chance(r, 40);
	if (use_sa)
		rand_sattr_ids(r, &sa);
	struct wafl_cred cr, *c = maybe_root_cred(r, &cr);
	int want = m_prep(&d, name);
	if (!want && (tlen == 0 || tlen > WAFL_PATH_MAX))
		want = tlen ? -ENAMETOOLONG : -EINVAL;
	if (!want && m_find(d.n, name))
		want = -EEXIST;
	note(r, "symlink %s %s -> (%zu bytes) mask %#x", hdesc(&d), sh(name), tlen,
	     use_sa ? sa.mask : 0);
	struct wafl_fh out;
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_symlink(r->t.v, c, &d.fh, name, target, use_sa ? &sa : NULL, &out,
				       &at, &st));
	CHECK_RC(r, rc, want, "symlink");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	struct mnode *n = m_new(r, WAFL_FT_LNK, &out);
	n->mode = 0777;
	m_init_ids(n, d.n, c, use_sa ? &sa : NULL);
	n->target = strdup(target);
	cr_assert_not_null(n->target);
	m_add_ent(d.n, name, n);
	d.n->mtime_known = false;
	cmp_attr(r, n, &at, "symlink");
}

/* mknod: a type that is no device, fifo or socket is -EINVAL before
 * anything else; a device made by a non-root caller is -EPERM next. Fifos
 * and sockets keep no device numbers. */
static void op_mknod(struct run *r)
{
	static const enum wafl_ftype types[] = {WAFL_FT_FIFO, WAFL_FT_SOCK, WAFL_FT_CHR,
						WAFL_FT_BLK};
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 15, name);
	enum wafl_ftype type = types[below(r, 4)];
	if (chance(r, 4))
		type = chance(r, 50) ? WAFL_FT_REG : chance(r, 50) ? WAFL_FT_DIR : WAFL_FT_LNK;
	uint32_t maj = (uint32_t)below(r, 300), min = (uint32_t)below(r, 1u << 20);
	struct wafl_sattr sa = {0};
	bool use_sa = chance(r, 50);
	if (use_sa)
		rand_sattr_ids(r, &sa);
	struct wafl_cred cr, *c = maybe_root_cred(r, &cr);
	bool dev = type == WAFL_FT_CHR || type == WAFL_FT_BLK;
	if (dev && chance(r, 10)) {
		memset(&cr, 0, sizeof(cr));
		cr.uid = 1000;
		c = &cr;
	}
	int want = 0;
	if (type != WAFL_FT_FIFO && type != WAFL_FT_SOCK && !dev)
		want = -EINVAL;
	else if (dev && c && c->uid)
		want = -EPERM;
	else if (!(want = m_prep(&d, name)) && m_find(d.n, name))
		want = -EEXIST;
	note(r, "mknod %s %s type %d %u:%u mask %#x", hdesc(&d), sh(name), type, maj, min,
	     use_sa ? sa.mask : 0);
	struct wafl_fh out;
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_mknod(r->t.v, c, &d.fh, name, type, maj, min, use_sa ? &sa : NULL,
				     &out, &at, &st));
	CHECK_RC(r, rc, want, "mknod");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	struct mnode *n = m_new(r, type, &out);
	n->mode = use_sa && (sa.mask & WAFL_SA_MODE) ? sa.mode & 07777 : 0644;
	m_init_ids(n, d.n, c, use_sa ? &sa : NULL);
	if (dev) {
		n->rdev_major = maj;
		n->rdev_minor = min;
	}
	m_add_ent(d.n, name, n);
	d.n->mtime_known = false;
	cmp_attr(r, n, &at, "mknod");
}

/* link: the directory and name first, then the file's handle; a directory
 * cannot be linked (-EPERM); an existing name is -EEXIST. */
static void op_link(struct run *r)
{
	struct hd f = pick_handle(r, chance(r, 90) ? F_NONDIR : F_ANY);
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 20, name);
	int want = m_prep(&d, name);
	if (!want && !f.n)
		want = -ESTALE;
	if (!want && f.n->type == WAFL_FT_DIR)
		want = -EPERM;
	if (!want && m_find(d.n, name))
		want = -EEXIST;
	note(r, "link %s as %s %s", hdesc(&f), hdesc(&d), sh(name));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_link(r->t.v, NULL, &f.fh, &d.fh, name, &st));
	CHECK_RC(r, rc, want, "link");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	f.n->nlink++;
	m_add_ent(d.n, name, f.n);
	d.n->mtime_known = false;
	cmp_handle(r, f.n, "link");
}

/* remove and rmdir: "." is -EINVAL for both, ".." is -ENOTEMPTY for rmdir
 * and -EINVAL for remove; then -ENOENT, then the type (-ENOTDIR for rmdir
 * of a non-directory, -EISDIR for remove of a directory), then
 * -ENOTEMPTY. */
static void op_remove(struct run *r, bool rmdir)
{
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 70, name);
	int want = m_prep(&d, name);
	struct mnode *n = NULL;
	if (!want && is_dot(name))
		want = rmdir && !strcmp(name, "..") ? -ENOTEMPTY : -EINVAL;
	if (!want && !(n = m_find(d.n, name)))
		want = -ENOENT;
	if (!want && rmdir && n->type != WAFL_FT_DIR)
		want = -ENOTDIR;
	if (!want && !rmdir && n->type == WAFL_FT_DIR)
		want = -EISDIR;
	if (!want && rmdir && n->nents)
		want = -ENOTEMPTY;
	note(r, "%s %s %s", rmdir ? "rmdir" : "remove", hdesc(&d), sh(name));
	struct wafl_stab st;
	int rc = rmdir ? RETRY(r, wafl_rmdir(r->t.v, NULL, &d.fh, name, &st))
		       : RETRY(r, wafl_remove(r->t.v, NULL, &d.fh, name, &st));
	CHECK_RC(r, rc, want, rmdir ? "rmdir" : "remove");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	m_del_ent(d.n, m_ent_index(d.n, name));
	bool gone = n->type == WAFL_FT_DIR || n->nlink == 1;
	m_drop(r, n);
	d.n->mtime_known = false;
	cmp_handle(r, d.n, "remove's directory");
	if (!gone)
		cmp_handle(r, n, "remove's file");
}

/* The directories in d's subtree, d included. */
static void subtree_dirs(struct mnode *d, struct mnode ***out, size_t *n, size_t *cap)
{
	GROW(*out, *n, *cap);
	(*out)[(*n)++] = d;
	for (size_t i = 0; i < d->nents; i++)
		if (d->ents[i].node->type == WAFL_FT_DIR)
			subtree_dirs(d->ents[i].node, out, n, cap);
}

/* Two names of one inode (for renaming a link onto another); false if no
 * inode has two. */
static bool pick_two_links(struct run *r, struct hd *d1, char *n1, struct hd *d2, char *n2)
{
	size_t cnt = 0;
	for (size_t i = 0; i < r->m.nnodes; i++)
		cnt += r->m.nodes[i]->type != WAFL_FT_DIR && r->m.nodes[i]->nlink >= 2;
	if (!cnt)
		return false;
	size_t k = below(r, cnt);
	struct mnode *f = NULL;
	for (size_t i = 0; i < r->m.nnodes && !f; i++)
		if (r->m.nodes[i]->type != WAFL_FT_DIR && r->m.nodes[i]->nlink >= 2 && k-- == 0)
			f = r->m.nodes[i];
	unsigned want1 = (unsigned)below(r, f->nlink), want2 = (unsigned)below(r, f->nlink);
	unsigned seen = 0;
	for (size_t i = 0; i < r->m.nnodes; i++) {
		struct mnode *d = r->m.nodes[i];
		if (d->type != WAFL_FT_DIR)
			continue;
		for (size_t j = 0; j < d->nents; j++) {
			if (d->ents[j].node != f)
				continue;
			if (seen == want1) {
				d1->n = d;
				d1->fh = d->fh;
				strcpy(n1, d->ents[j].name);
			}
			if (seen == want2) {
				d2->n = d;
				d2->fh = d->fh;
				strcpy(n2, d->ents[j].name);
			}
			seen++;
		}
	}
	return seen == f->nlink;
}

/*
 * rename, in the order the checks are made: both directories and names;
 * "." or ".." on either side is -EINVAL; a missing source is -ENOENT; a
 * target that is the source's inode (the same name, or another link to the
 * same file) makes it a successful no-op; a directory over a non-directory
 * is -ENOTDIR, the reverse -EISDIR; a non-empty target directory is
 * -ENOTEMPTY; a directory moved into its own subtree is -EINVAL. So a
 * directory renamed over a non-empty directory inside itself gets
 * -ENOTEMPTY, not -EINVAL (POSIX allows either).
 */
static void op_rename(struct run *r)
{
	struct hd fd, td;
	char from[NAME_BUF], to[NAME_BUF];
	if (chance(r, 5) && pick_two_links(r, &fd, from, &td, to)) {
		/* onto another link of the same file */
	} else {
		fd = pick_handle(r, F_DIR);
		pick_name_in(r, &fd, 75, from);
		td = pick_handle(r, F_DIR);
		struct mnode *s = fd.n && fd.n->type == WAFL_FT_DIR ? m_find(fd.n, from) : NULL;
		if (s && s->type == WAFL_FT_DIR && s != fd.n && s != fd.n->parent &&
		    chance(r, 15)) {
			/* somewhere inside the directory being moved */
			struct mnode **dirs = NULL;
			size_t n = 0, cap = 0;
			subtree_dirs(s, &dirs, &n, &cap);
			td.n = dirs[below(r, n)];
			td.fh = td.n->fh;
			free(dirs);
		} else if (chance(r, 30)) {
			td = fd;
		}
		pick_name_in(r, &td, 35, to);
	}
	int want = m_prep(&fd, from);
	if (!want)
		want = m_prep(&td, to);
	if (!want && (is_dot(from) || is_dot(to)))
		want = -EINVAL;
	struct mnode *s = NULL, *t = NULL;
	if (!want && !(s = m_find(fd.n, from)))
		want = -ENOENT;
	if (!want)
		t = m_find(td.n, to);
	bool noop = !want && t == s;
	if (!want && !noop && t) {
		if (s->type == WAFL_FT_DIR && t->type != WAFL_FT_DIR)
			want = -ENOTDIR;
		else if (s->type != WAFL_FT_DIR && t->type == WAFL_FT_DIR)
			want = -EISDIR;
		else if (t->type == WAFL_FT_DIR && t->nents)
			want = -ENOTEMPTY;
	}
	if (!want && !noop && s->type == WAFL_FT_DIR && fd.n != td.n) {
		for (struct mnode *p = td.n; p != r->m.root; p = p->parent)
			if (p == s) {
				want = -EINVAL;
				break;
			}
	}
	note(r, "rename %s %s -> %s %s", hdesc(&fd), sh(from), hdesc(&td), sh(to));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_rename(r->t.v, NULL, &fd.fh, from, &td.fh, to, &st));
	CHECK_RC(r, rc, want, "rename");
	counted(r, rc);
	if (rc || noop)
		return;
	track(r, &st);
	long ti = m_ent_index(td.n, to);
	if (ti >= 0) {
		td.n->ents[ti].node = s;
		if (s->type == WAFL_FT_DIR)
			s->parent = td.n;
		m_drop(r, t);
	} else {
		m_add_ent(td.n, to, s);
	}
	m_del_ent(fd.n, m_ent_index(fd.n, from));
	fd.n->mtime_known = false;
	td.n->mtime_known = false;
	cmp_handle(r, s, "rename's source");
	cmp_handle(r, fd.n, "rename's source directory");
	cmp_handle(r, td.n, "rename's target directory");
}

static uint64_t rand_write_off(struct run *r, const struct mnode *n)
{
	uint64_t size = n ? n->size : 0;
	unsigned p = (unsigned)below(r, 100);
	if (p < 45)
		return below(r, NEAR_BYTES);
	if (p < 62)
		return size + below(r, 8192) - (size ? below(r, size < 8192 ? size : 8192) : 0);
	if (p < 76)
		return below(r, NEAR_BYTES / BS) * BS;
	if (p < 90)
		return below(r, size + 1);
	if (p < 96)
		return FAR_OFF + below(r, 4u << 20);
	if (p < 98)
		return (1ull << 40) + below(r, 1u << 20);
	if (p < 99)
		return MAXF - below(r, 3 * BS);
	return MAXF + below(r, 100);
}

/* write: -ESTALE, -EISDIR, -EINVAL for anything but a regular file, -EFBIG
 * past the largest size; an empty write changes nothing. A caller that is
 * not root (here: the owner) clears setuid and setgid. */
static void op_write(struct run *r)
{
	struct hd f = pick_handle(r, chance(r, 92) ? F_REG : F_ANY);
	uint64_t off = rand_write_off(r, f.n);
	uint32_t len;
	unsigned p = (unsigned)below(r, 100);
	if (p < 3)
		len = 0;
	else if (p < 30)
		len = 1 + (uint32_t)below(r, 512);
	else if (p < 55)
		len = 1 + (uint32_t)below(r, 8192);
	else if (p < 75)
		len = BS * (1 + (uint32_t)below(r, 16));
	else if (p < 90)
		len = 1 + (uint32_t)below(r, 64u << 10);
	else
		len = 1 + (uint32_t)below(r, IO_MAX);
	if (r->m.blocks > BLOCK_CAP && len > 512)
		len = 512;
	enum wafl_stable stable = (enum wafl_stable)below(r, 3);
	if (r->stable_only && stable == WAFL_UNSTABLE)
		stable = WAFL_FILE_SYNC;
	struct wafl_cred cr, *c = NULL;
	if (f.n && f.n->type == WAFL_FT_REG && f.n->uid && chance(r, 10)) {
		memset(&cr, 0, sizeof(cr));
		cr.uid = f.n->uid;
		cr.gid = f.n->gid;
		c = &cr;
	}
	fill_random(r, r->buf, len);
	int want = 0;
	if (!f.n)
		want = -ESTALE;
	else if (f.n->type == WAFL_FT_DIR)
		want = -EISDIR;
	else if (f.n->type != WAFL_FT_REG)
		want = -EINVAL;
	else if (off > MAXF || len > MAXF - off)
		want = -EFBIG;
	note(r, "write %s [%llu, +%u) stable %d cred %u", hdesc(&f), (unsigned long long)off, len,
	     stable, c ? c->uid : 0);
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_write(r->t.v, c, &f.fh, off, len, r->buf, stable, &at, &st));
	CHECK_RC(r, rc, want, "write");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	if (len) {
		m_write(r, f.n, off, len, r->buf);
		f.n->mtime_known = false;
		if (c)
			f.n->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
		r->st.bytes += len;
	}
	cmp_attr(r, f.n, &at, "write");
}

static void op_read(struct run *r)
{
	struct hd f = pick_handle(r, chance(r, 92) ? F_REG : F_ANY);
	uint64_t size = f.n ? f.n->size : 0;
	uint64_t off = chance(r, 85) ? below(r, size + 10000) : rand_write_off(r, f.n);
	uint32_t len = chance(r, 10) ? 0 : 1 + (uint32_t)below(r, chance(r, 70) ? 16384 : IO_MAX);
	int want = 0;
	if (!f.n)
		want = -ESTALE;
	else if (f.n->type == WAFL_FT_DIR)
		want = -EISDIR;
	else if (f.n->type != WAFL_FT_REG)
		want = -EINVAL;
	note(r, "read %s [%llu, +%u)", hdesc(&f), (unsigned long long)off, len);
	if (want) {
		uint32_t got;
		bool eof;
		int rc = RETRY(r, wafl_read(r->t.v, NULL, &f.fh, off, len, r->buf, &got, &eof));
		CHECK_RC(r, rc, want, "read");
		counted(r, rc);
		return;
	}
	cmp_range(r, f.n, off, len, "read");
	counted(r, 0);
}

/* setattr of the size: -ESTALE, -EISDIR, -EINVAL for a non-regular file,
 * -EFBIG; a non-root caller (here: the owner) changing the size clears
 * setuid and setgid. */
static void op_truncate(struct run *r)
{
	struct hd f = pick_handle(r, chance(r, 92) ? F_REG : F_ANY);
	uint64_t size = f.n ? f.n->size : 0, to;
	unsigned p = (unsigned)below(r, 100);
	if (p < 25 || r->m.blocks > BLOCK_CAP)
		to = 0;
	else if (p < 50)
		to = below(r, size + 1);
	else if (p < 72)
		to = below(r, 3u << 20);
	else if (p < 80)
		to = size;
	else if (p < 87)
		to = size + below(r, 100000);
	else if (p < 93)
		to = FAR_OFF + below(r, 1u << 20);
	else if (p < 96)
		to = MAXF - below(r, 2 * BS);
	else if (p < 98)
		to = MAXF;
	else
		to = MAXF + 1 + below(r, 10);
	struct wafl_cred cr, *c = NULL;
	if (f.n && f.n->type == WAFL_FT_REG && f.n->uid && chance(r, 10)) {
		memset(&cr, 0, sizeof(cr));
		cr.uid = f.n->uid;
		cr.gid = f.n->gid;
		c = &cr;
	}
	int want = 0;
	if (!f.n)
		want = -ESTALE;
	else if (f.n->type == WAFL_FT_DIR)
		want = -EISDIR;
	else if (f.n->type != WAFL_FT_REG)
		want = -EINVAL;
	else if (to > MAXF)
		want = -EFBIG;
	note(r, "truncate %s to %llu (from %llu) cred %u", hdesc(&f), (unsigned long long)to,
	     (unsigned long long)size, c ? c->uid : 0);
	struct wafl_sattr sa = {.mask = WAFL_SA_SIZE, .size = to};
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_setattr(r->t.v, c, &f.fh, &sa, &at, &st));
	CHECK_RC(r, rc, want, "truncate");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	if (c && to != f.n->size)
		f.n->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	m_truncate(r, f.n, to);
	f.n->mtime_known = false;
	cmp_attr(r, f.n, &at, "truncate");
	if (chance(r, 30))
		cmp_content(r, f.n, "after truncate");
}

/*
 * setattr of mode, ids and times by root: a change of owner or group of a
 * non-directory clears setuid and setgid only when the group may execute
 * (the library's rule for root; Linux would clear setuid always). An
 * explicit time wins over "now" for the same time, and either explicit
 * time drops an exclusive create's verifier. -EPROTO when a ctime guard
 * does not match.
 */
static void op_setattr(struct run *r)
{
	struct hd f = pick_handle(r, F_ANY);
	struct wafl_sattr sa = {0};
	rand_sattr_ids(r, &sa);
	if (chance(r, 30)) {
		sa.mask |= WAFL_SA_ATIME;
		sa.atime = rand_time(r);
	}
	if (chance(r, 30)) {
		sa.mask |= WAFL_SA_MTIME;
		sa.mtime = rand_time(r);
	}
	if (chance(r, 15))
		sa.mask |= WAFL_SA_ATIME_NOW;
	if (chance(r, 15))
		sa.mask |= WAFL_SA_MTIME_NOW;
	bool guard_bad = false;
	if (f.n && chance(r, 15)) {
		struct wafl_attr cur;
		int rc = RETRY(r, wafl_getattr(r->t.v, &f.fh, &cur));
		CHECK(r, rc == 0, "getattr for the ctime guard: %d", rc);
		sa.mask |= WAFL_SA_CTIME_GUARD;
		sa.guard_ctime = cur.ctime;
		if (chance(r, 50)) {
			guard_bad = true;
			sa.guard_ctime.tv_nsec = (sa.guard_ctime.tv_nsec + 1) % 1000000000;
		}
	}
	int want = !f.n ? -ESTALE : guard_bad ? -EPROTO : 0;
	note(r, "setattr %s mask %#x mode %04o uid %u gid %u", hdesc(&f), sa.mask, sa.mode, sa.uid,
	     sa.gid);
	struct wafl_attr at;
	struct wafl_stab st;
	int rc = RETRY(r, wafl_setattr(r->t.v, NULL, &f.fh, &sa, &at, &st));
	CHECK_RC(r, rc, want, "setattr");
	counted(r, rc);
	if (rc)
		return;
	track(r, &st);
	struct mnode *n = f.n;
	uint32_t mode = sa.mask & WAFL_SA_MODE ? sa.mode & 07777 : n->mode;
	bool chown = ((sa.mask & WAFL_SA_UID) && sa.uid != n->uid) ||
		     ((sa.mask & WAFL_SA_GID) && sa.gid != n->gid);
	if (chown && n->type != WAFL_FT_DIR && (mode & 00010))
		mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	n->mode = mode;
	if (sa.mask & WAFL_SA_UID)
		n->uid = sa.uid;
	if (sa.mask & WAFL_SA_GID)
		n->gid = sa.gid;
	if (sa.mask & WAFL_SA_ATIME) {
		n->atime_known = true;
		n->atime = sa.atime;
	} else if (sa.mask & WAFL_SA_ATIME_NOW) {
		n->atime_known = false;
	}
	if (sa.mask & WAFL_SA_MTIME) {
		n->mtime_known = true;
		n->mtime = sa.mtime;
	} else if (sa.mask & WAFL_SA_MTIME_NOW) {
		n->mtime_known = false;
	}
	if (sa.mask & (WAFL_SA_ATIME | WAFL_SA_MTIME))
		n->excl = false;
	cmp_attr(r, n, &at, "setattr");
}

/* lookup: -ESTALE, -ENOTDIR, the name's own errors, -ENOENT. */
static void op_lookup(struct run *r)
{
	struct hd d = pick_handle(r, F_DIR);
	char name[NAME_BUF];
	pick_name_in(r, &d, 60, name);
	int want = m_prep(&d, name);
	struct mnode *n = NULL;
	if (!want && !(n = m_find(d.n, name)))
		want = -ENOENT;
	note(r, "lookup %s %s", hdesc(&d), sh(name));
	struct wafl_fh fh;
	struct wafl_attr at;
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, &d.fh, name, &fh, &at));
	CHECK_RC(r, rc, want, "lookup");
	counted(r, rc);
	if (rc)
		return;
	CHECK(r, fh.ino == n->fh.ino && fh.gen == n->fh.gen && fh.volid == n->fh.volid,
	      "lookup %s gave ino %llu gen %u, model ino %llu gen %u", sh(name),
	      (unsigned long long)fh.ino, fh.gen, (unsigned long long)n->fh.ino, n->fh.gen);
	cmp_attr(r, n, &at, "lookup");
}

static void op_getattr(struct run *r)
{
	struct hd f = pick_handle(r, F_ANY);
	note(r, "getattr %s", hdesc(&f));
	struct wafl_attr at;
	int rc = RETRY(r, wafl_getattr(r->t.v, &f.fh, &at));
	CHECK_RC(r, rc, f.n ? 0 : -ESTALE, "getattr");
	counted(r, rc);
	if (!rc)
		cmp_attr(r, f.n, &at, "getattr");
}

static void op_readlink(struct run *r)
{
	struct hd f = pick_handle(r, chance(r, 80) ? F_NONDIR : F_ANY);
	int want = !f.n ? -ESTALE : f.n->type != WAFL_FT_LNK ? -EINVAL : 0;
	note(r, "readlink %s", hdesc(&f));
	if (!want) {
		cmp_link(r, f.n, "readlink");
		counted(r, 0);
		return;
	}
	char buf[WAFL_PATH_MAX + 2];
	size_t len;
	int rc = RETRY(r, wafl_readlink(r->t.v, NULL, &f.fh, buf, sizeof(buf), &len));
	CHECK_RC(r, rc, want, "readlink");
	counted(r, rc);
}

/* One directory read and compared, without descending. */
static void op_readdir(struct run *r)
{
	struct hd d = pick_handle(r, F_DIR);
	note(r, "readdir %s", hdesc(&d));
	if (d.n && d.n->type == WAFL_FT_DIR) {
		cmp_dir(r, d.n, hdesc(&d), false);
		counted(r, 0);
		return;
	}
	struct rd_acc acc = {0};
	bool eof;
	int rc = RETRY(r, wafl_readdir(r->t.v, NULL, &d.fh, 0, rd_cb, &acc, &eof));
	free(acc.e);
	CHECK_RC(r, rc, d.n ? -ENOTDIR : -ESTALE, "readdir");
	counted(r, rc);
}

/* commit, waited for: with a handle, only -ESTALE can go wrong. */
static void op_commit(struct run *r)
{
	struct hd f = pick_handle(r, F_ANY);
	bool with = chance(r, 50);
	note(r, "commit %s", with ? hdesc(&f) : "(volume)");
	struct wafl_stab st;
	int rc = wafl_commit(r->t.v, with ? &f.fh : NULL, &st);
	CHECK_RC(r, rc, with && !f.n ? -ESTALE : 0, "commit");
	if (!rc)
		CHECK(r, (rc = wt_wait(&r->t, &st)) == 0, "waiting for a commit: %d", rc);
	if (!rc)
		settle(r);
	counted(r, rc);
}

/* A burst of creates in one directory: grows its B+tree by leaf splits. */
static void op_bulk_create(struct run *r)
{
	struct mnode *d = pick_node(r, F_DIR);
	unsigned n = 40 + (unsigned)below(r, 160);
	bool longn = chance(r, 50);
	unsigned id = r->bulk_id++;
	note(r, "bulk create of %u %s names in %s", n, longn ? "long" : "short",
	     hdesc(&(struct hd){d->fh, d}));
	for (unsigned i = 0; i < n; i++) {
		char name[NAME_BUF];
		int k = snprintf(name, sizeof(name), "bulk%u.%u", id, i);
		if (longn) {
			size_t len = 150 + below(r, WAFL_NAME_MAX - 150 + 1);
			memset(name + k, '_', len - (size_t)k);
			name[len] = 0;
		}
		struct wafl_fh out;
		struct wafl_attr at;
		struct wafl_stab st;
		int rc = RETRY(r, wafl_create(r->t.v, NULL, &d->fh, name, WAFL_GUARDED, NULL, 0,
					      &out, &at, &st));
		CHECK_RC(r, rc, 0, "bulk create");
		counted(r, rc);
		track(r, &st);
		struct mnode *f = m_new(r, WAFL_FT_REG, &out);
		f->mode = 0644;
		m_init_ids(f, d, NULL, NULL);
		m_add_ent(d, name, f);
		d->mtime_known = false;
	}
	cmp_dir(r, d, "bulk create", false);
}

/* A burst of removes in the fullest directory: empties B+tree leaves. */
static void op_bulk_remove(struct run *r)
{
	struct mnode *d = r->m.root;
	for (size_t i = 0; i < r->m.nnodes; i++)
		if (r->m.nodes[i]->type == WAFL_FT_DIR && r->m.nodes[i]->nents > d->nents)
			d = r->m.nodes[i];
	unsigned pct = 50 + (unsigned)below(r, 51);
	note(r, "bulk remove of %u%% of %zu entries in %s", pct, d->nents,
	     hdesc(&(struct hd){d->fh, d}));
	for (size_t i = 0; i < d->nents;) {
		struct mnode *n = d->ents[i].node;
		if (n->type == WAFL_FT_DIR || !chance(r, pct)) {
			i++;
			continue;
		}
		struct wafl_stab st;
		int rc = RETRY(r, wafl_remove(r->t.v, NULL, &d->fh, d->ents[i].name, &st));
		CHECK_RC(r, rc, 0, "bulk remove");
		counted(r, rc);
		track(r, &st);
		m_del_ent(d, (long)i);
		m_drop(r, n);
		d->mtime_known = false;
	}
	cmp_dir(r, d, "bulk remove", false);
}

/* ---- snapshots ------------------------------------------------------------ */

static void times_save(struct run *r);
static void times_check(struct run *r, const char *why);

static const char *const snap_pool[] = {"hourly.0", "hourly.1", "nightly", "s1",
					"s2",	    "_w-3.x",	"Z"};

/* A snapshot name: mostly from a small pool (so names collide), sometimes
 * the longest allowed, sometimes one the rule refuses (*valid false): a
 * letter or '_' first, then letters, digits, '_', '-', '.'; 63 bytes. */
static void pick_snapname(struct run *r, char *out, bool *valid)
{
	static const char *const bad[] = {"",	 "bad/name",	     "1st", ".hidden", "-x",
					  "a b", "\xc3\xa9t\xc3\xa9"};
	unsigned p = (unsigned)below(r, 100);
	*valid = true;
	if (p < 7) {
		strcpy(out, bad[below(r, sizeof(bad) / sizeof(bad[0]))]);
		*valid = false;
	} else if (p < 9) {
		long_name(out, (unsigned)below(r, 4), WAFL_SNAPNAME_MAX + 1);
		*valid = false;
	} else if (p < 12) {
		long_name(out, (unsigned)below(r, 4), WAFL_SNAPNAME_MAX);
	} else if (p < 45 && r->vst.n) {
		strcpy(out, r->vst.v[below(r, r->vst.n)].name);
	} else {
		strcpy(out, snap_pool[below(r, sizeof(snap_pool) / sizeof(snap_pool[0]))]);
	}
}

/* Looks name up in /.snapshot: 0 with its handle, or the error. */
static int snap_lookup(struct run *r, const char *name, struct wafl_fh *out)
{
	struct wafl_fh root, sd;
	struct wafl_attr at;
	CHECK(r, wafl_root(r->t.v, &root) == 0, "wafl_root failed");
	int rc = RETRY(r, wafl_lookup(r->t.v, NULL, &root, WAFL_SNAPDIR_NAME, &sd, &at));
	CHECK(r, rc == 0, "lookup /.snapshot: %d", rc);
	return RETRY(r, wafl_lookup(r->t.v, NULL, &sd, name, out, &at));
}

/* Takes snapshot `name` (new and valid), waits for its CP, and keeps the
 * model as it is now, times included. Pointers into r->vst.v move. */
static struct vsnap *snap_take(struct run *r, const char *name)
{
	note(r, "snapshot create %s", sh(name));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_create(r->t.v, name, &st));
	CHECK_RC(r, rc, 0, "snapshot create");
	track(r, &st);
	rc = wt_wait(&r->t, &st);
	CHECK(r, rc == 0, "waiting for the CP of snapshot %s: %d", sh(name), rc);
	settle(r);
	struct wafl_snap_info si[VSNAP_MAX + 1];
	unsigned n = 0;
	rc = wafl_snap_list(r->t.v, si, VSNAP_MAX + 1, &n, false);
	CHECK(r, rc == 0 && n == r->vst.n + 1,
	      "after creating %s: list %d, %u snapshots, model %zu", sh(name), rc, n, r->vst.n + 1);
	CHECK(r, !strcmp(si[n - 1].name, name) && si[n - 1].cp,
	      "the newest snapshot is %s (CP %llu), not %s", sh(si[n - 1].name),
	      (unsigned long long)si[n - 1].cp, sh(name));
	for (unsigned i = 0; i + 1 < n; i++)
		CHECK(r, si[i].snapid < si[n - 1].snapid, "new snapshot %s has id %u, %s has %u",
		      sh(name), si[n - 1].snapid, sh(si[i].name), si[i].snapid);
	times_save(r);
	GROW(r->vst.v, r->vst.n, r->vst.cap);
	struct vsnap *vs = &r->vst.v[r->vst.n++];
	memset(vs, 0, sizeof(*vs));
	snprintf(vs->name, sizeof(vs->name), "%.63s", name);
	vs->snapid = si[n - 1].snapid;
	vs->op = r->op;
	model_clone(&r->m, &vs->m);
	hs_free(&vs->m.ever);
	struct wafl_attr at;
	snap_root(r, vs, &at, "a new snapshot");
	CHECK(r, at.fsid != r->fsid, "snapshot %s has the active file system's fsid %#llx",
	      sh(name), (unsigned long long)at.fsid);
	vs->fsid = at.fsid;
	r->st.snap_creates++;
	if (r->vst.n > r->st.max_snaps)
		r->st.max_snaps = r->vst.n;
	return vs;
}

/* Deletes snapshot i: its handles are stale at once. */
static void snap_drop(struct run *r, size_t i)
{
	struct vsnap *vs = &r->vst.v[i];
	note(r, "snapshot delete %s (id %u)", sh(vs->name), vs->snapid);
	char why[160];
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_delete(r->t.v, vs->name, why, sizeof(why), &st));
	CHECK_RC(r, rc, 0, "snapshot delete");
	track(r, &st);
	struct wafl_fh gone[2] = {vs->m.root->fh, vs->m.nodes[below(r, vs->m.nnodes)]->fh};
	for (int k = 0; k < 2; k++) {
		gone[k].snapid = vs->snapid;
		struct wafl_attr at;
		rc = wafl_getattr(r->t.v, &gone[k], &at);
		CHECK(r, rc == -ESTALE, "getattr of ino %llu in just deleted snapshot %s: %d",
		      (unsigned long long)gone[k].ino, sh(vs->name), rc);
		if (r->vst.ngone < GONE_MAX)
			r->vst.gone[r->vst.ngone++] = gone[k];
		else
			r->vst.gone[below(r, GONE_MAX)] = gone[k];
	}
	struct wafl_fh x;
	rc = snap_lookup(r, vs->name, &x);
	CHECK(r, rc == -ENOENT, "lookup .snapshot/%s after its deletion: %d", sh(vs->name), rc);
	model_free(&vs->m);
	memmove(&r->vst.v[i], &r->vst.v[i + 1], (r->vst.n - i - 1) * sizeof(r->vst.v[0]));
	r->vst.n--;
	r->st.snap_deletes++;
}

/* Runs the loop until no deletion is reclaiming space any more. */
static void reclaim_wait(struct run *r)
{
	note(r, "wait for the reclaim");
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct wafl_vol_info vi;
		wafl_vol_info(r->t.v, &vi);
		if (!vi.reclaiming_blocks)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		CHECK(r, t.tv_sec - t0.tv_sec < 120,
		      "the reclaim did not end in 2 minutes (%llu left)",
		      (unsigned long long)vi.reclaiming_blocks);
		if (event_base_loop(r->t.base, EVLOOP_ONCE | EVLOOP_NONBLOCK))
			usleep(100);
	}
	settle(r);
	r->st.reclaim_waits++;
}

/* Restores snapshot i: the model becomes the snapshot's, every handle of
 * a file it lacks must be stale, and every inode has the snapshot's times. */
static void restore_to(struct run *r, size_t i)
{
	struct vsnap *vs = &r->vst.v[i];
	note(r, "snapshot restore %s (id %u, taken after op %lu)", sh(vs->name), vs->snapid,
	     vs->op);
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_restore(r->t.v, vs->name, &st));
	CHECK_RC(r, rc, 0, "snapshot restore");
	track(r, &st);
	if (!r->stable_only) {
		rc = wt_wait(&r->t, &st);
		CHECK(r, rc == 0, "waiting for a restore: %d", rc);
		settle(r);
	}
	struct model old = r->m;
	model_clone(&vs->m, &r->m);
	hs_free(&r->m.ever);
	r->m.ever = old.ever; /* handed out is handed out */
	memset(&old.ever, 0, sizeof(old.ever));
	struct wafl_fh *stale = NULL;
	size_t nstale = 0, capstale = 0;
	for (size_t k = 0; k < old.nnodes; k++) {
		const struct wafl_fh *fh = &old.nodes[k]->fh;
		if (m_by_fh(&r->m, fh))
			continue;
		m_dead_add(r, fh);
		GROW(stale, nstale, capstale);
		stale[nstale++] = *fh;
	}
	for (size_t k = 0; k < old.ndead; k++)
		if (!m_by_fh(&r->m, &old.dead[k]))
			m_dead_add(r, &old.dead[k]);
	model_free(&old);
	for (size_t k = 0; k < nstale; k++) {
		struct wafl_attr at;
		rc = wafl_getattr(r->t.v, &stale[k], &at);
		CHECK(r, rc == -ESTALE,
		      "after restoring %s: getattr of ino %llu gen %u: %d, not ESTALE",
		      sh(vs->name), (unsigned long long)stale[k].ino, stale[k].gen, rc);
	}
	free(stale);
	times_check(r, "after a restore");
	r->st.snap_restores++;
}

static void op_snap_delete(struct run *r);

/* Snapshot create: -EINVAL for a bad name, -EEXIST for a taken one. */
static void op_snap_create(struct run *r)
{
	if (r->vst.n >= VSNAP_MAX) {
		op_snap_delete(r);
		return;
	}
	char name[SNAME_BUF];
	bool valid;
	pick_snapname(r, name, &valid);
	int want = !valid ? -EINVAL : vs_find(r, name) ? -EEXIST : 0;
	if (!want) {
		snap_take(r, name);
		counted(r, 0);
		if (chance(r, 25))
			compare_snap(r, &r->vst.v[r->vst.n - 1], "a new snapshot");
		return;
	}
	note(r, "snapshot create %s (refused)", sh(name));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_create(r->t.v, name, &st));
	CHECK_RC(r, rc, want, "snapshot create");
	counted(r, rc);
}

/* Snapshot delete: -ENOENT for a name that is none; the reclaim is waited
 * for now and then, else it runs while other operations come. */
static void op_snap_delete(struct run *r)
{
	size_t i = r->vst.n ? below(r, r->vst.n) : 0;
	bool pick = r->vst.n && chance(r, 88);
	if (pick && r->vst.v[i].anchor && chance(r, 95)) {
		/* the anchor mostly stays for the next audit */
		size_t k = 0;
		while (k < r->vst.n && r->vst.v[(i + k) % r->vst.n].anchor)
			k++;
		pick = k < r->vst.n;
		i = (i + k) % r->vst.n;
	}
	if (pick) {
		snap_drop(r, i);
		counted(r, 0);
		if (!r->stable_only && chance(r, 50))
			reclaim_wait(r);
		return;
	}
	char name[SNAME_BUF];
	bool valid;
	pick_snapname(r, name, &valid);
	if (vs_find(r, name))
		strcpy(name, "never-taken");
	note(r, "snapshot delete %s (none)", sh(name));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_delete(r->t.v, name, NULL, 0, &st));
	CHECK_RC(r, rc, -ENOENT, "snapshot delete");
	counted(r, rc);
}

/* Snapshot rename: -EINVAL for a bad new name, then -ENOENT, then the same
 * name is a no-op, then -EEXIST. */
static void op_snap_rename(struct run *r)
{
	char from[SNAME_BUF], to[SNAME_BUF];
	bool fvalid, tvalid;
	if (r->vst.n && chance(r, 85))
		strcpy(from, r->vst.v[below(r, r->vst.n)].name);
	else
		pick_snapname(r, from, &fvalid);
	pick_snapname(r, to, &tvalid);
	struct vsnap *s = vs_find(r, from);
	int want = !tvalid	       ? -EINVAL
		   : !s		       ? -ENOENT
		   : !strcmp(from, to) ? 0
		   : vs_find(r, to)    ? -EEXIST
				       : 0;
	note(r, "snapshot rename %s -> %s", sh(from), sh(to));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_rename(r->t.v, from, to, &st));
	CHECK_RC(r, rc, want, "snapshot rename");
	counted(r, rc);
	if (rc || !strcmp(from, to))
		return;
	track(r, &st);
	snprintf(s->name, sizeof(s->name), "%.63s", to);
	r->st.snap_renames++;
	struct wafl_fh x;
	rc = snap_lookup(r, from, &x);
	CHECK(r, rc == -ENOENT, "lookup .snapshot/%s after renaming it: %d", sh(from), rc);
	rc = snap_lookup(r, to, &x);
	CHECK(r, rc == 0 && x.snapid == s->snapid, "lookup .snapshot/%s: %d (snapid %u, not %u)",
	      sh(to), rc, x.snapid, s->snapid);
}

static void op_snap_restore(struct run *r)
{
	if (r->vst.n && chance(r, 90)) {
		restore_to(r, below(r, r->vst.n));
		counted(r, 0);
		if (!r->stable_only)
			compare(r, "after a restore");
		return;
	}
	char name[SNAME_BUF];
	bool valid;
	pick_snapname(r, name, &valid);
	if (vs_find(r, name))
		strcpy(name, "never-taken");
	note(r, "snapshot restore %s (none)", sh(name));
	struct wafl_stab st;
	int rc = RETRY(r, wafl_snap_restore(r->t.v, name, &st));
	CHECK_RC(r, rc, -ENOENT, "snapshot restore");
	counted(r, rc);
}

/* Whether readdir lists ".snapshot" (lookup finds it either way). */
static void op_snapdir(struct run *r)
{
	bool vis = chance(r, 50);
	note(r, ".snapshot %s", vis ? "visible" : "hidden");
	struct wafl_stab st;
	int rc = RETRY(r, wafl_vol_set_snapdir(r->t.v, vis, &st));
	CHECK_RC(r, rc, 0, "set_snapdir");
	counted(r, rc);
	track(r, &st);
	r->vst.snapdir_visible = vis;
	cmp_dir(r, pick_node(r, F_DIR), "after .snapshot visibility", false);
}

/* A change through a snapshot's handle: -EROFS, whatever it is. */
static void snap_erofs(struct run *r, struct vsnap *vs, struct mnode *n)
{
	struct wafl_fh fh = vfh(r, n), root, aroot;
	struct mnode *d = n->type == WAFL_FT_DIR ? n : vs->m.root;
	struct wafl_fh dir = vfh(r, d);
	CHECK(r, wafl_root(r->t.v, &aroot) == 0, "wafl_root failed");
	root = aroot;
	root.snapid = WAFL_SNAPID_DIR; /* the root's ".snapshot" */
	const char *name = d->nents ? d->ents[below(r, d->nents)].name : "a";
	struct wafl_stab st;
	struct wafl_attr at;
	struct wafl_fh out;
	struct wafl_sattr sa = {.mask = WAFL_SA_MODE, .mode = 0600};
	unsigned q = (unsigned)below(r, 12);
	static const char *const what[] = {"write",
					   "setattr",
					   "create",
					   "mkdir",
					   "symlink",
					   "mknod",
					   "remove",
					   "rename from",
					   "link",
					   "commit",
					   "create in .snapshot",
					   "rename into"};
	note(r, "snapshot %s: %s through ino %llu (EROFS)", sh(vs->name), what[q],
	     (unsigned long long)n->fh.ino);
	int rc = 0;
	switch (q) {
	case 0:
		rc = RETRY(r,
			   wafl_write(r->t.v, NULL, &fh, 0, 10, r->buf, WAFL_FILE_SYNC, &at, &st));
		break;
	case 1:
		rc = RETRY(r, wafl_setattr(r->t.v, NULL, &fh, &sa, &at, &st));
		break;
	case 2:
		rc = RETRY(r, wafl_create(r->t.v, NULL, &dir, "new", WAFL_UNCHECKED, &sa, 0, &out,
					  &at, &st));
		break;
	case 3:
		rc = RETRY(r, wafl_mkdir(r->t.v, NULL, &dir, "newdir", NULL, &out, &at, &st));
		break;
	case 4:
		rc = RETRY(r,
			   wafl_symlink(r->t.v, NULL, &dir, "ln", "target", NULL, &out, &at, &st));
		break;
	case 5:
		rc = RETRY(r, wafl_mknod(r->t.v, NULL, &dir, "fifo", WAFL_FT_FIFO, 0, 0, NULL, &out,
					 &at, &st));
		break;
	case 6:
		rc = RETRY(r, wafl_remove(r->t.v, NULL, &dir, name, &st));
		break;
	case 7:
		rc = RETRY(r, wafl_rename(r->t.v, NULL, &dir, name, &aroot, "moved", &st));
		break;
	case 8:
		rc = RETRY(r, wafl_link(r->t.v, NULL, &fh, &aroot, "linked", &st));
		break;
	case 9:
		rc = wafl_commit(r->t.v, &fh, &st);
		break;
	case 10:
		rc = RETRY(r, wafl_create(r->t.v, NULL, &root, "new", WAFL_UNCHECKED, &sa, 0, &out,
					  &at, &st));
		break;
	default:
		rc = RETRY(r, wafl_rename(r->t.v, NULL, &aroot, "a", &dir, "moved", &st));
		break;
	}
	CHECK_RC(r, rc, -EROFS, what[q]);
	r->st.snap_erofs++;
}

/* Reading a snapshot through the handles of its files, or through the
 * ".snapshot" of an active directory; a change through it is -EROFS. */
static void op_snap_look(struct run *r)
{
	if (!r->vst.n) {
		op_getattr(r);
		return;
	}
	struct vsnap *vs = &r->vst.v[below(r, r->vst.n)];
	struct mnode *n = vs->m.nodes[below(r, vs->m.nnodes)];
	unsigned p = (unsigned)below(r, 100);
	r->view = vs->snapid;
	r->view_fsid = vs->fsid;
	int rc = 0;
	if (p < 25) {
		note(r, "snapshot %s: getattr, access ino %llu", sh(vs->name),
		     (unsigned long long)n->fh.ino);
		cmp_handle(r, n, "snapshot getattr");
		struct wafl_fh fh = vfh(r, n);
		unsigned granted = 0;
		rc = wafl_access(r->t.v, NULL, &fh, 7, &granted);
		CHECK(r, rc == 0 && granted == 5,
		      "access through snapshot %s: %d, granted %u (read and execute, never write)",
		      sh(vs->name), rc, granted);
	} else if (p < 45) {
		note(r, "snapshot %s: read ino %llu", sh(vs->name), (unsigned long long)n->fh.ino);
		if (n->type == WAFL_FT_REG)
			cmp_range(r, n, below(r, n->size + 10000),
				  1 + (uint32_t)below(r, chance(r, 70) ? 16384 : IO_MAX),
				  "snapshot read");
		else if (n->type == WAFL_FT_LNK)
			cmp_link(r, n, "snapshot readlink");
		else if (n->type == WAFL_FT_DIR)
			cmp_dir(r, n, "snapshot readdir", false);
		else
			cmp_handle(r, n, "snapshot getattr");
		r->st.snap_reads++;
	} else if (p < 55) {
		struct mnode *d = n->type == WAFL_FT_DIR ? n : vs->m.root;
		struct hd h = {vfh(r, d), d};
		char name[NAME_BUF];
		pick_name_in(r, &h, 60, name);
		int want = m_prep(&h, name);
		struct mnode *x = NULL;
		if (!want && !(x = m_find(d, name)))
			want = -ENOENT;
		note(r, "snapshot %s: lookup ino %llu %s", sh(vs->name),
		     (unsigned long long)d->fh.ino, sh(name));
		struct wafl_fh fh;
		struct wafl_attr at;
		rc = RETRY(r, wafl_lookup(r->t.v, NULL, &h.fh, name, &fh, &at));
		CHECK_RC(r, rc, want, "snapshot lookup");
		if (!rc) {
			CHECK(r,
			      fh.ino == x->fh.ino && fh.gen == x->fh.gen && fh.snapid == vs->snapid,
			      "snapshot lookup %s gave ino %llu gen %u snapid %u, model ino %llu "
			      "gen %u",
			      sh(name), (unsigned long long)fh.ino, fh.gen, fh.snapid,
			      (unsigned long long)x->fh.ino, x->fh.gen);
			cmp_attr(r, x, &at, "snapshot lookup");
		}
	} else if (p < 65) {
		/* an active directory's ".snapshot", then one of its entries */
		r->view = 0;
		struct mnode *d = pick_node(r, F_DIR);
		note(r, "browse .snapshot of %s", hdesc(&(struct hd){d->fh, d}));
		cmp_snapdir(r, d, "browsing .snapshot");
		size_t have[VSNAP_MAX], nhave = 0;
		for (size_t i = 0; i < r->vst.n; i++) {
			struct mnode *x = m_by_fh(&r->vst.v[i].m, &d->fh);
			if (x && x->type == WAFL_FT_DIR)
				have[nhave++] = i;
		}
		if (nhave) {
			struct vsnap *w = &r->vst.v[have[below(r, nhave)]];
			struct mnode *x = m_by_fh(&w->m, &d->fh);
			struct wafl_fh sd, fh;
			struct wafl_attr at;
			rc = RETRY(r,
				   wafl_lookup(r->t.v, NULL, &d->fh, WAFL_SNAPDIR_NAME, &sd, &at));
			CHECK(r, rc == 0, "lookup .snapshot: %d", rc);
			rc = RETRY(r, wafl_lookup(r->t.v, NULL, &sd, w->name, &fh, &at));
			CHECK(r,
			      rc == 0 && fh.snapid == w->snapid && fh.ino == d->fh.ino &&
				      fh.gen == d->fh.gen,
			      "lookup .snapshot/%s of ino %llu: %d (snapid %u ino %llu gen %u)",
			      sh(w->name), (unsigned long long)d->fh.ino, rc, fh.snapid,
			      (unsigned long long)fh.ino, fh.gen);
			r->view = w->snapid;
			r->view_fsid = w->fsid;
			cmp_attr(r, x, &at, "a directory in .snapshot");
			cmp_dir(r, x, "a directory in .snapshot", false);
		}
		r->st.snap_reads++;
	} else {
		snap_erofs(r, vs, n);
		rc = -EROFS;
	}
	r->view = 0;
	counted(r, rc);
}

static void random_op(struct run *r)
{
	size_t ndirs = count_kind(r, F_DIR);
	unsigned w_mkdir = ndirs < 40 ? 50 : 8;
	unsigned w_rmdir = ndirs > 60 ? 80 : 35;
	const unsigned w[] = {
		110,	 /* create */
		w_mkdir, /* mkdir */
		20,	 /* symlink */
		15,	 /* mknod */
		45,	 /* link */
		70,	 /* remove */
		w_rmdir, /* rmdir */
		100,	 /* rename */
		200,	 /* write */
		50,	 /* read */
		60,	 /* truncate */
		50,	 /* setattr */
		25,	 /* lookup */
		15,	 /* getattr */
		10,	 /* readlink */
		12,	 /* readdir */
		6,	 /* commit */
		8,	 /* CP started, not waited for */
		10,	 /* wait for that CP */
		1,	 /* bulk create */
		2,	 /* bulk remove */
		8,	 /* snapshot create */
		6,	 /* snapshot delete */
		3,	 /* snapshot rename */
		3,	 /* snapshot restore */
		2,	 /* .snapshot visible or not */
		20,	 /* read a snapshot, or try to change it */
	};
	unsigned total = 0;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		total += w[i];
	unsigned x = (unsigned)below(r, total), i = 0;
	while (x >= w[i])
		x -= w[i++];
	switch (i) {
	case 0:
		op_create(r);
		break;
	case 1:
		op_mkdir(r);
		break;
	case 2:
		op_symlink(r);
		break;
	case 3:
		op_mknod(r);
		break;
	case 4:
		op_link(r);
		break;
	case 5:
		op_remove(r, false);
		break;
	case 6:
		op_remove(r, true);
		break;
	case 7:
		op_rename(r);
		break;
	case 8:
		op_write(r);
		break;
	case 9:
		op_read(r);
		break;
	case 10:
		op_truncate(r);
		break;
	case 11:
		op_setattr(r);
		break;
	case 12:
		op_lookup(r);
		break;
	case 13:
		op_getattr(r);
		break;
	case 14:
		op_readlink(r);
		break;
	case 15:
		op_readdir(r);
		break;
	case 16:
		op_commit(r);
		break;
	case 17:
		note(r, "cp start (not waited for)");
		wafl_cp_start(r->t.a, &r->cp_started);
		break;
	case 18: {
		/* not wt_poll(): when a CP ends must not depend on thread timing */
		note(r, "wait for the CP started last");
		int rc = wt_wait(&r->t, &r->cp_started);
		CHECK(r, rc == 0, "waiting for a CP: %d", rc);
		settle(r);
		break;
	}
	case 19:
		/* bursts are many operations: not while the model is kept per op */
		r->stable_only ? op_write(r) : op_bulk_create(r);
		break;
	case 20:
		r->stable_only ? op_write(r) : op_bulk_remove(r);
		break;
	case 21:
		/* a create replayed after a crash takes the state at the end of
		 * the replay: not while operations may be in flight */
		r->stable_only ? op_write(r) : op_snap_create(r);
		break;
	case 22:
		op_snap_delete(r);
		break;
	case 23:
		op_snap_rename(r);
		break;
	case 24:
		op_snap_restore(r);
		break;
	case 25:
		op_snapdir(r);
		break;
	default:
		op_snap_look(r);
		break;
	}
}

/* ---- consistency points, remounts, crashes -------------------------------- */

/* Every inode's times before a remount or a crash, to check after it: a
 * CP keeps them, and replay must reproduce the very same times. */
static void times_save(struct run *r)
{
	for (size_t i = 0; i < r->m.nnodes; i++) {
		struct mnode *n = r->m.nodes[i];
		struct wafl_attr at;
		int rc = RETRY(r, wafl_getattr(r->t.v, &n->fh, &at));
		CHECK(r, rc == 0, "getattr ino %llu: %d", (unsigned long long)n->fh.ino, rc);
		n->t_a = at.atime;
		n->t_m = at.mtime;
		n->t_c = at.ctime;
	}
}

static void times_check(struct run *r, const char *why)
{
	for (size_t i = 0; i < r->m.nnodes; i++) {
		struct mnode *n = r->m.nodes[i];
		struct wafl_attr at;
		int rc = RETRY(r, wafl_getattr(r->t.v, &n->fh, &at));
		CHECK(r, rc == 0, "getattr ino %llu: %d", (unsigned long long)n->fh.ino, rc);
		CHECK(r,
		      ts_eq(at.atime, n->t_a) && ts_eq(at.mtime, n->t_m) && ts_eq(at.ctime, n->t_c),
		      "%s: ino %llu times a/m/c %lld.%09ld/%lld.%09ld/%lld.%09ld, before "
		      "%lld.%09ld/%lld.%09ld/%lld.%09ld",
		      why, (unsigned long long)n->fh.ino, (long long)at.atime.tv_sec,
		      at.atime.tv_nsec, (long long)at.mtime.tv_sec, at.mtime.tv_nsec,
		      (long long)at.ctime.tv_sec, at.ctime.tv_nsec, (long long)n->t_a.tv_sec,
		      n->t_a.tv_nsec, (long long)n->t_m.tv_sec, n->t_m.tv_nsec,
		      (long long)n->t_c.tv_sec, n->t_c.tv_nsec);
	}
}

/* ---- snapshots while a crash is coming ----------------------------------- */

static void snaps_clear(struct run *r)
{
	for (size_t i = 0; i < r->nsnaps; i++) {
		model_free(&r->snaps[i].m);
		vstate_free(&r->snaps[i].vs);
	}
	r->nsnaps = 0;
}

static void snap_push(struct run *r, const struct wafl_stab *st)
{
	GROW(r->snaps, r->nsnaps, r->capsnaps);
	struct snap *sn = &r->snaps[r->nsnaps++];
	model_clone(&r->m, &sn->m);
	vstate_clone(&r->vst, &sn->vs);
	sn->st = *st;
	sn->op = r->op;
}

/* Everything so far is durable: the model as it is now is the only state a
 * crash may bring back. */
static void snaps_restart(struct run *r)
{
	if (!r->stable_only)
		return;
	snaps_clear(r);
	snap_push(r, &(struct wafl_stab){0, 0});
}

/* ---- consistency points, remounts, crashes -------------------------------- */

static void ev_cp(struct run *r)
{
	note(r, "cp_sync");
	int rc = wafl_cp_sync(r->t.a);
	CHECK(r, rc == 0, "wafl_cp_sync: %d", rc);
	settle(r);
	compare(r, "after a CP");
	compare_snaps(r, 1, "after a CP");
	/* the image that CP wrote must be consistent by itself, while mounted */
	long p = wt_check(&r->t, true);
	CHECK(r, p == 0, "the checker found %ld problems in the CP just taken", p);
	r->st.cps++;
	snaps_restart(r);
}

/* Each mount gets its own cache size and dirty-data CP trigger: a small
 * cache evicts (and re-reads) blocks, a small trigger starts CPs often. */
static void open_params(struct run *r)
{
	static const uint64_t cache[] = {1u << 20, 4u << 20, 16u << 20, 64u << 20};
	static const uint64_t dirty[] = {0, 256u << 10, 2u << 20};
	r->t.op.cache_bytes = cache[below(r, 4)];
	r->t.op.cp_dirty_bytes = dirty[below(r, 3)];
	/* No timer-driven CPs: they would make a run depend on the clock.
	 * CPs start at random operations instead ("cp start"), and when the
	 * log or the cache asks for one. */
	r->t.op.cp_interval_ms = 3600 * 1000;
	note(r, "open with a %llu KiB cache, CP at %llu KiB dirty",
	     (unsigned long long)r->t.op.cache_bytes >> 10,
	     (unsigned long long)r->t.op.cp_dirty_bytes >> 10);
}

static void reopen(struct run *r, const char *why)
{
	open_params(r);
	int rc = wt_open(&r->t);
	CHECK(r, rc == 0, "%s: wt_open: %d", why, rc);
	CHECK(r, r->t.v, "%s: no volume after open", why);
	r->max_seq = 0;
	memset(&r->cp_started, 0, sizeof(r->cp_started));
}

static void ev_remount(struct run *r)
{
	if (r->paranoid)
		compare(r, "before close");
	note(r, "close, check, open");
	times_save(r);
	int rc = wt_close(&r->t);
	CHECK(r, rc == 0, "wt_close: %d", rc);
	long p = wt_check(&r->t, true);
	CHECK(r, p == 0, "the checker found %ld problems after a clean close", p);
	reopen(r, "after remount");
	compare(r, "after remount");
	times_check(r, "after remount");
	compare_snaps(r, 3, "after remount");
	r->st.remounts++;
	snaps_restart(r);
}

/* Before a crash: everything so far made durable, then only logged writes,
 * with the model kept after each operation. */
static void ev_crash_prepare(struct run *r)
{
	note(r, "commit everything; stable writes only until the crash");
	struct wafl_stab st;
	int rc = wafl_commit(r->t.v, NULL, &st);
	CHECK(r, rc == 0, "commit: %d", rc);
	st.log_seq = r->max_seq;
	rc = wt_wait(&r->t, &st);
	CHECK(r, rc == 0, "waiting for the commit and the log: %d", rc);
	settle(r);
	r->stable_only = true;
	snaps_restart(r);
}

static void crashed(struct run *r)
{
	wt_crash(&r->t);
	long p = wt_check(&r->t, true);
	CHECK(r, p == 0, "the checker found %ld problems after a crash", p);
	reopen(r, "after a crash");
	if (chance(r, 25)) {
		/* again, before anything else happens: replayed state must be kept */
		note(r, "crash again right after the replay");
		wt_crash(&r->t);
		p = wt_check(&r->t, true);
		CHECK(r, p == 0, "the checker found %ld problems after a second crash", p);
		reopen(r, "after a second crash");
	}
	r->st.crashes++;
}

/*
 * The crash. Half the time every operation is waited for first, and the
 * volume must come back exactly as the model. Otherwise the crash comes
 * with operations in flight (after waiting for a random one of them): the
 * volume must come back as the model was after some operation between the
 * last one known durable and the last one done -- a prefix of what was
 * done, nothing half-done, nothing acknowledged lost.
 */
static void ev_crash(struct run *r)
{
	r->stable_only = false;
	size_t n = r->nsnaps, lo = 0;
	if (!r->in_flight || chance(r, 25)) {
		note(r, "wait for log seq %llu, crash, check, replay",
		     (unsigned long long)r->max_seq);
		struct wafl_stab st = {.log_seq = r->max_seq};
		int rc = wt_wait(&r->t, &st);
		CHECK(r, rc == 0, "waiting for the log: %d", rc);
		snaps_clear(r);
		times_save(r);
		crashed(r);
		compare(r, "after crash and replay");
		times_check(r, "after crash and replay");
		compare_snaps(r, 3, "after crash and replay");
		return;
	}
	size_t w = below(r, n);
	struct wafl_stab st = {0, 0};
	for (size_t i = 0; i <= w; i++) {
		if (r->snaps[i].st.log_seq > st.log_seq)
			st.log_seq = r->snaps[i].st.log_seq;
		if (r->snaps[i].st.cp > st.cp) /* a restore: logged, and its CP */
			st.cp = r->snaps[i].st.cp;
	}
	note(r, "wait for op %lu (log seq %llu), crash with %zu operations in flight, replay",
	     r->snaps[w].op, (unsigned long long)st.log_seq, n - 1 - w);
	int rc = wt_wait(&r->t, &st);
	CHECK(r, rc == 0, "waiting for the log: %d", rc);
	/* lo: the last operation up to which every logged one is durable */
	while (lo + 1 < n &&
	       (!r->snaps[lo + 1].st.log_seq || wafl_is_durable(r->t.a, &r->snaps[lo + 1].st)))
		lo++;
	CHECK(r, lo >= w, "op %lu was waited for but is not durable", r->snaps[w].op);
	crashed(r);
	/* the model is the newest snapshot; try it, then the oldest allowed,
	 * then the ones between, newest first */
	model_free(&r->m);
	vstate_free(&r->vst);
	char first[sizeof(r->soft_msg)] = "";
	for (size_t k = 0; k < n - lo; k++) {
		size_t i = k == 0 ? n - 1 : k == 1 ? lo : n - k;
		r->m = r->snaps[i].m;
		r->vst = r->snaps[i].vs;
		if (compare_soft(r, "after a crash with operations in flight")) {
			note(r,
			     "the volume came back as it was after op %lu (%zu of %zu in flight "
			     "kept)",
			     r->snaps[i].op, i - lo, n - 1 - lo);
			memset(&r->snaps[i].m, 0, sizeof(r->snaps[i].m));
			memset(&r->snaps[i].vs, 0, sizeof(r->snaps[i].vs));
			snaps_clear(r);
			compare_snaps(r, 3, "after a crash with operations in flight");
			return;
		}
		if (k == 0)
			memcpy(first, r->soft_msg, sizeof(first));
	}
	r->m = r->snaps[n - 1].m;
	r->vst = r->snaps[n - 1].vs;
	memset(&r->snaps[n - 1].m, 0, sizeof(r->snaps[n - 1].m));
	memset(&r->snaps[n - 1].vs, 0, sizeof(r->snaps[n - 1].vs));
	fail_at(r, __FILE__, __LINE__,
		"after a crash the volume is not as it was after any op from %lu (durable) to "
		"%lu; against the last: %s",
		r->snaps[lo].op, r->snaps[n - 1].op, first);
}

/* ---- space audits ----------------------------------------------------------- */

struct census_ctx {
	uint32_t volid;
	uint64_t c[NCENSUS]; /* the volume's blocks, by what holds them */
	uint64_t all;	     /* every block the walk reached */
};

static void census_cb(void *arg, uint64_t pvbn, uint32_t volid, uint64_t ino, unsigned level,
		      uint64_t fbn)
{
	(void)pvbn;
	(void)level;
	(void)fbn;
	struct census_ctx *x = arg;
	x->all++;
	if (volid != x->volid)
		return;
	int k = ino == WAFL_INO_INODEFILE   ? C_INOFILE
		: ino == WAFL_INO_ACTIVEMAP ? C_MAP
		: ino == WAFL_INO_ROOT	    ? C_ROOT
		: ino == WAFL_INO_SUMMARY   ? C_SUMMARY
		: ino == WAFL_INO_SNAPTAB   ? C_SNAPTAB
		: ino < WAFL_INO_FIRST	    ? C_META
					    : C_FILES;
	x->c[k]++;
}

static void census_problem(void *arg, const struct wafl_problem *p)
{
	(void)arg;
	fprintf(stderr, "checker: %s pvbn %llu vol %u ino %llu L%u fbn %llu: %s\n",
		wafl_problem_name(p->kind), (unsigned long long)p->pvbn, p->volid,
		(unsigned long long)p->ino, p->level, (unsigned long long)p->fbn, p->msg);
}

/*
 * Deletes every snapshot (often restoring the anchor first), waits for the
 * reclaim, and proves that no block stays held: snapshots hold nothing,
 * free space is total less used, the used counters of the volume and of
 * the aggregate equal what the checker's walk reaches on the closed disks
 * and survive a remount (which recounts what snapshots hold). After the
 * anchor's restore every inode uses the very blocks it used when the
 * anchor was taken at the previous audit: only the maps and the snapshot
 * table may have changed. Then, maybe, a new anchor.
 */
static void ev_audit(struct run *r, bool anchor_after)
{
	note(r, "space audit with %zu snapshots", r->vst.n);
	r->st.audits++;
	uint64_t want[NCENSUS];
	bool restored = false;
	for (size_t i = 0; i < r->vst.n; i++) {
		if (r->vst.v[i].anchor && chance(r, 70)) {
			memcpy(want, r->vst.v[i].census, sizeof(want));
			restore_to(r, i);
			restored = true;
			break;
		}
	}
	while (r->vst.n)
		snap_drop(r, below(r, r->vst.n));
	reclaim_wait(r);
	/* Two CPs: reclaiming_blocks reads 0 as soon as nothing is left to
	 * free, while the summary rebuild may still be finishing its pass
	 * (and dirties the snapshot table when it ends): the first CP can
	 * start before that. */
	for (int i = 0; i < 2; i++) {
		int rc = wafl_cp_sync(r->t.a);
		CHECK(r, rc == 0, "wafl_cp_sync: %d", rc);
		settle(r);
	}
	int rc;
	compare(r, "after deleting every snapshot");
	struct wafl_vol_info vi;
	wafl_vol_info(r->t.v, &vi);
	CHECK(r, vi.nsnaps == 0 && vi.snap_blocks == 0 && vi.reclaiming_blocks == 0,
	      "no snapshot left, yet %u snapshots, %llu blocks held by snapshots, %llu reclaiming",
	      vi.nsnaps, (unsigned long long)vi.snap_blocks,
	      (unsigned long long)vi.reclaiming_blocks);
	struct wafl_fsstat fs;
	CHECK(r, wafl_fsstat(r->t.v, &fs) == 0, "fsstat failed");
	CHECK(r, fs.free_bytes == fs.total_bytes - vi.used_blocks * BS,
	      "no snapshot left: %llu bytes free of %llu, but %llu blocks used",
	      (unsigned long long)fs.free_bytes, (unsigned long long)fs.total_bytes,
	      (unsigned long long)vi.used_blocks);
	times_save(r);
	rc = wt_close(&r->t);
	CHECK(r, rc == 0, "wt_close: %d", rc);
	struct census_ctx x = {.volid = vi.volid};
	struct wafl_check_result res;
	rc = wafl_check(r->t.disks, r->t.ndisks, census_problem, NULL, census_cb, &x, &res);
	CHECK(r, rc == 0 && res.problems == 0, "the checker at the space audit: %d, %llu problems",
	      rc, (unsigned long long)res.problems);
	reopen(r, "after the space audit");
	struct wafl_vol_info v2;
	wafl_vol_info(r->t.v, &v2);
	uint64_t reached = 0;
	for (int k = 0; k < NCENSUS; k++)
		reached += x.c[k];
	note(r,
	     "audit: %llu used: inode file %llu, map %llu, root %llu, summary %llu, table %llu, "
	     "other metadata %llu, files %llu; the checker reached %llu blocks in all",
	     (unsigned long long)v2.used_blocks, (unsigned long long)x.c[C_INOFILE],
	     (unsigned long long)x.c[C_MAP], (unsigned long long)x.c[C_ROOT],
	     (unsigned long long)x.c[C_SUMMARY], (unsigned long long)x.c[C_SNAPTAB],
	     (unsigned long long)x.c[C_META], (unsigned long long)x.c[C_FILES],
	     (unsigned long long)x.all);
	CHECK(r, v2.used_blocks == vi.used_blocks && v2.snap_blocks == 0,
	      "used blocks %llu before the remount, %llu (and %llu held by snapshots) after",
	      (unsigned long long)vi.used_blocks, (unsigned long long)v2.used_blocks,
	      (unsigned long long)v2.snap_blocks);
	CHECK(r, reached == v2.used_blocks,
	      "the volume counts %llu used blocks, the checker reaches %llu",
	      (unsigned long long)v2.used_blocks, (unsigned long long)reached);
	struct wafl_aggr_info ai;
	wafl_aggr_info(r->t.a, &ai);
	CHECK(r, ai.used_blocks == x.all,
	      "the aggregate counts %llu used blocks, the checker reaches %llu",
	      (unsigned long long)ai.used_blocks, (unsigned long long)x.all);
	compare(r, "after the space audit's remount");
	times_check(r, "after the space audit's remount");
	r->st.remounts++;
	if (restored) {
		for (int k = 0; k < NCENSUS; k++) {
			if (k == C_MAP || k == C_SUMMARY || k == C_SNAPTAB)
				continue;
			CHECK(r, x.c[k] == want[k],
			      "the anchor restored and every snapshot deleted, the %s uses %llu "
			      "blocks; %llu when the anchor was taken",
			      census_name[k], (unsigned long long)x.c[k],
			      (unsigned long long)want[k]);
		}
		r->st.anchors_checked++;
	}
	if (anchor_after) {
		char name[32];
		snprintf(name, sizeof(name), "anchor.%u", r->anchor_seq++);
		struct vsnap *vs = snap_take(r, name);
		vs->anchor = true;
		memcpy(vs->census, x.c, sizeof(x.c));
	}
}

/* ---- the runs ------------------------------------------------------------ */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void run_model(enum wafl_aggr_kind kind, unsigned long nops, bool in_flight)
{
	struct run *r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	r->label = in_flight ? "in-flight" : kind == WAFL_AGGR ? "flexvol" : "tradvol";
	r->in_flight = in_flight;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	r->seed =
		env_u64("WAFL_SEED", (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	r->rng = r->seed;
	r->crng = r->seed ^ 0x5deece66dull;
	r->nops = nops;
	r->trace = env_u64("WAFL_MODEL_TRACE", 0) != 0;
	r->paranoid = env_u64("WAFL_MODEL_PARANOID", 0) != 0;
	fprintf(stderr, "model: seed %llu\n", (unsigned long long)r->seed);
	fprintf(stderr, "model: %s, %lu operations\n", r->label, nops);
	r->buf = malloc(IO_MAX + BS);
	r->mbuf = malloc(IO_MAX + BS);
	cr_assert(r->buf && r->mbuf);

	/* the flexible volume is thin, 2 GiB on 768 MiB of disks: its map
	 * spans 16 blocks, so a snapshot's reclaim takes turns of the loop */
	int rc = kind == WAFL_AGGR ? wt_make(&r->t, WAFL_AGGR, 3, 256ull << 20, 2048ull << 20)
				   : wt_make(&r->t, WAFL_TRAD, 2, 256ull << 20, 0);
	cr_assert_eq(rc, 0, "wt_make: %d", rc);
	cr_assert_eq(wt_close(&r->t), 0);
	open_params(r);
	cr_assert_eq(wt_open(&r->t), 0);
	struct wafl_fh rootfh;
	CHECK(r, wafl_root(r->t.v, &rootfh) == 0, "wafl_root");
	r->m.root = m_new(r, WAFL_FT_DIR, &rootfh);
	r->m.root->parent = r->m.root;
	r->m.root->mode = 0755;
	struct wafl_vol_info vi;
	wafl_vol_info(r->t.v, &vi);
	r->files_base = vi.files_used;
	struct wafl_attr rat;
	CHECK(r, wafl_getattr(r->t.v, &rootfh, &rat) == 0, "getattr of the root");
	r->fsid = rat.fsid;
	compare(r, "at the start");

	unsigned long next_cp = 100 + below(r, 200);
	unsigned long next_remount = 300 + below(r, 500);
	unsigned long crash_gap = in_flight ? 150 : 400;
	unsigned long next_crash = crash_gap + below(r, 500), crash_at = 0;
	unsigned long next_audit = 400 + below(r, 600);
	while (r->op < r->nops) {
		memset(&r->last_stab, 0, sizeof(r->last_stab));
		random_op(r);
		if (r->stable_only)
			snap_push(r, &r->last_stab);
		if (r->op >= next_cp) {
			ev_cp(r);
			next_cp = r->op + 100 + below(r, 200);
		}
		if (r->op >= next_remount) {
			ev_remount(r);
			next_remount = r->op + 300 + below(r, 500);
		}
		if (!r->stable_only && r->op >= next_crash) {
			ev_crash_prepare(r);
			crash_at = r->op + 1 + below(r, 40);
		}
		if (r->stable_only && r->op >= crash_at) {
			ev_crash(r);
			next_crash = r->op + crash_gap + below(r, 500);
		}
		if (!r->stable_only && r->op >= next_audit) {
			ev_audit(r, true);
			next_audit = r->op + 1000 + below(r, 800);
		}
	}
	compare(r, "at the end");
	compare_snaps(r, VSNAP_MAX, "at the end");
	ev_audit(r, false);
	ev_remount(r);
	rc = wt_close(&r->t);
	CHECK(r, rc == 0, "final close: %d", rc);
	long p = wt_check(&r->t, true);
	CHECK(r, p == 0, "the checker found %ld problems at the end", p);
	fprintf(stderr,
		"model: %s seed %llu passed: %lu ops (%lu refused as predicted), %llu MiB written, "
		"%lu compares, %lu CPs, %lu remounts, %lu crashes, %lu EAGAIN retries, %zu inodes "
		"at the end\n",
		r->label, (unsigned long long)r->seed, r->op, r->st.errors, r->st.bytes >> 20,
		r->st.compares, r->st.cps, r->st.remounts, r->st.crashes, r->st.eagain,
		r->m.nnodes);
	fprintf(stderr,
		"model: %s snapshots: %lu taken (at most %lu at once), %lu deleted (%lu reclaims "
		"waited for), %lu renamed, %lu restored; %lu compared whole, %lu reads and %lu "
		"refused changes through them; %lu space audits, %lu returned to their anchor\n",
		r->label, r->st.snap_creates, r->st.max_snaps, r->st.snap_deletes,
		r->st.reclaim_waits, r->st.snap_renames, r->st.snap_restores, r->st.snap_compares,
		r->st.snap_reads, r->st.snap_erofs, r->st.audits, r->st.anchors_checked);
	wt_destroy(&r->t);
	model_free(&r->m);
	vstate_free(&r->vst);
	snaps_clear(r);
	free(r->snaps);
	free(r->rd.e);
	free(r->want);
	free(r->buf);
	free(r->mbuf);
	free(r);
}

/* The flexible and the traditional volume run the same way; their crashes
 * come once everything is durable, so a seed replays exactly. */
Test(model, flexvol, .timeout = 900)
{
	run_model(WAFL_AGGR, (unsigned long)env_u64("WAFL_MODEL_OPS", 6000), false);
}

Test(model, tradvol, .timeout = 900)
{
	run_model(WAFL_TRAD, (unsigned long)env_u64("WAFL_MODEL_OPS", 6000) / 2, false);
}

/* Crashes with operations in flight, often. Which of them survive depends
 * on the log writer's timing, and the run goes on from there: a seed
 * replays exactly only up to the first such crash. */
Test(model, in_flight, .timeout = 900)
{
	run_model(WAFL_AGGR, (unsigned long)env_u64("WAFL_MODEL_OPS", 6000) / 2, true);
}
