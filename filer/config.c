/*
 * config.c - filer.conf(5): the parser, the embedded default, and the
 * writer for the state files (which are filer.conf fragments).
 *
 * The format is line-based on purpose: one setting per line, words
 * separated by blanks, '#' starts a comment, a trailing ';' is ignored.
 *
 *   key value...                     a global setting
 *   aggregate NAME {                 an aggregate (or traditional volume),
 *       key value...                 one setting per line
 *   }
 *   export PATH VOLUME CLIENTS...    an export, exports(5) client syntax
 *
 * Every error names FILE:LINE and the word at fault; the parser stops at
 * the first one. Paths that are not absolute are relative to home; they
 * are resolved when the filer starts (state.c), not here, so that --home
 * on the command line moves them too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "filer/filer.h"

#define MAX_WORDS   (FILER_MAX_DISKS + 8)
#define MAX_LINE    8192
#define CLIENTS_MAX 2047 /* what nfs/ keeps of a client list */

/* ---- values ---------------------------------------------------------- */

int conf_parse_size(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int conf_parse_duration_ms(const char *s, unsigned *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned long long mul;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60000;
	else
		return -EINVAL;
	if (v > UINT_MAX / mul)
		return -ERANGE;
	*out = (unsigned)(v * mul);
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"on", "yes", "true", "1"};
	static const char *no[] = {"off", "no", "false", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool conf_valid_name(const char *n)
{
	return wafl_name_valid(n); /* one rule, kept by wafl/ */
}

/* A word the format can carry: no blanks, no '#', no ';' at the end, no
 * braces alone. Paths written back into state files must be such words. */
bool conf_valid_word(const char *w)
{
	if (!w || !*w || !strcmp(w, "{") || !strcmp(w, "}"))
		return false;
	for (const char *p = w; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '#')
			return false;
	return w[strlen(w) - 1] != ';';
}

/* ---- the struct ------------------------------------------------------ */

void conf_aggr_free(struct conf_aggr *a)
{
	for (unsigned i = 0; i < a->ndisks; i++)
		free(a->disks[i]);
	free(a->nvlog);
	memset(a, 0, sizeof(*a));
}

int conf_aggr_copy(struct conf_aggr *dst, const struct conf_aggr *src)
{
	*dst = *src;
	for (unsigned i = 0; i < src->ndisks; i++)
		dst->disks[i] = NULL;
	dst->nvlog = NULL;
	dst->ndisks = 0;
	for (unsigned i = 0; i < src->ndisks; i++) {
		if (!(dst->disks[i] = strdup(src->disks[i])))
			goto nomem;
		dst->ndisks++;
	}
	if (src->nvlog && !(dst->nvlog = strdup(src->nvlog)))
		goto nomem;
	return 0;
nomem:
	conf_aggr_free(dst);
	return -ENOMEM;
}

static void export_free(struct conf_export *e)
{
	free(e->path);
	free(e->volume);
	free(e->clients);
	memset(e, 0, sizeof(*e));
}

void conf_free(struct conf *c)
{
	free(c->home);
	free(c->listen);
	free(c->control_socket);
	free(c->control_group);
	free(c->metrics);
	free(c->default_volume);
	for (unsigned i = 0; i < c->naggrs; i++)
		conf_aggr_free(&c->aggrs[i]);
	for (unsigned i = 0; i < c->nexports; i++)
		export_free(&c->exports[i]);
	memset(c, 0, sizeof(*c));
}

void conf_exports_free(struct conf *c)
{
	for (unsigned i = 0; i < c->nexports; i++)
		export_free(&c->exports[i]);
	c->nexports = 0;
}

/* The global settings every configuration starts from. */
static int conf_globals(struct conf *c, const char *home, bool root)
{
	memset(c, 0, sizeof(*c));
	if (!home)
		home = getenv("FILER_HOME") && *getenv("FILER_HOME") ? getenv("FILER_HOME")
								     : "./var";
	c->home = strdup(home);
	c->listen = strdup("127.0.0.1");
	c->control_socket = strdup("filer.sock");
	c->port = root ? 2049 : 0;
	c->portmap_port = root ? 111 : 0;
	c->udp = true;
	c->portmapper = true;
	c->cp_interval_ms = 10000;
	c->cache_bytes = 256ull << 20;
	c->log_level = LOG_NOTICE;
	if (!c->home || !c->listen || !c->control_socket) {
		conf_free(c);
		return -ENOMEM;
	}
	return 0;
}

static void aggr_defaults(struct conf_aggr *a)
{
	memset(a, 0, sizeof(*a));
	a->disk_size_bytes = 2ull << 30;
	a->create = true;
}

void conf_default(struct conf *c, const char *home, bool root)
{
	if (conf_globals(c, home, root))
		abort(); /* out of memory at start: nothing sensible to do */
	struct conf_aggr *a = &c->aggrs[c->naggrs++];
	aggr_defaults(a);
	snprintf(a->name, sizeof(a->name), "aggr0");
	for (unsigned i = 0; i < 3; i++) {
		char d[16];
		snprintf(d, sizeof(d), "disk%u", i);
		a->disks[a->ndisks++] = strdup(d);
	}
	a->nvlog = strdup("nvlog");
	struct conf_export *e = &c->exports[c->nexports++];
	e->path = strdup("/vol/vol0");
	e->volume = strdup("vol0");
	e->clients = strdup("127.0.0.1(rw,insecure,no_root_squash)");
	c->default_volume = strdup("vol0");
	c->default_volume_bytes = 4ull << 30;
	if (!a->disks[0] || !a->disks[1] || !a->disks[2] || !a->nvlog || !e->path || !e->volume ||
	    !e->clients || !c->default_volume)
		abort();
}

/* ---- the parser ------------------------------------------------------- */

struct parser {
	const char *file;
	unsigned line;
	struct conf *c;
	char *err;
	size_t errlen;
	struct conf_aggr *aggr; /* inside an aggregate block */
	unsigned aggr_line;
	uint64_t seen; /* global keys given, one bit each */
	unsigned seen_line[64];
	uint32_t aseen; /* aggregate keys given */
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int set_str(struct parser *p, char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return perr(p, "out of memory");
	free(*dst);
	*dst = s;
	return 0;
}

enum gkey {
	G_HOME,
	G_LISTEN,
	G_PORT,
	G_UDP,
	G_PORTMAPPER,
	G_PORTMAP_PORT,
	G_CONTROL_SOCKET,
	G_CONTROL_GROUP,
	G_METRICS,
	G_CP_INTERVAL,
	G_CACHE,
	G_LOG_LEVEL,
	G_LOG,
};

static const char *const gkeys[] = {
	[G_HOME] = "home",
	[G_LISTEN] = "listen",
	[G_PORT] = "port",
	[G_UDP] = "udp",
	[G_PORTMAPPER] = "portmapper",
	[G_PORTMAP_PORT] = "portmap_port",
	[G_CONTROL_SOCKET] = "control_socket",
	[G_CONTROL_GROUP] = "control_group",
	[G_METRICS] = "metrics",
	[G_CP_INTERVAL] = "cp_interval",
	[G_CACHE] = "cache",
	[G_LOG_LEVEL] = "log_level",
	[G_LOG] = "log",
};

/* "ADDR:PORT" or "[V6ADDR]:PORT"; 0 or -EINVAL. */
int conf_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	unsigned long v;
	if (hl == 0 || hl >= hostlen || parse_uint(colon + 1, 65535, &v))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)v;
	return 0;
}

static int global_key(struct parser *p, char **w, unsigned n)
{
	struct conf *c = p->c;
	int k = -1;
	for (size_t i = 0; i < sizeof(gkeys) / sizeof(gkeys[0]); i++)
		if (!strcmp(w[0], gkeys[i]))
			k = (int)i;
	if (k < 0)
		return perr(p, "unknown setting '%s'", w[0]);
	if (n != 2)
		return perr(p, "'%s' takes one value, not %u", w[0], n - 1);
	if (p->seen & (1ull << k))
		return perr(p, "'%s' given twice (first on line %u)", w[0], p->seen_line[k]);
	p->seen |= 1ull << k;
	p->seen_line[k] = p->line;
	const char *v = w[1];
	unsigned long u;
	bool b;
	switch ((enum gkey)k) {
	case G_HOME:
		return set_str(p, &c->home, v);
	case G_LISTEN:
		return set_str(p, &c->listen, v);
	case G_PORT:
		if (parse_uint(v, 65535, &u))
			return perr(p, "'port' wants a number from 0 to 65535, not '%s'", v);
		c->port = (uint16_t)u;
		return 0;
	case G_PORTMAP_PORT:
		if (parse_uint(v, 65535, &u))
			return perr(p, "'portmap_port' wants a number from 0 to 65535, not '%s'",
				    v);
		c->portmap_port = (uint16_t)u;
		return 0;
	case G_UDP:
		if (parse_bool(v, &b))
			return perr(p, "'udp' wants on or off, not '%s'", v);
		c->udp = b;
		return 0;
	case G_PORTMAPPER:
		if (parse_bool(v, &b))
			return perr(p, "'portmapper' wants on or off, not '%s'", v);
		c->portmapper = b;
		return 0;
	case G_CONTROL_SOCKET:
		return set_str(p, &c->control_socket, v);
	case G_CONTROL_GROUP:
		return set_str(p, &c->control_group, v);
	case G_METRICS: {
		if (!strcasecmp(v, "off")) {
			free(c->metrics);
			c->metrics = NULL;
			return 0;
		}
		char host[256];
		uint16_t port;
		if (conf_split_hostport(v, host, sizeof(host), &port))
			return perr(p, "'metrics' wants ADDR:PORT or off, not '%s'", v);
		return set_str(p, &c->metrics, v);
	}
	case G_CP_INTERVAL: {
		unsigned ms;
		if (conf_parse_duration_ms(v, &ms) || ms == 0)
			return perr(p, "'cp_interval' wants a duration like 10s or 500ms, not '%s'",
				    v);
		c->cp_interval_ms = ms;
		return 0;
	}
	case G_CACHE: {
		uint64_t sz;
		if (conf_parse_size(v, &sz))
			return perr(p, "'cache' wants a size like 256M, not '%s'", v);
		if (sz < (4ull << 20))
			return perr(p, "'cache' must be at least 4M, not '%s'", v);
		c->cache_bytes = sz;
		return 0;
	}
	case G_LOG_LEVEL: {
		int l = flog_level_by_name(v);
		if (l < LOG_ERR)
			return perr(p,
				    "'log_level' wants err, warning, notice, info or debug, "
				    "not '%s'",
				    v);
		c->log_level = l;
		return 0;
	}
	case G_LOG:
		if (!strcmp(v, "stderr"))
			c->log_syslog = false;
		else if (!strcmp(v, "syslog"))
			c->log_syslog = true;
		else
			return perr(p, "'log' wants stderr or syslog, not '%s'", v);
		return 0;
	}
	return perr(p, "unknown setting '%s'", w[0]);
}

enum akey { A_DISKS, A_DISK_SIZE, A_RAID_GROUP_SIZE, A_NVLOG, A_NVLOG_SIZE, A_TYPE, A_CREATE };
static const char *const akeys[] = {
	[A_DISKS] = "disks",
	[A_DISK_SIZE] = "disk_size",
	[A_RAID_GROUP_SIZE] = "raid_group_size",
	[A_NVLOG] = "nvlog",
	[A_NVLOG_SIZE] = "nvlog_size",
	[A_TYPE] = "type",
	[A_CREATE] = "create",
};

static int aggr_key(struct parser *p, char **w, unsigned n)
{
	struct conf_aggr *a = p->aggr;
	int k = -1;
	for (size_t i = 0; i < sizeof(akeys) / sizeof(akeys[0]); i++)
		if (!strcmp(w[0], akeys[i]))
			k = (int)i;
	if (!strcmp(w[0], "disk"))
		k = A_DISKS;
	if (k < 0) {
		if (!strcmp(w[0], "aggregate") || !strcmp(w[0], "export"))
			return perr(p,
				    "'%s' inside aggregate %s: missing '}' (block opened on "
				    "line %u)",
				    w[0], a->name, p->aggr_line);
		return perr(p, "unknown aggregate setting '%s'", w[0]);
	}
	if (k == A_DISKS) {
		if (n < 2)
			return perr(p, "'%s' wants at least one path", w[0]);
		for (unsigned i = 1; i < n; i++) {
			if (a->ndisks >= FILER_MAX_DISKS)
				return perr(p, "aggregate %s: more than %u disks at '%s'", a->name,
					    FILER_MAX_DISKS, w[i]);
			for (unsigned j = 0; j < a->ndisks; j++)
				if (!strcmp(a->disks[j], w[i]))
					return perr(p, "aggregate %s: disk '%s' named twice",
						    a->name, w[i]);
			if (!(a->disks[a->ndisks] = strdup(w[i])))
				return perr(p, "out of memory");
			a->ndisks++;
		}
		return 0;
	}
	if (n != 2)
		return perr(p, "'%s' takes one value, not %u", w[0], n - 1);
	if (p->aseen & (1u << k))
		return perr(p, "'%s' given twice in aggregate %s", w[0], a->name);
	p->aseen |= 1u << k;
	const char *v = w[1];
	unsigned long u;
	switch ((enum akey)k) {
	case A_DISKS:
		break;
	case A_DISK_SIZE:
		if (conf_parse_size(v, &a->disk_size_bytes) || a->disk_size_bytes == 0)
			return perr(p, "'disk_size' wants a size like 2G, not '%s'", v);
		return 0;
	case A_RAID_GROUP_SIZE:
		if (parse_uint(v, FILER_MAX_DISKS, &u) || u == 0)
			return perr(p, "'raid_group_size' wants a number from 1 to %u, not '%s'",
				    FILER_MAX_DISKS, v);
		a->raid_group_size = (unsigned)u;
		return 0;
	case A_NVLOG:
		return set_str(p, &a->nvlog, v);
	case A_NVLOG_SIZE:
		if (conf_parse_size(v, &a->nvlog_size_bytes) || a->nvlog_size_bytes < (1ull << 20))
			return perr(p, "'nvlog_size' wants a size of at least 1M, not '%s'", v);
		return 0;
	case A_TYPE:
		if (!strcmp(v, "aggr"))
			a->trad = false;
		else if (!strcmp(v, "trad"))
			a->trad = true;
		else
			return perr(p, "'type' wants aggr or trad, not '%s'", v);
		return 0;
	case A_CREATE: {
		bool b;
		if (parse_bool(v, &b))
			return perr(p, "'create' wants yes or no, not '%s'", v);
		a->create = b;
		return 0;
	}
	}
	return perr(p, "unknown aggregate setting '%s'", w[0]);
}

static int aggr_open(struct parser *p, char **w, unsigned n)
{
	struct conf *c = p->c;
	if (n != 3 || strcmp(w[2], "{"))
		return perr(p, "'aggregate' wants: aggregate NAME {");
	if (!conf_valid_name(w[1]))
		return perr(p,
			    "bad aggregate name '%s' (letters, digits, '_', '-', '.'; at "
			    "most %u; not starting with a digit)",
			    w[1], WAFL_VOLNAME_MAX);
	for (unsigned i = 0; i < c->naggrs; i++)
		if (!strcmp(c->aggrs[i].name, w[1]))
			return perr(p, "aggregate '%s' defined twice (first on line %u)", w[1],
				    c->aggrs[i].line);
	if (c->naggrs >= FILER_MAX_AGGRS)
		return perr(p, "more than %u aggregates at '%s'", FILER_MAX_AGGRS, w[1]);
	struct conf_aggr *a = &c->aggrs[c->naggrs++];
	aggr_defaults(a);
	snprintf(a->name, sizeof(a->name), "%s", w[1]);
	a->line = p->line;
	p->aggr = a;
	p->aggr_line = p->line;
	p->aseen = 0;
	return 0;
}

static int aggr_close(struct parser *p)
{
	struct conf_aggr *a = p->aggr;
	if (!a->ndisks)
		return perr(p, "aggregate %s has no disks", a->name);
	if (!a->nvlog) {
		char nv[WAFL_VOLNAME_MAX + 16];
		snprintf(nv, sizeof(nv), "%s.nvlog", a->name);
		if (!(a->nvlog = strdup(nv)))
			return perr(p, "out of memory");
	}
	p->aggr = NULL;
	return 0;
}

static int export_line(struct parser *p, char **w, unsigned n)
{
	struct conf *c = p->c;
	if (n < 4)
		return perr(p, "'export' wants: export PATH VOLUME CLIENTS...");
	if (w[1][0] != '/')
		return perr(p, "export path '%s' is not absolute", w[1]);
	if (strlen(w[1]) > 1023)
		return perr(p, "export path '%.40s...' is too long", w[1]);
	if (!conf_valid_name(w[2]))
		return perr(p, "bad volume name '%s'", w[2]);
	for (unsigned i = 0; i < c->nexports; i++)
		if (!strcmp(c->exports[i].path, w[1]))
			return perr(p, "'%s' exported twice (first on line %u)", w[1],
				    c->exports[i].line);
	if (c->nexports >= FILER_MAX_EXPORTS)
		return perr(p, "more than %u exports at '%s'", FILER_MAX_EXPORTS, w[1]);
	size_t len = 0;
	for (unsigned i = 3; i < n; i++)
		len += strlen(w[i]) + 1;
	if (len - 1 > CLIENTS_MAX)
		return perr(p, "client list of '%s' is longer than %u bytes", w[1], CLIENTS_MAX);
	char *clients = malloc(len);
	if (!clients)
		return perr(p, "out of memory");
	clients[0] = '\0';
	for (unsigned i = 3; i < n; i++) {
		if (i > 3)
			strcat(clients, " ");
		strcat(clients, w[i]);
	}
	struct conf_export *e = &c->exports[c->nexports];
	e->path = strdup(w[1]);
	e->volume = strdup(w[2]);
	e->clients = clients;
	e->line = p->line;
	if (!e->path || !e->volume) {
		export_free(e);
		return perr(p, "out of memory");
	}
	c->nexports++;
	return 0;
}

/* Splits a line into words in place; '#' starts a comment. */
static int split(struct parser *p, char *s, char **w, unsigned *n)
{
	*n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			break;
		if (*n >= MAX_WORDS)
			return perr(p, "more than %u words", MAX_WORDS);
		w[(*n)++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			break;
		}
		if (*s)
			*s++ = '\0';
	}
	/* a trailing ';' ends the line, for those who like to write one */
	if (*n) {
		char *last = w[*n - 1];
		size_t l = strlen(last);
		if (last[l - 1] == ';') {
			last[l - 1] = '\0';
			if (l == 1)
				(*n)--;
		}
	}
	return 0;
}

