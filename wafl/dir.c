/*
 * dir.c - directories as B+trees of 4 KiB blocks inside the directory file.
 *
 * Why a B+tree keyed by a name hash: NFS readdir hands out a 64-bit cookie
 * per entry and resumes from it later, possibly after many inserts and
 * removes, possibly after a crash and NVLOG replay. If the cookie is the
 * key the tree is sorted by, and the key is derived from the name, then
 * "resume after cookie c" is just "the first key > c", and replay gets the
 * same cookies by doing the same operations in the same order. The key is
 *
 *	key = (hash56(name) << 8) | seq
 *
 * where seq (0..255) is the smallest value not used by another name with
 * the same hash. dir_hash56() keeps only 55 significant bits so that keys
 * stay below 2^63 (clients treat cookies as signed offsets), and it never
 * returns 0, so keys are >= 256 and cookies 0, 1 and 2 stay free for "the
 * start", "." and "..". All names sharing a hash sit in the key range
 * [hash << 8, hash << 8 | 255], so lookup descends once to the first key
 * of that range and scans forward (usually zero or one entry; across leaf
 * boundaries if it must).
 *
 * Leaves are slotted pages: a slot array of 2-byte entry offsets, sorted
 * by key, grows up from the node header, and the variable-length entries
 * grow down from the end of the block. Removing an entry only drops its
 * slot and counts its bytes as fragmented; an insert that does not fit the
 * contiguous gap compacts the leaf first, and one that does not fit at all
 * splits it into two leaves of about equal byte size (so each half has room
 * for at least one more maximum-size entry). Leaves are chained left to
 * right for readdir. Internal nodes hold fixed-size (key, child) pairs;
 * child i holds the keys in [key[i], key[i + 1]), key[0] being ignored
 * (the node's own lower bound applies).
 *
 * A leaf that becomes empty is freed at once, unlinked from the leaf chain
 * (its predecessor is found through the descent path, so leaves need no
 * back pointers) and from its parent; parents left childless are freed in
 * turn, and a root left with one child is replaced by that child. Freed
 * blocks go on a free list in the header and are reused before the file
 * grows. So an emptied directory is one empty root leaf and lists in O(1).
 * Leaves that become small but not empty are not merged: the height only
 * reflects the largest size the directory ever had, which keeps every
 * operation O(log n) in that size; fragmented leaves are the price.
 *
 * Failure atomicity: every modifying call first reads, validates and
 * dirties (get_dirty) every block it will change and allocates every
 * block it needs, and only then changes anything, with steps that cannot
 * fail. So an error leaves the tree as it was; the only trace can be blocks
 * that moved between the file's end and the free list (both consistent).
 * Block pointers from get() are never written through, and are not used
 * after get_dirty() of the same block, because a copy-on-write cache may
 * hand out a different buffer for the dirty version.
 *
 * Corruption: blocks come from disk, so every offset, count and fbn read
 * from one is bounds-checked before use; a structurally impossible block
 * gives -EUCLEAN at the point that noticed it. dir.c has no logger: the
 * caller logs -EUCLEAN with the directory's inode. dir_check() reports
 * problems one by one instead of stopping at the first.
 *
 * Costs (block visits, the header aside): lookup and replace read the
 * path (+1 leaf when colliding names straddle a leaf boundary); insert
 * reads the path and, on a split, its full ancestors again; remove reads
 * the path, and when it frees a leaf at most 3 * height more (the
 * predecessor leaf, the emptied ancestors, the root collapse). One insert
 * dirties at most 2 * height + 2 blocks (header, the path, one new block
 * per split level, a new root), of which at most height + 1 are new
 * (appended or reused); one remove dirties at most 2 * height + 1 blocks
 * and appends none. The height is 3 for a million names.
 *
 * Test hook: dir_test_hash_bits (default 56, i.e. off) masks the hash to
 * fewer bits so that unit tests can make names collide. Nothing but tests
 * may change it, and a directory built with it set is only valid while it
 * keeps the same value.
 */
#include "dir.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- on-disk layout --------------------------------------------------- */

#define DIR_BLK	     4096u
#define DIR_NAME_MAX 255u
/* More than enough: 127^14 leaf splits would be needed to grow past it. */
#define DIR_MAX_HEIGHT 16u
/* A header claiming more blocks than this (1 TiB, some 10^10 names) is
 * corrupt; it also bounds dir_check()'s bitmap to 32 MiB. */
#define DIR_MAX_BLOCKS (1ull << 28)
/* Keys at or above this cannot be produced by dir_hash56(). */
#define DIR_KEY_LIMIT (1ull << 63)

/*
 * Block 0, the header. All integers little-endian.
 *
 *	offset	size	meaning
 *	0	4	magic DIR_HDR_MAGIC ("WDIR")
 *	4	4	version DIR_VERSION
 *	8	8	root fbn; 0 = empty tree (height 0), as dir_init leaves it
 *	16	4	height: 0 = no tree, 1 = the root is a leaf, ...
 *	20	4	reserved, 0
 *	24	8	number of entries
 *	32	8	first free node block (fbn), 0 = none
 *	40	8	number of blocks on the free list
 *	48	8	number of blocks in the file, this one included
 *	56	4040	reserved, 0
 */
#define DIR_HDR_MAGIC	    0x52494457u /* "WDIR" */
#define DIR_VERSION	    1u
#define DIR_HDR_MAGIC_OFF   0
#define DIR_HDR_VERSION_OFF 4
#define DIR_HDR_ROOT_OFF    8
#define DIR_HDR_HEIGHT_OFF  16
#define DIR_HDR_COUNT_OFF   24
#define DIR_HDR_FREE_OFF    32
#define DIR_HDR_NFREE_OFF   40
#define DIR_HDR_NBLOCKS_OFF 48
#define DIR_HDR_SIZE	    56

/*
 * Every node starts with a 32-byte header; the first 8 bytes are common.
 *
 * Leaf (level 0):
 *	offset	size	meaning
 *	0	4	magic DIR_LEAF_MAGIC ("DIRL")
 *	4	2	level, 0
 *	6	2	nslots: number of entries
 *	8	2	data: offset of the lowest entry byte (4096 when empty)
 *	10	2	frag: bytes of dead entries inside [data, 4096)
 *	12	4	reserved, 0
 *	16	8	next leaf in key order (fbn), 0 = the last leaf
 *	24	8	reserved, 0
 *	32	2*n	slots: the offset of each entry, in increasing key order
 *	...		free gap up to data
 *	data	...	entries, in any order, with dead space (frag) among them
 *
 * Leaf entry, at any offset (unaligned):
 *	offset	size	meaning
 *	0	8	key (the readdir cookie)
 *	8	8	inode number
 *	16	1	type (enum wafl_ftype)
 *	17	1	namelen, 1..255
 *	18	namelen	name bytes, not NUL-terminated
 *
 * Invariants: 32 + 2 * nslots <= data <= 4096, and the entry sizes plus
 * frag add up to exactly 4096 - data.
 *
 * Internal node (level >= 1, children are at level - 1):
 *	offset	size	meaning
 *	0	4	magic DIR_INT_MAGIC ("DIRI")
 *	4	2	level
 *	6	2	n: number of children, 1..254
 *	8	24	reserved, 0
 *	32+16*i	8	key[i]: the lowest key child i may hold (ignored for i = 0)
 *	40+16*i	8	child[i] (fbn)
 *
 * Free block (on the header's free list):
 *	offset	size	meaning
 *	0	4	magic DIR_FREE_MAGIC ("DIRF")
 *	4	4	reserved, 0
 *	8	8	next free block (fbn), 0 = the last
 */
#define DIR_NODE_MAGIC_OFF 0
#define DIR_NODE_LEVEL_OFF 4
#define DIR_NODE_COUNT_OFF 6
#define DIR_NODE_HDR	   32u

#define DIR_LEAF_MAGIC	  0x4C524944u /* "DIRL" */
#define DIR_LEAF_DATA_OFF 8
#define DIR_LEAF_FRAG_OFF 10
#define DIR_LEAF_NEXT_OFF 16
#define DIR_SLOT_SIZE	  2u

