/*
 * main.c - the filer daemon: arguments, daemonizing, signals, the loop.
 *
 * With no configuration (no -c) it runs the embedded default: under ./var
 * (or $FILER_HOME, or --home), three file-backed disks, aggregate aggr0,
 * flexible volume vol0 exported read-write to 127.0.0.1 as /vol/vol0
 * (insecure, no_root_squash: the local demo), NFS and MOUNT on
 * 127.0.0.1:2049 and the portmapper on 111 when run as root, else on free
 * high ports, printed. With -c FILE it serves what filer.conf(5) says;
 * options given on the command line win over the file.
 *
 * It runs in the foreground (what systemd wants) unless --daemon: then it
 * forks, and the parent exits 0 only once the child serves (listeners up,
 * pidfile written), so `filer --daemon && filerctl ...` works; startup
 * errors still reach the terminal.
 *
 * SIGTERM and SIGINT shut down cleanly: a final CP on every aggregate, so
 * the next start has nothing to replay. Snapshot schedules (sched.c) run
 * on the loop's timers while it serves. SIGHUP re-reads the exports
 * (filer_reload_exports) without touching the ones that stay.
 *
 * Standard output carries three kinds of lines, which scripts and tests
 * read (keep them): "filer: serving ... port N ...", optionally
 * "filer: metrics on http://...", and last "filer: mount with: ...".
 * Everything else is the log (stderr or syslog).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "filer/filer.h"

struct opts {
	const char *config;
	const char *home;
	const char *addr;
	int port, portmap_port; /* -1: not given */
	bool no_portmap, no_udp;
	bool daemon;
	const char *pidfile;
};

static void usage(FILE *o)
{
	fprintf(o, "usage: filer [-c FILE] [--home DIR] [--addr ADDR] [--port N]\n"
		   "             [--portmap-port N] [--no-portmap] [--no-udp]\n"
		   "             [--daemon [--pidfile FILE] | --foreground]\n"
		   "       filer --version | --help\n"
		   "Without -c, serves the embedded default (see filer(8)).\n");
}

static int parse_port(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535) {
		fprintf(stderr, "filer: %s wants a port from 0 to 65535, not '%s'\n", what, s);
		return -1;
	}
	return (int)v;
}

