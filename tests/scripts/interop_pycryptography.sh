#!/usr/bin/env bash
# Interoperability with Python's `cryptography` package (pyca: an independent implementation
# of every primitive and format libiotsec uses): key files, manifests (Ed25519, ECDSA P-256,
# RSA-PSS 2048/3072), encrypted firmware, frames v1 (binary, JSON), the legacy EcoWatt
# profile, X.509 device certificates and CRLs — each built and checked from bindings-spec/SPEC.md by
# interop_pycryptography.py and exchanged with the `iotsec` CLI of $BUILD in both directions.
# Drives the CLI only (in the SANITIZE=1 build it is instrumented; Python is not involved in
# the library's memory). Needs an interpreter that can `import cryptography`: scripts/install-deps
# installs Debian's python3-cryptography for /usr/bin/python3, so a missing package is a
# failure, not a skip.
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
cli=$PWD/$BUILD/iotsec
[ -x "$cli" ] || { echo "interop_pycryptography: $cli not built" >&2; exit 1; }

py=
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import cryptography' >/dev/null 2>&1; then
        py=$candidate
        break
    fi
done
if [ -z "$py" ]; then
    echo "interop_pycryptography: no python3 can import cryptography (scripts/install-deps" \
        "installs python3-cryptography)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$py" tests/scripts/interop_pycryptography.py --cli "$cli" --tmp "$tmp"
