/*
 * File handles: the byte layout, the MAC (checked against OpenSSL's own
 * HMAC), forgery (every flipped bit, another secret, other versions and
 * lengths), staleness, per-thread MAC state, and what a parse costs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nfs/nfs_int.h"

struct fixture {
	struct nfs_server s;
	struct nfs_export e1, e2;
};

static void setup(struct fixture *f, uint8_t secret_seed)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < NFS_SECRET_BYTES; i++)
		f->s.cfg.secret[i] = (uint8_t)(secret_seed + i * 13);
	TAILQ_INIT(&f->s.exports);
	strcpy(f->e1.path, "/vol/vol0");
	f->e1.id = 3;
	f->e1.volid = 0x11223344;
	TAILQ_INIT(&f->e1.rules);
	strcpy(f->e2.path, "/vol/vol1");
	f->e2.id = 0xfffe;
	f->e2.volid = 77;
	TAILQ_INIT(&f->e2.rules);
	TAILQ_INSERT_TAIL(&f->s.exports, &f->e1, link);
	TAILQ_INSERT_TAIL(&f->s.exports, &f->e2, link);
}

static const struct wafl_fh sample = {
	.volid = 0x11223344, .snapid = 0x55667788, .ino = 0x0102030405060708ull, .gen = 0xa0b0c0d0};

static void ref_mac(const uint8_t secret[NFS_SECRET_BYTES], const uint8_t *msg, uint8_t out[16])
{
	uint8_t full[32];
	size_t n = 0;
	cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, NFS_SECRET_BYTES,
				     msg, 24, full, sizeof(full), &n));
	cr_assert_eq(n, 32);
	memcpy(out, full, 16);
}

Test(fh, layout_and_mac)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t h[FH_BYTES];
	fh_make(&f.s, 3, &sample, h);
	/* version, flags, export 3, then volid, snapid, gen, ino little-endian */
	static const uint8_t want[24] = {
		0x01, 0x00, 0x03, 0x00, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55,
		0xd0, 0xc0, 0xb0, 0xa0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	};
	cr_assert_eq(memcmp(h, want, 24), 0);
	uint8_t mac[16];
	ref_mac(f.s.cfg.secret, h, mac);
	cr_assert_eq(memcmp(h + 24, mac, 16), 0);
}

Test(fh, round_trip)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t h[FH_BYTES];
	fh_make(&f.s, 3, &sample, h);
	struct nfs_export *ex = NULL;
	struct wafl_fh out;
	memset(&out, 0xee, sizeof(out));
	cr_assert_eq(fh_parse(&f.s, h, sizeof(h), &ex, &out), 0);
	cr_assert_eq(ex, &f.e1);
	cr_assert_eq(out.volid, sample.volid);
	cr_assert_eq(out.snapid, sample.snapid);
	cr_assert_eq(out.ino, sample.ino);
	cr_assert_eq(out.gen, sample.gen);

	/* the extremes of every field */
	struct wafl_fh big = {
		.volid = 77, .snapid = UINT32_MAX, .ino = UINT64_MAX, .gen = UINT32_MAX};
	fh_make(&f.s, 0xfffe, &big, h);
	cr_assert_eq(fh_parse(&f.s, h, sizeof(h), &ex, &out), 0);
	cr_assert_eq(ex, &f.e2);
	cr_assert_eq(out.volid, 77);
	cr_assert_eq(out.snapid, UINT32_MAX);
	cr_assert_eq(out.ino, UINT64_MAX);
	cr_assert_eq(out.gen, UINT32_MAX);

	/* the same file, made twice: the same bytes */
	uint8_t h2[FH_BYTES];
	fh_make(&f.s, 0xfffe, &big, h2);
	cr_assert_eq(memcmp(h, h2, FH_BYTES), 0);
}

Test(fh, every_flipped_bit_is_refused)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t h[FH_BYTES];
	fh_make(&f.s, 3, &sample, h);
	for (unsigned bit = 0; bit < FH_BYTES * 8; bit++) {
		uint8_t bad[FH_BYTES];
		memcpy(bad, h, FH_BYTES);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct nfs_export *ex = NULL;
		struct wafl_fh out;
		cr_assert_eq(fh_parse(&f.s, bad, sizeof(bad), &ex, &out), -EBADMSG, "bit %u", bit);
		cr_assert_null(ex);
	}
	struct nfs_export *ex;
	struct wafl_fh out;
	cr_assert_eq(fh_parse(&f.s, h, sizeof(h), &ex, &out), 0);
}

Test(fh, another_secret_is_refused)
{
	struct fixture f, g;
	setup(&f, 1);
	setup(&g, 2);
	uint8_t hf[FH_BYTES], hg[FH_BYTES];
	fh_make(&f.s, 3, &sample, hf);
	fh_make(&g.s, 3, &sample, hg);
	cr_assert_neq(memcmp(hf + 24, hg + 24, 16), 0);
	struct nfs_export *ex;
	struct wafl_fh out;
	/* alternating servers in one thread: the MAC state follows */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fh_parse(&f.s, hg, FH_BYTES, &ex, &out), -EBADMSG);
		cr_assert_eq(fh_parse(&g.s, hf, FH_BYTES, &ex, &out), -EBADMSG);
		cr_assert_eq(fh_parse(&f.s, hf, FH_BYTES, &ex, &out), 0);
		cr_assert_eq(fh_parse(&g.s, hg, FH_BYTES, &ex, &out), 0);
	}
	/* a one-bit change of the secret is another secret */
	g.s.cfg.secret[31] = f.s.cfg.secret[31] ^ 0x80;
	memcpy(g.s.cfg.secret, f.s.cfg.secret, 31);
	cr_assert_eq(fh_parse(&g.s, hf, FH_BYTES, &ex, &out), -EBADMSG);
}

