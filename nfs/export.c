/*
 * export.c - exports(5) client specs: parsing, matching a peer, squashing
 * its credential.
 *
 * A spec is a whitespace-separated list of `client(opt,opt,...)` items;
 * a client without parentheses gets the defaults (ro, root_squash,
 * anonuid=anongid=65534, secure). Options are applied left to right, so a
 * later `rw` overrides an earlier `ro`; all_squash and root_squash are
 * separate switches as in Linux (`all_squash` wins over `no_root_squash`
 * whatever their order). Accepted and ignored, because the behaviour they
 * select is fixed here:
 *   sync, async        every stable reply waits for the NVLOG anyway
 *                      (DESIGN §8.2); async is never honoured
 *   subtree_check, no_subtree_check
 *                      exports are volume roots and handles are MAC'd per
 *                      export, so there is no subtree to check
 *   wdelay, no_wdelay  the NVLOG's group commit gathers writes already
 * `(opts)` with no client in front (exports(5)'s "everyone") is refused:
 * it is nearly always a stray space in `host (rw)`; write `*(rw)`.
 *
 * Clients, and how each matches (first matching rule wins):
 *   *               anyone
 *   1.2.3.4, ::1    that address; IPv4 rules match AF_INET peers and
 *                   IPv4-mapped IPv6 peers alike (both are kept as
 *                   ::ffff:a.b.c.d, IPv4 prefixes as 96 + bits)
 *   10.0.0.0/8, 10.0.0.0/255.0.0.0, fd00::/8
 *                   a prefix (host bits are masked off). An IPv6 prefix is
 *                   compared with the same mapped form, so `::/0` also
 *                   matches IPv4 peers, `fd00::/8` does not.
 *   host.name       resolved (getaddrinfo) when the spec is parsed, into
 *                   one M_HOST rule per address; matched by address. No
 *                   DNS on the request path, no trust in a PTR record the
 *                   client's owner controls; the price is that a DNS
 *                   change needs the export re-added. A name that does
 *                   not resolve is an error.
 *   *.example.com, host?, 10.1.2.*
 *                   fnmatch(3), case-insensitive. A pattern with no
 *                   letters, or with a ':', is an address pattern: matched
 *                   against the peer's numeric address only. Otherwise it
 *                   is matched against the numeric address and against
 *                   the peer's name: a reverse lookup (getnameinfo,
 *                   NI_NAMEREQD) confirmed by a forward lookup, cached per
 *                   address (5 min, 1 min when not found). That lookup
 *                   runs on the loop thread the first time a peer reaches
 *                   a name pattern: put address rules first when it
 *                   matters.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nfs/nfs_int.h"

#define ANON_ID_DEFAULT 65534u

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- addresses -------------------------------------------------------- */

static void v4_mapped(const struct in_addr *a4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], a4, 4);
}

/* The peer as an IPv6 address (IPv4 as ::ffff:a.b.c.d); false: neither. */
static bool peer_in6(const struct sockaddr_storage *ss, struct in6_addr *out)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		v4_mapped(&sin->sin_addr, out);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)ss)->sin6_addr;
		return true;
	}
	return false;
}

static bool prefix_match(const struct in6_addr *a, const struct in6_addr *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a->s6_addr, net->s6_addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return ((a->s6_addr[whole] ^ net->s6_addr[whole]) & mask) == 0;
}

static void mask_host_bits(struct in6_addr *a, unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a->s6_addr[i] &= (uint8_t)(0xff << (8 - bits));
		bits = 0;
	}
}

/* The numeric form of an address: dotted quad for IPv4 (mapped or not). */
static void in6_to_str(const struct in6_addr *a, char *buf, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

/* ---- the reverse-lookup cache (wildcard name patterns only) ----------- */

#define NAME_CACHE_SLOTS     256
#define NAME_TTL_FOUND_SEC   300
#define NAME_TTL_MISSING_SEC 60

struct name_slot {
	bool used;
	struct in6_addr addr;
	time_t expires;
	char name[NI_MAXHOST]; /* "" = no (confirmed) name */
};

/* Shared by every server in the process; a loop thread may own each. */
static struct name_slot name_cache[NAME_CACHE_SLOTS];
static pthread_mutex_t name_mu = PTHREAD_MUTEX_INITIALIZER;

static time_t mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static unsigned name_slot_of(const struct in6_addr *a)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ a->s6_addr[i]) * 16777619u;
	return h % NAME_CACHE_SLOTS;
}

