/*
 * bench_nfs.c - the load generator of `make bench`: NFSv3 over libnfs's
 * asynchronous raw RPC interface, against any server (the filer, or
 * nfs-ganesha for comparison), with every byte it reads back checked.
 *
 *   bench-nfs run --port N [--mount-port N] [--export PATH] --out FILE
 *                 [--label NAME] [--host ADDR] [--conns N] [--wait SECONDS]
 *                 [--files N] [--meta-ops N] [--seq-mib N] [--rand-ops N]
 *                 [--sync-secs S] [--dir-entries N] [--phases ns,data,dir]
 *                 [--server-pid N | --server-pid-file FILE]
 *
 * Defaults: 4 connections, 50 000 files, 300 000 GETATTRs and LOOKUPs, a
 * 2 GiB file, 131 072 random writes, 10 s per FILE_SYNC depth, a 100 000-
 * entry directory: about two minutes against the filer on two cores.
 *
 * One thread, one poll() loop, several TCP connections (--conns, 4); a
 * workload keeps a fixed number of operations in flight (its depth),
 * spread round-robin over the connections, and issues the next one as
 * soon as one completes. An operation's latency runs from the moment it
 * is queued to the moment its reply is decoded. Each workload stops when
 * its count is done or after its time cap (60 s; the FILE_SYNC ones run
 * for --sync-secs), whichever comes first; ops/s is what completed over
 * the time it took.
 *
 * The workloads, in the order they run (the export starts empty):
 *
 *   create       --files files of 4 KiB in one new directory: CREATE
 *                (GUARDED, mode 0644) then one WRITE of 4 KiB, FILE_SYNC;
 *                an operation is the pair; depth 64
 *   (check)      each file read back and compared (not timed)
 *   getattr      --meta-ops GETATTRs of those files in a random order,
 *                type, size and fileid checked; depth 64
 *   lookup       --meta-ops LOOKUPs of their names, random order, fileid
 *                checked; depth 64
 *   remove       every file REMOVEd, random order; depth 64
 *   seq write    one file of --seq-mib MiB in 1 MiB UNSTABLE WRITEs,
 *                depth 16, then a COMMIT, which the time includes
 *   seq read     that file in 1 MiB READs, depth 16, every byte checked
 *   rand write   --rand-ops 4 KiB UNSTABLE WRITEs to distinct random
 *                blocks of that file, depth 64, then a COMMIT (timed)
 *   rand read    --rand-ops * 2 4 KiB READs of random blocks, depth 64,
 *                each checked against the version last written there
 *   (check)      the whole file read back and compared (not timed)
 *   sync d1      4 KiB FILE_SYNC WRITEs appended to a new file, one at
 *                a time, for --sync-secs seconds
 *   sync d32     the same with 32 in flight
 *   (check)      that file read back and compared (not timed)
 *   (setup)      a directory of --dir-entries empty files (CREATE
 *                UNCHECKED, depth 64; its rate is printed, not judged)
 *   readdirplus  the whole directory, twice, in READDIRPLUS calls of
 *                maxcount 64 KiB and dircount 8 KiB (what Linux asks
 *                for with a 64 KiB dtsize), one call at a time as a
 *                client must (each starts at the last cookie): every
 *                name seen exactly once per pass, with attributes and a
 *                handle, fileids checked; "ops" are entries
 *
 * --phases runs only some of the three groups above (namespace: create to
 * remove; data: seq write to the FILE_SYNC check; dir: the big directory),
 * for profiling one of them.
 *
 * Data: every 4 KiB block written is a fixed 4 KiB pattern XORed with a
 * 64-bit tag of (file, block number, version), so a block that comes back
 * from the wrong file, the wrong place or an older write is caught, not
 * just a flipped bit. Any error, failed check or short reply ends the run
 * (exit status 1) after the figures already written.
 *
 * With the server's pid, each progress line also says how much CPU the
 * client and the server used (100% = one core), which tells a server-bound
 * figure from a client-bound one on a small machine.
 *
 * Results go to --out as lines "R key ops seconds bytes p50_us p99_us"
 * "P name value" and "T key start end" (see bench_nfs.h); progress goes to
 * stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "tests/bench/bench_nfs.h"

#define BS	   4096u
#define MIB	   (1u << 20)
#define MAX_CONNS  16
#define FH_MAX	   64
#define CAP_S	   60.0
#define STALL_S	   60.0 /* no reply for this long: the server is stuck */
#define META_DEPTH 64
#define SEQ_DEPTH  16
#define RAND_DEPTH 64
#define RDP_MAX	   65536u
#define RDP_DIR	   8192u

/* file numbers in the data tags */
#define SEQ_FILE  1000001u
#define SYNC_FILE 1000002u

struct fh {
	uint32_t len;
	uint8_t data[FH_MAX];
};

struct conn {
	struct rpc_context *rpc;
};

struct wl;

/* One operation in flight. */
struct req {
	struct wl *w;
	struct conn *cn;
	uint64_t idx;  /* the operation's number in its workload */
	uint64_t aux;  /* what the callback must know (a file or block number) */
	uint32_t file; /* READ: the data tag's file number */
	uint64_t t0_ns;
	struct req *next_free;
};

/* A workload: `total` operations, `depth` in flight. */
struct wl {
	const char *key;
	uint64_t total;
	unsigned depth;
	double cap_s;
	void (*issue)(struct req *r);
	uint64_t issued, done, bytes;
	unsigned inflight;
	bool stop;
	uint64_t t0_ns;
	double cpu0_client, cpu0_server; /* CPU seconds used before it started */
	uint64_t *lat_ns;
	size_t nlat, lat_cap;
};

struct file_ent {
	struct fh fh;
	uint64_t fileid;
};

static struct {
	const char *label;
	const char *host;
	int port, mount_port;
	const char *export;
	FILE *out;
	unsigned nconns, next_conn;
	struct conn conn[MAX_CONNS];
	struct fh root;

	/* sizes */
	uint64_t files, meta_ops, seq_bytes, rand_ops, dir_entries;
	double sync_secs;

