//! The national algorithms hrss is built on, and the forms merchants paste their keys in.
//!
//! - Signatures are SM2 over SM3 (SM3withSM2) with the user ID `1234567812345678`, the
//!   default of BouncyCastle, Hutool, gmssl and sm-crypto (OpenSSL needs it said:
//!   `-sigopt distid:1234567812345678`). paymux signs DER, as BouncyCastle and Hutool do,
//!   and accepts DER or the raw 64-byte `r‖s` (sm-crypto's default), in base64 or hex.
//! - `data` is SM4 in ECB mode with PKCS#7 padding, in standard base64 with padding.
//! - Keys: public keys as `04‖x‖y` hex (also without the `04`, or compressed); private keys
//!   as 64 hex digits (Java's `BigInteger` forms too: a leading `00` byte, or leading zeros
//!   dropped); SM4 keys as 16 characters used as they are, or as 32 hex digits.

use std::fmt;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

/// The SM2 user ID (distinguishing identifier) every hrss party uses.
pub const USER_ID: &str = "1234567812345678";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not an SM2 private key: 64 hex digits, or base64/PEM PKCS#8, expected")]
    PrivateKeyForm,
    #[error("is not an SM2 private key: out of the curve's range")]
    PrivateKeyRange,
    #[error(
        "is not an SM2 public key: 04 followed by 128 hex digits, or base64/PEM X.509, expected"
    )]
    PublicKeyForm,
    #[error("is not an SM2 public key: not a point of the curve")]
    PublicKeyPoint,
    #[error("is not an SM4 key: 16 characters or 32 hex digits expected")]
    Sm4KeyForm,
    #[error("does not belong to the public key configured with it")]
    Mismatch,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Base64 as Java's decoders read it: padding optional.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 the way merchants send it: with or without padding, with line breaks
/// (Java's MIME encoder), and with `+` turned into a space by a form decoder.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    LENIENT.decode(cleaned.trim_end()).ok()
}

pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The DER inside a key written as Java prints it (`Base64.getEncoder()` of
/// `getEncoded()`, which Hutool's `getPublicKeyBase64`/`getPrivateKeyBase64` return), or
/// as PEM around the same base64.
fn key_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    decode_base64(&body).filter(|der| der.first() == Some(&0x30))
}

fn hex_digits(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // An odd number of digits is a number whose leading zero was dropped.
    let padded = if !text.len().is_multiple_of(2) {
        format!("0{text}")
    } else {
        text.to_owned()
    };
    hex::decode(padded).ok()
}

/// An SM2 private key (the platform's, or a merchant's in `paymux client`).
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(…)")
    }
}

impl PrivateKey {
    /// 64 hex digits; Java's `BigInteger.toByteArray()` (a leading `00`) and
    /// `toString(16)` (leading zeros dropped) forms are normalised.
    /// Also PKCS#8, in base64 or PEM (Hutool's `getPrivateKeyBase64`).
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        let Some(mut bytes) = hex_digits(text) else {
            use sm2::pkcs8::DecodePrivateKey;
            let der = key_der(text).ok_or(KeyError::PrivateKeyForm)?;
            let secret =
                sm2::SecretKey::from_pkcs8_der(&der).map_err(|_| KeyError::PrivateKeyForm)?;
            return SigningKey::new(USER_ID, &secret)
                .map(PrivateKey)
                .map_err(|_| KeyError::PrivateKeyRange);
        };
        while bytes.len() > 32 && bytes[0] == 0 {
            bytes.remove(0);
        }
        if bytes.len() > 32 {
            return Err(KeyError::PrivateKeyForm);
        }
        let mut scalar = [0u8; 32];
        scalar[32 - bytes.len()..].copy_from_slice(&bytes);
        SigningKey::from_slice(USER_ID, &scalar)
            .map(PrivateKey)
            .map_err(|_| KeyError::PrivateKeyRange)
    }

    /// A new key from the system's randomness.
    pub fn generate() -> Result<PrivateKey, KeyError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
            // Out of range (zero, or not below the order) about once in 2^32 tries.
            if let Ok(key) = SigningKey::from_slice(USER_ID, &bytes) {
                return Ok(PrivateKey(key));
            }
        }
    }

    /// 64 lower-case hex digits: the key itself, for the config file that keeps it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().clone())
    }

    /// Signs `message` (the string to sign), DER-encoded, in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = self.0.sign(message);
        encode_base64(signature.to_der().as_bytes())
    }

    /// Signs `message` as raw `r‖s` (64 bytes), in base64: what sm-crypto sends.
    pub fn sign_raw(&self, message: &[u8]) -> String {
        let signature: Signature = self.0.sign(message);
        encode_base64(&signature.to_bytes())
    }
}

