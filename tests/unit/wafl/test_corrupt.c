/*
 * Bit rot on an unmounted aggregate: flip one bit in each of N in-use
 * blocks on the disks, then prove three things.
 *
 *  1. The checker names exactly the flipped blocks as CORRUPT (no more, no
 *     fewer); every other problem it reports is UNVERIFIED (a block it could
 *     not reach because it hangs under a corrupt one). waflck says the same
 *     and exits 1.
 *  2. Every read that touches a flipped block fails cleanly (-EUCLEAN, or
 *     -EIO), and the library logs the block's address; a read never returns
 *     wrong data.
 *  3. Nothing else is affected: an operation fails if and only if one of the
 *     blocks it depends on was flipped, so every file that depends on no
 *     flipped block reads back byte for byte.
 *
 * What an operation depends on, in a flexible volume (identities as the
 * checker's owner callback gives them: volid, ino, level, fbn):
 *   - the inode of X: inode-file block (ino 0, level 0, fbn X / 16) and the
 *     inode-file indirect blocks above it ("inode chain");
 *   - block fbn of file X: X's level-0 block fbn and X's indirect blocks
 *     above it (level l, fbn >> 7l), plus X's inode chain;
 *   - a lookup in directory D: D's inode chain and all of D's blocks (the
 *     directories here are two blocks, header and root leaf, and a lookup
 *     reads both; the test asserts that shape) and the child's inode chain;
 *   - a path: every lookup along it, from the root.
 * Mounting depends on the aggregate's inode-file block holding the volume
 * table's inode (and the indirect blocks above it) and on the volume table.
 * Flexible volume blocks are read straight by PVBN, so the container files'
 * blocks and the maps matter to nobody but the checker.
 *
 * Disk layout (wafl/ondisk.h): one RAID-0 group of NDISKS disks; PVBN v sits
 * in slot 4 + v / NDISKS of disk v % NDISKS, a slot being 4096 bytes of block
 * and 64 of context. The bit is flipped anywhere in those 4160 bytes.
 *
 * The *_random_block(s) tests pick 1, 5 or 20 blocks from the checker's
 * owner list, a few rounds each, with a seed (env WAFL_SEED, else the clock;
 * printed; the same seed replays the same picks and bits). The other tests
 * flip one block of every kind the image has, and a few blocks hidden under
 * others, grouped by where the block lives (file, directory, inode file,
 * volume metadata, aggregate, what mounting needs).
 *
 * A round restores the flipped bits afterwards, so one image serves several
 * rounds; every test ends by proving the image clean again. The checker's
 * findings are expectations (a wrong report is noted and the round goes
 * on); the reads are assertions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wtest.h"
#include "wafl/ondisk.h"

#define NDISKS	   3
#define DISK_BYTES (64ull << 20)
#define VOL_BYTES  (128ull << 20)
#define MAX_ENTS   160
#define MAX_FLIPS  32
#define CHUNK	   (64u << 10)

/* ---- the populated image -------------------------------------------- */

struct owned {
	uint64_t pvbn;
	uint32_t volid;
	uint64_t ino;
	unsigned level;
	uint64_t fbn;
};

enum ent_kind { E_DIR, E_REG, E_LNK };

struct ext {
	uint64_t off, len;
};

struct ent {
	char path[96];	  /* from the root; "" for the root itself */
	const char *name; /* last component, inside path */
	int parent;	  /* index of the parent directory, -1 for the root */
	enum ent_kind kind;
	struct wafl_fh fh; /* as created */
	uint64_t size;	   /* regular files: bytes */
	struct ext ext[2]; /* regular files: what was written; the rest reads as zeros */
	unsigned nextents;
	char *target; /* symlinks */
};

struct image {
	struct wt t;
	uint64_t seed;
	uint32_t volid;	     /* the flexible volume */
	uint32_t aggr_volid; /* the aggregate */
	struct ent ents[MAX_ENTS];
	unsigned nents;
	struct owned *own; /* every reachable block, from the checker */
	size_t nown, capown;
};

struct flip {
	struct owned o;
	unsigned bit; /* in the 4160-byte slot */
};

/* The bytes file k would hold at block fbn if all of it were written. */
static void pattern_block(const struct image *img, unsigned k, uint64_t fbn, uint8_t *out)
{
	uint64_t s = img->seed ^ ((uint64_t)(k + 1) * 0x9e3779b97f4a7c15ull) ^
		     (fbn * 0xc2b2ae3d27d4eb4full);
	for (unsigned i = 0; i < WAFL_BLOCK_SIZE; i += 8) {
		uint64_t r = wt_rand(&s);
		memcpy(out + i, &r, 8);
	}
}

/* What block fbn of regular file k must read as; *len = bytes in it. */
static void expected_block(const struct image *img, unsigned k, uint64_t fbn, uint8_t *out,
			   uint32_t *len)
{
	const struct ent *e = &img->ents[k];
	uint64_t start = fbn * WAFL_BLOCK_SIZE;
	uint64_t left = e->size > start ? e->size - start : 0;
	*len = (uint32_t)(left < WAFL_BLOCK_SIZE ? left : WAFL_BLOCK_SIZE);
	uint8_t pat[WAFL_BLOCK_SIZE];
	pattern_block(img, k, fbn, pat);
	memset(out, 0, WAFL_BLOCK_SIZE);
	for (unsigned x = 0; x < e->nextents; x++) {
		uint64_t lo = e->ext[x].off, hi = e->ext[x].off + e->ext[x].len;
		if (lo < start)
			lo = start;
		if (hi > start + *len)
			hi = start + *len;
		if (lo < hi)
			memcpy(out + (lo - start), pat + (lo - start), hi - lo);
	}
}

