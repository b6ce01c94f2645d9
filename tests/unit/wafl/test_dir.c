/*
 * test_dir.c - unit tests for the directory B+tree (wafl/dir.c).
 *
 * The directory is given an in-memory file: a growable array of 4 KiB
 * blocks behind struct dir_io. The same memory file can act like a
 * copy-on-write cache (get_dirty of a block not dirtied since the last
 * "freeze" moves it to a fresh buffer, and blocks nobody dirtied are
 * compared with their snapshot), run out of space, or fail get_dirty on
 * demand, so the tests can check that dir.c never writes a block it did
 * not dirty and leaves the directory unchanged when a call fails.
 *
 * The corruption tests know the on-disk layout documented in dir.c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wafl/dir.h"

/* dir.c's test hook: the number of hash bits kept (56 = all). */
extern int dir_test_hash_bits;

#define BLK 4096u

/* Fails the test without the cost of cr_assert's message in hot loops. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			cr_assert_fail(__VA_ARGS__);                                               \
	} while (0)

/* ---- the in-memory directory file --------------------------------------- */

struct memio {
	uint8_t **blk;
	size_t n, cap;
	size_t limit;	   /* append fails with -ENOSPC at this many blocks; 0 = never */
	long fail_dirty;   /* get_dirty fails with -EIO when this reaches 0; < 0 = never */
	bool cow;	   /* get_dirty of a clean block moves it to a new buffer */
	bool verify;	   /* freeze snapshots every block to compare later */
	uint8_t *dirty;	   /* per block, since the last freeze */
	uint8_t **garbage; /* buffers replaced by cow, freed at the next freeze */
	size_t ngarbage, capgarbage;
	uint8_t **snap;
	size_t nsnap;
	uint64_t gets, dirties, appends;
	struct dir_io io;
};

static int mem_get(void *ctx, uint64_t fbn, uint8_t **blk)
{
	struct memio *m = ctx;

	m->gets++;
	if (fbn >= m->n)
		return -EIO;
	*blk = m->blk[fbn];
	return 0;
}

static int mem_get_dirty(void *ctx, uint64_t fbn, uint8_t **blk)
{
	struct memio *m = ctx;

	if (m->fail_dirty >= 0 && m->fail_dirty-- == 0)
		return -EIO;
	m->dirties++;
	if (fbn >= m->n)
		return -EIO;
	if (m->cow && !m->dirty[fbn]) {
		uint8_t *copy = malloc(BLK);

		cr_assert_not_null(copy);
		memcpy(copy, m->blk[fbn], BLK);
		if (m->ngarbage == m->capgarbage) {
			m->capgarbage = m->capgarbage ? 2 * m->capgarbage : 64;
			m->garbage = realloc(m->garbage, m->capgarbage * sizeof(*m->garbage));
			cr_assert_not_null(m->garbage);
		}
		m->garbage[m->ngarbage++] = m->blk[fbn];
		m->blk[fbn] = copy;
	}
	m->dirty[fbn] = 1;
	*blk = m->blk[fbn];
	return 0;
}

static int mem_append(void *ctx, uint64_t *fbn, uint8_t **blk)
{
	struct memio *m = ctx;

	if (m->limit && m->n >= m->limit)
		return -ENOSPC;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->blk = realloc(m->blk, m->cap * sizeof(*m->blk));
		m->dirty = realloc(m->dirty, m->cap);
		cr_assert(m->blk && m->dirty);
	}
	m->blk[m->n] = calloc(1, BLK);
	cr_assert_not_null(m->blk[m->n]);
	m->dirty[m->n] = 1;
	m->appends++;
	*fbn = m->n;
	*blk = m->blk[m->n++];
	return 0;
}

static void mem_open(struct memio *m)
{
	memset(m, 0, sizeof(*m));
	m->fail_dirty = -1;
	m->io = (struct dir_io){
		.ctx = m,
		.get = mem_get,
		.get_dirty = mem_get_dirty,
		.append = mem_append,
	};
	cr_assert_eq(dir_init(&m->io), 0);
	cr_assert_eq(m->n, 1);
}

static void mem_close(struct memio *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->blk[i]);
	for (size_t i = 0; i < m->ngarbage; i++)
		free(m->garbage[i]);
	for (size_t i = 0; i < m->nsnap; i++)
		free(m->snap[i]);
	free(m->blk);
	free(m->dirty);
	free(m->garbage);
	free(m->snap);
}

/* The end of a consistency point: nothing is dirty any more. */
static void mem_freeze(struct memio *m)
{
	for (size_t i = 0; i < m->ngarbage; i++)
		free(m->garbage[i]);
	m->ngarbage = 0;
	memset(m->dirty, 0, m->n);
	if (m->verify) {
		m->snap = realloc(m->snap, m->n * sizeof(*m->snap));
		cr_assert_not_null(m->snap);
		for (size_t i = m->nsnap; i < m->n; i++)
			m->snap[i] = malloc(BLK);
		m->nsnap = m->n;
		for (size_t i = 0; i < m->n; i++)
			memcpy(m->snap[i], m->blk[i], BLK);
	}
}

/* Blocks changed without get_dirty since the last freeze. */
static int mem_undeclared_writes(struct memio *m)
{
	int bad = 0;

	for (size_t i = 0; i < m->nsnap; i++)
		if (!m->dirty[i] && memcmp(m->snap[i], m->blk[i], BLK) != 0)
			bad++;
	return bad;
}

static uint64_t hdr_u64(struct memio *m, unsigned off)
{
	uint64_t v;

	memcpy(&v, m->blk[0] + off, 8);
	return le64toh(v);
}

#define HDR_ROOT    8
#define HDR_HEIGHT  16 /* u32, read as the low half of a u64 below */
#define HDR_COUNT   24
#define HDR_FREE    32
#define HDR_NFREE   40
#define HDR_NBLOCKS 48

static unsigned hdr_height(struct memio *m)
{
	return (unsigned)(hdr_u64(m, HDR_HEIGHT) & 0xFFFFFFFFu);
}

/* ---- dir_check ------------------------------------------------------- */

struct bad_log {
	int n;
	char first[200];
};

static void bad_note(void *arg, uint64_t fbn, const char *msg)
{
	struct bad_log *l = arg;

	if (l->n++ == 0)
		snprintf(l->first, sizeof(l->first), "fbn %llu: %s", (unsigned long long)fbn, msg);
}

static int check(struct memio *m, struct bad_log *l)
{
	memset(l, 0, sizeof(*l));
	return dir_check(&m->io, bad_note, l);
}

