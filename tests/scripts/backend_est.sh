#!/usr/bin/env bash
# Enrollment (EST, RFC 7030 subset; docs/DESIGN.md §14) in the backend, with curl and the
# openssl CLI as an independent EST client: /cacerts, simpleenroll with a one-time bootstrap
# token (HTTP Basic over server-authenticated TLS), simplereenroll over mTLS; the token
# single-use, expiring, bound to its device; the request signed by its key and naming the
# device; a connection without a client certificate served the EST paths and nothing else; a
# bad certificate still refused in the handshake. Needs BUILD.
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-backend-est-XXXXXX")
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
expect_match() { [[ $2 =~ $3 ]] || fail "$1: '$2' does not match /$3/"; }
q() { sqlite3 "$T/db" "$1"; }

cd "$T" || exit 1
"$CLI" ca init --dir root --name "Fleet Root" --path-len 1 >/dev/null || exit 1
"$CLI" ca init --dir int --parent root --name "Issuing CA" >/dev/null || exit 1
"$CLI" ca server --dir root --name localhost --ip 127.0.0.1 --out-key srv.key \
    --out-cert srv.pem >/dev/null || exit 1
for d in dev-e1 dev-e2 dev-e3 dev-e4; do
    "$CLI" secret --bytes 32 --out "$d.secret" >/dev/null
done
"$SRV" add-device --db db --device-id dev-e1 --secret-file dev-e1.secret \
    --enroll-token-out e1.token > add.out || fail "add-device with a token"
grep -q "enrollment token for dev-e1 written to e1.token" add.out || fail "add-device output: $(cat add.out)"
expect "token file mode" "$(stat -c %a e1.token)" 600
expect_match "token text" "$(cat e1.token)" '^[0-9a-f]{64}$'
expect "only the hash stored" "$(q "SELECT count(*) FROM est_tokens WHERE instr(hex(hash), upper('$(cat e1.token)')) > 0")" 0
"$SRV" add-device --db db --device-id dev-e2 --secret-file dev-e2.secret --enroll-token-out e2.token >/dev/null
"$SRV" add-device --db db --device-id dev-e3 --secret-file dev-e3.secret --enroll-token-out e3.token \
    --enroll-token-ttl 1 >/dev/null
"$SRV" add-device --db db --device-id dev-e4 --secret-file dev-e4.secret --enroll-token-out e4.token >/dev/null
"$SRV" disable-device --db db --device-id dev-e4 >/dev/null
"$SRV" add-device --db db --device-id dev-x --secret-file dev-e1.secret --enroll-token-ttl 5 2>/dev/null
expect "--enroll-token-ttl without --enroll-token-out" "$?" 2

"$SRV" serve --listen 127.0.0.1:0 --db db --ca root/ca.pem --cert srv.pem --key srv.key \
    --est-ca-dir int --est-days 30 > srv.out 2> srv.err &
PID=$!
for i in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL: server did not start"; cat srv.err; exit 1; }
U() { echo "https://127.0.0.1:$PORT$1"; }
EST=/.well-known/est
# anonymous: server-authenticated TLS only
anon() { curl -sS --max-time 10 --cacert root/ca.pem -w '\n%{http_code}' "$@" 2>/dev/null; }
csr() { # NAME CN [extra openssl req args]: key NAME.key (made here, "on the device"), NAME.b64
    local name=$1 cn=$2
    shift 2
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
        -subj "/CN=$cn" -outform DER "$@" 2>/dev/null | base64 > "$name.b64"
}
enroll() { # USER TOKEN CSR-FILE [curl args] → body, status
    local user=$1 token=$2 file=$3
    shift 3
    anon -u "$user:$token" -H 'Content-Type: application/pkcs10' --data-binary "@$file" \
        "$@" "$(U $EST/simpleenroll)"
}

# ---- /cacerts ---------------------------------------------------------------------------
r=$(curl -sS --max-time 10 --cacert root/ca.pem -D cacerts.h -o cacerts.b64 -w '%{http_code}' \
    "$(U $EST/cacerts)")
expect "cacerts status" "$r" 200
grep -qi '^Content-Type: application/pkcs7-mime; smime-type=certs-only' cacerts.h || fail "cacerts content type"
grep -qi '^Content-Transfer-Encoding: base64' cacerts.h || fail "cacerts transfer encoding"
base64 -d cacerts.b64 | openssl pkcs7 -inform DER -print_certs -noout > cacerts.txt 2>&1 ||
    fail "openssl cannot read /cacerts"
grep -q "CN = Issuing CA" cacerts.txt && grep -q "CN = Fleet Root" cacerts.txt ||
    fail "/cacerts lacks a CA: $(cat cacerts.txt)"
