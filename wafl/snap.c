/*
 * snap.c - snapshots, SnapRestore, clones.
 *
 * A snapshot is the fsinfo of one CP, kept in the snapshot table (rooted
 * in the fsinfo, ondisk.h). Its block map is the active map as that CP
 * wrote it, so it owns a block iff the bit is set in *its* map; the
 * summary map (inode WAFL_INO_SUMMARY) is the OR of all of them, and a
 * block is free iff neither the active map nor the summary has it.
 *
 *  - create: a table entry is filled at the next CP's freeze and gets that
 *    CP's fsinfo while it seals (the cost of a snapshot is that CP). Its
 *    map equals the active map until the CP after it changes anything, so
 *    that CP ORs the active map into the summary before it frees anything
 *    (WAFL_SNAP_UNMERGED marks the entry until then);
 *  - delete: the entry goes at once; the summary is rebuilt from the maps
 *    left, a few map blocks per turn of the event loop, and every bit that
 *    leaves it without being in the active map is a block nobody holds:
 *    it is freed by the next CP like any other free (sfree);
 *  - restore: the active tree becomes the snapshot's (inode file, maps),
 *    except the summary, which stays; what only the old active tree held
 *    is freed. Generations come from one counter per instance, so handles
 *    of files the snapshot lacks are stale, never someone else's;
 *  - images: each snapshot is served read-only through a struct wafl_fs
 *    of its own (made on first use) sharing the buffer cache;
 *  - diff: the two map files are walked side by side; equal pointers mean
 *    equal subtrees, which are skipped unread;
 *  - clones: a flexible volume whose fsinfo starts as a snapshot of
 *    another. Its VVBN space is the parent's: an inherited block is one
 *    whose VVBN has no pointer in the clone's container (the parent's
 *    container holds its PVBN, its snapshot keeps it alive). Split walks
 *    the clone and dirties every inherited block, so CPs give each one a
 *    block of the clone's own.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "wafl/wafl_int.h"

enum {
	OP_SNAPCREATE = 11,
	OP_SNAPDELETE = 12,
	OP_SNAPRENAME = 13,
	OP_SNAPRESTORE = 14,
	OP_SNAPDIR = 15,
	OP_VOLCLONE = 16,
};

/* One record shape for every snapshot and clone operation. */
struct rec_snap {
	uint16_t op;
	uint16_t flags;
	uint32_t volid;
	uint32_t snapid, slot;
	int64_t sec;
	uint32_t nsec;
	uint32_t arg; /* OP_SNAPDIR: visible */
	uint64_t container, fsid;
	uint32_t newvolid, pad;
	char name[64], name2[64];
};

#define REBUILD_SLICE	     8	       /* map blocks per turn of the loop, at most */
#define REBUILD_TURN_FREES   4096      /* blocks freed per turn, at most */
#define REBUILD_PENDING_MAX  (1u << 15) /* freed, waiting for a CP: then wait for it */
#define SPLIT_SLICE   512 /* blocks a split dirties before it lets a CP run */

static uint64_t nmap_blocks(const struct wafl_fs *fs)
{
	return (fs->fsi.space_blocks + BITS_PER_MAPBLOCK - 1) / BITS_PER_MAPBLOCK;
}

uint64_t snap_fsid(uint64_t fsid, uint32_t snapid)
{
	return fsid ^ ((uint64_t)snapid * 0x9e3779b97f4a7c15ull);
}

struct wafl_snap *snap_by_id(struct wafl_fs *fs, uint32_t snapid)
{
	for (unsigned i = 0; i < fs->nsnaps; i++)
		if (fs->snaps[i]->snapid == snapid)
			return fs->snaps[i];
	return NULL;
}

struct wafl_snap *snap_by_name(struct wafl_fs *fs, const char *name)
{
	for (unsigned i = 0; i < fs->nsnaps; i++)
		if (!strcmp(fs->snaps[i]->name, name))
			return fs->snaps[i];
	return NULL;
}

/* Taken and durable: readable. */
static bool snap_ready(struct wafl_fs *fs, const struct wafl_snap *s)
{
	return s->cp && s->cp <= fs->aggr->cp_durable;
}

/* ---- blocks of the metafiles ---------------------------------------- */

/* Level-0 block blk of metafile ino (map, summary). *b NULL for a hole. */
static int meta_block(struct wafl_fs *fs, uint64_t ino, uint64_t blk, bool create,
		      struct wbuf **b)
{
	struct wbuf *ib;
	struct wafl_dinode *di;
	int rc = inode_get(fs, ino, &ib, &di);
	if (rc)
		return rc;
	rc = bmap_get(fs, ino, di, 0, blk, create ? BM_CREATE : 0, b);
	if (rc)
		return rc;
	if (create && *b)
		rc = buf_dirty(*b);
	return rc;
}

int snap_summary_block(struct wafl_fs *fs, uint64_t blk, const uint8_t **data)
{
	*data = NULL;
	struct wbuf *ib;
	struct wafl_dinode *di;
	int rc = inode_get(fs, WAFL_INO_SUMMARY, &ib, &di);
	if (rc)
		return rc;
	if (di->blocks == 0)
		return 0;
	struct wbuf *b;
	rc = bmap_get(fs, WAFL_INO_SUMMARY, di, 0, blk, 0, &b);
	if (!rc && b)
		*data = b->data;
	return rc;
}

int snap_summary_test(struct wafl_fs *fs, uint64_t vbn, bool *on)
{
	const uint8_t *d;
	int rc = snap_summary_block(fs, vbn / BITS_PER_MAPBLOCK, &d);
	uint64_t bit = vbn % BITS_PER_MAPBLOCK;
	*on = !rc && d && ((d[bit / 8] >> (bit % 8)) & 1);
	return rc;
}

int container_ptr(struct wafl_fs *fs, uint64_t vvbn, struct wafl_bptr **out)
{
	struct wafl_aggr *a = fs->aggr;
	*out = NULL;
	struct wbuf *ib, *l1;
	struct wafl_dinode *cdi;
	int rc = inode_get(&a->fs, fs->container, &ib, &cdi);
	if (rc)
		return rc;
	rc = bmap_get(&a->fs, fs->container, cdi, 1, vvbn >> WAFL_PTR_SHIFT, 0, &l1);
	if (rc || !l1)
		return rc;
	struct wafl_bptr *p = &((struct wafl_bptr *)l1->data)[vvbn & (WAFL_PTRS_PER_BLOCK - 1)];
	if (p->pvbn)
		*out = p;
	return 0;
}

/* Where a VBN of fs lives: 0 for a clone's inherited VVBN. */
static int vbn_pvbn(struct wafl_fs *fs, uint64_t vbn, uint64_t *pvbn)
{
	if (fs->type != WAFL_FST_FLEX) {
		*pvbn = vbn;
		return 0;
	}
	struct wafl_bptr *p;
	int rc = container_ptr(fs, vbn, &p);
	*pvbn = p ? p->pvbn : 0;
	return rc;
}

/* A block that left every map: freed by the next CP. */
static int sfree_add(struct wafl_fs *fs, uint64_t vbn)
{
	uint64_t pvbn;
	int rc = vbn_pvbn(fs, vbn, &pvbn);
	if (!rc)
		rc = pairvec_push(&fs->sfree, vbn, pvbn);
	if (!rc)
		rc = u64set_add(&fs->sfree_set, vbn);
	return rc;
}

/* ---- the table ------------------------------------------------------ */

static int entry_get(struct wafl_fs *fs, unsigned slot, bool dirty, struct wafl_snapent **e)
{
	struct wbuf *b;
	int rc = bmap_get(fs, WAFL_INO_SNAPTAB, &fs->snapdi, 0, slot / WAFL_SNAPS_PER_BLOCK,
			  dirty ? BM_CREATE : 0, &b);
	if (rc)
		return rc;
	if (!b)
		return -ENOENT;
	if (dirty && (rc = buf_dirty(b)))
		return rc;
	*e = (struct wafl_snapent *)b->data + slot % WAFL_SNAPS_PER_BLOCK;
	return 0;
}

