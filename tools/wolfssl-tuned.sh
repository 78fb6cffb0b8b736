#!/usr/bin/env bash
# tools/wolfssl-tuned.sh PREFIX
#
# Builds a tuned wolfSSL from Debian's own source package (the release's
# wolfssl, e.g. 5.5.4 with Debian's security patches, applied by dpkg-source)
# and installs it into PREFIX, a cache directory inside the build tree such as
# build/wolfssl-tuned.  Never installs system-wide.  Use the result with
#     PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs wolfssl
# The installed wolfssl.pc carries -Wl,-rpath,PREFIX/lib: Debian's libwolfssl35
# has the same soname but different options (different struct layouts), so a
# binary must never pick it up at run time instead of this build.
#
# Cache: PREFIX/.ringworks-options records the recipe, the configure options and
# the Debian source version.  When it matches and PREFIX/lib/pkgconfig/wolfssl.pc
# exists, the script prints "wolfssl-tuned: up to date" and exits 0 without
# touching the network.  It rebuilds when the options (or this recipe) change,
# or when apt's local index already knows a newer wolfssl source version.
# WOLFSSL_TUNED_FORCE=1 forces a rebuild.  WOLFSSL_TUNED_KEEP=1 keeps the
# scratch build tree (path printed) for benchmarks/debugging.
#
# Also installs PREFIX/bin/wolfcrypt-benchmark (wolfCrypt's benchmark linked
# against this build), e.g.:  PREFIX/bin/wolfcrypt-benchmark -aes-gcm -ecc
#
# Needs: deb-src for the running release (derived at run time from the
# machine's own apt sources, no host is named here), dpkg-dev, build-essential,
# autoconf, automake, libtool (installed with apt-get when missing).  Root or
# password-less sudo is needed only for those apt steps.
set -euo pipefail

readonly PROG=wolfssl-tuned
# Bump when the recipe below changes in a way the option string does not show.
readonly RECIPE=2
readonly DERIVED_BASENAME=ringworks-deb-src

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 PREFIX   (e.g. build/wolfssl-tuned)" >&2
    exit 2
}