/// An SM2 public key (a merchant's, or the platform's for whoever verifies its calls).
#[derive(Clone)]
pub struct PublicKey(VerifyingKey);

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.0.to_sec1_bytes() == other.0.to_sec1_bytes()
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl PublicKey {
    /// `04‖x‖y` in hex; also the 128 digits without `04`, compressed `02`/`03‖x`, and
    /// X.509 SubjectPublicKeyInfo in base64 or PEM (Hutool's `getPublicKeyBase64`).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let Some(bytes) = hex_digits(text) else {
            use sm2::pkcs8::DecodePublicKey;
            let der = key_der(text).ok_or(KeyError::PublicKeyForm)?;
            let key =
                sm2::PublicKey::from_public_key_der(&der).map_err(|_| KeyError::PublicKeyForm)?;
            return VerifyingKey::new(USER_ID, key)
                .map(PublicKey)
                .map_err(|_| KeyError::PublicKeyPoint);
        };
        let bytes = match bytes.len() {
            65 | 33 => bytes,
            64 => [&[4u8][..], &bytes].concat(),
            _ => return Err(KeyError::PublicKeyForm),
        };
        VerifyingKey::from_sec1_bytes(USER_ID, &bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::PublicKeyPoint)
    }

    /// `04‖x‖y`, lower-case hex: the form DESIGN.md and merchants' SDKs use.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_sec1_bytes())
    }

    /// Whether `signature` (base64 or hex; DER or raw `r‖s`) signs `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        signature_candidates(signature)
            .iter()
            .any(|s| self.0.verify(message, s).is_ok())
    }

    /// [`PublicKey::verify`], and when it does not, why, as far as can be told: a merchant
    /// whose signatures fail needs to know whether it is the user ID or something else.
    pub fn check(&self, message: &[u8], signature: &str) -> Result<(), SignatureError> {
        let candidates = signature_candidates(signature);
        if candidates.is_empty() {
            return Err(SignatureError::Unreadable);
        }
        if candidates.iter().any(|s| self.0.verify(message, s).is_ok()) {
            return Ok(());
        }
        // The empty ID is OpenSSL's default (no `-sigopt distid:…`) and what a library
        // told `userId: ''` uses: the same key, another Z.
        if let Ok(empty) = VerifyingKey::from_affine("", *self.0.as_affine())
            && candidates.iter().any(|s| empty.verify(message, s).is_ok())
        {
            return Err(SignatureError::EmptyUserId);
        }
        Err(SignatureError::Mismatch)
    }
}

/// Why a signature was refused, from the least telling to the most (a request read two
/// ways reports the most telling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature does not match the message and the public key")]
    Mismatch,
    #[error("the signature is neither DER nor a 64-byte r‖s, in base64 or hex")]
    Unreadable,
    #[error("the signature was made with the empty user ID (OpenSSL's default), not {USER_ID}")]
    EmptyUserId,
}

/// Every signature the text can be read as. A hex string is also valid base64, so both
/// readings are tried; a wrong reading simply does not verify.
fn signature_candidates(text: &str) -> Vec<Signature> {
    let mut encodings = Vec::new();
    let trimmed = text.trim();
    if trimmed.len().is_multiple_of(2)
        && let Some(bytes) = hex_digits(trimmed)
    {
        encodings.push(bytes);
    }
    if let Some(bytes) = decode_base64(trimmed) {
        encodings.push(bytes);
    }
    encodings
        .into_iter()
        .filter_map(|bytes| {
            if bytes.len() == Signature::BYTE_SIZE {
                Signature::from_slice(&bytes).ok()
            } else {
                Signature::from_der(&bytes).ok()
            }
        })
        .collect()
}

/// A merchant's SM4 key (the 渠道密钥 of §3.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Sm4Key([u8; 16]);

impl fmt::Debug for Sm4Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4Key(…)")
    }
}

/// Why `data` could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("not base64")]
    Base64,
    #[error("not whole SM4 blocks, or the padding is wrong (another key?)")]
    Padding,
    #[error("the plaintext is not UTF-8")]
    Utf8,
}

