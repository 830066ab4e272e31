#!/usr/bin/env bash
# Device simulator, over-the-air updates against the real backend (docs/DESIGN.md §6, §11):
# v1 → v2 (encrypted payload, Range download in 2048-byte chunks) installs and confirms;
# a tampered payload is not installed; a lower security counter, a wrong class and an
# expired manifest are refused; a bad build (self-test fails) rolls back; a tampered slot
# halts the secure boot.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
backend_start main "$T/server.pem" "$T/server.key"
URL=https://127.0.0.1:$PORT

# ---- v1 → v2, encrypted payload --------------------------------------------------------
device good sensor
sign_enc "$T/v2-sensor.m" "$T/v2.bin" 2.0.0 2 sensor
publish "$T/v2-sensor.m" "$T/v2-sensor.m.enc"
expect_rc 0 "$SIM" update --state "$T/good" --server "$URL"
expect_in "$T/out" "update: version 2.0.0 (security counter 2, 35664 bytes decrypted, 18 chunks) written to slot B"
expect_in "$T/out" "boot: confirmed slot B; stored security counter now 2"
expect_in "$T/out" "boot: running slot B version 2.0.0"
status_is good '"active":"B","pending":false,"boot_attempts":0,"security_counter":2'
status_is good '"B":{"version":"2.0.0","security_counter":2,"image_size":35664,"encrypted":true,"verified":true}'
cmp -s "$T/good/slots/b.bin" "$T/v2.bin" || fail "slot B does not hold the v2 image"
# polling again: nothing to do
expect_rc 0 "$SIM" update --state "$T/good" --server "$URL"
expect_in "$T/out" "update: already running version 2.0.0"
# slot A (counter 1) is no longer bootable: it is below the stored counter
status_is good '"A":{"version":"1.0.0","security_counter":1,"image_size":35664,"encrypted":false,"verified":false}'

# ---- a class with ':' and '@' (query characters the backend accepts unencoded) -----------
device colon 'acme:s@1'
sign_enc "$T/v2-colon.m" "$T/v2.bin" 2.0.0 2 'acme:s@1'
publish "$T/v2-colon.m" "$T/v2-colon.m.enc"
expect_rc 0 "$SIM" update --state "$T/colon" --server "$URL"
expect_in "$T/out" "boot: confirmed slot B; stored security counter now 2"

# ---- a tampered slot halts the secure boot ---------------------------------------------
cp -a "$T/good" "$T/flipped"
flip_byte "$T/flipped/slots/b.bin" 4096
expect_rc 5 "$SIM" boot --state "$T/flipped"
expect_in "$T/err" "IOTSEC_E_DIGEST_MISMATCH"
expect_in "$T/err" "secure boot: slot B refused; halting"
expect_rc 5 "$SIM" run --state "$T/flipped" --server "$URL"

# ---- an installed image keeps booting after its manifest's not_after --------------------
# (expiry guards installation against freeze attacks; it must not brick a running device)
sign "$T/v1-aging.m" "$T/v1.bin" 1.0.0 1 aging --not-after $(($(date +%s) + 2))
device aging aging --image "$T/v1.bin" --manifest "$T/v1-aging.m"
sleep 3
expect_rc 0 "$SIM" boot --state "$T/aging"
expect_in "$T/out" "boot: running slot A version 1.0.0"
# ... while the same manifest offered as an update now is refused as expired
expect_rc 1 "$SIM" provision --state "$T/aging2" --device-id aging-2 --cert "$T/aging.pem" \
    --key "$T/aging.key" --ca "$T/ca/ca.pem" --secret "$T/aging.secret" \
    --trust "$T/fw-sign.pub" --class aging --image "$T/v1.bin" --manifest "$T/v1-aging.m"
expect_in "$T/err" "IOTSEC_E_EXPIRED"

# ---- a boot record with both copies damaged halts too -----------------------------------
cp -a "$T/good" "$T/norecord"
dd if=/dev/zero of="$T/norecord/boot" bs=1 count=24 conv=notrunc status=none
dd if=/dev/zero of="$T/norecord/boot" bs=1 count=24 seek=512 conv=notrunc status=none
expect_rc 5 "$SIM" boot --state "$T/norecord"
expect_in "$T/err" "boot record damaged (both copies invalid); halting"

# ---- provisioning verifies the first image like an update -------------------------------
expect_rc 1 "$SIM" provision --state "$T/badprov" --device-id bad-prov --cert "$T/good.pem" \
    --key "$T/good.key" --ca "$T/ca/ca.pem" --secret "$T/good.secret" \
    --trust "$T/fw-sign.pub" --class sensor --image "$T/v2.bin" --manifest "$T/v1-sensor.m"
expect_in "$T/err" "IOTSEC_E_DIGEST_MISMATCH"
expect_rc 1 "$SIM" provision --state "$T/badprov" --device-id bad-prov --cert "$T/good.pem" \
    --key "$T/good.key" --ca "$T/ca/ca.pem" --secret "$T/good.secret" \
    --trust "$T/fw-sign.pub" --class other --image "$T/v1.bin" --manifest "$T/v1-sensor.m"
