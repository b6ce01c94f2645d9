/*
 * bigdata.c - the data check of the kernel-client stage: write a lot of
 * pseudo-random data with a few processes, later read it back and compare.
 *
 *   bigdata write DIR NPROC MIB   NPROC processes each write DIR/data.K,
 *                                 MIB/NPROC MiB in 1 MiB writes, then fsync
 *   bigdata read DIR NPROC MIB    the same processes read the files back in
 *                                 1 MiB reads and compare with the stream
 *
 * The contents of data.K are a stream that depends only on K, so the
 * reader needs nothing from the writer but the sizes. Both print, per
 * file, "data.K BYTES SUM" (SUM: a 64-bit checksum of the contents as
 * written / as read; the stage compares the two listings), then one line
 * with the throughput. `read` also names the first byte that differs and
 * exits 1 when anything does; exit 2 on errors.
 *
 * Built statically for the test guest (tests/kclient/vm.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BD_CHUNK   (1u << 20)
#define BD_MAXPROC 64

/* What one process found, in memory shared with the parent. */
struct bd_result {
	uint64_t bytes;
	uint64_t sum;
	int64_t first_bad; /* -1: none */
	int error;	   /* errno of a failed call, 0 */
	char what[64];	   /* the call that failed */
};

/* The stream of data.K: xorshift64* from a seed made of K. */
struct bd_stream {
	uint64_t x;
};

static void bd_stream_init(struct bd_stream *s, unsigned k)
{
	s->x = 0x9e3779b97f4a7c15ull * (k + 1) ^ 0xd1b54a32d192ed03ull;
}

static void bd_stream_fill(struct bd_stream *s, uint64_t *w, size_t nwords)
{
	uint64_t x = s->x;
	for (size_t i = 0; i < nwords; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w[i] = x * 0x2545f4914f6cdd1dull;
	}
	s->x = x;
}

/* FNV-1a over 64-bit words, position included by the chaining. */
static uint64_t bd_sum(uint64_t h, const uint64_t *w, size_t nwords)
{
	for (size_t i = 0; i < nwords; i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	return h;
}

static double bd_clock(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void bd_fail(struct bd_result *r, const char *what)
{
	r->error = errno ? errno : EIO;
	snprintf(r->what, sizeof(r->what), "%s", what);
}

static void bd_write(const char *path, unsigned k, uint64_t bytes, struct bd_result *r)
{
	uint64_t *buf = malloc(BD_CHUNK);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (!buf || fd < 0) {
		bd_fail(r, "open");
		return;
	}
	struct bd_stream s;
	bd_stream_init(&s, k);
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint64_t off = 0; off < bytes; off += BD_CHUNK) {
		size_t len = bytes - off < BD_CHUNK ? (size_t)(bytes - off) : BD_CHUNK;
		bd_stream_fill(&s, buf, len / 8);
		h = bd_sum(h, buf, len / 8);
		size_t done = 0;
		while (done < len) {
			ssize_t n = pwrite(fd, (char *)buf + done, len - done, (off_t)(off + done));
			if (n <= 0) {
				bd_fail(r, "pwrite");
				return;
			}
			done += (size_t)n;
		}
		r->bytes += len;
	}
	if (fsync(fd) != 0) {
		bd_fail(r, "fsync");
		return;
	}
	if (close(fd) != 0) {
		bd_fail(r, "close");
		return;
	}
	r->sum = h;
	free(buf);
}

static void bd_read(const char *path, unsigned k, uint64_t bytes, struct bd_result *r)
{
	uint64_t *buf = malloc(BD_CHUNK), *want = malloc(BD_CHUNK);
	int fd = open(path, O_RDONLY);
	if (!buf || !want || fd < 0) {
		bd_fail(r, "open");
		return;
	}
	struct bd_stream s;
	bd_stream_init(&s, k);
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint64_t off = 0;; off += BD_CHUNK) {
		size_t got = 0;
		while (got < BD_CHUNK) {
			ssize_t n =
				pread(fd, (char *)buf + got, BD_CHUNK - got, (off_t)(off + got));
			if (n < 0) {
				bd_fail(r, "pread");
				return;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		if (got == 0)
			break;
		if (got % 8) /* the sizes are whole MiB: a short tail is wrong */
			memset((char *)buf + got, 0, 8 - got % 8);
		size_t words = (got + 7) / 8;
		h = bd_sum(h, buf, words);
		if (r->first_bad < 0 && off < bytes) {
			bd_stream_fill(&s, want, BD_CHUNK / 8);
			if (memcmp(buf, want, got) != 0) {
				const unsigned char *a = (void *)buf, *b = (void *)want;
				size_t i = 0;
				while (a[i] == b[i])
					i++;
				r->first_bad = (int64_t)(off + i);
			}
		}
		r->bytes += got;
		if (got < BD_CHUNK)
			break;
	}
	if (r->bytes != bytes && r->first_bad < 0)
		r->first_bad = (int64_t)(r->bytes < bytes ? r->bytes : bytes);
	close(fd);
	r->sum = h;
	free(buf);
	free(want);
}

static void bd_drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "3\n", 2);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: bigdata write|read DIR NPROC MIB\n");
		return 2;
	}
	bool writing = !strcmp(argv[1], "write");
	const char *dir = argv[2];
	unsigned nproc = (unsigned)strtoul(argv[3], NULL, 10);
	uint64_t mib = strtoull(argv[4], NULL, 10);
	if (nproc < 1 || nproc > BD_MAXPROC || mib < nproc || mib % nproc) {
		fprintf(stderr, "bigdata: NPROC from 1 to %d, MIB a multiple of it\n", BD_MAXPROC);
		return 2;
	}
	uint64_t per = mib / nproc << 20;
	struct bd_result *res = mmap(NULL, sizeof(*res) * nproc, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("bigdata: mmap");
		return 2;
	}
	if (!writing)
		bd_drop_caches();
	fflush(stdout);
	double t0 = bd_clock();
	for (unsigned k = 0; k < nproc; k++) {
		res[k].first_bad = -1;
		pid_t pid = fork();
		if (pid < 0) {
			perror("bigdata: fork");
			return 2;
		}
		if (pid == 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/data.%u", dir, k);
			if (writing)
				bd_write(path, k, per, &res[k]);
			else
				bd_read(path, k, per, &res[k]);
			_exit(0);
		}
	}
	int st, rc = 0;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			rc = 2;
	double secs = bd_clock() - t0;
	uint64_t total = 0;
	for (unsigned k = 0; k < nproc; k++) {
		struct bd_result *r = &res[k];
		total += r->bytes;
		if (r->error) {
			printf("data.%u: %s: %s\n", k, r->what, strerror(r->error));
			rc = 2;
			continue;
		}
		printf("data.%u %" PRIu64 " %016" PRIx64 "\n", k, r->bytes, r->sum);
		if (r->first_bad >= 0) {
			printf("data.%u: differs from what was written from byte %" PRId64 "\n", k,
			       r->first_bad);
			if (!rc)
				rc = 1;
		}
	}
	printf("bigdata: %s %" PRIu64 " MiB with %u processes in %.1f s: %.1f MiB/s\n",
	       writing ? "wrote" : "read", total >> 20, nproc, secs,
	       secs > 0 ? (double)total / 1048576.0 / secs : 0.0);
	return rc;
}
