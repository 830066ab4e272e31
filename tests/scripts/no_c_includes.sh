#!/usr/bin/env bash
# No test or benchmark compiles another part's code in by #including a .c file: code of
# examples/, tools/ or tests/unit/ that a test needs is linked instead, from an object or an
# internal library ($(BUILD)/internal/; Check suites: TEST_INTERNAL_LIBS in the makefiles,
# fuzz targets: tests/fuzz/build.mk), with its declarations in that part's header.
set -u
cd "$(dirname "$0")/../.." || exit 1

hits=$(find tests bench -type f \( -name '*.c' -o -name '*.h' \) -print0 |
    xargs -0 grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^">]*\.c[">]' || true)
if [ -n "$hits" ]; then
    echo "no_c_includes: FAIL: a .c file is #included; link it instead (an object or an" \
        "internal library, see tests/fuzz/build.mk and TEST_INTERNAL_LIBS in the Makefile):" >&2
    echo "$hits" >&2
    exit 1
fi
echo "no_c_includes: no file under tests/ or bench/ includes a .c file"
