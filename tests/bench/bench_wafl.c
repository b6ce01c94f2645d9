/*
 * bench_wafl.c - in-process figures for wafl/: what the file system costs
 * with no network in front of it, next to what the disk underneath can do.
 *
 *   make bench-wafl          (or build/bin/bench-wafl)
 *   BENCH_DIR=/some/fs build/bin/bench-wafl
 *
 * Everything happens in a fresh directory under $BENCH_DIR, else $TMPDIR,
 * else /tmp, removed at the end. The aggregate is built with the library's
 * defaults (NVLOG 64 MiB, cache 256 MiB, CP every 10 s or at cache/4
 * dirty): four 2 GiB file disks in one RAID-0 group, one 6 GiB flexible
 * volume. The loop thread is this thread; the CP writer and the NVLOG
 * writer are the library's own threads. As a server would between
 * requests, the benchmark runs the event loop (without blocking) after
 * every 16 creates or 4 KiB writes and after every 1 MiB write: that is
 * where CP and NVLOG completions land, and so where the next CP can start.
 *
 * The figures, in the order printed:
 *
 *   raw sequential write      1 GiB of 1 MiB pwrite()s to a plain file in
 *                             the same directory, then fdatasync(): MB/s,
 *                             the sync included. The ceiling for the
 *                             sequential write below.
 *   raw 4 KiB write+sync      pwrite() of 4 KiB at consecutive offsets of
 *                             that file (as a log appends), each followed by
 *                             fdatasync(): ops/s. The ceiling for FILE_SYNC
 *                             at depth 1 (one NVLOG sync per write).
 *   create, one directory     50 000 empty files (GUARDED create, no
 *                             credentials) in one new directory: files/s,
 *                             the last create waited durable (NVLOG).
 *   create, 100 directories   50 000 more, round-robin over 100 new
 *                             directories (500 each): files/s, same rule.
 *   create, 100 000 entries   the directory used below, filled: files/s.
 *   lookup                    100 000 lookups of its names in a random
 *                             order, the cache warm: lookups/s.
 *   getattr                   100 000 getattrs of their handles, random
 *                             order: getattrs/s.
 *   readdir                   the whole directory in calls of 512 entries
 *                             (cookie to cookie, as NFS does): entries/s,
 *                             and the time for all of it.
 *   FILE_SYNC 4 KiB, depth 1  one 4 KiB write at a time, each waited until
 *                             durable before the next (NVLOG sync): ops/s,
 *                             for about 2 s.
 *   FILE_SYNC 4 KiB, depth 32 32 writes issued, then all 32 waited for; the
 *                             NVLOG writer syncs them together (group
 *                             commit): ops/s, for about 2 s.
 *   sequential write          2 GiB in 1 MiB UNSTABLE writes, then a commit
 *                             waited for: MB/s, the final CP included.
 *   dirty data at most        the largest dirty_bytes seen while writing:
 *                             how far ahead of the CP writer the writes got.
 *   CPs during it             how many CPs ran, their mean and the last
 *                             one's duration (wafl_aggr_info: cps,
 *                             cp_total_usec, cp_last_usec).
 *   write amplification       bytes that reached the disks (4160-byte CP
 *                             slots, superblocks: disk_bytes_written) and
 *                             the NVLOG (nvlog_bytes_written), per byte of
 *                             user data written; each part, then the sum.
 *                             Below 1 when writes to the same block meet in
 *                             memory before a CP writes it once.
 *   sequential read           the 2 GiB file read in 1 MiB reads after a
 *                             clean close and remount, with the disk files
 *                             dropped from the OS page cache first
 *                             (POSIX_FADV_DONTNEED): MB/s, cold.
 *   random write              4 KiB UNSTABLE writes at random 4 KiB-aligned
 *                             offsets of a 1 GiB file written in full
 *                             beforehand, for about 8 s, then a commit
 *                             waited for: writes/s, the final CP included;
 *                             then its CPs and write amplification as
 *                             above.
 *
 * Figures vary from run to run, by tens of percent for the sync-bound
 * ones, on a shared VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wtest.h"

#define NDISKS	   4
#define DISK_BYTES (2ull << 30)
#define VOL_BYTES  (6ull << 30)
#define MIB	   (1ull << 20)
#define BS	   4096u

#define CREATES_ONE	50000u
#define CREATES_SPREAD	50000u
#define NDIRS		100u
#define BIGDIR_ENTRIES	100000u
#define READDIR_CHUNK	512u
#define SYNC_SECONDS	2.0
#define SEQ_BYTES	(2ull << 30)
#define RAND_FILE_BYTES (1ull << 30)
#define RAND_SECONDS	8.0
#define RAW_BYTES	(1ull << 30)

static struct wt bench;
static char raw_path[512];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cleanup(void)
{
	if (raw_path[0])
		unlink(raw_path);
	if (bench.dir[0])
		wt_destroy(&bench);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-wafl: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	cleanup();
	exit(1);
}

static void check(int rc, const char *what)
{
	if (rc)
		die(what, rc);
}

/* A server runs its event loop between requests: that is where the CP and
 * NVLOG writers' completions land. Runs it (without blocking) every `every`
 * operations, and notes the most dirty data seen. */
