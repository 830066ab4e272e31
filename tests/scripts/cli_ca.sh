#!/usr/bin/env bash
# Scripted test of `iotsec ca` and `iotsec crl check` (docs/DESIGN.md §9), cross-checked with
# the openssl command-line tool. Needs BUILD (the CLI is $BUILD/iotsec).
set -u
: "${BUILD:=build}"
IOTSEC=$(cd "$(dirname "$BUILD/iotsec")" && pwd)/iotsec
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-cli-ca-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect CODE CMD... : run, compare the exit status, keep stdout/stderr in out/err
expect() {
    local want=$1; shift
    "$@" >out 2>err
    local got=$?
    [ "$got" = "$want" ] || fail "exit $got (want $want): $* :: $(head -c 400 err)"
}
has() { grep -q -- "$2" "$1" || fail "$1 lacks '$2': $(head -c 400 "$1")"; }

# --help everywhere, exit 0
for c in "ca" "ca init" "ca issue" "ca server" "ca revoke" "ca crl" "crl" "crl check"; do
    # shellcheck disable=SC2086
    expect 0 "$IOTSEC" $c --help
    has out Usage
done
expect 2 "$IOTSEC" ca
expect 2 "$IOTSEC" ca bogus
expect 2 "$IOTSEC" crl bogus

# ---- ca init ------------------------------------------------------------------------
expect 2 "$IOTSEC" ca init
expect 2 "$IOTSEC" ca init --dir ca --alg ed448
expect 0 "$IOTSEC" ca init --dir ca
[ "$(stat -c %a ca/ca.key)" = 600 ] || fail "ca.key mode $(stat -c %a ca/ca.key)"
[ "$(stat -c %a ca)" = 700 ] || fail "CA dir mode $(stat -c %a ca)"
openssl x509 -in ca/ca.pem -noout -text >catext || fail "openssl cannot read ca.pem"
grep -A1 "Basic Constraints: critical" catext | grep -q "CA:TRUE" || fail "CA:TRUE critical"
grep -A1 "Key Usage: critical" catext | grep -q "Certificate Sign, CRL Sign" || fail "CA keyUsage"
grep -q "ASN1 OID: prime256v1" catext || fail "CA key is not P-256"
expect 3 "$IOTSEC" ca init --dir ca            # never replaced silently
has err "already exists"
expect 0 "$IOTSEC" ca init --dir rsaca --alg rsa2048 --name "RSA device CA" --days 30
openssl x509 -in rsaca/ca.pem -noout -text | grep -q "Public-Key: (2048 bit)" || fail "rsa2048 CA"
openssl x509 -in rsaca/ca.pem -noout -checkend $((29 * 86400)) >/dev/null || fail "--days 30"
openssl x509 -in rsaca/ca.pem -noout -checkend $((31 * 86400)) >/dev/null && fail "--days 30 (end)"
expect 0 "$IOTSEC" ca init --dir other

