/*
 * ops.c - the NFS-shaped operations on a volume, their NVLOG records,
 * and replay.
 *
 * Every modifying operation is split in two. The public function checks
 * everything (handle, names, permissions, space, log room) and makes every
 * choice (inode number, generation, timestamps) without changing
 * anything; then it fills a record and calls the *apply* function, which
 * only carries the record out, and appends the record to the NVLOG.
 * Replay calls the same apply functions with the records read back, so
 * it reproduces the very same inode numbers, generations and times
 * (DESIGN.md §9.1); directory cookies follow from names (dir.h).
 *
 * A record describes the effect, not the request: an UNCHECKED create of
 * an existing file that truncates it is logged as a setattr.
 *
 * atime is not updated by reads (as with noatime); it changes only when
 * set explicitly.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "wafl/dir.h"
#include "wafl/wafl_int.h"

enum {
	OP_SETATTR = 1,
	OP_WRITE = 2,
	OP_CREATE = 3,
	OP_LINK = 4,
	OP_RENAME = 5,
	OP_REMOVE = 6,
	OP_VOLCREATE = 7,
	OP_VOLDESTROY = 8,
	OP_VOLRESIZE = 9,
	OP_VOLSTATE = 10,
	OP_SNAPFIRST = 11, /* 11.. are snap.c's */
};

struct rec_hdr {
	uint16_t op;
	uint16_t flags;
	uint32_t volid;
};

struct rec_time {
	int64_t sec;
	uint32_t nsec;
	uint32_t pad;
};

struct rec_setattr {
	struct rec_hdr h;
	uint32_t mask, mode, uid, gid;
	uint64_t ino;
	uint64_t size;
	struct rec_time atime, mtime, ctime;
	uint32_t clear_excl, pad;
};

struct rec_write {
	struct rec_hdr h;
	uint64_t ino;
	uint64_t off;
	uint32_t len;
	uint32_t kill_suid;
	struct rec_time t;
	/* data follows */
};

struct rec_create {
	struct rec_hdr h;
	uint32_t mode; /* S_IFMT | 07777 */
	uint32_t uid, gid;
	uint32_t rdev_major, rdev_minor;
	uint32_t gen;
	uint64_t dir;
	uint64_t ino;
	uint64_t verf;
	struct rec_time t;
	uint16_t namelen, targetlen;
	uint32_t iflags;
	/* attributes set at creation, in the same record (atomic with it) */
	uint32_t sa_mask; /* WAFL_SA_SIZE, WAFL_SA_ATIME, WAFL_SA_MTIME */
	uint32_t pad;
	uint64_t size;
	struct rec_time atime, mtime;
	/* name, then symlink target */
};

struct rec_link {
	struct rec_hdr h;
	uint64_t ino, dir;
	struct rec_time t;
	uint32_t namelen, pad;
};

struct rec_rename {
	struct rec_hdr h;
	uint64_t fdir, tdir;
	struct rec_time t;
	uint16_t flen, tlen;
	uint32_t pad;
};

struct rec_remove {
	struct rec_hdr h;
	uint64_t dir;
	struct rec_time t;
	uint32_t namelen, isdir;
};

struct rec_vol {
	struct rec_hdr h;
	uint32_t volid, guarantee;
	uint64_t container;
	uint64_t size_bytes;
	uint64_t fsid;
	uint32_t state, pad;
	struct rec_time t;
	char name[64];
};

#define MAX_REC_PAYLOAD (sizeof(struct rec_create) + 2 * (WAFL_PATH_MAX + 1))

/* ---- small helpers -------------------------------------------------- */

static struct rec_time rt(const struct timespec *ts)
{
	struct rec_time r = {.sec = ts->tv_sec, .nsec = (uint32_t)ts->tv_nsec};
	return r;
}

static void set_time(int64_t *sec, uint32_t *nsec, const struct rec_time *t)
{
	*sec = t->sec;
	*nsec = t->nsec;
}

static enum wafl_ftype ftype_of(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return WAFL_FT_DIR;
	case S_IFLNK:
		return WAFL_FT_LNK;
	case S_IFBLK:
		return WAFL_FT_BLK;
	case S_IFCHR:
		return WAFL_FT_CHR;
	case S_IFSOCK:
		return WAFL_FT_SOCK;
	case S_IFIFO:
		return WAFL_FT_FIFO;
	default:
		return WAFL_FT_REG;
	}
}

static uint32_t ifmt_of(enum wafl_ftype t)
{
	switch (t) {
	case WAFL_FT_DIR:
		return S_IFDIR;
	case WAFL_FT_LNK:
		return S_IFLNK;
	case WAFL_FT_BLK:
		return S_IFBLK;
	case WAFL_FT_CHR:
		return S_IFCHR;
	case WAFL_FT_SOCK:
		return S_IFSOCK;
	case WAFL_FT_FIFO:
		return S_IFIFO;
	default:
		return S_IFREG;
	}
}

static bool is_dir(const struct wafl_dinode *di)
{
	return (di->mode & S_IFMT) == S_IFDIR;
}

