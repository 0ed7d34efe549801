-- Bills (orders a payer may try more than once), payment codes, escrow, a second notify
-- address, and the nonces requests carry. Keep in step with the other backend's 0003.

ALTER TABLE orders ADD COLUMN tries TEXT NOT NULL DEFAULT 'once';
ALTER TABLE orders ADD COLUMN code_id TEXT;
ALTER TABLE orders ADD COLUMN also_notify_url TEXT;
-- NULL: not escrowed; else uncompleted, partly_completed, all_completed or canceled.
ALTER TABLE orders ADD COLUMN escrow TEXT;
ALTER TABLE orders ADD COLUMN escrow_completed BIGINT NOT NULL DEFAULT 0;
-- A split bill's shares (JSON: {"platform": fen, "shares": [{"party", "amount"}]}).
ALTER TABLE orders ADD COLUMN splits TEXT;
-- What a split bill's refund takes from the platform's share and one sub-merchant's.
ALTER TABLE refunds ADD COLUMN split_platform BIGINT;
ALTER TABLE refunds ADD COLUMN split_party TEXT;
ALTER TABLE refunds ADD COLUMN split_party_amount BIGINT;
CREATE INDEX orders_by_code ON orders (code_id) WHERE code_id IS NOT NULL;

-- A QR code a merchant shows; it makes bills (see core/src/code.rs).
CREATE TABLE payment_codes (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    dialect          TEXT NOT NULL,
    code_ref         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    amount           BIGINT CHECK (amount IS NULL OR amount > 0),
    order_id         TEXT REFERENCES orders (id),
    subject          TEXT NOT NULL,
    notify_url       TEXT,
    also_notify_url  TEXT,
    return_url       TEXT,
    expires_at       BIGINT,
    bill_no_prefix   TEXT NOT NULL,
    tries            TEXT NOT NULL,
    escrow           BIGINT NOT NULL,
    extra            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT payment_codes_ref_key UNIQUE (merchant_id, code_ref)
);

-- A request's nonce, refused if seen again before it expires (replays).
CREATE TABLE request_nonces (
    merchant_id  TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, nonce)
);
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);

-- An order notified at two addresses has a pending notification for each.
DROP INDEX notifications_one_pending;
CREATE UNIQUE INDEX notifications_one_pending ON notifications (subject_id, event, url) WHERE status = 'pending';
