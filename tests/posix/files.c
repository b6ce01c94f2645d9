/*
 * files.c - cases on the contents of regular files: creating them (O_CREAT,
 * O_EXCL, O_TRUNC, creat), appending, truncating up and down, unlinking
 * an open file, holes, offsets past 4 GiB, mmap, and writes at odd
 * offsets checked against a copy kept in memory.
 *
 * Data is checked after px_drop_caches() where it matters, so that it is
 * what the server stored, not what the client still holds.
 */
#include "tests/posix/posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KiB 1024ll
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* O_CREAT|O_EXCL creates exactly once, never through a symlink (POSIX
 * open(): "If O_CREAT and O_EXCL are set, open() shall fail if the file
 * exists", symlinks included). NFSv3 EXCLUSIVE create keeps its verifier
 * in the new file's times until the client's SETATTR: they must not show. */
static void create_excl(void)
{
	time_t t0 = px_now();
	int fd = PX_OK(open("f", O_WRONLY | O_CREAT | O_EXCL, 0640));
	struct stat st;
	PX_OK(fstat(fd, &st));
	PX_EQ(st.st_mode, S_IFREG | 0640);
	PX_EQ(st.st_size, 0);
	PX_EQ(st.st_nlink, 1);
	PX_EQ(st.st_uid, 0);
	PX_EQ(st.st_gid, 0);
	PX_OK(write(fd, "hello", 5));
	PX_OK(close(fd));
	st = px_lstat("f");
	px_expect_recent(st.st_mtim, t0, "mtime after an exclusive create");
	px_expect_recent(st.st_atim, t0, "atime after an exclusive create");
	px_expect_recent(st.st_ctim, t0, "ctime after an exclusive create");
	PX_EQ(st.st_size, 5);
	PX_ERR(open("f", O_WRONLY | O_CREAT | O_EXCL, 0640), EEXIST);
	PX_ERR(open("f", O_RDONLY | O_CREAT | O_EXCL, 0640), EEXIST);
	/* a dangling symlink is not followed */
	PX_OK(symlink("nowhere", "l"));
	PX_ERR(open("l", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	PX_ERR(lstat("nowhere", &st), ENOENT);
	PX_OK(mkdir("d", 0755));
	PX_ERR(open("d", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	/* still the same file, contents intact */
	char buf[16];
	PX_EQ(px_get("f", buf, sizeof(buf)), 5);
	px_expect_same(buf, "hello", 5, "f");
}

/* The mode of a new file is the mode asked for less the umask. */
static void create_mode_umask(void)
{
	umask(027);
	PX_OK(close(PX_OK(open("f", O_WRONLY | O_CREAT, 0777))));
	PX_EQ(px_lstat("f").st_mode, S_IFREG | 0750);
	PX_OK(mkdir("d", 0777));
	PX_EQ(px_lstat("d").st_mode, S_IFDIR | 0750);
	umask(0);
	PX_OK(close(PX_OK(open("g", O_WRONLY | O_CREAT | O_EXCL, 0666))));
	PX_EQ(px_lstat("g").st_mode, S_IFREG | 0666);
	PX_OK(close(PX_OK(open("h", O_WRONLY | O_CREAT, 0))));
	PX_EQ(px_lstat("h").st_mode, S_IFREG | 0);
	umask(022);
}

/* creat() and O_TRUNC empty an existing file and keep its mode and owner;
 * O_CREAT without O_TRUNC leaves it alone. Truncation updates mtime and
 * ctime (POSIX open(): "If O_TRUNC is set and the file did previously
 * exist, upon successful completion, open() shall mark for update the
 * last data modification and last file status change timestamps"). */
static void creat_and_trunc(void)
{
	char data[8192];
	px_pattern(data, sizeof(data), 1, 0);
	px_put("f", data, sizeof(data), 0604);
	PX_OK(chown("f", PX_U1.uid, PX_U1.gid));
	PX_OK(close(PX_OK(open("f", O_WRONLY | O_CREAT, 0777))));
	PX_EQ(px_lstat("f").st_size, sizeof(data));

	px_set_old_times("f");
	struct stat before = px_lstat("f");
	int fd = PX_OK(creat("f", 0777));
	struct stat st;
	PX_OK(fstat(fd, &st));
	PX_EQ(st.st_size, 0);
	PX_EQ(st.st_mode, S_IFREG | 0604);
	PX_EQ(st.st_uid, PX_U1.uid);
	PX_EQ(st.st_gid, PX_U1.gid);
	PX_TRUE(px_ts_after(st.st_mtim, before.st_mtim));
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
	PX_OK(close(fd));

	px_put("f", data, sizeof(data), 0604);
	px_set_old_times("f");
	before = px_lstat("f");
	fd = PX_OK(open("f", O_RDWR | O_TRUNC));
	PX_OK(fstat(fd, &st));
	PX_EQ(st.st_size, 0);
	PX_TRUE(px_ts_after(st.st_mtim, before.st_mtim));
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
	char buf[16];
	PX_EQ(PX_OK(read(fd, buf, sizeof(buf))), 0);
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, 0);
	PX_EQ(px_get("f", buf, sizeof(buf)), 0);
}

/* O_APPEND: "the file offset shall be set to the end of the file prior to
 * each write", whoever else wrote in between and wherever lseek put it. */
static void o_append(void)
{
	PX_OK(close(PX_OK(open("f", O_WRONLY | O_CREAT, 0644))));
	int a = PX_OK(open("f", O_WRONLY | O_APPEND));
	int b = PX_OK(open("f", O_WRONLY | O_APPEND));
	PX_EQ(PX_OK(write(a, "aaaa", 4)), 4);
	PX_EQ(PX_OK(write(b, "bbbb", 4)), 4);
	PX_EQ(PX_OK(write(a, "cc", 2)), 2);
	PX_OK(lseek(a, 0, SEEK_SET));
	PX_EQ(PX_OK(write(a, "dd", 2)), 2);
	PX_EQ(PX_OK(lseek(a, 0, SEEK_CUR)), 12);
	/* a plain writer at offset 0 overwrites; the appender still appends */
	int c = PX_OK(open("f", O_WRONLY));
	PX_EQ(PX_OK(write(c, "X", 1)), 1);
	PX_EQ(PX_OK(write(b, "e", 1)), 1);
	PX_OK(close(a));
	PX_OK(close(b));
	PX_OK(close(c));
	px_drop_caches();
	char buf[32];
	size_t n = px_get("f", buf, sizeof(buf));
	PX_EQ(n, 13);
	px_expect_same(buf, "Xaaabbbbccdde", 13, "f");
}

/* truncate and ftruncate, down and up: "If the file previously was larger
 * than length, the extra data shall be discarded. If the file was
 * previously shorter than length, its size shall be increased [...] as if
 * the extended area were zero-filled." The cut inside a block is the
 * interesting part: the tail of that block must read back as zeros when
 * the file grows again. */
static void truncate_down_up(void)
{
	size_t len = 3 * 4096 + 500;
	char *data = malloc(len), *buf = malloc(4 * MiB);
	PX_TRUE(data && buf);
	px_pattern(data, len, 2, 0);
	px_put("f", data, len, 0644);

	px_set_old_times("f");
	struct stat before = px_lstat("f");
	PX_OK(truncate("f", 4100)); /* 4 bytes into the second block */
	struct stat st = px_lstat("f");
	PX_EQ(st.st_size, 4100);
	PX_TRUE(px_ts_after(st.st_mtim, before.st_mtim));
	PX_TRUE(px_ts_after(st.st_ctim, before.st_ctim));
	PX_OK(truncate("f", 20000));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, 20000);
	PX_EQ(px_get("f", buf, 4 * MiB), 20000);
	px_expect_same(buf, data, 4100, "kept part");
	px_expect_zero(buf + 4100, 20000 - 4100, "grown part after truncate down");

	int fd = PX_OK(open("f", O_RDWR));
	PX_OK(ftruncate(fd, 1));
	PX_OK(ftruncate(fd, 3 * MiB + 7));
	struct stat fst;
	PX_OK(fstat(fd, &fst));
	PX_EQ(fst.st_size, 3 * MiB + 7);
	PX_OK(ftruncate(fd, 3 * MiB + 7)); /* same size: fine */
	PX_ERR(ftruncate(fd, -1), EINVAL);
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_get("f", buf, 4 * MiB), 3 * MiB + 7);
	PX_EQ(buf[0], data[0]);
	px_expect_zero(buf + 1, 3 * MiB + 6, "grown part after ftruncate");

	fd = PX_OK(open("f", O_RDONLY));
	PX_ERR(ftruncate(fd, 0), EINVAL); /* Linux: not open for writing */
	PX_OK(close(fd));
	PX_ERR(truncate("missing", 0), ENOENT);
	PX_OK(mkdir("d", 0755));
	PX_ERR(truncate("d", 0), EISDIR);
	PX_ERR(truncate("f", -1), EINVAL);
	free(data);
	free(buf);
}

/* An unlinked file stays readable and writable through descriptors that
 * were open (POSIX unlink(): "the removal of the file contents shall be
 * postponed until all references to the file are closed"). Linux's NFS
 * client keeps such a file as .nfsXXXX until the last close, so its nlink
 * stays 1 (not 0 as POSIX wants: pjdfstest unlink/14 #4, expected); the
 * name must be gone at once and the stand-in must go at the last close. */
static void unlink_open(void)
{
	px_put("f", "data", 4, 0644);
	int fd = PX_OK(open("f", O_RDWR));
	PX_OK(unlink("f"));
	struct stat st;
	PX_ERR(lstat("f", &st), ENOENT);
	PX_OK(fstat(fd, &st));
	PX_EQ(st.st_size, 4);
	px_pwrite(fd, "more", 4, 4);
	char buf[8];
	px_pread(fd, buf, 8, 0);
	px_expect_same(buf, "datamore", 8, "unlinked file");
	/* rename over a file open elsewhere: the old file lives on the same way */
	px_put("g", "old!", 4, 0644);
	int g = PX_OK(open("g", O_RDONLY));
	px_put("h", "new!", 4, 0644);
	PX_OK(rename("h", "g"));
	px_pread(g, buf, 4, 0);
	px_expect_same(buf, "old!", 4, "replaced file, open");
	PX_EQ(px_get("g", buf, sizeof(buf)), 4);
	px_expect_same(buf, "new!", 4, "replacing file");
	PX_OK(close(g));
	PX_OK(close(fd));
	PX_OK(unlink("g"));
	/* nothing may be left once the descriptors are closed */
	for (int i = 0;; i++) {
		DIR *d = opendir(".");
		PX_TRUE(d != NULL);
		struct dirent *de;
		char left[300] = "";
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				snprintf(left, sizeof(left), "%s", de->d_name);
		closedir(d);
		if (!left[0])
			break;
		if (i == 50)
			PX_FAIL("'%s' is still there 5 s after the last close", left);
		usleep(100000);
	}
}

/* Holes read as zeros and take no space: a 1 GiB file with two blocks
 * written uses a few blocks (RFC 1813 fattr3 "used": "the number of bytes
 * of disk space that the file actually uses"). */
static void sparse_file(void)
{
	char data[4096], buf[65536];
	px_pattern(data, sizeof(data), 3, 0);
	int fd = PX_OK(open("f", O_RDWR | O_CREAT, 0644));
	px_pwrite(fd, data, sizeof(data), 0);
	px_pwrite(fd, data, sizeof(data), GiB);
	PX_OK(fsync(fd));
	PX_OK(close(fd));
	px_drop_caches();
	struct stat st = px_lstat("f");
	PX_EQ(st.st_size, GiB + 4096);
	if ((long long)st.st_blocks * 512 > 1 * MiB)
		PX_FAIL("a file of two 4 KiB blocks uses %lld bytes",
			(long long)st.st_blocks * 512);
	fd = PX_OK(open("f", O_RDONLY));
	px_pread(fd, buf, sizeof(buf), 4096);
	px_expect_zero(buf, sizeof(buf), "hole after the first block");
	px_pread(fd, buf, sizeof(buf), 512 * MiB);
	px_expect_zero(buf, sizeof(buf), "hole in the middle");
	px_pread(fd, buf, sizeof(buf), GiB - sizeof(buf));
	px_expect_zero(buf, sizeof(buf), "hole before the last block");
	px_pread(fd, buf, 4096, GiB);
	px_expect_same(buf, data, 4096, "last block");
	PX_EQ(PX_OK(pread(fd, buf, sizeof(buf), GiB + 4096)), 0);
	PX_OK(close(fd));
}

/* Offsets past 2^31 and 2^32 (RFC 1813: offset3 and size3 are uint64),
 * writes that straddle both, truncation to just past and just before
 * 4 GiB. The file is sparse: a 5 GiB file on a thin 4 GiB volume. */
static void past_4gib(void)
{
	const off_t edge31 = 2 * GiB, edge32 = 4 * GiB, end = 5 * GiB;
	char a[16], b[16], c[4096], buf[4096];
	px_pattern(a, sizeof(a), 4, (uint64_t)edge31 - 8);
	px_pattern(b, sizeof(b), 4, (uint64_t)edge32 - 8);
	px_pattern(c, sizeof(c), 4, (uint64_t)end - 4096);
	int fd = PX_OK(open("f", O_RDWR | O_CREAT, 0644));
	px_pwrite(fd, a, sizeof(a), edge31 - 8);
	px_pwrite(fd, b, sizeof(b), edge32 - 8);
	px_pwrite(fd, c, sizeof(c), end - 4096);
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, end);
	fd = PX_OK(open("f", O_RDWR));
	px_pread(fd, buf, sizeof(a), edge31 - 8);
	px_expect_same(buf, a, sizeof(a), "across 2 GiB");
	px_pread(fd, buf, sizeof(b), edge32 - 8);
	px_expect_same(buf, b, sizeof(b), "across 4 GiB");
	px_pread(fd, buf, sizeof(c), end - 4096);
	px_expect_same(buf, c, sizeof(c), "last block before 5 GiB");
	px_pread(fd, buf, sizeof(buf), edge32 + 8192);
	px_expect_zero(buf, sizeof(buf), "hole past 4 GiB");
	/* a read at 4 GiB + n must not come from n (32-bit wrap) */
	px_pread(fd, buf, 8, edge32);
	px_expect_same(buf, b + 8, 8, "first bytes at 4 GiB");

	PX_OK(ftruncate(fd, edge32 + 1));
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, edge32 + 1);
	fd = PX_OK(open("f", O_RDONLY));
	PX_EQ(PX_OK(pread(fd, buf, sizeof(buf), edge32 - 8)), 9);
	px_expect_same(buf, b, 9, "after truncation to 4 GiB + 1");
	PX_OK(close(fd));
	PX_OK(truncate("f", edge32 - 4));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, edge32 - 4);
	fd = PX_OK(open("f", O_RDONLY));
	PX_EQ(PX_OK(pread(fd, buf, sizeof(buf), edge32 - 8)), 4);
	px_expect_same(buf, b, 4, "after truncation below 4 GiB");
	PX_OK(close(fd));
}