static uint64_t peak_dirty;

static void tick(unsigned every)
{
	static unsigned ops;
	if (++ops % every)
		return;
	event_base_loop(bench.base, EVLOOP_NONBLOCK);
	struct wafl_aggr_info ai;
	wafl_aggr_info(bench.a, &ai);
	if (ai.dirty_bytes > peak_dirty)
		peak_dirty = ai.dirty_bytes;
}

static void figure(const char *label, double value, const char *unit)
{
	int prec = value >= 1000 ? 0 : value >= 10 ? 1 : 2;
	printf("  %-44s %12.*f  %s\n", label, prec, value, unit);
	fflush(stdout);
}

static void count(const char *label, uint64_t n)
{
	printf("  %-44s %12" PRIu64 "\n", label, n);
	fflush(stdout);
}

static void section(const char *title)
{
	printf("%s\n", title);
	fflush(stdout);
}

/* ---- the aggregate ---------------------------------------------------- */

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		die("path too long", ENAMETOOLONG);
}

/* Like wt_make(), but in the bench directory and with the library's
 * defaults for the NVLOG, the cache and the CP interval. */
static void make_aggr(const char *base)
{
	struct wt *t = &bench;
	memset(t, 0, sizeof(*t));
	path_in(t->dir, sizeof(t->dir), base, "bench-wafl.XXXXXX");
	if (!mkdtemp(t->dir)) {
		t->dir[0] = 0;
		die(base, -errno);
	}
	t->ndisks = NDISKS;
	for (unsigned i = 0; i < NDISKS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "disk%u", i);
		path_in(t->disk_path[i], sizeof(t->disk_path[i]), t->dir, name);
		t->disks[i] = t->disk_path[i];
	}
	path_in(t->nvlog, sizeof(t->nvlog), t->dir, "nvlog");
	struct wafl_aggr_params p = {
		.name = "aggr0",
		.kind = WAFL_AGGR,
		.disks = t->disks,
		.ndisks = NDISKS,
		.disk_size_bytes = DISK_BYTES,
		.nvlog_path = t->nvlog,
	};
	check(wafl_aggr_create(&p), "create the aggregate");
	t->op.disks = t->disks;
	t->op.ndisks = NDISKS;
	t->op.nvlog_path = t->nvlog;
	check(wt_open(t), "open the aggregate");
	struct wafl_stab st;
	check(wafl_vol_create(t->a, "vol0", VOL_BYTES, WAFL_GUAR_NONE, &st), "create vol0");
	check(wt_wait(t, &st), "wait for vol0");
	t->v = wafl_vol_find(t->a, "vol0");
	if (!t->v)
		die("find vol0", ENOENT);
}