#define DIR_ENT_KEY_OFF	    0
#define DIR_ENT_INO_OFF	    8
#define DIR_ENT_TYPE_OFF    16
#define DIR_ENT_NAMELEN_OFF 17
#define DIR_ENT_NAME_OFF    18
#define DIR_ENT_FIXED	    18u
/* An entry with its slot, smallest and largest. */
#define DIR_ENT_SPACE_MIN (DIR_ENT_FIXED + 1 + DIR_SLOT_SIZE)
#define DIR_ENT_SPACE_MAX (DIR_ENT_FIXED + DIR_NAME_MAX + DIR_SLOT_SIZE)
#define DIR_LEAF_SPACE	  (DIR_BLK - DIR_NODE_HDR)
#define DIR_LEAF_MAXENT	  (DIR_LEAF_SPACE / DIR_ENT_SPACE_MIN) /* 193 */

#define DIR_INT_MAGIC 0x49524944u /* "DIRI" */
#define DIR_INT_ENT   16u
#define DIR_INT_MAX   ((DIR_BLK - DIR_NODE_HDR) / DIR_INT_ENT) /* 254 */

#define DIR_FREE_MAGIC	  0x46524944u /* "DIRF" */
#define DIR_FREE_NEXT_OFF 8

_Static_assert(DIR_HDR_SIZE <= DIR_BLK, "header fits a block");
_Static_assert(DIR_BLK <= UINT16_MAX, "leaf offsets fit 16 bits");
_Static_assert(DIR_INT_MAX == 254, "internal fanout");
_Static_assert(DIR_LEAF_MAXENT == 193, "leaf entries");
/* A split leaf (one full leaf plus one more entry, halved by bytes) must
 * leave each half room for at least one more maximum-size entry. */
_Static_assert((DIR_LEAF_SPACE + DIR_ENT_SPACE_MAX) / 2 + 2 * DIR_ENT_SPACE_MAX <= DIR_LEAF_SPACE,
	       "a split leaf takes another maximum-size entry");

/* ---- little-endian access --------------------------------------------- */

static inline uint16_t dir_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t dir_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t dir_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void dir_put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void dir_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void dir_put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* ---- the name hash ---------------------------------------------------- */

extern int dir_test_hash_bits;
/* Test hook (see the top of the file): hash bits kept, 56 = all. */
int dir_test_hash_bits = 56;

#define DIR_HASH_P1   0x9E3779B185EBCA87ull
#define DIR_HASH_P2   0xC2B2AE3D27D4EB4Full
#define DIR_HASH_P3   0x165667B19E3779F9ull
#define DIR_HASH_SEED 0x2545F4914F6CDD1Dull

static inline uint64_t dir_rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

/* One multiply-rotate round per 8-byte little-endian word (as xxHash64
 * does for short inputs), then murmur3's avalanche so that every input bit
 * reaches every output bit. The words are read little-endian, so the hash,
 * and with it the on-disk key order, is the same on every host. */
static inline uint64_t dir_hash_round(uint64_t h, uint64_t w)
{
	w *= DIR_HASH_P2;
	w = dir_rotl(w, 31);
	w *= DIR_HASH_P1;
	h ^= w;
	return dir_rotl(h, 27) * DIR_HASH_P1 + DIR_HASH_P3;
}

static uint64_t dir_hash64(const uint8_t *p, size_t len)
{
	/* The length goes into the seed, so zero padding of the last word
	 * cannot make "a" and "a\0" collide. */
	uint64_t h = DIR_HASH_SEED + (uint64_t)len * DIR_HASH_P1;

	for (; len >= 8; p += 8, len -= 8)
		h = dir_hash_round(h, dir_get64(p));
	if (len) {
		uint64_t w = 0;

		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = dir_hash_round(h, w);
	}
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 33;
	return h;
}

/* 55 significant bits (the top ones of the 64-bit hash), never 0. */
uint64_t dir_hash56(const char *name, size_t len)
{
	uint64_t h = dir_hash64((const uint8_t *)name, len) >> 9;
	int bits = dir_test_hash_bits;

	if (bits > 0 && bits < 55)
		h &= (1ull << bits) - 1;
	return h ? h : 1;
}

/* ---- the header ------------------------------------------------------- */

/* The header, decoded. Changed in memory during a call and written back
 * with dir_hdr_store() into the dirty block 0. */
struct dir_hdr {
	uint64_t root;	     /* root node fbn, 0 while the tree is empty */
	uint32_t height;     /* levels; 0 = no tree, 1 = the root is a leaf */
	uint64_t count;	     /* entries in the leaves */
	uint64_t free_head;  /* first free block, 0 = none */
	uint64_t free_count; /* blocks on the free list */
	uint64_t nblocks;    /* blocks in the file, the header included */
};

/* Decodes block 0; a field that cannot be right gives -EUCLEAN. */
static int dir_hdr_decode(const uint8_t *b, struct dir_hdr *h)
{
	if (dir_get32(b + DIR_HDR_MAGIC_OFF) != DIR_HDR_MAGIC ||
	    dir_get32(b + DIR_HDR_VERSION_OFF) != DIR_VERSION)
		return -EUCLEAN;
	h->root = dir_get64(b + DIR_HDR_ROOT_OFF);
	h->height = dir_get32(b + DIR_HDR_HEIGHT_OFF);
	h->count = dir_get64(b + DIR_HDR_COUNT_OFF);
	h->free_head = dir_get64(b + DIR_HDR_FREE_OFF);
	h->free_count = dir_get64(b + DIR_HDR_NFREE_OFF);
	h->nblocks = dir_get64(b + DIR_HDR_NBLOCKS_OFF);
	if (h->nblocks < 1 || h->nblocks > DIR_MAX_BLOCKS || h->height > DIR_MAX_HEIGHT ||
	    h->root >= h->nblocks || h->free_head >= h->nblocks ||
	    (h->height == 0) != (h->root == 0))
		return -EUCLEAN;
	return 0;
}

static int dir_hdr_load(const struct dir_io *io, struct dir_hdr *h)
{
	uint8_t *b;
	int err = io->get(io->ctx, 0, &b);

	if (err)
		return err;
	return dir_hdr_decode(b, h);
}

static void dir_hdr_store(uint8_t *b, const struct dir_hdr *h)
{
	dir_put32(b + DIR_HDR_MAGIC_OFF, DIR_HDR_MAGIC);
	dir_put32(b + DIR_HDR_VERSION_OFF, DIR_VERSION);
	dir_put64(b + DIR_HDR_ROOT_OFF, h->root);
	dir_put32(b + DIR_HDR_HEIGHT_OFF, h->height);
	dir_put64(b + DIR_HDR_COUNT_OFF, h->count);
	dir_put64(b + DIR_HDR_FREE_OFF, h->free_head);
	dir_put64(b + DIR_HDR_NFREE_OFF, h->free_count);
	dir_put64(b + DIR_HDR_NBLOCKS_OFF, h->nblocks);
}

/* ---- leaves ----------------------------------------------------------- */

/* An entry, decoded; name points into its block (or the caller's name). */
struct dir_ent {
	uint64_t key;	     /* the cookie */
	uint64_t ino;	     /* inode number */
	uint8_t type;	     /* enum wafl_ftype */
	uint8_t len;	     /* name length, 1..255 */
	const uint8_t *name; /* not NUL-terminated */
};

static inline unsigned dir_leaf_n(const uint8_t *b)
{
	return dir_get16(b + DIR_NODE_COUNT_OFF);
}

static inline unsigned dir_leaf_data(const uint8_t *b)
{
	return dir_get16(b + DIR_LEAF_DATA_OFF);
}

static inline unsigned dir_leaf_frag(const uint8_t *b)
{
	return dir_get16(b + DIR_LEAF_FRAG_OFF);
}

static inline uint64_t dir_leaf_next(const uint8_t *b)
{
	return dir_get64(b + DIR_LEAF_NEXT_OFF);
}

