/*
 * dir.h - directories as B+trees inside a directory file (private to wafl/).
 *
 * A directory is a file of 4 KiB blocks. Block 0 is the header; the rest
 * are B+tree nodes keyed by a 64-bit *cookie* derived from the entry's
 * name: key = (hash56(name) << 8) | seq, where seq (0..255) separates the
 * rare names whose 56-bit hashes collide. Because the key depends only on
 * the name (and on which colliding names exist), a readdir cookie stays
 * valid across any inserts and removes, and NVLOG replay reproduces the
 * same cookies without recording them. Keys are always >= 256, so the
 * cookies 1 and 2 remain free for "." and "..", and 0 means "the start".
 *
 * Lookup, insert and remove cost O(log n) block visits. Nodes never move
 * to other fbns once written, except through split (new node appended or
 * taken from the header's free list).
 *
 * The directory code knows nothing about caches or disks: it sees its
 * file only through struct dir_io.
 */
#ifndef WAFL_DIR_H
#define WAFL_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dir_io {
	void *ctx;
	/* The block at fbn, to read. Pointers stay valid until the current
	 * dir_* call returns. -errno on failure (e.g. -EIO, -EUCLEAN). */
	int (*get)(void *ctx, uint64_t fbn, uint8_t **blk);
	/* The block at fbn, to change: call before modifying it. */
	int (*get_dirty)(void *ctx, uint64_t fbn, uint8_t **blk);
	/* A new zeroed block at fbn == current block count (the file grows by
	 * one block); may fail with -ENOSPC. */
	int (*append)(void *ctx, uint64_t *fbn, uint8_t **blk);
};

/* Directory entry types stored in entries (the same numbers as enum
 * wafl_ftype). */

/* Formats an empty directory into an empty file (block 0 appended). */
int dir_init(const struct dir_io *io);

/* The cookie a name has (or would have if inserted now). An absent name
 * gives -ENOENT with *cookie still filled in (0 if 256 names with its hash
 * leave no seq free). Any of ino, type, cookie may be NULL. */
int dir_lookup(const struct dir_io *io, const char *name, size_t len, uint64_t *ino, uint8_t *type,
	       uint64_t *cookie);
/* -EEXIST if the name is there; -ENOSPC if 256 names already share its
 * hash (or append failed). One insert dirties at most 2 * height + 2
 * blocks, at most height + 1 of them new (appended or off the free list);
 * the height is 3 for a million names. A failed call changes nothing but
 * the free list and the file's length. */
int dir_insert(const struct dir_io *io, const char *name, size_t len, uint64_t ino, uint8_t type,
	       uint64_t *cookie);
/* -ENOENT if it is not. Dirties at most 2 * height + 1 blocks, appends
 * none; a leaf left empty is freed (the free list is reused by inserts). */
int dir_remove(const struct dir_io *io, const char *name, size_t len, uint64_t *ino, uint8_t *type);
/* Points an existing name at another inode (rename over an existing name). */
int dir_replace(const struct dir_io *io, const char *name, size_t len, uint64_t ino, uint8_t type);

typedef int (*dir_iter_fn)(void *arg, const char *name, size_t len, uint64_t ino, uint8_t type,
			   uint64_t cookie);
/* Calls fn for every entry whose cookie is > after, in cookie order, until
 * fn returns nonzero (then *eof = false) or the entries end (*eof = true).
 * The name given to fn is NUL-terminated (len excludes the NUL) and valid
 * only during the call; fn must not change the directory. */
int dir_iterate(const struct dir_io *io, uint64_t after, dir_iter_fn fn, void *arg, bool *eof);

/* Number of entries. */
int dir_count(const struct dir_io *io, uint64_t *n);

/* Structural check for the consistency checker: node magic and levels,
 * keys sorted and within their parent's bounds, every key equal to the
 * name's hash with a seq that is the smallest unused among colliding
 * names... (at least: hash part matches), entry count in the header
 * equal to what the leaves hold, every node block reachable once.
 * Calls bad(arg, fbn, message) per problem; returns the number found,
 * or -errno if a block could not be read. */
typedef void (*dir_bad_fn)(void *arg, uint64_t fbn, const char *msg);
int dir_check(const struct dir_io *io, dir_bad_fn bad, void *arg);

/* The 56-bit name hash (exposed for tests). Bit 55 is always clear, so
 * keys stay below 2^63, and it is never 0. */
uint64_t dir_hash56(const char *name, size_t len);

#endif