static int check_name(const char *name, size_t *len)
{
	if (!name)
		return -EINVAL;
	size_t n = strnlen(name, WAFL_NAME_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > WAFL_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

static bool is_dot(const char *n, size_t len)
{
	return (len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.');
}

static bool in_group(const struct wafl_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->ngroups && i < WAFL_NGROUPS_MAX; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

static unsigned perm_bits(const struct wafl_dinode *di, const struct wafl_cred *c)
{
	if (c->uid == di->uid)
		return (di->mode >> 6) & 7;
	if (in_group(c, di->gid))
		return (di->mode >> 3) & 7;
	return di->mode & 7;
}

/* access(2) rules: root may read and write anything, and execute what
 * has any x bit (or search any directory). */
static int may(const struct wafl_dinode *di, const struct wafl_cred *c, unsigned want)
{
	if (!c)
		return 0;
	if (c->uid == 0) {
		if ((want & 1) && !is_dir(di) && !(di->mode & 0111))
			return -EACCES;
		return 0;
	}
	return (perm_bits(di, c) & want) == want ? 0 : -EACCES;
}

static bool is_owner(const struct wafl_dinode *di, const struct wafl_cred *c)
{
	return !c || c->uid == 0 || c->uid == di->uid;
}

/* Sticky directories: only the file's owner, the directory's owner or
 * root may remove or rename an entry. */
static int sticky_ok(const struct wafl_dinode *dir, const struct wafl_dinode *f,
		     const struct wafl_cred *c)
{
	if (!c || !(dir->mode & S_ISVTX) || c->uid == 0)
		return 0;
	if (c->uid == f->uid || c->uid == dir->uid)
		return 0;
	return -EPERM;
}

static int vol_usable(struct wafl_vol *v, bool write)
{
	if (v->state != WAFL_VOL_ONLINE)
		return -ENXIO;
	if (write && (v->aggr->read_only || v->fs->read_only))
		return -EROFS;
	return 0;
}

/* The inode (ino, gen) of instance fs, or -ESTALE. */
static int fs_inode(struct wafl_fs *fs, uint64_t ino, uint32_t gen, struct wbuf **b,
		    struct wafl_dinode **di)
{
	if (ino != WAFL_INO_ROOT && (ino < WAFL_INO_FIRST || ino >= inode_max(fs)))
		return -ESTALE;
	int rc = inode_get(fs, ino, b, di);
	if (rc == -ENOENT)
		return -ESTALE;
	if (rc)
		return rc;
	if ((*di)->mode == 0 || (*di)->gen != gen || ((*di)->iflags & WAFL_IF_META))
		return -ESTALE;
	return 0;
}

/* Resolves a handle of the active file system to its inode, or -ESTALE;
 * a handle into a snapshot is -EROFS: everything that calls this writes. */
static int fh_inode(struct wafl_vol *v, const struct wafl_fh *fh, struct wbuf **b,
		    struct wafl_dinode **di)
{
	if (!fh || fh->volid != v->fs->volid)
		return -ESTALE;
	if (fh->snapid == WAFL_SNAPID_DIR)
		return -EROFS;
	if (fh->snapid != 0)
		return snap_by_id(v->fs, fh->snapid) ? -EROFS : -ESTALE;
	return fs_inode(v->fs, fh->ino, fh->gen, b, di);
}

static bool is_snapdir(const struct wafl_fh *fh)
{
	return fh && fh->snapid == WAFL_SNAPID_DIR;
}

int fh_resolve(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_fs **fs, struct wbuf **b,
	       struct wafl_dinode **di)
{
	if (!fh || fh->volid != v->fs->volid || fh->snapid == WAFL_SNAPID_DIR)
		return -ESTALE;
	*fs = v->fs;
	if (fh->snapid) {
		int rc = snap_image(v->fs, fh->snapid, fs);
		if (rc)
			return rc;
	}
	return fs_inode(*fs, fh->ino, fh->gen, b, di);
}

/* ---- ".snapshot": a directory that is in every directory ------------ */

static bool is_snapname(const char *name, size_t len)
{
	return len == sizeof(WAFL_SNAPDIR_NAME) - 1 && !memcmp(name, WAFL_SNAPDIR_NAME, len);
}

/* Its fileid: unlike any inode number (those stay below 2^40). */
static uint64_t snapdir_fileid(uint64_t dino)
{
	return (1ull << 62) | dino;
}

/* The directory a ".snapshot" handle is in (active file system). */
static int snapdir_parent(struct wafl_vol *v, const struct wafl_fh *fh, struct wbuf **b,
			  struct wafl_dinode **di)
{
	if (fh->volid != v->fs->volid)
		return -ESTALE;
	int rc = fs_inode(v->fs, fh->ino, fh->gen, b, di);
	if (!rc && (*di)->mode && ((*di)->mode & S_IFMT) != S_IFDIR)
		rc = -ESTALE;
	return rc;
}

static bool ts_after(const struct timespec *x, const struct timespec *y)
{
	return x->tv_sec > y->tv_sec || (x->tv_sec == y->tv_sec && x->tv_nsec > y->tv_nsec);
}

static void snapdir_attr(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_attr *a)
{
	if (!a)
		return;
	struct wafl_fs *fs = v->fs;
	memset(a, 0, sizeof(*a));
	a->type = WAFL_FT_DIR;
	a->mode = 0555;
	a->nlink = 2;
	a->size = WAFL_BS;
	a->used_bytes = WAFL_BS;
	a->fsid = fs->fsi.fsid;
	a->ino = snapdir_fileid(fh->ino);
	a->gen = fh->gen;
	/* the newest of: the volume's birth, a snapshot's, the table's last
	 * change (deletes and renames) */
	struct timespec t = {fs->fsi.ctime_sec, 0};
	for (unsigned i = 0; i < fs->nsnaps; i++)
		if (fs->snaps[i]->cp && fs->snaps[i]->cp <= fs->aggr->cp_durable &&
		    ts_after(&fs->snaps[i]->ctime, &t))
			t = fs->snaps[i]->ctime;
	if (ts_after(&fs->snap_changed, &t))
		t = fs->snap_changed;
	a->atime = a->mtime = a->ctime = t;
}

/* Directory dino of the active fs as snapshot s has it: its gen, or
 * -ENOENT when the snapshot has no such directory. */
static int snapdir_entry(struct wafl_vol *v, struct wafl_snap *s, uint64_t dino, uint32_t dgen,
			 struct wafl_fs **img, struct wafl_dinode **di)
{
	if (!s->cp || s->cp > v->aggr->cp_durable)
		return -ENOENT;
	int rc = snap_image(v->fs, s->snapid, img);
	if (rc)
		return rc == -ESTALE ? -ENOENT : rc;
	struct wbuf *b;
	rc = fs_inode(*img, dino, dgen, &b, di);
	if (rc == -ESTALE)
		return -ENOENT;
	if (!rc && !is_dir(*di))
		rc = -ENOENT;
	return rc;
}

static void fill_attr(struct wafl_fs *fs, uint64_t ino, const struct wafl_dinode *di,
		      struct wafl_attr *a)
{
	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	a->type = ftype_of(di->mode);
	a->mode = di->mode & 07777;
	a->nlink = di->nlink;
	a->uid = di->uid;
	a->gid = di->gid;
	a->size = di->size;
	a->used_bytes = di->blocks * WAFL_BS;
	a->rdev_major = di->rdev_major;
	a->rdev_minor = di->rdev_minor;
	a->fsid = fs->fsi.fsid;
	a->ino = ino;
	a->gen = di->gen;
	a->atime.tv_sec = di->atime_sec;
	a->atime.tv_nsec = di->atime_nsec;
	a->mtime.tv_sec = di->mtime_sec;
	a->mtime.tv_nsec = di->mtime_nsec;
	a->ctime.tv_sec = di->ctime_sec;
	a->ctime.tv_nsec = di->ctime_nsec;
}

/* Room in the cache for more dirty data? Past the hard limit, while a CP
 * drains it, callers wait (-EAGAIN) instead of growing memory. */
static int dirty_room(struct wafl_aggr *a)
{
	if (a->replaying || a->ndirty < a->hard_dirty_bufs)
		return 0;
	cp_request(a);
	return -EAGAIN;
}

/* Room in the log and the cache for one more operation? */
static int room_for(struct wafl_aggr *a, size_t payload)
{
	if (a->replaying)
		return 0;
	if (!nvlog_has_room(a, payload)) {
		cp_request(a);
		return -EAGAIN;
	}
	return dirty_room(a);
}

static int log_rec(struct wafl_aggr *a, const void *rec, size_t len, struct wafl_stab *st)
{
	if (a->replaying)
		return 0;
	uint64_t seq;
	int rc = nvlog_append(a, rec, len, &seq);
	if (rc) {
		/* room_for() said yes: this is an allocation failure */
		wafl_logf(WLOG_ERR, "NVLOG append failed (%s)", strerror(-rc));
		return rc;
	}
	if (st) {
		st->log_seq = seq;
		st->cp = 0;
	}
	cp_maybe(a);
	return 0;
}

int ops_log_raw(struct wafl_aggr *a, const void *rec, size_t len, struct wafl_stab *st)
{
	return log_rec(a, rec, len, st);
}

int ops_room(struct wafl_aggr *a, size_t payload)
{
	return room_for(a, payload);
}

static void op_end(struct wafl_aggr *a)
{
	cache_trim(a);
}

/* ---- directories through dir_io ------------------------------------- */

static int dio_get(void *ctx, uint64_t fbn, uint8_t **blk)
{
	struct dirctx *d = ctx;
	struct wbuf *b;
	int rc = bmap_get(d->fs, d->ino, d->di, 0, fbn, 0, &b);
	if (rc)
		return rc;
	if (!b)
		return -EUCLEAN;
	*blk = b->data;
	return 0;
}

static int dio_get_dirty(void *ctx, uint64_t fbn, uint8_t **blk)
{
	struct dirctx *d = ctx;
	struct wbuf *b;
	int rc = bmap_get(d->fs, d->ino, d->di, 0, fbn, 0, &b);
	if (rc)
		return rc;
	if (!b)
		return -EUCLEAN;
	rc = buf_dirty(b);
	if (rc)
		return rc;
	*blk = b->data;
	return 0;
}

static int dio_append(void *ctx, uint64_t *fbn, uint8_t **blk)
{
	struct dirctx *d = ctx;
	struct wbuf *b;
	uint64_t n = d->di->size / WAFL_BS;
	int rc = bmap_get(d->fs, d->ino, d->di, 0, n, BM_CREATE, &b);
	if (rc)
		return rc;
	d->di->size = (n + 1) * WAFL_BS;
	*fbn = n;
	*blk = b->data;
	return 0;
}

void dirctx_init(struct dir_io *io, struct dirctx *d, struct wafl_fs *fs, uint64_t ino,
		 struct wafl_dinode *di)
{
	d->fs = fs;
	d->ino = ino;
	d->di = di;
	io->ctx = d;
	io->get = dio_get;
	io->get_dirty = dio_get_dirty;
	io->append = dio_append;
}

/* Looks a name up in a directory inode ("." and ".." included). */
static int dir_find(struct wafl_fs *fs, uint64_t dino, struct wafl_dinode *ddi, const char *name,
		    size_t len, uint64_t *ino, uint8_t *type)
{
	if (len == 1 && name[0] == '.') {
		*ino = dino;
		*type = WAFL_FT_DIR;
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.') {
		*ino = ddi->parent ? ddi->parent : dino;
		*type = WAFL_FT_DIR;
		return 0;
	}
	struct dir_io io;
	struct dirctx dc;
	dirctx_init(&io, &dc, fs, dino, ddi);
	uint64_t cookie;
	return dir_lookup(&io, name, len, ino, type, &cookie);
}

/* ---- apply: the effects, shared with replay ------------------------- */

static int free_inode_blocks(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di)
{
	int rc = bmap_truncate(fs, ino, di, 0);
	if (rc)
		return rc;
	return inode_release(fs, ino);
}

/* Drops one link; frees the inode with its last. */
static int drop_link(struct wafl_fs *fs, uint64_t ino, const struct rec_time *t)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, ino, &b, &di);
	if (rc)
		return rc;
	if (is_dir(di))
		di->nlink = 0; /* a directory's "." goes with its name */
	else if (di->nlink)
		di->nlink--;
	set_time(&di->ctime_sec, &di->ctime_nsec, t);
	if (di->nlink == 0)
		return free_inode_blocks(fs, ino, di);
	return 0;
}

static int apply_truncate(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t size)
{
	if (size < di->size) {
		uint64_t keep = (size + WAFL_BS - 1) / WAFL_BS;
		int rc = bmap_truncate(fs, ino, di, keep);
		if (rc)
			return rc;
		if (size % WAFL_BS) {
			/* zero the tail of the last block: a later extension reads zeros */
			struct wbuf *b;
			rc = bmap_get(fs, ino, di, 0, size / WAFL_BS, 0, &b);
			if (rc)
				return rc;
			if (b) {
				rc = buf_dirty(b);
				if (rc)
					return rc;
				memset(b->data + size % WAFL_BS, 0, WAFL_BS - size % WAFL_BS);
			}
		}
	}
	di->size = size;
	return 0;
}

static int apply_setattr(struct wafl_fs *fs, const struct rec_setattr *r)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, r->ino, &b, &di);
	if (rc)
		return rc;
	if (r->mask & WAFL_SA_MODE)
		di->mode = (di->mode & S_IFMT) | (r->mode & 07777);
	if (r->mask & WAFL_SA_UID)
		di->uid = r->uid;
	if (r->mask & WAFL_SA_GID)
		di->gid = r->gid;
	if (r->mask & WAFL_SA_SIZE) {
		rc = apply_truncate(fs, r->ino, di, r->size);
		if (rc)
			return rc;
		set_time(&di->mtime_sec, &di->mtime_nsec, &r->ctime);
	}
	if (r->mask & (WAFL_SA_ATIME | WAFL_SA_ATIME_NOW))
		set_time(&di->atime_sec, &di->atime_nsec, &r->atime);
	if (r->mask & (WAFL_SA_MTIME | WAFL_SA_MTIME_NOW))
		set_time(&di->mtime_sec, &di->mtime_nsec, &r->mtime);
	if (r->clear_excl)
		di->iflags &= (uint8_t)~WAFL_IF_EXCL;
	set_time(&di->ctime_sec, &di->ctime_nsec, &r->ctime);
	return 0;
}

