/*
 * nfs3.c - the 22 procedures of NFS version 3 (RFC 1813) over wafl/.
 *
 * Each procedure: decode the arguments, turn the handle into (export,
 * volume, wafl handle) — a forged or altered handle is BADHANDLE, one for
 * a vanished file STALE, before anything is touched — check the export's
 * rules for this client (ro, squashing, secure), call wafl/, and answer.
 * A reply that promises stability (metadata operations, DATA_SYNC and
 * FILE_SYNC writes, COMMIT) is sent only once wafl/ says the change is
 * durable; until then the call is parked, not the loop.
 *
 * When wafl/ is out of log or cache room (-EAGAIN, a CP is draining it),
 * the call is re-run from the start once the CP makes progress: procedures
 * change nothing before they can finish.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs/nfs_int.h"
#include "nfs/proto/nfs3.h"

#define RTMAX  (1u << 20)
#define WTMAX  (1u << 20)
#define DTPREF (64u << 10)
/* A UDP reply must fit one datagram (64 KiB, headers included): over UDP
 * the server offers, and caps READ and READDIR at, 32 KiB as Linux does. */
#define UDP_IOMAX (32u << 10)

static bool via_udp(const struct rpc_call *c)
{
	return !c->conn && c->udp_fd >= 0;
}

static uint32_t io_max(const struct rpc_call *c)
{
	return via_udp(c) ? UDP_IOMAX : RTMAX;
}

/* What a call carries from decode to (possibly delayed) reply. */
struct op {
	struct rpc_call *c;
	struct nfs_export *ex;
	const struct export_rule *rule;
	struct wafl_cred cred;
	const struct wafl_cred *credp; /* NULL never: squashing always applies */
	xdrproc_t res_proc;
	void *res;
	void (*cleanup)(struct op *o);
	uint8_t fh[2][FH_BYTES]; /* handles the reply points at */
	void *mem;		 /* freed after the reply */
};

static nfsstat3 errno_to_nfs(int e)
{
	switch (-e) {
	case 0:
		return NFS3_OK;
	case EPERM:
		return NFS3ERR_PERM;
	case ENOENT:
		return NFS3ERR_NOENT;
	case EIO:
		return NFS3ERR_IO;
	case EUCLEAN:
		return NFS3ERR_IO;
	case ENXIO:
		return NFS3ERR_NXIO;
	case EACCES:
		return NFS3ERR_ACCES;
	case EEXIST:
		return NFS3ERR_EXIST;
	case EXDEV:
		return NFS3ERR_XDEV;
	case ENODEV:
		return NFS3ERR_NODEV;
	case ENOTDIR:
		return NFS3ERR_NOTDIR;
	case EISDIR:
		return NFS3ERR_ISDIR;
	case EINVAL:
		return NFS3ERR_INVAL;
	case EFBIG:
		return NFS3ERR_FBIG;
	case ENOSPC:
		return NFS3ERR_NOSPC;
	case EROFS:
		return NFS3ERR_ROFS;
	case EMLINK:
		return NFS3ERR_MLINK;
	case ENAMETOOLONG:
		return NFS3ERR_NAMETOOLONG;
	case ENOTEMPTY:
		return NFS3ERR_NOTEMPTY;
	case EDQUOT:
		return NFS3ERR_DQUOT;
	case ESTALE:
		return NFS3ERR_STALE;
	case EBADMSG:
		return NFS3ERR_BADHANDLE;
	case EPROTO:
		return NFS3ERR_NOT_SYNC;
	case EOPNOTSUPP:
		return NFS3ERR_NOTSUPP;
	case EAGAIN:
		return NFS3ERR_JUKEBOX;
	default:
		return NFS3ERR_SERVERFAULT;
	}
}

static void fill_fattr(const struct wafl_attr *a, fattr3 *f)
{
	static const ftype3 types[] = {
		[WAFL_FT_REG] = NF3REG,	  [WAFL_FT_DIR] = NF3DIR, [WAFL_FT_BLK] = NF3BLK,
		[WAFL_FT_CHR] = NF3CHR,	  [WAFL_FT_LNK] = NF3LNK, [WAFL_FT_SOCK] = NF3SOCK,
		[WAFL_FT_FIFO] = NF3FIFO,
	};
	f->type = a->type <= WAFL_FT_FIFO ? types[a->type] : NF3REG;
	f->mode = a->mode;
	f->nlink = a->nlink;
	f->uid = a->uid;
	f->gid = a->gid;
	f->size = a->size;
	f->used = a->used_bytes;
	f->rdev.specdata1 = a->rdev_major;
	f->rdev.specdata2 = a->rdev_minor;
	f->fsid = a->fsid;
	f->fileid = a->ino;
	f->atime.seconds = (uint32_t)a->atime.tv_sec;
	f->atime.nseconds = (uint32_t)a->atime.tv_nsec;
	f->mtime.seconds = (uint32_t)a->mtime.tv_sec;
	f->mtime.nseconds = (uint32_t)a->mtime.tv_nsec;
	f->ctime.seconds = (uint32_t)a->ctime.tv_sec;
	f->ctime.nseconds = (uint32_t)a->ctime.tv_nsec;
}

static void post_attr(struct op *o, const struct wafl_fh *fh, post_op_attr *p)
{
	struct wafl_attr a;
	p->attributes_follow = fh && wafl_getattr(o->ex->vol, fh, &a) == 0;
	if (p->attributes_follow)
		fill_fattr(&a, &p->post_op_attr_u.attributes);
}

