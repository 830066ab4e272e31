#!/usr/bin/env bash
# A firmware-style build: `make lib BACKENDS=sodium` builds the portable core and the
# libsodium adapter alone (no OpenSSL, no POSIX ports, no X.509), warning-clean, with a .pc
# naming only libsodium; a program linked against it seals and opens a frame and verifies an
# Ed25519 signature, and sees AES-CBC as unsupported — without linking libcrypto.
set -u
: "${BUILD:=build}"
if [ "${SANITIZE:-}" = 1 ]; then
    echo "build_sodium_only: skipped in the sanitizer build (the normal build runs it)"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

make -s -j2 BACKENDS=sodium BUILD="$T/b" WERROR=1 lib >"$T/make.log" 2>&1 ||
    { cat "$T/make.log" >&2; fail "make lib BACKENDS=sodium"; }
grep -q '^Requires.private: libsodium$' "$T/b/libiotsec.pc" || fail "libiotsec.pc: $(grep Requires "$T/b/libiotsec.pc")"
nm "$T/b/libiotsec.a" 2>/dev/null | grep -qE ' U (EVP_|OPENSSL_|sqlite3_)' &&
    fail "the sodium-only library refers to OpenSSL or SQLite symbols"

cat >"$T/fw.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <iotsec/iotsec.h>
int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_default();
    uint8_t master[32] = {9}, frame[128], out[16], seed[32] = {1}, sig[64], iv[16] = {0};
    size_t n, m, sl;
    iotsec_frame_keys up;
    iotsec_replay_window w;
    iotsec_privkey sk;
    iotsec_pubkey pk;
    uint8_t spki[64];
    size_t spki_len;

    if (c == NULL || strcmp(c->name, "sodium") != 0 || iotsec_crypto_openssl() != NULL)
        return 10;
    if (iotsec_frame_keys_derive(&up, c, master, "dev-1", 5, 0, IOTSEC_FRAME_UPLINK) ||
        iotsec_replay_init(&w, 64) ||
        iotsec_frame_seal(&up, 1, 0, NULL, (const uint8_t *)"hi", 2, frame, sizeof frame, &n) ||
        iotsec_frame_open_checked(&up, &w, frame, n, NULL, out, sizeof out, &m) || m != 2 ||
        iotsec_frame_open_checked(&up, &w, frame, n, NULL, out, sizeof out, &m) != IOTSEC_E_REPLAY)
        return 11;
    if (iotsec_frame_seal(&up, 2, 1, iv, (const uint8_t *)"hi", 2, frame, sizeof frame, &n) !=
        IOTSEC_E_UNSUPPORTED)
        return 12;
    if (iotsec_privkey_load_ed25519_seed(&sk, c, seed) ||
        iotsec_privkey_public_spki(&sk, spki, sizeof spki, &spki_len) ||
        iotsec_pubkey_load(&pk, c, spki, spki_len) ||
        iotsec_sign(&sk, (const uint8_t *)"m", 1, sig, sizeof sig, &sl) ||
        iotsec_verify(&pk, (const uint8_t *)"m", 1, sig, sl))
        return 13;
    iotsec_frame_keys_cleanup(&up);
    iotsec_privkey_free(&sk);
    iotsec_pubkey_free(&pk);
    puts("sodium-only build: frames, replay window and Ed25519 work; AES-CBC unsupported");
    return 0;
}
C
${CC:-cc} -std=c99 -Wall -Wextra -Werror -I"$T/b/include" -Iinclude -o "$T/fw" "$T/fw.c" "$T/b/libiotsec.a" \
    $(pkg-config --libs libsodium) || fail "link against the sodium-only library"
"$T/fw" || fail "the sodium-only program failed (exit $?)"
