//! Pages of a merchant's paid orders (mmsp's batch queries).

use super::Gateway;
use crate::error::Result;
use crate::listing::{OrderPage, PaidOrdersQuery};

impl Gateway {
    /// The merchant's paid orders in the query's window, a page at a time; only the
    /// query's merchant's orders are listed.
    pub async fn paid_orders(&self, query: &PaidOrdersQuery) -> Result<OrderPage> {
        Ok(self.store().paid_orders(query).await?)
    }
}