impl Sm4Key {
    /// 32 hex digits, or 16 characters taken as their bytes.
    pub fn parse(text: &str) -> Result<Sm4Key, KeyError> {
        let bytes: Vec<u8> = if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KeyError::Sm4KeyForm)?
        } else if text.len() == 16 {
            text.as_bytes().to_vec()
        } else {
            return Err(KeyError::Sm4KeyForm);
        };
        let mut key = [0u8; 16];
        key.copy_from_slice(&bytes);
        Ok(Sm4Key(key))
    }

    /// SM4-ECB-PKCS7, standard base64 with padding.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let encryptor = ecb::Encryptor::<sm4::Sm4>::new(&self.0.into());
        encode_base64(&encryptor.encrypt_padded_vec::<Pkcs7>(plaintext.as_bytes()))
    }

    pub fn decrypt(&self, ciphertext: &str) -> Result<String, DecryptError> {
        let bytes = decode_base64(ciphertext).ok_or(DecryptError::Base64)?;
        let decryptor = ecb::Decryptor::<sm4::Sm4>::new(&self.0.into());
        let plain = decryptor
            .decrypt_padded_vec::<Pkcs7>(&bytes)
            .map_err(|_| DecryptError::Padding)?;
        String::from_utf8(plain).map_err(|_| DecryptError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testdata::fixture;

    #[test]
    fn the_design_known_answer_encrypts_and_decrypts() {
        let key = Sm4Key::parse(&fixture("hrss", "sm4.key.txt")).unwrap();
        let plain = fixture("hrss", "sm4.plaintext.json");
        let cipher = fixture("hrss", "sm4.ciphertext.txt");
        assert_eq!(key.encrypt(&plain), cipher);
        assert_eq!(key.decrypt(&cipher).unwrap(), plain);
        // Line breaks and missing padding, as Java encoders write it.
        let wrapped = format!(
            "{}\r\n{}",
            &cipher[..76],
            cipher[76..].trim_end_matches('=')
        );
        assert_eq!(key.decrypt(&wrapped).unwrap(), plain);
    }

    #[test]
    fn keys_read_as_hutool_prints_them_base64_or_pem() {
        let printed = fixture("hrss", "interop/hutool-keys.txt");
        let mut lines = printed.lines();
        let (public_b64, private_b64) = (lines.next().unwrap(), lines.next().unwrap());
        let public_hex = fixture("hrss", "merchant.public-key.txt");
        let private_hex = fixture("hrss", "merchant.private-key.txt");
        let public = PublicKey::parse(public_b64).unwrap();
        assert_eq!(public.to_hex(), public_hex.trim());
        let private = PrivateKey::parse(private_b64).unwrap();
        assert_eq!(private.to_hex(), private_hex.trim());
        // The same as PEM, with Java's 64-character lines.
        let pem = |label: &str, b64: &str| {
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                lines.join("\n")
            )
        };
        let from_pem = PublicKey::parse(&pem("PUBLIC KEY", public_b64)).unwrap();
        assert_eq!(from_pem, public);
        let from_pem = PrivateKey::parse(&pem("PRIVATE KEY", private_b64)).unwrap();
        assert_eq!(from_pem.public_key(), public);
        // A signature made with the parsed key verifies under the hex one.
        let signature = private.sign(b"abc");
        assert!(
            PublicKey::parse(&public_hex)
                .unwrap()
                .verify(b"abc", &signature)
        );
        // Base64 that is not a key of the right kind is still refused.
        assert_eq!(
            PublicKey::parse(private_b64).unwrap_err(),
            KeyError::PublicKeyForm
        );
        assert_eq!(
            PrivateKey::parse(public_b64).unwrap_err(),
            KeyError::PrivateKeyForm
        );
        assert_eq!(
            PublicKey::parse("MFkwEwYHKoZIzj0CAQ").unwrap_err(),
            KeyError::PublicKeyForm
        );
    }

    #[test]
    fn sm4_keys_come_as_hex_or_as_sixteen_characters() {
        let hex_key = Sm4Key::parse("30313233343536373839616263646566").unwrap();
        assert_eq!(hex_key, Sm4Key::parse("0123456789abcdef").unwrap());
        for bad in [
            "",
            "0123",
            "0123456789abcdef0",
            "zz23456789abcdeffedcba987654321z",
        ] {
            assert_eq!(Sm4Key::parse(bad), Err(KeyError::Sm4KeyForm), "{bad}");
        }
        let key = Sm4Key::parse("0123456789abcdeffedcba9876543210").unwrap();
        assert_eq!(key.decrypt("not base64!"), Err(DecryptError::Base64));
        assert_eq!(key.decrypt("AAAA"), Err(DecryptError::Padding));
        let other = Sm4Key::parse("fedcba98765432100123456789abcdef").unwrap();
        assert!(other.decrypt(&key.encrypt("{\"a\":1}")).is_err());
    }

    #[test]
    fn private_keys_in_java_forms_are_the_same_key() {
        let hex = format!("0000{}", "1".repeat(60));
        let key = PrivateKey::parse(&hex).unwrap();
        assert_eq!(key.to_hex(), hex);
        assert_eq!(
            PrivateKey::parse(&format!("00{hex}")).unwrap().to_hex(),
            hex
        );
        assert_eq!(
            PrivateKey::parse(hex.trim_start_matches('0'))
                .unwrap()
                .to_hex(),
            hex
        );
        assert_eq!(
            PrivateKey::parse(&"f".repeat(64)).unwrap_err(),
            KeyError::PrivateKeyRange
        );
        assert_eq!(
            PrivateKey::parse("xyz").unwrap_err(),
            KeyError::PrivateKeyForm
        );
        assert_eq!(
            PrivateKey::parse(&"1".repeat(66)).unwrap_err(),
            KeyError::PrivateKeyForm
        );
    }

    #[test]
    fn public_keys_parse_with_or_without_their_prefix_and_compressed() {
        let key = PrivateKey::generate().unwrap().public_key();
        let full = key.to_hex();
        assert!(full.starts_with("04") && full.len() == 130, "{full}");
        assert_eq!(PublicKey::parse(&full).unwrap(), key);
        assert_eq!(PublicKey::parse(&full[2..]).unwrap(), key);
        assert_eq!(PublicKey::parse(&full.to_uppercase()).unwrap(), key);
        assert_eq!(
            PublicKey::parse(&format!("04{}", "1".repeat(128))).unwrap_err(),
            KeyError::PublicKeyPoint
        );
        assert_eq!(PublicKey::parse("04").unwrap_err(), KeyError::PublicKeyForm);
    }

    #[test]
    fn signatures_verify_as_der_or_raw_in_base64_or_hex_and_only_for_their_message() {
        let key = PrivateKey::generate().unwrap();
        let public = key.public_key();
        let message = b"access_key=DOTEST&timestamp=1";
        let der = key.sign(message);
        let raw = key.sign_raw(message);
        assert_eq!(decode_base64(&raw).unwrap().len(), 64);
        assert!(public.verify(message, &der));
        assert!(public.verify(message, &raw));
        assert!(public.verify(message, &hex::encode(decode_base64(&der).unwrap())));
        assert!(public.verify(message, &hex::encode(decode_base64(&raw).unwrap())));
        // A form decoder turned its `+` into spaces.
        assert!(public.verify(message, &der.replace('+', " ")));
        assert!(!public.verify(b"access_key=DOTEST&timestamp=2", &der));
        let other = PrivateKey::generate().unwrap().public_key();
        assert!(!other.verify(message, &der));
        assert!(!public.verify(message, ""));
        assert!(!public.verify(message, "not a signature"));
    }
}