static void entry_fill(struct wafl_snapent *e, const struct wafl_snap *s)
{
	e->snapid = s->snapid;
	e->flags = s->flags;
	e->ctime_sec = s->ctime.tv_sec;
	e->ctime_nsec = (uint32_t)s->ctime.tv_nsec;
	snprintf(e->name, sizeof(e->name), "%s", s->name);
}

static int snap_cmp(const void *x, const void *y)
{
	const struct wafl_snap *a = *(struct wafl_snap *const *)x;
	const struct wafl_snap *b = *(struct wafl_snap *const *)y;
	return a->snapid < b->snapid ? -1 : a->snapid > b->snapid;
}

static int snap_add(struct wafl_fs *fs, struct wafl_snap *s)
{
	struct wafl_snap **n = realloc(fs->snaps, (fs->nsnaps + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	fs->snaps = n;
	fs->snaps[fs->nsnaps++] = s;
	qsort(fs->snaps, fs->nsnaps, sizeof(*fs->snaps), snap_cmp);
	return 0;
}

static void image_free(struct wafl_fs *fs, struct wafl_snap *s)
{
	if (!s->img)
		return;
	cache_drop_fs(&fs->aggr->cache, s->img);
	free(s->img);
	s->img = NULL;
}

static void snap_remove(struct wafl_fs *fs, struct wafl_snap *s)
{
	image_free(fs, s);
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		if (fs->snaps[i] != s)
			continue;
		memmove(&fs->snaps[i], &fs->snaps[i + 1], (fs->nsnaps - i - 1) * sizeof(*fs->snaps));
		fs->nsnaps--;
		break;
	}
	free(s);
}

/* Blocks the summary holds and the active map does not. */
static int count_sum_only(struct wafl_fs *fs, uint64_t *out)
{
	*out = 0;
	for (uint64_t k = 0; k < nmap_blocks(fs); k++) {
		const uint8_t *sd;
		int rc = snap_summary_block(fs, k, &sd);
		if (rc)
			return rc;
		if (!sd)
			continue;
		struct wbuf *ab;
		if ((rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab)))
			return rc;
		for (unsigned w = 0; w < WAFL_BS / 8; w++) {
			uint64_t s, m = 0;
			memcpy(&s, sd + w * 8, 8);
			if (ab)
				memcpy(&m, ab->data + w * 8, 8);
			*out += (uint64_t)__builtin_popcountll(s & ~m);
		}
	}
	return 0;
}

static void rebuild_cb(evutil_socket_t fd, short what, void *arg);
static void split_cb(evutil_socket_t fd, short what, void *arg);

static void kick(struct event *ev)
{
	struct timeval tv = {0, 0};
	if (ev)
		evtimer_add(ev, &tv);
}

static void rebuild_start(struct wafl_fs *fs)
{
	if (fs->rebuild) {
		fs->rebuild_again = true;
		return;
	}
	fs->rebuild = true;
	fs->rebuild_next = 0;
	fs->rebuild_word = 0;
	fs->rebuild_again = false;
	fs->fsi.sflags |= WAFL_FSF_SUMMARY_STALE;
	struct wafl_aggr *a = fs->aggr;
	if (!a->base || a->read_only)
		return;
	if (!fs->rebuild_ev)
		fs->rebuild_ev = evtimer_new(a->base, rebuild_cb, fs);
	kick(fs->rebuild_ev);
}

static void split_start(struct wafl_fs *fs)
{
	struct wafl_aggr *a = fs->aggr;
	fs->fsi.sflags |= WAFL_FSF_SPLITTING;
	fs->split_next = 0;
	if (!a->base || a->read_only)
		return;
	if (!fs->split_ev)
		fs->split_ev = evtimer_new(a->base, split_cb, fs);
	kick(fs->split_ev);
}

int snap_load(struct wafl_fs *fs)
{
	struct wafl_aggr *a = fs->aggr;
	memset(&fs->snapdi, 0, sizeof(fs->snapdi));
	fs->snapdi.mode = S_IFREG | 0600;
	fs->snapdi.iflags = WAFL_IF_META;
	fs->snapdi.height = 1;
	fs->snapdi.top[0] = fs->fsi.snaptab;
	if (fs->fsi.snaptab.pvbn) {
		for (unsigned slot = 0; slot < WAFL_SNAPTAB_BLOCKS * WAFL_SNAPS_PER_BLOCK; slot++) {
			struct wafl_snapent *e;
			int rc = entry_get(fs, slot, false, &e);
			if (rc == -ENOENT) {
				slot |= WAFL_SNAPS_PER_BLOCK - 1;
				continue;
			}
			if (rc)
				return a->checking ? 0 : rc;
			if (!e->snapid)
				continue;
			struct wafl_snap *s = calloc(1, sizeof(*s));
			if (!s)
				return -ENOMEM;
			s->snapid = e->snapid;
			s->flags = e->flags;
			s->slot = slot;
			memcpy(s->name, e->name, sizeof(s->name) - 1);
			s->ctime.tv_sec = e->ctime_sec;
			s->ctime.tv_nsec = e->ctime_nsec;
			s->fsi = e->fsinfo;
			s->cp = e->fsinfo.cp;
			s->tab.vvbn = e->tab_vvbn;
			s->tab.pvbn = e->tab_pvbn;
			if ((rc = snap_add(fs, s))) {
				free(s);
				return rc;
			}
		}
	}
	if (a->checking || a->read_only)
		return 0; /* nothing will be allocated or reclaimed */
	int rc = count_sum_only(fs, &fs->sum_only);
	if (rc)
		return rc;
	if (fs->fsi.sflags & WAFL_FSF_SUMMARY_STALE) {
		fs->fsi.sflags &= ~WAFL_FSF_SUMMARY_STALE;
		rebuild_start(fs);
	}
	if (fs->fsi.sflags & WAFL_FSF_SPLITTING)
		split_start(fs);
	return 0;
}

void snap_release(struct wafl_fs *fs)
{
	while (fs->nsnaps)
		snap_remove(fs, fs->snaps[fs->nsnaps - 1]);
	free(fs->snaps);
	fs->snaps = NULL;
	free(fs->sfree.v);
	fs->sfree.v = NULL;
	fs->sfree.n = fs->sfree.cap = 0;
	u64set_free(&fs->sfree_set);
	if (fs->rebuild_ev)
		event_free(fs->rebuild_ev);
	if (fs->split_ev)
		event_free(fs->split_ev);
	fs->rebuild_ev = fs->split_ev = NULL;
}

int snap_image(struct wafl_fs *fs, uint32_t snapid, struct wafl_fs **img)
{
	struct wafl_snap *s = snap_by_id(fs, snapid);
	if (!s || !snap_ready(fs, s))
		return -ESTALE;
	if (!s->img) {
		struct wafl_fs *i = calloc(1, sizeof(*i));
		if (!i)
			return -ENOMEM;
		i->aggr = fs->aggr;
		i->type = fs->type;
		i->volid = fs->volid;
		i->fsi = s->fsi;
		i->fsi.fsid = snap_fsid(fs->fsi.fsid, snapid);
		i->container = fs->container;
		i->limit_blocks = fs->limit_blocks;
		i->read_only = true;
		i->active = fs;
		i->snapid = snapid;
		i->parent_volid = fs->parent_volid;
		TAILQ_INIT(&i->dirty);
		s->img = i;
	}
	*img = s->img;
	return 0;
}

/* ---- the CP's part -------------------------------------------------- */

/* summary |= active map. Right for every unmerged snapshot: the active map
 * changes only when a CP frees or allocates, and this runs before. */
static int merge_active(struct wafl_fs *fs)
{
	for (uint64_t k = 0; k < nmap_blocks(fs); k++) {
		struct wbuf *ab, *sb;
		int rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab);
		if (rc)
			return rc;
		if (!ab)
			continue;
		const uint8_t *sd;
		if ((rc = snap_summary_block(fs, k, &sd)))
			return rc;
		bool need = false;
		for (unsigned w = 0; w < WAFL_BS / 8 && !need; w++) {
			uint64_t m, s = 0;
			memcpy(&m, ab->data + w * 8, 8);
			if (sd)
				memcpy(&s, sd + w * 8, 8);
			need = (m & ~s) != 0;
		}
		if (!need)
			continue;
		if ((rc = meta_block(fs, WAFL_INO_SUMMARY, k, true, &sb)))
			return rc;
		for (unsigned w = 0; w < WAFL_BS; w++)
			sb->data[w] |= ab->data[w];
	}
	return 0;
}

