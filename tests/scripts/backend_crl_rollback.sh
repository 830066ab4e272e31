#!/usr/bin/env bash
# CRL monotonicity in the backend (docs/DESIGN.md §7.4, §10.4; issue 19 item 3): a CRL never
# moves backwards, across reloads and across restarts.
#
#   CRL n in force → CRL n+1 revoking dev-2 (reload: dev-2 refused, floor n+1 stored) →
#   CRL n put back on disk: reload refused (audit crl_rollback), dev-2 still refused, and
#   again on SIGHUP → a CRL numbered n+1 but without dev-2 (same number, other bytes):
#   refused → restart with CRL n on disk: the server refuses to start (exit 1, the message
#   and a crl_rollback row name the issuer and both numbers) → the same with the
#   conflicting n+1 → CRL n+1 back: starts, dev-2 refused → CRL n+2: accepted, floor n+2.
#   A database of schema version 2 (no crl_floors) is migrated to 3 on start.
# Needs BUILD ($BUILD/iotsec-backend, $BUILD/iotsec), curl, sqlite3.
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d "${TMPDIR:-/tmp}/backend-crl-rollback.XXXXXX") || exit 1
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
q() { sqlite3 -cmd '.timeout 5000' "$T/db" "$1"; }
# wait_q DESC SQL EXPECTED: the query gives EXPECTED within 5 s
wait_q() {
    local _ r
    for _ in $(seq 1 50); do
        r=$(q "$2")
        [ "$r" == "$3" ] && return 0
        sleep 0.1
    done
    fail "$1: got '$r', expected '$3'"
}
# auth DEV: "AUTH OK DEV" when served, else "refused"
auth() {
    local r
    r=$(curl -sS --max-time 10 --cacert ca/ca.pem --cert "$1.pem" --key "$1.key" \
        "https://127.0.0.1:$PORT/v1/auth" 2>/dev/null)
    [[ $r == "AUTH OK $1" ]] && echo "$r" || echo refused
}
start_server() {
    : > srv.out
    "$SRV" serve --listen 127.0.0.1:0 --db db --ca ca/ca.pem --cert srv.pem --key srv.key \
        --crl crl.pem --audit-rate 0 > srv.out 2> srv.err &
    PID=$!
    local _
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}
stop_server() {
    kill -TERM "$PID"
    wait "$PID"
    expect "exit status after SIGTERM" "$?" 0
    PID=
}
# put FILE: FILE becomes crl.pem (renamed into place, as an operator's deploy would)
put() { cp "$1" crl.tmp && mv crl.tmp crl.pem; }
# the stored floor's CRL number (decimal) and digest (hex) for the device CA
floor_number() { q "SELECT coalesce(CAST(ltrim(hex(number), '0') AS TEXT), '-') FROM crl_floors"; }
floor_digest() { q "SELECT lower(hex(digest)) FROM crl_floors"; }
der_digest() { openssl crl -in "$1" -outform DER | sha256sum | cut -c1-64; }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
for d in dev-1 dev-2; do
    "$CLI" ca issue --dir ca --device-id "$d" --out-key "$d.key" --out-cert "$d.pem" \
        >/dev/null || { echo "FAIL: iotsec ca issue $d"; exit 1; }
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
    "$SRV" add-device --db db --device-id "$d" --secret-file "$d.secret" >/dev/null ||
        { echo "FAIL: add-device $d"; exit 1; }
done
# CRL n = 3 (numbers 1 and 2 issued before: floors compare numbers, not small integers)
for _ in 1 2 3; do "$CLI" ca crl --dir ca --out crl-n.pem >/dev/null || fail "ca crl"; done
cp ca/index index.n && cp ca/crlnumber crlnumber.n
put crl-n.pem

# ---- schema version 2 → 3 ----------------------------------------------------------------
sqlite3 db "DROP TABLE crl_floors; UPDATE backend_meta SET value = 2 WHERE key = 'schema_version'" ||
    fail "downgrade to version 2"
start_server || { echo "FAIL: server did not start"; cat srv.err; exit 1; }
expect "schema version after start" "$(q "SELECT value FROM backend_meta WHERE key = 'schema_version'")" 3
expect "floor of CRL n stored at start" "$(floor_number)" 3
expect "floor digest is CRL n's DER" "$(floor_digest)" "$(der_digest crl-n.pem)"
expect "dev-2 under CRL n" "$(auth dev-2)" "AUTH OK dev-2"