/* Reverse lookup, then forward confirmation: a PTR record alone is
 * whatever the owner of the address's reverse zone says. */
static void name_resolve(const struct in6_addr *a, char *name, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &a->s6_addr[12], 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = *a;
		sl = sizeof(*sin6);
	}
	name[0] = '\0';
	char host[NI_MAXHOST];
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL, 0, NI_NAMEREQD) != 0)
		return;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return;
	bool confirmed = false;
	for (struct addrinfo *ai = res; ai != NULL && !confirmed; ai = ai->ai_next) {
		struct in6_addr b;
		if (peer_in6((const struct sockaddr_storage *)(void *)ai->ai_addr, &b) &&
		    memcmp(&b, a, sizeof(b)) == 0)
			confirmed = true;
	}
	freeaddrinfo(res);
	if (!confirmed)
		return;
	size_t n = strlen(host);
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n >= len)
		return;
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)host[i]);
	name[n] = '\0';
}

/* The peer's confirmed name, lower case; false when it has none. */
static bool peer_name(const struct in6_addr *a, char *name, size_t len)
{
	unsigned i = name_slot_of(a);
	time_t now = mono_sec();
	pthread_mutex_lock(&name_mu);
	struct name_slot *s = &name_cache[i];
	if (s->used && s->expires > now && memcmp(&s->addr, a, sizeof(*a)) == 0) {
		snprintf(name, len, "%s", s->name);
		pthread_mutex_unlock(&name_mu);
		return name[0] != '\0';
	}
	pthread_mutex_unlock(&name_mu);

	/* not under the lock: DNS may take a while */
	char found[NI_MAXHOST];
	name_resolve(a, found, sizeof(found));

	pthread_mutex_lock(&name_mu);
	s->used = true;
	s->addr = *a;
	s->expires = now + (found[0] ? NAME_TTL_FOUND_SEC : NAME_TTL_MISSING_SEC);
	snprintf(s->name, sizeof(s->name), "%s", found);
	pthread_mutex_unlock(&name_mu);
	snprintf(name, len, "%s", found);
	return name[0] != '\0';
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_wild_char(char c)
{
	return c == '*' || c == '?' || c == '[' || c == ']' || c == '!';
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* Decimal, no sign, fits in max. */
static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "10.0.0.0/8", "10.0.0.0/255.0.0.0", "fd00::/8". */
static int parse_cidr(const char *tok, struct export_rule *r, char *err, size_t errlen)
{
	const char *slash = strchr(tok, '/');
	char addr[INET6_ADDRSTRLEN];
	size_t alen = (size_t)(slash - tok);
	const char *pfx = slash + 1;
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	struct in_addr a4;
	struct in6_addr a6;
	uint64_t bits;
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		struct in_addr m4;
		if (parse_uint(pfx, strlen(pfx), 32, &bits)) {
			/* bits */
		} else if (strchr(pfx, '.') != NULL && inet_pton(AF_INET, pfx, &m4) == 1) {
			uint32_t m = ntohl(m4.s_addr);
			uint32_t inv = ~m;
			if ((inv & (inv + 1)) != 0) /* not ones then zeros */
				goto bad;
			bits = (unsigned)__builtin_popcount(m);
		} else {
			goto bad;
		}
		r->kind = M_CIDR4;
		v4_mapped(&a4, &r->addr);
		r->prefix = 96 + (unsigned)bits;
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (!parse_uint(pfx, strlen(pfx), 128, &bits))
			goto bad;
		r->kind = M_CIDR6;
		r->addr = a6;
		r->prefix = (unsigned)bits;
	} else {
		goto bad;
	}
	mask_host_bits(&r->addr, r->prefix);
	return 0;
bad:
	seterr(err, errlen, "bad address prefix '%s'", tok);
	return -EINVAL;
}

/* The options inside the parentheses, comma separated. */
static int parse_opts(const char *s, size_t n, const char *client, struct export_rule *r, char *err,
		      size_t errlen)
{
	bool all_squash = false, root_squash = true;
	size_t i = 0;
	while (n > 0 && i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t b = i, e = j;
		while (b < e && isspace((unsigned char)s[b]))
			b++;
		while (e > b && isspace((unsigned char)s[e - 1]))
			e--;
		const char *o = s + b;
		size_t len = e - b;
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(o, lit, len) == 0)
		uint64_t v;
		if (IS("rw")) {
			r->rw = true;
		} else if (IS("ro")) {
			r->rw = false;
		} else if (IS("root_squash")) {
			root_squash = true;
		} else if (IS("no_root_squash")) {
			root_squash = false;
		} else if (IS("all_squash")) {
			all_squash = true;
		} else if (IS("no_all_squash")) {
			all_squash = false;
		} else if (IS("secure")) {
			r->secure = true;
		} else if (IS("insecure")) {
			r->secure = false;
		} else if (IS("sync") || IS("async") || IS("subtree_check") ||
			   IS("no_subtree_check") || IS("wdelay") || IS("no_wdelay")) {
			/* accepted, ignored: see the top of the file */
		} else if (len > 8 && memcmp(o, "anonuid=", 8) == 0 &&
			   parse_uint(o + 8, len - 8, UINT32_MAX, &v)) {
			r->anonuid = (uint32_t)v;
		} else if (len > 8 && memcmp(o, "anongid=", 8) == 0 &&
			   parse_uint(o + 8, len - 8, UINT32_MAX, &v)) {
			r->anongid = (uint32_t)v;
		} else if (len == 0) {
			seterr(err, errlen, "empty option for client '%s'", client);
			return -EINVAL;
		} else {
			seterr(err, errlen, "bad option '%.*s' for client '%s'", (int)len, o,
			       client);
			return -EINVAL;
		}
#undef IS
		i = j + 1;
	}
	r->squash = all_squash ? SQUASH_ALL : root_squash ? SQUASH_ROOT : SQUASH_NONE;
	return 0;
}