Test(fh, lengths_versions_flags)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t buf[128];
	memset(buf, 0, sizeof(buf));
	fh_make(&f.s, 3, &sample, buf);
	struct nfs_export *ex;
	struct wafl_fh out;
	static const size_t lens[] = {0, 1, 24, 39, 41, 64, 128};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		cr_assert_eq(fh_parse(&f.s, buf, lens[i], &ex, &out), -EBADMSG, "len %zu", lens[i]);
	cr_assert_eq(fh_parse(&f.s, buf, FH_BYTES, &ex, &out), 0);

	/* a correct MAC over another version or nonzero flags: still not ours */
	uint8_t h[FH_BYTES];
	memcpy(h, buf, FH_BYTES);
	h[0] = 2;
	ref_mac(f.s.cfg.secret, h, h + 24);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), -EBADMSG);
	memcpy(h, buf, FH_BYTES);
	h[1] = 1;
	ref_mac(f.s.cfg.secret, h, h + 24);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), -EBADMSG);
	/* the MAC recomputed over the original bytes is what we make */
	memcpy(h, buf, FH_BYTES);
	ref_mac(f.s.cfg.secret, h, h + 24);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), 0);

	uint8_t zero[FH_BYTES] = {0};
	cr_assert_eq(fh_parse(&f.s, zero, FH_BYTES, &ex, &out), -EBADMSG);
	zero[0] = FH_VERSION;
	cr_assert_eq(fh_parse(&f.s, zero, FH_BYTES, &ex, &out), -EBADMSG);
}

Test(fh, stale)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t h[FH_BYTES], h2[FH_BYTES], h9[FH_BYTES];
	fh_make(&f.s, 3, &sample, h);
	struct wafl_fh other = sample;
	other.volid = 77;
	fh_make(&f.s, 0xfffe, &other, h2);
	fh_make(&f.s, 9, &sample, h9); /* an export id never made */
	struct nfs_export *ex;
	struct wafl_fh out;
	cr_assert_eq(fh_parse(&f.s, h9, FH_BYTES, &ex, &out), -ESTALE);

	/* the export goes away */
	TAILQ_REMOVE(&f.s.exports, &f.e1, link);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), -ESTALE);
	cr_assert_eq(fh_parse(&f.s, h2, FH_BYTES, &ex, &out), 0);

	/* the id comes back, for another volume */
	f.e1.volid = 5;
	TAILQ_INSERT_TAIL(&f.s.exports, &f.e1, link);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), -ESTALE);
	f.e1.volid = sample.volid;
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), 0);
	cr_assert_eq(ex, &f.e1);

	/* a volume served under another export id: not through this handle */
	struct wafl_fh v77 = sample;
	v77.volid = 77;
	fh_make(&f.s, 3, &v77, h);
	cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), -ESTALE);
}

static void *thread_parse(void *arg)
{
	struct fixture *f = arg;
	uint8_t h[FH_BYTES];
	fh_make(&f->s, 3, &sample, h);
	struct nfs_export *ex;
	struct wafl_fh out;
	intptr_t ok = fh_parse(&f->s, h, FH_BYTES, &ex, &out) == 0 && out.ino == sample.ino;
	h[30] ^= 1;
	ok = ok && fh_parse(&f->s, h, FH_BYTES, &ex, &out) == -EBADMSG;
	return (void *)ok;
}

Test(fh, threads_have_their_own_state)
{
	struct fixture f;
	setup(&f, 1);
	uint8_t h[FH_BYTES];
	fh_make(&f.s, 3, &sample, h);
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		void *ok;
		cr_assert_eq(pthread_create(&t, NULL, thread_parse, &f), 0);
		cr_assert_eq(pthread_join(t, &ok), 0);
		cr_assert(ok);
	}
	uint8_t h2[FH_BYTES];
	fh_make(&f.s, 3, &sample, h2);
	cr_assert_eq(memcmp(h, h2, FH_BYTES), 0);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

Test(fh, parse_cost)
{
	struct fixture f;
	setup(&f, 1);
	enum { N = 200000 };
	uint8_t h[FH_BYTES];
	struct wafl_fh fh = sample;
	fh_make(&f.s, 3, &fh, h);
	struct nfs_export *ex;
	struct wafl_fh out;
	uint64_t sum = 0;
	double t0 = now_ns();
	for (int i = 0; i < N; i++) {
		cr_assert_eq(fh_parse(&f.s, h, FH_BYTES, &ex, &out), 0);
		sum += out.ino;
	}
	double parse = (now_ns() - t0) / N;
	t0 = now_ns();
	for (int i = 0; i < N; i++) {
		fh.ino = (uint64_t)i;
		fh_make(&f.s, 3, &fh, h);
	}
	double make = (now_ns() - t0) / N;
	fprintf(stderr, "fh: parse %.0f ns/op, make %.0f ns/op\n", parse, make);
	cr_assert_eq(sum, (uint64_t)N * sample.ino);
	/* generous: sanitizers and a loaded machine; the figure is above */
	cr_assert_lt(parse, 20000.0);
}
