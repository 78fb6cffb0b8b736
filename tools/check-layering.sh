#!/usr/bin/env bash
# tools/check-layering.sh [SOURCE_ROOT]: enforce the include rules of
# DESIGN.md section 1 by grep.
#   include/  libc/POSIX only: never liburing.h, wolfssl/*, zlib.h
#   proto/    never sockets (sys/socket.h), liburing, wolfssl, src/ or uring/
#   uring/    never wolfssl, zlib.h, proto/, src/ or the public ringworks/ headers
# Prints each violation as file:line: text, exits 1 if there is any.
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$ROOT"

violations=0

# check DIR WHY REGEX: every #include in DIR's .c/.h files whose target
# (the text between <> or "") matches the extended REGEX is a violation.
check() {
	local dir="$1" why="$2" re="$3" hits
	[[ -d "$dir" ]] || return 0
	hits="$(grep -rnE --include='*.c' --include='*.h' \
		"^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($re)" "$dir" || true)"
	if [[ -n "$hits" ]]; then
		while IFS= read -r line; do
			printf '%s   [%s]\n' "$line" "$why"
			violations=$((violations + 1))
		done <<<"$hits"
	fi
}

check include "include/ must not include liburing, wolfSSL or zlib" \
	'liburing(\.h|/)|linux/io_uring\.h|wolfssl/|zlib\.h'
check proto "proto/ must not include sockets, liburing, wolfSSL, src/ or uring/" \
	'sys/socket\.h|liburing(\.h|/)|linux/io_uring\.h|wolfssl/|(\.\./)+src/|(\.\./)+uring/|src/|uring/'
check uring "uring/ must not include wolfSSL, zlib, proto/, src/ or ringworks/ headers" \
	'wolfssl/|zlib\.h|(\.\./)*proto/|(\.\./)*src/|(\.\./)*include/|ringworks/'

if ((violations > 0)); then
	echo "check-layering: $violations include rule violation(s) (DESIGN.md section 1)" >&2
	exit 1
fi
echo "check-layering: OK (include/, proto/, uring/ follow the include rules)"