static struct export_rule *rule_new(const struct export_rule *tmpl)
{
	struct export_rule *r = malloc(sizeof(*r));
	if (r != NULL)
		*r = *tmpl;
	return r;
}

/* A host name: one rule per address it resolves to, appended to out. */
static int add_host(const char *name, const struct export_rule *tmpl, struct export_rule_list *out,
		    char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		seterr(err, errlen, "cannot resolve host '%s': %s", name, gai_strerror(rc));
		return -EINVAL;
	}
	struct export_rule *first = NULL;
	rc = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		struct in6_addr a;
		if (!peer_in6((const struct sockaddr_storage *)(void *)ai->ai_addr, &a))
			continue;
		bool dup = false;
		for (struct export_rule *q = first; q != NULL && !dup; q = TAILQ_NEXT(q, link))
			dup = memcmp(&q->addr, &a, sizeof(a)) == 0;
		if (dup)
			continue;
		struct export_rule *r = rule_new(tmpl);
		if (r == NULL) {
			rc = -ENOMEM;
			break;
		}
		r->kind = M_HOST;
		r->addr = a;
		r->prefix = 128;
		TAILQ_INSERT_TAIL(out, r, link);
		if (first == NULL)
			first = r;
	}
	freeaddrinfo(res);
	if (rc == 0 && first == NULL) {
		seterr(err, errlen, "host '%s' has no IP address", name);
		rc = -EINVAL;
	}
	if (rc == -ENOMEM)
		seterr(err, errlen, "out of memory");
	return rc;
}

/* One client token (NUL-terminated, at most 255 bytes) with its options. */
static int add_client(const char *client, const char *opts, size_t optlen,
		      struct export_rule_list *out, char *err, size_t errlen)
{
	struct export_rule t;
	memset(&t, 0, sizeof(t));
	t.rw = false;
	t.squash = SQUASH_ROOT;
	t.anonuid = ANON_ID_DEFAULT;
	t.anongid = ANON_ID_DEFAULT;
	t.secure = true;
	int rc = parse_opts(opts, optlen, client, &t, err, errlen);
	if (rc != 0)
		return rc;

