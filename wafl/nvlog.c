/*
 * nvlog.c - the intent log: every modifying operation since the last CP,
 * made durable by group commit on a writer thread.
 *
 * The loop thread appends records to the newest *batch*; batches queue in
 * file order. The writer thread takes one batch at a time, pwrites it,
 * fdatasyncs, and reports the highest sequence number it made durable;
 * every operation appended while it was busy rides the next sync, so many
 * requests share one. Records for CP n's epoch go to half n % 2 (see
 * ondisk.h for the file format and the replay rule).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "wafl/wafl_int.h"

struct nvbatch {
	uint8_t *buf;
	size_t len, cap;
	uint64_t file_off;
	uint64_t last_seq;
	TAILQ_ENTRY(nvbatch) link;
};
TAILQ_HEAD(nvbatch_list, nvbatch);

struct nvlog {
	int fd;
	uint64_t half_bytes;
	uint8_t uuid[16];
	uint64_t epoch; /* of records appended now */
	uint64_t off;	/* next record's offset within the current half */
	uint64_t seq_next;
	uint64_t seq_durable;
	struct nvbatch_list queue; /* oldest first; the head may be in the writer */
	bool writer_busy;
	uint64_t bytes_written;
	struct waiter_list waiters;
	struct event *kick_ev, *done_ev;
	int efd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct nvbatch *job; /* handed to the writer */
	int job_rc;
	bool job_done, stop;
};

#define NV_HDR_BYTES 4096u

static uint64_t half_base(const struct nvlog *l, uint64_t epoch)
{
	return NV_HDR_BYTES + (epoch % 2) * l->half_bytes;
}

int nvlog_create(const char *path, uint64_t bytes, uint8_t uuid[16])
{
	if (bytes < 2 * 65536 + NV_HDR_BYTES)
		bytes = 64ull << 20;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct wafl_nvhdr h = {.magic = WAFL_NVH_MAGIC, .version = WAFL_FORMAT_VERSION};
	memcpy(h.uuid, uuid, 16);
	h.half_bytes = ((bytes - NV_HDR_BYTES) / 2) & ~4095ull;
	uint8_t blk[NV_HDR_BYTES] = {0};
	memcpy(blk, &h, sizeof(h));
	uint64_t ck = wafl_cksum(blk, sizeof(h), 0);
	memcpy(blk + NV_HDR_BYTES - 8, &ck, 8);
	int rc = 0;
	if (pwrite(fd, blk, sizeof(blk), 0) != (ssize_t)sizeof(blk) ||
	    ftruncate(fd, (off_t)(NV_HDR_BYTES + 2 * h.half_bytes)) < 0 || fdatasync(fd) < 0)
		rc = -errno ? -errno : -EIO;
	close(fd);
	return rc;
}