/// Interoperability with OpenSSL 3 on this machine, both ways: what paymux signs and
/// encrypts, OpenSSL verifies and decrypts, and the other way round. Without `openssl` a
/// test says SKIPPED on stderr and passes, unless `PAYMUX_INTEROP=1` (as CI sets it, and
/// as `tests/hrss_interop.rs` reads it), which makes it a failure.
#[cfg(test)]
mod openssl {
    use std::io::Write;
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::common::testdata::fixture;

    /// Whether a missing tool fails the test rather than skipping it.
    fn required(interop: Option<&str>) -> bool {
        interop == Some("1")
    }

    /// What becomes of a run of `openssl` that could not start: `None` after saying
    /// SKIPPED on `report`, or a panic when interoperability is `required`.
    fn skipped(
        started: std::io::Result<std::process::Output>,
        required: bool,
        report: &mut dyn Write,
    ) -> Option<std::process::Output> {
        match started {
            Ok(output) => Some(output),
            Err(e) if required => {
                panic!("PAYMUX_INTEROP=1 and openssl cannot run: {e}")
            }
            Err(e) => {
                let _ = writeln!(
                    report,
                    "crypto::openssl: SKIPPED: cannot run openssl ({e}); the OpenSSL interoperability tests need it on PATH. Set PAYMUX_INTEROP=1 to make this a failure."
                );
                None
            }
        }
    }