# ---- ca issue / server --------------------------------------------------------------
expect 2 "$IOTSEC" ca issue --dir ca --device-id "bad id" --out-key k --out-cert c
expect 2 "$IOTSEC" ca issue --dir ca --device-id dev-1 --out-key k
expect 2 "$IOTSEC" ca issue --dir ca --device-id dev-1 --out-key k --out-cert c --days 0
expect 3 "$IOTSEC" ca issue --dir nowhere --device-id dev-1 --out-key k --out-cert c
ID=3f2b9c1e-8d4a-4b7e-9f10-123456789abc
expect 0 "$IOTSEC" ca issue --dir ca --device-id "$ID" --out-key d1.key --out-cert d1.pem
[ "$(stat -c %a d1.key)" = 600 ] || fail "device key mode"
openssl x509 -in d1.pem -noout -text >d1text
grep -q "Subject: CN = $ID" d1text || fail "device CN"
grep -q "DNS:$ID" d1text || fail "device SAN DNS"
grep -A1 "Extended Key Usage" d1text | grep -q "TLS Web Client Authentication" || fail "EKU clientAuth"
grep -A1 "Key Usage: critical" d1text | grep -q "^ *Digital Signature$" || fail "keyUsage"
grep -A1 "Basic Constraints: critical" d1text | grep -q "CA:FALSE" || fail "CA:FALSE"
serial=$(openssl x509 -in d1.pem -noout -serial | cut -d= -f2)
[ ${#serial} -ge 16 ] && [ ${#serial} -le 32 ] || fail "serial $serial is not ~128 bits"
openssl x509 -in d1.pem -noout -checkend $((364 * 86400)) >/dev/null || fail "1-year validity"
openssl x509 -in d1.pem -noout -checkend $((366 * 86400)) >/dev/null && fail "1-year validity (end)"
openssl verify -x509_strict -purpose sslclient -CAfile ca/ca.pem d1.pem >/dev/null ||
    fail "openssl verify of the device certificate"
grep -qi "$serial" ca/index || fail "serial not recorded in ca/index"
expect 3 "$IOTSEC" ca issue --dir ca --device-id dev-x --out-key d1.key --out-cert dx.pem
expect 0 "$IOTSEC" ca issue --dir ca --device-id dev-2 --out-key d2.key --out-cert d2.pem --days 10
openssl x509 -in d2.pem -noout -checkend $((11 * 86400)) >/dev/null && fail "--days 10"
expect 0 "$IOTSEC" ca issue --dir ca --device-id dev-3 --out-key d3.key --out-cert d3.pem
expect 0 "$IOTSEC" ca issue --dir other --device-id dev-1 --out-key o1.key --out-cert o1.pem
expect 0 "$IOTSEC" ca issue --dir rsaca --device-id dev-r --out-key r.key --out-cert r.pem
openssl verify -x509_strict -purpose sslclient -CAfile rsaca/ca.pem r.pem >/dev/null || fail "RSA CA"

expect 2 "$IOTSEC" ca server --dir ca --name localhost --ip 300.1.1.1 --out-key s.key --out-cert s.pem
[ -e s.key ] && fail "a refused server request wrote a key"
expect 0 "$IOTSEC" ca server --dir ca --name localhost --ip 127.0.0.1 --out-key s.key --out-cert s.pem
openssl x509 -in s.pem -noout -text >stext
grep -q "DNS:localhost, IP Address:127.0.0.1" stext || fail "server SAN"
grep -A1 "Extended Key Usage" stext | grep -q "TLS Web Server Authentication" || fail "EKU serverAuth"
openssl verify -purpose sslserver -CAfile ca/ca.pem s.pem >/dev/null || fail "server cert verify"

# ---- crl check before any revocation --------------------------------------------------
expect 0 "$IOTSEC" crl check --ca ca/ca.pem d1.pem
has out "ok: device $ID"
expect 2 "$IOTSEC" crl check d1.pem
expect 2 "$IOTSEC" crl check --ca ca/ca.pem
expect 2 "$IOTSEC" crl check --ca ca/ca.pem --id-source x509 d1.pem
expect 3 "$IOTSEC" crl check --ca ca/ca.pem missing.pem
expect 3 "$IOTSEC" crl check --ca missing.pem d1.pem
expect 1 "$IOTSEC" crl check --ca ca/ca.pem o1.pem        # another CA's device
has err IOTSEC_E_UNTRUSTED
expect 1 "$IOTSEC" crl check --ca ca/ca.pem s.pem         # a server certificate
has err IOTSEC_E_POLICY
expect 0 "$IOTSEC" crl check --ca ca/ca.pem --id-source dns d1.pem
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --id-source uri d1.pem
has err IOTSEC_E_MISSING_FIELD

# ---- revoke and publish -------------------------------------------------------------
expect 2 "$IOTSEC" ca revoke --dir ca
expect 1 "$IOTSEC" ca revoke --dir ca o1.pem               # not issued by this CA
has err IOTSEC_E_UNTRUSTED
expect 1 "$IOTSEC" ca revoke --dir ca --serial 0123456789
expect 0 "$IOTSEC" ca revoke --dir ca d1.pem
has out "revoked serial"
expect 0 "$IOTSEC" ca revoke --dir ca d1.pem
has out "already revoked"
expect 0 "$IOTSEC" ca crl --dir ca --out crl1.pem
has out "CRL number 1"
openssl crl -in crl1.pem -CAfile ca/ca.pem -noout 2>/dev/null || fail "openssl rejects the CRL"
openssl crl -in crl1.pem -noout -text >crltext
grep -q "Version 2" crltext || fail "CRL version"
grep -q "CRL Number" crltext || fail "CRL number extension"
grep -q "Authority Key Identifier" crltext || fail "CRL AKI"
grep -qi "Serial Number: $serial" crltext || fail "revoked serial not on the CRL"
openssl verify -crl_check -CAfile ca/ca.pem -CRLfile crl1.pem d1.pem >/dev/null 2>&1 &&
    fail "openssl accepts the revoked certificate"
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl crl1.pem d1.pem
has err IOTSEC_E_REVOKED
expect 0 "$IOTSEC" crl check --ca ca/ca.pem --crl crl1.pem d3.pem

d2serial=$(openssl x509 -in d2.pem -noout -serial | cut -d= -f2)
expect 0 "$IOTSEC" ca revoke --dir ca --serial "$d2serial"
expect 0 "$IOTSEC" ca crl --dir ca --out crl2.der --der --days 1
has out "CRL number 2"
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl crl2.der d2.pem
has err IOTSEC_E_REVOKED
expect 0 "$IOTSEC" crl check --ca ca/ca.pem --crl crl2.der d3.pem
# stale: two days later the one-day CRL is past nextUpdate, unless a grace period covers it
later=$(($(date +%s) + 2 * 86400))
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl crl2.der --now "$later" d3.pem
has err IOTSEC_E_EXPIRED
expect 0 "$IOTSEC" crl check --ca ca/ca.pem --crl crl2.der --now "$later" --grace 172800 d3.pem
earlier=$(($(date +%s) - 100)) # after the certificate's notBefore, before the CRL's thisUpdate
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl crl2.der --now "$earlier" d3.pem
has err IOTSEC_E_NOT_YET_VALID

# CRLs that must be refused
expect 0 "$IOTSEC" ca crl --dir other --out other.crl
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl other.crl d3.pem
has err IOTSEC_E_UNTRUSTED
head -c 300 /dev/urandom >garbage.crl
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --crl garbage.crl d3.pem
has err IOTSEC_E_BAD_ENCODING
expect 3 "$IOTSEC" crl check --ca ca/ca.pem --crl missing.crl d3.pem

# ---- denylist ----------------------------------------------------------------------------
fp=$(openssl x509 -in d3.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
printf '# lost devices\nsha256:%s\n' "$fp" >deny-fp.txt
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --denylist deny-fp.txt d3.pem
has err "IOTSEC_E_REVOKED"
has err "denylist-fingerprint"
printf 'id:%s\n' "$ID" >deny-id.txt
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --denylist deny-id.txt d1.pem
has err "denylist-id"
expect 0 "$IOTSEC" crl check --ca ca/ca.pem --denylist deny-id.txt d3.pem
printf 'id:dev-1\nid:dev 2\n' >deny-bad.txt
expect 1 "$IOTSEC" crl check --ca ca/ca.pem --denylist deny-bad.txt d3.pem
has err "deny-bad.txt:2"
has err IOTSEC_E_BAD_ENCODING
expect 3 "$IOTSEC" crl check --ca ca/ca.pem --denylist missing.txt d3.pem

# ---- chains: root -> issuing CA -> device ------------------------------------------------
expect 0 "$IOTSEC" ca init --dir root --name "Fleet Root" --path-len 1
grep -A1 "Basic Constraints: critical" <(openssl x509 -in root/ca.pem -noout -text) |
    grep -q "CA:TRUE, pathlen:1" || fail "root pathlen 1"
expect 1 "$IOTSEC" ca init --dir sub0 --parent ca          # pathlen 0: no CAs below it
has err "may not issue CAs"
[ -e sub0/ca.key ] && fail "a refused intermediate left its key"
expect 0 "$IOTSEC" ca init --dir int --parent root --name "Issuing CA"
has out "created intermediate CA 'Issuing CA'"
grep -q " c Issuing_CA$" root/index || fail "intermediate not in the root's records: $(cat root/index)"
cmp -s int/root.pem root/ca.pem || fail "int/root.pem is not the root"
expect 0 "$IOTSEC" ca issue --dir int --device-id dev-c1 --out-key c1.key --out-cert c1.pem
expect 0 "$IOTSEC" ca issue --dir int --device-id dev-c2 --out-key c2.key --out-cert c2.pem
[ "$(grep -c 'BEGIN CERTIFICATE' c1.pem)" = 2 ] || fail "c1.pem does not carry the chain"
openssl verify -CAfile root/ca.pem -untrusted int/chain.pem c1.pem >/dev/null ||
    fail "openssl verify of the chained device certificate"
expect 0 "$IOTSEC" crl check --ca root/ca.pem c1.pem
has out "chain of 2 below the trust anchor"
expect 0 "$IOTSEC" crl check --ca int/ca.pem c1.pem        # a pinned intermediate
openssl x509 -in c1.pem -out c1-leaf.pem                    # the leaf alone: no chain
expect 1 "$IOTSEC" crl check --ca root/ca.pem c1-leaf.pem
has err 'does not chain to the trust anchor "CN=Fleet Root"'
expect 0 "$IOTSEC" crl check --ca root/ca.pem --intermediates int/chain.pem c1-leaf.pem
expect 1 "$IOTSEC" crl check --ca root/ca.pem --max-depth 1 c1.pem
has err "chain longer than 1 below the trust anchor: IOTSEC_E_UNTRUSTED"
expect 2 "$IOTSEC" crl check --ca root/ca.pem --max-depth 9 c1.pem
expect 2 "$IOTSEC" crl check --ca root/ca.pem --crl-policy maybe c1.pem
# CRLs per level: the device against the issuing CA's, the issuing CA against the root's
expect 0 "$IOTSEC" ca revoke --dir int c2.pem
expect 0 "$IOTSEC" ca crl --dir int --out int.crl
expect 0 "$IOTSEC" ca crl --dir root --out root.crl
expect 0 "$IOTSEC" crl check --ca root/ca.pem --crl root.crl --crl int.crl c1.pem
expect 1 "$IOTSEC" crl check --ca root/ca.pem --crl root.crl --crl int.crl c2.pem
has err "device dev-c2 revoked (crl): IOTSEC_E_REVOKED"
expect 0 "$IOTSEC" crl check --ca root/ca.pem --crl int.crl c1.pem
expect 1 "$IOTSEC" crl check --ca root/ca.pem --crl int.crl --crl-policy require c1.pem
has err 'no CRL for the trust anchor "CN=Fleet Root"'
has err "IOTSEC_E_POLICY"
expect 0 "$IOTSEC" crl check --ca root/ca.pem --crl root.crl --crl int.crl --crl-policy require c1.pem
later=$(($(date +%s) + 31 * 86400))
expect 1 "$IOTSEC" crl check --ca root/ca.pem --crl int.crl --now "$later" c1.pem
has err 'CRL for intermediate "CN=Issuing CA" expired'
has err IOTSEC_E_EXPIRED
expect 1 "$IOTSEC" crl check --ca root/ca.pem --crl other.crl c1.pem
has err 'CRL issuer "CN=iotsec device CA" is neither the trust anchor nor a known intermediate'
expect 0 "$IOTSEC" ca revoke --dir root int/ca.pem
expect 0 "$IOTSEC" ca crl --dir root --out root2.crl
expect 1 "$IOTSEC" crl check --ca root/ca.pem --crl root2.crl --crl int.crl c1.pem
has err 'its intermediate "CN=Issuing CA" revoked (crl)'
# a PKCS#12 bundle for a factory: key, certificate, chain; AES-256 / PBKDF2 / SHA-256 MAC
printf 'factory secret\n' >p12.pw
expect 2 "$IOTSEC" ca issue --dir int --device-id dev-p12 --p12 p.p12
expect 0 "$IOTSEC" ca issue --dir int --device-id dev-p12 --p12 p.p12 --password-file p12.pw
[ "$(stat -c %a p.p12)" = 600 ] || fail "p12 mode"
openssl pkcs12 -in p.p12 -passin file:p12.pw -info -nokeys >p12.txt 2>&1 || fail "openssl pkcs12: $(cat p12.txt)"
grep -q "MAC: sha256" p12.txt || fail "p12 MAC"
grep -q "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" p12.txt || fail "p12 key encryption"
[ "$(grep -c '^subject=' p12.txt)" = 3 ] || fail "p12 chain: $(grep subject= p12.txt)"
openssl pkcs12 -in p.p12 -passin file:p12.pw -nokeys -clcerts 2>/dev/null |
    openssl x509 -out p12-leaf.pem || fail "p12 leaf"
expect 0 "$IOTSEC" crl check --ca root/ca.pem --intermediates int/chain.pem p12-leaf.pem
python3 -c '
import sys
from cryptography.hazmat.primitives.serialization import pkcs12
k, c, cas = pkcs12.load_key_and_certificates(open("p.p12", "rb").read(), b"factory secret")
assert c.subject.rfc4514_string() == "CN=dev-p12", c.subject
assert [x.subject.rfc4514_string() for x in cas] == ["CN=Issuing CA", "CN=Fleet Root"], cas
' || fail "Python cryptography cannot read the PKCS#12 bundle"
: >empty.pw
expect 2 "$IOTSEC" ca issue --dir int --device-id dev-p13 --p12 bad.p12 --password-file empty.pw
# a CA made the tutorial way (no keyUsage) is accepted; one whose keyUsage lacks keyCertSign
# is refused, named
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tut.key \
    -out tut.pem -subj /CN=MyCA -days 30 >/dev/null 2>&1 || fail "openssl req -x509"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tdev.key \
    -out tdev.csr -subj /CN=tdev-1 >/dev/null 2>&1 &&
    openssl x509 -req -in tdev.csr -CA tut.pem -CAkey tut.key -out tdev.pem -days 10 \
        >/dev/null 2>&1 || fail "openssl x509 -req"
expect 0 "$IOTSEC" crl check --ca tut.pem tdev.pem
has out "ok: device tdev-1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ku.key \
    -out ku.pem -subj /CN=KU-CA -days 30 -addext "keyUsage=critical,digitalSignature" \
    >/dev/null 2>&1 || fail "openssl req -x509 (keyUsage)"
openssl x509 -req -in tdev.csr -CA ku.pem -CAkey ku.key -out kudev.pem -days 10 \
    >/dev/null 2>&1 || fail "openssl x509 -req (keyUsage)"
expect 1 "$IOTSEC" crl check --ca ku.pem kudev.pem
has err 'CA certificate "CN=KU-CA" keyUsage lacks keyCertSign: IOTSEC_E_UNTRUSTED'
expect 1 "$IOTSEC" crl check --ca ca/ca.pem s.pem
has err "certificate lacks the clientAuth extended key usage: IOTSEC_E_POLICY"

# the records survive: index lists 4 certificates (3 devices, 1 server), 2 revoked
[ "$(grep -vc "^#" ca/index)" = 4 ] || fail "ca/index: $(cat ca/index)"
[ "$(grep -v '^#' ca/index | awk '$3 != 0' | wc -l)" = 2 ] || fail "ca/index revoked count"
[ "$(cat ca/crlnumber)" = 2 ] || fail "crlnumber $(cat ca/crlnumber)"

if [ "$fails" -ne 0 ]; then
    echo "cli_ca.sh: $fails failure(s)" >&2
    exit 1
fi
exit 0
