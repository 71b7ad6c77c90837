-- 0005: the entries of each allocation are indexed in batches, with the
-- caches.
--
-- acct_entries_by_allocation (allocation_id, at) was written at every hold
-- and settlement: a page of its b-tree per commit, a quarter of what a cycle
-- of hold and settlement wrote. It becomes acct_allocation_entries, which
-- holds the entries up to the caches' mark (acct_cache_mark, 0003) and is
-- brought forward by the same fold: the entries of a batch that share an
-- allocation share its pages. Whatever reads an allocation's entries adds
-- the entries after the mark, read by entry id in the same statement, as the
-- readers of the caches do. Verify checks it against the entries up to the
-- mark.

CREATE TABLE acct_allocation_entries (
    allocation_id INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    entry_id      INTEGER NOT NULL,
    PRIMARY KEY (allocation_id, kind, at, entry_id)
) STRICT, WITHOUT ROWID;

INSERT INTO acct_allocation_entries (allocation_id, kind, at, entry_id)
SELECT allocation_id, kind, at, entry_id FROM acct_entries
WHERE entry_id <= (SELECT entry_id FROM acct_cache_mark WHERE id = 1)
ORDER BY allocation_id, kind, at, entry_id;

DROP INDEX acct_entries_by_allocation;