static void pre_attr(struct op *o, const struct wafl_fh *fh, pre_op_attr *p)
{
	struct wafl_attr a;
	p->attributes_follow = fh && wafl_getattr(o->ex->vol, fh, &a) == 0;
	if (p->attributes_follow) {
		wcc_attr *w = &p->pre_op_attr_u.attributes;
		w->size = a.size;
		w->mtime.seconds = (uint32_t)a.mtime.tv_sec;
		w->mtime.nseconds = (uint32_t)a.mtime.tv_nsec;
		w->ctime.seconds = (uint32_t)a.ctime.tv_sec;
		w->ctime.nseconds = (uint32_t)a.ctime.tv_nsec;
	}
}

static void set_fh(struct op *o, int slot, const struct wafl_fh *fh, nfs_fh3 *out)
{
	fh_make(o->c->srv, o->ex->id, fh, o->fh[slot]);
	out->data.data_len = FH_BYTES;
	out->data.data_val = (char *)o->fh[slot];
}

static struct op *op_new(struct rpc_call *c, size_t res_size)
{
	struct op *o = calloc(1, sizeof(*o) + res_size);
	if (!o) {
		rpc_reply_accept_err(c, SYSTEM_ERR, 0, 0);
		return NULL;
	}
	o->c = c;
	o->res = o + 1;
	return o;
}

static void op_free(struct op *o)
{
	if (o->cleanup)
		o->cleanup(o);
	free(o->mem);
	free(o);
}

static void op_send(void *arg)
{
	struct op *o = arg;
	rpc_reply(o->c, o->res_proc, o->res);
	op_free(o);
}

/* Replies now, or once *st is durable. */
static void op_finish(struct op *o, const struct wafl_stab *st)
{
	if (st && (st->log_seq || st->cp))
		wafl_when_durable(wafl_vol_aggr(o->ex->vol), st, op_send, o);
	else
		op_send(o);
}

/* Decoded arguments live in the op's tail, after the result. */
typedef void (*proc_fn)(struct rpc_call *c);

struct retry {
	struct rpc_call *c;
	proc_fn fn;
};

static void retry_cb(void *arg)
{
	struct retry *r = arg;
	struct rpc_call *c = r->c;
	proc_fn fn = r->fn;
	free(r);
	fn(c);
}

/* wafl/ is out of room until its CP finishes: run the call again then. */
static void op_retry(struct op *o, proc_fn fn)
{
	struct rpc_call *c = o->c;
	struct wafl_aggr *a = wafl_vol_aggr(o->ex->vol);
	if (c->args_proc && c->args_obj)
		xdr_free(c->args_proc, (char *)c->args_obj);
	c->args_proc = NULL;
	c->args_obj = NULL;
	o->c = NULL;
	op_free(o);
	struct retry *r = malloc(sizeof(*r));
	if (!r) {
		rpc_reply_accept_err(c, SYSTEM_ERR, 0, 0);
		return;
	}
	r->c = c;
	r->fn = fn;
	wafl_on_progress(a, retry_cb, r);
}

/* Handle -> export, volume, wafl handle, and who the client is there. */
static nfsstat3 resolve(struct op *o, const nfs_fh3 *h, struct wafl_fh *fh, bool write)
{
	struct nfs_export *ex;
	int rc = fh_parse(o->c->srv, (const uint8_t *)h->data.data_val, h->data.data_len, &ex, fh);
	if (rc)
		return errno_to_nfs(rc);
	const struct export_rule *r = export_match(ex, &o->c->peer);
	if (!r)
		return NFS3ERR_ACCES;
	if (r->secure && rpc_peer_port(o->c) >= 1024)
		return NFS3ERR_ACCES;
	if (o->ex && o->ex != ex)
		return NFS3ERR_XDEV; /* two handles, two exports */
	o->ex = ex;
	o->rule = r;
	export_cred(r, &o->c->cred, &o->cred);
	o->credp = &o->cred;
	if (write && !r->rw)
		return NFS3ERR_ROFS;
	return NFS3_OK;
}

/*
 * ".." never leads above the export root (DESIGN §9.9). An export is a
 * volume's root, whose ".." wafl/ answers with the root itself. A
 * snapshot's root is another matter: the client reached it as
 * ".snapshot/NAME" of the export root, while wafl/ (for which it is a
 * root) again answers itself. Its ".." is the ".snapshot" it was found
 * in, whose own ".." is the export root, as the client's path says.
 * (".snapshot/NAME" of a subdirectory D is D as the snapshot had it: its
 * ".." is D's parent in the snapshot, inside the export.)
 */