static int merge_unmerged(struct wafl_fs *fs)
{
	bool any = false;
	for (unsigned i = 0; i < fs->nsnaps; i++)
		any |= fs->snaps[i]->cp && (fs->snaps[i]->flags & WAFL_SNAP_UNMERGED);
	if (!any)
		return 0;
	int rc = merge_active(fs);
	for (unsigned i = 0; i < fs->nsnaps && !rc; i++) {
		struct wafl_snap *s = fs->snaps[i];
		if (!s->cp || !(s->flags & WAFL_SNAP_UNMERGED))
			continue;
		s->flags &= ~WAFL_SNAP_UNMERGED;
		struct wafl_snapent *e;
		if (!(rc = entry_get(fs, s->slot, true, &e)))
			e->flags = s->flags;
	}
	return rc;
}

int snap_freeze(struct wafl_fs *fs)
{
	struct wafl_aggr *a = fs->aggr;
	int rc = merge_unmerged(fs);
	if (rc)
		return rc;
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		struct wafl_snap *s = fs->snaps[i];
		if (s->cp)
			continue;
		struct wafl_snapent *e;
		if ((rc = entry_get(fs, s->slot, true, &e)))
			return rc;
		memset(e, 0, sizeof(*e));
		entry_fill(e, s);
	}
	/* blocks that left every map: reusable once this CP is durable */
	for (size_t i = 0; i < fs->sfree.n; i++) {
		struct vbnpair *p = &fs->sfree.v[i];
		if ((rc = u64set_add(&fs->inflight, p->vbn)))
			return rc;
		if (fs->type != WAFL_FST_FLEX || !p->pvbn)
			continue;
		struct wafl_bptr *cs;
		if ((rc = cp_container_slot(a, fs, p->vbn, false, &cs)))
			return rc;
		if (cs->pvbn != p->pvbn) {
			wafl_logf(WLOG_ERR, "vol %u: reclaimed VVBN %llu is PVBN %llu, not %llu",
				  fs->volid, (unsigned long long)p->vbn,
				  (unsigned long long)cs->pvbn, (unsigned long long)p->pvbn);
			return -EUCLEAN;
		}
		memset(cs, 0, sizeof(*cs));
		if ((rc = map_set(&a->fs, p->pvbn, false)))
			return rc;
		if ((rc = u64set_add(&a->fs.inflight, p->pvbn)))
			return rc;
	}
	fs->sfree.n = 0;
	u64set_clear(&fs->sfree_set);
	fs->fsi.nsnaps = fs->nsnaps;
	return 0;
}

void snap_seal_entries(struct wafl_fs *fs, uint64_t cp)
{
	/* the index block has its home (homing is over); its checksum is not
	 * known yet and is not needed: only where it is */
	struct wbuf *ix = cache_find(&fs->aggr->cache, fs, WAFL_INO_SNAPTAB, 1, 0);
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		struct wafl_snap *s = fs->snaps[i];
		if (s->cp)
			continue;
		s->cp = cp;
		s->fsi = fs->fsi;
		s->fsi.cp = cp;
		memset(&s->fsi.snaptab, 0, sizeof(s->fsi.snaptab));
		s->fsi.nsnaps = 0;
		s->fsi.sflags = 0;
		if (ix) {
			s->tab.vvbn = ix->home.vvbn;
			s->tab.pvbn = ix->home.pvbn;
		}
		struct wafl_snapent *e;
		if (entry_get(fs, s->slot, false, &e) == 0) {
			e->fsinfo = s->fsi;
			e->tab_vvbn = s->tab.vvbn;
			e->tab_pvbn = s->tab.pvbn;
		}
	}
}

/* ---- reading a snapshot's map ---------------------------------------- */

/* The pointer to map block k of an instance (a hole: pvbn 0). */
static int map_ptr(struct wafl_fs *fs, uint64_t k, struct wafl_bptr *out)
{
	memset(out, 0, sizeof(*out));
	struct wbuf *ib;
	struct wafl_dinode *di;
	int rc = inode_get(fs, WAFL_INO_ACTIVEMAP, &ib, &di);
	if (rc)
		return rc;
	if (k >= bmap_capacity(di->height, 0))
		return 0;
	struct wbuf *b = cache_find(&fs->aggr->cache, fs, WAFL_INO_ACTIVEMAP, 0, k);
	if (b) {
		*out = b->home;
		if (!b->home.pvbn)
			out->pvbn = UINT64_MAX; /* new, not yet written: unlike any */
		return 0;
	}
	if (di->height == 0) {
		*out = di->top[k];
		return 0;
	}
	struct wbuf *p;
	rc = bmap_get(fs, WAFL_INO_ACTIVEMAP, di, 1, k >> WAFL_PTR_SHIFT, 0, &p);
	if (!rc && p)
		*out = ((struct wafl_bptr *)p->data)[k & (WAFL_PTRS_PER_BLOCK - 1)];
	return rc;
}

/* OR of every snapshot's map block k into out (4096 bytes); blocks shared
 * by several snapshots are read once. */
static int snaps_or(struct wafl_fs *fs, uint64_t k, uint8_t *out, const struct wafl_snap *skip)
{
	memset(out, 0, WAFL_BS);
	uint64_t seen[WAFL_SNAP_MAX + 1];
	unsigned nseen = 0;
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		struct wafl_snap *s = fs->snaps[i];
		/* an unmerged snapshot's map is the active map until the next
		 * CP merges it: nothing of it is free, and counting it here
		 * would merge it in part behind the flag's back */
		if (s == skip || !s->cp || (s->flags & WAFL_SNAP_UNMERGED))
			continue;
		struct wafl_fs *img;
		int rc = snap_image(fs, s->snapid, &img);
		if (rc == -ESTALE)
			continue; /* taken by the CP in flight: its map is the active one */
		if (rc)
			return rc;
		struct wafl_bptr p;
		if ((rc = map_ptr(img, k, &p)))
			return rc;
		if (!p.pvbn)
			continue;
		bool dup = false;
		for (unsigned j = 0; j < nseen && !dup; j++)
			dup = seen[j] == p.pvbn;
		if (dup)
			continue;
		seen[nseen++] = p.pvbn;
		struct wbuf *b;
		if ((rc = meta_block(img, WAFL_INO_ACTIVEMAP, k, false, &b)))
			return rc;
		if (!b)
			continue;
		for (unsigned w = 0; w < WAFL_BS; w++)
			out[w] |= b->data[w];
		/* the image's copy is not needed again soon */
		cache_drop(&fs->aggr->cache, b);
	}
	return 0;
}

/* ---- delete: the background summary rebuild -------------------------- */

/* Brings summary block k up to date from word *word on, until the
 * block ends or `budget` blocks were freed; *word says where it stopped
 * (WAFL_BS / 8 when the block is done). */
static int rebuild_block(struct wafl_fs *fs, uint64_t k, unsigned *word, uint64_t budget,
			 uint8_t *nsum)
{
	int rc = snaps_or(fs, k, nsum, NULL);
	if (rc)
		return rc;
	const uint8_t *sd;
	if ((rc = snap_summary_block(fs, k, &sd)))
		return rc;
	bool any = false;
	for (unsigned w = *word * 8; w < WAFL_BS && !any; w++)
		any = nsum[w] != (sd ? sd[w] : 0);
	if (!any) {
		*word = WAFL_BS / 8;
		return 0;
	}
	struct wbuf *ab, *sb;
	if ((rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab)))
		return rc;
	if ((rc = meta_block(fs, WAFL_INO_SUMMARY, k, true, &sb)))
		return rc;
	uint64_t freed_now = 0;
	unsigned w = *word;
	for (; w < WAFL_BS / 8 && freed_now < budget; w++) {
		uint64_t old, nw, act = 0;
		memcpy(&old, sb->data + w * 8, 8);
		memcpy(&nw, nsum + w * 8, 8);
		if (ab)
			memcpy(&act, ab->data + w * 8, 8);
		uint64_t freed = old & ~nw & ~act, added = nw & ~old & ~act;
		fs->sum_only += (uint64_t)__builtin_popcountll(added);
		while (freed) {
			unsigned bit = (unsigned)__builtin_ctzll(freed);
			freed &= freed - 1;
			uint64_t vbn = k * BITS_PER_MAPBLOCK + w * 64u + bit;
			if ((rc = sfree_add(fs, vbn)))
				return rc;
			fs->sum_only--;
			fs->reclaimed++;
			freed_now++;
		}
		memcpy(sb->data + w * 8, &nw, 8);
	}
	*word = w;
	return 0;
}