	struct in_addr a4;
	struct in6_addr a6;
	bool wild = false, name_ok = true, letters = false;
	for (const char *p = client; *p; p++) {
		if (is_wild_char(*p))
			wild = true;
		else if (!is_name_char(*p) && *p != ':')
			name_ok = false;
		if (isalpha((unsigned char)*p))
			letters = true;
	}

	if (strcmp(client, "*") == 0) {
		t.kind = M_ANY;
	} else if (client[0] == '@') {
		seterr(err, errlen, "netgroups are not supported: '%s'", client);
		return -EINVAL;
	} else if (strchr(client, '/') != NULL) {
		rc = parse_cidr(client, &t, err, errlen);
		if (rc != 0)
			return rc;
	} else if (inet_pton(AF_INET, client, &a4) == 1) {
		t.kind = M_CIDR4;
		v4_mapped(&a4, &t.addr);
		t.prefix = 128;
	} else if (inet_pton(AF_INET6, client, &a6) == 1) {
		t.kind = M_CIDR6;
		t.addr = a6;
		t.prefix = 128;
	} else if (!name_ok || (!wild && strchr(client, ':') != NULL)) {
		seterr(err, errlen, "bad client '%s'", client);
		return -EINVAL;
	} else if (!wild && !letters) {
		/* "1.2.3" or "300.1.1.1": never a name; getaddrinfo would
		 * take the first as inet_aton shorthand */
		seterr(err, errlen, "bad address '%s'", client);
		return -EINVAL;
	} else {
		size_t n = strlen(client);
		for (size_t i = 0; i <= n; i++)
			t.pattern[i] = (char)tolower((unsigned char)client[i]);
		if (!wild)
			return add_host(t.pattern, &t, out, err, errlen);
		t.kind = M_WILD;
	}
	struct export_rule *r = rule_new(&t);
	if (r == NULL) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(out, r, link);
	return 0;
}

int export_parse(const char *spec, struct export_rule_list *out, char *err, size_t errlen)
{
	TAILQ_INIT(out);
	seterr(err, errlen, "%s", "");
	const char *p = spec;
	int rc = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		const char *c = p;
		while (*p && *p != '(' && !isspace((unsigned char)*p))
			p++;
		size_t clen = (size_t)(p - c);
		const char *opts = "";
		size_t optlen = 0;
		if (clen == 0) {
			const char *close = strchr(p, ')');
			int shown = close ? (int)(close - p + 1) : (int)strlen(p);
			seterr(err, errlen,
			       "options without a client: '%.*s' (a stray space? '*%.*s' "
			       "exports to everyone)",
			       shown, p, shown, p);
			rc = -EINVAL;
			goto fail;
		}
		if (clen >= sizeof(((struct export_rule *)0)->pattern)) {
			seterr(err, errlen, "client name too long: '%.*s...'", 40, c);
			rc = -EINVAL;
			goto fail;
		}
		if (*p == '(') {
			const char *close = strchr(p, ')');
			if (close == NULL) {
				seterr(err, errlen, "missing ')' after '%s'", c);
				rc = -EINVAL;
				goto fail;
			}
			opts = p + 1;
			optlen = (size_t)(close - opts);
			p = close + 1;
			if (*p && !isspace((unsigned char)*p)) {
				const char *e = p;
				while (*e && !isspace((unsigned char)*e))
					e++;
				seterr(err, errlen, "junk after ')': '%.*s'", (int)(e - c), c);
				rc = -EINVAL;
				goto fail;
			}
			if (memchr(opts, '(', optlen) != NULL) {
				seterr(err, errlen, "bad options '%.*s'", (int)(p - c), c);
				rc = -EINVAL;
				goto fail;
			}
		}
		char client[256];
		memcpy(client, c, clen);
		client[clen] = '\0';
		rc = add_client(client, opts, optlen, out, err, errlen);
		if (rc != 0)
			goto fail;
	}
	if (TAILQ_EMPTY(out)) {
		seterr(err, errlen, "no clients given");
		return -EINVAL;
	}
	return 0;
