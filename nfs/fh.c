/*
 * fh.c - NFSv3 file handles: what a client holds instead of a path.
 *
 * A handle names (export, volume, snapshot, inode, generation) and carries
 * a MAC keyed by the filer's secret (the layout is in nfs_int.h). Clients
 * are not trusted (DESIGN §9.9): a handle whose MAC does not verify is not
 * ours (-EBADMSG, NFS3ERR_BADHANDLE) and nothing it names is looked at;
 * one that verifies but names an export that is gone, or a volume the
 * export no longer serves, is stale (-ESTALE). The MAC is checked before
 * the export id is looked up, so forged handles cannot probe for exports.
 *
 * The MAC is HMAC-SHA256 truncated to 16 bytes. fh_parse runs on every
 * request, so the HMAC is built from SHA-256 digest contexts that have
 * already absorbed the key's ipad and opad blocks: a MAC costs two
 * context copies and two compressions, no key schedule. Those contexts
 * live per thread (each loop thread has its own, freed at thread exit)
 * and are rebuilt when a server with another secret asks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nfs/nfs_int.h"

#define FH_MAC_OFF   24
#define FH_MAC_BYTES 16
#define SHA256_BLOCK 64
#define SHA256_BYTES 32
_Static_assert(FH_MAC_OFF + FH_MAC_BYTES == FH_BYTES, "handle layout");
_Static_assert(NFS_SECRET_BYTES <= SHA256_BLOCK, "the key must fit one block");

struct fh_mac {
	bool keyed;
	uint8_t secret[NFS_SECRET_BYTES]; /* what inner/outer are keyed with */
	EVP_MD *md;
	EVP_MD_CTX *inner; /* SHA-256 after (key ^ ipad) */
	EVP_MD_CTX *outer; /* SHA-256 after (key ^ opad) */
	EVP_MD_CTX *work;
};

static pthread_once_t fh_once = PTHREAD_ONCE_INIT;
static pthread_key_t fh_key;
static __thread struct fh_mac *fh_tls;

static void fh_mac_free(void *p)
{
	struct fh_mac *m = p;
	if (m == NULL)
		return;
	EVP_MD_CTX_free(m->inner);
	EVP_MD_CTX_free(m->outer);
	EVP_MD_CTX_free(m->work);
	EVP_MD_free(m->md);
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

static void fh_key_create(void)
{
	/* the destructor frees a loop thread's contexts when it exits */
	if (pthread_key_create(&fh_key, fh_mac_free) != 0)
		abort();
}

static bool fh_mac_rekey(struct fh_mac *m, const uint8_t secret[NFS_SECRET_BYTES])
{
	uint8_t ipad[SHA256_BLOCK], opad[SHA256_BLOCK];
	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (unsigned i = 0; i < NFS_SECRET_BYTES; i++) {
		ipad[i] ^= secret[i];
		opad[i] ^= secret[i];
	}
	m->keyed = EVP_DigestInit_ex2(m->inner, m->md, NULL) &&
		   EVP_DigestUpdate(m->inner, ipad, sizeof(ipad)) &&
		   EVP_DigestInit_ex2(m->outer, m->md, NULL) &&
		   EVP_DigestUpdate(m->outer, opad, sizeof(opad));
	OPENSSL_cleanse(ipad, sizeof(ipad));
	OPENSSL_cleanse(opad, sizeof(opad));
	if (m->keyed)
		memcpy(m->secret, secret, NFS_SECRET_BYTES);
	return m->keyed;
}

/* This thread's MAC state, keyed with secret; NULL: out of memory. */
static struct fh_mac *fh_mac_get(const uint8_t secret[NFS_SECRET_BYTES])
{
	struct fh_mac *m = fh_tls;
	if (m == NULL) {
		if (pthread_once(&fh_once, fh_key_create) != 0)
			return NULL;
		m = calloc(1, sizeof(*m));
		if (m == NULL)
			return NULL;
		m->md = EVP_MD_fetch(NULL, "SHA256", NULL);
		m->inner = EVP_MD_CTX_new();
		m->outer = EVP_MD_CTX_new();
		m->work = EVP_MD_CTX_new();
		if (m->md == NULL || m->inner == NULL || m->outer == NULL || m->work == NULL ||
		    pthread_setspecific(fh_key, m) != 0) {
			fh_mac_free(m);
			return NULL;
		}
		fh_tls = m;
	}
	/* not secret-dependent timing an attacker sees: both are ours */
	if (!m->keyed || memcmp(m->secret, secret, NFS_SECRET_BYTES) != 0)
		if (!fh_mac_rekey(m, secret))
			return NULL;
	return m;
}

/* HMAC-SHA256(secret, msg[0..FH_MAC_OFF)), first FH_MAC_BYTES. */
static bool fh_mac(const struct nfs_server *s, const uint8_t *msg, uint8_t out[FH_MAC_BYTES])
{
	struct fh_mac *m = fh_mac_get(s->cfg.secret);
	if (m == NULL)
		return false;
	uint8_t in[SHA256_BYTES], full[SHA256_BYTES];
	unsigned n;
	bool ok = EVP_MD_CTX_copy_ex(m->work, m->inner) &&
		  EVP_DigestUpdate(m->work, msg, FH_MAC_OFF) &&
		  EVP_DigestFinal_ex(m->work, in, &n) && EVP_MD_CTX_copy_ex(m->work, m->outer) &&
		  EVP_DigestUpdate(m->work, in, sizeof(in)) &&
		  EVP_DigestFinal_ex(m->work, full, &n);
	if (ok)
		memcpy(out, full, FH_MAC_BYTES);
	return ok;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void fh_make(const struct nfs_server *s, uint16_t export_id, const struct wafl_fh *fh,
	     uint8_t out[FH_BYTES])
{
	out[0] = FH_VERSION;
	out[1] = 0;
	put16(out + 2, export_id);
	put32(out + 4, fh->volid);
	put32(out + 8, fh->snapid);
	put32(out + 12, fh->gen);
	put64(out + 16, fh->ino);
	if (!fh_mac(s, out, out + FH_MAC_OFF)) {
		/* Only out of memory gets here. A handle without a valid MAC
		 * would be refused later as forged, which is worse than
		 * stopping: there is no way to report it from here. */
		fprintf(stderr, "nfs: fh_make: cannot compute the handle MAC\n");
		abort();
	}
}

int fh_parse(struct nfs_server *s, const uint8_t *data, size_t len, struct nfs_export **ex,
	     struct wafl_fh *out)
{
	if (len != FH_BYTES || data[0] != FH_VERSION || data[1] != 0)
		return -EBADMSG;
	uint8_t mac[FH_MAC_BYTES];
	if (!fh_mac(s, data, mac))
		return -ENOMEM; /* our failure, not the client's */
	if (CRYPTO_memcmp(mac, data + FH_MAC_OFF, FH_MAC_BYTES) != 0)
		return -EBADMSG;
	struct nfs_export *e = export_by_id(s, get16(data + 2));
	uint32_t volid = get32(data + 4);
	if (e == NULL || e->volid != volid)
		return -ESTALE;
	out->volid = volid;
	out->snapid = get32(data + 8);
	out->gen = get32(data + 12);
	out->ino = get64(data + 16);
	*ex = e;
	return 0;
}