	/* the namespace workloads */
	struct fh files_dir, big_dir;
	struct file_ent *file;
	uint32_t *perm;
	uint64_t *big_fileid;

	/* the data workloads */
	struct fh seq_fh, sync_fh;
	uint8_t *ver; /* per block of the sequential file: its version */
	uint64_t nblocks;
	uint64_t sync_base; /* blocks of the sync file written so far */
	uint8_t verf[NFS3_WRITEVERFSIZE];
	bool have_verf;

	uint8_t *wbuf; /* 1 MiB of data to send */
	uint64_t verified_bytes, verified_attrs;
	uint64_t last_reply_ns;
	int server_pid; /* for its CPU time; 0: unknown */
} g;

/* ---- small things ----------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_now(void)
{
	return (double)now_ns() / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-nfs: %s: ", g.label ? g.label : "run");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (g.out)
		fflush(g.out);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die("out of memory");
	return p;
}

/* splitmix64's finalizer: a good 64-bit mix, cheap */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A random permutation of 0..n-1, the same in every run. */
static uint32_t *permutation(uint64_t n, uint64_t seed)
{
	uint32_t *p = xcalloc(n, sizeof(*p));
	for (uint64_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = mix64(seed ^ i) % i;
		uint32_t t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

static void fh_set(struct fh *d, const nfs_fh3 *s)
{
	if (s->data.data_len == 0 || s->data.data_len > FH_MAX)
		die("file handle of %u bytes", s->data.data_len);
	d->len = s->data.data_len;
	memcpy(d->data, s->data.data_val, d->len);
}

static nfs_fh3 fh_arg(const struct fh *f)
{
	nfs_fh3 h;
	h.data.data_len = f->len;
	h.data.data_val = (char *)f->data;
	return h;
}

/* CPU seconds (user + system) used by this process, and by the server's
 * (all its threads, from /proc: it runs on this machine); -1: unknown. */
static double cpu_client(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_server(void)
{
	if (g.server_pid <= 0)
		return -1;
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", g.server_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void cpu_mark(struct wl *w)
{
	w->cpu0_client = cpu_client();
	w->cpu0_server = cpu_server();
}

/* "client 85%, server 97%": CPU over the wall time, 100% = one core */
static void cpu_note(const struct wl *w, double secs, char *out, size_t len)
{
	double c = cpu_client() - w->cpu0_client, sv = cpu_server();
	if (secs <= 0)
		secs = 1e-9;
	if (sv >= 0 && w->cpu0_server >= 0)
		snprintf(out, len, "cpu: client %.0f%%, server %.0f%%", 100 * c / secs,
			 100 * (sv - w->cpu0_server) / secs);
	else
		snprintf(out, len, "cpu: client %.0f%%", 100 * c / secs);
}

/* ---- the data pattern ------------------------------------------------- */

static uint64_t pat_base[BS / 8];

static void pat_init(void)
{
	for (unsigned i = 0; i < BS / 8; i++)
		pat_base[i] = mix64(0x5eedf11e0000ull + i);
}

static uint64_t pat_tag(uint64_t file, uint64_t blk, unsigned ver)
{
	return mix64((file << 40) ^ (blk << 8) ^ ver);
}

static void pat_fill(uint8_t *restrict p, uint64_t file, uint64_t blk, unsigned ver)
{
	uint64_t t = pat_tag(file, blk, ver);
	for (unsigned i = 0; i < BS / 8; i++) {
		uint64_t v = pat_base[i] ^ t;
		memcpy(p + 8 * i, &v, 8);
	}
}

static void pat_check(const uint8_t *p, uint64_t file, uint64_t blk, unsigned ver)
{
	uint64_t t = pat_tag(file, blk, ver), diff = 0;
	for (unsigned i = 0; i < BS / 8; i++) {
		uint64_t v;
		memcpy(&v, p + 8 * i, 8);
		diff |= v ^ pat_base[i] ^ t;
	}
	if (diff)
		die("data mismatch: file %" PRIu64 " block %" PRIu64
		    " (version %u) reads back wrong",
		    file, blk, ver);
	g.verified_bytes += BS;
}

/* ---- connections and the loop ---------------------------------------- */

/* Services every connection once (waits up to a second for something). */
static void pump(void)
{
	struct pollfd pfd[MAX_CONNS];
	for (unsigned i = 0; i < g.nconns; i++) {
		pfd[i].fd = rpc_get_fd(g.conn[i].rpc);
		pfd[i].events = (short)rpc_which_events(g.conn[i].rpc);
		pfd[i].revents = 0;
	}
	int n = poll(pfd, g.nconns, 1000);
	if (n < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	uint64_t t = now_ns();
	if (n > 0)
		g.last_reply_ns = t;
	else if (t - g.last_reply_ns > (uint64_t)(STALL_S * 1e9))
		die("no progress for %.0f s: the server stopped answering", STALL_S);
	for (unsigned i = 0; i < g.nconns; i++) {
		struct rpc_context *rpc = g.conn[i].rpc;
		if (pfd[i].revents && rpc_service(rpc, pfd[i].revents) < 0)
			die("connection %u: %s", i, rpc_get_error(rpc));
		/* what the callbacks just queued goes out now, not a poll later */
		if (rpc_which_events(rpc) & POLLOUT && rpc_service(rpc, POLLOUT) < 0)
			die("connection %u: %s", i, rpc_get_error(rpc));
	}
}

struct connect_wait {
	int state; /* 0 waiting, 1 done, -1 failed */
	char err[256];
};

static void connect_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct connect_wait *cw = priv;
	cw->state = status == RPC_STATUS_SUCCESS ? 1 : -1;
	if (status != RPC_STATUS_SUCCESS)
		snprintf(cw->err, sizeof(cw->err), "%s", data ? (char *)data : "failed");
}

/* Runs one context until *state leaves 0 (setup, before the pool exists). */
static void pump_one(struct rpc_context *rpc, const int *state)
{
	uint64_t t0 = now_ns();
	while (!*state) {
		struct pollfd p = {.fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc)};
		int n = poll(&p, 1, 200);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n > 0 && rpc_service(rpc, p.revents) < 0)
			return; /* the caller sees the state and the error */
		if (now_ns() - t0 > 10000000000ull)
			return;
	}
}

static struct rpc_context *dial(int port, int prog, int vers, char *err, size_t errlen)
{
	struct rpc_context *rpc = rpc_init_context();
	if (!rpc)
		die("rpc_init_context failed");
	struct connect_wait cw = {0};
	if (rpc_connect_port_async(rpc, g.host, port, prog, vers, connect_cb, &cw)) {
		snprintf(err, errlen, "%s", rpc_get_error(rpc));
		rpc_destroy_context(rpc);
		return NULL;
	}
	pump_one(rpc, &cw.state);
	if (cw.state != 1) {
		snprintf(err, errlen, "%s", cw.state ? cw.err : "connect timed out");
		rpc_destroy_context(rpc);
		return NULL;
	}
	/* requests are pipelined: Nagle would hold the small ones back */
	int one = 1;
	(void)setsockopt(rpc_get_fd(rpc), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return rpc;
}

struct mnt_wait {
	int state;
	int status;
	struct fh fh;
};

static void mnt_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct mnt_wait *m = priv;
	if (status != RPC_STATUS_SUCCESS) {
		m->state = -1;
		return;
	}
	mountres3 *r = data;
	m->status = (int)r->fhs_status;
	if (r->fhs_status == MNT3_OK) {
		fhandle3 *f = &r->mountres3_u.mountinfo.fhandle;
		nfs_fh3 h;
		h.data.data_len = f->fhandle3_len;
		h.data.data_val = f->fhandle3_val;
		fh_set(&m->fh, &h);
	}
	m->state = 1;
}

/* MOUNT for the root handle, then the NFS connections. 0, or -1 with err. */
static int try_connect(char *err, size_t errlen)
{
	struct rpc_context *m = dial(g.mount_port, MOUNT_PROGRAM, MOUNT_V3, err, errlen);
	if (!m)
		return -1;
	struct mnt_wait mw = {0};
	if (rpc_mount3_mnt_async(m, mnt_cb, (char *)g.export, &mw)) {
		snprintf(err, errlen, "MNT: %s", rpc_get_error(m));
		rpc_destroy_context(m);
		return -1;
	}
	pump_one(m, &mw.state);
	rpc_destroy_context(m);
	if (mw.state != 1 || mw.status != MNT3_OK) {
		snprintf(err, errlen, "MNT %s: %s", g.export,
			 mw.state == 1 ? "refused" : "no answer");
		return -1;
	}
	g.root = mw.fh;
	for (unsigned i = 0; i < g.nconns; i++) {
		g.conn[i].rpc = dial(g.port, NFS_PROGRAM, NFS_V3, err, errlen);
		if (!g.conn[i].rpc) {
			for (unsigned j = 0; j < i; j++)
				rpc_destroy_context(g.conn[j].rpc);
			return -1;
		}
	}
	return 0;
}

/* ---- the engine -------------------------------------------------------- */

static struct req *free_reqs;

static struct req *req_get(void)
{
	struct req *r = free_reqs;
	if (r)
		free_reqs = r->next_free;
	else
		r = xcalloc(1, sizeof(*r));
	return r;
}

static void req_put(struct req *r)
{
	r->next_free = free_reqs;
	free_reqs = r;
}

static void lat_add(struct wl *w, uint64_t ns)
{
	if (w->nlat == w->lat_cap) {
		w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 65536;
		w->lat_ns = realloc(w->lat_ns, w->lat_cap * sizeof(*w->lat_ns));
		if (!w->lat_ns)
			die("out of memory");
	}
	w->lat_ns[w->nlat++] = ns;
}

static void wl_fill(struct wl *w)
{
	while (!w->stop && w->inflight < w->depth && w->issued < w->total) {
		uint64_t t = now_ns();
		if (w->cap_s > 0 && (double)(t - w->t0_ns) > w->cap_s * 1e9) {
			w->stop = true;
			break;
		}
		struct req *r = req_get();
		r->w = w;
		r->idx = w->issued++;
		r->aux = 0;
		r->cn = &g.conn[g.next_conn++ % g.nconns];
		r->t0_ns = t;
		w->inflight++;
		w->issue(r);
	}
}

/* An operation is over: count it, and start the next. */
static void op_done(struct req *r, uint64_t bytes)
{
	struct wl *w = r->w;
	lat_add(w, now_ns() - r->t0_ns);
	w->done++;
	w->bytes += bytes;
	w->inflight--;
	req_put(r);
	wl_fill(w);
}

static void wl_start(struct wl *w)
{
	w->issued = w->done = w->bytes = 0;
	w->inflight = 0;
	w->stop = false;
	w->nlat = 0;
	cpu_mark(w);
	w->t0_ns = now_ns();
	g.last_reply_ns = w->t0_ns;
	wl_fill(w);
}

static void wl_wait(struct wl *w)
{
	while (w->inflight)
		pump();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_us(struct wl *w, double p)
{
	if (!w->nlat)
		return 0;
	size_t i = (size_t)(p * (double)(w->nlat - 1) + 0.5);
	return (double)w->lat_ns[i] / 1000.0;
}

/* Writes the figures of a finished workload; ops may differ from w->done
 * (READDIRPLUS counts entries). */
static void wl_report(struct wl *w, const char *what, uint64_t ops, uint64_t t_end_ns)
{
	double secs = (double)(t_end_ns - w->t0_ns) / 1e9;
	qsort(w->lat_ns, w->nlat, sizeof(*w->lat_ns), cmp_u64);
	double p50 = pct_us(w, 0.50), p99 = pct_us(w, 0.99);
	fprintf(g.out, "R %s %" PRIu64 " %.6f %" PRIu64 " %.1f %.1f\n", w->key, ops, secs, w->bytes,
		p50, p99);
	/* when, on CLOCK_MONOTONIC: to cut a profile (perf record -k mono) */
	fprintf(g.out, "T %s %.6f %.6f\n", w->key, (double)w->t0_ns / 1e9, (double)t_end_ns / 1e9);
	fflush(g.out);
	char cpu[64];
	cpu_note(w, secs, cpu, sizeof(cpu));
	fprintf(stderr,
		"  %-8s %-12s %-34s %7.2f s %9.0f ops/s %7.1f MB/s  p50 %.3f p99 %.3f ms  %s\n",
		g.label, w->key, what, secs, secs > 0 ? (double)ops / secs : 0,
		secs > 0 ? (double)w->bytes / secs / 1e6 : 0, p50 / 1000, p99 / 1000, cpu);
	free(w->lat_ns);
	w->lat_ns = NULL;
	w->nlat = w->lat_cap = 0;
}

/* ---- replies ----------------------------------------------------------- */

static const char *nfsstat_name(int s)
{
	switch (s) {
	case NFS3ERR_PERM:
		return "PERM";
	case NFS3ERR_NOENT:
		return "NOENT";
	case NFS3ERR_IO:
		return "IO";
	case NFS3ERR_ACCES:
		return "ACCES";
	case NFS3ERR_EXIST:
		return "EXIST";
	case NFS3ERR_NOTDIR:
		return "NOTDIR";
	case NFS3ERR_INVAL:
		return "INVAL";
	case NFS3ERR_FBIG:
		return "FBIG";
	case NFS3ERR_NOSPC:
		return "NOSPC";
	case NFS3ERR_ROFS:
		return "ROFS";
	case NFS3ERR_STALE:
		return "STALE";
	case NFS3ERR_BADHANDLE:
		return "BADHANDLE";
	case NFS3ERR_NOTSUPP:
		return "NOTSUPP";
	case NFS3ERR_TOOSMALL:
		return "TOOSMALL";
	case NFS3ERR_SERVERFAULT:
		return "SERVERFAULT";
	case NFS3ERR_JUKEBOX:
		return "JUKEBOX";
	default:
		return "error";
	}
}

/* The RPC itself must have worked, and the NFS status be OK. */
static void expect(int rpc_status, void *data, const char *proc)
{
	if (rpc_status != RPC_STATUS_SUCCESS)
		die("%s: RPC failed: %s", proc,
		    rpc_status == RPC_STATUS_ERROR && data ? (char *)data : "cancelled");
	int st = *(int *)data; /* every NFSv3 result starts with its nfsstat3 */
	if (st != NFS3_OK)
		die("%s: NFS3ERR_%s (%d)", proc, nfsstat_name(st), st);
}

static void send_check(int rc, struct rpc_context *rpc, const char *proc)
{
	if (rc)
		die("%s: cannot queue: %s", proc, rpc_get_error(rpc));
}

/* The write verifier must not change during a run (it would mean the
 * server restarted and may have lost UNSTABLE data). */
static void check_verf(const char *v)
{
	if (!g.have_verf) {
		memcpy(g.verf, v, sizeof(g.verf));
		g.have_verf = true;
	} else if (memcmp(g.verf, v, sizeof(g.verf))) {
		die("the write verifier changed during the run");
	}
}

/* ---- one-off calls (setup, COMMIT) -------------------------------------- */

struct once {
	int state;
	struct fh fh;
	uint64_t fileid;
};

static void once_wait(struct once *o)
{
	g.last_reply_ns = now_ns();
	while (!o->state)
		pump();
}

static void mkdir_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct once *o = priv;
	expect(status, data, "MKDIR");
	MKDIR3resok *ok = &((MKDIR3res *)data)->MKDIR3res_u.resok;
	if (!ok->obj.handle_follows)
		die("MKDIR: no handle in the reply");
	fh_set(&o->fh, &ok->obj.post_op_fh3_u.handle);
	o->state = 1;
}

static struct fh make_dir(const char *name)
{
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = fh_arg(&g.root);
	a.where.name = (char *)name;
	a.attributes.mode.set_it = 1;
	a.attributes.mode.set_mode3_u.mode = 0755;
	struct once o = {0};
	send_check(rpc_nfs3_mkdir_async(g.conn[0].rpc, mkdir_cb, &a, &o), g.conn[0].rpc, "MKDIR");
	once_wait(&o);
	return o.fh;
}

static void fill_create(CREATE3args *a, const struct fh *dir, const char *name, createmode3 how)
{
	memset(a, 0, sizeof(*a));
	a->where.dir = fh_arg(dir);
	a->where.name = (char *)name;
	a->how.mode = how;
	a->how.createhow3_u.obj_attributes.mode.set_it = 1;
	a->how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
}

/* The handle and fileid of a CREATE's reply. */
static void created(void *data, struct fh *fh, uint64_t *fileid)
{
	CREATE3resok *ok = &((CREATE3res *)data)->CREATE3res_u.resok;
	if (!ok->obj.handle_follows)
		die("CREATE: no handle in the reply");
	fh_set(fh, &ok->obj.post_op_fh3_u.handle);
	*fileid = ok->obj_attributes.attributes_follow
			  ? ok->obj_attributes.post_op_attr_u.attributes.fileid
			  : 0;
}

static void create_once_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct once *o = priv;
	expect(status, data, "CREATE");
	created(data, &o->fh, &o->fileid);
	o->state = 1;
}

static struct fh make_file(const char *name)
{
	CREATE3args a;
	fill_create(&a, &g.root, name, GUARDED);
	struct once o = {0};
	send_check(rpc_nfs3_create_async(g.conn[0].rpc, create_once_cb, &a, &o), g.conn[0].rpc,
		   "CREATE");
	once_wait(&o);
	return o.fh;
}

static void commit_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct once *o = priv;
	expect(status, data, "COMMIT");
	check_verf(((COMMIT3res *)data)->COMMIT3res_u.resok.verf);
	o->state = 1;
}