[[ $# -eq 1 && -n $1 ]] || usage
PREFIX=$(realpath -m -- "$1")
case $PREFIX in
    / | /usr | /usr/* | /etc | /etc/* | /bin | /bin/* | /sbin | /sbin/* | /lib | /lib/* | /lib64 | /lib64/* | /boot | /boot/*)
        die "refusing to install into '$PREFIX': PREFIX must be a private cache directory (e.g. build/wolfssl-tuned), never system-wide" ;;
esac
PARENT=$(dirname -- "$PREFIX")
STAMP=$PREFIX/.ringworks-options
PCFILE=$PREFIX/lib/pkgconfig/wolfssl.pc

# --------------------------------------------------------------------------
# Configure options.  Every --enable/--disable below was checked against
# `./configure --help` of Debian bookworm's wolfssl 5.5.4 (and is re-checked
# at run time: configure itself only warns about unknown options).
#
#  --enable-dtlscid      the 5.5.4 spelling (not --enable-dtls-cid); needs
#                        --enable-dtls13, else configure errors out.
#  --enable-dtls-mtu     (addition) wolfSSL_dtls_set_mtu(), so a DTLS server
#                        can size records to the path MTU.
#  --enable-secure-renegotiation
#                        needed for an "enable renegotiation" switch: without
#                        HAVE_SECURE_RENEGOTIATION wolfSSL only sends the RI
#                        extension (HAVE_SERVER_RENEGOTIATION_INFO, default)
#                        and refuses every renegotiation; with it,
#                        wolfSSL_CTX_UseSecureRenegotiation()/wolfSSL_Rehandshake()
#                        work.  It stays opt-in per CTX/session at run time.
#  --enable-opensslextra no conflict with the rest; gives the X509 subject/
#                        name APIs and wolfSSL_CTX_set_keylog_callback().
#  HAVE_SECRET_CALLBACK  5.5.4 has no --enable-keylog-export (that came later)
#                        and only --enable-wpas turns it on (plus much else),
#                        so it is passed as CPPFLAGS=-DHAVE_SECRET_CALLBACK:
#                        configure copies CPPFLAGS -D macros into options.h,
#                        and CPPFLAGS (unlike CFLAGS) keeps configure's -O2.
#                        Gives wolfSSL_set_tls13_secret_cb(),
#                        wolfSSL_set_session_secret_cb() and, with
#                        OPENSSL_EXTRA, wolfSSL_CTX_set_keylog_callback().
#  --enable-tls13, --enable-pkcs12, --enable-harden are the defaults in 5.5.4;
#                        passed anyway so the intent is explicit.
#  --enable-all          the API surface Debian's libwolfssl-dev has (its
#                        rules use --enable-distro, which is --enable-all plus
#                        a static library and no early data), so ringworks
#                        builds against either flavour with the same code
#                        (OPENSSL_ALL: wolfSSL_get_servername,
#                        wolfSSL_CIPHER_get_bits, FFDHE groups, ...).
#  --disable-examples    skips the example client/server; the wolfCrypt
#                        benchmark and test are built by --enable-crypttests
#                        (default on), not by the examples.
#  --enable-shared --disable-static   shared library only.
# Dropped: none of the requested options is missing from 5.5.4.
# --------------------------------------------------------------------------
CONFIG_OPTS=(
    --enable-shared --disable-static
    --enable-all
    --enable-aesni --enable-intelasm
    --enable-sp --enable-sp-asm
    --enable-tls13
    --enable-dtls --enable-dtls13 --enable-dtlscid --enable-dtls-mtu
    --enable-session-ticket --enable-alpn --enable-sni
    --enable-secure-renegotiation
    --enable-opensslextra
    --enable-curve25519 --enable-ed25519
    --enable-certgen --enable-certext --enable-pkcs12 --enable-sessioncerts
    --enable-harden
    --disable-examples
)
CONFIG_VARS=(CPPFLAGS=-DHAVE_SECRET_CALLBACK)
# Macros that must end up in options.h, or the build is not what we asked for.
REQUIRED_MACROS=(
    WOLFSSL_AESNI USE_INTEL_SPEEDUP WOLFSSL_SP_X86_64_ASM
    WOLFSSL_TLS13 WOLFSSL_DTLS WOLFSSL_DTLS13 WOLFSSL_DTLS_CID WOLFSSL_DTLS_MTU
    HAVE_SESSION_TICKET HAVE_ALPN HAVE_SNI HAVE_SECURE_RENEGOTIATION
    OPENSSL_EXTRA HAVE_SECRET_CALLBACK HAVE_CURVE25519 HAVE_ED25519
    WOLFSSL_CERT_GEN WOLFSSL_CERT_EXT SESSION_CERTS
)
BUILD_PACKAGES=(dpkg-dev build-essential autoconf automake libtool)
JOBS=2

OPTIONS_STRING="--prefix=$PREFIX ${CONFIG_OPTS[*]} ${CONFIG_VARS[*]}"
# configure also reads CC/CFLAGS/LDFLAGS from the environment: record them so
# a different toolchain or sanitizer setting rebuilds instead of reusing.
for v in CC CFLAGS LDFLAGS; do
    if [[ -n ${!v:-} ]]; then OPTIONS_STRING+=" env:$v=${!v}"; fi
done

# Newest wolfssl source version in apt's *local* index (no network); empty if
# deb-src is not configured/fetched yet.
newest_source_version() {
    local v best=""
    while read -r v; do
        [[ -n $v ]] || continue
        if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done < <(apt-cache showsrc --only-source wolfssl 2>/dev/null |
             awk '/^Package: /{p=$2} /^Version: /{if (p=="wolfssl") print $2}')
    printf '%s' "$best"
}

stamp_field() { sed -n "s/^$1=//p" "$STAMP" 2>/dev/null | head -n1; }

# ---------------------------------------------------------------- cache check
if [[ -z ${WOLFSSL_TUNED_FORCE:-} && -f $STAMP && -f $PCFILE ]]; then
    if [[ $(stamp_field recipe) == "$RECIPE" && $(stamp_field options) == "$OPTIONS_STRING" ]]; then
        have_ver=$(stamp_field source-version)
        local_ver=$(newest_source_version)
        if [[ -z $local_ver || $local_ver == "$have_ver" ]]; then
            say "up to date"
            exit 0
        fi
        say "Debian's wolfssl source moved from $have_ver to $local_ver; rebuilding"
    else
        say "options changed; rebuilding"
    fi
fi

# One build at a time per PREFIX (e.g. two meson setups racing).
mkdir -p -- "$PARENT"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$PREFIX.lock"
    flock 9
fi

# ---------------------------------------------------------------- privileges
SUDO=()
have_root=""
can_root() {
    [[ $EUID -eq 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}
as_root() {
    if [[ -z $have_root ]]; then
        if [[ $EUID -eq 0 ]]; then
            SUDO=()
        elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        else
            die "need root (or password-less sudo) to: $AS_ROOT_WHY. Run this script as root once, or do that step by hand."
        fi
        have_root=1
    fi
    "${SUDO[@]}" "$@"
}

# ---------------------------------------------------------------- scratch
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wolfssl-tuned.XXXXXX")
STAGE=$(mktemp -d "$PARENT/.wolfssl-tuned-stage.XXXXXX")
cleanup() {
    rm -rf -- "$STAGE"
    if [[ -n ${WOLFSSL_TUNED_KEEP:-} ]]; then
        say "kept the scratch build tree: $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT
LOG=$WORK/build.log
: >"$LOG"
FAILLOG=$PREFIX.build.log

apt_fail() { # $1 = what failed, $2 = output file
    local out=$2
    if grep -qiE 'Could not resolve|Temporary failure|Failed to fetch|Unable to connect|Connection (refused|timed out)|Network is unreachable|Could not connect' "$out"; then
        die "cannot reach the package archive ($1). apt said:
$(tail -n 15 "$out")"
    fi
    die "$1 failed. apt said:
$(tail -n 15 "$out")"
}

# ---------------------------------------------------------------- build deps
missing=()
for p in "${BUILD_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    say "installing build prerequisites: ${missing[*]}"
    AS_ROOT_WHY="apt-get install ${missing[*]}"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1; then
        say "apt-get install failed; refreshing the package lists once"
        as_root apt-get update -q >"$WORK/apt-update.log" 2>&1 || apt_fail "apt-get update" "$WORK/apt-update.log"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1 ||
            apt_fail "apt-get install ${missing[*]}" "$WORK/apt-install.log"
    fi
fi

# ---------------------------------------------------------------- deb-src
# Derive deb-src entries from the machine's own "deb" entries for the running
# release (suite == codename or codename-*/codename/*), so nothing about hosts
# is written here.  deb822 stanzas (*.sources) become a .sources file (every
# field but Types/Suites/Architectures/Enabled copied, e.g. Signed-By);
# one-line entries (sources.list, *.list) become a .list file.  Entries that
# already have a deb-src twin are skipped.
codename=""
if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
fi
eval "$(apt-config shell APT_SL Dir::Etc::sourcelist/f APT_SP Dir::Etc::sourceparts/d)"
APT_SL=${APT_SL:-/etc/apt/sources.list}
APT_SP=${APT_SP:-/etc/apt/sources.list.d/}
APT_SP=${APT_SP%/}
DERIVED_SOURCES=$APT_SP/$DERIVED_BASENAME.sources
DERIVED_LIST=$APT_SP/$DERIVED_BASENAME.list

one_line_files=()
deb822_files=()
[[ -f $APT_SL ]] && one_line_files+=("$APT_SL")
for f in "$APT_SP"/*.list; do
    [[ -f $f && $f != "$DERIVED_LIST" ]] && one_line_files+=("$f")
done
for f in "$APT_SP"/*.sources; do
    [[ -f $f && $f != "$DERIVED_SOURCES" ]] && deb822_files+=("$f")
done

# Keys "URI SUITE" that already have deb-src, from both formats.
existing_src_keys() {
    if ((${#one_line_files[@]})); then
        awk '$1=="deb-src" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                             print $i, $(i+1) }' "${one_line_files[@]}"
    fi
    if ((${#deb822_files[@]})); then
        awk -v RS='' -F'\n' '{
            types=""; uris=""; suites=""; enabled="yes"
            for (n=1; n<=NF; n++) {
                if ($n ~ /^#/ || $n ~ /^[ \t]/) continue
                k=$n; sub(/:.*/, "", k); v=$n; sub(/^[^:]*:[ \t]*/, "", v)
                k=tolower(k)
                if (k=="types") types=v; else if (k=="uris") uris=v
                else if (k=="suites") suites=v; else if (k=="enabled") enabled=tolower(v)
            }
            if (enabled=="no" || (" " types " ") !~ / deb-src /) next
            nu=split(uris, U, /[ \t]+/); ns=split(suites, S, /[ \t]+/)
            for (a=1; a<=nu; a++) for (b=1; b<=ns; b++) if (U[a]!="" && S[b]!="") print U[a], S[b]
        }' "${deb822_files[@]}"
    fi
}
EXISTING_KEYS=$WORK/existing-src-keys
existing_src_keys | sort -u >"$EXISTING_KEYS"