static void *nvlog_thread(void *arg)
{
	struct nvlog *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && (!l->job || l->job_done))
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->stop)
			break;
		struct nvbatch *b = l->job;
		pthread_mutex_unlock(&l->mu);
		int rc = 0;
		size_t done = 0;
		while (done < b->len) {
			ssize_t n = pwrite(l->fd, b->buf + done, b->len - done,
					   (off_t)(b->file_off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				break;
			}
			done += (size_t)n;
		}
		if (!rc && fdatasync(l->fd) < 0)
			rc = -errno;
		pthread_mutex_lock(&l->mu);
		l->job_rc = rc;
		l->job_done = true;
		uint64_t one = 1;
		if (write(l->efd, &one, 8) != 8)
			wafl_logf(WLOG_ERR, "nvlog: cannot signal completion");
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void nvlog_start_next(struct nvlog *l)
{
	if (l->writer_busy)
		return;
	struct nvbatch *b = TAILQ_FIRST(&l->queue);
	if (!b || !b->len)
		return;
	l->writer_busy = true;
	pthread_mutex_lock(&l->mu);
	l->job = b;
	l->job_done = false;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	nvlog_start_next(arg);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct wafl_aggr *a = arg;
	struct nvlog *l = a->log;
	uint64_t cnt;
	if (read(fd, &cnt, 8) != 8)
		return;
	pthread_mutex_lock(&l->mu);
	struct nvbatch *b = l->job;
	int rc = l->job_rc;
	l->job = NULL;
	pthread_mutex_unlock(&l->mu);
	l->writer_busy = false;
	if (!b)
		return;
	if (rc) {
		wafl_logf(WLOG_ERR,
			  "aggregate %s: NVLOG write failed (%s); "
			  "the aggregate is now read-only",
			  a->name, strerror(-rc));
		a->read_only = true;
		return;
	}
	TAILQ_REMOVE(&l->queue, b, link);
	l->seq_durable = b->last_seq;
	l->bytes_written += b->len;
	free(b->buf);
	free(b);
	waiters_fire(&l->waiters, l->seq_durable);
	nvlog_start_next(l);
	struct waiter_list prog;
	TAILQ_INIT(&prog);
	TAILQ_CONCAT(&prog, &a->progress, link);
	waiters_fire(&prog, UINT64_MAX);
}

int nvlog_open(struct wafl_aggr *a, const char *path, bool rdonly)
{
	struct nvlog *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (l->fd < 0) {
		int e = -errno;
		free(l);
		return e;
	}
	uint8_t blk[NV_HDR_BYTES];
	struct wafl_nvhdr h;
	uint64_t ck;
	if (pread(l->fd, blk, sizeof(blk), 0) != (ssize_t)sizeof(blk))
		goto bad;
	memcpy(&h, blk, sizeof(h));
	memcpy(&ck, blk + NV_HDR_BYTES - 8, 8);
	if (h.magic != WAFL_NVH_MAGIC || ck != wafl_cksum(blk, sizeof(h), 0) ||
	    memcmp(h.uuid, a->sb.nvlog_uuid, 16) || h.half_bytes < 65536)
		goto bad;
	l->half_bytes = h.half_bytes;
	memcpy(l->uuid, h.uuid, 16);
	l->seq_next = 1;
	TAILQ_INIT(&l->queue);
	TAILQ_INIT(&l->waiters);
	a->log = l;
	if (rdonly)
		return 0;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->efd < 0)
		return -errno;
	l->kick_ev = event_new(a->base, -1, 0, kick_cb, l);
	l->done_ev = event_new(a->base, l->efd, EV_READ | EV_PERSIST, done_cb, a);
	if (!l->kick_ev || !l->done_ev)
		return -ENOMEM;
	event_add(l->done_ev, NULL);
	if (pthread_create(&l->thread, NULL, nvlog_thread, l))
		return -EAGAIN;
	return 0;
bad:
	wafl_logf(WLOG_ERR, "%s: not the NVLOG of aggregate %s", path, a->name);
	close(l->fd);
	free(l);
	return -EUCLEAN;
}

void nvlog_close(struct wafl_aggr *a)
{
	struct nvlog *l = a->log;
	if (!l)
		return;
	if (l->done_ev) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		event_free(l->kick_ev);
		event_free(l->done_ev);
		close(l->efd);
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
	}
	struct nvbatch *b;
	while ((b = TAILQ_FIRST(&l->queue))) {
		TAILQ_REMOVE(&l->queue, b, link);
		free(b->buf);
		free(b);
	}
	struct waiter *w;
	while ((w = TAILQ_FIRST(&l->waiters))) {
		TAILQ_REMOVE(&l->waiters, w, link);
		free(w);
	}
	close(l->fd);
	free(l);
	a->log = NULL;
}

static size_t rec_len(size_t payload)
{
	return (sizeof(struct wafl_nvrec) + payload + 7) & ~(size_t)7;
}

bool nvlog_could_fit(struct wafl_aggr *a, size_t len)
{
	return rec_len(len) <= a->log->half_bytes;
}

bool nvlog_has_room(struct wafl_aggr *a, size_t len)
{
	struct nvlog *l = a->log;
	return l->off + rec_len(len) <= l->half_bytes;
}

uint64_t nvlog_fill_pct(struct wafl_aggr *a)
{
	struct nvlog *l = a->log;
	if (!l || !l->half_bytes)
		return 0;
	return l->off * 100 / l->half_bytes;
}

void nvlog_stats(struct wafl_aggr *a, uint64_t *size, uint64_t *used, uint64_t *written)
{
	struct nvlog *l = a->log;
	*size = l ? 2 * l->half_bytes : 0;
	*used = l ? l->off : 0;
	*written = l ? l->bytes_written : 0;
}

uint64_t nvlog_last_seq(struct wafl_aggr *a)
{
	return a->log->seq_next - 1;
}

uint64_t nvlog_durable_seq(struct wafl_aggr *a)
{
	return a->log->seq_durable;
}

