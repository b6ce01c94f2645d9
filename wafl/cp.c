/*
 * cp.c - consistency points: the one way anything reaches the disks.
 *
 * A CP runs in two halves. On the loop thread, in one go (so it is the
 * state at that instant, DESIGN.md §9.2):
 *
 *   1. the NVLOG switches halves: later operations belong to the next CP;
 *   2. homing: every dirty buffer of every flexible volume, then of the
 *      aggregate, gets a new home (write allocation), its old home is
 *      freed, and its parent pointer is redirected; frees and new homes
 *      change maps, which dirties map blocks, which need homes: repeat
 *      until nothing is left without one. A flexvol block gets a VVBN
 *      from its volume, a PVBN from the aggregate, and the container
 *      file's pointer for that VVBN;
 *   3. sealing: bottom-up (data, indirects, inode file, fsinfo), each
 *      block gets its context and checksum and its parent pointer the
 *      checksum and CP number, and a private copy goes to the CP writer.
 *
 * The buffers are clean again at once and operations go on; the copies
 * are what is written. The CP writer thread writes them, syncs, writes the
 * alternate superblock (the atomic commit of the whole aggregate), syncs,
 * and reports back. Only then do in-flight frees become allocatable and
 * does the NVLOG half become reusable. Meanwhile a clean buffer may be
 * evicted: a read of a block the CP has not written yet is served from
 * its copy (cp_inflight_slot), and the copies count against the cache.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "wafl/wafl_int.h"

struct cp_ioent {
	uint64_t pvbn;
	uint8_t *slot;
};

struct cp_io {
	uint64_t cp;
	struct cp_ioent *ents;
	size_t n, cap;
	/* pvbn -> entry, so reads find what is not on the disks yet */
	uint64_t *hkey;
	size_t *hval;
	size_t hcap; /* power of two */
	struct wafl_super sb;
	int rc;
	uint64_t t0;
	uint64_t bytes;
	unsigned sb_copy; /* superblock copy this CP writes */
	int efd;	  /* the thread signals completion here */
};

int waiter_add(struct waiter_list *l, uint64_t key, wafl_done_fn fn, void *arg)
{
	struct waiter *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->key = key;
	w->fn = fn;
	w->arg = arg;
	/* keys arrive nearly in order: insert from the tail */
	struct waiter *p = TAILQ_LAST(l, waiter_list);
	while (p && p->key > key)
		p = TAILQ_PREV(p, waiter_list, link);
	if (p)
		TAILQ_INSERT_AFTER(l, p, w, link);
	else
		TAILQ_INSERT_HEAD(l, w, link);
	return 0;
}

void waiters_fire(struct waiter_list *l, uint64_t upto)
{
	struct waiter *w;
	while ((w = TAILQ_FIRST(l)) && w->key <= upto) {
		TAILQ_REMOVE(l, w, link);
		wafl_done_fn fn = w->fn;
		void *arg = w->arg;
		free(w);
		fn(arg);
	}
}

