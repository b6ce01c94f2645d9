/*
 * The duplicate-request cache: new, in-progress and finished calls, what
 * makes two calls the same, LRU eviction order, in-progress entries never
 * evicted, abandon, the size bound, and the argument checksum (XXH64).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nfs/nfs_int.h"

static void call(struct rpc_call *c, const char *ip, uint16_t port, uint32_t xid, const void *args,
		 size_t len)
{
	memset(c, 0, sizeof(*c));
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->peer;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->peer;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		c->peerlen = sizeof(*sin);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		c->peerlen = sizeof(*sin6);
	}
	c->xid = xid;
	c->prog = 100003;
	c->vers = 3;
	c->proc = 12; /* REMOVE */
	c->args = args;
	c->args_len = len;
}

static const uint8_t args_a[] = "remove me";
static const uint8_t args_b[] = "remove you";

/* Looks c up; returns the code, checks the outputs agree with it. */
static int look(struct drc *d, struct rpc_call *c, const char *want_reply)
{
	const uint8_t *reply = NULL;
	size_t len = 0;
	c->drc = (struct drc_entry *)(uintptr_t)1; /* must be overwritten on 0 */
	int rc = drc_lookup(d, c, &reply, &len);
	if (rc == 1) {
		cr_assert_not_null(want_reply);
		cr_assert_eq(len, strlen(want_reply));
		cr_assert_eq(memcmp(reply, want_reply, len), 0);
	}
	return rc;
}

Test(drc, new_in_progress_done)
{
	struct drc *d;
	cr_assert_eq(drc_new(16, &d), 0);
	struct rpc_call c, again;
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	cr_assert_not_null(c.drc);
	struct drc_entry *e = c.drc;

	call(&again, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &again, NULL), 2);
	/* the same peer seen as IPv4-mapped IPv6 is the same peer */
	call(&again, "::ffff:10.0.0.1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &again, NULL), 2);

	drc_store(d, e, (const uint8_t *)"reply-42", 8);
	call(&again, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &again, "reply-42"), 1);
	cr_assert_eq(look(d, &again, "reply-42"), 1);

	/* an empty reply is a reply */
	call(&c, "10.0.0.1", 800, 43, NULL, 0);
	cr_assert_eq(look(d, &c, NULL), 0);
	drc_store(d, c.drc, (const uint8_t *)"", 0);
	call(&c, "10.0.0.1", 800, 43, NULL, 0);
	cr_assert_eq(look(d, &c, ""), 1);
	drc_free(d);
}

Test(drc, what_makes_a_call_the_same)
{
	struct drc *d;
	cr_assert_eq(drc_new(64, &d), 0);
	struct rpc_call c;
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	drc_store(d, c.drc, (const uint8_t *)"orig", 4);

	/* each differs in one part of the key: each is new */
	call(&c, "10.0.0.2", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 801, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 43, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 42, args_b, sizeof(args_b));
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a) - 1);
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	c.proc = 13;
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	c.vers = 2;
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "10.0.0.1", 800, 42, args_a, sizeof(args_a));
	c.prog = 100005;
	cr_assert_eq(look(d, &c, NULL), 0);
	call(&c, "2001:db8::1", 800, 42, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);

	/* and the original is still there, untouched */
	uint8_t copy[sizeof(args_a)];
	memcpy(copy, args_a, sizeof(copy));
	call(&c, "10.0.0.1", 800, 42, copy, sizeof(copy));
	cr_assert_eq(look(d, &c, "orig"), 1);
	drc_free(d); /* frees in-progress entries too (ASan checks) */
}

Test(drc, abandon)
{
	struct drc *d;
	cr_assert_eq(drc_new(4, &d), 0);
	struct rpc_call c;
	call(&c, "10.0.0.1", 800, 1, args_a, sizeof(args_a));
	cr_assert_eq(look(d, &c, NULL), 0);
	struct drc_entry *e = c.drc;
	cr_assert_not_null(e);
	cr_assert_eq(look(d, &c, NULL), 2);
	drc_abandon(d, e);
	/* gone: the retransmission runs as new */
	cr_assert_eq(look(d, &c, NULL), 0);
	cr_assert_not_null(c.drc);
	drc_store(d, c.drc, (const uint8_t *)"x", 1);
	cr_assert_eq(look(d, &c, "x"), 1);
	/* NULL (an uncached call) is fine for both */
	drc_abandon(d, NULL);
	drc_store(d, NULL, (const uint8_t *)"y", 1);
	drc_free(d);
}

