/*
 * aggr.c - aggregates and traditional volumes: create, open (with NVLOG
 * replay), close; flexible volumes inside an aggregate; durability waits.
 *
 * Opening reads every disk's label, assembles the RAID groups the newest
 * superblock describes, loads the volume table, and replays the NVLOG
 * records the superblock's CP does not contain. If anything was replayed
 * it takes a CP numbered cp + 2 before serving: that number makes every
 * record still lying in either log half belong to an older epoch, so a
 * crash right after cannot replay them a second time.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "wafl/dir.h"
#include "wafl/wafl_int.h"

#define DEFAULT_CACHE (256ull << 20)
#define DEFAULT_CP_MS 10000u
#define LABEL_FBN     0x4c4142454cull /* "LABEL": labels and superblocks differ */

static int label_write(struct wafl_disk *d, const struct wafl_label *l)
{
	uint8_t *slot = calloc(1, WAFL_SLOT_SIZE);
	if (!slot)
		return -ENOMEM;
	memcpy(slot, l, sizeof(*l));
	struct wafl_ctx c = {.kind = WAFL_BK_LABEL, .fbn = LABEL_FBN};
	ctx_seal(slot, &c);
	int rc = disk_write_slot(d, WAFL_SLOT_LABEL, slot);
	free(slot);
	return rc;
}

static int label_read(struct wafl_disk *d, struct wafl_label *l)
{
	uint8_t *slot = malloc(WAFL_SLOT_SIZE);
	if (!slot)
		return -ENOMEM;
	int rc = disk_read_slot(d, WAFL_SLOT_LABEL, slot);
	struct ctx_expect e = {.fbn = LABEL_FBN};
	if (!rc)
		rc = ctx_verify(slot, &e, NULL, 0);
	if (!rc) {
		memcpy(l, slot, sizeof(*l));
		if (l->magic != WAFL_LABEL_MAGIC || l->version != WAFL_FORMAT_VERSION)
			rc = -EUCLEAN;
	}
	free(slot);
	return rc;
}

bool wafl_name_valid(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > WAFL_VOLNAME_MAX)
		return false;
	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || n[0] == '_'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static void fs_init(struct wafl_fs *fs, struct wafl_aggr *a, const struct wafl_fsinfo *fsi)
{
	memset(fs, 0, sizeof(*fs));
	fs->aggr = a;
	fs->fsi = *fsi;
	fs->type = (enum wafl_fstype)fsi->type;
	fs->volid = fsi->volid;
	fs->limit_blocks = fsi->space_blocks;
	fs->ino_cursor = fsi->ino_hint;
	TAILQ_INIT(&fs->dirty);
}

static void fs_release(struct wafl_fs *fs)
{
	snap_release(fs);
	u64set_free(&fs->inflight);
	free(fs->pending.v);
	fs->pending.v = NULL;
}

struct wafl_vol *vol_by_id(struct wafl_aggr *a, uint32_t volid)
{
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	if (v->fs->volid == volid)
		return v;
	return NULL;
}

uint64_t aggr_reserved_blocks(struct wafl_aggr *a)
{
	uint64_t r = 0;
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	{
		if (v->guarantee != WAFL_GUAR_VOLUME || v->fs == &a->fs)
			continue;
		uint64_t used = v->fs->fsi.used_blocks + v->fs->ndirty;
		if (v->fs->limit_blocks > used)
			r += v->fs->limit_blocks - used;
	}
	return r;
}

int voltab_get(struct wafl_aggr *a, unsigned slot, bool dirty, struct wbuf **b,
	       struct wafl_volent **e)
{
	struct wbuf *ib;
	struct wafl_dinode *di;
	int rc = inode_get(&a->fs, WAFL_INO_VOLTAB, &ib, &di);
	if (rc)
		return rc;
	rc = bmap_get(&a->fs, WAFL_INO_VOLTAB, di, 0, slot / WAFL_VOLENTS_PER_BLOCK,
		      dirty ? BM_CREATE : 0, b);
	if (rc)
		return rc;
	if (!*b)
		return -ENOENT;
	if (dirty) {
		if ((rc = buf_dirty(*b)))
			return rc;
		uint64_t end = ((uint64_t)slot / WAFL_VOLENTS_PER_BLOCK + 1) * WAFL_BS;
		if (di->size < end)
			di->size = end;
	}
	*e = (struct wafl_volent *)(*b)->data + slot % WAFL_VOLENTS_PER_BLOCK;
	return 0;
}

static struct wafl_aggr *aggr_alloc(struct event_base *base)
{
	struct wafl_aggr *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->base = base;
	TAILQ_INIT(&a->vols);
	TAILQ_INIT(&a->cp_waiters);
	TAILQ_INIT(&a->progress);
	return a;
}

