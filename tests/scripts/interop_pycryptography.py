#!/usr/bin/env python3
"""Interoperability of libiotsec (through the `iotsec` CLI) with Python's `cryptography`.

`cryptography` (pyca, Rust + OpenSSL) is an independent implementation of every primitive
and format libiotsec uses. This script builds and checks each format of bindings-spec/SPEC.md
from the specification with it, in both directions:

  keys      iotsec keygen files load in Python and vice versa (PKCS#8, traditional, DER,
            PKCS#1, a compressed P-256 point); key ids agree
  manifests iotsec-signed manifests parse (own parser, bindings-spec/SPEC.md §7) and verify
            in Python; Python-built manifests verify in iotsec; tampering is refused
  firmware  AES-256-CBC payloads: iotsec-encrypted decrypt in Python, Python-encrypted
            verify in iotsec
  frames    frame v1 (binary, JSON, encrypted, uplink, downlink): HKDF keys, tag and
            ciphertext checked in Python; Python-sealed frames open in iotsec
  ecowatt   legacy profile: stdlib hmac + AES-128-CBC in Python, both directions
  x509      iotsec CA certificates and CRLs parse and verify in Python; Python-built CRLs
            and device certificates are judged by `iotsec crl check`

Every check compares computed values; a negative check beside each positive one shows the
comparison can fail. Prints one line per group; exits 1 on any mismatch.
Usage: interop_pycryptography.py --cli BUILD/iotsec --tmp DIR
Works with cryptography 38 (Debian 12) and newer.
"""
import argparse
import base64
import datetime
import hashlib
import hmac as std_hmac
import json
import os
import re
import subprocess
import sys
import time
import traceback

import cryptography
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Enc = serialization.Encoding
PubFmt = serialization.PublicFormat
PrivFmt = serialization.PrivateFormat

CLI = None
TMP = None
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# ---- bookkeeping ----------------------------------------------------------------------------