static bool snap_root(struct op *o, const struct wafl_fh *dir, struct wafl_fh *root)
{
	return dir->snapid != 0 && dir->snapid != WAFL_SNAPID_DIR &&
	       wafl_root(o->ex->vol, root) == 0 && dir->ino == root->ino;
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

static int lookup_confined(struct op *o, const struct wafl_cred *c, const struct wafl_fh *dir,
			   const char *name, struct wafl_fh *out, struct wafl_attr *a)
{
	struct wafl_fh root;
	int rc = wafl_lookup(o->ex->vol, c, dir, name, out, a); /* checks dir and c */
	if (rc == 0 && is_dotdot(name, strlen(name)) && snap_root(o, dir, &root))
		rc = wafl_lookup(o->ex->vol, NULL, &root, WAFL_SNAPDIR_NAME, out, a);
	return rc;
}

static void sattr_from(const sattr3 *s, struct wafl_sattr *w)
{
	memset(w, 0, sizeof(*w));
	if (s->mode.set_it) {
		w->mask |= WAFL_SA_MODE;
		w->mode = s->mode.set_mode3_u.mode & 07777;
	}
	if (s->uid.set_it) {
		w->mask |= WAFL_SA_UID;
		w->uid = s->uid.set_uid3_u.uid;
	}
	if (s->gid.set_it) {
		w->mask |= WAFL_SA_GID;
		w->gid = s->gid.set_gid3_u.gid;
	}
	if (s->size.set_it) {
		w->mask |= WAFL_SA_SIZE;
		w->size = s->size.set_size3_u.size;
	}
	if (s->atime.set_it == SET_TO_SERVER_TIME) {
		w->mask |= WAFL_SA_ATIME_NOW;
	} else if (s->atime.set_it == SET_TO_CLIENT_TIME) {
		w->mask |= WAFL_SA_ATIME;
		w->atime.tv_sec = s->atime.set_atime_u.atime.seconds;
		w->atime.tv_nsec = s->atime.set_atime_u.atime.nseconds;
	}
	if (s->mtime.set_it == SET_TO_SERVER_TIME) {
		w->mask |= WAFL_SA_MTIME_NOW;
	} else if (s->mtime.set_it == SET_TO_CLIENT_TIME) {
		w->mask |= WAFL_SA_MTIME;
		w->mtime.tv_sec = s->mtime.set_mtime_u.mtime.seconds;
		w->mtime.tv_nsec = s->mtime.set_mtime_u.mtime.nseconds;
	}
}

/* A client-supplied nanosecond count must be below a second. */
static bool sattr_ok(const sattr3 *s)
{
	if (s->atime.set_it == SET_TO_CLIENT_TIME &&
	    s->atime.set_atime_u.atime.nseconds >= 1000000000u)
		return false;
	if (s->mtime.set_it == SET_TO_CLIENT_TIME &&
	    s->mtime.set_mtime_u.mtime.nseconds >= 1000000000u)
		return false;
	return true;
}

/* ---- the procedures ---------------------------------------------------- */

static void p_null(struct rpc_call *c)
{
	rpc_reply(c, NULL, NULL);
}

#define OP_BEGIN_X(argtype, restype, decoder)                                                      \
	struct {                                                                                   \
		restype res;                                                                       \
		argtype args;                                                                      \
	} * m;                                                                                     \
	struct op *o = op_new(c, sizeof(*m));                                                      \
	if (!o)                                                                                    \
		return;                                                                            \
	m = o->res;                                                                                \
	o->res_proc = (xdrproc_t)xdr_##restype;                                                    \
	if (!rpc_decode(c, (xdrproc_t)decoder, &m->args)) {                                        \
		free(o);                                                                           \
		return;                                                                            \
	}                                                                                          \
	restype *res = &m->res;                                                                    \
	argtype *args = &m->args;                                                                  \
	(void)args

#define OP_BEGIN(argtype, restype) OP_BEGIN_X(argtype, restype, xdr_##argtype)

static void p_getattr(struct rpc_call *c)
{
	OP_BEGIN(GETATTR3args, GETATTR3res);
	struct wafl_fh fh;
	struct wafl_attr a;
	res->status = resolve(o, &args->object, &fh, false);
	if (res->status == NFS3_OK)
		res->status = errno_to_nfs(wafl_getattr(o->ex->vol, &fh, &a));
	if (res->status == NFS3_OK)
		fill_fattr(&a, &res->GETATTR3res_u.resok.obj_attributes);
	op_finish(o, NULL);
}

static void p_setattr(struct rpc_call *c)
{
	OP_BEGIN(SETATTR3args, SETATTR3res);
	struct wafl_fh fh;
	struct wafl_stab st = {0};
	wcc_data *wcc = &res->SETATTR3res_u.resok.obj_wcc;
	res->status = resolve(o, &args->object, &fh, true);
	if (res->status == NFS3_OK && !sattr_ok(&args->new_attributes))
		res->status = NFS3ERR_INVAL;
	if (res->status == NFS3_OK) {
		pre_attr(o, &fh, &wcc->before);
		struct wafl_sattr sa;
		sattr_from(&args->new_attributes, &sa);
		if (args->guard.check) {
			sa.mask |= WAFL_SA_CTIME_GUARD;
			sa.guard_ctime.tv_sec = args->guard.sattrguard3_u.obj_ctime.seconds;
			sa.guard_ctime.tv_nsec = args->guard.sattrguard3_u.obj_ctime.nseconds;
		}
		struct wafl_attr a;
		int rc = wafl_setattr(o->ex->vol, o->credp, &fh, &sa, &a, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_setattr);
		res->status = errno_to_nfs(rc);
		post_attr(o, &fh, &wcc->after);
	}
	op_finish(o, &st);
}

static void p_lookup(struct rpc_call *c)
{
	OP_BEGIN(LOOKUP3args, LOOKUP3res);
	struct wafl_fh dir, fh;
	struct wafl_attr a;
	res->status = resolve(o, &args->what.dir, &dir, false);
	if (res->status == NFS3_OK) {
		res->status =
			errno_to_nfs(lookup_confined(o, o->credp, &dir, args->what.name, &fh, &a));
		if (res->status == NFS3_OK) {
			LOOKUP3resok *ok = &res->LOOKUP3res_u.resok;
			set_fh(o, 0, &fh, &ok->object);
			ok->obj_attributes.attributes_follow = TRUE;
			fill_fattr(&a, &ok->obj_attributes.post_op_attr_u.attributes);
			post_attr(o, &dir, &ok->dir_attributes);
		} else {
			post_attr(o, &dir, &res->LOOKUP3res_u.resfail.dir_attributes);
		}
	}
	op_finish(o, NULL);
}

static void p_access(struct rpc_call *c)
{
	OP_BEGIN(ACCESS3args, ACCESS3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->object, &fh, false);
	if (res->status == NFS3_OK) {
		struct wafl_attr a;
		unsigned granted = 0;
		int rc = wafl_getattr(o->ex->vol, &fh, &a);
		if (!rc)
			rc = wafl_access(o->ex->vol, o->credp, &fh, 7, &granted);
		res->status = errno_to_nfs(rc);
		if (!rc) {
			ACCESS3resok *ok = &res->ACCESS3res_u.resok;
			uint32_t want = args->access, got = 0;
			bool dir = a.type == WAFL_FT_DIR;
			if (granted & 4)
				got |= ACCESS3_READ;
			if (granted & 2)
				got |= ACCESS3_MODIFY | ACCESS3_EXTEND | (dir ? ACCESS3_DELETE : 0);
			if (granted & 1)
				got |= dir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
			if (!o->rule->rw)
				got &= ~(uint32_t)(ACCESS3_MODIFY | ACCESS3_EXTEND |
						   ACCESS3_DELETE);
			ok->access = want & got;
			ok->obj_attributes.attributes_follow = TRUE;
			fill_fattr(&a, &ok->obj_attributes.post_op_attr_u.attributes);
		}
	}
	op_finish(o, NULL);
}

static void p_readlink(struct rpc_call *c)
{
	OP_BEGIN(READLINK3args, READLINK3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->symlink, &fh, false);
	if (res->status == NFS3_OK) {
		o->mem = malloc(WAFL_PATH_MAX + 1);
		size_t len = 0;
		int rc = o->mem ? wafl_readlink(o->ex->vol, o->credp, &fh, o->mem,
						WAFL_PATH_MAX + 1, &len)
				: -ENOMEM;
		res->status = errno_to_nfs(rc);
		if (!rc) {
			((char *)o->mem)[len] = 0;
			res->READLINK3res_u.resok.data = o->mem;
			post_attr(o, &fh, &res->READLINK3res_u.resok.symlink_attributes);
		} else {
			post_attr(o, &fh, &res->READLINK3res_u.resfail.symlink_attributes);
		}
	}
	op_finish(o, NULL);
}

/* READ builds its reply in place: the data goes from the cache straight
 * into the buffer that is sent (rpc_reply_alloc), not through the XDR
 * encoder. Body layout: status, post_op_attr (4 + 84 bytes), count, eof,
 * data length, data, padding. */
#define READ_FIXED (4 + 4 + 84 + 4 + 4 + 4)

static void p_read(struct rpc_call *c)
{
	OP_BEGIN(READ3args, READ3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->file, &fh, false);
	if (res->status == NFS3_OK) {
		uint32_t count = args->count < io_max(c) ? args->count : io_max(c);
		uint8_t *buf = rpc_reply_alloc(c, READ_FIXED + count + 4);
		uint8_t *data = buf ? buf + RPC_REPLY_BODY + READ_FIXED : NULL;
		uint32_t got = 0;
		bool eof = false;
		int rc = buf ? wafl_read(o->ex->vol, o->credp, &fh, args->offset, count, data, &got,
					 &eof)
			     : -ENOMEM;
		if (!rc) {
			post_op_attr pa;
			post_attr(o, &fh, &pa);
			nfsstat3 st = NFS3_OK;
			bool_t e = eof;
			XDR x;
			xdrmem_create(&x, (char *)buf + RPC_REPLY_BODY, READ_FIXED, XDR_ENCODE);
			bool ok = xdr_nfsstat3(&x, &st) && xdr_post_op_attr(&x, &pa) &&
				  xdr_u_int(&x, &got) && xdr_bool(&x, &e) && xdr_u_int(&x, &got);
			size_t hdr = xdr_getpos(&x);
			xdr_destroy(&x);
			if (ok) {
				if (hdr < READ_FIXED) /* no attributes: close the gap */
					memmove(buf + RPC_REPLY_BODY + hdr, data, got);
				size_t pad = (4 - got % 4) % 4;
				memset(buf + RPC_REPLY_BODY + hdr + got, 0, pad);
				c->srv->xfer.bytes_read += got;
				rpc_reply_send(c, buf, hdr + got + pad);
				op_free(o);
				return;
			}
			rc = -EIO;
		}
		free(buf);
		res->status = errno_to_nfs(rc);
		post_attr(o, &fh, &res->READ3res_u.resfail.file_attributes);
	}
	op_finish(o, NULL);
}

/* WRITE's data is not copied out of the record: data_val points into it
 * (xdr_inline), and freeing the arguments frees only the handle. */
static bool_t xdr_write3args_inplace(XDR *x, WRITE3args *a)
{
	if (!xdr_nfs_fh3(x, &a->file) || !xdr_offset3(x, &a->offset) || !xdr_count3(x, &a->count) ||
	    !xdr_stable_how(x, &a->stable))
		return FALSE;
	if (x->x_op == XDR_FREE)
		return TRUE;
	if (x->x_op != XDR_DECODE)
		return FALSE;
	u_int len;
	if (!xdr_u_int(x, &len) || len > FILER_DATA_XDR_MAX)
		return FALSE;
	char *p = len ? (char *)xdr_inline(x, (int)((len + 3) & ~3u)) : NULL;
	if (len && !p)
		return FALSE;
	a->data.data_len = len;
	a->data.data_val = p;
	return TRUE;
}

static void p_write(struct rpc_call *c)
{
	OP_BEGIN_X(WRITE3args, WRITE3res, xdr_write3args_inplace);
	struct wafl_fh fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->file, &fh, true);
	if (res->status == NFS3_OK && (args->count > args->data.data_len || args->count > WTMAX))
		res->status = NFS3ERR_INVAL;
	if (res->status == NFS3_OK) {
		WRITE3resok *ok = &res->WRITE3res_u.resok;
		pre_attr(o, &fh, &ok->file_wcc.before);
		enum wafl_stable how = args->stable == UNSTABLE	   ? WAFL_UNSTABLE
				       : args->stable == DATA_SYNC ? WAFL_DATA_SYNC
								   : WAFL_FILE_SYNC;
		struct wafl_attr a;
		int rc = wafl_write(o->ex->vol, o->credp, &fh, args->offset, args->count,
				    args->data.data_val, how, &a, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_write);
		res->status = errno_to_nfs(rc);
		if (!rc) {
			ok->count = args->count;
			ok->committed = how == WAFL_UNSTABLE ? UNSTABLE : FILE_SYNC;
			memcpy(ok->verf, &c->srv->cfg.boot_verifier, NFS3_WRITEVERFSIZE);
			ok->file_wcc.after.attributes_follow = TRUE;
			fill_fattr(&a, &ok->file_wcc.after.post_op_attr_u.attributes);
			c->srv->xfer.bytes_written += args->count;
		} else {
			res->WRITE3res_u.resfail.file_wcc.before = ok->file_wcc.before;
			post_attr(o, &fh, &res->WRITE3res_u.resfail.file_wcc.after);
		}
	}
	op_finish(o, &st);
}

