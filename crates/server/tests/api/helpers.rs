//! `TestGateway::spawn`: a gateway on a free port over a fresh database (SQLite in a
//! temporary directory, or a newly created PostgreSQL database), the sandbox channel, a
//! demo merchant with known keys, a clock the test moves, and workers the test drives.

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use paymux_core::clock::ManualClock;
use paymux_core::time::Millis;
use paymux_dialects::upp::UppClient;
use paymux_dialects::xxpay::XxpayClient;
use paymux_server::config::Config;
use paymux_server::startup::{self, Running, Workers};
use secrecy::SecretString;

pub const XXPAY_MCH_ID: &str = "20001222";
pub const XXPAY_APP_ID: &str = "0ae8be35ff634e2abe94f5f32f6d5c4f";
pub const XXPAY_KEY: &str = "EXAMPLEKEY123";
pub const UPP_ISV_ID: i64 = 20000;
pub const UPP_PARTNER_ID: i64 = 12345;
pub const UPP_KEY: &str = "abc123";
/// The spec's test merchant (mmsp §7.2, §7.3).
pub const MMSP_MERNO: &str = "001440353999853";
pub const MMSP_TERMNO: &str = "84970001";
pub const MMSP_KEY: &str = "ea21842eea24e448b991b1cb0a0294cf";

pub const HRSS_ACCESS_KEY: &str = "DOTEST";
pub const HRSS_APP_ID: &str = "A203";
pub const HRSS_MCH_ID: &str = "M100043";
/// DESIGN.md's known-answer SM4 key.
pub const HRSS_SM4_KEY: &str = "0123456789abcdeffedcba9876543210";
/// The hrss merchant's SM2 key pair (the dialect's testdata) and the platform's key.
pub const HRSS_MERCHANT_PRIVATE_KEY: &str =
    "20486c41d05f77b9a700e5eb8d4338ceddc6e191a967bc89a380cb435873b99c";
pub const HRSS_MERCHANT_PUBLIC_KEY: &str = "04ad60b1f08f83c927d5b57090df448133d874df12a0f6a6b26f7d88a14e93ed94999da7d4cc95333a9260f2a65c8d819bc320f4fb68f5483bfb1b7eecf111de45";
pub const HRSS_PLATFORM_PRIVATE_KEY: &str =
    "72bd6dd120251db766dab88b811a2940bc60ff5f2d70ffadbbdc1c4004aff5f0";
pub const CHINAUMS_MID: &str = "898340149000005";
pub const CHINAUMS_APP_ID: &str = "testAppId";
pub const CHINAUMS_APP_KEY: &str = "testAppKey";
/// The spec's §1.10.4 example key.
pub const CHINAUMS_SIGN_KEY: &str = "fcAmtnx7MwismjWNhNKdHC44mNXtnEQeJkRrhKJwyrW2ysRR";

/// A second merchant, for tests of what one merchant may do to another's records.
pub const OTHER_MERCHANT_ID: &str = "other";
pub const OTHER_XXPAY_MCH_ID: &str = "30001333";
pub const OTHER_XXPAY_APP_ID: &str = "b1b2b3";
pub const OTHER_XXPAY_KEY: &str = "OTHERKEY456";
pub const OTHER_UPP_PARTNER_ID: i64 = 54321;
pub const OTHER_UPP_KEY: &str = "other123";
/// Its own mid, terminal and app; the same 来源编号 (billNo prefix) as the demo merchant,
/// as two merchants of one institution have, so that its requests may name the demo's bills.
pub const OTHER_CHINAUMS_MID: &str = "898340149000888";
pub const OTHER_CHINAUMS_TID: &str = "77770001";
pub const OTHER_CHINAUMS_APP_ID: &str = "otherAppId";
pub const OTHER_CHINAUMS_APP_KEY: &str = "otherAppKey";
pub const OTHER_HRSS_ACCESS_KEY: &str = "OTHERACC";
pub const OTHER_HRSS_APP_ID: &str = "B301";
pub const OTHER_HRSS_MCH_ID: &str = "M200088";
pub const OTHER_HRSS_SM4_KEY: &str = "fedcba98765432100123456789abcdef";
pub const OTHER_HRSS_PRIVATE_KEY: &str =
    "b9e3ca2ef16c398f7d1860cc9c93a3502ebc9224e1679f2c4a4cf10c39428100";
