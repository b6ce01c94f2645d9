/*
 * test_crash.c - kill -9 at random moments, then prove the crash
 * invariants (DESIGN.md §8.2, §8.6): the newest durable CP passes the
 * checker by itself, and replaying the NVLOG over it gives a state that
 * holds every change the file system acknowledged as stable, with the
 * inode numbers and generations it handed out (§9.1).
 *
 * The test keeps a model of the volume: a few small directories, a few
 * dozen files with their contents and hard links, and one directory
 * ("big") whose hundreds of long names grow and shrink its B+tree. An
 * operation is a function of (seed, operation index, model state) alone,
 * so the test process and every child it forks generate the same
 * sequence. Each cycle a child mounts the scratch aggregate with a CP
 * every few milliseconds and a tiny dirty limit, issues operations, and
 * records in shared memory which ones it started and which ones the file
 * system called back as durable. The parent kills it with SIGKILL at a
 * random moment: inside CPs, log writes, a mount's replay, a clean
 * unmount. The volume must then hold exactly the model after k operations,
 * for some k between the acknowledged prefix and the last one started.
 *
 * Sometimes the parent checks that itself (checker, mount and replay,
 * compare, clean unmount, checker, read-only compare); sometimes it
 * leaves the replay to the next child, which compares and carries on from
 * there, so crashes also hit work done right after a replay, and replays
 * of replays. Sometimes a child unmounts cleanly before the kill: then
 * the image must hold everything without any replay.
 *
 * An UNSTABLE write goes with its COMMIT, and the child waits for that
 * commit before the next operation: until it is durable the write may be
 * lost (§9.6), while the model only knows whole operations in order.
 *
 * Snapshots are operations too: create, delete and restore. The model
 * keeps a copy of itself in each snapshot it creates. A create is waited
 * for (its CP) before the next operation, so a snapshot replayed from the
 * log is taken when nothing follows it there: whether acknowledged or
 * not, a snapshot that exists holds exactly the model at its create. A
 * delete is durable once logged, and its reclaim runs on in the
 * background while operations continue; a restore is not waited for. The
 * volume must then hold, for the same k, the model's active tree and
 * exactly its snapshots (every name, every byte, through .snapshot/NAME),
 * and the handles of files a restore dropped must be stale; a new file
 * never gets a handle handed out before. The checker runs after every
 * kill, also when it lands while a deletion's reclaim is under way. The
 * summary line counts the kills that landed while a snapshot create,
 * delete or restore was not yet durable, and while a reclaim ran (or its
 * freed blocks waited for their CP).
 *
 * WAFL_SEED=n repeats an operation sequence (kill times stay random);
 * WAFL_CRASH_CYCLES=n changes the number of kill cycles of each test.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wtest.h"

#define MAX_FILES     48    /* outside "big" */
#define MAX_DIRS      8	    /* the root and "big" included */
#define SMALL_ENTS    120   /* names outside "big" */
#define NAMES	      24u   /* per small directory: "n00".."n23" */
#define BIG_NAMES     600   /* long names: a "big" leaf holds ~60 */
#define BIG_PHASE     4000u /* operations: "big" grows, then shrinks */
#define MAX_OBJS      (MAX_FILES + MAX_DIRS + BIG_NAMES + 8)
#define MAX_ENTS      (SMALL_ENTS + BIG_NAMES + 4)
#define NAME_LEN      48
#define SMALL_MAX     (256u << 10) /* most files stay below this */
#define FAR_OFF	      (2ull << 20) /* a few reach past it: a taller block tree */
#define MAX_FAR	      3
#define RING	      (1u << 16) /* per-operation records in shared memory */
#define OPS_PER_CYCLE (RING / 4) /* a child stops issuing after this many */
#define UNSET	      UINT64_MAX
#define MAX_SNAPS     3	 /* snapshots at once */
#define MAX_DEAD      64 /* handles a restore dropped, remembered */

/* ---- the model ------------------------------------------------------ */

struct mobj {
	bool used, isdir;
	int parent;	/* directories: the directory holding it */
	uint32_t nlink; /* files: names that lead to it */
	uint64_t ino;	/* 0 = not known yet: created by the operation in flight */
	uint32_t gen;
	uint64_t born; /* the operation that created it */
	uint8_t *data; /* files: size bytes */
	uint64_t size, cap;
};

struct ment {
	bool used;
	int dir, obj;
	char name[NAME_LEN];
};

struct model;

/* A snapshot of the volume: the model as it was when it was taken. */
struct msnap {
	bool used;
	char name[NAME_LEN];
	uint64_t born;	   /* the create's operation */
	struct model *img; /* its own snapshots unused */
};

struct model {
	uint32_t volid;
	int big;		 /* the "big" directory */
	struct mobj o[MAX_OBJS]; /* o[0] is the root */
	struct ment e[MAX_ENTS];
	struct msnap snaps[MAX_SNAPS];
	struct {
		uint64_t ino;
		uint32_t gen;
	} dead[MAX_DEAD]; /* handles of files a restore dropped: stale */
	unsigned ndead;
};

enum ckind {
	K_CREATE,
	K_MKDIR,
	K_WRITE,
	K_UNSTABLE,
	K_TRUNC,
	K_RENAME,
	K_LINK,
	K_REMOVE,
	K_RMDIR,
	K_SNAPCREATE,
	K_SNAPDELETE,
	K_SNAPRESTORE,
};
static const char *const kind_name[] = {
	"create", "mkdir",  "write", "unstable+commit", "truncate",	   "rename",
	"link",	  "remove", "rmdir", "snapshot create", "snapshot delete", "snapshot restore"};

static bool is_snap_op(enum ckind k)
{
	return k == K_SNAPCREATE || k == K_SNAPDELETE || k == K_SNAPRESTORE;
}

struct op {
	enum ckind kind;
	int snap;      /* snapshot delete and restore: the model's slot */
	int obj;       /* write, truncate, link: the file */
	int dir, dir2; /* directory objects */
	char name[NAME_LEN], name2[NAME_LEN];
	enum wafl_stable stable;
	uint64_t off, size; /* write offset; truncate size */
	uint32_t len;
	uint64_t dseed; /* write data */
};

/* ---- what a child shares with the test process ----------------------- */

struct oprec {
	uint8_t durable; /* the file system called back: durable */
	uint8_t noop;	 /* nothing to wait for: it changed nothing */
	uint8_t kind;	 /* enum ckind */
	uint64_t ino;	 /* create, mkdir: what it chose (0 = not returned yet) */
	uint32_t gen;
};

struct shared {
	uint64_t k_start;    /* the operation the child starts from; UNSET before */
	uint64_t issued;     /* operations started: issued - 1 may be in flight */
	uint64_t acked;	     /* operations 0 .. acked - 1 are all durable */
	int opened;	     /* the child's mount (with its replay) returned */
	int closing, closed; /* the child's clean unmount began, returned */
	int cp_running;	     /* wafl_aggr_info().cp_running, sampled often */
	int reclaiming;	     /* a snapshot deletion's reclaim runs, or its frees wait for a CP */
	uint64_t eagain;     /* operations refused with -EAGAIN, retried */
	uint64_t t_start_ns; /* when it started issuing, from fork */
	char msg[1536];	     /* why a child gave up */
	struct oprec ring[RING];
};

#define BARRIER() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static struct shared *g_sh; /* in a child */

/* WT_RETRY, counting the -EAGAINs (NVLOG half or cache full during a CP) */
#define RETRY(t, expr)                                                                             \
	({                                                                                         \
		int _rc;                                                                           \
		while ((_rc = (expr)) == -EAGAIN) {                                                \
			g_sh->eagain++;                                                            \
			event_base_loop((t)->base, EVLOOP_ONCE);                                   \
		}                                                                                  \
		_rc;                                                                               \
	})

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- model helpers -------------------------------------------------- */

static int find_ent(const struct model *m, int dir, const char *name)
{
	for (int i = 0; i < MAX_ENTS; i++)
		if (m->e[i].used && m->e[i].dir == dir && !strcmp(m->e[i].name, name))
			return i;
	return -1;
}

/* An entry outside "big" that does not name "big" itself. */
static bool small_ent(const struct model *m, int i)
{
	return m->e[i].used && m->e[i].dir != m->big && m->e[i].obj != m->big;
}

static int count_small(const struct model *m, bool dirs, bool ents)
{
	int n = 0;
	for (int i = 0; i < MAX_ENTS; i++)
		if (small_ent(m, i) && (ents || m->o[m->e[i].obj].isdir == dirs))
			n++;
	return n;
}

static int count_far(const struct model *m)
{
	int n = 0;
	for (int i = 0; i < MAX_OBJS; i++)
		n += m->o[i].used && !m->o[i].isdir && m->o[i].size > SMALL_MAX;
	return n;
}

static bool dir_empty(const struct model *m, int d)
{
	for (int i = 0; i < MAX_ENTS; i++)
		if (m->e[i].used && m->e[i].dir == d)
			return false;
	return true;
}

static unsigned subdirs(const struct model *m, int d)
{
	unsigned n = 0;
	for (int i = 0; i < MAX_ENTS; i++)
		n += m->e[i].used && m->e[i].dir == d && m->o[m->e[i].obj].isdir;
	return n;
}