static inline unsigned dir_leaf_slot(const uint8_t *b, unsigned i)
{
	return dir_get16(b + DIR_NODE_HDR + DIR_SLOT_SIZE * i);
}

/* The contiguous gap between the slots and the entries. */
static inline unsigned dir_leaf_gap(const uint8_t *b)
{
	return dir_leaf_data(b) - (DIR_NODE_HDR + DIR_SLOT_SIZE * dir_leaf_n(b));
}

static void dir_leaf_init(uint8_t *b, uint64_t next)
{
	memset(b, 0, DIR_BLK);
	dir_put32(b + DIR_NODE_MAGIC_OFF, DIR_LEAF_MAGIC);
	dir_put16(b + DIR_LEAF_DATA_OFF, DIR_BLK);
	dir_put64(b + DIR_LEAF_NEXT_OFF, next);
}

/* The header fields of a leaf are consistent; after this, the slot array
 * can be read and dir_leaf_gap() is meaningful. */
static bool dir_leaf_hdr_ok(const uint8_t *b)
{
	unsigned n = dir_leaf_n(b), data = dir_leaf_data(b);

	return dir_get32(b + DIR_NODE_MAGIC_OFF) == DIR_LEAF_MAGIC &&
	       dir_get16(b + DIR_NODE_LEVEL_OFF) == 0 && n <= DIR_LEAF_MAXENT &&
	       data >= DIR_NODE_HDR + DIR_SLOT_SIZE * n && data <= DIR_BLK &&
	       dir_leaf_frag(b) <= DIR_BLK - data;
}

/* Entry i (< nslots) of a leaf whose header is ok, bounds-checked. */
static int dir_leaf_ent(const uint8_t *b, unsigned i, struct dir_ent *e)
{
	unsigned off = dir_leaf_slot(b, i), len;

	if (off < dir_leaf_data(b) || off > DIR_BLK - DIR_ENT_FIXED)
		return -EUCLEAN;
	len = b[off + DIR_ENT_NAMELEN_OFF];
	if (len == 0 || off + DIR_ENT_FIXED + len > DIR_BLK)
		return -EUCLEAN;
	e->key = dir_get64(b + off + DIR_ENT_KEY_OFF);
	e->ino = dir_get64(b + off + DIR_ENT_INO_OFF);
	e->type = b[off + DIR_ENT_TYPE_OFF];
	e->len = (uint8_t)len;
	e->name = b + off + DIR_ENT_NAME_OFF;
	return 0;
}

/* Every entry in bounds, keys strictly increasing, space accounted for:
 * what a leaf must satisfy before it is changed. */
static int dir_leaf_validate(const uint8_t *b)
{
	unsigned n = dir_leaf_n(b), used = 0;
	struct dir_ent e;
	uint64_t prev = 0;
	int err;

	if (!dir_leaf_hdr_ok(b))
		return -EUCLEAN;
	for (unsigned i = 0; i < n; i++) {
		err = dir_leaf_ent(b, i, &e);
		if (err)
			return err;
		if (i > 0 && e.key <= prev)
			return -EUCLEAN;
		prev = e.key;
		used += DIR_ENT_FIXED + e.len;
	}
	if (used + dir_leaf_frag(b) != DIR_BLK - dir_leaf_data(b))
		return -EUCLEAN;
	return 0;
}

/* The first slot whose key is >= key (nslots if none). */
static int dir_leaf_lower_bound(const uint8_t *b, uint64_t key, unsigned *pos)
{
	unsigned lo = 0, hi = dir_leaf_n(b);
	struct dir_ent e;
	int err;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		err = dir_leaf_ent(b, mid, &e);
		if (err)
			return err;
		if (e.key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

static void dir_ent_write(uint8_t *p, const struct dir_ent *e)
{
	dir_put64(p + DIR_ENT_KEY_OFF, e->key);
	dir_put64(p + DIR_ENT_INO_OFF, e->ino);
	p[DIR_ENT_TYPE_OFF] = e->type;
	p[DIR_ENT_NAMELEN_OFF] = e->len;
	memcpy(p + DIR_ENT_NAME_OFF, e->name, e->len);
}

/* Writes a fresh leaf holding ents[0..n) (sorted) into b, which must not
 * be the block the names point into. */
static void dir_leaf_build(uint8_t *b, const struct dir_ent *ents, unsigned n, uint64_t next)
{
	unsigned data = DIR_BLK;

	dir_leaf_init(b, next);
	for (unsigned i = 0; i < n; i++) {
		data -= DIR_ENT_FIXED + ents[i].len;
		dir_ent_write(b + data, &ents[i]);
		dir_put16(b + DIR_NODE_HDR + DIR_SLOT_SIZE * i, (uint16_t)data);
	}
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)n);
	dir_put16(b + DIR_LEAF_DATA_OFF, (uint16_t)data);
}

/* Reads all entries of a validated leaf. */
static void dir_leaf_gather(const uint8_t *b, struct dir_ent *ents)
{
	unsigned n = dir_leaf_n(b);

	for (unsigned i = 0; i < n; i++)
		(void)dir_leaf_ent(b, i, &ents[i]); /* validated: cannot fail */
}

/* Squeezes out the dead space of a validated leaf. */
static void dir_leaf_compact(uint8_t *b)
{
	struct dir_ent ents[DIR_LEAF_MAXENT];
	uint8_t tmp[DIR_BLK];
	unsigned n = dir_leaf_n(b);

	dir_leaf_gather(b, ents);
	dir_leaf_build(tmp, ents, n, dir_leaf_next(b));
	memcpy(b, tmp, DIR_BLK);
}

/* Puts e at slot pos of a validated leaf whose gap takes it. */
static void dir_leaf_put(uint8_t *b, unsigned pos, const struct dir_ent *e)
{
	unsigned n = dir_leaf_n(b);
	unsigned data = dir_leaf_data(b) - (DIR_ENT_FIXED + e->len);
	uint8_t *slots = b + DIR_NODE_HDR;

	dir_ent_write(b + data, e);
	memmove(slots + DIR_SLOT_SIZE * (pos + 1), slots + DIR_SLOT_SIZE * pos,
		DIR_SLOT_SIZE * (n - pos));
	dir_put16(slots + DIR_SLOT_SIZE * pos, (uint16_t)data);
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)(n + 1));
	dir_put16(b + DIR_LEAF_DATA_OFF, (uint16_t)data);
}

/* Drops the entry at slot pos (< nslots) of a validated leaf. */
static void dir_leaf_del(uint8_t *b, unsigned pos)
{
	unsigned n = dir_leaf_n(b), off = dir_leaf_slot(b, pos);
	unsigned size = DIR_ENT_FIXED + b[off + DIR_ENT_NAMELEN_OFF];
	uint8_t *slots = b + DIR_NODE_HDR;

	memmove(slots + DIR_SLOT_SIZE * pos, slots + DIR_SLOT_SIZE * (pos + 1),
		DIR_SLOT_SIZE * (n - pos - 1));
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)(n - 1));
	if (n == 1) {
		dir_put16(b + DIR_LEAF_DATA_OFF, DIR_BLK);
		dir_put16(b + DIR_LEAF_FRAG_OFF, 0);
	} else if (off == dir_leaf_data(b)) {
		dir_put16(b + DIR_LEAF_DATA_OFF, (uint16_t)(off + size));
	} else {
		dir_put16(b + DIR_LEAF_FRAG_OFF, (uint16_t)(dir_leaf_frag(b) + size));
	}
}

/*
 * Splits validated leaf b, with e to go in at slot pos, into b and the new
 * leaf nb (at fbn nfbn, to the right of b) at the byte midpoint, and
 * returns the first key of nb: the separator for the parent.
 */
