/*
 * wtest.h - helpers the wafl/ tests and benchmarks share: a scratch
 * aggregate in a temporary directory, opening and crashing it, waiting
 * for durability, and running the checker.
 */
#ifndef TESTS_LIB_WTEST_H
#define TESTS_LIB_WTEST_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "wafl/wafl.h"

#define WT_MAX_DISKS 8

struct wt {
	char dir[256];
	char disk_path[WT_MAX_DISKS][300];
	const char *disks[WT_MAX_DISKS];
	unsigned ndisks;
	char nvlog[300];
	struct event_base *base;
	struct wafl_aggr *a;
	struct wafl_vol *v; /* vol0, or the traditional volume */
	struct wafl_open_params op;
};

/* Makes a scratch aggregate (kind WAFL_AGGR with flexvol "vol0" of
 * vol_bytes, or WAFL_TRAD) and opens it. Returns 0 or -errno. */
int wt_make(struct wt *t, enum wafl_aggr_kind kind, unsigned ndisks, uint64_t disk_bytes,
	    uint64_t vol_bytes);
int wt_open(struct wt *t);
int wt_close(struct wt *t);
void wt_crash(struct wt *t);
void wt_destroy(struct wt *t);
/* Runs the checker on the closed (or crashed) disks; prints problems to
 * stderr; returns the number of problems (or -errno). */
long wt_check(struct wt *t, bool print);
/* Waits until st is durable. */
int wt_wait(struct wt *t, const struct wafl_stab *st);
/* Runs the loop briefly (lets writer threads report). */
void wt_poll(struct wt *t);

/* Retries an operation expression while it returns -EAGAIN. */
#define WT_RETRY(t, expr)                                                                          \
	({                                                                                         \
		int _rc;                                                                           \
		while ((_rc = (expr)) == -EAGAIN)                                                  \
			event_base_loop((t)->base, EVLOOP_ONCE);                                   \
		_rc;                                                                               \
	})

/* A deterministic PRNG (splitmix64). */
static inline uint64_t wt_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
