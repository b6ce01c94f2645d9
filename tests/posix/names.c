/*
 * names.c - cases on the name space: link, symlink and readlink, rename
 * of files and directories (over existing names, across directories, onto
 * itself), mkdir and rmdir, mkfifo and mknod, long and odd names, and a
 * directory of 10 000 entries listed and removed.
 */
#include "tests/posix/posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* link(): both names are the same file, nlink counts them, and the
 * errors: EEXIST, ENOENT, EPERM for a directory (Linux). */
static void hard_link(void)
{
	px_put("a", "data", 4, 0644);
	struct stat before = px_lstat("a");
	px_tick();
	PX_OK(link("a", "b"));
	struct stat a = px_lstat("a"), b = px_lstat("b");
	PX_EQ(a.st_ino, b.st_ino);
	PX_EQ(a.st_nlink, 2);
	PX_EQ(b.st_nlink, 2);
	PX_TRUE(px_ts_after(a.st_ctim, before.st_ctim));
	char buf[8];
	PX_EQ(px_get("b", buf, sizeof(buf)), 4);
	px_expect_same(buf, "data", 4, "b");
	PX_OK(mkdir("d", 0755));
	PX_OK(link("a", "d/c"));
	PX_EQ(px_lstat("d/c").st_nlink, 3);
	PX_ERR(link("a", "b"), EEXIST);
	PX_ERR(link("a", "d"), EEXIST);
	PX_ERR(link("missing", "x"), ENOENT);
	PX_ERR(link("a", "nodir/x"), ENOENT);
	PX_ERR(link("d", "dl"), EPERM);
	PX_OK(unlink("a"));
	PX_EQ(px_lstat("b").st_nlink, 2);
	PX_OK(unlink("d/c"));
	px_drop_caches();
	PX_EQ(px_lstat("b").st_nlink, 1);
	PX_EQ(px_get("b", buf, sizeof(buf)), 4);
}

/* symlink() stores the text as given; readlink() returns it, without a
 * NUL, and EINVAL for what is not a symlink. lstat() sees the link: size
 * is the length of the text. */
static void symlink_readlink(void)
{
	char buf[2048];
	PX_OK(symlink("some/where/else", "l"));
	PX_EQ(PX_OK(readlink("l", buf, sizeof(buf))), 15);
	px_expect_same(buf, "some/where/else", 15, "readlink");
	struct stat st = px_lstat("l");
	PX_TRUE(S_ISLNK(st.st_mode));
	PX_EQ(st.st_size, 15);
	PX_ERR(stat("l", &st), ENOENT);
	/* a short buffer gets the start of the text */
	PX_EQ(PX_OK(readlink("l", buf, 4)), 4);
	px_expect_same(buf, "some", 4, "short readlink");
	PX_ERR(symlink("x", "l"), EEXIST);
	px_put("f", "file", 4, 0644);
	PX_ERR(symlink("x", "f"), EEXIST);
	PX_ERR(readlink("f", buf, sizeof(buf)), EINVAL);
	PX_ERR(readlink("missing", buf, sizeof(buf)), ENOENT);
	/* through a link to a file */
	PX_OK(symlink("f", "lf"));
	PX_EQ(px_get("lf", buf, sizeof(buf)), 4);
	PX_OK(chmod("lf", 0600));
	PX_EQ(px_lstat("f").st_mode, S_IFREG | 0600);
	PX_TRUE(S_ISLNK(px_lstat("lf").st_mode));
	/* lchown changes the link, not the file */
	PX_OK(lchown("lf", PX_U1.uid, PX_U1.gid));
	PX_EQ(px_lstat("lf").st_uid, PX_U1.uid);
	PX_EQ(px_lstat("f").st_uid, 0);
	/* long and odd texts come back byte for byte */
	char target[1024];
	for (size_t i = 0; i < sizeof(target) - 1; i++)
		target[i] = (char)(' ' + i % 90);
	target[sizeof(target) - 1] = '\0';
	PX_OK(symlink(target, "long"));
	px_drop_caches();
	PX_EQ(PX_OK(readlink("long", buf, sizeof(buf))), sizeof(target) - 1);
	px_expect_same(buf, target, sizeof(target) - 1, "1023-byte symlink");
	const char odd[] = "caf\xc3\xa9 \x01\xff/../x";
	PX_OK(symlink(odd, "odd"));
	PX_EQ(PX_OK(readlink("odd", buf, sizeof(buf))), sizeof(odd) - 1);
	px_expect_same(buf, odd, sizeof(odd) - 1, "symlink with odd bytes");
	/* a symlink to a directory is followed, except by lstat and unlink */
	PX_OK(mkdir("d", 0755));
	PX_OK(symlink("d", "ld"));
	px_put("ld/inside", "x", 1, 0644);
	PX_EQ(px_lstat("d/inside").st_size, 1);
	PX_OK(unlink("ld"));
	PX_EQ(px_lstat("d/inside").st_size, 1);
}

