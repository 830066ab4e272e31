#!/usr/bin/env bash
# Device simulator, device.conf (examples/device-sim/state.c): a configuration file with a
# damaged line anywhere — the last one included — is refused before anything else is read
# (exit 3, "damaged configuration file"). Regression for the fuzz_devicesim_state finding:
# a bad last line was consumed and then ignored, so its file was accepted.
set -u
: "${BUILD:=build}"
SIM=$BUILD/iotsec-device-sim
[ -x "$SIM" ] || { echo "FAIL: $SIM is not built" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# refused NAME TEXT: a state directory holding only device.conf = TEXT is refused as damaged
refused() {
    mkdir -p "$T/$1"
    printf '%b' "$2" > "$T/$1/device.conf"
    "$SIM" status --state "$T/$1" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 3 ] || { cat "$T/err" >&2; fail "$1: exit $rc, expected 3"; }
    grep -qF "damaged configuration file" "$T/err" || { cat "$T/err" >&2; fail "$1: no message"; }
}

refused bad-last-line 'device_id=dev-1\nclass=sensor\ngarbage'
refused unknown-key-last 'device_id=dev-1\nclass=sensor\nowner=x\n'
refused bad-value-last 'device_id=dev-1\nclass=sensor\ndevice_id=two words\n'
refused lone-cr-last 'device_id=dev-1\nclass=sensor\n\r'
refused bad-first-line 'garbage\ndevice_id=dev-1\nclass=sensor\n'
refused blank-line 'device_id=dev-1\n\nclass=sensor\n'
refused missing-class 'device_id=dev-1\n'

# a valid file gets past the configuration (and stops later: there is no boot record)
mkdir -p "$T/ok"
printf 'device_id=dev-1\r\nclass=sensor\n' > "$T/ok/device.conf"
"$SIM" status --state "$T/ok" >"$T/out" 2>"$T/err"
if grep -qF "damaged configuration file" "$T/err"; then
    cat "$T/err" >&2
    fail "a valid configuration file was refused"
fi
echo "device.conf: damaged files refused, valid one accepted"