/* mmap: stores through a shared mapping reach the file (msync), and a
 * mapping shows what write() put there. */
static void mmap_read_write(void)
{
	const size_t len = 3 * 4096 + 100;
	char *want = malloc(len), *buf = malloc(len);
	PX_TRUE(want && buf);
	int fd = PX_OK(open("f", O_RDWR | O_CREAT, 0644));
	PX_OK(ftruncate(fd, (off_t)len));
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	PX_TRUE(m != MAP_FAILED);
	px_expect_zero(m, len, "new mapping");
	px_pattern(want, len, 5, 0);
	memcpy(m, want, len);
	PX_OK(msync(m, len, MS_SYNC));
	/* the same client sees the stores through read() before munmap */
	px_pread(fd, buf, len, 0);
	px_expect_same(buf, want, len, "read() of a mapped file");
	PX_OK(munmap(m, len));
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_get("f", buf, len), len);
	px_expect_same(buf, want, len, "mapped stores, from the server");

	/* write(), then map read-only */
	fd = PX_OK(open("f", O_RDWR));
	px_pattern(want + 5000, 3000, 6, 5000);
	px_pwrite(fd, want + 5000, 3000, 5000);
	PX_OK(fsync(fd));
	PX_OK(close(fd));
	px_drop_caches();
	fd = PX_OK(open("f", O_RDONLY));
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	PX_TRUE(m != MAP_FAILED);
	px_expect_same(m, want, len, "mapping of written data");
	PX_OK(munmap(m, len));
	/* a private mapping's stores stay private */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	PX_TRUE(m != MAP_FAILED);
	memset(m, 0, 4096);
	PX_OK(munmap(m, len));
	PX_OK(close(fd));
	PX_EQ(px_get("f", buf, len), len);
	px_expect_same(buf, want, len, "file after private stores");
	free(want);
	free(buf);
}

