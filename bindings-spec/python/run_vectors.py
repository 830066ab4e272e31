#!/usr/bin/env python3
"""Pass every vector of every file in bindings-spec/vectors/ through the reference binding
(iotsec.py) against the built shared library, and check the binding itself against the C ABI.

    IOTSEC_LIB=build/libiotsec.so.0 python3 bindings-spec/python/run_vectors.py \
        [--vectors DIR] [--abi bindings-spec/abi.json] [--layout LAYOUT.json]

  --layout  the output of the C program `python3 iotsec.py --layout-source` compiled against
            the headers: every mirrored struct's size, alignment and member offsets must equal
            ctypes' (tests/scripts/bindings_python.sh does this)
  --abi     every prototype the binding declares must have the parameter count and C types of
            abi.json, and the binding's error table must be abi.json's

A vector file, or a list inside one, that this runner does not know is a failure: a new
vector cannot be skipped silently. Prints one line per file and exits 1 on any failure.
"""
import argparse
import ctypes
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotsec  # noqa: E402
from iotsec import IotsecError  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
JSON_CTR_MAX = (1 << 53) - 1


class Runner:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def ok(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures.append(what)
        return cond

    def eq(self, got, want, what):
        return self.ok(got == want, "%s: got %r, want %r" % (what, got, want))

    def result(self, fn, want, what):
        """Call fn(); the IOTSEC_* name of its outcome must be want. Returns fn's value."""
        try:
            v = fn()
            got = "IOTSEC_OK"
        except IotsecError as e:
            v, got = None, e.name
        self.eq(got, want, what)
        return v


def is_malformed(name):
    return iotsec.ERRORS[name] <= -100 and iotsec.ERRORS[name] >= -199


def known(r, doc, path, meta, lists):
    for k in doc:
        r.ok(k in meta or k in lists, "%s: unknown member %r (teach run_vectors.py)" % (path, k))


# ---- frames ----------------------------------------------------------------------------------


def frame_keys(v):
    return iotsec.FrameKeys(bytes.fromhex(v["master"]), v["device_id"], v["kid"], v["direction"])


def run_frame_v1(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator"}, {"vectors", "invalid"})
    by_name = {v["name"]: v for v in doc["vectors"]}
    ctx["frame_v1"] = by_name
    for v in doc["vectors"]:
        n = "frame_v1 " + v["name"]
        frame = bytes.fromhex(v["frame"])
        payload = bytes.fromhex(v["payload"])
        iv = bytes.fromhex(v["iv"]) if v["iv"] else None
        with frame_keys(v) as k:
            r.eq(k.enc_key.hex(), v["enc_key"], n + " enc_key")
            r.eq(k.seal(v["ctr"], payload, v["encrypted"], iv).hex(), v["frame"], n + " seal")
            r.eq(frame[-32:].hex(), v["tag"], n + " tag")
            h, p = k.open(frame)
            r.eq(p, payload, n + " open payload")
            for hh in (h, iotsec.frame_peek(frame)):
                r.eq((hh.ctr, hh.kid, hh.device_id, hh.direction, hh.encrypted, hh.iv),
                     (v["ctr"], v["kid"], v["device_id"], v["direction"], v["encrypted"], iv),
                     n + " header")
            w = iotsec.ReplayWindow(64)
            r.eq(k.open_checked(w, frame)[1], payload, n + " open_checked")
            r.eq(w.highest, v["ctr"], n + " window highest")
            state = w.encode()
            r.result(lambda: k.open_checked(w, frame), "IOTSEC_E_REPLAY", n + " replayed")
            r.eq(w.encode(), state, n + " window unchanged by the replay")
            if v["ctr"] > JSON_CTR_MAX:
                r.result(lambda: iotsec.frame_to_json(frame), "IOTSEC_E_BAD_VALUE",
                         n + " to_json beyond 2^53-1")
                r.result(lambda: k.seal_json(v["ctr"], payload, v["encrypted"], iv),
                         "IOTSEC_E_INVALID_ARG", n + " seal_json beyond 2^53-1")
    for v in doc["invalid"]:
        n = "frame_v1 invalid " + v["name"]
        frame = bytes.fromhex(v["frame"])
        with frame_keys(by_name[v["keys"]]) as k:
            r.result(lambda: k.open(frame), v["error"], n)
            w = iotsec.ReplayWindow(64)
            state = w.encode()
            r.result(lambda: k.open_checked(w, frame), v["error"], n + " (open_checked)")
            r.eq(w.encode(), state, n + " window unchanged")
        r.result(lambda: iotsec.frame_peek(frame),
                 v["error"] if is_malformed(v["error"]) else "IOTSEC_OK", n + " (peek)")


def run_frame_json(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator"}, {"vectors", "equivalent", "invalid"})
    bin_vecs = ctx["frame_v1"]
    by_frame = {v["frame"]: v for v in bin_vecs.values()}
    for v in doc["vectors"]:
        n = "frame_json " + v["name"]
        b = bin_vecs[v["name"]]
        payload = bytes.fromhex(b["payload"])
        iv = bytes.fromhex(b["iv"]) if b["iv"] else None
        with frame_keys(b) as k:
            r.eq(k.seal_json(b["ctr"], payload, b["encrypted"], iv), v["json"], n + " seal_json")
            r.eq(k.open_json(v["json"])[1], payload, n + " open_json")
            w = iotsec.ReplayWindow(0)
            r.eq(k.open_json_checked(w, v["json"])[1], payload, n + " open_json_checked")
            r.result(lambda: k.open_json_checked(w, v["json"]), "IOTSEC_E_REPLAY",
                     n + " replayed")
        r.eq(iotsec.frame_from_json(v["json"]).hex(), v["frame"], n + " from_json")
        r.eq(iotsec.frame_to_json(bytes.fromhex(v["frame"])), v["json"], n + " to_json")
        r.eq(iotsec.frame_peek_json(v["json"]).ctr, b["ctr"], n + " peek_json")
    r.ok(set(bin_vecs) - {v["name"] for v in doc["vectors"]} ==
         {k for k, b in bin_vecs.items() if b["ctr"] > JSON_CTR_MAX},
         "frame_json: every binary vector representable in JSON has a JSON vector")
    for v in doc["equivalent"]:
        n = "frame_json equivalent " + v["name"]
        r.eq(iotsec.frame_from_json(v["json"]).hex(), v["frame"], n + " from_json")
        b = by_frame[v["frame"]]
        with frame_keys(b) as k:
            r.eq(k.open_json(v["json"])[1], bytes.fromhex(b["payload"]), n + " open_json")
    for v in doc["invalid"]:
        n = "frame_json invalid " + v["name"]
        with frame_keys(bin_vecs[v["keys"]]) as k:
            r.result(lambda: k.open_json(v["json"]), v["error"], n)
            w = iotsec.ReplayWindow(64)
            r.result(lambda: k.open_json_checked(w, v["json"]), v["error"], n + " (checked)")
            r.eq(w.highest, 0, n + " window unchanged")
        want = v["error"] if is_malformed(v["error"]) else "IOTSEC_OK"
        r.result(lambda: iotsec.frame_peek_json(v["json"]), want, n + " (peek_json)")
        r.result(lambda: iotsec.frame_from_json(v["json"]), want, n + " (from_json)")


def run_ecowatt(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator", "mac_key", "enc_key"},
          {"vectors", "weaknesses", "invalid"})
    mk, ek = bytes.fromhex(doc["mac_key"]), bytes.fromhex(doc["enc_key"])
    with iotsec.EcowattKeys(mk, ek) as k, iotsec.EcowattKeys(mk) as k_noenc:
        for v in doc["vectors"]:
            n = "ecowatt " + v["name"]
            payload = bytes.fromhex(v["payload"])
            iv = bytes.fromhex(v["iv"]) if v["iv"] else None
            r.eq(k.seal(v["device_id"], v["nonce"], payload, v["encrypted"], iv), v["json"],
                 n + " seal")
            h, p = k.open(v["json"])
            r.eq((p, h.nonce, h.device_id, h.encrypted, h.iv),
                 (payload, v["nonce"], v["device_id"], v["encrypted"], iv), n + " open")
            r.eq(iotsec.ecowatt_peek(v["json"]).nonce, v["nonce"], n + " peek")
            w = iotsec.ReplayWindow(0)
            r.eq(k.open_checked(w, v["json"])[1], payload, n + " open_checked")
            r.result(lambda: k.open_checked(w, v["json"]), "IOTSEC_E_REPLAY", n + " replayed")
            if v["encrypted"]:
                r.result(lambda: k_noenc.open(v["json"]), "IOTSEC_E_POLICY",
                         n + " without an enc key")
        for v in doc["weaknesses"]:
            n = "ecowatt weakness " + v["name"]
            r.result(lambda: k.open(v["captured"]), "IOTSEC_OK", n + " captured")
            forged = r.result(lambda: k.open(v["forged"]), "IOTSEC_OK", n + " forged accepted")
            if "opens_to" in v and forged is not None:
                r.eq(forged[1].hex(), v["opens_to"], n + " forged plaintext")
        for v in doc["invalid"]:
            n = "ecowatt invalid " + v["name"]
            r.result(lambda: k.open(v["json"]), v["error"], n)
            r.result(lambda: iotsec.ecowatt_peek(v["json"]),
                     v["error"] if is_malformed(v["error"]) else "IOTSEC_OK", n + " (peek)")


def run_replay(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator"}, {"scenarios", "corrupt_states"})
    for s in doc["scenarios"]:
        n = "replay " + s["name"]
        w = iotsec.ReplayWindow(s["window"])
        for i, (ctr, want) in enumerate(s["steps"]):
            r.eq("accept" if w.fresh(ctr) else "replay", want, "%s step %d (%d)" % (n, i, ctr))
            r.result(lambda: w.commit(ctr), "IOTSEC_OK" if want == "accept" else "IOTSEC_E_REPLAY",
                     "%s commit %d" % (n, i))
        r.eq(w.highest, s["highest"], n + " highest")
        r.eq(w.encode().hex(), s["state"], n + " state")
        r.eq(iotsec.ReplayWindow.decode(bytes.fromhex(s["state"])).encode().hex(), s["state"],
             n + " decode")
    for s in doc["corrupt_states"]:
        r.result(lambda: iotsec.ReplayWindow.decode(bytes.fromhex(s["state"])),
                 "IOTSEC_E_CORRUPT", "replay corrupt " + s["name"])


# ---- manifests and images -----------------------------------------------------------------------


def field_view(fields):
    """manifest_v1.json's "fields" as the binding's Manifest.fields."""
    d = {}
    for k, v in fields.items():
        if k in ("version", "device_class", "device_id", "uri", "description"):
            d[k] = v.encode()
        elif k in ("image_digest", "payload_digest"):
            d[k] = bytes.fromhex(v)
        elif k == "encryption":
            d[k] = {"alg": {"aes-256-cbc": 1}[v["alg"]], "key_id": bytes.fromhex(v["key_id"]),
                    "iv": bytes.fromhex(v["iv"])}
        else:
            d[k] = v
    return d


def run_manifest(r, doc, path, ctx):
    known(r, doc, path, {"format", "comment", "keys", "trusted"}, {"vectors", "policy"})
    keys = doc["keys"]
    store = iotsec.TrustStore(bytes.fromhex(keys[k]["spki_hex"]) for k in doc["trusted"])
    r.eq([i.hex() for i in store.key_ids()], [keys[k]["key_id"] for k in doc["trusted"]],
         "manifest_v1 key ids")
    manifests = {}
    for v in doc["vectors"]:
        n = "manifest_v1 " + v["name"]
        data = bytes.fromhex(v["manifest_hex"])
        m = r.result(lambda: store.verify(data), v["result"], n)
        if is_malformed(v["result"]):
            r.result(lambda: iotsec.manifest_parse_unverified(data), v["result"],
                     n + " (parse_unverified)")
        if m is None:
            continue
        manifests[v["name"]] = m
        r.eq(m.fields, field_view(v["fields"]), n + " fields")
        r.eq(m.sig_alg, v["sig_alg"], n + " sig_alg")
        r.eq(m.key_id.hex(), keys[v["key"]]["key_id"], n + " key_id")
        if "image_hex" in v:
            image = bytes.fromhex(v["image_hex"])
            if "payload_hex" in v:
                fw = bytes.fromhex(keys[v["firmware_key"]]["raw_hex"])
                r.eq(iotsec.fw_key_id(fw).hex(), keys[v["firmware_key"]]["key_id"],
                     n + " firmware key id")
                r.eq(m.verify_image(bytes.fromhex(v["payload_hex"]), fw, chunk=13), image,
                     n + " payload")
                r.eq(m.verify_image(image, plaintext=True), image, n + " plaintext re-check")
            else:
                r.eq(m.verify_image(image, chunk=5), image, n + " image")
    pol = doc["policy"]
    m = manifests[pol["manifest"]]
    for i, c in enumerate(pol["cases"]):
        r.result(lambda: m.check_policy(c["device_class"], c["device_id"], c["now"],
                                        c["stored_counter"]),
                 c["result"], "manifest_v1 policy %d" % i)
    store.close()


def run_firmware(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator", "keys", "image_hex"},
          {"manifests", "images", "policy"})
    keys = doc["keys"]
    image = bytes.fromhex(doc["image_hex"])
    store = iotsec.TrustStore([bytes.fromhex(keys["signer"]["spki_hex"])])
    r.eq(store.key_ids()[0].hex(), keys["signer"]["key_id"], "firmware signer key id")
    for name in ("firmware-aes256", "other-aes256"):
        r.eq(iotsec.fw_key_id(bytes.fromhex(keys[name]["raw_hex"])).hex(), keys[name]["key_id"],
             "firmware key id " + name)
    manifests = {}
    for v in doc["manifests"]:
        manifests[v["name"]] = r.result(lambda: store.verify(bytes.fromhex(v["manifest_hex"])),
                                        "IOTSEC_OK", "firmware manifest " + v["name"])
    for v in doc["images"]:
        n = "firmware image " + v["name"]
        key = bytes.fromhex(keys[v["key"]]["raw_hex"]) if v["key"] else None
        data = bytes.fromhex(v["input"])
        step, out, got = "init", bytearray(), "IOTSEC_OK"
        try:
            with iotsec.ImageVerifier(manifests[v["manifest"]], key,
                                      plaintext=v["mode"] == "plaintext") as iv:
                step = "update"
                for i in range(0, len(data), v["chunk"]):
                    out += iv.update(data[i:i + v["chunk"]])
                step = "final"
                out += iv.final()
        except IotsecError as e:
            got = e.name
        r.eq(got, v["result"], n)
        if got == "IOTSEC_OK":
            r.eq(bytes(out), image, n + " plaintext")
        else:
            r.eq(step, v.get("fails_at"), n + " step")
    for v in doc["policy"]:
        m = manifests[v["manifest"]]
        r.result(lambda: m.check_policy(v["device_class"], v["device_id"], v["now"],
                                        v["stored_counter"], v["skip"]),
                 v["result"], "firmware policy " + v["name"])
    store.close()


# ---- sender counter ------------------------------------------------------------------------------


class SlotPort:
    def __init__(self, s0, s1):
        self.slots = [bytearray(s0), bytearray(s1)]
        self.writes, self.flushes = [], 0

    def read(self, slot):
        return bytes(self.slots[slot])

    def write(self, slot, data):
        self.slots[slot][:] = data
        self.writes.append((slot, bytes(data)))

    def flush(self):
        self.flushes += 1


def run_counter(r, doc, path, ctx):
    known(r, doc, path, {"format", "spec", "generator", "notes"}, {"records", "invalid", "boot"})
    for v in doc["records"]:
        n = "counter record %s" % v["encoded"]
        r.eq(iotsec.counter_record_encode(v["seq"], int(v["reserved"])).hex(), v["encoded"],
             n + " encode")
        r.eq(iotsec.counter_record_decode(bytes.fromhex(v["encoded"])),
             (v["seq"], int(v["reserved"])), n + " decode")
    for v in doc["invalid"]:
        r.result(lambda: iotsec.counter_record_decode(bytes.fromhex(v["encoded"])), v["error"],
                 "counter invalid " + v["description"])
    for v in doc["boot"]:
        n = "counter boot " + v["description"]
        port = SlotPort(bytes.fromhex(v["slot0"]), bytes.fromhex(v["slot1"]))
        c = iotsec.Counter(port, v["step"])
        if "error" in v:
            r.result(c.next, v["error"], n)
            r.eq((port.writes, port.flushes), ([], 0), n + " nothing written")
            continue
        r.eq(c.next(), int(v["first_counter"]), n + " first counter")
        r.eq(port.writes, [(v["write_slot"], bytes.fromhex(v["write_record"]))], n + " write")
        r.eq(port.flushes, 1, n + " flush")
        r.eq(iotsec.counter_record_decode(bytes.fromhex(v["write_record"])),
             (v["write_seq"], int(v["write_reserved"])), n + " record")


HANDLERS = [  # in this order: frame_json uses frame_v1's keys
    ("frame_v1.json", run_frame_v1),
    ("frame_json.json", run_frame_json),
    ("ecowatt.json", run_ecowatt),
    ("replay_window.json", run_replay),
    ("manifest_v1.json", run_manifest),
    ("firmware_image.json", run_firmware),
    ("counter_record.json", run_counter),
]


# ---- the binding against the C ABI ---------------------------------------------------------------

C_SCALARS = {"int": ctypes.c_int, "unsigned": ctypes.c_uint, "unsigned int": ctypes.c_uint,
             "size_t": ctypes.c_size_t, "uint8_t": ctypes.c_uint8, "uint16_t": ctypes.c_uint16,
             "uint32_t": ctypes.c_uint32, "uint64_t": ctypes.c_uint64, "int64_t": ctypes.c_int64}


def ctype_matches(ct, c_type, enums, mirrors):
    """Does ctypes type ct pass what the C type c_type is (same size and kind)?"""
    if c_type.endswith("*"):
        if ct in (ctypes.c_void_p, ctypes.c_char_p):
            return True
        if hasattr(ct, "_type_") and issubclass(ct, ctypes._Pointer):
            base = c_type.rstrip("*").replace("const", "").strip()
            target = ct._type_
            if target in mirrors:
                return mirrors[target] == base
            return ctypes.sizeof(target) == ctypes.sizeof(C_SCALARS.get(base, ctypes.c_uint8)) \
                and base in C_SCALARS
        return False
    if c_type in enums:
        return ct in (ctypes.c_int, ctypes.c_uint)  # enums are int-sized
    return ct is C_SCALARS.get(c_type)


def check_abi(r, abi_path):
    with open(abi_path) as f:
        abi = json.load(f)
    fns = {f["name"]: f for f in abi["functions"]}
    enums = {e["name"] for e in abi["enums"]}
    mirrors = {cls: cname for cls, cname in iotsec.MIRRORS}
    for name, (res, args) in iotsec.PROTOTYPES.items():
        if not r.ok(name in fns, "binding declares %s, which abi.json does not list" % name):
            continue
        f = fns[name]
        r.eq(len(args), len(f["params"]), name + " parameter count")
        for a, p in zip(args, f["params"]):
            r.ok(ctype_matches(a, p["type"], enums, mirrors),
                 "%s(%s): ctypes %s does not pass C %s" % (name, p["name"], a, p["type"]))
        if f["ret"] == "void":
            r.ok(res is None, name + " returns void")
        else:
            r.ok(res is not None and ctype_matches(res, f["ret"], enums, mirrors),
                 "%s: restype %s does not match C %s" % (name, res, f["ret"]))
    r.eq(iotsec.ERRORS, {e["name"]: e["value"] for e in abi["errors"]},
         "the binding's error table is abi.json's")


def check_errors(r):
    for name, code in iotsec.ERRORS.items():
        r.eq(iotsec.error_name(code), name, "iotsec_error_name(%d)" % code)
        if code:
            e = IotsecError(code)
            lib_range = [rg for rg in ("misuse", "malformed", "auth", "policy", "backend")
                         if getattr(iotsec._L(), "iotsec_err_is_" + rg)(code)]
            r.eq([e.range], lib_range, name + " range")
    r.eq(iotsec.error_name(-98), None, "unknown code")


def check_layout(r, layout_path):
    with open(layout_path) as f:
        c = json.load(f)
    py = iotsec.layout_python()
    r.eq(sorted(c), sorted(py), "mirrored structs")
    for name in sorted(py):
        r.eq(py[name], c.get(name), name + " layout [size, align, offsets...]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", default=os.path.join(ROOT, "bindings-spec", "vectors"))
    ap.add_argument("--abi", default=None)
    ap.add_argument("--layout", default=None)
    a = ap.parse_args()
    r = Runner()
    print("libiotsec %s from %s" % (iotsec.version(), iotsec.default_path()))
    if a.layout:
        before = r.checks
        check_layout(r, a.layout)
        print("  struct layouts: %d checks" % (r.checks - before))
    if a.abi:
        before = r.checks
        check_abi(r, a.abi)
        print("  prototypes and errors against %s: %d checks" % (a.abi, r.checks - before))
    before = r.checks
    check_errors(r)
    print("  error names and ranges: %d checks" % (r.checks - before))
    files = sorted(f for f in os.listdir(a.vectors) if f.endswith(".json"))
    handled = {name for name, _ in HANDLERS}
    for f in files:
        r.ok(f in handled, "%s: no handler in run_vectors.py" % f)
    ctx = {}
    for name, fn in HANDLERS:
        p = os.path.join(a.vectors, name)
        if not r.ok(os.path.exists(p), "%s is missing" % p):
            continue
        with open(p) as fh:
            doc = json.load(fh)
        before, nfail = r.checks, len(r.failures)
        try:
            fn(r, doc, name, ctx)
        except Exception as e:  # a crash in a handler is a failure of that file
            r.failures.append("%s: %s: %s" % (name, type(e).__name__, e))
        print("  %-22s %5d checks, %d failed" % (name, r.checks - before,
                                                 len(r.failures) - nfail))
    for f in r.failures:
        print("FAIL:", f)
    print("%d checks, %d failures" % (r.checks, len(r.failures)))
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