static void aggr_free(struct wafl_aggr *a)
{
	struct wafl_vol *v;
	while ((v = TAILQ_FIRST(&a->vols))) {
		TAILQ_REMOVE(&a->vols, v, link);
		if (v->fs != &a->fs) {
			fs_release(v->fs);
			free(v->fs);
		}
		free(v);
	}
	fs_release(&a->fs);
	cache_destroy(&a->cache);
	for (unsigned g = 0; g < a->raid.ngroups; g++)
		free(a->raid.groups[g].disks);
	for (unsigned i = 0; i < a->raid.ndisks; i++)
		disk_close(a->raid.disks[i]);
	free(a);
}

static void set_limits(struct wafl_aggr *a, const struct wafl_open_params *p)
{
	uint64_t cache = p && p->cache_bytes ? p->cache_bytes : DEFAULT_CACHE;
	/* The cache bounds memory: clean buffers, dirty ones, and the copies
	 * a CP makes of them. Dirty data stays under a third of it, so that
	 * what is dirty now, its copies at the next freeze and the copies of
	 * the CP in flight fit together (cache_trim keeps room for them). */
	uint64_t dirty = p && p->cp_dirty_bytes ? p->cp_dirty_bytes : cache / 6;
	a->cp_dirty_bufs = dirty / WAFL_BS ? dirty / WAFL_BS : 1;
	a->hard_dirty_bufs = cache / WAFL_BS / 3;
	if (a->hard_dirty_bufs < a->cp_dirty_bufs + a->cp_dirty_bufs / 2)
		a->hard_dirty_bufs = a->cp_dirty_bufs + a->cp_dirty_bufs / 2;
	a->cp_interval_ms = p && p->cp_interval_ms ? p->cp_interval_ms : DEFAULT_CP_MS;
	a->test_cp_delay_ms = p ? p->test_cp_delay_ms : 0;
	cache_init(&a->cache, cache);
}

/* ---- create --------------------------------------------------------- */

static int add_group(struct wafl_aggr *a, struct wafl_disk **disks, unsigned n)
{
	if (a->raid.ngroups >= WAFL_MAX_GROUPS || a->raid.ndisks + n > WAFL_MAX_DISKS)
		return -E2BIG;
	unsigned g = a->raid.ngroups;
	struct wafl_rgroup *rg = &a->raid.groups[g];
	rg->level = WAFL_RAID0;
	rg->ndisks = n;
	rg->disks = calloc(n, sizeof(*rg->disks));
	if (!rg->disks)
		return -ENOMEM;
	rg->dbn_count = UINT64_MAX;
	for (unsigned i = 0; i < n; i++)
		if (disks[i]->dbn_count < rg->dbn_count)
			rg->dbn_count = disks[i]->dbn_count;
	for (unsigned i = 0; i < n; i++) {
		struct wafl_disk *d = disks[i];
		wafl_uuid(d->uuid);
		d->group = g;
		d->position = i;
		struct wafl_label l = {
			.magic = WAFL_LABEL_MAGIC,
			.version = WAFL_FORMAT_VERSION,
			.group = g,
			.position = i,
			.dbn_count = rg->dbn_count,
		};
		memcpy(l.aggr_uuid, a->uuid, 16);
		memcpy(l.disk_uuid, d->uuid, 16);
		snprintf(l.aggr_name, sizeof(l.aggr_name), "%s", a->name);
		int rc = label_write(d, &l);
		if (rc)
			return rc;
		rg->disks[i] = d;
		memcpy(a->sb.disks[a->raid.ndisks], d->uuid, 16);
		a->raid.disks[a->raid.ndisks++] = d;
	}
	a->sb.groups[g].level = WAFL_RAID0;
	a->sb.groups[g].ndisks = n;
	a->sb.groups[g].dbn_count = rg->dbn_count;
	a->raid.ngroups++;
	a->sb.ngroups = a->raid.ngroups;
	raid_layout(&a->raid);
	return 0;
}

static int open_disks(const char *const *paths, unsigned n, bool create, uint64_t size, bool rdonly,
		      struct wafl_disk **out)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = disk_open(paths[i], create, size, rdonly, &out[i]);
		if (rc) {
			wafl_logf(WLOG_ERR, "%s: %s", paths[i], strerror(-rc));
			while (i--)
				disk_close(out[i]);
			return rc;
		}
	}
	return 0;
}