/* Writes of odd sizes at odd offsets, some overlapping, some leaving
 * holes, against a copy in memory; read back from the server. */
static void scattered_writes(void)
{
	const size_t size = 6 * MiB;
	unsigned char *shadow = calloc(1, size), *buf = malloc(size), *chunk = malloc(300000);
	PX_TRUE(shadow && buf && chunk);
	int fd = PX_OK(open("f", O_RDWR | O_CREAT, 0644));
	uint64_t r = 7;
	size_t end = 0;
	for (int i = 0; i < 120; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		size_t len = 1 + (size_t)(r >> 33) % 300000;
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		size_t off = (size_t)(r >> 33) % (size - len);
		px_pattern(chunk, len, 100 + (uint64_t)i, off);
		px_pwrite(fd, chunk, len, (off_t)off);
		memcpy(shadow + off, chunk, len);
		if (off + len > end)
			end = off + len;
		if (i % 40 == 39)
			PX_OK(fdatasync(fd));
	}
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_lstat("f").st_size, end);
	PX_EQ(px_get("f", buf, size), end);
	px_expect_same(buf, shadow, end, "file after 120 scattered writes");
	free(shadow);
	free(buf);
	free(chunk);
}

/* O_SYNC and O_DSYNC writes (NFSv3 FILE_SYNC and DATA_SYNC: the reply
 * comes once the data is stable) and O_DIRECT, which bypasses the client's
 * cache both ways; a direct write is seen by a cached reader afterwards. */
