/* perf/load_dtls.h: rw-load --mode dtls (DTLS 1.2 over UDP with wolfSSL),
 * kept apart from the TCP modes: it has its own sockets, loop and options. */
#ifndef LOAD_DTLS_H
#define LOAD_DTLS_H

/* True when argv selects --mode dtls (as "--mode dtls" or "--mode=dtls"). */
static inline int rw_load_wants_dtls(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!__builtin_strcmp(argv[i], "--mode=dtls"))
			return 1;
		if (!__builtin_strcmp(argv[i], "--mode") && i + 1 < argc && !__builtin_strcmp(argv[i + 1], "dtls"))
			return 1;
	}
	return 0;
}

/* Parse argv and run; the exit status (0 ok, 1 failed checks, 2 usage). */
int rw_load_dtls_main(int argc, char **argv);

#endif