    /// `openssl args` run in `dir`; `None` when there is no `openssl` (see [`skipped`]).
    fn openssl(args: &[&str], dir: &Path) -> Option<std::process::Output> {
        let interop = std::env::var("PAYMUX_INTEROP").ok();
        skipped(
            Command::new("openssl").args(args).current_dir(dir).output(),
            required(interop.as_deref()),
            // io::stderr() directly: the harness captures eprintln! of a passing test.
            &mut std::io::stderr(),
        )
    }

    #[test]
    fn a_missing_openssl_is_skipped_unless_interop_is_required() {
        let missing = || {
            Command::new("paymux-no-such-openssl")
                .arg("version")
                .output()
        };
        assert!(!required(None));
        assert!(!required(Some("0")));
        assert!(required(Some("1")));
        let mut said = Vec::new();
        assert!(skipped(missing(), false, &mut said).is_none());
        let said = String::from_utf8(said).unwrap();
        assert!(said.contains("SKIPPED"), "{said}");
        let failed = std::panic::catch_unwind(|| skipped(missing(), true, &mut Vec::new()));
        let why = failed.expect_err("PAYMUX_INTEROP=1 makes a missing openssl a failure");
        let why = why.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(why.contains("PAYMUX_INTEROP=1"), "{why}");
    }

    /// The key in the DER forms OpenSSL reads: SEC1 `ECPrivateKey` and
    /// `SubjectPublicKeyInfo`, both on the SM2 curve (OID 1.2.156.10197.1.301).
    fn write_keys(dir: &Path, key: &PrivateKey) {
        let public = key.public_key().to_hex();
        let sec1 = format!(
            "30770201010420{}a00a06082a811ccf5501822da144034200{public}",
            key.to_hex()
        );
        let spki = format!("3059301306072a8648ce3d020106082a811ccf5501822d034200{public}");
        std::fs::write(dir.join("key.der"), hex::decode(sec1).unwrap()).unwrap();
        std::fs::write(dir.join("pub.der"), hex::decode(spki).unwrap()).unwrap();
    }

    const USER_ID_OPT: &str = "distid:1234567812345678";

    #[test]
    fn openssl_verifies_what_paymux_signs_and_paymux_verifies_what_openssl_signs() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::parse(&fixture("hrss", "merchant.private-key.txt")).unwrap();
        write_keys(dir.path(), &key);
        let message = fixture("hrss", "request.string-to-sign.txt");
        std::fs::write(dir.path().join("message"), &message).unwrap();

        // paymux → OpenSSL (DER, the user ID given).
        let ours = decode_base64(&key.sign(message.as_bytes())).unwrap();
        std::fs::write(dir.path().join("ours.sig"), ours).unwrap();
        let Some(out) = openssl(
            &[
                "dgst",
                "-sm3",
                "-verify",
                "pub.der",
                "-keyform",
                "DER",
                "-sigopt",
                USER_ID_OPT,
                "-signature",
                "ours.sig",
                "message",
            ],
            dir.path(),
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
        // Without the user ID OpenSSL hashes another Z: the ID is part of the contract.
        let out = openssl(
            &[
                "dgst",
                "-sm3",
                "-verify",
                "pub.der",
                "-keyform",
                "DER",
                "-signature",
                "ours.sig",
                "message",
            ],
            dir.path(),
        )
        .unwrap();
        assert!(!out.status.success());

        // OpenSSL → paymux, as DER and as raw r‖s (what sm-crypto sends).
        let out = openssl(
            &[
                "dgst",
                "-sm3",
                "-sign",
                "key.der",
                "-keyform",
                "DER",
                "-sigopt",
                USER_ID_OPT,
                "-out",
                "theirs.sig",
                "message",
            ],
            dir.path(),
        )
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = std::fs::read(dir.path().join("theirs.sig")).unwrap();
        let public = key.public_key();
        assert!(public.verify(message.as_bytes(), &encode_base64(&theirs)));
        let raw = Signature::from_der(&theirs).unwrap().to_bytes();
        assert!(public.verify(message.as_bytes(), &encode_base64(&raw)));
        assert!(public.verify(message.as_bytes(), &hex::encode(raw)));
        assert!(!public.verify(b"another message", &encode_base64(&theirs)));
    }

