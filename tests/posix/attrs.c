/*
 * attrs.c - cases on ownership, modes, times and permission checks: chmod,
 * chown and chgrp as root and as users with supplementary groups, the
 * owner of new files, setgid and sticky directories, utimensat, and the
 * errno of each kind of denial.
 *
 * Users act through px_as() (setgroups, setgid, setuid in a child); over
 * NFS their AUTH_SYS credentials carry the same uid, gid and groups, so
 * the server must come to the same answers as a local file system.
 */
#include "tests/posix/posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Makes a file owned by u (uid and primary gid) with the mode. */
static void put_owned(const char *path, const struct px_user *u, mode_t mode)
{
	px_put(path, "0123456789", 10, 0644);
	PX_OK(chown(path, u->uid, u->gid));
	PX_OK(chmod(path, mode));
}

/* Root may give any mode, all twelve bits, to files and directories. */
static void chmod_root(void)
{
	static const mode_t modes[] = {0, 0644, 0777, 04755, 02755, 01777, 07777, 06000, 0111};
	px_put("f", "x", 1, 0644);
	PX_OK(mkdir("d", 0755));
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct stat before = px_lstat("f");
		px_tick();
		PX_OK(chmod("f", modes[i]));
		struct stat st = px_lstat("f");
		PX_EQ(st.st_mode, S_IFREG | modes[i]);
		PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
		PX_OK(chmod("d", modes[i]));
		PX_EQ(px_lstat("d").st_mode, S_IFDIR | modes[i]);
	}
	PX_OK(chmod("d", 0755));
	px_set_old_times("f");
	PX_OK(chmod("f", 0600));
	/* chmod changes ctime, not mtime */
	PX_EQ(px_lstat("f").st_mtim.tv_sec, 1000000000);
	px_drop_caches();
	PX_EQ(px_lstat("f").st_mode, S_IFREG | 0600);
	PX_ERR(chmod("missing", 0644), ENOENT);
}

static void chmod_as_u1(void *arg)
{
	(void)arg;
	/* the owner may */
	PX_OK(chmod("mine", 0640));
	PX_EQ(px_lstat("mine").st_mode, S_IFREG | 0640);
	/* S_ISVTX on a regular file too (Linux keeps it; POSIX leaves it
	 * unspecified, and pjdfstest chmod/11.t expects 01644 on Linux) */
	PX_OK(chmod("mine", 01640));
	PX_EQ(px_lstat("mine").st_mode, S_IFREG | 01640);
	PX_OK(chmod("mine", 0640));
	/* a group it is in: S_ISGID stays */
	PX_OK(chmod("shared", 02755));
	PX_EQ(px_lstat("shared").st_mode, S_IFREG | 02755);
	/* a group it is not in: the call succeeds, S_ISGID is cleared (Linux,
	 * and POSIX chmod(): "[...] the S_ISGID bit [...] shall be cleared
	 * upon successful return" may happen when the group does not match) */
	PX_OK(chmod("foreign", 02755));
	PX_EQ(px_lstat("foreign").st_mode, S_IFREG | 0755);
	/* not the owner */
	PX_ERR(chmod("theirs", 0777), EPERM);
	PX_EQ(px_lstat("theirs").st_mode, S_IFREG | 0644);
}

/* chmod as a user: only the owner, and S_ISGID only with its group. */
static void chmod_user(void)
{
	put_owned("mine", &PX_U1, 0644);
	put_owned("shared", &PX_U1, 0644);
	PX_OK(chown("shared", PX_U1.uid, PX_G_SHARED));
	put_owned("foreign", &PX_U1, 0644);
	PX_OK(chown("foreign", PX_U1.uid, PX_G_NOBODY));
	put_owned("theirs", &PX_U2, 0644);
	px_as(&PX_U1, chmod_as_u1, NULL);
	px_drop_caches();
	PX_EQ(px_lstat("foreign").st_mode, S_IFREG | 0755);
	PX_EQ(px_lstat("shared").st_mode, S_IFREG | 02755);
}

/* chown as root: any owner and group; -1 keeps; lchown on the link. On a
 * regular file S_ISUID and S_ISGID (with group execute) go (Linux clears
 * them for every caller). */