/* rename() of files: to a new name, over an existing file, across
 * directories, onto itself and onto another link of the same file ("If
 * the old argument and the new argument resolve to [...] the same
 * existing file, rename() shall return successfully and perform no other
 * action"), and its errors. */
static void rename_files(void)
{
	char buf[16];
	px_put("a", "aaaa", 4, 0644);
	ino_t ino = px_lstat("a").st_ino;
	PX_OK(rename("a", "b"));
	struct stat st;
	PX_ERR(lstat("a", &st), ENOENT);
	PX_EQ(px_lstat("b").st_ino, ino);
	/* over an existing file */
	px_put("c", "cccc", 4, 0644);
	PX_OK(rename("b", "c"));
	PX_ERR(lstat("b", &st), ENOENT);
	PX_EQ(px_lstat("c").st_ino, ino);
	PX_EQ(px_get("c", buf, sizeof(buf)), 4);
	px_expect_same(buf, "aaaa", 4, "c after rename over it");
	/* across directories, keeping the name and the file */
	PX_OK(mkdir("d1", 0755));
	PX_OK(mkdir("d2", 0755));
	PX_OK(rename("c", "d1/c"));
	PX_OK(rename("d1/c", "d2/e"));
	PX_EQ(px_lstat("d2/e").st_ino, ino);
	PX_ERR(lstat("d1/c", &st), ENOENT);
	/* onto itself */
	PX_OK(rename("d2/e", "d2/e"));
	PX_EQ(px_lstat("d2/e").st_ino, ino);
	/* onto another link of the same file: nothing happens */
	PX_OK(link("d2/e", "d1/h"));
	PX_OK(rename("d2/e", "d1/h"));
	PX_EQ(px_lstat("d2/e").st_ino, ino);
	PX_EQ(px_lstat("d1/h").st_ino, ino);
	PX_EQ(px_lstat("d1/h").st_nlink, 2);
	/* errors */
	PX_ERR(rename("missing", "x"), ENOENT);
	PX_ERR(rename("d2/e", "nodir/x"), ENOENT);
	PX_ERR(rename("d2/e", "d1"), EISDIR);
	PX_ERR(rename("d2/e", "d2/e/x"), ENOTDIR);
	/* a symlink is renamed, not its target */
	PX_OK(symlink("d2/e", "l"));
	PX_OK(rename("l", "d1/l"));
	PX_TRUE(S_ISLNK(px_lstat("d1/l").st_mode));
	PX_EQ(px_lstat("d2/e").st_ino, ino);
	px_drop_caches();
	PX_EQ(px_lstat("d2/e").st_ino, ino);
	PX_ERR(lstat("d2/c", &st), ENOENT);
}

/* rename() of directories: the link counts of both parents, "..", over an
 * empty directory (allowed) and a non-empty one (EEXIST or ENOTEMPTY),
 * into itself (EINVAL), over a file (ENOTDIR) and "." (EBUSY, Linux). */
