#!/usr/bin/env bash
# The TLS policy of libiotsec (iotsec_tls_server_setup, include/iotsec/tls.h) as a device
# sees it: the real backend ($BUILD/iotsec-backend, whose SSL_CTX the library configures) on
# an ephemeral loopback port, probed with `openssl s_client` for every cipher suite the
# openssl command knows:
#   - every TLS 1.2 suite (`openssl ciphers -v 'ALL:COMPLEMENTOFALL'`, all but TLS 1.3's,
#     since SSLv3- and TLSv1-era suites are negotiable in TLS 1.2 too), offered alone with
#     -tls1_2, against a server with a P-256 key and one with an RSA-2048 key: the suites
#     accepted must be exactly ECDHE + AES-GCM / ChaCha20-Poly1305 of that key type;
#   - every TLS 1.3 suite OpenSSL implements: exactly the three of Mozilla's profile;
#   - TLS 1.1 and TLS 1.0: refused with a protocol_version alert from the server;
#   - TLS 1.3 key exchange groups: exactly X25519, P-256 and P-384.
# Each probe is classified from what the client saw: "accepted" (handshake done with that
# suite), "refused" (the server's alert), or an error: a probe the client could not make
# (e.g. a suite it would not offer) fails the test instead of counting as refused. The
# client runs with OPENSSL_CONF=/dev/null and @SECLEVEL=0 so that it offers anything; PSK
# and SRP suites get a PSK / SRP login so that they are offered at all.
# Prints the accepted lists. Needs BUILD (the server is $BUILD/iotsec-backend, the CLI
# $BUILD/iotsec).
set -u
: "${BUILD:=build}"
BUILD=$(cd "$BUILD" && pwd) || exit 1 # the test runs in its temporary directory
# wait_listening
. "$(dirname "$0")/../e2e/common.sh"
SRV=$BUILD/iotsec-backend
CLI=$BUILD/iotsec
T=$(mktemp -d)
PID=
PORT=
failures=0
passes=0

cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }

cd "$T" || exit 1
"$CLI" ca init --dir ca >/dev/null || { echo "FAIL: iotsec ca init"; exit 1; }
cp ca/ca.pem ca.pem
"$CLI" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key ec.key --out-cert ec.pem \
    >/dev/null || { echo "FAIL: iotsec ca server"; exit 1; }
"$CLI" ca issue --dir ca --device-id dev-1 --out-key dev-1.key --out-cert dev-1.pem >/dev/null ||
    { echo "FAIL: iotsec ca issue"; exit 1; }
# an RSA server key and certificate from the same CA (iotsec ca server makes P-256 only)
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > rsa.ext
openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj /CN=localhost -out rsa.csr \
    2>/dev/null &&
    openssl x509 -req -in rsa.csr -CA ca/ca.pem -CAkey ca/ca.key -CAcreateserial -days 2 \
        -extfile rsa.ext -out rsa.pem 2>/dev/null || { echo "FAIL: RSA server certificate"; exit 1; }

start_server() { # KEY-NAME: ec or rsa
    : > srv.out
    "$SRV" serve --listen 127.0.0.1:0 --db "db-$1" --ca ca.pem --cert "$1.pem" --key "$1.key" \
        --rate 0 --audit-rate 0 > srv.out 2>> srv.err &
    PID=$!
    PORT=$(wait_listening srv.out "$PID") || { echo "FAIL: server did not start"; cat srv.err; exit 1; }
}
stop_server() {
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null
    PID=
}

# probe ARGS...: one handshake with the device certificate; prints "accepted CIPHER",
# "refused ALERT" or "error TEXT" (the client's first error line).
probe() {
    local out rc cipher alert
    out=$(OPENSSL_CONF=/dev/null timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
        -servername localhost -CAfile ca.pem -cert dev-1.pem -key dev-1.key "$@" \
        </dev/null 2>&1)
    rc=$?
    cipher=$(sed -n 's/^New, TLSv1\.[23], Cipher is \(.*\)$/\1/p' <<<"$out" | head -n 1)
    alert=$(grep -o 'alert [a-z ]*' <<<"$out" | head -n 1)
    if [ "$rc" -eq 0 ] && [ -n "$cipher" ]; then
        echo "accepted $cipher"
    elif [ -n "$alert" ] && grep -q 'SSL alert number' <<<"$out"; then
        echo "refused ${alert#alert }"
    else
        echo "error $(grep -m1 -i 'error' <<<"$out")"
    fi
}