/* Is d the directory s or below it? */
static bool in_subtree(const struct model *m, int d, int s)
{
	for (int depth = 0; depth <= MAX_DIRS; depth++) {
		if (d == s)
			return true;
		if (d == 0)
			return false;
		d = m->o[d].parent;
	}
	return true;
}

static int obj_alloc(struct model *m)
{
	for (int i = 1; i < MAX_OBJS; i++)
		if (!m->o[i].used)
			return i;
	abort(); /* the generator keeps below MAX_OBJS */
}

static void obj_free(struct model *m, int i)
{
	free(m->o[i].data);
	memset(&m->o[i], 0, sizeof(m->o[i]));
}

static void ent_add(struct model *m, int dir, const char *name, int obj)
{
	for (int i = 0; i < MAX_ENTS; i++) {
		if (!m->e[i].used) {
			m->e[i].used = true;
			m->e[i].dir = dir;
			m->e[i].obj = obj;
			snprintf(m->e[i].name, sizeof(m->e[i].name), "%s", name);
			return;
		}
	}
	abort(); /* the generator keeps below MAX_ENTS */
}

static void model_free(struct model *m)
{
	for (int i = 0; i < MAX_OBJS; i++)
		free(m->o[i].data);
	for (int i = 0; i < MAX_SNAPS; i++) {
		if (m->snaps[i].img) {
			model_free(m->snaps[i].img);
			free(m->snaps[i].img);
		}
	}
	memset(m, 0, sizeof(*m));
}

/* dst's objects and names become src's (dst's own data freed first). */
static void tree_copy(struct model *dst, const struct model *src)
{
	for (int i = 0; i < MAX_OBJS; i++)
		free(dst->o[i].data);
	memcpy(dst->o, src->o, sizeof(dst->o));
	memcpy(dst->e, src->e, sizeof(dst->e));
	for (int i = 0; i < MAX_OBJS; i++) {
		struct mobj *o = &dst->o[i];
		o->data = NULL;
		o->cap = 0;
		if (!src->o[i].data)
			continue;
		o->data = malloc(o->size ? o->size : 1);
		if (!o->data)
			abort();
		memcpy(o->data, src->o[i].data, o->size);
		o->cap = o->size;
	}
}

static bool dead_has(const struct model *m, uint64_t ino, uint32_t gen)
{
	unsigned n = m->ndead < MAX_DEAD ? m->ndead : MAX_DEAD;
	for (unsigned i = 0; i < n; i++)
		if (m->dead[i].ino == ino && m->dead[i].gen == gen)
			return true;
	return false;
}

/* The bytes a write carries: a function of its seed. */
static void fill(uint8_t *p, uint32_t len, uint64_t seed)
{
	uint64_t s = seed;
	uint32_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = wt_rand(&s);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = wt_rand(&s);
		memcpy(p + i, &v, len - i);
	}
}

static void set_size(struct mobj *o, uint64_t size)
{
	if (size > o->cap) {
		uint64_t ncap = o->cap ? o->cap : 4096;
		while (ncap < size)
			ncap *= 2;
		uint8_t *nd = realloc(o->data, ncap);
		if (!nd)
			abort();
		o->data = nd;
		o->cap = ncap;
	}
	if (size > o->size)
		memset(o->data + o->size, 0, size - o->size);
	o->size = size;
}

/* Drops one name of obj; frees it with its last. */
static void unlink_obj(struct model *m, int obj)
{
	struct mobj *o = &m->o[obj];
	if (o->isdir || --o->nlink == 0)
		obj_free(m, obj);
}

static void model_apply(struct model *m, const struct op *op, uint64_t idx, uint64_t ino,
			uint32_t gen, uint8_t *scratch)
{
	switch (op->kind) {
	case K_CREATE:
	case K_MKDIR: {
		int i = obj_alloc(m);
		struct mobj *o = &m->o[i];
		o->used = true;
		o->isdir = op->kind == K_MKDIR;
		o->parent = op->dir;
		o->nlink = 1;
		o->ino = ino;
		o->gen = gen;
		o->born = idx;
		ent_add(m, op->dir, op->name, i);
		break;
	}
	case K_WRITE:
	case K_UNSTABLE: {
		struct mobj *o = &m->o[op->obj];
		if (op->off + op->len > o->size)
			set_size(o, op->off + op->len);
		fill(scratch, op->len, op->dseed);
		memcpy(o->data + op->off, scratch, op->len);
		break;
	}
	case K_TRUNC:
		set_size(&m->o[op->obj], op->size);
		break;
	case K_RENAME: {
		int se = find_ent(m, op->dir, op->name), s = m->e[se].obj;
		int te = find_ent(m, op->dir2, op->name2);
		if (te >= 0 && m->e[te].obj == s)
			break; /* two names of one file (or one name): nothing happens */
		if (te >= 0) {
			int t = m->e[te].obj;
			m->e[te].obj = s;
			unlink_obj(m, t);
		} else {
			ent_add(m, op->dir2, op->name2, s);
		}
		m->e[se].used = false;
		if (m->o[s].isdir)
			m->o[s].parent = op->dir2;
		break;
	}
	case K_LINK:
		ent_add(m, op->dir2, op->name2, op->obj);
		m->o[op->obj].nlink++;
		break;
	case K_REMOVE:
	case K_RMDIR: {
		int e = find_ent(m, op->dir, op->name), obj = m->e[e].obj;
		m->e[e].used = false;
		unlink_obj(m, obj);
		break;
	}
	case K_SNAPCREATE: {
		struct msnap *ms = &m->snaps[op->snap];
		ms->used = true;
		memcpy(ms->name, op->name, NAME_LEN);
		ms->born = idx;
		ms->img = calloc(1, sizeof(*ms->img));
		if (!ms->img)
			abort();
		ms->img->volid = m->volid;
		ms->img->big = m->big;
		tree_copy(ms->img, m);
		break;
	}
	case K_SNAPDELETE: {
		struct msnap *ms = &m->snaps[op->snap];
		model_free(ms->img);
		free(ms->img);
		memset(ms, 0, sizeof(*ms));
		break;
	}
	case K_SNAPRESTORE: {
		const struct model *img = m->snaps[op->snap].img;
		/* the files it lacks: their handles are stale from now on */
		for (int i = 0; i < MAX_OBJS; i++) {
			const struct mobj *o = &m->o[i];
			if (!o->used || !o->ino)
				continue;
			bool kept = false;
			for (int j = 0; j < MAX_OBJS && !kept; j++)
				kept = img->o[j].used && img->o[j].ino == o->ino &&
				       img->o[j].gen == o->gen;
			if (!kept && !dead_has(m, o->ino, o->gen)) {
				m->dead[m->ndead % MAX_DEAD].ino = o->ino;
				m->dead[m->ndead % MAX_DEAD].gen = o->gen;
				m->ndead++;
			}
		}
		tree_copy(m, img);
		/* and a file dropped by an earlier restore may be back */
		unsigned nd = m->ndead < MAX_DEAD ? m->ndead : MAX_DEAD, keep = 0;
		for (unsigned d = 0; d < nd; d++) {
			bool live = false;
			for (int j = 0; j < MAX_OBJS && !live; j++)
				live = m->o[j].used && m->o[j].ino == m->dead[d].ino &&
				       m->o[j].gen == m->dead[d].gen;
			if (!live)
				m->dead[keep++] = m->dead[d];
		}
		m->ndead = keep;
		break;
	}
	}
}

/* ---- generating operations ------------------------------------------ */

static uint64_t rnd(uint64_t *r, uint64_t n)
{
	return n ? wt_rand(r) % n : 0;
}

/* A random directory other than "big". */
static int rand_dir(const struct model *m, uint64_t *r)
{
	int v[MAX_DIRS + 1], n = 0;
	for (int i = 0; i < MAX_OBJS && n <= MAX_DIRS; i++)
		if (m->o[i].used && m->o[i].isdir && i != m->big)
			v[n++] = i;
	return v[rnd(r, (uint64_t)n)];
}

/* A random entry outside "big" naming a file (want 0), a directory (1),
 * anything (2); or in "big" (3). */
static int rand_ent(const struct model *m, uint64_t *r, int want)
{
	int v[MAX_ENTS], n = 0;
	for (int i = 0; i < MAX_ENTS; i++) {
		if (want == 3) {
			if (m->e[i].used && m->e[i].dir == m->big)
				v[n++] = i;
			continue;
		}
		if (!small_ent(m, i))
			continue;
		bool d = m->o[m->e[i].obj].isdir;
		if (want == 2 || d == (want == 1))
			v[n++] = i;
	}
	return n ? v[rnd(r, (uint64_t)n)] : -1;
}

static void rand_name(uint64_t *r, char out[NAME_LEN])
{
	snprintf(out, NAME_LEN, "n%02u", (unsigned)rnd(r, NAMES));
}

static void big_name(uint64_t *r, char out[NAME_LEN])
{
	snprintf(out, NAME_LEN, "entry-%04u-of-the-big-directory-longish-name",
		 (unsigned)rnd(r, BIG_NAMES));
}