static uint64_t dir_leaf_split(uint8_t *b, uint8_t *nb, uint64_t nfbn, unsigned pos,
			       const struct dir_ent *e)
{
	struct dir_ent ents[DIR_LEAF_MAXENT + 1];
	uint8_t left[DIR_BLK], right[DIR_BLK];
	unsigned n = dir_leaf_n(b), total = 0, acc = 0, s, best = DIR_BLK * 2;
	unsigned split = 1;

	dir_leaf_gather(b, ents);
	memmove(&ents[pos + 1], &ents[pos], (n - pos) * sizeof(ents[0]));
	ents[pos] = *e;
	n++;
	for (unsigned i = 0; i < n; i++)
		total += DIR_ENT_FIXED + ents[i].len + DIR_SLOT_SIZE;
	/* Both halves non-empty; pick the split that minimises the larger. */
	for (s = 1; s < n; s++) {
		unsigned larger;

		acc += DIR_ENT_FIXED + ents[s - 1].len + DIR_SLOT_SIZE;
		larger = acc > total - acc ? acc : total - acc;
		if (larger < best) {
			best = larger;
			split = s;
		}
	}
	dir_leaf_build(left, ents, split, nfbn);
	dir_leaf_build(right, ents + split, n - split, dir_leaf_next(b));
	memcpy(b, left, DIR_BLK);
	memcpy(nb, right, DIR_BLK);
	return ents[split].key;
}

/* ---- internal nodes --------------------------------------------------- */

static inline unsigned dir_int_n(const uint8_t *b)
{
	return dir_get16(b + DIR_NODE_COUNT_OFF);
}

static inline uint64_t dir_int_key(const uint8_t *b, unsigned i)
{
	return dir_get64(b + DIR_NODE_HDR + DIR_INT_ENT * i);
}

static inline uint64_t dir_int_child(const uint8_t *b, unsigned i)
{
	return dir_get64(b + DIR_NODE_HDR + DIR_INT_ENT * i + 8);
}

static inline void dir_int_set(uint8_t *b, unsigned i, uint64_t key, uint64_t child)
{
	dir_put64(b + DIR_NODE_HDR + DIR_INT_ENT * i, key);
	dir_put64(b + DIR_NODE_HDR + DIR_INT_ENT * i + 8, child);
}

static void dir_int_init(uint8_t *b, unsigned level)
{
	memset(b, 0, DIR_BLK);
	dir_put32(b + DIR_NODE_MAGIC_OFF, DIR_INT_MAGIC);
	dir_put16(b + DIR_NODE_LEVEL_OFF, (uint16_t)level);
}

static bool dir_int_hdr_ok(const uint8_t *b, unsigned level)
{
	unsigned n = dir_int_n(b);

	return dir_get32(b + DIR_NODE_MAGIC_OFF) == DIR_INT_MAGIC &&
	       dir_get16(b + DIR_NODE_LEVEL_OFF) == level && n >= 1 && n <= DIR_INT_MAX;
}

/* The child whose range holds key: the last i >= 1 with key[i] <= key,
 * else 0. */
static unsigned dir_int_search(const uint8_t *b, uint64_t key)
{
	unsigned lo = 1, hi = dir_int_n(b);

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (dir_int_key(b, mid) <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/* Inserts (key, child) at position pos of a node that is not full. */
static void dir_int_insert(uint8_t *b, unsigned pos, uint64_t key, uint64_t child)
{
	unsigned n = dir_int_n(b);
	uint8_t *p = b + DIR_NODE_HDR + DIR_INT_ENT * pos;

	memmove(p + DIR_INT_ENT, p, DIR_INT_ENT * (n - pos));
	dir_int_set(b, pos, key, child);
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)(n + 1));
}

static void dir_int_del(uint8_t *b, unsigned pos)
{
	unsigned n = dir_int_n(b);
	uint8_t *p = b + DIR_NODE_HDR + DIR_INT_ENT * pos;

	memmove(p, p + DIR_INT_ENT, DIR_INT_ENT * (n - pos - 1));
	memset(b + DIR_NODE_HDR + DIR_INT_ENT * (n - 1), 0, DIR_INT_ENT);
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)(n - 1));
}

/* Inserts (key, child) at pos of the full node b by splitting it into b
 * and nb (to its right); returns the separator for the parent. */
static uint64_t dir_int_split(uint8_t *b, uint8_t *nb, unsigned pos, uint64_t key, uint64_t child)
{
	uint8_t all[(DIR_INT_MAX + 1) * DIR_INT_ENT];
	unsigned n = DIR_INT_MAX + 1, left = n / 2;
	const uint8_t *ents = b + DIR_NODE_HDR;
	unsigned level = dir_get16(b + DIR_NODE_LEVEL_OFF);

	memcpy(all, ents, DIR_INT_ENT * pos);
	dir_put64(all + DIR_INT_ENT * pos, key);
	dir_put64(all + DIR_INT_ENT * pos + 8, child);
	memcpy(all + DIR_INT_ENT * (pos + 1), ents + DIR_INT_ENT * pos,
	       DIR_INT_ENT * (DIR_INT_MAX - pos));

	dir_int_init(b, level);
	memcpy(b + DIR_NODE_HDR, all, DIR_INT_ENT * left);
	dir_put16(b + DIR_NODE_COUNT_OFF, (uint16_t)left);
	dir_int_init(nb, level);
	memcpy(nb + DIR_NODE_HDR, all + DIR_INT_ENT * left, DIR_INT_ENT * (n - left));
	dir_put16(nb + DIR_NODE_COUNT_OFF, (uint16_t)(n - left));
	return dir_int_key(nb, 0);
}

/* ---- descent ---------------------------------------------------------- */

/* Where a descent went: the node at each depth (0 = root, height - 1 =
 * the leaf), the child taken in each internal node, and the exclusive
 * upper bound of the leaf's key range. */
struct dir_path {
	uint64_t fbn[DIR_MAX_HEIGHT]; /* node at each depth */
	unsigned idx[DIR_MAX_HEIGHT]; /* child taken there (internal nodes) */
	uint64_t hi;		      /* leaf's keys are < hi; UINT64_MAX: no bound */
};

static inline bool dir_fbn_ok(const struct dir_hdr *h, uint64_t fbn)
{
	return fbn >= 1 && fbn < h->nblocks;
}

/* Reads internal node fbn, expected at the given level. */
static int dir_get_int(const struct dir_io *io, const struct dir_hdr *h, uint64_t fbn,
		       unsigned level, uint8_t **b)
{
	int err;

	if (!dir_fbn_ok(h, fbn))
		return -EUCLEAN;
	err = io->get(io->ctx, fbn, b);
	if (err)
		return err;
	return dir_int_hdr_ok(*b, level) ? 0 : -EUCLEAN;
}

/* Reads leaf fbn and checks its header. */
static int dir_get_leaf(const struct dir_io *io, const struct dir_hdr *h, uint64_t fbn, uint8_t **b)
{
	int err;

	if (!dir_fbn_ok(h, fbn))
		return -EUCLEAN;
	err = io->get(io->ctx, fbn, b);
	if (err)
		return err;
	return dir_leaf_hdr_ok(*b) ? 0 : -EUCLEAN;
}

/* Descends a non-empty tree to the leaf whose range holds key. */
static int dir_descend(const struct dir_io *io, const struct dir_hdr *h, uint64_t key,
		       struct dir_path *path, uint8_t **leaf)
{
	uint64_t fbn = h->root;
	uint8_t *b;
	int err;

	path->hi = UINT64_MAX;
	for (unsigned d = 0; d + 1 < h->height; d++) {
		unsigned i;

		err = dir_get_int(io, h, fbn, h->height - 1 - d, &b);
		if (err)
			return err;
		i = dir_int_search(b, key);
		if (i + 1 < dir_int_n(b) && dir_int_key(b, i + 1) < path->hi)
			path->hi = dir_int_key(b, i + 1);
		path->fbn[d] = fbn;
		path->idx[d] = i;
		fbn = dir_int_child(b, i);
	}
	path->fbn[h->height - 1] = fbn;
	path->idx[h->height - 1] = 0;
	return dir_get_leaf(io, h, fbn, leaf);
}