static int add_ent(struct image *img, int parent, const char *name, enum ent_kind kind)
{
	cr_assert_lt(img->nents, MAX_ENTS);
	unsigned k = img->nents++;
	struct ent *e = &img->ents[k];
	memset(e, 0, sizeof(*e));
	if (parent < 0) {
		e->path[0] = 0;
		e->name = e->path;
	} else {
		char pp[sizeof(e->path)];
		memcpy(pp, img->ents[parent].path, sizeof(pp));
		int n = snprintf(e->path, sizeof(e->path), "%s%s%s", pp, *pp ? "/" : "", name);
		cr_assert(n > 0 && (size_t)n < sizeof(e->path));
		e->name = e->path + strlen(e->path) - strlen(name);
	}
	e->parent = parent;
	e->kind = kind;
	return (int)k;
}

static void write_extent(struct image *img, unsigned k, uint64_t off, uint64_t len)
{
	struct ent *e = &img->ents[k];
	static uint8_t buf[CHUNK];
	uint8_t pat[WAFL_BLOCK_SIZE];
	while (len) {
		uint32_t n = (uint32_t)(len < CHUNK ? len : CHUNK);
		for (uint32_t i = 0; i < n;) {
			uint64_t pos = off + i;
			uint32_t in = (uint32_t)(pos % WAFL_BLOCK_SIZE);
			uint32_t m = WAFL_BLOCK_SIZE - in;
			if (m > n - i)
				m = n - i;
			pattern_block(img, k, pos / WAFL_BLOCK_SIZE, pat);
			memcpy(buf + i, pat + in, m);
			i += m;
		}
		struct wafl_attr at;
		struct wafl_stab st;
		cr_assert_eq(WT_RETRY(&img->t, wafl_write(img->t.v, NULL, &e->fh, off, n, buf,
							  WAFL_UNSTABLE, &at, &st)),
			     0);
		off += n;
		len -= n;
	}
}

static int make_dir(struct image *img, int parent, const char *name)
{
	int k = add_ent(img, parent, name, E_DIR);
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(&img->t, wafl_mkdir(img->t.v, NULL, &img->ents[parent].fh, name, NULL,
						  &img->ents[k].fh, &at, &st)),
		     0, "mkdir %s", img->ents[k].path);
	return k;
}

static void make_file(struct image *img, int parent, const char *name, const struct ext *ext,
		      unsigned nextents, uint64_t size)
{
	int k = add_ent(img, parent, name, E_REG);
	struct ent *e = &img->ents[k];
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(&img->t, wafl_create(img->t.v, NULL, &img->ents[parent].fh, name,
						   WAFL_GUARDED, NULL, 0, &e->fh, &at, &st)),
		     0, "create %s", e->path);
	e->nextents = nextents;
	for (unsigned x = 0; x < nextents; x++) {
		e->ext[x] = ext[x];
		write_extent(img, (unsigned)k, ext[x].off, ext[x].len);
	}
	e->size = size;
	cr_assert_eq(wafl_getattr(img->t.v, &e->fh, &at), 0);
	cr_assert_eq(at.size, size, "/%s: size", e->path);
}

static void make_symlink(struct image *img, int parent, const char *name, size_t tlen)
{
	int k = add_ent(img, parent, name, E_LNK);
	struct ent *e = &img->ents[k];
	e->target = malloc(tlen + 1);
	cr_assert_not_null(e->target);
	uint64_t s = img->seed + (uint64_t)k;
	for (size_t i = 0; i < tlen; i++)
		e->target[i] = (char)('a' + wt_rand(&s) % 26);
	if (tlen > 3)
		memcpy(e->target, "../", 3);
	e->target[tlen] = 0;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(WT_RETRY(&img->t, wafl_symlink(img->t.v, NULL, &img->ents[parent].fh, name,
						    e->target, NULL, &e->fh, &at, &st)),
		     0, "symlink %s", e->path);
}

static void owner_cb(void *arg, uint64_t pvbn, uint32_t volid, uint64_t ino, unsigned level,
		     uint64_t fbn)
{
	struct image *img = arg;
	if (img->nown == img->capown) {
		img->capown = img->capown ? img->capown * 2 : 4096;
		img->own = realloc(img->own, img->capown * sizeof(*img->own));
		cr_assert_not_null(img->own);
	}
	img->own[img->nown++] = (struct owned){pvbn, volid, ino, level, fbn};
}

