#!/usr/bin/env bash
# Device simulator, power loss at every storage write of an update (docs/DESIGN.md §11): for
# N = 1, 2, … the update v1 → v2 is cut by a simulated power loss at its Nth storage write
# (slot manifest, slot erase, each payload chunk, the boot record; then, in the rebooted
# device, the start count and the confirmation), until an update completes without
# reaching N. After every cut the device must boot a verified image (v1, or v2 if the cut
# came after v2 was marked pending) and a later update must complete with v2 confirmed.
# A cut while v2 is pending also checks that a pending image which no longer verifies is
# rolled back instead of started.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
backend_start main "$T/server.pem" "$T/server.key"
URL=https://127.0.0.1:$PORT

device fresh pl
sign_enc "$T/v2-pl.m" "$T/v2.bin" 2.0.0 2 pl
publish "$T/v2-pl.m" "$T/v2-pl.m.enc"

n=1
cuts=0
pending_seen=0
while :; do
    rm -rf "$T/dev"
    cp -a "$T/fresh" "$T/dev"
    "$SIM" update --state "$T/dev" --server "$URL" --power-loss-after-writes "$n" \
        >"$T/cut.out" 2>"$T/cut.err"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        break # the update needed fewer than n writes: every write index was cut
    fi
    [ "$rc" -eq 8 ] || { cat "$T/cut.out" "$T/cut.err" >&2; fail "N=$n: update exit $rc, expected 8"; }
    expect_in "$T/cut.err" "simulated power loss during a storage write"
    cuts=$((cuts + 1))

    if [ "$pending_seen" -eq 0 ] &&
        "$SIM" status --state "$T/dev" --json | grep -qF '"pending":true'; then
        # v2 is pending: a copy whose pending image was damaged must roll back to v1
        pending_seen=1
        cp -a "$T/dev" "$T/damaged"
        flip_byte "$T/damaged/slots/b.bin" 100
        expect_rc 9 "$SIM" boot --state "$T/damaged"
        expect_in "$T/out" "pending image in slot B refused; rolling back from slot B to slot A"
        expect_in "$T/out" "boot: running slot A version 1.0.0"
    fi

    # power is back: the device boots a verified image …
    expect_rc 0 "$SIM" boot --state "$T/dev"
    grep -qE "^boot: running slot [AB] version (1\.0\.0|2\.0\.0)" "$T/out" ||
        fail "N=$n: no verified image running"
    # … and a later update completes (or finds v2 already confirmed)
    expect_rc 0 "$SIM" update --state "$T/dev" --server "$URL"
    status_is dev '"active":"B","pending":false,"boot_attempts":0,"security_counter":2'
    n=$((n + 1))
    [ "$n" -le 200 ] || fail "the update never completed"
done
# the completed run really installed v2
expect_in "$T/cut.out" "boot: confirmed slot B; stored security counter now 2"
status_is dev '"active":"B","pending":false,"boot_attempts":0,"security_counter":2'
# slot manifest removal, erase, 18 chunks of 2048 bytes, manifest, boot record, start,
# confirmation
[ "$cuts" -eq 24 ] || fail "$cuts write indices were cut, expected 24"
[ "$pending_seen" -eq 1 ] || fail "no cut left v2 pending"
echo "devicesim_powerloss: $cuts power cuts, the device always booted a verified image"