/* The result of looking a name up. */
struct dir_found {
	bool found;
	uint64_t key;  /* the name's key; if absent, the key it would get (0: all seqs taken) */
	uint64_t fbn;  /* found: the leaf holding it */
	unsigned slot; /* found: its slot there */
	uint64_t ino;
	uint8_t type;
	bool in_path; /* the key is in the range of path's leaf */
};

/*
 * Looks a name up: descends to the first key of its hash's range, leaving
 * the descent in path (valid when the tree is not empty), and scans the
 * range, which may continue into following leaves.
 */
static int dir_find(const struct dir_io *io, const struct dir_hdr *h, const char *name, size_t len,
		    struct dir_path *path, struct dir_found *f)
{
	uint64_t base = dir_hash56(name, len) << 8, last = base | 0xFF;
	uint64_t used[4] = {0, 0, 0, 0}, fbn, hops = 0;
	unsigned pos;
	uint8_t *b;
	int err;

	memset(f, 0, sizeof(*f));
	if (h->height == 0)
		goto absent;
	err = dir_descend(io, h, base, path, &b);
	if (err)
		return err;
	fbn = path->fbn[h->height - 1];
	err = dir_leaf_lower_bound(b, base, &pos);
	if (err)
		return err;
	for (;;) {
		unsigned n = dir_leaf_n(b);

		for (; pos < n; pos++) {
			struct dir_ent e;

			err = dir_leaf_ent(b, pos, &e);
			if (err)
				return err;
			if (e.key > last)
				goto absent;
			if (e.key < base)
				return -EUCLEAN; /* a following leaf holds smaller keys */
			used[(e.key & 0xFF) / 64] |= 1ull << (e.key & 63);
			if (e.len == len && memcmp(e.name, name, len) == 0) {
				f->found = true;
				f->key = e.key;
				f->fbn = fbn;
				f->slot = pos;
				f->ino = e.ino;
				f->type = e.type;
				f->in_path = hops == 0;
				return 0;
			}
		}
		fbn = dir_leaf_next(b);
		if (fbn == 0)
			break;
		if (++hops >= h->nblocks)
			return -EUCLEAN; /* the leaf chain loops */
		err = dir_get_leaf(io, h, fbn, &b);
		if (err)
			return err;
		pos = 0;
	}
absent:
	for (unsigned seq = 0; seq < 256; seq++) {
		if (!(used[seq / 64] & (1ull << (seq % 64)))) {
			f->key = base | seq;
			break;
		}
	}
	f->in_path = h->height > 0 && f->key < path->hi;
	return 0;
}

static int dir_name_ok(const char *name, size_t len)
{
	return name && len >= 1 && len <= DIR_NAME_MAX ? 0 : -EINVAL;
}

/* ---- block allocation ------------------------------------------------- */

/* Takes a block from the free list, else appends one; returns it zeroed
 * and dirty. The header block must already be dirty (h is stored later). */
static int dir_alloc(const struct dir_io *io, struct dir_hdr *h, uint64_t *fbn, uint8_t **b)
{
	int err;

	if (h->free_head) {
		uint64_t f = h->free_head;

		if (!dir_fbn_ok(h, f) || h->free_count == 0)
			return -EUCLEAN;
		err = io->get_dirty(io->ctx, f, b);
		if (err)
			return err;
		if (dir_get32(*b + DIR_NODE_MAGIC_OFF) != DIR_FREE_MAGIC)
			return -EUCLEAN;
		h->free_head = dir_get64(*b + DIR_FREE_NEXT_OFF);
		h->free_count--;
		memset(*b, 0, DIR_BLK);
		*fbn = f;
		return 0;
	}
	err = io->append(io->ctx, fbn, b);
	if (err)
		return err;
	/* A smaller fbn is a block the header already counts as ours. */
	if (*fbn < h->nblocks || *fbn >= DIR_MAX_BLOCKS)
		return -EUCLEAN;
	h->nblocks = *fbn + 1;
	return 0;
}

/* Puts dirty block b (fbn) on the free list. */
static void dir_free(struct dir_hdr *h, uint64_t fbn, uint8_t *b)
{
	memset(b, 0, DIR_BLK);
	dir_put32(b + DIR_NODE_MAGIC_OFF, DIR_FREE_MAGIC);
	dir_put64(b + DIR_FREE_NEXT_OFF, h->free_head);
	h->free_head = fbn;
	h->free_count++;
}

/* Allocates n blocks, or none: on failure the ones taken go back on the
 * free list (still a consistent state, which the caller must store). */
static int dir_alloc_n(const struct dir_io *io, struct dir_hdr *h, unsigned n, uint64_t *fbn,
		       uint8_t **b)
{
	for (unsigned i = 0; i < n; i++) {
		int err = dir_alloc(io, h, &fbn[i], &b[i]);

		if (err) {
			while (i-- > 0)
				dir_free(h, fbn[i], b[i]);
			return err;
		}
	}
	return 0;
}

/* ---- operations ------------------------------------------------------- */

int dir_init(const struct dir_io *io)
{
	struct dir_hdr h = {.nblocks = 1};
	uint64_t fbn;
	uint8_t *b;
	int err = io->append(io->ctx, &fbn, &b);

	if (err)
		return err;
	if (fbn != 0)
		return -EEXIST; /* the file was not empty */
	memset(b, 0, DIR_BLK);
	dir_hdr_store(b, &h);
	return 0;
}

int dir_count(const struct dir_io *io, uint64_t *n)
{
	struct dir_hdr h;
	int err = dir_hdr_load(io, &h);

	if (err)
		return err;
	*n = h.count;
	return 0;
}

/* Absent names still get *cookie: the key an insert would give them now
 * (0 if 256 colliding names already hold every seq). */
int dir_lookup(const struct dir_io *io, const char *name, size_t len, uint64_t *ino, uint8_t *type,
	       uint64_t *cookie)
{
	struct dir_hdr h;
	struct dir_path path;
	struct dir_found f;
	int err = dir_name_ok(name, len);

	if (!err)
		err = dir_hdr_load(io, &h);
	if (!err)
		err = dir_find(io, &h, name, len, &path, &f);
	if (err)
		return err;
	if (cookie)
		*cookie = f.key;
	if (!f.found)
		return -ENOENT;
	if (ino)
		*ino = f.ino;
	if (type)
		*type = f.type;
	return 0;
}

