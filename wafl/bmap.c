/*
 * bmap.c - the block tree of a file: from (level, index) to a buffer.
 *
 * An inode holds four top pointers that reach blocks at level `height`;
 * every indirect block holds 128 pointers to the level below; level 0 is
 * data. A file of height h addresses 4 * 128^h data blocks, so height 5
 * covers 512 TiB. Growing a file raises its height by putting a new
 * indirect block above the old top pointers; the buffer keys (level,
 * index) of everything below do not change.
 *
 * Blocks are allocated late: a new or changed block is only a dirty
 * buffer until the next CP gives it a home (cp.c). Dirtying a block
 * dirties its ancestors up to the fsinfo, because every one of them will
 * get a new home and so a new pointer.
 */
#include <stdlib.h>
#include <sys/uio.h>

#include "wafl/wafl_int.h"

uint64_t bmap_capacity(unsigned height, unsigned level)
{
	if (level > height)
		return 0;
	return (uint64_t)WAFL_TOP_PTRS << (WAFL_PTR_SHIFT * (height - level));
}

uint8_t bmap_kind(uint64_t ino, uint8_t level, const struct wafl_dinode *di)
{
	if (level > 0)
		return WAFL_BK_INDIRECT;
	if (ino == WAFL_INO_INODEFILE)
		return WAFL_BK_INODE;
	if (ino == WAFL_INO_ACTIVEMAP || ino == WAFL_INO_SUMMARY)
		return WAFL_BK_MAP;
	if (ino == WAFL_INO_SNAPTAB)
		return WAFL_BK_META;
	if (di && (di->iflags & WAFL_IF_META))
		return WAFL_BK_META;
	if (di && (di->mode & 0170000) == 0040000)
		return WAFL_BK_DIR;
	return WAFL_BK_DATA;
}

int block_read(struct wafl_fs *fs, const struct wafl_bptr *p, uint64_t ino, uint8_t level,
	       uint64_t idx, uint8_t *data)
{
	struct wafl_aggr *a = fs->aggr;
	if (p->flags & WAFL_BP_ABSENT) {
		wafl_logf(WLOG_ERR,
			  "vol %u ino %llu L%u fbn %llu: absent pointer outside conversion",
			  fs->volid, (unsigned long long)ino, level, (unsigned long long)idx);
		return -EUCLEAN;
	}
	if (p->pvbn == 0 || p->pvbn >= a->raid.nblocks) {
		wafl_logf(WLOG_ERR,
			  "vol %u ino %llu L%u fbn %llu: pointer to pvbn %llu out of range",
			  fs->volid, (unsigned long long)ino, level, (unsigned long long)idx,
			  (unsigned long long)p->pvbn);
		return -EUCLEAN;
	}
	uint8_t slot[WAFL_SLOT_SIZE] __attribute__((aligned(64)));
	const uint8_t *inflight = cp_inflight_slot(a, p->pvbn);
	int rc = 0;
	if (inflight)
		memcpy(slot, inflight, WAFL_SLOT_SIZE); /* not on the disks yet */
	else
		rc = raid_read_slot(&a->raid, p->pvbn, slot);
	if (rc)
		return rc;
	struct ctx_expect e = {
		.volid = fs->volid,
		.ino = ino,
		.level = level,
		.fbn = idx,
		.pvbn = p->pvbn,
		.vvbn = p->vvbn,
		.cp = p->cp,
		.cksum = p->cksum,
		.volid2 = fs->parent_volid, /* a clone reads its parent's blocks */
	};
	char why[96];
	rc = ctx_verify(slot, &e, why, sizeof(why));
	if (rc) {
		wafl_logf(WLOG_ERR, "pvbn %llu (vol %u ino %llu L%u fbn %llu): %s",
			  (unsigned long long)p->pvbn, fs->volid, (unsigned long long)ino, level,
			  (unsigned long long)idx, why);
		return rc;
	}
	memcpy(data, slot, WAFL_BS);
	return 0;
}

