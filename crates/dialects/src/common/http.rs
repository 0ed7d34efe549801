//! The merchant side's HTTP: one client for the dialect clients and the notifier, bounded
//! reads of what the other side answers, and what a `paymux client` call can come to.

/// What a dialect client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the reply is not what the protocol says: {0}")]
    BadReply(String),
    #[error("the reply's signature does not verify")]
    BadSignature,
}

/// Replies larger than this are refused by the dialect clients.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// Reads at most `limit` bytes of a response body and says whether that was all of it, so
/// that whoever answers cannot make paymux buffer without bound.
pub async fn read_at_most(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// A dialect client's reply as text, refused when larger than [`MAX_REPLY_BYTES`].
pub async fn reply_text(response: reqwest::Response) -> Result<String, ClientError> {
    let (body, complete) = read_at_most(response, MAX_REPLY_BYTES).await?;
    if !complete {
        return Err(ClientError::BadReply(format!(
            "the reply is larger than {MAX_REPLY_BYTES} bytes"
        )));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An HTTP client for dialect clients and the notifier. Installs the TLS provider once.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    install_tls_provider();
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

/// Makes rustls use *ring* (built from source quickly; no cmake needed).
pub fn install_tls_provider() {
    // Fails only if a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How a `paymux client …` call ended when it did not succeed, each with its own exit code,
/// so that a script can tell who refused: the server, the reply, or nobody answering.
#[derive(Debug, thiserror::Error)]
pub enum ClientFailure {
    /// The server answered and refused the request (xxpay `retCode=FAIL`, upp `result=false`).
    #[error("the server refused our request: {0}")]
    Refused(String),
    /// Nothing usable came back: no server at the URL, or it did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Something answered, but not a reply of the protocol, or one whose signature does not
    /// verify with the merchant's key.
    #[error("{0}")]
    BadReply(String),
    /// The call could not be made as asked: missing credentials, a bad argument.
    #[error("{0}")]
    Setup(String),
}

impl ClientFailure {
    /// 1 refused by the server, 2 usage or configuration, 3 no answer, 4 a bad reply.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientFailure::Refused(_) => 1,
            ClientFailure::Setup(_) => 2,
            ClientFailure::Unreachable(_) => 3,
            ClientFailure::BadReply(_) => 4,
        }
    }

    /// Says which side failed, in words a person at a terminal can act on.
    pub fn from_client_error(error: ClientError, url: &str) -> ClientFailure {
        match error {
            ClientError::Http(e) if e.is_connect() => ClientFailure::Unreachable(format!(
                "no paymux answers at {url} (connection refused or unreachable); is `paymux serve` running there?"
            )),
            ClientError::Http(e) if e.is_timeout() => {
                ClientFailure::Unreachable(format!("{url} did not answer in time"))
            }
            ClientError::Http(e) => ClientFailure::Unreachable(format!("HTTP error talking to {url}: {e}")),
            ClientError::BadReply(why) => ClientFailure::BadReply(format!(
                "the reply is not what the protocol says: {why}"
            )),
            ClientError::BadSignature => ClientFailure::BadReply(
                "the reply's signature does not verify with the merchant's key (is it the right key and gateway?)"
                    .to_owned(),
            ),
        }
    }
}

/// An HTTP client for calls paymux makes to a merchant's system on a payer's behalf
/// (chinaums §1.9, hrss §5.1), under the notifier's rules ([`callback_client_builder`]).
pub fn callback_client(
    allow_private: bool,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, ClientError> {
    Ok(callback_client_builder(allow_private, timeout)
        .user_agent("paymux")
        .build()?)
}

/// How paymux calls merchants' systems (notifications, lookups): no redirects, no proxy
/// (it would resolve the host itself, past the address check), and unless
/// `allow_private`, no loopback, private or link-local address, also when a host name
/// resolves to one (literal addresses are the caller's to check, with `NotifyUrl`). Few
/// idle connections are kept, and not for long: the hosts are merchants' choice, and
/// their sockets come out of the descriptors the gateway keeps for itself.
pub fn callback_client_builder(
    allow_private: bool,
    timeout: std::time::Duration,
) -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(4)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .dns_resolver(std::sync::Arc::new(CallbackResolver { allow_private }))
}

/// The addresses of `host` that paymux may call.
pub async fn resolve_callback_host(
    host: &str,
    allow_private: bool,
) -> Result<Vec<std::net::SocketAddr>, String> {
    let allowed: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .filter(|a| allow_private || paymux_core::url::is_public_ip(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "{host} resolves only to loopback, private or link-local addresses"
        ));
    }
    Ok(allowed)
}

/// Resolves merchants' hosts, dropping the addresses paymux may not call.
struct CallbackResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CallbackResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = resolve_callback_host(&host, allow_private).await?;
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
