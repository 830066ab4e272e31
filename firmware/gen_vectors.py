#!/usr/bin/env python3
"""Turn bindings-spec/vectors/*.json into C arrays for the test firmware (no JSON parsing on
the device): writes one header of static const tables that firmware/spec_vectors.c runs.

    python3 firmware/gen_vectors.py bindings-spec/vectors OUT.h

Error names stay names (IOTSEC_E_*: the C enum of include/iotsec/error.h), byte strings
become uint8_t arrays, JSON texts char arrays (with their lengths: no NUL is relied on).
A member or list this script does not know stops it: a new vector cannot be dropped
silently on the device.
"""
import json
import os
import sys


class Out:
    def __init__(self):
        self.decls = []
        self.n = 0

    def blob(self, data):
        """Name of a static array holding data (bytes); NULL for None."""
        if data is None:
            return "NULL", 0
        self.n += 1
        name = "fv_b%d" % self.n
        body = ",".join("0x%02x" % b for b in data) or "0"
        self.decls.append("static const uint8_t %s[] = {%s};" % (name, body))
        return name, len(data)

    def text(self, s):
        """Name of a static char array holding the UTF-8 of s, and its length in bytes."""
        if s is None:
            return "NULL", 0
        data = s.encode()
        self.n += 1
        name = "fv_s%d" % self.n
        body = ",".join(str(b if b < 128 else b - 256) for b in data) or "0"
        self.decls.append("static const char %s[] = {%s};" % (name, body))
        return name, len(data)


def hx(s):
    return bytes.fromhex(s) if s is not None else None


def cstr(s):
    return json.dumps(s) if s is not None else "NULL"


def u64(v):
    return "UINT64_C(%d)" % int(v)


def known(doc, allowed, path):
    for k in doc:
        if k not in allowed:
            raise SystemExit("gen_vectors: %s: unknown member %r (teach firmware/gen_vectors.py "
                             "and firmware/spec_vectors.c)" % (path, k))