static void chown_root(void)
{
	px_put("f", "x", 1, 0644);
	struct stat before = px_lstat("f");
	px_tick();
	PX_OK(chown("f", PX_U1.uid, PX_G_SHARED));
	struct stat st = px_lstat("f");
	PX_EQ(st.st_uid, PX_U1.uid);
	PX_EQ(st.st_gid, PX_G_SHARED);
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
	PX_OK(chown("f", (uid_t)-1, (gid_t)-1));
	st = px_lstat("f");
	PX_EQ(st.st_uid, PX_U1.uid);
	PX_EQ(st.st_gid, PX_G_SHARED);
	PX_OK(chown("f", (uid_t)-1, PX_G_NOBODY));
	PX_EQ(px_lstat("f").st_uid, PX_U1.uid);
	PX_EQ(px_lstat("f").st_gid, PX_G_NOBODY);
	PX_OK(chown("f", 4000000000u, 4000000001u)); /* ids past 2^31 */
	px_drop_caches();
	PX_EQ(px_lstat("f").st_uid, 4000000000u);
	PX_EQ(px_lstat("f").st_gid, 4000000001u);
	PX_OK(chmod("f", 06755));
	PX_OK(chown("f", PX_U2.uid, (gid_t)-1));
	PX_EQ(px_lstat("f").st_mode, S_IFREG | 0755);
	PX_OK(symlink("f", "l"));
	PX_OK(lchown("l", PX_U1.uid, PX_U1.gid));
	PX_EQ(px_lstat("l").st_uid, PX_U1.uid);
	PX_EQ(px_lstat("f").st_uid, PX_U2.uid);
	PX_OK(chown("l", PX_U3.uid, (gid_t)-1));
	PX_EQ(px_lstat("f").st_uid, PX_U3.uid);
	PX_EQ(px_lstat("l").st_uid, PX_U1.uid);
	PX_OK(mkdir("d", 0755));
	PX_OK(chmod("d", 02755)); /* mkdir() does not set S_ISGID */
	PX_OK(chown("d", PX_U2.uid, PX_U2.gid));
	st = px_lstat("d");
	PX_EQ(st.st_uid, PX_U2.uid);
	PX_EQ(st.st_mode, S_IFDIR | 02755); /* directories keep S_ISGID */
	PX_ERR(chown("missing", 0, 0), ENOENT);
}

static void chown_as_u1(void *arg)
{
	(void)arg;
	/* to a supplementary group */
	PX_OK(chown("mine", (uid_t)-1, PX_G_SHARED));
	PX_EQ(px_lstat("mine").st_gid, PX_G_SHARED);
	/* back to the primary one */
	PX_OK(chown("mine", (uid_t)-1, PX_U1.gid));
	PX_EQ(px_lstat("mine").st_gid, PX_U1.gid);
	/* to its own uid: no change, allowed */
	PX_OK(chown("mine", PX_U1.uid, (gid_t)-1));
	/* a group it is not in, another owner */
	PX_ERR(chown("mine", (uid_t)-1, PX_G_NOBODY), EPERM);
	PX_ERR(chown("mine", PX_U2.uid, (gid_t)-1), EPERM);
	PX_EQ(px_lstat("mine").st_gid, PX_U1.gid);
	PX_EQ(px_lstat("mine").st_uid, PX_U1.uid);
	/* not the owner */
	PX_ERR(chown("theirs", (uid_t)-1, PX_G_SHARED), EPERM);
	/* chgrp clears S_ISUID and S_ISGID of a regular file */
	PX_OK(chown("setid", (uid_t)-1, PX_G_SHARED));
	struct stat st = px_lstat("setid");
	PX_EQ(st.st_gid, PX_G_SHARED);
	PX_EQ(st.st_mode, S_IFREG | 0755);
}

static void chown_as_u2(void *arg)
{
	(void)arg;
	/* not the owner: EPERM even when nothing would change (Linux
	 * chown_ok/chgrp_ok; pjdfstest chown/07.t) */
	PX_ERR(chown("mine", PX_U1.uid, (gid_t)-1), EPERM);
	PX_ERR(chown("mine", (uid_t)-1, PX_U1.gid), EPERM);
	PX_ERR(chown("mine", PX_U1.uid, PX_U1.gid), EPERM);
	PX_ERR(lchown("mine", PX_U1.uid, PX_U1.gid), EPERM);
}

/* The sixteenth group, the last AUTH_SYS carries (RFC 5531 authsys_parms:
 * gids<16>). */
static void chown_as_many(void *arg)
{
	(void)arg;
	PX_OK(chown("mine", (uid_t)-1, 5015));
	PX_EQ(px_lstat("mine").st_gid, 5015);
}

