-- Card payments: every check of a code is counted (not only wrong ones), reserved before the
-- channel sees the code; and a bound card keeps the phone the bank checked with it, where the
-- codes of later payments go.
-- Keep in step with migrations/sqlite/0007_code_checks_and_bound_phones.sql.
-- (Numbered 0007: 0006 is another change's, written alongside.)
ALTER TABLE sms_challenges RENAME COLUMN wrong_tries TO checks;
-- NULL for bindings made before: those pay by code again once the card is bound again.
ALTER TABLE card_bindings ADD COLUMN phone TEXT;
