/* perf/load_args.h: what every rw-load mode (load_opts.c, load_dtls.c) checks
 * on its command line the same way. Each exits with status 2 on bad input. */
#ifndef RW_PERF_LOAD_ARGS_H
#define RW_PERF_LOAD_ARGS_H

#include <sys/socket.h>

/* "rw-load: WHAT" on stderr, exit 2. */
void die(const char *what) __attribute__((noreturn));

/* --NAME's value `s` as a number within [lo, hi]. */
double num_arg(const char *s, const char *name, double lo, double hi);

/* `host` ("localhost", a 127.0.0.0/8 or the ::1 address: loopback only, a
 * workplace rule) and `port` into *dst / *len. */
void loopback_dst(const char *host, int port, struct sockaddr_storage *dst, socklen_t *len);

#endif