# ---- CRL n+1 revokes dev-2 ------------------------------------------------------------------
"$CLI" ca revoke --dir ca dev-2.pem >/dev/null || fail "ca revoke dev-2"
"$CLI" ca crl --dir ca --out crl-n1.pem >/dev/null || fail "ca crl n+1"
put crl-n1.pem
wait_q "reload of CRL n+1" "SELECT count(*) FROM audit WHERE event = 'reload'" 1
expect "dev-2 under CRL n+1" "$(auth dev-2)" refused
expect "dev-1 under CRL n+1" "$(auth dev-1)" "AUTH OK dev-1"
wait_q "floor raised to n+1" "SELECT CAST(ltrim(hex(number), '0') AS TEXT) FROM crl_floors" 4
expect "floor digest is CRL n+1's" "$(floor_digest)" "$(der_digest crl-n1.pem)"
expect "list crl-floors" "$("$SRV" list crl-floors --db db --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), r[0]["number"].lstrip("0"))')" "1 4"

# ---- CRL n put back: refused, dev-2 stays revoked -----------------------------------------
put crl-n.pem
wait_q "rollback audited" "SELECT count(*) FROM audit WHERE event = 'crl_rollback'" 1
detail=$(q "SELECT detail FROM audit WHERE event = 'crl_rollback'")
[[ $detail == *"CRL number 3 is older than the one in force, CRL number 4"* ]] ||
    fail "crl_rollback detail does not name both numbers: '$detail'"
[[ $detail == *"iotsec device CA"* && $detail == *crl.pem* ]] ||
    fail "crl_rollback detail does not name the issuer and the file: '$detail'"
expect "dev-2 after the rollback attempt" "$(auth dev-2)" refused
expect "dev-1 after the rollback attempt" "$(auth dev-1)" "AUTH OK dev-1"
expect "no reload_failed for a rollback" "$(q "SELECT count(*) FROM audit WHERE event = 'reload_failed'")" 0
expect "floor unchanged" "$(floor_number)" 4
kill -HUP "$PID"
wait_q "rollback on SIGHUP audited" "SELECT count(*) FROM audit WHERE event = 'crl_rollback'" 2
expect "dev-2 after SIGHUP" "$(auth dev-2)" refused

# ---- the same number with other bytes (n+1 re-issued without dev-2): refused -------------
cp ca/index index.n1 && cp ca/crlnumber crlnumber.n1
cp index.n ca/index && cp crlnumber.n ca/crlnumber
"$CLI" ca crl --dir ca --out crl-n1-forged.pem >/dev/null || fail "ca crl (n+1 without dev-2)"
cp index.n1 ca/index && cp crlnumber.n1 ca/crlnumber
expect "forged CRL has number n+1" \
    "$(openssl crl -in crl-n1-forged.pem -noout -crlnumber | sed 's/.*=\(0x\)\{0,1\}//')" 04
put crl-n1-forged.pem
wait_q "conflicting CRL refused" "SELECT count(*) FROM audit WHERE event = 'crl_rollback'" 3
expect "dev-2 after the conflicting CRL" "$(auth dev-2)" refused
stop_server

# ---- restart with CRL n on disk: refuses to start, fail closed ------------------------------
put crl-n.pem
start_server
rc=$?
wait "$PID" 2>/dev/null
expect "start with CRL n on disk: exit status" "$rc/$?" "1/1"
PID=
grep -q 'CRL rollback: CRL of issuer "CN=iotsec device CA" (name hash [0-9a-f]*) refused: CRL number 3 is older than the floor, CRL number 4' srv.err ||
    fail "start refusal does not name the issuer and both numbers: $(cat srv.err)"
[ ! -s srv.out ] || fail "the server listened with CRL n on disk: $(cat srv.out)"
expect "crl_rollback audited at start" \
    "$(q "SELECT count(*) FROM audit WHERE event = 'crl_rollback' AND detail LIKE 'at start: %CRL number 3 is older than the floor, CRL number 4%'")" 1
put crl-n1-forged.pem
start_server
rc=$?
wait "$PID" 2>/dev/null
expect "start with a conflicting CRL n+1: exit status" "$rc/$?" "1/1"
PID=
grep -q 'CRL number 4 is the same as the floor but the CRL differs' srv.err ||
    fail "conflicting CRL at start: $(cat srv.err)"

# ---- CRL n+1 back: serves, dev-2 refused; CRL n+2 raises the floor ---------------------------
put crl-n1.pem
start_server || { fail "server did not start with CRL n+1: $(cat srv.err)"; exit 1; }
expect "dev-2 after the restart" "$(auth dev-2)" refused
expect "dev-1 after the restart" "$(auth dev-1)" "AUTH OK dev-1"
"$CLI" ca crl --dir ca --out crl-n2.pem >/dev/null || fail "ca crl n+2"
put crl-n2.pem
wait_q "floor raised to n+2" "SELECT CAST(ltrim(hex(number), '0') AS TEXT) FROM crl_floors" 5
expect "dev-2 under CRL n+2" "$(auth dev-2)" refused
stop_server

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed; server stderr:"
    tail -n 20 srv.err
    exit 1
fi
echo "backend CRL rollback: reload of CRL n after n+1 refused (also on SIGHUP and for a" \
    "conflicting n+1), restart with CRL n refused (exit 1), floor persisted and raised"
exit 0
