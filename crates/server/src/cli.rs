//! `paymux client DIALECT OPERATION …`: merchant-side tools, one subcommand per dialect of
//! `paymux_dialects::DIALECTS`, each run by its dialect on its own client. Credentials come
//! from a config file (`--config`, `--merchant`), by default the demo merchant that
//! `paymux serve` keeps in `./paymux-data/demo-merchant.toml`.
//!
//! `paymux keys DIALECT`: the public part of the platform's keys that a dialect's
//! merchants need, one subcommand per dialect that has one, run by the dialect on the
//! config's `[platform]` keys (the same default config).
//!
//! Exit codes: 0 done, 1 the server refused the request, 2 usage or configuration, 3 no
//! paymux answers at the URL, 4 the reply is not the protocol's or its signature does not
//! verify.

use std::path::{Path, PathBuf};

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use paymux_dialects::common::{ClientFailure, print_out};
use paymux_dialects::{ClientTarget, DIALECTS, KeysTarget};

use crate::config::{Config, MerchantConfig};

/// Where `paymux serve` listens and `paymux client` calls by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Where a client call goes and as which merchant; these may come before or after the
/// dialect and operation.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The gateway's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A paymux config file holding the merchant's credentials (default: the demo merchant).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Which `[[merchant]]` of the config, by id (default: the first).
    #[arg(long, global = true)]
    merchant: Option<String>,
    /// Where `paymux serve` keeps the demo merchant, when no --config is given.
    #[arg(long, global = true, default_value = "paymux-data")]
    data_dir: PathBuf,
}

/// One dialect's client call: its name and its operation's arguments, read by the dialect.
#[derive(Debug, Clone)]
pub struct ClientCommand {
    dialect: String,
    operation: ArgMatches,
}

/// The dialect a subcommand names, and its own arguments.
fn dialect_subcommand(
    matches: &ArgMatches,
    usage: &str,
) -> Result<(String, ArgMatches), clap::Error> {
    match matches.subcommand() {
        Some((dialect, args)) => Ok((dialect.to_owned(), args.clone())),
        None => Err(clap::Error::raw(
            clap::error::ErrorKind::MissingSubcommand,
            format!("name a dialect: {usage}"),
        )),
    }
}

impl FromArgMatches for ClientCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let (dialect, operation) = dialect_subcommand(matches, "paymux client DIALECT OPERATION")?;
        Ok(ClientCommand { dialect, operation })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = ClientCommand::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for ClientCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        DIALECTS
            .iter()
            .fold(command, |command, dialect| {
                command.subcommand(dialect.client_command())
            })
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        ClientCommand::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        paymux_dialects::dialect(name).is_some()
    }
}

/// Where `paymux keys` reads the platform's keys; these may come before or after the
/// dialect.
#[derive(Args, Debug, Clone)]
pub struct KeysConfig {
    /// A config file holding the [platform] keys (default: the demo's).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where `paymux serve` keeps the demo merchant, when no --config is given.
    #[arg(long, global = true, default_value = "paymux-data")]
    data_dir: PathBuf,
}

/// One dialect's `paymux keys` call: its name and its arguments, read by the dialect.
#[derive(Debug, Clone)]
pub struct KeysCommand {
    dialect: String,
    args: ArgMatches,
}

impl FromArgMatches for KeysCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let (dialect, args) = dialect_subcommand(matches, "paymux keys DIALECT")?;
        Ok(KeysCommand { dialect, args })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = KeysCommand::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for KeysCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        DIALECTS
            .iter()
            .filter_map(|dialect| dialect.keys_command())
            .fold(command, clap::Command::subcommand)
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        KeysCommand::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        paymux_dialects::dialect(name).is_some_and(|d| d.keys_command().is_some())
    }
}

