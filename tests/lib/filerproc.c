/*
 * filerproc.c - the real filer binary as a test fixture (filerproc.h).
 */
#include "tests/lib/filerproc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fp_binary(void)
{
	const char *b = getenv("FILER");
	return b ? b : "build/bin/filer";
}

int fp_start(struct filerproc *f)
{
	int out[2];
	if (pipe(out) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* a test worker that dies must not leave its filer behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		/* ports 0: any free port, printed on stdout */
		execl(fp_binary(), "filer", "--home", f->home, "--port", "0", "--portmap-port", "0",
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f->pid = pid;
	FILE *in = fdopen(out[0], "r");
	char line[512];
	unsigned port = 0, pport = 0;
	while (fgets(line, sizeof(line), in)) {
		char *p = strstr(line, " port ");
		if (p && !port)
			port = (unsigned)atoi(p + 6);
		char *q = strstr(line, "portmapper on port ");
		if (q)
			pport = (unsigned)atoi(q + 19);
		if (strstr(line, "mount with"))
			break;
	}
	/* keep reading in the child's favour: the filer prints nothing more,
	 * and a closed pipe would only matter if it did */
	fclose(in);
	if (!port) {
		fp_stop(f, SIGKILL);
		return -EIO;
	}
	f->port = (uint16_t)port;
	f->pmap_port = (uint16_t)pport;
	snprintf(f->url, sizeof(f->url),
		 "nfs://127.0.0.1/vol/vol0?nfsport=%u&mountport=%u&version=3", port, port);
	return 0;
}

int fp_start_new(struct filerproc *f)
{
	memset(f, 0, sizeof(*f));
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->home, sizeof(f->home), "%s/filertest.XXXXXX", tmp);
	if (!mkdtemp(f->home))
		return -errno;
	return fp_start(f);
}

int fp_stop(struct filerproc *f, int sig)
{
	if (f->pid <= 0)
		return -ECHILD;
	kill(f->pid, sig);
	int st = 0;
	while (waitpid(f->pid, &st, 0) < 0 && errno == EINTR)
		;
	f->pid = 0;
	return st;
}

void fp_destroy(struct filerproc *f)
{
	if (f->pid > 0)
		fp_stop(f, SIGKILL);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
	if (strstr(f->home, "filertest."))
		(void)system(cmd);
}
