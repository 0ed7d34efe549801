//! Reversing an order (撤销): an unpaid order is closed, a paid one refunded whatever of it
//! is not refunded yet. For a payment whose outcome the merchant could not learn (a payer
//! code at the till), so that either way the payer ends up not charged.

use serde_json::Map;

use super::{Gateway, NewRefund};
use crate::error::{Error, Result};
use crate::ids::{MerchantId, RefundNo, RefundRequestNo};
use crate::money::Fen;
use crate::order::Order;
use crate::refund::Refund;
use crate::store::{OrderKey, RefundKey};

/// What a reversal came to.
#[derive(Debug, Clone)]
pub enum Reversal {
    /// The order was not paid: it is closed (a payment arriving later is refunded).
    Closed(Order),
    /// The order was paid: what was left of it is being refunded.
    Refunded { order: Order, refund: Box<Refund> },
    /// The order was paid and is refunded in full already, by the merchant's own refunds:
    /// the payer is not charged, nothing is left to reverse.
    NothingLeft(Order),
}

impl Gateway {
    /// Reverses the merchant's order, no sooner than `min_age_s` after it was created (a
    /// wallet may still be deciding a payment that young). Asking again answers the same
    /// reversal: its refund carries the order's platform id as refund and request number.
    /// A paid order partly refunded already has the rest refunded.
    pub async fn reverse_order(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
        min_age_s: i64,
    ) -> Result<Reversal> {
        let order = self
            .store()
            .order(merchant, key)
            .await?
            .ok_or(Error::OrderNotFound)?;
        let now = self.now();
        let ready_at = order.created_at.plus_secs(min_age_s);
        if now < ready_at {
            return Err(Error::TooEarly {
                wait_s: ((ready_at.0 - now.0 + 999) / 1000).max(1),
            });
        }
        if !order.status.is_paid() {
            match self
                .close_order_by_id(&order.id, "reversed by the merchant")
                .await
            {
                Ok(order) => return Ok(Reversal::Closed(order)),
                // The payer paid just before: refund it instead.
                Err(Error::OrderAlreadyPaid) => {}
                Err(e) => return Err(e),
            }
        }
        let key_of = |e: crate::ids::IdError| Error::invalid("order", e);
        let request_no = RefundRequestNo::parse(order.id.as_str(), 64).map_err(key_of)?;
        if let Some(done) = self
            .store()
            .refund(merchant, RefundKey::RequestNo(&request_no))
            .await?
            .filter(|r| r.order_id == order.id)
        {
            return Ok(Reversal::Refunded {
                order: self.order_by_id(&order.id).await?,
                refund: Box::new(done),
            });
        }
        let order = self.order_by_id(&order.id).await?;
        let Ok(rest) = Fen::positive(order.refundable().get()) else {
            return Ok(Reversal::NothingLeft(order));
        };
        let refund = self
            .request_refund(NewRefund {
                merchant_id: order.merchant_id.clone(),
                order_id: order.id.clone(),
                dialect: order.dialect.clone(),
                refund_no: RefundNo::parse(order.id.as_str(), 64).map_err(key_of)?,
                request_no: Some(request_no),
                amount: rest,
                reason: "reversed by the merchant".into(),
                extra: Map::new(),
                split: None,
            })
            .await?;
        Ok(Reversal::Refunded {
            order: self.order_by_id(&order.id).await?,
            refund: Box::new(refund),
        })
    }
}