pub const OTHER_HRSS_PUBLIC_KEY: &str = "04746ff1a82dec470118e71c805500b34ba1062d10f1a7e0773c1d6dceec7b34cd0388d3e144e5dae083efd017561ff755056b3ede0ad5bab378fe480b917788b5";
pub const OTHER_MMSP_MERNO: &str = "001440353999999";
pub const OTHER_MMSP_TERMNO: &str = "84970002";
pub const OTHER_MMSP_KEY: &str = "00112233445566778899aabbccddeeff";

/// Adds the second merchant ("other") to a test config.
pub fn add_other_merchant(config: &mut Config) {
    config.merchants.extend(other_merchant().merchants);
}

/// The second merchant ("other"), with a table for every dialect, as a config of its own.
pub fn other_merchant() -> Config {
    let text = format!(
        r#"
[[merchant]]
id = "{OTHER_MERCHANT_ID}"
name = "Other Clinic"

[merchant.xxpay]
mch_id = "{OTHER_XXPAY_MCH_ID}"
app_id = "{OTHER_XXPAY_APP_ID}"
key = "{OTHER_XXPAY_KEY}"

[merchant.upp]
isv_id = {UPP_ISV_ID}
partner_id = {OTHER_UPP_PARTNER_ID}
key = "{OTHER_UPP_KEY}"

[merchant.chinaums]
mid = "{OTHER_CHINAUMS_MID}"
tid = "{OTHER_CHINAUMS_TID}"
msg_src_id = "1001"
msg_src = "WWW.TEST.COM"
app_id = "{OTHER_CHINAUMS_APP_ID}"
app_key = "{OTHER_CHINAUMS_APP_KEY}"
sign_key = "otherSignKey"

[merchant.hrss]
access_key = "{OTHER_HRSS_ACCESS_KEY}"
app_id = "{OTHER_HRSS_APP_ID}"
mch_id = "{OTHER_HRSS_MCH_ID}"
context = "engine"
sm2_public_key = "{OTHER_HRSS_PUBLIC_KEY}"
sm4_key = "{OTHER_HRSS_SM4_KEY}"

[merchant.mmsp]
merno = "{OTHER_MMSP_MERNO}"
termno = "{OTHER_MMSP_TERMNO}"
md5_key = "{OTHER_MMSP_KEY}"
"#
    );
    Config::parse(&text, "other merchant").expect("the other merchant")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestGateway {
    pub running: Running,
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub xxpay: XxpayClient,
    pub upp: UppClient,
    pub http: reqwest::Client,
    pub database: String,
    config: Config,
    _dir: Arc<tempfile::TempDir>,
    /// The PostgreSQL database, dropped when the last instance on it is.
    _postgres: Option<Arc<paymux_store::TestDatabase>>,
}

pub fn config_text(database: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database = "{database}"
allow_private_callbacks = true

[platform]
sm2_private_key = "{HRSS_PLATFORM_PRIVATE_KEY}"

[[merchant]]
id = "demo"
name = "Demo Hospital"

[merchant.xxpay]
mch_id = "{XXPAY_MCH_ID}"
app_id = "{XXPAY_APP_ID}"
key = "{XXPAY_KEY}"

[merchant.upp]
isv_id = {UPP_ISV_ID}
partner_id = {UPP_PARTNER_ID}
key = "{UPP_KEY}"

[merchant.hrss]
access_key = "{HRSS_ACCESS_KEY}"
app_id = "{HRSS_APP_ID}"
mch_id = "{HRSS_MCH_ID}"
context = "engine"
sm2_public_key = "{HRSS_MERCHANT_PUBLIC_KEY}"
sm4_key = "{HRSS_SM4_KEY}"
sm2_private_key = "{HRSS_MERCHANT_PRIVATE_KEY}"

[merchant.mmsp]
merno = "{MMSP_MERNO}"
termno = "{MMSP_TERMNO}"
md5_key = "{MMSP_KEY}"

[merchant.chinaums]
mid = "{CHINAUMS_MID}"
tid = ["88880001", "00000001", "0001", "12345080", "12340042"]
msg_src_id = "1001"
msg_src = "WWW.TEST.COM"
app_id = "{CHINAUMS_APP_ID}"
app_key = "{CHINAUMS_APP_KEY}"
sign_key = "{CHINAUMS_SIGN_KEY}"
"#
    )
}

