/* tools/selfsigned.c: see selfsigned.h. Made with wolfCrypt, so the demo needs
 * no openssl tool; the key is written 0600 next to the certificate. */
#include "selfsigned.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cache_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *tmp = getenv("TMPDIR");
	int n = xdg && *xdg   ? snprintf(out, len, "%s/ringworks", xdg)
	        : home && *home ? snprintf(out, len, "%s/.cache/ringworks", home)
	                        : snprintf(out, len, "%s/ringworks-%u", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
	if (n < 0 || (size_t)n >= len)
		return -1;
	/* mkdir -p, one level at a time */
	for (char *p = out + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(out, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(out, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* The certificate and key as PEM text into pem; its length or -1. */
static int make_pem(char *pem, size_t cap)
{
	WC_RNG rng;
	ecc_key key;
	Cert cert;
	static byte der[4096], kder[512];
	int rc = -1;
	if (wc_InitRng(&rng) != 0)
		return -1;
	if (wc_ecc_init(&key) != 0) {
		wc_FreeRng(&rng);
		return -1;
	}
	if (wc_ecc_make_key(&rng, 32, &key) != 0 || wc_InitCert(&cert) != 0)
		goto out;
	strncpy(cert.subject.commonName, "localhost", CTC_NAME_SIZE - 1);
	strncpy(cert.subject.org, "ringworks demo", CTC_NAME_SIZE - 1);
	cert.daysValid = 365;
	cert.sigType = CTC_SHA256wECDSA;
	cert.isCA = 0;
	/* subjectAltName: DNS localhost, IP 127.0.0.1 (browsers ignore the CN) */
	static const byte san[] = {0x30, 0x11, 0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
	                           0x87, 0x04, 127, 0, 0, 1};
	memcpy(cert.altNames, san, sizeof(san));
	cert.altNamesSz = (int)sizeof(san);
	int n = wc_MakeCert_ex(&cert, der, sizeof(der), ECC_TYPE, &key, &rng);
	if (n > 0)
		n = wc_SignCert_ex(cert.bodySz, cert.sigType, der, sizeof(der), ECC_TYPE, &key, &rng);
	int kn = n > 0 ? wc_EccKeyToDer(&key, kder, sizeof(kder)) : -1;
	if (n <= 0 || kn <= 0)
		goto out;
	int p1 = wc_DerToPem(der, (word32)n, (byte *)pem, (word32)cap, CERT_TYPE);
	int p2 = p1 > 0 ? wc_DerToPem(kder, (word32)kn, (byte *)pem + p1, (word32)(cap - (size_t)p1), ECC_PRIVATEKEY_TYPE)
	                : -1;
	if (p2 > 0)
		rc = p1 + p2;
out:
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
	return rc;
}

int selfsigned_pem(char *out, size_t len)
{
	char dir[512];
	if (cache_dir(dir, sizeof(dir)) < 0) {
		snprintf(out, len, "cannot make a cache directory for the self-signed certificate");
		return -1;
	}
	int n = snprintf(out, len, "%s/echo-selfsigned.pem", dir);
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (access(out, R_OK) == 0)
		return 0; /* made on an earlier run */
	static char pem[16384];
	int plen = make_pem(pem, sizeof(pem));
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.%d", out, (int)getpid());
	int fd = plen > 0 ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || write(fd, pem, (size_t)plen) != plen || close(fd) < 0 || rename(tmp, out) < 0) {
		if (fd >= 0)
			unlink(tmp);
		snprintf(out, len, "cannot make the self-signed certificate in %s", dir);
		return -1;
	}
	return 0;
}
