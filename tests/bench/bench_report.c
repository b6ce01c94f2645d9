/*
 * bench_report.c - the table of `make bench` (bench-nfs report): a row per
 * workload with the filer's figures, nfs-ganesha's (when it ran), their
 * ratio, and the target for that row, met or MISSED; then the
 * ceilings and the filer's peak memory.
 *
 *   bench-nfs report --filer FILE --ceilings FILE [--ceilings FILE] [--ganesha FILE]
 *                    [--no-ganesha REASON] [--rss-kib N --cache-mib N]
 *
 * The ceilings may be measured more than once (the script does it before
 * and after the servers): each target is judged against the best of them,
 * since a ceiling is what the machine can do, and a busy moment must not
 * make a target easier.
 *
 * The ratio is filer/ganesha in ops/s. A target that compares with
 * ganesha is "n/a" without it and counts neither way. Nothing here
 * asserts a timing: the exit status is 0 whether targets are met or not
 * (only unreadable input is an error).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/bench_nfs.h"

#define MAX_ROWS 32

struct fig {
	char key[32];
	double ops, secs, bytes, p50_us, p99_us;
};

struct results {
	bool present;
	struct fig fig[MAX_ROWS];
	unsigned nfig;
	char pname[MAX_ROWS][32];
	double pval[MAX_ROWS];
	unsigned nparam;
};

enum goal {
	G_NONE,
	G_VS_GANESHA, /* filer ops/s >= x * ganesha ops/s */
	G_DISK,	      /* filer MB/s >= x * disk sequential write */
	G_LOOPBACK,   /* filer MB/s >= x * loopback TCP */
	G_FSYNC,      /* filer ops/s >= x * 4 KiB write+fdatasync rate */
	G_DEPTH1,     /* filer ops/s >= x * filer's own sync-d1 */
};

static const struct row {
	const char *key, *label;
	enum goal goal;
	double x;
} rows[] = {
	{"create", "create 4 KiB FILE_SYNC", G_VS_GANESHA, 4},
	{"getattr", "getattr", G_VS_GANESHA, 2},
	{"lookup", "lookup", G_VS_GANESHA, 2},
	{"remove", "remove", G_VS_GANESHA, 3},
	{"seq-write", "seq write 1M UNSTABLE+COMMIT", G_DISK, 0.80},
	{"seq-read", "seq read 1M", G_LOOPBACK, 0.75},
	{"rand-write", "rand write 4K d64", G_VS_GANESHA, 1.5},
	{"rand-read", "rand read 4K d64", G_VS_GANESHA, 1.5},
	{"sync-d1", "FILE_SYNC 4K depth 1", G_FSYNC, 0.70},
	{"sync-d32", "FILE_SYNC 4K depth 32", G_DEPTH1, 5},
	{"readdirplus", "readdirplus, big dir (entries)", G_NONE, 0},
};

static int load(const char *path, struct results *r)
{
	memset(r, 0, sizeof(*r));
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == 'R' && r->nfig < MAX_ROWS) {
			struct fig *g = &r->fig[r->nfig];
			if (sscanf(line, "R %31s %lf %lf %lf %lf %lf", g->key, &g->ops, &g->secs,
				   &g->bytes, &g->p50_us, &g->p99_us) == 6)
				r->nfig++;
		} else if (line[0] == 'P' && r->nparam < MAX_ROWS) {
			if (sscanf(line, "P %31s %lf", r->pname[r->nparam], &r->pval[r->nparam]) ==
			    2)
				r->nparam++;
		}
	}
	fclose(f);
	r->present = true;
	return 0;
}

static const struct fig *find(const struct results *r, const char *key)
{
	for (unsigned i = 0; r->present && i < r->nfig; i++)
		if (!strcmp(r->fig[i].key, key))
			return &r->fig[i];
	return NULL;
}

static double param(const struct results *r, const char *name)
{
	for (unsigned i = 0; i < r->nparam; i++)
		if (!strcmp(r->pname[i], name))
			return r->pval[i];
	return -1;
}

static double ops_s(const struct fig *f)
{
	return f && f->secs > 0 ? f->ops / f->secs : 0;
}

static double mb_s(const struct fig *f)
{
	return f && f->secs > 0 ? f->bytes / f->secs / 1e6 : 0;
}

