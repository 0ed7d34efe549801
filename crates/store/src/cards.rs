//! Card bindings, the codes sent for card payments, and pages of paid orders: the
//! [`CardStore`] and [`OrderListing`] sides of the store, for both engines.

use async_trait::async_trait;
use paymux_core::card::{CardBinding, CardKind, CardStore, Phone, SmsChallenge};
use paymux_core::ids::{MerchantId, PlatformId};
use paymux_core::listing::{OrderListing, OrderPage, PaidOrdersQuery};
use paymux_core::order::OrderStatus;
use paymux_core::store::StoreError;
use paymux_core::time::Millis;
use paymux_core::url::NotifyUrl;

use crate::SqlStore;
use crate::rows::{self, RowAccess};
use crate::script::{Script, Step, v};
use crate::sql::{could_be_platform_id, one};

fn binding(row: &dyn RowAccess) -> Result<CardBinding, StoreError> {
    let kind = row.text("card_kind")?;
    Ok(CardBinding {
        id: PlatformId::from_string(row.text("id")?),
        merchant_id: MerchantId::new(row.text("merchant_id")?),
        user_id: row.text("user_id")?,
        card_masked: row.text("card_masked")?,
        card_kind: CardKind::from_stored(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("card_kind: {kind:?}")))?,
        bank_name: row.text("bank_name")?,
        channel: row.text("channel")?,
        channel_token: row.text("channel_token")?,
        origin_order_id: PlatformId::from_string(row.text("origin_order_id")?),
        created_at: Millis(row.int("created_at")?),
        active_at: row.opt_int("active_at")?.map(Millis),
        phone: row.opt_text("phone")?.map(Phone::from_stored),
    })
}

fn small(row: &dyn RowAccess, column: &str) -> Result<i32, StoreError> {
    i32::try_from(row.int(column)?).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn challenge(row: &dyn RowAccess) -> Result<SmsChallenge, StoreError> {
    Ok(SmsChallenge {
        order_id: PlatformId::from_string(row.text("order_id")?),
        seq: small(row, "seq")?,
        phone: Phone::from_stored(row.text("phone")?),
        code_ref: row.text("code_ref")?,
        sent_at: Millis(row.int("sent_at")?),
        sends: small(row, "sends")?,
        checks: small(row, "checks")?,
    })
}

impl SqlStore {
    async fn write(&self, steps: Vec<Step>) -> Result<bool, StoreError> {
        Ok(self.engine.run(Script::of(steps)).await?.applied)
    }
}

#[async_trait]
impl CardStore for SqlStore {
    async fn bind_card(&self, b: &CardBinding) -> Result<CardBinding, StoreError> {
        self.write(vec![Step::new(
            "INSERT INTO card_bindings (id, merchant_id, user_id, card_masked, card_kind, bank_name, \
             channel, channel_token, origin_order_id, created_at, active_at, phone) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (merchant_id, user_id, channel, channel_token) \
             DO UPDATE SET \
             origin_order_id = CASE WHEN card_bindings.active_at IS NULL \
               THEN excluded.origin_order_id ELSE card_bindings.origin_order_id END, \
             phone = CASE WHEN card_bindings.active_at IS NULL THEN excluded.phone \
               ELSE COALESCE(card_bindings.phone, excluded.phone) END",
            vec![
                v(b.id.as_str()),
                v(b.merchant_id.as_str()),
                v(b.user_id.as_str()),
                v(b.card_masked.as_str()),
                v(b.card_kind.as_str()),
                v(b.bank_name.as_str()),
                v(b.channel.as_str()),
                v(b.channel_token.as_str()),
                v(b.origin_order_id.as_str()),
                v(b.created_at.0),
                v(b.active_at.map(|m| m.0)),
                v(b.phone.as_ref().map(Phone::as_str)),
            ],
        )])
        .await?;
        let stored = self
            .engine
            .read(
                "SELECT * FROM card_bindings WHERE merchant_id = $1 AND user_id = $2 \
                 AND channel = $3 AND channel_token = $4",
                vec![
                    v(b.merchant_id.as_str()),
                    v(b.user_id.as_str()),
                    v(b.channel.as_str()),
                    v(b.channel_token.as_str()),
                ],
                binding,
            )
            .await?;
        one(stored).ok_or_else(|| StoreError::Database("the card binding was not stored".into()))
    }

    async fn card_binding(
        &self,
        merchant: &MerchantId,
        id: &PlatformId,
    ) -> Result<Option<CardBinding>, StoreError> {
        if !could_be_platform_id(id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM card_bindings WHERE merchant_id = $1 AND id = $2",
                vec![v(merchant.as_str()), v(id.as_str())],
                binding,
            )
            .await?;
        Ok(one(found))
    }

    async fn binding_by_origin(
        &self,
        merchant: &MerchantId,
        origin_order_id: &PlatformId,
    ) -> Result<Option<CardBinding>, StoreError> {
        if !could_be_platform_id(origin_order_id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM card_bindings WHERE merchant_id = $1 AND origin_order_id = $2",
                vec![v(merchant.as_str()), v(origin_order_id.as_str())],
                binding,
            )
            .await?;
        Ok(one(found))
    }

    async fn activate_card_bindings(
        &self,
        origin_order_id: &PlatformId,
        at: Millis,
    ) -> Result<(), StoreError> {
        self.write(vec![Step::new(
            "UPDATE card_bindings SET active_at = $1 WHERE origin_order_id = $2 AND active_at IS NULL",
            vec![v(at.0), v(origin_order_id.as_str())],
        )])
        .await
        .map(drop)
    }

    async fn insert_sms_challenge(&self, c: &SmsChallenge) -> Result<(), StoreError> {
        self.write(vec![Step::new(
            "INSERT INTO sms_challenges (order_id, seq, phone, code_ref, sent_at, sends, checks) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                v(c.order_id.as_str()),
                v(i64::from(c.seq)),
                v(c.phone.as_str()),
                v(c.code_ref.as_str()),
                v(c.sent_at.0),
                v(i64::from(c.sends)),
                v(i64::from(c.checks)),
            ],
        )])
        .await
        .map(drop)
    }

    async fn sms_challenge(
        &self,
        order_id: &PlatformId,
        seq: i32,
    ) -> Result<Option<SmsChallenge>, StoreError> {
        if !could_be_platform_id(order_id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM sms_challenges WHERE order_id = $1 AND seq = $2",
                vec![v(order_id.as_str()), v(i64::from(seq))],
                challenge,
            )
            .await?;
        Ok(one(found))
    }

    async fn claim_sms_resend(
        &self,
        order_id: &PlatformId,
        seq: i32,
        now: Millis,
        last_sent_before: Millis,
        max_sends: i32,
    ) -> Result<bool, StoreError> {
        self.write(vec![Step::guarded(
            "UPDATE sms_challenges SET sent_at = $1, sends = sends + 1 \
             WHERE order_id = $2 AND seq = $3 AND sent_at <= $4 AND sends < $5",
            vec![
                v(now.0),
                v(order_id.as_str()),
                v(i64::from(seq)),
                v(last_sent_before.0),
                v(i64::from(max_sends)),
            ],
        )])
        .await
    }

    async fn set_sms_code_ref(
        &self,
        order_id: &PlatformId,
        seq: i32,
        code_ref: &str,
    ) -> Result<(), StoreError> {
        self.write(vec![Step::new(
            "UPDATE sms_challenges SET code_ref = $1, checks = 0 WHERE order_id = $2 AND seq = $3",
            vec![v(code_ref), v(order_id.as_str()), v(i64::from(seq))],
        )])
        .await
        .map(drop)
    }

    async fn reserve_code_check(
        &self,
        order_id: &PlatformId,
        seq: i32,
        code_ref: &str,
        max: i32,
    ) -> Result<bool, StoreError> {
        // One guarded statement: concurrent checks are counted one after another by the
        // database, and the one past `max` changes no row.
        self.write(vec![Step::guarded(
            "UPDATE sms_challenges SET checks = checks + 1 \
             WHERE order_id = $1 AND seq = $2 AND code_ref = $3 AND checks < $4",
            vec![
                v(order_id.as_str()),
                v(i64::from(seq)),
                v(code_ref),
                v(i64::from(max)),
            ],
        )])
        .await
    }

    async fn set_order_notify_url(
        &self,
        order_id: &PlatformId,
        url: &NotifyUrl,
    ) -> Result<bool, StoreError> {
        self.write(vec![Step::guarded(
            "UPDATE orders SET notify_url = $1 WHERE id = $2 AND status IN ($3, $4)",
            vec![
                v(url.as_str()),
                v(order_id.as_str()),
                v(OrderStatus::Created.as_str()),
                v(OrderStatus::Paying.as_str()),
            ],
        )])
        .await
    }
}

