/* perf/load_report.c: rw-load's results: summary, table and JSON. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static double tv_us(const struct timeval *t)
{
	return (double)t->tv_sec * 1e6 + (double)t->tv_usec;
}

struct result summarize(const struct load *L)
{
	struct result r = {0};
	double cpu = tv_us(&L->ru1.ru_utime) + tv_us(&L->ru1.ru_stime) -
	             tv_us(&L->ru0.ru_utime) - tv_us(&L->ru0.ru_stime);

	r.secs = L->t_measure_end > L->t_measure ? (double)(L->t_measure_end - L->t_measure) / NSEC : 0;
	r.connect_secs = (double)(L->t_conn_done - L->t_start) / NSEC;
	r.connect_rate = r.connect_secs > 0 ? (double)L->s.established / r.connect_secs : 0;
	r.units = L->o.churn ? L->s.cycles : L->s.msgs;
	if (r.secs > 0) {
		r.conn_per_s = (double)L->s.cycles / r.secs;
		r.msgs_per_s = L->o.idle ? 0 : (double)r.units / r.secs;
		r.mib_per_s = r.msgs_per_s * (double)L->o.size / (1024.0 * 1024.0);
		r.cpu_pct = cpu / (r.secs * 1e6) * 100.0;
	}
	r.cpu_us_per_msg = r.units && !L->o.idle ? cpu / (double)r.units : 0;
	r.srv_us_per_msg = r.srv_pct = -1;
	if (L->srv0.ok && L->srv1.ok && r.secs > 0) {
		double scpu = L->srv1.cpu_us - L->srv0.cpu_us;
		r.srv_us_per_msg = r.units && !L->o.idle ? scpu / (double)r.units : 0;
		r.srv_pct = scpu / (r.secs * 1e6) * 100.0;
		r.srv_user_pct = (L->srv1.user_us - L->srv0.user_us) / (r.secs * 1e6) * 100.0;
		r.srv_sys_pct = (L->srv1.sys_us - L->srv0.sys_us) / (r.secs * 1e6) * 100.0;
		if (L->srv_base.ok && L->s.established)
			r.srv_rss_per_conn_kib = (double)(L->srv1.rss_kib - L->srv_base.rss_kib) /
			                         (double)L->s.established;
	}
	r.p50 = (double)hist_pct(&L->h, 50) / 1000.0;
	r.p90 = (double)hist_pct(&L->h, 90) / 1000.0;
	r.p99 = (double)hist_pct(&L->h, 99) / 1000.0;
	r.p999 = (double)hist_pct(&L->h, 99.9) / 1000.0;
	r.max = (double)L->h.max / 1000.0;
	r.mean = L->h.count ? (double)L->h.sum / (double)L->h.count / 1000.0 : 0;
	r.ok = (L->o.rate > 0 ? L->s.established > 0 : L->s.established >= L->o.conns) && !L->s.verify_err && !L->s.disconnects &&
	       !L->s.stalled && !L->s.tls_err && !L->s.connect_fail && r.units > 0;
	if (L->o.idle)
		r.ok = r.ok && L->s.idle_checked == L->o.conns;
	return r;
}

const char *mode_name(const struct load *L)
{
	if (L->o.ws && L->o.deflate)
		return L->o.tls ? "wss+deflate" : "ws+deflate";
	return L->o.tls && L->o.ws ? "wss" : L->o.tls ? "tls" : L->o.ws ? "ws" : "tcp";
}

void print_table(const struct load *L, const struct result *r)
{
	const struct stats *s = &L->s;

	printf("rw-load: %s %s port %d, %u connections x %zu B, pipeline %u%s, %.1f s measured"
	       " (warmup %.1f s)\n", mode_name(L), L->o.host, L->o.port, L->o.conns,
	       L->o.size, L->o.pipeline, L->o.rate > 0 ? ", rate" : L->o.churn ? ", churn" : L->o.idle ? ", idle" : "",
	       r->secs, L->o.warmup);
	printf("  %-26s %llu (in %.2f s)\n", "connections established",
	       (unsigned long long)s->established, r->connect_secs);
	printf("  %-26s %llu%s%s\n", "connect failures", (unsigned long long)s->connect_fail,
	       s->first_connect_err ? "  first: " : "",
	       s->first_connect_err ? strerror(-s->first_connect_err) : "");
	printf("  %-26s %.0f\n", "connects/s (connect phase)", r->connect_rate);
	if (L->o.tls && L->o.ws)
		printf("  %-26s %s\n", "TLS", L->tls_info);
	else if (L->o.tls)
		printf("  %-26s %llu (%s)\n", "TLS handshakes", (unsigned long long)s->handshakes,
		       L->tls_info);
	if (L->o.ws)
		printf("  %-26s %llu\n", "WebSocket upgrades", (unsigned long long)s->handshakes);
	if (L->o.churn)
		printf("  %-26s %llu, %.0f/s (latency: connect to echo)\n", "connection cycles",
		       (unsigned long long)s->cycles, r->conn_per_s);
	if (L->o.rate > 0)
		printf("  %-26s %.0f/s offered, %.0f/s done, %llu started over 1 ms late"
		       " (latency from when each was due)\n", "connection rate", L->o.rate,
		       r->conn_per_s, (unsigned long long)s->late);
	if (L->o.idle)
		printf("  %-26s %llu of %u\n", "echoed after idle", (unsigned long long)s->idle_checked,
		       L->o.conns);
	printf("  %-26s %llu\n", "messages", (unsigned long long)s->msgs);
	printf("  %-26s %.0f\n", "messages/s", r->msgs_per_s);
	printf("  %-26s %.2f (each direction)\n", "MiB/s", r->mib_per_s);
	printf("  %-26s %.1f / %.1f / %.1f (max %.1f)\n", "latency p50/p99/p99.9 us",
	       r->p50, r->p99, r->p999, r->max);
	printf("  %-26s %llu\n", "verify errors", (unsigned long long)s->verify_err);
	printf("  %-26s %llu%s%s\n", "disconnects", (unsigned long long)s->disconnects,
	       s->first_disc_err ? "  first: " : "",
	       s->first_disc_err ? strerror(-s->first_disc_err) : "");
	printf("  %-26s %llu\n", "stalled (no echo at all)", (unsigned long long)s->stalled);
	if (L->o.tls || L->o.ws)
		printf("  %-26s %llu\n",
		       L->o.tls && L->o.ws ? "TLS/WebSocket errors" : L->o.ws ? "WebSocket errors" : "TLS errors",
		       (unsigned long long)s->tls_err);
	printf("  %-26s %.2f us/msg (%.0f %% of a core)\n", "client CPU", r->cpu_us_per_msg,
	       r->cpu_pct);
	if (r->srv_us_per_msg >= 0)
		printf("  %-26s %.2f us/msg (%.0f %% of a core: user %.0f, system %.0f), RSS %.1f MiB"
		       " (%.2f KiB per connection)\n", "server CPU", r->srv_us_per_msg, r->srv_pct,
		       r->srv_user_pct, r->srv_sys_pct, (double)L->srv1.rss_kib / 1024.0,
		       r->srv_rss_per_conn_kib);
	printf("  %-26s %s\n", "result", r->ok ? "OK" : "FAILED");
	fflush(stdout);
}

int write_json(const struct load *L, const struct result *r)
{
	const struct stats *s = &L->s;
	FILE *f = fopen(L->o.json, "w");

	if (!f) {
		fprintf(stderr, "rw-load: %s: %s\n", L->o.json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"mode\": \"%s\",\n  \"kind\": \"%s\",\n", mode_name(L),
		L->o.rate > 0 ? "rate" : L->o.churn ? "churn" : L->o.idle ? "idle" : "echo");
	fprintf(f, "  \"offered_rate\": %.1f,\n  \"late_starts\": %llu,\n", L->o.rate,
		(unsigned long long)s->late);
	fprintf(f, "  \"tls\": \"%s\",\n", L->tls_info);
	fprintf(f, "  \"host\": \"%s\",\n  \"port\": %d,\n  \"connections\": %u,\n"
		"  \"size\": %zu,\n  \"pipeline\": %u,\n  \"duration_s\": %.3f,\n  \"warmup_s\": %.3f,\n",
		L->o.host, L->o.port, L->o.conns, L->o.size, L->o.pipeline, r->secs, L->o.warmup);
	fprintf(f, "  \"established\": %llu,\n  \"connect_failures\": %llu,\n  \"connect_s\": %.3f,\n"
		"  \"messages\": %llu,\n  \"messages_per_s\": %.1f,\n  \"mib_per_s\": %.3f,\n",
		(unsigned long long)s->established, (unsigned long long)s->connect_fail,
		r->connect_secs, (unsigned long long)s->msgs, r->msgs_per_s, r->mib_per_s);
	fprintf(f, "  \"latency_p50_us\": %.2f,\n  \"latency_p90_us\": %.2f,\n"
		"  \"latency_p99_us\": %.2f,\n  \"latency_p999_us\": %.2f,\n"
		"  \"latency_max_us\": %.2f,\n  \"latency_mean_us\": %.2f,\n",
		r->p50, r->p90, r->p99, r->p999, r->max, r->mean);
	fprintf(f, "  \"connect_per_s\": %.1f,\n  \"cycles\": %llu,\n  \"connections_per_s\": %.1f,\n"
		"  \"handshakes\": %llu,\n  \"tls_errors\": %llu,\n  \"idle_checked\": %llu,\n"
		"  \"rx_bytes_total\": %llu,\n  \"messages_total\": %llu,\n  \"connects_total\": %llu,\n",
		r->connect_rate, (unsigned long long)s->cycles, r->conn_per_s,
		(unsigned long long)s->handshakes, (unsigned long long)s->tls_err,
		(unsigned long long)s->idle_checked, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->total_done, (unsigned long long)s->connects);
	fprintf(f, "  \"verify_errors\": %llu,\n  \"disconnects\": %llu,\n  \"stalled\": %llu,\n"
		"  \"client_cpu_us_per_msg\": %.3f,\n  \"client_cpu_pct\": %.1f,\n",
		(unsigned long long)s->verify_err, (unsigned long long)s->disconnects,
		(unsigned long long)s->stalled, r->cpu_us_per_msg, r->cpu_pct);
	if (r->srv_us_per_msg >= 0)
		fprintf(f, "  \"server_cpu_us_per_msg\": %.3f,\n  \"server_cpu_pct\": %.1f,\n"
			"  \"server_user_pct\": %.1f,\n  \"server_sys_pct\": %.1f,\n"
			"  \"server_rss_kib\": %ld,\n  \"server_rss_per_conn_kib\": %.3f,\n",
			r->srv_us_per_msg, r->srv_pct, r->srv_user_pct, r->srv_sys_pct, L->srv1.rss_kib,
			r->srv_rss_per_conn_kib);
	fprintf(f, "  \"ok\": %s\n}\n", r->ok ? "true" : "false");
	return fclose(f) ? -1 : 0;
}
