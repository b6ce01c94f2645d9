/*
 * main.c - the filer daemon.
 *
 * With no configuration it runs the embedded default: under ./var (or
 * $FILER_HOME), three file-backed disks, aggregate aggr0, flexible volume
 * vol0 exported read-write to 127.0.0.1 as /vol/vol0 (insecure,
 * no_root_squash: the local demo), NFS and MOUNT on 127.0.0.1:2049 and the
 * portmapper on 111 when run as root, else on free high ports, printed.
 *
 * SIGTERM and SIGINT shut down cleanly: a final CP, so the next start has
 * nothing to replay. The per-filer secret that signs file handles lives in
 * var/secret, so handles stay valid across restarts; the WRITE verifier
 * changes with every start.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "nfs/nfs.h"
#include "wafl/wafl.h"

#define NDISKS 3
#define DISK_BYTES (2ull << 30)
#define VOL_BYTES (4ull << 30)

struct filer {
	char home[512];
	struct event_base *base;
	struct wafl_aggr *aggr;
	struct nfs_server *nfs;
	struct event *sigterm, *sigint;
	int lock_fd;
};

static int read_secret(const char *home, uint8_t secret[NFS_SECRET_BYTES])
{
	char path[600];
	snprintf(path, sizeof(path), "%s/secret", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, secret, NFS_SECRET_BYTES);
		close(fd);
		if (n == NFS_SECRET_BYTES)
			return 0;
		fprintf(stderr, "filer: %s is damaged\n", path);
		return -EINVAL;
	}
	if (getrandom(secret, NFS_SECRET_BYTES, 0) != NFS_SECRET_BYTES)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, secret, NFS_SECRET_BYTES) == NFS_SECRET_BYTES && fsync(fd) == 0 ? 0
											: -EIO;
	close(fd);
	return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct filer *f = arg;
	fprintf(stderr, "filer: signal %d: shutting down\n", (int)sig);
	event_base_loopexit(f->base, NULL);
}

static int setup_default(struct filer *f, const char **disks, char paths[][600],
			 const char *nvlog)
{
	struct stat st;
	if (stat(paths[0], &st) == 0)
		return 0;
	fprintf(stderr, "filer: creating aggr0 (%d disks of %llu MiB) and vol0 in %s\n", NDISKS,
		(unsigned long long)(DISK_BYTES >> 20), f->home);
	struct wafl_aggr_params p = {
		.name = "aggr0",
		.kind = WAFL_AGGR,
		.disks = disks,
		.ndisks = NDISKS,
		.disk_size_bytes = DISK_BYTES,
		.nvlog_path = nvlog,
	};
	return wafl_aggr_create(&p);
}

static void usage(FILE *o)
{
	fprintf(o, "usage: filer [--home DIR] [--addr ADDR] [--port N] [--portmap-port N]\n"
		   "             [--no-portmap] [--no-udp]\n");
}

int main(int argc, char **argv)
{
	struct filer f = {.lock_fd = -1};
	const char *home = getenv("FILER_HOME") ? getenv("FILER_HOME") : "./var";
	const char *addr = "127.0.0.1";
	bool root = geteuid() == 0;
	int port = root ? 2049 : 0, pmport = root ? 111 : 0;
	bool portmap = true, udp = true;
	static const struct option opts[] = {
		{"home", required_argument, 0, 'H'},   {"addr", required_argument, 0, 'a'},
		{"port", required_argument, 0, 'p'},   {"portmap-port", required_argument, 0, 'P'},
		{"no-portmap", no_argument, 0, 'n'},   {"no-udp", no_argument, 0, 'u'},
		{"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': home = optarg; break;
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'P': pmport = atoi(optarg); break;
		case 'n': portmap = false; break;
		case 'u': udp = false; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	snprintf(f.home, sizeof(f.home), "%s", home);
	if (mkdir(f.home, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "filer: %s: %s\n", f.home, strerror(errno));
		return 1;
	}
	char lockp[600];
	snprintf(lockp, sizeof(lockp), "%s/filer.lock", f.home);
	f.lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f.lock_fd < 0 || flock(f.lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "filer: another filer uses %s\n", f.home);
		return 1;
	}
	char paths[NDISKS][600], nvlog[600];
	const char *disks[NDISKS];
	for (int i = 0; i < NDISKS; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/disk%d", f.home, i);
		disks[i] = paths[i];
	}
	snprintf(nvlog, sizeof(nvlog), "%s/nvlog", f.home);
	int rc = setup_default(&f, disks, paths, nvlog);
	if (rc) {
		fprintf(stderr, "filer: cannot create the aggregate: %s\n", strerror(-rc));
		return 1;
	}
	f.base = event_base_new();
	struct wafl_open_params op = {.disks = disks, .ndisks = NDISKS, .nvlog_path = nvlog};
	if ((rc = wafl_aggr_open(f.base, &op, &f.aggr))) {
		fprintf(stderr, "filer: cannot open aggr0: %s\n", strerror(-rc));
		return 1;
	}
	struct wafl_vol *vol = wafl_vol_find(f.aggr, "vol0");
	if (!vol) {
		struct wafl_stab st;
		if ((rc = wafl_vol_create(f.aggr, "vol0", VOL_BYTES, WAFL_GUAR_NONE, &st)) ||
		    (rc = wafl_wait(f.aggr, &st))) {
			fprintf(stderr, "filer: cannot create vol0: %s\n", strerror(-rc));
			return 1;
		}
		vol = wafl_vol_find(f.aggr, "vol0");
	}
	struct nfs_config nc = {
		.base = f.base,
		.addr = addr,
		.port = (uint16_t)port,
		.udp = udp,
		.portmapper = portmap,
		.portmap_port = (uint16_t)pmport,
	};
	if ((rc = read_secret(f.home, nc.secret))) {
		fprintf(stderr, "filer: cannot read or make %s/secret: %s\n", f.home,
			strerror(-rc));
		return 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	nc.boot_verifier = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if ((rc = nfs_server_new(&nc, &f.nfs))) {
		fprintf(stderr, "filer: cannot listen on %s: %s\n", addr, strerror(-rc));
		return 1;
	}
	char err[256];
	if ((rc = nfs_export_add(f.nfs, "/vol/vol0", vol, "127.0.0.1(rw,insecure,no_root_squash)",
				 err, sizeof(err)))) {
		fprintf(stderr, "filer: export: %s\n", err);
		return 1;
	}
	f.sigterm = evsignal_new(f.base, SIGTERM, on_signal, &f);
	f.sigint = evsignal_new(f.base, SIGINT, on_signal, &f);
	event_add(f.sigterm, NULL);
	event_add(f.sigint, NULL);
	signal(SIGPIPE, SIG_IGN);
	uint16_t np = nfs_server_port(f.nfs), pp = nfs_server_portmap_port(f.nfs);
	printf("filer: serving /vol/vol0 on %s port %u (NFSv3 and MOUNT v3, TCP%s)", addr, np,
	       udp ? "+UDP" : "");
	if (portmap)
		printf(", portmapper on port %u", pp);
	printf("\nfiler: mount with: mount -t nfs -o vers=3,proto=tcp,port=%u,mountport=%u,"
	       "nolock %s:/vol/vol0 /mnt\n",
	       np, np, addr);
	fflush(stdout);
	event_base_dispatch(f.base);
	nfs_server_free(f.nfs);
	rc = wafl_aggr_close(f.aggr);
	event_free(f.sigterm);
	event_free(f.sigint);
	event_base_free(f.base);
	close(f.lock_fd);
	fprintf(stderr, "filer: stopped%s\n", rc ? " (the final CP failed)" : "");
	return rc ? 1 : 0;
}