static int parse_line(struct parser *p, char *line)
{
	char *w[MAX_WORDS];
	unsigned n;
	int rc = split(p, line, w, &n);
	if (rc || n == 0)
		return rc;
	if (p->aggr) {
		if (!strcmp(w[0], "}")) {
			if (n != 1)
				return perr(p, "'}' wants a line of its own");
			return aggr_close(p);
		}
		return aggr_key(p, w, n);
	}
	if (!strcmp(w[0], "}"))
		return perr(p, "'}' without an aggregate block");
	if (!strcmp(w[0], "{"))
		return perr(p, "'{' wants to follow 'aggregate NAME' on the same line");
	if (!strcmp(w[0], "aggregate"))
		return aggr_open(p, w, n);
	if (!strcmp(w[0], "export"))
		return export_line(p, w, n);
	return global_key(p, w, n);
}

int conf_parse(const char *name, const char *text, struct conf *c, char *err, size_t errlen)
{
	int rc = conf_globals(c, NULL, geteuid() == 0);
	if (rc) {
		snprintf(err, errlen, "%s: out of memory", name);
		return rc;
	}
	struct parser p = {.file = name, .c = c, .err = err, .errlen = errlen};
	char *line = malloc(MAX_LINE + 1);
	if (!line) {
		conf_free(c);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	const char *s = text;
	while (*s) {
		p.line++;
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (len > MAX_LINE) {
			rc = perr(&p, "line longer than %u bytes", MAX_LINE);
			break;
		}
		memcpy(line, s, len);
		line[len] = '\0';
		if (memchr(s, '\0', len) || strlen(line) != len) {
			rc = perr(&p, "a NUL byte");
			break;
		}
		if ((rc = parse_line(&p, line)))
			break;
		s += len + (nl ? 1 : 0);
	}
	free(line);
	if (!rc && p.aggr) {
		rc = perr(&p, "aggregate %s: missing '}' (block opened on line %u)", p.aggr->name,
			  p.aggr_line);
	}
	if (rc)
		conf_free(c);
	return rc;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	char buf[8192];
	size_t got;
	int rc = 0;
	if (!m) {
		rc = -ENOMEM;
	} else {
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			if (fwrite(buf, 1, got, m) != got)
				rc = -ENOMEM;
		if (ferror(f))
			rc = -EIO;
		if (fclose(m))
			rc = rc ? rc : -ENOMEM;
	}
	fclose(f);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		free(text);
		return rc;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: a NUL byte: not a text file", path);
		free(text);
		return -EINVAL;
	}
	rc = conf_parse(path, text, c, err, errlen);
	free(text);
	return rc;
}

