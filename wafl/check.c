/*
 * check.c - the consistency checker: walks the newest durable image of an
 * aggregate read-only and proves that its parts agree.
 *
 *  1. Every block reachable from the superblock is read and verified
 *     against its context (owner, address, CP, checksum).
 *  2. Block ownership: what the aggregate's trees reach (container files'
 *     level-0 pointers included: they are the flexible volumes' blocks)
 *     equals the aggregate's active map; what each flexible volume's
 *     trees reach equals its map; each flexvol pointer's PVBN equals its
 *     container's pointer for that VVBN, and every container pointer is
 *     reached by its volume. Nothing is owned twice.
 *  3. Directories: B+tree structure (dir_check), entries that name
 *     in-use inodes of the right type, ".." (the parent field), link
 *     counts, and no in-use inode outside every directory.
 *  4. Snapshots: every snapshot's tree is walked and verified too; what it
 *     reaches must be held by its own map, its map by the summary map
 *     (once merged), and the summary may hold nothing that no snapshot's
 *     map has (unless a deletion's rebuild is under way). A clone's
 *     inherited blocks must be its parent's container's.
 *
 * A block that fails verification is reported once as CORRUPT. Whatever
 * hangs below it cannot be walked; blocks set in a map that the walk never
 * reached are then verified on their own (checksum and address): a bad
 * one is CORRUPT too, a good one UNVERIFIED if some corruption could hide
 * its owner, else LEAKED. So a run on an image with flipped bits names
 * exactly the flipped blocks as CORRUPT.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "wafl/dir.h"
#include "wafl/wafl_int.h"

struct ck_inode {
	uint32_t mode;
	uint32_t nlink;
	uint64_t parent;
	uint8_t iflags;
	uint32_t refs;
	uint32_t subdirs;
};

struct ck {
	struct wafl_aggr *a;
	wafl_problem_fn fn;
	void *arg;
	wafl_owner_fn owner;
	void *oarg;
	struct wafl_check_result *res;
	struct u64set bad_pvbn;	 /* reported CORRUPT already */
	uint8_t *aggr_owned;	 /* bit per PVBN */
	uint8_t *vol_owned;	 /* bit per VVBN of the volume being walked */
	struct wafl_fs *fs;	 /* being walked */
	uint8_t *snap_owned;	 /* walking a snapshot: what it reaches (VBN bits) */
	struct ck_inode *inodes; /* of the instance being walked */
	uint64_t ninodes;
	bool corrupt_seen;
	uint8_t *blk;
};

static bool bit_test(const uint8_t *m, uint64_t b)
{
	return (m[b / 8] >> (b % 8)) & 1;
}

static void bit_set(uint8_t *m, uint64_t b)
{
	m[b / 8] |= (uint8_t)(1u << (b % 8));
}

static void problem(struct ck *c, enum wafl_problem_kind k, uint64_t pvbn, uint32_t volid,
		    uint64_t ino, unsigned level, uint64_t fbn, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static void problem(struct ck *c, enum wafl_problem_kind k, uint64_t pvbn, uint32_t volid,
		    uint64_t ino, unsigned level, uint64_t fbn, const char *fmt, ...)
{
	struct wafl_problem p = {k, pvbn, volid, ino, fbn, level, {0}};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.msg, sizeof(p.msg), fmt, ap);
	va_end(ap);
	c->res->problems++;
	if (k == WAFL_P_CORRUPT)
		c->res->corrupt_blocks++;
	if (c->fn)
		c->fn(c->arg, &p);
}

static void corrupt(struct ck *c, uint64_t pvbn, uint32_t volid, uint64_t ino, unsigned level,
		    uint64_t fbn, const char *why)
{
	c->corrupt_seen = true;
	if (u64set_has(&c->bad_pvbn, pvbn))
		return;
	(void)u64set_add(&c->bad_pvbn, pvbn);
	problem(c, WAFL_P_CORRUPT, pvbn, volid, ino, level, fbn, "block does not verify: %s", why);
}

