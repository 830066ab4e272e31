#!/usr/bin/env bash
# bindings-spec/abi.json cannot drift from the library: after `make install` into a temporary
# prefix (reusing the build in $BUILD),
#   1. tools/gen-vectors/gen_abi.py run over the INSTALLED headers gives exactly the committed
#      abi.json (functions, parameters, directions, documented errors, constants, enums,
#      structs and their LP64 layout);
#   2. a C program generated from the committed abi.json compiles against the installed headers
#      (every function's type checked with _Generic, every constant, enum value, error code and
#      struct layout with _Static_assert), links against the installed libiotsec.so, and runs:
#      iotsec_error_name(), the range predicates and iotsec_version() agree with abi.json;
#   3. the installed library exports exactly the functions of abi.json (nm -D), no more, no less;
#   0. (first, in every build) the error table of bindings-spec/README.md is abi.json's.
# Regenerate after an intended change: python3 tools/gen-vectors/gen_abi.py --out bindings-spec/abi.json
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1

# 0. the README's error table (between its errors:begin / errors:end markers)
readme_table=$(sed -n '/^<!-- errors:begin -->$/,/^<!-- errors:end -->$/p' bindings-spec/README.md |
    sed '1d;$d')
if [ "$readme_table" != "$(python3 tools/gen-vectors/gen_abi.py --readme-errors)" ]; then
    echo "abi_check: FAIL: the error table of bindings-spec/README.md differs from abi.json" \
        "(python3 tools/gen-vectors/gen_abi.py --readme-errors prints it)" >&2
    exit 1
fi

if [ "${SANITIZE:-}" = 1 ]; then
    echo "abi_check: skipped in the sanitizer build (SANITIZE=1): the installed library would need the ASan runtime; the normal build checks the same headers"
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0
fail() {
    echo "abi_check: FAIL: $*" >&2
    failures=$((failures + 1))
}

unset MAKEFLAGS MFLAGS MAKELEVEL
if ! make -s BUILD="$BUILD" install PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    echo "abi_check: make install PREFIX=$prefix failed" >&2
    exit 1
fi
version=$(sed -n 's/^#define IOTSEC_VERSION_STRING "\(.*\)"$/\1/p' include/iotsec/version.h)
lib=$prefix/lib/libiotsec.so.$version
[ -e "$lib" ] || { echo "abi_check: $lib was not installed" >&2; exit 1; }

# 1. regenerate from the installed headers
if python3 tools/gen-vectors/gen_abi.py --include "$prefix/include" --out "$tmp/abi.json" 2>"$tmp/gen.log"; then
    if ! cmp -s "$tmp/abi.json" bindings-spec/abi.json; then
        fail "bindings-spec/abi.json differs from the installed headers (regenerate with" \
            "python3 tools/gen-vectors/gen_abi.py --out bindings-spec/abi.json and review):"
        diff -u bindings-spec/abi.json "$tmp/abi.json" | head -40 >&2
    fi
else
    cat "$tmp/gen.log" >&2
    fail "gen_abi.py failed on the installed headers"
fi

# 2. compile, link and run the check generated from the committed file
python3 tools/gen-vectors/gen_abi.py --abi bindings-spec/abi.json --check-source "$tmp/check.c" ||
    fail "gen_abi.py --check-source failed"
if cc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" "$tmp/check.c" -o "$tmp/check" \
    -L"$prefix/lib" -liotsec 2>"$tmp/cc.log"; then
    LD_LIBRARY_PATH=$prefix/lib "$tmp/check" >"$tmp/run.log" 2>&1 ||
        fail "the installed library disagrees with abi.json: $(cat "$tmp/run.log")"
else
    fail "the installed headers do not match abi.json:"
    grep -E 'error' "$tmp/cc.log" | head -20 >&2
fi

# 3. exported symbols
nm -D --defined-only "$lib" | awk '{ print $NF }' | sort >"$tmp/exported"
python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["functions"]: print(f["name"])' bindings-spec/abi.json |
    sort >"$tmp/listed"
missing=$(comm -13 "$tmp/exported" "$tmp/listed")
extra=$(comm -23 "$tmp/exported" "$tmp/listed")
[ -z "$missing" ] || fail "in abi.json but not exported by $(basename "$lib"): $(tr "\n" " " <<<"$missing")"
[ -z "$extra" ] || fail "exported by $(basename "$lib") but not in abi.json: $(tr "\n" " " <<<"$extra")"

if [ "$failures" -ne 0 ]; then
    echo "abi_check: $failures check(s) failed" >&2
    exit 1
fi
echo "abi_check: abi.json matches the installed headers and library ($(wc -l <"$tmp/listed") functions)"
