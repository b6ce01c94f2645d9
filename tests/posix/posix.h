/*
 * posix.h - the POSIX behaviour suite: what its cases share.
 *
 * The suite checks what a program sees on a file system, case by case,
 * against POSIX.1-2017 and, where NFSv3 decides, RFC 1813. It is built
 * statically so that it runs in the kernel-client test guest
 * (tests/kclient), on a directory of an NFS mount of the filer, but it
 * runs on any file system (`posix DIR` on a local tmpfs is the baseline).
 *
 * Each case runs in a child process of its own, as root, in a fresh
 * directory DIR/<case> with umask 022; the runner removes that directory
 * afterwards. A check that fails records its message (file:line, the call,
 * what was expected and what came) and ends the case: PX_* below exit the
 * process, so a case reads straight through. Cases that act as other users
 * do it in a further child (px_as), whose failures count for the case.
 *
 * Where Linux's NFS client cannot give the POSIX answer whatever the
 * server does (nlink of an open unlinked file: the client renames it to
 * .nfsXXXX instead), the case checks what the client does instead and
 * says so in a comment.
 */
#ifndef TESTS_POSIX_POSIX_H
#define TESTS_POSIX_POSIX_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct px_case {
	const char *name;
	void (*run)(void);
};

/* The case tables, each ended by {NULL, NULL}. */
extern const struct px_case px_cases_files[];
extern const struct px_case px_cases_names[];
extern const struct px_case px_cases_attrs[];

/* Records the first failure of the case (printf format) and exits. */
_Noreturn void px_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define PX_FAIL(...) px_fail(__FILE__, __LINE__, __VA_ARGS__)

/* CALL must succeed (not return -1); its value is the expression's. */
#define PX_OK(call)                                                                                \
	({                                                                                         \
		errno = 0;                                                                         \
		long long px_r_ = (long long)(call);                                               \
		if (px_r_ == -1)                                                                   \
			PX_FAIL("%s: expected success, got %s", #call, px_errname(errno));         \
		px_r_;                                                                             \
	})

/* CALL must fail with errno E. */
#define PX_ERR(call, e)                                                                            \
	do {                                                                                       \
		errno = 0;                                                                         \
		long long px_r_ = (long long)(call);                                               \
		if (px_r_ != -1)                                                                   \
			PX_FAIL("%s: expected %s, got success (%lld)", #call, px_errname(e),       \
				px_r_);                                                            \
		if (errno != (e))                                                                  \
			PX_FAIL("%s: expected %s, got %s", #call, px_errname(e),                   \
				px_errname(errno));                                                \
	} while (0)

/* CALL must fail with errno E1 or E2 (where POSIX allows either). */
#define PX_ERR2(call, e1, e2)                                                                      \
	do {                                                                                       \
		errno = 0;                                                                         \
		long long px_r_ = (long long)(call);                                               \
		if (px_r_ != -1)                                                                   \
			PX_FAIL("%s: expected %s or %s, got success", #call, px_errname(e1),       \
				px_errname(e2));                                                   \
		if (errno != (e1) && errno != (e2))                                                \
			PX_FAIL("%s: expected %s or %s, got %s", #call, px_errname(e1),            \
				px_errname(e2), px_errname(errno));                                \
	} while (0)

/* Two integers must be equal; the message shows both in decimal and
 * octal (modes). */
#define PX_EQ(got, want)                                                                           \
	do {                                                                                       \
		long long px_g_ = (long long)(got), px_w_ = (long long)(want);                     \
		if (px_g_ != px_w_)                                                                \
			PX_FAIL("%s == %s: got %lld (0%llo), expected %lld (0%llo)", #got, #want,  \
				px_g_, px_g_, px_w_, px_w_);                                       \
	} while (0)

#define PX_TRUE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond))                                                                       \
			PX_FAIL("expected %s", #cond);                                             \
	} while (0)

/* "ENOENT" for ENOENT, or the number. */
const char *px_errname(int e);

/* ---- identities ------------------------------------------------------- */

/* A user the cases act as: uid, primary gid and supplementary groups. */
struct px_user {
	uid_t uid;
	gid_t gid;
	unsigned ngroups;
	gid_t groups[16];
};

/* Three users; 2001 is a group U1 and U3 share, U2 is in no other group,
 * 3000 is a group nobody is in. */
extern const struct px_user PX_U1, PX_U2, PX_U3;
#define PX_G_SHARED 2001
#define PX_G_NOBODY 3000

/* Runs fn(arg) in a child as user u (setgroups, setgid, setuid); a check
 * failing there fails the case. */
void px_as(const struct px_user *u, void (*fn)(void *), void *arg);

/* ---- helpers ---------------------------------------------------------- */

/* Writes len bytes to a new file (O_CREAT|O_TRUNC, mode), checked. */
void px_put(const char *path, const void *data, size_t len, mode_t mode);
/* Reads the whole file (at most cap bytes), checked; returns the length. */
size_t px_get(const char *path, void *buf, size_t cap);
/* pwrite/pread all of len at off, checked. */
void px_pwrite(int fd, const void *buf, size_t len, off_t off);
void px_pread(int fd, void *buf, size_t len, off_t off);
/* lstat, checked. */
struct stat px_lstat(const char *path);
/* Fills buf with bytes that depend on seed and the file offset. */
void px_pattern(void *buf, size_t len, uint64_t seed, uint64_t off);
/* Expects buf to hold only zero bytes. */
void px_expect_zero(const void *buf, size_t len, const char *what);
/* Expects two buffers equal; names the first difference. */
void px_expect_same(const void *got, const void *want, size_t len, const char *what);

/* Drops the client's caches (page cache, dentries, inodes) when it can, so
 * that what is read next comes from the server. */
void px_drop_caches(void);
/* Sets atime and mtime to a time in the past, to see later changes; then
 * px_tick(). */
void px_set_old_times(const char *path);
/* Waits long enough for the next change to get a later ctime, even where
 * the file system's clock is coarse (jiffies on a local tmpfs). */
void px_tick(void);
/* a > b for timespecs */
bool px_ts_after(struct timespec a, struct timespec b);
/* Seconds since the epoch, now. */
time_t px_now(void);
/* Expects t within [lo - slack, now + slack]. */
void px_expect_recent(struct timespec t, time_t lo, const char *what);

#endif