/* Reads and verifies one block; reports it if it does not verify. */
static int ck_read(struct ck *c, const struct wafl_bptr *p, uint64_t ino, uint8_t level,
		   uint64_t idx)
{
	struct wafl_fs *fs = c->fs;
	uint8_t slot[WAFL_SLOT_SIZE] __attribute__((aligned(64)));
	int rc = raid_read_slot(&c->a->raid, p->pvbn, slot);
	if (rc) {
		corrupt(c, p->pvbn, fs->volid, ino, level, idx, "read error");
		return rc;
	}
	struct ctx_expect e = {fs->volid, ino,	  level,   idx,	      p->pvbn,
			       p->vvbn,	  p->cp, p->cksum, fs->parent_volid};
	char why[96];
	if (ctx_verify(slot, &e, why, sizeof(why))) {
		corrupt(c, p->pvbn, fs->volid, ino, level, idx, why);
		return -EUCLEAN;
	}
	memcpy(c->blk, slot, WAFL_BS);
	c->res->blocks_checked++;
	if (c->owner)
		c->owner(c->oarg, p->pvbn, fs->volid, ino, level, idx);
	return 0;
}

static int grow_inodes(struct ck *c, uint64_t ino)
{
	if (ino < c->ninodes)
		return 0;
	uint64_t n = c->ninodes ? c->ninodes : 1024;
	while (n <= ino)
		n *= 2;
	struct ck_inode *ni = realloc(c->inodes, n * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	memset(ni + c->ninodes, 0, (n - c->ninodes) * sizeof(*ni));
	c->inodes = ni;
	c->ninodes = n;
	return 0;
}

/* The parent's container pointer for a clone's VVBN. */
static struct wafl_bptr *parent_slot(struct ck *c, struct wafl_fs *fs, uint64_t vvbn)
{
	struct wafl_vol *pv = vol_by_id(c->a, fs->parent_volid);
	struct wafl_bptr *p = NULL;
	if (pv)
		(void)container_ptr(pv->fs, vvbn, &p);
	return p;
}

static void claim(struct ck *c, const struct wafl_bptr *p, uint64_t ino, unsigned level,
		  uint64_t idx)
{
	struct wafl_fs *fs = c->fs;
	if (p->pvbn >= c->a->raid.nblocks) {
		problem(c, WAFL_P_BADPTR, p->pvbn, fs->volid, ino, level, idx,
			"pointer past the end of the aggregate");
		return;
	}
	if (fs->type == WAFL_FST_FLEX) {
		if (p->vvbn == 0 || p->vvbn >= fs->fsi.space_blocks) {
			problem(c, WAFL_P_BADPTR, p->pvbn, fs->volid, ino, level, idx,
				"VVBN %llu outside the volume", (unsigned long long)p->vvbn);
			return;
		}
		uint8_t *owned = c->snap_owned ? c->snap_owned : c->vol_owned;
		if (bit_test(owned, p->vvbn))
			problem(c, WAFL_P_DOUBLE, p->pvbn, fs->volid, ino, level, idx,
				"VVBN %llu owned twice", (unsigned long long)p->vvbn);
		bit_set(owned, p->vvbn);
		/* the container must say the same */
		struct wbuf *ib, *l1;
		struct wafl_dinode *cdi;
		if (inode_get(&c->a->fs, fs->container, &ib, &cdi) ||
		    bmap_get(&c->a->fs, fs->container, cdi, 1, p->vvbn >> WAFL_PTR_SHIFT, 0, &l1))
			return; /* the aggregate walk reported the container's problem */
		struct wafl_bptr *cs =
			l1 ? &((struct wafl_bptr *)l1->data)[p->vvbn & (WAFL_PTRS_PER_BLOCK - 1)]
			   : NULL;
		if ((!cs || !cs->pvbn) && fs->parent_volid)
			cs = parent_slot(c, fs, p->vvbn); /* a clone's inherited block */
		if (!cs || cs->pvbn != p->pvbn)
			problem(c, WAFL_P_CONTAINER, p->pvbn, fs->volid, ino, level, idx,
				"container maps VVBN %llu to PVBN %llu",
				(unsigned long long)p->vvbn,
				(unsigned long long)(cs ? cs->pvbn : 0));
		return;
	}
	if (p->pvbn == 0)
		return;
	uint8_t *owned = c->snap_owned ? c->snap_owned : c->aggr_owned;
	if (bit_test(owned, p->pvbn))
		problem(c, WAFL_P_DOUBLE, p->pvbn, fs->volid, ino, level, idx, "block owned twice");
	bit_set(owned, p->pvbn);
}

static void walk_inode(struct ck *c, uint64_t ino, const struct wafl_dinode *di);

static void walk_ptr(struct ck *c, uint64_t ino, const struct wafl_dinode *di, uint8_t level,
		     uint64_t idx, const struct wafl_bptr *p)
{
	if (p->pvbn == 0 && !(p->flags & WAFL_BP_ABSENT))
		return;
	struct wafl_fs *fs = c->fs;
	if (p->flags & WAFL_BP_ABSENT) {
		problem(c, WAFL_P_BADPTR, 0, fs->volid, ino, level, idx,
			"absent pointer outside a conversion");
		return;
	}
	if (level == 0 && (di->iflags & WAFL_IF_CONTAINER)) {
		/* a flexible volume's block: owned here, verified in its walk */
		claim(c, p, ino, level, idx);
		return;
	}
	claim(c, p, ino, level, idx);
	if (p->pvbn >= c->a->raid.nblocks)
		return;
	if (ck_read(c, p, ino, level, idx))
		return;
	if (level > 0) {
		struct wafl_bptr ptrs[WAFL_PTRS_PER_BLOCK];
		memcpy(ptrs, c->blk, sizeof(ptrs));
		for (unsigned i = 0; i < WAFL_PTRS_PER_BLOCK; i++)
			walk_ptr(c, ino, di, (uint8_t)(level - 1), idx * WAFL_PTRS_PER_BLOCK + i,
				 &ptrs[i]);
		return;
	}
	if (ino != WAFL_INO_INODEFILE)
		return;
	struct wafl_dinode inodes[WAFL_INODES_PER_BLOCK];
	memcpy(inodes, c->blk, sizeof(inodes));
	for (unsigned k = 0; k < WAFL_INODES_PER_BLOCK; k++) {
		uint64_t n = idx * WAFL_INODES_PER_BLOCK + k;
		if (inodes[k].mode == 0)
			continue;
		walk_inode(c, n, &inodes[k]);
	}
}

static void walk_inode(struct ck *c, uint64_t ino, const struct wafl_dinode *di)
{
	struct wafl_fs *fs = c->fs;
	c->res->inodes_checked++;
	if (ino != WAFL_INO_INODEFILE) {
		if (grow_inodes(c, ino))
			return;
		struct ck_inode *ci = &c->inodes[ino];
		ci->mode = di->mode;
		ci->nlink = di->nlink;
		ci->parent = di->parent;
		ci->iflags = di->iflags;
		uint32_t t = di->mode & S_IFMT;
		if (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFCHR && t != S_IFBLK &&
		    t != S_IFIFO && t != S_IFSOCK)
			problem(c, WAFL_P_INODE, 0, fs->volid, ino, 0, 0, "impossible mode %o",
				di->mode);
		if (t == S_IFLNK && (di->size == 0 || di->size > WAFL_PATH_MAX))
			problem(c, WAFL_P_INODE, 0, fs->volid, ino, 0, 0, "symlink of %llu bytes",
				(unsigned long long)di->size);
	}
	if (di->height > WAFL_MAX_HEIGHT) {
		problem(c, WAFL_P_INODE, 0, fs->volid, ino, 0, 0, "tree height %u", di->height);
		return;
	}
	struct wafl_dinode copy = *di;
	for (unsigned i = 0; i < WAFL_TOP_PTRS; i++)
		walk_ptr(c, ino, &copy, copy.height, i, &copy.top[i]);
}

/* Reads a map block through the cache; NULL for a hole. */
static int map_block(struct wafl_fs *fs, uint64_t blk, const uint8_t **data)
{
	struct wbuf *ib, *b;
	struct wafl_dinode *di;
	int rc = inode_get(fs, WAFL_INO_ACTIVEMAP, &ib, &di);
	if (rc)
		return rc;
	rc = bmap_get(fs, WAFL_INO_ACTIVEMAP, di, 0, blk, 0, &b);
	if (rc)
		return rc;
	*data = b ? b->data : NULL;
	return 0;
}

/* A block nothing reached: verify it alone (checksum and address). */
static bool standalone_ok(struct ck *c, uint64_t pvbn)
{
	uint8_t slot[WAFL_SLOT_SIZE] __attribute__((aligned(64)));
	if (raid_read_slot(&c->a->raid, pvbn, slot))
		return false;
	struct wafl_ctx x;
	memcpy(&x, slot + WAFL_BS, sizeof(x));
	struct ctx_expect e = {x.volid, x.ino, x.level, x.fbn, pvbn, 0, 0, 0, 0};
	return ctx_verify(slot, &e, NULL, 0) == 0;
}

static void compare_map(struct ck *c, const uint8_t *owned, uint64_t space)
{
	struct wafl_fs *fs = c->fs;
	uint64_t used = 0;
	uint64_t nblk = (space + BITS_PER_MAPBLOCK - 1) / BITS_PER_MAPBLOCK;
	for (uint64_t blk = 0; blk < nblk; blk++) {
		const uint8_t *m;
		if (map_block(fs, blk, &m)) {
			/* the walk of the map file reported it */
			continue;
		}
		uint64_t first = blk * BITS_PER_MAPBLOCK;
		uint64_t last =
			first + BITS_PER_MAPBLOCK < space ? first + BITS_PER_MAPBLOCK : space;
		for (uint64_t v = first; v < last; v++) {
			bool on = m && bit_test(m, v - first);
			bool own = bit_test(owned, v);
			used += on;
			if (on == own)
				continue;
			if (own) {
				problem(c, WAFL_P_UNALLOCATED, fs->type == WAFL_FST_FLEX ? 0 : v,
					fs->volid, 0, 0, v, "VBN %llu in use but free in the map",
					(unsigned long long)v);
				continue;
			}
			/* set in the map, reached by nothing */
			uint64_t pvbn = v;
			if (fs->type == WAFL_FST_FLEX) {
				struct wbuf *ib, *l1;
				struct wafl_dinode *cdi;
				pvbn = 0;
				if (!inode_get(&c->a->fs, fs->container, &ib, &cdi) &&
				    !bmap_get(&c->a->fs, fs->container, cdi, 1, v >> WAFL_PTR_SHIFT,
					      0, &l1) &&
				    l1)
					pvbn = ((struct wafl_bptr *)l1->data)[v & 127].pvbn;
			}
			if (pvbn && u64set_has(&c->bad_pvbn, pvbn))
				continue;
			if (pvbn && !standalone_ok(c, pvbn)) {
				corrupt(c, pvbn, fs->volid, 0, 0, v,
					"unreachable and does not verify");
				continue;
			}
			if (c->corrupt_seen)
				problem(c, WAFL_P_UNVERIFIED, pvbn, fs->volid, 0, 0, v,
					"VBN %llu may belong under a corrupt block",
					(unsigned long long)v);
			else
				problem(c, WAFL_P_LEAKED, pvbn, fs->volid, 0, 0, v,
					"VBN %llu allocated but owned by nothing",
					(unsigned long long)v);
		}
	}
	if (!c->corrupt_seen && used != fs->fsi.used_blocks)
		problem(c, WAFL_P_SUPER, 0, fs->volid, 0, 0, 0,
			"fsinfo counts %llu used blocks, the map %llu",
			(unsigned long long)fs->fsi.used_blocks, (unsigned long long)used);
}

struct dck {
	struct ck *c;
	uint64_t dir;
};

static int dir_entry_cb(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
			uint64_t cookie)
{
	(void)cookie;
	struct dck *d = arg;
	struct ck *c = d->c;
	struct wafl_fs *fs = c->fs;
	if (ino >= c->ninodes || c->inodes[ino].mode == 0) {
		if (c->corrupt_seen)
			return 0; /* its inode may sit in a block that did not verify */
		problem(c, WAFL_P_DIR, 0, fs->volid, d->dir, 0, 0,
			"entry \"%.*s\" names free inode %llu", (int)(len > 64 ? 64 : len), name,
			(unsigned long long)ino);
		return 0;
	}
	struct ck_inode *ci = &c->inodes[ino];
	uint32_t want = 0;
	switch (ci->mode & S_IFMT) {
	case S_IFDIR:
		want = WAFL_FT_DIR;
		break;
	case S_IFLNK:
		want = WAFL_FT_LNK;
		break;
	case S_IFBLK:
		want = WAFL_FT_BLK;
		break;
	case S_IFCHR:
		want = WAFL_FT_CHR;
		break;
	case S_IFSOCK:
		want = WAFL_FT_SOCK;
		break;
	case S_IFIFO:
		want = WAFL_FT_FIFO;
		break;
	default:
		want = WAFL_FT_REG;
		break;
	}
	if (type != want)
		problem(c, WAFL_P_DIR, 0, fs->volid, d->dir, 0, 0,
			"entry \"%.*s\" has type %u, inode %llu is %u", (int)(len > 64 ? 64 : len),
			name, type, (unsigned long long)ino, want);
	ci->refs++;
	if (S_ISDIR(ci->mode)) {
		c->inodes[d->dir].subdirs++;
		if (ci->parent != d->dir)
			problem(c, WAFL_P_DIR, 0, fs->volid, ino, 0, 0,
				"directory's \"..\" is %llu, but it lives in %llu",
				(unsigned long long)ci->parent, (unsigned long long)d->dir);
	}
	return 0;
}

static void dir_bad_cb(void *arg, uint64_t fbn, const char *msg)
{
	struct dck *d = arg;
	problem(d->c, WAFL_P_DIR, 0, d->c->fs->volid, d->dir, 0, fbn, "%s", msg);
}

static void check_dirs(struct ck *c)
{
	struct wafl_fs *fs = c->fs;
	for (uint64_t ino = 1; ino < c->ninodes; ino++) {
		struct ck_inode *ci = &c->inodes[ino];
		if (!S_ISDIR(ci->mode))
			continue;
		struct wbuf *b;
		struct wafl_dinode *di;
		if (inode_get(fs, ino, &b, &di))
			continue;
		c->res->dirs_checked++;
		struct dir_io io;
		struct dirctx dc;
		dirctx_init(&io, &dc, fs, ino, di);
		struct dck d = {c, ino};
		int rc = dir_check(&io, dir_bad_cb, &d);
		if (rc < 0)
			continue; /* a block of it did not verify: reported as CORRUPT */
		bool eof;
		(void)dir_iterate(&io, 0, dir_entry_cb, &d, &eof);
	}
	for (uint64_t ino = 1; ino < c->ninodes; ino++) {
		struct ck_inode *ci = &c->inodes[ino];
		if (!ci->mode || (ci->iflags & WAFL_IF_META))
			continue;
		bool root = ino == WAFL_INO_ROOT;
		if (S_ISDIR(ci->mode)) {
			if (c->corrupt_seen)
				continue; /* some entries could not be read */
			if (ci->nlink != 2 + ci->subdirs)
				problem(c, WAFL_P_NLINK, 0, fs->volid, ino, 0, 0,
					"directory nlink %u, expected %u", ci->nlink,
					2 + ci->subdirs);
			if (!root && ci->refs != 1)
				problem(c, ci->refs ? WAFL_P_DIR : WAFL_P_ORPHAN, 0, fs->volid, ino,
					0, 0, "directory named %u times", ci->refs);
			continue;
		}
		if (ci->refs == 0 && !c->corrupt_seen)
			problem(c, WAFL_P_ORPHAN, 0, fs->volid, ino, 0, 0,
				"inode in use but in no directory");
		else if (ci->refs != ci->nlink && !c->corrupt_seen)
			problem(c, WAFL_P_NLINK, 0, fs->volid, ino, 0, 0,
				"nlink %u, named %u times", ci->nlink, ci->refs);
	}
}

/* Every container pointer must be reached by its volume. */
static void check_container(struct ck *c, struct wafl_vol *v)
{
	struct wafl_aggr *a = c->a;
	struct wbuf *ib;
	struct wafl_dinode *cdi;
	if (inode_get(&a->fs, v->fs->container, &ib, &cdi))
		return;
	uint64_t nl1 = (v->fs->fsi.space_blocks + WAFL_PTRS_PER_BLOCK - 1) / WAFL_PTRS_PER_BLOCK;
	for (uint64_t i = 0; i < nl1; i++) {
		struct wbuf *l1;
		if (bmap_get(&a->fs, v->fs->container, cdi, 1, i, 0, &l1) || !l1)
			continue;
		struct wafl_bptr *p = (struct wafl_bptr *)l1->data;
		for (unsigned k = 0; k < WAFL_PTRS_PER_BLOCK; k++) {
			uint64_t vvbn = i * WAFL_PTRS_PER_BLOCK + k;
			if (!p[k].pvbn ||
			    (vvbn < v->fs->fsi.space_blocks && bit_test(c->vol_owned, vvbn)))
				continue;
			bool held = false;
			if (vvbn < v->fs->fsi.space_blocks &&
			    snap_summary_test(v->fs, vvbn, &held) == 0 && held)
				continue; /* a snapshot's (checked in check_snaps) */
			if (u64set_has(&c->bad_pvbn, p[k].pvbn))
				continue;
			bool in_map = false;
			if (vvbn < v->fs->fsi.space_blocks && map_test(v->fs, vvbn, &in_map) == 0 &&
			    in_map && c->corrupt_seen)
				continue; /* compare_map reported it already */
			if (!standalone_ok(c, p[k].pvbn)) {
				corrupt(c, p[k].pvbn, v->fs->volid, 0, 0, vvbn,
					"unreachable and does not verify");
				continue;
			}
			problem(c, c->corrupt_seen ? WAFL_P_UNVERIFIED : WAFL_P_CONTAINER,
				p[k].pvbn, v->fs->volid, 0, 0, vvbn,
				"container holds VVBN %llu that the volume does not reach",
				(unsigned long long)vvbn);
		}
	}
}

static void walk_fs(struct ck *c, struct wafl_fs *fs, uint8_t *owned)
{
	c->fs = fs;
	free(c->inodes);
	c->inodes = NULL;
	c->ninodes = 0;
	(void)grow_inodes(c, WAFL_INO_FIRST);
	if (fs->type == WAFL_FST_FLEX)
		c->vol_owned = owned;
	walk_inode(c, WAFL_INO_INODEFILE, &fs->fsi.inofile);
	if (fs->fsi.snaptab.pvbn || (fs->fsi.snaptab.flags & WAFL_BP_ABSENT)) {
		struct wafl_dinode st = {.mode = S_IFREG | 0600, .iflags = WAFL_IF_META, .height = 1};
		st.top[0] = fs->fsi.snaptab;
		walk_ptr(c, WAFL_INO_SNAPTAB, &st, 1, 0, &st.top[0]);
	}
}

/* OR of b into a over n bytes. */
static void bits_or(uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] |= b[i];
}