static void rename_dirs(void)
{
	PX_OK(mkdir("p1", 0755));
	PX_OK(mkdir("p2", 0755));
	PX_OK(mkdir("p1/sub", 0755));
	PX_OK(mkdir("p1/sub/deeper", 0755));
	PX_EQ(px_lstat("p1").st_nlink, 3);
	PX_EQ(px_lstat("p2").st_nlink, 2);
	ino_t sub = px_lstat("p1/sub").st_ino;
	PX_OK(rename("p1/sub", "p2/sub"));
	PX_EQ(px_lstat("p1").st_nlink, 2);
	PX_EQ(px_lstat("p2").st_nlink, 3);
	PX_EQ(px_lstat("p2/sub").st_ino, sub);
	px_drop_caches();
	PX_EQ(px_lstat("p2/sub/..").st_ino, px_lstat("p2").st_ino);
	PX_EQ(px_lstat("p2/sub/deeper/../..").st_ino, px_lstat("p2").st_ino);
	PX_EQ(px_lstat("p1").st_nlink, 2);
	PX_EQ(px_lstat("p2").st_nlink, 3);
	/* over an empty directory: replaced */
	PX_OK(mkdir("p1/empty", 0755));
	PX_EQ(px_lstat("p1").st_nlink, 3);
	PX_OK(rename("p2/sub", "p1/empty"));
	PX_EQ(px_lstat("p1/empty").st_ino, sub);
	PX_EQ(px_lstat("p1").st_nlink, 3);
	PX_EQ(px_lstat("p2").st_nlink, 2);
	/* over a non-empty directory */
	PX_OK(mkdir("p2/full", 0755));
	px_put("p2/full/f", "x", 1, 0644);
	PX_ERR2(rename("p1/empty", "p2/full"), ENOTEMPTY, EEXIST);
	/* into itself or below itself */
	PX_ERR(rename("p1/empty", "p1/empty/deeper/x"), EINVAL);
	PX_ERR(rename("p1", "p1/empty/x"), EINVAL);
	/* a directory over a file and a file over a directory */
	px_put("file", "x", 1, 0644);
	PX_ERR(rename("p1/empty", "file"), ENOTDIR);
	PX_ERR(rename("file", "p2/full"), EISDIR);
	/* onto itself */
	PX_OK(rename("p1/empty", "p1/empty"));
	PX_EQ(px_lstat("p1/empty").st_ino, sub);
	PX_ERR(rename(".", "x"), EBUSY);
	PX_ERR(rename("p1/.", "x"), EBUSY);
	px_drop_caches();
	PX_EQ(px_lstat("p1").st_nlink, 3);
	PX_EQ(px_lstat("p2").st_nlink, 3);
	PX_EQ(px_lstat("p1/empty/..").st_ino, px_lstat("p1").st_ino);
}

/* mkdir() and rmdir(): a new directory has nlink 2 and adds one to its
 * parent; rmdir() refuses a directory with entries (EEXIST or ENOTEMPTY),
 * "." (EINVAL) and ".." (ENOTEMPTY, Linux), and what is not a directory. */
