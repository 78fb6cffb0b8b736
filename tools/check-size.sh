#!/usr/bin/env bash
# tools/check-size.sh [SOURCE_ROOT]: keep files small enough to read.
#   .c files under src/ uring/ proto/: at most 1000 lines (error)
#   public headers under include/:     at most 400 lines (error)
#   any of them over 600 lines (also internal .h): a warning
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$ROOT"

errors=0
warnings=0

# size FILE LIMIT: LIMIT 0 means warn only.
size() {
	local f="$1" limit="$2" n
	n=$(wc -l <"$f")
	if ((limit > 0 && n > limit)); then
		printf 'ERROR: %s: %d lines (limit %d)\n' "$f" "$n" "$limit"
		errors=$((errors + 1))
	elif ((n > 600)); then
		printf 'warning: %s: %d lines (over 600)\n' "$f" "$n"
		warnings=$((warnings + 1))
	fi
}

while IFS= read -r -d '' f; do size "$f" 1000; done < <(
	find src uring proto -type f -name '*.c' -print0 2>/dev/null | sort -z)
while IFS= read -r -d '' f; do size "$f" 0; done < <(
	find src uring proto -type f -name '*.h' -print0 2>/dev/null | sort -z)
while IFS= read -r -d '' f; do size "$f" 400; done < <(
	find include -type f -name '*.h' -print0 2>/dev/null | sort -z)

if ((errors > 0)); then
	echo "check-size: $errors file(s) over the limit, $warnings warning(s)" >&2
	exit 1
fi
echo "check-size: OK ($warnings warning(s))"