int wafl_aggr_create(const struct wafl_aggr_params *p)
{
	if (!p || !p->ndisks || p->ndisks > WAFL_MAX_DISKS || !p->nvlog_path ||
	    !wafl_name_valid(p->name) || (p->kind != WAFL_AGGR && p->kind != WAFL_TRAD))
		return -EINVAL;
	struct event_base *base = event_base_new();
	if (!base)
		return -ENOMEM;
	struct wafl_aggr *a = aggr_alloc(base);
	if (!a) {
		event_base_free(base);
		return -ENOMEM;
	}
	struct wafl_disk *disks[WAFL_MAX_DISKS];
	int rc = open_disks(p->disks, p->ndisks, true, p->disk_size_bytes, false, disks);
	if (rc) {
		free(a);
		event_base_free(base);
		return rc;
	}
	snprintf(a->name, sizeof(a->name), "%s", p->name);
	a->kind = p->kind;
	wafl_uuid(a->uuid);
	a->sb.magic = WAFL_SUPER_MAGIC;
	a->sb.version = WAFL_FORMAT_VERSION;
	memcpy(a->sb.aggr_uuid, a->uuid, 16);
	a->sb.kind = p->kind;
	snprintf(a->sb.name, sizeof(a->sb.name), "%s", p->name);
	wafl_uuid(a->sb.nvlog_uuid);
	unsigned gsize = p->raid_group_size ? p->raid_group_size : p->ndisks;
	for (unsigned i = 0; i < p->ndisks && !rc; i += gsize) {
		unsigned n = p->ndisks - i < gsize ? p->ndisks - i : gsize;
		rc = add_group(a, disks + i, n);
	}
	if (rc) {
		for (unsigned i = a->raid.ndisks; i < p->ndisks; i++)
			disk_close(disks[i]);
		goto out;
	}
	if ((rc = nvlog_create(p->nvlog_path, p->nvlog_size_bytes, a->sb.nvlog_uuid)))
		goto out;
	a->sb.nvlog_bytes = p->nvlog_size_bytes;
	set_limits(a, NULL);
	struct timespec now;
	wafl_now(&now);
	struct wafl_fsinfo fsi = {
		.magic = WAFL_FSI_MAGIC,
		.type = p->kind == WAFL_AGGR ? WAFL_FST_AGGR : WAFL_FST_TRAD,
		.volid = 1,
		.space_blocks = a->raid.nblocks,
		.ino_hint = WAFL_INO_FIRST,
		.ctime_sec = now.tv_sec,
		.next_snapid = 1,
	};
	uint64_t fsid;
	memcpy(&fsid, a->uuid, 8);
	fsi.fsid = fsid;
	fs_init(&a->fs, a, &fsi);
	if ((rc = nvlog_open(a, p->nvlog_path, false)))
		goto out;
	if ((rc = cp_init(a)))
		goto out;
	if ((rc = fs_format(&a->fs, p->kind == WAFL_TRAD, &now)))
		goto out;
	a->cp_next = 1;
	a->sb_copy = 1; /* so the first superblock goes to copy 0 */
	nvlog_switch(a, 1);
	rc = wafl_cp_sync(a);
out:
	cp_shutdown(a);
	nvlog_close(a);
	aggr_free(a);
	event_base_free(base);
	return rc;
}

/* ---- open ----------------------------------------------------------- */

static int vol_attach(struct wafl_aggr *a, unsigned slot, const struct wafl_volent *e,
		      struct wafl_vol **out)
{
	struct wafl_vol *v = calloc(1, sizeof(*v));
	struct wafl_fs *fs = calloc(1, sizeof(*fs));
	if (!v || !fs) {
		free(v);
		free(fs);
		return -ENOMEM;
	}
	fs_init(fs, a, &e->fsinfo);
	fs->container = e->container;
	fs->limit_blocks = e->size_bytes / WAFL_BS;
	fs->read_only = a->read_only;
	v->fs = fs;
	v->aggr = a;
	v->slot = slot;
	snprintf(v->name, sizeof(v->name), "%s", e->name);
	v->size_bytes = e->size_bytes;
	v->guarantee = (enum wafl_guarantee)e->guarantee;
	v->state = (enum wafl_vol_state)e->state;
	fs->parent_volid = (uint32_t)e->parent_volid;
	fs->parent_snapid = (uint32_t)e->parent_snap;
	TAILQ_INSERT_TAIL(&a->vols, v, link);
	if (fs->volid >= a->volid_next)
		a->volid_next = fs->volid + 1;
	if (out)
		*out = v;
	return 0;
}

