#!/usr/bin/env bash
# The demo's scenarios inside `make check` (tests/e2e/, docs/DESIGN.md §1): scripts/demo on the
# binaries of $BUILD as they are (no install-deps, no build; `make tests` built the firmware
# images), its workspace in a temporary directory. Fails when the demo fails (any row of its
# table FAIL, or a setup step refused) or leaves a process behind.
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
BUILD=$(cd "$BUILD" && pwd) || { echo "FAIL: no build directory $BUILD"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

DEMO_PREBUILT=1 DEMO_OUT="$T/demo-out" BUILD="$BUILD" "$ROOT/scripts/demo" >"$T/demo.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$T/demo.log"
    for f in "$T"/demo-out/logs/*.log "$T"/demo-out/backend/backend.log; do
        [ -e "$f" ] && { echo "--- ${f##*/} (last lines)"; tail -n 15 "$f"; }
    done
    echo "FAIL: scripts/demo exited $rc"
    exit 1
fi
left=$(pgrep -f "$T/demo-out" || true)
[ -z "$left" ] || { echo "FAIL: the demo left processes running: $left"; exit 1; }
rows=$(grep -c '^| .* | PASS   |$' "$T/demo.log")
[ "$rows" -ge 20 ] || { cat "$T/demo.log"; echo "FAIL: only $rows PASS rows in the table"; exit 1; }
tail -n 1 "$T/demo.log"
