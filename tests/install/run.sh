#!/usr/bin/env bash
# tests/install/run.sh BUILD_DIR SOURCE_DIR [B_SANITIZE]
#
# 1. meson install -C BUILD_DIR --destdir TMP --no-rebuild
# 2. compile tests/install/example.c in TMP (outside the build tree) with
#    cc $(pkg-config --cflags --libs ringworks), pkg-config pointed at the
#    installed ringworks.pc (PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR=TMP):
#      - dynamically against libringworks.so, run with LD_LIBRARY_PATH
#      - statically against libringworks.a (pkg-config --static)
# 3. run both. Exit 0 on success; 77 (skip) when the example reports that the
#    machine refuses io_uring; 1 with a message otherwise.
# CC (set by tests/install/meson.build to the build's compiler) defaults to cc.
# With B_SANITIZE other than "none" the example is built with the same
# -fsanitize flags, since the installed library then needs that runtime.
set -euo pipefail

BUILD="${1:?usage: run.sh BUILD_DIR SOURCE_DIR [B_SANITIZE]}"
SRC="${2:?usage: run.sh BUILD_DIR SOURCE_DIR [B_SANITIZE]}"
SANITIZE="${3:-none}"
CC="${CC:-cc}"
read -r -a CCV <<<"$CC"

fail() { printf 'install test: FAILED: %s\n' "$*" >&2; exit 1; }

BUILD="$(cd "$BUILD" && pwd)"
SRC="$(cd "$SRC" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ringworks-install.XXXXXX")"
trap 'rm -rf -- "$TMP"' EXIT

DEST="$TMP/destdir"
WORK="$TMP/work"
mkdir -p "$DEST" "$WORK"

# 1. Install.
if ! meson install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log" >&2
	fail "meson install -C $BUILD --destdir $DEST failed"
fi

pcfile="$(find "$DEST" -name ringworks.pc -path '*/pkgconfig/*' -print -quit)"
[[ -n "$pcfile" ]] || fail "no pkgconfig/ringworks.pc under the install tree $DEST"
pcdir="$(dirname "$pcfile")"
shared="$(find "$DEST" -name 'libringworks.so*' -print -quit)"
static="$(find "$DEST" -name 'libringworks.a' -print -quit)"
header="$(find "$DEST" -path '*/include/ringworks/ringworks.h' -print -quit)"
[[ -n "$shared" ]] || fail "libringworks.so was not installed"
[[ -n "$static" ]] || fail "libringworks.a was not installed"
[[ -n "$header" ]] || fail "include/ringworks/ringworks.h was not installed"

export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_SYSROOT_DIR="$DEST"

# The sysroot emulation prefixes every path in ringworks.pc with DEST, also
# those of libraries that live outside the install (the tuned wolfSSL in the
# build tree): make those resolve to where they really are.
for word in $(pkg-config --static --libs ringworks); do
	path="${word#-L}"
	[[ "$path" == "$DEST"/* ]] || continue
	real="${path#"$DEST"}"
	[[ "$word" == -L* ]] || real="$(dirname "$real")"
	if [[ ! -e "$DEST$real" && -d "$real" ]]; then
		mkdir -p "$(dirname "$DEST$real")"
		ln -s "$real" "$DEST$real"
	fi
done
pkg-config --exists --print-errors ringworks || fail "pkg-config cannot use $pcfile"

# 2. Build outside the build tree: copy the example in and compile there.
cp "$SRC/tests/install/example.c" "$WORK/example.c"
cd "$WORK"

san=()
if [[ -n "$SANITIZE" && "$SANITIZE" != "none" ]]; then
	san=("-fsanitize=$SANITIZE")
fi

read -r -a cflags <<<"$(pkg-config --cflags ringworks)"
read -r -a libs <<<"$(pkg-config --libs ringworks)"
read -r -a slibs <<<"$(pkg-config --static --libs ringworks)"
# Link the archive itself, not whichever of .so/.a the linker finds first.
for i in "${!slibs[@]}"; do
	if [[ "${slibs[i]}" == "-lringworks" ]]; then slibs[i]="-l:libringworks.a"; fi
done

echo "pkg-config --cflags ringworks:        ${cflags[*]}"
echo "pkg-config --libs ringworks:          ${libs[*]}"
echo "pkg-config --static --libs ringworks: ${slibs[*]}"

"${CCV[@]}" -std=gnu11 -Wall -Wextra -Werror "${san[@]}" -o example-dynamic example.c \
	"${cflags[@]}" "${libs[@]}" || fail "compiling/linking example.c against libringworks.so"
"${CCV[@]}" -std=gnu11 -Wall -Wextra -Werror "${san[@]}" -o example-static example.c \
	"${cflags[@]}" "${slibs[@]}" || fail "compiling/linking example.c against libringworks.a"

# The static program must not need libringworks.so; the dynamic one must.
if command -v readelf >/dev/null 2>&1; then
	readelf -d example-dynamic | grep -q 'NEEDED.*libringworks\.so' ||
		fail "example-dynamic does not depend on libringworks.so"
	if readelf -d example-static | grep -q 'NEEDED.*libringworks'; then
		fail "example-static still depends on libringworks.so"
	fi
fi

# 3. Run both.
run() {
	local name="$1" rc=0; shift
	echo "== $name"
	"$@" || rc=$?
	if ((rc == 77)); then
		echo "install test: SKIP: io_uring is not available here (see above)"
		exit 77
	fi
	((rc == 0)) || fail "$name exited with status $rc"
}
run example-dynamic env LD_LIBRARY_PATH="$(dirname "$shared")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ./example-dynamic
run example-static ./example-static
echo "install test: OK (headers, pkg-config, shared and static library)"
