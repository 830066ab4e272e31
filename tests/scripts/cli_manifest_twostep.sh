#!/usr/bin/env bash
# Two-step manifest signing for an HSM or cloud KMS without PKCS#11 (docs/DESIGN.md §9):
# `iotsec manifest sign --pub PUB.pem --tbs-out TBS` writes the bytes to sign, the openssl CLI
# signs them as a KMS would (Ed25519 over the bytes; ECDSA P-256 and RSA-PSS over their
# SHA-256, ECDSA as DER or raw r||s), `iotsec manifest attach` completes the manifest and
# `iotsec manifest verify` accepts it; a tampered signature or TBS, another key's signature,
# a TBS made for another key and bad options are refused with their exit codes.
set -u
: "${BUILD:=build}"
CLI="$BUILD/iotsec"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE [--err REGEX] -- command...: exit status must be CODE (and stderr match REGEX)
expect() {
    local want=$1 re=""; shift
    if [ "$1" = --err ]; then re=$2; shift 2; fi
    [ "$1" = -- ] && shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (want $want): $*"; sed 's/^/    /' "$T/err"; return
    fi
    if [ -n "$re" ] && ! grep -Eq -e "$re" "$T/err" "$T/out"; then
        fail "output of '$*' lacks /$re/"; sed 's/^/    /' "$T/err"
    fi
}

# flip a bit of the byte at offset $2 of file $1 into $3 (negative: from the end)
flip() { python3 - "$1" "$2" "$3" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[int(sys.argv[2])] ^= 1
open(sys.argv[3], 'wb').write(b)
PY
}

expect 0 -- $CLI manifest attach --help
head -c 5000 /dev/urandom >"$T/fw.bin"
FIELDS=(--image "$T/fw.bin" --version 2.1.0 --security-counter 7 --class sensor-v2)

for alg in ed25519 p256 rsa2048 rsa3072; do
    $CLI keygen --alg $alg --out "$T/$alg.key" --pub "$T/$alg.pub" >/dev/null || fail "keygen $alg"
    expect 0 --err "to be signed" -- $CLI manifest sign --pub "$T/$alg.pub" "${FIELDS[@]}" \
        --tbs-out "$T/$alg.tbs"
    case $alg in
    ed25519)
        openssl pkeyutl -sign -rawin -inkey "$T/$alg.key" -in "$T/$alg.tbs" -out "$T/$alg.sig" ;;
    p256)
        openssl dgst -sha256 -sign "$T/$alg.key" -out "$T/$alg.sig" "$T/$alg.tbs" ;;
    rsa*)
        openssl dgst -sha256 -binary "$T/$alg.tbs" >"$T/$alg.dgst"
        openssl pkeyutl -sign -inkey "$T/$alg.key" -in "$T/$alg.dgst" -out "$T/$alg.sig" \
            -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 \
            -pkeyopt rsa_mgf1_md:sha256 ;;
    esac
    [ -s "$T/$alg.sig" ] || fail "openssl did not sign the $alg TBS"
    expect 0 --err "signature verified" -- $CLI manifest attach --tbs "$T/$alg.tbs" \
        --sig "$T/$alg.sig" --pub "$T/$alg.pub" --out "$T/$alg.m"
    expect 0 --err "^verified" -- $CLI manifest verify --trust "$T/$alg.pub" --image "$T/fw.bin" \
        --class sensor-v2 --min-counter 7 "$T/$alg.m"
    # a tampered signature, a tampered TBS: refused, nothing written
    flip "$T/$alg.sig" -1 "$T/$alg.badsig"
    rm -f "$T/bad.m"
    expect 1 --err "IOTSEC_E_BAD_SIGNATURE.*(does not verify|not an ECDSA)" -- $CLI manifest attach \
        --tbs "$T/$alg.tbs" --sig "$T/$alg.badsig" --pub "$T/$alg.pub" --out "$T/bad.m"
    [ -e "$T/bad.m" ] && fail "$alg: a manifest was written for a bad signature"
    flip "$T/$alg.tbs" 20 "$T/$alg.badtbs"
    expect 1 --err "does not verify" -- $CLI manifest attach --tbs "$T/$alg.badtbs" \
        --sig "$T/$alg.sig" --pub "$T/$alg.pub" --out "$T/bad.m"
done

# Ed25519 is deterministic: the two-step manifest is byte for byte the one --key makes
$CLI manifest sign --key "$T/ed25519.key" "${FIELDS[@]}" --out "$T/direct.m" 2>/dev/null >&2 \
    || fail "direct sign"
cmp -s "$T/direct.m" "$T/ed25519.m" || fail "two-step Ed25519 manifest differs from --key's"

# ECDSA: raw r||s accepted too (auto and --sig-format raw), DER with --sig-format der
python3 - "$T/p256.sig" "$T/p256.raw" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
assert d[0] == 0x30
i = 2
out = b''
for _ in range(2):
    assert d[i] == 2
    n = d[i + 1]; v = d[i + 2:i + 2 + n].lstrip(b'\0'); i += 2 + n
    out += v.rjust(32, b'\0')
