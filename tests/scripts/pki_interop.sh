#!/usr/bin/env bash
# PKIs made by other tools, as users have them (docs/DESIGN.md §7.1, issue "PKI as users have
# it"): each checked with `iotsec crl check` — a good device accepted, a revoked one refused,
# an expired one refused, one of another CA (same CA name, other key) refused — with the
# message naming the check on stderr.
#   1. the openssl CLI the tutorial way: `req -x509` (default config: CA:TRUE, no keyUsage),
#      device certificates by `x509 -req` without extensions (v1) and with an -extfile,
#      revocation and the CRL by `ca -revoke` / `ca -gencrl`;
#   2. Debian's easy-rsa: a full PKI (build-ca, build-client-full, revoke, gen-crl), in batch
#      mode;
#   3. Python's cryptography: root → intermediate → devices, a CRL per level, the device
#      presenting its chain; also an intermediate revoked by the root, and --crl-policy.
# Needs BUILD ($BUILD/iotsec), openssl, easy-rsa (/usr/share/easy-rsa/easyrsa) and
# python3-cryptography: scripts/install-deps installs them, so a missing one is a failure.
set -u
: "${BUILD:=build}"
IOTSEC=$(cd "$(dirname "$BUILD/iotsec")" && pwd)/iotsec
EASYRSA=${EASYRSA:-/usr/share/easy-rsa/easyrsa}
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-pki-interop-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
passes=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# check DESC WANT_EXIT WANT_STDERR_TEXT iotsec-args...: run iotsec crl check; compare the
# exit status and look for the text (on stdout for 0, on stderr otherwise)
check() {
    local desc=$1 want=$2 text=$3 got
    shift 3
    "$IOTSEC" crl check "$@" >out 2>err
    got=$?
    if [ "$got" != "$want" ]; then
        fail "$desc: exit $got (want $want): $(head -c 400 err)"
        return
    fi
    local where=err
    [ "$want" = 0 ] && where=out
    if ! grep -qF -- "$text" "$where"; then
        fail "$desc: $where lacks '$text': $(head -c 400 "$where")"
        return
    fi
    passes=$((passes + 1))
}
# the four cases every PKI must pass
four() { # NAME ANCHOR GOOD REVOKED EXPIRED WRONG [extra crl check args...]
    local name=$1 anchor=$2 good=$3 revoked=$4 expired=$5 wrong=$6
    shift 6
    check "$name: good device" 0 "ok: device dev-good" --ca "$anchor" "$@" "$good"
    check "$name: revoked device" 1 "device dev-revoked revoked (crl): IOTSEC_E_REVOKED" \
        --ca "$anchor" "$@" "$revoked"
    check "$name: expired device" 1 "certificate expired: IOTSEC_E_EXPIRED" \
        --ca "$anchor" "$@" "$expired"
    check "$name: device of another CA" 1 "IOTSEC_E_UNTRUSTED" --ca "$anchor" "$@" "$wrong"
    grep -qF "trust anchor" err || fail "$name: the refusal of another CA's device does not name the trust anchor: $(cat err)"
}
command -v openssl >/dev/null || { echo "pki_interop: no openssl" >&2; exit 1; }
[ -x "$EASYRSA" ] || { echo "pki_interop: no $EASYRSA (scripts/install-deps installs easy-rsa)" >&2; exit 1; }
python3 -c 'import cryptography' 2>/dev/null ||
    { echo "pki_interop: python3 cannot import cryptography (scripts/install-deps)" >&2; exit 1; }

