/*
 * map.c - active maps and the block allocator.
 *
 * Every instance keeps one bit per VBN in its active map file (inode
 * WAFL_INO_ACTIVEMAP): 1 = the active file system uses the block. A
 * flexible volume's map covers its VVBNs; the aggregate's covers PVBNs,
 * so a flexvol block is allocated twice: a VVBN here, a PVBN there.
 *
 * Frees are delayed twice (DESIGN.md §9.3). A block released by an
 * operation keeps its bit until the next CP freezes (fs->pending); that
 * CP clears the bit in the map it writes, but the block joins the
 * in-flight set and is not handed out again until that CP's superblock
 * is durable. Otherwise a crash could leave the previous tree pointing at
 * overwritten data.
 *
 * Snapshots: a block is also in use while the summary map (the OR of
 * every snapshot's map, snap.c) has it; the allocator skips those too.
 *
 * Space: a block is promised the moment a buffer becomes dirty (it will
 * need a home at the next CP), so operations check fs_space_check()
 * before they change anything, and a CP never runs out of room.
 */
#include "wafl/wafl_int.h"

static int map_inode(struct wafl_fs *fs, struct wafl_dinode **di)
{
	struct wbuf *b;
	return inode_get(fs, WAFL_INO_ACTIVEMAP, &b, di);
}

int map_test(struct wafl_fs *fs, uint64_t vbn, bool *on)
{
	struct wafl_dinode *di;
	int rc = map_inode(fs, &di);
	if (rc)
		return rc;
	struct wbuf *b;
	rc = bmap_get(fs, WAFL_INO_ACTIVEMAP, di, 0, vbn / BITS_PER_MAPBLOCK, 0, &b);
	if (rc)
		return rc;
	uint64_t bit = vbn % BITS_PER_MAPBLOCK;
	*on = b && (b->data[bit / 8] >> (bit % 8)) & 1;
	return 0;
}

int map_set(struct wafl_fs *fs, uint64_t vbn, bool on)
{
	if (vbn >= fs->fsi.space_blocks)
		return -ERANGE;
	struct wafl_dinode *di;
	int rc = map_inode(fs, &di);
	if (rc)
		return rc;
	struct wbuf *b;
	rc = bmap_get(fs, WAFL_INO_ACTIVEMAP, di, 0, vbn / BITS_PER_MAPBLOCK, BM_CREATE, &b);
	if (rc)
		return rc;
	uint64_t bit = vbn % BITS_PER_MAPBLOCK;
	uint8_t m = (uint8_t)(1u << (bit % 8));
	bool was = b->data[bit / 8] & m;
	if (was == on) {
		wafl_logf(WLOG_ERR, "vol %u: map bit %llu already %s", fs->volid,
			  (unsigned long long)vbn, on ? "set" : "clear");
		return -EUCLEAN;
	}
	rc = buf_dirty(b);
	if (rc)
		return rc;
	if (on) {
		b->data[bit / 8] |= m;
		fs->fsi.used_blocks++;
	} else {
		b->data[bit / 8] &= (uint8_t)~m;
		fs->fsi.used_blocks--;
	}
	return 0;
}

/* First clear bit at or after `from` in [from, end) that is not in flight. */
static int map_scan(struct wafl_fs *fs, struct wafl_dinode *di, uint64_t from, uint64_t end,
		    uint64_t *found)
{
	uint64_t v = from;
	while (v < end) {
		uint64_t blk = v / BITS_PER_MAPBLOCK;
		uint64_t blk_end = (blk + 1) * BITS_PER_MAPBLOCK;
		if (blk_end > end)
			blk_end = end;
		struct wbuf *b;
		int rc = bmap_get(fs, WAFL_INO_ACTIVEMAP, di, 0, blk, 0, &b);
		if (rc)
			return rc;
		/* snapshots' blocks are not free either */
		const uint8_t *sum;
		if ((rc = snap_summary_block(fs, blk, &sum)))
			return rc;
		while (v < blk_end) {
			uint64_t bit = v % BITS_PER_MAPBLOCK;
			if ((b || sum) && (bit % 64) == 0 && v + 64 <= blk_end) {
				uint64_t w = 0, ws = 0;
				if (b)
					memcpy(&w, b->data + bit / 8, 8);
				if (sum)
					memcpy(&ws, sum + bit / 8, 8);
				if ((w | ws) == ~0ull) {
					v += 64;
					continue;
				}
			}
			bool on = (b && (b->data[bit / 8] >> (bit % 8)) & 1) ||
				  (sum && (sum[bit / 8] >> (bit % 8)) & 1);
			if (!on && !u64set_has(&fs->inflight, v) && !u64set_has(&fs->sfree_set, v)) {
				*found = v;
				return 0;
			}
			v++;
		}
	}
	return -ENOSPC;
}

int map_alloc(struct wafl_fs *fs, uint64_t *vbn)
{
	struct wafl_dinode *di;
	int rc = map_inode(fs, &di);
	if (rc)
		return rc;
	uint64_t end = fs->fsi.space_blocks;
	if (fs->alloc_cursor >= end || fs->alloc_cursor == 0)
		fs->alloc_cursor = 1;
	rc = map_scan(fs, di, fs->alloc_cursor, end, vbn);
	if (rc == -ENOSPC)
		rc = map_scan(fs, di, 1, fs->alloc_cursor, vbn);
	if (rc) {
		if (rc == -ENOSPC)
			wafl_logf(WLOG_ERR, "vol %u: no free block for a CP", fs->volid);
		return rc;
	}
	rc = map_set(fs, *vbn, true);
	if (rc)
		return rc;
	fs->alloc_cursor = *vbn + 1;
	return 0;
}

int map_free_later(struct wafl_fs *fs, uint64_t vbn, uint64_t pvbn)
{
	return pairvec_push(&fs->pending, vbn, pvbn);
}

/* What the next CP may need beyond the dirty buffers themselves: map
 * blocks, container indirects, inode-file blocks. */
static uint64_t cp_margin(uint64_t ndirty)
{
	return ndirty / 32 + 64;
}

static uint64_t phys_avail(struct wafl_fs *afs)
{
	struct wafl_aggr *a = afs->aggr;
	uint64_t need = afs->fsi.used_blocks + afs->sum_only + afs->sfree.n + afs->inflight.n +
			a->ndirty + cp_margin(a->ndirty) + aggr_reserved_blocks(a);
	return need >= afs->fsi.space_blocks ? 0 : afs->fsi.space_blocks - need;
}

uint64_t fs_avail_blocks(struct wafl_fs *fs)
{
	struct wafl_aggr *a = fs->aggr;
	uint64_t aggr_avail = phys_avail(&a->fs);
	if (fs->type != WAFL_FST_FLEX)
		return aggr_avail;
	uint64_t need = fs->fsi.used_blocks + fs->sum_only + fs->sfree.n + fs->inflight.n +
			fs->ndirty + cp_margin(fs->ndirty);
	uint64_t own = need >= fs->limit_blocks ? 0 : fs->limit_blocks - need;
	struct wafl_vol *v = vol_by_id(a, fs->volid);
	if (v && v->guarantee == WAFL_GUAR_VOLUME)
		return own; /* the aggregate holds this much in reserve for us */
	return own < aggr_avail ? own : aggr_avail;
}

int fs_space_check(struct wafl_fs *fs, uint64_t nblocks)
{
	return fs_avail_blocks(fs) >= nblocks ? 0 : -ENOSPC;
}
