/*
 * server.c - an NFS server instance: its listeners, exports and counters
 * (the public functions of nfs.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "nfs/nfs_int.h"

int nfs_server_new(const struct nfs_config *cfg, struct nfs_server **out)
{
	struct nfs_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->base = cfg->base;
	s->udp_fd = s->pmap_udp_fd = -1;
	TAILQ_INIT(&s->exports);
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->unix_listeners);
	TAILQ_INIT(&s->mounts);
	s->next_export_id = 1;
	for (uint32_t i = 0; i < 22 && i < nfs3_program.nprocs; i++)
		s->nfs3_stats[i].name = nfs3_program.names[i];
	for (uint32_t i = 0; i < 6 && i < mount3_program.nprocs; i++)
		s->mnt_stats[i].name = mount3_program.names[i];
	int rc = drc_new(8192, &s->drc);
	if (rc)
		goto err;
	if ((rc = rpc_listen_tcp(s, cfg->addr, cfg->port, &s->tcp, &s->port)))
		goto err;
	if (cfg->udp &&
	    (rc = rpc_listen_udp(s, cfg->addr, s->port, &s->udp_fd, &s->udp_ev, &s->port)))
		goto err;
	if (cfg->portmapper) {
		uint16_t p;
		if ((rc = rpc_listen_tcp(s, cfg->addr, cfg->portmap_port, &s->pmap_tcp,
					 &s->pmap_port)))
			goto err;
		if ((rc = rpc_listen_udp(s, cfg->addr, s->pmap_port, &s->pmap_udp_fd,
					 &s->pmap_udp_ev, &p)))
			goto err;
	}
	*out = s;
	return 0;
err:
	nfs_server_free(s);
	return rc;
}

void nfs_server_free(struct nfs_server *s)
{
	if (!s)
		return;
	rpc_close_all(s);
	rpc_unix_close_all(s);
	if (s->tcp)
		evconnlistener_free(s->tcp);
	if (s->pmap_tcp)
		evconnlistener_free(s->pmap_tcp);
	if (s->udp_ev)
		event_free(s->udp_ev);
	if (s->pmap_udp_ev)
		event_free(s->pmap_udp_ev);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	if (s->pmap_udp_fd >= 0)
		close(s->pmap_udp_fd);
	struct nfs_export *e;
	while ((e = TAILQ_FIRST(&s->exports))) {
		TAILQ_REMOVE(&s->exports, e, link);
		export_rules_free(&e->rules);
		free(e);
	}
	mount_forget_all(s);
	drc_free(s->drc);
	free(s);
}

uint16_t nfs_server_port(struct nfs_server *s)
{
	return s->port;
}

uint16_t nfs_server_portmap_port(struct nfs_server *s)
{
	return s->pmap_port;
}

int nfs_export_add(struct nfs_server *s, const char *path, struct wafl_vol *vol,
		   const char *clients, char *err, size_t errlen)
{
	if (!path || path[0] != '/' || strlen(path) >= sizeof(((struct nfs_export *)0)->path)) {
		snprintf(err, errlen, "export path must be absolute: %s", path ? path : "");
		return -EINVAL;
	}
	if (export_by_path(s, path)) {
		snprintf(err, errlen, "%s is exported already", path);
		return -EEXIST;
	}
	struct nfs_export *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	TAILQ_INIT(&e->rules);
	int rc = export_parse(clients, &e->rules, err, errlen);
	if (rc) {
		free(e);
		return rc;
	}
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->clients, sizeof(e->clients), "%s", clients);
	e->vol = vol;
	struct wafl_vol_info vi;
	wafl_vol_info(vol, &vi);
	e->volid = vi.volid;
	/* ids are stable for the life of the server; handles also carry the
	 * volid, which is stable on disk, and fh_parse re-finds the export */
	e->id = s->next_export_id++;
	TAILQ_INSERT_TAIL(&s->exports, e, link);
	return 0;
}

int nfs_export_remove(struct nfs_server *s, const char *path)
{
	struct nfs_export *e = export_by_path(s, path);
	if (!e)
		return -ENOENT;
	TAILQ_REMOVE(&s->exports, e, link);
	export_rules_free(&e->rules);
	free(e);
	return 0;
}

void nfs_export_remove_vol(struct nfs_server *s, struct wafl_vol *v)
{
	struct nfs_export *e, *n;
	TAILQ_FOREACH_SAFE(e, &s->exports, link, n)
	{
		if (e->vol != v)
			continue;
		TAILQ_REMOVE(&s->exports, e, link);
		export_rules_free(&e->rules);
		free(e);
	}
}

void nfs_export_list(struct nfs_server *s, nfs_export_fn fn, void *arg)
{
	struct nfs_export *e;
	TAILQ_FOREACH(e, &s->exports, link)
	fn(arg, e->path, e->clients, e->vol);
}

size_t nfs_stats(struct nfs_server *s, struct nfs_proc_stats *out, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < 22 && k < n; i++)
		out[k++] = s->nfs3_stats[i];
	for (size_t i = 0; i < 6 && k < n; i++)
		out[k++] = s->mnt_stats[i];
	return k;
}

void nfs_xfer_stats(struct nfs_server *s, struct nfs_xfer_stats *out)
{
	*out = s->xfer;
}