static void print_problem(void *arg, const struct wafl_problem *p)
{
	(void)arg;
	fprintf(stderr,
		"checker: %s pvbn %" PRIu64 " vol %u ino %" PRIu64 " L%u fbn %" PRIu64 ": %s\n",
		wafl_problem_name(p->kind), p->pvbn, p->volid, p->ino, p->level, p->fbn, p->msg);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("WAFL_SEED");
	if (s && *s)
		return strtoull(s, NULL, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
}

/*
 * The image: eight directories (one path five deep), 96 regular files of
 * sizes from 0 bytes to 2 MiB + 1 (height 0, 1 and 2 trees), a 20 MiB file,
 * a sparse file whose data sits at 0 and past 5 MiB (holes under an indirect
 * block and whole indirect blocks missing), and symlinks of 7 to 4000 bytes.
 */
static void build_image(struct image *img, uint64_t seed)
{
	memset(img, 0, sizeof(*img));
	img->seed = seed;
	cr_assert_eq(wt_make(&img->t, WAFL_AGGR, NDISKS, DISK_BYTES, VOL_BYTES), 0);
	int root = add_ent(img, -1, "", E_DIR);
	cr_assert_eq(wafl_root(img->t.v, &img->ents[root].fh), 0);
	int a = make_dir(img, root, "a");
	int b = make_dir(img, a, "b");
	int c = make_dir(img, b, "c");
	int d = make_dir(img, c, "d");
	int e = make_dir(img, root, "e");
	int f = make_dir(img, root, "f");
	int g = make_dir(img, e, "g");
	const int dirs[] = {root, a, b, c, d, e, f, g};
	/* bytes: empty, one block or less, block edges, height 0 -> 1 at
	 * 16 KiB, height 1 -> 2 past 2 MiB */
	static const uint64_t sizes[] = {
		0,     1,     100,   4095,  4096,   4097,   8191,   12288,   16384,
		16385, 40000, 65536, 65537, 131073, 300000, 777777, 2097153,
	};
	for (unsigned i = 0; i < 96; i++) {
		char name[32];
		snprintf(name, sizeof(name), "file%02u.dat", i);
		uint64_t sz = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		struct ext x = {0, sz};
		make_file(img, dirs[i % 8], name, &x, sz ? 1 : 0, sz);
	}
	struct ext big = {0, (20ull << 20) + 123};
	make_file(img, b, "big", &big, 1, big.len);
	struct ext sparse[2] = {{0, 5000}, {(5ull << 20) + 7, 10000}};
	make_file(img, e, "sparse", sparse, 2, sparse[1].off + sparse[1].len);
	make_symlink(img, root, "link-short", 7);
	make_symlink(img, e, "link-300", 300);
	make_symlink(img, d, "link-4000", 4000);
	make_symlink(img, g, "link-60", 60);

	struct wafl_vol_info vi;
	wafl_vol_info(img->t.v, &vi);
	img->volid = vi.volid;
	/* wafl_aggr_close() alone may return before its final CP is durable
	 * when a CP is running (reported bug): make everything durable first */
	cr_assert_eq(wafl_cp_sync(img->t.a), 0);
	cr_assert_eq(wt_close(&img->t), 0);

	struct wafl_check_result r;
	cr_assert_eq(
		wafl_check(img->t.disks, img->t.ndisks, print_problem, NULL, owner_cb, img, &r), 0);
	cr_assert_eq(r.problems, 0, "the image is not clean before any bit is flipped");
	cr_assert_eq(r.blocks_checked, img->nown);
	/* every PVBN once; the aggregate is the one other instance */
	for (size_t i = 0; i < img->nown; i++) {
		const struct owned *o = &img->own[i];
		cr_assert_neq(o->pvbn, 0);
		if (o->volid != img->volid) {
			cr_assert(img->aggr_volid == 0 || img->aggr_volid == o->volid);
			img->aggr_volid = o->volid;
		}
	}
	cr_assert_neq(img->aggr_volid, 0);
	const uint64_t npvbn = NDISKS * (DISK_BYTES / WAFL_SLOT_SIZE);
	uint8_t *seen = calloc(npvbn / 8 + 1, 1);
	cr_assert_not_null(seen);
	for (size_t i = 0; i < img->nown; i++) {
		uint64_t v = img->own[i].pvbn;
		cr_assert_lt(v, npvbn);
		cr_assert_not((seen[v / 8] >> (v % 8)) & 1, "pvbn %" PRIu64 " reported twice", v);
		seen[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	free(seen);
	/* the shape the dependency rules rely on: a directory is two blocks,
	 * the header and a root leaf, and has no indirect block */
	for (unsigned k = 0; k < img->nents; k++) {
		if (img->ents[k].kind != E_DIR)
			continue;
		unsigned n = 0;
		for (size_t i = 0; i < img->nown; i++) {
			const struct owned *o = &img->own[i];
			if (o->volid != img->volid || o->ino != img->ents[k].fh.ino)
				continue;
			cr_assert_eq(o->level, 0, "directory /%s has an indirect block",
				     img->ents[k].path);
			n++;
		}
		cr_assert_eq(n, 2, "directory /%s has %u blocks, not 2", img->ents[k].path, n);
	}
	img->t.op.read_only = true;
}

static void free_image(struct image *img)
{
	for (unsigned k = 0; k < img->nents; k++)
		free(img->ents[k].target);
	free(img->own);
	wt_destroy(&img->t);
	memset(img, 0, sizeof(*img));
}

/* Each test (a process of its own) works on this image; the teardown
 * removes its disks even when an assertion ended the test early. */
static struct image image;

static void teardown(void)
{
	if (image.t.dir[0])
		free_image(&image);
}

/* ---- flipping bits on the disks ------------------------------------- */

static void xor_bit(struct image *img, const struct flip *f, bool check_ctx)
{
	uint64_t pvbn = f->o.pvbn;
	const char *path = img->t.disks[pvbn % NDISKS];
	off_t off = (off_t)((WAFL_SLOT_DATA0 + pvbn / NDISKS) * WAFL_SLOT_SIZE);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	uint8_t slot[WAFL_SLOT_SIZE];
	cr_assert_eq(pread(fd, slot, sizeof(slot), off), (ssize_t)sizeof(slot));
	if (check_ctx) {
		/* the slot holds the block we mean: the layout formula is right */
		struct wafl_ctx c;
		memcpy(&c, slot + WAFL_BLOCK_SIZE, sizeof(c));
		cr_assert_eq(c.magic, WAFL_CTX_MAGIC);
		cr_assert_eq(c.pvbn, pvbn);
		cr_assert_eq(c.volid, f->o.volid);
		cr_assert_eq(c.ino, f->o.ino);
		cr_assert_eq(c.level, f->o.level);
		cr_assert_eq(c.fbn, f->o.fbn);
	}
	slot[f->bit / 8] ^= (uint8_t)(1u << (f->bit % 8));
	cr_assert_eq(pwrite(fd, slot, sizeof(slot), off), (ssize_t)sizeof(slot));
	cr_assert_eq(close(fd), 0);
}

/* ---- what depends on what --------------------------------------------- */

struct round {
	struct image *img;
	const char *label; /* what was flipped, for messages */
	struct flip flips[MAX_FLIPS];
	unsigned n;
	unsigned ops, ops_failed; /* read-back operations, and how many failed */
};

static bool flipped(const struct round *r, uint32_t volid, uint64_t ino, unsigned level,
		    uint64_t fbn)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct owned *o = &r->flips[i].o;
		if (o->volid == volid && o->ino == ino && o->level == level && o->fbn == fbn)
			return true;
	}
	return false;
}

/* Block fbn of file ino, or an indirect block above it, was flipped. */
static bool block_hit(const struct round *r, uint32_t volid, uint64_t ino, uint64_t fbn)
{
	for (unsigned l = 0; l <= WAFL_MAX_HEIGHT; l++)
		if (flipped(r, volid, ino, l, fbn >> (WAFL_PTR_SHIFT * l)))
			return true;
	return false;
}

/* The inode of ino cannot be read. */
static bool inode_hit(const struct round *r, uint64_t ino)
{
	return block_hit(r, r->img->volid, WAFL_INO_INODEFILE, ino / WAFL_INODES_PER_BLOCK);
}

/* Some block of file ino was flipped. */
static bool any_hit(const struct round *r, uint64_t ino)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->flips[i].o.volid == r->img->volid && r->flips[i].o.ino == ino)
			return true;
	return false;
}

