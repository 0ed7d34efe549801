-- paymux schema, PostgreSQL. Instants are milliseconds since the Unix epoch; money is fen.
-- Keep in step with migrations/sqlite/0001_init.sql: the same tables, columns and
-- constraint names, so that one set of queries serves both.

CREATE TABLE nodes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  BIGINT NOT NULL
);

CREATE TABLE orders (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    merchant_order_no  TEXT NOT NULL,
    dialect            TEXT NOT NULL,
    pay_way            TEXT NOT NULL,
    channel            TEXT NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    status             TEXT NOT NULL,
    notify_url         TEXT,
    return_url         TEXT,
    client_ip          TEXT,
    extra              TEXT NOT NULL,
    channel_trade_no   TEXT,
    channel_user       TEXT,
    refund_reserved    BIGINT NOT NULL DEFAULT 0,
    refunded           BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    paid_at            BIGINT,
    closed_at          BIGINT,
    merchant_acked_at  BIGINT,
    fail_code          TEXT,
    fail_msg           TEXT,
    CONSTRAINT orders_merchant_order_no_key UNIQUE (merchant_id, merchant_order_no),
    CONSTRAINT orders_refunds_within_amount
        CHECK (refunded >= 0 AND refunded <= refund_reserved AND refund_reserved <= amount)
);
CREATE INDEX orders_open_by_expiry ON orders (expires_at) WHERE status IN ('created', 'paying');

CREATE TABLE attempts (
    order_id          TEXT NOT NULL REFERENCES orders (id),
    seq               BIGINT NOT NULL,
    channel           TEXT NOT NULL,
    pay_way           TEXT NOT NULL,
    status            TEXT NOT NULL,
    auth_code         TEXT,
    channel_trade_no  TEXT,
    channel_user      TEXT,
    created_at        BIGINT NOT NULL,
    finished_at       BIGINT,
    next_check_at     BIGINT,
    fail_code         TEXT,
    fail_msg          TEXT,
    PRIMARY KEY (order_id, seq)
);
CREATE INDEX attempts_due_checks ON attempts (next_check_at) WHERE status = 'paying' AND next_check_at IS NOT NULL;

CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    order_id           TEXT NOT NULL REFERENCES orders (id),
    attempt_seq        BIGINT NOT NULL,
    dialect            TEXT NOT NULL,
    refund_no          TEXT,
    request_no         TEXT,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    automatic          BIGINT NOT NULL,
    channel_refund_no  TEXT,
    fail_reason        TEXT,
    extra              TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    finished_at        BIGINT,
    next_check_at      BIGINT,
    CONSTRAINT refunds_refund_no_key UNIQUE (merchant_id, refund_no),
    CONSTRAINT refunds_request_no_key UNIQUE (merchant_id, request_no)
);
CREATE INDEX refunds_by_order ON refunds (order_id);
CREATE INDEX refunds_due_checks ON refunds (next_check_at) WHERE status = 'requested' AND next_check_at IS NOT NULL;

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL,
    dialect          TEXT NOT NULL,
    event            TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_subject ON notifications (subject_id);