static void assert_clean(struct memio *m)
{
	struct bad_log l;
	int r = check(m, &l);

	cr_assert_eq(r, 0, "dir_check found %d problems, first: %s", r, l.first);
}

/* ---- names ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Name number i: its number in hex, a dot, then random letters; the
 * number makes names unique and lets callbacks find their index. */
static size_t make_name(char *buf, size_t i, size_t maxlen)
{
	size_t len = (size_t)sprintf(buf, "%zx.", i);
	size_t extra = maxlen > len ? rnd() % (maxlen - len + 1) : 0;

	for (size_t k = 0; k < extra; k++)
		buf[len++] = (char)('a' + rnd() % 26);
	buf[len] = '\0';
	return len;
}

struct names {
	char **s;
	size_t *len;
	size_t n;
};

static void names_make(struct names *nm, size_t n, size_t maxlen)
{
	char buf[300];

	nm->n = n;
	nm->s = malloc(n * sizeof(*nm->s));
	nm->len = malloc(n * sizeof(*nm->len));
	cr_assert(nm->s && nm->len);
	for (size_t i = 0; i < n; i++) {
		nm->len[i] = make_name(buf, i, maxlen);
		nm->s[i] = malloc(nm->len[i] + 1);
		cr_assert_not_null(nm->s[i]);
		memcpy(nm->s[i], buf, nm->len[i] + 1);
	}
}

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->s[i]);
	free(nm->s);
	free(nm->len);
}

static size_t name_index(const char *name)
{
	return (size_t)strtoull(name, NULL, 16);
}

/* ---- iteration helpers ------------------------------------------------ */

struct collect {
	size_t n, cap;
	uint64_t *cookie;
	uint64_t *ino;
	uint8_t *type;
	char (*name)[256];
	size_t *len;
	size_t stop_after; /* return 1 when this many are collected; 0 = never */
};

static int collect_fn(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
		      uint64_t cookie)
{
	struct collect *c = arg;

	if (c->stop_after && c->n == c->stop_after)
		return 1;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->cookie = realloc(c->cookie, c->cap * sizeof(*c->cookie));
		c->ino = realloc(c->ino, c->cap * sizeof(*c->ino));
		c->type = realloc(c->type, c->cap);
		c->name = realloc(c->name, c->cap * sizeof(*c->name));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
		cr_assert(c->cookie && c->ino && c->type && c->name && c->len);
	}
	CHECK(len >= 1 && len <= 255 && name[len] == '\0', "bad name from iterate");
	c->cookie[c->n] = cookie;
	c->ino[c->n] = ino;
	c->type[c->n] = type;
	memcpy(c->name[c->n], name, len + 1);
	c->len[c->n] = len;
	c->n++;
	return 0;
}

static void collect_free(struct collect *c)
{
	free(c->cookie);
	free(c->ino);
	free(c->type);
	free(c->name);
	free(c->len);
	memset(c, 0, sizeof(*c));
}

static void collect_all(struct memio *m, struct collect *c)
{
	bool eof = false;

	memset(c, 0, sizeof(*c));
	cr_assert_eq(dir_iterate(&m->io, 0, collect_fn, c, &eof), 0);
	cr_assert(eof);
}

