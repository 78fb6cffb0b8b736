/* perf/load_multi.c: rw-load over several processes.
 *
 * One process can hold at most RLIMIT_NOFILE - FD_RESERVE sockets (20,000 here,
 * and it cannot be raised: DESIGN.md section 4a), so for more connections the
 * parent forks K workers, each with its own ring and an even share of the
 * connections (global indexes first .. first + share - 1, which also spread
 * them over the --sources addresses), and merges what they report: counts,
 * latency histograms, client CPU. Shared memory (MAP_SHARED, made before the
 * fork) carries each worker's results and a barrier, so that every worker
 * starts its measured window at the same time. Worker 0 alone samples the
 * server (--server-pid) and marks the window (--mark); the window's length is
 * its own, the messages are everyone's.
 */
#include "load.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCESSES 64

/* What a worker reports (written once at its end, but for the live counters). */
struct slot {
	struct stats s;
	struct hist h;
	uint64_t t_start, t_conn_done, t_measure, t_measure_end;
	struct rusage ru0, ru1;
	struct proc_sample srv0, srv1, srv_base;
	char tls_info[128];
	_Atomic uint64_t live_established, live_done; /* for progress lines */
	_Atomic int finished;                         /* the fields above are complete */
};

struct share {
	unsigned nproc;
	_Atomic unsigned arrived; /* workers at the measure barrier, or ended */
	struct slot slot[];
};

/* Once per worker: at the barrier, or when it ends without reaching it. */
void multi_arrive(struct load *L)
{
	if (!L->sh || L->at_barrier)
		return;
	L->at_barrier = true;
	atomic_fetch_add(&L->sh->arrived, 1);
}

/* True once every worker has arrived, or after the connect timeout (bounded:
 * a worker that hangs does not hold the others forever). */
bool multi_barrier(struct load *L, uint64_t now)
{
	static uint64_t t_arrived;

	if (!L->at_barrier)
		t_arrived = now;
	multi_arrive(L);
	return atomic_load(&L->sh->arrived) >= L->sh->nproc ||
	       now - t_arrived > (uint64_t)(L->o.connect_timeout * NSEC);
}

void multi_progress(struct load *L, uint64_t *established, uint64_t *done)
{
	struct slot *me = &L->sh->slot[L->proc_idx];

	atomic_store(&me->live_established, L->s.established);
	atomic_store(&me->live_done, L->s.total_done);
	*established = *done = 0;
	for (unsigned i = 0; i < L->sh->nproc; i++) {
		*established += atomic_load(&L->sh->slot[i].live_established);
		*done += atomic_load(&L->sh->slot[i].live_done);
	}
}

static void worker(struct load *L, unsigned k, unsigned first, unsigned share)
{
	struct slot *me = &L->sh->slot[k];

	L->proc_idx = k;
	L->first = first;
	L->o.conns = share;
	if (k) { /* worker 0 speaks for all */
		L->o.nserver_pids = 0;
		L->o.quiet = true;
		L->o.mark = NULL;
	}
	check_fd_limit(L);
	setup_ring(L);
	setup_buffers(L);
	setup_pattern(L);
	if (L->o.tls)
		setup_tls(L);
	setup_conns(L);
	run(L);
	me->s = L->s;
	me->h = L->h;
	me->t_start = L->t_start;
	me->t_conn_done = L->t_conn_done;
	me->t_measure = L->t_measure;
	me->t_measure_end = L->t_measure_end;
	me->ru0 = L->ru0;
	me->ru1 = L->ru1;
	me->srv0 = L->srv0;
	me->srv1 = L->srv1;
	me->srv_base = L->srv_base;
	memcpy(me->tls_info, L->tls_info, sizeof me->tls_info);
	atomic_store(&me->finished, 1);
	_exit(0); /* the kernel closes the ring and the sockets */
}

static void tv_add(struct timeval *a, const struct timeval *b)
{
	a->tv_sec += b->tv_sec;
	a->tv_usec += b->tv_usec;
	if (a->tv_usec >= 1000000) {
		a->tv_sec++;
		a->tv_usec -= 1000000;
	}
}

