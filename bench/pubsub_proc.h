/* Reading another process's (or our own) memory and CPU use from /proc, so
 * one run of the generator can report the broker's RSS and CPU next to its
 * own: that is how we tell whether the generator was the bottleneck. */
#ifndef MQS_BENCH_PUBSUB_PROC_H
#define MQS_BENCH_PUBSUB_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Resident set size in KiB (VmRSS), or -1 if the process is gone. */
int64_t proc_rss_kib(pid_t pid);
/* User + system CPU time consumed so far, in clock ticks, or -1. */
int64_t proc_cpu_ticks(pid_t pid);
/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
long proc_ticks_per_sec(void);

#endif