    #[test]
    fn openssl_without_the_user_id_signs_what_paymux_refuses_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::parse(&fixture("hrss", "merchant.private-key.txt")).unwrap();
        write_keys(dir.path(), &key);
        let message = fixture("hrss", "request.string-to-sign.txt");
        std::fs::write(dir.path().join("message"), &message).unwrap();
        // What a merchant following OpenSSL's defaults sends: no -sigopt distid.
        let Some(out) = openssl(
            &[
                "dgst", "-sm3", "-sign", "key.der", "-keyform", "DER", "-out", "sig", "message",
            ],
            dir.path(),
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sig = encode_base64(&std::fs::read(dir.path().join("sig")).unwrap());
        let public = key.public_key();
        assert!(!public.verify(message.as_bytes(), &sig));
        assert_eq!(
            public.check(message.as_bytes(), &sig),
            Err(SignatureError::EmptyUserId)
        );
    }

    #[test]
    fn openssl_signs_with_a_key_paymux_generated_and_pkeyutl_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate().unwrap();
        write_keys(dir.path(), &key);
        std::fs::write(
            dir.path().join("message"),
            "appId=A203&data=x&mchId=M100043",
        )
        .unwrap();
        let Some(out) = openssl(
            &[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-digest",
                "sm3",
                "-inkey",
                "key.der",
                "-keyform",
                "DER",
                "-pkeyopt",
                USER_ID_OPT,
                "-in",
                "message",
                "-out",
                "sig",
            ],
            dir.path(),
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sig = std::fs::read(dir.path().join("sig")).unwrap();
        assert!(
            key.public_key()
                .verify(b"appId=A203&data=x&mchId=M100043", &encode_base64(&sig))
        );
        std::fs::write(
            dir.path().join("ours.sig"),
            decode_base64(&key.sign(b"appId=A203&data=x&mchId=M100043")).unwrap(),
        )
        .unwrap();
        let out = openssl(
            &[
                "pkeyutl",
                "-verify",
                "-rawin",
                "-digest",
                "sm3",
                "-pubin",
                "-inkey",
                "pub.der",
                "-keyform",
                "DER",
                "-pkeyopt",
                USER_ID_OPT,
                "-in",
                "message",
                "-sigfile",
                "ours.sig",
            ],
            dir.path(),
        )
        .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn openssl_decrypts_what_paymux_encrypts_and_the_other_way_round() {
        let dir = tempfile::tempdir().unwrap();
        let hex_key = fixture("hrss", "sm4.key.txt");
        let key = Sm4Key::parse(&hex_key).unwrap();
        // Lengths around the block size: padding is a whole block when the text fills one.
        for plain in [
            String::new(),
            "{}".to_owned(),
            "0123456789abcdef".to_owned(),
            fixture("hrss", "sm4.plaintext.json"),
            r#"{"idNameOrder":"刘小梦","orderTitle":"测试订单"}"#.repeat(7),
        ] {
            let ours = key.encrypt(&plain);
            std::fs::write(dir.path().join("ours.b64"), format!("{ours}\n")).unwrap();
            let Some(out) = openssl(
                &[
                    "enc", "-d", "-sm4-ecb", "-K", &hex_key, "-a", "-A", "-in", "ours.b64",
                ],
                dir.path(),
            ) else {
                return;
            };
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);

            std::fs::write(dir.path().join("plain"), &plain).unwrap();
            let out = openssl(
                &[
                    "enc", "-sm4-ecb", "-K", &hex_key, "-a", "-A", "-in", "plain",
                ],
                dir.path(),
            )
            .unwrap();
            let theirs = String::from_utf8(out.stdout).unwrap();
            assert_eq!(theirs.trim(), ours, "the same bytes: ECB has no IV");
            assert_eq!(key.decrypt(theirs.trim()).unwrap(), plain);
        }
    }
}

/// What gmssl (Python), sm-crypto (JavaScript) and BouncyCastle (Java, as Hutool drives it)
/// produced, kept in `testdata/interop/` with the scripts that made them (see its README):
/// paymux verifies their signatures, decrypts their ciphertexts and encrypts to the same
/// bytes, every run, without the tools. `tests/hrss_interop.rs` is the other direction.
#[cfg(test)]
mod other_libraries {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::common::testdata::fixture;

    #[derive(Deserialize)]
    struct KeyPair {
        private: String,
        public: String,
    }