static int load_vols(struct wafl_aggr *a)
{
	if (a->kind == WAFL_TRAD) {
		struct wafl_vol *v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		v->fs = &a->fs;
		v->aggr = a;
		snprintf(v->name, sizeof(v->name), "%s", a->name);
		v->size_bytes = a->fs.fsi.space_blocks * WAFL_BS;
		v->state = WAFL_VOL_ONLINE;
		TAILQ_INSERT_TAIL(&a->vols, v, link);
		a->trad = v;
		return snap_load(&a->fs);
	}
	struct wbuf *ib;
	struct wafl_dinode *di;
	int rc = inode_get(&a->fs, WAFL_INO_VOLTAB, &ib, &di);
	if (rc)
		return a->checking ? 0 : rc; /* the checker names the bad block */
	unsigned nslots = (unsigned)(di->size / sizeof(struct wafl_volent));
	for (unsigned s = 0; s < nslots; s++) {
		struct wbuf *b;
		struct wafl_volent *e;
		rc = voltab_get(a, s, false, &b, &e);
		if (rc == -ENOENT || (rc && a->checking))
			continue;
		if (rc)
			return rc;
		if (!e->state)
			continue;
		struct wafl_vol *v;
		if ((rc = vol_attach(a, s, e, &v)))
			return rc;
		if ((rc = snap_load(v->fs)))
			return a->checking ? 0 : rc;
	}
	return 0;
}

