#!/usr/bin/env bash
# Regenerate the seed corpus of tests/fuzz/fuzz_crl.c with the openssl command, and the CAs
# the target verifies them with (tests/fuzz/fuzz_crl_ca.h): a P-256 device CA and an RSA-2048
# one, each with `openssl ca -gencrl` CRLs of several shapes:
#   empty (v2 with cRLNumber and authorityKeyIdentifier), v1 (no extensions at all), without
#   cRLNumber, with a 20-byte cRLNumber, with revoked entries of every reason code (and
#   certificateHold with its hold instruction, keyCompromise with an invalidity date),
#   many entries, a critical issuingDistributionPoint, a critical deltaCRLIndicator, a
#   stale one (nextUpdate before the target's fixed time), RSASSA-PSS and SHA-384
#   signatures; PEM and DER.
# The P-256 CA's key goes into fuzz_crl_ca.h too: the target signs mutated CRLs again with
# it so that they get past the signature check (test key material, nothing else uses it).
# Seeds are small (at most a few KB). Run from the top of the tree:
#     tests/fuzz/gen-crl-seeds.sh
# then review and commit tests/fuzz/corpus/fuzz_crl/gen-* and tests/fuzz/fuzz_crl_ca.h.
set -eu
out=$PWD/tests/fuzz/corpus/fuzz_crl
hdr=$PWD/tests/fuzz/fuzz_crl_ca.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENSSL_CONF=/dev/null
mkdir -p "$out"
rm -f "$out"/gen-*
cd "$tmp"

# ca_init DIR ALG NAME: a CA directory for `openssl ca` with its key and certificate
ca_init() {
    local dir=$1 alg=$2 name=$3
    mkdir -p "$dir/newcerts"
    : > "$dir/index.txt"
    echo 1000 > "$dir/serial"
    case $alg in
    p256) openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" ;;
    rsa) openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$dir/ca.key" ;;
    esac 2>/dev/null
    openssl req -new -x509 -key "$dir/ca.key" -subj "/CN=$name" -days 36500 \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" -out "$dir/ca.pem" 2>/dev/null
}

# cnf DIR EXTRA-CRL-EXTENSIONS: openssl.cnf of DIR (crl_ext gets AKI plus the extra lines)
cnf() {
    local dir=$1
    shift
    {
        printf '[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndir = %s\n' "$PWD/$dir"
        printf 'database = $dir/index.txt\nnew_certs_dir = $dir/newcerts\n'
        printf 'certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\nserial = $dir/serial\n'
        printf 'crlnumber = $dir/crlnumber\ndefault_md = sha256\ndefault_crl_days = 36500\n'
        printf 'policy = policy_any\nunique_subject = no\ncrl_extensions = crl_ext\n'
        printf '[ policy_any ]\ncommonName = supplied\n'
        printf '[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n'
        printf '%b' "$*"
        printf '[ idp ]\nfullname = URI:http://crl.example/device.crl\nonlysomereasons = keyCompromise, CACompromise\n'
    } > "$dir/openssl.cnf"
}

# index DIR N: DIR's index.txt lists N revoked certificates (serials 0x1000 + i), cycling
# through every revocation reason openssl ca writes
index() {
    local dir=$1 n=$2 i r
    local reasons=(unspecified keyCompromise CACompromise affiliationChanged superseded
        cessationOfOperation "certificateHold,holdInstructionReject" removeFromCRL
        "keyTime,20260101000000Z" "CAkeyTime,20260102000000Z"
        "certificateHold,holdInstructionCallIssuer")
    : > "$dir/index.txt"
    for ((i = 0; i < n; i++)); do
        r=${reasons[i % ${#reasons[@]}]}
        printf 'R\t391231235959Z\t260601000000Z,%s\t%X\tunknown\t/CN=dev-%d\n' "$r" \
            $((0x1000 + i)) "$i" >> "$dir/index.txt"
    done
}

# gencrl DIR NAME [openssl ca options]: NAME.pem and NAME.der in the corpus
gencrl() {
    local dir=$1 name=$2
    shift 2
    openssl ca -batch -config "$dir/openssl.cnf" -gencrl -out crl.pem "$@" 2>/dev/null
    cp crl.pem "$out/gen-$name.pem"
    openssl crl -in crl.pem -outform DER -out "$out/gen-$name.der"
}

for ca in p256 rsa; do
    case $ca in
    p256) ca_init $ca p256 "iotsec fuzz CRL CA P-256" ;;
    rsa) ca_init $ca rsa "iotsec fuzz CRL CA RSA" ;;
    esac
    cnf $ca
    echo 01 > $ca/crlnumber
    index $ca 0
    gencrl $ca $ca-empty
    index $ca 11
    gencrl $ca $ca-reasons
    # v1: no crl_extensions, no crlnumber, entries without reason codes
    sed -i 's/^\(R\t[^\t]*\t[0-9Z]*\),[^\t]*/\1/' $ca/index.txt
    sed -i 's/^crl_extensions = crl_ext$//; s/^crlnumber = .*$//' $ca/openssl.cnf
    gencrl $ca $ca-v1
    cnf $ca
    sed -i 's/^crlnumber = .*$//' $ca/openssl.cnf
    gencrl $ca $ca-no-number
    cnf $ca
    printf '7f%.0s' $(seq 1 20) > $ca/crlnumber
    echo >> $ca/crlnumber
    gencrl $ca $ca-number-20-bytes
    echo 05 > $ca/crlnumber
    gencrl $ca $ca-stale -crldays 1
done

# P-256 only: many entries, scope extensions (critical: refused by the library), SHA-384
index p256 60
echo 10 > p256/crlnumber
gencrl p256 p256-many
index p256 3
cnf p256 'issuingDistributionPoint = critical, @idp\n'
gencrl p256 p256-idp
cnf p256 '2.5.29.27 = critical, ASN1:INTEGER:9\n'
gencrl p256 p256-delta
cnf p256 'issuingDistributionPoint = @idp\n'
gencrl p256 p256-idp-noncritical
cnf p256
gencrl p256 p256-sha384 -md sha384
# RSA only: RSASSA-PSS signature
index rsa 3
gencrl rsa rsa-pss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32

# the header the target is built with
{
    echo "/* Generated by tests/fuzz/gen-crl-seeds.sh: the CAs of the fuzz_crl seed corpus"
    echo " * (tests/fuzz/corpus/fuzz_crl/gen-*). TEST KEY MATERIAL: the P-256 CA's private key is"
    echo " * here so that the target can sign mutated CRLs again; it protects nothing. */"
    echo "#ifndef IOTSEC_FUZZ_CRL_CA_H"
    echo "#define IOTSEC_FUZZ_CRL_CA_H"
    for v in p256:fuzz_crl_ca_p256_pem:ca.pem p256:fuzz_crl_key_p256_pem:ca.key \
        rsa:fuzz_crl_ca_rsa_pem:ca.pem; do
        IFS=: read -r dir var file <<<"$v"
        echo
        echo "static const char $var[] ="
        sed 's/^/    "/; s/$/\\n"/' "$dir/$file"
        echo "    ;"
    done
    echo
    echo "#endif"
} > "$hdr"
ls -l "$out"/gen-* | awk '{ s += $5 } END { print NR " seeds, " s " bytes" }'
