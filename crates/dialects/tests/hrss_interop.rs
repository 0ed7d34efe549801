//! paymux's hrss crypto checked, live, by the libraries hrss merchants use: gmssl (Python),
//! sm-crypto (JavaScript) and BouncyCastle (Java, driven as Hutool drives it).
//!
//! Fresh paymux keys (in the forms Java prints them), signatures (DER and raw r‖s, with the
//! encodings' edge cases) and SM4 ciphertexts go into a case file; each library's script in
//! `src/hrss/testdata/interop/` verifies and decrypts them, and signs and encrypts fresh ones
//! of its own, which paymux then checks. The committed fixtures (`crypto.rs`,
//! `other_libraries`) prove the library → paymux direction on every run without the tools.
//!
//! Tools: `python3` with pip, `node` with npm, `java` (11 or later) with BouncyCastle's jar
//! (`PAYMUX_BCPROV_JAR`, else `/usr/share/java/bcprov.jar` from Debian's libbcprov-java).
//! The pinned packages are installed once under `target/tmp/interop/`. A tool that is
//! missing is reported on stderr (written past the test harness's capture, so it shows in a
//! plain `cargo test`) and that library is skipped; with `PAYMUX_INTEROP=1` a missing tool
//! fails the test instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paymux_dialects::hrss::codec;
use paymux_dialects::hrss::crypto::{PrivateKey, Sm4Key, decode_base64, encode_base64};
use serde_json::{Value, json};

const GMSSL: [&str; 2] = ["gmssl==3.2.2", "pycryptodomex==3.24.2"];
const SM_CRYPTO: [&str; 2] = ["sm-crypto@0.5.8", "jsbn@1.1.0"];
const BCPROV_JAR: &str = "/usr/share/java/bcprov.jar";

#[test]
fn gmssl_verifies_and_decrypts_what_paymux_makes_and_paymux_what_gmssl_makes() {
    let Some(mut command) = tool("gmssl", python) else {
        return;
    };
    let library = check("gmssl", &mut command);
    assert_eq!(library, "gmssl 3.2.2");
}

#[test]
fn sm_crypto_verifies_and_decrypts_what_paymux_makes_and_paymux_what_sm_crypto_makes() {
    let Some(mut command) = tool("sm-crypto", node) else {
        return;
    };
    let library = check("sm-crypto", &mut command);
    assert_eq!(library, "sm-crypto 0.5.8");
}

#[test]
fn bouncycastle_verifies_and_decrypts_what_paymux_makes_and_paymux_what_it_makes() {
    let Some(mut command) = tool("BouncyCastle", java) else {
        return;
    };
    let library = check("bouncycastle", &mut command);
    assert!(library.starts_with("BouncyCastle 1."), "{library}");
}

/// The command that runs a library's script, or `None` (said on stderr) when the tool is
/// missing and `PAYMUX_INTEROP` is not `1`.
fn tool(library: &str, find: fn() -> Result<Command, String>) -> Option<Command> {
    match find() {
        Ok(command) => Some(command),
        Err(why) if std::env::var("PAYMUX_INTEROP").is_ok_and(|v| v == "1") => {
            panic!("PAYMUX_INTEROP=1 and {library} cannot run: {why}")
        }
        Err(why) => {
            // io::stderr() directly: the harness captures eprintln! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "hrss_interop: SKIPPED {library}: {why}. Set PAYMUX_INTEROP=1 to make this a failure."
            );
            None
        }
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hrss/testdata/interop")
}

/// Runs `program args`, `Err` saying why when it cannot start or fails.
fn run(program: &str, args: &[&str]) -> Result<Output, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    Ok(output)
}