static void mkdir_rmdir(void)
{
	struct stat top = px_lstat(".");
	PX_OK(mkdir("d", 0751));
	struct stat st = px_lstat("d");
	PX_EQ(st.st_mode, S_IFDIR | 0751);
	PX_EQ(st.st_nlink, 2);
	PX_EQ(st.st_uid, 0);
	PX_EQ(px_lstat(".").st_nlink, top.st_nlink + 1);
	/* a new directory lists exactly . and .. */
	DIR *dir = opendir("d");
	PX_TRUE(dir != NULL);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		PX_TRUE(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
		n++;
	}
	closedir(dir);
	PX_EQ(n, 2);
	PX_ERR(mkdir("d", 0755), EEXIST);
	px_put("f", "x", 1, 0644);
	PX_ERR(mkdir("f", 0755), EEXIST);
	PX_ERR(mkdir("nodir/x", 0755), ENOENT);
	PX_ERR(mkdir("f/x", 0755), ENOTDIR);
	PX_OK(mkdir("e/", 0755));
	PX_TRUE(S_ISDIR(px_lstat("e").st_mode));
	px_put("d/g", "x", 1, 0644);
	PX_ERR2(rmdir("d"), ENOTEMPTY, EEXIST);
	PX_OK(mkdir("d/sub", 0755));
	PX_OK(unlink("d/g"));
	PX_ERR2(rmdir("d"), ENOTEMPTY, EEXIST);
	PX_ERR(rmdir("d/sub/."), EINVAL);
	PX_ERR(rmdir("."), EINVAL);
	PX_ERR(rmdir("d/sub/.."), ENOTEMPTY);
	PX_ERR(rmdir("f"), ENOTDIR);
	PX_ERR(rmdir("missing"), ENOENT);
	PX_OK(rmdir("d/sub"));
	PX_EQ(px_lstat("d").st_nlink, 2);
	PX_OK(rmdir("d"));
	PX_OK(rmdir("e"));
	PX_ERR(lstat("d", &st), ENOENT);
	px_drop_caches();
	PX_EQ(px_lstat(".").st_nlink, top.st_nlink);
}

/* mkfifo() and mknod(): every file type NFSv3 MKNOD carries (RFC 1813
 * 3.3.11), device numbers as given (specdata3), and a FIFO that works. */
static void mkfifo_mknod(void)
{
	PX_OK(mkfifo("p", 0640));
	PX_EQ(px_lstat("p").st_mode, S_IFIFO | 0640);
	PX_ERR(mkfifo("p", 0640), EEXIST);
	PX_OK(mknod("c", S_IFCHR | 0600, makedev(1, 3)));
	struct stat st = px_lstat("c");
	PX_EQ(st.st_mode, S_IFCHR | 0600);
	PX_EQ(major(st.st_rdev), 1);
	PX_EQ(minor(st.st_rdev), 3);
	PX_OK(mknod("b", S_IFBLK | 0640, makedev(300, 70000)));
	px_drop_caches();
	st = px_lstat("b");
	PX_EQ(st.st_mode, S_IFBLK | 0640);
	PX_EQ(major(st.st_rdev), 300);
	PX_EQ(minor(st.st_rdev), 70000);
	PX_OK(mknod("s", S_IFSOCK | 0644, 0));
	PX_EQ(px_lstat("s").st_mode, S_IFSOCK | 0644);
	PX_OK(mknod("r", S_IFREG | 0604, 0));
	st = px_lstat("r");
	PX_EQ(st.st_mode, S_IFREG | 0604);
	PX_EQ(st.st_size, 0);
	PX_ERR(mknod("c", S_IFCHR | 0600, makedev(1, 3)), EEXIST);
	/* the FIFO carries data (the client's own pipe, named on the server) */
	int fd = PX_OK(open("p", O_RDWR));
	PX_EQ(PX_OK(write(fd, "fifo", 4)), 4);
	char buf[8];
	PX_EQ(PX_OK(read(fd, buf, sizeof(buf))), 4);
	px_expect_same(buf, "fifo", 4, "fifo");
	PX_OK(close(fd));
	PX_EQ(px_lstat("p").st_size, 0);
}

/* Names up to NAME_MAX (255) bytes work, longer ones get ENAMETOOLONG;
 * a name is bytes: anything but '/' and NUL comes back as it went in. */
