//! A merchant as the core sees it. Each dialect keeps its own credentials for the merchant
//! (xxpay's mchId/key, upp's isvId/partnerId/key, …) and maps them to this id.

use serde::Deserialize;

use crate::ids::MerchantId;
use crate::money::Fen;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Settlement {
    /// Funds become available the next day.
    T1,
    /// Funds become available the same day.
    D0,
}

#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub settlement: Settlement,
    pub payout_fee: Fen,
}