expect "cacerts by POST" "$(anon -X POST "$(U $EST/cacerts)" | tail -n1)" 405
expect "unknown EST operation" "$(anon "$(U $EST/serverkeygen)" | tail -n1)" 404

# ---- without a client certificate nothing else is served ---------------------------------
expect_match "anonymous /v1/auth" "$(anon "$(U /v1/auth)")" $'"error":"untrusted".*\n403$'
expect_match "anonymous telemetry" \
    "$(anon -H 'Content-Type: application/iotsec-frame' --data-binary @e1.token "$(U /v1/telemetry)")" \
    $'"error":"untrusted".*\n403$'
expect_match "anonymous firmware" "$(anon "$(U '/v1/firmware/manifest?class=x')")" $'\n403$'
expect_match "anonymous re-enrollment" \
    "$(anon -H 'Content-Type: application/pkcs10' --data-binary @e1.token "$(U $EST/simplereenroll)")" \
    $'"error":"untrusted".*\n403$'
# a certificate that is sent is still verified: a self-signed one fails the handshake
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout forged.key \
    -out forged.pem -subj /CN=dev-e1 -days 1 >/dev/null 2>&1
r=$(curl -sS --max-time 10 --cacert root/ca.pem --cert forged.pem --key forged.key \
    "$(U $EST/cacerts)" 2>/dev/null)
[ -z "$r" ] || fail "a forged client certificate was served: $r"

# ---- simpleenroll -------------------------------------------------------------------------
csr e1 dev-e1
csr other dev-e2
csr e3 dev-e3
csr e4 dev-e4
r=$(anon -D noauth.h -H 'Content-Type: application/pkcs10' --data-binary @e1.b64 "$(U $EST/simpleenroll)")
expect_match "no credentials" "$r" $'"error":"unauthorized".*\n401$'
grep -qi '^WWW-Authenticate: Basic' noauth.h || fail "401 without WWW-Authenticate"
expect_match "wrong token" "$(enroll dev-e1 "$(cat e2.token)" e1.b64)" $'"error":"bad_mac".*\n401$'
expect_match "another device's token" "$(enroll dev-e2 "$(cat e1.token)" e1.b64)" $'"error":"bad_mac".*\n401$'
expect_match "unknown device" "$(enroll nobody "$(cat e1.token)" e1.b64)" $'"error":"bad_mac".*\n401$'
expect_match "wrong content type" \
    "$(anon -u "dev-e1:$(cat e1.token)" -H 'Content-Type: text/plain' --data-binary @e1.b64 "$(U $EST/simpleenroll)")" \
    $'\n415$'
expect "GET simpleenroll" "$(anon "$(U $EST/simpleenroll)" | tail -n1)" 405
# a request naming another device, one not signed by its key, garbage: refused, token kept
expect_match "request for another device" "$(enroll dev-e1 "$(cat e1.token)" other.b64)" \
    $'"error":"identity_mismatch","detail":"certificate request refused: the request names another device than dev-e1.*\n403$'
python3 - e1.b64 bad-sig.b64 <<'EOF'
import base64, sys
der = bytearray(base64.b64decode(open(sys.argv[1]).read()))
der[-3] ^= 1  # inside the signature
open(sys.argv[2], "w").write(base64.b64encode(bytes(der)).decode() + "\n")
EOF
expect_match "request with a broken signature" "$(enroll dev-e1 "$(cat e1.token)" bad-sig.b64)" \
    $'"error":"bad_signature".*proof of possession.*\n401$'
echo 'not base64!' > junk.b64
expect_match "garbage request" "$(enroll dev-e1 "$(cat e1.token)" junk.b64)" $'"error":"bad_encoding".*\n400$'
# the good one: a certificate of the device profile for the device's own key
r=$(enroll dev-e1 "$(cat e1.token)" e1.b64 -D e1.h -o e1-cert.b64)
expect "enrollment" "$(tail -n1 <<<"$r")" 200
grep -qi '^Content-Type: application/pkcs7-mime; smime-type=certs-only' e1.h || fail "enroll content type"
base64 -d e1-cert.b64 | openssl pkcs7 -inform DER -print_certs -out e1.pem 2>/dev/null ||
    fail "openssl cannot read the enrollment answer"
