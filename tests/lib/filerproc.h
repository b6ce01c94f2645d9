/*
 * filerproc.h - runs the real `filer` binary for integration tests: in a
 * scratch home, on free ports, stopped with SIGTERM or killed with
 * SIGKILL, and started again on the same home.
 */
#ifndef TESTS_LIB_FILERPROC_H
#define TESTS_LIB_FILERPROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct filerproc {
	char home[256];
	pid_t pid;
	uint16_t port;	    /* NFS and MOUNT */
	uint16_t pmap_port; /* built-in portmapper */
	char url[512];	    /* nfs://127.0.0.1/vol/vol0?nfsport=..&mountport=..&version=3 */
};

/* Makes a scratch home and starts a filer in it. 0 or -errno. */
int fp_start_new(struct filerproc *f);
/* Starts a filer on the existing home. */
int fp_start(struct filerproc *f);
/* SIGTERM (clean) or SIGKILL; waits for the exit; returns its status. */
int fp_stop(struct filerproc *f, int sig);
/* Removes the scratch home (the filer must be stopped). */
void fp_destroy(struct filerproc *f);
/* The filer binary: $FILER, else build/bin/filer. */
const char *fp_binary(void);

#endif
