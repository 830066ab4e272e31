#!/usr/bin/env bash
# Device simulator, enrollment (EST; docs/DESIGN.md §11, §14): a device provisioned without a
# certificate makes its key in its state directory, enrolls with its one-time bootstrap token
# (a second use refused), sends telemetry with the certificate it got, renews it over mTLS
# when it nears its end (run --renew-before) and on demand (enroll --renew); the key never
# leaves the state directory. Needs BUILD.
. "$(dirname "$0")/../../examples/device-sim/tests/lib.sh"

setup_pki
# an issuing CA under the root, which enrollment uses
"$CLI" ca init --dir "$T/int" --parent "$T/ca" --name "Issuing CA" >/dev/null 2>&1 &&
    fail "the default root (pathlen 0) issued an intermediate"
"$CLI" ca init --dir "$T/root" --name "Fleet Root" --path-len 1 >/dev/null || fail "root"
"$CLI" ca init --dir "$T/int" --parent "$T/root" --name "Issuing CA" >/dev/null || fail "int"
"$CLI" ca server --dir "$T/root" --name localhost --ip 127.0.0.1 \
    --out-key "$T/srv.key" --out-cert "$T/srv.pem" >/dev/null || fail "ca server"
: >"$T/est.log"
"$BACKEND" serve --listen 127.0.0.1:0 --db "$DB" --ca "$T/root/ca.pem" --cert "$T/srv.pem" \
    --key "$T/srv.key" --rate 0 --est-ca-dir "$T/int" --est-days 3 >"$T/est.log" 2>&1 &
PIDS+=($!)
PORT=$(wait_listening "$T/est.log" "${PIDS[-1]}") || { cat "$T/est.log" >&2; fail "backend"; }
URL=https://127.0.0.1:$PORT

id=$(cat /proc/sys/kernel/random/uuid)
"$CLI" secret --bytes 32 --out "$T/e.secret" >/dev/null
"$BACKEND" add-device --db "$DB" --device-id "$id" --secret-file "$T/e.secret" \
    --enroll-token-out "$T/e.token" >/dev/null || fail "add-device --enroll-token-out"
sign "$T/v1-sensor.m" "$T/v1.bin" 1.0.0 1 sensor
# provisioned without a certificate: only the pinned root, the secret, the firmware
expect_rc 0 "$SIM" provision --state "$T/e" --device-id "$id" --ca "$T/root/ca.pem" \
    --secret "$T/e.secret" --trust "$T/fw-sign.pub" --class sensor --image "$T/v1.bin" \
    --manifest "$T/v1-sensor.m"
[ -e "$T/e/creds/device.key" ] && fail "a device key before enrollment"
expect_rc 2 "$SIM" enroll --state "$T/e" --server "$URL"
expect_rc 6 "$SIM" enroll --state "$T/e" --server "http://127.0.0.1:$PORT" --token-file "$T/e.token"
# a wrong token: refused, and the real one still works after it
echo 0000000000000000000000000000000000000000000000000000000000000000 >"$T/wrong.token"
expect_rc 7 "$SIM" enroll --state "$T/e" --server "$URL" --token-file "$T/wrong.token"
expect_in "$T/err" "HTTP 401"
[ -e "$T/e/creds/device.key" ] && fail "a refused enrollment left a key"
expect_rc 0 "$SIM" enroll --state "$T/e" --server "$URL" --token-file "$T/e.token"
expect_in "$T/out" "enroll: new certificate for $id"
[ "$(stat -c %a "$T/e/creds/device.key")" = 600 ] || fail "device key mode"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/e/creds/device.crt")" = 2 ] || fail "certificate without its chain"
serial1=$(openssl x509 -in "$T/e/creds/device.crt" -noout -serial)
key1=$(openssl pkey -in "$T/e/creds/device.key" -pubout)
# the key is the device's: the server only ever saw its public half
[ "$(openssl x509 -in "$T/e/creds/device.crt" -noout -pubkey)" == "$key1" ] || fail "cert/key"
# the token is single-use
expect_rc 7 "$SIM" enroll --state "$T/e" --server "$URL" --token-file "$T/e.token"
expect_in "$T/err" "HTTP 409"
[ "$(openssl x509 -in "$T/e/creds/device.crt" -noout -serial)" == "$serial1" ] ||
    fail "a refused enrollment replaced the certificate"
# telemetry with the enrolled certificate (3 days: not yet due for renewal at 1 day before)
expect_rc 0 "$SIM" run --state "$T/e" --server "$URL" --frames 2 --renew-before 86400
expect_in "$T/out" "HTTP 200 {\"accepted\":true"
[ "$(openssl x509 -in "$T/e/creds/device.crt" -noout -serial)" == "$serial1" ] ||
    fail "renewed too early"
# near its end (renew when less than 4 days are left): renewed over mTLS, new key, then sent
expect_rc 0 "$SIM" run --state "$T/e" --server "$URL" --frames 1 --renew-before 345600
expect_in "$T/out" "enroll: renewed certificate for $id"
expect_in "$T/out" "HTTP 200 {\"accepted\":true"
[ "$(openssl x509 -in "$T/e/creds/device.crt" -noout -serial)" != "$serial1" ] || fail "not renewed"
[ "$(openssl pkey -in "$T/e/creds/device.key" -pubout)" != "$key1" ] || fail "renewal kept the key"
expect_rc 0 "$SIM" enroll --state "$T/e" --server "$URL" --renew
expect_in "$T/out" "enroll: renewed certificate"
n=$(sqlite3 "$DB" ".timeout 5000" "SELECT count(*) FROM est_certs WHERE device_id = '$id'")
[ "$n" = 3 ] || fail "$n enrollments recorded, expected 3"
rows=$(sqlite3 "$DB" ".timeout 5000" "SELECT count(*) FROM telemetry WHERE device_id = '$id'")
[ "$rows" = 3 ] || fail "$rows telemetry rows, expected 3"
echo "devicesim_enroll.sh: ok"