/* Stores a finished call with xid x and reply "r<x>". */
static void finish(struct drc *d, uint32_t x)
{
	struct rpc_call c;
	char r[16];
	call(&c, "10.0.0.1", 900, x, &x, sizeof(x));
	cr_assert_eq(look(d, &c, NULL), 0, "xid %u", x);
	cr_assert_not_null(c.drc, "xid %u", x);
	snprintf(r, sizeof(r), "r%u", x);
	drc_store(d, c.drc, (const uint8_t *)r, strlen(r));
}

/* 1: a stored hit; 0: new (and now in progress, or uncached); 2: busy. */
static int probe(struct drc *d, uint32_t x, struct drc_entry **e)
{
	struct rpc_call c;
	char r[16];
	static uint32_t xs[64];
	xs[x % 64] = x;
	call(&c, "10.0.0.1", 900, x, &xs[x % 64], sizeof(x));
	snprintf(r, sizeof(r), "r%u", x);
	int rc = look(d, &c, r);
	if (e != NULL)
		*e = rc == 0 ? c.drc : NULL;
	return rc;
}

Test(drc, lru_eviction_order)
{
	struct drc *d;
	cr_assert_eq(drc_new(3, &d), 0);
	finish(d, 1);
	finish(d, 2);
	finish(d, 3);			    /* LRU: 1 2 3 */
	cr_assert_eq(probe(d, 1, NULL), 1); /* 2 3 1 */
	struct drc_entry *e4;
	cr_assert_eq(probe(d, 4, &e4), 0); /* evicts 2; 4 in progress */
	cr_assert_not_null(e4);
	drc_store(d, e4, (const uint8_t *)"r4", 2); /* 3 1 4 */
	cr_assert_eq(probe(d, 3, NULL), 1);	    /* 1 4 3 */
	cr_assert_eq(probe(d, 1, NULL), 1);	    /* 4 3 1 */
	cr_assert_eq(probe(d, 4, NULL), 1);	    /* 3 1 4 */
	struct drc_entry *e2, *e3, *e1, *e4b;
	cr_assert_eq(probe(d, 2, &e2), 0); /* it was evicted; now evicts 3 */
	cr_assert_not_null(e2);
	cr_assert_eq(probe(d, 3, &e3), 0); /* evicts 1 */
	cr_assert_not_null(e3);
	cr_assert_eq(probe(d, 1, &e1), 0); /* evicts 4 */
	cr_assert_not_null(e1);
	/* three in progress: nothing may go, so 4 runs uncached */
	cr_assert_eq(probe(d, 4, &e4b), 0);
	cr_assert_null(e4b);
	cr_assert_eq(probe(d, 2, NULL), 2);
	cr_assert_eq(probe(d, 3, NULL), 2);
	cr_assert_eq(probe(d, 1, NULL), 2);
	drc_free(d);
}

Test(drc, in_progress_never_evicted)
{
	struct drc *d;
	cr_assert_eq(drc_new(2, &d), 0);
	struct drc_entry *a, *b, *c, *x;
	cr_assert_eq(probe(d, 1, &a), 0);
	cr_assert_eq(probe(d, 2, &b), 0);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(probe(d, 3, &c), 0);
		cr_assert_null(c); /* uncached, every time */
	}
	cr_assert_eq(probe(d, 1, NULL), 2);
	cr_assert_eq(probe(d, 2, NULL), 2);
	drc_store(d, a, (const uint8_t *)"r1", 2);
	cr_assert_eq(probe(d, 1, NULL), 1);
	cr_assert_eq(probe(d, 3, &c), 0); /* evicts 1, the only finished one */
	cr_assert_not_null(c);
	cr_assert_eq(probe(d, 1, &x), 0);
	cr_assert_null(x); /* 2 and 3 in progress: uncached */
	cr_assert_eq(probe(d, 2, NULL), 2);
	cr_assert_eq(probe(d, 3, NULL), 2);
	drc_abandon(d, b);
	cr_assert_eq(probe(d, 1, &x), 0);
	cr_assert_not_null(x);
	drc_store(d, c, (const uint8_t *)"r3", 2);
	drc_store(d, x, (const uint8_t *)"r1", 2);
	cr_assert_eq(probe(d, 3, NULL), 1);
	cr_assert_eq(probe(d, 1, NULL), 1);
	drc_free(d);
}