static void gen_write(const struct model *m, uint64_t *r, struct op *op)
{
	const struct mobj *o = &m->o[op->obj];
	unsigned c = (unsigned)rnd(r, 100);
	uint32_t len = c < 50	? 1 + (uint32_t)rnd(r, 4096)
		       : c < 85 ? 1 + (uint32_t)rnd(r, 32768)
				: 1 + (uint32_t)rnd(r, 128u << 10);
	unsigned where = (unsigned)rnd(r, 100);
	if (where < 2 && (count_far(m) < MAX_FAR || o->size > SMALL_MAX)) {
		op->off = FAR_OFF + rnd(r, 256u << 10);
		len = 1 + len % 8192;
	} else if (where < 22 && o->size + len <= SMALL_MAX) {
		op->off = o->size; /* append */
	} else {
		op->off = rnd(r, SMALL_MAX - len + 1);
		if (where < 50)
			op->off &= ~4095ull;
	}
	op->len = len;
	op->dseed = wt_rand(r);
}

/* Create, remove and rename of empty files in "big": it grows for
 * BIG_PHASE operations (leaf splits), then shrinks (emptied leaves freed,
 * the root collapsing), and so on. */
static bool gen_big(const struct model *m, uint64_t *r, uint64_t idx, struct op *op)
{
	bool grow = (idx / BIG_PHASE) % 2 == 0;
	unsigned c = (unsigned)rnd(r, 100), create = grow ? 70 : 10;
	op->dir = op->dir2 = m->big;
	if (c < create) {
		op->kind = K_CREATE;
		big_name(r, op->name);
		return find_ent(m, op->dir, op->name) < 0;
	}
	int e = rand_ent(m, r, 3);
	if (e < 0)
		return false;
	memcpy(op->name, m->e[e].name, NAME_LEN);
	if (c < 85) {
		op->kind = K_REMOVE;
		return true;
	}
	op->kind = K_RENAME; /* to a new name or over another file */
	big_name(r, op->name2);
	return true;
}

/* A snapshot create (a new name from the operation's index), or a delete
 * or restore of one the model has. */
static bool gen_snap(const struct model *m, uint64_t *r, uint64_t idx, unsigned c, struct op *op)
{
	int used[MAX_SNAPS], n = 0;
	for (int i = 0; i < MAX_SNAPS; i++)
		if (m->snaps[i].used)
			used[n++] = i;
	if (c < 30) {
		if (n == MAX_SNAPS)
			return false;
		op->kind = K_SNAPCREATE;
		for (op->snap = 0; m->snaps[op->snap].used; op->snap++)
			;
		snprintf(op->name, NAME_LEN, "s%" PRIu64, idx);
		return true;
	}
	if (!n)
		return false;
	op->kind = c < 55 ? K_SNAPDELETE : K_SNAPRESTORE;
	op->snap = used[rnd(r, (uint64_t)n)];
	memcpy(op->name, m->snaps[op->snap].name, NAME_LEN);
	return true;
}

static bool gen_try(const struct model *m, uint64_t *r, uint64_t idx, struct op *op)
{
	memset(op, 0, sizeof(*op));
	unsigned c = (unsigned)rnd(r, 1000);
	if (c < 67)
		return gen_snap(m, r, idx, c, op);
	if (rnd(r, 100) < 20)
		return gen_big(m, r, idx, op);
	unsigned w = (unsigned)rnd(r, 100);
	int e;
	if (w < 17) {
		bool dir = w >= 14;
		if (count_small(m, dir, false) >= (dir ? MAX_DIRS - 2 : MAX_FILES) ||
		    count_small(m, false, true) >= SMALL_ENTS)
			return false;
		op->kind = dir ? K_MKDIR : K_CREATE;
		op->dir = rand_dir(m, r);
		rand_name(r, op->name);
		return find_ent(m, op->dir, op->name) < 0;
	}
	if (w < 52) {
		if ((e = rand_ent(m, r, 0)) < 0)
			return false;
		op->obj = m->e[e].obj;
		op->kind = w < 47 ? K_WRITE : K_UNSTABLE;
		op->stable = w < 47 ? (rnd(r, 2) ? WAFL_FILE_SYNC : WAFL_DATA_SYNC) : WAFL_UNSTABLE;
		gen_write(m, r, op);
		return true;
	}
	if (w < 62) {
		if ((e = rand_ent(m, r, 0)) < 0)
			return false;
		op->kind = K_TRUNC;
		op->obj = m->e[e].obj;
		uint64_t size = m->o[op->obj].size;
		unsigned c = (unsigned)rnd(r, 100);
		if (c < 35)
			op->size = rnd(r, size);
		else if (c < 60)
			op->size =
				size < SMALL_MAX ? size + 1 + rnd(r, SMALL_MAX - size) : size / 2;
		else if (c < 75)
			op->size = 0;
		else if (c < 92)
			op->size = rnd(r, SMALL_MAX / 4096 + 1) * 4096;
		else
			op->size = size;
		return true;
	}
	if (w < 74) {
		if ((e = rand_ent(m, r, 2)) < 0)
			return false;
		op->kind = K_RENAME;
		op->dir = m->e[e].dir;
		memcpy(op->name, m->e[e].name, NAME_LEN);
		int s = m->e[e].obj;
		op->dir2 = rnd(r, 4) ? rand_dir(m, r) : op->dir;
		rand_name(r, op->name2);
		if (m->o[s].isdir && in_subtree(m, op->dir2, s))
			return false; /* into itself: EINVAL, not what this test is about */
		int te = find_ent(m, op->dir2, op->name2);
		if (te < 0 || m->e[te].obj == s)
			return true;
		int t = m->e[te].obj;
		if (m->o[s].isdir != m->o[t].isdir)
			return false;
		return !m->o[t].isdir || dir_empty(m, t);
	}
	if (w < 79) {
		if ((e = rand_ent(m, r, 0)) < 0 || count_small(m, false, true) >= SMALL_ENTS)
			return false;
		op->kind = K_LINK;
		op->obj = m->e[e].obj;
		op->dir2 = rand_dir(m, r);
		rand_name(r, op->name2);
		return find_ent(m, op->dir2, op->name2) < 0;
	}
	if (w < 94) {
		if ((e = rand_ent(m, r, 0)) < 0)
			return false;
		op->kind = K_REMOVE;
		op->dir = m->e[e].dir;
		memcpy(op->name, m->e[e].name, NAME_LEN);
		return true;
	}
	if ((e = rand_ent(m, r, 1)) < 0 || !dir_empty(m, m->e[e].obj))
		return false;
	op->kind = K_RMDIR;
	op->dir = m->e[e].dir;
	memcpy(op->name, m->e[e].name, NAME_LEN);
	return true;
}

static void op_gen(const struct model *m, uint64_t seed, uint64_t idx, struct op *op)
{
	uint64_t r = seed ^ (idx * 0xd1b54a32d192ed03ull);
	for (int tries = 0; tries < 10000; tries++)
		if (gen_try(m, &r, idx, op))
			return;
	abort(); /* a create in the root or a write is always possible */
}

static void op_describe(const struct model *m, const struct op *op, char *out, size_t n)
{
	switch (op->kind) {
	case K_WRITE:
	case K_UNSTABLE:
		snprintf(out, n, "%s ino %" PRIu64 " off %" PRIu64 " len %u", kind_name[op->kind],
			 m->o[op->obj].ino, op->off, op->len);
		break;
	case K_TRUNC:
		snprintf(out, n, "truncate ino %" PRIu64 " to %" PRIu64, m->o[op->obj].ino,
			 op->size);
		break;
	case K_LINK:
		snprintf(out, n, "link ino %" PRIu64 " as %" PRIu64 "/%s", m->o[op->obj].ino,
			 m->o[op->dir2].ino, op->name2);
		break;
	case K_RENAME:
		snprintf(out, n, "rename %" PRIu64 "/%s to %" PRIu64 "/%s", m->o[op->dir].ino,
			 op->name, m->o[op->dir2].ino, op->name2);
		break;
	case K_SNAPCREATE:
	case K_SNAPDELETE:
	case K_SNAPRESTORE:
		snprintf(out, n, "%s %s", kind_name[op->kind], op->name);
		break;
	default:
		snprintf(out, n, "%s %" PRIu64 "/%s", kind_name[op->kind], m->o[op->dir].ino,
			 op->name);
	}
}

/* ---- carrying operations out (in a child) ---------------------------- */

static struct wafl_fh fh_of(const struct model *m, int obj)
{
	struct wafl_fh fh = {m->volid, 0, m->o[obj].ino, m->o[obj].gen};
	return fh;
}