int nvlog_waiter_add(struct wafl_aggr *a, uint64_t seq, wafl_done_fn fn, void *arg)
{
	return waiter_add(&a->log->waiters, seq, fn, arg);
}

int nvlog_append(struct wafl_aggr *a, const void *payload, size_t len, uint64_t *seq)
{
	struct nvlog *l = a->log;
	size_t rl = rec_len(len);
	if (rl > l->half_bytes)
		return -EFBIG;
	if (l->off + rl > l->half_bytes)
		return -EAGAIN;
	uint64_t file_off = half_base(l, l->epoch) + l->off;
	struct nvbatch *b = TAILQ_LAST(&l->queue, nvbatch_list);
	bool b_in_writer = b && l->writer_busy && b == TAILQ_FIRST(&l->queue);
	if (!b || b_in_writer || b->file_off + b->len != file_off) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->file_off = file_off;
		TAILQ_INSERT_TAIL(&l->queue, b, link);
	}
	if (b->len + rl > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 65536;
		while (ncap < b->len + rl)
			ncap *= 2;
		uint8_t *nb = realloc(b->buf, ncap);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->cap = ncap;
	}
	uint8_t *p = b->buf + b->len;
	struct wafl_nvrec h = {
		.magic = WAFL_NVR_MAGIC,
		.len = (uint32_t)rl,
		.epoch = l->epoch,
		.seq = l->seq_next,
	};
	memset(p, 0, rl);
	memcpy(p + sizeof(h), payload, len);
	memcpy(p, &h, sizeof(h));
	h.cksum = wafl_cksum(p + sizeof(h), rl - sizeof(h), wafl_cksum(p, 24, 0));
	memcpy(p, &h, sizeof(h));
	b->len += rl;
	b->last_seq = l->seq_next;
	l->off += rl;
	*seq = l->seq_next++;
	if (!l->writer_busy)
		event_active(l->kick_ev, 0, 0);
	return 0;
}

void nvlog_switch(struct wafl_aggr *a, uint64_t epoch)
{
	struct nvlog *l = a->log;
	l->epoch = epoch;
	l->off = 0;
}

/* Reads one half's records of `epoch`, in order, starting with seq
 * *next (0 = any). */
static int replay_half(struct wafl_aggr *a, uint64_t epoch, uint64_t *next, nvlog_replay_fn fn,
		       uint64_t *n)
{
	struct nvlog *l = a->log;
	uint8_t *buf = malloc(l->half_bytes);
	if (!buf)
		return -ENOMEM;
	ssize_t got = pread(l->fd, buf, l->half_bytes, (off_t)half_base(l, epoch));
	if (got < 0) {
		free(buf);
		return -errno;
	}
	size_t off = 0;
	int rc = 0;
	while (off + sizeof(struct wafl_nvrec) <= (size_t)got) {
		struct wafl_nvrec h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.magic != WAFL_NVR_MAGIC || h.len < sizeof(h) || (h.len & 7) ||
		    h.len > (size_t)got - off || h.epoch != epoch || (*next && h.seq != *next))
			break;
		uint8_t *p = buf + off;
		uint64_t ck = wafl_cksum(p + sizeof(h), h.len - sizeof(h), wafl_cksum(p, 24, 0));
		if (ck != h.cksum)
			break; /* a torn tail: the operation was never acknowledged */
		rc = fn(a, p + sizeof(h), h.len - sizeof(h));
		if (rc) {
			wafl_logf(WLOG_ERR, "NVLOG replay: record seq %llu failed (%s)",
				  (unsigned long long)h.seq, strerror(-rc));
			break;
		}
		(*n)++;
		*next = h.seq + 1;
		off += h.len;
	}
	free(buf);
	return rc;
}

int nvlog_replay(struct wafl_aggr *a, uint64_t cp, nvlog_replay_fn fn, uint64_t *n)
{
	uint64_t next = 0;
	*n = 0;
	/* CP cp+1 may have started (and switched halves) without finishing,
	 * and its epoch may have had no records: always read both halves */
	int rc = replay_half(a, cp + 1, &next, fn, n);
	if (!rc)
		rc = replay_half(a, cp + 2, &next, fn, n);
	if (next)
		a->log->seq_next = next;
	a->log->seq_durable = a->log->seq_next - 1; /* what replay read was on disk */
	return rc;
}
