#!/usr/bin/env bash
# The backend with certificate chains (docs/DESIGN.md §7.1, §10): a root → issuing CA →
# device hierarchy made with `iotsec ca init --parent`, devices presenting their chain (curl
# --cert with the chain file) or only their certificate (the server's --intermediates
# bundle), CRLs per level, --crl-policy require, --max-depth, and refusals whose audit detail
# names the failed check. Needs BUILD ($BUILD/iotsec-backend, $BUILD/iotsec).
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-backend-chain-XXXXXX")
PID=
PORT=
failures=0

cleanup() {
    if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }
q() { sqlite3 "$T/db" "$1"; }
wait_q() { # DESC SQL EXPECTED (within 5 s)
    local i r
    for i in $(seq 1 50); do
        r=$(q "$2")
        [ "$r" == "$3" ] && return 0
        sleep 0.1
    done
    fail "$1: got '$r', expected '$3'"
}

cd "$T" || exit 1
"$CLI" ca init --dir root --name "Fleet Root" --path-len 1 >/dev/null || { echo "FAIL: root"; exit 1; }
"$CLI" ca init --dir int --parent root --name "Issuing CA" >/dev/null || { echo "FAIL: int"; exit 1; }
"$CLI" ca server --dir root --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: server certificate"; exit 1; }
for d in dev-c1 dev-c2; do
    "$CLI" ca issue --dir int --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
    "$SRV" add-device --db db --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        fail "add-device $d"
done
# a certificate of the issuing CA that is no client certificate (serverAuth)
"$CLI" ca server --dir int --name dev-c1 --out-key wrong.key --out-cert wrong.pem >/dev/null
openssl x509 -in dev-c1.pem -out dev-c1-leaf.pem
"$CLI" ca revoke --dir int dev-c2.pem >/dev/null
"$CLI" ca crl --dir int --out int.crl >/dev/null
"$CLI" ca crl --dir root --out root.crl >/dev/null

start_server() {
    : > srv.out
    "$SRV" serve --listen 127.0.0.1:0 --db db --ca root/ca.pem --cert srv.pem --key srv.key \
        "$@" > srv.out 2>> srv.err &
    PID=$!
    local i
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: server did not start"; cat srv.err; exit 1
}
stop_server() {
    kill -TERM "$PID"
    wait "$PID"
    expect "server exit status" "$?" 0
    PID=
}
auth() { # CERT KEY → body (or nothing when the handshake failed)
    curl -sS --max-time 10 --cacert root/ca.pem --cert "$1" --key "$2" \
        "https://127.0.0.1:$PORT/v1/auth" 2>/dev/null
}
audits() { q "SELECT count(*) FROM audit WHERE event = '$1' AND detail LIKE '$2'"; }

# ---- chains from the device, CRLs per level ---------------------------------------------
start_server --crl root.crl --crl int.crl --intermediates int/ca.pem --crl-policy require
expect "device with its chain" "$(auth dev-c1.pem dev-c1.key)" "AUTH OK dev-c1"
expect "device without its chain (bundle)" "$(auth dev-c1-leaf.pem dev-c1.key)" "AUTH OK dev-c1"
expect "revoked by the issuing CA's CRL" "$(auth dev-c2.pem dev-c2.key)" ""
wait_q "revoked audited" "SELECT count(*) FROM audit WHERE event = 'revoked' AND identity = 'dev-c2' AND detail LIKE '%device dev-c2 revoked (crl)%'" 1
expect "serverAuth certificate" "$(auth wrong.pem wrong.key)" ""
wait_q "EKU refusal names the check" \
    "$(printf "SELECT count(*) FROM audit WHERE event = 'handshake_failed' AND detail LIKE '%%certificate lacks the clientAuth extended key usage: IOTSEC_E_POLICY%%'")" 1
# the root revokes the issuing CA: a reload (the CRL file changes) refuses every device of it
"$CLI" ca revoke --dir root int/ca.pem >/dev/null
"$CLI" ca crl --dir root --out root.crl.new >/dev/null && mv root.crl.new root.crl
wait_q "reload" "SELECT count(*) FROM audit WHERE event = 'reload'" 1
expect "issuing CA revoked" "$(auth dev-c1.pem dev-c1.key)" ""
wait_q "intermediate revocation names it" \
    "SELECT count(*) FROM audit WHERE event = 'revoked' AND detail LIKE '%its intermediate \"CN=Issuing CA\" revoked (crl)%'" 1
stop_server

# ---- --crl-policy require without the root's CRL; --max-depth 1 --------------------------
start_server --crl int.crl --intermediates int/ca.pem --crl-policy require
expect "no CRL for the root" "$(auth dev-c1.pem dev-c1.key)" ""
wait_q "missing CRL names the level" \
    "SELECT count(*) FROM audit WHERE event = 'handshake_failed' AND detail LIKE '%no CRL for the trust anchor \"CN=Fleet Root\"%IOTSEC_E_POLICY%'" 1
stop_server
start_server --max-depth 1
expect "chain longer than 1" "$(auth dev-c1.pem dev-c1.key)" ""
wait_q "depth refusal names it" \
    "SELECT count(*) FROM audit WHERE event = 'handshake_failed' AND detail LIKE '%chain longer than 1 below the trust anchor%'" 1
stop_server
# the issuing CA pinned as the anchor: its devices need no chain
: > srv.out
"$SRV" serve --listen 127.0.0.1:0 --db db --ca int/ca.pem --cert srv.pem --key srv.key \
    --max-depth 1 > srv.out 2>> srv.err &
PID=$!
for i in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
expect "pinned intermediate" "$(auth dev-c1-leaf.pem dev-c1.key)" "AUTH OK dev-c1"
stop_server
# usage
"$SRV" serve --db db --ca root/ca.pem --cert srv.pem --key srv.key --max-depth 9 2>/dev/null
expect "--max-depth 9" "$?" 2
"$SRV" serve --db db --ca root/ca.pem --cert srv.pem --key srv.key --crl-policy maybe 2>/dev/null
expect "--crl-policy maybe" "$?" 2

if [ "$failures" -ne 0 ]; then
    echo "backend_chain.sh: $failures failure(s)"
    tail -n 20 srv.err
    exit 1
fi
echo "backend_chain.sh: ok"
exit 0