static int write_data(struct wafl_fs *fs, uint64_t ino, struct wafl_dinode *di, uint64_t off,
		      const uint8_t *data, uint32_t len)
{
	uint32_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t fbn = pos / WAFL_BS;
		uint32_t in = (uint32_t)(pos % WAFL_BS);
		uint32_t n = WAFL_BS - in;
		if (n > len - done)
			n = len - done;
		struct wbuf *b;
		int rc = bmap_get(fs, ino, di, 0, fbn, BM_CREATE, &b);
		if (rc)
			return rc;
		rc = buf_dirty(b);
		if (rc)
			return rc;
		memcpy(b->data + in, data + done, n);
		done += n;
	}
	if (off + len > di->size)
		di->size = off + len;
	return 0;
}

static int apply_write(struct wafl_fs *fs, const struct rec_write *r, const uint8_t *data)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, r->ino, &b, &di);
	if (rc)
		return rc;
	rc = write_data(fs, r->ino, di, r->off, data, r->len);
	if (rc)
		return rc;
	if (r->kill_suid)
		di->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	set_time(&di->mtime_sec, &di->mtime_nsec, &r->t);
	set_time(&di->ctime_sec, &di->ctime_nsec, &r->t);
	return 0;
}

static int dir_touch(struct wafl_fs *fs, uint64_t dino, const struct rec_time *t, int dnlink,
		     struct wafl_dinode **out)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, dino, &b, &di);
	if (rc)
		return rc;
	set_time(&di->mtime_sec, &di->mtime_nsec, t);
	set_time(&di->ctime_sec, &di->ctime_nsec, t);
	di->nlink = (uint32_t)((int)di->nlink + dnlink);
	if (out)
		*out = di;
	return 0;
}

static int apply_create(struct wafl_fs *fs, const struct rec_create *r, const char *name,
			const char *target)
{
	struct wbuf *b, *db;
	struct wafl_dinode *di, *ddi;
	int rc = inode_get_dirty(fs, r->ino, &b, &di);
	if (rc)
		return rc;
	if (di->mode != 0) {
		wafl_logf(WLOG_ERR, "vol %u: create of inode %llu, which is in use", fs->volid,
			  (unsigned long long)r->ino);
		return -EUCLEAN;
	}
	memset(di, 0, sizeof(*di));
	di->mode = r->mode;
	di->uid = r->uid;
	di->gid = r->gid;
	di->gen = r->gen;
	if ((int32_t)(r->gen - fs->fsi.gen_next) > 0)
		fs->fsi.gen_next = r->gen;
	di->rdev_major = r->rdev_major;
	di->rdev_minor = r->rdev_minor;
	di->verf = r->verf;
	di->iflags = (uint8_t)r->iflags;
	di->nlink = 1;
	set_time(&di->atime_sec, &di->atime_nsec, &r->t);
	set_time(&di->mtime_sec, &di->mtime_nsec, &r->t);
	set_time(&di->ctime_sec, &di->ctime_nsec, &r->t);
	di->crtime_sec = r->t.sec;
	di->crtime_nsec = r->t.nsec;
	if (r->sa_mask & WAFL_SA_SIZE)
		di->size = r->size; /* a new file: all of it is a hole */
	if (r->sa_mask & WAFL_SA_ATIME)
		set_time(&di->atime_sec, &di->atime_nsec, &r->atime);
	if (r->sa_mask & WAFL_SA_MTIME)
		set_time(&di->mtime_sec, &di->mtime_nsec, &r->mtime);
	fs->fsi.inodes_used++;
	bool dir = is_dir(di);
	if (dir) {
		di->nlink = 2;
		di->parent = r->dir;
		struct dir_io io;
		struct dirctx dc;
		dirctx_init(&io, &dc, fs, r->ino, di);
		rc = dir_init(&io);
		if (rc)
			return rc;
	} else if ((r->mode & S_IFMT) == S_IFLNK) {
		rc = write_data(fs, r->ino, di, 0, (const uint8_t *)target, r->targetlen);
		if (rc)
			return rc;
	}
	rc = dir_touch(fs, r->dir, &r->t, dir ? 1 : 0, &ddi);
	if (rc)
		return rc;
	(void)db;
	struct dir_io io;
	struct dirctx dc;
	dirctx_init(&io, &dc, fs, r->dir, ddi);
	uint64_t cookie;
	return dir_insert(&io, name, r->namelen, r->ino, (uint8_t)ftype_of(r->mode), &cookie);
}

static int apply_link(struct wafl_fs *fs, const struct rec_link *r, const char *name)
{
	struct wbuf *b;
	struct wafl_dinode *di, *ddi;
	int rc = inode_get_dirty(fs, r->ino, &b, &di);
	if (rc)
		return rc;
	di->nlink++;
	set_time(&di->ctime_sec, &di->ctime_nsec, &r->t);
	uint8_t type = (uint8_t)ftype_of(di->mode);
	rc = dir_touch(fs, r->dir, &r->t, 0, &ddi);
	if (rc)
		return rc;
	struct dir_io io;
	struct dirctx dc;
	dirctx_init(&io, &dc, fs, r->dir, ddi);
	uint64_t cookie;
	return dir_insert(&io, name, r->namelen, r->ino, type, &cookie);
}

static int apply_remove(struct wafl_fs *fs, const struct rec_remove *r, const char *name)
{
	struct wafl_dinode *ddi;
	int rc = dir_touch(fs, r->dir, &r->t, r->isdir ? -1 : 0, &ddi);
	if (rc)
		return rc;
	struct dir_io io;
	struct dirctx dc;
	dirctx_init(&io, &dc, fs, r->dir, ddi);
	uint64_t ino;
	uint8_t type;
	rc = dir_remove(&io, name, r->namelen, &ino, &type);
	if (rc)
		return rc;
	return drop_link(fs, ino, &r->t);
}

static int apply_rename(struct wafl_fs *fs, const struct rec_rename *r, const char *from,
			const char *to)
{
	struct wbuf *b;
	struct wafl_dinode *fdi, *tdi, *sdi;
	uint64_t sino, tino = 0;
	uint8_t stype, ttype = 0;
	int rc = inode_get_dirty(fs, r->fdir, &b, &fdi);
	if (rc)
		return rc;
	rc = dir_find(fs, r->fdir, fdi, from, r->flen, &sino, &stype);
	if (rc)
		return rc;
	rc = inode_get_dirty(fs, r->tdir, &b, &tdi);
	if (rc)
		return rc;
	rc = dir_find(fs, r->tdir, tdi, to, r->tlen, &tino, &ttype);
	if (rc == -ENOENT)
		tino = 0;
	else if (rc)
		return rc;
	if (tino == sino)
		return 0; /* two links to one file: POSIX says do nothing */
	bool sdir = stype == WAFL_FT_DIR;
	struct dir_io tio, fio;
	struct dirctx tdc, fdc;
	dirctx_init(&tio, &tdc, fs, r->tdir, tdi);
	dirctx_init(&fio, &fdc, fs, r->fdir, fdi);
	if (tino) {
		rc = dir_replace(&tio, to, r->tlen, sino, stype);
		if (rc)
			return rc;
		if (ttype == WAFL_FT_DIR)
			tdi->nlink--; /* the replaced directory's ".." */
		rc = drop_link(fs, tino, &r->t);
		if (rc)
			return rc;
	} else {
		uint64_t cookie;
		rc = dir_insert(&tio, to, r->tlen, sino, stype, &cookie);
		if (rc)
			return rc;
	}
	uint64_t gone;
	uint8_t gtype;
	rc = dir_remove(&fio, from, r->flen, &gone, &gtype);
	if (rc)
		return rc;
	if (sdir) {
		fdi->nlink--;
		tdi->nlink++;
	}
	set_time(&fdi->mtime_sec, &fdi->mtime_nsec, &r->t);
	set_time(&fdi->ctime_sec, &fdi->ctime_nsec, &r->t);
	set_time(&tdi->mtime_sec, &tdi->mtime_nsec, &r->t);
	set_time(&tdi->ctime_sec, &tdi->ctime_nsec, &r->t);
	rc = inode_get_dirty(fs, sino, &b, &sdi);
	if (rc)
		return rc;
	if (sdir)
		sdi->parent = r->tdir;
	set_time(&sdi->ctime_sec, &sdi->ctime_nsec, &r->t);
	return 0;
}