/* The common tail of CREATE, MKDIR, SYMLINK, MKNOD: they all answer
 * (post_op_fh3, post_op_attr, wcc_data) on success and wcc_data on
 * failure, at the same places in their unions. */
struct create_res {
	nfsstat3 status;
	union {
		struct {
			post_op_fh3 obj;
			post_op_attr obj_attributes;
			wcc_data dir_wcc;
		} ok;
		struct {
			wcc_data dir_wcc;
		} fail;
	} u;
};
_Static_assert(sizeof(struct create_res) == sizeof(CREATE3res), "CREATE3res layout");
_Static_assert(sizeof(struct create_res) == sizeof(MKDIR3res), "MKDIR3res layout");

static void create_tail(struct op *o, struct create_res *r, int rc, const struct wafl_fh *dir,
			const struct wafl_fh *fh, const struct wafl_attr *a, pre_op_attr *before)
{
	r->status = errno_to_nfs(rc);
	if (!rc) {
		r->u.ok.obj.handle_follows = TRUE;
		set_fh(o, 0, fh, &r->u.ok.obj.post_op_fh3_u.handle);
		r->u.ok.obj_attributes.attributes_follow = TRUE;
		fill_fattr(a, &r->u.ok.obj_attributes.post_op_attr_u.attributes);
		r->u.ok.dir_wcc.before = *before;
		post_attr(o, dir, &r->u.ok.dir_wcc.after);
	} else {
		r->u.fail.dir_wcc.before = *before;
		post_attr(o, dir, &r->u.fail.dir_wcc.after);
	}
}