/* chown and chgrp as a user: its own files, to its own groups only. */
static void chown_user(void)
{
	put_owned("mine", &PX_U1, 0644);
	put_owned("theirs", &PX_U2, 0644);
	put_owned("setid", &PX_U1, 06755);
	px_as(&PX_U1, chown_as_u1, NULL);
	px_as(&PX_U2, chown_as_u2, NULL);
	px_drop_caches();
	PX_EQ(px_lstat("mine").st_gid, PX_U1.gid);
	PX_EQ(px_lstat("theirs").st_gid, PX_U2.gid);
	PX_EQ(px_lstat("setid").st_mode, S_IFREG | 0755);
	struct px_user many = {.uid = 1004, .gid = 1004, .ngroups = 16};
	for (unsigned i = 0; i < 16; i++)
		many.groups[i] = 5000 + i;
	put_owned("mine", &many, 0644);
	px_as(&many, chown_as_many, NULL);
}

static void create_as_u1(void *arg)
{
	(void)arg;
	px_put("open/f", "x", 1, 0644);
	PX_OK(mkdir("open/d", 0755));
	PX_OK(symlink("f", "open/l"));
	PX_OK(mkfifo("open/p", 0644));
	px_put("sgid/f", "x", 1, 0644);
	PX_OK(mkdir("sgid/d", 0755));
	PX_OK(mkfifo("sgid/p", 0644));
}

static void create_as_u2(void *arg)
{
	(void)arg;
	px_put("sgid/g", "x", 1, 0644);
}

/* A new file belongs to the caller's uid and primary gid; in a directory
 * with S_ISGID it takes the directory's group, and new directories there
 * inherit S_ISGID (Linux; POSIX leaves it to the implementation). */
static void owner_and_setgid_dir(void)
{
	PX_OK(mkdir("open", 0777));
	PX_OK(chmod("open", 0777));
	PX_OK(chown("open", 0, PX_G_SHARED));
	PX_OK(mkdir("sgid", 0777));
	PX_OK(chown("sgid", 0, PX_G_SHARED));
	PX_OK(chmod("sgid", 02777));
	px_as(&PX_U1, create_as_u1, NULL);
	px_as(&PX_U2, create_as_u2, NULL);
	px_drop_caches();
	static const char *const plain[] = {"open/f", "open/d", "open/l", "open/p"};
	for (size_t i = 0; i < 4; i++) {
		struct stat st = px_lstat(plain[i]);
		if (st.st_uid != PX_U1.uid || st.st_gid != PX_U1.gid)
			PX_FAIL("%s: owner %u:%u, expected %u:%u", plain[i], (unsigned)st.st_uid,
				(unsigned)st.st_gid, (unsigned)PX_U1.uid, (unsigned)PX_U1.gid);
	}
	PX_EQ(px_lstat("open/d").st_mode, S_IFDIR | 0755);
	static const char *const inherit[] = {"sgid/f", "sgid/d", "sgid/p", "sgid/g"};
	for (size_t i = 0; i < 4; i++) {
		struct stat st = px_lstat(inherit[i]);
		if (st.st_gid != PX_G_SHARED)
			PX_FAIL("%s in a setgid directory: group %u, expected %u", inherit[i],
				(unsigned)st.st_gid, PX_G_SHARED);
	}
	PX_EQ(px_lstat("sgid/d").st_mode, S_IFDIR | 02755);
	PX_EQ(px_lstat("sgid/f").st_mode, S_IFREG | 0644);
	PX_EQ(px_lstat("sgid/g").st_uid, PX_U2.uid);
}

static void sticky_as_u1(void *arg)
{
	(void)arg;
	px_put("t/u1file", "x", 1, 0644);
	PX_OK(mkdir("t/u1dir", 0755));
	px_put("t/u1other", "x", 1, 0666);
	PX_OK(chmod("t/u1other", 0666));
}

static void sticky_as_u2(void *arg)
{
	(void)arg;
	struct stat st;
	/* not the owner of the file nor of the directory: EPERM (Linux) */
	PX_ERR(unlink("t/u1file"), EPERM);
	PX_ERR(rename("t/u1file", "t/mine"), EPERM);
	PX_ERR(rmdir("t/u1dir"), EPERM);
	px_put("t/u2file", "y", 1, 0644);
	PX_ERR(rename("t/u2file", "t/u1file"), EPERM);
	/* writable is not removable */
	int fd = PX_OK(open("t/u1other", O_WRONLY));
	PX_OK(close(fd));
	PX_ERR(unlink("t/u1other"), EPERM);
	PX_OK(lstat("t/u1file", &st));
	/* its own file it may remove */
	PX_OK(unlink("t/u2file"));
	/* in a sticky directory it owns, it may remove anyone's file */
	PX_OK(unlink("own/u1file"));
}