derived_sources=$WORK/$DERIVED_BASENAME.sources
derived_list=$WORK/$DERIVED_BASENAME.list
: >"$derived_sources"
: >"$derived_list"
if ((${#deb822_files[@]})); then
    for f in "${deb822_files[@]}"; do
        awk -v RS='' -v ORS='' -F'\n' -v codename="$codename" -v src="$f" -v keysfile="$EXISTING_KEYS" '
        BEGIN { while ((getline line < keysfile) > 0) have[line]=1 }
        function suite_ok(s) { return codename=="" || s==codename || index(s, codename "-")==1 || index(s, codename "/")==1 }
        {
            types=""; uris=""; suites=""; comps=""; enabled="yes"; extra=""; lastkeep=0
            for (n=1; n<=NF; n++) {
                if ($n ~ /^#/) continue
                if ($n ~ /^[ \t]/) { if (lastkeep) extra=extra $n "\n"; continue }
                k=$n; sub(/:.*/, "", k); v=$n; sub(/^[^:]*:[ \t]*/, "", v)
                lk=tolower(k); lastkeep=0
                if (lk=="types") types=v
                else if (lk=="uris") uris=v
                else if (lk=="suites") suites=v
                else if (lk=="components") comps=v
                else if (lk=="enabled") enabled=tolower(v)
                else if (lk=="architectures") ;
                else { extra=extra $n "\n"; lastkeep=1 }
            }
            if (enabled=="no" || (" " types " ") !~ / deb /) next
            nu=split(uris, U, /[ \t]+/); ns=split(suites, S, /[ \t]+/)
            kept=""
            for (b=1; b<=ns; b++) {
                if (S[b]=="" || !suite_ok(S[b])) continue
                dup=1
                for (a=1; a<=nu; a++) if (U[a]!="" && !((U[a] " " S[b]) in have)) dup=0
                if (!dup) kept=kept (kept=="" ? "" : " ") S[b]
            }
            if (kept=="") next
            printf "# derived from %s by tools/wolfssl-tuned.sh\n", src
            printf "Types: deb-src\nURIs: %s\nSuites: %s\n", uris, kept
            if (comps!="") printf "Components: %s\n", comps
            printf "%s\n", extra
        }' "$f" >>"$derived_sources"
    done
fi
if ((${#one_line_files[@]})); then
    for f in "${one_line_files[@]}"; do
        awk -v codename="$codename" -v src="$f" -v keysfile="$EXISTING_KEYS" '
        BEGIN { while ((getline line < keysfile) > 0) have[line]=1 }
        function suite_ok(s) { return codename=="" || s==codename || index(s, codename "-")==1 || index(s, codename "/")==1 }
        $1=="deb" {
            i=2; opts=""
            if ($2 ~ /^\[/) {
                o=""; while (i<=NF) { o=o (o=="" ? "" : " ") $i; if ($i ~ /\]$/) break; i++ }
                i++
                gsub(/^\[|\]$/, "", o); no=split(o, O, /[ \t]+/); opts=""
                for (j=1; j<=no; j++) if (O[j]!="" && O[j] !~ /^arch(-|\+)?=/) opts=opts (opts=="" ? "" : " ") O[j]
                if (opts!="") opts="[" opts "] "
            }
            uri=$i; suite=$(i+1)
            if (!suite_ok(suite) || ((uri " " suite) in have)) next
            line="deb-src " opts uri " " suite
            for (j=i+2; j<=NF; j++) { if ($j ~ /^#/) break; line=line " " $j }
            if (!(line in seen)) { seen[line]=1; printf "# derived from %s by tools/wolfssl-tuned.sh\n%s\n", src, line }
        }' "$f" >>"$derived_list"
    done
fi

# Install (or drop) our derived files; root only when something changes.
derived_changed=""
for pair in "$derived_sources:$DERIVED_SOURCES" "$derived_list:$DERIVED_LIST"; do
    new=${pair%%:*}
    dest=${pair#*:}
    if [[ -s $new ]]; then
        if ! cmp -s "$new" "$dest"; then
            AS_ROOT_WHY="write $dest (deb-src entries derived from your apt sources)"
            as_root install -m 0644 "$new" "$dest"
            say "wrote $dest"
            derived_changed=1
        fi
    elif [[ -e $dest ]]; then
        AS_ROOT_WHY="remove the stale $dest"
        as_root rm -f -- "$dest"
        derived_changed=1
    fi
done
have_derived=""
[[ -s $derived_sources || -s $derived_list ]] && have_derived=1
if [[ -z $have_derived && ! -s $EXISTING_KEYS ]]; then
    die "found no 'deb' entries for ${codename:-this release} in $APT_SL or $APT_SP to derive deb-src from"
fi

# Refresh the source indices.  With only our derived files, update just those
# (fast, and a broken unrelated repository cannot fail us); keep other lists.
AS_ROOT_WHY="apt-get update (fetch the deb-src indices)"
if ! can_root && [[ -z $derived_changed && -n $(newest_source_version) ]]; then
    say "not root and no sudo: using apt's existing deb-src index"
elif [[ -n $have_derived ]]; then
    mkdir -p "$WORK/apt-parts"
    : >"$WORK/apt-empty.list"
    [[ -s $derived_sources ]] && cp "$derived_sources" "$WORK/apt-parts/"
    [[ -s $derived_list ]] && cp "$derived_list" "$WORK/apt-parts/"
    say "apt-get update (deb-src only)"
    if ! as_root apt-get update -q \
            -o Dir::Etc::sourcelist="$WORK/apt-empty.list" \
            -o Dir::Etc::sourceparts="$WORK/apt-parts" \
            -o APT::Get::List-Cleanup=false >"$WORK/apt-update.log" 2>&1 ||
        grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$WORK/apt-update.log"; then
        apt_fail "apt-get update of the deb-src indices" "$WORK/apt-update.log"
    fi
elif [[ -n $derived_changed || -z $(newest_source_version) ]]; then
    say "apt-get update"
    as_root apt-get update -q >"$WORK/apt-update.log" 2>&1 || apt_fail "apt-get update" "$WORK/apt-update.log"
fi

SRC_VERSION=$(newest_source_version)
[[ -n $SRC_VERSION ]] || die "apt knows no 'wolfssl' source package after the update (is the deb-src entry right? see $APT_SP/$DERIVED_BASENAME.*)"

# ---------------------------------------------------------------- source
say "fetching Debian source wolfssl $SRC_VERSION"
mkdir -p "$WORK/src"
if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
    # Let apt download as its sandbox user instead of warning about it.
    chmod 0711 "$WORK"
    chown _apt "$WORK/src"
fi
if ! (cd "$WORK/src" && apt-get source -q --only-source "wolfssl=$SRC_VERSION") >"$WORK/apt-source.log" 2>&1; then
    apt_fail "apt-get source wolfssl=$SRC_VERSION" "$WORK/apt-source.log"
fi
SRCDIR=""
for d in "$WORK/src"/wolfssl-*/; do [[ -d $d ]] && SRCDIR=${d%/}; done
[[ -n $SRCDIR && -f $SRCDIR/configure.ac ]] || die "apt-get source did not unpack a wolfssl tree in $WORK/src"
npatches=0
if [[ -f $SRCDIR/debian/patches/series ]]; then
    npatches=$(grep -cvE '^[[:space:]]*(#|$)' "$SRCDIR/debian/patches/series" || true)
    napplied=$(grep -cvE '^[[:space:]]*(#|$)' "$SRCDIR/.pc/applied-patches" 2>/dev/null || true)
    [[ $napplied == "$npatches" ]] || die "dpkg-source applied ${napplied:-0} of Debian's $npatches patches"
fi
say "source $SRC_VERSION unpacked with $npatches Debian patches applied"

# ---------------------------------------------------------------- build
fail_build() {
    cp -f -- "$LOG" "$FAILLOG" 2>/dev/null || true
    printf '%s: error: %s failed; last lines of the log (full log: %s):\n' "$PROG" "$1" "$FAILLOG" >&2
    tail -n 40 "$LOG" >&2
    exit 1
}
step() { # step NAME CMD...
    local name=$1; shift
    printf '\n===== %s: %s\n' "$name" "$*" >>"$LOG"
    (cd "$SRCDIR" && "$@") >>"$LOG" 2>&1 || fail_build "$name"
}

t0=$SECONDS
say "building (log: $LOG)"
step autogen ./autogen.sh

# configure only warns about unknown options: refuse them here.
(cd "$SRCDIR" && ./configure --help) >"$WORK/configure-help.txt" 2>&1 || fail_build "configure --help"
for opt in "${CONFIG_OPTS[@]}"; do
    name=${opt%%=*}
    name=${name#--enable-}
    name=${name#--disable-}
    grep -qE -- "--(enable|disable)-$name([[:space:]=\[]|$)" "$WORK/configure-help.txt" ||
        die "configure of wolfssl $SRC_VERSION has no option $opt; update CONFIG_OPTS in $0"
done

step configure ./configure --prefix="$PREFIX" "${CONFIG_OPTS[@]}" "${CONFIG_VARS[@]}"
for m in "${REQUIRED_MACROS[@]}"; do
    grep -qE "^#define $m([[:space:]]|$)" "$SRCDIR/wolfssl/options.h" ||
        die "configure did not define $m in wolfssl/options.h (see $LOG)"
done

# Test-only fix so wolfCrypt's self-test can gate the build: Debian's
# CVE-2026-5194 patch makes wc_ecc_sign_hash() reject digests longer than
# WC_MAX_DIGEST_SIZE (64), but test.c still signs a MAX_ECC_BYTES (66 with
# P-521, which --enable-sp turns on) all-zero digest.  Library code untouched.
sed -i 's/^#define ECC_DIGEST_SIZE     MAX_ECC_BYTES$/#define ECC_DIGEST_SIZE     (MAX_ECC_BYTES > WC_MAX_DIGEST_SIZE ? WC_MAX_DIGEST_SIZE : MAX_ECC_BYTES)/' \
    "$SRCDIR/wolfcrypt/test/test.c"

step make make -j"$JOBS"
step wolfcrypt-selftest ./wolfcrypt/test/testwolfcrypt
step install make install DESTDIR="$STAGE"

DEST=$STAGE$PREFIX
[[ -f $DEST/lib/pkgconfig/wolfssl.pc && -f $DEST/include/wolfssl/options.h ]] ||
    fail_build "install (no wolfssl.pc/options.h under the staging dir)"
bench=$SRCDIR/wolfcrypt/benchmark/.libs/benchmark
[[ -x $bench ]] || bench=$SRCDIR/wolfcrypt/benchmark/benchmark
install -D -m 0755 "$bench" "$DEST/bin/wolfcrypt-benchmark"
# Pin consumers to this build at run time (see the header comment).
# shellcheck disable=SC2016 # ${libdir} is pkg-config syntax, not shell
sed -i 's|^Libs: -L\${libdir} |Libs: -L${libdir} -Wl,-rpath,${libdir} |' "$DEST/lib/pkgconfig/wolfssl.pc"
# shellcheck disable=SC2016
grep -q -- '-Wl,-rpath,${libdir}' "$DEST/lib/pkgconfig/wolfssl.pc" ||
    die "could not add the rpath to wolfssl.pc: $(grep '^Libs:' "$DEST/lib/pkgconfig/wolfssl.pc")"

{
    echo "# written by tools/wolfssl-tuned.sh; delete this file to force a rebuild"
    echo "recipe=$RECIPE"
    echo "source-version=$SRC_VERSION"
    echo "options=$OPTIONS_STRING"
} >"$DEST/.ringworks-options"

# Swap the new tree in (same filesystem: STAGE lives next to PREFIX).
rm -rf -- "$PREFIX.old"
[[ -e $PREFIX ]] && mv -- "$PREFIX" "$PREFIX.old"
mv -- "$DEST" "$PREFIX"
rm -rf -- "$PREFIX.old" "$FAILLOG"
say "installed wolfssl $SRC_VERSION (tuned) into $PREFIX in $((SECONDS - t0))s"
