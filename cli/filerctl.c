/*
 * filerctl - administer a running filer over its control socket.
 *
 *   filerctl [-s SOCKET] [--json] [--timeout SECONDS] COMMAND [ARGS]
 *
 * Commands follow ONTAP 7-Mode: aggr create|status|add-disks|check|destroy,
 * vol create|status|size|offline|online|restrict|destroy|options, vol
 * clone create|split, snap create|delete|rename|list|restore|sched
 * (|sched-run, a testing aid), export add|remove|list, stats, cp, version,
 * help. Output is a table for people, or with --json one JSON object per
 * command for scripts. See filerctl(8).
 *
 * Exit status: 0 done; 1 the filer said no (or aggr check found
 * problems); 2 usage error; 3 the filer could not be reached or refused
 * us (socket missing, nobody listening, permission denied, another
 * protocol version).
 *
 * The wire is FILERCTL (filer/ctl.x): ONC RPC with record marking over the
 * UNIX socket. The client side is small enough to write here (one call at
 * a time, one record each way), which keeps the errors in our own words.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "filer/ctl.h"

#define EXIT_FAILED	 1
#define EXIT_USAGE	 2
#define EXIT_UNREACHABLE 3
#define MAX_REPLY_BYTES	 (64u << 20)

/* ---- JSON output ------------------------------------------------------ */

/* A streaming writer: one object, commas and nesting tracked here. */
struct json {
	FILE *o;
	int depth;
	bool first[32]; /* nothing written yet at this depth */
};

static void j_str_raw(struct json *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	fputc('"', j->o);
	while (*p) {
		unsigned char ch = *p;
		if (ch == '"' || ch == '\\') {
			fputc('\\', j->o);
			fputc(ch, j->o);
		} else if (ch == '\n') {
			fputs("\\n", j->o);
		} else if (ch == '\t') {
			fputs("\\t", j->o);
		} else if (ch == '\r') {
			fputs("\\r", j->o);
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(j->o, "\\u%04x", ch);
		} else if (ch < 0x80) {
			fputc(ch, j->o);
		} else {
			/* pass valid UTF-8 through; any other byte as the code
			 * point of the same value, so the output stays JSON */
			int n = ch >= 0xf0 && ch < 0xf5 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 ? 2 : 0;
			int i = 1;
			while (n && i < n && (p[i] & 0xc0) == 0x80)
				i++;
			if (n && i == n) {
				fwrite(p, 1, (size_t)n, j->o);
				p += n;
				continue;
			}
			fprintf(j->o, "\\u%04x", ch);
		}
		p++;
	}
	fputc('"', j->o);
}

static void j_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->o);
	j->first[j->depth] = false;
	if (key) {
		j_str_raw(j, key);
		fputc(':', j->o);
	}
}

static void j_open(struct json *j, const char *key, char ch)
{
	if (j->depth >= 0)
		j_key(j, key);
	fputc(ch, j->o);
	j->depth++;
	j->first[j->depth] = true;
}

static void j_obj(struct json *j, const char *key)
{
	j_open(j, key, '{');
}

static void j_arr(struct json *j, const char *key)
{
	j_open(j, key, '[');
}

static void j_end_obj(struct json *j)
{
	fputc('}', j->o);
	j->depth--;
}

static void j_end_arr(struct json *j)
{
	fputc(']', j->o);
	j->depth--;
}

static void j_str(struct json *j, const char *key, const char *v)
{
	j_key(j, key);
	j_str_raw(j, v);
}

static void j_u64(struct json *j, const char *key, uint64_t v)
{
	j_key(j, key);
	fprintf(j->o, "%llu", (unsigned long long)v);
}

static void j_i64(struct json *j, const char *key, int64_t v)
{
	j_key(j, key);
	fprintf(j->o, "%lld", (long long)v);
}

static void j_bool(struct json *j, const char *key, bool v)
{
	j_key(j, key);
	fputs(v ? "true" : "false", j->o);
}

static void j_num(struct json *j, const char *key, double v)
{
	j_key(j, key);
	fprintf(j->o, "%.4f", v);
}

/* ---- the invocation --------------------------------------------------- */

struct ctx {
	const char *socket;
	bool json;
	int timeout_ms; /* < 0: wait for ever */
	int fd;		/* -1 until the first call */
	uint32_t xid;
	const char *cmd; /* "vol create", for messages */
	struct json j;	 /* --json: the one object being written */
	bool j_open;
};

/* Starts the JSON object of a command's answer: {"ok":..,"command":..  */
static void out_begin(struct ctx *x, bool ok)
{
	if (!x->json || x->j_open)
		return;
	x->j = (struct json){.o = stdout, .depth = -1};
	j_obj(&x->j, NULL);
	j_bool(&x->j, "ok", ok);
	j_str(&x->j, "command", x->cmd ? x->cmd : "");
	x->j_open = true;
}

static void out_end(struct ctx *x)
{
	if (!x->json || !x->j_open)
		return;
	while (x->j.depth > 0) {
		/* callers close what they open; this only guards the shape */
		fputc('}', stdout);
		x->j.depth--;
	}
	j_end_obj(&x->j);
	fputc('\n', stdout);
	x->j_open = false;
}

/* An error: words on stderr, then the filer's own sentence (detail) unless
 * quiet; with --json also {"ok":false,"error":{..}} on stdout. */
