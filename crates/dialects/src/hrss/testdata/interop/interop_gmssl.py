"""hrss crypto as a Python merchant does it with gmssl (pip install gmssl==3.2.2).

    python3 interop_gmssl.py inputs.json > gmssl.json

reads a case file (inputs.json here, or the one tests/hrss_interop.rs writes) and prints,
as JSON: the public keys gmssl derives from the private keys, gmssl's signatures of the
requested messages (raw r||s and DER, as hex: what sign_with_sm3 returns), gmssl's SM4
ciphertexts of the plaintexts (ECB, PKCS#7, base64), and, when the case file asks, whether
gmssl verifies paymux's signatures ("verify") and what it decrypts paymux's ciphertexts to
("decrypt"). Nothing is compared here: the Rust tests compare.

gmssl facts this relies on (gmssl/sm2.py, 3.2.2):
- sign_with_sm3/verify_with_sm3 always use the user ID 1234567812345678 (hard-coded in
  _sm3_z); an empty or other ID cannot be asked for, so those jobs are left out.
- CryptSM2's constructor strips the public key's prefix with lstrip("04") whenever the
  key starts with "04", which also eats x's leading 0s and 4s: 04||x||y breaks when x
  starts with 0 or 4 (one key in eight), and even the bare x||y breaks when x starts
  with 04 (one in 256). Signing and verifying then hash a wrong Z. The way round it:
  set .public_key to the 128 digits after construction, as crypt() does (the x4 key
  of inputs.json has an x starting with 04).
- asn1=False (the default) signs raw r||s as 128 hex digits; asn1=True signs DER (hex).
"""

import base64
import json
import sys

from gmssl import sm2, sm4

N = int(sm2.default_ecc_table["n"], 16)
G = sm2.default_ecc_table["g"]
STANDARD_ID = "1234567812345678"


def crypt(key, der):
    public_key = key["public"]
    signer = sm2.CryptSM2(private_key=key["private"], public_key="", asn1=der)
    # x||y set past the constructor's lstrip("04") (see above).
    signer.public_key = public_key[2:] if len(public_key) == 130 else public_key
    return signer


def r_s(form, sig_hex):
    raw = bytes.fromhex(sig_hex)
    if form == "raw":
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    # 30 L 02 Lr r 02 Ls s (a signature is always short-form length)
    lr = raw[3]
    ls = raw[5 + lr]
    return int.from_bytes(raw[4 : 4 + lr], "big"), int.from_bytes(raw[6 + lr : 6 + lr + ls], "big")


def has_shape(shape, r, s):
    return {
        "any": True,
        "short_r": r < 1 << 248,
        "short_s": s < 1 << 248,
        "high_r": r >= 1 << 255,
    }[shape]


def sign(cases, job, form):
    key = cases["keys"][job["key"]]
    message = cases["messages"][job["message"]].encode("utf-8")
    signer = crypt(key, form == "der")
    for _ in range(20000):
        sig = signer.sign_with_sm3(message)
        if sig is not None and has_shape(job.get("shape", "any"), *r_s(form, sig)):
            return sig
    raise SystemExit("no signature of shape %s in 20000 tries" % job.get("shape"))


def verify(cases, v):
    verifier = crypt(cases["keys"][v["key"]], v["form"] == "der")
    try:
        return bool(verifier.verify_with_sm3(v["hex"], cases["messages"][v["message"]].encode("utf-8")))
    except Exception:  # gmssl raises on what it cannot parse
        return False


def sm4_key(entry):
    return bytes.fromhex(entry["text"]) if entry["form"] == "hex" else entry["text"].encode("utf-8")


def sm4_crypt(key, mode, data):
    cipher = sm4.CryptSM4()  # PKCS#7 padding by default
    cipher.set_key(key, mode)
    return cipher.crypt_ecb(data)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = {"library": "gmssl 3.2.2", "public_keys": {}, "signatures": [], "sm4": []}
    for name, key in cases["keys"].items():
        point = crypt(key, False)._kg(int(key["private"], 16), G)
        out["public_keys"][name] = "04" + point
    for job in cases.get("signatures", []):
        if job.get("user_id", STANDARD_ID) != STANDARD_ID:
            continue
        for form in ("raw", "der"):
            out["signatures"].append(dict(job, form=form, hex=sign(cases, job, form)))
    for k, key in enumerate(cases.get("sm4_keys", [])):
        for p, plain in enumerate(cases.get("plaintexts", [])):
            cipher = sm4_crypt(sm4_key(key), sm4.SM4_ENCRYPT, plain.encode("utf-8"))
            out["sm4"].append({"key": k, "plaintext": p, "base64": base64.b64encode(cipher).decode()})
    if "verify" in cases:
        out["verified"] = [verify(cases, v) for v in cases["verify"]]
    if "decrypt" in cases:
        decrypted = []
        for d in cases["decrypt"]:
            try:
                plain = sm4_crypt(sm4_key(cases["sm4_keys"][d["key"]]), sm4.SM4_DECRYPT, base64.b64decode(d["base64"]))
                decrypted.append(plain.decode("utf-8"))
            except Exception:  # a wrong key: bad padding or not UTF-8
                decrypted.append(None)
        out["decrypted"] = decrypted
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