/* 0: go on; otherwise the exit status. */
static int parse_args(int argc, char **argv, struct opts *o, bool *exit_now)
{
	static const struct option longopts[] = {
		{"config", required_argument, 0, 'c'},
		{"home", required_argument, 0, 'H'},
		{"addr", required_argument, 0, 'a'},
		{"port", required_argument, 0, 'p'},
		{"portmap-port", required_argument, 0, 'P'},
		{"no-portmap", no_argument, 0, 'n'},
		{"no-udp", no_argument, 0, 'u'},
		{"daemon", no_argument, 0, 'd'},
		{"foreground", no_argument, 0, 'f'},
		{"pidfile", required_argument, 0, 'i'},
		{"version", no_argument, 0, 'V'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	*o = (struct opts){.port = -1, .portmap_port = -1};
	*exit_now = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'H':
			o->home = optarg;
			break;
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			if ((o->port = parse_port(optarg, "--port")) < 0)
				return 2;
			break;
		case 'P':
			if ((o->portmap_port = parse_port(optarg, "--portmap-port")) < 0)
				return 2;
			break;
		case 'n':
			o->no_portmap = true;
			break;
		case 'u':
			o->no_udp = true;
			break;
		case 'd':
			o->daemon = true;
			break;
		case 'f':
			o->daemon = false;
			break;
		case 'i':
			o->pidfile = optarg;
			break;
		case 'V':
			printf("filer %s\n", FILER_VERSION);
			*exit_now = true;
			return 0;
		case 'h':
			usage(stdout);
			*exit_now = true;
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "filer: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Builds the configuration: the file or the embedded default, then the
 * command line over it. */
static int configure(struct filer *f, const struct opts *o, char conf_path[PATH_MAX])
{
	char err[1024];
	if (o->config) {
		if (!realpath(o->config, conf_path)) {
			fprintf(stderr, "filer: %s: %s\n", o->config, strerror(errno));
			return 1;
		}
		if (conf_load(conf_path, &f->conf, err, sizeof(err))) {
			fprintf(stderr, "filer: %s\n", err);
			return 1;
		}
		f->conf_path = conf_path;
		if (o->home) {
			char *h = strdup(o->home);
			if (!h)
				return 1;
			free(f->conf.home);
			f->conf.home = h;
		}
	} else {
		conf_default(&f->conf, o->home, geteuid() == 0);
	}
	if (o->addr) {
		char *a = strdup(o->addr);
		if (!a)
			return 1;
		free(f->conf.listen);
		f->conf.listen = a;
	}
	if (o->port >= 0)
		f->conf.port = (uint16_t)o->port;
	if (o->portmap_port >= 0)
		f->conf.portmap_port = (uint16_t)o->portmap_port;
	if (o->no_portmap)
		f->conf.portmapper = false;
	if (o->no_udp)
		f->conf.udp = false;
	return 0;
}

/* --daemon: the parent waits on a pipe until the child says it serves
 * (one byte), and exits 0 then; 1 if the child dies first. Returns the
 * child's end of the pipe. */
static int daemonize(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("filer: pipe");
		exit(1);
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("filer: fork");
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		char c;
		ssize_t n;
		while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		int st;
		while (waitpid(pid, &st, WNOHANG) < 0 && errno == EINTR)
			;
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		flog(LOG_WARNING, "setsid: %s", strerror(errno));
	return p[1];
}

static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *o = fopen(tmp, "we");
	if (!o)
		return -errno;
	fprintf(o, "%ld\n", (long)getpid());
	if (fclose(o) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct filer *f = arg;
	flog(LOG_NOTICE, "signal %d (%s): shutting down", (int)sig, strsignal((int)sig));
	event_base_loopexit(f->base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct filer *f = arg;
	char msg[4096];
	flog(LOG_NOTICE, "SIGHUP: reloading exports");
	/* filer_reload_exports logs what it did and each problem */
	(void)filer_reload_exports(f, msg, sizeof(msg));
}

/* The exports, for the first line: "/vol/a, /vol/b". */
struct export_names {
	char s[1024];
	char first[1024];
	unsigned n;
};

static void name_export(void *arg, const char *path, const char *clients, struct wafl_vol *vol)
{
	(void)clients;
	(void)vol;
	struct export_names *l = arg;
	size_t used = strlen(l->s);
	if (l->n == 0)
		snprintf(l->first, sizeof(l->first), "%s", path);
	if (used + strlen(path) + 8 < sizeof(l->s))
		snprintf(l->s + used, sizeof(l->s) - used, "%s%s", l->n ? ", " : "", path);
	else if (!strstr(l->s, ", ..."))
		snprintf(l->s + used, sizeof(l->s) - used, ", ...");
	l->n++;
}

/* The lines of standard output (see the top). */
static void announce(struct filer *f)
{
	struct export_names l = {.n = 0};
	nfs_export_list(f->nfs, name_export, &l);
	const char *addr = f->conf.listen;
	bool v6 = strchr(addr, ':') != NULL;
	uint16_t np = nfs_server_port(f->nfs), pp = nfs_server_portmap_port(f->nfs);
	printf("filer: serving %s on %s port %u (NFSv3 and MOUNT v3, TCP%s)",
	       l.n ? l.s : "no exports yet", addr, np, f->conf.udp ? "+UDP" : "");
	if (f->conf.portmapper)
		printf(", portmapper on port %u", pp);
	printf("\n");
	if (f->metrics) {
		char host[256];
		uint16_t port;
		if (conf_split_hostport(f->conf.metrics, host, sizeof(host), &port) == 0) {
			bool h6 = strchr(host, ':') != NULL;
			printf("filer: metrics on http://%s%s%s:%u/metrics\n", h6 ? "[" : "", host,
			       h6 ? "]" : "", metrics_port(f));
		}
	}
	if (l.n)
		printf("filer: mount with: mount -t nfs -o vers=3,proto=tcp,port=%u,mountport=%u,"
		       "nolock %s%s%s:%s /mnt\n",
		       np, np, v6 ? "[" : "", addr, v6 ? "]" : "", l.first);
	else
		printf("filer: mount with: nothing exported yet (filerctl export add)\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct opts o;
	bool exit_now;
	int rc = parse_args(argc, argv, &o, &exit_now);
	if (rc || exit_now)
		return rc;
	struct filer f = {.lock_fd = -1};
	static char conf_path[PATH_MAX];
	if ((rc = configure(&f, &o, conf_path)))
		return rc;
	flog_init(f.conf.log_level, f.conf.log_syslog, "filer");
	char pidfile[PATH_MAX] = "";
	int ready_fd = -1;
	if (o.daemon)
		ready_fd = daemonize();
	char msg[4096];
	f.base = event_base_new();
	if (!f.base) {
		flog(LOG_ERR, "cannot make the event loop");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = filer_start(&f, msg, sizeof(msg));
	if (!rc && (rc = control_start(&f, msg, sizeof(msg))))
		filer_stop(&f);
	if (!rc && (rc = metrics_start(&f, msg, sizeof(msg)))) {
		control_stop(&f);
		filer_stop(&f);
	}
	if (!rc && (rc = sched_start(&f, msg, sizeof(msg)))) {
		metrics_stop(&f);
		control_stop(&f);
		filer_stop(&f);
	}
	if (rc) {
		flog(LOG_ERR, "%s", msg);
		if (f.conf.log_syslog)
			fprintf(stderr, "filer: %s\n", msg);
		event_base_free(f.base);
		conf_free(&f.conf);
		return 1;
	}
	struct event *sigterm = evsignal_new(f.base, SIGTERM, on_stop, &f);
	struct event *sigint = evsignal_new(f.base, SIGINT, on_stop, &f);
	struct event *sighup = evsignal_new(f.base, SIGHUP, on_hup, &f);
	if (!sigterm || !sigint || !sighup || event_add(sigterm, NULL) || event_add(sigint, NULL) ||
	    event_add(sighup, NULL)) {
		flog(LOG_ERR, "cannot catch signals");
		return 1;
	}
	if (o.pidfile || o.daemon) {
		if (o.pidfile && o.pidfile[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)) ||
			    snprintf(pidfile, sizeof(pidfile), "%s/%s", cwd, o.pidfile) >=
				    (int)sizeof(pidfile))
				snprintf(pidfile, sizeof(pidfile), "%s", o.pidfile);
		} else if (o.pidfile) {
			snprintf(pidfile, sizeof(pidfile), "%s", o.pidfile);
		} else {
			snprintf(pidfile, sizeof(pidfile), "%s/filer.pid", f.conf.home);
		}
		int e = write_pidfile(pidfile);
		if (e) {
			flog(LOG_ERR, "pidfile %s: %s", pidfile, strerror(-e));
			pidfile[0] = '\0';
		}
	}
	announce(&f);
	flog(LOG_NOTICE, "filer %s serving (home %s%s%s)", FILER_VERSION, f.conf.home,
	     f.conf_path ? ", config " : "", f.conf_path ? f.conf_path : "");
	if (o.daemon) {
		/* serving: detach from the terminal, log to syslog, let the
		 * parent go */
		if (chdir("/") < 0)
			flog(LOG_WARNING, "chdir /: %s", strerror(errno));
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
		flog_init(f.conf.log_level, true, "filer");
		char c = 'R';
		if (write(ready_fd, &c, 1) != 1)
			flog(LOG_WARNING, "cannot tell the parent we serve: %s", strerror(errno));
		close(ready_fd);
	}
	event_base_dispatch(f.base);
	metrics_stop(&f);
	control_stop(&f);
	sched_stop(&f);
	rc = filer_stop(&f);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(f.base);
	if (pidfile[0])
		unlink(pidfile);
	flog(LOG_NOTICE, "stopped%s", rc ? " (a final CP failed)" : "");
	conf_free(&f.conf);
	return rc ? 1 : 0;
}