/* ---- replay --------------------------------------------------------- */

#define NEED(len, want)                                                                            \
	do {                                                                                       \
		if ((len) < (want))                                                                \
			return -EUCLEAN;                                                           \
	} while (0)

int ops_replay(struct wafl_aggr *a, const uint8_t *p, size_t len)
{
	struct rec_hdr h;
	NEED(len, sizeof(h));
	memcpy(&h, p, sizeof(h));
	struct wafl_fs *fs = &a->fs;
	if (h.op < OP_VOLCREATE || h.op >= OP_SNAPFIRST) {
		struct wafl_vol *v = vol_by_id(a, h.volid);
		if (!v)
			return -EUCLEAN;
		fs = v->fs;
	}
	/* records are copied out: the log buffer has no alignment promise */
	union {
		struct rec_setattr sa;
		struct rec_write w;
		struct rec_create c;
		struct rec_link l;
		struct rec_rename rn;
		struct rec_remove rm;
		struct rec_vol vol;
	} r;
	if (h.op >= OP_SNAPFIRST)
		return snap_replay(a, h.op, p, len);
	switch (h.op) {
	case OP_SETATTR:
		NEED(len, sizeof(r.sa));
		memcpy(&r.sa, p, sizeof(r.sa));
		return apply_setattr(fs, &r.sa);
	case OP_WRITE:
		NEED(len, sizeof(r.w));
		memcpy(&r.w, p, sizeof(r.w));
		NEED(len, sizeof(r.w) + r.w.len);
		return apply_write(fs, &r.w, p + sizeof(r.w));
	case OP_CREATE: {
		NEED(len, sizeof(r.c));
		memcpy(&r.c, p, sizeof(r.c));
		NEED(len, sizeof(r.c) + r.c.namelen + r.c.targetlen);
		char name[WAFL_NAME_MAX + 1], *target = NULL;
		if (r.c.namelen > WAFL_NAME_MAX || r.c.targetlen > WAFL_PATH_MAX)
			return -EUCLEAN;
		memcpy(name, p + sizeof(r.c), r.c.namelen);
		name[r.c.namelen] = 0;
		if (r.c.targetlen) {
			target = malloc(r.c.targetlen + 1u);
			if (!target)
				return -ENOMEM;
			memcpy(target, p + sizeof(r.c) + r.c.namelen, r.c.targetlen);
			target[r.c.targetlen] = 0;
		}
		int rc = apply_create(fs, &r.c, name, target);
		free(target);
		return rc;
	}
	case OP_LINK:
		NEED(len, sizeof(r.l));
		memcpy(&r.l, p, sizeof(r.l));
		NEED(len, sizeof(r.l) + r.l.namelen);
		if (r.l.namelen > WAFL_NAME_MAX)
			return -EUCLEAN;
		return apply_link(fs, &r.l, (const char *)p + sizeof(r.l));
	case OP_RENAME: {
		NEED(len, sizeof(r.rn));
		memcpy(&r.rn, p, sizeof(r.rn));
		NEED(len, sizeof(r.rn) + r.rn.flen + r.rn.tlen);
		if (r.rn.flen > WAFL_NAME_MAX || r.rn.tlen > WAFL_NAME_MAX)
			return -EUCLEAN;
		const char *f = (const char *)p + sizeof(r.rn);
		return apply_rename(fs, &r.rn, f, f + r.rn.flen);
	}
	case OP_REMOVE:
		NEED(len, sizeof(r.rm));
		memcpy(&r.rm, p, sizeof(r.rm));
		NEED(len, sizeof(r.rm) + r.rm.namelen);
		if (r.rm.namelen > WAFL_NAME_MAX)
			return -EUCLEAN;
		return apply_remove(fs, &r.rm, (const char *)p + sizeof(r.rm));
	case OP_VOLCREATE: {
		NEED(len, sizeof(r.vol));
		memcpy(&r.vol, p, sizeof(r.vol));
		r.vol.name[63] = 0;
		struct timespec ts = {r.vol.t.sec, r.vol.t.nsec};
		return aggr_vol_create_apply(a, r.vol.name, r.vol.volid, r.vol.container,
					     r.vol.size_bytes, r.vol.guarantee, r.vol.fsid, &ts);
	}
	case OP_VOLDESTROY:
		NEED(len, sizeof(r.vol));
		memcpy(&r.vol, p, sizeof(r.vol));
		return aggr_vol_destroy_apply(a, r.vol.volid);
	case OP_VOLRESIZE:
	case OP_VOLSTATE: {
		NEED(len, sizeof(r.vol));
		memcpy(&r.vol, p, sizeof(r.vol));
		struct wafl_vol *v = vol_by_id(a, r.vol.volid);
		if (!v)
			return -EUCLEAN;
		if (h.op == OP_VOLRESIZE)
			return aggr_vol_resize_apply(v, r.vol.size_bytes);
		return aggr_vol_state_apply(v, r.vol.state);
	}
	default:
		return -EUCLEAN;
	}
}

/* ---- the public operations ------------------------------------------ */

int wafl_root(struct wafl_vol *v, struct wafl_fh *out)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get(v->fs, WAFL_INO_ROOT, &b, &di);
	if (rc)
		return rc;
	out->volid = v->fs->volid;
	out->snapid = 0;
	out->ino = WAFL_INO_ROOT;
	out->gen = di->gen;
	return 0;
}

int wafl_getattr(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_attr *out)
{
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *di;
	if (is_snapdir(fh)) {
		if (!(rc = snapdir_parent(v, fh, &b, &di)))
			snapdir_attr(v, fh, out);
		return rc;
	}
	struct wafl_fs *fs;
	rc = fh_resolve(v, fh, &fs, &b, &di);
	if (!rc)
		fill_attr(fs, fh->ino, di, out);
	op_end(v->aggr);
	return rc;
}

int wafl_access(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		unsigned want, unsigned *granted)
{
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *di;
	struct wafl_fs *fs;
	*granted = 0;
	if (is_snapdir(fh)) {
		if ((rc = snapdir_parent(v, fh, &b, &di)))
			return rc;
		*granted = want & 5; /* r-x for everyone, never w */
		return 0;
	}
	rc = fh_resolve(v, fh, &fs, &b, &di);
	if (rc)
		return rc;
	for (unsigned bit = 1; bit <= 4; bit <<= 1)
		if ((want & bit) && may(di, c, bit) == 0)
			*granted |= bit;
	if (fh->snapid)
		*granted &= ~2u; /* a snapshot is read-only */
	return 0;
}

/* A name in a ".snapshot" directory: a snapshot, as the directory the
 * ".snapshot" is in looked then. */
static int snapdir_lookup(struct wafl_vol *v, const struct wafl_fh *dir, const char *name,
			  struct wafl_fh *out, struct wafl_attr *attr)
{
	struct wbuf *b;
	struct wafl_dinode *pdi;
	size_t len;
	int rc = snapdir_parent(v, dir, &b, &pdi);
	if (!rc)
		rc = check_name(name, &len);
	if (rc)
		return rc;
	if (len == 1 && name[0] == '.') {
		*out = *dir;
		snapdir_attr(v, out, attr);
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.') {
		*out = *dir;
		out->snapid = 0;
		fill_attr(v->fs, dir->ino, pdi, attr);
		return 0;
	}
	struct wafl_snap *s = snap_by_name(v->fs, name);
	if (!s)
		return -ENOENT;
	struct wafl_fs *img;
	struct wafl_dinode *di;
	if ((rc = snapdir_entry(v, s, dir->ino, dir->gen, &img, &di)))
		return rc;
	out->volid = v->fs->volid;
	out->snapid = s->snapid;
	out->ino = dir->ino;
	out->gen = di->gen;
	fill_attr(img, dir->ino, di, attr);
	op_end(v->aggr);
	return 0;
}

