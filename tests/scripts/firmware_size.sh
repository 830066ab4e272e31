#!/usr/bin/env bash
# `make size` (firmware/firmware.mk, scripts/fw-size) produces its table: libiotsec's own
# flash, RAM and worst-case stack for the profiles bootloader, sensor and full, built for
# Cortex-M4. The figures are a benchmark, not a test: no thresholds are checked here, only
# that every profile has a row of numbers, the counting is explained and the published
# anchors are printed. Skipped, saying so, when the ARM toolchain is absent
# (scripts/install-deps installs it) and in the sanitizer pass.
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
if [ "${SANITIZE:-}" = 1 ]; then
    echo "firmware_size: skipped in the sanitizer build (the firmware is the same; the plain build runs it)"
    exit 0
fi
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "firmware_size: skipped: arm-none-eabi-gcc is not installed (scripts/install-deps installs it)"
    exit 0
fi
unset MAKEFLAGS MFLAGS MAKELEVEL
log=$(mktemp "${TMPDIR:-/tmp}/iotsec-fwsize.XXXXXX")
trap 'rm -f "$log"' EXIT
fail() { cat "$log"; echo "firmware_size: FAIL: $*"; exit 1; }
make -s BUILD="$BUILD" WERROR=1 size >"$log" 2>&1 || fail "make size failed"
for p in bootloader sensor full; do
    grep -Eq "^$p +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ \| +[0-9]+ +[0-9]+$" "$log" ||
        fail "no row of figures for profile $p"
    grep -q "^$p:" "$log" || fail "no details for profile $p"
done
grep -q '^How counted:' "$log" || fail "the table does not say how it counts"
grep -q '^Published anchors (published figures, NOT measured here):' "$log" ||
    fail "no published anchors"
grep -q 'MCUboot' "$log" && grep -q 'libcsuit' "$log" || fail "an anchor is missing"
grep -Eq '^Goal \(benchmark, not a test\): .*: (met|NOT met)' "$log" || fail "no goal line"
grep -q 'warning:' "$log" && fail "warnings in the size build"
sed -n '/^profile/,/^full /p' "$log"
echo "firmware_size: ok"
