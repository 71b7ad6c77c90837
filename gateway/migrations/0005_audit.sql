-- The audit trail: append-only records, each with an HMAC-SHA256 over the previous
-- record's MAC and its own fields, keyed by a secret kept outside the database
-- (see audit.go). The triggers refuse edits through SQL; the chain shows any edit
-- made around them.
CREATE TABLE gateway_audit (
	seq     INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL, -- Unix milliseconds
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL,
	detail  TEXT NOT NULL,    -- JSON
	mac     TEXT NOT NULL     -- hex
) STRICT;
CREATE TRIGGER gateway_audit_no_update BEFORE UPDATE ON gateway_audit
BEGIN SELECT RAISE(ABORT, 'gateway_audit is append-only'); END;
CREATE TRIGGER gateway_audit_no_delete BEFORE DELETE ON gateway_audit
BEGIN SELECT RAISE(ABORT, 'gateway_audit is append-only'); END;