/* Mounting reads the volume table through the aggregate's inode file. */
static bool mount_hit(const struct round *r)
{
	uint32_t av = r->img->aggr_volid;
	if (block_hit(r, av, WAFL_INO_INODEFILE, WAFL_INO_VOLTAB / WAFL_INODES_PER_BLOCK))
		return true;
	for (unsigned i = 0; i < r->n; i++)
		if (r->flips[i].o.volid == av && r->flips[i].o.ino == WAFL_INO_VOLTAB)
			return true;
	return false;
}

/* An operation's outcome against what its dependencies predict. */
static void expect(struct round *r, int rc, bool hit, const char *what, const char *path)
{
	r->ops++;
	if (rc)
		r->ops_failed++;
	if (hit)
		cr_assert(rc == -EUCLEAN || rc == -EIO,
			  "%s: %s /%s: %s, but a block it needs was flipped", r->label, what, path,
			  rc ? strerror(-rc) : "succeeded");
	else
		cr_assert_eq(rc, 0, "%s: %s /%s failed (%s) though nothing it needs was flipped",
			     r->label, what, path, strerror(-rc));
}

/* Resolves entry k from the root, one lookup at a time; false if a step
 * failed (as predicted). */
static bool check_path(struct round *r, unsigned k)
{
	struct image *img = r->img;
	int chain[16];
	unsigned n = 0;
	for (int x = (int)k; x >= 0; x = img->ents[x].parent) {
		cr_assert_lt(n, 16);
		chain[n++] = x;
	}
	struct wafl_fh fh;
	int rc = wafl_root(img->t.v, &fh);
	expect(r, rc, inode_hit(r, WAFL_INO_ROOT), "root of", img->ents[k].path);
	if (rc)
		return false;
	cr_assert(fh.ino == img->ents[0].fh.ino && fh.gen == img->ents[0].fh.gen);
	for (unsigned i = n - 1; i-- > 0;) {
		const struct ent *d = &img->ents[chain[i + 1]], *e = &img->ents[chain[i]];
		struct wafl_fh out;
		struct wafl_attr at;
		rc = wafl_lookup(img->t.v, NULL, &fh, e->name, &out, &at);
		bool hit =
			inode_hit(r, d->fh.ino) || any_hit(r, d->fh.ino) || inode_hit(r, e->fh.ino);
		expect(r, rc, hit, "lookup", e->path);
		if (rc)
			return false;
		cr_assert(out.volid == e->fh.volid && out.ino == e->fh.ino && out.gen == e->fh.gen,
			  "lookup /%s found another file", e->path);
		fh = out;
	}
	return true;
}

struct listing {
	unsigned n;
	char names[64][32];
	uint64_t ino[64];
};

static int listing_cb(void *arg, const struct wafl_dirent *de)
{
	struct listing *l = arg;
	cr_assert_lt(l->n, 64);
	cr_assert_lt(de->namelen, sizeof(l->names[0]));
	memcpy(l->names[l->n], de->name, de->namelen);
	l->names[l->n][de->namelen] = 0;
	l->ino[l->n] = de->ino;
	l->n++;
	return 0;
}

/* Reads entry k by its handle, all of it; false if anything failed (as
 * predicted). Every byte that comes back must be the byte written. */
