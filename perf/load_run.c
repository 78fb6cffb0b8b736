/* perf/load_run.c: rw-load's phases (connect, warmup, measure, drain) and
 * its event loop. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void give_up_connects(struct load *L)
{
	for (unsigned i = 0; i < L->o.conns; i++) {
		if (L->c[i].state == C_CONNECTING || L->c[i].state == C_NEW) {
			L->c[i].state = C_DEAD;
			L->s.connect_fail++;
			if (!L->s.first_connect_err)
				L->s.first_connect_err = -ETIMEDOUT;
		}
	}
	L->connecting = 0;
}

static void progress(struct load *L, uint64_t now)
{
	static const char *names[] = {"connect", "warmup", "measure", "drain", "done"};

	if (now - L->t_progress < NSEC)
		return;
	uint64_t est = L->s.established, done = L->s.total_done;
	unsigned conns = L->o.conns;
	if (L->sh)
		multi_progress(L, &est, &done); /* every process's, summed */
	if (L->sh)
		conns = L->o.conns_total;
	double dt = (double)(now - L->t_progress) / NSEC;
	if (!L->o.quiet)
		fprintf(stderr, "rw-load: %-7s t=%5.1fs conns %llu/%u  %.0f msg/s\n", names[L->phase],
			(double)(now - L->t_start) / NSEC, (unsigned long long)est, conns,
			(double)(done - L->progress_done) / dt);
	L->t_progress = now;
	L->progress_done = done;
}

static void advance_phase(struct load *L, uint64_t now)
{
	if (g_stop && L->phase < P_DRAIN) {
		if (L->phase == P_MEASURE) {
			getrusage(RUSAGE_SELF, &L->ru1);
			L->srv1 = proc_sample(L);
			L->t_measure_end = now;
		}
		if (L->phase == P_CONNECT)
			give_up_connects(L);
		L->phase = P_DRAIN;
		L->t_drain = now;
	}
	switch (L->phase) {
	case P_CONNECT:
		if (L->o.rate > 0) { /* no connect phase: the schedule starts at once */
			rate_setup(L, now);
			L->t_conn_done = now;
			L->phase = P_WARMUP;
			break;
		}
		if (L->resolved == L->o.conns || now - L->t_start > (uint64_t)(L->o.connect_timeout * NSEC)) {
			if (L->resolved < L->o.conns)
				give_up_connects(L);
			L->t_conn_done = now;
			L->phase = L->s.established ? P_WARMUP : P_DONE;
			if (L->phase == P_DONE) {
				multi_arrive(L); /* nobody waits for this one at the barrier */
				break;
			}
		} else {
			break;
		}
		/* fall through */
	case P_WARMUP:
		if (now - L->t_conn_done < (uint64_t)(L->o.warmup * NSEC))
			break;
		/* tls/ws: every handshake done (or given up on), then the messages
		 * start everywhere at once, then the warmup */
		if (barrier(L)) {
			if (L->s.handshakes < L->s.established && now - L->t_conn_done < (uint64_t)(L->o.connect_timeout * NSEC))
				break;
			L->barrier_done = true;
			for (unsigned i = 0; i < L->o.conns; i++) {
				if (!L->c[i].waiting || L->c[i].state != C_OPEN)
					continue;
				L->c[i].waiting = false;
				conn_ready(L, i, now);
			}
			L->t_conn_done = now;
			break;
		}
		/* --idle: every first echo is back before the idle window starts */
		if (L->o.idle && L->inflight_msgs &&
		    now - L->t_conn_done < (uint64_t)(L->o.warmup * NSEC) + (uint64_t)(L->o.connect_timeout * NSEC))
			break;
		/* several processes: every one starts its window at the same time */
		if (L->sh && !multi_barrier(L, now))
			break;
		L->phase = P_MEASURE;
		L->t_measure = now;
		getrusage(RUSAGE_SELF, &L->ru0);
		L->srv0 = proc_sample(L);
		if (L->o.mark) {
			FILE *f = fopen(L->o.mark, "w");
			if (f)
				fclose(f);
		}
		break;
	case P_MEASURE:
		if (now - L->t_measure < (uint64_t)(L->o.duration * NSEC))
			break;
		getrusage(RUSAGE_SELF, &L->ru1);
		L->srv1 = proc_sample(L);
		L->t_measure_end = now;
		L->phase = P_DRAIN;
		L->t_drain = now;
		if (L->o.idle) { /* the check: one more message on every connection */
			for (unsigned i = 0; i < L->o.conns; i++) {
				if (L->c[i].state != C_OPEN)
					continue;
				issue_msg(L, i, now);
				start_send(L, i);
			}
			break;
		}
		/* fall through */
	case P_DRAIN:
		if (!L->inflight_msgs || now - L->t_drain > (L->o.idle ? IDLE_CHECK_NS : DRAIN_NS))
			L->phase = P_DONE;
		break;
	}
}

void run(struct load *L)
{
	L->srv_base = proc_sample(L);
	L->t_start = L->t_progress = now_ns();
	for (;;) {
		uint64_t now = now_ns();
		advance_phase(L, now);
		progress(L, now);
		if (L->phase == P_DONE)
			break;
		if (L->phase == P_CONNECT)
			issue_connects(L, now);
		if (L->o.rate > 0)
			rate_start(L, now);
		bool fine = L->phase == P_CONNECT || L->o.rate > 0; /* 1 ms turns: pacing */
		struct __kernel_timespec ts = {.tv_nsec = fine ? 1000000 : 10000000};
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait_timeout(&L->ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "rw-load: io_uring_enter: %s\n", strerror(-ret));
			exit(2);
		}
		reap(L);
	}
	multi_arrive(L);
	for (unsigned i = 0; i < L->o.conns; i++) {
		if (L->o.churn)
			break;
		if (L->c[i].state == C_OPEN && L->c[i].done == 0)
			L->s.stalled++;
		if (L->o.idle && L->c[i].state == C_OPEN && L->c[i].done == 2)
			L->s.idle_checked++;
	}
}