/* A clean close that is surely durable: wafl_aggr_close() alone can return
 * before its final CP is written when a CP is already running. */
static void close_aggr(void)
{
	check(wafl_cp_sync(bench.a), "final CP");
	check(wt_close(&bench), "close");
}

/* Writes the disks back and drops them from the page cache. */
static void drop_disk_cache(void)
{
	for (unsigned i = 0; i < bench.ndisks; i++) {
		int fd = open(bench.disks[i], O_RDONLY);
		if (fd < 0)
			die(bench.disks[i], -errno);
		if (fdatasync(fd) < 0)
			die("fdatasync", -errno);
		int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (rc)
			die("posix_fadvise", rc);
		close(fd);
	}
}

struct counters {
	uint64_t cps, cp_total_usec, cp_last_usec, disk, nvlog;
};

static struct counters counters(void)
{
	struct wafl_aggr_info ai;
	wafl_aggr_info(bench.a, &ai);
	return (struct counters){ai.cps, ai.cp_total_usec, ai.cp_last_usec, ai.disk_bytes_written,
				 ai.nvlog_bytes_written};
}

static void report_cps_and_amp(const struct counters *c0, uint64_t user_bytes)
{
	struct counters c1 = counters();
	figure("dirty data at most", (double)peak_dirty / MIB, "MiB");
	uint64_t n = c1.cps - c0->cps;
	count("CPs", n);
	figure("CP duration, mean",
	       n ? (double)(c1.cp_total_usec - c0->cp_total_usec) / (double)n / 1000.0 : 0, "ms");
	figure("CP duration, last", (double)c1.cp_last_usec / 1000.0, "ms");
	uint64_t disk = c1.disk - c0->disk, nv = c1.nvlog - c0->nvlog;
	figure("bytes to disks per user byte", (double)disk / (double)user_bytes, "");
	figure("bytes to NVLOG per user byte", (double)nv / (double)user_bytes, "");
	figure("write amplification (disks + NVLOG)", (double)(disk + nv) / (double)user_bytes, "");
}

/* Creates an empty file; *st (if given) receives what to wait for. */
static struct wafl_fh create_file(const struct wafl_fh *dir, const char *name, struct wafl_stab *st)
{
	struct wafl_fh fh;
	struct wafl_attr at;
	struct wafl_stab dummy;
	int rc = WT_RETRY(&bench, wafl_create(bench.v, NULL, dir, name, WAFL_GUARDED, NULL, 0, &fh,
					      &at, st ? st : &dummy));
	check(rc, name);
	tick(16);
	return fh;
}

static struct wafl_fh make_file(const struct wafl_fh *dir, const char *name)
{
	return create_file(dir, name, NULL);
}

static struct wafl_fh make_dir(const struct wafl_fh *dir, const char *name)
{
	struct wafl_fh fh;
	struct wafl_attr at;
	struct wafl_stab st;
	check(WT_RETRY(&bench, wafl_mkdir(bench.v, NULL, dir, name, NULL, &fh, &at, &st)), name);
	return fh;
}

static void commit_and_wait(const struct wafl_fh *fh)
{
	struct wafl_stab st;
	check(wafl_commit(bench.v, fh, &st), "commit");
	check(wt_wait(&bench, &st), "wait for the commit");
}

/* Stamps every 4 KiB block of buf with its file offset. */
static void stamp(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i += BS) {
		uint64_t o = off + i;
		memcpy(buf + i, &o, sizeof(o));
	}
}

/* ---- the raw disk ----------------------------------------------------- */