    #[derive(Deserialize)]
    struct Sm4KeyText {
        text: String,
        form: String,
    }

    /// `inputs.json`: what every library was asked to sign and encrypt.
    #[derive(Deserialize)]
    struct Inputs {
        user_id: String,
        keys: BTreeMap<String, KeyPair>,
        messages: BTreeMap<String, String>,
        signatures: Vec<Job>,
        sm4_keys: Vec<Sm4KeyText>,
        plaintexts: Vec<String>,
    }

    #[derive(Deserialize, PartialEq, Debug)]
    struct Job {
        key: String,
        message: String,
        shape: String,
        user_id: Option<String>,
    }

    #[derive(Deserialize)]
    struct Signed {
        #[serde(flatten)]
        job: Job,
        form: String,
        hex: String,
    }

    #[derive(Deserialize)]
    struct Sealed {
        key: usize,
        plaintext: usize,
        base64: String,
    }

    /// `<library>.json`: what the library made of the inputs.
    #[derive(Deserialize)]
    struct Output {
        library: String,
        public_keys: BTreeMap<String, String>,
        signatures: Vec<Signed>,
        sm4: Vec<Sealed>,
    }

    const LIBRARIES: [(&str, &str); 3] = [
        ("gmssl.json", "gmssl 3.2.2"),
        ("sm-crypto.json", "sm-crypto 0.5.8"),
        ("bouncycastle.json", "BouncyCastle 1.72"),
    ];

    fn inputs() -> Inputs {
        serde_json::from_str(&fixture("hrss", "interop/inputs.json")).unwrap()
    }

    fn outputs() -> Vec<Output> {
        LIBRARIES
            .iter()
            .map(|(file, library)| {
                let output: Output =
                    serde_json::from_str(&fixture("hrss", &format!("interop/{file}"))).unwrap();
                assert_eq!(output.library, *library, "{file}");
                output
            })
            .collect()
    }

    /// r and s of a signature as the library wrote it.
    fn scalars(form: &str, bytes: &[u8]) -> ([u8; 32], [u8; 32]) {
        let signature = match form {
            "raw" => {
                assert_eq!(bytes.len(), 64, "raw r‖s is 64 bytes");
                Signature::from_slice(bytes).unwrap()
            }
            "der" => {
                assert_eq!(bytes[0], 0x30, "DER is a SEQUENCE");
                Signature::from_der(bytes).unwrap()
            }
            other => panic!("unknown form {other}"),
        };
        (signature.r_bytes().into(), signature.s_bytes().into())
    }

