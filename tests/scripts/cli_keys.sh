#!/usr/bin/env bash
# The iotsec CLI skeleton (docs/DESIGN.md §9): --help, version, keygen, secret and their exit codes
# (0 success, 1 rejected, 2 usage, 3 I/O). Key files must be what `openssl pkey` reads, with
# the key id openssl's SPKI DER gives. Run with BUILD set (the CLI is $BUILD/iotsec).
set -u
: "${BUILD:=build}"
IOTSEC=$(cd "$(dirname "$BUILD/iotsec")" && pwd)/iotsec
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-cli-keys.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "cli_keys: FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE CMD...: run CMD (stdout to $tmp/out, stderr to $tmp/err), check its exit code
expect() {
    local want=$1 got
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, expected $want; stderr: $(head -c 300 "$tmp/err")"
        return 1
    fi
    return 0
}

mode_of() { stat -c %a "$1"; }

[ -x "$IOTSEC" ] || { echo "cli_keys: no CLI at $IOTSEC" >&2; exit 1; }

# ---- help, version, usage errors ---------------------------------------------------------------
expect 0 "$IOTSEC" --help && grep -q 'keygen' "$tmp/out" || fail "--help does not list keygen"
expect 0 "$IOTSEC" keygen --help && grep -q -- '--alg' "$tmp/out" || fail "keygen --help text"
expect 0 "$IOTSEC" secret --help && grep -q -- '--bytes' "$tmp/out" || fail "secret --help text"
expect 0 "$IOTSEC" version && grep -q "libiotsec" "$tmp/out" || fail "version text"
expect 2 "$IOTSEC"
expect 2 "$IOTSEC" frobnicate && grep -q "unknown command" "$tmp/err" || fail "unknown command message"
expect 2 "$IOTSEC" keygen --alg ed25519
expect 2 "$IOTSEC" keygen --out "$tmp/x.pem"
expect 2 "$IOTSEC" keygen --alg ed448 --out "$tmp/x.pem"
expect 2 "$IOTSEC" keygen --alg rsa1024 --out "$tmp/x.pem"
expect 2 "$IOTSEC" keygen --alg ed25519 --out "$tmp/x.pem" extra-argument
expect 2 "$IOTSEC" keygen --bogus-option
[ -e "$tmp/x.pem" ] && fail "a refused keygen wrote $tmp/x.pem"

# ---- keygen: every algorithm, files openssl reads, key id as openssl computes it --------------
for alg in ed25519 p256 rsa2048 rsa3072; do
    key=$tmp/$alg.pem pub=$tmp/$alg.pub.pem
    expect 0 "$IOTSEC" keygen --alg "$alg" --out "$key" --pub "$pub" || continue
    printed=$(sed -n 's/^key_id \([0-9a-f]\{16\}\)$/\1/p' "$tmp/out")
    [ -n "$printed" ] || { fail "$alg: no 'key_id <16 hex>' line in: $(cat "$tmp/out")"; continue; }
    openssl pkey -in "$key" -noout 2>/dev/null || fail "$alg: openssl pkey refuses $key"
    openssl pkey -pubin -in "$pub" -noout 2>/dev/null || fail "$alg: openssl pkey refuses $pub"
    grep -q -- '-----BEGIN PRIVATE KEY-----' "$key" || fail "$alg: private key is not PKCS#8 PEM"
    grep -q -- '-----BEGIN PUBLIC KEY-----' "$pub" || fail "$alg: public key is not SPKI PEM"
    from_pub=$(openssl pkey -pubin -in "$pub" -outform DER | sha256sum | cut -c1-16)
    from_key=$(openssl pkey -in "$key" -pubout -outform DER | sha256sum | cut -c1-16)
    [ "$printed" = "$from_pub" ] || fail "$alg: key_id $printed, openssl (pub) says $from_pub"
    [ "$printed" = "$from_key" ] || fail "$alg: key_id $printed, openssl (key) says $from_key"
    [ "$(mode_of "$key")" = 600 ] || fail "$alg: private key mode $(mode_of "$key"), not 600"
    [ "$(mode_of "$pub")" = 644 ] || fail "$alg: public key mode $(mode_of "$pub"), not 644"
    case $alg in
    rsa2048 | rsa3072)
        bits=$(openssl pkey -in "$key" -text -noout | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p')
        [ "$bits" = "${alg#rsa}" ] || fail "$alg: openssl says $bits bits"
        ;;
    p256)
        openssl pkey -in "$key" -text -noout | grep -q 'NIST CURVE: P-256' || fail "p256: not P-256"
        ;;
    esac
