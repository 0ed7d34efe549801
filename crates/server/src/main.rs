//! `paymux`: the gateway (`serve`) and the merchant-side tools (`client`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use paymux_core::clock::SystemClock;
use paymux_server::cli::{self, ClientCommand, KeysCommand, KeysConfig, Target};
use paymux_server::config::Config;
use paymux_server::startup::{self, StartError, Workers};

#[derive(Parser)]
#[command(
    name = "paymux",
    version,
    about = "A unified payment gateway: five payment APIs on one core"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the gateway. Without --config: 127.0.0.1:8080, SQLite in ./paymux-data/, the
    /// sandbox channel and a demo merchant (loopback notification URLs allowed).
    Serve {
        /// A config file (README.md "Configuration"); without it, the embedded defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the embedded defaults keep the database and the demo merchant.
        #[arg(long, default_value = "paymux-data")]
        data_dir: PathBuf,
        /// Address to listen on (host:port), instead of the config's or 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Where payers and merchants reach this gateway; default http://{listen}.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Merchant-side clients: sign, send, verify, print. Exit codes: 1 the server refused,
    /// 2 usage or configuration, 3 no paymux answers, 4 a reply that does not verify.
    Client {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Prints the platform's keys that merchants need, a subcommand per dialect that has
    /// them.
    Keys {
        #[command(flatten)]
        config: KeysConfig,
        #[command(subcommand)]
        command: KeysCommand,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("paymux: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match args.command {
            Command::Serve {
                config,
                data_dir,
                listen,
                public_url,
            } => match serve(config, data_dir, listen, public_url).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("paymux: {message}");
                    ExitCode::FAILURE
                }
            },
            Command::Keys { config, command } => match cli::run_keys(config, command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("paymux: {message}");
                    ExitCode::from(2)
                }
            },
            Command::Client { target, command } => match cli::run(target, command).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    eprintln!("paymux: {failure}");
                    ExitCode::from(failure.exit_code())
                }
            },
        }
    })
}

async fn serve(
    config_path: Option<PathBuf>,
    data_dir: PathBuf,
    listen: Option<String>,
    public_url: Option<String>,
) -> Result<(), String> {
    let (mut config, demo) = match &config_path {
        Some(path) => (Config::load(path).map_err(|e| e.to_string())?, None),
        None => {
            let (config, generated) = Config::embedded(&data_dir).map_err(|e| e.to_string())?;
            (config, Some(generated))
        }
    };
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    if let Some(public_url) = public_url {
        config.server.public_url = Some(public_url);
    }
    let running = startup::start(config.clone(), Arc::new(SystemClock), Workers::Run)
        .await
        .map_err(|e| match e {
            StartError::Listen { addr, source }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                format!(
                    "cannot listen on {addr}: the address is already in use (another paymux?); choose another with --listen, e.g. --listen 127.0.0.1:8081"
                )
            }
            other => other.to_string(),
        })?;
    if let Some(generated) = demo {
        // The port may have been chosen by the system (`--listen 127.0.0.1:0`).
        if config.server.public_url.is_none() {
            config.server.public_url = Some(running.url());
        }
        cli::print_demo_merchant(&config, &data_dir, generated);
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
