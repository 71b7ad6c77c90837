-- 0007: the check of an entry's kind without a temporary table.
--
-- acct_entries checked its kind with CHECK (kind IN (six kinds)). SQLite
-- evaluates an IN over more than two constants through an ephemeral index:
-- every INSERT of an entry opened an in-memory b-tree, filled it with the six
-- kinds and probed it, three times per job (hold, charge, release). That was
-- about a sixth of the instructions SQLite and the C allocator spent on a hold
-- and its settlement (valgrind, cachegrind). The same rule, written as six
-- comparisons joined by OR, is compiled inline.
--
-- A CHECK cannot be altered in place, and rebuilding acct_entries would copy
-- every entry. Both constraints accept exactly the same rows, so the table's
-- definition is rewritten in sqlite_schema as SQLite documents for changes
-- that leave every stored row valid (lang_altertable.html, "Making Other
-- Kinds Of Table Schema Changes"): with writable_schema, in this migration's
-- transaction. writable_schema = RESET re-reads the schema on this
-- connection; the table created and dropped after it moves the schema cookie,
-- so that every other open connection re-reads it too. Should the table's
-- text not be migration 1's, the migration fails (migrationChecks, in Go)
-- rather than keep the old check silently. TestEntryKindCheckOpensNoEphemeralTable
-- checks that no INSERT of an entry opens an ephemeral table any longer, also
-- on a connection opened before the migration, and that a kind outside the
-- six is still refused.

PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (kind IN (''grant'', ''hold'', ''charge'', ''release'', ''refund'', ''adjust''))',
    'CHECK (kind = ''grant'' OR kind = ''hold'' OR kind = ''charge'' OR kind = ''release'' OR kind = ''refund'' OR kind = ''adjust'')')
WHERE type = 'table' AND name = 'acct_entries';

PRAGMA writable_schema = RESET;

CREATE TABLE acct_schema_cookie (x INTEGER);
DROP TABLE acct_schema_cookie;
