/*
 * bench_nfs.h - the NFS benchmark (make bench): one program, three jobs.
 *
 *   bench-nfs run      load an NFSv3 server with the workloads, write the
 *                      figures to a results file (bench_nfs.c)
 *   bench-nfs ceilings measure what this machine can do without NFS:
 *                      loopback TCP, the disk's sequential write and its
 *                      4 KiB write+fdatasync rate (bench_ceil.c)
 *   bench-nfs report   read the results of the filer, of nfs-ganesha
 *                      (when it ran) and the ceilings, and print the table
 *                      with the targets (bench_report.c)
 *
 * tests/bench/bench-nfs.sh runs the three around the servers, inside a
 * network namespace of its own.
 *
 * Results files are text, one figure a line:
 *
 *   P name value                       a parameter of the run (sizes)
 *   R key ops seconds bytes p50_us p99_us
 *                                      a workload's figures
 *   T key start end                    when it ran (CLOCK_MONOTONIC
 *                                      seconds: perf record -k mono
 *                                      then perf report --time)
 *   C name value                       a ceiling
 */
#ifndef TESTS_BENCH_BENCH_NFS_H
#define TESTS_BENCH_BENCH_NFS_H

#include <stdint.h>

int bench_run_main(int argc, char **argv);
int bench_ceil_main(int argc, char **argv);
int bench_report_main(int argc, char **argv);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