/* Inserts into the leaf, splitting it (and full ancestors) if needed. */
static int dir_insert_at(const struct dir_io *io, struct dir_hdr *h, const struct dir_path *path,
			 const struct dir_ent *e)
{
	unsigned hl = h->height - 1, pos, need = DIR_ENT_FIXED + e->len + DIR_SLOT_SIZE;
	uint8_t *hb, *lb, *nb[DIR_MAX_HEIGHT + 1], *ib[DIR_MAX_HEIGHT];
	uint64_t nfbn[DIR_MAX_HEIGHT + 1], sep, child;
	int err, absorb, d;
	unsigned nnew, k;

	err = io->get(io->ctx, path->fbn[hl], &lb);
	if (err)
		return err;
	err = dir_leaf_validate(lb);
	if (!err)
		err = dir_leaf_lower_bound(lb, e->key, &pos);
	if (err)
		return err;
	if (pos < dir_leaf_n(lb)) {
		struct dir_ent at;

		(void)dir_leaf_ent(lb, pos, &at); /* validated: cannot fail */
		if (at.key == e->key)
			return -EUCLEAN; /* dir_find saw no such key */
	}

	if (need <= dir_leaf_gap(lb) + dir_leaf_frag(lb)) {
		err = io->get_dirty(io->ctx, 0, &hb);
		if (!err)
			err = io->get_dirty(io->ctx, path->fbn[hl], &lb);
		if (err)
			return err;
		if (need > dir_leaf_gap(lb))
			dir_leaf_compact(lb);
		dir_leaf_put(lb, pos, e);
		h->count++;
		dir_hdr_store(hb, h);
		return 0;
	}

	/* Split: find the lowest ancestor with room; those below it split. */
	for (absorb = (int)hl - 1; absorb >= 0; absorb--) {
		uint8_t *b;

		err = dir_get_int(io, h, path->fbn[absorb], hl - (unsigned)absorb, &b);
		if (err)
			return err;
		if (dir_int_n(b) < DIR_INT_MAX)
			break;
	}
	/* New blocks: one per splitting node (the leaf and the full
	 * ancestors below absorb), and a root if even the root is full. */
	nnew = (unsigned)((int)hl - absorb) + (absorb < 0);
	if (absorb < 0 && h->height == DIR_MAX_HEIGHT)
		return -EFBIG;

	err = io->get_dirty(io->ctx, 0, &hb);
	if (!err)
		err = io->get_dirty(io->ctx, path->fbn[hl], &lb);
	for (d = (int)hl - 1; !err && d >= 0 && d >= absorb; d--)
		err = io->get_dirty(io->ctx, path->fbn[d], &ib[d]);
	if (!err)
		err = dir_alloc_n(io, h, nnew, nfbn, nb);
	if (err) {
		dir_hdr_store(hb, h);
		return err;
	}

	/* Nothing below can fail. */
	sep = dir_leaf_split(lb, nb[0], nfbn[0], pos, e);
	child = nfbn[0];
	k = 1;
	for (d = (int)hl - 1; d > absorb; d--, k++) {
		sep = dir_int_split(ib[d], nb[k], path->idx[d] + 1, sep, child);
		child = nfbn[k];
	}
	if (absorb >= 0) {
		dir_int_insert(ib[absorb], path->idx[absorb] + 1, sep, child);
	} else {
		dir_int_init(nb[k], h->height);
		dir_int_set(nb[k], 0, 0, h->root);
		dir_int_set(nb[k], 1, sep, child);
		dir_put16(nb[k] + DIR_NODE_COUNT_OFF, 2);
		h->root = nfbn[k];
		h->height++;
	}
	h->count++;
	dir_hdr_store(hb, h);
	return 0;
}

int dir_insert(const struct dir_io *io, const char *name, size_t len, uint64_t ino, uint8_t type,
	       uint64_t *cookie)
{
	struct dir_hdr h;
	struct dir_path path;
	struct dir_found f;
	struct dir_ent e;
	int err = dir_name_ok(name, len);

	if (!err)
		err = dir_hdr_load(io, &h);
	if (!err)
		err = dir_find(io, &h, name, len, &path, &f);
	if (err)
		return err;
	if (f.found)
		return -EEXIST;
	if (f.key == 0)
		return -ENOSPC; /* 256 names share this hash */
	e = (struct dir_ent){
		.key = f.key,
		.ino = ino,
		.type = type,
		.len = (uint8_t)len,
		.name = (const uint8_t *)name,
	};

	if (h.height == 0) {
		/* The first entry: the root leaf. */
		uint8_t *hb, *lb;
		uint64_t fbn;

		err = io->get_dirty(io->ctx, 0, &hb);
		if (err)
			return err;
		err = dir_alloc(io, &h, &fbn, &lb);
		if (err) {
			dir_hdr_store(hb, &h);
			return err;
		}
		dir_leaf_init(lb, 0);
		dir_leaf_put(lb, 0, &e);
		h.root = fbn;
		h.height = 1;
		h.count = 1;
		dir_hdr_store(hb, &h);
	} else {
		/* Colliding names may have led the scan past the leaf the key
		 * belongs in. */
		if (!f.in_path) {
			uint8_t *lb;

			err = dir_descend(io, &h, f.key, &path, &lb);
			if (err)
				return err;
		}
		err = dir_insert_at(io, &h, &path, &e);
		if (err)
			return err;
	}
	if (cookie)
		*cookie = f.key;
	return 0;
}

/* The leaf before path's leaf in the chain (0 if it is the first): the
 * rightmost leaf under the nearest left sibling subtree. */
static int dir_pred_leaf(const struct dir_io *io, const struct dir_hdr *h,
			 const struct dir_path *path, uint64_t *pred)
{
	unsigned hl = h->height - 1;
	uint64_t fbn;
	uint8_t *b;
	int d, err;

	*pred = 0;
	for (d = (int)hl - 1; d >= 0 && path->idx[d] == 0; d--)
		;
	if (d < 0)
		return 0;
	err = dir_get_int(io, h, path->fbn[d], hl - (unsigned)d, &b);
	if (err)
		return err;
	if (path->idx[d] >= dir_int_n(b))
		return -EUCLEAN;
	fbn = dir_int_child(b, path->idx[d] - 1);
	for (d++; d < (int)hl; d++) {
		err = dir_get_int(io, h, fbn, hl - (unsigned)d, &b);
		if (err)
			return err;
		fbn = dir_int_child(b, dir_int_n(b) - 1);
	}
	err = dir_get_leaf(io, h, fbn, &b);
	if (err)
		return err;
	if (dir_leaf_next(b) != path->fbn[hl])
		return -EUCLEAN;
	*pred = fbn;
	return 0;
}

/* Removes slot pos of path's leaf, which holds only that entry and is not
 * the root: frees the leaf and the ancestors left empty, collapses a root
 * left with one child. */
static int dir_remove_leaf(const struct dir_io *io, struct dir_hdr *h, const struct dir_path *path)
{
	unsigned hl = h->height - 1, nfree = 0, newh = h->height;
	uint64_t pred, freef[2 * DIR_MAX_HEIGHT], newroot = h->root;
	uint8_t *freeb[2 * DIR_MAX_HEIGHT], *hb, *pb = NULL, *ab, *lb, *b;
	int absorb, err, d;
	bool collapse = false;

	err = dir_pred_leaf(io, h, path, &pred);
	if (err)
		return err;
	/* Ancestors whose only child is the leaf's subtree go too. */
	for (absorb = (int)hl - 1; absorb >= 0; absorb--) {
		err = dir_get_int(io, h, path->fbn[absorb], hl - (unsigned)absorb, &b);
		if (err)
			return err;
		if (dir_int_n(b) > 1)
			break;
	}
	if (absorb < 0) {
		/* A root with one child: not made by this code. Keep the
		 * (now empty) leaf rather than leave a tree without one. */
		err = io->get_dirty(io->ctx, 0, &hb);
		if (!err)
			err = io->get_dirty(io->ctx, path->fbn[hl], &lb);
		if (err)
			return err;
		dir_leaf_del(lb, 0);
		h->count--;
		dir_hdr_store(hb, h);
		return 0;
	}
	if (absorb == 0 && dir_int_n(b) == 2) {
		/* The root will have one child left: that child becomes the
		 * root, and so on down while the new root has one child. */
		collapse = true;
		newroot = dir_int_child(b, 1 - path->idx[0]);
		for (newh = h->height - 1; newh > 1; newh--) {
			err = dir_get_int(io, h, newroot, newh - 1, &b);
			if (err)
				return err;
			if (dir_int_n(b) > 1)
				break;
			freef[nfree++] = newroot;
			newroot = dir_int_child(b, 0);
		}
		if (newh == 1) {
			err = dir_get_leaf(io, h, newroot, &b);
			if (err)
				return err;
		}
	}

	err = io->get_dirty(io->ctx, 0, &hb);
	if (!err && pred)
		err = io->get_dirty(io->ctx, pred, &pb);
	if (!err)
		err = io->get_dirty(io->ctx, path->fbn[absorb], &ab);
	for (unsigned i = 0; !err && i < nfree; i++)
		err = io->get_dirty(io->ctx, freef[i], &freeb[i]);
	for (d = (int)hl; !err && d > absorb; d--) {
		freef[nfree] = path->fbn[d];
		err = io->get_dirty(io->ctx, freef[nfree], &freeb[nfree]);
		nfree++;
	}
	if (err)
		return err;

	/* Nothing below can fail. The leaf is the first path block listed. */
	lb = freeb[nfree - (hl - (unsigned)absorb)];
	if (pb)
		dir_put64(pb + DIR_LEAF_NEXT_OFF, dir_leaf_next(lb));
	if (collapse) {
		freef[nfree] = h->root;
		freeb[nfree++] = ab;
		h->root = newroot;
		h->height = newh;
	} else {
		dir_int_del(ab, path->idx[absorb]);
	}
	for (unsigned i = 0; i < nfree; i++)
		dir_free(h, freef[i], freeb[i]);
	h->count--;
	dir_hdr_store(hb, h);
	return 0;
}