static int report_q(struct ctx *x, int code, int err, const char *detail, bool quiet,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int report_q(struct ctx *x, int code, int err, const char *detail, bool quiet,
		    const char *fmt, ...)
{
	char words[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	fprintf(stderr, "filerctl: %s\n", words);
	if (!quiet && detail && *detail && !strstr(words, detail))
		fprintf(stderr, "filerctl: (the filer says: %s)\n", detail);
	if (x->json) {
		out_begin(x, false);
		j_obj(&x->j, "error");
		j_i64(&x->j, "exit", code);
		if (err) {
			const char *name = strerrorname_np(err);
			j_i64(&x->j, "errno", err);
			j_str(&x->j, "code", name ? name : "");
		} else {
			j_str(&x->j, "code", code == EXIT_USAGE ? "usage" : "failed");
		}
		j_str(&x->j, "message", words);
		j_str(&x->j, "detail", detail ? detail : "");
		j_end_obj(&x->j);
		out_end(x);
	}
	return code;
}

#define report(x, code, err, detail, ...) report_q(x, code, err, detail, false, __VA_ARGS__)
/* ---- sizes and times -------------------------------------------------- */

/* "10G", "1.5T", "512M", "4096": bytes (binary units; K, M, G, T, P,
 * optionally followed by B or iB). A fraction needs a unit. */
static bool parse_size(const char *s, uint64_t *out)
{
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return false;
	uint64_t whole = 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return false;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	uint64_t frac = 0, scale = 1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		for (; isdigit((unsigned char)*p); p++)
			if (scale < 1000000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
	}
	unsigned shift = 0;
	const char *units = "KMGTP";
	const char *u = *p ? strchr(units, toupper((unsigned char)*p)) : NULL;
	if (u) {
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (!strcmp(p, "B") || !strcmp(p, "iB"))
			p += strlen(p);
	} else if (!strcmp(p, "B")) {
		p++;
	}
	if (*p || (frac && !shift))
		return false;
	if (whole > (UINT64_MAX >> shift))
		return false;
	unsigned __int128 v = (unsigned __int128)whole << shift;
	v += ((unsigned __int128)frac << shift) / scale;
	if (v > UINT64_MAX)
		return false;
	*out = (uint64_t)v;
	return true;
}

/* 4G, 1.5G, 512M, 12K, 100 (bytes): exact values without decimals, the
 * others with one. */
static const char *human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	if (v < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return buf;
	}
	/* under 1000 of a unit, so 1023.9M reads 1.0G */
	int u = 0;
	double d = (double)v / 1024;
	while (d >= 999.95 && u < 5) {
		d /= 1024;
		u++;
	}
	uint64_t unit = 1ull << (10 * (u + 1));
	if (v % unit == 0)
		snprintf(buf, len, "%llu%c", (unsigned long long)(v / unit), units[u]);
	else
		snprintf(buf, len, "%.1f%c", d, units[u]);
	return buf;
}

static const char *duration(uint64_t usec, char *buf, size_t len)
{
	uint64_t s = usec / 1000000;
	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh%02llum", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum%02llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (usec >= 1000000)
		snprintf(buf, len, "%.1fs", (double)usec / 1e6);
	else if (usec >= 1000)
		snprintf(buf, len, "%.1fms", (double)usec / 1e3);
	else
		snprintf(buf, len, "%lluus", (unsigned long long)usec);
	return buf;
}

static unsigned pct(uint64_t part, uint64_t whole)
{
	return whole ? (unsigned)((part * 100 + whole / 2) / whole) : 0;
}

/* ---- tables ----------------------------------------------------------- */

#define TABLE_COLS 16
#define TABLE_CELL 256

/* Rows of cells, printed with every column as wide as its widest cell. */
struct table {
	unsigned ncols, nrows, cap;
	char (*cells)[TABLE_COLS][TABLE_CELL];
	bool right[TABLE_COLS]; /* numbers align right */
};

static void t_row(struct table *t, ...)
{
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		void *p = realloc(t->cells, cap * sizeof(*t->cells));
		if (!p)
			return;
		t->cells = p;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, t);
	for (unsigned i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		snprintf(t->cells[t->nrows][i], TABLE_CELL, "%s", s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

/* Columns on the terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void t_print(struct table *t)
{
	size_t w[TABLE_COLS] = {0};
	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++)
			if (width(t->cells[r][c]) > w[c])
				w[c] = width(t->cells[r][c]);
	for (unsigned r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r][c];
			bool last = c + 1 == t->ncols;
			int pad = (int)(w[c] - width(cell));
			if (t->right[c])
				printf("%*s%s", pad, "", cell);
			else if (last)
				printf("%s", cell);
			else
				printf("%s%*s", cell, pad, "");
			if (!last)
				fputs("  ", stdout);
		}
		fputc('\n', stdout);
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- the RPC client ----------------------------------------------------- */

static int connect_filer(struct ctx *x)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(x->socket) >= sizeof(sun.sun_path))
		return report(x, EXIT_UNREACHABLE, ENAMETOOLONG, NULL,
			      "cannot reach the filer: socket path %s is too long", x->socket);
	memcpy(sun.sun_path, x->socket, strlen(x->socket) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report(x, EXIT_UNREACHABLE, errno, NULL,
			      "cannot reach the filer: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		struct stat st;
		close(fd);
		switch (e) {
		case ENOENT:
			return report(
				x, EXIT_UNREACHABLE, e, NULL,
				"cannot reach the filer: no control socket at %s (is the filer "
				"running? see -s and $FILER_HOME)",
				x->socket);
		case ECONNREFUSED:
			if (stat(x->socket, &st) == 0 && !S_ISSOCK(st.st_mode))
				return report(x, EXIT_UNREACHABLE, ENOTSOCK, NULL,
					      "cannot reach the filer: %s is not a socket",
					      x->socket);
			return report(x, EXIT_UNREACHABLE, e, NULL,
				      "cannot reach the filer: nothing listens on %s (connection "
				      "refused: the filer is not running)",
				      x->socket);
		case EACCES:
		case EPERM:
			return report(
				x, EXIT_UNREACHABLE, e, NULL,
				"cannot reach the filer: permission denied on %s (the control "
				"socket is for root, the filer's user and its control group)",
				x->socket);
		case ENOTSOCK:
			return report(x, EXIT_UNREACHABLE, e, NULL,
				      "cannot reach the filer: %s is not a socket", x->socket);
		default:
			return report(x, EXIT_UNREACHABLE, e, NULL,
				      "cannot reach the filer at %s: %s", x->socket, strerror(e));
		}
	}
	x->fd = fd;
	return 0;
}

/* Waits for fd to be ready; false on timeout. */
static bool wait_fd(struct ctx *x, short events)
{
	struct pollfd p = {.fd = x->fd, .events = events};
	int n;
	while ((n = poll(&p, 1, x->timeout_ms)) < 0 && errno == EINTR)
		;
	return n > 0;
}

static int send_all(struct ctx *x, const uint8_t *p, size_t len)
{
	while (len) {
		if (!wait_fd(x, POLLOUT))
			return -ETIMEDOUT;
		ssize_t n = send(x->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(struct ctx *x, uint8_t *p, size_t len)
{
	while (len) {
		if (!wait_fd(x, POLLIN))
			return -ETIMEDOUT;
		ssize_t n = recv(x->fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One whole record (all its fragments) into *out (malloc'd). */
static int recv_record(struct ctx *x, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	for (;;) {
		uint8_t m[4];
		int rc = recv_all(x, m, 4);
		if (rc) {
			free(buf);
			return rc;
		}
		uint32_t mark =
			(uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
		uint32_t flen = mark & 0x7fffffffu;
		if (len + flen > MAX_REPLY_BYTES) {
			free(buf);
			return -EMSGSIZE;
		}
		uint8_t *nb = realloc(buf, len + flen + 1);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		if ((rc = recv_all(x, buf + len, flen))) {
			free(buf);
			return rc;
		}
		len += flen;
		if (mark >> 31)
			break;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int transport_error(struct ctx *x, int rc)
{
	if (rc == -ETIMEDOUT)
		return report(x, EXIT_UNREACHABLE, ETIMEDOUT, NULL,
			      "the filer at %s did not answer in %d s (--timeout)", x->socket,
			      x->timeout_ms / 1000);
	if (rc == -ECONNRESET || rc == -EPIPE)
		return report(x, EXIT_UNREACHABLE, -rc, NULL,
			      "the filer at %s closed the connection without an answer", x->socket);
	return report(x, EXIT_UNREACHABLE, -rc, NULL, "talking to the filer at %s: %s", x->socket,
		      strerror(-rc));
}

static const char *auth_words(uint32_t why)
{
	switch (why) {
	case AUTH_TOOWEAK:
		return "permission denied: the filer accepts control requests only from root, "
		       "its own user and members of its control group";
	case AUTH_BADCRED:
	case AUTH_REJECTEDCRED:
		return "the filer rejected our credentials";
	default:
		return "the filer refused us (authentication error)";
	}
}

/*
 * Calls proc with args; decodes the result into res (which the caller frees
 * with xdr_free). 0, or the exit status after the error has been reported.
 */
static int call(struct ctx *x, uint32_t proc, xdrproc_t ain, void *args, xdrproc_t rout, void *res)
{
	int rc;
	if (x->fd < 0 && (rc = connect_filer(x)))
		return rc;
	unsigned long asize = args ? xdr_sizeof(ain, args) : 0;
	if (args && asize == 0)
		return report(x, EXIT_USAGE, EINVAL, NULL,
			      "an argument is too long for the control protocol");
	size_t len = 40 + asize;
	uint8_t *buf = malloc(4 + len);
	if (!buf)
		return report(x, EXIT_FAILED, ENOMEM, NULL, "out of memory");
	XDR xe;
	xdrmem_create(&xe, (char *)buf + 4, (u_int)len, XDR_ENCODE);
	uint32_t hdr[10] = {++x->xid,
			    0 /* CALL */,
			    2,
			    FILERCTL_PROG,
			    FILERCTL_VERS,
			    proc,
			    0,
			    0 /* AUTH_NONE */,
			    0,
			    0};
	bool ok = true;
	for (int i = 0; i < 10; i++)
		ok = ok && xdr_u_int(&xe, &hdr[i]);
	ok = ok && (!args || ain(&xe, args));
	xdr_destroy(&xe);
	if (!ok) {
		free(buf);
		return report(x, EXIT_USAGE, EINVAL, NULL, "cannot encode the request");
	}
	uint32_t mark = 0x80000000u | (uint32_t)len;
	buf[0] = (uint8_t)(mark >> 24);
	buf[1] = (uint8_t)(mark >> 16);
	buf[2] = (uint8_t)(mark >> 8);
	buf[3] = (uint8_t)mark;
	rc = send_all(x, buf, len + 4);
	free(buf);
	if (rc)
		return transport_error(x, rc);
	uint8_t *rep;
	size_t replen;
	if ((rc = recv_record(x, &rep, &replen)))
		return transport_error(x, rc);

	XDR xd;
	xdrmem_create(&xd, (char *)rep, (u_int)replen, XDR_DECODE);
	uint32_t xid, mtype, rstat, a, b, c;
	int ret = 0;
	if (!xdr_u_int(&xd, &xid) || !xdr_u_int(&xd, &mtype) || xid != x->xid || mtype != 1 ||
	    !xdr_u_int(&xd, &rstat)) {
		ret = report(x, EXIT_UNREACHABLE, EPROTO, NULL,
			     "%s does not answer like a filer (not an RPC reply)", x->socket);
	} else if (rstat == 1) { /* MSG_DENIED */
		if (!xdr_u_int(&xd, &a) || !xdr_u_int(&xd, &b))
			ret = report(x, EXIT_UNREACHABLE, EPROTO, NULL, "a garbled reply");
		else if (a == 1) /* AUTH_ERROR */
			ret = report(x, EXIT_UNREACHABLE, EACCES, NULL, "%s", auth_words(b));
		else
			ret = report(x, EXIT_UNREACHABLE, EPROTO, NULL,
				     "the filer does not speak ONC RPC version 2");
	} else if (!xdr_u_int(&xd, &a) || !xdr_u_int(&xd, &b) ||
		   !xdr_setpos(&xd, xdr_getpos(&xd) + ((b + 3) & ~3u)) || !xdr_u_int(&xd, &c)) {
		ret = report(x, EXIT_UNREACHABLE, EPROTO, NULL, "a garbled reply");
	} else {
		uint32_t lo = 0, hi = 0;
		switch (c) {
		case SUCCESS:
			if (rout && !rout(&xd, res))
				ret = report(x, EXIT_FAILED, EPROTO, NULL,
					     "the filer's answer does not decode");
			break;
		case PROG_UNAVAIL:
			ret = report(x, EXIT_UNREACHABLE, EPROTONOSUPPORT, NULL,
				     "%s is not a filer control socket (it does not serve "
				     "FILERCTL)",
				     x->socket);
			break;
		case PROG_MISMATCH:
			(void)(xdr_u_int(&xd, &lo) && xdr_u_int(&xd, &hi));
			ret = report(
				x, EXIT_UNREACHABLE, EPROTONOSUPPORT, NULL,
				"version mismatch: this filerctl speaks control protocol %u, the "
				"filer speaks %u..%u; use the filerctl that came with the filer",
				FILERCTL_VERS, lo, hi);
			break;
		case PROC_UNAVAIL:
			ret = report(x, EXIT_FAILED, EOPNOTSUPP, NULL,
				     "the filer does not know '%s' (an older filer?)", x->cmd);
			break;
		case GARBAGE_ARGS:
			ret = report(x, EXIT_FAILED, EPROTO, NULL,
				     "the filer could not decode the request");
			break;
		default:
			ret = report(x, EXIT_FAILED, EIO, NULL,
				     "the filer failed to answer (RPC system error)");
			break;
		}
	}
	xdr_destroy(&xd);
	free(rep);
	return ret;
}

#define CALL(x, proc, atype, args, rtype, res)                                                     \
	call((x), (proc), (xdrproc_t)xdr_##atype, (args), (xdrproc_t)xdr_##rtype, (res))
#define CALL0(x, proc, rtype, res) call((x), (proc), NULL, NULL, (xdrproc_t)xdr_##rtype, (res))

/* ---- the filer said no ------------------------------------------------ */

/*
 * An operation failed: the errno in clear words for what was being done to
 * what (kind "volume", name "vol1"), the filer's own sentence after it.
 */
static int refused(struct ctx *x, int status, const char *msg, const char *kind, const char *name)
{
	const char *k = kind ? kind : "object";
	switch (status) {
	case ENOENT:
		if (kind && name)
			return report_q(x, EXIT_FAILED, status, msg, true, "no such %s '%s'", k,
					name);
		return report(x, EXIT_FAILED, status, msg, "%s", msg && *msg ? msg : "not found");
	case EEXIST:
		if (kind && name)
			return report_q(x, EXIT_FAILED, status, msg, true, "%s '%s' already exists",
					k, name);
		return report(x, EXIT_FAILED, status, msg, "already exists");
	case ENOSPC:
		return report(x, EXIT_FAILED, status, msg, "not enough space");
	case EBUSY:
		if (!strcmp(x->cmd, "vol destroy"))
			return report(x, EXIT_FAILED, status, msg,
				      "volume is busy (online): take it offline first");
		return report(x, EXIT_FAILED, status, msg, "%s '%s' is busy", k, name ? name : "");
	case ENOTEMPTY:
		return report(x, EXIT_FAILED, status, msg,
			      "%s '%s' is not empty: destroy its volumes first", k,
			      name ? name : "");
	case EINVAL:
		return report(x, EXIT_FAILED, status, msg, "invalid request");
	case ENAMETOOLONG:
		return report(x, EXIT_FAILED, status, msg, "name too long");
	case EAGAIN:
		return report(x, EXIT_FAILED, status, msg,
			      "the filer is busy (a consistency point is running): try again");
	case EUCLEAN:
		return report(x, EXIT_FAILED, status, msg, "corruption detected");
	case EIO:
		return report(x, EXIT_FAILED, status, msg, "I/O error");
	case EROFS:
		return report(x, EXIT_FAILED, status, msg, "read-only");
	case ENXIO:
		return report(x, EXIT_FAILED, status, msg, "%s '%s' is not online", k,
			      name ? name : "");
	case EPERM:
	case EACCES:
		return report(x, EXIT_FAILED, status, msg, "not permitted");
	case ESHUTDOWN:
		return report(x, EXIT_FAILED, status, msg, "the filer is shutting down");
	default:
		return report(x, EXIT_FAILED, status, msg, "%s failed: %s", x->cmd,
			      strerror(status));
	}
}

/* ---- commands --------------------------------------------------------- */

struct cmd {
	const char *name;  /* "vol create" */
	const char *args;  /* "NAME AGGR SIZE [-g none|volume]" */
	const char *brief; /* one line */
	const char *more;  /* NULL or the rest of the help */
	int (*fn)(struct ctx *x, int argc, char **argv);
};

static const struct cmd *cmd_by_name(const char *name);
static int cmd_usage(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cmd_usage(struct ctx *x, const char *fmt, ...)
{
	char words[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	const struct cmd *c = cmd_by_name(x->cmd);
	int rc = report(x, EXIT_USAGE, 0, NULL, "%s", words);
	if (c)
		fprintf(stderr, "usage: filerctl %s %s\n", c->name, c->args);
	return rc;
}

/* A command's options: getopt_long with the command's own table (options
 * may come anywhere among the operands). -1 at the end; '?' after
 * reporting (the caller returns EXIT_USAGE). */
static int next_opt(struct ctx *x, int argc, char **argv, const char *shortopts,
		    const struct option *lo)
{
	opterr = 0;
	int o = getopt_long(argc, argv, shortopts, lo, NULL);
	if (o == '?') {
		if (optopt)
			cmd_usage(x, "unknown option '-%c' for '%s'", optopt, x->cmd);
		else
			cmd_usage(x, "unknown option '%s' for '%s'", argv[optind - 1], x->cmd);
	} else if (o == ':') {
		cmd_usage(x, "option '%s' of '%s' needs a value", argv[optind - 1], x->cmd);
		o = '?';
	}
	return o;
}

static void begin_opts(void)
{
	optind = 0; /* GNU: start over, with argument permutation */
}

static bool size_arg(struct ctx *x, const char *s, uint64_t *out, int *rc)
{
	if (parse_size(s, out))
		return true;
	*rc = cmd_usage(x, "bad size '%s': a number with K, M, G or T (e.g. 10G)", s);
	return false;
}

static bool name_ok(struct ctx *x, const char *what, const char *s, int *rc)
{
	if (!*s) {
		*rc = cmd_usage(x, "empty %s name", what);
		return false;
	}
	if (strlen(s) > FILERCTL_NAME_MAX) {
		*rc = cmd_usage(x, "%s name '%s' is longer than %d bytes", what, s,
				FILERCTL_NAME_MAX);
		return false;
	}
	return true;
}

/* Prints a one-line success message, or starts the JSON answer. */
static void done(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void done(struct ctx *x, const char *fmt, ...)
{
	if (x->json) {
		out_begin(x, true);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static const char *aggr_type_name(ctl_aggr_type t)
{
	return t == CTL_AGGR_TRAD ? "trad" : "aggr";
}

static const char *vol_state_name(ctl_vol_state s)
{
	return s == CTL_VOL_OFFLINE ? "offline" : s == CTL_VOL_RESTRICTED ? "restricted" : "online";
}

static const char *guarantee_name(ctl_guarantee g)
{
	return g == CTL_GUAR_VOLUME ? "volume" : "none";
}

/* -- aggr -- */

static int do_aggr_create(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"type", required_argument, 0, 't'},
		{"disk-size", required_argument, 0, 's'},
		{"raid-group-size", required_argument, 0, 'r'},
		{"nvlog", required_argument, 0, 'l'},
		{"nvlog-size", required_argument, 0, 'L'},
		{0, 0, 0, 0},
	};
	ctl_aggr_create_args a = {0};
	a.type = CTL_AGGR_FLEX;
	a.nvlog = "";
	int o, rc = 0;
	begin_opts();
	while ((o = next_opt(x, argc, argv, ":t:s:r:l:L:", lo)) != -1) {
		switch (o) {
		case 't':
			if (!strcmp(optarg, "aggr") || !strcmp(optarg, "flex"))
				a.type = CTL_AGGR_FLEX;
			else if (!strcmp(optarg, "trad"))
				a.type = CTL_AGGR_TRAD;
			else
				return cmd_usage(x, "-t takes aggr or trad, not '%s'", optarg);
			break;
		case 's':
			if (!size_arg(x, optarg, &a.disk_size, &rc))
				return rc;
			break;
		case 'r': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || end == optarg || n > FILERCTL_DISKS_MAX)
				return cmd_usage(x, "bad RAID group size '%s'", optarg);
			a.raid_group_size = (unsigned)n;
			break;
		}
		case 'l':
			a.nvlog = optarg;
			break;
		case 'L':
			if (!size_arg(x, optarg, &a.nvlog_size, &rc))
				return rc;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cmd_usage(x, "'aggr create' needs a name and disks");
	a.name = argv[optind++];
	if (!name_ok(x, "aggregate", a.name, &rc))
		return rc;
	int ndisks = argc - optind;
	if (ndisks < 1)
		return cmd_usage(x, "'aggr create %s' needs at least one disk", a.name);
	if (ndisks > FILERCTL_DISKS_MAX)
		return cmd_usage(x, "at most %d disks", FILERCTL_DISKS_MAX);
	a.disks.disks_len = (u_int)ndisks;
	a.disks.disks_val = argv + optind;
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_AGGR_CREATE, ctl_aggr_create_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status) {
		/* ENOENT here is about a disk or the NVLOG: the filer's words */
		rc = refused(x, res.status, res.msg, res.status == ENOENT ? NULL : "aggregate",
			     a.name);
	} else {
		done(x, "Aggregate '%s' created on %d disk%s.", a.name, ndisks,
		     ndisks == 1 ? "" : "s");
		if (x->json) {
			j_str(&x->j, "aggregate", a.name);
			j_str(&x->j, "type", aggr_type_name(a.type));
			j_u64(&x->j, "ndisks", (uint64_t)ndisks);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

/* What a new volume could still get: neither used nor promised. */
static uint64_t aggr_avail(const ctl_aggr_info *g)
{
	uint64_t taken = g->used + g->reserved;
	return g->size > taken ? g->size - taken : 0;
}

static int do_aggr_status(struct ctx *x, int argc, char **argv)
{
	if (argc > 2)
		return cmd_usage(x, "'aggr status' takes at most one name");
	ctl_name_args a = {.name = argc == 2 ? argv[1] : ""};
	ctl_aggr_status_res res = {0};
	int rc;
	if ((rc = CALL(x, FILERCTL_AGGR_STATUS, ctl_name_args, &a, ctl_aggr_status_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "aggregate", a.name);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_arr(&x->j, "aggregates");
		for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
			ctl_aggr_info *g = &res.aggrs.aggrs_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "name", g->name);
			j_str(&x->j, "type", aggr_type_name(g->type));
			j_str(&x->j, "state", g->state);
			j_u64(&x->j, "size_bytes", g->size);
			j_u64(&x->j, "used_bytes", g->used);
			j_u64(&x->j, "avail_bytes", aggr_avail(g));
			j_u64(&x->j, "reserved_bytes", g->reserved);
			j_u64(&x->j, "ndisks", g->ndisks);
			j_u64(&x->j, "ngroups", g->ngroups);
			j_u64(&x->j, "nvols", g->nvols);
			j_u64(&x->j, "cp_count", g->cp_count);
			j_arr(&x->j, "disks");
			for (u_int k = 0; k < g->disks.disks_len; k++)
				j_str(&x->j, NULL, g->disks.disks_val[k]);
			j_end_arr(&x->j);
			j_str(&x->j, "nvlog", g->nvlog);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	if (!res.aggrs.aggrs_len) {
		printf("No aggregates.\n");
		goto out;
	}
	struct table t = {.ncols = 12};
	for (int c = 3; c < 12; c++)
		t.right[c] = true;
	t_row(&t, "Aggr", "Type", "State", "Size", "Used", "Avail", "Used%", "Reserved", "Disks",
	      "Groups", "Vols", "CP");
	for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
		ctl_aggr_info *g = &res.aggrs.aggrs_val[i];
		char s[5][32];
		snprintf(s[3], 32, "%u%%", pct(g->used, g->size));
		char d[3][16], cp[24];
		snprintf(d[0], 16, "%u", g->ndisks);
		snprintf(d[1], 16, "%u", g->ngroups);
		snprintf(d[2], 16, "%u", g->nvols);
		snprintf(cp, sizeof(cp), "%llu", (unsigned long long)g->cp_count);
		t_row(&t, g->name, aggr_type_name(g->type), g->state, human(g->size, s[0], 32),
		      human(g->used, s[1], 32), human(aggr_avail(g), s[2], 32), s[3],
		      human(g->reserved, s[4], 32), d[0], d[1], d[2], cp);
	}
	t_print(&t);
	if (a.name[0])
		for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
			ctl_aggr_info *g = &res.aggrs.aggrs_val[i];
			printf("\nDisks of %s:\n", g->name);
			for (u_int k = 0; k < g->disks.disks_len; k++)
				printf("  %s\n", g->disks.disks_val[k]);
			printf("NVLOG: %s\n", g->nvlog);
		}
out:
	xdr_free((xdrproc_t)xdr_ctl_aggr_status_res, (char *)&res);
	return rc;
}

static int do_aggr_add_disks(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"disk-size", required_argument, 0, 's'},
		{0, 0, 0, 0},
	};
	ctl_aggr_add_disks_args a = {0};
	int o, rc = 0;
	begin_opts();
	while ((o = next_opt(x, argc, argv, ":s:", lo)) != -1) {
		if (o != 's')
			return EXIT_USAGE;
		if (!size_arg(x, optarg, &a.disk_size, &rc))
			return rc;
	}
	if (argc - optind < 2)
		return cmd_usage(x, "'aggr add-disks' needs an aggregate and disks");
	a.name = argv[optind++];
	if (!name_ok(x, "aggregate", a.name, &rc))
		return rc;
	int n = argc - optind;
	if (n > FILERCTL_DISKS_MAX)
		return cmd_usage(x, "at most %d disks", FILERCTL_DISKS_MAX);
	a.disks.disks_len = (u_int)n;
	a.disks.disks_val = argv + optind;
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_AGGR_ADD_DISKS, ctl_aggr_add_disks_args, &a, ctl_status_res,
		       &res)))
		return rc;
	if (res.status)
		rc = refused(x, res.status, res.msg, res.status == ENOENT ? NULL : "aggregate",
			     a.name);
	else {
		done(x, "Added %d disk%s to aggregate '%s'.", n, n == 1 ? "" : "s", a.name);
		if (x->json) {
			j_str(&x->j, "aggregate", a.name);
			j_u64(&x->j, "disks_added", (uint64_t)n);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_aggr_check(struct ctx *x, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(x, "'aggr check' takes one aggregate name");
	int rc = 0;
	if (!name_ok(x, "aggregate", argv[1], &rc))
		return rc;
	ctl_name_args a = {.name = argv[1]};
	ctl_aggr_check_res res = {0};
	if ((rc = CALL(x, FILERCTL_AGGR_CHECK, ctl_name_args, &a, ctl_aggr_check_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "aggregate", a.name);
		goto out;
	}
	rc = res.nproblems ? EXIT_FAILED : 0;
	if (x->json) {
		out_begin(x, rc == 0);
		j_str(&x->j, "aggregate", a.name);
		j_u64(&x->j, "problems", res.nproblems);
		j_u64(&x->j, "corrupt_blocks", res.corrupt_blocks);
		j_u64(&x->j, "blocks_checked", res.blocks_checked);
		j_u64(&x->j, "inodes_checked", res.inodes_checked);
		j_u64(&x->j, "dirs_checked", res.dirs_checked);
		j_u64(&x->j, "vols_checked", res.vols_checked);
		j_u64(&x->j, "cp_count", res.cp_count);
		j_arr(&x->j, "problem_list");
		for (u_int i = 0; i < res.problems.problems_len; i++) {
			ctl_problem *p = &res.problems.problems_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "kind", p->kind);
			j_u64(&x->j, "pvbn", p->pvbn);
			j_u64(&x->j, "volid", p->volid);
			j_u64(&x->j, "ino", p->ino);
			j_u64(&x->j, "fbn", p->fbn);
			j_str(&x->j, "text", p->text);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	for (u_int i = 0; i < res.problems.problems_len; i++) {
		ctl_problem *p = &res.problems.problems_val[i];
		printf("%-11s pvbn %-10llu vol %-4u ino %-8llu fbn %-10llu %s\n", p->kind,
		       (unsigned long long)p->pvbn, p->volid, (unsigned long long)p->ino,
		       (unsigned long long)p->fbn, p->text);
	}
	if (res.nproblems > res.problems.problems_len)
		printf("... and %llu more\n",
		       (unsigned long long)(res.nproblems - res.problems.problems_len));
	printf("Aggregate '%s' at CP %llu: %llu problem%s, %llu corrupt block%s (%u volume%s, "
	       "%llu inodes, %llu directories, %llu blocks checked).\n",
	       a.name, (unsigned long long)res.cp_count, (unsigned long long)res.nproblems,
	       res.nproblems == 1 ? "" : "s", (unsigned long long)res.corrupt_blocks,
	       res.corrupt_blocks == 1 ? "" : "s", res.vols_checked,
	       res.vols_checked == 1 ? "" : "s", (unsigned long long)res.inodes_checked,
	       (unsigned long long)res.dirs_checked, (unsigned long long)res.blocks_checked);
out:
	xdr_free((xdrproc_t)xdr_ctl_aggr_check_res, (char *)&res);
	return rc;
}

/* A command that names one object and answers a ctl_status_res. */
static int simple(struct ctx *x, uint32_t proc, xdrproc_t ain, void *args, const char *kind,
		  const char *name, const char *okfmt, const char *jkey)
{
	ctl_status_res res = {0};
	int rc = call(x, proc, ain, args, (xdrproc_t)xdr_ctl_status_res, &res);
	if (rc)
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, kind, name);
	} else {
		done(x, okfmt, name);
		if (x->json) {
			j_str(&x->j, jkey, name);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_aggr_destroy(struct ctx *x, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(x, "'aggr destroy' takes one aggregate name");
	int rc = 0;
	if (!name_ok(x, "aggregate", argv[1], &rc))
		return rc;
	ctl_name_args a = {.name = argv[1]};
	return simple(x, FILERCTL_AGGR_DESTROY, (xdrproc_t)xdr_ctl_name_args, &a, "aggregate",
		      a.name, "Aggregate '%s' destroyed.", "aggregate");
}

/* -- vol -- */

static int do_vol_create(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"guarantee", required_argument, 0, 'g'},
		{0, 0, 0, 0},
	};
	ctl_vol_create_args a = {0};
	a.guarantee = CTL_GUAR_NONE;
	int o, rc = 0;
	begin_opts();
	while ((o = next_opt(x, argc, argv, ":g:", lo)) != -1) {
		if (o != 'g')
			return EXIT_USAGE;
		if (!strcmp(optarg, "none"))
			a.guarantee = CTL_GUAR_NONE;
		else if (!strcmp(optarg, "volume"))
			a.guarantee = CTL_GUAR_VOLUME;
		else
			return cmd_usage(x, "-g takes none or volume, not '%s'", optarg);
	}
	if (argc - optind != 3)
		return cmd_usage(x, "'vol create' needs a name, an aggregate and a size");
	a.name = argv[optind];
	a.aggr = argv[optind + 1];
	if (!name_ok(x, "volume", a.name, &rc) || !name_ok(x, "aggregate", a.aggr, &rc) ||
	    !size_arg(x, argv[optind + 2], &a.size, &rc))
		return rc;
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_VOL_CREATE, ctl_vol_create_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status) {
		/* ENOENT here is about the aggregate */
		if (res.status == ENOENT)
			rc = refused(x, res.status, res.msg, "aggregate", a.aggr);
		else
			rc = refused(x, res.status, res.msg, "volume", a.name);
	} else {
		char s[32];
		done(x, "Volume '%s' created in aggregate '%s': %s, guarantee %s.", a.name, a.aggr,
		     human(a.size, s, sizeof(s)), guarantee_name(a.guarantee));
		if (x->json) {
			j_str(&x->j, "volume", a.name);
			j_str(&x->j, "aggregate", a.aggr);
			j_u64(&x->j, "size_bytes", a.size);
			j_str(&x->j, "guarantee", guarantee_name(a.guarantee));
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int vol_status_of(struct ctx *x, const char *name, ctl_vol_status_res *res)
{
	ctl_name_args a = {.name = (char *)name};
	int rc = CALL(x, FILERCTL_VOL_STATUS, ctl_name_args, &a, ctl_vol_status_res, res);
	if (!rc && res->status)
		rc = refused(x, res->status, res->msg, "volume", name);
	return rc;
}

static int vol_show_of(struct ctx *x, const char *name, ctl_vol_show_res *res)
{
	ctl_name_args a = {.name = (char *)name};
	int rc = CALL(x, FILERCTL_VOL_SHOW, ctl_name_args, &a, ctl_vol_show_res, res);
	if (!rc && res->status)
		rc = refused(x, res->status, res->msg, "volume", name);
	return rc;
}

static int do_vol_status(struct ctx *x, int argc, char **argv)
{
	if (argc > 2)
		return cmd_usage(x, "'vol status' takes at most one name");
	const char *name = argc == 2 ? argv[1] : "";
	ctl_vol_show_res res = {0};
	int rc = vol_show_of(x, name, &res);
	if (rc)
		goto out;
	if (x->json) {
		out_begin(x, true);
		j_arr(&x->j, "volumes");
		for (u_int i = 0; i < res.vols.vols_len; i++) {
			ctl_vol_detail *d = &res.vols.vols_val[i];
			ctl_vol_info *v = &d->vol;
			j_obj(&x->j, NULL);
			j_str(&x->j, "name", v->name);
			j_str(&x->j, "aggregate", v->aggr);
			j_u64(&x->j, "volid", v->volid);
			j_str(&x->j, "type", v->flexible ? "flex" : "trad");
			j_str(&x->j, "state", vol_state_name(v->state));
			j_str(&x->j, "guarantee", guarantee_name(v->guarantee));
			j_u64(&x->j, "size_bytes", v->size);
			j_u64(&x->j, "used_bytes", v->used);
			j_u64(&x->j, "avail_bytes", v->size > v->used ? v->size - v->used : 0);
			j_u64(&x->j, "files_used", v->files_used);
			j_u64(&x->j, "files_max", v->files_max);
			j_u64(&x->j, "nsnaps", d->nsnaps);
			j_u64(&x->j, "snap_used_bytes", d->snap_used);
			j_u64(&x->j, "reclaiming_bytes", d->reclaiming);
			j_str(&x->j, "snapdir", d->snapdir_visible ? "visible" : "hidden");
			j_str(&x->j, "parent", d->parent);
			j_str(&x->j, "parent_snapshot", d->parent_snap);
			j_bool(&x->j, "splitting", d->splitting);
			j_u64(&x->j, "split_remaining_bytes", d->split_left);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	if (!res.vols.vols_len) {
		printf("No volumes.\n");
		goto out;
	}
	struct table t = {.ncols = 13};
	for (int c = 5; c < 12; c++)
		t.right[c] = true;
	t_row(&t, "Volume", "Aggr", "State", "Type", "Guarantee", "Size", "Used", "Avail", "Used%",
	      "Files", "Snaps", "Snap used", "Clone of");
	for (u_int i = 0; i < res.vols.vols_len; i++) {
		ctl_vol_detail *d = &res.vols.vols_val[i];
		ctl_vol_info *v = &d->vol;
		char s[5][32], f[48], ns[16], parent[160];
		snprintf(s[3], 32, "%u%%", pct(v->used, v->size));
		snprintf(f, sizeof(f), "%llu/%llu", (unsigned long long)v->files_used,
			 (unsigned long long)v->files_max);
		snprintf(ns, sizeof(ns), "%u", d->nsnaps);
		if (d->parent[0])
			snprintf(parent, sizeof(parent), "%s@%s%s", d->parent, d->parent_snap,
				 d->splitting ? " (splitting)" : "");
		else
			snprintf(parent, sizeof(parent), "-");
		t_row(&t, v->name, v->aggr, vol_state_name(v->state), v->flexible ? "flex" : "trad",
		      guarantee_name(v->guarantee), human(v->size, s[0], 32),
		      human(v->used, s[1], 32),
		      human(v->size > v->used ? v->size - v->used : 0, s[2], 32), s[3], f, ns,
		      human(d->snap_used, s[4], 32), parent);
	}
	t_print(&t);
	for (u_int i = 0; name[0] && i < res.vols.vols_len; i++) {
		ctl_vol_detail *d = &res.vols.vols_val[i];
		char b[3][32];
		printf("\nSnapshots: %u, holding %s the active file system does not", d->nsnaps,
		       human(d->snap_used, b[0], 32));
		if (d->reclaiming)
			printf(" (%s being freed)", human(d->reclaiming, b[1], 32));
		printf(".\nSnapshot directory (.snapshot): %s.\n",
		       d->snapdir_visible ? "visible" : "hidden");
		if (d->parent[0] && d->splitting)
			printf("Clone of '%s', snapshot '%s': splitting, %s still shared.\n",
			       d->parent, d->parent_snap, human(d->split_left, b[2], 32));
		else if (d->parent[0])
			printf("Clone of '%s', snapshot '%s' (%s shared).\n", d->parent,
			       d->parent_snap, human(d->split_left, b[2], 32));
	}
out:
	xdr_free((xdrproc_t)xdr_ctl_vol_show_res, (char *)&res);
	return rc;
}

static int do_vol_size(struct ctx *x, int argc, char **argv)
{
	/* no getopt: "-1G" is a size here, not an option */
	if (argc < 2 || argc > 3)
		return cmd_usage(x, "'vol size' takes a volume and an optional [+|-]SIZE");
	const char *name = argv[1];
	int rc = 0;
	if (!name_ok(x, "volume", name, &rc))
		return rc;
	const char *arg = argc == 3 ? argv[2] : NULL;
	uint64_t delta = 0, want = 0;
	int sign = 0;
	if (arg) {
		sign = arg[0] == '+' ? 1 : arg[0] == '-' ? -1 : 0;
		if (!size_arg(x, sign ? arg + 1 : arg, sign ? &delta : &want, &rc))
			return rc;
	}
	ctl_vol_status_res st = {0};
	uint64_t old = 0;
	if (!arg || sign) {
		if ((rc = vol_status_of(x, name, &st)))
			goto out;
		old = st.vols.vols_len ? st.vols.vols_val[0].size : 0;
	}
	if (!arg) {
		char s[32];
		done(x, "Volume '%s' has size %s.", name, human(old, s, sizeof(s)));
		if (x->json) {
			j_str(&x->j, "volume", name);
			j_u64(&x->j, "size_bytes", old);
			out_end(x);
		}
		goto out;
	}
	if (sign > 0)
		want = old + delta;
	if (sign < 0) {
		if (delta >= old) {
			char s[2][32];
			rc = report(x, EXIT_FAILED, EINVAL, NULL,
				    "cannot shrink volume '%s' (%s) by %s", name,
				    human(old, s[0], 32), human(delta, s[1], 32));
			goto out;
		}
		want = old - delta;
	}
	ctl_vol_size_args a = {.name = (char *)name, .size = want};
	ctl_vol_size_res res = {0};
	if ((rc = CALL(x, FILERCTL_VOL_SIZE, ctl_vol_size_args, &a, ctl_vol_size_res, &res)))
		goto out;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "volume", name);
	} else {
		char s[32];
		done(x, "Volume '%s' size set to %s.", name, human(res.size, s, sizeof(s)));
		if (x->json) {
			j_str(&x->j, "volume", name);
			j_u64(&x->j, "size_bytes", res.size);
			if (sign)
				j_u64(&x->j, "old_size_bytes", old);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_vol_size_res, (char *)&res);
out:
	xdr_free((xdrproc_t)xdr_ctl_vol_status_res, (char *)&st);
	return rc;
}

static int vol_set_state(struct ctx *x, int argc, char **argv, ctl_vol_state s)
{
	if (argc != 2)
		return cmd_usage(x, "'%s' takes one volume name", x->cmd);
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc))
		return rc;
	ctl_vol_state_args a = {.name = argv[1], .state = s};
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_VOL_STATE, ctl_vol_state_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "volume", a.name);
	} else {
		done(x, "Volume '%s' is now %s.", a.name, vol_state_name(s));
		if (x->json) {
			j_str(&x->j, "volume", a.name);
			j_str(&x->j, "state", vol_state_name(s));
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_vol_offline(struct ctx *x, int argc, char **argv)
{
	return vol_set_state(x, argc, argv, CTL_VOL_OFFLINE);
}

static int do_vol_online(struct ctx *x, int argc, char **argv)
{
	return vol_set_state(x, argc, argv, CTL_VOL_ONLINE);
}

static int do_vol_restrict(struct ctx *x, int argc, char **argv)
{
	return vol_set_state(x, argc, argv, CTL_VOL_RESTRICTED);
}

static int do_vol_destroy(struct ctx *x, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(x, "'vol destroy' takes one volume name");
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc))
		return rc;
	ctl_name_args a = {.name = argv[1]};
	return simple(x, FILERCTL_VOL_DESTROY, (xdrproc_t)xdr_ctl_name_args, &a, "volume", a.name,
		      "Volume '%s' destroyed.", "volume");
}

/* -- clones and options -- */

static int do_vol_clone_create(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"snapshot", required_argument, 0, 's'},
		{0, 0, 0, 0},
	};
	ctl_vol_clone_args a = {0};
	int o, rc = 0;
	begin_opts();
	while ((o = next_opt(x, argc, argv, ":s:", lo)) != -1) {
		if (o != 's')
			return EXIT_USAGE;
		a.snap = optarg;
	}
	if (argc - optind != 2)
		return cmd_usage(x,
				 "'vol clone create' needs the new volume's name and the parent");
	if (!a.snap)
		return cmd_usage(x, "'vol clone create' needs -s SNAPSHOT: the parent's snapshot "
				    "to grow from");
	a.name = argv[optind];
	a.parent = argv[optind + 1];
	if (!name_ok(x, "volume", a.name, &rc) || !name_ok(x, "volume", a.parent, &rc) ||
	    !name_ok(x, "snapshot", a.snap, &rc))
		return rc;
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_VOL_CLONE, ctl_vol_clone_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status == ENOENT && !strncmp(res.msg, "no volume ", 10))
		rc = refused(x, res.status, res.msg, "volume", a.parent);
	else if (res.status == ENOENT)
		rc = report_q(x, EXIT_FAILED, res.status, res.msg, true,
			      "no such snapshot '%s' of volume '%s'", a.snap, a.parent);
	else if (res.status)
		rc = refused(x, res.status, res.msg, "volume", a.name);
	else {
		done(x, "Volume '%s' cloned from snapshot '%s' of volume '%s'.", a.name, a.snap,
		     a.parent);
		if (x->json) {
			j_str(&x->j, "volume", a.name);
			j_str(&x->j, "parent", a.parent);
			j_str(&x->j, "parent_snapshot", a.snap);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_vol_clone_split(struct ctx *x, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(x, "'vol clone split' takes one clone volume");
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc))
		return rc;
	ctl_name_args a = {.name = argv[1]};
	return simple(x, FILERCTL_VOL_CLONE_SPLIT, (xdrproc_t)xdr_ctl_name_args, &a, "volume",
		      a.name,
		      "Splitting clone '%s' from its parent in the background ('vol status' shows "
		      "how much is left).",
		      "volume");
}

static int do_vol_options(struct ctx *x, int argc, char **argv)
{
	if (argc != 2 && argc != 4)
		return cmd_usage(x, "'vol options' takes a volume, and an option with its value");
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc))
		return rc;
	if (argc == 4) {
		if (strcmp(argv[2], "snapdir"))
			return cmd_usage(x, "no volume option '%s' (there is: snapdir)", argv[2]);
		if (strcmp(argv[3], "visible") && strcmp(argv[3], "hidden"))
			return cmd_usage(x, "snapdir is visible or hidden, not '%s'", argv[3]);
		ctl_vol_option_args a = {.vol = argv[1], .option = argv[2], .value = argv[3]};
		ctl_status_res res = {0};
		if ((rc = CALL(x, FILERCTL_VOL_OPTION, ctl_vol_option_args, &a, ctl_status_res,
			       &res)))
			return rc;
		if (res.status) {
			rc = refused(x, res.status, res.msg, "volume", a.vol);
		} else {
			done(x, "Volume '%s': %s %s.", a.vol, a.option, a.value);
			if (x->json) {
				j_str(&x->j, "volume", a.vol);
				j_obj(&x->j, "options");
				j_str(&x->j, a.option, a.value);
				j_end_obj(&x->j);
				out_end(x);
			}
		}
		xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
		return rc;
	}
	ctl_vol_show_res res = {0};
	if ((rc = vol_show_of(x, argv[1], &res)))
		goto out;
	for (u_int i = 0; i < res.vols.vols_len; i++) {
		const char *snapdir = res.vols.vols_val[i].snapdir_visible ? "visible" : "hidden";
		if (x->json) {
			out_begin(x, true);
			j_str(&x->j, "volume", argv[1]);
			j_obj(&x->j, "options");
			j_str(&x->j, "snapdir", snapdir);
			j_end_obj(&x->j);
			out_end(x);
		} else {
			printf("snapdir %s\n", snapdir);
		}
	}
out:
	xdr_free((xdrproc_t)xdr_ctl_vol_show_res, (char *)&res);
	return rc;
}

/* -- snapshots -- */

/* The filer said no to a snapshot command about snapshot `snap` of `vol`. */
static int snap_refused(struct ctx *x, int status, const char *msg, const char *vol,
			const char *snap)
{
	if (status == ENOENT && !strncmp(msg, "no volume ", 10))
		return refused(x, status, msg, "volume", vol);
	if (status == ENOENT)
		return report_q(x, EXIT_FAILED, status, msg, true,
				"no such snapshot '%s' of volume '%s'", snap, vol);
	if (status == EEXIST)
		return report_q(x, EXIT_FAILED, status, msg, true,
				"snapshot '%s' of volume '%s' already exists", snap, vol);
	if (status == EBUSY)
		return report_q(x, EXIT_FAILED, status, msg, true,
				"snapshot '%s' of volume '%s' is busy: %s", snap, vol, msg);
	if (status == ENOSPC)
		return report(x, EXIT_FAILED, status, msg, "no room for another snapshot of '%s'",
			      vol);
	if (status == ENXIO)
		return report(x, EXIT_FAILED, status, msg, "volume '%s' is not online", vol);
	return refused(x, status, msg, "snapshot", snap);
}

/* snap create|delete|restore VOL NAME */
static int snap_simple(struct ctx *x, int argc, char **argv, uint32_t proc, const char *okfmt)
{
	if (argc != 3)
		return cmd_usage(x, "'%s' takes a volume and a snapshot name", x->cmd);
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc) || !name_ok(x, "snapshot", argv[2], &rc))
		return rc;
	ctl_snap_args a = {.vol = argv[1], .name = argv[2]};
	ctl_status_res res = {0};
	if ((rc = call(x, proc, (xdrproc_t)xdr_ctl_snap_args, &a, (xdrproc_t)xdr_ctl_status_res,
		       &res)))
		return rc;
	if (res.status) {
		rc = snap_refused(x, res.status, res.msg, a.vol, a.name);
	} else {
		done(x, okfmt, a.name, a.vol);
		if (x->json) {
			j_str(&x->j, "volume", a.vol);
			j_str(&x->j, "snapshot", a.name);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_snap_create(struct ctx *x, int argc, char **argv)
{
	return snap_simple(x, argc, argv, FILERCTL_SNAP_CREATE,
			   "Snapshot '%s' of volume '%s' created.");
}

static int do_snap_delete(struct ctx *x, int argc, char **argv)
{
	return snap_simple(x, argc, argv, FILERCTL_SNAP_DELETE,
			   "Snapshot '%s' of volume '%s' deleted (its space is freed in the "
			   "background).");
}

static int do_snap_restore(struct ctx *x, int argc, char **argv)
{
	return snap_simple(x, argc, argv, FILERCTL_SNAP_RESTORE,
			   "Restored from snapshot '%s': volume '%s' is as it was then.");
}

static int do_snap_rename(struct ctx *x, int argc, char **argv)
{
	if (argc != 4)
		return cmd_usage(x, "'snap rename' takes a volume, a snapshot and its new name");
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc) || !name_ok(x, "snapshot", argv[2], &rc) ||
	    !name_ok(x, "snapshot", argv[3], &rc))
		return rc;
	ctl_snap_rename_args a = {.vol = argv[1], .from = argv[2], .to = argv[3]};
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_SNAP_RENAME, ctl_snap_rename_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status) {
		rc = snap_refused(x, res.status, res.msg, a.vol,
				  res.status == EEXIST ? a.to : a.from);
	} else {
		done(x, "Snapshot '%s' of volume '%s' renamed '%s'.", a.from, a.vol, a.to);
		if (x->json) {
			j_str(&x->j, "volume", a.vol);
			j_str(&x->j, "snapshot", a.to);
			j_str(&x->j, "old_name", a.from);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

/* "2026-11-22 14:00" in local time ("-" for 0 when none). */
static const char *local_time(int64_t sec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (!sec || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static int do_snap_list(struct ctx *x, int argc, char **argv)
{
	if (argc > 2)
		return cmd_usage(x, "'snap list' takes at most one volume");
	int rc = 0;
	const char *vol = argc == 2 ? argv[1] : "";
	if (vol[0] && !name_ok(x, "volume", vol, &rc))
		return rc;
	ctl_name_args a = {.name = (char *)vol};
	ctl_snap_list_res res = {0};
	if ((rc = CALL(x, FILERCTL_SNAP_LIST, ctl_name_args, &a, ctl_snap_list_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "volume", vol);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_arr(&x->j, "snapshots");
		for (u_int i = 0; i < res.snaps.snaps_len; i++) {
			ctl_snap_info *p = &res.snaps.snaps_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "volume", p->vol);
			j_str(&x->j, "name", p->name);
			j_u64(&x->j, "snapid", p->snapid);
			j_i64(&x->j, "created_sec", p->ctime_sec);
			j_u64(&x->j, "cp", p->cp);
			j_u64(&x->j, "own_bytes", p->own);
			j_u64(&x->j, "image_bytes", p->image);
			j_str(&x->j, "clone", p->clone);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	if (!res.snaps.snaps_len) {
		if (vol[0])
			printf("Volume '%s' has no snapshots.\n", vol);
		else
			printf("No snapshots.\n");
		goto out;
	}
	/* one volume: its name is known; all: a column for it */
	bool all = !vol[0];
	struct table t = {.ncols = all ? 6 : 5};
	t.right[all + 2] = t.right[all + 3] = true;
	if (all)
		t_row(&t, "Volume", "Snapshot", "Created", "CP", "Own", "Clone");
	else
		t_row(&t, "Snapshot", "Created", "CP", "Own", "Clone");
	for (u_int i = 0; i < res.snaps.snaps_len; i++) {
		ctl_snap_info *p = &res.snaps.snaps_val[i];
		char tm[32], cp[24], own[32];
		local_time(p->ctime_sec, tm, sizeof(tm));
		snprintf(cp, sizeof(cp), "%llu", (unsigned long long)p->cp);
		human(p->own, own, sizeof(own));
		const char *clone = p->clone[0] ? p->clone : "-";
		if (all)
			t_row(&t, p->vol, p->name, tm, cp, own, clone);
		else
			t_row(&t, p->name, tm, cp, own, clone);
	}
	t_print(&t);
out:
	xdr_free((xdrproc_t)xdr_ctl_snap_list_res, (char *)&res);
	return rc;
}

static const char *const sched_kinds[] = {"hourly", "nightly", "weekly"};

static const char *sched_kind_name(ctl_sched_kind k)
{
	return k >= CTL_SCHED_HOURLY && k <= CTL_SCHED_WEEKLY ? sched_kinds[k - 1] : "?";
}

static int do_snap_sched(struct ctx *x, int argc, char **argv)
{
	ctl_snap_sched_args a = {.vol = "", .hourly = -1, .nightly = -1, .weekly = -1};
	int rc = 0;
	if (argc >= 2) {
		a.vol = argv[1];
		if (!name_ok(x, "volume", a.vol, &rc))
			return rc;
	}
	for (int i = 2; i < argc; i++) {
		int *dst = NULL;
		const char *eq = strchr(argv[i], '=');
		size_t kl = eq ? (size_t)(eq - argv[i]) : 0;
		for (int k = 0; k < 3 && eq; k++)
			if (strlen(sched_kinds[k]) == kl && !strncmp(argv[i], sched_kinds[k], kl))
				dst = k == 0 ? &a.hourly : k == 1 ? &a.nightly : &a.weekly;
		if (!dst)
			return cmd_usage(x, "'%s' is not hourly=N, nightly=N or weekly=N", argv[i]);
		char *end;
		unsigned long n = strtoul(eq + 1, &end, 10);
		if (*end || end == eq + 1 || eq[1] == '-' || eq[1] == '+' || n > FILERCTL_SNAPS_MAX)
			return cmd_usage(x, "bad count in '%s': 0 to %d", argv[i],
					 FILERCTL_SNAPS_MAX);
		if (*dst >= 0)
			return cmd_usage(x, "'%.*s' given twice", (int)kl, argv[i]);
		*dst = (int)n;
		a.set = true;
	}
	ctl_snap_sched_res res = {0};
	if ((rc = CALL(x, FILERCTL_SNAP_SCHED, ctl_snap_sched_args, &a, ctl_snap_sched_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, "volume", a.vol);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_arr(&x->j, "schedules");
		for (u_int i = 0; i < res.scheds.scheds_len; i++) {
			ctl_snap_sched *e = &res.scheds.scheds_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "volume", e->vol);
			j_u64(&x->j, "hourly", e->hourly);
			j_u64(&x->j, "nightly", e->nightly);
			j_u64(&x->j, "weekly", e->weekly);
			j_i64(&x->j, "next_sec", e->next_sec);
			j_str(&x->j, "next_kind", e->next_sec ? sched_kind_name(e->next_kind) : "");
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	if (a.set)
		printf("Volume '%s': snapshot schedule set.\n", a.vol);
	if (!res.scheds.scheds_len) {
		printf("No snapshot schedules.\n");
		goto out;
	}
	struct table t = {.ncols = 5};
	t.right[1] = t.right[2] = t.right[3] = true;
	t_row(&t, "Volume", "Hourly", "Nightly", "Weekly", "Next");
	for (u_int i = 0; i < res.scheds.scheds_len; i++) {
		ctl_snap_sched *e = &res.scheds.scheds_val[i];
		char n[3][16], next[64], tm[32];
		snprintf(n[0], 16, "%u", e->hourly);
		snprintf(n[1], 16, "%u", e->nightly);
		snprintf(n[2], 16, "%u", e->weekly);
		if (e->next_sec)
			snprintf(next, sizeof(next), "%s %s", local_time(e->next_sec, tm, 32),
				 sched_kind_name(e->next_kind));
		else
			snprintf(next, sizeof(next), "- (none scheduled)");
		t_row(&t, e->vol, n[0], n[1], n[2], next);
	}
	t_print(&t);
out:
	xdr_free((xdrproc_t)xdr_ctl_snap_sched_res, (char *)&res);
	return rc;
}

static int do_snap_sched_run(struct ctx *x, int argc, char **argv)
{
	if (argc != 3)
		return cmd_usage(x,
				 "'snap sched-run' takes a volume and hourly, nightly or weekly");
	int rc = 0;
	if (!name_ok(x, "volume", argv[1], &rc))
		return rc;
	ctl_snap_sched_run_args a = {.vol = argv[1]};
	for (int k = 0; k < 3; k++)
		if (!strcmp(argv[2], sched_kinds[k]))
			a.kind = (ctl_sched_kind)(k + 1);
	if (!a.kind)
		return cmd_usage(x, "'%s' is not hourly, nightly or weekly", argv[2]);
	ctl_snap_sched_run_res res = {0};
	if ((rc = CALL(x, FILERCTL_SNAP_SCHED_RUN, ctl_snap_sched_run_args, &a,
		       ctl_snap_sched_run_res, &res)))
		return rc;
	if (res.status == EINVAL) {
		rc = report(x, EXIT_FAILED, res.status, res.msg, "%s", res.msg);
	} else if (res.status == EBUSY) {
		rc = report(x, EXIT_FAILED, res.status, res.msg,
			    "a scheduled snapshot of volume '%s' is under way: try again", a.vol);
	} else if (res.status) {
		rc = refused(x, res.status, res.msg, "volume", a.vol);
	} else if (x->json) {
		out_begin(x, true);
		j_str(&x->j, "volume", a.vol);
		j_str(&x->j, "kind", argv[2]);
		j_str(&x->j, "created", res.created);
		j_arr(&x->j, "deleted");
		for (u_int i = 0; i < res.deleted.deleted_len; i++)
			j_str(&x->j, NULL, res.deleted.deleted_val[i]);
		j_end_arr(&x->j);
		j_u64(&x->j, "kept", res.kept);
		out_end(x);
	} else {
		printf("Snapshot '%s' of volume '%s' created; %u %s snapshot%s kept", res.created,
		       a.vol, res.kept, argv[2], res.kept == 1 ? "" : "s");
		for (u_int i = 0; i < res.deleted.deleted_len; i++)
			printf("%s%s", i ? ", " : "; expired: ", res.deleted.deleted_val[i]);
		printf(".\n");
	}
	xdr_free((xdrproc_t)xdr_ctl_snap_sched_run_res, (char *)&res);
	return rc;
}

/* -- export -- */

static int do_export_add(struct ctx *x, int argc, char **argv)
{
	if (argc != 4)
		return cmd_usage(x, "'export add' needs a path, a volume and a client list");
	ctl_export_add_args a = {.path = argv[1], .vol = argv[2], .clients = argv[3]};
	int rc = 0;
	if (a.path[0] != '/')
		return cmd_usage(x, "export path '%s' must be absolute (e.g. /vol/%s)", a.path,
				 a.vol);
	if (strlen(a.path) > FILERCTL_PATH_MAX || strlen(a.clients) > FILERCTL_CLIENTS_MAX)
		return cmd_usage(x, "export path or client list too long");
	if (!name_ok(x, "volume", a.vol, &rc))
		return rc;
	ctl_status_res res = {0};
	if ((rc = CALL(x, FILERCTL_EXPORT_ADD, ctl_export_add_args, &a, ctl_status_res, &res)))
		return rc;
	if (res.status) {
		if (res.status == ENOENT)
			rc = refused(x, res.status, res.msg, "volume", a.vol);
		else
			rc = refused(x, res.status, res.msg, "export", a.path);
	} else {
		done(x, "Exported volume '%s' as %s to %s.", a.vol, a.path, a.clients);
		if (x->json) {
			j_str(&x->j, "path", a.path);
			j_str(&x->j, "volume", a.vol);
			j_str(&x->j, "clients", a.clients);
			out_end(x);
		}
	}
	xdr_free((xdrproc_t)xdr_ctl_status_res, (char *)&res);
	return rc;
}

static int do_export_remove(struct ctx *x, int argc, char **argv)
{
	if (argc != 2)
		return cmd_usage(x, "'export remove' takes one export path");
	if (strlen(argv[1]) > FILERCTL_PATH_MAX)
		return cmd_usage(x, "export path too long");
	ctl_export_remove_args a = {.path = argv[1]};
	return simple(x, FILERCTL_EXPORT_REMOVE, (xdrproc_t)xdr_ctl_export_remove_args, &a,
		      "export", a.path, "Export %s removed.", "path");
}

static int do_export_list(struct ctx *x, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cmd_usage(x, "'export list' takes no arguments");
	ctl_export_list_res res = {0};
	int rc;
	if ((rc = CALL0(x, FILERCTL_EXPORT_LIST, ctl_export_list_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, NULL, NULL);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_arr(&x->j, "exports");
		for (u_int i = 0; i < res.exports.exports_len; i++) {
			ctl_export_info *e = &res.exports.exports_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "path", e->path);
			j_str(&x->j, "volume", e->vol);
			j_str(&x->j, "clients", e->clients);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	if (!res.exports.exports_len) {
		printf("No exports.\n");
		goto out;
	}
	struct table t = {.ncols = 3};
	t_row(&t, "Path", "Volume", "Clients");
	for (u_int i = 0; i < res.exports.exports_len; i++) {
		ctl_export_info *e = &res.exports.exports_val[i];
		t_row(&t, e->path, e->vol, e->clients);
	}
	t_print(&t);
out:
	xdr_free((xdrproc_t)xdr_ctl_export_list_res, (char *)&res);
	return rc;
}

/* -- stats, cp, version -- */

static int do_stats(struct ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{"all", no_argument, 0, 'a'},
		{0, 0, 0, 0},
	};
	bool all = false;
	int o;
	begin_opts();
	while ((o = next_opt(x, argc, argv, "a", lo)) != -1) {
		if (o != 'a')
			return EXIT_USAGE;
		all = true;
	}
	if (optind != argc)
		return cmd_usage(x, "'stats' takes no arguments");
	ctl_stats_res res = {0};
	int rc;
	if ((rc = CALL0(x, FILERCTL_STATS, ctl_stats_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, NULL, NULL);
		goto out;
	}
	ctl_xfer_stats *xs = &res.xfer;
	if (x->json) {
		out_begin(x, true);
		j_u64(&x->j, "uptime_usec", res.uptime_usec);
		j_obj(&x->j, "nfs");
		j_arr(&x->j, "procedures");
		for (u_int i = 0; i < res.procs.procs_len; i++) {
			ctl_proc_stats *p = &res.procs.procs_val[i];
			j_obj(&x->j, NULL);
			j_str(&x->j, "program", p->prog);
			j_str(&x->j, "name", p->name);
			j_u64(&x->j, "calls", p->calls);
			j_u64(&x->j, "errors", p->errors);
			j_u64(&x->j, "usec_total", p->usec_total);
			j_u64(&x->j, "usec_avg", p->calls ? p->usec_total / p->calls : 0);
			j_u64(&x->j, "usec_max", p->usec_max);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		j_u64(&x->j, "bytes_read", xs->bytes_read);
		j_u64(&x->j, "bytes_written", xs->bytes_written);
		j_u64(&x->j, "rpc_calls", xs->rpc_calls);
		j_u64(&x->j, "rpc_garbage", xs->rpc_garbage);
		j_u64(&x->j, "drc_hits", xs->drc_hits);
		j_u64(&x->j, "connections", xs->connections);
		j_u64(&x->j, "connections_open", xs->connections_open);
		j_end_obj(&x->j);
		j_arr(&x->j, "aggregates");
		for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
			ctl_aggr_stats *g = &res.aggrs.aggrs_val[i];
			uint64_t lookups = g->cache_hits + g->cache_misses;
			j_obj(&x->j, NULL);
			j_str(&x->j, "name", g->name);
			j_u64(&x->j, "cp_count", g->cp_count);
			j_u64(&x->j, "cps", g->cps);
			j_u64(&x->j, "cp_last_usec", g->cp_last_usec);
			j_u64(&x->j, "cp_total_usec", g->cp_total_usec);
			j_u64(&x->j, "cp_avg_usec", g->cps ? g->cp_total_usec / g->cps : 0);
			j_bool(&x->j, "cp_running", g->cp_running);
			j_u64(&x->j, "cache_bytes", g->cache_bytes);
			j_u64(&x->j, "cache_used_bytes", g->cache_used);
			j_u64(&x->j, "dirty_bytes", g->dirty);
			j_u64(&x->j, "cache_hits", g->cache_hits);
			j_u64(&x->j, "cache_misses", g->cache_misses);
			j_num(&x->j, "cache_hit_rate",
			      lookups ? (double)g->cache_hits / (double)lookups : 0.0);
			j_u64(&x->j, "nvlog_size_bytes", g->nvlog_size);
			j_u64(&x->j, "nvlog_used_bytes", g->nvlog_used);
			j_u64(&x->j, "disk_bytes_read", g->disk_read);
			j_u64(&x->j, "disk_bytes_written", g->disk_written);
			j_u64(&x->j, "nvlog_bytes_written", g->nvlog_written);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	char b[4][32];
	printf("Up %s.\n\n", duration(res.uptime_usec, b[0], 32));
	struct table t = {.ncols = 6};
	for (int c = 2; c < 6; c++)
		t.right[c] = true;
	t_row(&t, "Program", "Procedure", "Calls", "Errors", "Avg", "Max");
	unsigned shown = 0;
	for (u_int i = 0; i < res.procs.procs_len; i++) {
		ctl_proc_stats *p = &res.procs.procs_val[i];
		if (!p->calls && !all)
			continue;
		char c[2][24];
		snprintf(c[0], 24, "%llu", (unsigned long long)p->calls);
		snprintf(c[1], 24, "%llu", (unsigned long long)p->errors);
		t_row(&t, p->prog, p->name, c[0], c[1],
		      duration(p->calls ? p->usec_total / p->calls : 0, b[0], 32),
		      duration(p->usec_max, b[1], 32));
		shown++;
	}
	if (shown)
		t_print(&t);
	else {
		free(t.cells);
		printf("No NFS calls yet (stats -a lists every procedure).\n");
	}
	printf("\nNFS: %s read, %s written; %llu RPC calls (%llu garbage, %llu duplicate-cache "
	       "hits); %llu connections (%llu open).\n",
	       human(xs->bytes_read, b[0], 32), human(xs->bytes_written, b[1], 32),
	       (unsigned long long)xs->rpc_calls, (unsigned long long)xs->rpc_garbage,
	       (unsigned long long)xs->drc_hits, (unsigned long long)xs->connections,
	       (unsigned long long)xs->connections_open);
	if (!res.aggrs.aggrs_len)
		goto out;
	putchar('\n');
	struct table a = {.ncols = 10};
	for (int c = 1; c < 10; c++)
		a.right[c] = true;
	t_row(&a, "Aggr", "CP", "CPs", "Last CP", "Avg CP", "Cache", "Cache used", "Dirty",
	      "Hit rate", "NVLOG used");
	for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
		ctl_aggr_stats *g = &res.aggrs.aggrs_val[i];
		uint64_t lookups = g->cache_hits + g->cache_misses;
		char cp[2][24], c[6][32];
		snprintf(cp[0], 24, "%llu", (unsigned long long)g->cp_count);
		snprintf(cp[1], 24, "%llu%s", (unsigned long long)g->cps, g->cp_running ? "+" : "");
		if (lookups)
			snprintf(c[3], 32, "%.1f%%",
				 100.0 * (double)g->cache_hits / (double)lookups);
		else
			snprintf(c[3], 32, "-");
		snprintf(c[4], 32, "%s/%s", human(g->nvlog_used, b[2], 32),
			 human(g->nvlog_size, b[3], 32));
		t_row(&a, g->name, cp[0], cp[1], duration(g->cp_last_usec, b[0], 32),
		      duration(g->cps ? g->cp_total_usec / g->cps : 0, b[1], 32),
		      human(g->cache_bytes, c[0], 32), human(g->cache_used, c[1], 32),
		      human(g->dirty, c[2], 32), c[3], c[4]);
	}
	t_print(&a);
out:
	xdr_free((xdrproc_t)xdr_ctl_stats_res, (char *)&res);
	return rc;
}

static int do_cp(struct ctx *x, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cmd_usage(x, "'cp' takes no arguments");
	ctl_cp_res res = {0};
	int rc;
	if ((rc = CALL0(x, FILERCTL_CP, ctl_cp_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, NULL, NULL);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_u64(&x->j, "usec", res.usec);
		j_arr(&x->j, "aggregates");
		for (u_int i = 0; i < res.aggrs.aggrs_len; i++) {
			j_obj(&x->j, NULL);
			j_str(&x->j, "name", res.aggrs.aggrs_val[i].name);
			j_u64(&x->j, "cp_count", res.aggrs.aggrs_val[i].cp_count);
			j_end_obj(&x->j);
		}
		j_end_arr(&x->j);
		out_end(x);
		goto out;
	}
	char d[32];
	if (!res.aggrs.aggrs_len)
		printf("No aggregates: nothing to do.\n");
	for (u_int i = 0; i < res.aggrs.aggrs_len; i++)
		printf("Aggregate '%s': CP %llu is durable.\n", res.aggrs.aggrs_val[i].name,
		       (unsigned long long)res.aggrs.aggrs_val[i].cp_count);
	printf("Done in %s.\n", duration(res.usec, d, sizeof(d)));
out:
	xdr_free((xdrproc_t)xdr_ctl_cp_res, (char *)&res);
	return rc;
}

static int do_version(struct ctx *x, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cmd_usage(x, "'version' takes no arguments");
	ctl_version_res res = {0};
	int rc;
	if ((rc = CALL0(x, FILERCTL_VERSION, ctl_version_res, &res)))
		return rc;
	if (res.status) {
		rc = refused(x, res.status, res.msg, NULL, NULL);
		goto out;
	}
	if (x->json) {
		out_begin(x, true);
		j_str(&x->j, "filer_version", res.filer_version);
		j_u64(&x->j, "protocol", res.protocol);
		j_u64(&x->j, "filerctl_protocol", FILERCTL_VERS);
		j_i64(&x->j, "pid", res.pid);
		j_u64(&x->j, "uptime_usec", res.uptime_usec);
		j_str(&x->j, "home", res.home);
		j_str(&x->j, "config", res.config);
		j_str(&x->j, "socket", x->socket);
		out_end(x);
		goto out;
	}
	char d[32];
	printf("filer %s (control protocol %u; this filerctl speaks %u)\n", res.filer_version,
	       res.protocol, FILERCTL_VERS);
	printf("pid %d, up %s, home %s, configuration %s\n", res.pid,
	       duration(res.uptime_usec, d, sizeof(d)), res.home,
	       res.config[0] ? res.config : "(embedded default)");
out:
	xdr_free((xdrproc_t)xdr_ctl_version_res, (char *)&res);
	return rc;
}

static int do_help(struct ctx *x, int argc, char **argv);

static const struct cmd cmds[] = {
	{"aggr create",
	 "NAME [-t aggr|trad] [-s DISK_SIZE] [-r RAID_GROUP_SIZE] [-l NVLOG] [-L NVLOG_SIZE] "
	 "DISK...",
	 "create an aggregate (or, with -t trad, a traditional volume) on disks",
	 "Relative disk and NVLOG paths are in the filer's home directory. Missing\n"
	 "disks are created as sparse files of DISK_SIZE. The NVLOG defaults to\n"
	 "HOME/NAME.nvlog.",
	 do_aggr_create},
	{"aggr status", "[NAME]", "list aggregates: size, use, disks, RAID groups, CP count", NULL,
	 do_aggr_status},
	{"aggr add-disks", "NAME [-s DISK_SIZE] DISK...",
	 "add disks to an aggregate as a RAID group", NULL, do_aggr_add_disks},
	{"aggr check", "NAME", "run the consistency checker on a mounted aggregate",
	 "Exit status 1 when it finds problems; the first 100 are listed.", do_aggr_check},
	{"aggr destroy", "NAME", "destroy an aggregate (its volumes must be gone)", NULL,
	 do_aggr_destroy},
	{"vol create", "NAME AGGR SIZE [-g none|volume]",
	 "create a flexible volume in an aggregate",
	 "-g volume reserves the whole size in the aggregate (the space guarantee);\n"
	 "the default, none, is thin.",
	 do_vol_create},
	{"vol status", "[NAME]", "list volumes: state, size, use, files", NULL, do_vol_status},
	{"vol size", "NAME [[+|-]SIZE]", "show or set a volume's size (+N grows, -N shrinks)", NULL,
	 do_vol_size},
	{"vol offline", "NAME", "take a volume offline (not served)", NULL, do_vol_offline},
	{"vol online", "NAME", "bring a volume online", NULL, do_vol_online},
	{"vol restrict", "NAME", "restrict a volume (mounted, not served to clients)", NULL,
	 do_vol_restrict},
	{"vol destroy", "NAME", "destroy a volume (take it offline first)", NULL, do_vol_destroy},
	{"vol clone create", "NAME -s SNAPSHOT PARENT",
	 "create a volume that starts as a snapshot of another, sharing its blocks",
	 "The clone is writable at once and costs only metadata; the parent's snapshot\n"
	 "cannot be deleted while the clone depends on it ('vol clone split' ends that).",
	 do_vol_clone_create},
	{"vol clone split", "NAME", "copy what a clone shares with its parent, in the background",
	 "When the split is done the clone is an ordinary volume; 'vol status NAME'\n"
	 "shows what is left to copy.",
	 do_vol_clone_split},
	{"vol options", "NAME [snapdir visible|hidden]", "show a volume's options, or set one",
	 "snapdir: whether directory listings show .snapshot (it can be entered either\n"
	 "way).",
	 do_vol_options},
	{"snap create", "VOLUME NAME", "take a snapshot of a volume", NULL, do_snap_create},
	{"snap delete", "VOLUME NAME", "delete a snapshot (its space is freed in the background)",
	 "Refused while a clone depends on the snapshot.", do_snap_delete},
	{"snap rename", "VOLUME OLD NEW", "rename a snapshot", NULL, do_snap_rename},
	{"snap list", "[VOLUME]", "list snapshots: when, CP, space held by each alone, clones",
	 NULL, do_snap_list},
	{"snap restore", "VOLUME NAME",
	 "revert a whole volume to a snapshot (online; other snapshots stay)",
	 "Everything written since the snapshot is lost; clients holding files the\n"
	 "snapshot does not have get stale file handles.",
	 do_snap_restore},
	{"snap sched", "[VOLUME [hourly=N] [nightly=N] [weekly=N]]",
	 "show or set how many scheduled snapshots a volume keeps",
	 "Hourly snapshots are taken every hour at minute 0, nightly ones at 00:00 and\n"
	 "weekly ones on Sundays at 00:00 (local time), named hourly.0 (the newest),\n"
	 "hourly.1, ...; the oldest beyond N are deleted. 0 takes none; counts not\n"
	 "given stay as they are.",
	 do_snap_sched},
	{"snap sched-run", "VOLUME hourly|nightly|weekly",
	 "take a scheduled snapshot now, with its expiry (a testing aid)",
	 "Does what the clock would do at the next hour: useful to check a schedule\n"
	 "without waiting for it.",
	 do_snap_sched_run},
	{"export add", "PATH VOLUME CLIENTS", "export a volume to NFS clients",
	 "CLIENTS is an exports(5) list, e.g. '10.0.0.0/8(rw) *.example.com(ro)'.", do_export_add},
	{"export remove", "PATH", "stop exporting a path", NULL, do_export_remove},
	{"export list", "", "list exports", NULL, do_export_list},
	{"stats", "[-a]",
	 "NFS calls and latency per procedure, bytes, CPs, cache hit rate, NVLOG use",
	 "-a lists every procedure, also those never called.", do_stats},
	{"cp", "", "force a consistency point on every aggregate, and wait for it", NULL, do_cp},
	{"version", "", "the filer's version, protocol, pid, uptime and home", NULL, do_version},
	{"help", "[COMMAND]", "this list, or one command's help", NULL, do_help},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *cmd_by_name(const char *name)
{
	for (size_t i = 0; name && i < NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static void global_usage(FILE *o)
{
	fprintf(o, "usage: filerctl [-s SOCKET] [--json] [--timeout SECONDS] COMMAND [ARGS]\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(o, "  %-17s %s\n", cmds[i].name, cmds[i].brief);
	fprintf(o, "\nSOCKET defaults to $FILER_HOME/filer.sock, else ./var/filer.sock.\n"
		   "'filerctl help COMMAND' or 'filerctl COMMAND --help' for one command.\n"
		   "Exit status: 0 done, 1 the filer said no, 2 usage, 3 filer unreachable.\n");
}

static void cmd_help(const struct cmd *c)
{
	printf("usage: filerctl %s%s%s\n\n%s.\n", c->name, c->args[0] ? " " : "", c->args,
	       c->brief);
	if (c->more)
		printf("\n%s\n", c->more);
}

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 64 || m > 64)
		return 1000;
	size_t d[65][65];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

static int words_of(const char *name)
{
	int n = 1;
	for (; *name; name++)
		n += *name == ' ';
	return n;
}

/* argv[0..k-1] joined by blanks. */
static const char *join(char **argv, int k, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < k; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);
	}
	return buf;
}

/* The command the user most likely meant by argv[0..], or NULL. */
static const struct cmd *nearest(int argc, char **argv, int *nwords)
{
	const struct cmd *best = NULL;
	size_t bestd = (size_t)-1;
	for (size_t i = 0; i < NCMDS; i++) {
		int k = words_of(cmds[i].name);
		if (k > argc)
			continue;
		char typed[240];
		join(argv, k, typed, sizeof(typed));
		size_t d = edit_distance(typed, cmds[i].name);
		if (d < bestd) {
			bestd = d;
			best = &cmds[i];
			*nwords = k;
		}
	}
	if (!best)
		return NULL;
	size_t len = strlen(best->name);
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	return bestd <= limit ? best : NULL;
}

/* How many of argv's first words name a group of commands ("vol",
 * "vol clone"): the most that some command's name starts with, then a
 * blank. 0: none. */
static int group_words(int argc, char **argv)
{
	int best = 0;
	for (int k = 1; k <= argc && k <= 2; k++) {
		char g[240];
		join(argv, k, g, sizeof(g));
		size_t gl = strlen(g);
		for (size_t i = 0; i < NCMDS; i++)
			if (!strncmp(cmds[i].name, g, gl) && cmds[i].name[gl] == ' ')
				best = k;
	}
	return best;
}

/* The commands of group g, without it: "create, status, ..." */
static void group_subs(const char *g, char *subs, size_t len)
{
	size_t gl = strlen(g);
	subs[0] = '\0';
	for (size_t i = 0; i < NCMDS; i++) {
		if (strncmp(cmds[i].name, g, gl) || cmds[i].name[gl] != ' ')
			continue;
		if (subs[0])
			strncat(subs, ", ", len - strlen(subs) - 1);
		strncat(subs, cmds[i].name + gl + 1, len - strlen(subs) - 1);
	}
}

static int unknown_command(struct ctx *x, int argc, char **argv)
{
	char typed[240];
	int gw = group_words(argc, argv);
	if (gw && argc == gw) {
		char subs[400];
		join(argv, gw, typed, sizeof(typed));
		group_subs(typed, subs, sizeof(subs));
		return report(x, EXIT_USAGE, 0, NULL, "'%s' needs a subcommand: %s", typed, subs);
	}
	if (gw)
		join(argv, gw + 1, typed, sizeof(typed));
	else if (argc >= 2 && argv[1][0] != '-')
		join(argv, 2, typed, sizeof(typed));
	else
		join(argv, 1, typed, sizeof(typed));
	int k = 0;
	const struct cmd *c = nearest(argc, argv, &k);
	if (c) {
		char mine[240];
		return report(x, EXIT_USAGE, 0, NULL, "unknown command '%s'; did you mean '%s'?",
			      gw ? typed : join(argv, k, mine, sizeof(mine)), c->name);
	}
	return report(x, EXIT_USAGE, 0, NULL,
		      "unknown command '%s' ('filerctl help' lists the commands)", typed);
}

static int do_help(struct ctx *x, int argc, char **argv)
{
	if (argc == 1) {
		global_usage(stdout);
		return 0;
	}
	char name[240];
	join(argv + 1, argc - 1, name, sizeof(name));
	const struct cmd *c = cmd_by_name(name);
	if (c) {
		cmd_help(c);
		return 0;
	}
	/* a group: its commands */
	size_t gl = strlen(name);
	bool any = false;
	for (size_t i = 0; group_words(argc - 1, argv + 1) == argc - 1 && i < NCMDS; i++)
		if (!strncmp(cmds[i].name, name, gl) && cmds[i].name[gl] == ' ') {
			printf("  filerctl %s %s\n      %s\n", cmds[i].name, cmds[i].args,
			       cmds[i].brief);
			any = true;
		}
	if (any)
		return 0;
	x->cmd = "help";
	return unknown_command(x, argc - 1, argv + 1);
}

/* ---- main --------------------------------------------------------------- */

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

int main(int argc, char **argv)
{
	struct ctx x = {.fd = -1, .timeout_ms = 600 * 1000};
	char defsock[4200];
	const char *home = getenv("FILER_HOME");
	snprintf(defsock, sizeof(defsock), "%s/filer.sock", home && *home ? home : "./var");
	x.socket = defsock;
	x.xid = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);

	/* global options, up to the command */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
			x.json = true;
		} else if (is_help(a)) {
			global_usage(stdout);
			return 0;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--socket") || !strcmp(a, "-t") ||
			   !strcmp(a, "--timeout")) {
			if (i + 1 >= argc) {
				global_usage(stderr);
				return report(&x, EXIT_USAGE, 0, NULL, "option '%s' needs a value",
					      a);
			}
			val = argv[++i];
		} else if (!strncmp(a, "--socket=", 9) || !strncmp(a, "--timeout=", 10)) {
			val = strchr(a, '=') + 1;
		} else if (!strncmp(a, "-s", 2)) {
			val = a + 2;
			a = "-s";
		} else {
			global_usage(stderr);
			return report(&x, EXIT_USAGE, 0, NULL, "unknown option '%s'", a);
		}
		if (!val)
			continue;
		if (a[1] == 's' || !strncmp(a, "--socket", 8)) {
			x.socket = val;
		} else {
			char *end;
			long t = strtol(val, &end, 10);
			if (*end || end == val || t < 0 || t > 86400 * 7)
				return report(&x, EXIT_USAGE, 0, NULL, "bad timeout '%s' (seconds)",
					      val);
			x.timeout_ms = t ? (int)(t * 1000) : -1;
		}
	}
	if (i >= argc) {
		global_usage(stderr);
		return EXIT_USAGE;
	}
	/* --json after the command is accepted too (scripts append it) */
	int n = 0;
	char **args = argv + i;
	for (int k = i; k < argc; k++)
		if (!strcmp(argv[k], "--json") || !strcmp(argv[k], "-j"))
			x.json = true;
		else
			args[n++] = argv[k];
	args[n] = NULL;

	/* the longest command the first words name: "vol clone create" */
	const struct cmd *c = NULL;
	int used = 0;
	for (int k = n < 3 ? n : 3; k >= 1 && !c; k--) {
		char words[240];
		if ((c = cmd_by_name(join(args, k, words, sizeof(words)))))
			used = k;
	}
	if (!c) {
		x.cmd = args[0];
		return unknown_command(&x, n, args);
	}
	x.cmd = c->name;
	/* the command's own argv: argv[0] is its last word */
	char **cargv = args + used - 1;
	int cargc = n - used + 1;
	for (int k = 1; k < cargc; k++)
		if (is_help(cargv[k])) {
			cmd_help(c);
			return 0;
		}
	int rc = c->fn(&x, cargc, cargv);
	if (x.fd >= 0)
		close(x.fd);
	return rc;
}