/// `target/tmp/interop/<name>`, filled once by `install` (into a fresh folder, renamed
/// when complete, so an interrupted install is not mistaken for a finished one).
fn installed(
    name: &str,
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop");
    let dir = root.join(name);
    if dir.exists() {
        return Ok(dir);
    }
    let partial = root.join(format!("{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    if let Err(why) = install(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(why);
    }
    // Another run may have finished first: theirs is as good.
    if std::fs::rename(&partial, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    if dir.exists() {
        Ok(dir)
    } else {
        Err(format!("{} did not appear", dir.display()))
    }
}

fn python() -> Result<Command, String> {
    run("python3", &["--version"])?;
    let dir = installed(&format!("py-{}", GMSSL.join("-")), |dir| {
        let target = dir.to_str().ok_or("non-UTF-8 path")?;
        let mut args = vec![
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--target",
            target,
        ];
        args.extend(GMSSL);
        run("python3", &args).map(drop)
    })?;
    let mut command = Command::new("python3");
    command
        .arg(scripts().join("interop_gmssl.py"))
        .env("PYTHONPATH", dir);
    Ok(command)
}

fn node() -> Result<Command, String> {
    run("node", &["--version"])?;
    run("npm", &["--version"])?;
    let dir = installed(&format!("node-{}", SM_CRYPTO.join("-")), |dir| {
        let prefix = dir.to_str().ok_or("non-UTF-8 path")?;
        let mut args = vec![
            "install",
            "--prefix",
            prefix,
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ];
        args.extend(SM_CRYPTO);
        run("npm", &args).map(drop)
    })?;
    let mut command = Command::new("node");
    command
        .arg(scripts().join("interop_smcrypto.js"))
        .env("NODE_PATH", dir.join("node_modules"));
    Ok(command)
}

fn java() -> Result<Command, String> {
    run("java", &["-version"])?;
    let jar = std::env::var_os("PAYMUX_BCPROV_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BCPROV_JAR));
    if !jar.is_file() {
        return Err(format!(
            "no BouncyCastle jar at {} (apt-get install libbcprov-java, or set PAYMUX_BCPROV_JAR)",
            jar.display()
        ));
    }
    let mut command = Command::new("java");
    command
        .arg("-cp")
        .arg(jar)
        .arg(scripts().join("InteropBc.java"));
    Ok(command)
}

/// A fresh key whose private half Java prints with a leading `00` (its top bit is set),
/// given to everyone in that form.
fn java_key() -> (String, PrivateKey) {
    loop {
        let key = PrivateKey::generate().unwrap();
        let hex = key.to_hex();
        if hex.as_bytes()[0] >= b'8' {
            let java = format!("00{hex}");
            return (java.clone(), PrivateKey::parse(&java).unwrap());
        }
    }
}

/// A fresh key whose public x starts with `04`, which gmssl's `lstrip("04")` eats even
/// from the bare `x‖y` (one key in 256).
fn x4_key() -> (String, PrivateKey) {
    loop {
        let key = PrivateKey::generate().unwrap();
        if key.public_key().to_hex().starts_with("0404") {
            return (key.to_hex(), key);
        }
    }
}

/// r and s, 32 bytes each, of a DER or raw signature.
fn scalars(bytes: &[u8]) -> ([u8; 32], [u8; 32]) {
    let pad = |n: &[u8]| {
        let n = &n[n.iter().take_while(|b| **b == 0).count()..];
        let mut out = [0u8; 32];
        out[32 - n.len()..].copy_from_slice(n);
        out
    };
    if bytes.len() == 64 {
        return (pad(&bytes[..32]), pad(&bytes[32..]));
    }
    let lr = usize::from(bytes[3]);
    let ls = usize::from(bytes[5 + lr]);
    (pad(&bytes[4..4 + lr]), pad(&bytes[6 + lr..6 + lr + ls]))
}

fn has_shape(shape: &str, bytes: &[u8]) -> bool {
    let (r, s) = scalars(bytes);
    match shape {
        "any" => true,
        "short_r" => r[0] == 0,
        "short_s" => s[0] == 0,
        "high_r" => r[0] >= 0x80,
        other => panic!("unknown shape {other}"),
    }
}

/// paymux's signature in `form` of the first of `messages(0)`, `messages(1)`, … whose
/// signature has `shape`. paymux signs deterministically (RFC 6979), so the message varies.
fn paymux_signature(
    key: &PrivateKey,
    form: &str,
    shape: &str,
    messages: impl Fn(u32) -> String,
) -> (String, Vec<u8>) {
    for i in 0..20_000 {
        let message = messages(i);
        let base64 = match form {
            "der" => key.sign(message.as_bytes()),
            _ => key.sign_raw(message.as_bytes()),
        };
        let bytes = decode_base64(&base64).unwrap();
        if has_shape(shape, &bytes) {
            return (message, bytes);
        }
    }
    panic!("no {form} signature of shape {shape}");
}

/// Builds a case file, has the library run it, and checks both directions. Returns the
/// library's name and version as it reports them.
fn check(name: &str, command: &mut Command) -> String {
    let (java_text, java) = java_key();
    let (x4_text, x4) = x4_key();
    let keys = [("java", &java_text, &java), ("x4", &x4_text, &x4)];

    let fresh = PrivateKey::generate().unwrap().to_hex();
    let sm4_hex = fresh[..32].to_owned();
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789@#$%&*+=";
    let sm4_text: String = hex::decode(&fresh[32..])
        .unwrap()
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let sm4_keys = [
        (
            json!({"text": sm4_hex, "form": "hex"}),
            Sm4Key::parse(&sm4_hex).unwrap(),
        ),
        (
            json!({"text": sm4_text, "form": "text"}),
            Sm4Key::parse(&sm4_text).unwrap(),
        ),
    ];
    let plaintexts = [
        String::new(),
        "0123456789abcdef".to_owned(),
        r#"{"idTypeOrder":"01","idNumberOrder":"510121687837179580","idNameOrder":"刘小梦","orderTitle":"测试订单"}"#.to_owned(),
        r#"{"orderTitle":"门诊缴费","orderAmount":"12.34"},"#.repeat(40),
    ];

    // A request's string to sign (§3.5.1.3) and a notification's (§5.2), as paymux builds them.
    let biz_content = json!({
        "aaz001": "1687845434400",
        "appid": "A203",
        "data": sm4_keys[0].1.encrypt(&plaintexts[2]),
    })
    .to_string();
    let request = |n: u32| -> String {
        let timestamp = (1_687_845_436_478u64 + u64::from(n)).to_string();
        let form: Vec<(String, String)> = [
            ("access_key", "DOTEST"),
            ("biz_content", biz_content.as_str()),
            ("format", "json"),
            ("request_id", "a666bcc1720b4e2b9b02"),
            ("timestamp", timestamp.as_str()),
            ("version", "1.0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        codec::string_to_sign(&form)
    };
    let notification = json!({
        "appId": "A203",
        "mchId": "M100043",
        "data": sm4_keys[1].1.encrypt(r#"{"mchOrderId":"1687837179580","payStatus":"2","orderTitle":"测试订单"}"#),
    });
    let notification = codec::json_string_to_sign(notification.as_object().unwrap());
    assert!(notification.contains("appId=A203&data="), "{notification}");
    let mut messages = serde_json::Map::new();
    messages.insert("request".into(), request(0).into());
    messages.insert("notification".into(), notification.clone().into());
    messages.insert("tampered".into(), request(1).into());

    // paymux → library: signatures, with the encodings' edges, and two that must fail.
    let mut verify = Vec::new();
    let mut expected = Vec::new();
    for (name, _, key) in &keys {
        for shape in ["any", "short_r", "short_s", "high_r"] {
            for form in ["der", "raw"] {
                let (message, bytes) = if shape == "any" {
                    paymux_signature(key, form, shape, |_| notification.clone())
                } else {
                    paymux_signature(key, form, shape, |n| request(n + 2))
                };
                let label = format!("{name}-{shape}-{form}");
                messages.insert(label.clone(), message.into());
                verify.push(
                    json!({"key": name, "message": label, "form": form, "hex": hex::encode(bytes)}),
                );
                expected.push(true);
            }
        }
    }
    let (_, der) = paymux_signature(&java, "der", "any", request);
    verify.push(
        json!({"key": "java", "message": "tampered", "form": "der", "hex": hex::encode(&der)}),
    );
    expected.push(false);
    let (_, raw) = paymux_signature(&java, "raw", "any", request);
    verify
        .push(json!({"key": "x4", "message": "request", "form": "raw", "hex": hex::encode(&raw)}));
    expected.push(false);
    let messages = Value::Object(messages);
    let tampered = request(1);

    // paymux → library: ciphertexts under both key forms, and one under the wrong key.
    let mut decrypt = Vec::new();
    let mut plain_expected = Vec::new();
    for (k, (_, key)) in sm4_keys.iter().enumerate() {
        for plain in &plaintexts {
            decrypt.push(json!({"key": k, "base64": key.encrypt(plain)}));
            plain_expected.push(Some(plain.clone()));
        }
    }
    decrypt.push(json!({"key": 1, "base64": sm4_keys[0].1.encrypt(&plaintexts[2])}));
    plain_expected.push(None);

    let cases = json!({
        "user_id": "1234567812345678",
        "keys": keys.iter().map(|(name, text, key)| {
            (name.to_string(), json!({"private": text, "public": key.public_key().to_hex()}))
        }).collect::<serde_json::Map<_, _>>(),
        "messages": messages,
        // library → paymux, live: what the library signs and encrypts.
        "signatures": [
            {"key": "java", "message": "request", "shape": "any"},
            {"key": "x4", "message": "notification", "shape": "high_r"},
        ],
        "sm4_keys": sm4_keys.iter().map(|(text, _)| text.clone()).collect::<Vec<_>>(),
        "plaintexts": plaintexts,
        "verify": verify,
        "decrypt": decrypt,
    });

    // Kept after the run, to replay a failure by hand.
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("interop")
        .join(format!("cases-{name}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec_pretty(&cases).unwrap()).unwrap();
    let output = command.arg(&path).output().unwrap();
    assert!(
        output.status.success(),
        "{:?} failed: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let library = answer["library"].as_str().unwrap().to_owned();

    // The library verified paymux's signatures, and refused the two that must not verify.
    let verified: Vec<bool> = serde_json::from_value(answer["verified"].clone()).unwrap();
    assert_eq!(verified.len(), expected.len(), "{library}");
    for ((case, got), want) in verify.iter().zip(&verified).zip(&expected) {
        assert_eq!(got, want, "{library} verifying paymux's {case}");
    }

    // It decrypted paymux's ciphertexts; the one under the other key it did not.
    let decrypted: Vec<Option<String>> =
        serde_json::from_value(answer["decrypted"].clone()).unwrap();
    assert_eq!(decrypted.len(), plain_expected.len(), "{library}");
    for ((case, got), want) in decrypt.iter().zip(&decrypted).zip(&plain_expected) {
        match want {
            Some(plain) => assert_eq!(got.as_ref(), Some(plain), "{library} decrypting {case}"),
            None => assert_ne!(
                got.as_deref(),
                Some(plaintexts[2].as_str()),
                "{library}: {case}"
            ),
        }
    }

    // library → paymux: the same public keys, its fresh signatures verify with paymux in
    // both forms and both encodings (and not over another message), and its ciphertexts are
    // paymux's bytes.
    for (name, _, key) in &keys {
        assert_eq!(
            answer["public_keys"][name],
            key.public_key().to_hex(),
            "{library} {name}"
        );
    }
    let signatures = answer["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 4, "{library}: two jobs, each raw and DER");
    for signed in signatures {
        let key = keys
            .iter()
            .find(|(name, _, _)| signed["key"] == *name)
            .map(|(_, _, key)| key.public_key())
            .unwrap();
        let message = messages[signed["message"].as_str().unwrap()]
            .as_str()
            .unwrap();
        let hex_text = signed["hex"].as_str().unwrap();
        let bytes = hex::decode(hex_text).unwrap();
        assert_eq!(
            bytes.len() == 64,
            signed["form"] == "raw",
            "{library} {signed}"
        );
        assert!(
            has_shape(signed["shape"].as_str().unwrap(), &bytes),
            "{library} {signed}"
        );
        assert_eq!(
            key.check(message.as_bytes(), hex_text),
            Ok(()),
            "{library} {signed}"
        );
        assert_eq!(
            key.check(message.as_bytes(), &encode_base64(&bytes)),
            Ok(()),
            "{library} {signed}"
        );
        assert!(
            !key.verify(tampered.as_bytes(), &encode_base64(&bytes)),
            "{library} {signed}"
        );
    }
    let sealed = answer["sm4"].as_array().unwrap();
    assert_eq!(sealed.len(), sm4_keys.len() * plaintexts.len(), "{library}");
    for entry in sealed {
        let key = &sm4_keys[entry["key"].as_u64().unwrap() as usize].1;
        let plain = &plaintexts[entry["plaintext"].as_u64().unwrap() as usize];
        let base64 = entry["base64"].as_str().unwrap();
        assert_eq!(key.decrypt(base64).as_ref(), Ok(plain), "{library} {entry}");
        assert_eq!(key.encrypt(plain), base64, "{library} {entry}");
    }
    library
}