static void p_create(struct rpc_call *c)
{
	OP_BEGIN(CREATE3args, CREATE3res);
	struct wafl_fh dir, fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->where.dir, &dir, true);
	createhow3 *how = &args->how;
	if (res->status == NFS3_OK && how->mode != EXCLUSIVE &&
	    !sattr_ok(&how->createhow3_u.obj_attributes))
		res->status = NFS3ERR_INVAL;
	if (res->status == NFS3_OK) {
		pre_op_attr before;
		pre_attr(o, &dir, &before);
		struct wafl_sattr sa = {0};
		uint64_t verf = 0;
		enum wafl_how wh = WAFL_UNCHECKED;
		if (how->mode == EXCLUSIVE) {
			wh = WAFL_EXCLUSIVE;
			memcpy(&verf, how->createhow3_u.verf, sizeof(verf));
		} else {
			wh = how->mode == GUARDED ? WAFL_GUARDED : WAFL_UNCHECKED;
			sattr_from(&how->createhow3_u.obj_attributes, &sa);
		}
		struct wafl_attr a;
		int rc = wafl_create(o->ex->vol, o->credp, &dir, args->where.name, wh, &sa, verf,
				     &fh, &a, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_create);
		create_tail(o, (struct create_res *)res, rc, &dir, &fh, &a, &before);
	}
	op_finish(o, &st);
}

static void p_mkdir(struct rpc_call *c)
{
	OP_BEGIN(MKDIR3args, MKDIR3res);
	struct wafl_fh dir, fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->where.dir, &dir, true);
	if (res->status == NFS3_OK && !sattr_ok(&args->attributes))
		res->status = NFS3ERR_INVAL;
	if (res->status == NFS3_OK) {
		pre_op_attr before;
		pre_attr(o, &dir, &before);
		struct wafl_sattr sa;
		sattr_from(&args->attributes, &sa);
		struct wafl_attr a;
		int rc =
			wafl_mkdir(o->ex->vol, o->credp, &dir, args->where.name, &sa, &fh, &a, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_mkdir);
		create_tail(o, (struct create_res *)res, rc, &dir, &fh, &a, &before);
	}
	op_finish(o, &st);
}

static void p_symlink(struct rpc_call *c)
{
	OP_BEGIN(SYMLINK3args, SYMLINK3res);
	struct wafl_fh dir, fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->where.dir, &dir, true);
	if (res->status == NFS3_OK && !sattr_ok(&args->symlink.symlink_attributes))
		res->status = NFS3ERR_INVAL;
	if (res->status == NFS3_OK) {
		pre_op_attr before;
		pre_attr(o, &dir, &before);
		struct wafl_sattr sa;
		sattr_from(&args->symlink.symlink_attributes, &sa);
		struct wafl_attr a;
		int rc = wafl_symlink(o->ex->vol, o->credp, &dir, args->where.name,
				      args->symlink.symlink_data, &sa, &fh, &a, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_symlink);
		create_tail(o, (struct create_res *)res, rc, &dir, &fh, &a, &before);
	}
	op_finish(o, &st);
}

