/*
 * inode.c - the inode file: 256-byte inodes, 16 to a block, found by
 * number. The inode file is an ordinary file of its instance whose own
 * inode lives in the fsinfo, so its blocks move like any other.
 *
 * A free inode has mode 0 and keeps its generation. New files take the
 * next value of the instance's generation counter (fsinfo.gen_next), so a
 * handle to an old file is recognisably stale, also after a snapshot
 * restore has brought older inodes back.
 */
#include "wafl/wafl_int.h"

uint64_t inode_max(struct wafl_fs *fs)
{
	uint64_t blocks = fs->type == WAFL_FST_FLEX ? fs->limit_blocks : fs->fsi.space_blocks;
	uint64_t n = blocks; /* one inode per 4 KiB of space */
	if (n < 4096)
		n = 4096;
	return n;
}

static int inode_lookup(struct wafl_fs *fs, uint64_t ino, unsigned flags, struct wbuf **b,
			struct wafl_dinode **di)
{
	int rc = bmap_get(fs, WAFL_INO_INODEFILE, &fs->fsi.inofile, 0, ino / WAFL_INODES_PER_BLOCK,
			  flags, b);
	if (rc)
		return rc;
	if (!*b)
		return -ENOENT; /* a hole in the inode file: a free inode */
	*di = (struct wafl_dinode *)(*b)->data + ino % WAFL_INODES_PER_BLOCK;
	return 0;
}

int inode_get(struct wafl_fs *fs, uint64_t ino, struct wbuf **b, struct wafl_dinode **di)
{
	if (ino == WAFL_INO_INODEFILE)
		return -EINVAL;
	return inode_lookup(fs, ino, 0, b, di);
}

int inode_get_dirty(struct wafl_fs *fs, uint64_t ino, struct wbuf **b, struct wafl_dinode **di)
{
	if (ino == WAFL_INO_INODEFILE)
		return -EINVAL;
	int rc = inode_lookup(fs, ino, BM_CREATE, b, di);
	if (rc)
		return rc;
	return buf_dirty(*b);
}

int inode_pick(struct wafl_fs *fs, uint64_t *ino, uint32_t *gen)
{
	uint64_t max = inode_max(fs);
	if (fs->ino_cursor < WAFL_INO_FIRST || fs->ino_cursor >= max)
		fs->ino_cursor = WAFL_INO_FIRST;
	uint64_t start = fs->ino_cursor;
	uint64_t i = start;
	do {
		struct wbuf *b;
		struct wafl_dinode *di;
		int rc = inode_lookup(fs, i, 0, &b, &di);
		if (rc == -ENOENT || (rc == 0 && di->mode == 0)) {
			/* one counter per instance: a generation is never
			 * handed out twice, even after a snapshot restore */
			*ino = i;
			*gen = fs->fsi.gen_next + 1;
			if (*gen == 0)
				*gen = 1;
			fs->ino_cursor = i + 1;
			return 0;
		}
		if (rc)
			return rc;
		if (++i >= max)
			i = WAFL_INO_FIRST;
	} while (i != start);
	return -ENOSPC;
}

int inode_release(struct wafl_fs *fs, uint64_t ino)
{
	struct wbuf *b;
	struct wafl_dinode *di;
	int rc = inode_get_dirty(fs, ino, &b, &di);
	if (rc)
		return rc;
	uint32_t gen = di->gen;
	memset(di, 0, sizeof(*di));
	di->gen = gen;
	fs->fsi.inodes_used--;
	if (ino < fs->ino_cursor)
		fs->ino_cursor = ino;
	return 0;
}
