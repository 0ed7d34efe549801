-- Card payments confirmed by SMS (快捷) and bound cards; paid orders by payment time.
-- Keep in step with migrations/sqlite/0004_cards.sql.
-- (Numbered 0004: 0003 is the payment codes' migration, written alongside.)

-- A card bound to a merchant's user (mmsp BIND_ID). No card or identity number is kept:
-- a masked number, and the channel's token with which it charges the card again. A binding
-- is effective (active_at) once the payment that made it (origin_order_id) is paid.
CREATE TABLE card_bindings (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    card_masked      TEXT NOT NULL,
    card_kind        TEXT NOT NULL,
    bank_name        TEXT NOT NULL,
    channel          TEXT NOT NULL,
    channel_token    TEXT NOT NULL,
    origin_order_id  TEXT NOT NULL REFERENCES orders (id),
    created_at       BIGINT NOT NULL,
    active_at        BIGINT,
    CONSTRAINT card_bindings_card_key UNIQUE (merchant_id, user_id, channel, channel_token)
);
CREATE INDEX card_bindings_by_origin ON card_bindings (origin_order_id);

-- The code sent to a payer's phone for an attempt: the channel's reference for it (the
-- code itself is the channel's), when it was last sent, how often, and the wrong codes
-- tried since.
CREATE TABLE sms_challenges (
    order_id     TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    phone        TEXT NOT NULL,
    code_ref     TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    sends        BIGINT NOT NULL,
    wrong_tries  BIGINT NOT NULL,
    PRIMARY KEY (order_id, seq),
    FOREIGN KEY (order_id, seq) REFERENCES attempts (order_id, seq)
);

-- Batch queries list a merchant's paid orders by payment time.
CREATE INDEX orders_paid_by_merchant ON orders (merchant_id, paid_at) WHERE paid_at IS NOT NULL;