/* Issues op; returns 0 or a negative errno, with what went wrong in why. */
static int op_exec(struct wt *t, const struct model *m, const struct op *op, uint8_t *buf,
		   struct wafl_stab *st, uint64_t *ino, uint32_t *gen, char *why, size_t n)
{
	struct wafl_fh d = fh_of(m, op->dir), d2 = fh_of(m, op->dir2), f = fh_of(m, op->obj), out;
	struct wafl_attr at;
	int rc = 0;
	*ino = 0;
	*gen = 0;
	memset(st, 0, sizeof(*st));
	memset(&out, 0, sizeof(out));
	switch (op->kind) {
	case K_CREATE:
		rc = RETRY(t, wafl_create(t->v, NULL, &d, op->name, WAFL_GUARDED, NULL, 0, &out,
					  &at, st));
		break;
	case K_MKDIR:
		rc = RETRY(t, wafl_mkdir(t->v, NULL, &d, op->name, NULL, &out, &at, st));
		break;
	case K_WRITE:
	case K_UNSTABLE: {
		fill(buf, op->len, op->dseed);
		uint64_t want = m->o[op->obj].size;
		if (op->off + op->len > want)
			want = op->off + op->len;
		rc = RETRY(t,
			   wafl_write(t->v, NULL, &f, op->off, op->len, buf, op->stable, &at, st));
		if (!rc && at.size != want) {
			snprintf(why, n, "write: size %" PRIu64 " after it, not %" PRIu64, at.size,
				 want);
			return -EPROTO;
		}
		if (!rc && op->kind == K_UNSTABLE)
			rc = RETRY(t, wafl_commit(t->v, &f, st));
		break;
	}
	case K_TRUNC: {
		struct wafl_sattr sa = {.mask = WAFL_SA_SIZE, .size = op->size};
		rc = RETRY(t, wafl_setattr(t->v, NULL, &f, &sa, &at, st));
		if (!rc && at.size != op->size) {
			snprintf(why, n, "setattr: size %" PRIu64 " after it, not %" PRIu64,
				 at.size, op->size);
			return -EPROTO;
		}
		break;
	}
	case K_RENAME:
		rc = RETRY(t, wafl_rename(t->v, NULL, &d, op->name, &d2, op->name2, st));
		break;
	case K_LINK:
		rc = RETRY(t, wafl_link(t->v, NULL, &f, &d2, op->name2, st));
		break;
	case K_REMOVE:
		rc = RETRY(t, wafl_remove(t->v, NULL, &d, op->name, st));
		break;
	case K_RMDIR:
		rc = RETRY(t, wafl_rmdir(t->v, NULL, &d, op->name, st));
		break;
	case K_SNAPCREATE:
		rc = RETRY(t, wafl_snap_create(t->v, op->name, st));
		break;
	case K_SNAPDELETE:
		rc = RETRY(t, wafl_snap_delete(t->v, op->name, NULL, 0, st));
		break;
	case K_SNAPRESTORE:
		rc = RETRY(t, wafl_snap_restore(t->v, op->name, st));
		break;
	}
	if (rc) {
		char desc[200];
		op_describe(m, op, desc, sizeof(desc));
		snprintf(why, n, "%s: %s", desc, strerror(-rc));
		return rc;
	}
	if (op->kind == K_CREATE || op->kind == K_MKDIR) {
		*ino = out.ino;
		*gen = out.gen;
	}
	return 0;
}

/* ---- reading the volume back ------------------------------------------ */

struct sent {
	uint64_t dir, ino;
	uint32_t gen;
	enum wafl_ftype type;
	char name[WAFL_NAME_MAX + 1];
};

struct sino {
	uint64_t ino;
	struct wafl_attr at;
	uint8_t *data;
};

/* Everything a mounted volume shows, sorted for lookups once read. */
struct snap {
	struct sent *e; /* by (dir, name) */
	size_t ne, cape;
	struct sino *in; /* by ino */
	size_t nin, capin;
	bool sorted;
};

#define SNAP_MAX_ENTS 4096
#define SNAP_MAX_DIRS 64

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->nin; i++)
		free(s->in[i].data);
	free(s->in);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int sino_cmp(const void *x, const void *y)
{
	const struct sino *a = x, *b = y;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static int sent_cmp(const void *x, const void *y)
{
	const struct sent *a = x, *b = y;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return strcmp(a->name, b->name);
}

static struct sino *snap_inode(const struct snap *s, uint64_t ino)
{
	if (s->sorted) {
		struct sino key = {.ino = ino};
		return bsearch(&key, s->in, s->nin, sizeof(*s->in), sino_cmp);
	}
	for (size_t i = 0; i < s->nin; i++)
		if (s->in[i].ino == ino)
			return &s->in[i];
	return NULL;
}

static const struct sent *snap_ent(const struct snap *s, uint64_t dir, const char *name)
{
	struct sent key = {.dir = dir};
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, s->e, s->ne, sizeof(*s->e), sent_cmp);
}

struct rd_list {
	struct sent *v;
	size_t n, cap;
	uint64_t dir, last_cookie;
	bool overflow;
};