static int never_called(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
			uint64_t cookie)
{
	(void)arg, (void)name, (void)len, (void)ino, (void)type, (void)cookie;
	cr_assert_fail("callback called on an empty range");
	return 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- basics ------------------------------------------------------------ */

Test(dir, init_gives_an_empty_directory)
{
	struct memio m;
	uint64_t n = 99, ino = 7, cookie = 0;
	uint8_t type = 9;
	bool eof = false;

	mem_open(&m);
	cr_assert_eq(dir_count(&m.io, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(dir_iterate(&m.io, 0, never_called, NULL, &eof), 0);
	cr_assert(eof);
	cr_assert_eq(dir_lookup(&m.io, "x", 1, &ino, &type, &cookie), -ENOENT);
	cr_assert_eq(ino, 7);
	cr_assert_eq(type, 9);
	cr_assert_eq(cookie, dir_hash56("x", 1) << 8);
	cr_assert_eq(dir_remove(&m.io, "x", 1, NULL, NULL), -ENOENT);
	cr_assert_eq(dir_replace(&m.io, "x", 1, 1, 1), -ENOENT);
	assert_clean(&m);
	cr_assert_eq(m.n, 1, "an empty directory is its header block only");
	mem_close(&m);
}

Test(dir, init_refuses_a_file_that_is_not_empty)
{
	struct memio m;

	mem_open(&m);
	cr_assert_eq(dir_init(&m.io), -EEXIST);
	mem_close(&m);
}

Test(dir, hash_is_55_bits_nonzero_and_length_sensitive)
{
	char buf[300];

	for (size_t i = 0; i < 10000; i++) {
		size_t len = make_name(buf, i, 1 + i % 255);
		uint64_t h = dir_hash56(buf, len);

		CHECK(h >= 1 && h < (1ull << 55), "hash %llx out of range", (unsigned long long)h);
		CHECK(h == dir_hash56(buf, len), "hash not deterministic");
	}
	cr_assert_neq(dir_hash56("a", 1), dir_hash56("a\0", 2));
	cr_assert_neq(dir_hash56("\0", 1), dir_hash56("\0\0", 2));
	cr_assert_neq(dir_hash56("abcdefgh", 8), dir_hash56("abcdefgi", 8));
	/* The top bits move too: the hash is spread over all 55 bits. */
	uint64_t or = 0, and = ~0ull;

	for (size_t i = 0; i < 1000; i++) {
		size_t len = make_name(buf, i, 8);
		uint64_t h = dir_hash56(buf, len);

		or |= h;
		and &= h;
	}
	cr_assert_eq(or, (1ull << 55) - 1);
	cr_assert_eq(and, 0);
}

Test(dir, insert_lookup_remove_exact_results)
{
	struct memio m;
	uint64_t ino = 0, cookie = 0, cookie2 = 0, n = 0;
	uint8_t type = 0;

	mem_open(&m);
	cr_assert_eq(dir_lookup(&m.io, "hello", 5, NULL, NULL, &cookie2), -ENOENT);
	cr_assert_eq(dir_insert(&m.io, "hello", 5, 1234, 1, &cookie), 0);
	cr_assert_eq(cookie, cookie2, "lookup predicted the cookie");
	cr_assert_eq(cookie, dir_hash56("hello", 5) << 8, "first name of its hash has seq 0");
	cr_assert_geq(cookie, 256);
	cr_assert_lt(cookie, 1ull << 63);
	cr_assert_eq(dir_insert(&m.io, "world", 5, 99, 2, NULL), 0);
	cr_assert_eq(dir_count(&m.io, &n), 0);
	cr_assert_eq(n, 2);

	cookie2 = 0;
	cr_assert_eq(dir_lookup(&m.io, "hello", 5, &ino, &type, &cookie2), 0);
	cr_assert_eq(ino, 1234);
	cr_assert_eq(type, 1);
	cr_assert_eq(cookie2, cookie);
	cr_assert_eq(dir_lookup(&m.io, "hell", 4, &ino, &type, NULL), -ENOENT);
	cr_assert_eq(dir_lookup(&m.io, "helloo", 6, &ino, &type, NULL), -ENOENT);

	cr_assert_eq(dir_insert(&m.io, "hello", 5, 1, 1, NULL), -EEXIST);
	cr_assert_eq(dir_replace(&m.io, "hello", 5, 4321, 2), 0);
	cr_assert_eq(dir_lookup(&m.io, "hello", 5, &ino, &type, &cookie2), 0);
	cr_assert_eq(ino, 4321);
	cr_assert_eq(type, 2);
	cr_assert_eq(cookie2, cookie, "replace keeps the cookie");

	ino = 0;
	type = 0;
	cr_assert_eq(dir_remove(&m.io, "hello", 5, &ino, &type), 0);
	cr_assert_eq(ino, 4321);
	cr_assert_eq(type, 2);
	cr_assert_eq(dir_remove(&m.io, "hello", 5, &ino, &type), -ENOENT);
	cr_assert_eq(dir_lookup(&m.io, "hello", 5, &ino, &type, NULL), -ENOENT);
	cr_assert_eq(dir_replace(&m.io, "hello", 5, 1, 1), -ENOENT);
	cr_assert_eq(dir_lookup(&m.io, "world", 5, &ino, &type, NULL), 0);
	cr_assert_eq(ino, 99);
	cr_assert_eq(dir_count(&m.io, &n), 0);
	cr_assert_eq(n, 1);
	assert_clean(&m);
	mem_close(&m);
}

Test(dir, bad_names_are_einval)
{
	struct memio m;
	char big[256];
	uint64_t ino;
	uint8_t type;

	memset(big, 'a', sizeof(big));
	mem_open(&m);
	cr_assert_eq(dir_insert(&m.io, big, 0, 1, 1, NULL), -EINVAL);
	cr_assert_eq(dir_insert(&m.io, big, 256, 1, 1, NULL), -EINVAL);
	cr_assert_eq(dir_insert(&m.io, NULL, 1, 1, 1, NULL), -EINVAL);
	cr_assert_eq(dir_lookup(&m.io, big, 0, &ino, &type, NULL), -EINVAL);
	cr_assert_eq(dir_lookup(&m.io, big, 256, &ino, &type, NULL), -EINVAL);
	cr_assert_eq(dir_remove(&m.io, big, 0, NULL, NULL), -EINVAL);
	cr_assert_eq(dir_remove(&m.io, big, 256, NULL, NULL), -EINVAL);
	cr_assert_eq(dir_replace(&m.io, big, 0, 1, 1), -EINVAL);
	cr_assert_eq(dir_replace(&m.io, big, 1000, 1, 1), -EINVAL);
	cr_assert_eq(dir_insert(&m.io, big, 255, 1, 1, NULL), 0);
	cr_assert_eq(dir_insert(&m.io, big, 1, 2, 1, NULL), 0);
	assert_clean(&m);
	mem_close(&m);
}

Test(dir, names_are_arbitrary_bytes_of_length_1_to_255)
{
	struct memio m;
	struct collect c;
	char name[255];
	uint64_t ino;
	uint8_t type;
	int seen[256 + 255 + 2] = {0};

	mem_open(&m);
	/* Every one-byte name, NUL and '/' and 0xff included. */
	for (unsigned b = 0; b < 256; b++) {
		name[0] = (char)b;
		cr_assert_eq(dir_insert(&m.io, name, 1, b, (uint8_t)(b % 7 + 1), NULL), 0);
	}
	/* 255-byte names that differ only in their last byte. */
	memset(name, 0xff, sizeof(name));
	for (unsigned k = 0; k < 255; k++) {
		name[254] = (char)k;
		cr_assert_eq(dir_insert(&m.io, name, 255, 1000 + k, 1, NULL), 0);
	}
	/* A name with NULs inside, and its prefix. */
	cr_assert_eq(dir_insert(&m.io, "a\0b", 3, 2000, 1, NULL), 0);
	cr_assert_eq(dir_insert(&m.io, "a\0", 2, 2001, 1, NULL), 0);

	for (unsigned b = 0; b < 256; b++) {
		name[0] = (char)b;
		cr_assert_eq(dir_lookup(&m.io, name, 1, &ino, &type, NULL), 0);
		cr_assert_eq(ino, b);
		cr_assert_eq(type, b % 7 + 1);
	}
	memset(name, 0xff, sizeof(name));
	for (unsigned k = 0; k < 255; k++) {
		name[254] = (char)k;
		cr_assert_eq(dir_lookup(&m.io, name, 255, &ino, &type, NULL), 0);
		cr_assert_eq(ino, 1000 + k);
	}
	cr_assert_eq(dir_lookup(&m.io, name, 254, &ino, &type, NULL), -ENOENT);
	cr_assert_eq(dir_lookup(&m.io, "a\0b", 3, &ino, &type, NULL), 0);
	cr_assert_eq(ino, 2000);
	cr_assert_eq(dir_lookup(&m.io, "a\0", 2, &ino, &type, NULL), 0);
	cr_assert_eq(ino, 2001);

	collect_all(&m, &c);
	cr_assert_eq(c.n, 256 + 255 + 2);
	for (size_t i = 0; i < c.n; i++) {
		size_t idx;

		if (c.ino[i] < 256) {
			cr_assert_eq(c.len[i], 1);
			cr_assert_eq((uint8_t)c.name[i][0], c.ino[i]);
			idx = c.ino[i];
		} else if (c.ino[i] < 2000) {
			cr_assert_eq(c.len[i], 255);
			memset(name, 0xff, sizeof(name));
			name[254] = (char)(c.ino[i] - 1000);
			cr_assert_eq(memcmp(c.name[i], name, 255), 0);
			idx = 256 + c.ino[i] - 1000;
		} else {
			cr_assert_eq(c.len[i], c.ino[i] == 2000 ? 3 : 2);
			cr_assert_eq(memcmp(c.name[i], c.ino[i] == 2000 ? "a\0b" : "a\0", c.len[i]),
				     0);
			idx = 511 + c.ino[i] - 2000;
		}
		cr_assert_eq(seen[idx]++, 0);
		if (i > 0)
			cr_assert_gt(c.cookie[i], c.cookie[i - 1]);
	}
	collect_free(&c);
	assert_clean(&m);
	mem_close(&m);
}

Test(dir, iterate_stops_and_resumes_after_a_cookie)
{
	struct memio m;
	struct collect all, part;
	uint64_t after = 0;
	size_t got = 0;
	bool eof = false;
	char buf[64];

	mem_open(&m);
	for (size_t i = 0; i < 500; i++) {
		size_t len = make_name(buf, i, 30);

		cr_assert_eq(dir_insert(&m.io, buf, len, i, 1, NULL), 0);
	}
	collect_all(&m, &all);
	cr_assert_eq(all.n, 500);
	while (!eof) {
		memset(&part, 0, sizeof(part));
		part.stop_after = 7;
		cr_assert_eq(dir_iterate(&m.io, after, collect_fn, &part, &eof), 0);
		cr_assert(eof || part.n == 7);
		for (size_t i = 0; i < part.n; i++, got++) {
			cr_assert_eq(part.cookie[i], all.cookie[got]);
			cr_assert_gt(part.cookie[i], after);
		}
		if (part.n)
			after = part.cookie[part.n - 1];
		collect_free(&part);
	}
	cr_assert_eq(got, 500);
	/* Starting after the last cookie or at the top of the space: nothing. */
	cr_assert_eq(dir_iterate(&m.io, all.cookie[499], never_called, NULL, &eof), 0);
	cr_assert(eof);
	cr_assert_eq(dir_iterate(&m.io, UINT64_MAX, never_called, NULL, &eof), 0);
	cr_assert(eof);
	cr_assert_eq(dir_iterate(&m.io, 1ull << 63, never_called, NULL, &eof), 0);
	cr_assert(eof);
	collect_free(&all);
	mem_close(&m);
}

/* ---- bulk ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(dir, hundred_thousand_random_names)
{
	const size_t n = 100000;
	struct memio m;
	struct names nm;
	struct collect c;
	uint64_t ino, cnt, *cookies;
	uint8_t type;
	char *seen;

	mem_open(&m);
	names_make(&nm, n, 60);
	cookies = malloc(n * sizeof(*cookies));
	seen = calloc(n, 1);
	cr_assert(cookies && seen);
	for (size_t i = 0; i < n; i++) {
		int r = dir_insert(&m.io, nm.s[i], nm.len[i], i + 10, (uint8_t)(i % 7 + 1),
				   &cookies[i]);

		CHECK(r == 0, "insert %zu: %d", i, r);
	}
	cr_assert_eq(dir_count(&m.io, &cnt), 0);
	cr_assert_eq(cnt, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t cookie;
		int r = dir_lookup(&m.io, nm.s[i], nm.len[i], &ino, &type, &cookie);

		CHECK(r == 0 && ino == i + 10 && type == i % 7 + 1 && cookie == cookies[i],
		      "lookup %zu: %d", i, r);
	}
	collect_all(&m, &c);
	cr_assert_eq(c.n, n);
	for (size_t i = 0; i < c.n; i++) {
		size_t idx = c.ino[i] - 10;

		CHECK(idx < n && !seen[idx], "entry %zu returned twice or unknown", idx);
		seen[idx] = 1;
		CHECK(c.len[i] == nm.len[idx] && memcmp(c.name[i], nm.s[idx], c.len[i]) == 0,
		      "name of %zu", idx);
		CHECK(c.cookie[i] == cookies[idx], "cookie of %zu", idx);
		CHECK(i == 0 || c.cookie[i] > c.cookie[i - 1], "order at %zu", i);
	}
	qsort(cookies, n, sizeof(*cookies), cmp_u64);
	for (size_t i = 1; i < n; i++)
		CHECK(cookies[i] != cookies[i - 1], "cookies unique");
	cr_assert_geq(hdr_height(&m), 2);
	assert_clean(&m);
	collect_free(&c);
	free(cookies);
	free(seen);
	names_free(&nm);
	mem_close(&m);
}

Test(dir, maximum_size_entries_split_cleanly)
{
	struct memio m;
	char name[255];
	uint64_t ino;

	mem_open(&m);
	for (size_t i = 0; i < 3000; i++) {
		memset(name, 'z', sizeof(name));
		sprintf(name, "%zu", i);
		name[strlen(name)] = '-';
		cr_assert_eq(dir_insert(&m.io, name, 255, i, 1, NULL), 0);
		/* A one-byte name fits wherever it lands. */
		sprintf(name, "%zu", i);
		if (i % 10 == 0)
			cr_assert_eq(dir_insert(&m.io, name, strlen(name), i + 100000, 1, NULL), 0);
	}
	for (size_t i = 0; i < 3000; i++) {
		memset(name, 'z', sizeof(name));
		sprintf(name, "%zu", i);
		name[strlen(name)] = '-';
		cr_assert_eq(dir_lookup(&m.io, name, 255, &ino, NULL, NULL), 0);
		cr_assert_eq(ino, i);
	}
	assert_clean(&m);
	mem_close(&m);
}

/*
 * Readdir in pages while the directory changes between pages. Every name
 * present for the whole walk comes back exactly once, no name twice,
 * cookies only grow, and a name is only returned while it is present.
 */
Test(dir, iteration_survives_interleaved_inserts_and_removes)
{
	const size_t pool = 40000, start = 20000;
	struct memio m;
	struct names nm;
	char *present, *always, *returned;
	uint64_t after = 0, last_cookie = 0;
	bool eof = false;
	size_t pages = 0;

	mem_open(&m);
	names_make(&nm, pool, 40);
	present = calloc(pool, 1);
	always = calloc(pool, 1);
	returned = calloc(pool, 1);
	cr_assert(present && always && returned);
	for (size_t i = 0; i < start; i++) {
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
		present[i] = always[i] = 1;
	}
	while (!eof) {
		struct collect c = {.stop_after = 100};

		cr_assert_eq(dir_iterate(&m.io, after, collect_fn, &c, &eof), 0);
		for (size_t i = 0; i < c.n; i++) {
			size_t idx = name_index(c.name[i]);

			cr_assert_lt(idx, pool);
			cr_assert_eq(c.ino[i], idx);
			cr_assert(present[idx], "name %zu returned while absent", idx);
			cr_assert_eq(returned[idx], 0, "name %zu returned twice", idx);
			returned[idx] = 1;
			cr_assert_gt(c.cookie[i], last_cookie);
			last_cookie = c.cookie[i];
		}
		if (c.n)
			after = c.cookie[c.n - 1];
		collect_free(&c);
		pages++;
		/* Between pages: remove 60 names and insert 60, anywhere. */
		for (int k = 0; k < 60; k++) {
			size_t r = rnd() % pool;

			if (present[r]) {
				cr_assert_eq(dir_remove(&m.io, nm.s[r], nm.len[r], NULL, NULL), 0);
				present[r] = always[r] = 0;
			}
			r = rnd() % pool;
			if (!present[r]) {
				cr_assert_eq(dir_insert(&m.io, nm.s[r], nm.len[r], r, 1, NULL), 0);
				present[r] = 1;
			}
		}
	}
	cr_assert_gt(pages, 150);
	for (size_t i = 0; i < pool; i++)
		if (always[i])
			cr_assert(returned[i], "name %zu present throughout but not returned", i);
	assert_clean(&m);
	free(present);
	free(always);
	free(returned);
	names_free(&nm);
	mem_close(&m);
}

/* ---- collisions -------------------------------------------------------- */

Test(dir, colliding_names_get_the_smallest_free_seq)
{
	const size_t n = 600;
	struct memio m;
	struct names nm;
	struct collect c;
	uint64_t cookie, ino, *cookies;
	unsigned next_seq[8] = {0};

	dir_test_hash_bits = 3; /* hashes 1..7: about 85 names each */
	mem_open(&m);
	names_make(&nm, n + 1, 50);
	cookies = calloc(n + 1, sizeof(*cookies));
	cr_assert_not_null(cookies);
	for (size_t i = 0; i < n; i++) {
		uint64_t h = dir_hash56(nm.s[i], nm.len[i]);

		cr_assert(h >= 1 && h <= 7);
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, &cookies[i]), 0);
		cr_assert_eq(cookies[i], h << 8 | next_seq[h]++, "name %zu", i);
	}
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], &ino, NULL, &cookie), 0);
		cr_assert_eq(ino, i);
		cr_assert_eq(cookie, cookies[i]);
	}
	assert_clean(&m);

	/* Remove two names of one hash: the next colliding name takes the
	 * smaller freed seq, the one after it the other. */
	uint64_t h = dir_hash56(nm.s[0], nm.len[0]);
	size_t a = SIZE_MAX, b = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		if (dir_hash56(nm.s[i], nm.len[i]) != h)
			continue;
		if ((cookies[i] & 0xFF) == 40)
			a = i;
		if ((cookies[i] & 0xFF) == 12)
			b = i;
	}
	cr_assert(a != SIZE_MAX && b != SIZE_MAX);
	cr_assert_eq(dir_remove(&m.io, nm.s[a], nm.len[a], &ino, NULL), 0);
	cr_assert_eq(ino, a);
	cr_assert_eq(dir_remove(&m.io, nm.s[b], nm.len[b], &ino, NULL), 0);
	cr_assert_eq(ino, b);
	cr_assert_eq(dir_lookup(&m.io, nm.s[a], nm.len[a], NULL, NULL, &cookie), -ENOENT);
	cr_assert_eq(cookie, h << 8 | 12, "an absent name's cookie is the one it would get");
	/* The others of the group are all still there. */
	for (size_t i = 0; i < n; i++) {
		int want = i == a || i == b ? -ENOENT : 0;

		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], &ino, NULL, &cookie), want);
		if (!want)
			cr_assert_eq(cookie, cookies[i]);
	}
	cr_assert_eq(dir_insert(&m.io, nm.s[a], nm.len[a], a, 1, &cookie), 0);
	cr_assert_eq(cookie, h << 8 | 12);
	cr_assert_eq(dir_insert(&m.io, nm.s[b], nm.len[b], b, 1, &cookie), 0);
	cr_assert_eq(cookie, h << 8 | 40);
	cr_assert_eq(dir_replace(&m.io, nm.s[b], nm.len[b], 777, 3), 0);
	cr_assert_eq(dir_lookup(&m.io, nm.s[b], nm.len[b], &ino, NULL, NULL), 0);
	cr_assert_eq(ino, 777);

	collect_all(&m, &c);
	cr_assert_eq(c.n, n);
	for (size_t i = 1; i < c.n; i++)
		cr_assert_gt(c.cookie[i], c.cookie[i - 1]);
	collect_free(&c);
	assert_clean(&m);
	free(cookies);
	names_free(&nm);
	mem_close(&m);
}