int wafl_lookup(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, struct wafl_fh *out, struct wafl_attr *attr)
{
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	size_t len;
	struct wbuf *b;
	struct wafl_dinode *ddi, *di;
	struct wafl_fs *fs;
	if (is_snapdir(dir))
		return snapdir_lookup(v, dir, name, out, attr);
	if ((rc = fh_resolve(v, dir, &fs, &b, &ddi)))
		return rc;
	if (!is_dir(ddi))
		return -ENOTDIR;
	if ((rc = check_name(name, &len)))
		return rc;
	if ((rc = may(ddi, c, 1)))
		return rc;
	if (is_snapname(name, len)) {
		if (dir->snapid)
			return -ENOENT; /* no snapshots inside a snapshot */
		*out = *dir;
		out->snapid = WAFL_SNAPID_DIR;
		snapdir_attr(v, out, attr);
		return 0;
	}
	uint64_t ino;
	uint8_t type;
	if ((rc = dir_find(fs, dir->ino, ddi, name, len, &ino, &type)))
		goto out;
	if ((rc = inode_get(fs, ino, &b, &di)))
		goto out;
	if (di->mode == 0) {
		wafl_logf(WLOG_ERR, "vol %u: directory %llu names free inode %llu", v->fs->volid,
			  (unsigned long long)dir->ino, (unsigned long long)ino);
		rc = -EUCLEAN;
		goto out;
	}
	out->volid = v->fs->volid;
	out->snapid = dir->snapid;
	out->ino = ino;
	out->gen = di->gen;
	fill_attr(fs, ino, di, attr);
out:
	op_end(v->aggr);
	return rc;
}

