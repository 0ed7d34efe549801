//! Wires the gateway together: store, channels, core, dialect routes, cashier, workers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use paymux_channels::sandbox::{PayerLinks, SandboxChannel};
use paymux_core::Operator;
use paymux_core::channel::Channels;
use paymux_core::clock::Clock;
use paymux_core::dialect::DialectTag;
use paymux_core::gateway::GatewaySettings;
use paymux_core::ids::MerchantId;
use paymux_core::merchant::Merchant;
use paymux_core::notification::NotificationFormat;
use paymux_core::store::Store;
use paymux_dialects::{DIALECTS, Mount, PayerHooks};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cashier::codes::CodePages;
use crate::cashier::{self, CashierState, PayerSide};
use crate::config::Config;
use crate::limits::{RequestLimits, with_limits};
use crate::metrics::{self, Metrics};
use crate::notifier::{self, Notifier};
use crate::serve::{self, ServeConfig};
use crate::workers;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store: {0}")]
    Store(#[from] paymux_core::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("notifier: {0}")]
    Notifier(#[from] notifier::NotifierError),
    #[error("config: {0}")]
    Config(String),
}

/// Whether to start the background workers (tests drive them by hand instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    Run,
    Manual,
}

/// A started gateway.
pub struct Running {
    pub addr: SocketAddr,
    pub operator: Operator,
    pub notifier: Arc<Notifier>,
    pub store: Arc<paymux_store::SqlStore>,
    /// The sandbox channel, when it is enabled (tests use it to make payers' links).
    pub sandbox: Option<Arc<SandboxChannel>>,
    /// The payers' links (tests use it to open a code's page as the merchant would).
    pub links: PayerLinks,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests, finishes the workers' current rounds, closes the store.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.store.close().await;
    }

    /// The base URL merchants and payers reach this instance at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn merchants(config: &Config) -> Vec<Merchant> {
    config
        .merchants
        .iter()
        .map(|m| Merchant {
            id: MerchantId::new(m.id.clone()),
            name: m.name.clone(),
            settlement: m.settlement,
            payout_fee: paymux_core::Fen::new(m.payout_fee).unwrap_or_default(),
        })
        .collect()
}

pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    workers: Workers,
) -> Result<Running, StartError> {
    let open_files = serve::raise_open_file_limit();
    let serve_config = ServeConfig::new(
        serve::connection_cap(config.server.max_connections.map(|n| n.get()), open_files),
        Duration::from_secs(config.server.header_read_timeout_s.get()),
    );
    let store = Arc::new(paymux_store::connect(&config.server.database).await?);
    let listener =
        serve::bind(&config.server.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.server.listen.clone(),
                source,
            })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.server.listen.clone(),
        source,
    })?;
    // Port 0 means "any": the public URL follows the port we got.
    let public_url = match &config.server.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{addr}"),
    };
    let dyn_store: Arc<dyn Store> = store.clone();

    let links = PayerLinks::new(cashier_link_key(&dyn_store).await?.as_bytes());
    let sandbox = if config.sandbox.enabled {
        Some(Arc::new(SandboxChannel::new(
            &public_url,
            links.clone(),
            config.sandbox.refund_delay_s,
        )))
    } else {
        None
    };
    let channels = match &sandbox {
        Some(sandbox) => Channels::new(sandbox.clone()),
        None => Channels::none(),
    };
    let settings = GatewaySettings {
        default_order_ttl_s: config.server.order_ttl_s,
        allow_private_callbacks: config.server.allow_private_callbacks,
        notify_failures: DIALECTS
            .iter()
            .filter(|d| d.notifies_failed_payments())
            .map(|d| paymux_dialects::dialect::tag_of(*d))
            .collect(),
        ..GatewaySettings::default()
    };
    let operator = Operator::start(
        dyn_store.clone(),
        channels,
        clock.clone(),
        merchants(&config),
        settings,
    )
    .await?;

    let mount = Mount {
        gateway: operator.gateway(),
        public_url: public_url.clone().into(),
        links: links.clone(),
        max_clock_skew_s: config.server.max_clock_skew_s,
        platform: config.platform.clone(),
        sandbox: config.sandbox.enabled,
    };
    // One limit on the requests in flight, shared by every dialect; each answers the
    // requests it cannot take with its own busy reply.
    let limits = RequestLimits::new(
        config.server.max_concurrent_requests.get(),
        Duration::from_secs(config.server.request_timeout_s.get()),
    );
    let mut router = Router::new();
    let mut formats: HashMap<DialectTag, Arc<dyn NotificationFormat>> = HashMap::new();
    let mut payer_hooks: HashMap<DialectTag, Arc<dyn PayerHooks>> = HashMap::new();
    for dialect in DIALECTS {
        let tables = config.tables_of(dialect.name());
        let mounted = dialect.mount(&tables, &mount).map_err(StartError::Config)?;
        dialect
            .prepare(&tables, &mount)
            .await
            .map_err(StartError::Config)?;
        router = router.merge(with_limits(mounted.router, limits.clone(), |request| {
            dialect.busy(request)
        }));
        if let Some(format) = mounted.notifications {
            formats.insert(DialectTag::new(dialect.name()), format);
        }
        if let Some(hooks) = mounted.payer {
            payer_hooks.insert(DialectTag::new(dialect.name()), hooks);
        }
    }
    let payer = PayerSide {
        links: links.clone(),
        hooks: Arc::new(payer_hooks),
    };
    // The payer's pages take their slots from the same pool, so a slow body or a flood of
    // lookups there is bounded and timed out like a merchant's request.
    let mut payer_pages =
        Router::new()
            .merge(cashier::assets_router())
            .merge(cashier::codes::router(CodePages {
                operator: operator.clone(),
                payer: payer.clone(),
                sandbox: sandbox.is_some(),
                lookups: Arc::new(cashier::lookups::LookupLimit::new(
                    config.server.code_lookups_per_minute,
                )),
            }));
    if let Some(sandbox) = &sandbox {
        payer_pages = payer_pages.merge(cashier::router(CashierState {
            operator: operator.clone(),
            sandbox: sandbox.clone(),
            payer,
        }));
    }
    router = router.merge(with_limits(payer_pages, limits, |_| busy_page()));

    let metrics = Arc::new(Metrics::new());
    let notifier = Arc::new(Notifier::new(
        dyn_store.clone(),
        clock.clone(),
        formats,
        config.notify.clone(),
        config.server.allow_private_callbacks,
        metrics.clone(),
    )?);

    let router = router
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get({
                let metrics = metrics.clone();
                let store = dyn_store.clone();
                move || metrics::serve(metrics.clone(), store.clone())
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ));

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(
        operator.clone().keep_node_lease(shutdown_rx.clone()),
    ));
    let mut server_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(serve::serve(
        listener,
        router,
        serve_config,
        async move {
            let _ = server_shutdown.changed().await;
        },
    )));
    if workers == Workers::Run {
        tasks.push(tokio::spawn(notifier::run(
            notifier.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(workers::run_expirer(
            operator.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(workers::run_poller(
            operator.clone(),
            shutdown_rx,
        )));
    }
    tracing::info!(%addr, %public_url, database = %paymux_store::redact_url(&config.server.database), "paymux is listening");
    Ok(Running {
        addr,
        operator,
        notifier,
        store,
        sandbox,
        links,
        shutdown,
        tasks,
    })
}

/// The key of the cashier's links: a secret every instance on the database shares, made by
/// the first one to start and kept in the database, so links survive restarts.
async fn cashier_link_key(
    store: &Arc<dyn Store>,
) -> Result<String, paymux_core::store::StoreError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| paymux_core::store::StoreError::Database(format!("no randomness: {e}")))?;
    let candidate: String = key.iter().map(|b| format!("{b:02x}")).collect();
    store.gateway_secret("cashier_links", &candidate).await
}

/// What a payer sees when the gateway is too busy to take the page's request in time.
fn busy_page() -> axum::response::Response {
    cashier::page(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        cashier::page::message(
            "系统繁忙",
            "请稍后再试 (the gateway is busy; try again shortly)",
        ),
    )
}
