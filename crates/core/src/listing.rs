//! Listing a merchant's paid orders a page at a time (mmsp's batch queries 777 and 782).

use async_trait::async_trait;

use crate::dialect::DialectTag;
use crate::ids::MerchantId;
use crate::order::Order;
use crate::payway::PayMethod;
use crate::store::StoreError;
use crate::time::Millis;

/// Which paid orders, and which page of them.
#[derive(Debug, Clone)]
pub struct PaidOrdersQuery {
    pub merchant: MerchantId,
    /// Orders made through this dialect only.
    pub dialect: DialectTag,
    pub method: PayMethod,
    /// Paid at or after this instant, and before `until`.
    pub from: Millis,
    pub until: Millis,
    /// 1 for the first page.
    pub page: i64,
    pub per_page: i64,
}

/// One page, oldest payment first, and how many there are in all.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub total: i64,
}

#[async_trait]
pub trait OrderListing: Send + Sync {
    /// The merchant's orders paid in the window and not refunded in full since (mmsp's
    /// batch queries list only orders whose STATUS is 1, 支付成功), by payment time; a
    /// payment that arrived after its order closed is not among them.
    async fn paid_orders(&self, query: &PaidOrdersQuery) -> Result<OrderPage, StoreError>;
}