static bool check_content(struct round *r, unsigned k)
{
	struct image *img = r->img;
	const struct ent *e = &img->ents[k];
	uint64_t ino = e->fh.ino;
	bool ihit = inode_hit(r, ino);
	struct wafl_attr at;
	int rc = wafl_getattr(img->t.v, &e->fh, &at);
	expect(r, rc, ihit, "getattr", e->path);
	bool ok = rc == 0;
	if (rc == 0 && e->kind == E_REG)
		cr_assert_eq(at.size, e->size, "/%s: size", e->path);
	switch (e->kind) {
	case E_REG: {
		uint64_t nblk = (e->size + WAFL_BLOCK_SIZE - 1) / WAFL_BLOCK_SIZE;
		for (uint64_t fbn = 0; fbn < nblk; fbn++) {
			uint8_t got_buf[WAFL_BLOCK_SIZE], want[WAFL_BLOCK_SIZE];
			uint32_t got = 0, len;
			bool eof;
			rc = wafl_read(img->t.v, NULL, &e->fh, fbn * WAFL_BLOCK_SIZE,
				       WAFL_BLOCK_SIZE, got_buf, &got, &eof);
			expect(r, rc, ihit || block_hit(r, img->volid, ino, fbn), "read", e->path);
			if (rc) {
				ok = false;
				continue;
			}
			expected_block(img, k, fbn, want, &len);
			cr_assert_eq(got, len, "/%s fbn %" PRIu64 ": %u bytes, not %u", e->path,
				     fbn, got, len);
			cr_assert_eq(memcmp(got_buf, want, len), 0,
				     "/%s fbn %" PRIu64 ": wrong data came back", e->path, fbn);
		}
		break;
	}
	case E_LNK: {
		static char buf[WAFL_PATH_MAX + 1];
		size_t len = 0;
		rc = wafl_readlink(img->t.v, NULL, &e->fh, buf, sizeof(buf), &len);
		expect(r, rc, ihit || any_hit(r, ino), "readlink", e->path);
		ok &= rc == 0;
		if (rc == 0) {
			cr_assert_eq(len, strlen(e->target));
			cr_assert_eq(memcmp(buf, e->target, len), 0, "/%s: wrong target", e->path);
		}
		break;
	}
	case E_DIR: {
		static struct listing l;
		memset(&l, 0, sizeof(l));
		bool eof = false;
		rc = wafl_readdir(img->t.v, NULL, &e->fh, 0, listing_cb, &l, &eof);
		expect(r, rc, ihit || any_hit(r, ino), "readdir", e->path);
		ok &= rc == 0;
		if (rc)
			break;
		cr_assert(eof);
		unsigned want = 2;
		for (unsigned c = 0; c < img->nents; c++) {
			if (img->ents[c].parent != (int)k)
				continue;
			want++;
			bool found = false;
			for (unsigned i = 0; i < l.n && !found; i++)
				found = !strcmp(l.names[i], img->ents[c].name) &&
					l.ino[i] == img->ents[c].fh.ino;
			cr_assert(found, "readdir /%s: %s missing", e->path, img->ents[c].name);
		}
		cr_assert_eq(l.n, want, "readdir /%s: %u entries, not %u", e->path, l.n, want);
		break;
	}
	}
	return ok;
}

/* Entry k depends on a flipped block: its path (inodes and directories) or
 * its own blocks. */
static bool depends_on_flip(const struct round *r, unsigned k)
{
	const struct image *img = r->img;
	if (any_hit(r, img->ents[k].fh.ino))
		return true;
	for (int x = (int)k; x >= 0; x = img->ents[x].parent)
		if (inode_hit(r, img->ents[x].fh.ino) ||
		    (x != (int)k && any_hit(r, img->ents[x].fh.ino)))
			return true;
	return false;
}

/* A flipped block that the read-back reaches (no flipped block above it
 * hides it): the library must log its address. */
static bool reached(const struct round *r, const struct owned *o, bool mounted)
{
	const struct image *img = r->img;
	for (unsigned l = o->level + 1; l <= WAFL_MAX_HEIGHT; l++)
		if (flipped(r, o->volid, o->ino, l, o->fbn >> (WAFL_PTR_SHIFT * (l - o->level))))
			return false;
	if (o->volid == img->aggr_volid) {
		if (o->ino == WAFL_INO_INODEFILE)
			return o->level == 0 ? o->fbn == WAFL_INO_VOLTAB / WAFL_INODES_PER_BLOCK
					     : o->fbn == 0;
		return o->ino == WAFL_INO_VOLTAB &&
		       !block_hit(r, o->volid, WAFL_INO_INODEFILE,
				  WAFL_INO_VOLTAB / WAFL_INODES_PER_BLOCK);
	}
	if (!mounted)
		return false;
	for (unsigned k = 0; k < img->nents; k++) {
		uint64_t ino = img->ents[k].fh.ino;
		if (o->ino == WAFL_INO_INODEFILE &&
		    (ino / WAFL_INODES_PER_BLOCK) >> (WAFL_PTR_SHIFT * o->level) == o->fbn)
			return true;
		if (o->ino == ino)
			return !inode_hit(r, ino);
	}
	return false;
}

struct ckstate {
	struct round *r;
	bool named[MAX_FLIPS];
	unsigned corrupt, unverified, other;
};

static void problem_cb(void *arg, const struct wafl_problem *p)
{
	struct ckstate *s = arg;
	if (p->kind == WAFL_P_UNVERIFIED) {
		s->unverified++;
		return;
	}
	print_problem(NULL, p);
	if (p->kind != WAFL_P_CORRUPT) {
		s->other++;
		return;
	}
	s->corrupt++;
	for (unsigned i = 0; i < s->r->n; i++)
		if (s->r->flips[i].o.pvbn == p->pvbn) {
			cr_expect_not(s->named[i], "%s: checker: pvbn %" PRIu64 " reported twice",
				      s->r->label, p->pvbn);
			s->named[i] = true;
			return;
		}
	cr_expect_fail("%s: checker: pvbn %" PRIu64
		       " reported corrupt, but no bit of it was flipped",
		       s->r->label, p->pvbn);
}

/* The checker's findings are expectations, not assertions: a wrong report
 * is noted and the round goes on to the reads. */