    #[test]
    fn the_inputs_hold_the_key_forms_merchants_paste() {
        let inputs = inputs();
        assert_eq!(inputs.user_id, USER_ID);
        // Java's BigInteger.toByteArray() of a key whose top bit is set: 33 bytes.
        let java = &inputs.keys["java"];
        assert_eq!(java.private.len(), 66);
        assert!(java.private.starts_with("00"));
        // BigInteger.toString(16) of a key whose first digit is 0: 63 digits.
        let x4 = &inputs.keys["x4"];
        assert_eq!(x4.private.len(), 63);
        // gmssl's lstrip("04") eats x's leading 04, with or without the prefix.
        assert!(x4.public.starts_with("0404"));
        for (name, pair) in &inputs.keys {
            let private = PrivateKey::parse(&pair.private).unwrap();
            assert_eq!(private.to_hex().len(), 64, "{name}");
            assert_eq!(
                private.public_key(),
                PublicKey::parse(&pair.public).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn every_library_derives_the_public_keys_paymux_derives() {
        let inputs = inputs();
        for output in outputs() {
            assert_eq!(
                output.public_keys.keys().collect::<Vec<_>>(),
                inputs.keys.keys().collect::<Vec<_>>()
            );
            for (name, theirs) in &output.public_keys {
                let ours = PrivateKey::parse(&inputs.keys[name].private)
                    .unwrap()
                    .public_key();
                assert_eq!(ours.to_hex(), *theirs, "{} {name}", output.library);
            }
        }
    }

    #[test]
    fn signatures_of_every_library_verify_as_they_come_and_in_base64_raw_and_der() {
        let inputs = inputs();
        for output in outputs() {
            let library = &output.library;
            let standard: Vec<&Signed> = output
                .signatures
                .iter()
                .filter(|s| s.job.user_id.as_deref().unwrap_or(USER_ID) == USER_ID)
                .collect();
            // Every job with the standard ID, in both forms.
            let jobs = inputs
                .signatures
                .iter()
                .filter(|j| j.user_id.as_deref().unwrap_or(USER_ID) == USER_ID);
            for job in jobs {
                for form in ["raw", "der"] {
                    assert!(
                        standard.iter().any(|s| s.job == *job && s.form == form),
                        "{library}: no {form} signature for {job:?}"
                    );
                }
            }
            for signed in standard {
                let what = format!("{library} {} {:?}", signed.form, signed.job);
                let key = PublicKey::parse(&inputs.keys[&signed.job.key].public).unwrap();
                let message = inputs.messages[&signed.job.message].as_bytes();
                let bytes = hex::decode(&signed.hex).unwrap();
                let (r, s) = scalars(&signed.form, &bytes);
                match signed.job.shape.as_str() {
                    "any" => {}
                    "short_r" => assert_eq!(r[0], 0, "{what}"),
                    "short_s" => assert_eq!(s[0], 0, "{what}"),
                    "high_r" => assert!(r[0] >= 0x80, "{what}"),
                    other => panic!("unknown shape {other}"),
                }
                // As the library printed it (hex), as it travels (base64), and in the
                // other form.
                let other_form = match signed.form.as_str() {
                    "raw" => Signature::from_slice(&bytes).unwrap().to_der().to_vec(),
                    _ => Signature::from_der(&bytes).unwrap().to_vec(),
                };
                for text in [
                    signed.hex.clone(),
                    signed.hex.to_uppercase(),
                    encode_base64(&bytes),
                    encode_base64(&other_form),
                ] {
                    assert_eq!(key.check(message, &text), Ok(()), "{what}: {text}");
                }
                let mut tampered = message.to_vec();
                tampered.push(b' ');
                assert_eq!(
                    key.check(&tampered, &signed.hex),
                    Err(SignatureError::Mismatch),
                    "{what}"
                );
                let stranger = inputs
                    .keys
                    .iter()
                    .find(|(name, _)| **name != signed.job.key)
                    .map(|(_, pair)| PublicKey::parse(&pair.public).unwrap())
                    .unwrap();
                assert!(!stranger.verify(message, &signed.hex), "{what}");
            }
        }
    }

    #[test]
    fn a_signature_made_with_the_empty_user_id_is_refused_and_the_refusal_says_so() {
        let inputs = inputs();
        let mut libraries = Vec::new();
        for output in outputs() {
            for signed in &output.signatures {
                if signed.job.user_id.as_deref() != Some("") {
                    continue;
                }
                let key = PublicKey::parse(&inputs.keys[&signed.job.key].public).unwrap();
                let message = inputs.messages[&signed.job.message].as_bytes();
                let base64 = encode_base64(&hex::decode(&signed.hex).unwrap());
                for text in [&signed.hex, &base64] {
                    assert!(!key.verify(message, text), "{}", output.library);
                    assert_eq!(
                        key.check(message, text),
                        Err(SignatureError::EmptyUserId),
                        "{} {}",
                        output.library,
                        signed.form
                    );
                }
                libraries.push(output.library.clone());
            }
        }
        // gmssl cannot be asked for another ID; the other two sign with it in both forms.
        libraries.dedup();
        assert_eq!(libraries, ["sm-crypto 0.5.8", "BouncyCastle 1.72"]);
    }

    #[test]
    fn sm4_ciphertexts_of_every_library_decrypt_and_are_the_bytes_paymux_writes() {
        let inputs = inputs();
        for output in outputs() {
            assert_eq!(
                output.sm4.len(),
                inputs.sm4_keys.len() * inputs.plaintexts.len(),
                "{}",
                output.library
            );
            for sealed in &output.sm4 {
                let key_text = &inputs.sm4_keys[sealed.key];
                let key = Sm4Key::parse(&key_text.text).unwrap();
                assert_eq!(
                    key_text.form,
                    if key_text.text.len() == 32 {
                        "hex"
                    } else {
                        "text"
                    }
                );
                let plain = &inputs.plaintexts[sealed.plaintext];
                let what = format!("{} key {} «{plain}»", output.library, key_text.form);
                assert_eq!(key.decrypt(&sealed.base64).as_ref(), Ok(plain), "{what}");
                assert_eq!(key.encrypt(plain), sealed.base64, "{what}");
            }
        }
    }
}