Test(drc, bounded_under_load)
{
	struct drc *d;
	cr_assert_eq(drc_new(1000, &d), 0);
	for (uint32_t x = 0; x < 20000; x++)
		finish(d, x);
	/* the newest 1000 are there; older ones were evicted */
	for (uint32_t x = 19000; x < 20000; x++)
		cr_assert_eq(probe(d, x, NULL), 1, "xid %u", x);
	struct drc_entry *e;
	cr_assert_eq(probe(d, 18999, &e), 0);
	cr_assert_not_null(e);
	drc_abandon(d, e);
	cr_assert_eq(probe(d, 0, &e), 0);
	drc_abandon(d, e);
	drc_free(d);
}

Test(drc, oversized_reply_is_not_kept)
{
	struct drc *d;
	cr_assert_eq(drc_new(4, &d), 0);
	static uint8_t big[100000];
	struct drc_entry *e;
	cr_assert_eq(probe(d, 5, &e), 0);
	drc_store(d, e, big, sizeof(big));
	cr_assert_eq(probe(d, 5, &e), 0); /* not cached: runs again */
	cr_assert_not_null(e);
	drc_store(d, e, big, 16384);
	struct rpc_call c;
	uint32_t x = 5;
	call(&c, "10.0.0.1", 900, 5, &x, sizeof(x));
	const uint8_t *r;
	size_t len;
	cr_assert_eq(drc_lookup(d, &c, &r, &len), 1);
	cr_assert_eq(len, 16384);
	drc_free(d);
}

Test(drc, bad_sizes)
{
	struct drc *d = NULL;
	cr_assert_eq(drc_new(0, &d), -EINVAL);
	cr_assert_null(d);
	drc_free(NULL);
	cr_assert_eq(drc_new(1, &d), 0);
	finish(d, 1);
	finish(d, 2);
	cr_assert_eq(probe(d, 2, NULL), 1);
	drc_free(d);
}

Test(drc, checksum_is_xxh64)
{
	/* reference values from libxxhash 0.8.1, XXH64(seed 0) */
	static const struct {
		size_t len;
		uint64_t h;
	} v[] = {
		{0, 0xef46db3751d8e999ull},   {1, 0xa96c7f0ce858bbb7ull},
		{3, 0x56e6957632a487f9ull},   {4, 0xc60d15b1e3ff8f04ull},
		{7, 0xafbefc3d6c6f9a8eull},   {8, 0x3da5c7aa269683e0ull},
		{12, 0x8fe8ab1c1fd0666eull},  {31, 0x4a74f3a1a39ad4a1ull},
		{32, 0x8d57d6a4671cc43dull},  {33, 0x62c9fd21ed857664ull},
		{63, 0x5c320a0d2707057full},  {64, 0x7bbabbc45729d17eull},
		{100, 0xefa0ad2d3e70c151ull}, {200, 0x95d9a0c977b4b6fbull},
	};
	uint8_t b[200 + 1];
	for (int i = 0; i < 200; i++)
		b[i] = (uint8_t)(i * 31 + 7);
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cr_assert_eq(drc_checksum(b, v[i].len), v[i].h, "len %zu", v[i].len);
		/* alignment does not matter */
		memmove(b + 1, b, 200);
		cr_assert_eq(drc_checksum(b + 1, v[i].len), v[i].h, "len %zu", v[i].len);
		memmove(b, b + 1, 200);
	}
	cr_assert_eq(drc_checksum((const uint8_t *)"abc", 3), 0x44bc2cf5ad770999ull);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

Test(drc, cost)
{
	struct drc *d;
	cr_assert_eq(drc_new(4096, &d), 0);
	enum { N = 200000 };
	uint8_t args[256];
	memset(args, 7, sizeof(args));
	double t0 = now_ns();
	for (uint32_t x = 0; x < N; x++) {
		struct rpc_call c;
		const uint8_t *r;
		size_t len;
		call(&c, "10.0.0.1", 900, x, args, sizeof(args));
		cr_assert_eq(drc_lookup(d, &c, &r, &len), 0);
		drc_store(d, c.drc, args, 120);
	}
	double per = (now_ns() - t0) / N;
	static uint8_t mib[1 << 20];
	t0 = now_ns();
	uint64_t s = drc_checksum(mib, sizeof(mib));
	double sum_ns = now_ns() - t0;
	fprintf(stderr,
		"drc: lookup+store %.0f ns/call (256-byte args), checksum %.2f GB/s (%llx)\n", per,
		sizeof(mib) / sum_ns, (unsigned long long)s);
	drc_free(d);
}