/* With one hash bit every name collides: one group of up to 256 names,
 * long enough to span many leaves. */
Test(dir, a_full_collision_group_spans_leaves_and_refuses_the_257th)
{
	struct memio m;
	struct names nm;
	struct collect c;
	uint64_t cookie, ino;
	size_t victim = SIZE_MAX;

	dir_test_hash_bits = 1;
	mem_open(&m);
	names_make(&nm, 257, 200);
	for (size_t i = 0; i < 256; i++) {
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, &cookie), 0);
		cr_assert_eq(cookie, 1 << 8 | i);
	}
	cr_assert_gt(m.n, 10, "the group spans leaves");
	cr_assert_eq(dir_insert(&m.io, nm.s[256], nm.len[256], 256, 1, &cookie), -ENOSPC);
	cr_assert_eq(dir_lookup(&m.io, nm.s[256], nm.len[256], NULL, NULL, &cookie), -ENOENT);
	cr_assert_eq(cookie, 0, "no cookie is left for it");
	for (size_t i = 0; i < 256; i++) {
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], &ino, NULL, &cookie), 0);
		cr_assert_eq(ino, i);
		cr_assert_eq(cookie, 1 << 8 | i);
		if (cookie == (1 << 8 | 200))
			victim = i;
	}
	assert_clean(&m);
	cr_assert_eq(dir_remove(&m.io, nm.s[victim], nm.len[victim], NULL, NULL), 0);
	cr_assert_eq(dir_lookup(&m.io, nm.s[256], nm.len[256], NULL, NULL, &cookie), -ENOENT);
	cr_assert_eq(cookie, 1 << 8 | 200);
	cr_assert_eq(dir_insert(&m.io, nm.s[256], nm.len[256], 256, 1, &cookie), 0);
	cr_assert_eq(cookie, 1 << 8 | 200);
	assert_clean(&m);
	collect_all(&m, &c);
	cr_assert_eq(c.n, 256);
	collect_free(&c);
	/* Remove everything, from the end of the group, so leaves empty out. */
	for (size_t i = 257; i-- > 0;) {
		if (i == victim)
			continue;
		cr_assert_eq(dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL), 0);
	}
	cr_assert_eq(hdr_u64(&m, HDR_COUNT), 0);
	cr_assert_eq(hdr_height(&m), 1);
	assert_clean(&m);
	names_free(&nm);
	mem_close(&m);
}

