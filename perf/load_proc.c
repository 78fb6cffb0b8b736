/* perf/load_proc.c: rw-load's process accounting: a server's CPU time and
 * RSS from /proc, the clock, fatal errors. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM: end the run early */

void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static struct proc_sample proc_sample1(int pid)
{
	struct proc_sample ps = {0};
	char path[64], buf[1024];
	unsigned long long ut, st;
	FILE *f;

	if (!pid)
		return ps;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return ps;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return ps;
	ps.user_us = (double)ut * 1e6 / (double)sysconf(_SC_CLK_TCK);
	ps.sys_us = (double)st * 1e6 / (double)sysconf(_SC_CLK_TCK);
	ps.cpu_us = ps.user_us + ps.sys_us;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f))
		if (sscanf(buf, "VmRSS: %ld", &ps.rss_kib) == 1)
			break;
	if (f)
		fclose(f);
	ps.ok = true;
	return ps;
}

/* The sum over every --server-pid (a proxy and its backend count together). */
struct proc_sample proc_sample(const struct load *L)
{
	struct proc_sample sum = {0};

	for (unsigned i = 0; i < L->o.nserver_pids; i++) {
		struct proc_sample p = proc_sample1(L->o.server_pid[i]);
		if (!p.ok)
			return (struct proc_sample){0};
		sum.cpu_us += p.cpu_us;
		sum.user_us += p.user_us;
		sum.sys_us += p.sys_us;
		sum.rss_kib += p.rss_kib;
		sum.ok = true;
	}
	return sum;
}

void die(const char *what)
{
	fprintf(stderr, "rw-load: %s\n", what);
	exit(2);
}

unsigned next_pow2(unsigned v)
{
	unsigned p = 1;
	while (p < v)
		p <<= 1;
	return p;
}