static void long_and_odd_names(void)
{
	char name[300];
	memset(name, 'n', 255);
	name[255] = '\0';
	px_put(name, "x", 1, 0644);
	PX_EQ(px_lstat(name).st_size, 1);
	name[255] = 'n';
	name[256] = '\0';
	struct stat st;
	PX_ERR(open(name, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
	PX_ERR(lstat(name, &st), ENAMETOOLONG);
	const char *odd[] = {
		"with space", "new\nline", "caf\xc3\xa9", "\x01\x7f\xff",
		"-",	      "...",	   ".hidden",	  "a\\b",
	};
	const size_t nodd = sizeof(odd) / sizeof(odd[0]);
	for (size_t i = 0; i < nodd; i++)
		px_put(odd[i], "y", 1, 0644);
	px_drop_caches();
	bool seen[8] = {false};
	bool seen_long = false;
	DIR *d = opendir(".");
	PX_TRUE(d != NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strlen(de->d_name) == 255)
			seen_long = true;
		for (size_t i = 0; i < nodd; i++)
			if (!strcmp(de->d_name, odd[i]))
				seen[i] = true;
	}
	closedir(d);
	PX_TRUE(seen_long);
	for (size_t i = 0; i < nodd; i++)
		if (!seen[i])
			PX_FAIL("readdir does not list name %zu", i);
	for (size_t i = 0; i < nodd; i++)
		PX_OK(unlink(odd[i]));
}

#define BIG_N 10000

/* A directory of 10 000 files: readdir lists each name once; a position
 * from telldir() still leads to the same next entry after seekdir() (the
 * NFSv3 cookie); removing the files while reading (rm -r's way) leaves it
 * empty; rmdir then works. */
static void big_directory(void)
{
	PX_OK(mkdir("big", 0755));
	char name[64];
	for (int i = 0; i < BIG_N; i++) {
		snprintf(name, sizeof(name), "big/entry-%05d-%s", i,
			 i % 3 ? "short" : "a-longer-name");
		PX_OK(close(PX_OK(open(name, O_WRONLY | O_CREAT | O_EXCL, 0644))));
	}
	px_drop_caches();
	static unsigned char seen[BIG_N];
	memset(seen, 0, sizeof(seen));
	DIR *d = opendir("big");
	PX_TRUE(d != NULL);
	struct dirent *de;
	int n = 0, dots = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		int i;
		if (sscanf(de->d_name, "entry-%d-", &i) != 1 || i < 0 || i >= BIG_N)
			PX_FAIL("readdir returned the unknown name '%s'", de->d_name);
		if (seen[i]++)
			PX_FAIL("readdir returned '%s' twice", de->d_name);
		n++;
	}
	closedir(d);
	PX_EQ(dots, 2);
	PX_EQ(n, BIG_N);
	/* telldir/seekdir, far into the listing, on a fresh handle */
	PX_TRUE((d = opendir("big")) != NULL);
	for (int i = 0; i < 7000; i++)
		PX_TRUE(readdir(d) != NULL);
	long pos = telldir(d);
	PX_TRUE(pos != -1);
	PX_TRUE((de = readdir(d)) != NULL);
	char next[300];
	snprintf(next, sizeof(next), "%s", de->d_name);
	for (int i = 0; i < 500; i++)
		PX_TRUE(readdir(d) != NULL);
	seekdir(d, pos);
	PX_TRUE((de = readdir(d)) != NULL);
	if (strcmp(de->d_name, next))
		PX_FAIL("after seekdir: '%s', expected '%s'", de->d_name, next);
	closedir(d);
	PX_EQ(px_lstat("big/entry-09998-short").st_size, 0);
	PX_EQ(px_lstat("big/entry-09999-a-longer-name").st_size, 0);
	/* remove while reading, from the start again until nothing is left */
	int removed = 0;
	for (int round = 0; round < 5 && removed < BIG_N; round++) {
		PX_TRUE((d = opendir("big")) != NULL);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char path[300];
			snprintf(path, sizeof(path), "big/%s", de->d_name);
			PX_OK(unlink(path));
			removed++;
		}
		closedir(d);
	}
	PX_EQ(removed, BIG_N);
	PX_OK(rmdir("big"));
}

const struct px_case px_cases_names[] = {
	{"hard_link", hard_link},
	{"symlink_readlink", symlink_readlink},
	{"rename_files", rename_files},
	{"rename_dirs", rename_dirs},
	{"mkdir_rmdir", mkdir_rmdir},
	{"mkfifo_mknod", mkfifo_mknod},
	{"long_and_odd_names", long_and_odd_names},
	{"big_directory", big_directory},
	{NULL, NULL},
};