static void check_names_flips(struct round *r)
{
	struct ckstate s = {.r = r};
	struct wafl_check_result res;
	int rc = wafl_check(r->img->t.disks, r->img->t.ndisks, problem_cb, &s, NULL, NULL, &res);
	cr_expect_eq(rc, 0, "%s: checker could not walk the image (%s), naming no block", r->label,
		     strerror(-rc));
	if (rc)
		return;
	for (unsigned i = 0; i < r->n; i++)
		cr_expect(s.named[i], "%s: checker missed flipped pvbn %" PRIu64, r->label,
			  r->flips[i].o.pvbn);
	cr_expect_eq(res.corrupt_blocks, s.corrupt);
	cr_expect_eq(s.other, 0,
		     "%s: checker reported %u problem(s) that are neither CORRUPT nor UNVERIFIED",
		     r->label, s.other);
	cr_expect_eq(res.problems, (uint64_t)s.corrupt + s.unverified + s.other);
	fprintf(stderr, "  checker: %u corrupt, %u unverified, %u other\n", s.corrupt, s.unverified,
		s.other);
}

static void check_waflck(struct round *r)
{
	const char *ck = getenv("WAFLCK");
	if (!ck || !*ck)
		ck = "./build/bin/waflck";
	cr_assert_eq(access(ck, X_OK), 0, "%s: %s (set WAFLCK, or run from the top of the tree)",
		     ck, strerror(errno));
	char cmd[2048];
	const struct wt *t = &r->img->t;
	snprintf(cmd, sizeof(cmd), "exec '%s' '%s' '%s' '%s' 2>&1", ck, t->disks[0], t->disks[1],
		 t->disks[2]);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	bool named[MAX_FLIPS] = {0};
	unsigned corrupt = 0;
	char line[512];
	while (fgets(line, sizeof(line), p)) {
		unsigned long long pv;
		if (sscanf(line, "corrupt pvbn %llu", &pv) != 1)
			continue;
		corrupt++;
		bool ours = false;
		for (unsigned i = 0; i < r->n; i++)
			if (r->flips[i].o.pvbn == pv)
				ours = named[i] = true;
		cr_expect(ours, "%s: waflck names pvbn %llu, which was not flipped", r->label, pv);
	}
	int st = pclose(p);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: waflck: exit status %d, not 1",
		  r->label, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	cr_expect_eq(corrupt, r->n, "%s: waflck: %u corrupt lines for %u flipped blocks", r->label,
		     corrupt, r->n);
	for (unsigned i = 0; i < r->n; i++)
		cr_expect(named[i], "%s: waflck did not name pvbn %" PRIu64, r->label,
			  r->flips[i].o.pvbn);
}

/* Mounts read-only and reads everything, with the library's log caught in
 * a file: it must name every flipped block a read reached, and only those. */
static void check_reads(struct round *r)
{
	struct image *img = r->img;
	FILE *log = tmpfile();
	cr_assert_not_null(log);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_geq(saved, 0);
	cr_assert_geq(dup2(fileno(log), 2), 0);
	int rc = wt_open(&img->t);
	bool mhit = mount_hit(r);
	bool mounted = rc == 0;
	unsigned nfail = 0;
	if (mounted) {
		for (unsigned k = 0; k < img->nents; k++) {
			bool ok = check_path(r, k);
			ok &= check_content(r, k);
			cr_assert_eq(!ok, depends_on_flip(r, k), "%s: /%s %s", r->label,
				     img->ents[k].path,
				     ok ? "read back though it depends on a flipped block"
					: "failed though it depends on no flipped block");
			nfail += !ok;
		}
		rc = wt_close(&img->t);
	}
	fflush(stderr);
	cr_assert_geq(dup2(saved, 2), 0);
	close(saved);
	if (!mounted) {
		cr_assert(mhit,
			  "%s: read-only mount failed (%s) though no block it needs was flipped",
			  r->label, strerror(-rc));
		cr_assert_eq(rc, -EUCLEAN, "read-only mount: %s, not EUCLEAN", strerror(-rc));
	} else {
		cr_assert_not(mhit, "%s: mounted though a block the mount needs was flipped",
			      r->label);
		cr_assert_eq(rc, 0);
	}
	/* the log */
	bool logged[MAX_FLIPS] = {0};
	unsigned lines = 0;
	char line[512];
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		lines++;
		const char *at = strstr(line, "pvbn ");
		unsigned long long pv;
		if (!at || sscanf(at, "pvbn %llu", &pv) != 1) {
			fprintf(stderr, "  log: %s", line);
			continue;
		}
		bool ours = false;
		for (unsigned i = 0; i < r->n; i++)
			if (r->flips[i].o.pvbn == pv)
				ours = logged[i] = true;
		cr_assert(ours, "%s: the library logged a problem with pvbn %llu, not flipped: %s",
			  r->label, pv, line);
	}
	fclose(log);
	if (mounted)
		fprintf(stderr,
			"  reads: %u of %u operations failed, %u of %u entries unreadable; "
			"%u log lines\n",
			r->ops_failed, r->ops, nfail, img->nents, lines);
	else
		fprintf(stderr, "  mount: EUCLEAN, as a block it needs was flipped; %u log lines\n",
			lines);
	for (unsigned i = 0; i < r->n; i++)
		if (reached(r, &r->flips[i].o, mounted))
			cr_assert(logged[i],
				  "%s: a read reached flipped pvbn %" PRIu64
				  " but nothing logged it",
				  r->label, r->flips[i].o.pvbn);
}

static void describe(const struct image *img, const struct owned *o, char *buf, size_t len)
{
	const char *who = o->volid == img->aggr_volid ? "aggr" : "vol";
	const char *name = "";
	for (unsigned k = 0; k < img->nents && o->volid == img->volid; k++)
		if (img->ents[k].fh.ino == o->ino)
			name = img->ents[k].path;
	snprintf(buf, len, "pvbn %" PRIu64 " (%s ino %" PRIu64 "%s%s L%u fbn %" PRIu64 ")", o->pvbn,
		 who, o->ino, *name ? " /" : "", name, o->level, o->fbn);
}