fn system_now() -> Millis {
    paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock)
}

impl TestGateway {
    pub async fn spawn(backend: Backend) -> TestGateway {
        TestGateway::spawn_with(backend, |_| {}).await
    }

    /// With a second merchant besides the demo one; returns its xxpay client too.
    pub async fn spawn_with_other_merchant(backend: Backend) -> (TestGateway, XxpayClient) {
        let gw = TestGateway::spawn_with(backend, add_other_merchant).await;
        let other = XxpayClient::new(
            &gw.url,
            OTHER_XXPAY_MCH_ID,
            OTHER_XXPAY_APP_ID,
            SecretString::from(OTHER_XXPAY_KEY),
        )
        .expect("client");
        (gw, other)
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestGateway {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Arc::new(
                paymux_store::create_test_database("paymux_api_test")
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            )),
        };
        let database = match &postgres {
            None => format!("sqlite://{}/paymux.db", dir.path().display()),
            Some(db) => db.url().to_owned(),
        };
        let mut config = Config::parse(&config_text(&database), "test").expect("test config");
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(system_now()));
        TestGateway::start(config, clock, dir, database, postgres).await
    }

    async fn start(
        config: Config,
        clock: Arc<ManualClock>,
        dir: Arc<tempfile::TempDir>,
        database: String,
        postgres: Option<Arc<paymux_store::TestDatabase>>,
    ) -> TestGateway {
        let running = startup::start(config.clone(), clock.clone(), Workers::Manual)
            .await
            .expect("gateway starts");
        let url = running.url();
        let xxpay = XxpayClient::new(
            &url,
            XXPAY_MCH_ID,
            XXPAY_APP_ID,
            SecretString::from(XXPAY_KEY),
        )
        .expect("client");
        let upp = UppClient::new(
            &url,
            UPP_ISV_ID,
            UPP_PARTNER_ID,
            SecretString::from(UPP_KEY),
        )
        .expect("client");
        TestGateway {
            running,
            url,
            clock,
            xxpay,
            upp,
            http: reqwest::Client::new(),
            database,
            config,
            _dir: dir,
            _postgres: postgres,
        }
    }

    /// A second instance on the same database (and clock), as another process would be.
    pub async fn another_instance(&self) -> TestGateway {
        TestGateway::start(
            self.config.clone(),
            self.clock.clone(),
            self._dir.clone(),
            self.database.clone(),
            self._postgres.clone(),
        )
        .await
    }

    /// Stops this instance and starts a new one on the same database, its config changed.
    pub async fn restart_with(self, tweak: impl FnOnce(&mut Config)) -> TestGateway {
        let TestGateway {
            running,
            mut config,
            clock,
            _dir,
            database,
            _postgres,
            ..
        } = self;
        running.stop().await;
        tweak(&mut config);
        TestGateway::start(config, clock, _dir, database, _postgres).await
    }

    /// Stops this instance and starts a new one on the same database.
    pub async fn restart(self) -> TestGateway {
        self.restart_with(|_| {}).await
    }

    /// The cashier link of an order, as create_order handed it out.
    pub fn cashier_url(&self, order_id: &str) -> String {
        self.running
            .sandbox
            .as_ref()
            .expect("the sandbox is enabled")
            .cashier_url(order_id)
    }

    /// The path of a payment code's page, as the merchant was given it.
    pub fn code_path(&self, code_id: &str) -> String {
        self.running.links.code_path(code_id)
    }

    /// The scripted payer: `POST /sandbox/orders/{id}/pay`.
    pub async fn pay(&self, order_id: &str, result: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/sandbox/orders/{order_id}/pay", self.url))
            .body(format!(r#"{{"result":"{result}"}}"#))
            .send()
            .await
            .expect("sandbox pay")
    }

    /// The sandbox's scripted payer pays, choosing what from (`balance`, `debit_card`,
    /// `credit_card`).
    pub async fn pay_from(&self, order_id: &str, funding: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/sandbox/orders/{order_id}/pay", self.url))
            .body(format!(r#"{{"result":"success","funding":"{funding}"}}"#))
            .send()
            .await
            .expect("sandbox pay")
    }

    /// One notifier round.
    pub async fn deliver(&self) -> paymux_server::notifier::RoundOutcome {
        self.running
            .notifier
            .run_once()
            .await
            .expect("notifier round")
    }

    /// One round of channel checks (pending attempts and refunds).
    pub async fn poll_channels(&self) {
        self.running
            .operator
            .check_pending_attempts(100)
            .await
            .expect("attempt checks");
        self.running
            .operator
            .check_pending_refunds(100)
            .await
            .expect("refund checks");
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance_secs(secs);
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> String {
        self.http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("reply body")
    }
}

/// One request a merchant endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Received {
    /// The form fields of the body, in order.
    pub fn fields(&self) -> Vec<(String, String)> {
        paymux_dialects::common::decode_form(&self.body, true)
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.fields()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A merchant's notification endpoint on a free port. Answers with the scripted bodies in
/// turn, then with `success`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("receiver port");
        let addr = listener.local_addr().expect("receiver address");
        let receiver = Receiver {
            url: format!("http://{addr}/notify"),
            received: Arc::default(),
            answers: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(
                |State(r): State<Receiver>,
                 method: Method,
                 RawQuery(query): RawQuery,
                 headers: HeaderMap,
                 body: String| async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    r.received.lock().expect("lock").push(Received {
                        method,
                        query,
                        content_type,
                        body,
                    });
                    let mut answers = r.answers.lock().expect("lock");
                    if answers.is_empty() {
                        "success".to_owned()
                    } else {
                        answers.remove(0)
                    }
                },
            )
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    /// The next answers, before it goes back to `success`.
    pub fn answer_with(&self, bodies: &[&str]) {
        self.answers
            .lock()
            .expect("lock")
            .extend(bodies.iter().map(|s| s.to_string()));
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

/// The `paymux` binary this test run built.
pub fn paymux() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_paymux"))
}

/// A free port on loopback (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills a child process when the test ends, however it ends.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary, `paymux serve --listen <a free port>` and `args`, logging at debug
/// into `log` as it would to a terminal's stderr; returns once it listens, with its URL.
pub async fn serve_logging_to(args: &[&std::ffi::OsStr], log: &std::path::Path) -> (Child, String) {
    let port = free_port();
    let server = Child(
        paymux()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("RUST_LOG", "debug")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).expect("the log file"))
            .spawn()
            .expect("paymux serve"),
    );
    for _ in 0..200 {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("paymux is listening")
        {
            return (server, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "paymux serve did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A dialect added to `DIALECTS` needs its table in the test config and the other
/// merchant's: the tests of every dialect start from them.
#[test]
fn the_test_merchants_have_a_table_for_every_dialect() {
    let demo = Config::parse(&config_text("sqlite://unused.db"), "test").expect("test config");
    let other = other_merchant();
    for dialect in paymux_dialects::DIALECTS {
        let name = dialect.name();
        assert_eq!(
            demo.tables_of(name).len(),
            1,
            "config_text: [merchant.{name}]"
        );
        assert_eq!(
            other.tables_of(name).len(),
            1,
            "other_merchant: [merchant.{name}]"
        );
    }
}

/// A payer's browser: it does not follow redirects, so a test sees where each page leads.
pub fn browser() -> reqwest::Client {
    paymux_dialects::common::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser")
}

/// A page's HTML, whatever its status.
pub async fn page(url: &str) -> String {
    browser()
        .get(url)
        .send()
        .await
        .expect("the page")
        .text()
        .await
        .expect("its text")
}

/// A page's form, posted as a browser posts it.
pub async fn post_page(url: &str, body: &str) -> reqwest::Response {
    browser()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .expect("the form's answer")
}