static int aggr_open_common(struct event_base *base, const struct wafl_open_params *p,
			    bool checking, struct wafl_aggr **out)
{
	if (!p || !p->ndisks || p->ndisks > WAFL_MAX_DISKS)
		return -EINVAL;
	struct wafl_aggr *a = aggr_alloc(base);
	if (!a)
		return -ENOMEM;
	a->read_only = p->read_only;
	a->checking = checking;
	struct wafl_disk *disks[WAFL_MAX_DISKS];
	int rc = open_disks(p->disks, p->ndisks, false, 0, p->read_only, disks);
	if (rc) {
		free(a);
		return rc;
	}
	struct wafl_label l0;
	for (unsigned i = 0; i < p->ndisks; i++) {
		struct wafl_label l;
		rc = label_read(disks[i], &l);
		if (rc) {
			wafl_logf(WLOG_ERR, "%s: no valid disk label", p->disks[i]);
			break;
		}
		if (i == 0)
			l0 = l;
		else if (memcmp(l.aggr_uuid, l0.aggr_uuid, 16)) {
			wafl_logf(WLOG_ERR, "%s: belongs to aggregate %s, not %s", p->disks[i],
				  l.aggr_name, l0.aggr_name);
			rc = -EINVAL;
			break;
		}
		memcpy(disks[i]->uuid, l.disk_uuid, 16);
		disks[i]->group = l.group;
		disks[i]->position = l.position;
	}
	if (!rc)
		rc = super_read_best(disks, p->ndisks, l0.aggr_uuid, &a->sb, &a->sb_copy);
	if (!rc)
		rc = raid_assemble(&a->raid, &a->sb, disks, p->ndisks);
	/* the RAID layout owns the disks it uses; close the others */
	for (unsigned i = 0; i < p->ndisks; i++) {
		bool used = false;
		for (unsigned k = 0; k < a->raid.ndisks; k++)
			used |= a->raid.disks[k] == disks[i];
		if (!used)
			disk_close(disks[i]);
	}
	if (rc) {
		aggr_free(a);
		return rc;
	}
	memcpy(a->uuid, a->sb.aggr_uuid, 16);
	snprintf(a->name, sizeof(a->name), "%s", a->sb.name);
	a->kind = (enum wafl_aggr_kind)a->sb.kind;
	set_limits(a, p);
	fs_init(&a->fs, a, &a->sb.fsinfo);
	a->fs.read_only = a->read_only;
	a->cp_durable = a->sb.cp;
	a->cp_next = a->sb.cp + 1;
	if ((rc = load_vols(a))) {
		aggr_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int wafl_aggr_open(struct event_base *base, const struct wafl_open_params *p,
		   struct wafl_aggr **out)
{
	struct wafl_aggr *a;
	int rc = aggr_open_common(base, p, false, &a);
	if (rc)
		return rc;
	if (!p->nvlog_path) {
		rc = -EINVAL;
		goto err;
	}
	if ((rc = nvlog_open(a, p->nvlog_path, a->read_only)))
		goto err;
	if (a->read_only) {
		*out = a;
		return 0;
	}
	if ((rc = cp_init(a)))
		goto err;
	nvlog_switch(a, a->cp_next);
	uint64_t n = 0;
	a->replaying = true;
	rc = nvlog_replay(a, a->sb.cp, ops_replay, &n);
	a->replaying = false;
	if (rc)
		goto err;
	if (n) {
		wafl_logf(WLOG_INFO, "aggregate %s: replayed %llu NVLOG records after CP %llu",
			  a->name, (unsigned long long)n, (unsigned long long)a->sb.cp);
		a->cp_next = a->sb.cp + 2;
		if ((rc = wafl_cp_sync(a)))
			goto err;
	}
	*out = a;
	return 0;
err:
	cp_shutdown(a);
	nvlog_close(a);
	aggr_free(a);
	return rc;
}

int wafl_aggr_close(struct wafl_aggr *a)
{
	int rc = 0;
	if (!a->read_only) {
		/* the log must be drained too: its waiters expect an answer */
		struct wafl_stab st;
		wafl_cp_start(a, &st);
		st.log_seq = nvlog_last_seq(a);
		rc = wafl_wait(a, &st);
	}
	cp_shutdown(a);
	nvlog_close(a);
	aggr_free(a);
	return rc;
}

void wafl_aggr_abandon(struct wafl_aggr *a)
{
	cp_shutdown(a);
	nvlog_close(a);
	aggr_free(a);
}

/* Opens read-only without a log, for the checker. */
int aggr_open_check(const char *const *disks, unsigned n, struct wafl_aggr **out)
{
	struct wafl_open_params p = {.disks = disks, .ndisks = n, .read_only = true};
	return aggr_open_common(NULL, &p, true, out);
}

void aggr_close_check(struct wafl_aggr *a)
{
	aggr_free(a);
}

void wafl_aggr_info(struct wafl_aggr *a, struct wafl_aggr_info *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", a->name);
	o->kind = a->kind;
	o->size_blocks = a->fs.fsi.space_blocks;
	o->used_blocks = a->fs.fsi.used_blocks + a->fs.inflight.n;
	o->reserved_blocks = aggr_reserved_blocks(a);
	o->cp_count = a->cp_durable;
	o->ndisks = a->raid.ndisks;
	o->ngroups = a->raid.ngroups;
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	o->nvols++;
	nvlog_stats(a, &o->nvlog_size_bytes, &o->nvlog_used_bytes, &o->disk_bytes_read);
	o->nvlog_bytes_written = o->disk_bytes_read;
	o->disk_bytes_read = 0;
	o->cache_bytes = a->cache.bytes;
	o->cache_used_bytes = a->cache.nbufs * WAFL_BS;
	o->dirty_bytes = a->ndirty * WAFL_BS;
	o->cache_hits = a->cache.hits;
	o->cache_misses = a->cache.misses;
	o->disk_bytes_read = a->cache.misses * WAFL_SLOT_SIZE;
	o->cps = a->cps;
	o->cp_last_usec = a->cp_last_usec;
	o->cp_total_usec = a->cp_total_usec;
	o->disk_bytes_written = a->disk_bytes_written;
	o->cp_running = a->cp_running;
}

int wafl_aggr_add_disks(struct wafl_aggr *a, const char *const *paths, unsigned n,
			uint64_t disk_size_bytes)
{
	if (a->read_only)
		return -EROFS;
	if (!n || a->raid.ndisks + n > WAFL_MAX_DISKS || a->raid.ngroups >= WAFL_MAX_GROUPS)
		return -E2BIG;
	struct wafl_disk *disks[WAFL_MAX_DISKS];
	int rc = open_disks(paths, n, true, disk_size_bytes, false, disks);
	if (rc)
		return rc;
	rc = add_group(a, disks, n);
	if (rc) {
		for (unsigned i = 0; i < n; i++)
			disk_close(disks[i]);
		return rc;
	}
	/* the new space exists once a superblock names the group */
	a->fs.fsi.space_blocks = a->raid.nblocks;
	cp_request(a);
	return 0;
}

/* ---- durability ------------------------------------------------------ */

bool wafl_is_durable(struct wafl_aggr *a, const struct wafl_stab *st)
{
	if (st->log_seq && st->log_seq > nvlog_durable_seq(a))
		return false;
	if (st->cp && st->cp > a->cp_durable)
		return false;
	return true;
}

/* Waits for the log, then for the CP, when both are asked for. */
struct durable_chain {
	struct wafl_aggr *a;
	struct wafl_stab st;
	wafl_done_fn fn;
	void *arg;
};

static void durable_chain_step(void *arg)
{
	struct durable_chain *c = arg;
	struct wafl_stab rest = {.cp = c->st.cp};
	struct wafl_aggr *a = c->a;
	wafl_done_fn fn = c->fn;
	void *fa = c->arg;
	free(c);
	wafl_when_durable(a, &rest, fn, fa);
}

void wafl_when_durable(struct wafl_aggr *a, const struct wafl_stab *st, wafl_done_fn fn, void *arg)
{
	if (st->log_seq && st->log_seq > nvlog_durable_seq(a)) {
		if (st->cp && st->cp > a->cp_durable) {
			struct durable_chain *c = malloc(sizeof(*c));
			if (c) {
				*c = (struct durable_chain){a, *st, fn, arg};
				if (nvlog_waiter_add(a, st->log_seq, durable_chain_step, c) == 0)
					return;
				free(c);
			}
		} else if (nvlog_waiter_add(a, st->log_seq, fn, arg) == 0) {
			return;
		}
	} else if (st->cp && st->cp > a->cp_durable) {
		if (waiter_add(&a->cp_waiters, st->cp, fn, arg) == 0)
			return;
	}
	/* durable already (or no memory to wait: the caller's loop retries) */
	fn(arg);
}

void wafl_cp_start(struct wafl_aggr *a, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (a->read_only)
		return;
	/* a running CP has number cp_next - 1; ours is cp_next either way */
	st->cp = a->cp_next;
	cp_request(a);
}

void wafl_on_progress(struct wafl_aggr *a, wafl_done_fn fn, void *arg)
{
	if (waiter_add(&a->progress, 0, fn, arg))
		fn(arg);
}

static void set_flag(void *arg)
{
	*(bool *)arg = true;
}

int wafl_wait(struct wafl_aggr *a, const struct wafl_stab *st)
{
	bool done = false;
	wafl_when_durable(a, st, set_flag, &done);
	while (!done) {
		if (a->read_only)
			return -EIO; /* a CP or log write failed: it never comes */
		event_base_loop(a->base, EVLOOP_ONCE);
	}
	return 0;
}

int wafl_cp_sync(struct wafl_aggr *a)
{
	if (a->read_only)
		return -EROFS;
	struct wafl_stab st;
	wafl_cp_start(a, &st);
	return wafl_wait(a, &st);
}

/* ---- flexible volumes ------------------------------------------------ */

struct wafl_vol *wafl_vol_find(struct wafl_aggr *a, const char *name)
{
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	if (!strcmp(v->name, name))
		return v;
	return NULL;
}

struct wafl_vol *wafl_vol_by_id(struct wafl_aggr *a, uint32_t volid)
{
	return vol_by_id(a, volid);
}

struct wafl_vol *wafl_vol_at(struct wafl_aggr *a, unsigned i)
{
	struct wafl_vol *v;
	TAILQ_FOREACH(v, &a->vols, link)
	if (i-- == 0)
		return v;
	return NULL;
}

struct wafl_aggr *wafl_vol_aggr(struct wafl_vol *v)
{
	return v->aggr;
}

void wafl_vol_info(struct wafl_vol *v, struct wafl_vol_info *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", v->name);
	o->volid = v->fs->volid;
	o->fsid = v->fs->fsi.fsid;
	o->flexible = v->fs != &v->aggr->fs;
	o->state = v->state;
	o->guarantee = v->guarantee;
	o->size_bytes = v->size_bytes;
	o->used_blocks = v->fs->fsi.used_blocks + v->fs->ndirty;
	o->files_used = v->fs->fsi.inodes_used;
	o->files_max = inode_max(v->fs);
	snap_vol_info(v, o);
}

static int free_slot(struct wafl_aggr *a, unsigned *slot)
{
	unsigned s = 0;
	for (;; s++) {
		struct wbuf *b;
		struct wafl_volent *e;
		int rc = voltab_get(a, s, false, &b, &e);
		if (rc == -ENOENT || (!rc && !e->state)) {
			*slot = s;
			return 0;
		}
		if (rc)
			return rc;
	}
}

/* A new flexible volume's container inode and volume-table entry (state,
 * ids, name, size, guarantee); the caller fills the entry's fsinfo. */
static int vol_new_entry(struct wafl_aggr *a, const char *name, uint32_t volid, uint64_t container,
			 uint64_t size_bytes, uint32_t guarantee, const struct timespec *now,
			 unsigned *slot, struct wafl_volent **e)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(&a->fs, container, &b, &di);
	if (rc)
		return rc;
	if (di->mode) {
		wafl_logf(WLOG_ERR, "volume %s: container inode %llu is in use", name,
			  (unsigned long long)container);
		return -EUCLEAN;
	}
	uint32_t gen = di->gen + 1;
	memset(di, 0, sizeof(*di));
	di->mode = S_IFREG | 0600;
	di->iflags = WAFL_IF_META | WAFL_IF_CONTAINER;
	di->nlink = 1;
	di->gen = gen;
	di->ctime_sec = di->mtime_sec = di->atime_sec = now->tv_sec;
	a->fs.fsi.inodes_used++;
	if ((rc = free_slot(a, slot)))
		return rc;
	if ((rc = voltab_get(a, *slot, true, &b, e)))
		return rc;
	memset(*e, 0, sizeof(**e));
	(*e)->state = WAFL_VOL_ONLINE;
	(*e)->volid = volid;
	(*e)->container = container;
	snprintf((*e)->name, sizeof((*e)->name), "%s", name);
	(*e)->size_bytes = size_bytes;
	(*e)->guarantee = guarantee;
	return 0;
}

int aggr_vol_create_apply(struct wafl_aggr *a, const char *name, uint32_t volid, uint64_t container,
			  uint64_t size_bytes, uint32_t guarantee, uint64_t fsid,
			  const struct timespec *now)
{
	unsigned slot;
	struct wafl_volent *e;
	int rc = vol_new_entry(a, name, volid, container, size_bytes, guarantee, now, &slot, &e);
	if (rc)
		return rc;
	e->fsinfo.magic = WAFL_FSI_MAGIC;
	e->fsinfo.type = WAFL_FST_FLEX;
	e->fsinfo.volid = volid;
	e->fsinfo.fsid = fsid;
	e->fsinfo.space_blocks = size_bytes / WAFL_BS;
	e->fsinfo.ino_hint = WAFL_INO_FIRST;
	e->fsinfo.ctime_sec = now->tv_sec;
	e->fsinfo.next_snapid = 1;
	struct wafl_vol *v;
	if ((rc = vol_attach(a, slot, e, &v)))
		return rc;
	if ((rc = fs_format(v->fs, true, now)))
		return rc;
	return snap_load(v->fs);
}

int aggr_vol_clone_attach(struct wafl_aggr *a, const char *name, uint32_t volid,
			  uint64_t container, uint64_t size_bytes, uint64_t fsid,
			  const struct wafl_fsinfo *fsi, uint32_t parent_volid, uint32_t parent_snap,
			  const struct timespec *now, struct wafl_vol **out)
{
	unsigned slot;
	struct wafl_volent *e;
	int rc = vol_new_entry(a, name, volid, container, size_bytes, WAFL_GUAR_NONE, now, &slot,
			       &e);
	if (rc)
		return rc;
	e->parent_volid = parent_volid;
	e->parent_snap = parent_snap;
	e->fsinfo = *fsi;
	e->fsinfo.fsid = fsid;
	e->fsinfo.volid = volid;
	return vol_attach(a, slot, e, out);
}

int aggr_vol_clone_detach(struct wafl_vol *v)
{
	struct wbuf *b;
	struct wafl_volent *e;
	int rc = voltab_get(v->aggr, v->slot, true, &b, &e);
	if (rc)
		return rc;
	e->parent_volid = 0;
	e->parent_snap = 0;
	v->fs->parent_volid = 0;
	v->fs->parent_snapid = 0;
	return 0;
}

int wafl_vol_create(struct wafl_aggr *a, const char *name, uint64_t size_bytes,
		    enum wafl_guarantee g, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (a->kind != WAFL_AGGR)
		return -EOPNOTSUPP; /* a traditional volume holds no flexible volumes */
	if (a->read_only)
		return -EROFS;
	if (!wafl_name_valid(name) || (g != WAFL_GUAR_NONE && g != WAFL_GUAR_VOLUME))
		return -EINVAL;
	if (wafl_vol_find(a, name))
		return -EEXIST;
	uint64_t blocks = size_bytes / WAFL_BS;
	if (blocks < 256)
		return -EINVAL; /* 1 MiB at least */
	if (g == WAFL_GUAR_VOLUME && fs_avail_blocks(&a->fs) < blocks)
		return -ENOSPC;
	if (fs_space_check(&a->fs, 64))
		return -ENOSPC;
	int rc = ops_vol_room(a);
	if (rc)
		return rc;
	uint64_t container;
	uint32_t gen;
	if ((rc = inode_pick(&a->fs, &container, &gen)))
		return rc;
	uint32_t volid = a->volid_next > 2 ? a->volid_next : 2;
	uint8_t r[16];
	wafl_uuid(r);
	uint64_t fsid;
	memcpy(&fsid, r, 8);
	struct timespec now;
	wafl_now(&now);
	rc = aggr_vol_create_apply(a, name, volid, container, blocks * WAFL_BS, g, fsid, &now);
	if (rc)
		return rc;
	return ops_log_vol(a, 0, volid, name, container, blocks * WAFL_BS, g, fsid, 0, &now, st);
}

int aggr_vol_destroy_apply(struct wafl_aggr *a, uint32_t volid)
{
	struct wafl_vol *v = vol_by_id(a, volid);
	if (!v || v->fs == &a->fs)
		return -ENOENT;
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(&a->fs, v->fs->container, &b, &di);
	if (rc)
		return rc;
	/* the container's pointers are the volume's blocks: free them all */
	if ((rc = bmap_truncate(&a->fs, v->fs->container, di, 0)))
		return rc;
	if ((rc = inode_release(&a->fs, v->fs->container)))
		return rc;
	struct wafl_volent *e;
	if ((rc = voltab_get(a, v->slot, true, &b, &e)))
		return rc;
	memset(e, 0, sizeof(*e));
	cache_drop_fs(&a->cache, v->fs);
	TAILQ_REMOVE(&a->vols, v, link);
	fs_release(v->fs);
	free(v->fs);
	free(v);
	return 0;
}

int wafl_vol_destroy(struct wafl_aggr *a, const char *name, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	struct wafl_vol *v = wafl_vol_find(a, name);
	if (!v)
		return -ENOENT;
	if (v->fs == &a->fs)
		return -EOPNOTSUPP;
	if (a->read_only)
		return -EROFS;
	if (v->state != WAFL_VOL_OFFLINE)
		return -EBUSY; /* take it offline first */
	struct wafl_vol *c;
	TAILQ_FOREACH(c, &a->vols, link)
	if (c->fs->parent_volid == v->fs->volid)
		return -EBUSY; /* a clone still shares its blocks */
	int rc = ops_vol_room(a);
	if (rc)
		return rc;
	uint32_t volid = v->fs->volid;
	if ((rc = aggr_vol_destroy_apply(a, volid)))
		return rc;
	return ops_log_vol(a, 1, volid, NULL, 0, 0, 0, 0, 0, NULL, st);
}

int aggr_vol_resize_apply(struct wafl_vol *v, uint64_t size_bytes)
{
	struct wafl_aggr *a = v->aggr;
	struct wbuf *b;
	struct wafl_volent *e;
	int rc = voltab_get(a, v->slot, true, &b, &e);
	if (rc)
		return rc;
	uint64_t blocks = size_bytes / WAFL_BS;
	v->size_bytes = blocks * WAFL_BS;
	v->fs->limit_blocks = blocks;
	/* the VVBN space only grows: blocks past a shrunken size stay valid */
	if (blocks > v->fs->fsi.space_blocks)
		v->fs->fsi.space_blocks = blocks;
	e->size_bytes = v->size_bytes;
	e->fsinfo.space_blocks = v->fs->fsi.space_blocks;
	return 0;
}

int wafl_vol_resize(struct wafl_vol *v, uint64_t size_bytes, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	if (v->fs == &a->fs)
		return -EOPNOTSUPP; /* a traditional volume is as big as its disks */
	if (a->read_only)
		return -EROFS;
	uint64_t blocks = size_bytes / WAFL_BS;
	if (blocks < 256)
		return -EINVAL;
	uint64_t used = v->fs->fsi.used_blocks + v->fs->ndirty + v->fs->inflight.n;
	if (blocks < used + 64)
		return -ENOSPC;
	if (blocks > v->fs->limit_blocks && v->guarantee == WAFL_GUAR_VOLUME &&
	    fs_avail_blocks(&a->fs) < blocks - v->fs->limit_blocks)
		return -ENOSPC;
	int rc = ops_vol_room(a);
	if (rc)
		return rc;
	if ((rc = aggr_vol_resize_apply(v, blocks * WAFL_BS)))
		return rc;
	return ops_log_vol(a, 2, v->fs->volid, NULL, 0, blocks * WAFL_BS, 0, 0, 0, NULL, st);
}

int aggr_vol_state_apply(struct wafl_vol *v, uint32_t state)
{
	struct wbuf *b;
	struct wafl_volent *e;
	int rc = voltab_get(v->aggr, v->slot, true, &b, &e);
	if (rc)
		return rc;
	v->state = (enum wafl_vol_state)state;
	e->state = state;
	return 0;
}

int wafl_vol_set_state(struct wafl_vol *v, enum wafl_vol_state s, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	if (s != WAFL_VOL_ONLINE && s != WAFL_VOL_OFFLINE && s != WAFL_VOL_RESTRICTED)
		return -EINVAL;
	if (v->fs == &a->fs)
		return -EOPNOTSUPP;
	if (a->read_only)
		return -EROFS;
	if (v->state == s)
		return 0;
	int rc = ops_vol_room(a);
	if (rc)
		return rc;
	if ((rc = aggr_vol_state_apply(v, s)))
		return rc;
	return ops_log_vol(a, 3, v->fs->volid, NULL, 0, 0, 0, 0, s, NULL, st);
}