static void commit(const struct fh *fh)
{
	COMMIT3args a;
	memset(&a, 0, sizeof(a));
	a.file = fh_arg(fh);
	struct once o = {0};
	send_check(rpc_nfs3_commit_async(g.conn[0].rpc, commit_cb, &a, &o), g.conn[0].rpc,
		   "COMMIT");
	once_wait(&o);
}

/* ---- create, getattr, lookup, remove ------------------------------------ */

static void file_name(char *buf, size_t len, const char *prefix, uint64_t i)
{
	snprintf(buf, len, "%s%07" PRIu64, prefix, i);
}

static void create_write_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "WRITE");
	WRITE3resok *ok = &((WRITE3res *)data)->WRITE3res_u.resok;
	if (ok->count != BS || ok->committed != FILE_SYNC)
		die("WRITE FILE_SYNC: count %u committed %d", ok->count, (int)ok->committed);
	op_done(r, BS);
}

static void create_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct req *r = priv;
	expect(status, data, "CREATE");
	struct file_ent *f = &g.file[r->idx];
	created(data, &f->fh, &f->fileid);
	uint8_t buf[BS];
	pat_fill(buf, r->idx + 1, 0, 0);
	WRITE3args a;
	memset(&a, 0, sizeof(a));
	a.file = fh_arg(&f->fh);
	a.count = BS;
	a.stable = FILE_SYNC;
	a.data.data_len = BS;
	a.data.data_val = (char *)buf;
	send_check(rpc_nfs3_write_async(rpc, create_write_cb, &a, r), rpc, "WRITE");
}