#[async_trait]
impl OrderListing for SqlStore {
    async fn paid_orders(&self, q: &PaidOrdersQuery) -> Result<OrderPage, StoreError> {
        let filter = || {
            vec![
                v(q.merchant.as_str()),
                v(q.dialect.as_str()),
                v(format!("%.{}", q.method.as_str())),
                v(OrderStatus::Succeeded.as_str()),
                v(OrderStatus::PartiallyRefunded.as_str()),
                v(q.from.0),
                v(q.until.0),
            ]
        };
        let total = one(self
            .engine
            .read(
                "SELECT COUNT(*) AS n FROM orders WHERE merchant_id = $1 AND dialect = $2 \
                     AND pay_way LIKE $3 AND status IN ($4, $5) \
                     AND paid_at IS NOT NULL AND paid_at >= $6 AND paid_at < $7",
                filter(),
                rows::first_int,
            )
            .await?)
        .unwrap_or(0);
        let per_page = q.per_page.max(1);
        let offset = q.page.max(1).saturating_sub(1).saturating_mul(per_page);
        let orders = if offset >= total {
            Vec::new()
        } else {
            let mut values = filter();
            values.extend([v(per_page), v(offset)]);
            self.engine
                .read(
                    "SELECT * FROM orders WHERE merchant_id = $1 AND dialect = $2 \
                     AND pay_way LIKE $3 AND status IN ($4, $5) \
                     AND paid_at IS NOT NULL AND paid_at >= $6 AND paid_at < $7 \
                     ORDER BY paid_at, id LIMIT $8 OFFSET $9",
                    values,
                    rows::order,
                )
                .await?
        };
        Ok(OrderPage { orders, total })
    }
}