static struct wafl_dinode *fs_di(struct wafl_fs *fs, uint64_t ino, int *rc)
{
	*rc = 0;
	if (ino == WAFL_INO_INODEFILE)
		return &fs->fsi.inofile;
	if (ino == WAFL_INO_SNAPTAB)
		return &fs->snapdi;
	struct wbuf *ib;
	struct wafl_dinode *di;
	*rc = inode_get(fs, ino, &ib, &di);
	return *rc ? NULL : di;
}

int buf_dirty(struct wbuf *b)
{
	struct wafl_fs *fs = b->fs;
	while (b && !(b->flags & B_DIRTY)) {
		cache_mark_dirty(&fs->aggr->cache, b);
		int rc;
		struct wafl_dinode *di = fs_di(fs, b->ino, &rc);
		if (!di)
			return rc;
		if (b->level >= di->height) {
			/* parent is the inode */
			if (b->ino == WAFL_INO_INODEFILE || b->ino == WAFL_INO_SNAPTAB)
				return 0; /* whose root lives in the fsinfo */
			b = cache_find(&fs->aggr->cache, fs, WAFL_INO_INODEFILE, 0,
				       b->ino / WAFL_INODES_PER_BLOCK);
			if (!b)
				return -EUCLEAN; /* inode_get just loaded it */
			continue;
		}
		struct wbuf *p;
		rc = bmap_get(fs, b->ino, di, (uint8_t)(b->level + 1), b->idx >> WAFL_PTR_SHIFT, 0,
			      &p);
		if (rc)
			return rc;
		if (!p)
			return -EUCLEAN; /* a block with no parent */
		b = p;
	}
	return 0;
}

/* Puts a new level above the top pointers. */
static int bmap_grow(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di)
{
	if (di->height >= WAFL_MAX_HEIGHT)
		return -EFBIG;
	uint8_t nl = (uint8_t)(di->height + 1);
	struct wbuf *nb = cache_new(&fs->aggr->cache, fs, ino, nl, 0);
	if (!nb)
		return -ENOMEM;
	nb->kind = WAFL_BK_INDIRECT;
	memcpy(nb->data, di->top, sizeof(di->top));
	memset(di->top, 0, sizeof(di->top));
	di->height = nl;
	di->blocks++;
	return buf_dirty(nb);
}

int bmap_get(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level, uint64_t idx,
	     unsigned flags, struct wbuf **out)
{
	struct wafl_aggr *a = fs->aggr;
	*out = cache_find(&a->cache, fs, ino, level, idx);
	if (*out) {
		a->cache.hits++;
		return 0;
	}
	int rc;
	if (idx >= bmap_capacity(di->height, level)) {
		if (!(flags & BM_CREATE))
			return 0;
		while (idx >= bmap_capacity(di->height, level))
			if ((rc = bmap_grow(fs, ino, di)))
				return rc;
		*out = cache_find(&a->cache, fs, ino, level, idx);
		if (*out)
			return 0;
	}
	struct wafl_bptr *slot;
	if (level == di->height) {
		slot = &di->top[idx];
	} else {
		struct wbuf *pb;
		rc = bmap_get(fs, ino, di, (uint8_t)(level + 1), idx >> WAFL_PTR_SHIFT, flags, &pb);
		if (rc || !pb)
			return rc;
		slot = &((struct wafl_bptr *)pb->data)[idx & (WAFL_PTRS_PER_BLOCK - 1)];
	}
	if (slot->pvbn == 0 && !(slot->flags & WAFL_BP_ABSENT)) {
		if (!(flags & BM_CREATE))
			return 0;
		struct wbuf *b = cache_new(&a->cache, fs, ino, level, idx);
		if (!b)
			return -ENOMEM;
		b->kind = bmap_kind(ino, level, di);
		di->blocks++;
		rc = buf_dirty(b);
		if (rc)
			return rc;
		*out = b;
		return 0;
	}
	struct wbuf *b = cache_new(&a->cache, fs, ino, level, idx);
	if (!b)
		return -ENOMEM;
	a->cache.misses++;
	rc = block_read(fs, slot, ino, level, idx, b->data);
	if (rc) {
		cache_drop(&a->cache, b);
		return rc;
	}
	b->home = *slot;
	b->kind = bmap_kind(ino, level, di);
	*out = b;
	return 0;
}