expect "one certificate" "$(grep -c 'BEGIN CERTIFICATE' e1.pem)" 1
openssl x509 -in e1.pem -noout -text > e1.txt
grep -q "Subject: CN = dev-e1" e1.txt || fail "subject"
grep -q "DNS:dev-e1" e1.txt || fail "SAN"
grep -A1 "Extended Key Usage" e1.txt | grep -q "TLS Web Client Authentication" || fail "EKU"
grep -q "Issuer: CN = Issuing CA" e1.txt || fail "issuer"
[ "$(openssl x509 -in e1.pem -noout -pubkey)" == "$(openssl pkey -in e1.key -pubout)" ] ||
    fail "the certificate is not for the device's key"
openssl x509 -in e1.pem -noout -checkend $((29 * 86400)) >/dev/null || fail "--est-days 30"
openssl x509 -in e1.pem -noout -checkend $((31 * 86400)) >/dev/null && fail "--est-days 30 (end)"
serial=$(openssl x509 -in e1.pem -noout -serial | cut -d= -f2 | tr A-F a-f)
grep -qi "$serial" int/index || fail "the enrolled certificate is not in the CA's records"
expect "recorded" "$(q "SELECT count(*) FROM est_certs WHERE device_id = 'dev-e1' AND via = 'simpleenroll'")" 1
expect "audited" "$(q "SELECT count(*) FROM audit WHERE event = 'enrolled' AND identity = 'dev-e1'")" 1
# the same token again: single use
expect_match "token used twice" "$(enroll dev-e1 "$(cat e1.token)" e1.b64)" \
    $'"error":"replay","detail":"bootstrap token of dev-e1 refused \\(used already.*\n409$'
# expired, disabled
sleep 2
expect_match "expired token" "$(enroll dev-e3 "$(cat e3.token)" e3.b64)" $'"error":"expired".*\n403$'
expect_match "disabled device" "$(enroll dev-e4 "$(cat e4.token)" e4.b64)" $'"error":"device_disabled".*\n403$'

# ---- the enrolled certificate at work, and re-enrollment over mTLS -----------------------
cat int/chain.pem >> e1.pem # the device presents its chain
mtls() { curl -sS --max-time 10 --cacert root/ca.pem --cert e1.pem --key e1.key -w '\n%{http_code}' "$@" 2>/dev/null; }
expect "enrolled device authenticates" "$(mtls "$(U /v1/auth)")" $'AUTH OK dev-e1\n200'
echo "reading 1" | "$CLI" frame seal --secret dev-e1.secret --device-id dev-e1 --ctr 1 > f1.bin
expect "enrolled device sends telemetry" \
    "$(mtls -H 'Content-Type: application/iotsec-frame' --data-binary @f1.bin "$(U /v1/telemetry)" | tail -n1)" 200
csr e1b dev-e1
r=$(mtls -H 'Content-Type: application/pkcs10' --data-binary @e1b.b64 -o e1b-cert.b64 "$(U $EST/simplereenroll)")
expect "re-enrollment" "$(tail -n1 <<<"$r")" 200
base64 -d e1b-cert.b64 | openssl pkcs7 -inform DER -print_certs -out e1b.pem 2>/dev/null
[ "$(openssl x509 -in e1b.pem -noout -pubkey)" == "$(openssl pkey -in e1b.key -pubout)" ] ||
    fail "re-enrollment: not for the new key"
expect_match "re-enrollment for another device" \
    "$(mtls -H 'Content-Type: application/pkcs10' --data-binary @other.b64 "$(U $EST/simplereenroll)")" \
    $'"error":"identity_mismatch".*\n403$'
expect "re-enrollments recorded" "$(q "SELECT count(*) FROM est_certs WHERE via = 'simplereenroll'")" 1
# revoked with the CA's own tool (the record is there): no more re-enrollment
"$CLI" ca revoke --dir int e1.pem >/dev/null || fail "iotsec ca revoke of an enrolled certificate"
"$CLI" ca crl --dir int --out int.crl >/dev/null || fail "iotsec ca crl"
kill "$PID"; wait "$PID"; PID=
"$SRV" serve --listen 127.0.0.1:0 --db db --ca root/ca.pem --cert srv.pem --key srv.key \
    --est-ca-dir int --intermediates int/ca.pem --crl int.crl > srv.out 2>> srv.err &
PID=$!
PORT=
for i in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' srv.out)
    [ -n "$PORT" ] && break
    sleep 0.1
done
r=$(mtls -H 'Content-Type: application/pkcs10' --data-binary @e1b.b64 "$(U $EST/simplereenroll)")
[[ $r != *"200" ]] || fail "a revoked certificate re-enrolled"
kill "$PID"; wait "$PID"; PID=

if [ "$failures" -ne 0 ]; then
    echo "backend_est.sh: $failures failure(s)"
    tail -n 20 srv.err
    exit 1
fi
echo "backend_est.sh: ok"
exit 0
