/*
 * buf.c - the buffer cache: every block of every instance that is in
 * memory, found by (instance, inode, level, index).
 *
 * Dirty buffers sit on their instance's dirty list and are never evicted.
 * Clean buffers form the LRU and are evicted by cache_trim(), which runs
 * only between operations: a pointer into a buffer stays valid for the
 * whole operation that obtained it. A clean buffer that the running CP
 * has not written yet may go too: a re-read finds the CP's copy
 * (cp_inflight_slot), never the old block. The cache's size bounds
 * buffers and the CP's copies together.
 */
#include <stdlib.h>

#include "wafl/wafl_int.h"

static size_t key_hash(const struct wafl_fs *fs, uint64_t ino, uint8_t level, uint64_t idx,
		       size_t mask)
{
	uint64_t h = (uint64_t)(uintptr_t)fs * 0x9e3779b97f4a7c15ull;
	h ^= ino * 0xc2b2ae3d27d4eb4full;
	h ^= (idx + ((uint64_t)level << 58)) * 0x165667b19e3779f9ull;
	h ^= h >> 29;
	return (size_t)h & mask;
}

int cache_init(struct wcache *c, uint64_t bytes)
{
	memset(c, 0, sizeof(*c));
	/* a buffer costs its block, its header and malloc's own header */
	size_t per = WAFL_BS + ((sizeof(struct wbuf) + 15) & ~(size_t)15) + 16;
	c->max_bufs = bytes / per;
	c->bytes = bytes;
	if (c->max_bufs < 256)
		c->max_bufs = 256;
	c->hash_size = 1024;
	while (c->hash_size < c->max_bufs)
		c->hash_size <<= 1;
	c->hash = calloc(c->hash_size, sizeof(*c->hash));
	if (!c->hash)
		return -ENOMEM;
	for (size_t i = 0; i < c->hash_size; i++)
		TAILQ_INIT(&c->hash[i]);
	TAILQ_INIT(&c->lru);
	return 0;
}

static void buf_free(struct wbuf *b)
{
	free(b);
}

void cache_destroy(struct wcache *c)
{
	if (!c->hash)
		return;
	for (size_t i = 0; i < c->hash_size; i++) {
		struct wbuf *b;
		while ((b = TAILQ_FIRST(&c->hash[i]))) {
			TAILQ_REMOVE(&c->hash[i], b, hash_link);
			buf_free(b);
		}
	}
	free(c->hash);
	c->hash = NULL;
}

struct wbuf *cache_find(struct wcache *c, struct wafl_fs *fs, uint64_t ino, uint8_t level,
			uint64_t idx)
{
	struct wbuf_list *l = &c->hash[key_hash(fs, ino, level, idx, c->hash_size - 1)];
	struct wbuf *b;
	TAILQ_FOREACH(b, l, hash_link)
	{
		if (b->fs == fs && b->ino == ino && b->level == level && b->idx == idx) {
			if (!(b->flags & B_DIRTY)) {
				TAILQ_REMOVE(&c->lru, b, lru_link);
				TAILQ_INSERT_TAIL(&c->lru, b, lru_link);
			}
			return b;
		}
	}
	return NULL;
}

struct wbuf *cache_new(struct wcache *c, struct wafl_fs *fs, uint64_t ino, uint8_t level,
		       uint64_t idx)
{
	/* the header and its block in one allocation: one malloc header and
	 * no alignment slack per buffer, which adds up at 65 536 buffers */
	size_t hdr = (sizeof(struct wbuf) + 15) & ~(size_t)15; /* the block 16-aligned */
	struct wbuf *b = calloc(1, hdr + WAFL_BS);
	if (!b)
		return NULL;
	b->data = (uint8_t *)b + hdr;
	b->fs = fs;
	b->ino = ino;
	b->level = level;
	b->idx = idx;
	TAILQ_INSERT_HEAD(&c->hash[key_hash(fs, ino, level, idx, c->hash_size - 1)], b, hash_link);
	TAILQ_INSERT_TAIL(&c->lru, b, lru_link);
	c->nbufs++;
	return b;
}

void cache_drop(struct wcache *c, struct wbuf *b)
{
	TAILQ_REMOVE(&c->hash[key_hash(b->fs, b->ino, b->level, b->idx, c->hash_size - 1)], b,
		     hash_link);
	if (b->flags & B_DIRTY) {
		TAILQ_REMOVE(&b->fs->dirty, b, dirty_link);
		b->fs->ndirty--;
		b->fs->aggr->ndirty--;
	} else {
		TAILQ_REMOVE(&c->lru, b, lru_link);
	}
	c->nbufs--;
	buf_free(b);
}

void cache_trim(struct wafl_aggr *a)
{
	struct wcache *c = &a->cache;
	/* the running CP's copies are memory too, and so will be the next
	 * CP's copies of what is dirty now: keep room for both */
	size_t copies = cp_inflight_blocks(a);
	while (c->nbufs + copies + a->ndirty > c->max_bufs) {
		struct wbuf *b = TAILQ_FIRST(&c->lru);
		if (!b)
			break; /* the rest are dirty */
		cache_drop(c, b);
	}
}

void cache_drop_fs(struct wcache *c, struct wafl_fs *fs)
{
	for (size_t i = 0; i < c->hash_size; i++) {
		struct wbuf *b, *n;
		TAILQ_FOREACH_SAFE(b, &c->hash[i], hash_link, n)
		{
			if (b->fs == fs)
				cache_drop(c, b);
		}
	}
}

/* Moves a clean buffer to the dirty list; ancestors are bmap.c's business. */
void cache_mark_dirty(struct wcache *c, struct wbuf *b)
{
	TAILQ_REMOVE(&c->lru, b, lru_link);
	b->flags |= B_DIRTY;
	TAILQ_INSERT_TAIL(&b->fs->dirty, b, dirty_link);
	b->fs->ndirty++;
	b->fs->aggr->ndirty++;
}

/* Back to the LRU after a CP wrote it. */
void cache_mark_clean(struct wcache *c, struct wbuf *b)
{
	TAILQ_REMOVE(&b->fs->dirty, b, dirty_link);
	b->fs->ndirty--;
	b->fs->aggr->ndirty--;
	b->flags &= (uint8_t) ~(B_DIRTY | B_HOMED);
	TAILQ_INSERT_TAIL(&c->lru, b, lru_link);
}