static void rebuild_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct wafl_fs *fs = arg;
	struct wafl_aggr *a = fs->aggr;
	if (!fs->rebuild || a->read_only)
		return;
	if (a->ndirty >= a->hard_dirty_bufs || fs->sfree.n >= REBUILD_PENDING_MAX) {
		/* let a CP take what was freed so far first */
		cp_request(a);
		struct timeval tv = {0, 20000};
		evtimer_add(fs->rebuild_ev, &tv);
		return;
	}
	uint8_t *nsum = malloc(WAFL_BS);
	if (!nsum)
		goto later;
	/* a bounded turn: some map blocks, or fewer if they free much */
	uint64_t budget = REBUILD_TURN_FREES;
	for (unsigned n = 0; n < REBUILD_SLICE && fs->rebuild_next < nmap_blocks(fs) && budget;
	     n++) {
		uint64_t before = fs->reclaimed;
		int rc = rebuild_block(fs, fs->rebuild_next, &fs->rebuild_word, budget, nsum);
		if (rc) {
			wafl_logf(WLOG_ERR, "vol %u: snapshot space reclaim stopped (%s)", fs->volid,
				  strerror(-rc));
			free(nsum);
			fs->rebuild = false;
			return;
		}
		uint64_t freed = fs->reclaimed - before;
		budget = freed >= budget ? 0 : budget - freed;
		if (fs->rebuild_word < WAFL_BS / 8)
			break; /* the budget ran out inside the block */
		fs->rebuild_word = 0;
		fs->rebuild_next++;
	}
	free(nsum);
	if (fs->rebuild_next < nmap_blocks(fs))
		goto later;
	if (fs->rebuild_again) {
		fs->rebuild_again = false;
		fs->rebuild_next = 0;
		fs->rebuild_word = 0;
		goto later;
	}
	fs->rebuild = false;
	fs->fsi.sflags &= ~WAFL_FSF_SUMMARY_STALE;
	/* the flag lives in the fsinfo: make sure the next CP writes it */
	struct wafl_snapent *e;
	(void)entry_get(fs, 0, true, &e);
	cache_trim(a);
	return;
later:
	cache_trim(a);
	kick(fs->rebuild_ev);
}

/* ---- restore -------------------------------------------------------- */

/* Drops every buffer of fs but those of the summary and the table. */
static void drop_tree(struct wafl_fs *fs)
{
	struct wcache *c = &fs->aggr->cache;
	for (size_t i = 0; i < c->hash_size; i++) {
		struct wbuf *b, *n;
		TAILQ_FOREACH_SAFE(b, &c->hash[i], hash_link, n)
		{
			if (b->fs == fs && b->ino != WAFL_INO_SUMMARY && b->ino != WAFL_INO_SNAPTAB)
				cache_drop(c, b);
		}
	}
}

/* Adds the VBN of every block under pointer p (a tree of file ino). */
static int tree_vbns(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level,
		     uint64_t idx, const struct wafl_bptr *p, struct u64set *out)
{
	if (!p->pvbn)
		return 0;
	int rc = u64set_add(out, p->vvbn ? p->vvbn : p->pvbn);
	if (rc || level == 0)
		return rc;
	struct wbuf *b;
	if ((rc = bmap_get(fs, ino, di, level, idx, 0, &b)) || !b)
		return rc;
	struct wafl_bptr *ptrs = malloc(WAFL_BS);
	if (!ptrs)
		return -ENOMEM;
	memcpy(ptrs, b->data, WAFL_BS);
	for (unsigned i = 0; i < WAFL_PTRS_PER_BLOCK && !rc; i++)
		rc = tree_vbns(fs, ino, di, (uint8_t)(level - 1), idx * WAFL_PTRS_PER_BLOCK + i,
			       &ptrs[i], out);
	free(ptrs);
	return rc;
}

static int file_vbns(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, struct u64set *out)
{
	struct wafl_dinode copy = *di;
	int rc = 0;
	for (unsigned i = 0; i < WAFL_TOP_PTRS && !rc; i++)
		rc = tree_vbns(fs, ino, &copy, copy.height, i, &copy.top[i], out);
	return rc;
}

/* The blocks a snapshot's map holds that its tree does not reach: its
 * summary file and the snapshot table as its CP wrote them. */
static int snap_extra_vbns(struct wafl_fs *fs, struct wafl_snap *s, struct u64set *out)
{
	struct wafl_fs *img;
	int rc = snap_image(fs, s->snapid, &img);
	if (rc)
		return rc;
	struct wbuf *ib;
	struct wafl_dinode *di;
	if ((rc = inode_get(img, WAFL_INO_SUMMARY, &ib, &di)) || (rc = file_vbns(img, WAFL_INO_SUMMARY, di, out)))
		return rc;
	if (!s->tab.pvbn)
		return 0;
	if ((rc = u64set_add(out, s->tab.vvbn)))
		return rc;
	struct wafl_bptr ip = {.pvbn = s->tab.pvbn, .vvbn = s->tab.vvbn};
	uint8_t *blk = malloc(WAFL_BS);
	if (!blk)
		return -ENOMEM;
	rc = block_read(img, &ip, WAFL_INO_SNAPTAB, 1, 0, blk);
	const struct wafl_bptr *p = (const struct wafl_bptr *)blk;
	for (unsigned i = 0; i < WAFL_SNAPTAB_BLOCKS && !rc; i++)
		if (p[i].pvbn)
			rc = u64set_add(out, p[i].vvbn);
	free(blk);
	return rc;
}

/* The blocks of the live summary file and snapshot table. */
static int live_extra_vbns(struct wafl_fs *fs, const struct wafl_dinode *sumdi, struct u64set *out)
{
	struct wafl_dinode copy = *sumdi;
	int rc = file_vbns(fs, WAFL_INO_SUMMARY, &copy, out);
	if (!rc)
		rc = tree_vbns(fs, WAFL_INO_SNAPTAB, &fs->snapdi, 1, 0, &fs->snapdi.top[0], out);
	return rc;
}

static bool set_has(const struct u64set *a, uint64_t v)
{
	return a->n && u64set_has(a, v);
}

/* After the active tree became snapshot s's (restore, clone): the map is
 * s's map, less what s held but the tree does not reach (old), plus the
 * blocks the live summary and table use (live). */
static int fix_map(struct wafl_fs *fs, const struct u64set *old, const struct u64set *live)
{
	int rc = 0;
	for (size_t i = 0; i < old->cap && !rc; i++) {
		uint64_t v = old->slot[i];
		bool on;
		if (!v || set_has(live, v) || (rc = map_test(fs, v, &on)) || !on)
			continue;
		rc = map_set(fs, v, false);
	}
	for (size_t i = 0; live && i < live->cap && !rc; i++) {
		uint64_t v = live->slot[i];
		bool on;
		if (!v || (rc = map_test(fs, v, &on)) || on)
			continue;
		rc = map_set(fs, v, true);
	}
	return rc;
}