static void create_issue(struct req *r)
{
	char name[32];
	file_name(name, sizeof(name), "f", r->idx);
	CREATE3args a;
	fill_create(&a, &g.files_dir, name, GUARDED);
	send_check(rpc_nfs3_create_async(r->cn->rpc, create_cb, &a, r), r->cn->rpc, "CREATE");
}

static void check_file_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "READ");
	READ3resok *ok = &((READ3res *)data)->READ3res_u.resok;
	if (ok->count != BS || ok->data.data_len != BS)
		die("READ of a 4 KiB file: %u bytes", ok->count);
	pat_check((const uint8_t *)ok->data.data_val, r->idx + 1, 0, 0);
	op_done(r, BS);
}

static void check_file_issue(struct req *r)
{
	READ3args a;
	memset(&a, 0, sizeof(a));
	a.file = fh_arg(&g.file[r->idx].fh);
	a.count = BS;
	send_check(rpc_nfs3_read_async(r->cn->rpc, check_file_cb, &a, r), r->cn->rpc, "READ");
}

static void check_attr(const fattr3 *a, uint64_t i, uint64_t size)
{
	if (a->type != NF3REG || a->size != size ||
	    (g.file[i].fileid && a->fileid != g.file[i].fileid))
		die("attributes of file %" PRIu64 ": type %d size %" PRIu64 " fileid %" PRIu64, i,
		    (int)a->type, (uint64_t)a->size, (uint64_t)a->fileid);
	g.verified_attrs++;
}

