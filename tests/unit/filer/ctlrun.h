/*
 * ctlrun.h - what the filer tests share to run the real filerctl against
 * a real filer (tests/lib/filerproc.h) and read its answers: a strict
 * JSON parser (which also proves the output is JSON), running a program
 * with its output collected, and the expectations on exit status and
 * words.
 */
#ifndef TESTS_UNIT_FILER_CTLRUN_H
#define TESTS_UNIT_FILER_CTLRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "tests/lib/filerproc.h"

/* ---- JSON ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	bool b;
	double d;
	unsigned long long u; /* J_NUM: exact when the text is a plain integer */
	char *s;	      /* J_STR */
	size_t n;	      /* J_ARR, J_OBJ: how many */
	char **keys;	      /* J_OBJ */
	struct jv *items;     /* J_ARR, J_OBJ */
};

/* The whole text must be one value (and whitespace). */
bool json_parse(const char *text, struct jv *out);
void jv_free(struct jv *v);
/* "volumes.0.name": object keys and array indexes. NULL when absent. */
const struct jv *jget(const struct jv *v, const char *path);
/* The value at path, asserted to be of that type. */
const char *jstr(const struct jv *v, const char *path);
unsigned long long jnum(const struct jv *v, const char *path);
double jdbl(const struct jv *v, const char *path);
bool jbool(const struct jv *v, const char *path);
size_t jlen(const struct jv *v, const char *path);
/* The element of array `path` whose `key` is `val`, or NULL. */
const struct jv *jfind(const struct jv *v, const char *path, const char *key, const char *val);

/* ---- running filerctl ---- */

struct run {
	int code; /* exit status; 128+N when killed by signal N */
	char out[1 << 17];
	char err[1 << 14];
	struct jv json; /* parsed stdout, when it was asked for */
	bool parsed;
};

/* $FILERCTL, else build/bin/filerctl. */
const char *filerctl_bin(void);
/* HOME/filer.sock */
void sock_path(const struct filerproc *fp, char *out, size_t len);
/* Runs argv (NULL-terminated) as uid/gid with the supplementary groups
 * (uid and gid 0: unchanged), collecting stdout and stderr. */
void run_as_groups(struct run *r, uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups,
		   char *const argv[]);
void run_as(struct run *r, uid_t uid, gid_t gid, char *const argv[]);
/* filerctl -s HOME/filer.sock ARGS... (NULL-terminated); with "--json"
 * among them, stdout must parse as JSON (r->json). Returns the exit status. */
int ctl(struct run *r, const struct filerproc *fp, ...);
void run_done(struct run *r);

/* Expect exit status `code` and `text` on stderr. */
#define EXPECT_FAIL(r, code_, text)                                                                \
	do {                                                                                       \
		cr_assert_eq((r)->code, (code_), "exit %d, not %d; stderr: %s", (r)->code,         \
			     (code_), (r)->err);                                                   \
		cr_assert(strstr((r)->err, (text)), "stderr lacks '%s': %s", (text), (r)->err);    \
	} while (0)

#define EXPECT_OK(r)                                                                               \
	cr_assert_eq((r)->code, 0, "exit %d; stderr: %s; stdout: %s", (r)->code, (r)->err, (r)->out)

#endif
