/*
 * metrics.c - the filer's counters in the Prometheus text format
 * (version 0.0.4), served by libevent's evhttp on the loop thread at
 * GET /metrics. Off unless filer.conf says `metrics ADDR:PORT`.
 *
 * Every value is read when asked from nfs/ (nfs_stats, nfs_xfer_stats)
 * and wafl/ (wafl_aggr_info, wafl_vol_info); nothing is kept here.
 * Names follow Prometheus habits: base units (seconds, bytes), _total for
 * counters, a label per procedure, aggregate or volume.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "filer/filer.h"

#define NFS3_NPROCS 22 /* NULL..COMMIT (RFC 1813); MOUNT's follow in nfs_stats */

struct metrics {
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	uint16_t port;
	uint64_t scrapes;
};

/* Label values are names filer.conf and wafl/ validated, but escape
 * anyway: the format wants \\, \" and \n escaped. */
static void label(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void nfs_metrics(struct filer *f, struct evbuffer *b)
{
	struct nfs_proc_stats ps[64];
	size_t n = nfs_stats(f->nfs, ps, sizeof(ps) / sizeof(ps[0]));
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"filer_rpc_calls_total", "counter", "Calls answered, by program and procedure."},
		{"filer_rpc_errors_total", "counter",
		 "Calls answered with an error status, by program and procedure."},
		{"filer_rpc_call_seconds", "summary", "Time from call to reply."},
		{"filer_rpc_call_seconds_max", "gauge", "Longest call since the start."},
	};
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		head(b, fam[k].name, fam[k].type, fam[k].help);
		for (size_t i = 0; i < n; i++) {
			const char *prog = i < NFS3_NPROCS ? "nfs3" : "mount3";
			const char *proc = ps[i].name ? ps[i].name : "?";
			const char *suffix[] = {"", "", "_sum", ""};
			evbuffer_add_printf(b, "%s%s{program=\"%s\",proc=\"", fam[k].name,
					    suffix[k], prog);
			label(b, proc);
			switch (k) {
			case 0:
				evbuffer_add_printf(b, "\"} %llu\n",
						    (unsigned long long)ps[i].calls);
				break;
			case 1:
				evbuffer_add_printf(b, "\"} %llu\n",
						    (unsigned long long)ps[i].errors);
				break;
			case 2:
				evbuffer_add_printf(b, "\"} %.6f\n",
						    (double)ps[i].usec_total / 1e6);
				evbuffer_add_printf(b, "%s_count{program=\"%s\",proc=\"",
						    fam[k].name, prog);
				label(b, proc);
				evbuffer_add_printf(b, "\"} %llu\n",
						    (unsigned long long)ps[i].calls);
				break;
			default:
				evbuffer_add_printf(b, "\"} %.6f\n", (double)ps[i].usec_max / 1e6);
				break;
			}
		}
	}
	struct nfs_xfer_stats x;
	nfs_xfer_stats(f->nfs, &x);
	static const char *const xn[][3] = {
		{"filer_nfs_read_bytes_total", "counter", "File data sent by READ."},
		{"filer_nfs_written_bytes_total", "counter", "File data received by WRITE."},
		{"filer_nfs_connections_total", "counter", "TCP connections accepted."},
		{"filer_nfs_connections_open", "gauge", "TCP connections open now."},
		{"filer_rpc_received_total", "counter", "RPC calls received."},
		{"filer_rpc_garbage_total", "counter", "RPC messages that did not decode."},
		{"filer_rpc_drc_hits_total", "counter",
		 "Retransmitted calls answered from the duplicate-request cache."},
	};
	const uint64_t xv[] = {x.bytes_read, x.bytes_written, x.connections, x.connections_open,
			       x.rpc_calls,  x.rpc_garbage,   x.drc_hits};
	for (size_t i = 0; i < sizeof(xv) / sizeof(xv[0]); i++) {
		head(b, xn[i][0], xn[i][1], xn[i][2]);
		evbuffer_add_printf(b, "%s %llu\n", xn[i][0], (unsigned long long)xv[i]);
	}
}

struct aggr_family {
	const char *name, *type, *help;
};