static void getattr_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "GETATTR");
	check_attr(&((GETATTR3res *)data)->GETATTR3res_u.resok.obj_attributes, r->aux, BS);
	op_done(r, 0);
}

static void getattr_issue(struct req *r)
{
	r->aux = mix64(r->idx ^ 0x6e7a11) % g.files;
	GETATTR3args a;
	a.object = fh_arg(&g.file[r->aux].fh);
	send_check(rpc_nfs3_getattr_async(r->cn->rpc, getattr_cb, &a, r), r->cn->rpc, "GETATTR");
}

static void lookup_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "LOOKUP");
	LOOKUP3resok *ok = &((LOOKUP3res *)data)->LOOKUP3res_u.resok;
	const struct fh *want = &g.file[r->aux].fh;
	if (ok->obj_attributes.attributes_follow)
		check_attr(&ok->obj_attributes.post_op_attr_u.attributes, r->aux, BS);
	else if (ok->object.data.data_len != want->len ||
		 memcmp(ok->object.data.data_val, want->data, want->len))
		die("LOOKUP of file %" PRIu64 ": another handle, no attributes", r->aux);
	op_done(r, 0);
}

static void lookup_issue(struct req *r)
{
	r->aux = mix64(r->idx ^ 0x100c0b) % g.files;
	char name[32];
	file_name(name, sizeof(name), "f", r->aux);
	LOOKUP3args a;
	a.what.dir = fh_arg(&g.files_dir);
	a.what.name = name;
	send_check(rpc_nfs3_lookup_async(r->cn->rpc, lookup_cb, &a, r), r->cn->rpc, "LOOKUP");
}

static void remove_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	expect(status, data, "REMOVE");
	op_done(priv, 0);
}

static void remove_issue(struct req *r)
{
	char name[32];
	file_name(name, sizeof(name), "f", g.perm[r->idx]);
	REMOVE3args a;
	a.object.dir = fh_arg(&g.files_dir);
	a.object.name = name;
	send_check(rpc_nfs3_remove_async(r->cn->rpc, remove_cb, &a, r), r->cn->rpc, "REMOVE");
}

/* ---- sequential and random data ---------------------------------------- */

static void data_write_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "WRITE");
	WRITE3resok *ok = &((WRITE3res *)data)->WRITE3res_u.resok;
	if (ok->count != (uint32_t)r->aux)
		die("WRITE: %u of %u bytes written", ok->count, (uint32_t)r->aux);
	check_verf(ok->verf);
	op_done(r, r->aux);
}

/* WRITEs blocks [blk, blk + n) of a file, each of the version given. */
static void write_blocks(struct req *r, const struct fh *fh, uint64_t file, uint64_t blk,
			 unsigned n, stable_how how)
{
	for (unsigned i = 0; i < n; i++)
		pat_fill(g.wbuf + (size_t)i * BS, file, blk + i,
			 file == SEQ_FILE ? g.ver[blk + i] : 0);
	WRITE3args a;
	memset(&a, 0, sizeof(a));
	a.file = fh_arg(fh);
	a.offset = blk * BS;
	a.count = n * BS;
	a.stable = how;
	a.data.data_len = n * BS;
	a.data.data_val = (char *)g.wbuf;
	r->aux = n * BS;
	send_check(rpc_nfs3_write_async(r->cn->rpc, data_write_cb, &a, r), r->cn->rpc, "WRITE");
}