open(sys.argv[2], 'wb').write(out)
PY
expect 0 -- $CLI manifest attach --tbs "$T/p256.tbs" --sig "$T/p256.raw" --pub "$T/p256.pub" \
    --out "$T/p256raw.m"
expect 0 -- $CLI manifest verify --trust "$T/p256.pub" --image "$T/fw.bin" "$T/p256raw.m"
expect 0 -- $CLI manifest attach --tbs "$T/p256.tbs" --sig "$T/p256.raw" --pub "$T/p256.pub" \
    --sig-format raw --out "$T/p256raw.m"
expect 0 -- $CLI manifest attach --tbs "$T/p256.tbs" --sig "$T/p256.sig" --pub "$T/p256.pub" \
    --sig-format der --out "$T/p256der.m"
expect 1 --err "IOTSEC_E_BAD_SIGNATURE" -- $CLI manifest attach --tbs "$T/p256.tbs" \
    --sig "$T/p256.sig" --pub "$T/p256.pub" --sig-format raw --out "$T/bad.m"

# another key's signature; a TBS made for another key; something that is not a TBS
expect 1 --err "does not verify" -- $CLI manifest attach --tbs "$T/rsa2048.tbs" \
    --sig "$T/rsa3072.sig" --pub "$T/rsa2048.pub" --out "$T/bad.m"
expect 1 --err "made for another key" -- $CLI manifest attach --tbs "$T/p256.tbs" \
    --sig "$T/p256.sig" --pub "$T/ed25519.pub" --out "$T/bad.m"
expect 1 --err "not the output of" -- $CLI manifest attach --tbs "$T/fw.bin" \
    --sig "$T/p256.sig" --pub "$T/p256.pub" --out "$T/bad.m"
expect 1 --err "not the output of" -- $CLI manifest attach --tbs "$T/p256.m" \
    --sig "$T/p256.sig" --pub "$T/p256.pub" --out "$T/bad.m"

# encrypted: the payload is written at --tbs-out time and the manifest signs it
$CLI secret --bytes 32 --out "$T/fw.key" >/dev/null
expect 0 -- $CLI manifest sign --pub "$T/ed25519.pub" "${FIELDS[@]}" --encrypt-key "$T/fw.key" \
    --payload-out "$T/fw.enc" --tbs-out "$T/enc.tbs"
openssl pkeyutl -sign -rawin -inkey "$T/ed25519.key" -in "$T/enc.tbs" -out "$T/enc.sig"
expect 0 -- $CLI manifest attach --tbs "$T/enc.tbs" --sig "$T/enc.sig" --pub "$T/ed25519.pub" \
    --out "$T/enc.m"
expect 0 -- $CLI manifest verify --trust "$T/ed25519.pub" --payload "$T/fw.enc" \
    --decrypt-key "$T/fw.key" "$T/enc.m"

# standard streams: the TBS to stdout, the signature from stdin
$CLI manifest sign --pub "$T/ed25519.pub" "${FIELDS[@]}" --tbs-out - 2>/dev/null >"$T/stdout.tbs"
cmp -s "$T/stdout.tbs" "$T/ed25519.tbs" || fail "--tbs-out - differs"
expect 0 -- $CLI manifest attach --tbs "$T/ed25519.tbs" --sig - --pub "$T/ed25519.pub" \
    --out "$T/stdin.m" <"$T/ed25519.sig"

# usage
expect 2 --err "instead of --key" -- $CLI manifest sign --key "$T/ed25519.key" "${FIELDS[@]}" \
    --tbs-out "$T/x.tbs"
expect 2 --err "instead of --key" -- $CLI manifest sign "${FIELDS[@]}" --tbs-out "$T/x.tbs"
expect 2 --err "replaces --out" -- $CLI manifest sign --pub "$T/ed25519.pub" "${FIELDS[@]}" \
    --tbs-out "$T/x.tbs" --out "$T/x.m"
expect 2 --err "--pub goes with" -- $CLI manifest sign --key "$T/ed25519.key" \
    --pub "$T/ed25519.pub" "${FIELDS[@]}" --out "$T/x.m"
expect 2 -- $CLI manifest attach --tbs "$T/p256.tbs" --sig "$T/p256.sig" --out "$T/x.m"
expect 2 -- $CLI manifest attach --tbs "$T/p256.tbs" --sig "$T/p256.sig" --pub "$T/p256.pub" \
    --sig-format pem --out "$T/x.m"
expect 3 -- $CLI manifest attach --tbs "$T/missing" --sig "$T/p256.sig" --pub "$T/p256.pub" \
    --out "$T/x.m"

if [ "$fails" -ne 0 ]; then
    echo "cli_manifest_twostep: $fails failure(s)"
    exit 1
fi
echo "cli_manifest_twostep: ok"
