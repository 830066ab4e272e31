#!/usr/bin/env bash
# The CLI's scripted tests again with IOTSEC_BACKEND=psa (the PSA Crypto backend over Mbed
# TLS, Ed25519 from its libsodium fallback): keys, frames, manifests. Skipped, with a line
# saying so, in a build without the psa backend (make BACKENDS="openssl sodium").
set -u
: "${BUILD:=build}"
export BUILD
cd "$(dirname "$0")/../.." || exit 1
if ! "$BUILD/iotsec" version | grep -q ' psa'; then
    echo "cli_psa: skipped: this build has no psa backend"
    exit 0
fi
fail=0
for t in cli_keys cli_frame cli_manifest; do
    if IOTSEC_BACKEND=psa bash "tests/scripts/$t.sh" >"${TMPDIR:-/tmp}/cli_psa.$$.log" 2>&1; then
        echo "cli_psa: $t with IOTSEC_BACKEND=psa: ok"
    else
        echo "cli_psa: FAIL: $t with IOTSEC_BACKEND=psa:"
        sed 's/^/    /' "${TMPDIR:-/tmp}/cli_psa.$$.log"
        fail=1
    fi
    rm -f "${TMPDIR:-/tmp}/cli_psa.$$.log"
done
exit $fail
