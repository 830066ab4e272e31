#!/usr/bin/env bash
# `make install` / `make uninstall` into a temporary PREFIX, as a library user would use it:
# a three-line program compiled with `pkg-config --cflags --libs libiotsec` links against the
# shared library and prints the version; the library's SONAME is libiotsec.so.<major> and it
# exports only iotsec_* symbols; the static library links with `pkg-config --static`;
# uninstall leaves no file behind. Reuses the build in $BUILD.
set -u
: "${BUILD:=build}"
if [ "${SANITIZE:-}" = 1 ]; then
    echo "install: skipped in the sanitizer build (SANITIZE=1): the installed library would need the ASan runtime"
    exit 0
fi
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0
fail() {
    echo "install: FAIL: $*" >&2
    failures=$((failures + 1))
}

version=$(sed -n 's/^#define IOTSEC_VERSION_STRING "\(.*\)"$/\1/p' include/iotsec/version.h)
major=$(sed -n 's/^#define IOTSEC_VERSION_MAJOR \([0-9]*\)$/\1/p' include/iotsec/version.h)
[ -n "$version" ] && [ -n "$major" ] || { echo "install: cannot read version.h" >&2; exit 1; }

# a make started from a script is not a sub-make of the one running the tests
unset MAKEFLAGS MFLAGS MAKELEVEL
if ! make -s BUILD="$BUILD" install PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    echo "install: make install PREFIX=$prefix failed" >&2
    exit 1
fi

lib=$prefix/lib/libiotsec.so.$version
for f in "$lib" "$prefix/lib/libiotsec.so.$major" "$prefix/lib/libiotsec.so" \
    "$prefix/lib/libiotsec.a" "$prefix/lib/pkgconfig/libiotsec.pc" \
    "$prefix/include/iotsec/iotsec.h" "$prefix/include/iotsec/config.h" "$prefix/bin/iotsec" \
    "$prefix/share/man/man1/iotsec.1" "$prefix/share/man/man1/iotsec-device-sim.1"; do
    [ -e "$f" ] || fail "not installed: ${f#"$tmp"/}"
done

# the three-line program, built from what pkg-config says
cat >"$tmp/hello.c" <<'EOF'
#include <stdio.h>
#include <iotsec/iotsec.h>
int main(void) { return printf("%s\n", iotsec_version()) < 0; }
EOF
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs libiotsec) || fail "pkg-config does not find libiotsec"
case " $flags " in
*" -I$prefix/include "*) ;;
*) fail "pkg-config --cflags does not name $prefix/include: $flags" ;;
esac
# shellcheck disable=SC2086
if cc -o "$tmp/hello" "$tmp/hello.c" $flags 2>"$tmp/cc.log"; then
    out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/hello") || fail "hello exited non-zero"
    [ "$out" = "$version" ] || fail "hello printed '$out', expected '$version'"
    LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/hello" | grep -q "libiotsec.so.$major => $prefix/lib/" ||
        fail "hello is not linked against $prefix/lib/libiotsec.so.$major: $(ldd "$tmp/hello" | grep iotsec)"
else
    fail "hello.c does not compile with '$flags': $(cat "$tmp/cc.log")"
fi

# the static library with its private requirements (Requires.private names the backends)
cat >"$tmp/digest.c" <<'EOF'
#include <stdio.h>
#include <iotsec/iotsec.h>
int main(void)
{
    unsigned char d[IOTSEC_SHA256_LEN];
    if (iotsec_sha256(iotsec_crypto_default(), "abc", 3, d) != IOTSEC_OK)
        return 1;
    return printf("%02x%02x%02x%02x\n", d[0], d[1], d[2], d[3]) < 0;
}
EOF
static_libs=$(pkg-config --static --libs-only-l libiotsec | sed 's/-liotsec//')
# shellcheck disable=SC2086
if cc -o "$tmp/digest" "$tmp/digest.c" $(pkg-config --cflags libiotsec) \
    "$prefix/lib/libiotsec.a" $static_libs 2>"$tmp/cc.log"; then
    [ "$("$tmp/digest")" = ba7816bf ] || fail "statically linked SHA-256('abc') is wrong"
else
    fail "static link with '$static_libs' fails: $(cat "$tmp/cc.log")"
fi

# SONAME and exported symbols
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libiotsec.so.$major" ] || fail "SONAME is '$soname', expected libiotsec.so.$major"
foreign=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | grep -v '^iotsec_')
[ -z "$foreign" ] || fail "exported symbols outside iotsec_*: $(echo $foreign)"
nm -D --defined-only "$lib" | grep -q ' T iotsec_version$' || fail "iotsec_version is not exported"
# the backend tables are internal
nm -D --defined-only "$lib" | grep -q 'iotsec_backend_' && fail "backend tables are exported"

# uninstall removes every file it installed
if ! make -s BUILD="$BUILD" uninstall PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log" >&2
    fail "make uninstall failed"
fi
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "files left after uninstall: $left"

# staged install (packaging): DESTDIR prefixes every path, the .pc names the final PREFIX
stage=$tmp/stage
if make -s BUILD="$BUILD" install DESTDIR="$stage" PREFIX=/opt/iotsec >"$tmp/stage.log" 2>&1; then
    pc=$stage/opt/iotsec/lib/pkgconfig/libiotsec.pc
    grep -qx 'prefix=/opt/iotsec' "$pc" || fail "staged .pc: $(head -1 "$pc")"
    [ -e "$stage/opt/iotsec/lib/libiotsec.so.$version" ] || fail "staged library missing"
    make -s BUILD="$BUILD" uninstall DESTDIR="$stage" PREFIX=/opt/iotsec >/dev/null 2>&1 ||
        fail "staged uninstall failed"
    left=$(find "$stage" ! -type d)
    [ -z "$left" ] || fail "files left after staged uninstall: $left"
else
    cat "$tmp/stage.log" >&2
    fail "make install DESTDIR=... failed"
fi

if [ "$failures" -ne 0 ]; then
    echo "install: $failures check(s) failed" >&2
    exit 1
fi
echo "install: installed, built against with pkg-config, uninstalled cleanly"