/* ---- space, block reuse, failure atomicity ------------------------------ */

static unsigned count_free(struct memio *m)
{
	return (unsigned)hdr_u64(m, HDR_NFREE);
}

Test(dir, emptied_directory_frees_its_blocks_and_reuses_them)
{
	const size_t n = 20000;
	struct memio m;
	struct names nm;
	uint64_t gets;
	size_t blocks;
	bool eof;

	mem_open(&m);
	names_make(&nm, n, 30);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
	blocks = m.n;
	cr_assert_geq(hdr_height(&m), 2);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL), 0);
	cr_assert_eq(hdr_u64(&m, HDR_COUNT), 0);
	cr_assert_eq(hdr_height(&m), 1, "the root collapsed to one empty leaf");
	cr_assert_eq(count_free(&m), blocks - 2);
	assert_clean(&m);
	gets = m.gets;
	cr_assert_eq(dir_iterate(&m.io, 0, never_called, NULL, &eof), 0);
	cr_assert(eof);
	cr_assert_leq(m.gets - gets, 2, "listing an emptied directory reads header and root");

	/* The same inserts again take the freed blocks, not new ones. */
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
	cr_assert_eq(m.n, blocks);
	assert_clean(&m);
	names_free(&nm);
	mem_close(&m);
}

Test(dir, operations_touch_log_n_blocks_and_stay_within_the_dirty_bound)
{
	const size_t n = 60000;
	struct memio m;
	struct names nm;
	uint64_t max_get = 0, max_dirty = 0, max_append = 0;

	mem_open(&m);
	names_make(&nm, n, 40);
	for (size_t i = 0; i < n; i++) {
		uint64_t g = m.gets, d = m.dirties, a = m.appends;
		unsigned h = hdr_height(&m);

		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
		CHECK(m.dirties - d <= 2 * h + 2, "insert dirtied %llu blocks at height %u",
		      (unsigned long long)(m.dirties - d), h);
		CHECK(m.appends - a <= h + 1, "insert appended too much");
		if (m.gets - g > max_get)
			max_get = m.gets - g;
		if (m.dirties - d > max_dirty)
			max_dirty = m.dirties - d;
		if (m.appends - a > max_append)
			max_append = m.appends - a;
	}
	cr_assert_leq(max_get, 2 * hdr_height(&m) + 2);
	for (size_t i = 0; i < n; i++) {
		uint64_t g = m.gets, d = m.dirties, a = m.appends;
		unsigned h = hdr_height(&m);

		cr_assert_eq(dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL), 0);
		CHECK(m.dirties - d <= 2 * h + 1, "remove dirtied too much");
		CHECK(m.appends == a, "remove appended");
		CHECK(m.gets - g <= 4 * h + 1, "remove read %llu blocks at height %u",
		      (unsigned long long)(m.gets - g), h);
	}
	assert_clean(&m);
	names_free(&nm);
	mem_close(&m);
}

