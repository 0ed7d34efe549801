//! Background work besides the notifier: closing expired orders and asking channels
//! about pending attempts and refunds. Each loop calls a core command that does one
//! bounded round; tests call the commands directly.

use std::time::Duration;

use paymux_core::Operator;
use tokio::sync::watch;

const ROUND: i64 = 100;

/// Closes orders whose expiry has passed.
pub async fn run_expirer(operator: Operator, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(1), shutdown, || async {
        match operator.expire_due_orders(ROUND).await {
            Ok(n) if n > 0 => tracing::info!(closed = n, "expired orders closed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry round failed"),
        }
    })
    .await;
}

/// Asks channels about pending attempts and refunds that are due a check.
pub async fn run_poller(operator: Operator, shutdown: watch::Receiver<bool>) {
    every(Duration::from_millis(500), shutdown, || async {
        if let Err(e) = operator.check_pending_attempts(ROUND).await {
            tracing::warn!(error = %e, "attempt check round failed");
        }
        if let Err(e) = operator.check_pending_refunds(ROUND).await {
            tracing::warn!(error = %e, "refund check round failed");
        }
    })
    .await;
}

async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        round().await;
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
    }
}
