-- Node leases, one pending notification per subject and event, gateway secrets.
-- Keep in step with migrations/sqlite/0002_leases_outbox_secrets.sql.

-- A node number (carried in generated ids) held by one running instance (nodes.id) until
-- expires_at; the instance renews it while it runs, and a number whose lease ran out may be
-- taken by another.
CREATE TABLE node_leases (
    node        BIGINT PRIMARY KEY CHECK (node >= 0 AND node < 10000),
    instance    BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Re-sends queued while one was pending were rows of their own: keep the oldest.
DELETE FROM notifications
WHERE status = 'pending'
  AND EXISTS (
      SELECT 1 FROM notifications AS older
      WHERE older.status = 'pending'
        AND older.subject_id = notifications.subject_id
        AND older.event = notifications.event
        AND (older.created_at, older.id) < (notifications.created_at, notifications.id)
  );
CREATE UNIQUE INDEX notifications_one_pending ON notifications (subject_id, event) WHERE status = 'pending';

-- Secrets the instances sharing a database must agree on (the key of the cashier's links).
CREATE TABLE gateway_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