static void sticky_as_u1_owner(void *arg)
{
	(void)arg;
	PX_OK(rename("t/u1file", "t/renamed"));
	PX_OK(unlink("t/renamed"));
	PX_OK(rmdir("t/u1dir"));
}

/* A sticky directory (S_ISVTX): only the owner of an entry, the owner of
 * the directory and root may remove or rename it (POSIX rmdir()/unlink():
 * EPERM or EACCES; Linux gives EPERM). */
static void sticky_directory(void)
{
	PX_OK(mkdir("t", 0777));
	PX_OK(chmod("t", 01777));
	PX_OK(mkdir("own", 0777));
	PX_OK(chmod("own", 01777));
	PX_OK(chown("own", PX_U2.uid, PX_U2.gid));
	px_as(&PX_U1, sticky_as_u1, NULL);
	px_put("own/u1file", "x", 1, 0644);
	PX_OK(chown("own/u1file", PX_U1.uid, PX_U1.gid));
	px_as(&PX_U2, sticky_as_u2, NULL);
	px_as(&PX_U1, sticky_as_u1_owner, NULL);
	/* root may */
	PX_OK(unlink("t/u1other"));
	PX_EQ(px_lstat("t").st_mode, S_IFDIR | 01777);
}

static void deny_as_u2(void *arg)
{
	(void)arg;
	struct stat st;
	/* 0600 file of U1 */
	PX_ERR(open("private", O_RDONLY), EACCES);
	PX_ERR(open("private", O_WRONLY), EACCES);
	PX_ERR(truncate("private", 0), EACCES);
	PX_ERR(access("private", R_OK), EACCES);
	/* 0604 file of U1: others may read, not write */
	int fd = PX_OK(open("readable", O_RDONLY));
	PX_OK(close(fd));
	PX_ERR(open("readable", O_RDWR), EACCES);
	PX_ERR(truncate("readable", 0), EACCES);
	/* 0646: others may write */
	fd = PX_OK(open("writable", O_WRONLY));
	PX_EQ(PX_OK(write(fd, "w", 1)), 1);
	PX_OK(close(fd));
	/* a 0700 directory: nothing inside can be reached */
	PX_ERR(lstat("closed/f", &st), EACCES);
	PX_ERR(open("closed/f", O_RDONLY), EACCES);
	PX_ERR(open("closed/new", O_WRONLY | O_CREAT, 0644), EACCES);
	PX_ERR(opendir("closed") ? 0 : -1, EACCES);
	/* a 0755 directory: readable, searchable, not writable */
	PX_OK(lstat("ro/f", &st));
	PX_ERR(open("ro/new", O_WRONLY | O_CREAT, 0644), EACCES);
	PX_ERR(mkdir("ro/newdir", 0755), EACCES);
	PX_ERR(symlink("x", "ro/newlink"), EACCES);
	PX_ERR(mkfifo("ro/newfifo", 0644), EACCES);
	PX_ERR(link("writable", "ro/newlink"), EACCES);
	PX_ERR(unlink("ro/f"), EACCES);
	PX_ERR(rename("ro/f", "ro/g"), EACCES);
	PX_ERR(rename("ro/f", "moved"), EACCES);
	PX_ERR(rmdir("ro/sub"), EACCES);
	/* a 0711 directory: searchable, not listable */
	PX_OK(lstat("search/f", &st));
	fd = PX_OK(open("search/f", O_RDONLY));
	PX_OK(close(fd));
	PX_ERR(opendir("search") ? 0 : -1, EACCES);
	/* setting times: only the owner may give explicit ones (EPERM); a
	 * writer may set "now" (utimensat: "write access" suffices) */
	struct timespec t[2] = {{1234567890, 0}, {1234567890, 0}};
	PX_ERR(utimensat(AT_FDCWD, "writable", t, 0), EPERM);
	PX_OK(utimensat(AT_FDCWD, "writable", NULL, 0));
	PX_ERR(utimensat(AT_FDCWD, "readable", NULL, 0), EACCES);
}

static void deny_as_u1(void *arg)
{
	(void)arg;
	/* the owner class decides for the owner, even if group or other
	 * would allow: mode 0066 */
	PX_ERR(open("ownerless", O_RDONLY), EACCES);
	/* the owner may still chmod it */
	PX_OK(chmod("ownerless", 0466));
	int fd = PX_OK(open("ownerless", O_RDONLY));
	PX_OK(close(fd));
}