/* ops/s, MB/s, p50 and p99 in ms: 38 columns */
static void cells(const struct fig *f)
{
	if (!f) {
		printf(" %9s %8s %8s %8s", "-", "-", "-", "-");
		return;
	}
	char mb[16];
	if (f->bytes > 0)
		snprintf(mb, sizeof(mb), "%8.1f", mb_s(f));
	else
		snprintf(mb, sizeof(mb), "%8s", "-");
	printf(" %9.0f %s %8.3f %8.3f", ops_s(f), mb, f->p50_us / 1000, f->p99_us / 1000);
}

int bench_report_main(int argc, char **argv)
{
	const char *filer = NULL, *ganesha = NULL, *no_ganesha = NULL;
	const char *ceil[4];
	unsigned nceil = 0;
	double rss_kib = -1, cache_mib = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--filer"))
			filer = argv[i + 1];
		else if (!strcmp(argv[i], "--ganesha"))
			ganesha = argv[i + 1];
		else if (!strcmp(argv[i], "--no-ganesha"))
			no_ganesha = argv[i + 1];
		else if (!strcmp(argv[i], "--ceilings") && nceil < 4)
			ceil[nceil++] = argv[i + 1];
		else if (!strcmp(argv[i], "--rss-kib"))
			rss_kib = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--cache-mib"))
			cache_mib = atof(argv[i + 1]);
	}
	struct results fr, gr = {0};
	if (!filer || !nceil || load(filer, &fr)) {
		fprintf(stderr, "bench-nfs report: no filer results (--filer FILE)\n");
		return 2;
	}
	if (ganesha && load(ganesha, &gr))
		gr.present = false;

	/* the ceilings: each measurement, and the best of them */
	double each[4][3] = {{0}};
	for (unsigned k = 0; k < nceil; k++) {
		FILE *c = fopen(ceil[k], "r");
		if (!c)
			continue;
		char line[256], name[64];
		double v;
		while (fgets(line, sizeof(line), c)) {
			if (sscanf(line, "C %63s %lf", name, &v) != 2)
				continue;
			if (!strcmp(name, "loopback_mbps"))
				each[k][0] = v;
			else if (!strcmp(name, "disk_seq_mbps"))
				each[k][1] = v;
			else if (!strcmp(name, "fdatasync_ops"))
				each[k][2] = v;
		}
		fclose(c);
	}
	double best[3] = {0};
	for (unsigned k = 0; k < nceil; k++)
		for (unsigned j = 0; j < 3; j++)
			if (each[k][j] > best[j])
				best[j] = each[k][j];
	double loop = best[0], disk = best[1], fsync_ops = best[2];

	printf("\nsizes: %.0f files of 4 KiB; %.0f getattrs and %.0f lookups; a %.0f MiB file; "
	       "%.0f random writes, %.0f random reads;\n       FILE_SYNC %.0f s at each depth; a "
	       "%.0f-entry directory; %.0f TCP connections\n",
	       param(&fr, "files"), param(&fr, "meta_ops"), param(&fr, "meta_ops"),
	       param(&fr, "seq_mib"), param(&fr, "rand_ops"), 2 * param(&fr, "rand_ops"),
	       param(&fr, "sync_secs"), param(&fr, "dir_entries"), param(&fr, "conns"));
	if (!gr.present)
		printf("nfs-ganesha: not measured (%s)\n", no_ganesha ? no_ganesha : "no results");
	printf("\n%-30s |%-36s |%-36s | %7s | %s\n", "", " filer", " nfs-ganesha", "filer/",
	       "target");
	printf("%-30s | %9s %8s %8s %8s | %9s %8s %8s %8s | %7s |\n", "workload", "ops/s", "MB/s",
	       "p50 ms", "p99 ms", "ops/s", "MB/s", "p50 ms", "p99 ms", "ganesha");
	printf("%.*s\n", 150,
	       "-------------------------------------------------------------------------------"
	       "-------------------------------------------------------------------------------");

	unsigned met = 0, missed = 0, na = 0;
	const struct fig *d1 = find(&fr, "sync-d1");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		const struct fig *f = find(&fr, w->key), *gf = find(&gr, w->key);
		printf("%-30s |", w->label);
		cells(f);
		printf(" |");
		cells(gf);
		char ratio[16] = "-";
		if (f && gf && ops_s(gf) > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx", ops_s(f) / ops_s(gf));
		printf(" | %7s | ", ratio);

		char tgt[96] = "-";
		int ok = -1; /* -1: not judged */
		double have = 0, want = 0;
		switch (w->goal) {
		case G_NONE:
			break;
		case G_VS_GANESHA:
			if (f && gf && ops_s(gf) > 0) {
				ok = ops_s(f) >= w->x * ops_s(gf);
				snprintf(tgt, sizeof(tgt), ">= %.1fx ganesha", w->x);
			} else {
				snprintf(tgt, sizeof(tgt), ">= %.1fx ganesha: n/a", w->x);
			}
			break;
		case G_DISK:
			have = mb_s(f), want = w->x * disk;
			snprintf(tgt, sizeof(tgt), ">= %.0f%% of disk %.0f MB/s: %.0f%%",
				 w->x * 100, disk, disk > 0 ? 100 * have / disk : 0);
			ok = f && disk > 0 ? have >= want : -1;
			break;
		case G_LOOPBACK:
			have = mb_s(f), want = w->x * loop;
			snprintf(tgt, sizeof(tgt), ">= %.0f%% of loopback %.0f MB/s: %.0f%%",
				 w->x * 100, loop, loop > 0 ? 100 * have / loop : 0);
			ok = f && loop > 0 ? have >= want : -1;
			break;
		case G_FSYNC:
			have = ops_s(f), want = w->x * fsync_ops;
			snprintf(tgt, sizeof(tgt), ">= %.0f%% of fdatasync %.0f/s: %.0f%%",
				 w->x * 100, fsync_ops, fsync_ops > 0 ? 100 * have / fsync_ops : 0);
			ok = f && fsync_ops > 0 ? have >= want : -1;
			break;
		case G_DEPTH1:
			have = ops_s(f), want = w->x * ops_s(d1);
			snprintf(tgt, sizeof(tgt), ">= %.0fx depth 1: %.1fx", w->x,
				 ops_s(d1) > 0 ? have / ops_s(d1) : 0);
			ok = f && d1 && ops_s(d1) > 0 ? have >= want : -1;
			break;
		}
		if (w->goal == G_NONE)
			printf("-\n");
		else
			printf("%-40s %s\n", tgt, ok < 0 ? "n/a" : ok ? "met" : "MISSED");
		if (w->goal != G_NONE) {
			if (ok < 0)
				na++;
			else if (ok)
				met++;
			else
				missed++;
		}
	}

	printf("\nceilings (this machine, in the benchmark's network namespace; the best of %u "
	       "measurements, each shown):\n",
	       nceil);
	static const char *const cname[3] = {"loopback TCP, one stream (MB/s)",
					     "disk sequential write + fdatasync (MB/s)",
					     "4 KiB write + fdatasync, depth 1 (ops/s)"};
	for (unsigned j = 0; j < 3; j++) {
		printf("  %-40s %10.1f  (", cname[j], best[j]);
		for (unsigned k = 0; k < nceil; k++)
			printf("%s%.1f", k ? ", " : "", each[k][j]);
		printf(")\n");
	}
	if (rss_kib >= 0 && cache_mib >= 0) {
		double rss = rss_kib / 1024, lim = cache_mib + 64;
		bool ok = rss <= lim;
		printf("\nfiler peak RSS (VmHWM) over the run: %.1f MiB; cache %.0f MiB + 64 MiB = "
		       "%.0f MiB allowed: %s\n",
		       rss, cache_mib, lim, ok ? "met" : "MISSED");
		ok ? met++ : missed++;
	}
	/* written at the end of a run: missing, the run stopped early */
	if (param(&fr, "verified_bytes") >= 0)
		printf("checked: filer %.0f MiB read back and compared, %.0f attribute sets",
		       param(&fr, "verified_bytes") / (1 << 20), param(&fr, "verified_attrs"));
	else
		printf("checked: the filer's run stopped before its end");
	if (gr.present && param(&gr, "verified_bytes") >= 0)
		printf("; ganesha %.0f MiB, %.0f", param(&gr, "verified_bytes") / (1 << 20),
		       param(&gr, "verified_attrs"));
	printf("\ntargets: %u met, %u missed, %u not judged\n", met, missed, na);
	return 0;
}