class Group:
    """One group of checks: counts them, prints each failure at once."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL [{self.name}] {what}", file=sys.stderr)
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {short(got)}, want {short(want)}")

    def line(self):
        return f"{self.name}: {self.passed} passed, {self.failed} failed"


def short(v):
    r = repr(v)
    return r if len(r) <= 160 else r[:150] + "...(" + str(len(r)) + " chars)"


def path(name):
    return os.path.join(TMP, name)


def write(name, data):
    p = path(name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def read(p):
    with open(p, "rb") as f:
        return f.read()


def cli(*args, stdin=b""):
    """Runs the iotsec CLI; returns (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([CLI] + [str(a) for a in args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def expect(g, rc_want, what, *args, stdin=b"", err=None):
    """Runs the CLI and checks its exit status (and that stderr names `err`)."""
    rc, out, errtext = cli(*args, stdin=stdin)
    ok = g.check(rc == rc_want, f"{what}: exit {rc} (want {rc_want}): {errtext.strip()[:300]}")
    if ok and err is not None:
        g.check(err in errtext, f"{what}: stderr lacks {err}: {errtext.strip()[:300]}")
    return rc, out, errtext


def flip_bit(data, index, bit=0):
    b = bytearray(data)
    b[index] ^= 1 << bit
    return bytes(b)


def sha256(data):
    return hashlib.sha256(data).digest()


def utc(dt):
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=datetime.timezone.utc)


def attr_utc(obj, name):
    """cert.not_valid_before / crl.last_update...: the *_utc form where it exists (>= 42)."""
    v = getattr(obj, name + "_utc", None)
    return utc(v if v is not None else getattr(obj, name))


# ---- keys and signatures (bindings-spec/SPEC.md §7.1) -------------------------------------

SIG_ALG = {"ed25519": 1, "p256": 2, "rsa2048": 3, "rsa3072": 3}
SIG_NAME = {1: "ed25519", 2: "p256", 3: "rsa-pss"}


def spki_der(pub):
    return pub.public_bytes(Enc.DER, PubFmt.SubjectPublicKeyInfo)


def key_id(pub):
    return sha256(spki_der(pub))[:8]


def gen_key(alg):
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(alg[3:]))


def alg_of(key):
    """'ed25519' | 'p256' | 'rsa<bits>' | None for a private or public key object."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "p256" if isinstance(key.curve, ec.SECP256R1) else None
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa{key.key_size}"
    return None


def sign(priv, msg, salt=32):
    """A manifest signature: Ed25519; ECDSA P-256 as raw r||s; RSA-PSS SHA-256 (salt)."""
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        return priv.sign(msg)
    if isinstance(priv, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(priv.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return priv.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256())


def verify(pub, sig, msg, salt=None):
    """True when sig verifies; RSA-PSS accepts any salt unless `salt` is given."""
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(sig, msg)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            if len(sig) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        else:
            pss = padding.PSS(padding.MGF1(hashes.SHA256()),
                              padding.PSS.AUTO if salt is None else salt)
            pub.verify(sig, msg, pss, hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def pem_public(pub):
    return pub.public_bytes(Enc.PEM, PubFmt.SubjectPublicKeyInfo)


# ---- manifest v1 (bindings-spec/SPEC.md §7): Python's own encoder and parser ----------------

T_COUNTER, T_VERSION, T_CLASS, T_SIZE, T_DIGEST, T_DEVICE, T_NOT_AFTER = 1, 2, 3, 4, 5, 6, 7
T_ENC, T_PAYLOAD_SIZE, T_PAYLOAD_DIGEST, T_CHUNK, T_URI, T_DESCRIPTION = 8, 9, 10, 11, 12, 0x80


def u64(n):
    return n.to_bytes(8, "big")


def tlv(t, value):
    return bytes([t]) + len(value).to_bytes(2, "big") + value


def build_manifest(priv, fields, salt=32, sign_fn=None):
    """fields: [(type, value bytes)] in the order to encode them."""
    body = b"".join(tlv(t, v) for t, v in fields)
    alg = SIG_ALG[alg_of(priv)]
    signed = (b"IOTM" + bytes([1, alg]) + len(body).to_bytes(2, "big") +
              key_id(priv.public_key()) + body)
    sig = (sign_fn or sign)(priv, signed, salt)
    return signed + len(sig).to_bytes(2, "big") + sig


class Manifest:
    pass


def parse_manifest(buf):
    """Parses a manifest strictly per bindings-spec/SPEC.md §7 (no signature check).

    Raises ValueError."""
    if len(buf) < 16:
        raise ValueError("shorter than the header")
    if buf[:4] != b"IOTM" or buf[4] != 1:
        raise ValueError("magic or format")
    m = Manifest()
    m.sig_alg = buf[5]
    body_len = int.from_bytes(buf[6:8], "big")
    if body_len > 3072:
        raise ValueError(f"body_len {body_len}")
    m.key_id = buf[8:16]
    end = 16 + body_len
    if len(buf) < end + 2:
        raise ValueError("truncated before sig_len")
    sig_len = int.from_bytes(buf[end:end + 2], "big")
    if sig_len == 0 or sig_len > 512:
        raise ValueError(f"sig_len {sig_len}")
    if len(buf) != end + 2 + sig_len:
        raise ValueError(f"length {len(buf)} != {end + 2 + sig_len}")
    m.signed, m.sig = buf[:end], buf[end + 2:]
    m.fields, pos, last = {}, 16, -1
    while pos < end:
        if pos + 3 > end:
            raise ValueError("TLV header past the body")
        t, n = buf[pos], int.from_bytes(buf[pos + 1:pos + 3], "big")
        if pos + 3 + n > end:
            raise ValueError(f"TLV {t:#x} past the body")
        if t <= last:
            raise ValueError(f"TLV {t:#x} after {last:#x}")
        if t < 0x80 and t not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12):
            raise ValueError(f"unknown critical TLV {t:#x}")
        m.fields[t] = buf[pos + 3:pos + 3 + n]
        last, pos = t, pos + 3 + n
    return m


def field_int(m, t):
    v = m.fields.get(t)
    return None if v is None else int.from_bytes(v, "big")


def aes_cbc(key, iv, data, decrypt=False):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    ctx = c.decryptor() if decrypt else c.encryptor()
    return ctx.update(data) + ctx.finalize()


def pkcs7_pad(data):
    p = sym_padding.PKCS7(128).padder()
    return p.update(data) + p.finalize()


def pkcs7_unpad(data):
    """Strict PKCS#7 removal (cryptography's unpadder raises ValueError on a bad pad)."""
    u = sym_padding.PKCS7(128).unpadder()
    return u.update(data) + u.finalize()


# ---- 5. key files ------------------------------------------------------------------------------

def group_keys(state):
    g = Group("keys")
    # iotsec keygen -> Python
    for alg in ("ed25519", "p256", "rsa2048", "rsa3072"):
        priv_p, pub_p = path(f"iot-{alg}.pem"), path(f"iot-{alg}.pub")
        rc, out, _ = expect(g, 0, f"keygen {alg}", "keygen", "--alg", alg, "--out", priv_p,
                            "--pub", pub_p)
        if rc != 0:
            continue
        priv_pem, pub_pem = read(priv_p), read(pub_p)
        g.check(priv_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n"),
                f"keygen {alg}: private key is not PKCS#8 PEM")
        g.check(pub_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n"),
                f"keygen {alg}: public key is not SPKI PEM")
        try:
            priv = serialization.load_pem_private_key(priv_pem, None)
            pub = serialization.load_pem_public_key(pub_pem)
        except (ValueError, TypeError) as e:
            g.check(False, f"keygen {alg}: Python cannot load the key files: {e}")
            continue
        g.eq(alg_of(priv), alg, f"keygen {alg}: private key type")
        g.eq(spki_der(priv.public_key()), spki_der(pub), f"keygen {alg}: pub matches priv")
        printed = re.search(rb"key_id ([0-9a-f]{16})", out)
        g.eq(printed.group(1).decode() if printed else None, key_id(pub).hex(),
             f"keygen {alg}: printed key_id")
        # the pair works: a Python signature over random bytes verifies with the file's pub
        msg = os.urandom(100)
        g.check(verify(pub, sign(priv, msg), msg), f"keygen {alg}: Python sign/verify")
        g.check(not verify(pub, sign(priv, msg), msg + b"x"),
                f"keygen {alg}: a signature over other bytes verifies")
        state["iot_keys"][alg] = (priv_p, pub_p, pub)

    # Python key files -> iotsec (sign a manifest with every private format, verify with
    # every public format)
    image = os.urandom(3000)
    img_p = write("keys-fw.bin", image)
    for alg in ("ed25519", "p256", "rsa2048", "rsa3072"):
        priv = gen_key(alg)
        state["py_keys"][alg] = priv
        pub = priv.public_key()
        kid = key_id(pub)
        formats = [("pkcs8.pem", Enc.PEM, PrivFmt.PKCS8), ("pkcs8.der", Enc.DER, PrivFmt.PKCS8)]
        if alg != "ed25519":  # Ed25519 has no traditional form
            formats += [("trad.pem", Enc.PEM, PrivFmt.TraditionalOpenSSL),
                        ("trad.der", Enc.DER, PrivFmt.TraditionalOpenSSL)]
        manifest_p = None
        for suffix, enc, fmt in formats:
            kp = write(f"py-{alg}.{suffix}",
                       priv.private_bytes(enc, fmt, serialization.NoEncryption()))
            mp = path(f"keys-{alg}-{suffix}.m")
            rc, out, _ = expect(g, 0, f"sign with a Python {alg} {suffix} key", "manifest",
                                "sign", "--key", kp, "--image", img_p, "--version", "1.0.0",
                                "--security-counter", 1, "--class", "k", "--out", mp)
            if rc != 0:
                continue
            printed = re.search(rb"key_id ([0-9a-f]{16})", out)
            g.eq(printed.group(1).decode() if printed else None, kid.hex(),
                 f"sign with {alg} {suffix}: key_id printed by iotsec")
            m = parse_manifest(read(mp))
            g.eq(m.key_id, kid, f"sign with {alg} {suffix}: manifest key_id")
            g.check(verify(pub, m.sig, m.signed),
                    f"sign with {alg} {suffix}: Python does not verify the signature")
            manifest_p = mp
        if manifest_p is None:
            continue
        pubs = [("spki.pem", pub.public_bytes(Enc.PEM, PubFmt.SubjectPublicKeyInfo)),
                ("spki.der", spki_der(pub))]
        if alg.startswith("rsa"):
            pubs += [("pkcs1.pem", pub.public_bytes(Enc.PEM, PubFmt.PKCS1)),
                     ("pkcs1.der", pub.public_bytes(Enc.DER, PubFmt.PKCS1))]
        if alg == "p256":
            # a compressed point in the SPKI: accepted, key_id over the uncompressed form
            der = spki_der(pub)
            point = pub.public_bytes(Enc.X962, PubFmt.CompressedPoint)
            alg_id = der[2:2 + 2 + der[3]]  # the AlgorithmIdentifier SEQUENCE
            compressed = (b"\x30" + bytes([len(alg_id) + 3 + len(point)]) + alg_id +
                          b"\x03" + bytes([1 + len(point)]) + b"\x00" + point)
            g.eq(serialization.load_der_public_key(compressed).public_numbers(),
                 pub.public_numbers(), "hand-built compressed SPKI decodes to the key")
            pubs.append(("compressed.der", compressed))
        # a certificate carrying the key (self-signed by Python; Ed25519 takes no hash)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"firmware signer {alg}")])
        day = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
                .serial_number(x509.random_serial_number()).not_valid_before(day)
                .not_valid_after(day + datetime.timedelta(days=1))
                .sign(priv, None if alg == "ed25519" else hashes.SHA256()))
        pubs.append(("cert.pem", cert.public_bytes(Enc.PEM)))
        other = write(f"keys-other-{alg}.pub", pem_public(gen_key("ed25519").public_key()))
        for suffix, data in pubs:
            tp = write(f"py-{alg}.pub.{suffix}", data)
            expect(g, 0, f"verify with a Python {alg} {suffix} public key", "manifest", "verify",
                   "--trust", tp, "--image", img_p, manifest_p)
        expect(g, 1, f"verify {alg} with another key", "manifest", "verify", "--trust", other,
               "--image", img_p, manifest_p, err="IOTSEC_E_UNKNOWN_KEY")
    return g


# ---- 1. manifests ------------------------------------------------------------------------------

def check_fields(g, m, want, what):
    """want: {type: expected value bytes}; also no field beyond those."""
    g.eq(sorted(m.fields), sorted(want), f"{what}: TLV types")
    for t, v in want.items():
        g.eq(m.fields.get(t), v, f"{what}: TLV {t:#04x}")