Test(dir, running_out_of_space_changes_nothing)
{
	struct memio m;
	struct names nm;
	size_t ok = 0, fails = 0;
	char *present;
	uint64_t cnt;

	mem_open(&m);
	m.limit = 40;
	names_make(&nm, 20000, 60);
	present = calloc(nm.n, 1);
	cr_assert_not_null(present);
	for (size_t i = 0; i < nm.n && fails < 300; i++) {
		int r = dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL);

		if (r == 0) {
			present[i] = 1;
			ok++;
			continue;
		}
		cr_assert_eq(r, -ENOSPC);
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], NULL, NULL, NULL), -ENOENT);
		if (fails++ % 20 == 0)
			assert_clean(&m);
	}
	cr_assert_eq(fails, 300);
	cr_assert_eq(m.n, 40);
	cr_assert_eq(dir_count(&m.io, &cnt), 0);
	cr_assert_eq(cnt, ok);
	for (size_t i = 0; i < nm.n; i++)
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], NULL, NULL, NULL),
			     present[i] ? 0 : -ENOENT);
	assert_clean(&m);
	/* Emptying it frees the blocks; the same inserts fit again. */
	for (size_t i = 0; i < nm.n; i++)
		if (present[i])
			cr_assert_eq(dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL), 0);
	cr_assert_eq(count_free(&m), 38);
	for (size_t i = 0; i < nm.n; i++)
		if (present[i])
			cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
	assert_clean(&m);
	free(present);
	names_free(&nm);
	mem_close(&m);
}

Test(dir, a_failing_get_dirty_leaves_the_directory_unchanged)
{
	const size_t pool = 6000;
	struct memio m;
	struct names nm;
	char *present;
	size_t failures = 0;

	mem_open(&m);
	names_make(&nm, pool, 60);
	present = calloc(pool, 1);
	cr_assert_not_null(present);
	for (size_t i = 0; i < pool / 2; i++) {
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
		present[i] = 1;
	}
	for (int op = 0; op < 20000; op++) {
		size_t r = rnd() % pool;
		uint64_t before = hdr_u64(&m, HDR_COUNT), ino;
		int e;

		m.fail_dirty = (long)(rnd() % 8);
		if (present[r])
			e = dir_remove(&m.io, nm.s[r], nm.len[r], NULL, NULL);
		else
			e = dir_insert(&m.io, nm.s[r], nm.len[r], r, 1, NULL);
		m.fail_dirty = -1;
		if (e == 0) {
			present[r] ^= 1;
			continue;
		}
		cr_assert_eq(e, -EIO);
		failures++;
		cr_assert_eq(hdr_u64(&m, HDR_COUNT), before);
		cr_assert_eq(dir_lookup(&m.io, nm.s[r], nm.len[r], &ino, NULL, NULL),
			     present[r] ? 0 : -ENOENT);
		if (failures % 97 == 0)
			assert_clean(&m);
	}
	cr_assert_gt(failures, 1000);
	for (size_t i = 0; i < pool; i++)
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], NULL, NULL, NULL),
			     present[i] ? 0 : -ENOENT);
	assert_clean(&m);
	free(present);
	names_free(&nm);
	mem_close(&m);
}

/* Under a copy-on-write cache, a block written without get_dirty, or
 * through a pointer from before get_dirty, would be lost or caught. */