expect_in "$T/err" "IOTSEC_E_WRONG_TARGET"
expect_rc 2 "$SIM" provision --state "$T/badprov" --device-id bad-prov --cert "$T/good.pem" \
    --key "$T/good.key" --ca "$T/ca/ca.pem" --secret "$T/fw-sign.pub" \
    --trust "$T/fw-sign.pub" --class sensor --image "$T/v1.bin" --manifest "$T/v1-sensor.m"
expect_in "$T/err" "--secret"
[ -e "$T/badprov/boot" ] && fail "a refused provisioning left a bootable device"

# ---- tampered payload: the server's copy is modified after publishing --------------------
device tamper tamper
sign_enc "$T/v2-tamper.m" "$T/v2.bin" 2.0.0 2 tamper
publish "$T/v2-tamper.m" "$T/v2-tamper.m.enc"
cp "$T/v2-tamper.m.enc" "$T/tampered.enc"
flip_byte "$T/tampered.enc" 20000
digest=$(sha256sum "$T/v2-tamper.m.enc" | cut -c1-64)
backend_replace_payload "$DB" "$digest" "$T/tampered.enc" || fail "tampering with the stored payload"
expect_rc 1 "$SIM" update --state "$T/tamper" --server "$URL"
expect_in "$T/err" "update: payload refused (slot B left unbootable): IOTSEC_E_DIGEST_MISMATCH"
status_is tamper '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'
status_is tamper '"B":null'
expect_rc 0 "$SIM" boot --state "$T/tamper"
expect_in "$T/out" "boot: running slot A version 1.0.0"

# ---- lower security counter: a device at counter 5 is offered counter 3 ----------------
sign "$T/v5-rb.m" "$T/v2.bin" 5.0.0 5 rb
sign "$T/v3-rb.m" "$T/v1.bin" 3.0.0 3 rb
device rollback rb --image "$T/v2.bin" --manifest "$T/v5-rb.m"
publish "$T/v3-rb.m" "$T/v1.bin"
expect_rc 1 "$SIM" update --state "$T/rollback" --server "$URL"
expect_in "$T/err" "IOTSEC_E_ROLLBACK"
status_is rollback '"active":"A","pending":false,"boot_attempts":0,"security_counter":5'
status_is rollback '"B":null'

# ---- wrong class: the server hands out another class's manifest --------------------------
device wrongclass wc
sign_enc "$T/v2-other.m" "$T/v2.bin" 2.0.0 2 other
publish "$T/v2-other.m" "$T/v2-other.m.enc"
sqlite3 "$DB" ".timeout 5000" \
    "UPDATE firmware SET device_class = CAST('wc' AS BLOB) WHERE device_class = CAST('other' AS BLOB);" ||
    fail "re-labelling the stored manifest"
expect_rc 1 "$SIM" update --state "$T/wrongclass" --server "$URL"
expect_in "$T/err" "IOTSEC_E_WRONG_TARGET"
status_is wrongclass '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'

# ---- expired manifest (freeze attack) ----------------------------------------------------
device expired exp
sign_enc "$T/v2-exp.m" "$T/v2.bin" 2.0.0 2 exp --not-after $(($(date +%s) - 60))
publish "$T/v2-exp.m" "$T/v2-exp.m.enc"
expect_rc 1 "$SIM" update --state "$T/expired" --server "$URL"
expect_in "$T/err" "IOTSEC_E_EXPIRED"
status_is expired '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'

# ---- a bad build: the self-test fails 3 times, the device rolls back ----------------------
device badbuild bad
sign_enc "$T/v2-bad.m" "$T/v2.bin" 2.0.0 2 bad --chunk-size 4096
publish "$T/v2-bad.m" "$T/v2-bad.m.enc"
expect_rc 9 "$SIM" update --state "$T/badbuild" --server "$URL" --self-test-fail
expect_in "$T/out" "35664 bytes decrypted, 9 chunks) written to slot B" # the manifest's chunk size
expect_in "$T/out" "boot: slot B version 2.0.0 pending: self-test, attempt 3 of 3"
expect_in "$T/out" "boot: slot B not confirmed after 3 attempts; rolling back from slot B to slot A"
expect_in "$T/out" "boot: running slot A version 1.0.0 (security counter 1)"
status_is badbuild '"active":"A","pending":false,"boot_attempts":0,"security_counter":1'
expect_rc 0 "$SIM" boot --state "$T/badbuild"
# a fixed build of the same version installs later
expect_rc 0 "$SIM" update --state "$T/badbuild" --server "$URL"
expect_in "$T/out" "boot: confirmed slot B; stored security counter now 2"
status_is badbuild '"active":"B","pending":false,"boot_attempts":0,"security_counter":2'

echo "devicesim_update: all scenarios passed"