static int apply_restore(struct wafl_fs *fs, struct wafl_snap *s)
{
	int rc = merge_unmerged(fs);
	if (rc)
		return rc;
	struct wafl_fs *img;
	if ((rc = snap_image(fs, s->snapid, &img)))
		return rc;
	struct wbuf *ib;
	struct wafl_dinode *di;
	if ((rc = inode_get(fs, WAFL_INO_SUMMARY, &ib, &di)))
		return rc;
	struct wafl_dinode sumdi = *di;
	struct u64set old = {0}, live = {0};
	if ((rc = snap_extra_vbns(fs, s, &old)) || (rc = live_extra_vbns(fs, &sumdi, &live)))
		goto out;
	/* what only the old active tree holds is freed (the live summary
	 * and table stay) */
	for (uint64_t k = 0; k < nmap_blocks(fs) && !rc; k++) {
		struct wbuf *ab, *mb;
		const uint8_t *sd;
		if ((rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab)) ||
		    (rc = meta_block(img, WAFL_INO_ACTIVEMAP, k, false, &mb)) ||
		    (rc = snap_summary_block(fs, k, &sd)))
			break;
		for (unsigned w = 0; w < WAFL_BS / 8 && !rc; w++) {
			uint64_t act = 0, sm = 0, su = 0;
			if (ab)
				memcpy(&act, ab->data + w * 8, 8);
			if (mb)
				memcpy(&sm, mb->data + w * 8, 8);
			if (sd)
				memcpy(&su, sd + w * 8, 8);
			uint64_t f = act & ~sm & ~su;
			while (f && !rc) {
				unsigned bit = (unsigned)__builtin_ctzll(f);
				f &= f - 1;
				uint64_t vbn = k * BITS_PER_MAPBLOCK + w * 64u + bit;
				if (!set_has(&live, vbn))
					rc = sfree_add(fs, vbn);
			}
		}
	}
	if (rc)
		goto out;
	drop_tree(fs);
	fs->pending.n = 0;
	fs->fsi.inofile = s->fsi.inofile;
	fs->fsi.used_blocks = s->fsi.used_blocks;
	fs->fsi.inodes_used = s->fsi.inodes_used;
	fs->fsi.ino_hint = s->fsi.ino_hint;
	fs->ino_cursor = s->fsi.ino_hint;
	fs->alloc_cursor = 0;
	if ((rc = inode_get_dirty(fs, WAFL_INO_SUMMARY, &ib, &di)))
		goto out;
	*di = sumdi;
	if ((rc = fix_map(fs, &old, &live)))
		goto out;
	rc = count_sum_only(fs, &fs->sum_only);
out:
	u64set_free(&old);
	u64set_free(&live);
	cache_drop_fs(&fs->aggr->cache, img); /* read for the scan only */
	return rc;
}

/* ---- records and replay ---------------------------------------------- */

static struct wafl_vol *vol_of(struct wafl_fs *fs)
{
	return vol_by_id(fs->aggr, fs->volid);
}

static int log_snap(struct wafl_aggr *a, struct rec_snap *r, struct wafl_stab *st)
{
	return ops_log_raw(a, r, sizeof(*r), st);
}

/* When the snapshot table last changed: the ".snapshot" directories'
 * mtime, so clients see new listings. */
static void table_changed(struct wafl_fs *fs, const struct rec_snap *r)
{
	fs->snap_changed.tv_sec = r->sec;
	fs->snap_changed.tv_nsec = r->nsec;
}

static int apply_create(struct wafl_fs *fs, const struct rec_snap *r)
{
	table_changed(fs, r);
	struct wafl_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->snapid = r->snapid;
	s->slot = r->slot;
	s->flags = WAFL_SNAP_UNMERGED;
	memcpy(s->name, r->name, sizeof(s->name) - 1);
	s->ctime.tv_sec = r->sec;
	s->ctime.tv_nsec = r->nsec;
	if (r->snapid >= fs->fsi.next_snapid)
		fs->fsi.next_snapid = r->snapid + 1ull;
	int rc = snap_add(fs, s);
	if (rc)
		free(s);
	return rc;
}

static int apply_delete(struct wafl_fs *fs, struct wafl_snap *s)
{
	bool merged = s->cp && !(s->flags & WAFL_SNAP_UNMERGED);
	if (s->cp) {
		struct wafl_snapent *e;
		int rc = entry_get(fs, s->slot, true, &e);
		if (rc)
			return rc;
		memset(e, 0, sizeof(*e));
	}
	snap_remove(fs, s);
	fs->fsi.nsnaps = fs->nsnaps;
	if (merged)
		rebuild_start(fs);
	return 0;
}

static int apply_rename(struct wafl_fs *fs, struct wafl_snap *s, const char *to)
{
	snprintf(s->name, sizeof(s->name), "%s", to);
	if (!s->cp)
		return 0; /* the freeze writes the entry */
	struct wafl_snapent *e;
	int rc = entry_get(fs, s->slot, true, &e);
	if (!rc)
		snprintf(e->name, sizeof(e->name), "%s", to);
	return rc;
}

static int apply_snapdir(struct wafl_fs *fs, bool visible)
{
	if (visible)
		fs->fsi.sflags |= WAFL_FSF_SNAPDIR_VISIBLE;
	else
		fs->fsi.sflags &= ~WAFL_FSF_SNAPDIR_VISIBLE;
	/* the flag is in the fsinfo: dirty something so the CP writes it */
	struct wafl_snapent *e;
	return entry_get(fs, 0, true, &e);
}

static int apply_clone(struct wafl_aggr *a, const struct rec_snap *r);

int snap_replay(struct wafl_aggr *a, int op, const void *p, size_t len)
{
	struct rec_snap r;
	if (len < sizeof(r))
		return -EUCLEAN;
	memcpy(&r, p, sizeof(r));
	r.name[63] = r.name2[63] = 0;
	struct wafl_vol *v = vol_by_id(a, r.volid);
	if (!v)
		return -EUCLEAN;
	struct wafl_fs *fs = v->fs;
	struct wafl_snap *s = op == OP_SNAPCREATE || op == OP_SNAPDIR || op == OP_VOLCLONE
				      ? NULL
				      : snap_by_id(fs, r.snapid);
	if (op != OP_SNAPDIR && op != OP_VOLCLONE)
		table_changed(fs, &r);
	switch (op) {
	case OP_SNAPCREATE:
		return apply_create(fs, &r);
	case OP_SNAPDELETE:
		return s ? apply_delete(fs, s) : -EUCLEAN;
	case OP_SNAPRENAME:
		return s ? apply_rename(fs, s, r.name2) : -EUCLEAN;
	case OP_SNAPRESTORE:
		return s ? apply_restore(fs, s) : -EUCLEAN;
	case OP_SNAPDIR:
		return apply_snapdir(fs, r.arg != 0);
	case OP_VOLCLONE:
		return apply_clone(a, &r);
	}
	return -EUCLEAN;
}

/* ---- the public operations ------------------------------------------ */

static int admin_ok(struct wafl_vol *v)
{
	if (v->aggr->read_only || v->fs->read_only)
		return -EROFS;
	if (v->state != WAFL_VOL_ONLINE)
		return -ENXIO;
	return ops_room(v->aggr, sizeof(struct rec_snap));
}

static void rec_init(struct rec_snap *r, int op, struct wafl_fs *fs)
{
	memset(r, 0, sizeof(*r));
	r->op = (uint16_t)op;
	r->volid = fs->volid;
	struct timespec now;
	wafl_now(&now);
	r->sec = now.tv_sec;
	r->nsec = (uint32_t)now.tv_nsec;
}

/* Asks for the CP that will carry what was just logged; *st waits for it. */
static void cp_for(struct wafl_aggr *a, struct wafl_stab *st)
{
	uint64_t target = a->cp_next;
	cp_request(a);
	st->cp = target;
}

int wafl_snap_create(struct wafl_vol *v, const char *name, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	struct wafl_fs *fs = v->fs;
	if (!name || !wafl_name_valid(name))
		return -EINVAL;
	int rc = admin_ok(v);
	if (rc)
		return rc;
	if (snap_by_name(fs, name))
		return -EEXIST;
	if (fs->nsnaps >= WAFL_SNAP_MAX)
		return -ENOSPC;
	if (fs->fsi.sflags & WAFL_FSF_SPLITTING)
		return -EBUSY;
	/* the first free table slot */
	unsigned slot = 0;
	for (bool used = true; used; slot += used) {
		used = false;
		for (unsigned i = 0; i < fs->nsnaps; i++)
			used |= fs->snaps[i]->slot == slot;
	}
	if (fs_space_check(fs, 8))
		return -ENOSPC;
	struct rec_snap r;
	rec_init(&r, OP_SNAPCREATE, fs);
	r.snapid = fs->fsi.next_snapid ? (uint32_t)fs->fsi.next_snapid : 1;
	if (r.snapid == WAFL_SNAPID_DIR)
		return -ENOSPC; /* four billion snapshots later */
	r.slot = slot;
	snprintf(r.name, sizeof(r.name), "%s", name);
	if ((rc = apply_create(fs, &r)))
		return rc;
	if ((rc = log_snap(v->aggr, &r, st)))
		return rc;
	cp_for(v->aggr, st);
	return 0;
}