static uint64_t aggr_value(const struct wafl_aggr_info *ai, unsigned k, double *d, bool *is_d)
{
	*is_d = false;
	switch (k) {
	case 0:
		return ai->size_blocks * WAFL_BLOCK_SIZE;
	case 1:
		return ai->used_blocks * WAFL_BLOCK_SIZE;
	case 2:
		return ai->reserved_blocks * WAFL_BLOCK_SIZE;
	case 3:
		return ai->cp_count;
	case 4:
		return ai->cps;
	case 5:
		*is_d = true;
		*d = (double)ai->cp_total_usec / 1e6;
		return 0;
	case 6:
		*is_d = true;
		*d = (double)ai->cp_last_usec / 1e6;
		return 0;
	case 7:
		return ai->cp_running;
	case 8:
		return ai->cache_hits;
	case 9:
		return ai->cache_misses;
	case 10:
		return ai->cache_bytes;
	case 11:
		return ai->cache_used_bytes;
	case 12:
		return ai->dirty_bytes;
	case 13:
		return ai->nvlog_size_bytes;
	case 14:
		return ai->nvlog_used_bytes;
	case 15:
		return ai->nvlog_bytes_written;
	case 16:
		return ai->disk_bytes_written;
	case 17:
		return ai->disk_bytes_read;
	case 18:
		return ai->ndisks;
	default:
		return ai->nvols;
	}
}

static void aggr_metrics(struct filer *f, struct evbuffer *b)
{
	static const struct aggr_family fam[] = {
		{"filer_aggr_size_bytes", "gauge", "Space of the aggregate."},
		{"filer_aggr_used_bytes", "gauge", "Space allocated."},
		{"filer_aggr_reserved_bytes", "gauge", "Space promised to guaranteed volumes."},
		{"filer_aggr_cp_number", "gauge", "Number of the newest durable CP."},
		{"filer_aggr_cps_total", "counter", "Consistency points since the start."},
		{"filer_aggr_cp_seconds_total", "counter", "Time spent in consistency points."},
		{"filer_aggr_cp_last_seconds", "gauge", "Duration of the last consistency point."},
		{"filer_aggr_cp_running", "gauge", "1 while a consistency point is being written."},
		{"filer_aggr_cache_hits_total", "counter", "Buffer cache hits."},
		{"filer_aggr_cache_misses_total", "counter", "Buffer cache misses (disk reads)."},
		{"filer_aggr_cache_bytes", "gauge", "Buffer cache size."},
		{"filer_aggr_cache_used_bytes", "gauge", "Buffer cache in use."},
		{"filer_aggr_dirty_bytes", "gauge", "Changed data waiting for a CP."},
		{"filer_aggr_nvlog_size_bytes", "gauge", "Size of the NVLOG."},
		{"filer_aggr_nvlog_used_bytes", "gauge", "NVLOG space holding records."},
		{"filer_aggr_nvlog_written_bytes_total", "counter", "Bytes written to the NVLOG."},
		{"filer_aggr_disk_written_bytes_total", "counter", "Bytes written to the disks."},
		{"filer_aggr_disk_read_bytes_total", "counter", "Bytes read from the disks."},
		{"filer_aggr_disks", "gauge", "Disks in the aggregate."},
		{"filer_aggr_volumes", "gauge", "Volumes in the aggregate."},
	};
	struct wafl_aggr_info info[FILER_MAX_AGGRS];
	for (unsigned i = 0; i < f->naggrs; i++)
		wafl_aggr_info(f->aggrs[i].a, &info[i]);
	for (unsigned k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		head(b, fam[k].name, fam[k].type, fam[k].help);
		for (unsigned i = 0; i < f->naggrs; i++) {
			double d;
			bool is_d;
			uint64_t v = aggr_value(&info[i], k, &d, &is_d);
			evbuffer_add_printf(b, "%s{aggr=\"", fam[k].name);
			label(b, f->aggrs[i].conf.name);
			if (is_d)
				evbuffer_add_printf(b, "\"} %.6f\n", d);
			else
				evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)v);
		}
	}
}

static uint64_t vol_value(const struct wafl_vol_info *vi, unsigned k)
{
	switch (k) {
	case 0:
		return vi->size_bytes;
	case 1:
		return vi->used_blocks * WAFL_BLOCK_SIZE;
	case 2:
		return vi->files_used;
	case 3:
		return vi->files_max;
	case 4:
		return vi->state == WAFL_VOL_ONLINE;
	case 5:
		return vi->nsnaps;
	case 6:
		return vi->snap_blocks * WAFL_BLOCK_SIZE;
	case 7:
		return vi->reclaiming_blocks * WAFL_BLOCK_SIZE;
	default:
		return vi->splitting ? vi->split_blocks_left * WAFL_BLOCK_SIZE : 0;
	}
}