int wafl_read(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh, uint64_t off,
	      uint32_t len, void *buf, uint32_t *got, bool *eof)
{
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *di;
	struct wafl_fs *fs;
	if (is_snapdir(fh))
		return -EISDIR;
	if ((rc = fh_resolve(v, fh, &fs, &b, &di)))
		return rc;
	if (is_dir(di))
		return -EISDIR;
	if ((di->mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	/* the owner may read what it could open (NFS has no open) */
	if (c && c->uid != di->uid && (rc = may(di, c, 4)))
		return rc;
	*got = 0;
	if (off >= di->size) {
		*eof = true;
		return 0;
	}
	if (len > di->size - off)
		len = (uint32_t)(di->size - off);
	/* what is not cached is read disk by disk in runs, not block by block */
	uint64_t f0 = off / WAFL_BS, f1 = (off + len + WAFL_BS - 1) / WAFL_BS;
	if (f1 - f0 >= 2 && (rc = bmap_prefetch(fs, fh->ino, di, f0, f1 - f0)))
		goto out;
	uint8_t *out = buf;
	uint32_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint32_t in = (uint32_t)(pos % WAFL_BS);
		uint32_t n = WAFL_BS - in;
		if (n > len - done)
			n = len - done;
		struct wbuf *db;
		rc = bmap_get(fs, fh->ino, di, 0, pos / WAFL_BS, 0, &db);
		if (rc)
			goto out;
		if (db)
			memcpy(out + done, db->data + in, n);
		else
			memset(out + done, 0, n);
		done += n;
	}
	*got = done;
	*eof = off + done >= di->size;
out:
	op_end(v->aggr);
	return rc;
}

/* Blocks a write of len bytes at off may dirty (data + indirect path). */
static uint64_t write_cost(uint64_t off, uint64_t len)
{
	uint64_t nb = (off % WAFL_BS + len + WAFL_BS - 1) / WAFL_BS;
	return nb + nb / 64 + WAFL_MAX_HEIGHT + 4;
}

int wafl_write(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
	       uint64_t off, uint32_t len, const void *buf, enum wafl_stable stable,
	       struct wafl_attr *out, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	int rc = vol_usable(v, true);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *di;
	if ((rc = fh_inode(v, fh, &b, &di)))
		return rc;
	if (is_dir(di))
		return -EISDIR;
	if ((di->mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	if (c && c->uid != di->uid && (rc = may(di, c, 2)))
		return rc;
	if (off > WAFL_MAX_FILE_SIZE || len > WAFL_MAX_FILE_SIZE - off)
		return -EFBIG;
	memset(st, 0, sizeof(*st));
	if (len == 0) {
		fill_attr(v->fs, fh->ino, di, out);
		return 0;
	}
	if ((rc = fs_space_check(v->fs, write_cost(off, len))))
		return rc;
	/* a stable write too big for the log becomes durable by a CP instead */
	bool via_cp = stable != WAFL_UNSTABLE && !a->replaying &&
		      !nvlog_could_fit(a, sizeof(struct rec_write) + len);
	bool logged = stable != WAFL_UNSTABLE && !via_cp;
	if (logged && (rc = room_for(a, sizeof(struct rec_write) + len)))
		return rc;
	if (!logged && (rc = dirty_room(a)))
		return rc;
	struct timespec now;
	wafl_now(&now);
	struct rec_write r = {
		.h = {OP_WRITE, 0, v->fs->volid},
		.ino = fh->ino,
		.off = off,
		.len = len,
		.kill_suid = c && c->uid != 0 && (di->mode & (S_ISUID | S_ISGID)),
		.t = rt(&now),
	};
	if ((rc = apply_write(v->fs, &r, buf)))
		goto out;
	if ((rc = inode_get(v->fs, fh->ino, &b, &di)))
		goto out;
	fill_attr(v->fs, fh->ino, di, out);
	if (!logged) {
		v->unstable_cp = a->cp_next;
		if (via_cp) {
			st->cp = a->cp_next;
			cp_request(a);
		} else {
			cp_maybe(a);
		}
		goto out;
	}
	/* header and data go to the log as one record */
	uint8_t *rec = malloc(sizeof(r) + len);
	if (!rec) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(rec, &r, sizeof(r));
	memcpy(rec + sizeof(r), buf, len);
	rc = log_rec(a, rec, sizeof(r) + len, st);
	free(rec);
out:
	op_end(a);
	return rc;
}

int wafl_setattr(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		 const struct wafl_sattr *sa, struct wafl_attr *out, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	int rc = vol_usable(v, true);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *di;
	if ((rc = fh_inode(v, fh, &b, &di)))
		return rc;
	memset(st, 0, sizeof(*st));
	if ((sa->mask & WAFL_SA_CTIME_GUARD) &&
	    (sa->guard_ctime.tv_sec != di->ctime_sec || sa->guard_ctime.tv_nsec != di->ctime_nsec))
		return -EPROTO;
	struct timespec now;
	wafl_now(&now);
	struct rec_setattr r = {.h = {OP_SETATTR, 0, v->fs->volid}, .ino = fh->ino};
	r.ctime = rt(&now);
	bool owner = is_owner(di, c);
	bool root = !c || c->uid == 0;
	uint32_t mode = di->mode & 07777;
	if (sa->mask & WAFL_SA_SIZE) {
		if (is_dir(di))
			return -EISDIR;
		if ((di->mode & S_IFMT) != S_IFREG)
			return -EINVAL;
		if (c && c->uid != di->uid && (rc = may(di, c, 2)))
			return rc;
		if (sa->size > WAFL_MAX_FILE_SIZE)
			return -EFBIG;
		if (sa->size > di->size && (rc = fs_space_check(v->fs, WAFL_MAX_HEIGHT + 4)))
			return rc;
		r.mask |= WAFL_SA_SIZE;
		r.size = sa->size;
		if (c && c->uid != 0 && (mode & (S_ISUID | S_ISGID)) && sa->size != di->size) {
			mode &= ~(uint32_t)(S_ISUID | S_ISGID);
			r.mask |= WAFL_SA_MODE;
		}
	}
	if (sa->mask & WAFL_SA_MODE) {
		if (!owner)
			return -EPERM;
		mode = sa->mode & 07777;
		/* a non-root owner outside the file's group cannot set setgid */
		uint32_t gid = (sa->mask & WAFL_SA_GID) ? sa->gid : di->gid;
		if (!root && !in_group(c, gid))
			mode &= ~(uint32_t)S_ISGID;
		/* the owner may set the sticky bit on any file, as on Linux */
		r.mask |= WAFL_SA_MODE;
	}
	/* chown by someone who is neither root nor the owner is EPERM, even
	 * when it would change nothing (POSIX; pjdfstest chown/07) */
	if ((sa->mask & (WAFL_SA_UID | WAFL_SA_GID)) && !owner)
		return -EPERM;
	if ((sa->mask & WAFL_SA_UID) && sa->uid != di->uid) {
		if (!root)
			return -EPERM;
		r.mask |= WAFL_SA_UID;
		r.uid = sa->uid;
	}
	if ((sa->mask & WAFL_SA_GID) && sa->gid != di->gid) {
		if (!root && !(owner && in_group(c, sa->gid)))
			return -EPERM;
		r.mask |= WAFL_SA_GID;
		r.gid = sa->gid;
	}
	if ((sa->mask & (WAFL_SA_UID | WAFL_SA_GID)) && !is_dir(di) &&
	    ((r.mask & (WAFL_SA_UID | WAFL_SA_GID)) || !root)) {
		/* chown clears set-id bits (for non-root always, as Linux does) */
		if (mode & (S_ISUID | S_ISGID)) {
			if (!root || (r.mask & (WAFL_SA_UID | WAFL_SA_GID))) {
				uint32_t kill = S_ISUID;
				if (mode & 00010)
					kill |= S_ISGID;
				if (!root || (mode & 00010))
					mode &= ~kill;
				r.mask |= WAFL_SA_MODE;
			}
		}
	}
	for (int t = 0; t < 2; t++) {
		uint32_t set = t ? WAFL_SA_MTIME : WAFL_SA_ATIME;
		uint32_t now_bit = t ? WAFL_SA_MTIME_NOW : WAFL_SA_ATIME_NOW;
		struct rec_time *dst = t ? &r.mtime : &r.atime;
		if (sa->mask & set) {
			if (!owner)
				return -EPERM;
			*dst = rt(t ? &sa->mtime : &sa->atime);
			r.mask |= set;
		} else if (sa->mask & now_bit) {
			if (!owner && (rc = may(di, c, 2)))
				return rc;
			*dst = r.ctime;
			r.mask |= now_bit;
		}
	}
	r.mode = mode;
	if ((sa->mask & (WAFL_SA_ATIME | WAFL_SA_MTIME)) && (di->iflags & WAFL_IF_EXCL))
		r.clear_excl = 1;
	if ((rc = room_for(a, sizeof(r))))
		return rc;
	if ((rc = apply_setattr(v->fs, &r)))
		goto out;
	if ((rc = log_rec(a, &r, sizeof(r), st)))
		goto out;
	if ((rc = inode_get(v->fs, fh->ino, &b, &di)))
		goto out;
	fill_attr(v->fs, fh->ino, di, out);
out:
	op_end(a);
	return rc;
}

/* Everything a new name in a directory needs checked. */
static int prep_dir_change(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
			   const char *name, size_t *len, struct wafl_dinode **ddi)
{
	int rc = vol_usable(v, true);
	if (rc)
		return rc;
	struct wbuf *b;
	if ((rc = fh_inode(v, dir, &b, ddi)))
		return rc;
	if (!is_dir(*ddi))
		return -ENOTDIR;
	if ((rc = check_name(name, len)))
		return rc;
	if (is_snapname(name, *len))
		return -EACCES; /* the snapshot directory is in every directory */
	if ((rc = may(*ddi, c, 3)))
		return rc;
	return 0;
}

/* Creates any kind of inode under dir. */
static int do_create(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		     const char *name, uint32_t mode, uint32_t rdev_major, uint32_t rdev_minor,
		     const char *target, const struct wafl_sattr *sa, uint64_t verf,
		     uint32_t iflags, struct wafl_fh *out, struct wafl_attr *attr,
		     struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	size_t len, tlen = target ? strlen(target) : 0;
	struct wafl_dinode *ddi;
	int rc = prep_dir_change(v, c, dir, name, &len, &ddi);
	if (rc)
		return rc;
	if (target && (tlen == 0 || tlen > WAFL_PATH_MAX))
		return tlen ? -ENAMETOOLONG : -EINVAL;
	uint64_t eino;
	uint8_t etype;
	rc = dir_find(v->fs, dir->ino, ddi, name, len, &eino, &etype);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (S_ISDIR(mode) && ddi->nlink >= WAFL_LINK_MAX)
		return -EMLINK;
	if (v->fs->fsi.inodes_used >= inode_max(v->fs))
		return -ENOSPC;
	if ((rc = fs_space_check(v->fs, 24 + write_cost(0, tlen))))
		return rc;
	if ((rc = room_for(a, sizeof(struct rec_create) + len + tlen)))
		return rc;
	struct rec_create r = {.h = {OP_CREATE, 0, v->fs->volid}};
	if ((rc = inode_pick(v->fs, &r.ino, &r.gen)))
		return rc;
	struct timespec now;
	wafl_now(&now);
	r.t = rt(&now);
	r.dir = dir->ino;
	r.verf = verf;
	r.iflags = iflags;
	r.rdev_major = rdev_major;
	r.rdev_minor = rdev_minor;
	r.namelen = (uint16_t)len;
	r.targetlen = (uint16_t)tlen;
	uint32_t perm = mode & 07777;
	r.uid = c ? c->uid : 0;
	r.gid = c ? c->gid : 0;
	if (ddi->mode & S_ISGID) {
		/* BSD group semantics under a setgid directory */
		r.gid = ddi->gid;
		if (S_ISDIR(mode))
			perm |= S_ISGID;
	}
	bool root = !c || c->uid == 0;
	if (sa && (sa->mask & WAFL_SA_UID) && root)
		r.uid = sa->uid;
	if (sa && (sa->mask & WAFL_SA_GID) && (root || in_group(c, sa->gid)))
		r.gid = sa->gid;
	if (!root && (perm & S_ISGID) && !S_ISDIR(mode) && !in_group(c, r.gid))
		perm &= ~(uint32_t)S_ISGID;
	r.mode = (mode & S_IFMT) | perm;
	if (sa && S_ISREG(mode)) {
		if ((sa->mask & WAFL_SA_SIZE) && sa->size) {
			if (sa->size > WAFL_MAX_FILE_SIZE)
				return -EFBIG;
			r.sa_mask |= WAFL_SA_SIZE;
			r.size = sa->size;
		}
		if (sa->mask & (WAFL_SA_ATIME | WAFL_SA_ATIME_NOW)) {
			r.sa_mask |= WAFL_SA_ATIME;
			r.atime = sa->mask & WAFL_SA_ATIME ? rt(&sa->atime) : r.t;
		}
		if (sa->mask & (WAFL_SA_MTIME | WAFL_SA_MTIME_NOW)) {
			r.sa_mask |= WAFL_SA_MTIME;
			r.mtime = sa->mask & WAFL_SA_MTIME ? rt(&sa->mtime) : r.t;
		}
	}
	size_t rl = sizeof(r) + len + tlen;
	uint8_t *rec = malloc(rl);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, &r, sizeof(r));
	memcpy(rec + sizeof(r), name, len);
	if (tlen)
		memcpy(rec + sizeof(r) + len, target, tlen);
	rc = apply_create(v->fs, &r, name, target);
	if (!rc)
		rc = log_rec(a, rec, rl, st);
	free(rec);
	if (rc)
		goto out;
	out->volid = v->fs->volid;
	out->snapid = 0;
	out->ino = r.ino;
	out->gen = r.gen;
	if (attr) {
		struct wbuf *b;
		struct wafl_dinode *di;
		if ((rc = inode_get(v->fs, r.ino, &b, &di)))
			goto out;
		fill_attr(v->fs, r.ino, di, attr);
	}
out:
	op_end(a);
	return rc;
}

static uint32_t sa_mode(const struct wafl_sattr *sa, uint32_t dflt)
{
	return sa && (sa->mask & WAFL_SA_MODE) ? sa->mode & 07777 : dflt;
}

int wafl_create(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, enum wafl_how how, const struct wafl_sattr *sa, uint64_t verf,
		struct wafl_fh *out, struct wafl_attr *attr, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	int rc = vol_usable(v, true);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *ddi, *di;
	size_t len;
	if ((rc = prep_dir_change(v, c, dir, name, &len, &ddi)))
		return rc;
	uint64_t eino;
	uint8_t etype;
	rc = dir_find(v->fs, dir->ino, ddi, name, len, &eino, &etype);
	if (rc == 0) {
		/* the name exists */
		if (how == WAFL_GUARDED)
			return -EEXIST;
		if ((rc = inode_get(v->fs, eino, &b, &di)))
			return rc;
		struct wafl_fh efh = {v->fs->volid, 0, eino, di->gen};
		if (how == WAFL_EXCLUSIVE) {
			if ((di->iflags & WAFL_IF_EXCL) && di->verf == verf) {
				*out = efh; /* a retransmission: same verifier */
				fill_attr(v->fs, eino, di, attr);
				return 0;
			}
			return -EEXIST;
		}
		if (etype == WAFL_FT_DIR)
			return -EISDIR;
		*out = efh;
		if (sa && (sa->mask & WAFL_SA_SIZE) && etype == WAFL_FT_REG) {
			struct wafl_sattr t = {.mask = WAFL_SA_SIZE, .size = sa->size};
			return wafl_setattr(v, c, &efh, &t, attr, st);
		}
		fill_attr(v->fs, eino, di, attr);
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	uint32_t mode = S_IFREG | sa_mode(sa, 0644);
	if (how == WAFL_EXCLUSIVE)
		return do_create(v, c, dir, name, mode, 0, 0, NULL, NULL, verf, WAFL_IF_EXCL, out,
				 attr, st);
	/* size and times go into the create's own record: one atomic step */
	return do_create(v, c, dir, name, mode, 0, 0, NULL, sa, 0, 0, out, attr, st);
}

int wafl_mkdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, const struct wafl_sattr *sa, struct wafl_fh *out,
	       struct wafl_attr *attr, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	return do_create(v, c, dir, name, S_IFDIR | sa_mode(sa, 0755), 0, 0, NULL, sa, 0, 0, out,
			 attr, st);
}

int wafl_symlink(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		 const char *name, const char *target, const struct wafl_sattr *sa,
		 struct wafl_fh *out, struct wafl_attr *attr, struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (!target)
		return -EINVAL;
	return do_create(v, c, dir, name, S_IFLNK | 0777, 0, 0, target, sa, 0, 0, out, attr, st);
}

int wafl_mknod(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, enum wafl_ftype type, uint32_t rdev_major, uint32_t rdev_minor,
	       const struct wafl_sattr *sa, struct wafl_fh *out, struct wafl_attr *attr,
	       struct wafl_stab *st)
{
	memset(st, 0, sizeof(*st));
	if (type != WAFL_FT_BLK && type != WAFL_FT_CHR && type != WAFL_FT_SOCK &&
	    type != WAFL_FT_FIFO)
		return -EINVAL;
	if ((type == WAFL_FT_BLK || type == WAFL_FT_CHR) && c && c->uid != 0)
		return -EPERM;
	if (type != WAFL_FT_BLK && type != WAFL_FT_CHR)
		rdev_major = rdev_minor = 0;
	return do_create(v, c, dir, name, ifmt_of(type) | sa_mode(sa, 0644), rdev_major, rdev_minor,
			 NULL, sa, 0, 0, out, attr, st);
}

int wafl_readlink(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
		  char *buf, size_t size, size_t *len)
{
	(void)c;
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	struct wbuf *b, *db;
	struct wafl_dinode *di;
	struct wafl_fs *fs;
	if (is_snapdir(fh))
		return -EINVAL;
	if ((rc = fh_resolve(v, fh, &fs, &b, &di)))
		return rc;
	if ((di->mode & S_IFMT) != S_IFLNK)
		return -EINVAL;
	if (di->size > WAFL_PATH_MAX || di->size > size)
		return -ENAMETOOLONG;
	size_t done = 0;
	while (done < di->size) {
		size_t n = di->size - done < WAFL_BS ? di->size - done : WAFL_BS;
		if ((rc = bmap_get(fs, fh->ino, di, 0, done / WAFL_BS, 0, &db)))
			return rc;
		if (!db)
			return -EUCLEAN;
		memcpy(buf + done, db->data, n);
		done += n;
	}
	if (done < size)
		buf[done] = 0;
	*len = done;
	op_end(v->aggr);
	return 0;
}

int wafl_link(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *fh,
	      const struct wafl_fh *dir, const char *name, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	size_t len;
	struct wafl_dinode *ddi, *di;
	struct wbuf *b;
	int rc = prep_dir_change(v, c, dir, name, &len, &ddi);
	if (rc)
		return rc;
	if ((rc = fh_inode(v, fh, &b, &di)))
		return rc;
	if (is_dir(di))
		return -EPERM;
	if (di->nlink >= WAFL_LINK_MAX)
		return -EMLINK;
	uint64_t eino;
	uint8_t etype;
	rc = dir_find(v->fs, dir->ino, ddi, name, len, &eino, &etype);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if ((rc = fs_space_check(v->fs, 16)))
		return rc;
	if ((rc = room_for(a, sizeof(struct rec_link) + len)))
		return rc;
	struct timespec now;
	wafl_now(&now);
	struct rec_link r = {
		.h = {OP_LINK, 0, v->fs->volid},
		.ino = fh->ino,
		.dir = dir->ino,
		.t = rt(&now),
		.namelen = (uint32_t)len,
	};
	uint8_t rec[sizeof(r) + WAFL_NAME_MAX];
	memcpy(rec, &r, sizeof(r));
	memcpy(rec + sizeof(r), name, len);
	rc = apply_link(v->fs, &r, name);
	if (!rc)
		rc = log_rec(a, rec, sizeof(r) + len, st);
	op_end(a);
	return rc;
}

static int do_remove(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		     const char *name, bool rmdir, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	size_t len;
	struct wafl_dinode *ddi, *di;
	struct wbuf *b;
	int rc = prep_dir_change(v, c, dir, name, &len, &ddi);
	if (rc)
		return rc;
	if (is_dot(name, len))
		return rmdir && len == 2 ? -ENOTEMPTY : -EINVAL;
	uint64_t ino;
	uint8_t type;
	if ((rc = dir_find(v->fs, dir->ino, ddi, name, len, &ino, &type)))
		return rc;
	if ((rc = inode_get(v->fs, ino, &b, &di)))
		return rc;
	if (rmdir && !is_dir(di))
		return -ENOTDIR;
	if (!rmdir && is_dir(di))
		return -EISDIR;
	if ((rc = sticky_ok(ddi, di, c)))
		return rc;
	if (rmdir) {
		struct dir_io io;
		struct dirctx dc;
		uint64_t n;
		dirctx_init(&io, &dc, v->fs, ino, di);
		if ((rc = dir_count(&io, &n)))
			return rc;
		if (n)
			return -ENOTEMPTY;
	}
	if ((rc = fs_space_check(v->fs, 16)))
		return rc;
	if ((rc = room_for(a, sizeof(struct rec_remove) + len)))
		return rc;
	struct timespec now;
	wafl_now(&now);
	struct rec_remove r = {
		.h = {OP_REMOVE, 0, v->fs->volid},
		.dir = dir->ino,
		.t = rt(&now),
		.namelen = (uint32_t)len,
		.isdir = rmdir,
	};
	uint8_t rec[sizeof(r) + WAFL_NAME_MAX];
	memcpy(rec, &r, sizeof(r));
	memcpy(rec + sizeof(r), name, len);
	rc = apply_remove(v->fs, &r, name);
	if (!rc)
		rc = log_rec(a, rec, sizeof(r) + len, st);
	op_end(a);
	return rc;
}

int wafl_remove(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		const char *name, struct wafl_stab *st)
{
	return do_remove(v, c, dir, name, false, st);
}

int wafl_rmdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
	       const char *name, struct wafl_stab *st)
{
	return do_remove(v, c, dir, name, true, st);
}

int wafl_rename(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *from_dir,
		const char *from, const struct wafl_fh *to_dir, const char *to,
		struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	size_t flen, tlen;
	struct wafl_dinode *fdi, *tdi, *sdi, *xdi;
	struct wbuf *b;
	int rc = prep_dir_change(v, c, from_dir, from, &flen, &fdi);
	if (rc)
		return rc;
	if ((rc = prep_dir_change(v, c, to_dir, to, &tlen, &tdi)))
		return rc;
	if (is_dot(from, flen) || is_dot(to, tlen))
		return -EINVAL;
	uint64_t sino, tino;
	uint8_t stype, ttype;
	if ((rc = dir_find(v->fs, from_dir->ino, fdi, from, flen, &sino, &stype)))
		return rc;
	rc = dir_find(v->fs, to_dir->ino, tdi, to, tlen, &tino, &ttype);
	if (rc == -ENOENT)
		tino = 0;
	else if (rc)
		return rc;
	if ((rc = inode_get(v->fs, sino, &b, &sdi)))
		return rc;
	if ((rc = sticky_ok(fdi, sdi, c)))
		return rc;
	if (tino == sino)
		return 0; /* the same file under both names: nothing to do */
	bool sdir = is_dir(sdi);
	if (tino) {
		if ((rc = inode_get(v->fs, tino, &b, &xdi)))
			return rc;
		if ((rc = sticky_ok(tdi, xdi, c)))
			return rc;
		if (sdir && !is_dir(xdi))
			return -ENOTDIR;
		if (!sdir && is_dir(xdi))
			return -EISDIR;
		if (is_dir(xdi)) {
			struct dir_io io;
			struct dirctx dc;
			uint64_t n;
			dirctx_init(&io, &dc, v->fs, tino, xdi);
			if ((rc = dir_count(&io, &n)))
				return rc;
			if (n)
				return -ENOTEMPTY;
		}
	}
	if (sdir && from_dir->ino != to_dir->ino) {
		/* moving a directory rewrites its "..": needs write access to it */
		if ((rc = may(sdi, c, 2)))
			return rc;
		/* and it must not land inside itself */
		uint64_t p = to_dir->ino;
		for (unsigned depth = 0; p != WAFL_INO_ROOT; depth++) {
			if (p == sino)
				return -EINVAL;
			if (depth > 1000000)
				return -EUCLEAN;
			struct wafl_dinode *pdi;
			if ((rc = inode_get(v->fs, p, &b, &pdi)))
				return rc;
			if (!pdi->parent || pdi->parent == p)
				break;
			p = pdi->parent;
		}
		if (!tino && tdi->nlink >= WAFL_LINK_MAX)
			return -EMLINK;
	}
	if ((rc = fs_space_check(v->fs, 32)))
		return rc;
	if ((rc = room_for(a, sizeof(struct rec_rename) + flen + tlen)))
		return rc;
	struct timespec now;
	wafl_now(&now);
	struct rec_rename r = {
		.h = {OP_RENAME, 0, v->fs->volid},
		.fdir = from_dir->ino,
		.tdir = to_dir->ino,
		.t = rt(&now),
		.flen = (uint16_t)flen,
		.tlen = (uint16_t)tlen,
	};
	uint8_t rec[sizeof(r) + 2 * WAFL_NAME_MAX];
	memcpy(rec, &r, sizeof(r));
	memcpy(rec + sizeof(r), from, flen);
	memcpy(rec + sizeof(r) + flen, to, tlen);
	rc = apply_rename(v->fs, &r, from, to);
	if (!rc)
		rc = log_rec(a, rec, sizeof(r) + flen + tlen, st);
	op_end(a);
	return rc;
}

struct rd_ctx {
	wafl_readdir_fn fn;
	void *arg;
};

static int rd_cb(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
		 uint64_t cookie)
{
	struct rd_ctx *r = arg;
	struct wafl_dirent e = {name, len, ino, cookie, (enum wafl_ftype)type};
	return r->fn(r->arg, &e);
}

/* ".snapshot": ".", "..", then each snapshot that has the directory;
 * cookies follow snapshot ids, so they stay valid as snapshots come and
 * go. */
static int snapdir_readdir(struct wafl_vol *v, const struct wafl_fh *dir, uint64_t cookie,
			   wafl_readdir_fn fn, void *arg, bool *eof)
{
	struct wbuf *b;
	struct wafl_dinode *pdi;
	int rc = snapdir_parent(v, dir, &b, &pdi);
	if (rc)
		return rc;
	*eof = false;
	if (cookie == 0) {
		struct wafl_dirent e = {".", 1, snapdir_fileid(dir->ino), 1, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	if (cookie <= 1) {
		struct wafl_dirent e = {"..", 2, dir->ino, 2, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	struct wafl_fs *fs = v->fs;
	for (unsigned i = 0; i < fs->nsnaps; i++) {
		struct wafl_snap *s = fs->snaps[i];
		uint64_t ck = 2ull + s->snapid;
		if (ck <= cookie)
			continue;
		struct wafl_fs *img;
		struct wafl_dinode *di;
		rc = snapdir_entry(v, s, dir->ino, dir->gen, &img, &di);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		struct wafl_dirent e = {s->name, strlen(s->name), dir->ino, ck, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	*eof = true;
	op_end(v->aggr);
	return 0;
}

int wafl_readdir(struct wafl_vol *v, const struct wafl_cred *c, const struct wafl_fh *dir,
		 uint64_t cookie, wafl_readdir_fn fn, void *arg, bool *eof)
{
	int rc = vol_usable(v, false);
	if (rc)
		return rc;
	struct wbuf *b;
	struct wafl_dinode *ddi;
	struct wafl_fs *fs;
	if (is_snapdir(dir))
		return snapdir_readdir(v, dir, cookie, fn, arg, eof);
	if ((rc = fh_resolve(v, dir, &fs, &b, &ddi)))
		return rc;
	if (!is_dir(ddi))
		return -ENOTDIR;
	if ((rc = may(ddi, c, 4)))
		return rc;
	*eof = false;
	if (cookie == 0) {
		struct wafl_dirent e = {".", 1, dir->ino, 1, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	if (cookie <= 1) {
		uint64_t p = ddi->parent ? ddi->parent : dir->ino;
		struct wafl_dirent e = {"..", 2, p, 2, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	if (cookie <= 2 && !dir->snapid && (v->fs->fsi.sflags & WAFL_FSF_SNAPDIR_VISIBLE)) {
		struct wafl_dirent e = {WAFL_SNAPDIR_NAME, sizeof(WAFL_SNAPDIR_NAME) - 1,
					snapdir_fileid(dir->ino), 3, WAFL_FT_DIR};
		if (fn(arg, &e))
			return 0;
	}
	struct dir_io io;
	struct dirctx dc;
	dirctx_init(&io, &dc, fs, dir->ino, ddi);
	struct rd_ctx r = {fn, arg};
	rc = dir_iterate(&io, cookie < 2 ? 2 : cookie, rd_cb, &r, eof);
	op_end(v->aggr);
	return rc;
}

int wafl_fsstat(struct wafl_vol *v, struct wafl_fsstat *out)
{
	struct wafl_fs *fs = v->fs;
	uint64_t total = fs->type == WAFL_FST_FLEX ? fs->limit_blocks : fs->fsi.space_blocks;
	uint64_t avail = fs_avail_blocks(fs);
	/* "used" is the active file system; what snapshots alone hold is
	 * not free either */
	uint64_t used = fs->fsi.used_blocks + fs->sum_only;
	uint64_t free_blocks = total > used ? total - used : 0;
	if (avail > free_blocks)
		avail = free_blocks;
	out->total_bytes = total * WAFL_BS;
	out->free_bytes = free_blocks * WAFL_BS;
	out->avail_bytes = avail * WAFL_BS;
	out->total_files = inode_max(fs);
	uint64_t iu = fs->fsi.inodes_used + WAFL_INO_FIRST;
	out->free_files = out->total_files > iu ? out->total_files - iu : 0;
	out->avail_files = out->free_files;
	return 0;
}

int wafl_commit(struct wafl_vol *v, const struct wafl_fh *fh, struct wafl_stab *st)
{
	struct wafl_aggr *a = v->aggr;
	memset(st, 0, sizeof(*st));
	if (fh) {
		struct wbuf *b;
		struct wafl_dinode *di;
		int rc = fh_inode(v, fh, &b, &di);
		if (rc)
			return rc;
	}
	if (v->unstable_cp <= a->cp_durable)
		return 0;
	if (v->unstable_cp >= a->cp_next)
		cp_request(a);
	st->cp = v->unstable_cp;
	return 0;
}

/* ---- volume administration records ----------------------------------- */

int ops_log_vol(struct wafl_aggr *a, int op, uint32_t volid, const char *name, uint64_t container,
		uint64_t size_bytes, uint32_t guarantee, uint64_t fsid, uint32_t state,
		const struct timespec *t, struct wafl_stab *st)
{
	static const int ops[] = {OP_VOLCREATE, OP_VOLDESTROY, OP_VOLRESIZE, OP_VOLSTATE};
	struct rec_vol r = {
		.h = {(uint16_t)ops[op], 0, 0},
		.volid = volid,
		.guarantee = guarantee,
		.container = container,
		.size_bytes = size_bytes,
		.fsid = fsid,
		.state = state,
	};
	if (t)
		r.t = rt(t);
	if (name)
		snprintf(r.name, sizeof(r.name), "%s", name);
	memset(st, 0, sizeof(*st));
	return log_rec(a, &r, sizeof(r), st);
}

int ops_vol_room(struct wafl_aggr *a)
{
	return room_for(a, sizeof(struct rec_vol));
}

/* ---- formatting a new instance ---------------------------------------- */

static int meta_inode(struct wafl_fs *fs, uint64_t ino, uint32_t mode, const struct timespec *now,
		      struct wafl_dinode **out)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, ino, &b, &di);
	if (rc)
		return rc;
	memset(di, 0, sizeof(*di));
	di->mode = mode;
	di->nlink = S_ISDIR(mode) ? 2 : 1;
	di->gen = 1;
	di->atime_sec = di->mtime_sec = di->ctime_sec = di->crtime_sec = now->tv_sec;
	di->atime_nsec = di->mtime_nsec = di->ctime_nsec = di->crtime_nsec = (uint32_t)now->tv_nsec;
	*out = di;
	return 0;
}

int fs_format(struct wafl_fs *fs, bool with_root, const struct timespec *now)
{
	static const uint64_t files[] = {WAFL_INO_ACTIVEMAP, WAFL_INO_SUMMARY};
	struct wafl_dinode *di;
	int rc;
	fs->fsi.inofile.mode = S_IFREG | 0600;
	fs->fsi.inofile.iflags = WAFL_IF_META;
	fs->fsi.inofile.nlink = 1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((rc = meta_inode(fs, files[i], S_IFREG | 0600, now, &di)))
			return rc;
		di->iflags = WAFL_IF_META;
	}
	if (fs->type == WAFL_FST_AGGR) {
		if ((rc = meta_inode(fs, WAFL_INO_VOLTAB, S_IFREG | 0600, now, &di)))
			return rc;
		di->iflags = WAFL_IF_META;
	}
	struct dir_io io;
	struct dirctx dc;
	if ((rc = meta_inode(fs, WAFL_INO_MIRLOG, S_IFDIR | 0700, now, &di)))
		return rc;
	di->iflags = WAFL_IF_META;
	di->parent = WAFL_INO_MIRLOG;
	dirctx_init(&io, &dc, fs, WAFL_INO_MIRLOG, di);
	if ((rc = dir_init(&io)))
		return rc;
	if (!with_root)
		return 0;
	if ((rc = meta_inode(fs, WAFL_INO_ROOT, S_IFDIR | 0755, now, &di)))
		return rc;
	di->parent = WAFL_INO_ROOT;
	dirctx_init(&io, &dc, fs, WAFL_INO_ROOT, di);
	return dir_init(&io);
}