static void p_mknod(struct rpc_call *c)
{
	OP_BEGIN(MKNOD3args, MKNOD3res);
	struct wafl_fh dir, fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->where.dir, &dir, true);
	if (res->status == NFS3_OK) {
		pre_op_attr before;
		pre_attr(o, &dir, &before);
		struct wafl_sattr sa = {0};
		enum wafl_ftype t;
		uint32_t maj = 0, min = 0;
		mknoddata3 *w = &args->what;
		int rc = 0;
		switch (w->type) {
		case NF3CHR:
		case NF3BLK:
			t = w->type == NF3CHR ? WAFL_FT_CHR : WAFL_FT_BLK;
			sattr_from(&w->mknoddata3_u.device.dev_attributes, &sa);
			maj = w->mknoddata3_u.device.spec.specdata1;
			min = w->mknoddata3_u.device.spec.specdata2;
			break;
		case NF3SOCK:
		case NF3FIFO:
			t = w->type == NF3SOCK ? WAFL_FT_SOCK : WAFL_FT_FIFO;
			sattr_from(&w->mknoddata3_u.pipe_attributes, &sa);
			break;
		default:
			t = WAFL_FT_REG;
			rc = 1;
		}
		if (rc) {
			res->status = NFS3ERR_BADTYPE;
			res->MKNOD3res_u.resfail.dir_wcc.before = before;
			post_attr(o, &dir, &res->MKNOD3res_u.resfail.dir_wcc.after);
		} else {
			struct wafl_attr a;
			rc = wafl_mknod(o->ex->vol, o->credp, &dir, args->where.name, t, maj, min,
					&sa, &fh, &a, &st);
			if (rc == -EAGAIN)
				return op_retry(o, p_mknod);
			create_tail(o, (struct create_res *)res, rc, &dir, &fh, &a, &before);
		}
	}
	op_finish(o, &st);
}

static void p_remove(struct rpc_call *c);
static void p_rmdir(struct rpc_call *c);
_Static_assert(sizeof(REMOVE3res) == sizeof(RMDIR3res), "REMOVE3res and RMDIR3res agree");

/* REMOVE and RMDIR: both answer wcc_data of the directory. */
static void remove_common(struct rpc_call *c, bool dir_op)
{
	OP_BEGIN(REMOVE3args, REMOVE3res);
	struct wafl_fh dir;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->object.dir, &dir, true);
	if (res->status == NFS3_OK) {
		wcc_data *wcc = &res->REMOVE3res_u.resok.dir_wcc;
		pre_attr(o, &dir, &wcc->before);
		int rc = dir_op ? wafl_rmdir(o->ex->vol, o->credp, &dir, args->object.name, &st)
				: wafl_remove(o->ex->vol, o->credp, &dir, args->object.name, &st);
		if (rc == -EAGAIN)
			return op_retry(o, dir_op ? p_rmdir : p_remove);
		res->status = errno_to_nfs(rc);
		post_attr(o, &dir, &wcc->after);
	}
	op_finish(o, &st);
}

static void p_remove(struct rpc_call *c)
{
	remove_common(c, false);
}

static void p_rmdir(struct rpc_call *c)
{
	remove_common(c, true);
}

static void p_rename(struct rpc_call *c)
{
	OP_BEGIN(RENAME3args, RENAME3res);
	struct wafl_fh from, to;
	struct wafl_stab st = {0};
	RENAME3resok *ok = &res->RENAME3res_u.resok;
	res->status = resolve(o, &args->from.dir, &from, true);
	if (res->status == NFS3_OK)
		res->status = resolve(o, &args->to.dir, &to, true);
	if (res->status == NFS3_OK) {
		pre_attr(o, &from, &ok->fromdir_wcc.before);
		pre_attr(o, &to, &ok->todir_wcc.before);
		int rc = wafl_rename(o->ex->vol, o->credp, &from, args->from.name, &to,
				     args->to.name, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_rename);
		res->status = errno_to_nfs(rc);
		post_attr(o, &from, &ok->fromdir_wcc.after);
		post_attr(o, &to, &ok->todir_wcc.after);
	}
	op_finish(o, &st);
}

static void p_link(struct rpc_call *c)
{
	OP_BEGIN(LINK3args, LINK3res);
	struct wafl_fh fh, dir;
	struct wafl_stab st = {0};
	LINK3resok *ok = &res->LINK3res_u.resok;
	res->status = resolve(o, &args->file, &fh, true);
	if (res->status == NFS3_OK)
		res->status = resolve(o, &args->link.dir, &dir, true);
	if (res->status == NFS3_OK) {
		pre_attr(o, &dir, &ok->linkdir_wcc.before);
		int rc = wafl_link(o->ex->vol, o->credp, &fh, &dir, args->link.name, &st);
		if (rc == -EAGAIN)
			return op_retry(o, p_link);
		res->status = errno_to_nfs(rc);
		post_attr(o, &fh, &ok->file_attributes);
		post_attr(o, &dir, &ok->linkdir_wcc.after);
	}
	op_finish(o, &st);
}

/* ---- READDIR and READDIRPLUS ---------------------------------------- */

struct rd_state {
	struct op *o;
	bool plus;
	uint32_t budget;    /* bytes of entries (READDIR count / READDIRPLUS maxcount) */
	uint32_t dirbudget; /* READDIRPLUS dircount */
	uint32_t used, dirused;
	unsigned n;
	void *head, **tail; /* entry3 or entryplus3 list */
	struct wafl_fh dir;
	bool stopped;
	bool snap_root;		/* dir is a snapshot's root: ".." is the export's ".snapshot" */
	uint64_t dotdot_fileid; /* then, that ".snapshot"'s fileid */
};

struct rd_mem {
	void *next;
};

