#!/usr/bin/env bash
# The firmware test (docs/DESIGN.md §15): `make firmware-check` cross-builds the core, the PSA
# backend, Mbed TLS and libsodium's Ed25519 for Cortex-M4 and runs every bindings-spec vector
# on QEMU's mps2-an386 (firmware/firmware.mk). Skipped, saying so, only when the ARM
# toolchain or QEMU is absent (scripts/install-deps installs them, so `make check` and CI run
# it) and in the sanitizer pass (the firmware does not depend on the host's sanitizers).
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
if [ "${SANITIZE:-}" = 1 ]; then
    echo "firmware_check: skipped in the sanitizer build (the firmware is the same; the plain build runs it)"
    exit 0
fi
for tool in arm-none-eabi-gcc qemu-system-arm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "firmware_check: skipped: $tool is not installed (scripts/install-deps installs it)"
        exit 0
    fi
done
# a make started from a script is not a sub-make of the one running the tests
unset MAKEFLAGS MFLAGS MAKELEVEL
log=$(mktemp "${TMPDIR:-/tmp}/iotsec-fw.XXXXXX")
trap 'rm -f "$log"' EXIT
if make -s BUILD="$BUILD" WERROR=1 firmware-check >"$log" 2>&1; then
    grep '^firmware-check:' "$log"
    exit 0
fi
cat "$log"
echo "firmware_check: FAIL"
exit 1