static int rd_collect(void *arg, const struct wafl_dirent *de)
{
	struct rd_list *l = arg;
	l->last_cookie = de->cookie;
	if ((de->namelen == 1 && de->name[0] == '.') ||
	    (de->namelen == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	if (l->n >= SNAP_MAX_ENTS || de->namelen > WAFL_NAME_MAX) {
		l->overflow = true;
		return 1;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	struct sent *e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->dir = l->dir;
	e->ino = de->ino;
	e->type = de->type;
	memcpy(e->name, de->name, de->namelen);
	return 0;
}

static void snap_add_ent(struct snap *s, const struct sent *e)
{
	if (s->ne == s->cape) {
		s->cape = s->cape ? 2 * s->cape : 128;
		s->e = realloc(s->e, s->cape * sizeof(*s->e));
		if (!s->e)
			abort();
	}
	s->e[s->ne++] = *e;
}

static struct sino *snap_add_inode(struct snap *s, uint64_t ino, const struct wafl_attr *at)
{
	if (s->nin == s->capin) {
		s->capin = s->capin ? 2 * s->capin : 64;
		s->in = realloc(s->in, s->capin * sizeof(*s->in));
		if (!s->in)
			abort();
	}
	struct sino *si = &s->in[s->nin++];
	memset(si, 0, sizeof(*si));
	si->ino = ino;
	si->at = *at;
	return si;
}

static int read_file(struct wt *t, const struct wafl_fh *fh, struct sino *si, char *why, size_t n)
{
	si->data = malloc(si->at.size ? si->at.size : 1);
	if (!si->data)
		abort();
	for (uint64_t off = 0; off < si->at.size;) {
		uint64_t left = si->at.size - off;
		uint32_t want = left > (256u << 10) ? 256u << 10 : (uint32_t)left, got = 0;
		bool eof = false;
		int rc = wafl_read(t->v, NULL, fh, off, want, si->data + off, &got, &eof);
		if (rc || got != want) {
			snprintf(why, n, "read ino %" PRIu64 " at %" PRIu64 ": %s (got %u of %u)",
				 fh->ino, off, strerror(-rc), got, want);
			return rc ? rc : -EIO;
		}
		off += got;
	}
	return 0;
}

/* Reads every name and every file's bytes, from root (of the active file
 * system, or of a snapshot) down. */
static int snap_read(struct wt *t, const struct wafl_fh *rootfh, struct snap *s, char *why,
		     size_t n)
{
	memset(s, 0, sizeof(*s));
	struct wafl_fh queue[SNAP_MAX_DIRS], root = *rootfh;
	struct wafl_attr at;
	size_t qh = 0, qt = 0;
	int rc = wafl_getattr(t->v, &root, &at);
	if (rc) {
		snprintf(why, n, "root: %s", strerror(-rc));
		return rc;
	}
	snap_add_inode(s, root.ino, &at);
	queue[qt++] = root;
	while (qh < qt && !rc) {
		struct wafl_fh dir = queue[qh++];
		struct rd_list l = {.dir = dir.ino};
		bool eof = false;
		while (!eof && !rc) {
			uint64_t before = l.last_cookie;
			rc = wafl_readdir(t->v, NULL, &dir, l.last_cookie, rd_collect, &l, &eof);
			if (rc || l.overflow || (!eof && l.last_cookie == before)) {
				snprintf(why, n, "readdir of dir ino %" PRIu64 ": %s", dir.ino,
					 rc ? strerror(-rc) : "does not end");
				rc = rc ? rc : -EUCLEAN;
			}
		}
		for (size_t i = 0; i < l.n && !rc; i++) {
			struct sent *e = &l.v[i];
			struct wafl_fh fh = {0};
			memset(&at, 0, sizeof(at));
			rc = wafl_lookup(t->v, NULL, &dir, e->name, &fh, &at);
			if (rc || fh.ino != e->ino || at.type != e->type) {
				snprintf(why, n,
					 "dir ino %" PRIu64 " lists %s (ino %" PRIu64
					 " type %d); lookup: %s, ino %" PRIu64 " type %d",
					 dir.ino, e->name, e->ino, e->type, strerror(-rc), fh.ino,
					 at.type);
				rc = rc ? rc : -EUCLEAN;
				break;
			}
			e->gen = fh.gen;
			if (s->ne >= SNAP_MAX_ENTS) {
				snprintf(why, n, "more than %d names", SNAP_MAX_ENTS);
				rc = -EUCLEAN;
				break;
			}
			snap_add_ent(s, e);
			if (snap_inode(s, fh.ino)) {
				if (at.type == WAFL_FT_DIR) {
					snprintf(why, n, "dir ino %" PRIu64 " has two names",
						 fh.ino);
					rc = -EUCLEAN;
				}
				continue; /* a file's second name */
			}
			struct sino *si = snap_add_inode(s, fh.ino, &at);
			if (at.type == WAFL_FT_DIR) {
				if (qt == SNAP_MAX_DIRS) {
					snprintf(why, n, "more than %d directories", SNAP_MAX_DIRS);
					rc = -EUCLEAN;
				} else {
					queue[qt++] = fh;
				}
			} else if (at.type == WAFL_FT_REG && at.size <= 2 * FAR_OFF) {
				rc = read_file(t, &fh, si, why, n); /* larger: the compare says */
			}
		}
		free(l.v);
	}
	qsort(s->in, s->nin, sizeof(*s->in), sino_cmp);
	qsort(s->e, s->ne, sizeof(*s->e), sent_cmp);
	s->sorted = true;
	return rc;
}

/* The volume: its active file system and each of its snapshots. */
struct vimage {
	struct snap act;
	unsigned n;
	char names[MAX_SNAPS + 4][WAFL_SNAPNAME_MAX + 1];
	struct snap s[MAX_SNAPS + 4];
};

static void vimage_free(struct vimage *v)
{
	snap_free(&v->act);
	for (unsigned i = 0; i < v->n; i++)
		snap_free(&v->s[i]);
	v->n = 0;
}

static int snapname_collect(void *arg, const struct wafl_dirent *de)
{
	struct vimage *v = arg;
	if ((de->namelen == 1 && de->name[0] == '.') ||
	    (de->namelen == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	if (v->n == MAX_SNAPS + 4 || de->namelen > WAFL_SNAPNAME_MAX)
		return 1;
	memcpy(v->names[v->n], de->name, de->namelen);
	v->names[v->n][de->namelen] = 0;
	v->n++;
	return 0;
}

/* Reads the active file system, then every snapshot /.snapshot lists. */
static int vimage_read(struct wt *t, struct vimage *v, char *why, size_t n)
{
	memset(v, 0, sizeof(*v));
	struct wafl_fh root, sd;
	struct wafl_attr at;
	int rc = wafl_root(t->v, &root);
	if (!rc)
		rc = snap_read(t, &root, &v->act, why, n);
	if (rc)
		return rc;
	bool eof = false;
	if ((rc = wafl_lookup(t->v, NULL, &root, WAFL_SNAPDIR_NAME, &sd, &at)) ||
	    (rc = wafl_readdir(t->v, NULL, &sd, 0, snapname_collect, v, &eof)) || !eof) {
		snprintf(why, n, "listing /.snapshot: %s", rc ? strerror(-rc) : "too many names");
		v->n = 0;
		return rc ? rc : -EUCLEAN;
	}
	unsigned listed = v->n;
	v->n = 0;
	for (unsigned i = 0; i < listed; i++) {
		struct wafl_fh sr;
		v->n = i + 1;
		if ((rc = wafl_lookup(t->v, NULL, &sd, v->names[i], &sr, &at))) {
			snprintf(why, n, "lookup /.snapshot/%s: %s", v->names[i], strerror(-rc));
			return rc;
		}
		char sub[400];
		if ((rc = snap_read(t, &sr, &v->s[i], sub, sizeof(sub)))) {
			snprintf(why, n, "in snapshot %s: %s", v->names[i], sub);
			return rc;
		}
	}
	return 0;
}

/* ---- comparing --------------------------------------------------------- */

struct cmp {
	const struct model *m;
	const struct snap *s;
	uint64_t map[MAX_OBJS]; /* object -> the ino it was found as */
	char *why;
	size_t n;
};

static bool cmp_obj(struct cmp *c, int obj, const struct sent *e, const char *path)
{
	const struct mobj *o = &c->m->o[obj];
	enum wafl_ftype want = o->isdir ? WAFL_FT_DIR : WAFL_FT_REG;
	if (e->type != want) {
		snprintf(c->why, c->n, "%s: type %d, want %d", path, e->type, want);
		return false;
	}
	if (o->ino && (e->ino != o->ino || e->gen != o->gen)) {
		snprintf(c->why, c->n, "%s: ino %" PRIu64 " gen %u, want ino %" PRIu64 " gen %u",
			 path, e->ino, e->gen, o->ino, o->gen);
		return false;
	}
	if (c->map[obj] && c->map[obj] != e->ino) {
		snprintf(c->why, c->n,
			 "%s: ino %" PRIu64 ", but another name of it is ino %" PRIu64, path,
			 e->ino, c->map[obj]);
		return false;
	}
	if (!o->ino) {
		/* made by the operation in flight: it must be a new inode */
		for (int i = 0; i < MAX_OBJS; i++) {
			if (i != obj && c->m->o[i].used && c->m->o[i].ino == e->ino) {
				snprintf(c->why, c->n, "%s: ino %" PRIu64 " is another file too",
					 path, e->ino);
				return false;
			}
		}
	}
	c->map[obj] = e->ino;
	const struct sino *si = snap_inode(c->s, e->ino);
	if (o->isdir) {
		uint32_t nl = 2 + subdirs(c->m, obj);
		if (si->at.nlink != nl) {
			snprintf(c->why, c->n, "%s: nlink %u, want %u", path, si->at.nlink, nl);
			return false;
		}
		return true;
	}
	if (si->at.nlink != o->nlink) {
		snprintf(c->why, c->n, "%s: nlink %u, want %u", path, si->at.nlink, o->nlink);
		return false;
	}
	if (si->at.size != o->size) {
		snprintf(c->why, c->n, "%s: size %" PRIu64 ", want %" PRIu64, path, si->at.size,
			 o->size);
		return false;
	}
	if (o->size && memcmp(si->data, o->data, o->size)) {
		uint64_t i = 0;
		while (si->data[i] == o->data[i])
			i++;
		snprintf(c->why, c->n, "%s: byte %" PRIu64 " is %#x, want %#x (size %" PRIu64 ")",
			 path, i, si->data[i], o->data[i], o->size);
		return false;
	}
	return true;
}

static bool cmp_dir(struct cmp *c, int dir, uint64_t ino, const char *path)
{
	size_t want = 0, have = 0;
	for (size_t i = 0; i < c->s->ne; i++)
		have += c->s->e[i].dir == ino;
	for (int i = 0; i < MAX_ENTS; i++) {
		const struct ment *me = &c->m->e[i];
		if (!me->used || me->dir != dir)
			continue;
		want++;
		char sub[512];
		snprintf(sub, sizeof(sub), "%s/%s", path, me->name);
		const struct sent *e = snap_ent(c->s, ino, me->name);
		if (!e) {
			snprintf(c->why, c->n, "%s: missing", sub);
			return false;
		}
		if (!cmp_obj(c, me->obj, e, sub))
			return false;
		if (c->m->o[me->obj].isdir && !cmp_dir(c, me->obj, e->ino, sub))
			return false;
	}
	if (have != want) {
		for (size_t k = 0; k < c->s->ne; k++) {
			if (c->s->e[k].dir == ino && find_ent(c->m, dir, c->s->e[k].name) < 0) {
				snprintf(c->why, c->n, "%s/%s: there, and should not be", path,
					 c->s->e[k].name);
				return false;
			}
		}
		snprintf(c->why, c->n, "%s: %zu names, want %zu", path, have, want);
		return false;
	}
	return true;
}

/* Does the volume (read into s) hold exactly model m? */
static bool model_matches(const struct model *m, const struct snap *s, uint64_t map[MAX_OBJS],
			  char *why, size_t n)
{
	struct cmp c = {.m = m, .s = s, .why = why, .n = n};
	c.map[0] = m->o[0].ino;
	const struct sino *root = snap_inode(s, m->o[0].ino);
	if (!root || root->at.nlink != 2 + subdirs(m, 0)) {
		snprintf(why, n, "/: nlink %u, want %u", root ? root->at.nlink : 0,
			 2 + subdirs(m, 0));
		return false;
	}
	bool ok = cmp_dir(&c, 0, m->o[0].ino, "");
	if (ok && map)
		memcpy(map, c.map, sizeof(c.map));
	return ok;
}

/* The volume and each of its snapshots hold exactly model m. */
static bool vimage_matches(const struct model *m, const struct vimage *v, uint64_t map[MAX_OBJS],
			   char *why, size_t n)
{
	if (!model_matches(m, &v->act, map, why, n))
		return false;
	bool seen[MAX_SNAPS + 4] = {false};
	for (int i = 0; i < MAX_SNAPS; i++) {
		const struct msnap *ms = &m->snaps[i];
		if (!ms->used)
			continue;
		unsigned j = 0;
		while (j < v->n && strcmp(v->names[j], ms->name))
			j++;
		if (j == v->n) {
			snprintf(why, n, "snapshot %s (op %" PRIu64 ") is missing", ms->name,
				 ms->born);
			return false;
		}
		seen[j] = true;
		char sub[400];
		if (!model_matches(ms->img, &v->s[j], NULL, sub, sizeof(sub))) {
			snprintf(why, n, "snapshot %s (op %" PRIu64 "): %s", ms->name, ms->born,
				 sub);
			return false;
		}
	}
	for (unsigned j = 0; j < v->n; j++) {
		if (!seen[j]) {
			snprintf(why, n, "snapshot %s exists, the model has none", v->names[j]);
			return false;
		}
	}
	return true;
}

/* The handles of files a restore dropped are stale. */
static bool stale_matches(struct wt *t, const struct model *m, char *why, size_t n)
{
	unsigned nd = m->ndead < MAX_DEAD ? m->ndead : MAX_DEAD;
	for (unsigned i = 0; i < nd; i++) {
		struct wafl_fh fh = {m->volid, 0, m->dead[i].ino, m->dead[i].gen};
		struct wafl_attr at;
		int rc = wafl_getattr(t->v, &fh, &at);
		if (rc != -ESTALE) {
			snprintf(why, n,
				 "ino %" PRIu64 " gen %u, dropped by a restore: getattr %s, not "
				 "stale",
				 fh.ino, fh.gen, rc ? strerror(-rc) : "works");
			return false;
		}
	}
	return true;
}

/* The volume's count of inodes in use agrees with the model's files. */
static bool count_matches(struct wt *t, const struct model *m, char *why, size_t n)
{
	struct wafl_vol_info vi;
	wafl_vol_info(t->v, &vi);
	uint64_t want = 0;
	for (int i = 1; i < MAX_OBJS; i++)
		want += m->o[i].used;
	if (vi.files_used == want)
		return true;
	snprintf(why, n, "files_used %" PRIu64 ", want %" PRIu64, vi.files_used, want);
	return false;
}

static void apply_from_ring(struct model *m, uint64_t seed, uint64_t k, const struct shared *sh,
			    uint8_t *scratch)
{
	struct op op;
	op_gen(m, seed, k, &op);
	const struct oprec *r = &sh->ring[k % RING];
	model_apply(m, &op, k, r->ino, r->gen, scratch);
}

/*
 * Finds k in [lo, hi] such that the mounted volume holds the model after
 * k operations, advancing *m (now after *k <= lo operations) to it.
 * Objects that the operation in flight created get the identity found on
 * disk, written back to the ring so that the test process learns it too.
 */
static int settle(struct wt *t, struct model *m, uint64_t *k, uint64_t lo, uint64_t hi,
		  uint64_t seed, struct shared *sh, uint8_t *scratch, char *why, size_t n)
{
	struct vimage *v = malloc(sizeof(*v));
	if (!v)
		abort();
	int rc = vimage_read(t, v, why, n);
	if (rc) {
		vimage_free(v);
		free(v);
		return rc;
	}
	const struct snap *sp = &v->act;
	for (; *k < lo; ++*k)
		apply_from_ring(m, seed, *k, sh, scratch);
	char first[512] = "", ops[512] = "";
	for (;;) {
		char diff[512];
		uint64_t map[MAX_OBJS];
		if (vimage_matches(m, v, map, diff, sizeof(diff))) {
			for (int i = 0; i < MAX_OBJS; i++) {
				struct mobj *o = &m->o[i];
				if (!o->used || o->ino)
					continue;
				o->ino = map[i];
				o->gen = snap_inode(sp, map[i])->at.gen;
				sh->ring[o->born % RING].ino = o->ino;
				sh->ring[o->born % RING].gen = o->gen;
			}
			if (!count_matches(t, m, diff, sizeof(diff)) ||
			    !stale_matches(t, m, diff, sizeof(diff))) {
				snprintf(why, n, "after %" PRIu64 " operations: %s", *k, diff);
				rc = -EUCLEAN;
			}
			break;
		}
		if (*k == lo)
			snprintf(first, sizeof(first), "%s", diff);
		if (*k >= hi) {
			snprintf(why, n,
				 "the volume holds no model state after %" PRIu64 "..%" PRIu64
				 " operations (%s...): after %" PRIu64 ": %s; after %" PRIu64
				 ": %s",
				 lo, hi, ops, lo, first, hi, diff);
			rc = -EUCLEAN;
			break;
		}
		struct op op;
		op_gen(m, seed, *k, &op);
		if (*k < lo + 3) {
			char d[160];
			op_describe(m, &op, d, sizeof(d));
			size_t used = strlen(ops);
			snprintf(ops + used, sizeof(ops) - used, "%s%" PRIu64 ": %s",
				 used ? "; " : "", *k, d);
		}
		apply_from_ring(m, seed, *k, sh, scratch);
		++*k;
	}
	vimage_free(v);
	free(v);
	return rc;
}

/* Mounts read-only (no replay) and compares with m as it is. */
static int ro_compare(struct wt *t, const struct model *m, char *why, size_t n)
{
	t->op.read_only = true;
	int rc = wt_open(t);
	t->op.read_only = false;
	if (rc) {
		snprintf(why, n, "read-only mount: %s", strerror(-rc));
		return rc;
	}
	struct vimage *v = malloc(sizeof(*v));
	if (!v)
		abort();
	rc = vimage_read(t, v, why, n);
	if (!rc && (!vimage_matches(m, v, NULL, why, n) || !count_matches(t, m, why, n) ||
		    !stale_matches(t, m, why, n)))
		rc = -EUCLEAN;
	vimage_free(v);
	free(v);
	wt_close(t);
	event_base_free(t->base);
	t->base = NULL;
	return rc;
}

/* ---- the child ------------------------------------------------------- */

struct child_params {
	unsigned cp_interval_ms;
	uint64_t cp_dirty_bytes;
	uint64_t cache_bytes;
	unsigned window;      /* operations not yet durable, at most */
	uint64_t close_after; /* operations, then a clean unmount; UNSET = never */
};

static void on_durable(void *arg)
{
	uint64_t i = (uint64_t)(uintptr_t)arg;
	g_sh->ring[i % RING].durable = 1;
	uint64_t a = g_sh->acked;
	while (a < g_sh->issued && g_sh->ring[a % RING].durable)
		a++;
	g_sh->acked = a;
}

static uint64_t g_reclaim_cp; /* a child: a reclaim's frees are durable with this CP */

/* What the file system is doing, for the parent to see when it kills: a
 * CP, a deletion's reclaim (or the CP its freed blocks wait for). */
static void sample_cp(struct wt *t, struct shared *sh)
{
	struct wafl_aggr_info ai;
	wafl_aggr_info(t->a, &ai);
	sh->cp_running = ai.cp_running;
	struct wafl_vol_info vi;
	wafl_vol_info(t->v, &vi);
	if (vi.reclaiming_blocks)
		g_reclaim_cp = ai.cp_count + 2;
	sh->reclaiming = vi.reclaiming_blocks || ai.cp_count < g_reclaim_cp;
}

__attribute__((noreturn, format(printf, 2, 3))) static void child_fail(struct shared *sh,
								       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	BARRIER();
	_exit(2);
}

/* Mounts (replaying), settles [lo, hi] if pending, then issues operations
 * from there until killed. Never returns; never uses Criterion. */
__attribute__((noreturn)) static void child_main(struct wt *t, struct model *m, struct shared *sh,
						 uint64_t seed, uint64_t k, bool pending,
						 uint64_t lo, uint64_t hi,
						 const struct child_params *p, uint64_t t0)
{
	g_sh = sh;
	t->op.cp_interval_ms = p->cp_interval_ms;
	t->op.cp_dirty_bytes = p->cp_dirty_bytes;
	t->op.cache_bytes = p->cache_bytes;
	uint8_t *buf = malloc(256u << 10);
	if (!buf)
		child_fail(sh, "out of memory");
	int rc = wt_open(t);
	if (rc)
		child_fail(sh, "mount: %s", strerror(-rc));
	sh->opened = 1;
	char why[1024];
	uint64_t k0 = k;
	if (pending && settle(t, m, &k, lo, hi, seed, sh, buf, why, sizeof(why)))
		child_fail(sh, "after the replay in a child, from %" PRIu64 ": %s", k0, why);
	sh->issued = sh->acked = k;
	sh->t_start_ns = now_ns() - t0;
	__atomic_store_n(&sh->k_start, k, __ATOMIC_RELEASE);
	for (uint64_t i = k; i < k + OPS_PER_CYCLE; i++) {
		if (i - k == p->close_after) {
			sh->closing = 1;
			if ((rc = wt_close(t)))
				child_fail(sh, "clean unmount: %s", strerror(-rc));
			BARRIER();
			sh->closed = 1;
			for (;;)
				pause();
		}
		while (i - sh->acked >= p->window) {
			sample_cp(t, sh);
			event_base_loop(t->base, EVLOOP_ONCE);
		}
		struct op op;
		op_gen(m, seed, i, &op);
		struct oprec *r = &sh->ring[i % RING];
		r->durable = 0;
		r->noop = 0;
		r->kind = (uint8_t)op.kind;
		r->ino = 0;
		r->gen = 0;
		sample_cp(t, sh);
		BARRIER();
		sh->issued = i + 1;
		BARRIER();
		struct wafl_stab st;
		uint64_t ino;
		uint32_t gen;
		if ((rc = op_exec(t, m, &op, buf, &st, &ino, &gen, why, sizeof(why))))
			child_fail(sh, "operation %" PRIu64 ": %s", i, why);
		if (ino) {
			/* a generation is never handed out twice */
			if (dead_has(m, ino, gen))
				child_fail(sh,
					   "operation %" PRIu64 ": new ino %" PRIu64 " gen %u is "
					   "the handle of a file a restore dropped",
					   i, ino, gen);
			for (int o = 0; o < MAX_OBJS; o++)
				if (m->o[o].used && m->o[o].ino == ino)
					child_fail(sh,
						   "operation %" PRIu64 ": new ino %" PRIu64
						   " is in use",
						   i, ino);
		}
		r->ino = ino;
		r->gen = gen;
		r->noop = !st.log_seq && !st.cp;
		BARRIER();
		model_apply(m, &op, i, ino, gen, buf);
		wafl_when_durable(t->a, &st, on_durable, (void *)(uintptr_t)i);
		if (op.kind == K_SNAPRESTORE && !stale_matches(t, m, why, sizeof(why)))
			child_fail(sh, "operation %" PRIu64 " (restore %s): %s", i, op.name, why);
		if (op.kind == K_SNAPDELETE) {
			struct wafl_aggr_info ai;
			wafl_aggr_info(t->a, &ai);
			g_reclaim_cp = ai.cp_count + 2;
		}
		if (op.kind == K_UNSTABLE || op.kind == K_SNAPCREATE) {
			/* the write may be lost until its commit is durable; a
			 * snapshot replayed from the log must find nothing after
			 * its record there */
			while (sh->acked <= i) {
				sample_cp(t, sh);
				event_base_loop(t->base, EVLOOP_ONCE);
			}
		}
		event_base_loop(t->base, EVLOOP_NONBLOCK);
	}
	for (;;) {
		sample_cp(t, sh);
		event_base_loop(t->base, EVLOOP_ONCE);
	}
}

/* ---- the test --------------------------------------------------------- */

struct stats {
	unsigned cycles, verified, by_child, unacked_present, kills_in_cp, kills_log_pending;
	unsigned kills_in_mount, kills_in_settle, kills_in_close, clean_closes, big_max;
	uint64_t ops_issued, ops_acked, eagain;
	/* snapshots: kills while one was not yet durable, by kind; while a
	 * reclaim ran; unacknowledged ones found after the crash, or not */
	unsigned kills_snap[3], kills_reclaim, snap_ops[3], unacked_kept[3], unacked_lost[3];
};

/* Unacknowledged snapshot operations at a kill: which survived is known
 * once the state after it is settled. */
struct unacked {
	unsigned n;
	uint64_t idx[8];
	uint8_t kind[8];
};

static void tally_unacked(struct stats *S, struct unacked *u, uint64_t k)
{
	for (unsigned i = 0; i < u->n; i++) {
		unsigned c = u->kind[i] - K_SNAPCREATE;
		if (k > u->idx[i])
			S->unacked_kept[c]++;
		else
			S->unacked_lost[c]++;
	}
	u->n = 0;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* wt_make, but with an NVLOG of the size asked for: a small one fills up
 * while a CP runs, so operations meet -EAGAIN. */
static int make_scratch(struct wt *t, enum wafl_aggr_kind kind, uint64_t nvlog_bytes)
{
	const uint64_t disk_bytes = 256ull << 20, vol_bytes = 384ull << 20;
	int rc = wt_make(t, kind, 2, disk_bytes, vol_bytes);
	if (rc || !nvlog_bytes)
		return rc;
	/* again over the same files, now with the small log */
	wt_close(t);
	struct wafl_aggr_params p = {
		.name = kind == WAFL_AGGR ? "aggr0" : "trad0",
		.kind = kind,
		.disks = t->disks,
		.ndisks = t->ndisks,
		.disk_size_bytes = disk_bytes,
		.nvlog_path = t->nvlog,
		.nvlog_size_bytes = nvlog_bytes,
	};
	for (unsigned i = 0; i < t->ndisks; i++)
		unlink(t->disk_path[i]);
	unlink(t->nvlog);
	if ((rc = wafl_aggr_create(&p)) || (rc = wt_open(t)))
		return rc;
	if (kind == WAFL_AGGR) {
		struct wafl_stab st;
		if ((rc = wafl_vol_create(t->a, "vol0", vol_bytes, WAFL_GUAR_NONE, &st)))
			return rc;
		t->v = wafl_vol_find(t->a, "vol0");
		rc = wt_wait(t, &st);
	}
	return rc;
}

static void crash_run(enum wafl_aggr_kind kind, uint64_t nvlog_bytes, unsigned ncycles)
{
	const char *what = kind == WAFL_AGGR ? "flexvol" : "tradvol";
	uint64_t seed = env_u64("WAFL_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	ncycles = (unsigned)env_u64("WAFL_CRASH_CYCLES", ncycles);
	fprintf(stderr,
		"crash: %s, seed %" PRIu64 " (WAFL_SEED=%" PRIu64 " repeats it), %u cycles\n", what,
		seed, seed, ncycles);
	uint64_t tr = seed ^ 0x5eed0f7e57c4a5e1ull; /* kill times and parameters */
	uint64_t t_begin = now_ns();

	struct shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	struct wt t;
	int rc = make_scratch(&t, kind, nvlog_bytes);
	cr_assert_eq(rc, 0, "scratch aggregate: %s", strerror(-rc));
	struct model *m = calloc(1, sizeof(*m));
	uint8_t *scratch = malloc(256u << 10);
	cr_assert(m && scratch);
	struct wafl_fh root, big;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_root(t.v, &root), 0);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "big", NULL, &big, &at, &st), 0);
	cr_assert_eq(wt_wait(&t, &st), 0);
	m->volid = root.volid;
	m->o[0] = (struct mobj){.used = true, .isdir = true, .ino = root.ino, .gen = root.gen};
	m->big = 1;
	m->o[1] = (struct mobj){.used = true, .isdir = true, .ino = big.ino, .gen = big.gen};
	ent_add(m, 0, "big", 1);
	cr_assert_eq(wt_close(&t), 0);
	event_base_free(t.base);
	t.base = NULL;

	struct stats S = {0};
	uint64_t k = 0, lo = 0, hi = 0; /* the model is after k ops; [lo, hi] not settled */
	bool pending = false;
	unsigned chain = 0;
	uint64_t startup_ns = 5000000; /* a child's mount and compare: the longest seen */
	char why[1536];
	struct unacked ua = {0};

	for (unsigned cycle = 0; cycle < ncycles; cycle++) {
		struct child_params p = {
			.cp_interval_ms = 5 + (unsigned)rnd(&tr, 26),
			.cp_dirty_bytes = (64u << 10) << rnd(&tr, 4),
			.cache_bytes = rnd(&tr, 3) ? (4u << 20) : (64u << 20),
			.window = 1 + (unsigned)rnd(&tr, 32),
			.close_after = rnd(&tr, 6) ? UNSET : rnd(&tr, 100),
		};
		memset(sh, 0, offsetof(struct shared, ring));
		sh->k_start = UNSET;
		/* mostly 2..40 ms into the operations; sometimes inside the
		 * child's mount, replay and compare */
		bool early = rnd(&tr, 5) == 0;
		uint64_t kill_after =
			early ? rnd(&tr, startup_ns + 1) : 2000000 + rnd(&tr, 38000001);
		uint64_t t0 = now_ns();
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child_main(&t, m, sh, seed, k, pending, lo, hi, &p, t0);
		int status = 0;
		bool exited = false;
		if (!early) {
			uint64_t limit = now_ns() + 120000000000ull;
			while (__atomic_load_n(&sh->k_start, __ATOMIC_ACQUIRE) == UNSET &&
			       now_ns() < limit) {
				if (waitpid(pid, &status, WNOHANG) == pid) {
					exited = true;
					break;
				}
				sleep_ns(100000);
			}
			if (sh->k_start == UNSET && !exited) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				cr_assert_fail("seed %" PRIu64 " cycle %u: the child did not start "
					       "in 120 s",
					       seed, cycle);
			}
		}
		if (!exited) {
			sleep_ns(kill_after);
			kill(pid, SIGKILL);
			cr_assert_eq(waitpid(pid, &status, 0), pid);
		}
		BARRIER();
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "seed %" PRIu64 " cycle %u (%s): the child failed: %s", seed, cycle,
			  t.dir, sh->msg[0] ? sh->msg : "(no message)");
		S.cycles++;
		S.eagain += sh->eagain;
		S.kills_in_cp += sh->cp_running != 0;
		S.kills_in_close += sh->closing && !sh->closed;
		if (sh->k_start == UNSET) {
			S.kills_in_mount += !sh->opened;
			S.kills_in_settle += sh->opened;
		} else {
			if (sh->t_start_ns > startup_ns)
				startup_ns = sh->t_start_ns;
			for (; k < sh->k_start; k++) /* catch up with what the child settled */
				apply_from_ring(m, seed, k, sh, scratch);
			if (pending) {
				S.verified++;
				S.by_child++;
				S.unacked_present += k > lo;
				tally_unacked(&S, &ua, k);
			}
			/* every operation called back durable must be there, even one
			 * past a gap in the acknowledged prefix; but a rename of a
			 * name to itself is durable at once and proves nothing */
			lo = sh->acked;
			for (uint64_t i = lo; i < sh->issued; i++)
				if (sh->ring[i % RING].durable && !sh->ring[i % RING].noop)
					lo = i + 1;
			hi = sh->issued;
			S.kills_log_pending += hi > lo;
			S.ops_issued += hi - k;
			S.ops_acked += lo - k;
			pending = true;
			bool in[3] = {false};
			for (uint64_t i = k; i < hi; i++) {
				const struct oprec *o = &sh->ring[i % RING];
				if (!is_snap_op(o->kind))
					continue;
				S.snap_ops[o->kind - K_SNAPCREATE]++;
				if (o->durable)
					continue;
				in[o->kind - K_SNAPCREATE] = true;
				if (i >= lo && ua.n < 8) {
					ua.idx[ua.n] = i;
					ua.kind[ua.n++] = o->kind;
				}
			}
			for (int c = 0; c < 3; c++)
				S.kills_snap[c] += in[c];
			S.kills_reclaim += sh->reclaiming != 0;
		}

		unsigned nbig = 0;
		for (int i = 0; i < MAX_ENTS; i++)
			nbig += m->e[i].used && m->e[i].dir == m->big;
		if (nbig > S.big_max)
			S.big_max = nbig;

		if (sh->closed) {
			/* a clean unmount: everything is in the image, no replay needed */
			cr_assert_eq(lo, hi,
				     "seed %" PRIu64
				     " cycle %u (%s): a clean unmount returned with "
				     "operations %" PRIu64 "..%" PRIu64 " not called back durable",
				     seed, cycle, t.dir, lo, hi);
			for (; k < hi; k++)
				apply_from_ring(m, seed, k, sh, scratch);
			pending = false;
			rc = ro_compare(&t, m, why, sizeof(why));
			cr_assert_eq(rc, 0,
				     "seed %" PRIu64 " cycle %u (%s): after a clean unmount by the "
				     "child, the image (no replay) does not hold all %" PRIu64
				     " operations: %s",
				     seed, cycle, t.dir, k, why);
			S.clean_closes++;
		}

		/* the newest durable CP is consistent by itself, before any replay */
		long probs = wt_check(&t, true);
		cr_assert_eq(probs, 0,
			     "seed %" PRIu64 " cycle %u (%s): checker before replay: %ld problems",
			     seed, cycle, t.dir, probs);

		if (cycle + 1 < ncycles && ++chain < 4 && rnd(&tr, 2))
			continue; /* the next child replays and compares */
		chain = 0;
		rc = wt_open(&t);
		cr_assert_eq(rc, 0, "seed %" PRIu64 " cycle %u (%s): mount after the kill: %s",
			     seed, cycle, t.dir, strerror(-rc));
		if (pending) {
			uint64_t k0 = k;
			rc = settle(&t, m, &k, lo, hi, seed, sh, scratch, why, sizeof(why));
			cr_assert_eq(rc, 0, "seed %" PRIu64 " cycle %u (%s): from %" PRIu64 ": %s",
				     seed, cycle, t.dir, k0, why);
			S.verified++;
			S.unacked_present += k > lo;
			tally_unacked(&S, &ua, k);
			pending = false;
		}
		cr_assert_eq(wt_close(&t), 0);
		event_base_free(t.base);
		t.base = NULL;
		probs = wt_check(&t, true);
		cr_assert_eq(probs, 0,
			     "seed %" PRIu64 " cycle %u (%s): checker after a clean unmount: %ld "
			     "problems",
			     seed, cycle, t.dir, probs);
		rc = ro_compare(&t, m, why, sizeof(why));
		cr_assert_eq(rc, 0,
			     "seed %" PRIu64 " cycle %u (%s): after a clean unmount, the image "
			     "(no replay) is not the state that was replayed: %s",
			     seed, cycle, t.dir, why);
	}

	fprintf(stderr,
		"crash: %s seed %" PRIu64 ": %u kill cycles in %" PRIu64 " ms; %" PRIu64
		" ops issued, %" PRIu64 " acknowledged; %u replayed states matched (%u by a child, "
		"%u with unacknowledged ops present); kills inside a CP: %u, with log writes "
		"pending: %u, in a mount: %u, in a post-replay compare: %u, in a clean unmount: "
		"%u; clean unmounts checked: %u; names in \"big\" at most: %u; -EAGAIN retries: "
		"%" PRIu64 "\n",
		what, seed, S.cycles, (now_ns() - t_begin) / 1000000, S.ops_issued, S.ops_acked,
		S.verified, S.by_child, S.unacked_present, S.kills_in_cp, S.kills_log_pending,
		S.kills_in_mount, S.kills_in_settle, S.kills_in_close, S.clean_closes, S.big_max,
		S.eagain);
	fprintf(stderr,
		"crash: %s seed %" PRIu64 ": snapshot creates %u, deletes %u, restores %u issued; "
		"kills while one was not yet durable: create %u, delete %u, restore %u; kills "
		"during a reclaim (or before its CP): %u; unacknowledged and found after the "
		"crash / lost: create %u/%u, delete %u/%u, restore %u/%u\n",
		what, seed, S.snap_ops[0], S.snap_ops[1], S.snap_ops[2], S.kills_snap[0],
		S.kills_snap[1], S.kills_snap[2], S.kills_reclaim, S.unacked_kept[0],
		S.unacked_lost[0], S.unacked_kept[1], S.unacked_lost[1], S.unacked_kept[2],
		S.unacked_lost[2]);
	cr_assert_geq(S.verified, 1);
	model_free(m);
	free(m);
	free(scratch);
	munmap(sh, sizeof(*sh));
	wt_destroy(&t);
}

/* A flexible volume with a 384 KiB NVLOG: its 186 KiB halves fill while CPs
 * run (and still hold the largest write, 128 KiB). */
Test(crash, flexvol_kill9, .timeout = 1200)
{
	crash_run(WAFL_AGGR, 384u << 10, 220);
}

/* A traditional volume with wt_make's 16 MiB NVLOG. */
Test(crash, tradvol_kill9, .timeout = 1200)
{
	crash_run(WAFL_TRAD, 0, 60);
}

/*
 * A regression test (crash_run with seed 632616 found the bug as "mount
 * after the kill: No such file or directory").
 *
 * wafl_snap_restore() used to log its record before it applied the
 * restore, and log_rec()'s cp_maybe() may begin a CP right then: that CP
 * held the tree as it was before the restore, yet covered the restore's
 * record. A crash
 * after that CP and before the next one replays what came after the
 * restore (acknowledged) onto the unrestored tree: here the create of
 * "after" takes the inode the restore freed, replay found it in use and
 * the aggregate no longer mounted. The restore's record is made to cross
 * half of the log half, so the CP begins exactly there; the child is
 * killed as soon as that CP is durable, while the next one still writes
 * the megabytes dirtied meanwhile.
 */
static int restore_race_child(struct wt *t)
{
	if (wt_open(t))
		return 10;
	struct wafl_fh root, x, after;
	struct wafl_attr at;
	struct wafl_stab st;
	if (wafl_root(t->v, &root) || wafl_snap_create(t->v, "s", &st) || wt_wait(t, &st) ||
	    wafl_create(t->v, NULL, &root, "x", WAFL_UNCHECKED, NULL, 0, &x, &at, &st) ||
	    wafl_cp_sync(t->a))
		return 11;
	/* logged writes until the log half is just short of 50% full */
	static uint8_t buf[1u << 20];
	struct wafl_aggr_info ai;
	wafl_aggr_info(t->a, &ai);
	uint64_t used0 = ai.nvlog_used_bytes, off = 8;
	if (wafl_write(t->v, NULL, &x, 0, 8, buf, WAFL_FILE_SYNC, &at, &st))
		return 12;
	wafl_aggr_info(t->a, &ai);
	uint64_t over = ai.nvlog_used_bytes - used0 - 8; /* a write record's own bytes */
	const uint64_t target = ai.nvlog_size_bytes / 2 / 2, restore_rec = 216;
	for (;;) {
		wafl_aggr_info(t->a, &ai);
		if (ai.cp_running)
			return 13; /* a CP began while the log filled */
		uint64_t left = target - ai.nvlog_used_bytes;
		if (left <= restore_rec)
			break;
		uint64_t len = left - restore_rec / 2 - over;
		len = (len > 65536 ? 65536 : len) & ~7ull;
		if (!len)
			break;
		if (WT_RETRY(t, wafl_write(t->v, NULL, &x, off, (uint32_t)len, buf, WAFL_FILE_SYNC,
					   &at, &st)))
			return 14;
		off += len;
	}
	uint64_t cp0 = ai.cp_count;
	if (wafl_snap_restore(t->v, "s", &st)) /* "x" is not in "s" */
		return 15;
	struct wafl_stab st2;
	if (wafl_create(t->v, NULL, &root, "after", WAFL_UNCHECKED, NULL, 0, &after, &at, &st2))
		return 16;
	for (uint64_t o = 0; o < (8u << 20); o += sizeof(buf)) /* for the next CP to write */
		if (WT_RETRY(t, wafl_write(t->v, NULL, &after, o, sizeof(buf), buf, WAFL_UNSTABLE,
					   &at, &st)))
			return 17;
	struct wafl_stab logged = {.log_seq = st2.log_seq}, first = {.cp = cp0 + 1};
	if (wt_wait(t, &logged) || wt_wait(t, &first)) /* "after" is acknowledged */
		return 18;
	kill(getpid(), SIGKILL);
	return 19;
}

Test(crash, restore_record_begins_cp, .timeout = 120)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 256ull << 20, 320ull << 20), 0);
	cr_assert_eq(wt_close(&t), 0);
	event_base_free(t.base);
	t.base = NULL;
	t.op.cp_interval_ms = 3600 * 1000; /* no timer CPs */
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(restore_race_child(&t));
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "the child stopped at step %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	cr_assert_eq(wt_check(&t, true), 0);
	int rc = wt_open(&t);
	cr_assert_eq(rc, 0, "mount after the crash: %s", strerror(-rc));
	struct wafl_fh root, fh;
	struct wafl_attr at;
	cr_assert_eq(wafl_root(t.v, &root), 0);
	cr_assert_eq(wafl_lookup(t.v, NULL, &root, "after", &fh, &at), 0,
		     "\"after\" was acknowledged");
	cr_assert_eq(wafl_lookup(t.v, NULL, &root, "x", &fh, &at), -ENOENT,
		     "the restore before \"after\" is lost");
	wt_destroy(&t);
}
