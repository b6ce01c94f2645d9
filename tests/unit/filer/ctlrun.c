/*
 * ctlrun.c - running filerctl and reading its JSON, for the filer tests
 * (ctlrun.h).
 */
#include "tests/unit/filer/ctlrun.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a strict JSON parser ------------------------------------------------- */

struct jp {
	const char *p;
	int depth;
};

static void j_ws(struct jp *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static void j_put_utf8(char **o, unsigned cp)
{
	if (cp < 0x80) {
		*(*o)++ = (char)cp;
	} else if (cp < 0x800) {
		*(*o)++ = (char)(0xc0 | cp >> 6);
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*(*o)++ = (char)(0xe0 | cp >> 12);
		*(*o)++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	}
}

static char *j_string(struct jp *j)
{
	if (*j->p != '"')
		return NULL;
	j->p++;
	char *out = malloc(strlen(j->p) * 3 + 1), *o = out;
	while (*j->p != '"') {
		unsigned char ch = (unsigned char)*j->p;
		if (ch == 0 || ch < 0x20)
			goto bad;
		if (ch != '\\') {
			*o++ = (char)ch;
			j->p++;
			continue;
		}
		j->p++;
		switch (*j->p++) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++, j->p++) {
				char c = *j->p;
				cp <<= 4;
				if (c >= '0' && c <= '9')
					cp |= (unsigned)(c - '0');
				else if (c >= 'a' && c <= 'f')
					cp |= (unsigned)(c - 'a' + 10);
				else if (c >= 'A' && c <= 'F')
					cp |= (unsigned)(c - 'A' + 10);
				else
					goto bad;
			}
			j_put_utf8(&o, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	j->p++;
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

static bool j_value(struct jp *j, struct jv *v)
{
	memset(v, 0, sizeof(*v));
	j_ws(j);
	if (++j->depth > 64)
		return false;
	bool ok = true;
	if (*j->p == '{' || *j->p == '[') {
		bool obj = *j->p == '{';
		char close = obj ? '}' : ']';
		v->t = obj ? J_OBJ : J_ARR;
		j->p++;
		j_ws(j);
		if (*j->p == close) {
			j->p++;
		} else {
			for (;;) {
				v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
				if (obj) {
					v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
					j_ws(j);
					char *k = j_string(j);
					j_ws(j);
					if (!k || *j->p != ':') {
						free(k);
						ok = false;
						break;
					}
					j->p++;
					v->keys[v->n] = k;
				}
				if (!j_value(j, &v->items[v->n])) {
					if (obj)
						free(v->keys[v->n]);
					ok = false;
					break;
				}
				v->n++;
				j_ws(j);
				if (*j->p == ',') {
					j->p++;
					continue;
				}
				if (*j->p == close) {
					j->p++;
					break;
				}
				ok = false;
				break;
			}
		}
	} else if (*j->p == '"') {
		v->t = J_STR;
		ok = (v->s = j_string(j)) != NULL;
	} else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
		v->t = J_BOOL;
		v->b = *j->p == 't';
		j->p += v->b ? 4 : 5;
	} else if (!strncmp(j->p, "null", 4)) {
		v->t = J_NULL;
		j->p += 4;
	} else if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		v->t = J_NUM;
		const char *s = j->p;
		char *end;
		v->d = strtod(s, &end);
		if (end == s) {
			ok = false;
		} else {
			if (strspn(s, "0123456789") == (size_t)(end - s))
				v->u = strtoull(s, NULL, 10);
			else
				v->u = (unsigned long long)v->d;
			j->p = end;
		}
	} else {
		ok = false;
	}
	j->depth--;
	if (!ok)
		jv_free(v);
	return ok;
}

void jv_free(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

/* The whole text must be one value (and whitespace). */
bool json_parse(const char *text, struct jv *out)
{
	struct jp j = {text, 0};
	if (!j_value(&j, out))
		return false;
	j_ws(&j);
	if (*j.p) {
		jv_free(out);
		return false;
	}
	return true;
}

/* "volumes.0.name": object keys and array indexes. NULL when absent. */
const struct jv *jget(const struct jv *v, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save, *tok = strtok_r(buf, ".", &save);
	for (; v && tok; tok = strtok_r(NULL, ".", &save)) {
		const struct jv *next = NULL;
		if (v->t == J_OBJ) {
			for (size_t i = 0; i < v->n; i++)
				if (!strcmp(v->keys[i], tok))
					next = &v->items[i];
		} else if (v->t == J_ARR) {
			char *end;
			unsigned long i = strtoul(tok, &end, 10);
			if (!*end && i < v->n)
				next = &v->items[i];
		}
		v = next;
	}
	return v;
}

const char *jstr(const struct jv *v, const char *path)
{
	const struct jv *x = jget(v, path);
	cr_assert(x && x->t == J_STR, "JSON: no string at %s", path);
	return x->s;
}

unsigned long long jnum(const struct jv *v, const char *path)
{
	const struct jv *x = jget(v, path);
	cr_assert(x && x->t == J_NUM, "JSON: no number at %s", path);
	return x->u;
}

double jdbl(const struct jv *v, const char *path)
{
	const struct jv *x = jget(v, path);
	cr_assert(x && x->t == J_NUM, "JSON: no number at %s", path);
	return x->d;
}

bool jbool(const struct jv *v, const char *path)
{
	const struct jv *x = jget(v, path);
	cr_assert(x && x->t == J_BOOL, "JSON: no boolean at %s", path);
	return x->b;
}

size_t jlen(const struct jv *v, const char *path)
{
	const struct jv *x = jget(v, path);
	cr_assert(x && (x->t == J_ARR || x->t == J_OBJ), "JSON: no array at %s", path);
	return x->n;
}

/* The element of array `path` whose `key` is `val`, or NULL. */
const struct jv *jfind(const struct jv *v, const char *path, const char *key, const char *val)
{
	const struct jv *a = jget(v, path);
	for (size_t i = 0; a && a->t == J_ARR && i < a->n; i++) {
		const struct jv *k = jget(&a->items[i], key);
		if (k && k->t == J_STR && !strcmp(k->s, val))
			return &a->items[i];
	}
	return NULL;
}

/* ---- running filerctl -------------------------------------------------- */

const char *filerctl_bin(void)
{
	const char *b = getenv("FILERCTL");
	return b ? b : "build/bin/filerctl";
}

void sock_path(const struct filerproc *fp, char *out, size_t len)
{
	snprintf(out, len, "%s/filer.sock", fp->home);
}

/* Runs argv (NULL-terminated) as uid/gid with the supplementary groups
 * (uid and gid 0: unchanged), collecting stdout and stderr. */
void run_as_groups(struct run *r, uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups,
		   char *const argv[])
{
	memset(r, 0, sizeof(*r));
	int po[2], pe[2];
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		if (uid || gid) {
			if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
				_exit(126);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	size_t no = 0, ne = 0;
	struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	int open = 2;
	while (open) {
		if (poll(p, 2, 60000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &ne : &no;
			size_t cap = i ? sizeof(r->err) : sizeof(r->out);
			char tmp[4096];
			ssize_t k = read(p[i].fd, tmp, sizeof(tmp));
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
				continue;
			}
			size_t take = (size_t)k < cap - 1 - *n ? (size_t)k : cap - 1 - *n;
			memcpy(buf + *n, tmp, take);
			*n += take;
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void run_as(struct run *r, uid_t uid, gid_t gid, char *const argv[])
{
	run_as_groups(r, uid, gid, 0, NULL, argv);
}

/* filerctl -s HOME/filer.sock ARGS...; with "--json" among them, stdout
 * must parse as JSON. */
int ctl(struct run *r, const struct filerproc *fp, ...)
{
	char sock[512];
	sock_path(fp, sock, sizeof(sock));
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)filerctl_bin();
	argv[n++] = "-s";
	argv[n++] = sock;
	bool json = false;
	va_list ap;
	va_start(ap, fp);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 63) {
		json |= !strcmp(a, "--json");
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	run_as(r, 0, 0, argv);
	if (json) {
		r->parsed = json_parse(r->out, &r->json);
		cr_assert(r->parsed, "not JSON from filerctl %s %s: [%s] (stderr %s)", argv[3],
			  n > 4 ? argv[4] : "", r->out, r->err);
	}
	return r->code;
}

void run_done(struct run *r)
{
	if (r->parsed)
		jv_free(&r->json);
	r->parsed = false;
}
