/*
 * The basic life of a volume: create, write, read, close, reopen, read,
 * crash, replay, check.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/lib/wtest.h"

static void basic_cycle(enum wafl_aggr_kind kind)
{
	struct wt t;
	cr_assert_eq(wt_make(&t, kind, 3, 64 << 20, 100 << 20), 0);
	struct wafl_fh root, d, f;
	struct wafl_attr at;
	struct wafl_stab st;
	cr_assert_eq(wafl_root(t.v, &root), 0);
	cr_assert_eq(wafl_mkdir(t.v, NULL, &root, "dir", NULL, &d, &at, &st), 0);
	cr_assert_eq(at.type, WAFL_FT_DIR);
	cr_assert_eq(at.nlink, 2);
	cr_assert_eq(wafl_create(t.v, NULL, &d, "file", WAFL_GUARDED, NULL, 0, &f, &at, &st), 0);
	char buf[10000], back[10000];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	cr_assert_eq(wafl_write(t.v, NULL, &f, 5000, sizeof(buf), buf, WAFL_FILE_SYNC, &at, &st),
		     0);
	cr_assert_eq(at.size, 15000);
	cr_assert_eq(wt_wait(&t, &st), 0);
	uint32_t got;
	bool eof;
	cr_assert_eq(wafl_read(t.v, NULL, &f, 5000, sizeof(back), back, &got, &eof), 0);
	cr_assert_eq(got, sizeof(back));
	cr_assert(eof);
	cr_assert_eq(memcmp(buf, back, sizeof(buf)), 0);
	/* clean close, reopen */
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	cr_assert_eq(wt_open(&t), 0);
	struct wafl_fh f2;
	cr_assert_eq(wafl_lookup(t.v, NULL, &d, "file", &f2, &at), 0);
	cr_assert_eq(f2.ino, f.ino);
	cr_assert_eq(f2.gen, f.gen);
	cr_assert_eq(wafl_read(t.v, NULL, &f, 0, 5000, back, &got, &eof), 0);
	for (unsigned i = 0; i < 5000; i++)
		cr_assert_eq(back[i], 0);
	cr_assert_eq(wafl_read(t.v, NULL, &f, 5000, sizeof(back), back, &got, &eof), 0);
	cr_assert_eq(memcmp(buf, back, sizeof(buf)), 0);
	/* a change acknowledged stable, then a crash: replay brings it back */
	struct wafl_fh g;
	cr_assert_eq(wafl_create(t.v, NULL, &root, "after", WAFL_GUARDED, NULL, 0, &g, &at, &st),
		     0);
	cr_assert_eq(wafl_write(t.v, NULL, &g, 0, 100, buf, WAFL_DATA_SYNC, &at, &st), 0);
	cr_assert_eq(wt_wait(&t, &st), 0);
	wt_crash(&t);
	cr_assert_eq(wt_check(&t, true), 0);
	cr_assert_eq(wt_open(&t), 0);
	struct wafl_fh g2;
	cr_assert_eq(wafl_lookup(t.v, NULL, &root, "after", &g2, &at), 0);
	cr_assert_eq(g2.ino, g.ino);
	cr_assert_eq(g2.gen, g.gen);
	cr_assert_eq(at.size, 100);
	cr_assert_eq(wafl_read(t.v, NULL, &g, 0, 100, back, &got, &eof), 0);
	cr_assert_eq(memcmp(buf, back, 100), 0);
	cr_assert_eq(wt_close(&t), 0);
	cr_assert_eq(wt_check(&t, true), 0);
	wt_destroy(&t);
}

Test(smoke, flexvol_cycle)
{
	basic_cycle(WAFL_AGGR);
}

Test(smoke, tradvol_cycle)
{
	basic_cycle(WAFL_TRAD);
}
