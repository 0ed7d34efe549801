-- A fixed-amount code's split (chinaums 分账), given to every bill it makes
-- (JSON as orders.splits: {"platform": fen, "shares": [{"party", "amount"}]}); NULL: none.
-- Keep in step with migrations/sqlite/0006_code_splits.sql.
ALTER TABLE payment_codes ADD COLUMN splits TEXT;
