#!/usr/bin/env python3
"""Generate bindings-spec/abi.json, the machine-readable C ABI of libiotsec, from the public
headers (standard library only; a C compiler is used for the struct layouts).

    python3 tools/gen-vectors/gen_abi.py [--include DIR] [--out FILE]

reads DIR/iotsec/*.h (default: include/, or the include directory of an installed prefix)
and writes, in a fixed order so the output is reproducible byte for byte:

  library    name, SONAME, version (version.h)
  errors     every IOTSEC_E_* code: value, range, comment (error.h)
  constants  every object-like IOTSEC_* macro, evaluated; function-like macros as text
  enums      every public enum and its values
  structs    every public struct/union: members (C type, array length) and, on LP64
             targets (x86_64, aarch64 Linux), size, alignment and member offsets
  functions  every IOTSEC_API declaration: return type, parameters (name, C type as passed,
             direction in/out/inout, fixed array size, which parameter is its length,
             capacity or used length), the errors its doc comment names (with the errors of
             the functions it refers to: "those of iotsec_frame_open"), must_check, the part
             of the library that defines it (core, crypto, x509, store,
             port/posix), and who releases what it allocates; and the doc comment itself.

    python3 tools/gen-vectors/gen_abi.py --abi bindings-spec/abi.json --check-source check.c

writes a C program that fails to COMPILE when an installed header differs from abi.json
(each function's type checked with _Generic against a typedef built from abi.json, each
constant, enum value, error code and LP64 struct layout with _Static_assert) and fails at
RUN time when iotsec_error_name() or the version string disagree. tests/scripts/abi_check.sh
runs both against a `make install` and compares the exported symbols with abi.json.

Directions that the C type alone does not decide are listed in DIRECTIONS below; the
generator stops with an error for any non-const pointer parameter it cannot classify, and
for any function returning or allocating an object whose release is not listed in RELEASE,
so a new function cannot enter abi.json with a guessed contract.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HEADERS_ORDER = None  # alphabetical

# ---- hand-made facts the C types do not carry ------------------------------------------------

# (function, parameter) -> direction, for non-const pointers the rules below do not decide.
DIRECTIONS = {
    ("iotsec_zeroize", "p"): "out",
    ("iotsec_reader_init", "r"): "out",
    ("iotsec_writer_init", "w"): "out",
    ("iotsec_writer_init", "buf"): "out",
    ("iotsec_denylist_parse", "dl"): "out",
    ("iotsec_denylist_parse", "storage"): "out",
    ("iotsec_replay_mem_init", "m"): "out",
    ("iotsec_replay_mem_init", "table"): "inout",
    ("iotsec_replay_mem_init", "journal"): "inout",
    ("iotsec_replay_mem_store", "m"): "in",
    ("iotsec_replay_sqlite_store", "s"): "in",
    ("iotsec_replay_sqlite_ecowatt_store", "s"): "in",
    ("iotsec_replay_store_window", "window"): "out",
    ("iotsec_replay_sqlite_db", "s"): "in",
    ("iotsec_replay_pg_store", "s"): "in",
    ("iotsec_replay_pg_ecowatt_store", "s"): "in",
    ("iotsec_replay_pg_conn", "s"): "in",
    ("iotsec_counter_file_open", "f"): "out",
    ("iotsec_counter_file_open", "port"): "out",
    ("iotsec_counter_open", "c"): "out",
    ("iotsec_trust_store_init", "store"): "out",
    ("iotsec_manifest_verify", "m"): "out",
    ("iotsec_manifest_parse_unverified", "m"): "out",
    ("iotsec_replay_decode", "w"): "out",
    ("iotsec_replay_init", "w"): "out",
    ("iotsec_image_encrypt_final", "result"): "out",
    ("iotsec_revocation_ref", "rs"): "in",
    ("iotsec_revocation_holder_get", "h"): "in",
    ("iotsec_revocation_reload", "revoked"): "out",
    ("iotsec_revocation_holder_swap", "revoked"): "out",
    ("iotsec_revocation_holder_new", "initial"): "in",
    ("iotsec_revocation_holder_swap", "next"): "in",
    ("iotsec_counter_record_decode", "rec"): "out",
    ("iotsec_hmac_init", "ctx"): "inout",
    ("iotsec_tls_server_setup", "ctx"): "inout",
}

# Buffer lengths the naming rule of link_lengths does not find: (function, parameter) -> the
# size_t parameter holding its length.
LENGTHS = {
    ("iotsec_ct_compare", "a"): "len",
    ("iotsec_aes_cbc_update", "in"): "len",
    ("iotsec_revocation_holder_swap", "revoked"): "n_open",
    ("iotsec_revocation_reload", "revoked"): "n_open",
}

# Declarations without a comment of their own that a group comment right before them covers.
DOC_SHARED = {
    "iotsec_err_is_malformed": "iotsec_err_is_misuse",
    "iotsec_err_is_auth": "iotsec_err_is_misuse",
    "iotsec_err_is_policy": "iotsec_err_is_misuse",
    "iotsec_err_is_backend": "iotsec_err_is_misuse",
    "iotsec_reader_u16": "iotsec_reader_u8",
    "iotsec_reader_u32": "iotsec_reader_u8",
    "iotsec_reader_u64": "iotsec_reader_u8",
    "iotsec_privkey_load_file": "iotsec_pubkey_load_file",
}

# Parameters named like this are outputs whatever their type (headers filled by a parse).
OUT_NAMES = {"hdr", "out", "result", "err", "matched", "reason", "err_line", "key_id", "ctr"}

# Functions whose first (non-const struct) argument is an object they initialise.
INIT_SUFFIXES = ("_init", "_derive", "_keys_init", "_setkey", "_load", "_load_ed25519_raw",
                 "_load_ed25519_seed", "_load_file", "_init_plaintext", "_init_transfer")

# Non-status int returns (the value is not an IOTSEC_* code).
VALUE_RETURNS = {
    "iotsec_ct_compare": "0 when equal, -1 when different",
    "iotsec_err_is_misuse": "1 or 0", "iotsec_err_is_malformed": "1 or 0",
    "iotsec_err_is_auth": "1 or 0", "iotsec_err_is_policy": "1 or 0",
    "iotsec_err_is_backend": "1 or 0", "iotsec_crypto_has": "1 or 0",
    "iotsec_counter_seq_newer": "1 or 0", "iotsec_reader_peek": "next byte, or -1",
}

# Who releases what a function hands out: (function, parameter or "return") -> release call.
# "static": never released; "borrowed": owned by the argument named, valid while it lives.
RELEASE = {
    ("iotsec_strerror", "return"): "static",
    ("iotsec_error_name", "return"): "static",
    ("iotsec_version", "return"): "static",
    ("iotsec_sig_alg_name", "return"): "static",
    ("iotsec_revocation_reason_name", "return"): "static",
    ("iotsec_crypto_openssl", "return"): "static",
    ("iotsec_crypto_sodium", "return"): "static",
    ("iotsec_crypto_psa", "return"): "static",
    ("iotsec_crypto_default", "return"): "static",
    ("iotsec_crypto_by_name", "return"): "static",
    ("iotsec_reader_bytes", "return"): "borrowed: points into the reader's buffer",
    ("iotsec_reader_line", "return"): "borrowed: points into the reader's buffer",
    ("iotsec_writer_reserve", "return"): "borrowed: points into the writer's buffer",
    ("iotsec_replay_mem_store", "return"): "borrowed: part of m",
    ("iotsec_replay_sqlite_store", "return"): "borrowed: valid until iotsec_replay_sqlite_close(s)",
    ("iotsec_replay_sqlite_ecowatt_store", "return"):
        "borrowed: valid until iotsec_replay_sqlite_close(s)",
    ("iotsec_replay_sqlite_db", "return"): "borrowed: valid until iotsec_replay_sqlite_close(s)",
    ("iotsec_replay_pg_store", "return"): "borrowed: valid until iotsec_replay_pg_close(s)",
    ("iotsec_replay_pg_ecowatt_store", "return"): "borrowed: valid until iotsec_replay_pg_close(s)",
    ("iotsec_replay_pg_conn", "return"): "borrowed: valid until iotsec_replay_pg_close(s)",
    ("iotsec_replay_pg_sqlstate", "return"):
        "borrowed: valid until the next operation on s or iotsec_replay_pg_close(s)",
    ("iotsec_revocation_ref", "return"): "iotsec_revocation_unref",
    ("iotsec_revocation_holder_get", "return"): "iotsec_revocation_unref",
    ("iotsec_file_read", "buf"): "free",
    ("iotsec_pubkey_decode", "der"): "free",
    ("iotsec_privkey_decode", "der"): "iotsec_zeroize then free",
    ("iotsec_x509_cert_decode", "out"): "X509_free",
    ("iotsec_x509_cert_load_file", "out"): "X509_free",
    ("iotsec_x509_key_load_file", "out"): "EVP_PKEY_free",
    ("iotsec_x509_crl_decode", "out"): "X509_CRL_free",
    ("iotsec_x509_ca_self_sign", "out"): "X509_free",
    ("iotsec_x509_ca_issue", "out"): "X509_free",
    ("iotsec_x509_crl_create", "out"): "X509_CRL_free",
    ("iotsec_revocation_new", "out"): "iotsec_revocation_unref",
    ("iotsec_revocation_load", "out"): "iotsec_revocation_unref",
    ("iotsec_revocation_holder_new", "out"): "iotsec_revocation_holder_free",
    ("iotsec_replay_sqlite_open", "out"): "iotsec_replay_sqlite_close",
    ("iotsec_replay_pg_open", "out"): "iotsec_replay_pg_close",
}

# Doc references the phrase rules below cannot read, and errors a reference does not carry.
ERROR_REFS = {
    "iotsec_ecowatt_open": ["iotsec_ecowatt_peek"],
    "iotsec_pubkey_load_file": ["iotsec_pubkey_decode", "iotsec_pubkey_load"],
    "iotsec_privkey_load_file": ["iotsec_privkey_decode", "iotsec_privkey_load"],
    "iotsec_revocation_load": ["iotsec_revocation_new", "iotsec_revocation_add_crl_file",
                               "iotsec_revocation_add_denylist_file", "iotsec_revocation_seal"],
    "iotsec_manifest_parse_unverified": ["iotsec_manifest_verify"],
    # "with the guarantees of iotsec_frame_open_checked / _stored"
    "iotsec_frame_open_json_checked": ["iotsec_frame_open_json", "iotsec_frame_open_checked"],
    "iotsec_frame_open_json_stored": ["iotsec_frame_open_json", "iotsec_frame_open_stored"],
}
ERROR_EXCLUDE = {
    # "same errors, minus the authentication ones" (an empty or missing signature is still
    # IOTSEC_E_BAD_SIGNATURE: it is found by the header rules)
    "iotsec_manifest_parse_unverified": ["IOTSEC_E_UNKNOWN_KEY"],
    # "(no key errors)"
    "iotsec_image_verify_init_plaintext": ["IOTSEC_E_UNKNOWN_KEY", "IOTSEC_E_BAD_KEY",
                                           "IOTSEC_E_POLICY"],
    # a peek writes no frame: the frame_cap error of from_json does not apply
    "iotsec_frame_peek_json": ["IOTSEC_E_BUFFER_TOO_SMALL"],
}

# Fixed sizes a doc comment gives for a plain pointer parameter.
DOC_SIZES = {
    ("iotsec_frame_seal", "iv"): "IOTSEC_FRAME_IV_LEN",
    ("iotsec_frame_seal_json", "iv"): "IOTSEC_FRAME_IV_LEN",
    ("iotsec_ecowatt_seal", "iv"): "IOTSEC_ECOWATT_IV_LEN",
    ("iotsec_ecowatt_keys_init", "enc_key"): "IOTSEC_ECOWATT_ENC_KEY_LEN",
    ("iotsec_denylist_check", "fingerprint"): "IOTSEC_FINGERPRINT_LEN",
    ("iotsec_image_verify_init", "fw_key"): "IOTSEC_FW_KEY_LEN",
}

SCALARS = {"int", "unsigned", "unsigned int", "size_t", "uint8_t", "uint16_t", "uint32_t",
           "uint64_t", "int64_t", "char", "void"}

# ---- small C lexing helpers -------------------------------------------------------------------


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def norm_type(tokens):
    """Canonical spelling of a C type from its tokens: 'const char *const *'."""
    out = ""
    for t in tokens:
        if t == "*":
            out += "*" if out.endswith("*") else " *"
        elif out == "":
            out = t
        elif out.endswith("*"):
            out += t
        else:
            out += " " + t
    return out


def c_tokens(s):
    return re.findall(r"[A-Za-z_]\w*|\d+|\*|\[|\]|\(|\)|[^\s\w]", s)


def clean_doc(comment):
    """The text of a /* ... */ comment, stars and indentation removed, lines kept."""
    body = comment[2:-2]
    lines = []
    for line in body.split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
            if line.startswith(" "):
                line = line[1:]
        lines.append(line.rstrip())
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


# ---- constants ---------------------------------------------------------------------------------


def eval_const(expr, env):
    """Evaluate an integer macro body (numbers with u/U suffixes, other macros, + - * / ( ))."""
    e = re.sub(r"\b(0x[0-9A-Fa-f]+|\d+)[uU]?[lL]*\b", r"\1", expr)

    def sub(m):
        name = m.group(0)
        if name in env and isinstance(env[name], int):
            return "(%d)" % env[name]
        raise ValueError(name)

    e = re.sub(r"\bIOTSEC_\w+\b", sub, e)
    if not re.fullmatch(r"[\s0-9A-Fa-fx()+\-*/]*", e):
        raise ValueError(expr)
    e = e.replace("/", "//")
    return int(eval(e, {"__builtins__": {}}, {}))  # only digits and operators reach here


def parse_constants(headers):
    consts, macros = [], []
    env = {}
    for hname, text in headers:
        text = strip_comments(text).replace("\\\n", " ")
        for m in re.finditer(r"^#define\s+(IOTSEC_\w+)(\([^)]*\))?[ \t]*(.*)$", text, re.M):
            name, params, body = m.group(1), m.group(2), m.group(3)
            body = " ".join(body.split())
            if name.endswith("_H") and body == "":
                continue  # include guard
            if "__attribute__" in body or body == "" or name in ("IOTSEC_API", "IOTSEC_MUST_CHECK"):
                continue  # export.h attribute macros
            if params is not None:
                macros.append({"name": name, "header": hname,
                               "params": [p.strip() for p in params[1:-1].split(",")],
                               "expr": body})
                continue
            if body.startswith('"'):
                consts.append({"name": name, "header": hname, "value": json.loads(body)})
                continue
            value = eval_const(body, env)
            env[name] = value
            entry = {"name": name, "header": hname, "value": value}
            if not re.fullmatch(r"(0x[0-9A-Fa-f]+|\d+)[uU]?", body):
                entry["expr"] = body
            consts.append(entry)
    return consts, macros, env


# ---- enums -------------------------------------------------------------------------------------


def parse_enums(headers, env):
    enums = []
    for hname, text in headers:
        for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            body = strip_comments(m.group(2))
            values, nxt = [], 0
            for item in body.split(","):
                item = item.strip()
                if not item:
                    continue
                if "=" in item:
                    n, v = [x.strip() for x in item.split("=", 1)]
                    nxt = eval_const(v, env)
                else:
                    n = item
                values.append({"name": n, "value": nxt})
                env[n] = nxt
                nxt += 1
            enums.append({"name": m.group(3), "header": hname, "values": values})
    return enums


# ---- structs -----------------------------------------------------------------------------------


def parse_members(body):
    members = []
    for decl in strip_comments(body).split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        fp = re.fullmatch(r"(.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)", decl)
        if fp:
            params = [norm_type(param_type_tokens(p)[0]) for p in split_params(fp.group(3))]
            members.append({"name": fp.group(2),
                            "type": "%s (*)(%s)" % (norm_type(c_tokens(fp.group(1))),
                                                   ", ".join(params))})
            continue
        toks = c_tokens(decl)
        arr = None
        if toks[-1] == "]":
            i = toks.index("[")
            arr = " ".join(toks[i + 1:-1])
            toks = toks[:i]
        members.append({"name": toks[-1], "type": norm_type(toks[:-1])})
        if arr is not None:
            members[-1]["array"] = arr
    return members


def parse_structs(headers):
    structs = []
    seen = set()
    for hname, text in headers:
        for m in re.finditer(r"typedef\s+(struct|union)\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;",
                             text, re.S):
            structs.append({"name": m.group(4), "kind": m.group(1), "header": hname,
                            "members": parse_members(m.group(3))})
            seen.add(m.group(2))
        for m in re.finditer(r"^struct\s+(\w+)\s*\{(.*?)\}\s*;", text, re.S | re.M):
            structs.append({"name": m.group(1), "kind": "struct", "header": hname,
                            "members": parse_members(m.group(2))})
            seen.add(m.group(1))
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", text):
            if m.group(1) not in seen and not re.search(r"^struct\s+%s\s*\{" % m.group(1), text, re.M):
                structs.append({"name": m.group(2), "kind": "struct", "header": hname,
                                "opaque": True})
    structs.sort(key=lambda s: (s["header"], s["name"]))
    return structs


def layouts(structs, include_dir, cc):
    """sizeof, _Alignof and offsetof of every non-opaque struct, from the C compiler; None
    unless the target is LP64."""
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "iotsec/iotsec.h"',
             "int main(void) {",
             '  if (sizeof(void *) != 8 || sizeof(long) != 8) { puts("null"); return 0; }',
             '  printf("{");']
    first = True
    for s in structs:
        if s.get("opaque"):
            continue
        t = s["name"] if s["name"] != "iotsec_crypto" else "struct iotsec_crypto"
        lines.append('  printf("%s\\"%s\\": [%%zu, %%zu", sizeof(%s), _Alignof(%s));'
                     % ("" if first else ", ", s["name"], t, t))
        first = False
        for mem in s["members"]:
            lines.append('  printf(", %%zu", offsetof(%s, %s));' % (t, mem["name"]))
        lines.append('  printf("]");')
    lines += ['  printf("}\\n");', "  return 0;", "}"]
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        inc = ["-I", include_dir]
        if not os.path.exists(os.path.join(include_dir, "iotsec", "config.h")):
            # the source tree: describe the full host build (every optional part present)
            os.makedirs(os.path.join(d, "iotsec"))
            with open(os.path.join(d, "iotsec", "config.h"), "w") as f:
                f.write(subprocess.run(
                    [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                  "scripts", "gen-config"),
                     "OPENSSL=1", "SODIUM=1", "POSIX=1", "SQLITE=1", "PG=1", "X509=1", "NO_JSON=0",
                     "NO_ECOWATT=0"], check=True, capture_output=True, text=True).stdout)
            inc += ["-I", d]
        subprocess.run([cc, "-std=c11"] + inc + [src, "-o", exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


# ---- functions -------------------------------------------------------------------------------


def split_params(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out if p.strip() and p.strip() != "void"]


def param_type_tokens(p):
    """(type tokens as passed, name, array length or None) of one parameter declaration."""
    toks = c_tokens(p)
    arr = None
    if toks[-1] == "]":
        i = toks.index("[")
        arr = " ".join(toks[i + 1:-1])
        toks = toks[:i] + ["*"]  # an array parameter is a pointer
        name = toks[-2]
        return toks[:-2] + ["*"], name, arr
    if len(toks) >= 2 and toks[-1] not in ("*",) and toks[-1] not in SCALARS | {"const"}:
        return toks[:-1], toks[-1], None
    return toks, None, None


def is_pointer(t):
    return t.endswith("*")


def pointee_const(t):
    """True when what the (outermost) pointer points to is const."""
    inner = t[:-1].rstrip()
    return inner.startswith("const ") or inner.endswith("const") or inner.endswith("*const")


def classify(fn, p, index, params):
    t, name = p["type"], p["name"]
    key = (fn, name)
    if key in DIRECTIONS:
        return DIRECTIONS[key]
    if not is_pointer(t):
        return "in"
    if t.endswith("**") and not pointee_const(t):
        return "out"
    if pointee_const(t):
        return "in"
    base = t.rstrip("*").strip()
    if name in OUT_NAMES:
        return "out"
    if base in ("size_t", "uint64_t", "int", "iotsec_deny_kind", "iotsec_revocation_reason"):
        return "out"
    if base in ("uint8_t", "char", "void"):
        return "out"
    if base.startswith("struct ") and base not in ("struct sqlite3",):
        return "in"  # OpenSSL objects are passed by non-const pointer and borrowed
    if index == 0 and base.startswith("iotsec_"):
        if fn.endswith(INIT_SUFFIXES):
            return "out"
        return "inout"  # a context the call uses and updates, or releases
    if base.startswith("iotsec_"):
        return "inout"
    raise SystemExit("gen_abi: cannot classify %s(%s %s): add it to DIRECTIONS" % (fn, t, name))


def link_lengths(fn, params):
    """Attach length / capacity / used_length to buffer pointers (pointer, length, capacity):
    the size_t right after a pointer is its length when its name says so (<p>_len, len, n for
    bytes; count, n_<p>, <p>_len for arrays of structs); then, for an output, a size_t named
    *cap is its capacity and a size_t * right after that gets the length used."""
    names = {p["name"]: p for p in params}
    for i, p in enumerate(params):
        if not is_pointer(p["type"]) or p["type"].endswith("**"):
            continue
        base = p["type"].rstrip("*").replace("const", "").strip()
        if base == "size_t":
            continue
        n = p["name"]
        if base in ("uint8_t", "char", "void"):
            ok = {n + "_len", "len", "n"} | ({"id_len"} if n in ("device_id", "id") else set())
        elif base.startswith("iotsec_"):
            ok = {"count", "n_" + n, n + "_len"}
        else:
            ok = set()
        j = i + 1
        if (fn, n) in LENGTHS:
            p["length"] = LENGTHS[(fn, n)]
            assert names[p["length"]]["type"] == "size_t"
        elif j < len(params) and params[j]["type"] == "size_t" and params[j]["name"] in ok:
            p["length"] = params[j]["name"]
            j += 1
        if p["dir"] in ("out", "inout") and j < len(params) and params[j]["type"] == "size_t" \
                and params[j]["name"].endswith("cap"):
            p["capacity"] = params[j]["name"]
            j += 1
            if j < len(params) and params[j]["type"] == "size_t *":
                p["used_length"] = params[j]["name"]


def source_of(src_root):
    """function name -> part of the library that defines it: its directory under libiotsec/
    (core, crypto, x509, store, port/posix)."""
    where = {}
    for part in ("core", "crypto", "x509", "store", "port/posix"):
        for path in sorted(glob.glob(os.path.join(src_root, "libiotsec", part, "*.c"))):
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r"^[A-Za-z_][\w \*]*?\b(iotsec_[a-z0-9_]+)\s*\([^;{]*\)\s*\{",
                                 text, re.M):
                where.setdefault(m.group(1), part)
    return where


def parse_functions(headers, consts_env, error_names, src_root):
    fns = []
    for hname, text in headers:
        comments = [c.span() for c in re.finditer(r"/\*.*?\*/", text, re.S)]
        for m in re.finditer(r"\bIOTSEC_API\b", text):
            if text[:m.start()].rstrip().endswith("#define") or \
                    any(a <= m.start() < b for a, b in comments):
                continue
            end = text.index(";", m.start())
            decl = text[m.start():end]
            if "(" not in decl:
                continue
            # the doc comment: the /* */ block right before the declaration
            before = text[:m.start()].rstrip()
            doc = None
            if before.endswith("*/"):
                start = before.rindex("/*")
                doc = clean_doc(before[start:])
            must_check = "IOTSEC_MUST_CHECK" in decl
            decl = " ".join(decl.replace("IOTSEC_API", " ").replace("IOTSEC_MUST_CHECK", " ").split())
            dm = re.fullmatch(r"(.+?)\b(iotsec_\w+)\s*\((.*)\)", decl)
            if not dm:
                raise SystemExit("gen_abi: cannot parse %s" % decl)
            ret, name, plist = dm.group(1).strip(), dm.group(2), dm.group(3)
            params = []
            for p in split_params(plist):
                toks, pname, arr = param_type_tokens(p)
                if pname is None:
                    raise SystemExit("gen_abi: unnamed parameter in %s: %s" % (name, p))
                entry = {"name": pname, "type": norm_type(toks)}
                if arr is not None:
                    entry["array"] = arr
                    entry["size"] = eval_const(arr, consts_env)
                params.append(entry)
            for i, p in enumerate(params):
                p["dir"] = classify(name, p, i, params)
                if (name, p["name"]) in DOC_SIZES:
                    c = DOC_SIZES[(name, p["name"])]
                    p["array"], p["size"] = c, consts_env[c]
            link_lengths(name, params)
            fns.append({"name": name, "header": hname, "ret": norm_type(c_tokens(ret)),
                        "params": params, "must_check": must_check, "doc": doc})
    where = source_of(src_root)
    by_name = {f["name"]: f for f in fns}
    for n, src in DOC_SHARED.items():
        if by_name[n]["doc"] is not None or by_name[src]["doc"] is None:
            raise SystemExit("gen_abi: DOC_SHARED entry %s is stale" % n)
        by_name[n]["doc"] = by_name[src]["doc"]
        by_name[n]["doc_shared_with"] = src
    # explicit errors and references, then the transitive closure
    explicit, refs = {}, {}
    for f in fns:
        doc = f["doc"] or ""
        explicit[f["name"]] = set(re.findall(r"\bIOTSEC_E_[A-Z][A-Z_]*\b", doc))
        r = set()
        for rm in re.finditer(r"(?:those of|[Ee]rrors:? as|errors of|[Oo]ther errors as)"
                              r"\s+(iotsec_\w+)(?:\s+and\s+(iotsec_\w+))?", doc):
            r.update(x for x in rm.groups() if x)
        r.update(ERROR_REFS.get(f["name"], []))
        r.discard(f["name"])
        for x in r:
            if x not in by_name:
                raise SystemExit("gen_abi: %s refers to unknown %s" % (f["name"], x))
        refs[f["name"]] = r
    for f in fns:
        for e in explicit[f["name"]]:
            if e not in error_names:
                raise SystemExit("gen_abi: %s names unknown error %s" % (f["name"], e))

    def closure(n, stack=()):
        out = set(explicit[n])
        for r in refs[n]:
            if r not in stack:
                out |= closure(r, stack + (n,))
        return out - set(ERROR_EXCLUDE.get(n, []))

    order = {e: i for i, e in enumerate(error_names)}
    for f in fns:
        n = f["name"]
        if f["ret"] == "int" and n not in VALUE_RETURNS:
            f["returns"] = "status"
            errs = sorted(closure(n), key=lambda e: order[e])
            f["errors"] = errs
            if refs[n]:
                f["errors_from"] = sorted(refs[n])
            if not errs:
                f["errors_documented"] = False
        elif n in VALUE_RETURNS:
            f["returns"] = "value: " + VALUE_RETURNS[n]
        if n not in where:
            raise SystemExit("gen_abi: no definition of %s under libiotsec/" % n)
        f["defined_in"] = where[n]
        # ownership of what the function hands out
        if is_pointer(f["ret"]):
            if (n, "return") not in RELEASE:
                raise SystemExit("gen_abi: %s returns a pointer: add its release to RELEASE" % n)
            f["ret_release"] = RELEASE[(n, "return")]
        for p in f["params"]:
            if p["type"].endswith("**") and p["dir"] == "out":
                if (n, p["name"]) not in RELEASE:
                    raise SystemExit("gen_abi: %s(%s) allocates: add it to RELEASE" % (n, p["name"]))
                p["release"] = RELEASE[(n, p["name"])]
    for key in list(RELEASE) + list(DIRECTIONS) + list(DOC_SIZES) + list(LENGTHS):
        if key[0] not in by_name:
            raise SystemExit("gen_abi: table entry for unknown function %s" % key[0])
    fns.sort(key=lambda f: (f["header"], f["name"]))
    return fns


def parse_errors(headers):
    text = dict(headers)["error.h"]
    m = re.search(r"typedef\s+enum\s+iotsec_error\s*\{(.*?)\}\s*iotsec_error\s*;", text, re.S)
    errors = []
    for em in re.finditer(r"(IOTSEC_(?:OK|E_\w+))\s*=\s*(-?\d+)[ \t]*,?[ \t]*(?:/\*(.*?)\*/)?",
                          m.group(1), re.S):
        v = int(em.group(2))
        rng = ("ok" if v == 0 else "misuse" if -99 <= v <= -1 else "malformed" if -199 <= v <= -100
               else "auth" if -299 <= v <= -200 else "policy" if -399 <= v <= -300
               else "backend" if -499 <= v <= -400 else None)
        if rng is None:
            raise SystemExit("gen_abi: %s = %d is in no range" % (em.group(1), v))
        errors.append({"name": em.group(1), "value": v, "range": rng,
                       "comment": " ".join((em.group(3) or "").split())})
    return errors


def read_headers(include_dir):
    # iotsec/config.h (generated by the build) says which parts a build has; it is not ABI.
    paths = sorted(p for p in glob.glob(os.path.join(include_dir, "iotsec", "*.h"))
                   if os.path.basename(p) != "config.h")
    if not paths:
        raise SystemExit("gen_abi: no headers in %s/iotsec" % include_dir)
    return [(os.path.basename(p), open(p, encoding="utf-8").read()) for p in paths]


def generate(include_dir, src_root, cc):
    headers = read_headers(include_dir)
    errors = parse_errors(headers)
    consts, macros, env = parse_constants(headers)
    enums = parse_enums(headers, env)
    structs = parse_structs(headers)
    lay = layouts(structs, include_dir, cc)
    if lay is not None:
        for s in structs:
            if s["name"] in lay:
                v = lay[s["name"]]
                s["lp64"] = {"size": v[0], "align": v[1]}
                for mem, off in zip(s["members"], v[2:]):
                    mem["lp64_offset"] = off
    fns = parse_functions(headers, env, [e["name"] for e in errors if e["value"] != 0], src_root)
    vconst = {c["name"]: c["value"] for c in consts}
    major = vconst["IOTSEC_VERSION_MAJOR"]
    return {
        "comment": "Generated by tools/gen-vectors/gen_abi.py from include/iotsec/*.h; checked "
                   "against the installed headers and library by tests/scripts/abi_check.sh. "
                   "Do not edit: regenerate. See bindings-spec/README.md for the rules.",
        "library": {"name": "libiotsec", "soname": "libiotsec.so.%d" % major,
                    "version": vconst["IOTSEC_VERSION_STRING"]},
        "errors": errors,
        "error_ranges": [
            {"range": "misuse", "min": -99, "max": -1},
            {"range": "malformed", "min": -199, "max": -100},
            {"range": "auth", "min": -299, "max": -200},
            {"range": "policy", "min": -399, "max": -300},
            {"range": "backend", "min": -499, "max": -400}],
        "constants": consts,
        "macros": macros,
        "enums": enums,
        "structs": structs,
        "functions": fns,
    }


# ---- the compile-time check ------------------------------------------------------------------


def check_source(abi):
    o = ["/* Generated by tools/gen-vectors/gen_abi.py --check-source from bindings-spec/abi.json:",
         " * compiles only when the headers match abi.json. */",
         "#include <stddef.h>", "#include <stdio.h>", "#include <string.h>",
         '#include "iotsec/iotsec.h"', "",
         "#define ABI_SAME(fn, T) _Static_assert(_Generic(&fn, T: 1, default: 0), "
         '#fn " has another type than in abi.json")', ""]
    for f in abi["functions"]:
        types = ", ".join(p["type"] for p in f["params"]) or "void"
        o.append("typedef %s (*abi_t_%s)(%s);" % (f["ret"], f["name"], types))
        o.append("ABI_SAME(%s, abi_t_%s);" % (f["name"], f["name"]))
    o.append("")
    for c in abi["constants"]:
        if isinstance(c["value"], int):
            o.append('_Static_assert((%s) == %dull, "%s");' % (c["name"], c["value"], c["name"]))
    for m in abi["macros"]:
        o.append("#ifndef %s\n#error %s is not defined\n#endif" % (m["name"], m["name"]))
    for e in abi["enums"]:
        for v in e["values"]:
            o.append('_Static_assert(%s == %d, "%s");' % (v["name"], v["value"], v["name"]))
    o.append("#if defined(__LP64__) || defined(_LP64)")
    for s in abi["structs"]:
        if "lp64" not in s:
            continue
        t = s["name"] if s["name"] != "iotsec_crypto" else "struct iotsec_crypto"
        o.append('_Static_assert(sizeof(%s) == %d && _Alignof(%s) == %d, "layout of %s");'
                 % (t, s["lp64"]["size"], t, s["lp64"]["align"], s["name"]))
        for mem in s["members"]:
            o.append('_Static_assert(offsetof(%s, %s) == %d, "offset of %s.%s");'
                     % (t, mem["name"], mem["lp64_offset"], s["name"], mem["name"]))
    o.append("#endif")
    o += ["", "int main(void)", "{", "    int bad = 0;", "    const char *n;"]
    for e in abi["errors"]:
        o.append("    n = iotsec_error_name(%d);" % e["value"])
        o.append('    if (n == NULL || strcmp(n, "%s") != 0) { printf("iotsec_error_name(%d) is %%s, '
                 'abi.json says %s\\n", n ? n : "NULL"); bad = 1; }' % (e["name"], e["value"], e["name"]))
        rng = e["range"]
        for r in ("misuse", "malformed", "auth", "policy", "backend"):
            o.append('    if (iotsec_err_is_%s(%d) != %d) { puts("range of %s"); bad = 1; }'
                     % (r, e["value"], 1 if r == rng else 0, e["name"]))
    for c in abi["constants"]:
        if isinstance(c["value"], str):
            o.append('    if (strcmp(%s, "%s") != 0) { puts("%s"); bad = 1; }'
                     % (c["name"], c["value"], c["name"]))
    o.append('    if (strcmp(iotsec_version(), "%s") != 0) { puts("iotsec_version()"); bad = 1; }'
             % abi["library"]["version"])
    o += ["    return bad;", "}", ""]
    return "\n".join(o)


def readme_errors(abi):
    """The error table of bindings-spec/README.md (between its errors:begin/end markers)."""
    o = ["| code | value | range | meaning |", "|---|---:|---|---|"]
    for e in abi["errors"]:
        o.append("| `%s` | %d | %s | %s |" % (e["name"], e["value"], e["range"],
                                             e["comment"] or "success"))
    return "\n".join(o) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--include", default=os.path.join(root, "include"),
                    help="directory holding iotsec/*.h (default: the tree's include/)")
    ap.add_argument("--src", default=root, help="source tree (for defined_in)")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--out", default=None, help="output file (default: stdout)")
    ap.add_argument("--abi", default=None, help="with --check-source: the abi.json to check")
    ap.add_argument("--check-source", default=None, help="write the C check program here")
    ap.add_argument("--readme-errors", action="store_true",
                    help="print the README's error table from --abi (default bindings-spec/abi.json)")
    a = ap.parse_args()
    if a.readme_errors:
        with open(a.abi or os.path.join(root, "bindings-spec", "abi.json")) as f:
            sys.stdout.write(readme_errors(json.load(f)))
        return
    if a.check_source:
        with open(a.abi or os.path.join(root, "bindings-spec", "abi.json")) as f:
            abi = json.load(f)
        with open(a.check_source, "w") as f:
            f.write(check_source(abi))
        return
    text = json.dumps(generate(a.include, a.src, a.cc), indent=1, ensure_ascii=False) + "\n"
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