Test(dir, writes_only_blocks_it_dirtied)
{
	const size_t pool = 3000;
	struct memio m;
	struct names nm;
	uint8_t *type; /* 0 = absent */
	uint8_t t;

	mem_open(&m);
	m.cow = true;
	m.verify = true;
	names_make(&nm, pool, 80);
	type = calloc(pool, 1);
	cr_assert_not_null(type);
	mem_freeze(&m);
	for (int op = 0; op < 12000; op++) {
		size_t r = rnd() % pool;

		if (op % 3 == 2) {
			uint8_t nt = (uint8_t)(1 + rnd() % 7);

			cr_assert_eq(dir_replace(&m.io, nm.s[r], nm.len[r], r, nt),
				     type[r] ? 0 : -ENOENT);
			if (type[r])
				type[r] = nt;
		} else if (type[r]) {
			cr_assert_eq(dir_remove(&m.io, nm.s[r], nm.len[r], NULL, NULL), 0);
			type[r] = 0;
		} else {
			cr_assert_eq(dir_insert(&m.io, nm.s[r], nm.len[r], r, 1, NULL), 0);
			type[r] = 1;
		}
		cr_assert_eq(mem_undeclared_writes(&m), 0, "op %d wrote a block it did not dirty",
			     op);
		if (rnd() % 2)
			mem_freeze(&m);
	}
	for (size_t i = 0; i < pool; i++) {
		cr_assert_eq(dir_lookup(&m.io, nm.s[i], nm.len[i], NULL, &t, NULL),
			     type[i] ? 0 : -ENOENT);
		if (type[i])
			cr_assert_eq(t, type[i]);
	}
	assert_clean(&m);
	/* Emptying frees leaves (unlinking them from their predecessors)
	 * and collapses the root; refilling takes blocks off the free list. */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < pool; i++) {
			size_t r = round ? pool - 1 - i : i;

			if (type[r])
				cr_assert_eq(dir_remove(&m.io, nm.s[r], nm.len[r], NULL, NULL), 0);
			type[r] = 0;
			cr_assert_eq(mem_undeclared_writes(&m), 0, "remove wrote undeclared");
			if (rnd() % 2)
				mem_freeze(&m);
		}
		cr_assert_eq(hdr_height(&m), 1);
		assert_clean(&m);
		for (size_t i = 0; i < pool; i++) {
			cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
			type[i] = 1;
			cr_assert_eq(mem_undeclared_writes(&m), 0, "insert wrote undeclared");
			if (rnd() % 2)
				mem_freeze(&m);
		}
		assert_clean(&m);
	}
	free(type);
	names_free(&nm);
	mem_close(&m);
}

/* ---- corruption -------------------------------------------------------- */

static uint32_t blk_magic(struct memio *m, size_t fbn)
{
	uint32_t v;

	memcpy(&v, m->blk[fbn], 4);
	return le32toh(v);
}

#define LEAF_MAGIC 0x4C524944u
#define INT_MAGIC  0x49524944u

static size_t find_block(struct memio *m, uint32_t magic, size_t from)
{
	for (size_t f = from; f < m->n; f++)
		if (blk_magic(m, f) == magic)
			return f;
	cr_assert_fail("no block with magic %#x", magic);
	return 0;
}

/* Builds a directory of height 2 with some freed blocks. */
static void build_for_corruption(struct memio *m, struct names *nm)
{
	mem_open(m);
	names_make(nm, 6000, 30);
	for (size_t i = 0; i < nm->n; i++)
		cr_assert_eq(dir_insert(&m->io, nm->s[i], nm->len[i], i, 1, NULL), 0);
	for (size_t i = 0; i < 3000; i++)
		cr_assert_eq(dir_remove(&m->io, nm->s[i], nm->len[i], NULL, NULL), 0);
	cr_assert_eq(hdr_height(m), 2);
	assert_clean(m);
}

/* Runs every operation over the whole directory: each must give 0, the
 * expected -ENOENT, or -EUCLEAN, never crash (the sanitizers watch). */
static int all_ops_survive(struct memio *m, struct names *nm)
{
	struct collect c;
	bool eof;
	int euclean = 0, r;

	for (size_t i = 0; i < nm->n; i++) {
		r = dir_lookup(&m->io, nm->s[i], nm->len[i], NULL, NULL, NULL);
		CHECK(r == 0 || r == -ENOENT || r == -EUCLEAN, "lookup gave %d", r);
		euclean += r == -EUCLEAN;
	}
	memset(&c, 0, sizeof(c));
	r = dir_iterate(&m->io, 0, collect_fn, &c, &eof);
	CHECK(r == 0 || r == -EUCLEAN, "iterate gave %d", r);
	euclean += r == -EUCLEAN;
	collect_free(&c);
	for (size_t i = 0; i < nm->n; i++) {
		r = dir_remove(&m->io, nm->s[i], nm->len[i], NULL, NULL);
		CHECK(r == 0 || r == -ENOENT || r == -EUCLEAN, "remove gave %d", r);
		r = dir_insert(&m->io, nm->s[i], nm->len[i], i, 1, NULL);
		CHECK(r == 0 || r == -EEXIST || r == -EUCLEAN, "insert gave %d", r);
		euclean += r == -EUCLEAN;
	}
	return euclean;
}

struct corruption {
	const char *what;
	void (*apply)(struct memio *m);
	bool ops_notice; /* operations must meet -EUCLEAN */
};

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void c_header_count(struct memio *m)
{
	put64(m->blk[0] + HDR_COUNT, hdr_u64(m, HDR_COUNT) + 1);
}

static void c_leaf_magic(struct memio *m)
{
	m->blk[find_block(m, LEAF_MAGIC, 1)][0] ^= 0x40;
}

static void c_leaf_slot_out_of_bounds(struct memio *m)
{
	put16(m->blk[find_block(m, LEAF_MAGIC, 1)] + 32, 4090);
}

static void c_leaf_nslots_huge(struct memio *m)
{
	put16(m->blk[find_block(m, LEAF_MAGIC, 1)] + 6, 0xFFFF);
}

static void c_leaf_namelen(struct memio *m)
{
	uint8_t *b = m->blk[find_block(m, LEAF_MAGIC, 1)];
	uint16_t off;

	memcpy(&off, b + 32, 2);
	b[le16toh(off) + 17] = 0;
}

static void c_leaf_key(struct memio *m)
{
	uint8_t *b = m->blk[find_block(m, LEAF_MAGIC, 1)];
	uint16_t off;

	memcpy(&off, b + 32 + 2, 2); /* the second entry */
	b[le16toh(off) + 3] ^= 0x10;
}