/* ---- writing (state files) -------------------------------------------- */

static void fmt_size(FILE *o, const char *key, uint64_t v)
{
	static const char suf[] = "KMGT";
	int s = -1;
	while (s < 3 && v && (v & 1023) == 0) {
		v >>= 10;
		s++;
	}
	if (s >= 0)
		fprintf(o, "\t%s %llu%c\n", key, (unsigned long long)v, suf[s]);
	else
		fprintf(o, "\t%s %llu\n", key, (unsigned long long)v);
}

char *conf_aggr_text(const struct conf_aggr *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&text, &len);
	if (!o)
		return NULL;
	fprintf(o, "aggregate %s {\n", a->name);
	for (unsigned i = 0; i < a->ndisks; i++)
		fprintf(o, "\tdisk %s\n", a->disks[i]);
	if (a->disk_size_bytes)
		fmt_size(o, "disk_size", a->disk_size_bytes);
	if (a->raid_group_size)
		fprintf(o, "\traid_group_size %u\n", a->raid_group_size);
	if (a->nvlog)
		fprintf(o, "\tnvlog %s\n", a->nvlog);
	if (a->nvlog_size_bytes)
		fmt_size(o, "nvlog_size", a->nvlog_size_bytes);
	fprintf(o, "\ttype %s\n", a->trad ? "trad" : "aggr");
	fprintf(o, "\tcreate %s\n", a->create ? "yes" : "no");
	fprintf(o, "}\n");
	if (fclose(o)) {
		free(text);
		return NULL;
	}
	return text;
}