static int io_add(struct cp_io *io, uint64_t pvbn, uint8_t *slot)
{
	if (io->n == io->cap) {
		size_t ncap = io->cap ? io->cap * 2 : 1024;
		struct cp_ioent *ne = realloc(io->ents, ncap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		io->ents = ne;
		io->cap = ncap;
	}
	io->ents[io->n].pvbn = pvbn;
	io->ents[io->n].slot = slot;
	io->n++;
	return 0;
}

static void io_free(struct cp_io *io)
{
	for (size_t i = 0; i < io->n; i++)
		free(io->ents[i].slot);
	free(io->ents);
	free(io->hkey);
	free(io->hval);
	free(io);
}

static size_t io_hash(uint64_t pvbn, size_t mask)
{
	return (size_t)((pvbn * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

/* Indexes the blocks of a frozen CP by address. */
static int io_index(struct cp_io *io)
{
	size_t cap = 64;
	while (cap < io->n * 2)
		cap <<= 1;
	io->hkey = calloc(cap, sizeof(*io->hkey));
	io->hval = malloc(cap * sizeof(*io->hval));
	if (!io->hkey || !io->hval)
		return -ENOMEM;
	io->hcap = cap;
	for (size_t i = 0; i < io->n; i++) {
		size_t j = io_hash(io->ents[i].pvbn, cap - 1);
		while (io->hkey[j] && io->hkey[j] != io->ents[i].pvbn)
			j = (j + 1) & (cap - 1);
		io->hkey[j] = io->ents[i].pvbn;
		io->hval[j] = i;
	}
	return 0;
}

const uint8_t *cp_inflight_slot(struct wafl_aggr *a, uint64_t pvbn)
{
	struct cp_io *io = a->cp_io;
	if (!io || !io->hcap || !pvbn)
		return NULL;
	size_t j = io_hash(pvbn, io->hcap - 1);
	while (io->hkey[j]) {
		if (io->hkey[j] == pvbn)
			return io->ents[io->hval[j]].slot;
		j = (j + 1) & (io->hcap - 1);
	}
	return NULL;
}

size_t cp_inflight_blocks(struct wafl_aggr *a)
{
	return a->cp_io ? a->cp_io->n : 0;
}

/* ---- homing --------------------------------------------------------- */

int cp_container_slot(struct wafl_aggr *a, struct wafl_fs *fs, uint64_t vvbn, bool create,
		      struct wafl_bptr **slot)
{
	struct wbuf *ib, *l1;
	struct wafl_dinode *cdi;
	int rc = inode_get(&a->fs, fs->container, &ib, &cdi);
	if (rc)
		return rc;
	rc = bmap_get(&a->fs, fs->container, cdi, 1, vvbn >> WAFL_PTR_SHIFT, create ? BM_CREATE : 0,
		      &l1);
	if (rc)
		return rc;
	if (!l1)
		return -EUCLEAN;
	rc = buf_dirty(l1);
	if (rc)
		return rc;
	*slot = &((struct wafl_bptr *)l1->data)[vvbn & (WAFL_PTRS_PER_BLOCK - 1)];
	return 0;
}

/* Applies the frees gathered so far: clear the bits, hold the blocks in
 * flight until this CP is durable. A block a snapshot holds (the summary
 * has it) only leaves the active map; a clone's inherited block (no
 * pointer in its container) is the parent's to free. */
static int apply_frees(struct wafl_fs *fs)
{
	struct wafl_aggr *a = fs->aggr;
	int rc = 0;
	for (size_t i = 0; i < fs->pending.n && !rc; i++) {
		struct vbnpair *p = &fs->pending.v[i];
		rc = map_set(fs, p->vbn, false);
		bool held = false;
		if (!rc)
			rc = snap_summary_test(fs, p->vbn, &held);
		if (!rc && held) {
			fs->sum_only++;
			continue;
		}
		if (!rc)
			rc = u64set_add(&fs->inflight, p->vbn);
		if (rc || fs->type != WAFL_FST_FLEX)
			continue;
		struct wafl_bptr *cs;
		if (fs->parent_volid) {
			bool mine = false;
			rc = cp_container_slot(a, fs, p->vbn, false, &cs);
			if (rc == -EUCLEAN) /* no container block: inherited */
				rc = 0;
			else if (!rc)
				mine = cs->pvbn != 0;
			if (rc || !mine)
				continue;
		}
		rc = cp_container_slot(a, fs, p->vbn, false, &cs);
		if (rc)
			break;
		if (cs->pvbn != p->pvbn) {
			wafl_logf(WLOG_ERR,
				  "vol %u: container says vvbn %llu is pvbn %llu, not %llu",
				  fs->volid, (unsigned long long)p->vbn,
				  (unsigned long long)cs->pvbn, (unsigned long long)p->pvbn);
			rc = -EUCLEAN;
			break;
		}
		memset(cs, 0, sizeof(*cs));
		rc = map_set(&a->fs, p->pvbn, false);
		if (!rc)
			rc = u64set_add(&a->fs.inflight, p->pvbn);
	}
	fs->pending.n = 0;
	return rc;
}

static int buf_cmp_alloc(const void *x, const void *y)
{
	const struct wbuf *a = *(struct wbuf *const *)x, *b = *(struct wbuf *const *)y;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sealing rank: files, then the inode file, then the snapshot table
 * (its new entries hold the sealed inode file's root). */
static int seal_rank(const struct wbuf *b)
{
	return b->ino == WAFL_INO_INODEFILE ? 1 : b->ino == WAFL_INO_SNAPTAB ? 2 : 0;
}

/* Bottom-up: files before the inode file, lower levels first. */
static int buf_cmp_seal(const void *x, const void *y)
{
	const struct wbuf *a = *(struct wbuf *const *)x, *b = *(struct wbuf *const *)y;
	int ca = seal_rank(a), cb = seal_rank(b);
	if (ca != cb)
		return ca - cb;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int collect(struct wafl_fs *fs, bool unhomed_only, struct wbuf ***arr, size_t *n)
{
	size_t cap = fs->ndirty ? fs->ndirty : 1, k = 0;
	struct wbuf **v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	struct wbuf *b;
	TAILQ_FOREACH(b, &fs->dirty, dirty_link)
	{
		if (unhomed_only && (b->flags & B_HOMED))
			continue;
		v[k++] = b;
	}
	*arr = v;
	*n = k;
	return 0;
}

static int home_one(struct wafl_fs *fs, struct wbuf *b, uint64_t cp)
{
	struct wafl_aggr *a = fs->aggr;
	struct wafl_bptr nh = {.cp = cp};
	int rc;
	if (fs->type == WAFL_FST_FLEX) {
		rc = map_alloc(fs, &nh.vvbn);
		if (!rc)
			rc = map_alloc(&a->fs, &nh.pvbn);
		if (rc)
			return rc;
		struct wafl_bptr *cs;
		rc = cp_container_slot(a, fs, nh.vvbn, true, &cs);
		if (rc)
			return rc;
		cs->pvbn = cs->vvbn = nh.pvbn;
	} else {
		rc = map_alloc(fs, &nh.pvbn);
		if (rc)
			return rc;
		nh.vvbn = nh.pvbn;
	}
	if (b->home.pvbn) {
		rc = map_free_later(fs, b->home.vvbn, b->home.pvbn);
		if (rc)
			return rc;
	}
	b->home = nh;
	b->flags |= B_HOMED;
	struct wafl_bptr *slot;
	rc = bmap_parent_slot(b, &slot);
	if (rc)
		return rc;
	slot->pvbn = nh.pvbn;
	slot->vvbn = nh.vvbn;
	slot->flags = 0;
	return 0;
}

static int home_fs(struct wafl_fs *fs, uint64_t cp)
{
	for (;;) {
		int rc = apply_frees(fs);
		if (rc)
			return rc;
		struct wbuf **v;
		size_t n;
		rc = collect(fs, true, &v, &n);
		if (rc)
			return rc;
		if (n == 0 && fs->pending.n == 0) {
			free(v);
			return 0;
		}
		qsort(v, n, sizeof(*v), buf_cmp_alloc);
		for (size_t i = 0; i < n && !rc; i++)
			rc = home_one(fs, v[i], cp);
		free(v);
		if (rc)
			return rc;
	}
}

/* ---- sealing -------------------------------------------------------- */

static int seal_fs(struct wafl_fs *fs, struct cp_io *io)
{
	struct wafl_aggr *a = fs->aggr;
	struct wbuf **v;
	size_t n;
	int rc = collect(fs, false, &v, &n);
	if (rc)
		return rc;
	qsort(v, n, sizeof(*v), buf_cmp_seal);
	bool entries = false;
	for (size_t i = 0; i < n && !rc; i++) {
		struct wbuf *b = v[i];
		if (b->ino == WAFL_INO_SNAPTAB && !entries) {
			entries = true;
			snap_seal_entries(fs, io->cp);
		}
		uint8_t *slot = malloc(WAFL_SLOT_SIZE);
		if (!slot) {
			rc = -ENOMEM;
			break;
		}
		memcpy(slot, b->data, WAFL_BS);
		struct wafl_ctx c = {
			.kind = b->kind,
			.level = b->level,
			.volid = fs->volid,
			.ino = b->ino,
			.fbn = b->idx,
			.cp = io->cp,
			.pvbn = b->home.pvbn,
			.vvbn = b->home.vvbn,
		};
		ctx_seal(slot, &c);
		uint64_t ck;
		memcpy(&ck, slot + WAFL_BS, 8);
		b->home.cp = io->cp;
		b->home.cksum = (uint32_t)ck;
		struct wafl_bptr *ps;
		rc = bmap_parent_slot(b, &ps);
		if (rc) {
			free(slot);
			break;
		}
		*ps = b->home;
		if (fs->type == WAFL_FST_FLEX) {
			struct wafl_bptr *cs;
			rc = cp_container_slot(a, fs, b->home.vvbn, false, &cs);
			if (rc) {
				free(slot);
				break;
			}
			cs->cp = io->cp;
			cs->cksum = b->home.cksum;
		}
		rc = io_add(io, b->home.pvbn, slot);
		if (rc) {
			free(slot);
			break;
		}
		io->bytes += WAFL_SLOT_SIZE;
	}
	for (size_t i = 0; i < n; i++)
		cache_mark_clean(&a->cache, v[i]);
	free(v);
	fs->fsi.cp = io->cp;
	fs->fsi.snaptab = fs->snapdi.top[0];
	fs->fsi.nsnaps = fs->nsnaps;
	return rc;
}

/* ---- the CP writer thread ------------------------------------------- */

/* Where each block goes, for sorting the writes disk by disk. */
struct cp_place {
	struct wafl_disk *d;
	uint64_t slot;
	uint8_t *data;
};

static int place_cmp(const void *x, const void *y)
{
	const struct cp_place *a = x, *b = y;
	if (a->d != b->d)
		return a->d->position + a->d->group * 1024u < b->d->position + b->d->group * 1024u
			       ? -1
			       : 1;
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

#define CP_IOV 256 /* slots one pwritev carries (about 1 MiB) */

static int cp_write(struct wafl_aggr *a, struct cp_io *io)
{
	/* RAID-0 spreads consecutive blocks over the disks: sort by disk and
	 * slot, so that each disk gets its runs in as few calls as it can */
	struct cp_place *pl = io->n ? malloc(io->n * sizeof(*pl)) : NULL;
	if (io->n && !pl)
		return -ENOMEM;
	for (size_t i = 0; i < io->n; i++) {
		int rc = raid_map(&a->raid, io->ents[i].pvbn, &pl[i].d, &pl[i].slot);
		if (rc) {
			free(pl);
			return rc;
		}
		pl[i].data = io->ents[i].slot;
	}
	if (io->n)
		qsort(pl, io->n, sizeof(*pl), place_cmp);
	struct iovec iov[CP_IOV];
	size_t i = 0;
	int rc = 0;
	while (i < io->n && !rc) {
		struct wafl_disk *d = pl[i].d;
		uint64_t s0 = pl[i].slot;
		int k = 0;
		size_t j = i;
		while (j < io->n && k < CP_IOV && pl[j].d == d && pl[j].slot == s0 + (uint64_t)k) {
			iov[k].iov_base = pl[j].data;
			iov[k].iov_len = WAFL_SLOT_SIZE;
			k++;
			j++;
		}
		off_t off = (off_t)(s0 * WAFL_SLOT_SIZE);
		size_t want = (size_t)k * WAFL_SLOT_SIZE;
		ssize_t w = pwritev(d->fd, iov, k, off);
		if (w < 0 || (size_t)w != want) {
			/* short or failed: fall back to one slot at a time */
			for (int m = 0; m < k && !rc; m++)
				rc = disk_write_slot(d, s0 + (uint64_t)m, iov[m].iov_base);
		}
		i = j;
	}
	free(pl);
	if (rc)
		return rc;
	rc = raid_sync(&a->raid);
	if (rc)
		return rc;
	rc = super_write_all(&a->raid, &io->sb, io->sb_copy);
	if (rc)
		return rc;
	return raid_sync(&a->raid);
}

static void *cp_thread_main(void *arg)
{
	struct wafl_aggr *a = arg;
	pthread_mutex_lock(&a->cp_mu);
	for (;;) {
		while (!a->cp_thread_stop && !(a->cp_io && a->cp_io->rc == 1))
			pthread_cond_wait(&a->cp_cv, &a->cp_mu);
		if (a->cp_thread_stop)
			break;
		struct cp_io *io = a->cp_io;
		pthread_mutex_unlock(&a->cp_mu);
		if (a->test_cp_delay_ms)
			usleep(a->test_cp_delay_ms * 1000u);
		int rc = cp_write(a, io);
		pthread_mutex_lock(&a->cp_mu);
		io->rc = rc;
		uint64_t one = 1;
		if (write(io->efd, &one, 8) != 8)
			wafl_logf(WLOG_ERR, "cp: cannot signal completion");
	}
	pthread_mutex_unlock(&a->cp_mu);
	return NULL;
}

static struct wafl_vol *flex_vols_first(struct wafl_aggr *a, struct wafl_vol *v)
{
	v = v ? TAILQ_NEXT(v, link) : TAILQ_FIRST(&a->vols);
	while (v && v->fs == &a->fs)
		v = TAILQ_NEXT(v, link);
	return v;
}

static int cp_freeze(struct wafl_aggr *a, struct cp_io *io)
{
	int rc;
	struct wafl_vol *v;
	nvlog_switch(a, io->cp + 1);
	/* snapshots: merges, new table entries, reclaimed blocks */
	TAILQ_FOREACH(v, &a->vols, link)
	if ((rc = snap_freeze(v->fs)))
		return rc;
	/* volume table entries of volumes that changed must be rewritten */
	for (v = flex_vols_first(a, NULL); v; v = flex_vols_first(a, v)) {
		if (!v->fs->ndirty && !v->fs->pending.n)
			continue;
		struct wbuf *b;
		struct wafl_volent *e;
		if ((rc = voltab_get(a, v->slot, true, &b, &e)))
			return rc;
	}
	for (v = flex_vols_first(a, NULL); v; v = flex_vols_first(a, v))
		if ((rc = home_fs(v->fs, io->cp)))
			return rc;
	if ((rc = home_fs(&a->fs, io->cp)))
		return rc;
	for (v = flex_vols_first(a, NULL); v; v = flex_vols_first(a, v)) {
		if (!v->fs->ndirty)
			continue;
		if ((rc = seal_fs(v->fs, io)))
			return rc;
		struct wbuf *b;
		struct wafl_volent *e;
		if ((rc = voltab_get(a, v->slot, false, &b, &e)))
			return rc;
		if (!(b->flags & B_DIRTY))
			return -EUCLEAN;
		e->fsinfo = v->fs->fsi;
	}
	if ((rc = seal_fs(&a->fs, io)))
		return rc;
	io->sb = a->sb;
	io->sb.cp = io->cp;
	io->sb.fsinfo = a->fs.fsi;
	io->sb_copy = a->sb_copy ^ 1;
	return 0;
}

static void cp_begin(struct wafl_aggr *a)
{
	if (a->cp_running) {
		a->cp_again = true;
		return;
	}
	struct cp_io *io = calloc(1, sizeof(*io));
	if (!io) {
		wafl_logf(WLOG_ERR, "cp: out of memory");
		return;
	}
	io->cp = a->cp_next;
	io->t0 = wafl_now_usec();
	io->efd = event_get_fd(a->cp_done_ev);
	int rc = cp_freeze(a, io);
	if (!rc)
		rc = io_index(io);
	if (rc) {
		/* The in-memory state can no longer be written consistently:
		 * stop writing rather than write something wrong. */
		wafl_logf(WLOG_ERR,
			  "aggregate %s: CP %llu failed while freezing (%s); "
			  "the aggregate is now read-only",
			  a->name, (unsigned long long)io->cp, strerror(-rc));
		a->read_only = true;
		io_free(io);
		return;
	}
	a->cp_next++;
	a->cp_running = true;

	pthread_mutex_lock(&a->cp_mu);
	io->rc = 1; /* 1 = to be written */
	a->cp_io = io;
	pthread_cond_signal(&a->cp_cv);
	pthread_mutex_unlock(&a->cp_mu);
}

static void cp_done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct wafl_aggr *a = arg;
	uint64_t cnt;
	if (read(fd, &cnt, 8) != 8)
		return;
	pthread_mutex_lock(&a->cp_mu);
	struct cp_io *io = a->cp_io;
	a->cp_io = NULL;
	pthread_mutex_unlock(&a->cp_mu);
	if (!io)
		return;
	a->cp_running = false;
	if (io->rc) {
		wafl_logf(WLOG_ERR,
			  "aggregate %s: CP %llu could not be written (%s); "
			  "the aggregate is now read-only",
			  a->name, (unsigned long long)io->cp, strerror(-io->rc));
		a->read_only = true;
		io_free(io);
		return;
	}
	a->cp_durable = io->cp;
	/* a->sb is the live configuration (disks may have been added since
	 * this CP froze): take only its number */
	a->sb.cp = io->cp;
	a->sb_copy = io->sb_copy;
	a->disk_bytes_written += io->bytes + WAFL_SLOT_SIZE * (uint64_t)a->raid.ndisks;
	uint64_t us = wafl_now_usec() - io->t0;
	a->cps++;
	a->cp_last_usec = us;
	a->cp_total_usec += us;
	u64set_clear(&a->fs.inflight);
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	if (v->fs != &a->fs)
		u64set_clear(&v->fs->inflight);
	io_free(io);
	cache_trim(a);
	waiters_fire(&a->cp_waiters, a->cp_durable);
	/* progress waiters may add themselves again: fire a detached list */
	struct waiter_list prog;
	TAILQ_INIT(&prog);
	TAILQ_CONCAT(&prog, &a->progress, link);
	waiters_fire(&prog, UINT64_MAX);
	/* the waiters above may have started a CP already (a reply resumes a
	 * connection whose next write asks for one): only ever one at a time */
	if (a->cp_again && !a->cp_running) {
		a->cp_again = false;
		cp_begin(a);
	} else {
		cp_maybe(a);
	}
}

void cp_request(struct wafl_aggr *a)
{
	if (a->read_only)
		return;
	if (a->cp_running) {
		a->cp_again = true;
		return;
	}
	cp_begin(a);
}

void cp_maybe(struct wafl_aggr *a)
{
	if (a->cp_running || a->read_only || a->replaying)
		return;
	if (a->ndirty >= a->cp_dirty_bufs || nvlog_fill_pct(a) >= 50)
		cp_begin(a);
}

static void cp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct wafl_aggr *a = arg;
	if (a->ndirty || nvlog_fill_pct(a))
		cp_request(a);
}

int cp_init(struct wafl_aggr *a)
{
	TAILQ_INIT(&a->cp_waiters);
	TAILQ_INIT(&a->progress);
	pthread_mutex_init(&a->cp_mu, NULL);
	pthread_cond_init(&a->cp_cv, NULL);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return -errno;
	a->cp_done_ev = event_new(a->base, efd, EV_READ | EV_PERSIST, cp_done_cb, a);
	a->cp_timer = event_new(a->base, -1, EV_PERSIST, cp_timer_cb, a);
	if (!a->cp_done_ev || !a->cp_timer) {
		close(efd);
		return -ENOMEM;
	}
	event_add(a->cp_done_ev, NULL);
	struct timeval tv = {a->cp_interval_ms / 1000, (a->cp_interval_ms % 1000) * 1000};
	event_add(a->cp_timer, &tv);
	if (pthread_create(&a->cp_thread, NULL, cp_thread_main, a)) {
		close(efd);
		return -EAGAIN;
	}
	return 0;
}

void cp_shutdown(struct wafl_aggr *a)
{
	if (!a->cp_done_ev)
		return;
	pthread_mutex_lock(&a->cp_mu);
	a->cp_thread_stop = true;
	pthread_cond_signal(&a->cp_cv);
	pthread_mutex_unlock(&a->cp_mu);
	pthread_join(a->cp_thread, NULL);
	if (a->cp_io) {
		io_free(a->cp_io);
		a->cp_io = NULL;
	}
	int efd = event_get_fd(a->cp_done_ev);
	event_free(a->cp_done_ev);
	event_free(a->cp_timer);
	close(efd);
	a->cp_done_ev = NULL;
	struct waiter *w;
	while ((w = TAILQ_FIRST(&a->cp_waiters))) {
		TAILQ_REMOVE(&a->cp_waiters, w, link);
		free(w);
	}
	while ((w = TAILQ_FIRST(&a->progress))) {
		TAILQ_REMOVE(&a->progress, w, link);
		free(w);
	}
	pthread_mutex_destroy(&a->cp_mu);
	pthread_cond_destroy(&a->cp_cv);
}