static int rd_cb(void *arg, const struct wafl_dirent *e)
{
	struct rd_state *s = arg;
	uint32_t name4 = (uint32_t)((e->namelen + 3) & ~(size_t)3);
	uint32_t dsize = 4 + 8 + 4 + name4 + 8; /* value-follows, fileid, name, cookie */
	uint32_t size = dsize + (s->plus ? 4 + 84 + 4 + 4 + FH_BYTES : 0);
	if (s->used + size + 8 > s->budget || (s->plus && s->dirused + dsize > s->dirbudget)) {
		s->stopped = true;
		return 1;
	}
	size_t esz = s->plus ? sizeof(entryplus3) : sizeof(entry3);
	uint8_t *m = calloc(1, sizeof(struct rd_mem) + esz + e->namelen + 1 + FH_BYTES);
	if (!m) {
		s->stopped = true;
		return 1;
	}
	/* every allocation is chained on o->mem, for rd_cleanup */
	struct rd_mem *rm = (struct rd_mem *)m;
	rm->next = s->o->mem;
	s->o->mem = rm;
	void *ent = m + sizeof(*rm);
	char *name = (char *)ent + esz;
	uint8_t *fhb = (uint8_t *)name + e->namelen + 1;
	memcpy(name, e->name, e->namelen);
	uint64_t fileid = e->ino;
	if (s->snap_root && is_dotdot(e->name, e->namelen))
		fileid = s->dotdot_fileid;
	if (s->plus) {
		entryplus3 *p = ent;
		p->fileid = fileid;
		p->name = name;
		p->cookie = e->cookie;
		struct wafl_fh fh;
		struct wafl_attr a;
		int rc = lookup_confined(s->o, NULL, &s->dir, name, &fh, &a);
		if (rc == 0) {
			p->name_attributes.attributes_follow = TRUE;
			fill_fattr(&a, &p->name_attributes.post_op_attr_u.attributes);
			p->name_handle.handle_follows = TRUE;
			fh_make(s->o->c->srv, s->o->ex->id, &fh, fhb);
			p->name_handle.post_op_fh3_u.handle.data.data_len = FH_BYTES;
			p->name_handle.post_op_fh3_u.handle.data.data_val = (char *)fhb;
		}
		*s->tail = p;
		s->tail = (void **)&p->nextentry;
	} else {
		entry3 *p = ent;
		p->fileid = fileid;
		p->name = name;
		p->cookie = e->cookie;
		*s->tail = p;
		s->tail = (void **)&p->nextentry;
	}
	s->used += size;
	s->dirused += dsize;
	s->n++;
	return 0;
}

static void rd_cleanup(struct op *o)
{
	struct rd_mem *m = o->mem;
	while (m) {
		struct rd_mem *n = m->next;
		free(m);
		m = n;
	}
	o->mem = NULL;
}

static void readdir_common(struct rpc_call *c, bool plus)
{
	struct {
		union {
			READDIR3res r;
			READDIRPLUS3res p;
		} res;
		union {
			READDIR3args r;
			READDIRPLUS3args p;
		} args;
	} * m;
	struct op *o = op_new(c, sizeof(*m));
	if (!o)
		return;
	m = o->res;
	o->cleanup = rd_cleanup;
	o->res_proc = plus ? (xdrproc_t)xdr_READDIRPLUS3res : (xdrproc_t)xdr_READDIR3res;
	if (!rpc_decode(c, plus ? (xdrproc_t)xdr_READDIRPLUS3args : (xdrproc_t)xdr_READDIR3args,
			&m->args)) {
		free(o);
		return;
	}
	struct rd_state s = {.o = o, .plus = plus};
	nfs_fh3 *dirh = plus ? &m->args.p.dir : &m->args.r.dir;
	uint64_t cookie = plus ? m->args.p.cookie : m->args.r.cookie;
	uint32_t count = plus ? m->args.p.maxcount : m->args.r.count;
	s.budget = count < io_max(c) ? count : io_max(c);
	s.dirbudget = plus ? m->args.p.dircount : s.budget;
	if (plus && s.dirbudget < 512)
		s.dirbudget = 512; /* some clients send tiny dircounts */
	nfsstat3 st = resolve(o, dirh, &s.dir, false);
	post_op_attr *dattr;
	struct wafl_fh root, sd;
	struct wafl_attr sda;
	if (st == NFS3_OK && snap_root(o, &s.dir, &root) &&
	    wafl_lookup(o->ex->vol, NULL, &root, WAFL_SNAPDIR_NAME, &sd, &sda) == 0) {
		s.snap_root = true;
		s.dotdot_fileid = sda.ino;
	}
	if (st == NFS3_OK) {
		/* fixed part: status, dir attributes, verifier, list end, eof */
		s.used = 4 + 88 + 8 + 4 + 4;
		if (s.used >= s.budget) {
			st = NFS3ERR_TOOSMALL;
		} else {
			s.tail = &s.head;
			bool eof = false;
			int rc =
				wafl_readdir(o->ex->vol, o->credp, &s.dir, cookie, rd_cb, &s, &eof);
			st = errno_to_nfs(rc);
			if (st == NFS3_OK && s.n == 0 && !eof)
				st = NFS3ERR_TOOSMALL;
			if (st == NFS3_OK) {
				if (plus) {
					READDIRPLUS3resok *ok = &m->res.p.READDIRPLUS3res_u.resok;
					memset(ok->cookieverf, 0, NFS3_COOKIEVERFSIZE);
					ok->reply.entries = s.head;
					ok->reply.eof = eof && !s.stopped;
				} else {
					READDIR3resok *ok = &m->res.r.READDIR3res_u.resok;
					memset(ok->cookieverf, 0, NFS3_COOKIEVERFSIZE);
					ok->reply.entries = s.head;
					ok->reply.eof = eof && !s.stopped;
				}
			}
		}
	}
	if (plus) {
		m->res.p.status = st;
		dattr = st == NFS3_OK ? &m->res.p.READDIRPLUS3res_u.resok.dir_attributes
				      : &m->res.p.READDIRPLUS3res_u.resfail.dir_attributes;
	} else {
		m->res.r.status = st;
		dattr = st == NFS3_OK ? &m->res.r.READDIR3res_u.resok.dir_attributes
				      : &m->res.r.READDIR3res_u.resfail.dir_attributes;
	}
	if (o->ex)
		post_attr(o, &s.dir, dattr);
	op_finish(o, NULL);
}