static void deny_as_u3(void *arg)
{
	(void)arg;
	/* the group class decides for a member: mode 0606, group shared */
	PX_ERR(open("groupless", O_RDONLY), EACCES);
	/* and grants to a member: mode 0060 */
	int fd = PX_OK(open("grouponly", O_RDWR));
	PX_OK(close(fd));
}

/* The errno of each kind of denial, for users, and root's powers: it
 * passes read and write checks, but executes only what has an x bit. */
static void permission_denials(void)
{
	put_owned("private", &PX_U1, 0600);
	put_owned("readable", &PX_U1, 0604);
	put_owned("writable", &PX_U1, 0646);
	put_owned("ownerless", &PX_U1, 0066);
	PX_OK(chown("ownerless", PX_U1.uid, PX_G_SHARED));
	put_owned("groupless", &PX_U1, 0606);
	PX_OK(chown("groupless", PX_U1.uid, PX_G_SHARED));
	put_owned("grouponly", &PX_U1, 0060);
	PX_OK(chown("grouponly", PX_U1.uid, PX_G_SHARED));
	PX_OK(mkdir("closed", 0700));
	px_put("closed/f", "x", 1, 0644);
	PX_OK(chown("closed", PX_U1.uid, PX_U1.gid));
	PX_OK(mkdir("ro", 0755));
	PX_OK(mkdir("ro/sub", 0755));
	px_put("ro/f", "x", 1, 0644);
	PX_OK(chown("ro", PX_U1.uid, PX_U1.gid));
	PX_OK(mkdir("search", 0711));
	px_put("search/f", "x", 1, 0644);
	PX_OK(chown("search", PX_U1.uid, PX_U1.gid));
	PX_OK(chmod(".", 0777)); /* U2 may create "moved" here */
	px_as(&PX_U2, deny_as_u2, NULL);
	px_as(&PX_U1, deny_as_u1, NULL);
	px_as(&PX_U3, deny_as_u3, NULL);
	/* root: read and write whatever the mode */
	put_owned("nothing", &PX_U1, 0000);
	int fd = PX_OK(open("nothing", O_RDWR));
	PX_OK(close(fd));
	PX_OK(access("nothing", R_OK | W_OK));
	PX_ERR(access("nothing", X_OK), EACCES);
	PX_OK(chmod("nothing", 0010));
	PX_OK(access("nothing", X_OK));
	PX_OK(mkdir("shut", 0000));
	px_put("shut/f", "x", 1, 0644);
	PX_OK(lstat("shut/f", &(struct stat){0}));
	DIR *d = opendir("shut");
	PX_TRUE(d != NULL);
	closedir(d);
}

/* utimensat: explicit times to the nanosecond (RFC 1813 nfstime3), up to
 * the last second NFSv3 carries (2^32 - 1), UTIME_NOW and UTIME_OMIT each
 * on its own, both omitted, and AT_SYMLINK_NOFOLLOW on a link. */