/* A clone that still shares blocks with this snapshot. */
static struct wafl_vol *clone_of(struct wafl_vol *v, uint32_t snapid)
{
	struct wafl_vol *c;
	TAILQ_FOREACH(c, &v->aggr->vols, link)
	{
		if (c->fs->parent_volid == v->fs->volid && (!snapid || c->fs->parent_snapid == snapid))
			return c;
	}
	return NULL;
}

int wafl_snap_delete(struct wafl_vol *v, const char *name, char *why, size_t whylen,
		     struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (why && whylen)
		why[0] = 0;
	struct wafl_fs *fs = v->fs;
	int rc = admin_ok(v);
	if (rc)
		return rc;
	struct wafl_snap *s = name ? snap_by_name(fs, name) : NULL;
	if (!s)
		return -ENOENT;
	struct wafl_vol *c = clone_of(v, s->snapid);
	if (c) {
		if (why)
			snprintf(why, whylen, "snapshot %s of volume %s is the base of clone %s",
				 s->name, v->name, c->name);
		return -EBUSY;
	}
	struct rec_snap r;
	rec_init(&r, OP_SNAPDELETE, fs);
	table_changed(fs, &r);
	r.snapid = s->snapid;
	if ((rc = apply_delete(fs, s)))
		return rc;
	return log_snap(v->aggr, &r, st);
}

int wafl_snap_rename(struct wafl_vol *v, const char *from, const char *to, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	struct wafl_fs *fs = v->fs;
	if (!to || !wafl_name_valid(to))
		return -EINVAL;
	int rc = admin_ok(v);
	if (rc)
		return rc;
	struct wafl_snap *s = from ? snap_by_name(fs, from) : NULL;
	if (!s)
		return -ENOENT;
	if (!strcmp(from, to))
		return 0;
	if (snap_by_name(fs, to))
		return -EEXIST;
	struct rec_snap r;
	rec_init(&r, OP_SNAPRENAME, fs);
	table_changed(fs, &r);
	r.snapid = s->snapid;
	snprintf(r.name2, sizeof(r.name2), "%s", to);
	if ((rc = apply_rename(fs, s, to)))
		return rc;
	return log_snap(v->aggr, &r, st);
}

int wafl_snap_restore(struct wafl_vol *v, const char *name, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	struct wafl_fs *fs = v->fs;
	int rc = admin_ok(v);
	if (rc)
		return rc;
	struct wafl_snap *s = name ? snap_by_name(fs, name) : NULL;
	if (!s)
		return -ENOENT;
	if (!snap_ready(fs, s))
		return -EBUSY; /* its CP is not durable yet */
	if (fs->fsi.sflags & WAFL_FSF_SPLITTING)
		return -EBUSY;
	struct rec_snap r;
	rec_init(&r, OP_SNAPRESTORE, fs);
	table_changed(fs, &r);
	r.snapid = s->snapid;
	/* applied, then logged, as every operation: logging may start a CP,
	 * which must freeze the restored tree (the record is in its epoch) */
	if (!(rc = apply_restore(fs, s)))
		rc = log_snap(v->aggr, &r, st);
	if (rc) {
		/* a restore cannot be undone half-way */
		wafl_logf(WLOG_ERR, "vol %u: restore failed (%s); the aggregate is now read-only",
			  fs->volid, strerror(-rc));
		v->aggr->read_only = true;
		return rc;
	}
	cp_for(v->aggr, st);
	return 0;
}

int wafl_vol_set_snapdir(struct wafl_vol *v, bool visible, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	int rc = admin_ok(v);
	if (rc)
		return rc;
	struct rec_snap r;
	rec_init(&r, OP_SNAPDIR, v->fs);
	r.arg = visible;
	if ((rc = apply_snapdir(v->fs, visible)))
		return rc;
	return log_snap(v->aggr, &r, st);
}

int wafl_snap_list(struct wafl_vol *v, struct wafl_snap_info *out, unsigned max, unsigned *n,
		   bool with_space)
{
	struct wafl_fs *fs = v->fs;
	*n = fs->nsnaps;
	unsigned m = fs->nsnaps < max ? fs->nsnaps : max;
	for (unsigned i = 0; i < m; i++) {
		struct wafl_snap *s = fs->snaps[i];
		struct wafl_snap_info *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->snapid = s->snapid;
		snprintf(o->name, sizeof(o->name), "%s", s->name);
		o->ctime = s->ctime;
		o->cp = s->cp;
		o->map_blocks = s->cp ? s->fsi.used_blocks : fs->fsi.used_blocks;
		struct wafl_vol *c = clone_of(v, s->snapid);
		if (c)
			snprintf(o->clone, sizeof(o->clone), "%s", c->name);
	}
	if (!with_space || !m)
		return 0;
	/* own = in its map, in no other map, not in the active map: per map
	 * block, the bits held by exactly one snapshot */
	uint8_t *ones = malloc(WAFL_BS), *twos = malloc(WAFL_BS);
	int rc = ones && twos ? 0 : -ENOMEM;
	for (uint64_t k = 0; k < nmap_blocks(fs) && !rc; k++) {
		memset(ones, 0, WAFL_BS);
		memset(twos, 0, WAFL_BS);
		const uint8_t *maps[WAFL_SNAP_MAX];
		struct wbuf *ab;
		if ((rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab)))
			break;
		for (unsigned i = 0; i < fs->nsnaps && !rc; i++) {
			maps[i] = NULL;
			struct wafl_fs *img;
			if (snap_image(fs, fs->snaps[i]->snapid, &img))
				continue; /* not taken yet: holds only what the active fs holds */
			struct wbuf *b;
			if ((rc = meta_block(img, WAFL_INO_ACTIVEMAP, k, false, &b)) || !b)
				continue;
			maps[i] = b->data;
			for (unsigned w = 0; w < WAFL_BS; w++) {
				twos[w] |= ones[w] & b->data[w];
				ones[w] |= b->data[w];
			}
		}
		for (unsigned i = 0; i < m && !rc; i++) {
			if (!maps[i])
				continue;
			for (unsigned w = 0; w < WAFL_BS / 8; w++) {
				uint64_t x, o1, o2, act = 0;
				memcpy(&x, maps[i] + w * 8, 8);
				memcpy(&o1, ones + w * 8, 8);
				memcpy(&o2, twos + w * 8, 8);
				if (ab)
					memcpy(&act, ab->data + w * 8, 8);
				out[i].own_blocks +=
					(uint64_t)__builtin_popcountll(x & o1 & ~o2 & ~act);
			}
		}
	}
	free(ones);
	free(twos);
	cache_trim(v->aggr);
	return rc;
}

/* ---- diff ----------------------------------------------------------- */

struct diffw {
	struct wafl_fs *act; /* the active instance: pvbns come from its container */
	struct wafl_fs *bfs, *tfs;
	struct wafl_dinode *bdi, *tdi;
	wafl_diff_fn fn;
	void *arg;
	struct wafl_diff_stats *st;
	uint64_t nmap;
};

static int diff_leaf(struct diffw *w, uint64_t k)
{
	struct wbuf *bb, *tb;
	int rc = bmap_get(w->bfs, WAFL_INO_ACTIVEMAP, w->bdi, 0, k, 0, &bb);
	if (!rc)
		rc = bmap_get(w->tfs, WAFL_INO_ACTIVEMAP, w->tdi, 0, k, 0, &tb);
	if (rc)
		return rc;
	w->st->map_blocks_read++;
	for (unsigned i = 0; i < WAFL_BS / 8; i++) {
		uint64_t b = 0, t = 0;
		if (bb)
			memcpy(&b, bb->data + i * 8, 8);
		if (tb)
			memcpy(&t, tb->data + i * 8, 8);
		for (int pass = 0; pass < 2; pass++) {
			uint64_t x = pass == 0 ? t & ~b : b & ~t;
			while (x) {
				unsigned bit = (unsigned)__builtin_ctzll(x);
				x &= x - 1;
				uint64_t vbn = k * BITS_PER_MAPBLOCK + i * 64u + bit, pvbn = 0;
				if (pass == 0) {
					if ((rc = vbn_pvbn(w->act, vbn, &pvbn)))
						return rc;
					w->st->added++;
				} else {
					w->st->freed++;
				}
				if ((rc = w->fn(w->arg, vbn, pvbn, pass == 0)))
					return rc;
			}
		}
	}
	return 0;
}