static void p_readdir(struct rpc_call *c)
{
	readdir_common(c, false);
}

static void p_readdirplus(struct rpc_call *c)
{
	readdir_common(c, true);
}

/* FSSTAT, FSINFO and PATHCONF answer for the file system, not the file,
 * but only through a handle that still names something: a removed file,
 * or any file of a deleted snapshot, is NFS3ERR_STALE (RFC 1813). */
static int handle_live(struct op *o, const struct wafl_fh *fh)
{
	struct wafl_attr a;
	return wafl_getattr(o->ex->vol, fh, &a);
}

static void p_fsstat(struct rpc_call *c)
{
	OP_BEGIN(FSSTAT3args, FSSTAT3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->fsroot, &fh, false);
	if (res->status == NFS3_OK) {
		struct wafl_fsstat fs;
		int rc = handle_live(o, &fh);
		if (!rc)
			rc = wafl_fsstat(o->ex->vol, &fs);
		res->status = errno_to_nfs(rc);
		FSSTAT3resok *ok = &res->FSSTAT3res_u.resok;
		if (!rc) {
			ok->tbytes = fs.total_bytes;
			ok->fbytes = fs.free_bytes;
			ok->abytes = fs.avail_bytes;
			ok->tfiles = fs.total_files;
			ok->ffiles = fs.free_files;
			ok->afiles = fs.avail_files;
			ok->invarsec = 0;
			post_attr(o, &fh, &ok->obj_attributes);
		} else {
			post_attr(o, &fh, &res->FSSTAT3res_u.resfail.obj_attributes);
		}
	}
	op_finish(o, NULL);
}

static void p_fsinfo(struct rpc_call *c)
{
	OP_BEGIN(FSINFO3args, FSINFO3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->fsroot, &fh, false);
	if (res->status == NFS3_OK)
		res->status = errno_to_nfs(handle_live(o, &fh));
	if (res->status == NFS3_OK) {
		FSINFO3resok *ok = &res->FSINFO3res_u.resok;
		ok->rtmax = io_max(c);
		ok->rtpref = io_max(c);
		ok->rtmult = WAFL_BLOCK_SIZE;
		ok->wtmax = via_udp(c) ? UDP_IOMAX : WTMAX;
		ok->wtpref = ok->wtmax;
		ok->wtmult = WAFL_BLOCK_SIZE;
		ok->dtpref = via_udp(c) ? UDP_IOMAX : DTPREF;
		ok->maxfilesize = WAFL_MAX_FILE_SIZE;
		ok->time_delta.seconds = 0;
		ok->time_delta.nseconds = 1; /* times are kept to the nanosecond */
		ok->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
		post_attr(o, &fh, &ok->obj_attributes);
	}
	op_finish(o, NULL);
}

static void p_pathconf(struct rpc_call *c)
{
	OP_BEGIN(PATHCONF3args, PATHCONF3res);
	struct wafl_fh fh;
	res->status = resolve(o, &args->object, &fh, false);
	if (res->status == NFS3_OK)
		res->status = errno_to_nfs(handle_live(o, &fh));
	if (res->status == NFS3_OK) {
		PATHCONF3resok *ok = &res->PATHCONF3res_u.resok;
		ok->linkmax = WAFL_LINK_MAX;
		ok->name_max = WAFL_NAME_MAX;
		ok->no_trunc = TRUE;
		ok->chown_restricted = TRUE;
		ok->case_insensitive = FALSE;
		ok->case_preserving = TRUE;
		post_attr(o, &fh, &ok->obj_attributes);
	}
	op_finish(o, NULL);
}

static void p_commit(struct rpc_call *c)
{
	OP_BEGIN(COMMIT3args, COMMIT3res);
	struct wafl_fh fh;
	struct wafl_stab st = {0};
	res->status = resolve(o, &args->file, &fh, false);
	if (res->status == NFS3_OK) {
		COMMIT3resok *ok = &res->COMMIT3res_u.resok;
		pre_attr(o, &fh, &ok->file_wcc.before);
		int rc = wafl_commit(o->ex->vol, &fh, &st);
		res->status = errno_to_nfs(rc);
		if (!rc)
			memcpy(ok->verf, &c->srv->cfg.boot_verifier, NFS3_WRITEVERFSIZE);
		post_attr(o, &fh, &ok->file_wcc.after);
		if (rc)
			res->COMMIT3res_u.resfail.file_wcc = ok->file_wcc;
	}
	op_finish(o, &st);
}

static void (*const procs[22])(struct rpc_call *) = {
	p_null,	   p_getattr,	  p_setattr, p_lookup, p_access,   p_readlink, p_read,	 p_write,
	p_create,  p_mkdir,	  p_symlink, p_mknod,  p_remove,   p_rmdir,    p_rename, p_link,
	p_readdir, p_readdirplus, p_fsstat,  p_fsinfo, p_pathconf, p_commit,
};

static const char *const names[22] = {
	"null",	   "getattr",	  "setattr", "lookup", "access",   "readlink", "read",	 "write",
	"create",  "mkdir",	  "symlink", "mknod",  "remove",   "rmdir",    "rename", "link",
	"readdir", "readdirplus", "fsstat",  "fsinfo", "pathconf", "commit",
};

/* Non-idempotent: a retransmission must get the first reply. */
static const bool cacheable[22] = {
	[2] = true,  [8] = true,  [9] = true,  [10] = true, [11] = true,
	[12] = true, [13] = true, [14] = true, [15] = true,
};

const struct rpc_program nfs3_program = {
	.prog = 100003,
	.vers_lo = 3,
	.vers_hi = 3,
	.procs = procs,
	.nprocs = 22,
	.names = names,
	.cacheable = cacheable,
};
