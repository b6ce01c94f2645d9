/*
 * Consistency points: what starts them (a request, the timer, the
 * dirty-buffer threshold, NVLOG fill) and that operations keep being
 * served while one is written.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/wtest.h"

static struct wafl_fh newfile(struct wt *t, const char *name)
{
	struct wafl_fh root, f;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_root(t->v, &root), 0);
	cr_assert_eq(WT_RETRY(t, wafl_create(t->v, NULL, &root, name, WAFL_GUARDED, NULL, 0, &f,
					     &at, &st)),
		     0);
	return f;
}

static uint64_t cps(struct wt *t)
{
	struct wafl_aggr_info ai;
	wafl_aggr_info(t->a, &ai);
	return ai.cps;
}

Test(cp, started_by_dirty_threshold)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0);
	cr_assert_eq(wt_close(&t), 0);
	t.op.cp_interval_ms = 3600 * 1000; /* the timer stays out of it */
	t.op.cp_dirty_bytes = 1 << 20;
	cr_assert_eq(wt_open(&t), 0);
	struct wafl_fh f = newfile(&t, "f");
	uint64_t before = cps(&t);
	static char buf[64 << 10];
	struct wafl_attr at;
	struct wafl_stab st;
	for (int i = 0; i < 64; i++) /* 4 MiB of dirty data, UNSTABLE: no log */
		cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &f, (uint64_t)i * sizeof(buf),
						     sizeof(buf), buf, WAFL_UNSTABLE, &at, &st)),
			     0);
	/* the first MiB starts a CP; what piles up while it runs starts the
	 * next when it ends: two at least, and the dirty data drains below
	 * the threshold without a timer */
	struct wafl_aggr_info ai;
	do {
		event_base_loop(t.base, EVLOOP_ONCE);
		wafl_aggr_info(t.a, &ai);
	} while (ai.cp_running || ai.dirty_bytes >= (1 << 20));
	cr_assert_geq(cps(&t), before + 2);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(cp, started_by_nvlog_fill_and_timer)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0);
	struct wafl_fh f = newfile(&t, "f");
	/* the test aggregate's NVLOG halves are 8 MiB: 12 MiB of stable
	 * writes must start CPs by filling it */
	uint64_t before = cps(&t);
	static char buf[64 << 10];
	struct wafl_attr at;
	struct wafl_stab st;
	for (int i = 0; i < 192; i++)
		cr_assert_eq(
			WT_RETRY(&t, wafl_write(t.v, NULL, &f, (uint64_t)(i % 16) * sizeof(buf),
						sizeof(buf), buf, WAFL_FILE_SYNC, &at, &st)),
			0);
	cr_assert_eq(wt_wait(&t, &st), 0);
	cr_assert_geq(cps(&t), before + 1);
	/* the timer (1 s here) takes a CP of anything left dirty */
	before = cps(&t);
	cr_assert_eq(wafl_write(t.v, NULL, &f, 0, 10, buf, WAFL_UNSTABLE, &at, &st), 0);
	uint64_t t0 = 0;
	while (cps(&t) == before && t0++ < 100000)
		event_base_loop(t.base, EVLOOP_ONCE);
	cr_assert_gt(cps(&t), before);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(cp, operations_continue_during_a_cp)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 256 << 20, 256 << 20), 0);
	struct wafl_fh f = newfile(&t, "f"), g = newfile(&t, "g");
	static char buf[1 << 20];
	memset(buf, 'a', sizeof(buf));
	struct wafl_attr at;
	struct wafl_stab st, cpst;
	for (int i = 0; i < 32; i++)
		cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &f, (uint64_t)i << 20, sizeof(buf),
						     buf, WAFL_UNSTABLE, &at, &st)),
			     0);
	wafl_cp_start(t.a, &cpst);
	struct wafl_aggr_info ai;
	wafl_aggr_info(t.a, &ai);
	cr_assert(ai.cp_running);
	/* while 32 MiB are written out: reads, writes to the same blocks
	 * (a buffer the CP froze), creates */
	int served = 0;
	memset(buf, 'b', 4096);
	while (!wafl_is_durable(t.a, &cpst)) {
		uint32_t got;
		bool eof;
		char r[4096];
		cr_assert_eq(wafl_read(t.v, NULL, &f, (uint64_t)(served % 32) << 20, 4096, r, &got,
				       &eof),
			     0);
		cr_assert(r[0] == 'a' || r[0] == 'b');
		cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &f, (uint64_t)(served % 32) << 20,
						     4096, buf, WAFL_UNSTABLE, &at, &st)),
			     0);
		cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &g, (uint64_t)served * 4096, 4096,
						     buf, WAFL_UNSTABLE, &at, &st)),
			     0);
		served++;
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	}
	cr_assert_gt(served, 0, "no operation was served while the CP ran");
	cr_log_info("%d operations served during one CP", served);
	/* what the CP froze is what it wrote; later writes are in the next */
	cr_assert_eq(wafl_cp_sync(t.a), 0);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	cr_assert_eq(wt_open(&t), 0);
	char r[4096];
	uint32_t got;
	bool eof;
	for (int i = 0; i < 32; i++) {
		cr_assert_eq(wafl_read(t.v, NULL, &f, (uint64_t)i << 20, 4096, r, &got, &eof), 0);
		cr_assert_eq(r[0], i < served ? 'b' : 'a');
		cr_assert_eq(
			wafl_read(t.v, NULL, &f, ((uint64_t)i << 20) + 4096, 4096, r, &got, &eof),
			0);
		cr_assert_eq(r[0], 'a');
	}
	cr_assert_eq(wt_close(&t), 0);
	wt_destroy(&t);
}

/* With a cache far smaller than what a CP writes, the buffers it sealed are
 * evicted while it runs: reading them back before it is durable must come
 * from the CP's copies, never from the old (unwritten) blocks on disk. */
Test(cp, reads_during_a_cp_see_its_blocks)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, WAFL_AGGR, 2, 64 << 20, 64 << 20), 0);
	cr_assert_eq(wt_close(&t), 0);
	t.op.cp_interval_ms = 3600 * 1000;
	t.op.cache_bytes = 1 << 20; /* 256 buffers */
	t.op.test_cp_delay_ms = 200;	/* the disks lag behind the reads below */
	cr_assert_eq(wt_open(&t), 0);
	struct wafl_fh f = newfile(&t, "f");
	static uint8_t buf[64 << 10], got[64 << 10];
	struct wafl_attr at;
	struct wafl_stab st;
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 16; i++) { /* 1 MiB, rewritten each round */
			memset(buf, 'a' + round + (int)i, sizeof(buf));
			cr_assert_eq(WT_RETRY(&t, wafl_write(t.v, NULL, &f, (uint64_t)i * sizeof(buf),
							     sizeof(buf), buf, WAFL_UNSTABLE, &at,
							     &st)),
				     0);
		}
		struct wafl_stab cp;
		wafl_cp_start(t.a, &cp);
		/* no turn of the loop yet: the CP cannot be reported durable */
		for (unsigned i = 0; i < 16; i++) {
			uint32_t n;
			bool eof;
			cr_assert_eq(wafl_read(t.v, NULL, &f, (uint64_t)i * sizeof(got), sizeof(got),
					       got, &n, &eof),
				     0, "round %d chunk %u", round, i);
			cr_assert_eq(n, sizeof(got));
			memset(buf, 'a' + round + (int)i, sizeof(buf));
			cr_assert(memcmp(buf, got, sizeof(got)) == 0, "round %d chunk %u", round, i);
		}
		cr_assert_eq(wt_wait(&t, &cp), 0);
	}
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}