static void c_leaf_chain(struct memio *m)
{
	uint8_t *b = m->blk[find_block(m, LEAF_MAGIC, 1)];

	put64(b + 16, 0);
}

static void c_leaf_chain_loop(struct memio *m)
{
	size_t f = find_block(m, LEAF_MAGIC, 1);

	put64(m->blk[f] + 16, f);
}

static void c_internal_child(struct memio *m)
{
	put64(m->blk[hdr_u64(m, HDR_ROOT)] + 32 + 16 + 8, 1ull << 40);
}

static void c_internal_order(struct memio *m)
{
	uint8_t *b = m->blk[hdr_u64(m, HDR_ROOT)];

	memcpy(b + 32 + 16 * 3, b + 32 + 16 * 1, 8); /* key 3 = key 1 */
}

static void c_internal_count(struct memio *m)
{
	put16(m->blk[hdr_u64(m, HDR_ROOT)] + 6, 300);
}

static void c_root_is_a_leaf(struct memio *m)
{
	put64(m->blk[0] + HDR_ROOT, find_block(m, LEAF_MAGIC, 1));
}

static void c_free_list(struct memio *m)
{
	m->blk[hdr_u64(m, HDR_FREE)][0] ^= 1;
}

static void c_free_count(struct memio *m)
{
	put64(m->blk[0] + HDR_NFREE, hdr_u64(m, HDR_NFREE) + 1);
}

static void c_header_magic(struct memio *m)
{
	m->blk[0][1] ^= 1;
}

static void c_nblocks(struct memio *m)
{
	put64(m->blk[0] + HDR_NBLOCKS, 1);
}

static const struct corruption corruptions[] = {
	{"header entry count", c_header_count, false},
	{"leaf magic", c_leaf_magic, true},
	{"leaf slot out of bounds", c_leaf_slot_out_of_bounds, true},
	{"leaf slot count huge", c_leaf_nslots_huge, true},
	{"leaf name length 0", c_leaf_namelen, true},
	{"leaf key bit flip", c_leaf_key, false},
	{"leaf chain cut", c_leaf_chain, false},
	{"leaf chain loop", c_leaf_chain_loop, true},
	{"internal child out of file", c_internal_child, true},
	{"internal keys out of order", c_internal_order, false},
	{"internal child count", c_internal_count, true},
	{"root points at a leaf", c_root_is_a_leaf, true},
	{"free block magic", c_free_list, false},
	{"free count", c_free_count, false},
	{"header magic", c_header_magic, true},
	{"header block count", c_nblocks, true},
};

Test(dir, check_reports_each_kind_of_corruption)
{
	for (size_t k = 0; k < sizeof(corruptions) / sizeof(corruptions[0]); k++) {
		const struct corruption *co = &corruptions[k];
		struct memio m;
		struct names nm;
		struct bad_log l;
		int r, eu;

		build_for_corruption(&m, &nm);
		co->apply(&m);
		r = check(&m, &l);
		cr_assert_gt(r, 0, "%s: dir_check found nothing", co->what);
		eu = all_ops_survive(&m, &nm);
		if (co->ops_notice)
			cr_assert_gt(eu, 0, "%s: no operation noticed", co->what);
		names_free(&nm);
		mem_close(&m);
	}
}

Test(dir, check_on_valid_directories_reports_nothing)
{
	struct memio m;
	struct names nm;
	int calls = 0;

	mem_open(&m);
	assert_clean(&m);
	names_make(&nm, 3000, 100);
	for (size_t i = 0; i < nm.n; i++) {
		cr_assert_eq(dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL), 0);
		if (i % 300 == 0)
			assert_clean(&m);
	}
	for (size_t i = 0; i < nm.n; i += 3) {
		cr_assert_eq(dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL), 0);
		if (i % 300 == 0)
			assert_clean(&m);
	}
	cr_assert_eq(dir_check(&m.io, NULL, &calls), 0);
	names_free(&nm);
	mem_close(&m);
}

/* ---- a million names ---------------------------------------------------- */

/* Counts entries and checks their order, without keeping them. */
struct order {
	uint64_t n, last;
};

static int order_fn(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
		    uint64_t cookie)
{
	struct order *o = arg;

	(void)name, (void)len, (void)ino, (void)type;
	CHECK(cookie > o->last, "cookies out of order");
	o->last = cookie;
	o->n++;
	return 0;
}

Test(dir, one_million_names)
{
	const size_t n = 1000000;
	struct memio m;
	struct names nm;
	uint64_t ino, cnt, gets;
	unsigned height;
	bool eof;
	double t0, t_ins, t_look, t_iter, t_chk, t_rm;

	mem_open(&m);
	names_make(&nm, n, 24);

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int r = dir_insert(&m.io, nm.s[i], nm.len[i], i, 1, NULL);

		CHECK(r == 0, "insert %zu: %d", i, r);
	}
	t_ins = now_s() - t0;
	cr_assert_eq(dir_count(&m.io, &cnt), 0);
	cr_assert_eq(cnt, n);

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int r = dir_lookup(&m.io, nm.s[i], nm.len[i], &ino, NULL, NULL);

		CHECK(r == 0 && ino == i, "lookup %zu: %d", i, r);
	}
	t_look = now_s() - t0;

	t0 = now_s();
	{
		struct order o = {0};

		cr_assert_eq(dir_iterate(&m.io, 0, order_fn, &o, &eof), 0);
		cr_assert(eof);
		cr_assert_eq(o.n, n);
	}
	t_iter = now_s() - t0;

	t0 = now_s();
	assert_clean(&m);
	t_chk = now_s() - t0;

	height = hdr_height(&m);
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int r = dir_remove(&m.io, nm.s[i], nm.len[i], NULL, NULL);

		CHECK(r == 0, "remove %zu: %d", i, r);
	}
	t_rm = now_s() - t0;

	cr_assert_eq(dir_count(&m.io, &cnt), 0);
	cr_assert_eq(cnt, 0);
	gets = m.gets;
	cr_assert_eq(dir_iterate(&m.io, 0, never_called, NULL, &eof), 0);
	cr_assert(eof);
	cr_assert_leq(m.gets - gets, 2);
	assert_clean(&m);
	fprintf(stderr,
		"dir 1M names: insert %.3f s, lookup %.3f s, iterate %.3f s, check %.3f s, "
		"remove %.3f s (%zu blocks, height %u)\n",
		t_ins, t_look, t_iter, t_chk, t_rm, m.n, height);
	names_free(&nm);
	mem_close(&m);
}