static void seq_write_issue(struct req *r)
{
	uint64_t blk = r->idx * (MIB / BS);
	uint64_t left = g.nblocks - blk;
	write_blocks(r, &g.seq_fh, SEQ_FILE, blk, left < MIB / BS ? (unsigned)left : MIB / BS,
		     UNSTABLE);
}

static void rand_write_issue(struct req *r)
{
	uint64_t blk = g.perm[r->idx];
	g.ver[blk]++;
	write_blocks(r, &g.seq_fh, SEQ_FILE, blk, 1, UNSTABLE);
}

/* aux of a READ: the first block (low 40 bits) and the block count */
#define RD_AUX(blk, n) ((blk) | ((uint64_t)(n) << 40))

static void data_read_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "READ");
	READ3resok *ok = &((READ3res *)data)->READ3res_u.resok;
	uint64_t blk = r->aux & ((1ull << 40) - 1);
	unsigned n = (unsigned)(r->aux >> 40);
	if (ok->count != n * BS || ok->data.data_len != n * BS)
		die("READ at block %" PRIu64 ": %u of %u bytes", blk, ok->count, n * BS);
	for (unsigned i = 0; i < n; i++)
		pat_check((const uint8_t *)ok->data.data_val + (size_t)i * BS, r->file, blk + i,
			  r->file == SEQ_FILE ? g.ver[blk + i] : 0);
	op_done(r, (uint64_t)n * BS);
}

static void read_blocks(struct req *r, const struct fh *fh, uint32_t file, uint64_t blk, unsigned n)
{
	r->file = file;
	READ3args a;
	memset(&a, 0, sizeof(a));
	a.file = fh_arg(fh);
	a.offset = blk * BS;
	a.count = n * BS;
	r->aux = RD_AUX(blk, n);
	send_check(rpc_nfs3_read_async(r->cn->rpc, data_read_cb, &a, r), r->cn->rpc, "READ");
}

static void seq_read_issue(struct req *r)
{
	uint64_t blk = r->idx * (MIB / BS);
	uint64_t left = g.nblocks - blk;
	read_blocks(r, &g.seq_fh, SEQ_FILE, blk, left < MIB / BS ? (unsigned)left : MIB / BS);
}

static void rand_read_issue(struct req *r)
{
	read_blocks(r, &g.seq_fh, SEQ_FILE, mix64(r->idx ^ 0x4a4d) % g.nblocks, 1);
}

static void sync_write_issue(struct req *r)
{
	write_blocks(r, &g.sync_fh, SYNC_FILE, g.sync_base + r->idx, 1, FILE_SYNC);
}

static void sync_check_issue(struct req *r)
{
	uint64_t blk = r->idx * (MIB / BS);
	uint64_t left = g.sync_base - blk;
	read_blocks(r, &g.sync_fh, SYNC_FILE, blk, left < MIB / BS ? (unsigned)left : MIB / BS);
}

/* ---- the big directory --------------------------------------------------- */

static void big_create_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct req *r = priv;
	expect(status, data, "CREATE");
	struct fh fh;
	created(data, &fh, &g.big_fileid[r->idx]);
	op_done(r, 0);
}

static void big_create_issue(struct req *r)
{
	char name[32];
	file_name(name, sizeof(name), "e", r->idx);
	CREATE3args a;
	fill_create(&a, &g.big_dir, name, UNCHECKED);
	send_check(rpc_nfs3_create_async(r->cn->rpc, big_create_cb, &a, r), r->cn->rpc, "CREATE");
}

struct rdp {
	int state;
	uint64_t cookie;
	char verf[NFS3_COOKIEVERFSIZE];
	bool eof;
	uint64_t entries;
	uint8_t *seen;
};

static void rdp_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	(void)rpc;
	struct rdp *d = priv;
	expect(status, data, "READDIRPLUS");
	READDIRPLUS3resok *ok = &((READDIRPLUS3res *)data)->READDIRPLUS3res_u.resok;
	memcpy(d->verf, ok->cookieverf, sizeof(d->verf));
	unsigned n = 0;
	for (entryplus3 *e = ok->reply.entries; e; e = e->nextentry) {
		d->cookie = e->cookie;
		n++;
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		char *end = NULL;
		uint64_t i = e->name[0] == 'e' ? strtoull(e->name + 1, &end, 10) : UINT64_MAX;
		if (!end || *end || i >= g.dir_entries)
			die("READDIRPLUS: unexpected name '%s'", e->name);
		if (d->seen[i])
			die("READDIRPLUS: '%s' twice in one pass", e->name);
		d->seen[i] = 1;
		if (!e->name_attributes.attributes_follow || !e->name_handle.handle_follows)
			die("READDIRPLUS: '%s' without %s", e->name,
			    e->name_handle.handle_follows ? "attributes" : "a handle");
		const fattr3 *a = &e->name_attributes.post_op_attr_u.attributes;
		if (a->type != NF3REG || a->size != 0 ||
		    (g.big_fileid[i] && a->fileid != g.big_fileid[i]))
			die("READDIRPLUS: attributes of '%s' wrong", e->name);
		g.verified_attrs++;
		d->entries++;
	}
	if (!n && !ok->reply.eof)
		die("READDIRPLUS: no entries and no eof");
	d->eof = ok->reply.eof;
	d->state = 1;
}

/* One pass over the big directory; latencies into w. */
static void readdirplus_pass(struct wl *w, uint8_t *seen)
{
	struct rdp d = {.seen = seen};
	memset(seen, 0, g.dir_entries);
	while (!d.eof) {
		READDIRPLUS3args a;
		memset(&a, 0, sizeof(a));
		a.dir = fh_arg(&g.big_dir);
		a.cookie = d.cookie;
		memcpy(a.cookieverf, d.verf, sizeof(a.cookieverf));
		a.dircount = RDP_DIR;
		a.maxcount = RDP_MAX;
		d.state = 0;
		uint64_t t0 = now_ns();
		send_check(rpc_nfs3_readdirplus_async(g.conn[0].rpc, rdp_cb, &a, &d), g.conn[0].rpc,
			   "READDIRPLUS");
		g.last_reply_ns = t0;
		while (!d.state)
			pump();
		lat_add(w, now_ns() - t0);
		w->done++;
	}
	if (d.entries != g.dir_entries)
		die("READDIRPLUS: %" PRIu64 " of %" PRIu64 " entries in a pass", d.entries,
		    g.dir_entries);
}

