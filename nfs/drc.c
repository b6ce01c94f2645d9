/*
 * drc.c - the duplicate-request cache.
 *
 * A client that hears no reply retransmits the call with the same XID.
 * For idempotent procedures that is harmless; a retransmitted REMOVE,
 * RENAME or exclusive CREATE executed twice answers a wrong error, or
 * worse. The cache remembers non-idempotent calls by (peer address and
 * port, XID, program, version, procedure, checksum of the arguments) and:
 *   - a retransmission of a call still executing is dropped (the reply
 *     to the original will do);
 *   - a retransmission of a finished call gets the stored reply again.
 * The checksum keeps a client that reuses XIDs after a reboot from
 * getting an old answer to a new question.
 *
 * Entries are IN_PROGRESS from drc_lookup until drc_store (DONE) or
 * drc_abandon (gone). The cache is bounded by max_entries: a new call
 * evicts the least recently used DONE entry; IN_PROGRESS entries are never
 * evicted (DESIGN §9.7: an entry lives at least until its reply was sent),
 * so when every slot is in progress the new call runs uncached. Only DONE
 * entries are on the LRU list, which makes the victim its head.
 *
 * The structure: a chained hash table with a power-of-two bucket count at
 * least max_entries (so chains stay short), and the LRU TAILQ.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs/nfs_int.h"

/* Replies of non-idempotent procedures are a few hundred bytes; one larger
 * than this is not kept (the call simply runs uncached). */
#define DRC_MAX_REPLY_BYTES 16384

enum drc_state { DRC_IN_PROGRESS = 1, DRC_DONE = 2 };

struct drc_key {
	struct in6_addr addr; /* IPv4 as ::ffff:a.b.c.d */
	uint16_t port;
	uint32_t xid, prog, vers, proc;
	uint64_t sum; /* of the argument bytes */
};

struct drc_entry {
	struct drc_key key;
	uint64_t hash;
	enum drc_state state;
	uint8_t *reply; /* DONE: owned */
	size_t reply_len;
	LIST_ENTRY(drc_entry) chain;
	TAILQ_ENTRY(drc_entry) lru; /* DONE only */
};
LIST_HEAD(drc_bucket, drc_entry);
TAILQ_HEAD(drc_lru, drc_entry);

struct drc {
	size_t max_entries;
	size_t nentries; /* both states */
	size_t mask;	 /* buckets - 1 */
	struct drc_bucket *buckets;
	struct drc_lru lru; /* DONE entries, least recently used first */
};

/* ---- the argument checksum: XXH64 (seed 0) --------------------------------- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t xxh_round(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}

static uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
	acc ^= xxh_round(0, v);
	return acc * P1 + P4;
}

uint64_t drc_checksum(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t h;
	if (len >= 32) {
		uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1;
		const uint8_t *limit = end - 32;
		do {
			v1 = xxh_round(v1, rd64(p));
			v2 = xxh_round(v2, rd64(p + 8));
			v3 = xxh_round(v3, rd64(p + 16));
			v4 = xxh_round(v4, rd64(p + 24));
			p += 32;
		} while (p <= limit);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else {
		h = P5;
	}
	h += (uint64_t)len;
	while (p + 8 <= end) {
		h ^= xxh_round(0, rd64(p));
		h = rotl64(h, 27) * P1 + P4;
		p += 8;
	}
	if (p + 4 <= end) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl64(h, 23) * P2 + P3;
		p += 4;
	}
	while (p < end) {
		h ^= (uint64_t)*p * P5;
		h = rotl64(h, 11) * P1;
		p++;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

/* ---- the table ---------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t key_hash(const struct drc_key *k)
{
	uint64_t a, b;
	memcpy(&a, &k->addr.s6_addr[0], 8);
	memcpy(&b, &k->addr.s6_addr[8], 8);
	uint64_t h = k->sum;
	h = mix(h, a);
	h = mix(h, b);
	h = mix(h, ((uint64_t)k->port << 32) | k->xid);
	h = mix(h, ((uint64_t)k->prog << 32) | k->vers);
	h = mix(h, k->proc);
	/* a final avalanche (splitmix64) so the low bits index well */
	h ^= h >> 30;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 27;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 31;
	return h;
}

