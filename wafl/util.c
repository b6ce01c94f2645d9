/*
 * util.c - small pieces the rest of wafl/ leans on: the block checksum,
 * a set of u64s, a growable pair array, clocks, UUIDs and logging.
 *
 * The checksum runs four independent multiply-rotate lanes over 8-byte
 * words (so the CPU can overlap them) and folds them with an avalanche
 * step. It is not cryptographic; it catches torn, lost and misdirected
 * writes and flipped bits, and costs about a nanosecond per 8 bytes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "wafl/wafl_int.h"

int wafl_log_level = WLOG_WARN;

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t lane(uint64_t acc, uint64_t w)
{
	acc += w * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

uint64_t wafl_cksum(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t a = seed + P1 + P2, b = seed + P2, c = seed, d = seed - P1;
	size_t i = 0;

	for (; i + 32 <= len; i += 32) {
		a = lane(a, load64(p + i));
		b = lane(b, load64(p + i + 8));
		c = lane(c, load64(p + i + 16));
		d = lane(d, load64(p + i + 24));
	}
	uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + len;
	for (; i + 8 <= len; i += 8)
		h = rotl(h ^ lane(0, load64(p + i)), 27) * P1 + P3;
	for (; i < len; i++)
		h = rotl(h ^ (p[i] * P3), 11) * P1;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t wafl_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void wafl_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void wafl_uuid(uint8_t out[16])
{
	if (getrandom(out, 16, 0) != 16) {
		/* getrandom on a booted system does not fail; fall back to time */
		uint64_t t = wafl_now_usec();
		memcpy(out, &t, 8);
		t ^= (uint64_t)(uintptr_t)out;
		memcpy(out + 8, &t, 8);
	}
}

void wafl_logf(int level, const char *fmt, ...)
{
	if (level > wafl_log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "wafl: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- u64set: open addressing, linear probing, 0 = empty ------------- */

static size_t mix(uint64_t v, size_t mask)
{
	v ^= v >> 31;
	v *= P1;
	v ^= v >> 29;
	return (size_t)v & mask;
}

static int u64set_grow(struct u64set *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 64;
	uint64_t *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t v = s->slot[i];
		if (!v)
			continue;
		size_t j = mix(v, ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = v;
	}
	free(s->slot);
	s->slot = ns;
	s->cap = ncap;
	return 0;
}

int u64set_add(struct u64set *s, uint64_t v)
{
	if ((s->n + 1) * 2 > s->cap) {
		int rc = u64set_grow(s);
		if (rc)
			return rc;
	}
	size_t j = mix(v, s->cap - 1);
	while (s->slot[j]) {
		if (s->slot[j] == v)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slot[j] = v;
	s->n++;
	return 0;
}

bool u64set_has(const struct u64set *s, uint64_t v)
{
	if (!s->n)
		return false;
	size_t j = mix(v, s->cap - 1);
	while (s->slot[j]) {
		if (s->slot[j] == v)
			return true;
		j = (j + 1) & (s->cap - 1);
	}
	return false;
}

void u64set_clear(struct u64set *s)
{
	if (s->cap > 4096) {
		u64set_free(s);
		return;
	}
	if (s->slot)
		memset(s->slot, 0, s->cap * sizeof(*s->slot));
	s->n = 0;
}

void u64set_free(struct u64set *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
}

int pairvec_push(struct pairvec *pv, uint64_t vbn, uint64_t pvbn)
{
	if (pv->n == pv->cap) {
		size_t ncap = pv->cap ? pv->cap * 2 : 256;
		struct vbnpair *nv = realloc(pv->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		pv->v = nv;
		pv->cap = ncap;
	}
	pv->v[pv->n].vbn = vbn;
	pv->v[pv->n].pvbn = pvbn;
	pv->n++;
	return 0;
}