/* One round: flip, check, read back, restore. */
static void run_round(struct image *img, const struct owned *const *picks, unsigned n,
		      uint64_t *rng, const char *label)
{
	cr_assert_leq(n, MAX_FLIPS);
	struct round r = {.img = img, .label = label, .n = n};
	fprintf(stderr, "corrupt: %s: %u block(s)\n", label, n);
	for (unsigned i = 0; i < n; i++) {
		r.flips[i].o = *picks[i];
		r.flips[i].bit = (unsigned)(wt_rand(rng) % (WAFL_SLOT_SIZE * 8));
		char d[160];
		describe(img, picks[i], d, sizeof(d));
		fprintf(stderr, "  flip bit %u of %s\n", r.flips[i].bit, d);
		xor_bit(img, &r.flips[i], true);
	}
	check_names_flips(&r);
	check_waflck(&r);
	check_reads(&r);
	for (unsigned i = 0; i < n; i++)
		xor_bit(img, &r.flips[i], false);
}

static void check_clean(struct image *img)
{
	cr_assert_eq(wt_check(&img->t, true), 0, "the image is not clean after restoring the bits");
}

/* ---- the tests ------------------------------------------------------ */

static void random_rounds(unsigned n, unsigned rounds)
{
	uint64_t seed = test_seed();
	fprintf(stderr,
		"corrupt: %u random block(s), %u rounds: seed %" PRIu64
		" (rerun with WAFL_SEED=%" PRIu64 ")\n",
		n, rounds, seed, seed);
	struct image *img = &image;
	build_image(img, seed);
	uint64_t rng = seed ^ n;
	for (unsigned round = 0; round < rounds; round++) {
		const struct owned *picks[MAX_FLIPS];
		for (unsigned i = 0; i < n; i++) {
			bool dup;
			do {
				picks[i] = &img->own[wt_rand(&rng) % img->nown];
				dup = false;
				for (unsigned j = 0; j < i; j++)
					dup |= picks[j] == picks[i];
			} while (dup);
		}
		char label[64];
		snprintf(label, sizeof(label), "random round %u", round);
		run_round(img, picks, n, &rng, label);
	}
	check_clean(img);
	free_image(img);
}

Test(corrupt, one_random_block, .timeout = 60, .fini = teardown)
{
	random_rounds(1, 4);
}

Test(corrupt, five_random_blocks, .timeout = 60, .fini = teardown)
{
	random_rounds(5, 3);
}

Test(corrupt, twenty_random_blocks, .timeout = 60, .fini = teardown)
{
	random_rounds(20, 3);
}

static const struct owned *find_block(const struct image *img, uint32_t volid, uint64_t ino,
				      unsigned level, uint64_t fbn)
{
	for (size_t i = 0; i < img->nown; i++) {
		const struct owned *o = &img->own[i];
		if (o->volid == volid && o->ino == ino && o->level == level && o->fbn == fbn)
			return o;
	}
	cr_assert_fail("no block vol %u ino %" PRIu64 " L%u fbn %" PRIu64 " in the image", volid,
		       ino, level, fbn);
	return NULL;
}

static uint64_t ino_of(const struct image *img, const char *path)
{
	for (unsigned k = 0; k < img->nents; k++)
		if (!strcmp(img->ents[k].path, path))
			return img->ents[k].fh.ino;
	cr_assert_fail("no /%s", path);
	return 0;
}

/* The VVBN a flexible volume's block has (its context says). */
static uint64_t vvbn_of(const struct image *img, const struct owned *o)
{
	int fd = open(img->t.disks[o->pvbn % NDISKS], O_RDONLY);
	cr_assert_geq(fd, 0);
	struct wafl_ctx c;
	off_t off =
		(off_t)((WAFL_SLOT_DATA0 + o->pvbn / NDISKS) * WAFL_SLOT_SIZE + WAFL_BLOCK_SIZE);
	cr_assert_eq(pread(fd, &c, sizeof(c), off), (ssize_t)sizeof(c));
	close(fd);
	cr_assert_eq(c.pvbn, o->pvbn);
	return c.vvbn;
}

enum group { G_FILE, G_DIR, G_INODE, G_VOLMETA, G_AGGR, G_MOUNT };
static const char *const group_name[] = {
	[G_FILE] = "file blocks",	 [G_DIR] = "directory blocks",
	[G_INODE] = "inode-file blocks", [G_VOLMETA] = "volume metadata",
	[G_AGGR] = "aggregate blocks",	 [G_MOUNT] = "what mounting needs",
};

struct kcase {
	enum group g;
	const char *label;
	const struct owned *b[4];
};

/* One block of every kind the image has, and some blocks hidden under
 * others. */