/* Walks every snapshot of fs; each must be held by its own map, and its
 * map by the summary. vall collects what any image reaches (VBN bits). */
static void check_snaps(struct ck *c, struct wafl_fs *fs, uint8_t *vall)
{
	uint64_t space = fs->fsi.space_blocks;
	size_t bytes = space / 8 + 1;
	uint8_t *owned = malloc(bytes), *maps = calloc(bytes, 1);
	if (!owned || !maps)
		goto out;
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		struct wafl_snap *s = fs->snaps[i];
		struct wafl_fs *img;
		if (snap_image(fs, s->snapid, &img))
			continue; /* taken by a CP that did not complete */
		memset(owned, 0, bytes);
		c->snap_owned = owned;
		c->fs = img;
		c->vol_owned = fs->type == WAFL_FST_FLEX ? owned : NULL;
		walk_inode(c, WAFL_INO_INODEFILE, &img->fsi.inofile);
		c->snap_owned = NULL;
		c->fs = fs;
		if (vall)
			bits_or(vall, owned, bytes);
		uint64_t nblk = (space + BITS_PER_MAPBLOCK - 1) / BITS_PER_MAPBLOCK;
		for (uint64_t blk = 0; blk < nblk; blk++) {
			const uint8_t *m, *sum;
			if (map_block(img, blk, &m) || snap_summary_block(fs, blk, &sum))
				continue; /* the walks reported the block */
			uint64_t first = blk * BITS_PER_MAPBLOCK;
			uint64_t last = first + BITS_PER_MAPBLOCK < space ? first + BITS_PER_MAPBLOCK
									  : space;
			for (uint64_t v = first; v < last; v++) {
				bool on = m && bit_test(m, v - first);
				if (on)
					bit_set(maps, v);
				if (bit_test(owned, v) && !on && !c->corrupt_seen)
					problem(c, WAFL_P_UNALLOCATED, 0, fs->volid, 0, 0, v,
						"snapshot %s reaches VBN %llu, which its map does "
						"not hold",
						s->name, (unsigned long long)v);
				bool held = sum && bit_test(sum, v - first);
				if (on && !held && !(s->flags & WAFL_SNAP_UNMERGED))
					problem(c, WAFL_P_UNALLOCATED, 0, fs->volid, 0, 0, v,
						"snapshot %s holds VBN %llu, the summary map does "
						"not",
						s->name, (unsigned long long)v);
			}
		}
	}
	/* the summary holds nothing no snapshot has, once rebuilt */
	if (!(fs->fsi.sflags & WAFL_FSF_SUMMARY_STALE)) {
		uint64_t nblk = (space + BITS_PER_MAPBLOCK - 1) / BITS_PER_MAPBLOCK;
		for (uint64_t blk = 0; blk < nblk; blk++) {
			const uint8_t *sum;
			if (snap_summary_block(fs, blk, &sum) || !sum)
				continue;
			uint64_t first = blk * BITS_PER_MAPBLOCK;
			for (uint64_t v = first; v < first + BITS_PER_MAPBLOCK && v < space; v++)
				if (bit_test(sum, v - first) && !bit_test(maps, v))
					problem(c, WAFL_P_LEAKED, 0, fs->volid, 0, 0, v,
						"the summary map holds VBN %llu, no snapshot does",
						(unsigned long long)v);
		}
	}
