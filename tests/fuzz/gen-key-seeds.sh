#!/usr/bin/env bash
# Regenerate the seed corpora of tests/fuzz/fuzz_keyfile.c (key files: PEM and DER, PKCS#8,
# SPKI, traditional EC and RSA, PKCS#1 public, a certificate; keys the library does not use)
# and tests/fuzz/fuzz_keyload.c (the raw DER that the crypto adapters read) with the openssl
# command. Test keys only. Run from the top of the tree:
#     tests/fuzz/gen-key-seeds.sh
set -eu
kf=$PWD/tests/fuzz/corpus/fuzz_keyfile
kl=$PWD/tests/fuzz/corpus/fuzz_keyload
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENSSL_CONF=/dev/null
mkdir -p "$kf" "$kl"
rm -f "$kf"/gen-* "$kl"/gen-*
cd "$tmp"
openssl genpkey -algorithm ed25519 -out ed.key 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out p256.key 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl genpkey -algorithm x25519 -out x25519.key 2>/dev/null
for k in ed p256 p384 rsa x25519; do
    cp $k.key "$kf/gen-$k-pkcs8.pem"
    openssl pkey -in $k.key -outform DER -out "$kf/gen-$k-pkcs8.der"
    openssl pkey -in $k.key -pubout -out "$kf/gen-$k-spki.pem"
    openssl pkey -in $k.key -pubout -outform DER -out "$kf/gen-$k-spki.der"
    cp "$kf/gen-$k-pkcs8.der" "$kl/gen-$k-pkcs8.der"
    cp "$kf/gen-$k-spki.der" "$kl/gen-$k-spki.der"
done
openssl ec -in p256.key -out "$kf/gen-p256-sec1.pem" 2>/dev/null
openssl ec -in p256.key -outform DER -out "$kf/gen-p256-sec1.der" 2>/dev/null
cp "$kf/gen-p256-sec1.der" "$kl/gen-p256-sec1.der"
openssl rsa -in rsa.key -traditional -out "$kf/gen-rsa-pkcs1.pem" 2>/dev/null
openssl rsa -in rsa.key -RSAPublicKey_out -out "$kf/gen-rsa-pkcs1-public.pem" 2>/dev/null
openssl req -new -x509 -key p256.key -subj /CN=fuzz -days 36500 -out "$kf/gen-p256-cert.pem" \
    2>/dev/null
openssl x509 -in "$kf/gen-p256-cert.pem" -outform DER -out "$kf/gen-p256-cert.der"
# `openssl ecparam -genkey` output: EC PARAMETERS before the key
{ openssl ecparam -name prime256v1; cat "$kf/gen-p256-sec1.pem"; } > "$kf/gen-p256-with-params.pem"
# formats OpenSSL's decoders read and the key-file reader refuses: MSBLOB, PVK
openssl rsa -in rsa.key -outform 'MS PRIVATEKEYBLOB' -out "$kf/gen-rsa.msblob" 2>/dev/null
openssl rsa -in rsa.key -pubout -outform 'MS PUBLICKEYBLOB' -out "$kf/gen-rsa-public.msblob" \
    2>/dev/null
openssl rsa -in rsa.key -outform PVK -pvk-none -out "$kf/gen-rsa.pvk" 2>/dev/null
# a PEM with text around it, and two keys in one file
{ echo "a comment"; cat "$kf/gen-ed-spki.pem"; echo "trailing text"; } > "$kf/gen-ed-spki-text.pem"
cat "$kf/gen-ed-pkcs8.pem" "$kf/gen-p256-pkcs8.pem" > "$kf/gen-two-keys.pem"
# a 64-byte Ed25519 signature shape for fuzz_keyload's verify part
head -c 64 /dev/zero > "$kl/gen-zero-signature"
ls "$kf"/gen-* "$kl"/gen-* | wc -l