/* Every worker's results into L, as if one process had run them all. */
static void merge(struct load *L)
{
	struct share *sh = L->sh;

	memset(&L->s, 0, sizeof L->s);
	memset(&L->h, 0, sizeof L->h);
	memset(&L->ru0, 0, sizeof L->ru0);
	memset(&L->ru1, 0, sizeof L->ru1);
	L->t_start = UINT64_MAX;
	L->t_conn_done = 0;
	for (unsigned k = 0; k < sh->nproc; k++) {
		const struct slot *w = &sh->slot[k];
		const struct stats *s = &w->s;
		if (!atomic_load(&w->finished))
			continue;
		L->s.established += s->established;
		L->s.connect_fail += s->connect_fail;
		L->s.msgs += s->msgs;
		L->s.verify_err += s->verify_err;
		L->s.disconnects += s->disconnects;
		L->s.stalled += s->stalled;
		L->s.rx_bytes += s->rx_bytes;
		L->s.cycles += s->cycles;
		L->s.tls_err += s->tls_err;
		L->s.idle_checked += s->idle_checked;
		L->s.handshakes += s->handshakes;
		L->s.connects += s->connects;
		L->s.total_done += s->total_done;
		L->s.late += s->late;
		if (!L->s.first_connect_err)
			L->s.first_connect_err = s->first_connect_err;
		if (!L->s.first_disc_err)
			L->s.first_disc_err = s->first_disc_err;
		for (unsigned b = 0; b < H_BUCKETS; b++)
			L->h.b[b] += w->h.b[b];
		L->h.count += w->h.count;
		L->h.sum += w->h.sum;
		if (w->h.max > L->h.max)
			L->h.max = w->h.max;
		if (w->t_start < L->t_start)
			L->t_start = w->t_start;
		if (w->t_conn_done > L->t_conn_done)
			L->t_conn_done = w->t_conn_done;
		tv_add(&L->ru0.ru_utime, &w->ru0.ru_utime);
		tv_add(&L->ru0.ru_stime, &w->ru0.ru_stime);
		tv_add(&L->ru1.ru_utime, &w->ru1.ru_utime);
		tv_add(&L->ru1.ru_stime, &w->ru1.ru_stime);
		if (!L->tls_info[0])
			memcpy(L->tls_info, w->tls_info, sizeof L->tls_info);
	}
	if (L->t_start == UINT64_MAX)
		L->t_start = 0;
	/* the window and the server's samples are worker 0's */
	L->t_measure = sh->slot[0].t_measure;
	L->t_measure_end = sh->slot[0].t_measure_end;
	L->srv0 = sh->slot[0].srv0;
	L->srv1 = sh->slot[0].srv1;
	L->srv_base = sh->slot[0].srv_base;
}

/* The number of processes --connections needs (or --processes). */
static unsigned processes_needed(const struct load *L)
{
	struct rlimit rl;
	unsigned per = 1u << 30;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		per = rl.rlim_cur > FD_RESERVE + 1000 ? (unsigned)rl.rlim_cur - FD_RESERVE : 1000;
	if (L->o.processes)
		return L->o.processes;
	return (L->o.conns + per - 1) / per;
}

int run_processes(struct load *L)
{
	unsigned n = processes_needed(L);
	pid_t pids[MAX_PROCESSES];
	int status = 0;

	if (n > MAX_PROCESSES)
		die("more than 64 processes needed: fewer --connections");
	if (n > L->o.conns)
		die("--processes is larger than --connections");
	size_t bytes = sizeof(struct share) + n * sizeof(struct slot);
	L->sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (L->sh == MAP_FAILED)
		die("mmap of the shared results failed");
	L->sh->nproc = n;
	fflush(NULL);
	for (unsigned k = 0, first = 0; k < n; k++) {
		unsigned share = L->o.conns / n + (k < L->o.conns % n);
		pids[k] = fork();
		if (pids[k] < 0)
			die("fork failed");
		if (!pids[k])
			worker(L, k, first, share);
		first += share;
	}
	/* wait for every worker; SIGINT/SIGTERM to this process end theirs early */
	for (unsigned k = 0; k < n; k++) {
		int st;
		while (waitpid(pids[k], &st, 0) < 0) {
			if (errno != EINTR)
				die("waitpid failed");
			for (unsigned j = 0; j < n; j++)
				kill(pids[j], SIGTERM);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) || !atomic_load(&L->sh->slot[k].finished)) {
			fprintf(stderr, "rw-load: worker %u (of %u) failed (%s %d)\n", k, n,
				WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			status = 2;
		}
	}
	merge(L);
	return status;
}