out:
	free(owned);
	free(maps);
}

int wafl_check(const char *const *disks, unsigned ndisks, wafl_problem_fn fn, void *arg,
	       wafl_owner_fn owner, void *owner_arg, struct wafl_check_result *res)
{
	memset(res, 0, sizeof(*res));
	struct wafl_aggr *a;
	int saved = wafl_log_level;
	wafl_log_level = -1; /* problems go to fn, not to stderr */
	int rc = aggr_open_check(disks, ndisks, &a);
	if (rc) {
		wafl_log_level = saved;
		return rc;
	}
	struct ck c = {.a = a, .fn = fn, .arg = arg, .owner = owner, .oarg = owner_arg, .res = res};
	res->cp_count = a->sb.cp;
	c.blk = malloc(WAFL_BS);
	c.aggr_owned = calloc(a->raid.nblocks / 8 + 1, 1);
	if (!c.blk || !c.aggr_owned) {
		rc = -ENOMEM;
		goto out;
	}
	if (a->fs.fsi.space_blocks != a->raid.nblocks)
		problem(&c, WAFL_P_SUPER, 0, a->fs.volid, 0, 0, 0,
			"fsinfo says %llu blocks, the RAID groups hold %llu",
			(unsigned long long)a->fs.fsi.space_blocks,
			(unsigned long long)a->raid.nblocks);
	walk_fs(&c, &a->fs, NULL);
	if (a->kind == WAFL_TRAD) {
		check_dirs(&c);
		check_snaps(&c, &a->fs, NULL);
	}
	/* flexible volumes */
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	{
		if (v->fs == &a->fs)
			continue;
		res->vols_checked++;
		uint8_t *owned = calloc(v->fs->fsi.space_blocks / 8 + 1, 1);
		if (!owned) {
			rc = -ENOMEM;
			goto out;
		}
		walk_fs(&c, v->fs, owned);
		check_dirs(&c);
		compare_map(&c, owned, v->fs->fsi.space_blocks);
		check_snaps(&c, v->fs, NULL);
		c.fs = v->fs;
		c.vol_owned = owned;
		check_container(&c, v);
		free(owned);
		c.vol_owned = NULL;
	}
	if (a->kind == WAFL_TRAD)
		res->vols_checked++;
	c.fs = &a->fs;
	compare_map(&c, c.aggr_owned, a->fs.fsi.space_blocks);
out:
	free(c.inodes);
	free(c.blk);
	free(c.aggr_owned);
	u64set_free(&c.bad_pvbn);
	aggr_close_check(a);
	wafl_log_level = saved;
	return rc;
}

const char *wafl_problem_name(enum wafl_problem_kind k)
{
	switch (k) {
	case WAFL_P_CORRUPT:
		return "corrupt";
	case WAFL_P_LEAKED:
		return "leaked";
	case WAFL_P_UNALLOCATED:
		return "unallocated";
	case WAFL_P_DOUBLE:
		return "double";
	case WAFL_P_BADPTR:
		return "bad-pointer";
	case WAFL_P_NLINK:
		return "nlink";
	case WAFL_P_DIR:
		return "directory";
	case WAFL_P_ORPHAN:
		return "orphan";
	case WAFL_P_INODE:
		return "inode";
	case WAFL_P_CONTAINER:
		return "container";
	case WAFL_P_SUPER:
		return "superblock";
	case WAFL_P_UNVERIFIED:
		return "unverified";
	}
	return "unknown";
}