# ---- 1. the openssl CLI, the tutorial way ------------------------------------------------
mkdir tut && cd tut || exit 1
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# the CA as the guides make it: no keyUsage
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=MyCA -days 365 2>/dev/null || fail "openssl req -x509"
openssl x509 -in ca.pem -noout -text | grep -q "Key Usage" && fail "the tutorial CA has keyUsage"
# another CA of the same name
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -out other.pem -subj /CN=MyCA -days 365 2>/dev/null || fail "openssl req -x509 (other)"
cat >ext.cnf <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
csr() { key "$1.key" && openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null; }
for d in dev-good dev-revoked dev-expired; do csr "$d" || fail "csr $d"; done
sign() { # CSR-NAME OUT CA-PREFIX [extfile]
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$2" \
        -days 30 ${4:+-extfile "$4"} 2>/dev/null
}
sign dev-good good-plain.pem ca || fail "x509 -req (no extensions)"
sign dev-good good-ext.pem ca ext.cnf || fail "x509 -req (extensions)"
sign dev-revoked revoked.pem ca ext.cnf || fail "x509 -req (revoked)"
sign dev-good wrong.pem other ext.cnf || fail "x509 -req (other CA)"
openssl x509 -in good-plain.pem -noout -text | grep -q "Version: 1" || fail "x509 -req wrote a v3 certificate"
# `openssl ca` for what x509 cannot: dates in the past, the revocation database, the CRL
cat >ca.cnf <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $PWD
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 7
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
EOF
: >index.txt
echo 1000 >serial
echo 01 >crlnumber
openssl ca -batch -config ca.cnf -notext -in dev-expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200201000000Z 2>/dev/null || fail "openssl ca (expired)"
openssl ca -config ca.cnf -revoke revoked.pem 2>/dev/null || fail "openssl ca -revoke"
openssl ca -config ca.cnf -gencrl -out ca.crl 2>/dev/null || fail "openssl ca -gencrl"
four "openssl tutorial (device with extensions)" ca.pem good-ext.pem revoked.pem expired.pem \
    wrong.pem --crl ca.crl
check "openssl tutorial: device without extensions (v1)" 0 "ok: device dev-good" \
    --ca ca.pem --crl ca.crl good-plain.pem
# the CA without keyUsage also signs the CRL (cRLSign is required only when keyUsage is there)
check "openssl tutorial: CRL of a CA without keyUsage, policy require" 0 "ok: device dev-good" \
    --ca ca.pem --crl ca.crl --crl-policy require good-ext.pem
check "openssl tutorial: no CRL, policy require" 1 'no CRL for the trust anchor "CN=MyCA"' \
    --ca ca.pem --crl-policy require good-ext.pem
# a CA whose keyUsage lacks keyCertSign is refused, named
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ku.key \
    -out ku.pem -subj /CN=KU-CA -days 30 -addext "keyUsage=critical,cRLSign" 2>/dev/null
sign dev-good ku-dev.pem ku ext.cnf
check "openssl: CA keyUsage without keyCertSign" 1 \
    'CA certificate "CN=KU-CA" keyUsage lacks keyCertSign: IOTSEC_E_UNTRUSTED' --ca ku.pem ku-dev.pem
# a v1 CA (req -x509 with an empty configuration): no basicConstraints, refused as webpki does
openssl req -x509 -config /dev/null -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout v1.key -out v1.pem -subj /CN=V1-CA -days 30 2>/dev/null
sign dev-good v1-dev.pem v1
check "openssl: v1 CA" 1 'CA certificate "CN=V1-CA" lacks basicConstraints CA:TRUE' \
    --ca v1.pem v1-dev.pem
# a client certificate for a server (serverAuth): refused, named
printf 'extendedKeyUsage = serverAuth\n' >srv.cnf
sign dev-good srv-dev.pem ca srv.cnf
check "openssl: serverAuth certificate" 1 \
    "certificate lacks the clientAuth extended key usage: IOTSEC_E_POLICY" --ca ca.pem srv-dev.pem
cd .. || exit 1

# ---- 2. easy-rsa ------------------------------------------------------------------------
easy() { # PKI-DIR CMD... (the CA's name only for build-ca: easy-rsa refuses it elsewhere)
    local pki=$1
    shift
    env EASYRSA_BATCH=1 EASYRSA_PKI="$PWD/$pki" EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 \
        ${CA_CN:+EASYRSA_REQ_CN="$CA_CN"} "$EASYRSA" "$@" >"$pki.log" 2>&1 ||
        fail "easyrsa $*: $(grep -v '^$' "$pki.log" | tail -n 3)"
}
easy pki init-pki
CA_CN="Easy-RSA CA" easy pki build-ca nopass
for d in dev-good dev-revoked; do easy pki build-client-full "$d" nopass; done
cp pki/issued/dev-revoked.crt revoked.crt # revoke moves it to revoked/certs_by_serial/
easy pki revoke dev-revoked
easy pki gen-crl
easy other init-pki
CA_CN="Easy-RSA CA" easy other build-ca nopass
easy other build-client-full dev-good nopass
# expired: checked at a time past the one-day certificate's end (and the CRL's nextUpdate is
# later than that: easy-rsa's CRL lasts 180 days)
EASYRSA_CERT_EXPIRE=1 easy pki build-client-full dev-short nopass
later=$(($(date +%s) + 3 * 86400))
four "easy-rsa" pki/ca.crt pki/issued/dev-good.crt revoked.crt \
    pki/issued/dev-short.crt other/issued/dev-good.crt --crl pki/crl.pem --now "$later"
