//! `paymux`: the gateway (`serve`) and the merchant-side tools (`client`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use paymux_core::clock::SystemClock;
use paymux_server::cli::{self, ClientCommand};
use paymux_server::config::Config;
use paymux_server::startup::{self, Workers};

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
    /// sandbox channel and a demo merchant.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the embedded defaults keep the database and the demo merchant.
        #[arg(long, default_value = "paymux-data")]
        data_dir: PathBuf,
    },
    /// Merchant-side clients: sign, send, verify, print.
    Client {
        #[command(subcommand)]
        command: Box<ClientCommand>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("paymux: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Serve { config, data_dir } => serve(config, data_dir).await,
            Command::Client { command } => cli::run(*command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("paymux: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config_path: Option<PathBuf>, data_dir: PathBuf) -> Result<(), String> {
    let config = match &config_path {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => {
            let (config, generated) = Config::embedded(&data_dir).map_err(|e| e.to_string())?;
            cli::print_demo_merchant(&config, &data_dir, generated);
            config
        }
    };
    let running = startup::start(config, Arc::new(SystemClock), Workers::Run)
        .await
        .map_err(|e| e.to_string())?;
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