static unsigned make_cases(const struct image *img, struct kcase *out, unsigned cap)
{
	const uint32_t v = img->volid, av = img->aggr_volid;
	const uint64_t big = ino_of(img, "a/b/big"), dirb = ino_of(img, "a/b");
	/* the container file: the aggregate's one file with indirect blocks */
	uint64_t cino = 0;
	unsigned ctop = 0;
	for (size_t i = 0; i < img->nown; i++)
		if (img->own[i].volid == av && img->own[i].ino >= WAFL_INO_FIRST) {
			cr_assert(cino == 0 || cino == img->own[i].ino);
			cino = img->own[i].ino;
			if (img->own[i].level > ctop)
				ctop = img->own[i].level;
		}
	cr_assert_neq(cino, 0);
	cr_assert_geq(ctop, 1);
	const struct owned *l0 = find_block(img, v, big, 0, 3 * 128 + 5);
	const struct owned *l1 = find_block(img, v, big, 1, 3);
	const struct owned *l2 = find_block(img, v, big, 2, 0);
	const struct owned *cl1 = find_block(img, av, cino, 1, vvbn_of(img, l0) >> WAFL_PTR_SHIFT);
	const struct owned *bigi =
		find_block(img, v, WAFL_INO_INODEFILE, 0, big / WAFL_INODES_PER_BLOCK);
	const struct owned *vmap = find_block(img, v, WAFL_INO_ACTIVEMAP, 0, 0);
	const struct kcase cases[] = {
		{G_FILE, "data block of the 20 MiB file", {find_block(img, v, big, 0, 1000)}},
		{G_FILE, "L1 indirect block of the 20 MiB file", {l1}},
		{G_FILE, "L2 (top) indirect block of the 20 MiB file", {l2}},
		{G_FILE,
		 "the only block of a 1-byte file",
		 {find_block(img, v, ino_of(img, "a/file01.dat"), 0, 0)}},
		{G_FILE,
		 "data block after a hole in the sparse file",
		 {find_block(img, v, ino_of(img, "e/sparse"), 0, (5u << 20) / WAFL_BLOCK_SIZE)}},
		{G_FILE,
		 "L1 block of the sparse file above its holes",
		 {find_block(img, v, ino_of(img, "e/sparse"), 1, 0)}},
		{G_FILE,
		 "block of a 4000-byte symlink",
		 {find_block(img, v, ino_of(img, "a/b/c/d/link-4000"), 0, 0)}},
		{G_FILE, "an L1 block and a data block under it", {l1, l0}},
		{G_FILE, "L2, L1 and a data block, one under the other", {l2, l1, l0}},
		{G_DIR,
		 "directory header block (/a/b, which has a subdirectory)",
		 {find_block(img, v, dirb, 0, 0)}},
		{G_DIR,
		 "directory leaf block (/a/b, which has a subdirectory)",
		 {find_block(img, v, dirb, 0, 1)}},
		{G_DIR, "directory leaf block (/)", {find_block(img, v, WAFL_INO_ROOT, 0, 1)}},
		{G_DIR,
		 "directory leaf block (/f, no subdirectory)",
		 {find_block(img, v, ino_of(img, "f"), 0, 1)}},
		{G_INODE,
		 "inode-file block 0 (the root directory's inode)",
		 {find_block(img, v, WAFL_INO_INODEFILE, 0, 0)}},
		{G_INODE, "inode-file block holding the 20 MiB file's inode", {bigi}},
		{G_INODE,
		 "inode-file block holding /a/b's inode",
		 {find_block(img, v, WAFL_INO_INODEFILE, 0, dirb / WAFL_INODES_PER_BLOCK)}},
		{G_INODE,
		 "inode-file indirect block",
		 {find_block(img, v, WAFL_INO_INODEFILE, 1, 0)}},
		{G_INODE, "an inode-file block and a data block of a file in it", {bigi, l0}},
		{G_VOLMETA, "volume active map block", {vmap}},
		{G_VOLMETA,
		 "volume mirror-log directory block",
		 {find_block(img, v, WAFL_INO_MIRLOG, 0, 0)}},
		{G_VOLMETA,
		 "the volume's active map, an L1 block and a data block under it",
		 {vmap, l1, l0}},
		{G_AGGR, "container file L1 block", {cl1}},
		{G_AGGR, "container file top indirect block", {find_block(img, av, cino, ctop, 0)}},
		{G_AGGR,
		 "aggregate inode-file block holding the container's inode",
		 {find_block(img, av, WAFL_INO_INODEFILE, 0, cino / WAFL_INODES_PER_BLOCK)}},
		{G_AGGR,
		 "aggregate active map block",
		 {find_block(img, av, WAFL_INO_ACTIVEMAP, 0, 0)}},
		{G_AGGR,
		 "an L1 block, a data block under it and the container L1 mapping that block",
		 {l1, l0, cl1}},
		{G_MOUNT,
		 "aggregate inode-file block 0 (the volume table's inode)",
		 {find_block(img, av, WAFL_INO_INODEFILE, 0, 0)}},
		{G_MOUNT, "volume table block", {find_block(img, av, WAFL_INO_VOLTAB, 0, 0)}},
	};
	unsigned n = sizeof(cases) / sizeof(cases[0]);
	cr_assert_leq(n, cap);
	memcpy(out, cases, sizeof(cases));
	return n;
}

static void run_group(enum group g)
{
	uint64_t seed = test_seed();
	fprintf(stderr, "corrupt: %s: seed %" PRIu64 " (rerun with WAFL_SEED=%" PRIu64 ")\n",
		group_name[g], seed, seed);
	struct image *img = &image;
	build_image(img, seed);
	uint64_t rng = seed ^ g;
	static struct kcase cases[64];
	unsigned n = make_cases(img, cases, sizeof(cases) / sizeof(cases[0]));
	for (unsigned c = 0; c < n; c++) {
		if (cases[c].g != g)
			continue;
		unsigned nb = 0;
		while (nb < 4 && cases[c].b[nb])
			nb++;
		run_round(img, cases[c].b, nb, &rng, cases[c].label);
	}
	check_clean(img);
	free_image(img);
}

Test(corrupt, file_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_FILE);
}

Test(corrupt, directory_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_DIR);
}

Test(corrupt, inode_file_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_INODE);
}

Test(corrupt, volume_metadata_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_VOLMETA);
}

Test(corrupt, aggregate_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_AGGR);
}

Test(corrupt, mount_metadata_blocks, .timeout = 60, .fini = teardown)
{
	run_group(G_MOUNT);
}
