#!/usr/bin/env bash
# Independent check of the committed frame vectors (bindings-spec/vectors/frame_v1.json,
# frame_json.json, ecowatt.json, replay_window.json): a second implementation written from
# bindings-spec/SPEC.md §2–§5 in Python's standard library (HKDF, HMAC, the binary layout,
# base64, the replay window and its persisted form), with AES-128-CBC done by the openssl
# command-line tool. It shares no code with libiotsec, so a vector that both agree on is right by the
# spec, not only by the library. Exits non-zero and says which vector failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v python3 >/dev/null || { echo "frame_vectors: python3 is required"; exit 1; }
command -v openssl >/dev/null || { echo "frame_vectors: openssl is required"; exit 1; }

python3 - <<'EOF'
import base64, hashlib, hmac, json, struct, subprocess, sys

V = "bindings-spec/vectors/"
fails = []

def check(cond, what):
    if not cond:
        fails.append(what)

def hkdf(master, info, n):
    prk = hmac.new(b"iotsec-frame-v1", master, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:n]

def aes_cbc(key, iv, data):
    # PKCS#7 padding by openssl enc (its default)
    return subprocess.run(["openssl", "enc", "-aes-128-cbc", "-K", key.hex(), "-iv", iv.hex()],
                          input=data, stdout=subprocess.PIPE, check=True).stdout

def frame_from(device_id, kid, down, ctr, iv, field, mac_key):
    flags = (1 if iv is not None else 0) | (2 if down else 0)
    d = device_id.encode()
    body = bytes([1, flags, kid, len(d)]) + struct.pack(">Q", ctr) + d
    body += struct.pack(">I", len(field)) + (iv or b"") + field
    return body + hmac.new(mac_key, body, hashlib.sha256).digest()

# ---- binary frames -------------------------------------------------------------------
fv = json.load(open(V + "frame_v1.json"))
keys = {}
for v in fv["vectors"]:
    name, master = v["name"], bytes.fromhex(v["master"])
    down = v["direction"] == "down"
    info = bytes([0, 1 if down else 0, v["kid"]]) + v["device_id"].encode()
    mk, ek = hkdf(master, b"mac" + info, 32), hkdf(master, b"enc" + info, 16)
    check(mk.hex() == v["mac_key"], name + ": mac_key")
    check(ek.hex() == v["enc_key"], name + ": enc_key")
    payload = bytes.fromhex(v["payload"])
    iv = bytes.fromhex(v["iv"]) if v["encrypted"] else None
    field = aes_cbc(ek, iv, payload) if iv is not None else payload
    fr = frame_from(v["device_id"], v["kid"], down, v["ctr"], iv, field, mk)
    check(fr.hex() == v["frame"], name + ": frame")
    check(fr[-32:].hex() == v["tag"], name + ": tag")
    keys[name] = (mk, ek, v)
for v in fv["invalid"]:
    # every invalid frame differs from what its keys' vector would accept
    mk, ek, base = keys[v["keys"]]
    fr = bytes.fromhex(v["frame"])
    tag_ok = len(fr) >= 32 and hmac.compare_digest(
        hmac.new(mk, fr[:-32], hashlib.sha256).digest(), fr[-32:])
    authentic = v["error"] in ("IOTSEC_E_WRONG_DIRECTION", "IOTSEC_E_WRONG_DEVICE",
                               "IOTSEC_E_DECRYPT")
    if authentic:
        check(tag_ok, v["name"] + ": should carry a valid tag")
    elif v["error"] == "IOTSEC_E_BAD_MAC":
        check(not tag_ok, v["name"] + ": tag should not verify")

# ---- JSON frames ---------------------------------------------------------------------
fj = json.load(open(V + "frame_json.json"))
def json_to_frame(text):
    o = json.loads(text)
    field = base64.b64decode(o["payload"], validate=True)
    iv = base64.b64decode(o["iv"], validate=True) if "iv" in o else None
    d = o["device_id"].encode()
    flags = (1 if iv is not None else 0) | (2 if o.get("dir") == "down" else 0)
    body = bytes([o["v"], flags, o["kid"], len(d)]) + struct.pack(">Q", o["ctr"]) + d
    body += struct.pack(">I", len(field)) + (iv or b"") + field
    return body + base64.b64decode(o["mac"], validate=True)
for v in fj["vectors"] + fj["equivalent"]:
    check(json_to_frame(v["json"]).hex() == v["frame"], "json " + v["name"])
    check(v["name"] not in keys or keys[v["name"]][2]["frame"] == v["frame"],
          "json " + v["name"] + ": same frame as frame_v1.json")

# ---- legacy EcoWatt ------------------------------------------------------------------
fe = json.load(open(V + "ecowatt.json"))
mk, ek = bytes.fromhex(fe["mac_key"]), bytes.fromhex(fe["enc_key"])
def eco_ok(text):
    o = json.loads(text)
    mac = hmac.new(mk, str(o["nonce"]).encode() + o["payload"].encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, o["mac"]), o
for v in fe["vectors"]:
    ok, o = eco_ok(v["json"])
    check(ok, "ecowatt " + v["name"] + ": mac")
    check(o["nonce"] == v["nonce"] and o["device_id"] == v["device_id"], "ecowatt " + v["name"])
    payload = bytes.fromhex(v["payload"])
    field = aes_cbc(ek, bytes.fromhex(v["iv"]), payload) if v["encrypted"] else payload
    check(base64.b64decode(o["payload"], validate=True) == field, "ecowatt " + v["name"] + ": payload")
for v in fe["weaknesses"]:
    check(eco_ok(v["captured"])[0] and eco_ok(v["forged"])[0], "ecowatt weakness " + v["name"])

# ---- replay window -------------------------------------------------------------------
fr_ = json.load(open(V + "replay_window.json"))
for s in fr_["scenarios"]:
    W, seen, hi = s["window"], set(), 0
    for ctr, want in s["steps"]:
        fresh = ctr != 0 and ctr not in seen and (ctr > hi or hi - ctr < W)
        check(("accept" if fresh else "replay") == want, "replay %s: ctr %d" % (s["name"], ctr))
        if fresh:
            seen.add(ctr)
            hi = max(hi, ctr)
    bits = [0] * 16
    for c in seen:
        d = hi - c
        if d < W:
            bits[d // 64] |= 1 << (d % 64)
    state = bytes([1]) + struct.pack(">HQ", W, hi) + b"".join(struct.pack(">Q", b) for b in bits)
    check(hi == s["highest"], "replay %s: highest" % s["name"])
    check(state.hex() == s["state"], "replay %s: state" % s["name"])

if fails:
    print("frame_vectors: %d mismatches:" % len(fails))
    for f in fails:
        print("  " + f)
    sys.exit(1)
print("frame_vectors: %d binary, %d JSON, %d ecowatt, %d replay vectors agree with an "
      "independent implementation" % (len(fv["vectors"]), len(fj["vectors"]) + len(fj["equivalent"]),
                                      len(fe["vectors"]), len(fr_["scenarios"])))
EOF