def main():
    vdir, out_path = sys.argv[1], sys.argv[2]
    load = lambda n: json.load(open(os.path.join(vdir, n)))
    handled = {"frame_v1.json", "frame_json.json", "ecowatt.json", "replay_window.json",
               "manifest_v1.json", "firmware_image.json", "counter_record.json"}
    for f in sorted(os.listdir(vdir)):
        if f.endswith(".json") and f not in handled:
            raise SystemExit("gen_vectors: %s: no handler (teach firmware/gen_vectors.py)" % f)
    o = Out()
    tables = []

    # ---- frame_v1 --------------------------------------------------------------------------
    fv = load("frame_v1.json")
    known(fv, {"format", "spec", "generator", "vectors", "invalid"}, "frame_v1.json")
    idx = {v["name"]: i for i, v in enumerate(fv["vectors"])}
    rows = []
    for v in fv["vectors"]:
        m, _ = o.blob(hx(v["master"]))
        iv, _ = o.blob(hx(v["iv"]))
        p, pl = o.blob(hx(v["payload"]))
        ek, _ = o.blob(hx(v["enc_key"]))
        fr, fl = o.blob(hx(v["frame"]))
        rows.append("{%s,%s,%s,%d,%d,%s,%d,%s,%s,%d,%s,%s,%d}" % (
            cstr(v["name"]), m, cstr(v["device_id"]), v["kid"],
            1 if v["direction"] == "down" else 0, u64(v["ctr"]), 1 if v["encrypted"] else 0,
            iv, p, pl, ek, fr, fl))
    tables.append("static const struct fv_frame fv_frames[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in fv["invalid"]:
        fr, fl = o.blob(hx(v["frame"]))
        rows.append("{%s,%d,%s,%d,%s}" % (cstr(v["name"]), idx[v["keys"]], fr, fl, v["error"]))
    tables.append("static const struct fv_invalid fv_frame_invalid[] = {%s};" % ",\n".join(rows))

    # ---- frame_json ------------------------------------------------------------------------
    fj = load("frame_json.json")
    known(fj, {"format", "spec", "generator", "vectors", "equivalent", "invalid"}, "frame_json.json")
    rows = []
    for v in fj["vectors"]:
        j, jl = o.text(v["json"])
        fr, fl = o.blob(hx(v["frame"]))
        rows.append("{%s,%d,%s,%d,%s,%d}" % (cstr(v["name"]), idx[v["name"]], j, jl, fr, fl))
    tables.append("static const struct fv_json fv_json_vectors[] = {%s};" % ",\n".join(rows))
    by_frame = {v["frame"]: v["name"] for v in fv["vectors"]}
    rows = []
    for v in fj["equivalent"]:
        j, jl = o.text(v["json"])
        fr, fl = o.blob(hx(v["frame"]))
        rows.append("{%s,%d,%s,%d,%s,%d}" % (cstr(v["name"]), idx[by_frame[v["frame"]]], j, jl,
                                             fr, fl))
    tables.append("static const struct fv_json fv_json_equivalent[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in fj["invalid"]:
        j, jl = o.text(v["json"])
        rows.append("{%s,%d,%s,%d,%s}" % (cstr(v["name"]), idx[v["keys"]], j, jl, v["error"]))
    tables.append("static const struct fv_json_invalid fv_json_invalid[] = {%s};" % ",\n".join(rows))

    # ---- ecowatt ---------------------------------------------------------------------------
    ew = load("ecowatt.json")
    known(ew, {"format", "spec", "generator", "mac_key", "enc_key", "vectors", "weaknesses",
               "invalid"}, "ecowatt.json")
    mk, _ = o.blob(hx(ew["mac_key"]))
    ek, _ = o.blob(hx(ew["enc_key"]))
    tables.append("#define FV_ECOWATT_MAC_KEY %s\n#define FV_ECOWATT_ENC_KEY %s" % (mk, ek))
    rows = []
    for v in ew["vectors"]:
        iv, _ = o.blob(hx(v["iv"]))
        p, pl = o.blob(hx(v["payload"]))
        j, jl = o.text(v["json"])
        rows.append("{%s,%s,%s,%d,%s,%s,%d,%s,%d}" % (
            cstr(v["name"]), cstr(v["device_id"]), u64(v["nonce"]), 1 if v["encrypted"] else 0,
            iv, p, pl, j, jl))
    tables.append("static const struct fv_ecowatt fv_ecowatt_vectors[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in ew["weaknesses"]:
        c, cl = o.text(v["captured"])
        f, fl = o.text(v["forged"])
        ot, otl = o.blob(hx(v.get("opens_to")))
        rows.append("{%s,%s,%d,%s,%d,%s,%d}" % (cstr(v["name"]), c, cl, f, fl, ot, otl))
    tables.append("static const struct fv_weakness fv_ecowatt_weak[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in ew["invalid"]:
        j, jl = o.text(v["json"])
        rows.append("{%s,0,%s,%d,%s}" % (cstr(v["name"]), j, jl, v["error"]))
    tables.append("static const struct fv_json_invalid fv_ecowatt_invalid[] = {%s};" %
                  ",\n".join(rows))

    # ---- replay window ---------------------------------------------------------------------
    rw = load("replay_window.json")
    known(rw, {"format", "spec", "generator", "scenarios", "corrupt_states"}, "replay_window.json")
    rows = []
    for s in rw["scenarios"]:
        steps = ",".join("{%s,%d}" % (u64(c), 1 if w == "accept" else 0) for c, w in s["steps"])
        o.n += 1
        sname = "fv_steps%d" % o.n
        o.decls.append("static const struct fv_step %s[] = {%s};" % (sname, steps))
        st, stl = o.blob(hx(s["state"]))
        rows.append("{%s,%d,%s,%d,%s,%s,%d}" % (cstr(s["name"]), s["window"], sname,
                                               len(s["steps"]), u64(s["highest"]), st, stl))
    tables.append("static const struct fv_replay fv_replay[] = {%s};" % ",\n".join(rows))
    rows = []
    for s in rw["corrupt_states"]:
        st, stl = o.blob(hx(s["state"]))
        rows.append("{%s,%s,%d}" % (cstr(s["name"]), st, stl))
    tables.append("static const struct fv_corrupt fv_replay_corrupt[] = {%s};" % ",\n".join(rows))

    # ---- manifest_v1 -----------------------------------------------------------------------
    mv = load("manifest_v1.json")
    known(mv, {"format", "comment", "keys", "trusted", "vectors", "policy"}, "manifest_v1.json")
    keys = mv["keys"]
    rows = []
    for k in mv["trusted"]:
        sp, spl = o.blob(hx(keys[k]["spki_hex"]))
        kid, _ = o.blob(hx(keys[k]["key_id"]))
        rows.append("{%s,%s,%d,%s}" % (cstr(k), sp, spl, kid))
    tables.append("static const struct fv_key fv_manifest_trusted[] = {%s};" % ",\n".join(rows))
    rows = []
    alg_code = {"ed25519": "IOTSEC_SIG_ED25519", "p256": "IOTSEC_SIG_ECDSA_P256",
                "rsa-pss": "IOTSEC_SIG_RSA_PSS"}
    for v in mv["vectors"]:
        mb, ml = o.blob(hx(v["manifest_hex"]))
        img, il = o.blob(hx(v.get("image_hex")))
        pay, pyl = o.blob(hx(v.get("payload_hex")))
        fwk, _ = o.blob(hx(keys[v["firmware_key"]]["raw_hex"]) if "firmware_key" in v else None)
        kid, _ = o.blob(hx(keys[v["key"]]["key_id"]) if "key" in v else None)
        rows.append("{%s,%s,%d,%s,%s,%s,%s,%d,%s,%d,%s}" % (
            cstr(v["name"]), mb, ml, v["result"], alg_code[v["sig_alg"]] if "sig_alg" in v else "0",
            kid, img, il, pay, pyl, fwk))
    tables.append("static const struct fv_manifest fv_manifests[] = {%s};" % ",\n".join(rows))
    pol = mv["policy"]
    names = [v["name"] for v in mv["vectors"]]
    tables.append("#define FV_MANIFEST_POLICY_INDEX %d" % names.index(pol["manifest"]))
    rows = []
    for c in pol["cases"]:
        rows.append("{\"\",%s,%s,%s,%s,0,%s,0}" % (cstr(c["device_class"]), cstr(c["device_id"]),
                                                u64(c["now"]), u64(c["stored_counter"]), c["result"]))
    tables.append("static const struct fv_policy fv_manifest_policy[] = {%s};" % ",\n".join(rows))

    # ---- firmware_image --------------------------------------------------------------------
    fw = load("firmware_image.json")
    known(fw, {"format", "spec", "generator", "keys", "image_hex", "manifests", "images", "policy"},
          "firmware_image.json")
    fk = fw["keys"]
    sp, spl = o.blob(hx(fk["signer"]["spki_hex"]))
    seed, _ = o.blob(hx(fk["signer"]["seed_hex"]))
    im, iml = o.blob(hx(fw["image_hex"]))
    tables.append("#define FV_FW_SIGNER_SPKI %s\n#define FV_FW_SIGNER_SPKI_LEN %d\n"
                  "#define FV_FW_SIGNER_SEED %s\n#define FV_FW_IMAGE %s\n#define FV_FW_IMAGE_LEN %d"
                  % (sp, spl, seed, im, iml))
    aes, _ = o.blob(hx(fk["firmware-aes256"]["raw_hex"]))
    tables.append("#define FV_FW_AES_KEY %s" % aes)
    mnames = [v["name"] for v in fw["manifests"]]
    rows = []
    for v in fw["manifests"]:
        mb, ml = o.blob(hx(v["manifest_hex"]))
        rows.append("{%s,%s,%d}" % (cstr(v["name"]), mb, ml))
    tables.append("static const struct fv_fw_manifest fv_fw_manifests[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in fw["images"]:
        key = hx(fk[v["key"]]["raw_hex"]) if v["key"] else None
        kb, kl = o.blob(key)
        inp, inl = o.blob(hx(v["input"]))
        rows.append("{%s,%d,%d,%s,%d,%d,%s,%d,%s,%s}" % (
            cstr(v["name"]), mnames.index(v["manifest"]), 1 if v["mode"] == "plaintext" else 0,
            kb, kl, v["chunk"], inp, inl, v["result"], cstr(v.get("fails_at"))))
    tables.append("static const struct fv_fw_image fv_fw_images[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in fw["policy"]:
        rows.append("{%s,%s,%s,%s,%s,%d,%s,%d}" % (
            cstr(v["name"]), cstr(v["device_class"]), cstr(v["device_id"]), u64(v["now"]),
            u64(v["stored_counter"]), v["skip"], v["result"], mnames.index(v["manifest"])))
    tables.append("static const struct fv_policy fv_fw_policy[] = {%s};" % ",\n".join(rows))

    # ---- counter_record --------------------------------------------------------------------
    cr = load("counter_record.json")
    known(cr, {"format", "spec", "generator", "notes", "records", "invalid", "boot"},
          "counter_record.json")
    rows = []
    for v in cr["records"]:
        e, _ = o.blob(hx(v["encoded"]))
        rows.append("{%d,%s,%s}" % (v["seq"], u64(v["reserved"]), e))
    tables.append("static const struct fv_record fv_records[] = {%s};" % ",\n".join(rows))
    rows = []
    for v in cr["invalid"]:
        e, el = o.blob(hx(v["encoded"]))
        rows.append("{%s,%s,%d,%s}" % (cstr(v["description"]), e, el, v["error"]))
    tables.append("static const struct fv_record_invalid fv_record_invalid[] = {%s};" %
                  ",\n".join(rows))
    rows = []
    for v in cr["boot"]:
        s0, _ = o.blob(hx(v["slot0"]))
        s1, _ = o.blob(hx(v["slot1"]))
        if "error" in v:
            rows.append("{%s,%s,%s,%d,%s,0,0,0,0,NULL}" % (cstr(v["description"]), s0, s1,
                                                          v["step"], v["error"]))
        else:
            wr, _ = o.blob(hx(v["write_record"]))
            rows.append("{%s,%s,%s,%d,IOTSEC_OK,%s,%d,%d,%s,%s}" % (
                cstr(v["description"]), s0, s1, v["step"], u64(v["first_counter"]),
                v["write_slot"], v["write_seq"], u64(v["write_reserved"]), wr))
    tables.append("static const struct fv_boot fv_boot[] = {%s};" % ",\n".join(rows))

    with open(out_path, "w") as f:
        f.write("/* Generated by firmware/gen_vectors.py from bindings-spec/vectors/: do not edit. */\n")
        f.write("\n".join(o.decls))
        f.write("\n\n")
        f.write("\n\n".join(tables))
        f.write("\n")


if __name__ == "__main__":
    main()