# tls12_suites: every suite but TLS 1.3's, with its Kx and Au columns
openssl_suites=$(OPENSSL_CONF=/dev/null openssl ciphers -v 'ALL:COMPLEMENTOFALL:@SECLEVEL=0')
[ -n "$openssl_suites" ] || { echo "FAIL: openssl ciphers listed nothing"; exit 1; }

check_tls12() { # KEY-NAME EXPECTED (space-separated, sorted)
    local name kx au extra r accepted=() refused=0
    while read -r name _ kx au _; do
        kx=${kx#Kx=}
        au=${au#Au=}
        extra=()
        case $kx in *PSK*) extra=(-psk 000102030405060708090a0b0c0d0e0f) ;; esac
        case $kx in SRP) extra=(-srpuser dev -srppass pass:secret) ;; esac
        r=$(probe -tls1_2 -cipher "$name:@SECLEVEL=0" "${extra[@]}")
        case $r in
        "accepted $name") accepted+=("$name") ;;
        refused*) refused=$((refused + 1)) ;;
        *) fail "$1 server, TLS 1.2 $name (Kx=$kx Au=$au): not probed: $r" ;;
        esac
    done < <(awk '$2 != "TLSv1.3"' <<<"$openssl_suites")
    local got
    got=$(printf '%s\n' "${accepted[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
    echo "tls_policy: $1 server key, TLS 1.2: accepted ${#accepted[@]} of $((${#accepted[@]} + refused)) suites: $got"
    if [ "$got" == "$2" ]; then pass; else fail "$1 server, TLS 1.2 accepted '$got', expected '$2'"; fi
}

check_tls13() {
    local s r accepted=() refused=0 known
    for s in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 \
        TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256; do
        known=$(OPENSSL_CONF=/dev/null openssl ciphers -s -tls1_3 -ciphersuites "$s" 2>/dev/null)
        [[ $known == *"$s"* ]] || { echo "tls_policy: openssl does not know $s; skipped"; continue; }
        r=$(probe -tls1_3 -ciphersuites "$s")
        case $r in
        "accepted $s") accepted+=("$s") ;;
        refused*) refused=$((refused + 1)) ;;
        *) fail "TLS 1.3 $s: not probed: $r" ;;
        esac
    done
    local got
    got=$(printf '%s\n' "${accepted[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
    echo "tls_policy: $1 server key, TLS 1.3: accepted ${#accepted[@]} of $((${#accepted[@]} + refused)) suites: $got"
    if [ "$got" == "TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256" ]; then
        pass
    else
        fail "TLS 1.3 accepted '$got'"
    fi
}

check_old_protocols() {
    local v r
    for v in tls1_1 tls1; do
        r=$(probe "-$v" -cipher 'ALL:@SECLEVEL=0')
        if [ "$r" == "refused protocol version" ]; then pass; else fail "$1 server, -$v: $r"; fi
    done
    echo "tls_policy: $1 server key: TLS 1.1 and TLS 1.0 refused (protocol_version)"
}

check_groups() {
    local g r accepted=()
    for g in X25519 X448 P-256 P-384 P-521 ffdhe2048 ffdhe3072 ffdhe4096 ffdhe6144 ffdhe8192; do
        r=$(probe -tls1_3 -groups "$g")
        case $r in
        accepted*) accepted+=("$g") ;;
        refused*) ;;
        *) fail "TLS 1.3 group $g: not probed: $r" ;;
        esac
    done
    echo "tls_policy: $1 server key, TLS 1.3 groups accepted: ${accepted[*]}"
    if [ "${accepted[*]}" == "X25519 P-256 P-384" ]; then pass; else fail "groups '${accepted[*]}'"; fi
}

start_server ec
check_tls12 ec "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305"
check_tls13 ec
check_old_protocols ec
check_groups ec
stop_server

start_server rsa
check_tls12 rsa "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305"
check_tls13 rsa
check_old_protocols rsa
stop_server

echo "tls_policy: $passes passed, $failures failed"
if [ "$failures" -ne 0 ]; then
    tail -n 20 srv.err
    exit 1
fi
exit 0