static int diff_node(struct diffw *w, uint8_t level, uint64_t idx, const struct wafl_bptr *pb,
		     const struct wafl_bptr *pt)
{
	uint64_t span = 1ull << (WAFL_PTR_SHIFT * level);
	if (idx * span >= w->nmap)
		return 0;
	if (pb->pvbn == pt->pvbn && pb->vvbn == pt->vvbn) {
		/* the same block: the same bits below */
		uint64_t n = w->nmap - idx * span < span ? w->nmap - idx * span : span;
		if (pb->pvbn)
			w->st->map_blocks_skipped += n;
		return 0;
	}
	if (level == 0)
		return diff_leaf(w, idx);
	struct wbuf *bb = NULL, *tb = NULL;
	int rc = 0;
	if (pb->pvbn)
		rc = bmap_get(w->bfs, WAFL_INO_ACTIVEMAP, w->bdi, level, idx, 0, &bb);
	if (!rc && pt->pvbn)
		rc = bmap_get(w->tfs, WAFL_INO_ACTIVEMAP, w->tdi, level, idx, 0, &tb);
	if (rc)
		return rc;
	struct wafl_bptr *cb = malloc(WAFL_BS), *ct = malloc(WAFL_BS);
	if (!cb || !ct) {
		free(cb);
		free(ct);
		return -ENOMEM;
	}
	memset(cb, 0, WAFL_BS);
	memset(ct, 0, WAFL_BS);
	if (bb)
		memcpy(cb, bb->data, WAFL_BS);
	if (tb)
		memcpy(ct, tb->data, WAFL_BS);
	for (unsigned i = 0; i < WAFL_PTRS_PER_BLOCK && !rc; i++)
		rc = diff_node(w, (uint8_t)(level - 1), idx * WAFL_PTRS_PER_BLOCK + i, &cb[i], &ct[i]);
	free(cb);
	free(ct);
	return rc;
}

/* The pointer a cached, possibly re-homed buffer really has. */
static struct wafl_bptr live_ptr(struct wafl_fs *fs, uint8_t level, uint64_t idx,
				 const struct wafl_bptr *p)
{
	struct wbuf *b = cache_find(&fs->aggr->cache, fs, WAFL_INO_ACTIVEMAP, level, idx);
	struct wafl_bptr r = *p;
	if (b && (b->flags & B_DIRTY))
		r.pvbn = UINT64_MAX; /* changed since the last CP: unlike anything */
	return r;
}

int wafl_snap_diff(struct wafl_vol *v, const char *base, const char *to, wafl_diff_fn fn, void *arg,
		   struct wafl_diff_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct wafl_fs *fs = v->fs;
	struct wafl_snap *bs = base ? snap_by_name(fs, base) : NULL;
	if (!bs)
		return -ENOENT;
	struct diffw w = {.act = fs, .fn = fn, .arg = arg, .st = st, .nmap = nmap_blocks(fs)};
	int rc = snap_image(fs, bs->snapid, &w.bfs);
	if (rc)
		return rc == -ESTALE ? -EBUSY : rc;
	if (to) {
		struct wafl_snap *ts = snap_by_name(fs, to);
		if (!ts)
			return -ENOENT;
		if ((rc = snap_image(fs, ts->snapid, &w.tfs)))
			return rc == -ESTALE ? -EBUSY : rc;
	} else {
		w.tfs = fs;
	}
	struct wbuf *ib;
	if ((rc = inode_get(w.bfs, WAFL_INO_ACTIVEMAP, &ib, &w.bdi)))
		return rc;
	struct wafl_dinode bcopy = *w.bdi;
	if ((rc = inode_get(w.tfs, WAFL_INO_ACTIVEMAP, &ib, &w.tdi)))
		return rc;
	struct wafl_dinode tcopy = *w.tdi;
	w.bdi = &bcopy;
	w.tdi = &tcopy;
	if (bcopy.height == tcopy.height) {
		for (unsigned i = 0; i < WAFL_TOP_PTRS && !rc; i++) {
			struct wafl_bptr tp = live_ptr(w.tfs, tcopy.height, i, &tcopy.top[i]);
			rc = diff_node(&w, tcopy.height, i, &bcopy.top[i], &tp);
		}
	} else {
		for (uint64_t k = 0; k < w.nmap && !rc; k++)
			rc = diff_leaf(&w, k);
	}
	cache_trim(v->aggr);
	return rc;
}

/* ---- clones --------------------------------------------------------- */

static int apply_clone(struct wafl_aggr *a, const struct rec_snap *r)
{
	struct wafl_vol *pv = vol_by_id(a, r->volid);
	if (!pv)
		return -EUCLEAN;
	struct wafl_snap *s = snap_by_id(pv->fs, r->snapid);
	if (!s || !s->cp)
		return -EUCLEAN;
	struct wafl_fsinfo fsi = s->fsi;
	fsi.volid = r->newvolid;
	fsi.fsid = r->fsid;
	memset(&fsi.snaptab, 0, sizeof(fsi.snaptab));
	fsi.nsnaps = 0;
	fsi.next_snapid = 1;
	fsi.sflags = 0;
	fsi.ctime_sec = r->sec;
	struct timespec now = {r->sec, r->nsec};
	struct wafl_vol *v;
	int rc = aggr_vol_clone_attach(a, r->name, r->newvolid, r->container, pv->size_bytes,
				       r->fsid, &fsi, r->volid, r->snapid, &now, &v);
	if (rc)
		return rc;
	/* the clone has no snapshots: its summary starts empty (the parent's
	 * blocks stay the parent's: they are not in the clone's container) */
	struct wbuf *b;
	struct wafl_dinode *di;
	if ((rc = inode_get_dirty(v->fs, WAFL_INO_SUMMARY, &b, &di)))
		return rc;
	memset(di->top, 0, sizeof(di->top));
	di->height = 0;
	di->blocks = 0;
	di->size = 0;
	v->fs->sum_only = 0;
	if ((rc = snap_load(v->fs)))
		return rc;
	/* what the snapshot's map held beyond its tree is not the clone's */
	struct u64set old = {0}, none = {0};
	if (!(rc = snap_extra_vbns(pv->fs, s, &old)))
		rc = fix_map(v->fs, &old, &none);
	u64set_free(&old);
	return rc;
}

int wafl_vol_clone(struct wafl_aggr *a, const char *name, const char *parent, const char *snap,
		   struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (a->kind != WAFL_AGGR)
		return -EOPNOTSUPP;
	if (a->read_only)
		return -EROFS;
	if (!name || !wafl_name_valid(name))
		return -EINVAL;
	if (wafl_vol_find(a, name))
		return -EEXIST;
	struct wafl_vol *pv = parent ? wafl_vol_find(a, parent) : NULL;
	if (!pv || pv->fs == &a->fs)
		return -ENOENT;
	struct wafl_snap *s = snap ? snap_by_name(pv->fs, snap) : NULL;
	if (!s)
		return -ENOENT;
	if (!snap_ready(pv->fs, s))
		return -EBUSY;
	if (pv->fs->parent_volid)
		return -EBUSY; /* a clone of a clone: split the parent first */
	if (fs_space_check(&a->fs, 64))
		return -ENOSPC;
	int rc = ops_room(a, sizeof(struct rec_snap));
	if (rc)
		return rc;
	struct rec_snap r;
	rec_init(&r, OP_VOLCLONE, pv->fs);
	r.snapid = s->snapid;
	uint32_t gen;
	if ((rc = inode_pick(&a->fs, &r.container, &gen)))
		return rc;
	r.newvolid = a->volid_next > 2 ? (uint32_t)a->volid_next : 2;
	uint8_t u[16];
	wafl_uuid(u);
	memcpy(&r.fsid, u, 8);
	snprintf(r.name, sizeof(r.name), "%s", name);
	if ((rc = apply_clone(a, &r)))
		return rc;
	if ((rc = log_snap(a, &r, st)))
		return rc;
	cp_for(a, st);
	return 0;
}

