-- The payer's note to the merchant with a try (chinaums 付款附言), as typed on the code's
-- page; NULL: none.
-- Keep in step with migrations/sqlite/0008_attempt_memo.sql.
ALTER TABLE attempts ADD COLUMN memo TEXT;
