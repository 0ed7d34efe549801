-- Where a paid attempt's money came from (the wallet's balance, a debit or a credit card),
-- as the channel reported it; NULL where it did not say.
-- Keep in step with migrations/sqlite/0005_attempt_funding.sql.
ALTER TABLE attempts ADD COLUMN funding TEXT;