/// `paymux keys DIALECT`: the dialect prints from the config's (or the demo's) keys.
pub fn run_keys(config: KeysConfig, command: KeysCommand) -> Result<(), String> {
    let dialect = paymux_dialects::dialect(&command.dialect)
        .ok_or_else(|| format!("no dialect {}", command.dialect))?;
    let path = config
        .config
        .unwrap_or_else(|| config.data_dir.join("demo-merchant.toml"));
    let platform = if path.exists() {
        Config::load(&path)
            .map(|c| c.platform)
            .map_err(|e| e.to_string())
    } else {
        Err(format!(
            "no config at {}: pass --config FILE, or run `paymux serve` first for the demo's",
            path.display()
        ))
    };
    let target = KeysTarget {
        platform,
        source: path.display().to_string(),
    };
    dialect.run_keys(&command.args, target)
}

pub async fn run(target: Target, command: ClientCommand) -> Result<(), ClientFailure> {
    let dialect = paymux_dialects::dialect(&command.dialect)
        .ok_or_else(|| ClientFailure::Setup(format!("no dialect {}", command.dialect)))?;
    let (merchant, source) = merchant(&target)?;
    let client_target = ClientTarget {
        url: target.url.trim_end_matches('/').to_owned(),
        credentials: merchant.table(dialect.name()),
        source,
    };
    dialect.run_client(&command.operation, client_target).await
}

/// The merchant whose credentials sign the call, and where they were found.
fn merchant(target: &Target) -> Result<(MerchantConfig, String), ClientFailure> {
    let path = match &target.config {
        Some(path) => path.clone(),
        None => {
            let path = target.data_dir.join("demo-merchant.toml");
            if !path.exists() {
                let cwd = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| ".".to_owned());
                return Err(ClientFailure::Setup(format!(
                    "no --config given and no demo merchant at {} (looked in {cwd}): run `paymux serve` in this directory first, or pass --config FILE or --data-dir DIR",
                    path.display()
                )));
            }
            path
        }
    };
    let config = Config::load(&path).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let found = match &target.merchant {
        Some(id) => config.merchants.into_iter().find(|m| &m.id == id),
        None => config.merchants.into_iter().next(),
    };
    let merchant = found.ok_or_else(|| {
        ClientFailure::Setup(format!(
            "no merchant {:?} in {}",
            target.merchant.as_deref().unwrap_or(""),
            path.display()
        ))
    })?;
    Ok((merchant, path.display().to_string()))
}

/// How to run `paymux` as written, from where the user is: `paymux` when this binary is
/// the one on PATH, otherwise its path (`target/release/paymux` after `cargo build`).
pub fn invocation() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "paymux".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::canonicalize(dir.join("paymux"))
                .ok()
                .zip(std::fs::canonicalize(&exe).ok())
                .is_some_and(|(a, b)| a == b)
        })
    });
    if on_path {
        return "paymux".to_owned();
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .map(|relative| format!("./{}", relative.display()))
        .unwrap_or_else(|| exe.display().to_string());
    if shown.contains(char::is_whitespace) {
        format!("'{shown}'")
    } else {
        shown
    }
}

/// What `paymux serve` prints on the embedded defaults: the demo merchant's credentials
/// and, for each dialect, a first call to paste.
pub fn print_demo_merchant(config: &Config, data_dir: &Path, generated: bool) {
    let Some(m) = config.merchants.first() else {
        return;
    };
    let url = config.server.public_url();
    let kept = data_dir.join("demo-merchant.toml");
    print_out(&format!(
        "paymux demo merchant \"{}\" ({}), {} {}",
        m.id,
        m.name,
        if generated {
            "generated and kept in"
        } else {
            "read from"
        },
        kept.display()
    ));
    let client = if url == DEFAULT_URL {
        format!("{} client", invocation())
    } else {
        format!("{} client --url {url}", invocation())
    };
    for dialect in DIALECTS {
        if let Some(table) = m.table(dialect.name()) {
            for line in dialect.describe(&table, &url, &client) {
                print_out(&format!("  {line}"));
            }
        }
    }
    print_out(&format!(
        "  (README.md has the walkthrough; `{client} --help` lists every dialect's calls)"
    ));
}
