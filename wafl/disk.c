/*
 * disk.c - disks, block contexts, RAID groups and superblocks.
 *
 * A disk is a file (created sparse) or a block device cut into 4160-byte
 * slots: a block and its context (ondisk.h). Everything that reaches the
 * rest of wafl/ from a disk passes ctx_verify() first: a block that does
 * not verify is -EUCLEAN, logged with its address, never data.
 *
 * RAID groups are RAID-0 here. The seam for parity is raid_map() and the
 * group's level: RAID-4 and RAID-DP add parity disks to a group, a stripe
 * writer in the CP writer, and reconstruction in raid_read_slot() on a
 * context mismatch; nothing above this file needs to change.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "wafl/wafl_int.h"

int disk_open(const char *path, bool create, uint64_t size_bytes, bool rdonly,
	      struct wafl_disk **out)
{
	int flags = rdonly ? O_RDONLY : O_RDWR;
	if (create)
		flags |= O_CREAT;
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		goto err_errno;
	uint64_t bytes;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			goto err_errno;
	} else if (create && size_bytes) {
		if (ftruncate(fd, (off_t)size_bytes) < 0)
			goto err_errno;
		bytes = size_bytes;
	} else {
		bytes = (uint64_t)st.st_size;
	}
	if (bytes / WAFL_SLOT_SIZE < WAFL_SLOT_DATA0 + 16) {
		close(fd);
		return -ENOSPC;
	}
	struct wafl_disk *d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->fd = fd;
	d->path = strdup(path);
	d->dbn_count = bytes / WAFL_SLOT_SIZE - WAFL_SLOT_DATA0;
	*out = d;
	return 0;
err_errno:;
	int e = -errno;
	close(fd);
	return e;
}

void disk_close(struct wafl_disk *d)
{
	if (!d)
		return;
	close(d->fd);
	free(d->path);
	free(d);
}

int disk_read_slot(struct wafl_disk *d, uint64_t slot, uint8_t *buf)
{
	off_t off = (off_t)(slot * WAFL_SLOT_SIZE);
	size_t done = 0;
	while (done < WAFL_SLOT_SIZE) {
		ssize_t n = pread(d->fd, buf + done, WAFL_SLOT_SIZE - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		if (n == 0) {
			/* past the end of a sparse file: reads as zeros */
			memset(buf + done, 0, WAFL_SLOT_SIZE - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int disk_write_slot(struct wafl_disk *d, uint64_t slot, const uint8_t *buf)
{
	off_t off = (off_t)(slot * WAFL_SLOT_SIZE);
	size_t done = 0;
	while (done < WAFL_SLOT_SIZE) {
		ssize_t n = pwrite(d->fd, buf + done, WAFL_SLOT_SIZE - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* The checksum is computed over data[0..4095] then ctx[8..63]. To keep it
 * one pass, ctx_cksum() hashes data and the context tail separately and
 * combines them; ctx_seal and ctx_verify both use it. */
static uint64_t ctx_cksum(const uint8_t *slot)
{
	uint64_t h = wafl_cksum(slot, WAFL_BS, 0);
	return wafl_cksum(slot + WAFL_BS + 8, WAFL_CTX_SIZE - 8, h);
}

void ctx_seal(uint8_t *slot, const struct wafl_ctx *id)
{
	struct wafl_ctx c = *id;
	c.magic = WAFL_CTX_MAGIC;
	c.version = WAFL_FORMAT_VERSION;
	c.cksum = 0;
	memcpy(slot + WAFL_BS, &c, sizeof(c));
	c.cksum = ctx_cksum(slot);
	memcpy(slot + WAFL_BS, &c.cksum, 8);
}

int ctx_verify(const uint8_t *slot, const struct ctx_expect *e, char *why, size_t whylen)
{
	return ctx_verify_parts(slot, slot + WAFL_BS, e, why, whylen);
}

int ctx_verify_parts(const uint8_t *data, const uint8_t *ctx, const struct ctx_expect *e, char *why,
		     size_t whylen)
{
	struct wafl_ctx c;
	memcpy(&c, ctx, sizeof(c));
	const char *bad = NULL;
	uint64_t ck = wafl_cksum(ctx + 8, WAFL_CTX_SIZE - 8, wafl_cksum(data, WAFL_BS, 0));
	if (c.magic != WAFL_CTX_MAGIC)
		bad = "no block context (never written, or overwritten)";
	else if (c.cksum != ck)
		bad = "checksum mismatch (torn write or bit rot)";
	else if (c.pvbn != e->pvbn)
		bad = "misdirected write (context names another address)";
	else if ((c.volid != e->volid && !(e->volid2 && c.volid == e->volid2)) || c.ino != e->ino ||
		 c.level != e->level || c.fbn != e->fbn)
		bad = "context names another owner";
	else if (e->vvbn && c.vvbn != e->vvbn)
		bad = "context names another VVBN";
	else if (e->cp && (c.cp != e->cp || (uint32_t)c.cksum != e->cksum))
		bad = "lost write (older contents than the pointer promises)";
	if (!bad)
		return 0;
	if (why)
		snprintf(why, whylen, "%s", bad);
	return -EUCLEAN;
}

/* ---- RAID ----------------------------------------------------------- */

void raid_layout(struct wafl_raid *r)
{
	uint64_t base = 0;
	for (unsigned g = 0; g < r->ngroups; g++) {
		struct wafl_rgroup *rg = &r->groups[g];
		rg->base = base;
		/* RAID-0: every disk carries data; parity levels subtract theirs */
		rg->nblocks = rg->dbn_count * rg->ndisks;
		base += rg->nblocks;
	}
	r->nblocks = base;
}

int raid_map(const struct wafl_raid *r, uint64_t pvbn, struct wafl_disk **d, uint64_t *slot)
{
	for (unsigned g = 0; g < r->ngroups; g++) {
		const struct wafl_rgroup *rg = &r->groups[g];
		if (pvbn >= rg->base + rg->nblocks)
			continue;
		uint64_t v = pvbn - rg->base;
		switch (rg->level) {
		case WAFL_RAID0:
			*d = rg->disks[v % rg->ndisks];
			*slot = WAFL_SLOT_DATA0 + v / rg->ndisks;
			return 0;
		default:
			return -EINVAL;
		}
	}
	return -ERANGE;
}

int raid_read_slot(const struct wafl_raid *r, uint64_t pvbn, uint8_t *slot)
{
	struct wafl_disk *d;
	uint64_t s;
	int rc = raid_map(r, pvbn, &d, &s);
	if (rc)
		return rc;
	return disk_read_slot(d, s, slot);
}

int raid_sync(const struct wafl_raid *r)
{
	for (unsigned i = 0; i < r->ndisks; i++)
		if (fdatasync(r->disks[i]->fd) < 0)
			return -errno;
	return 0;
}

int raid_assemble(struct wafl_raid *r, const struct wafl_super *sb, struct wafl_disk **disks,
		  unsigned ndisks)
{
	memset(r, 0, sizeof(*r));
	if (sb->ngroups == 0 || sb->ngroups > WAFL_MAX_GROUPS)
		return -EUCLEAN;
	unsigned pos = 0;
	r->ngroups = sb->ngroups;
	for (unsigned g = 0; g < sb->ngroups; g++) {
		struct wafl_rgroup *rg = &r->groups[g];
		rg->level = (enum wafl_raid_level)sb->groups[g].level;
		rg->ndisks = sb->groups[g].ndisks;
		rg->dbn_count = sb->groups[g].dbn_count;
		if (rg->ndisks == 0 || pos + rg->ndisks > WAFL_MAX_DISKS)
			return -EUCLEAN;
		rg->disks = calloc(rg->ndisks, sizeof(*rg->disks));
		if (!rg->disks)
			return -ENOMEM;
		for (unsigned i = 0; i < rg->ndisks; i++, pos++) {
			struct wafl_disk *found = NULL;
			for (unsigned k = 0; k < ndisks; k++)
				if (disks[k] && !memcmp(disks[k]->uuid, sb->disks[pos], 16))
					found = disks[k];
			if (!found) {
				wafl_logf(WLOG_ERR,
					  "aggregate %s: disk %u of RAID group %u is missing",
					  sb->name, i, g);
				return -ENODEV;
			}
			if (found->dbn_count < rg->dbn_count)
				return -EUCLEAN;
			rg->disks[i] = found;
			r->disks[r->ndisks++] = found;
		}
	}
	raid_layout(r);
	return 0;
}

/* ---- superblocks ---------------------------------------------------- */

static int super_read_one(struct wafl_disk *d, unsigned copy, uint8_t *slot, struct wafl_super *sb)
{
	int rc = disk_read_slot(d, WAFL_SLOT_SUPER0 + copy, slot);
	if (rc)
		return rc;
	struct ctx_expect e = {.pvbn = 0, .level = 0, .fbn = copy};
	rc = ctx_verify(slot, &e, NULL, 0);
	if (rc)
		return rc;
	memcpy(sb, slot, sizeof(*sb));
	if (sb->magic != WAFL_SUPER_MAGIC || sb->version != WAFL_FORMAT_VERSION)
		return -EUCLEAN;
	return 0;
}

int super_read_best(struct wafl_disk **disks, unsigned ndisks, const uint8_t aggr_uuid[16],
		    struct wafl_super *out, unsigned *best_copy)
{
	uint8_t *slot = malloc(WAFL_SLOT_SIZE);
	if (!slot)
		return -ENOMEM;
	bool have = false;
	for (unsigned i = 0; i < ndisks; i++) {
		for (unsigned copy = 0; copy < 2; copy++) {
			struct wafl_super sb;
			if (super_read_one(disks[i], copy, slot, &sb))
				continue;
			if (memcmp(sb.aggr_uuid, aggr_uuid, 16))
				continue;
			if (!have || sb.cp > out->cp) {
				*out = sb;
				*best_copy = copy;
				have = true;
			}
		}
	}
	free(slot);
	return have ? 0 : -EUCLEAN;
}

int super_write_all(const struct wafl_raid *r, const struct wafl_super *sb, unsigned copy)
{
	uint8_t *slot = calloc(1, WAFL_SLOT_SIZE);
	if (!slot)
		return -ENOMEM;
	memcpy(slot, sb, sizeof(*sb));
	struct wafl_ctx c = {.kind = WAFL_BK_SUPER, .fbn = copy, .cp = sb->cp};
	ctx_seal(slot, &c);
	int rc = 0;
	for (unsigned i = 0; i < r->ndisks && !rc; i++)
		rc = disk_write_slot(r->disks[i], WAFL_SLOT_SUPER0 + copy, slot);
	free(slot);
	return rc;
}