/* Dirties every inherited block under one pointer. *budget counts down
 * the blocks newly dirtied. */
static int split_walk(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level,
		      uint64_t idx, const struct wafl_bptr *p, unsigned *budget)
{
	if (!p->pvbn || !*budget)
		return 0;
	struct wafl_bptr *cp;
	int rc = container_ptr(fs, p->vvbn, &cp);
	if (rc)
		return rc;
	bool inherited = !cp || cp->pvbn != p->pvbn;
	if (!inherited && level == 0)
		return 0;
	struct wbuf *b;
	if ((rc = bmap_get(fs, ino, di, level, idx, 0, &b)))
		return rc;
	if (!b)
		return 0;
	if (inherited && !(b->flags & B_DIRTY)) {
		if ((rc = buf_dirty(b)))
			return rc;
		(*budget)--;
	}
	if (level == 0)
		return 0;
	struct wafl_bptr *ptrs = malloc(WAFL_BS);
	if (!ptrs)
		return -ENOMEM;
	memcpy(ptrs, b->data, WAFL_BS);
	for (unsigned i = 0; i < WAFL_PTRS_PER_BLOCK && !rc && *budget; i++)
		rc = split_walk(fs, ino, di, (uint8_t)(level - 1), idx * WAFL_PTRS_PER_BLOCK + i,
				&ptrs[i], budget);
	free(ptrs);
	return rc;
}

static int split_inode(struct wafl_fs *fs, uint64_t ino, unsigned *budget)
{
	struct wafl_dinode *di;
	struct wbuf *ib;
	if (ino == WAFL_INO_INODEFILE) {
		di = &fs->fsi.inofile;
	} else {
		int rc = inode_get(fs, ino, &ib, &di);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
		if (di->mode == 0 && ino >= WAFL_INO_FIRST)
			return 0;
	}
	struct wafl_dinode copy = *di;
	for (unsigned i = 0; i < WAFL_TOP_PTRS && *budget; i++) {
		/* re-read: dirtying may have moved the inode's block */
		if (ino != WAFL_INO_INODEFILE) {
			int rc = inode_get(fs, ino, &ib, &di);
			if (rc)
				return rc;
		}
		int rc = split_walk(fs, ino, di, copy.height, i, &copy.top[i], budget);
		if (rc)
			return rc;
	}
	return 0;
}

/* VVBNs of the clone still inherited: in its maps, not in its container.
 * One container block is looked up per 128 VVBNs, not one per block:
 * volume status and metrics ask for this. */
static int count_inherited(struct wafl_fs *fs, uint64_t *out)
{
	struct wafl_aggr *a = fs->aggr;
	*out = 0;
	struct wbuf *ib;
	struct wafl_dinode *cdi;
	int rc = inode_get(&a->fs, fs->container, &ib, &cdi);
	if (rc)
		return rc;
	static const struct wafl_bptr none[WAFL_PTRS_PER_BLOCK];
	for (uint64_t k = 0; k < nmap_blocks(fs); k++) {
		struct wbuf *ab;
		if ((rc = meta_block(fs, WAFL_INO_ACTIVEMAP, k, false, &ab)))
			return rc;
		if (!ab)
			continue;
		const struct wafl_bptr *ptrs = NULL;
		for (unsigned w = 0; w < WAFL_BS / 8; w++) {
			uint64_t m;
			memcpy(&m, ab->data + w * 8, 8);
			uint64_t base = k * BITS_PER_MAPBLOCK + w * 64u;
			if (base % WAFL_PTRS_PER_BLOCK == 0)
				ptrs = NULL; /* the range of the next container block */
			if (!m)
				continue;
			if (!ptrs) {
				struct wbuf *l1;
				if ((rc = bmap_get(&a->fs, fs->container, cdi, 1,
						   base >> WAFL_PTR_SHIFT, 0, &l1)))
					return rc;
				ptrs = l1 ? (const struct wafl_bptr *)l1->data : none;
			}
			while (m) {
				unsigned bit = (unsigned)__builtin_ctzll(m);
				m &= m - 1;
				uint64_t vbn = base + bit;
				if (!ptrs[vbn & (WAFL_PTRS_PER_BLOCK - 1)].pvbn &&
				    !u64set_has(&fs->inflight, vbn))
					(*out)++;
			}
		}
	}
	return 0;
}

static void split_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct wafl_fs *fs = arg;
	struct wafl_aggr *a = fs->aggr;
	if (!(fs->fsi.sflags & WAFL_FSF_SPLITTING) || a->read_only)
		return;
	struct timeval wait = {0, 20000};
	if (a->cp_running || fs->ndirty || a->ndirty >= a->cp_dirty_bufs) {
		/* one slice per CP: what it dirtied must get homes first */
		if (fs->ndirty)
			cp_request(a);
		evtimer_add(fs->split_ev, &wait);
		return;
	}
	unsigned budget = SPLIT_SLICE;
	uint64_t max = inode_max(fs);
	int rc = 0;
	while (fs->split_next < max && budget && !rc) {
		rc = split_inode(fs, fs->split_next, &budget);
		if (!rc && budget)
			fs->split_next = fs->split_next == 0 ? 1 : fs->split_next + 1;
	}
	if (rc) {
		wafl_logf(WLOG_ERR, "vol %u: clone split stopped (%s)", fs->volid, strerror(-rc));
		return;
	}
	if (fs->split_next < max || fs->ndirty) {
		cp_maybe(a);
		cache_trim(a);
		evtimer_add(fs->split_ev, &wait);
		return;
	}
	/* a full pass, and its CP durable: anything left? */
	uint64_t left;
	if ((rc = count_inherited(fs, &left)) == 0 && left == 0) {
		struct wafl_vol *v = vol_of(fs);
		if (v && (rc = aggr_vol_clone_detach(v)) == 0) {
			fs->fsi.sflags &= ~WAFL_FSF_SPLITTING;
			wafl_logf(WLOG_INFO, "vol %s: clone split done", v->name);
			cp_request(a);
			return;
		}
	}
	if (rc) {
		wafl_logf(WLOG_ERR, "vol %u: clone split stopped (%s)", fs->volid, strerror(-rc));
		return;
	}
	fs->split_next = 0;
	evtimer_add(fs->split_ev, &wait);
}

int wafl_vol_clone_split(struct wafl_vol *v)
{
	struct wafl_fs *fs = v->fs;
	if (!fs->parent_volid)
		return -EINVAL;
	if (v->aggr->read_only)
		return -EROFS;
	if (fs->fsi.sflags & WAFL_FSF_SPLITTING)
		return 0;
	if (fs->nsnaps)
		return -EBUSY; /* its snapshots hold inherited blocks too */
	split_start(fs);
	/* the flag lives in the fsinfo: the next CP records it */
	struct wafl_snapent *e;
	int rc = entry_get(fs, 0, true, &e);
	cp_request(v->aggr);
	return rc;
}

/* For wafl_vol_info. */
void snap_vol_info(struct wafl_vol *v, struct wafl_vol_info *o)
{
	struct wafl_fs *fs = v->fs;
	o->nsnaps = fs->nsnaps;
	o->snap_blocks = fs->sum_only;
	/* at least 1 while the rebuild runs, even when nothing is left to free */
	o->reclaiming_blocks = fs->rebuild ? (fs->sum_only ? fs->sum_only : 1) : 0;
	o->snapdir_visible = fs->fsi.sflags & WAFL_FSF_SNAPDIR_VISIBLE;
	if (!fs->parent_volid)
		return;
	struct wafl_vol *pv = vol_by_id(v->aggr, fs->parent_volid);
	if (pv) {
		snprintf(o->parent, sizeof(o->parent), "%s", pv->name);
		struct wafl_snap *s = snap_by_id(pv->fs, fs->parent_snapid);
		if (s)
			snprintf(o->parent_snap, sizeof(o->parent_snap), "%s", s->name);
	}
	o->splitting = fs->fsi.sflags & WAFL_FSF_SPLITTING;
	uint64_t left = 0;
	if (count_inherited(fs, &left) == 0)
		o->split_blocks_left = left;
}
