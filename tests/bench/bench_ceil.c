/*
 * bench_ceil.c - this machine's ceilings, the figures the NFS numbers are
 * judged against (bench-nfs ceilings):
 *
 *   loopback TCP         one TCP connection over 127.0.0.1, 1 MiB send()s
 *                        from one thread, 1 MiB recv()s in another, for
 *                        --tcp-mib MiB: MB/s. Run where the servers run
 *                        (the benchmark's network namespace), this is
 *                        what any NFS READ stream could at most carry.
 *   disk sequential      --disk-mib MiB in 1 MiB pwrite()s to a new file
 *                        in --dir, then fdatasync(): MB/s, the sync
 *                        included. --dir is on the file system that holds
 *                        the servers' disks.
 *   4 KiB write+fdatasync  pwrite() of 4 KiB at consecutive offsets of
 *                        that (already written) file, each followed by
 *                        fdatasync(), for --sync-secs seconds: ops/s. A
 *                        log that is preallocated (the filer's NVLOG) can
 *                        at best sync this often, one write at a time.
 *
 *   bench-nfs ceilings --dir DIR --out FILE [--disk-mib N] [--tcp-mib N]
 *                      [--sync-secs S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/bench/bench_nfs.h"

#define MIB (1u << 20)

static void fail(const char *what)
{
	fprintf(stderr, "bench-nfs ceilings: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct sender {
	struct sockaddr_in to;
	uint64_t bytes;
	int rc;
};

static void *send_main(void *arg)
{
	struct sender *s = arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *buf = malloc(MIB);
	if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&s->to, sizeof(s->to)) < 0) {
		s->rc = -1;
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	memset(buf, 0x5a, MIB);
	for (uint64_t sent = 0; sent < s->bytes;) {
		ssize_t n = send(fd, buf, MIB, MSG_NOSIGNAL);
		if (n <= 0) {
			s->rc = -1;
			break;
		}
		sent += (uint64_t)n;
	}
	close(fd);
	free(buf);
	return NULL;
}

static double loopback_mbps(uint64_t bytes)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		fail("loopback listener");
	struct sender s = {.to = a, .bytes = bytes};
	pthread_t t;
	if (pthread_create(&t, NULL, send_main, &s))
		fail("thread");
	int fd = accept(l, NULL, NULL);
	if (fd < 0)
		fail("accept");
	char *buf = malloc(MIB);
	if (!buf)
		fail("malloc");
	double t0 = bench_now();
	uint64_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, MIB, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	double secs = bench_now() - t0;
	pthread_join(t, NULL);
	close(fd);
	close(l);
	free(buf);
	if (s.rc || got != bytes) {
		errno = EIO;
		fail("loopback transfer");
	}
	return (double)got / secs / 1e6;
}

int bench_ceil_main(int argc, char **argv)
{
	const char *dir = NULL, *out = NULL;
	uint64_t disk_mib = 1024, tcp_mib = 8192;
	double sync_secs = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--out"))
			out = argv[i + 1];
		else if (!strcmp(argv[i], "--disk-mib"))
			disk_mib = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--tcp-mib"))
			tcp_mib = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--sync-secs"))
			sync_secs = strtod(argv[i + 1], NULL);
	}
	if (!dir || !out || !disk_mib || !tcp_mib || sync_secs <= 0) {
		fprintf(stderr, "usage: bench-nfs ceilings --dir DIR --out FILE [--disk-mib N] "
				"[--tcp-mib N] [--sync-secs S]\n");
		return 2;
	}
	FILE *o = fopen(out, "w");
	if (!o)
		fail(out);

	double tcp = loopback_mbps(tcp_mib * MIB);
	fprintf(stderr, "  ceiling  loopback TCP, one stream, %llu MiB   %10.1f MB/s\n",
		(unsigned long long)tcp_mib, tcp);
	fprintf(o, "C loopback_mbps %.1f\n", tcp);

	char path[4096];
	snprintf(path, sizeof(path), "%s/ceiling.tmp", dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	char *buf = aligned_alloc(4096, MIB);
	if (fd < 0 || !buf)
		fail(path);
	for (size_t i = 0; i < MIB; i++)
		buf[i] = (char)(i * 131 + 7);
	double t0 = bench_now();
	for (uint64_t i = 0; i < disk_mib; i++)
		if (pwrite(fd, buf, MIB, (off_t)(i * MIB)) != MIB)
			fail("pwrite");
	if (fdatasync(fd))
		fail("fdatasync");
	double seq = (double)(disk_mib * MIB) / (bench_now() - t0) / 1e6;
	fprintf(stderr, "  ceiling  disk sequential write + fdatasync, %llu MiB  %10.1f MB/s\n",
		(unsigned long long)disk_mib, seq);
	fprintf(o, "C disk_seq_mbps %.1f\n", seq);

	uint64_t n = 0;
	t0 = bench_now();
	double t;
	do {
		if (pwrite(fd, buf, 4096, (off_t)((n % (disk_mib * 256)) * 4096)) != 4096)
			fail("pwrite");
		if (fdatasync(fd))
			fail("fdatasync");
		n++;
	} while ((t = bench_now() - t0) < sync_secs);
	double rate = (double)n / t;
	fprintf(stderr, "  ceiling  4 KiB pwrite + fdatasync, one at a time  %10.0f ops/s\n", rate);
	fprintf(o, "C fdatasync_ops %.1f\n", rate);
	close(fd);
	unlink(path);
	free(buf);
	fclose(o);
	return 0;
}