/* ---- the run ------------------------------------------------------------- */

static void param(const char *name, double v)
{
	fprintf(g.out, "P %s %.0f\n", name, v);
}

/* Runs w to the end (count or cap) and reports it. */
static void run_wl(struct wl *w, const char *what)
{
	wl_start(w);
	wl_wait(w);
	wl_report(w, what, w->done, now_ns());
}

/* Runs w as an untimed check or setup: only progress on stderr. */
static void run_quiet(struct wl *w, const char *what)
{
	wl_start(w);
	wl_wait(w);
	double s = (double)(now_ns() - w->t0_ns) / 1e9;
	char cpu[64];
	cpu_note(w, s, cpu, sizeof(cpu));
	fprintf(stderr, "  %-8s %-12s %-34s %7.2f s %9.0f ops/s (not judged)  %s\n", g.label,
		w->key, what, s, s > 0 ? (double)w->done / s : 0, cpu);
	free(w->lat_ns);
	w->lat_ns = NULL;
	w->nlat = w->lat_cap = 0;
	if (w->done != w->total)
		die("%s: %" PRIu64 " of %" PRIu64 " done in the time allowed", w->key, w->done,
		    w->total);
}

static void run_namespace(void)
{
	char what[64];
	g.files_dir = make_dir("files");
	g.file = xcalloc(g.files, sizeof(*g.file));
	struct wl w = {.key = "create",
		       .total = g.files,
		       .depth = META_DEPTH,
		       .cap_s = CAP_S,
		       .issue = create_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " files, 4 KiB FILE_SYNC", g.files);
	run_wl(&w, what);
	uint64_t made = w.done;
	g.files = made; /* a capped run made fewer: work on those */
	struct wl chk = {.key = "files-check",
			 .total = made,
			 .depth = META_DEPTH,
			 .cap_s = 0,
			 .issue = check_file_issue};
	run_quiet(&chk, "read back, compared");

	w = (struct wl){.key = "getattr",
			.total = g.meta_ops,
			.depth = META_DEPTH,
			.cap_s = CAP_S,
			.issue = getattr_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " random, depth %u", g.meta_ops, META_DEPTH);
	run_wl(&w, what);
	w = (struct wl){.key = "lookup",
			.total = g.meta_ops,
			.depth = META_DEPTH,
			.cap_s = CAP_S,
			.issue = lookup_issue};
	run_wl(&w, what);

	g.perm = permutation(made, 0x7e30e);
	w = (struct wl){.key = "remove",
			.total = made,
			.depth = META_DEPTH,
			.cap_s = CAP_S,
			.issue = remove_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " files, random order", made);
	run_wl(&w, what);
	free(g.perm);
	g.perm = NULL;
}

static void run_data(void)
{
	char what[64];
	g.nblocks = g.seq_bytes / BS;
	g.ver = xcalloc(g.nblocks, 1);
	g.seq_fh = make_file("seq");
	uint64_t nio = (g.nblocks + MIB / BS - 1) / (MIB / BS);

	struct wl w = {.key = "seq-write",
		       .total = nio,
		       .depth = SEQ_DEPTH,
		       .cap_s = CAP_S,
		       .issue = seq_write_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " MiB, 1 MiB UNSTABLE + COMMIT", g.seq_bytes >> 20);
	wl_start(&w);
	wl_wait(&w);
	if (w.done != nio)
		die("sequential write: only %" PRIu64 " of %" PRIu64 " MiB in %.0f s", w.done, nio,
		    CAP_S);
	commit(&g.seq_fh);
	wl_report(&w, what, w.done, now_ns());

	w = (struct wl){.key = "seq-read",
			.total = nio,
			.depth = SEQ_DEPTH,
			.cap_s = CAP_S,
			.issue = seq_read_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " MiB, 1 MiB READs, checked", g.seq_bytes >> 20);
	run_wl(&w, what);

	uint64_t nr = g.rand_ops < g.nblocks ? g.rand_ops : g.nblocks;
	g.perm = permutation(g.nblocks, 0x4a4d0);
	w = (struct wl){.key = "rand-write",
			.total = nr,
			.depth = RAND_DEPTH,
			.cap_s = CAP_S,
			.issue = rand_write_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " x 4 KiB UNSTABLE + COMMIT, d%u", nr, RAND_DEPTH);
	wl_start(&w);
	wl_wait(&w);
	commit(&g.seq_fh);
	wl_report(&w, what, w.done, now_ns());
	free(g.perm);
	g.perm = NULL;

	w = (struct wl){.key = "rand-read",
			.total = 2 * nr,
			.depth = RAND_DEPTH,
			.cap_s = CAP_S,
			.issue = rand_read_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " x 4 KiB, d%u, checked", 2 * nr, RAND_DEPTH);
	run_wl(&w, what);

	w = (struct wl){.key = "seq-check",
			.total = nio,
			.depth = SEQ_DEPTH,
			.cap_s = 0,
			.issue = seq_read_issue};
	run_quiet(&w, "whole file read back, compared");

	g.sync_fh = make_file("sync");
	w = (struct wl){.key = "sync-d1",
			.total = UINT32_MAX,
			.depth = 1,
			.cap_s = g.sync_secs,
			.issue = sync_write_issue};
	snprintf(what, sizeof(what), "4 KiB FILE_SYNC appends, %.0f s", g.sync_secs);
	run_wl(&w, what);
	g.sync_base += w.done;
	w = (struct wl){.key = "sync-d32",
			.total = UINT32_MAX,
			.depth = 32,
			.cap_s = g.sync_secs,
			.issue = sync_write_issue};
	run_wl(&w, what);
	g.sync_base += w.done;
	w = (struct wl){.key = "sync-check",
			.total = (g.sync_base + MIB / BS - 1) / (MIB / BS),
			.depth = SEQ_DEPTH,
			.cap_s = 0,
			.issue = sync_check_issue};
	run_quiet(&w, "read back, compared");
}

