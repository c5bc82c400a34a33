#!/usr/bin/env python3
"""Prepares what the C test suite reads from the vendored vectors (tests/vectors), in a form
that is easy to read from C: tab-separated hex. Usage: gen_fixtures.py VECTORS_DIR OUT_DIR"""
import base64, json, os, shutil, stat, sys

vectors, out = sys.argv[1], sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)

def ct_bytes(case):
    if case.get("ciphertext_file"):
        return open(os.path.join(vectors, case["ciphertext_file"]), "rb").read()
    ct = case["ciphertext"]
    return base64.b64decode(ct) if case.get("ciphertext_wrapped") == "base64" else ct.encode()

def pt_bytes(case):
    if case.get("plaintext_file"):
        return open(os.path.join(vectors, case["plaintext_file"]), "rb").read()
    return base64.b64decode(case["plaintext_b64"])

# strings.json: one line per case: cipher key iv version encoding header ciphertext plaintext
strings = json.load(open(os.path.join(vectors, "strings.json")))
with open(os.path.join(out, "values.tsv"), "w") as f:
    for c in strings["cases"]:
        k = strings["keys"][c["key_id"]]
        iv = base64.b64decode(k["iv_b64"]).hex() if k.get("iv_b64") else "-"
        f.write("\t".join([c["cipher_name"], base64.b64decode(k["key_b64"]).hex(), iv, str(c["version"]),
                           c["encoding"], "1" if c["always_add_header"] else "0",
                           ct_bytes(c).hex() or "-", pt_bytes(c).hex() or "-"]) + "\n")

# A configuration set with file keystores: copy it, give the key files their recorded modes.
index = {f["path"]: f for f in json.load(open(os.path.join(vectors, "index.json")))["files"]}
set_dir = os.path.join(vectors, "configs", "file_gcm_default")
dst = os.path.join(out, "file_gcm_default")
shutil.copytree(set_dir, dst)
for name in os.listdir(os.path.join(dst, "keys")):
    mode = index.get(f"configs/file_gcm_default/keys/{name}", {}).get("mode", "0600")
    os.chmod(os.path.join(dst, "keys", name), int(mode, 8))
s = json.load(open(os.path.join(set_dir, "set.json")))
with open(os.path.join(dst, "samples.tsv"), "w") as f:
    for env in s["environments"]:
        for smp in env["samples"]:
            f.write("\t".join([env["environment"], ct_bytes(smp).hex() or "-", pt_bytes(smp).hex() or "-"]) + "\n")

# files/: config + streams + plaintexts, and a list: name, read_with_version (-1 = header).
files_dst = os.path.join(out, "files")
shutil.copytree(os.path.join(vectors, "files"), files_dst)
manifest = json.load(open(os.path.join(vectors, "files", "manifest.json")))
with open(os.path.join(files_dst, "files.tsv"), "w") as f:
    for e in manifest["files"]:
        v = e.get("read_with_version")
        f.write("\t".join([e["enc_file"], e["plain_file"], str(-1 if v is None else v)]) + "\n")

# handwritten_legacy: the pre-v4 RSA environments (private_rsa_key, PEM key_encrypting_key,
# encrypted_iv, iv_filename) and their samples.
legacy_src = os.path.join(vectors, "configs", "handwritten_legacy")
legacy_dst = os.path.join(out, "handwritten_legacy")
shutil.copytree(legacy_src, legacy_dst)
for name in os.listdir(os.path.join(legacy_dst, "keys")):
    os.chmod(os.path.join(legacy_dst, "keys", name), 0o600)
s = json.load(open(os.path.join(legacy_src, "set.json")))
with open(os.path.join(legacy_dst, "samples.tsv"), "w") as f:
    for env in s["environments"]:
        if env["environment"] not in ("production_rsa", "production_v4beta"):
            continue
        for smp in env["samples"]:
            f.write("\t".join([env["environment"], ct_bytes(smp).hex() or "-", pt_bytes(smp).hex() or "-"]) + "\n")