int dir_remove(const struct dir_io *io, const char *name, size_t len, uint64_t *ino, uint8_t *type)
{
	struct dir_hdr h;
	struct dir_path path;
	struct dir_found f;
	unsigned hl, pos;
	uint8_t *hb, *lb;
	int err = dir_name_ok(name, len);

	if (!err)
		err = dir_hdr_load(io, &h);
	if (!err)
		err = dir_find(io, &h, name, len, &path, &f);
	if (err)
		return err;
	if (!f.found)
		return -ENOENT;
	if (h.count == 0)
		return -EUCLEAN;
	hl = h.height - 1;
	if (!f.in_path) {
		err = dir_descend(io, &h, f.key, &path, &lb);
		if (err)
			return err;
		if (path.fbn[hl] != f.fbn)
			return -EUCLEAN; /* the chain and the tree disagree */
	}
	err = io->get(io->ctx, f.fbn, &lb);
	if (err)
		return err;
	err = dir_leaf_validate(lb);
	if (!err)
		err = dir_leaf_lower_bound(lb, f.key, &pos);
	if (err)
		return err;
	if (pos != f.slot)
		return -EUCLEAN;

	if (dir_leaf_n(lb) == 1 && h.height > 1) {
		err = dir_remove_leaf(io, &h, &path);
	} else {
		err = io->get_dirty(io->ctx, 0, &hb);
		if (!err)
			err = io->get_dirty(io->ctx, f.fbn, &lb);
		if (!err) {
			dir_leaf_del(lb, pos);
			h.count--;
			dir_hdr_store(hb, &h);
		}
	}
	if (err)
		return err;
	if (ino)
		*ino = f.ino;
	if (type)
		*type = f.type;
	return 0;
}

int dir_replace(const struct dir_io *io, const char *name, size_t len, uint64_t ino, uint8_t type)
{
	struct dir_hdr h;
	struct dir_path path;
	struct dir_found f;
	struct dir_ent e;
	unsigned off;
	uint8_t *lb;
	int err = dir_name_ok(name, len);

	if (!err)
		err = dir_hdr_load(io, &h);
	if (!err)
		err = dir_find(io, &h, name, len, &path, &f);
	if (err)
		return err;
	if (!f.found)
		return -ENOENT;
	err = io->get_dirty(io->ctx, f.fbn, &lb);
	if (err)
		return err;
	/* The dirty copy holds what was read: recheck only what we use. */
	if (!dir_leaf_hdr_ok(lb) || f.slot >= dir_leaf_n(lb) || dir_leaf_ent(lb, f.slot, &e) ||
	    e.key != f.key)
		return -EUCLEAN;
	off = dir_leaf_slot(lb, f.slot);
	dir_put64(lb + off + DIR_ENT_INO_OFF, ino);
	lb[off + DIR_ENT_TYPE_OFF] = type;
	return 0;
}

/* A positive return of fn stops the walk (*eof = false) and dir_iterate()
 * returns 0. The name passed to fn is NUL-terminated (len excludes the
 * NUL) and valid only during the call. */
int dir_iterate(const struct dir_io *io, uint64_t after, dir_iter_fn fn, void *arg, bool *eof)
{
	struct dir_hdr h;
	struct dir_path path;
	char name[DIR_NAME_MAX + 1];
	uint64_t prev = after, hops = 0, next;
	unsigned pos;
	uint8_t *b;
	int err;

	*eof = false;
	err = dir_hdr_load(io, &h);
	if (err)
		return err;
	if (h.height == 0 || after >= DIR_KEY_LIMIT) {
		*eof = true;
		return 0;
	}
	err = dir_descend(io, &h, after + 1, &path, &b);
	if (!err)
		err = dir_leaf_lower_bound(b, after + 1, &pos);
	if (err)
		return err;
	for (;;) {
		unsigned n = dir_leaf_n(b);

		for (; pos < n; pos++) {
			struct dir_ent e;

			err = dir_leaf_ent(b, pos, &e);
			if (err)
				return err;
			if (e.key <= prev)
				return -EUCLEAN; /* out of order: would repeat cookies */
			prev = e.key;
			memcpy(name, e.name, e.len);
			name[e.len] = '\0';
			if (fn(arg, name, e.len, e.ino, e.type, e.key))
				return 0;
		}
		next = dir_leaf_next(b);
		if (next == 0)
			break;
		if (++hops >= h.nblocks)
			return -EUCLEAN;
		err = dir_get_leaf(io, &h, next, &b);
		if (err)
			return err;
		pos = 0;
	}
	*eof = true;
	return 0;
}

/* ---- the consistency check -------------------------------------------- */

struct dir_chk {
	const struct dir_io *io;
	dir_bad_fn bad;
	void *arg;
	int nbad;
	struct dir_hdr h;
	uint8_t *seen;	    /* bitmap over fbns: in the tree or the free list */
	uint8_t *copies;    /* a private copy of the internal node at each depth */
	uint64_t entries;   /* entries found in leaves */
	uint64_t last_leaf; /* the previous leaf walked, 0 before the first */
	uint64_t last_next; /* its next pointer */
	bool have_key;
	uint64_t prev_key;		    /* the last key seen, in walk order */
	unsigned group_n;		    /* names seen so far with prev_key's hash */
	uint8_t (*group)[DIR_NAME_MAX + 1]; /* their lengths (byte 0) and bytes */
};

__attribute__((format(printf, 3, 4))) static void dir_chk_bad(struct dir_chk *c, uint64_t fbn,
							      const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->nbad++;
	if (c->bad)
		c->bad(c->arg, fbn, msg);
}

static bool dir_chk_mark(struct dir_chk *c, uint64_t fbn)
{
	uint8_t bit = (uint8_t)(1u << (fbn % 8));

	if (c->seen[fbn / 8] & bit)
		return false;
	c->seen[fbn / 8] |= bit;
	return true;
}

static void dir_chk_entry(struct dir_chk *c, uint64_t fbn, unsigned i, const struct dir_ent *e,
			  uint64_t lo, uint64_t hi)
{
	uint64_t hash = dir_hash56((const char *)e->name, e->len);

	if (e->key < 256 || e->key >= DIR_KEY_LIMIT)
		dir_chk_bad(c, fbn, "slot %u: key %#llx out of the key space", i,
			    (unsigned long long)e->key);
	if (e->key >> 8 != hash)
		dir_chk_bad(c, fbn, "slot %u: key %#llx does not match its name's hash %#llx", i,
			    (unsigned long long)e->key, (unsigned long long)hash);
	if (e->key < lo || e->key >= hi)
		dir_chk_bad(c, fbn, "slot %u: key %#llx outside the node's range [%#llx, %#llx)", i,
			    (unsigned long long)e->key, (unsigned long long)lo,
			    (unsigned long long)hi);
	if (c->have_key && e->key <= c->prev_key)
		dir_chk_bad(c, fbn, "slot %u: key %#llx not above the previous key %#llx", i,
			    (unsigned long long)e->key, (unsigned long long)c->prev_key);
	/* Names sharing a hash are neighbours in key order: each must differ
	 * from the others, or one name would have two entries. */
	if (!c->have_key || e->key >> 8 != c->prev_key >> 8)
		c->group_n = 0;
	for (unsigned g = 0; g < c->group_n; g++) {
		if (c->group[g][0] == e->len && memcmp(c->group[g] + 1, e->name, e->len) == 0) {
			dir_chk_bad(c, fbn, "slot %u: name of key %#llx appears twice", i,
				    (unsigned long long)e->key);
			break;
		}
	}
	if (c->group_n < 256) {
		c->group[c->group_n][0] = e->len;
		memcpy(c->group[c->group_n] + 1, e->name, e->len);
		c->group_n++;
	}
	c->have_key = true;
	c->prev_key = e->key;
}