done

# ---- no silent overwrite ----------------------------------------------------------------------
cp "$tmp/ed25519.pem" "$tmp/before.pem"
expect 3 "$IOTSEC" keygen --alg ed25519 --out "$tmp/ed25519.pem"
cmp -s "$tmp/ed25519.pem" "$tmp/before.pem" || fail "keygen without --force changed the key"
expect 3 "$IOTSEC" keygen --alg ed25519 --out "$tmp/new.pem" --pub "$tmp/ed25519.pub.pem"
[ -e "$tmp/new.pem" ] && fail "keygen wrote the private key although --pub exists"
expect 0 "$IOTSEC" keygen --alg ed25519 --out "$tmp/ed25519.pem" --force
cmp -s "$tmp/ed25519.pem" "$tmp/before.pem" && fail "keygen --force did not replace the key"
[ "$(mode_of "$tmp/ed25519.pem")" = 600 ] || fail "replaced key mode $(mode_of "$tmp/ed25519.pem")"
expect 3 "$IOTSEC" keygen --alg ed25519 --out "$tmp/no-such-dir/k.pem"

# ---- secret ------------------------------------------------------------------------------------
expect 0 "$IOTSEC" secret --bytes 32 --out "$tmp/master.bin"
[ "$(stat -c %s "$tmp/master.bin")" = 32 ] || fail "secret --bytes 32 wrote $(stat -c %s "$tmp/master.bin") bytes"
[ "$(mode_of "$tmp/master.bin")" = 600 ] || fail "secret mode $(mode_of "$tmp/master.bin"), not 600"
expect 0 "$IOTSEC" secret --bytes 16 --out "$tmp/enc.bin"
[ "$(stat -c %s "$tmp/enc.bin")" = 16 ] || fail "secret --bytes 16 wrote $(stat -c %s "$tmp/enc.bin") bytes"
expect 0 "$IOTSEC" secret --bytes 32 --out "$tmp/other.bin"
cmp -s "$tmp/master.bin" "$tmp/other.bin" && fail "two secrets are equal"
(umask 000 && "$IOTSEC" secret --bytes 32 --out "$tmp/umask.bin") || fail "secret under umask 000"
[ "$(mode_of "$tmp/umask.bin")" = 600 ] || fail "secret under umask 000 has mode $(mode_of "$tmp/umask.bin")"
expect 2 "$IOTSEC" secret --bytes 20 --out "$tmp/s20.bin"
expect 2 "$IOTSEC" secret --bytes 64 --out "$tmp/s64.bin"
expect 2 "$IOTSEC" secret --bytes 032 --out "$tmp/s032.bin"
expect 2 "$IOTSEC" secret --bytes 32
expect 2 "$IOTSEC" secret --out "$tmp/nobytes.bin"
for f in s20 s64 s032 nobytes; do [ -e "$tmp/$f.bin" ] && fail "refused secret wrote $f.bin"; done
cp "$tmp/master.bin" "$tmp/master.before"
expect 3 "$IOTSEC" secret --bytes 32 --out "$tmp/master.bin"
cmp -s "$tmp/master.bin" "$tmp/master.before" || fail "secret without --force changed the file"
expect 0 "$IOTSEC" secret --bytes 32 --out "$tmp/master.bin" --force
cmp -s "$tmp/master.bin" "$tmp/master.before" && fail "secret --force did not replace the file"
expect 3 "$IOTSEC" secret --bytes 32 --out "$tmp/no-such-dir/s.bin"
# the backend is chosen by IOTSEC_BACKEND; an unknown one is a usage error
if "$IOTSEC" version | grep -q ' sodium'; then
    expect 0 env IOTSEC_BACKEND=sodium "$IOTSEC" secret --bytes 32 --out "$tmp/sodium.bin"
    [ "$(stat -c %s "$tmp/sodium.bin")" = 32 ] || fail "IOTSEC_BACKEND=sodium secret size"
fi
expect 2 env IOTSEC_BACKEND=nonesuch "$IOTSEC" secret --bytes 32 --out "$tmp/none.bin"

if [ "$failures" -ne 0 ]; then
    echo "cli_keys: $failures check(s) failed" >&2
    exit 1
fi
echo "cli_keys: all checks passed"