struct pf_ent {
	struct wafl_disk *d;
	uint64_t slot;
	uint64_t fbn;
	struct wafl_bptr p;
};

static int pf_cmp(const void *x, const void *y)
{
	const struct pf_ent *a = x, *b = y;
	if (a->d != b->d)
		return (uintptr_t)a->d < (uintptr_t)b->d ? -1 : 1;
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

#define PF_RUN 128 /* slots one preadv reads */

int bmap_prefetch(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t fbn,
		  uint64_t n)
{
	struct wafl_aggr *a = fs->aggr;
	if (n < 2 || n > 4096)
		return 0;
	struct pf_ent *v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	int rc = 0;
	for (uint64_t f = fbn; f < fbn + n && !rc; f++) {
		if (f >= bmap_capacity(di->height, 0) || cache_find(&a->cache, fs, ino, 0, f))
			continue;
		const struct wafl_bptr *p;
		if (di->height == 0) {
			p = &di->top[f];
		} else {
			struct wbuf *l1;
			if ((rc = bmap_get(fs, ino, di, 1, f >> WAFL_PTR_SHIFT, 0, &l1)) || !l1)
				continue;
			p = &((const struct wafl_bptr *)l1->data)[f & (WAFL_PTRS_PER_BLOCK - 1)];
		}
		if (!p->pvbn || (p->flags & WAFL_BP_ABSENT) || p->pvbn >= a->raid.nblocks ||
		    cp_inflight_slot(a, p->pvbn) || raid_map(&a->raid, p->pvbn, &v[k].d, &v[k].slot))
			continue;
		v[k].fbn = f;
		v[k].p = *p;
		k++;
	}
	if (rc || k < 2) {
		free(v);
		return rc;
	}
	qsort(v, k, sizeof(*v), pf_cmp);
	uint8_t(*ctx)[WAFL_CTX_SIZE] = malloc(PF_RUN * WAFL_CTX_SIZE);
	struct wbuf **bufs = malloc(PF_RUN * sizeof(*bufs));
	struct iovec *iov = malloc(2 * PF_RUN * sizeof(*iov));
	if (!ctx || !bufs || !iov) {
		rc = -ENOMEM;
		goto out;
	}
	uint8_t kind = bmap_kind(ino, 0, di);
	for (size_t i = 0; i < k;) {
		size_t j = i;
		unsigned m = 0;
		while (j < k && m < PF_RUN && v[j].d == v[i].d && v[j].slot == v[i].slot + m) {
			bufs[m] = cache_new(&a->cache, fs, ino, 0, v[j].fbn);
			if (!bufs[m])
				break;
			iov[2 * m].iov_base = bufs[m]->data;
			iov[2 * m].iov_len = WAFL_BS;
			iov[2 * m + 1].iov_base = ctx[m];
			iov[2 * m + 1].iov_len = WAFL_CTX_SIZE;
			m++;
			j++;
		}
		if (m == 0) {
			rc = -ENOMEM;
			break;
		}
		ssize_t got = preadv(v[i].d->fd, iov, (int)(2 * m),
				     (off_t)(v[i].slot * WAFL_SLOT_SIZE));
		for (unsigned q = 0; q < m; q++) {
			struct pf_ent *e = &v[i + q];
			struct ctx_expect ex = {
				.volid = fs->volid,
				.ino = ino,
				.level = 0,
				.fbn = e->fbn,
				.pvbn = e->p.pvbn,
				.vvbn = e->p.vvbn,
				.cp = e->p.cp,
				.cksum = e->p.cksum,
				.volid2 = fs->parent_volid,
			};
			bool ok = got >= (ssize_t)((q + 1) * WAFL_SLOT_SIZE) &&
				  ctx_verify_parts(bufs[q]->data, ctx[q], &ex, NULL, 0) == 0;
			if (!ok) {
				cache_drop(&a->cache, bufs[q]);
				continue;
			}
			bufs[q]->home = e->p;
			bufs[q]->kind = kind;
			a->cache.misses++;
		}
		i = j;
	}
out:
	free(ctx);
	free(bufs);
	free(iov);
	free(v);
	return rc;
}

int bmap_parent_slot(struct wbuf *b, struct wafl_bptr **slot)
{
	struct wafl_fs *fs = b->fs;
	int rc;
	struct wafl_dinode *di = fs_di(fs, b->ino, &rc);
	if (!di)
		return rc;
	if (b->level == di->height) {
		if (b->idx >= WAFL_TOP_PTRS)
			return -EUCLEAN;
		*slot = &di->top[b->idx];
		return 0;
	}
	struct wbuf *p;
	rc = bmap_get(fs, b->ino, di, (uint8_t)(b->level + 1), b->idx >> WAFL_PTR_SHIFT, 0, &p);
	if (rc)
		return rc;
	if (!p)
		return -EUCLEAN;
	*slot = &((struct wafl_bptr *)p->data)[b->idx & (WAFL_PTRS_PER_BLOCK - 1)];
	return 0;
}

/* Releases one block: its home (if any) is freed at the next CP, its
 * buffer (if cached) goes away. */
static int release_block(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level,
			 uint64_t idx, struct wafl_bptr *slot)
{
	struct wafl_aggr *a = fs->aggr;
	struct wbuf *b = cache_find(&a->cache, fs, ino, level, idx);
	struct wafl_bptr home = b ? b->home : *slot;
	if (home.pvbn) {
		int rc = map_free_later(fs, home.vvbn ? home.vvbn : home.pvbn, home.pvbn);
		if (rc)
			return rc;
	}
	if (b)
		cache_drop(&a->cache, b);
	if (home.pvbn || b)
		di->blocks--;
	memset(slot, 0, sizeof(*slot));
	return 0;
}

/* Frees everything under (level, idx) whose data index is >= from. *slot
 * points at this node (in the parent or the inode). */
static int trunc_node(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint8_t level,
		      uint64_t idx, struct wafl_bptr *slot, uint64_t from)
{
	struct wafl_aggr *a = fs->aggr;
	uint64_t span = 1ull << (WAFL_PTR_SHIFT * level);
	uint64_t first = idx * span;
	bool cached = cache_find(&a->cache, fs, ino, level, idx) != NULL;
	if (!cached && slot->pvbn == 0)
		return 0; /* a hole */
	if (first + span <= from)
		return 0;
	if (level > 0) {
		struct wbuf *nb;
		int rc = bmap_get(fs, ino, di, level, idx, 0, &nb);
		if (rc)
			return rc;
		if (!nb)
			return 0;
		rc = buf_dirty(nb);
		if (rc)
			return rc;
		struct wafl_bptr *ptrs = (struct wafl_bptr *)nb->data;
		for (unsigned i = 0; i < WAFL_PTRS_PER_BLOCK; i++) {
			uint64_t cidx = idx * WAFL_PTRS_PER_BLOCK + i;
			rc = trunc_node(fs, ino, di, (uint8_t)(level - 1), cidx, &ptrs[i], from);
			if (rc)
				return rc;
		}
	}
	if (first >= from)
		return release_block(fs, ino, di, level, idx, slot);
	return 0;
}

int bmap_truncate(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t from_fbn)
{
	for (unsigned i = 0; i < WAFL_TOP_PTRS; i++) {
		int rc = trunc_node(fs, ino, di, di->height, i, &di->top[i], from_fbn);
		if (rc)
			return rc;
	}
	if (from_fbn == 0) {
		/* nothing left: the tree can start over at height 0 */
		di->height = 0;
	}
	return 0;
}