static void vol_metrics(struct filer *f, struct evbuffer *b)
{
	static const char *const fam[][3] = {
		{"filer_vol_size_bytes", "gauge", "Size of the volume."},
		{"filer_vol_used_bytes", "gauge", "Space the volume uses, metadata included."},
		{"filer_vol_files_used", "gauge", "Inodes in use."},
		{"filer_vol_files_max", "gauge", "Inodes the volume can hold."},
		{"filer_vol_online", "gauge", "1 when the volume is online."},
		{"filer_vol_snapshots", "gauge", "Snapshots of the volume."},
		{"filer_vol_snapshot_bytes", "gauge",
		 "Space held by the volume's snapshots only (not by its active file system)."},
		{"filer_vol_snapshot_reclaiming_bytes", "gauge",
		 "Space of deleted snapshots still being freed."},
		{"filer_vol_clone_split_remaining_bytes", "gauge",
		 "Space a clone still shares with its parent while it is split (0 otherwise)."},
	};
	for (unsigned k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		head(b, fam[k][0], fam[k][1], fam[k][2]);
		for (unsigned i = 0; i < f->naggrs; i++) {
			struct wafl_vol *v;
			for (unsigned j = 0; (v = wafl_vol_at(f->aggrs[i].a, j)); j++) {
				struct wafl_vol_info vi;
				wafl_vol_info(v, &vi);
				uint64_t val = vol_value(&vi, k);
				evbuffer_add_printf(b, "%s{vol=\"", fam[k][0]);
				label(b, vi.name);
				evbuffer_add_printf(b, "\",aggr=\"");
				label(b, f->aggrs[i].conf.name);
				evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)val);
			}
		}
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct filer *f = arg;
	struct metrics *m = f->metrics;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	size_t ul = strcspn(uri, "?");
	if (ul != 8 || strncmp(uri, "/metrics", 8)) {
		evhttp_send_error(req, 404, "Not Found: try /metrics");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	m->scrapes++;
	head(b, "filer_info", "gauge", "The filer's version.");
	evbuffer_add_printf(b, "filer_info{version=\"%s\"} 1\n", FILER_VERSION);
	head(b, "filer_start_time_seconds", "gauge", "When the filer started (Unix time).");
	evbuffer_add_printf(b, "filer_start_time_seconds %.3f\n", (double)f->started_usec / 1e6);
	head(b, "filer_metrics_scrapes_total", "counter", "Requests for /metrics.");
	evbuffer_add_printf(b, "filer_metrics_scrapes_total %llu\n",
			    (unsigned long long)m->scrapes);
	nfs_metrics(f, b);
	aggr_metrics(f, b);
	vol_metrics(f, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

int metrics_start(struct filer *f, char *msg, size_t len)
{
	if (!f->conf.metrics)
		return 0;
	char host[256];
	uint16_t port;
	if (conf_split_hostport(f->conf.metrics, host, sizeof(host), &port)) {
		snprintf(msg, len, "metrics: '%s' is not ADDR:PORT", f->conf.metrics);
		return -EINVAL;
	}
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m || !(m->http = evhttp_new(f->base))) {
		free(m);
		snprintf(msg, len, "metrics: out of memory");
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_max_headers_size(m->http, 16384);
	evhttp_set_max_body_size(m->http, 4096);
	evhttp_set_timeout(m->http, 30);
	evhttp_set_gencb(m->http, on_request, f);
	m->sock = evhttp_bind_socket_with_handle(m->http, host, port);
	if (!m->sock) {
		int e = errno ? errno : EADDRINUSE;
		evhttp_free(m->http);
		free(m);
		snprintf(msg, len, "metrics: cannot listen on %s: %s", f->conf.metrics,
			 strerror(e));
		return -e;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(m->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	f->metrics = m;
	flog(LOG_INFO, "metrics on http://%s:%u/metrics", host, m->port);
	return 0;
}

uint16_t metrics_port(struct filer *f)
{
	struct metrics *m = f->metrics;
	return m ? m->port : 0;
}

void metrics_stop(struct filer *f)
{
	struct metrics *m = f->metrics;
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
	f->metrics = NULL;
}
