#!/usr/bin/env bash
# Regenerate the seed corpus of tests/fuzz/fuzz_x509_identity.c with the openssl command:
# a P-256 device CA (its key is thrown away) and leaves that reach every branch of the
# identity rules (x509.h) and of the handshake checks (tls.h). Prints the CA certificate,
# which goes into fuzz_x509_identity.c as fuzz_ca_pem. Run from the top of the tree:
#     tests/fuzz/gen-x509-seeds.sh
set -eu
out=tests/fuzz/corpus/fuzz_x509_identity
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$tmp"

openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -new -x509 -key ca.key -subj "/CN=iotsec fuzz identity CA" -days 36500 \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out leaf.key 2>/dev/null
openssl genpkey -algorithm ed25519 -out ed.key 2>/dev/null

# leaf NAME SUBJECT EXTENSIONS [DAYS [KEY [SERIAL]]]: a leaf signed by the CA, DER and PEM
leaf() {
    local name=$1 subj=$2 ext=$3 days=${4:-36500} key=${5:-leaf.key} serial=${6:-}
    local sopt=(-CAcreateserial)
    [ -n "$serial" ] && sopt=(-set_serial "$serial")
    printf '%b\n' "$ext" > ext.cnf
    openssl req -new -key "$key" -subj "$subj" -out req.csr 2>/dev/null
    openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -days "$days" "${sopt[@]}" \
        -extfile ext.cnf -outform DER -out "$OLDPWD/$out/$name.der" 2>/dev/null
}
dev="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"

leaf cn-dns "/CN=dev-1" "$dev\nsubjectAltName=DNS:dev-1"
leaf cn-only "/O=fleet/CN=dev-2" "$dev"
leaf cn-ed25519 "/CN=dev-ed" "$dev" 36500 ed.key
leaf cn-two "/CN=dev-3/CN=dev-4" "$dev"
leaf cn-space "/CN=dev 5" "$dev"
leaf cn-64 "/CN=$(printf 'd%.0s' $(seq 1 64))" "$dev"
leaf no-cn "/O=fleet" "$dev\nsubjectAltName=DNS:dev-6"
leaf uri "/CN=dev-7" "$dev\nsubjectAltName=URI:spiffe://fleet.example/device/dev-7"
leaf uri-other-td "/CN=dev-8" "$dev\nsubjectAltName=URI:spiffe://other.example/device/dev-8"
leaf uri-two "/CN=dev-9" "$dev\nsubjectAltName=URI:spiffe://fleet.example/device/a,URI:spiffe://fleet.example/device/b"
leaf uri-dotdot "/CN=dev-10" "$dev\nsubjectAltName=URI:spiffe://fleet.example/device/.."
leaf uri-port "/CN=dev-11" "$dev\nsubjectAltName=URI:spiffe://fleet.example:443/device/dev-11"
leaf uri-upper "/CN=dev-12" "$dev\nsubjectAltName=URI:SPIFFE://Fleet.example/device/dev-12"
leaf uri-query "/CN=dev-13" "$dev\nsubjectAltName=URI:spiffe://fleet.example/device/dev-13?x=1"
leaf uri-path "/CN=dev-14" "$dev\nsubjectAltName=URI:spiffe://fleet.example/devices/dev-14"
leaf dns-two "/CN=dev-15" "$dev\nsubjectAltName=DNS:dev-15,DNS:dev-16"
leaf dns-wild "/CN=dev-17" "$dev\nsubjectAltName=DNS:*.fleet.example"
leaf san-mixed "/CN=dev-18" "$dev\nsubjectAltName=DNS:dev-18,URI:spiffe://fleet.example/device/dev-18,IP:10.0.0.1,email:a@b.example"
leaf revoked-id "/CN=revoked-1" "$dev\nsubjectAltName=DNS:revoked-1,URI:spiffe://fleet.example/device/revoked-1"
leaf expired "/CN=dev-19" "$dev" 30
leaf eku-server "/CN=dev-20" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth"
leaf is-ca "/CN=dev-21" "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,digitalSignature"
leaf serial-zero "/CN=dev-22" "$dev" 36500 leaf.key 0
leaf serial-negative "/CN=dev-23" "$dev" 36500 leaf.key -5
leaf serial-21-bytes "/CN=dev-24" "$dev" 36500 leaf.key 0x$(printf '7f%.0s' $(seq 1 21))
leaf unknown-critical "/CN=dev-25" "$dev\n1.2.3.4=critical,ASN1:NULL"
# a certificate of another CA with the same name, and one self-signed
openssl req -new -x509 -key leaf.key -subj "/CN=iotsec fuzz identity CA" -days 36500 \
    -outform DER -out "$OLDPWD/$out/self-signed.der" 2>/dev/null
openssl x509 -inform DER -in "$OLDPWD/$out/cn-dns.der" -out "$OLDPWD/$out/cn-dns.pem"
openssl x509 -inform DER -in "$OLDPWD/$out/uri.der" -out "$OLDPWD/$out/uri.pem"
cat "$OLDPWD/$out/cn-dns.pem" "$OLDPWD/$out/uri.pem" > "$OLDPWD/$out/two-certs.pem"
cp ca.pem "$OLDPWD/$out/ca.pem"
cat ca.pem
