#!/usr/bin/env bash
# Build-time subsetting for firmware (docs/DESIGN.md §15): `make lib BACKENDS=sodium NO_JSON=1`
# and `NO_ECOWATT=1` compile those parts out. For each profile: the library builds
# warning-clean, iotsec/config.h says what was dropped, the archive defines none of the
# dropped functions (and no jsmn code without JSON), iotsec.h still compiles and a program
# using the binary frames links and runs, and including a dropped part's header directly
# stops the compilation with an #error that names it. Prints each profile's core size.
set -u
: "${BUILD:=build}"
if [ "${SANITIZE:-}" = 1 ]; then
    echo "build_subset: skipped in the sanitizer build (the normal build runs it)"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-subset.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "build_subset: FAIL: $*" >&2; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL

cat >"$T/fw.c" <<'C'
#include <string.h>
#include <iotsec/iotsec.h>
int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_default();
    uint8_t master[32] = {7}, frame[128], out[16];
    size_t n, m;
    iotsec_frame_keys k;
    iotsec_replay_window w;

    if (iotsec_frame_keys_derive(&k, c, master, "dev-1", 5, 0, IOTSEC_FRAME_UPLINK) ||
        iotsec_replay_init(&w, 64) ||
        iotsec_frame_seal(&k, 1, 0, NULL, (const uint8_t *)"hi", 2, frame, sizeof frame, &n) ||
        iotsec_frame_open_checked(&k, &w, frame, n, NULL, out, sizeof out, &m) || m != 2 ||
        memcmp(out, "hi", 2) != 0)
        return 1;
    iotsec_frame_keys_cleanup(&k);
    return 0;
}
C

size_of() { size -t "$@" 2>/dev/null | awk 'END {print $1 + $2}'; }

profile() { # name, make variables..., then: -- present... -- absent...
    local name=$1; shift
    local vars=() present=() absent=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do present+=("$1"); shift; done
    shift
    absent=("$@")
    local b=$T/$name
    make -s -j2 BACKENDS=sodium BUILD="$b" WERROR=1 "${vars[@]}" lib >"$T/$name.log" 2>&1 ||
        { cat "$T/$name.log" >&2; fail "$name: make lib BACKENDS=sodium ${vars[*]}"; }
    nm --defined-only "$b/libiotsec.a" 2>/dev/null | awk 'NF==3 && $2 ~ /[TDR]/ {print $3}' | sort -u >"$T/$name.syms"
    local s
    for s in "${present[@]}"; do grep -qx "$s" "$T/$name.syms" || fail "$name: $s missing"; done
    for s in "${absent[@]}"; do
        grep -q "$s" "$T/$name.syms" && fail "$name: $s still defined"
    done
    ${CC:-cc} -std=c99 -Wall -Wextra -Werror -I"$b/include" -Iinclude -o "$T/$name.fw" "$T/fw.c" \
        "$b/libiotsec.a" $(pkg-config --libs libsodium) || fail "$name: link a binary-frame program"
    "$T/$name.fw" || fail "$name: the binary-frame program failed"
    echo "build_subset: $name (${vars[*]:-full}): core $(size_of "$b"/obj/libiotsec/core/*.o) bytes of code and data (x86-64, -O2 -g)"
}

profile full -- iotsec_frame_seal_json iotsec_ecowatt_open -- NOTHING_ABSENT
profile no-ecowatt NO_ECOWATT=1 -- iotsec_frame_seal_json -- iotsec_ecowatt_
profile no-json NO_JSON=1 -- iotsec_frame_seal -- iotsec_frame_seal_json iotsec_frame_open_json \
    iotsec_ecowatt_ iotsec__json_ jsmn_

grep -qx '#define IOTSEC_NO_JSON 1' "$T/no-json/include/iotsec/config.h" || fail "config.h lacks IOTSEC_NO_JSON 1"
grep -qx '#define IOTSEC_NO_ECOWATT 1' "$T/no-json/include/iotsec/config.h" ||
    fail "NO_JSON=1 must imply IOTSEC_NO_ECOWATT (EcoWatt is JSON)"
# a dropped part's header, included directly, names what is missing
printf '#include <iotsec/ecowatt.h>\nint main(void) { return 0; }\n' >"$T/eco.c"
if ${CC:-cc} -std=c99 -I"$T/no-ecowatt/include" -Iinclude -c "$T/eco.c" -o "$T/eco.o" 2>"$T/eco.err"; then
    fail "iotsec/ecowatt.h compiled in a NO_ECOWATT build"
fi
grep -q 'EcoWatt legacy profile compiled out' "$T/eco.err" || { cat "$T/eco.err" >&2; fail "no #error naming the dropped part"; }
printf '#include <iotsec/replay_sqlite.h>\nint main(void) { return 0; }\n' >"$T/sq.c"
if ${CC:-cc} -std=c99 -I"$T/no-json/include" -Iinclude -c "$T/sq.c" -o "$T/sq.o" 2>"$T/sq.err"; then
    fail "iotsec/replay_sqlite.h compiled in a build without SQLite"
fi
grep -q 'does not have the SQLite store' "$T/sq.err" || { cat "$T/sq.err" >&2; fail "no #error naming SQLite"; }
printf '#include <iotsec/replay_pg.h>\nint main(void) { return 0; }\n' >"$T/pg.c"
if ${CC:-cc} -std=c99 -I"$T/no-json/include" -Iinclude -c "$T/pg.c" -o "$T/pg.o" 2>"$T/pg.err"; then
    fail "iotsec/replay_pg.h compiled in a build without PostgreSQL"
fi
grep -q 'does not have the PostgreSQL store' "$T/pg.err" || { cat "$T/pg.err" >&2; fail "no #error naming PostgreSQL"; }
grep -qx '#define IOTSEC_HAVE_PG 0' "$T/no-json/include/iotsec/config.h" || fail "config.h of a sodium build lacks IOTSEC_HAVE_PG 0"
echo "build_subset: profiles full, no-ecowatt, no-json built and checked"