static void run_bigdir(void)
{
	char what[64];
	g.big_dir = make_dir("big");
	g.big_fileid = xcalloc(g.dir_entries, sizeof(*g.big_fileid));
	struct wl w = {.key = "dir-setup",
		       .total = g.dir_entries,
		       .depth = META_DEPTH,
		       .cap_s = 300,
		       .issue = big_create_issue};
	snprintf(what, sizeof(what), "%" PRIu64 " empty files, one directory", g.dir_entries);
	run_quiet(&w, what);

	uint8_t *seen = xcalloc(g.dir_entries, 1);
	w = (struct wl){.key = "readdirplus"};
	cpu_mark(&w);
	w.t0_ns = now_ns();
	const unsigned passes = 2;
	for (unsigned p = 0; p < passes; p++)
		readdirplus_pass(&w, seen);
	snprintf(what, sizeof(what), "%u x %" PRIu64 " entries, 64 KiB calls", passes,
		 g.dir_entries);
	wl_report(&w, what, passes * g.dir_entries, now_ns());
	free(seen);
}

static uint64_t num_arg(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || end == v)
		die("%s wants a number, not '%s'", opt, v);
	return n;
}

int bench_run_main(int argc, char **argv)
{
	g.label = "server";
	g.host = "127.0.0.1";
	g.export = "/";
	g.nconns = 4;
	g.files = 50000;
	g.meta_ops = 300000;
	g.seq_bytes = 2048ull * MIB;
	g.rand_ops = 131072;
	g.sync_secs = 10;
	g.dir_entries = 100000;
	const char *out = NULL, *phases = "ns,data,dir", *server_pid_file = NULL;
	double wait_s = 10;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			die("%s wants a value", o);
		const char *v = argv[++i];
		if (!strcmp(o, "--host"))
			g.host = v;
		else if (!strcmp(o, "--port"))
			g.port = (int)num_arg(o, v);
		else if (!strcmp(o, "--mount-port"))
			g.mount_port = (int)num_arg(o, v);
		else if (!strcmp(o, "--export"))
			g.export = v;
		else if (!strcmp(o, "--label"))
			g.label = v;
		else if (!strcmp(o, "--out"))
			out = v;
		else if (!strcmp(o, "--conns"))
			g.nconns = (unsigned)num_arg(o, v);
		else if (!strcmp(o, "--wait"))
			wait_s = (double)num_arg(o, v);
		else if (!strcmp(o, "--files"))
			g.files = num_arg(o, v);
		else if (!strcmp(o, "--meta-ops"))
			g.meta_ops = num_arg(o, v);
		else if (!strcmp(o, "--seq-mib"))
			g.seq_bytes = num_arg(o, v) * MIB;
		else if (!strcmp(o, "--rand-ops"))
			g.rand_ops = num_arg(o, v);
		else if (!strcmp(o, "--sync-secs"))
			g.sync_secs = (double)num_arg(o, v);
		else if (!strcmp(o, "--dir-entries"))
			g.dir_entries = num_arg(o, v);
		else if (!strcmp(o, "--phases"))
			phases = v;
		else if (!strcmp(o, "--server-pid"))
			g.server_pid = (int)num_arg(o, v);
		else if (!strcmp(o, "--server-pid-file"))
			server_pid_file = v;
		else
			die("unknown option %s", o);
	}
	if (!g.port || !out)
		die("usage: bench-nfs run --port N [--mount-port N] [--export PATH] --out FILE "
		    "...");
	if (!g.mount_port)
		g.mount_port = g.port;
	if (!g.nconns || g.nconns > MAX_CONNS)
		die("--conns: 1 to %d", MAX_CONNS);
	if (!g.files || !g.meta_ops || g.seq_bytes < MIB || !g.rand_ops || !g.dir_entries ||
	    g.sync_secs <= 0)
		die("sizes must not be zero");
	g.out = fopen(out, "w");
	if (!g.out)
		die("%s: %s", out, strerror(errno));
	pat_init();
	g.wbuf = xcalloc(MIB, 1);

	char err[300] = "";
	uint64_t t0 = now_ns();
	while (try_connect(err, sizeof(err))) {
		if ((double)(now_ns() - t0) / 1e9 > wait_s)
			die("cannot reach %s port %d (MOUNT port %d): %s", g.host, g.port,
			    g.mount_port, err);
		usleep(200000);
	}
	if (server_pid_file) { /* the server wrote it by the time it answers */
		FILE *f = fopen(server_pid_file, "r");
		if (!f || fscanf(f, "%d", &g.server_pid) != 1)
			g.server_pid = 0;
		if (f)
			fclose(f);
	}
	fprintf(stderr, "  %-8s mounted %s from %s:%d over %u connections (server pid %d)\n",
		g.label, g.export, g.host, g.port, g.nconns, g.server_pid);
	param("conns", g.nconns);
	param("files", (double)g.files);
	param("meta_ops", (double)g.meta_ops);
	param("seq_mib", (double)(g.seq_bytes >> 20));
	param("rand_ops", (double)g.rand_ops);
	param("sync_secs", g.sync_secs);
	param("dir_entries", (double)g.dir_entries);

	if (strstr(phases, "ns"))
		run_namespace();
	if (strstr(phases, "data"))
		run_data();
	if (strstr(phases, "dir"))
		run_bigdir();

	param("verified_bytes", (double)g.verified_bytes);
	param("verified_attrs", (double)g.verified_attrs);
	fclose(g.out);
	g.out = NULL;
	fprintf(stderr,
		"  %-8s done: %.1f MiB read back and compared, %" PRIu64
		" attribute sets checked\n",
		g.label, (double)g.verified_bytes / MIB, g.verified_attrs);
	for (unsigned i = 0; i < g.nconns; i++)
		rpc_destroy_context(g.conn[i].rpc);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	if (!strcmp(cmd, "run"))
		return bench_run_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "ceilings"))
		return bench_ceil_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return bench_report_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench-nfs run|ceilings|report ... (see tests/bench/bench_nfs.c)\n");
	return 2;
}