static void utimensat_times(void)
{
	px_put("f", "x", 1, 0644);
	struct timespec t[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
	struct stat before = px_lstat("f");
	px_tick();
	PX_OK(utimensat(AT_FDCWD, "f", t, 0));
	px_drop_caches();
	struct stat st = px_lstat("f");
	PX_EQ(st.st_atim.tv_sec, 1000000000);
	PX_EQ(st.st_atim.tv_nsec, 123456789);
	PX_EQ(st.st_mtim.tv_sec, 1200000000);
	PX_EQ(st.st_mtim.tv_nsec, 987654321);
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
	/* mtime only */
	struct timespec m[2] = {{0, UTIME_OMIT}, {1300000000, 5}};
	PX_OK(utimensat(AT_FDCWD, "f", m, 0));
	st = px_lstat("f");
	PX_EQ(st.st_atim.tv_sec, 1000000000);
	PX_EQ(st.st_atim.tv_nsec, 123456789);
	PX_EQ(st.st_mtim.tv_sec, 1300000000);
	PX_EQ(st.st_mtim.tv_nsec, 5);
	/* atime now, mtime kept */
	time_t t0 = px_now();
	struct timespec n[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	PX_OK(utimensat(AT_FDCWD, "f", n, 0));
	st = px_lstat("f");
	px_expect_recent(st.st_atim, t0, "atime after UTIME_NOW");
	PX_EQ(st.st_mtim.tv_sec, 1300000000);
	/* both omitted: nothing changes */
	struct stat keep = st;
	struct timespec o[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	PX_OK(utimensat(AT_FDCWD, "f", o, 0));
	st = px_lstat("f");
	PX_EQ(st.st_mtim.tv_sec, keep.st_mtim.tv_sec);
	PX_EQ(st.st_atim.tv_sec, keep.st_atim.tv_sec);
	/* both now */
	PX_OK(utimensat(AT_FDCWD, "f", NULL, 0));
	st = px_lstat("f");
	px_expect_recent(st.st_mtim, t0, "mtime after utimensat(NULL)");
	px_expect_recent(st.st_atim, t0, "atime after utimensat(NULL)");
	/* the last nanosecond before the last second of nfstime3, and that
	 * second (Linux's client clamps nanoseconds to 0 there: s_time_max) */
	struct timespec far[2] = {{4294967294ll, 999999999}, {4294967295ll, 0}};
	PX_OK(utimensat(AT_FDCWD, "f", far, 0));
	px_drop_caches();
	st = px_lstat("f");
	PX_EQ(st.st_atim.tv_sec, 4294967294ll);
	PX_EQ(st.st_atim.tv_nsec, 999999999);
	PX_EQ(st.st_mtim.tv_sec, 4294967295ll);
	/* on a symlink itself */
	PX_OK(symlink("f", "l"));
	struct timespec lt[2] = {{1100000000, 11}, {1100000001, 22}};
	PX_OK(utimensat(AT_FDCWD, "l", lt, AT_SYMLINK_NOFOLLOW));
	px_drop_caches();
	st = px_lstat("l");
	PX_EQ(st.st_atim.tv_sec, 1100000000);
	PX_EQ(st.st_mtim.tv_sec, 1100000001);
	PX_EQ(st.st_mtim.tv_nsec, 22);
	PX_EQ(px_lstat("f").st_mtim.tv_sec, 4294967295ll);
	/* directories too */
	PX_OK(mkdir("d", 0755));
	PX_OK(utimensat(AT_FDCWD, "d", t, 0));
	PX_EQ(px_lstat("d").st_mtim.tv_nsec, 987654321);
	PX_ERR(utimensat(AT_FDCWD, "missing", t, 0), ENOENT);
}

/* Operations that change a directory update its mtime and ctime; data
 * writes update mtime and ctime of the file. */
static void times_follow_changes(void)
{
	PX_OK(mkdir("d", 0755));
	PX_OK(mkdir("e", 0755));
	px_put("d/f", "x", 1, 0644);
	const char *steps[] = {"create", "link", "rename", "unlink", "mkdir", "rmdir", "symlink"};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		px_set_old_times("d");
		struct stat before = px_lstat("d");
		switch (i) {
		case 0:
			px_put("d/g", "x", 1, 0644);
			break;
		case 1:
			PX_OK(link("d/g", "d/h"));
			break;
		case 2:
			PX_OK(rename("d/h", "e/h"));
			break;
		case 3:
			PX_OK(unlink("d/g"));
			break;
		case 4:
			PX_OK(mkdir("d/s", 0755));
			break;
		case 5:
			PX_OK(rmdir("d/s"));
			break;
		case 6:
			PX_OK(symlink("x", "d/l"));
			break;
		}
		struct stat st = px_lstat("d");
		if (st.st_mtim.tv_sec == 1000000000 || !px_ts_after(st.st_ctim, before.st_ctim))
			PX_FAIL("%s in a directory did not update its mtime and ctime", steps[i]);
	}
	px_set_old_times("d/f");
	struct stat before = px_lstat("d/f");
	int fd = PX_OK(open("d/f", O_WRONLY));
	PX_EQ(PX_OK(write(fd, "y", 1)), 1);
	PX_OK(close(fd));
	px_drop_caches();
	struct stat st = px_lstat("d/f");
	PX_TRUE(st.st_mtim.tv_sec != 1000000000);
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
}

const struct px_case px_cases_attrs[] = {
	{"chmod_root", chmod_root},
	{"chmod_user", chmod_user},
	{"chown_root", chown_root},
	{"chown_user", chown_user},
	{"owner_and_setgid_dir", owner_and_setgid_dir},
	{"sticky_directory", sticky_directory},
	{"permission_denials", permission_denials},
	{"utimensat_times", utimensat_times},
	{"times_follow_changes", times_follow_changes},
	{NULL, NULL},
};