grep -q "Key Usage" <(openssl x509 -in pki/ca.crt -noout -text) || fail "easy-rsa CA without keyUsage?"
check "easy-rsa: now" 0 "ok: device dev-good" --ca pki/ca.crt --crl pki/crl.pem \
    --crl-policy require pki/issued/dev-good.crt

# ---- 3. Python's cryptography: root → intermediate → devices -------------------------------
python3 - <<'EOF' || fail "python3 cryptography PKI"
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)

def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

def pem(path, *certs):
    with open(path, "wb") as f:
        for c in certs:
            f.write(c.public_bytes(serialization.Encoding.PEM))

def ca(cn, issuer=None, issuer_key=None, path_len=None, ku=True):
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(name(cn))
         .issuer_name(issuer.subject if issuer else name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - day).not_valid_after(now + 3650 * day)
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ku:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                            critical=True)
    if issuer:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    return b.sign(issuer_key or key, hashes.SHA256()), key

def device(cn, issuer, issuer_key, before=None, after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(before or now - day).not_valid_after(after or now + 30 * day)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    return cert

def crl(issuer, issuer_key, revoked, number):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
         .last_update(now - datetime.timedelta(minutes=5)).next_update(now + 7 * day)
         .add_extension(x509.CRLNumber(number), critical=False))
    for c in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
                                      .serial_number(c.serial_number).revocation_date(now - day).build())
    return b.sign(issuer_key, hashes.SHA256())

root, root_key = ca("Py Root", path_len=1)
inter, inter_key = ca("Py Issuing CA", root, root_key, path_len=0, ku=False)  # no keyUsage
bad_inter, bad_inter_key = ca("Py Revoked CA", root, root_key, path_len=0)
good = device("dev-good", inter, inter_key)
revoked = device("dev-revoked", inter, inter_key)
expired = device("dev-expired", inter, inter_key, now - 60 * day, now - 30 * day)
under_bad = device("dev-under-revoked-ca", bad_inter, bad_inter_key)
other_root, other_root_key = ca("Py Root", path_len=1)
other_inter, other_inter_key = ca("Py Issuing CA", other_root, other_root_key, path_len=0)
wrong = device("dev-good", other_inter, other_inter_key)
pem("root.pem", root)
pem("good.pem", good, inter)
pem("revoked.pem", revoked, inter)
pem("expired.pem", expired, inter)
pem("wrong.pem", wrong, other_inter)
pem("under-bad.pem", under_bad, bad_inter)
pem("good-leaf.pem", good)
pem("inter.pem", inter)
for path, c in (("root.crl", crl(root, root_key, [bad_inter], 3)),
                ("inter.crl", crl(inter, inter_key, [revoked], 9))):
    with open(path, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
EOF
four "Python cryptography (root + intermediate)" root.pem good.pem revoked.pem expired.pem \
    wrong.pem --crl root.crl --crl inter.crl --crl-policy require
check "Python cryptography: intermediate revoked by the root" 1 \
    'its intermediate "CN=Py Revoked CA" revoked (crl): IOTSEC_E_REVOKED' \
    --ca root.pem --crl root.crl under-bad.pem
check "Python cryptography: the intermediate from a bundle" 0 "ok: device dev-good" \
    --ca root.pem --crl root.crl --crl inter.crl --intermediates inter.pem good-leaf.pem
check "Python cryptography: the intermediate missing" 1 'does not chain to the trust anchor "CN=Py Root"' \
    --ca root.pem good-leaf.pem
check "Python cryptography: the intermediate's CRL missing, policy require" 1 \
    'no CRL for the intermediate "CN=Py Issuing CA"' --ca root.pem --crl root.crl \
    --crl-policy require good.pem
check "Python cryptography: depth 1" 1 "chain longer than 1 below the trust anchor" \
    --ca root.pem --max-depth 1 good.pem
check "Python cryptography: the intermediate pinned" 0 "ok: device dev-good" \
    --ca inter.pem --crl inter.crl --max-depth 1 good-leaf.pem

if [ "$fails" -ne 0 ]; then
    echo "pki_interop.sh: $fails failure(s), $passes checks passed" >&2
    exit 1
fi
echo "pki_interop.sh: $passes checks passed (openssl $(openssl version | cut -d' ' -f2), easy-rsa, cryptography $(python3 -c 'import cryptography; print(cryptography.__version__)'))"
exit 0