def group_manifests(state):
    g = Group("manifests")
    now = int(time.time())
    # (a) iotsec signs -> Python parses and verifies
    for n, alg in enumerate(("ed25519", "p256", "rsa2048", "rsa3072")):
        if alg not in state["iot_keys"]:
            g.check(False, f"{alg}: no iotsec key (keygen failed)")
            continue
        priv_p, _, pub = state["iot_keys"][alg]
        image = os.urandom(1 + 4099 * n + n)
        img_p = write(f"m-{alg}.bin", image)
        version, counter = f"2.{n}.7-rc.{n + 1}", (1 << (20 + 13 * n)) + n
        klass, device, not_after = f"class-{alg}", f"dev.{n}@site:{alg}", now + 86400 * (n + 1)
        chunk, uri, desc = 256 << n, f"https://fw.example/{alg}/{n}", f"build {n} {alg}"
        mp = path(f"m-{alg}.m")
        rc, _, _ = expect(g, 0, f"sign {alg}", "manifest", "sign", "--key", priv_p,
                          "--image", img_p, "--version", version,
                          "--security-counter", counter, "--class", klass,
                          "--device-id", device, "--not-after", not_after,
                          "--chunk-size", chunk, "--uri", uri, "--description", desc,
                          "--out", mp)
        if rc != 0:
            continue
        try:
            m = parse_manifest(read(mp))
        except ValueError as e:
            g.check(False, f"{alg}: Python cannot parse the manifest: {e}")
            continue
        g.eq(m.sig_alg, SIG_ALG[alg], f"{alg}: sig_alg")
        g.eq(m.key_id, key_id(pub), f"{alg}: key_id = SHA-256(Python SPKI)[:8]")
        if alg == "p256":
            g.eq(len(m.sig), 64, f"{alg}: raw r||s length")
        elif alg.startswith("rsa"):
            g.eq(len(m.sig), pub.key_size // 8, f"{alg}: signature length = modulus length")
        g.check(verify(pub, m.sig, m.signed), f"{alg}: Python does not verify iotsec's signature")
        if alg.startswith("rsa"):
            g.check(verify(pub, m.sig, m.signed, salt=32), f"{alg}: PSS salt is not 32")
            g.check(not verify(pub, m.sig, m.signed, salt=0), f"{alg}: PSS salt 0 verifies")
        g.check(not verify(pub, flip_bit(m.sig, len(m.sig) // 2), m.signed),
                f"{alg}: a flipped signature bit still verifies in Python")
        g.check(not verify(pub, m.sig, flip_bit(m.signed, 20)),
                f"{alg}: a flipped body bit still verifies in Python")
        check_fields(g, m, {
            T_COUNTER: u64(counter), T_VERSION: version.encode(), T_CLASS: klass.encode(),
            T_SIZE: u64(len(image)), T_DIGEST: sha256(image), T_DEVICE: device.encode(),
            T_NOT_AFTER: u64(not_after), T_CHUNK: chunk.to_bytes(4, "big"),
            T_URI: uri.encode(), T_DESCRIPTION: desc.encode()}, f"{alg} (iotsec-signed)")

    # (b) Python signs -> iotsec verifies
    for n, alg in enumerate(("ed25519", "p256", "rsa2048", "rsa3072")):
        priv = state["py_keys"].get(alg)
        if priv is None:
            g.check(False, f"{alg}: no Python key")
            continue
        pub_p = write(f"mpy-{alg}.pub", pem_public(priv.public_key()))
        image = os.urandom(1000 * n + 17)
        img_p = write(f"mpy-{alg}.bin", image)
        counter, version, klass = 0x0102030405060708 + n, f"3.{n}.0", "ecowatt-esp32"
        device, not_after = f"sensor-{n:04d}", now + 3600
        fields = [(T_COUNTER, u64(counter)), (T_VERSION, version.encode()),
                  (T_CLASS, klass.encode()), (T_SIZE, u64(len(image))),
                  (T_DIGEST, sha256(image)), (T_DEVICE, device.encode()),
                  (T_NOT_AFTER, u64(not_after)), (T_CHUNK, (2048).to_bytes(4, "big")),
                  (T_URI, f"coap://fw/{n}".encode()), (T_DESCRIPTION, b"py " + alg.encode()),
                  (0x9F, b"non-critical, skipped")]
        manifest = build_manifest(priv, fields)
        mp = write(f"mpy-{alg}.m", manifest)
        policy = ["--class", klass, "--device-id", device, "--now", now]
        expect(g, 0, f"{alg}: iotsec verifies a Python manifest", "manifest", "verify",
               "--trust", pub_p, "--image", img_p, "--min-counter", counter, *policy, mp)
        rc, out, _ = expect(g, 0, f"{alg}: show a Python manifest", "manifest", "show", mp)
        if rc == 0:
            shown = json.loads(out)
            want = {"format": 1, "sig_alg": SIG_NAME[SIG_ALG[alg]],
                    "key_id": key_id(priv.public_key()).hex(), "security_counter": counter,
                    "version": version, "device_class": klass, "image_size": len(image),
                    "image_digest": sha256(image).hex(), "device_id": device,
                    "not_after": not_after, "chunk_size": 2048, "uri": f"coap://fw/{n}",
                    "description": "py " + alg}
            for k, v in want.items():
                g.eq(shown.get(k), v, f"{alg}: show {k} of a Python manifest")
        # the library reads the counter and not_after as Python wrote them (big-endian u64)
        expect(g, 1, f"{alg}: --min-counter above Python's counter", "manifest", "verify",
               "--trust", pub_p, "--image", img_p, "--min-counter", counter + 1, *policy, mp,
               err="IOTSEC_E_ROLLBACK")
        expect(g, 1, f"{alg}: --now after Python's not_after", "manifest", "verify",
               "--trust", pub_p, "--image", img_p, "--class", klass, "--device-id", device,
               "--now", not_after + 1, mp, err="IOTSEC_E_EXPIRED")
        sig_at = len(manifest) - len(manifest) // 7
        expect(g, 1, f"{alg}: one bit of Python's signature flipped", "manifest", "verify",
               "--trust", pub_p, "--image", img_p, *policy,
               write(f"mpy-{alg}-badsig.m", flip_bit(manifest, sig_at)),
               err="IOTSEC_E_BAD_SIGNATURE")
        expect(g, 1, f"{alg}: one bit of Python's body flipped", "manifest", "verify",
               "--trust", pub_p, "--image", img_p, *policy,
               write(f"mpy-{alg}-badbody.m", flip_bit(manifest, 16 + 3 + 8 + 3 + 1)),
               err="IOTSEC_E_BAD_SIGNATURE")
        if alg.startswith("rsa"):
            # any salt length verifies (bindings-spec/SPEC.md §7.1)
            for salt in (0, 20, padding.PSS.MAX_LENGTH):
                expect(g, 0, f"{alg}: Python manifest with PSS salt {salt}", "manifest",
                       "verify", "--trust", pub_p, "--image", img_p, *policy,
                       write(f"mpy-{alg}-salt.m", build_manifest(priv, fields, salt=salt)))
        if alg == "p256":
            # no low-S rule: (r, n - s) verifies as well as (r, s)
            def high_s(k, msg, _salt):
                sig = sign(k, msg)
                s = int.from_bytes(sig[32:], "big")
                return sig[:32] + (P256_ORDER - s).to_bytes(32, "big")
            other = build_manifest(priv, fields, sign_fn=high_s)
            g.check(verify(priv.public_key(), parse_manifest(other).sig, other[:-66]),
                    "p256: the other-S signature does not verify in Python")
            expect(g, 0, "p256: Python manifest with the other S", "manifest", "verify",
                   "--trust", pub_p, "--image", img_p, *policy, write("mpy-highs.m", other))
            # r or s below 2^248: its 32 bytes start with a zero byte (left padding)
            for half, label in ((0, "r"), (32, "s")):
                def grind(k, msg, _salt):
                    while True:
                        sig = sign(k, msg)
                        if sig[half] == 0:
                            return sig
                short = build_manifest(priv, fields, sign_fn=grind)
                expect(g, 0, f"p256: Python manifest whose {label} starts with a zero byte",
                       "manifest", "verify", "--trust", pub_p, "--image", img_p, *policy,
                       write(f"mpy-short{label}.m", short))
        if alg == "rsa2048":
            # a PSS signature whose big-endian integer starts with a zero byte (I2OSP pads)
            def grind_rsa(k, msg, salt):
                while True:
                    sig = sign(k, msg, salt)
                    if sig[0] == 0:
                        return sig
            expect(g, 0, f"{alg}: Python signature starting with a zero byte", "manifest",
                   "verify", "--trust", pub_p, "--image", img_p, *policy,
                   write("mpy-rsa-zero.m", build_manifest(priv, fields, sign_fn=grind_rsa)))
    return g


# ---- 2. encrypted firmware ---------------------------------------------------------------------

def group_firmware(state):
    g = Group("firmware")
    fw_key = os.urandom(32)
    key_p = write("fw.key", fw_key)
    # (a) iotsec encrypts -> Python decrypts
    for alg, size in (("ed25519", 1), ("p256", 16), ("ed25519", 4095), ("rsa2048", 70001)):
        if alg not in state["iot_keys"]:
            g.check(False, f"{alg}: no iotsec key")
            continue
        priv_p, _, pub = state["iot_keys"][alg]
        image = os.urandom(size)
        img_p, enc_p, mp = write(f"e-{size}.bin", image), path(f"e-{size}.enc"), path(f"e-{size}.m")
        rc, _, _ = expect(g, 0, f"sign --encrypt-key ({size} bytes)", "manifest", "sign",
                          "--key", priv_p, "--image", img_p, "--version", "1.0",
                          "--security-counter", 5, "--class", "c", "--encrypt-key", key_p,
                          "--payload-out", enc_p, "--out", mp)
        if rc != 0:
            continue
        m = parse_manifest(read(mp))
        g.check(verify(pub, m.sig, m.signed), f"{size}: Python does not verify the signature")
        payload = read(enc_p)
        enc = m.fields.get(T_ENC, b"")
        if not g.eq(len(enc), 25, f"{size}: encryption TLV length"):
            continue
        g.eq(enc[0], 1, f"{size}: encryption alg")
        g.eq(enc[1:9], sha256(fw_key)[:8], f"{size}: encryption key_id = SHA-256(key)[:8]")
        g.eq(field_int(m, T_PAYLOAD_SIZE), len(payload), f"{size}: payload_size")
        g.eq(m.fields.get(T_PAYLOAD_DIGEST), sha256(payload), f"{size}: payload_digest")
        g.eq(field_int(m, T_SIZE), size, f"{size}: image_size")
        g.eq(m.fields.get(T_DIGEST), sha256(image), f"{size}: image_digest")
        try:
            plain = pkcs7_unpad(aes_cbc(fw_key, enc[9:25], payload, decrypt=True))
        except ValueError as e:
            plain = f"decryption/padding error: {e}"
        g.eq(plain, image, f"{size}: Python's AES-256-CBC decryption of the payload")
        # the same ciphertext under the wrong IV does not give the image
        wrong = aes_cbc(fw_key, flip_bit(enc[9:25], 0), payload, decrypt=True)
        g.check(wrong[:len(image)] != image[:len(wrong)], f"{size}: the wrong IV decrypts")

    # (b) Python encrypts -> iotsec verifies
    priv = state["py_keys"].get("p256")
    if priv is None:
        g.check(False, "no Python p256 key")
        return g
    pub_p = write("epy.pub", pem_public(priv.public_key()))
    other_key_p = write("fw-other.key", os.urandom(32))
    for size in (1, 15, 16, 4096, 65537):
        image, iv = os.urandom(size), os.urandom(16)
        payload = aes_cbc(fw_key, iv, pkcs7_pad(image))

        def manifest_for(data, digest_of=None):
            return build_manifest(priv, [
                (T_COUNTER, u64(9)), (T_VERSION, b"9.9.9"), (T_CLASS, b"c"),
                (T_SIZE, u64(size)), (T_DIGEST, sha256(image)),
                (T_ENC, b"\x01" + sha256(fw_key)[:8] + iv),
                (T_PAYLOAD_SIZE, u64(len(data))),
                (T_PAYLOAD_DIGEST, sha256(digest_of if digest_of is not None else data))])
        mp = write(f"epy-{size}.m", manifest_for(payload))
        enc_p = write(f"epy-{size}.enc", payload)
        expect(g, 0, f"iotsec verifies Python's encrypted payload ({size} bytes)", "manifest",
               "verify", "--trust", pub_p, "--payload", enc_p, "--decrypt-key", key_p, mp)
        expect(g, 1, f"{size}: another decryption key", "manifest", "verify", "--trust", pub_p,
               "--payload", enc_p, "--decrypt-key", other_key_p, mp, err="IOTSEC_E_UNKNOWN_KEY")
        expect(g, 1, f"{size}: one ciphertext bit flipped", "manifest", "verify",
               "--trust", pub_p, "--payload", write(f"epy-{size}-bad.enc",
                                                   flip_bit(payload, len(payload) - 20)),
               "--decrypt-key", key_p, mp, err="IOTSEC_E_DIGEST_MISMATCH")
    # a signed payload whose padding is wrong (digest right): refused
    image, iv = os.urandom(32), os.urandom(16)
    bad_pad = aes_cbc(fw_key, iv, image + bytes([16] * 15) + b"\x11")
    mp = write("epy-badpad.m", build_manifest(priv, [
        (T_COUNTER, u64(9)), (T_VERSION, b"9.9.9"), (T_CLASS, b"c"), (T_SIZE, u64(32)),
        (T_DIGEST, sha256(image)), (T_ENC, b"\x01" + sha256(fw_key)[:8] + iv),
        (T_PAYLOAD_SIZE, u64(48)), (T_PAYLOAD_DIGEST, sha256(bad_pad))]))
    expect(g, 1, "signed payload with a bad PKCS#7 pad", "manifest", "verify", "--trust", pub_p,
           "--payload", write("epy-badpad.enc", bad_pad), "--decrypt-key", key_p, mp,
           err="IOTSEC_E_DIGEST_MISMATCH")
    return g


# ---- 3. frames v1 (bindings-spec/SPEC.md §2) ---------------------------------------------------

def frame_keys(master, device_id, kid, down):
    tail = b"\x00" + bytes([1 if down else 0, kid]) + device_id.encode()
    mac = HKDF(hashes.SHA256(), 32, b"iotsec-frame-v1", b"mac" + tail).derive(master)
    enc = HKDF(hashes.SHA256(), 16, b"iotsec-frame-v1", b"enc" + tail).derive(master)
    return mac, enc


def hmac_sha256(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def frame_body(down, kid, device_id, ctr, iv, field):
    flags = (1 if iv is not None else 0) | (2 if down else 0)
    d = device_id.encode()
    return (bytes([1, flags, kid, len(d)]) + u64(ctr) + d + len(field).to_bytes(4, "big") +
            (iv or b"") + field)


def parse_frame(buf):
    """Binary frame v1 -> dict; raises ValueError on any layout error."""
    if len(buf) < 12 or buf[0] != 1:
        raise ValueError("header or version")
    flags, kid, id_len = buf[1], buf[2], buf[3]
    if flags & ~3 or not 1 <= id_len <= 64:
        raise ValueError(f"flags {flags:#x} or id_len {id_len}")
    ctr = int.from_bytes(buf[4:12], "big")
    pos = 12 + id_len
    dev = buf[12:pos].decode("ascii")
    plen = int.from_bytes(buf[pos:pos + 4], "big")
    pos += 4
    iv = None
    if flags & 1:
        iv, pos = buf[pos:pos + 16], pos + 16
    field = buf[pos:pos + plen]
    pos += plen
    if len(buf) != pos + 32 or len(field) != plen:
        raise ValueError(f"length {len(buf)}, expected {pos + 32}")
    return {"down": bool(flags & 2), "kid": kid, "ctr": ctr, "device_id": dev, "iv": iv,
            "field": field, "body": buf[:pos], "tag": buf[pos:]}


def b64d(text):
    return base64.b64decode(text, validate=True)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate member in {keys}")
    return dict(pairs)


def json_frame_to_parts(text):
    """The v1 JSON frame -> the same dict parse_frame gives, the binary layout rebuilt."""
    obj = json.loads(text, object_pairs_hook=no_duplicates)
    allowed = {"v", "device_id", "kid", "ctr", "payload", "mac", "dir", "enc", "iv"}
    if set(obj) - allowed or obj.get("v") != 1:
        raise ValueError(f"members {sorted(obj)}")
    if ("enc" in obj) != ("iv" in obj) or obj.get("enc", "aes-128-cbc") != "aes-128-cbc":
        raise ValueError("enc/iv")
    down = obj.get("dir") == "down"
    if "dir" in obj and not down:
        raise ValueError("dir")
    iv = b64d(obj["iv"]) if "iv" in obj else None
    field = b64d(obj["payload"])
    body = frame_body(down, obj["kid"], obj["device_id"], obj["ctr"], iv, field)
    return {"down": down, "kid": obj["kid"], "ctr": obj["ctr"], "device_id": obj["device_id"],
            "iv": iv, "field": field, "body": body, "tag": b64d(obj["mac"]), "members": list(obj)}


def py_seal(master, device_id, kid, ctr, down, payload, encrypt):
    mac_key, enc_key = frame_keys(master, device_id, kid, down)
    iv, field = None, payload
    if encrypt:
        iv = os.urandom(16)
        field = aes_cbc(enc_key, iv, pkcs7_pad(payload))
    body = frame_body(down, kid, device_id, ctr, iv, field)
    return body, iv, field, hmac_sha256(mac_key, body)


def check_opened(g, what, out, err, payload, header):
    """`iotsec frame open` accepted: the payload on stdout, the header JSON on stderr."""
    g.eq(out, payload, f"{what}: payload printed")
    try:
        got = json.loads(err.strip().splitlines()[-1])
    except (ValueError, IndexError):
        got = err
    g.eq(got, header, f"{what}: header on stderr")


def group_frames(state):
    g = Group("frames")
    master = os.urandom(32)
    secret_p = write("frame.secret", master)
    cases = [  # format, down, encrypt, kid, ctr, device id, payload size
        ("binary", False, False, 0, 1, "sensor-0042", 0),
        ("binary", False, True, 7, 2 ** 40 + 3, "a", 1),
        ("binary", True, False, 255, 2 ** 64 - 1, "Dev_1.2:x@y-z", 5000),
        ("binary", True, True, 1, 77, "d" * 64, 65536),
        ("json", False, False, 0, 2 ** 53 - 1, "sensor-0042", 300),
        ("json", False, True, 200, 5, "EcoWatt-001", 16),
        ("json", True, False, 3, 1000, "gw:7", 0),
        ("json", True, True, 4, 123456789, "x.y", 4095),
    ]
    # (a) iotsec seals -> Python checks
    for fmt, down, encrypt, kid, ctr, dev, size in cases:
        what = f"seal {fmt} {'down' if down else 'up'}{' enc' if encrypt else ''} ({size} bytes)"
        payload = os.urandom(size)
        args = ["frame", "seal", "--secret", secret_p, "--device-id", dev, "--kid", kid,
                "--ctr", ctr, "--direction", "down" if down else "up", "--format", fmt]
        rc, out, _ = expect(g, 0, what, *(args + (["--encrypt"] if encrypt else [])),
                            stdin=payload)
        if rc != 0:
            continue
        try:
            f = parse_frame(out) if fmt == "binary" else json_frame_to_parts(out)
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            g.check(False, f"{what}: Python cannot parse the frame: {e}")
            continue
        g.eq((f["down"], f["kid"], f["ctr"], f["device_id"], f["iv"] is not None),
             (down, kid, ctr, dev, encrypt), f"{what}: header fields")
        if fmt == "json":
            order = ["v", "device_id", "kid", "ctr"] + (["dir"] if down else []) + \
                (["enc", "iv"] if encrypt else []) + ["payload", "mac"]
            g.eq(f["members"], order, f"{what}: member order (bindings-spec/SPEC.md §3.1)")
        mac_key, enc_key = frame_keys(master, dev, kid, down)
        g.eq(f["tag"], hmac_sha256(mac_key, f["body"]), f"{what}: HMAC-SHA256 tag")
        other_mac, _ = frame_keys(master, dev, kid, not down)
        g.check(hmac_sha256(other_mac, f["body"]) != f["tag"],
                f"{what}: the other direction's key gives the same tag")
        if encrypt:
            try:
                plain = pkcs7_unpad(aes_cbc(enc_key, f["iv"], f["field"], decrypt=True))
            except ValueError as e:
                plain = f"padding error: {e}"
            g.eq(plain, payload, f"{what}: Python's AES-128-CBC decryption")
        else:
            g.eq(f["field"], payload, f"{what}: plaintext payload")

    # (b) Python seals -> iotsec opens
    for fmt, down, encrypt, kid, ctr, dev, size in cases:
        direction = "down" if down else "up"
        what = f"open Python {fmt} {direction}{' enc' if encrypt else ''} ({size} bytes)"
        payload = os.urandom(size)
        body, iv, field, tag = py_seal(master, dev, kid, ctr, down, payload, encrypt)
        bad_tag = flip_bit(tag, 31, 7)

        def encode(t):
            if fmt == "binary":
                return body + t
            obj = {"mac": base64.b64encode(t).decode(), "ctr": ctr,
                   "payload": base64.b64encode(field).decode(), "kid": kid, "device_id": dev,
                   "v": 1}
            if down:
                obj["dir"] = "down"
            if encrypt:
                obj["iv"], obj["enc"] = base64.b64encode(iv).decode(), "aes-128-cbc"
            # Python's own spelling: its member order, spaces, or newlines and indentation
            return json.dumps(obj, indent=2 if kid % 2 else None).encode()
        rc, out, err = expect(g, 0, what, "frame", "open", "--secret", secret_p, "--direction",
                              direction, "--format", fmt, stdin=encode(tag))
        if rc == 0:
            check_opened(g, what, out, err, payload, {
                "v": 1, "device_id": dev, "kid": kid, "ctr": ctr, "dir": direction,
                "encrypted": encrypt})
        expect(g, 1, f"{what} with a wrong tag", "frame", "open", "--secret", secret_p,
               "--direction", direction, "--format", fmt, stdin=encode(bad_tag),
               err="IOTSEC_E_BAD_MAC")
    return g


# ---- 4. legacy EcoWatt (bindings-spec/SPEC.md §4) ----------------------------------------------

def ecowatt_mac(mac_key, nonce, payload_text):
    return std_hmac.new(mac_key, str(nonce).encode() + payload_text.encode(),
                        hashlib.sha256).hexdigest()


def group_ecowatt(state):
    g = Group("ecowatt")
    mac_key, enc_key = os.urandom(32), os.urandom(16)
    mac_p, enc_p = write("eco.mac", mac_key), write("eco.enc", enc_key)
    cases = [("EcoWatt-001", 1, 0, False), ("EcoWatt-001", 10001, 57, False),
             ("EcoWatt-002", 2 ** 53 - 1, 16, True), ("e.w:3", 424242, 1000, True),
             ("e", 9, 0, True)]
    for dev, nonce, size, encrypt in cases:
        what = f"ecowatt seal nonce {nonce}{' enc' if encrypt else ''} ({size} bytes)"
        payload = os.urandom(size)
        args = ["frame", "seal", "--format", "ecowatt", "--mac-key", mac_p, "--device-id", dev,
                "--nonce", nonce] + (["--enc-key", enc_p] if encrypt else [])
        rc, out, _ = expect(g, 0, what, *args, stdin=payload)
        if rc != 0:
            continue
        try:
            obj = json.loads(out, object_pairs_hook=no_duplicates)
        except ValueError as e:
            g.check(False, f"{what}: not JSON: {e}")
            continue
        want_members = ["device_id", "nonce"] + (["encrypted", "iv"] if encrypt else []) + \
            ["payload", "mac"]
        g.eq(list(obj), want_members, f"{what}: members")
        g.eq((obj.get("device_id"), obj.get("nonce")), (dev, nonce), f"{what}: device, nonce")
        text = obj.get("payload", "")
        g.eq(obj.get("mac"), ecowatt_mac(mac_key, nonce, text),
             f"{what}: mac = hmac(ascii(nonce) || payload text), lowercase hex")
        g.check(obj.get("mac") != ecowatt_mac(mac_key, nonce + 1, text),
                f"{what}: the mac does not depend on the nonce")
        field = b64d(text)
        if encrypt:
            g.eq(obj.get("encrypted"), True, f"{what}: encrypted")
            try:
                plain = pkcs7_unpad(aes_cbc(enc_key, b64d(obj["iv"]), field, decrypt=True))
            except (ValueError, KeyError) as e:
                plain = f"decryption error: {e}"
            g.eq(plain, payload, f"{what}: Python's AES-128-CBC decryption")
        else:
            g.eq(field, payload, f"{what}: payload")

    for dev, nonce, size, encrypt in cases:
        what = f"ecowatt open Python nonce {nonce}{' enc' if encrypt else ''} ({size} bytes)"
        payload = os.urandom(size)
        obj = {"device_id": dev, "nonce": nonce}
        if encrypt:
            iv = os.urandom(16)
            obj["encrypted"], obj["iv"] = True, base64.b64encode(iv).decode()
            field = aes_cbc(enc_key, iv, pkcs7_pad(payload))
        else:
            field = payload
        obj["payload"] = base64.b64encode(field).decode()
        mac = ecowatt_mac(mac_key, nonce, obj["payload"])
        keys = ["--mac-key", mac_p] + (["--enc-key", enc_p] if encrypt else [])

        def text(m):
            return json.dumps(dict(obj, mac=m)).encode()
        rc, out, err = expect(g, 0, what, "frame", "open", "--format", "ecowatt", *keys,
                              stdin=text(mac))
        if rc == 0:
            check_opened(g, what, out, err, payload, {
                "format": "ecowatt", "device_id": dev, "nonce": nonce, "encrypted": encrypt})
        wrong = ecowatt_mac(mac_key, nonce + 1, obj["payload"])
        expect(g, 1, f"{what} with another nonce's mac", "frame", "open", "--format", "ecowatt",
               *keys, stdin=text(wrong), err="IOTSEC_E_BAD_MAC")
        if any(c in "abcdef" for c in mac):
            expect(g, 1, f"{what} with an uppercase mac", "frame", "open", "--format",
                   "ecowatt", *keys, stdin=text(mac.upper()), err="IOTSEC_E_BAD_ENCODING")
    return g


# ---- 6. X.509 certificates and CRLs (docs/DESIGN.md §7, §9) -----------------------------------

def cert_signed_by(cert, pub):
    """True when pub verifies cert's signature (cryptography 38 has no
    verify_directly_issued_by)."""
    sig, tbs, hash_alg = cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(sig, tbs)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, tbs, ec.ECDSA(hash_alg))
        else:
            pub.verify(sig, tbs, padding.PKCS1v15(), hash_alg)
        return True
    except (InvalidSignature, TypeError):
        return False  # TypeError: a key of another type than the signature's


def ext(cert_or_crl, cls):
    try:
        return cert_or_crl.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def identity(out):
    """(device id, SHA-256 fingerprint hex) from `iotsec crl check`'s accepting line."""
    m = re.search(rb"device (\S+) sha256:([0-9a-f]{64})", out)
    return (m.group(1).decode(), m.group(2).decode()) if m else out


def py_device_cert(ca_cert, ca_key, device_id, now, trust_domain, serial=None, not_after=None,
                   hash_alg=hashes.SHA256()):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(serial if serial is not None else x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(not_after or now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
         .add_extension(x509.SubjectAlternativeName([
             x509.DNSName(device_id),
             x509.UniformResourceIdentifier(f"spiffe://{trust_domain}/device/{device_id}")]),
             critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False))
    return b.sign(ca_key, hash_alg)


def py_crl(ca_cert, signing_key, serials, now, hash_alg=None, next_update=None,
           entry_extensions=False):
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
         .last_update(now - datetime.timedelta(minutes=5))
         .next_update(next_update or now + datetime.timedelta(days=1))
         .add_extension(x509.CRLNumber(7), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             signing_key.public_key()), critical=False))
    for s in serials:
        r = (x509.RevokedCertificateBuilder().serial_number(s)
             .revocation_date(now - datetime.timedelta(minutes=1)))
        if entry_extensions:  # non-critical entry extensions (RFC 5280 §5.3)
            r = (r.add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                 .add_extension(x509.InvalidityDate(datetime.datetime(2020, 1, 2, 3, 4, 5)),
                                critical=False))
        b = b.add_revoked_certificate(r.build())
    return b.sign(signing_key, hash_alg or hashes.SHA256())


def group_x509(state):
    g = Group("x509")
    now = datetime.datetime.now(datetime.timezone.utc)
    cas = {}
    for ca_alg in ("p256", "rsa2048"):
        d = path(f"ca-{ca_alg}")
        days = 3650 if ca_alg == "p256" else 36500  # the maximum: notAfter past 2049
        rc, _, _ = expect(g, 0, f"ca init {ca_alg}", "ca", "init", "--dir", d, "--alg", ca_alg,
                          "--days", days)
        if rc != 0:
            continue
        ca_cert = x509.load_pem_x509_certificate(read(os.path.join(d, "ca.pem")))
        ca_key = serialization.load_pem_private_key(read(os.path.join(d, "ca.key")), None)
        g.eq(spki_der(ca_key.public_key()), spki_der(ca_cert.public_key()),
             f"CA {ca_alg}: ca.key matches ca.pem")
        g.eq(alg_of(ca_key), ca_alg, f"CA {ca_alg}: key type")
        g.check(cert_signed_by(ca_cert, ca_cert.public_key()), f"CA {ca_alg}: not self-signed")
        bc = ext(ca_cert, x509.BasicConstraints)
        g.eq((bc.critical, bc.value.ca, bc.value.path_length) if bc else None, (True, True, 0),
             f"CA {ca_alg}: basicConstraints")
        ku = ext(ca_cert, x509.KeyUsage)
        g.eq((ku.critical, ku.value.key_cert_sign, ku.value.crl_sign) if ku else None,
             (True, True, True), f"CA {ca_alg}: keyUsage")
        span = attr_utc(ca_cert, "not_valid_after") - now
        g.check(abs(span - datetime.timedelta(days=days)) <= datetime.timedelta(days=1),
                f"CA {ca_alg}: notAfter {attr_utc(ca_cert, 'not_valid_after')}, want now + "
                f"{days} days")
        cas[ca_alg] = (d, ca_cert, ca_key)
    if len(cas) != 2:
        return g
    for ca_alg, (d, ca_cert, ca_key) in cas.items():
        other_alg = "rsa2048" if ca_alg == "p256" else "p256"
        other_key = cas[other_alg][2]
        ca_p = os.path.join(d, "ca.pem")
        certs = {}
        for i in range(2):
            dev = f"dev-{ca_alg}-{i}:{os.urandom(4).hex()}"
            cp, kp = path(f"{ca_alg}-dev{i}.pem"), path(f"{ca_alg}-dev{i}.key")
            rc, out, _ = expect(g, 0, f"ca issue ({ca_alg})", "ca", "issue", "--dir", d,
                                "--device-id", dev, "--out-key", kp, "--out-cert", cp)
            if rc != 0:
                continue
            what = f"device cert {i} of the {ca_alg} CA"
            cert = x509.load_pem_x509_certificate(read(cp))
            certs[i] = (cp, cert, dev)
            cn = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
            g.eq(cn, [dev], f"{what}: CN")
            san = ext(cert, x509.SubjectAlternativeName)
            g.eq(san.value.get_values_for_type(x509.DNSName) if san else None, [dev],
                 f"{what}: SAN DNS")
            eku = ext(cert, x509.ExtendedKeyUsage)
            g.eq(list(eku.value) if eku else None, [ExtendedKeyUsageOID.CLIENT_AUTH],
                 f"{what}: extendedKeyUsage")
            ku = ext(cert, x509.KeyUsage)
            g.check(ku is not None and ku.value.digital_signature,
                    f"{what}: keyUsage digitalSignature")
            # random 128-bit: positive, below 2^128; above 2^64 except with probability 2^-64
            g.check(2 ** 64 < cert.serial_number < 2 ** 128,
                    f"{what}: serial {cert.serial_number:#x} is not a positive 128-bit number")
            printed = re.search(rb"serial ([0-9a-f]+)", out)
            g.eq(int(printed.group(1), 16) if printed else None, cert.serial_number,
                 f"{what}: serial printed")
            g.eq(cert.issuer, ca_cert.subject, f"{what}: issuer")
            g.check(cert_signed_by(cert, ca_cert.public_key()),
                    f"{what}: the CA's signature does not verify in Python")
            g.check(not cert_signed_by(cert, other_key.public_key()),
                    f"{what}: verifies under the other CA's key")
            days = attr_utc(cert, "not_valid_after") - attr_utc(cert, "not_valid_before")
            g.check(abs(days - datetime.timedelta(days=365)) <= datetime.timedelta(days=1),
                    f"{what}: validity {days}, want 365 days")
            dkey = serialization.load_pem_private_key(read(kp), None)
            g.eq(spki_der(dkey.public_key()), spki_der(cert.public_key()),
                 f"{what}: device key matches the certificate")
            g.eq(alg_of(dkey), "p256", f"{what}: device key type")
        if len(certs) != 2:
            continue
        (c0_p, c0, _), (c1_p, c1, dev1) = certs[0], certs[1]

        # iotsec revokes certificate 0, writes the CRL (PEM and DER) -> Python
        expect(g, 0, f"ca revoke ({ca_alg})", "ca", "revoke", "--dir", d, c0_p)
        crl_p, crl_der_p = path(f"{ca_alg}-crl.pem"), path(f"{ca_alg}-crl.der")
        expect(g, 0, f"ca crl ({ca_alg})", "ca", "crl", "--dir", d, "--out", crl_p)
        expect(g, 0, f"ca crl --der ({ca_alg})", "ca", "crl", "--dir", d, "--out", crl_der_p,
               "--der")
        for label, loader, p in (("PEM", x509.load_pem_x509_crl, crl_p),
                                 ("DER", x509.load_der_x509_crl, crl_der_p)):
            what = f"iotsec {label} CRL of the {ca_alg} CA"
            try:
                crl = loader(read(p))
            except (ValueError, OSError) as e:
                g.check(False, f"{what}: Python cannot load it: {e}")
                continue
            g.check(crl.is_signature_valid(ca_cert.public_key()),
                    f"{what}: signature does not verify against the CA")
            g.check(not crl.is_signature_valid(other_key.public_key()),
                    f"{what}: verifies against the other CA")
            g.eq(crl.issuer, ca_cert.subject, f"{what}: issuer")
            g.eq([r.serial_number for r in crl], [c0.serial_number], f"{what}: revoked serials")
            g.check(crl.get_revoked_certificate_by_serial_number(c1.serial_number) is None,
                    f"{what}: lists the certificate not revoked")
            span = attr_utc(crl, "next_update") - attr_utc(crl, "last_update")
            g.eq(span, datetime.timedelta(days=30), f"{what}: nextUpdate - thisUpdate")
            g.check(abs(attr_utc(crl, "last_update") - now) < datetime.timedelta(minutes=10),
                    f"{what}: thisUpdate {attr_utc(crl, 'last_update')} is not now")
            aki, ski = ext(crl, x509.AuthorityKeyIdentifier), ext(ca_cert,
                                                                 x509.SubjectKeyIdentifier)
            g.check(aki is not None and ski is not None and
                    aki.value.key_identifier == ski.value.digest,
                    f"{what}: authorityKeyIdentifier is not the CA's subjectKeyIdentifier")
            g.check(ext(crl, x509.CRLNumber) is not None, f"{what}: no cRLNumber")
        expect(g, 1, f"crl check: iotsec CRL revokes cert 0 ({ca_alg})", "crl", "check",
               "--ca", ca_p, "--crl", crl_p, c0_p, err="IOTSEC_E_REVOKED")

        # Python builds CRLs with the CA key -> iotsec crl check
        py_p = write(f"{ca_alg}-py.crl", py_crl(ca_cert, ca_key, [c1.serial_number], now)
                     .public_bytes(Enc.PEM))
        py_der_p = write(f"{ca_alg}-py.crl.der", py_crl(ca_cert, ca_key, [c1.serial_number], now)
                         .public_bytes(Enc.DER))
        for label, p in (("PEM", py_p), ("DER", py_der_p)):
            expect(g, 1, f"Python {label} CRL ({ca_alg}) revokes cert 1", "crl", "check",
                   "--ca", ca_p, "--crl", p, c1_p, err="IOTSEC_E_REVOKED")
            rc, out, _ = expect(g, 0, f"Python {label} CRL ({ca_alg}): cert 0 not listed",
                                "crl", "check", "--ca", ca_p, "--crl", p, c0_p)
        rc, out, _ = expect(g, 0, f"crl check of cert 1 without CRL ({ca_alg})", "crl", "check",
                            "--ca", ca_p, c1_p)
        if rc == 0:
            g.eq(identity(out), (dev1, c1.fingerprint(hashes.SHA256()).hex()),
                 f"crl check ({ca_alg}): identity and fingerprint printed")
        empty_p = write(f"{ca_alg}-py-empty.crl", py_crl(ca_cert, ca_key, [], now)
                        .public_bytes(Enc.PEM))
        expect(g, 0, f"empty Python CRL ({ca_alg})", "crl", "check", "--ca", ca_p,
               "--crl", empty_p, c1_p)
        # same issuer name, signed by the other CA's key: not the CA's CRL
        forged_p = write(f"{ca_alg}-py-forged.crl", py_crl(ca_cert, other_key, [], now)
                         .public_bytes(Enc.PEM))
        expect(g, 1, f"Python CRL signed by another key ({ca_alg})", "crl", "check",
               "--ca", ca_p, "--crl", forged_p, c1_p, err="IOTSEC_E_UNTRUSTED")

        # a device certificate Python issues with the CA key -> iotsec crl check
        dev = f"py-{ca_alg}.{os.urandom(3).hex()}"
        pycert = py_device_cert(ca_cert, ca_key, dev, now, "fleet.example")
        pc_p = write(f"{ca_alg}-pydev.pem", pycert.public_bytes(Enc.PEM))
        for source in (["--id-source", "cn"], ["--id-source", "dns"],
                       ["--id-source", "uri", "--trust-domain", "fleet.example"]):
            rc, out, _ = expect(g, 0, f"Python device cert ({ca_alg}) {source[1]}", "crl",
                                "check", "--ca", ca_p, "--crl", crl_p, *source, pc_p)
            if rc == 0:
                g.eq(identity(out), (dev, pycert.fingerprint(hashes.SHA256()).hex()),
                     f"Python device cert ({ca_alg}) {source[1]}: identity, fingerprint")
        revoking_p = write(f"{ca_alg}-py-pydev.crl", py_crl(
            ca_cert, ca_key, [c1.serial_number, pycert.serial_number], now).public_bytes(Enc.PEM))
        expect(g, 1, f"Python device cert ({ca_alg}) on a Python CRL", "crl", "check",
               "--ca", ca_p, "--crl", revoking_p, pc_p, err="IOTSEC_E_REVOKED")
        other_ca_p = os.path.join(cas[other_alg][0], "ca.pem")
        expect(g, 1, f"Python device cert ({ca_alg}) against the other CA", "crl", "check",
               "--ca", other_ca_p, pc_p, err="IOTSEC_E_UNTRUSTED")

        # serials at the edges (1 byte, a high bit needing a DER zero byte, 20 bytes,
        # neighbours), entry extensions, SHA-384, GeneralizedTime (notAfter 9999, RFC 5280
        # §4.1.2.5; nextUpdate 2055)
        forever = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
        edge = {}
        for serial in (1, 0x80, 0x8000, 2 ** 127, 2 ** 159 - 2, 2 ** 159 - 1):
            c = py_device_cert(ca_cert, ca_key, f"edge-{serial:x}"[:40], now, "fleet.example",
                               serial=serial, not_after=forever)
            g.eq(c.serial_number, serial, f"edge serial {serial:#x}: Python's certificate")
            edge[serial] = write(f"{ca_alg}-edge-{serial:x}.pem", c.public_bytes(Enc.PEM))
        listed = (1, 0x80, 2 ** 127, 2 ** 159 - 1)
        edge_crl = py_crl(ca_cert, ca_key, listed, now, hash_alg=hashes.SHA384(),
                          next_update=datetime.datetime(2055, 6, 1,
                                                        tzinfo=datetime.timezone.utc),
                          entry_extensions=True)
        edge_p = write(f"{ca_alg}-edge.crl", edge_crl.public_bytes(Enc.DER))
        for serial, cp in edge.items():
            if serial in listed:
                expect(g, 1, f"edge serial {serial:#x} ({ca_alg}) revoked", "crl", "check",
                       "--ca", ca_p, "--crl", edge_p, cp, err="IOTSEC_E_REVOKED")
            else:
                expect(g, 0, f"edge serial {serial:#x} ({ca_alg}) not revoked", "crl", "check",
                       "--ca", ca_p, "--crl", edge_p, cp)

    # a PKI built entirely by Python: CA certificate (Ed25519, or P-384 with SHA-384; its
    # subject in PrintableString while the CRL spells the issuer in UTF8String: names compare
    # by RFC 5280 §7.1 rules), device certificate, CRL
    for ca_alg in ("ed25519", "p384"):
        if ca_alg == "ed25519":
            key, hash_alg = ed25519.Ed25519PrivateKey.generate(), None
        else:
            key, hash_alg = ec.generate_private_key(ec.SECP384R1()), hashes.SHA384()
        attrs = [(NameOID.ORGANIZATION_NAME, "Example Fleet"), (NameOID.COMMON_NAME,
                                                                 f"Python CA {ca_alg}")]
        printable = x509.Name([x509.NameAttribute(o, v, _type=x509.name._ASN1Type.PrintableString)
                               for o, v in attrs])
        utf8 = x509.Name([x509.NameAttribute(o, v) for o, v in attrs])
        ca_cert = (x509.CertificateBuilder().subject_name(printable).issuer_name(printable)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=100))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False)
                   .sign(key, hash_alg))
        ca_p = write(f"py-ca-{ca_alg}.pem", ca_cert.public_bytes(Enc.PEM))
        devs = []
        for i in range(2):
            dev = f"py-pki-{ca_alg}-{i}"
            c = py_device_cert(ca_cert, key, dev, now, "fleet.example", hash_alg=hash_alg)
            devs.append((dev, c, write(f"py-pki-{ca_alg}-{i}.pem", c.public_bytes(Enc.PEM))))
        crl = (x509.CertificateRevocationListBuilder().issuer_name(utf8)
               .last_update(now - datetime.timedelta(minutes=5))
               .next_update(now + datetime.timedelta(days=1))
               .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                        .serial_number(devs[0][1].serial_number)
                                        .revocation_date(now).build())
               .sign(key, hash_alg))
        g.check(crl.issuer.public_bytes() != ca_cert.subject.public_bytes(),
                f"Python PKI {ca_alg}: the CRL issuer is not spelled differently")
        crl_p = write(f"py-pki-{ca_alg}.crl", crl.public_bytes(Enc.PEM))
        expect(g, 1, f"Python PKI {ca_alg}: revoked device", "crl", "check", "--ca", ca_p,
               "--crl", crl_p, devs[0][2], err="IOTSEC_E_REVOKED")
        rc, out, _ = expect(g, 0, f"Python PKI {ca_alg}: good device", "crl", "check",
                            "--ca", ca_p, "--crl", crl_p, devs[1][2])
        if rc == 0:
            g.eq(identity(out), (devs[1][0], devs[1][1].fingerprint(hashes.SHA256()).hex()),
                 f"Python PKI {ca_alg}: identity, fingerprint")
    return g


def main():
    global CLI, TMP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    CLI, TMP = a.cli, a.tmp
    state = {"iot_keys": {}, "py_keys": {}}
    groups = []
    for fn in (group_keys, group_manifests, group_firmware, group_frames, group_ecowatt,
               group_x509):
        try:
            groups.append(fn(state))
        except Exception as e:  # a crash in one group must not hide the others' results
            g = Group(fn.__name__[6:])
            g.check(False, f"uncaught {type(e).__name__}: {e}")
            traceback.print_exc()
            groups.append(g)
    for g in groups:
        print(g.line())
    failed = sum(g.failed for g in groups)
    passed = sum(g.passed for g in groups)
    print(f"total: {passed} passed, {failed} failed (cryptography {cryptography.__version__}, "
          f"Python {sys.version.split()[0]})")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