static void sync_and_direct_io(void)
{
	const size_t len = 256 * 1024;
	char *want = NULL, *buf = NULL;
	PX_EQ(posix_memalign((void **)&want, 4096, len), 0);
	PX_EQ(posix_memalign((void **)&buf, 4096, len), 0);
	px_pattern(want, len, 8, 0);
	int fd = PX_OK(open("sync", O_WRONLY | O_CREAT | O_SYNC, 0644));
	for (size_t off = 0; off < len; off += 10000)
		px_pwrite(fd, want + off, len - off < 10000 ? len - off : 10000, (off_t)off);
	PX_OK(close(fd));
	fd = PX_OK(open("dsync", O_WRONLY | O_CREAT | O_DSYNC, 0644));
	px_pwrite(fd, want, len, 0);
	PX_OK(close(fd));
	px_drop_caches();
	PX_EQ(px_get("sync", buf, len), len);
	px_expect_same(buf, want, len, "O_SYNC file");
	PX_EQ(px_get("dsync", buf, len), len);
	px_expect_same(buf, want, len, "O_DSYNC file");

	fd = open("direct", O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0 && errno == EINVAL)
		return; /* a file system without O_DIRECT (tmpfs before 6.6) */
	PX_TRUE(fd >= 0);
	px_pwrite(fd, want, len, 0);
	px_pwrite(fd, want, 4096, (off_t)len + 8192); /* leaves a hole */
	memset(buf, 0, len);
	px_pread(fd, buf, len, 0);
	px_expect_same(buf, want, len, "O_DIRECT read");
	px_pread(fd, buf, 8192, (off_t)len);
	px_expect_zero(buf, 8192, "O_DIRECT hole");
	PX_OK(close(fd));
	PX_EQ(px_lstat("direct").st_size, len + 8192 + 4096);
	PX_EQ(px_get("direct", buf, len), len);
	px_expect_same(buf, want, len, "cached read of O_DIRECT data");
	free(want);
	free(buf);
}

const struct px_case px_cases_files[] = {
	{"create_excl", create_excl},
	{"create_mode_umask", create_mode_umask},
	{"creat_and_trunc", creat_and_trunc},
	{"o_append", o_append},
	{"truncate_down_up", truncate_down_up},
	{"unlink_open", unlink_open},
	{"sparse_file", sparse_file},
	{"past_4gib", past_4gib},
	{"mmap_read_write", mmap_read_write},
	{"scattered_writes", scattered_writes},
	{"sync_and_direct_io", sync_and_direct_io},
	{NULL, NULL},
};
