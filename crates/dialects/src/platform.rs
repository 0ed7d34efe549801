//! The platform's own keys (`[platform] NAME = "…"`): hrss signs notifications and §5.1
//! calls with an SM2 key, mmsp payouts will decrypt with an RSA key. Each dialect declares
//! the keys it uses ([`crate::Dialect::platform_keys`]); the config reads those and refuses
//! any other, the embedded demo generates those it can, and `paymux keys NAME` prints
//! their public parts (the default [`keys_command`] and [`run_keys`]).

use std::collections::BTreeMap;

use clap::{Arg, ArgAction, ArgMatches};
use secrecy::SecretString;

use crate::common::print_out;

/// Makes a new private key, as `[platform]` takes it.
pub type GenerateKey = fn() -> Result<String, String>;

/// Derives the public part of a private key, as merchants take it.
pub type PublicOf = fn(&SecretString) -> Result<String, String>;

/// A key of the platform's own that a dialect signs or decrypts with.
#[derive(Debug, Clone, Copy)]
pub struct PlatformKey {
    /// Its name in `[platform]`.
    pub name: &'static str,
    /// What it is for, one line (`paymux keys --help`).
    pub purpose: &'static str,
    /// A new private key as `[platform]` takes it, for the embedded demo and
    /// `paymux keys NAME --generate`; `None`: made elsewhere, the demo goes without.
    pub generate: Option<GenerateKey>,
    /// The public part merchants need, from the private key; `None`: they need none.
    pub public: Option<PublicOf>,
}

/// The `[platform]` keys as configured, by name; each one a dialect declared.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys(BTreeMap<&'static str, SecretString>);

impl PlatformKeys {
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }

    /// Sets a declared key (the config, tests).
    pub fn insert(&mut self, key: &PlatformKey, value: SecretString) {
        self.0.insert(key.name, value);
    }
}

/// Every platform key the dialects declare, once each (dialects may share one), in the
/// order of [`crate::DIALECTS`].
pub fn declared() -> Vec<&'static PlatformKey> {
    let mut keys: Vec<&'static PlatformKey> = Vec::new();
    for key in crate::DIALECTS.iter().flat_map(|d| d.platform_keys()) {
        if !keys.iter().any(|k| k.name == key.name) {
            keys.push(key);
        }
    }
    keys
}

/// The declared key of this name.
pub fn declared_key(name: &str) -> Option<&'static PlatformKey> {
    declared().into_iter().find(|k| k.name == name)
}

/// Where `paymux keys NAME` reads the platform's keys from.
#[derive(Debug, Clone)]
pub struct KeysTarget {
    /// The config's `[platform]` keys, or why there are none to read (no config file, one
    /// that does not parse).
    pub platform: Result<PlatformKeys, String>,
    /// The config file, for messages.
    pub source: String,
}

/// The keys of a dialect whose public part merchants need.
fn public_keys(keys: &'static [PlatformKey]) -> impl Iterator<Item = &'static PlatformKey> {
    keys.iter().filter(|k| k.public.is_some())
}

/// `paymux keys NAME` for a dialect with these platform keys: prints the public part of
/// each that merchants need; `--generate` prints new ones instead. `None` when merchants
/// need none.
pub fn keys_command(dialect: &'static str, keys: &'static [PlatformKey]) -> Option<clap::Command> {
    let shown: Vec<&PlatformKey> = public_keys(keys).collect();
    if shown.is_empty() {
        return None;
    }
    let names = shown.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
    let about = format!("{dialect}: the public part of [platform] {names}, which merchants need");
    let purposes: Vec<String> = shown
        .iter()
        .map(|k| format!("[platform] {}: {}.", k.name, k.purpose))
        .collect();
    Some(
        clap::Command::new(dialect)
            .about(about.clone())
            .long_about(format!("{about}.\n\n{}", purposes.join("\n")))
            .arg(
                Arg::new("generate")
                    .long("generate")
                    .action(ArgAction::SetTrue)
                    .help(format!(
                        "Print a new private key for [platform] {names}, and its public key"
                    )),
            ),
    )
}

/// Runs [`keys_command`]: the public keys one a line (each after its name when there are
/// several), or with `--generate` new keys as `[platform]` lines, each followed by its
/// public key as a comment.
pub fn run_keys(
    dialect: &str,
    keys: &'static [PlatformKey],
    args: &ArgMatches,
    target: KeysTarget,
) -> Result<(), String> {
    let shown: Vec<&PlatformKey> = public_keys(keys).collect();
    let generate = args.try_get_one::<bool>("generate").ok().flatten() == Some(&true);
    if generate {
        let mut lines = vec!["[platform]".to_owned()];
        for key in &shown {
            let Some(make) = key.generate else {
                continue;
            };
            let private = make()?;
            lines.push(format!("{} = \"{private}\"", key.name));
            if let Some(public) = key.public {
                let public = public(&SecretString::from(private))?;
                lines.push(format!("# public key, for merchants: {public}"));
            }
        }
        print_out(&lines.join("\n"));
        return Ok(());
    }
    let platform = target.platform?;
    for key in &shown {
        let private = platform.get(key.name).ok_or_else(|| {
            format!(
                "{} has no [platform] {} (`paymux keys {dialect} --generate` makes one)",
                target.source, key.name
            )
        })?;
        let Some(public) = key.public else {
            continue;
        };
        let public = public(private)?;
        if shown.len() > 1 {
            print_out(&format!("{} {public}", key.name));
        } else {
            print_out(&public);
        }
    }
    Ok(())
}
