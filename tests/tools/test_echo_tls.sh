#!/usr/bin/env bash
# tests/tools/test_echo_tls.sh ECHO: the demo server's certificate flags,
# against openssl s_client:
#  1. no --cert: a self-signed certificate is made once in the cache
#     directory (CN=localhost, SAN localhost and 127.0.0.1), reused next time;
#  2. --cert FILE.pfx --cert-password PW: a PKCS#12 file;
#  3. --client-ca FILE: a client without a certificate is refused, one with a
#     certificate from that CA is echoed.
set -euo pipefail
ECHO="$(realpath "${1:?usage: test_echo_tls.sh path/to/ringworks-echo}")"
T="$(mktemp -d "${TMPDIR:-/tmp}/rw-echo-tls.XXXXXX")"
PID=
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "test_echo_tls: FAILED: $*" >&2; exit 1; }
export XDG_CACHE_HOME="$T/cache"

# start ARGS...: run the echo server, set PORT from its "listening tls PORT".
start() {
	"$ECHO" --tls 0 "$@" >"$T/out" 2>"$T/err" &
	PID=$!
	for _ in $(seq 100); do
		PORT="$(awk '/^listening tls/{print $3}' "$T/out")"
		[[ -n "$PORT" ]] && return 0
		kill -0 "$PID" 2>/dev/null || fail "the server exited: $(cat "$T/err")"
		sleep 0.05
	done
	fail "no 'listening tls' line"
}
stop() { kill "$PID"; wait "$PID" || true; PID=; }
# echo_via ARGS...: send a line through s_client, print what came back.
echo_via() { (echo "ping-$$"; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" "$@" 2>/dev/null | grep -x "ping-$$" || true; }

# 1. self-signed, made once
start
[[ "$(echo_via)" == "ping-$$" ]] || fail "no echo with the self-signed certificate"
pem="$XDG_CACHE_HOME/ringworks/echo-selfsigned.pem"
[[ -s "$pem" ]] || fail "no certificate at $pem"
[[ "$(stat -c %a "$pem")" == 600 ]] || fail "$pem is not 0600"
openssl x509 -in "$pem" -noout -subject | grep -q 'CN = localhost' || fail "subject: $(openssl x509 -in "$pem" -noout -subject)"
openssl x509 -in "$pem" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' || fail "no SAN 127.0.0.1"
sum1="$(sha256sum <"$pem")"
stop
start
[[ "$(echo_via -CAfile "$pem" -verify_return_error -verify_hostname localhost)" == "ping-$$" ]] ||
	fail "the generated certificate does not verify as localhost"
[[ "$(sha256sum <"$pem")" == "$sum1" ]] || fail "the certificate was made again"
stop

# 2. PFX with a password
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k" -out "$T/c" -days 2 \
	-subj /CN=pfx-demo >/dev/null 2>&1
openssl pkcs12 -export -inkey "$T/k" -in "$T/c" -out "$T/s.pfx" -passout pass:sesame >/dev/null 2>&1
start --cert "$T/s.pfx" --cert-password sesame
[[ "$(echo_via)" == "ping-$$" ]] || fail "no echo with the PFX certificate"
stop
"$ECHO" --tls 0 --cert "$T/s.pfx" --cert-password wrong >"$T/out" 2>"$T/err" && fail "a wrong PFX password was accepted"
grep -qi "password\|credential\|certificate" "$T/err" || fail "no clear error for a wrong password: $(cat "$T/err")"

# 3. client certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cak" -out "$T/ca" -days 2 \
	-subj /CN=demo-ca >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/clk" -out "$T/clr" \
	-subj /CN=client >/dev/null 2>&1
openssl x509 -req -in "$T/clr" -CA "$T/ca" -CAkey "$T/cak" -CAcreateserial -out "$T/cl" -days 2 >/dev/null 2>&1
start --cert "$T/s.pfx" --cert-password sesame --client-ca "$T/ca"
[[ -z "$(echo_via)" ]] || fail "a client without a certificate was served"
[[ "$(echo_via -cert "$T/cl" -key "$T/clk")" == "ping-$$" ]] || fail "a client with a CA-issued certificate was refused"
stop
echo "test_echo_tls: OK"