static int dir_chk_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void dir_chk_leaf(struct dir_chk *c, uint64_t fbn, const uint8_t *b, uint64_t lo,
			 uint64_t hi)
{
	/* (offset << 16 | size) of every entry, to find overlaps */
	uint32_t ext[DIR_LEAF_MAXENT];
	unsigned n = dir_leaf_n(b), used = 0, next = 0;

	if (!dir_leaf_hdr_ok(b)) {
		dir_chk_bad(c, fbn, "leaf header impossible (nslots %u, data %u, frag %u)", n,
			    dir_leaf_data(b), dir_leaf_frag(b));
		return;
	}
	if (c->last_leaf && c->last_next != fbn)
		dir_chk_bad(c, c->last_leaf, "leaf chain points to %llu, not to the next leaf %llu",
			    (unsigned long long)c->last_next, (unsigned long long)fbn);
	c->last_leaf = fbn;
	c->last_next = dir_leaf_next(b);
	for (unsigned i = 0; i < n; i++) {
		struct dir_ent e;

		if (dir_leaf_ent(b, i, &e)) {
			dir_chk_bad(c, fbn, "slot %u: entry at %u out of bounds", i,
				    dir_leaf_slot(b, i));
			continue;
		}
		ext[next++] = (uint32_t)dir_leaf_slot(b, i) << 16 | (DIR_ENT_FIXED + e.len);
		used += DIR_ENT_FIXED + e.len;
		dir_chk_entry(c, fbn, i, &e, lo, hi);
	}
	qsort(ext, next, sizeof(ext[0]), dir_chk_cmp_u32);
	for (unsigned i = 1; i < next; i++) {
		if ((ext[i - 1] >> 16) + (ext[i - 1] & 0xFFFF) > ext[i] >> 16) {
			dir_chk_bad(c, fbn, "entries at %u and %u overlap", ext[i - 1] >> 16,
				    ext[i] >> 16);
			break;
		}
	}
	if (used + dir_leaf_frag(b) != DIR_BLK - dir_leaf_data(b))
		dir_chk_bad(c, fbn, "space: entries %u + frag %u != %u", used, dir_leaf_frag(b),
			    DIR_BLK - dir_leaf_data(b));
	c->entries += n;
}

/* Checks the subtree at fbn, expected at level, holding keys in [lo, hi). */
static int dir_chk_node(struct dir_chk *c, uint64_t fbn, unsigned level, unsigned depth,
			uint64_t lo, uint64_t hi)
{
	uint8_t *b;
	unsigned n;
	int err;

	if (!dir_fbn_ok(&c->h, fbn)) {
		dir_chk_bad(c, fbn, "child pointer %llu outside the file", (unsigned long long)fbn);
		return 0;
	}
	if (!dir_chk_mark(c, fbn)) {
		dir_chk_bad(c, fbn, "block reachable twice");
		return 0;
	}
	err = c->io->get(c->io->ctx, fbn, &b);
	if (err)
		return err;
	if (dir_get32(b + DIR_NODE_MAGIC_OFF) != (level ? DIR_INT_MAGIC : DIR_LEAF_MAGIC) ||
	    dir_get16(b + DIR_NODE_LEVEL_OFF) != level) {
		dir_chk_bad(c, fbn, "not a %s node at level %u (magic %#x, level %u)",
			    level ? "internal" : "leaf", level, dir_get32(b + DIR_NODE_MAGIC_OFF),
			    dir_get16(b + DIR_NODE_LEVEL_OFF));
		return 0;
	}
	if (level == 0) {
		dir_chk_leaf(c, fbn, b, lo, hi);
		return 0;
	}
	n = dir_int_n(b);
	if (n < 1 || n > DIR_INT_MAX) {
		dir_chk_bad(c, fbn, "internal node with %u children", n);
		return 0;
	}
	/* Children are walked with a private copy: the cache need not keep
	 * this block while they are read. */
	memcpy(c->copies + (size_t)depth * DIR_BLK, b, DIR_BLK);
	b = c->copies + (size_t)depth * DIR_BLK;
	for (unsigned i = 0; i < n; i++) {
		uint64_t clo = i ? dir_int_key(b, i) : lo;
		uint64_t chi = i + 1 < n ? dir_int_key(b, i + 1) : hi;

		if (i > 0 && (clo <= lo || clo >= hi || (i > 1 && clo <= dir_int_key(b, i - 1))))
			dir_chk_bad(c, fbn, "key %u (%#llx) out of order or range", i,
				    (unsigned long long)clo);
		err = dir_chk_node(c, dir_int_child(b, i), level - 1, depth + 1, clo, chi);
		if (err)
			return err;
	}
	return 0;
}

int dir_check(const struct dir_io *io, dir_bad_fn bad, void *arg)
{
	struct dir_chk c = {.io = io, .bad = bad, .arg = arg};
	uint64_t nfree = 0;
	uint8_t *b;
	int err;

	err = io->get(io->ctx, 0, &b);
	if (err)
		return err;
	if (dir_hdr_decode(b, &c.h)) {
		dir_chk_bad(&c, 0, "header impossible (magic %#x, version %u, height %u)",
			    dir_get32(b + DIR_HDR_MAGIC_OFF), dir_get32(b + DIR_HDR_VERSION_OFF),
			    dir_get32(b + DIR_HDR_HEIGHT_OFF));
		return c.nbad;
	}
	c.seen = calloc((size_t)(c.h.nblocks / 8 + 1), 1);
	c.copies = malloc((size_t)DIR_MAX_HEIGHT * DIR_BLK);
	c.group = malloc(256 * sizeof(*c.group));
	if (!c.seen || !c.copies || !c.group) {
		err = -ENOMEM;
		goto out;
	}
	dir_chk_mark(&c, 0);

	if (c.h.height > 0) {
		err = dir_chk_node(&c, c.h.root, c.h.height - 1, 0, 0, UINT64_MAX);
		if (err)
			goto out;
		if (c.last_leaf && c.last_next != 0)
			dir_chk_bad(&c, c.last_leaf, "the last leaf points on to %llu",
				    (unsigned long long)c.last_next);
	}
	if (c.entries != c.h.count)
		dir_chk_bad(&c, 0, "header counts %llu entries, the leaves hold %llu",
			    (unsigned long long)c.h.count, (unsigned long long)c.entries);

	for (uint64_t f = c.h.free_head; f; nfree++) {
		if (!dir_fbn_ok(&c.h, f)) {
			dir_chk_bad(&c, f, "free list points outside the file");
			break;
		}
		if (!dir_chk_mark(&c, f)) {
			dir_chk_bad(&c, f, "free block is in the tree or on the free list twice");
			break;
		}
		err = io->get(io->ctx, f, &b);
		if (err)
			goto out;
		if (dir_get32(b + DIR_NODE_MAGIC_OFF) != DIR_FREE_MAGIC) {
			dir_chk_bad(&c, f, "block on the free list is not marked free");
			break;
		}
		f = dir_get64(b + DIR_FREE_NEXT_OFF);
	}
	if (nfree != c.h.free_count)
		dir_chk_bad(&c, 0, "header counts %llu free blocks, the list has %llu",
			    (unsigned long long)c.h.free_count, (unsigned long long)nfree);
	/* Leaked blocks, reported a run at a time. */
	for (uint64_t f = 1, first = 0; f <= c.h.nblocks; f++) {
		bool leaked = f < c.h.nblocks && !(c.seen[f / 8] & (1u << (f % 8)));

		if (leaked && !first)
			first = f;
		if (!leaked && first) {
			dir_chk_bad(&c, first, "blocks %llu..%llu neither in the tree nor free",
				    (unsigned long long)first, (unsigned long long)(f - 1));
			first = 0;
		}
	}
	err = c.nbad;
out:
	free(c.seen);
	free(c.copies);
	free(c.group);
	return err;
}