fail:
	export_rules_free(out);
	return rc;
}

void export_rules_free(struct export_rule_list *l)
{
	struct export_rule *r;
	while ((r = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, r, link);
		free(r);
	}
}

/* ---- matching ----------------------------------------------------------- */

static bool address_pattern(const char *pat)
{
	if (strchr(pat, ':') != NULL)
		return true;
	for (const char *p = pat; *p; p++)
		if (isalpha((unsigned char)*p))
			return false;
	return true;
}

static bool wild_match(const struct export_rule *r, const struct in6_addr *a)
{
	char num[INET6_ADDRSTRLEN];
	in6_to_str(a, num, sizeof(num));
	if (fnmatch(r->pattern, num, FNM_CASEFOLD) == 0)
		return true;
	if (address_pattern(r->pattern))
		return false;
	char name[NI_MAXHOST];
	return peer_name(a, name, sizeof(name)) && fnmatch(r->pattern, name, FNM_CASEFOLD) == 0;
}

const struct export_rule *export_match(const struct nfs_export *e,
				       const struct sockaddr_storage *peer)
{
	struct in6_addr a;
	bool ip = peer_in6(peer, &a);
	const struct export_rule *r;
	TAILQ_FOREACH(r, &e->rules, link)
	{
		switch (r->kind) {
		case M_ANY:
			return r;
		case M_HOST:
		case M_CIDR4:
		case M_CIDR6:
			if (ip && prefix_match(&a, &r->addr, r->prefix))
				return r;
			break;
		case M_WILD:
			if (ip && wild_match(r, &a))
				return r;
			break;
		}
	}
	return NULL;
}

/* ---- credentials -------------------------------------------------------- */

void export_cred(const struct export_rule *r, const struct rpc_cred *rc, struct wafl_cred *out)
{
	memset(out, 0, sizeof(*out));
	if (rc->flavor != AUTH_SYS_FLAVOR || r->squash == SQUASH_ALL) {
		/* AUTH_NONE (or anything not AUTH_SYS) says nobody; all_squash
		 * drops the supplementary groups too, as Linux does */
		out->uid = r->anonuid;
		out->gid = r->anongid;
		return;
	}
	out->uid = rc->uid;
	out->gid = rc->gid;
	uint32_t n = rc->ngids;
	if (n > RPC_MAX_GIDS)
		n = RPC_MAX_GIDS;
	if (n > WAFL_NGROUPS_MAX)
		n = WAFL_NGROUPS_MAX;
	out->ngroups = n;
	memcpy(out->groups, rc->gids, n * sizeof(out->groups[0]));
	if (r->squash == SQUASH_ROOT) {
		if (out->uid == 0)
			out->uid = r->anonuid;
		if (out->gid == 0)
			out->gid = r->anongid;
		for (uint32_t i = 0; i < n; i++)
			if (out->groups[i] == 0)
				out->groups[i] = r->anongid;
	}
}

/* ---- lookup --------------------------------------------------------------- */

/* Paths compare with runs of '/' as one and trailing '/' ignored, so a
 * client's "/vol/vol0/" finds "/vol/vol0". */
static bool path_eq(const char *a, const char *b)
{
	for (;;) {
		while (a[0] == '/' && (a[1] == '/' || a[1] == '\0'))
			a++;
		while (b[0] == '/' && (b[1] == '/' || b[1] == '\0'))
			b++;
		if (*a != *b)
			return false;
		if (*a == '\0')
			return true;
		a++;
		b++;
	}
}

struct nfs_export *export_by_path(struct nfs_server *s, const char *path)
{
	struct nfs_export *e;
	TAILQ_FOREACH(e, &s->exports, link)
	{
		if (path_eq(e->path, path))
			return e;
	}
	return NULL;
}

struct nfs_export *export_by_id(struct nfs_server *s, uint16_t id)
{
	struct nfs_export *e;
	TAILQ_FOREACH(e, &s->exports, link)
	{
		if (e->id == id)
			return e;
	}
	return NULL;
}