static void bench_raw(const char *dir)
{
	section("raw disk (a plain file in the same directory)");
	path_in(raw_path, sizeof(raw_path), dir, "raw");
	int fd = open(raw_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(raw_path, -errno);
	uint8_t *buf = malloc(MIB);
	if (!buf)
		die("malloc", -ENOMEM);
	memset(buf, 0x5a, MIB);
	double t0 = now_s();
	for (uint64_t off = 0; off < RAW_BYTES; off += MIB)
		if (pwrite(fd, buf, MIB, (off_t)off) != (ssize_t)MIB)
			die("raw write", -errno);
	if (fdatasync(fd) < 0)
		die("raw fdatasync", -errno);
	double t = now_s() - t0;
	figure("sequential write + fdatasync, 1 MiB writes", (double)RAW_BYTES / MIB / t, "MB/s");
	uint64_t n = 0;
	t0 = now_s();
	do {
		uint64_t off = n % (RAW_BYTES / BS) * BS;
		if (pwrite(fd, buf, BS, (off_t)off) != (ssize_t)BS || fdatasync(fd) < 0)
			die("raw 4 KiB write", -errno);
		n++;
	} while (now_s() - t0 < SYNC_SECONDS);
	t = now_s() - t0;
	figure("4 KiB pwrite + fdatasync", (double)n / t, "ops/s");
	close(fd);
	free(buf);
	unlink(raw_path);
	raw_path[0] = 0;
}

/* ---- creates and the big directory ------------------------------------ */

static void bench_creates(const struct wafl_fh *root)
{
	section("namespace");
	char name[64];
	struct wafl_stab st;
	struct wafl_fh one = make_dir(root, "one");
	double t0 = now_s();
	for (unsigned i = 0; i < CREATES_ONE; i++) {
		snprintf(name, sizeof(name), "file%06u", i);
		create_file(&one, name, &st);
	}
	/* the last record is durable once every earlier one is */
	check(wt_wait(&bench, &st), "wait for the creates");
	double t = now_s() - t0;
	figure("create, 50 000 files in one directory", CREATES_ONE / t, "files/s");

	struct wafl_fh dirs[NDIRS];
	for (unsigned d = 0; d < NDIRS; d++) {
		snprintf(name, sizeof(name), "d%03u", d);
		dirs[d] = make_dir(root, name);
	}
	check(wt_wait(&bench, &st), "wait for the mkdirs");
	t0 = now_s();
	for (unsigned i = 0; i < CREATES_SPREAD; i++) {
		snprintf(name, sizeof(name), "file%06u", i);
		create_file(&dirs[i % NDIRS], name, &st);
	}
	check(wt_wait(&bench, &st), "wait for the creates");
	t = now_s() - t0;
	figure("create, 50 000 files in 100 directories", CREATES_SPREAD / t, "files/s");
}

struct rd_count {
	unsigned n, in_call;
	uint64_t last_cookie;
};

static int rd_cb(void *arg, const struct wafl_dirent *e)
{
	struct rd_count *c = arg;
	c->n++;
	c->last_cookie = e->cookie;
	return ++c->in_call >= READDIR_CHUNK;
}

static void bench_bigdir(const struct wafl_fh *root)
{
	char name[64];
	struct wafl_fh big = make_dir(root, "big");
	double t0 = now_s();
	struct wafl_stab st;
	for (unsigned i = 0; i < BIGDIR_ENTRIES; i++) {
		snprintf(name, sizeof(name), "entry-%07u", i);
		create_file(&big, name, &st);
	}
	check(wt_wait(&bench, &st), "wait for the creates");
	double t = now_s() - t0;
	figure("create, 100 000 files in one directory", BIGDIR_ENTRIES / t, "files/s");
	check(wafl_cp_sync(bench.a), "CP");

	/* a random order of the names */
	unsigned *order = malloc(BIGDIR_ENTRIES * sizeof(*order));
	struct wafl_fh *fhs = malloc(BIGDIR_ENTRIES * sizeof(*fhs));
	if (!order || !fhs)
		die("malloc", -ENOMEM);
	uint64_t rng = 7;
	for (unsigned i = 0; i < BIGDIR_ENTRIES; i++)
		order[i] = i;
	for (unsigned i = BIGDIR_ENTRIES - 1; i > 0; i--) {
		unsigned j = (unsigned)(wt_rand(&rng) % (i + 1));
		unsigned x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	t0 = now_s();
	for (unsigned i = 0; i < BIGDIR_ENTRIES; i++) {
		struct wafl_attr at;
		snprintf(name, sizeof(name), "entry-%07u", order[i]);
		check(wafl_lookup(bench.v, NULL, &big, name, &fhs[order[i]], &at), name);
	}
	t = now_s() - t0;
	figure("lookup in a 100 000-entry directory", BIGDIR_ENTRIES / t, "lookups/s");
	t0 = now_s();
	for (unsigned i = 0; i < BIGDIR_ENTRIES; i++) {
		struct wafl_attr at;
		check(wafl_getattr(bench.v, &fhs[order[BIGDIR_ENTRIES - 1 - i]], &at), "getattr");
	}
	t = now_s() - t0;
	figure("getattr of its files", BIGDIR_ENTRIES / t, "getattrs/s");

	struct rd_count c = {0};
	bool eof = false;
	t0 = now_s();
	while (!eof) {
		c.in_call = 0;
		check(wafl_readdir(bench.v, NULL, &big, c.last_cookie, rd_cb, &c, &eof), "readdir");
		if (c.in_call == 0 && !eof)
			die("readdir made no progress", EPROTO);
	}
	t = now_s() - t0;
	if (c.n != BIGDIR_ENTRIES + 2)
		die("readdir: wrong entry count", EPROTO);
	figure("readdir of it, 512 entries per call", c.n / t, "entries/s");
	figure("readdir of it, whole directory", t * 1000.0, "ms");
	free(order);
	free(fhs);
}

/* ---- stable writes ---------------------------------------------------- */

static void count_down(void *arg)
{
	(*(unsigned *)arg)--;
}

static void bench_sync_writes(const struct wafl_fh *root)
{
	section("FILE_SYNC 4 KiB writes (durable in the NVLOG before the reply)");
	static uint8_t buf[BS];
	memset(buf, 0xa5, sizeof(buf));
	struct wafl_fh f = make_file(root, "sync1");
	uint64_t n = 0;
	double t0 = now_s(), t;
	do {
		struct wafl_attr at;
		struct wafl_stab st;
		uint64_t off = (n % 16384) * BS;
		check(WT_RETRY(&bench, wafl_write(bench.v, NULL, &f, off, BS, buf, WAFL_FILE_SYNC,
						  &at, &st)),
		      "write");
		check(wt_wait(&bench, &st), "wait");
		n++;
	} while ((t = now_s() - t0) < SYNC_SECONDS);
	figure("depth 1 (wait for each)", (double)n / t, "ops/s");

	f = make_file(root, "sync32");
	n = 0;
	t0 = now_s();
	do {
		unsigned pending = 32;
		for (unsigned k = 0; k < 32; k++) {
			struct wafl_attr at;
			struct wafl_stab st;
			uint64_t off = ((n + k) % 16384) * BS;
			check(WT_RETRY(&bench, wafl_write(bench.v, NULL, &f, off, BS, buf,
							  WAFL_FILE_SYNC, &at, &st)),
			      "write");
			wafl_when_durable(bench.a, &st, count_down, &pending);
		}
		while (pending)
			event_base_loop(bench.base, EVLOOP_ONCE);
		n += 32;
	} while ((t = now_s() - t0) < SYNC_SECONDS);
	figure("depth 32 (issue 32, wait for all)", (double)n / t, "ops/s");
}

/* ---- sequential and random data --------------------------------------- */

static uint8_t *big_buf(void)
{
	uint8_t *b = aligned_alloc(BS, MIB);
	if (!b)
		die("malloc", -ENOMEM);
	memset(b, 0x3c, MIB);
	return b;
}

static void write_sequential(const struct wafl_fh *f, uint64_t bytes, uint8_t *buf)
{
	for (uint64_t off = 0; off < bytes; off += MIB) {
		struct wafl_attr at;
		struct wafl_stab st;
		stamp(buf, MIB, off);
		check(WT_RETRY(&bench, wafl_write(bench.v, NULL, f, off, MIB, buf, WAFL_UNSTABLE,
						  &at, &st)),
		      "write");
		tick(1);
	}
	commit_and_wait(f);
}

static void bench_sequential(const struct wafl_fh *root)
{
	section("sequential, 2 GiB file, 1 MiB operations");
	uint8_t *buf = big_buf();
	struct wafl_fh f = make_file(root, "seq");
	check(wafl_cp_sync(bench.a), "CP");
	struct counters c0 = counters();
	peak_dirty = 0;
	double t0 = now_s();
	write_sequential(&f, SEQ_BYTES, buf);
	double t = now_s() - t0;
	figure("write, UNSTABLE, then commit", (double)SEQ_BYTES / MIB / t, "MB/s");
	report_cps_and_amp(&c0, SEQ_BYTES);

	close_aggr();
	drop_disk_cache();
	check(wt_open(&bench), "reopen");
	bool eof = false;
	t0 = now_s();
	for (uint64_t off = 0; off < SEQ_BYTES; off += MIB) {
		uint32_t got;
		check(wafl_read(bench.v, NULL, &f, off, MIB, buf, &got, &eof), "read");
		if (got != MIB)
			die("short read", EIO);
		for (uint32_t i = 0; i < MIB; i += BS) {
			uint64_t o;
			memcpy(&o, buf + i, sizeof(o));
			if (o != off + i)
				die("read back wrong data", EIO);
		}
	}
	t = now_s() - t0;
	figure("read after remount, cold cache", (double)SEQ_BYTES / MIB / t, "MB/s");
	free(buf);
}

static void bench_random(const struct wafl_fh *root)
{
	section("random 4 KiB UNSTABLE writes into a 1 GiB file");
	uint8_t *buf = big_buf();
	struct wafl_fh f = make_file(root, "rand");
	write_sequential(&f, RAND_FILE_BYTES, buf);
	check(wafl_cp_sync(bench.a), "CP");
	struct counters c0 = counters();
	peak_dirty = 0;
	uint64_t rng = 99, n = 0;
	double t0 = now_s();
	do {
		for (unsigned k = 0; k < 256; k++, n++) {
			struct wafl_attr at;
			struct wafl_stab st;
			uint64_t off = wt_rand(&rng) % (RAND_FILE_BYTES / BS) * BS;
			stamp(buf, BS, off);
			check(WT_RETRY(&bench, wafl_write(bench.v, NULL, &f, off, BS, buf,
							  WAFL_UNSTABLE, &at, &st)),
			      "write");
			tick(16);
		}
	} while (now_s() - t0 < RAND_SECONDS);
	commit_and_wait(&f);
	double t = now_s() - t0;
	figure("writes, then commit", (double)n / t, "writes/s");
	report_cps_and_amp(&c0, n * BS);
	free(buf);
}

int main(void)
{
	const char *base = getenv("BENCH_DIR");
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	double t0 = now_s();
	make_aggr(base);
	printf("bench-wafl: %u file disks of %llu GiB (RAID-0), flexible volume of %llu GiB, "
	       "in %s\n",
	       NDISKS, DISK_BYTES >> 30, VOL_BYTES >> 30, bench.dir);
	printf("  library defaults: NVLOG 64 MiB, cache 256 MiB, CP at 10 s or 64 MiB dirty; "
	       "%ld CPUs\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	bench_raw(bench.dir);
	struct wafl_fh root;
	check(wafl_root(bench.v, &root), "root");
	bench_creates(&root);
	bench_bigdir(&root);
	bench_sync_writes(&root);
	bench_sequential(&root);
	bench_random(&root);
	close_aggr();
	long problems = wt_check(&bench, true);
	if (problems)
		die("the checker found problems afterwards",
		    problems < 0 ? (int)problems : EUCLEAN);
	printf("checker: clean afterwards; total time %.0f s\n", now_s() - t0);
	cleanup();
	return 0;
}