static bool key_eq(const struct drc_key *a, const struct drc_key *b)
{
	return a->xid == b->xid && a->sum == b->sum && a->port == b->port && a->proc == b->proc &&
	       a->prog == b->prog && a->vers == b->vers &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static void key_of(const struct rpc_call *c, struct drc_key *k)
{
	memset(k, 0, sizeof(*k));
	if (c->peer.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&c->peer;
		k->addr.s6_addr[10] = 0xff;
		k->addr.s6_addr[11] = 0xff;
		memcpy(&k->addr.s6_addr[12], &sin->sin_addr, 4);
		k->port = ntohs(sin->sin_port);
	} else if (c->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&c->peer;
		k->addr = sin6->sin6_addr;
		k->port = ntohs(sin6->sin6_port);
	}
	k->xid = c->xid;
	k->prog = c->prog;
	k->vers = c->vers;
	k->proc = c->proc;
	k->sum = drc_checksum(c->args, c->args_len);
}

int drc_new(size_t max_entries, struct drc **out)
{
	if (max_entries == 0 || max_entries > ((size_t)1 << 24))
		return -EINVAL;
	struct drc *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	size_t n = 16;
	while (n < max_entries)
		n <<= 1;
	d->buckets = calloc(n, sizeof(*d->buckets));
	if (d->buckets == NULL) {
		free(d);
		return -ENOMEM;
	}
	d->mask = n - 1;
	d->max_entries = max_entries;
	TAILQ_INIT(&d->lru);
	*out = d;
	return 0;
}

static void entry_free(struct drc *d, struct drc_entry *e)
{
	LIST_REMOVE(e, chain);
	if (e->state == DRC_DONE)
		TAILQ_REMOVE(&d->lru, e, lru);
	d->nentries--;
	free(e->reply);
	free(e);
}

void drc_free(struct drc *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i <= d->mask; i++) {
		struct drc_entry *e;
		while ((e = LIST_FIRST(&d->buckets[i])) != NULL)
			entry_free(d, e);
	}
	free(d->buckets);
	free(d);
}

/* Only a 0 sets c->drc (NULL: uncached, the cache is full of calls in
 * progress). A hit's *reply stays valid until the next call into the
 * cache: send or copy it first. */
int drc_lookup(struct drc *d, struct rpc_call *c, const uint8_t **reply, size_t *len)
{
	struct drc_key k;
	key_of(c, &k);
	uint64_t h = key_hash(&k);
	struct drc_bucket *b = &d->buckets[h & d->mask];
	struct drc_entry *e;
	LIST_FOREACH(e, b, chain)
	{
		if (e->hash != h || !key_eq(&e->key, &k))
			continue;
		if (e->state == DRC_IN_PROGRESS)
			return 2;
		/* a hit is a use: move it to the young end */
		TAILQ_REMOVE(&d->lru, e, lru);
		TAILQ_INSERT_TAIL(&d->lru, e, lru);
		*reply = e->reply;
		*len = e->reply_len;
		return 1;
	}

	c->drc = NULL;
	if (d->nentries >= d->max_entries) {
		struct drc_entry *old = TAILQ_FIRST(&d->lru);
		if (old == NULL)
			return 0; /* every slot in progress: run uncached */
		entry_free(d, old);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return 0; /* uncached, as above */
	e->key = k;
	e->hash = h;
	e->state = DRC_IN_PROGRESS;
	LIST_INSERT_HEAD(b, e, chain);
	d->nentries++;
	c->drc = e;
	return 0;
}

void drc_store(struct drc *d, struct drc_entry *e, const uint8_t *reply, size_t len)
{
	if (e == NULL)
		return;
	if (e->state != DRC_IN_PROGRESS) {
		/* stored twice: keep the first reply, it is what went out */
		return;
	}
	uint8_t *copy = len <= DRC_MAX_REPLY_BYTES ? malloc(len ? len : 1) : NULL;
	if (copy == NULL) {
		/* too big, or no memory: the call is simply not cached */
		entry_free(d, e);
		return;
	}
	memcpy(copy, reply, len);
	e->reply = copy;
	e->reply_len = len;
	e->state = DRC_DONE;
	TAILQ_INSERT_TAIL(&d->lru, e, lru);
}

void drc_abandon(struct drc *d, struct drc_entry *e)
{
	if (e == NULL)
		return;
	entry_free(d, e);
}
