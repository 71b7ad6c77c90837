-- 0006: the caches' mark moves only over entries indexed by allocation.
--
-- Since 0005 a fold adds the entries it folds to acct_allocation_entries
-- before it moves the mark, and the readers of an allocation's entries take
-- everything up to the mark from that index. A process still running code
-- from before 0005 (left running across an upgrade: a newer program refuses
-- an older schema only at open) would fold without indexing, and those
-- entries would drop out of every per-allocation reader without an error.
-- Its fold is now refused: when the mark moves forward, the last entry it
-- moves over must be in the index. The check costs one lookup a fold.

CREATE TRIGGER acct_cache_mark_over_indexed BEFORE UPDATE ON acct_cache_mark
WHEN NEW.entry_id > OLD.entry_id AND EXISTS (
    SELECT 1 FROM acct_entries e
    WHERE e.entry_id = (SELECT max(entry_id) FROM acct_entries WHERE entry_id > OLD.entry_id AND entry_id <= NEW.entry_id)
      AND NOT EXISTS (SELECT 1 FROM acct_allocation_entries x
                      WHERE x.allocation_id = e.allocation_id AND x.kind = e.kind AND x.at = e.at AND x.entry_id = e.entry_id))
BEGIN
    SELECT RAISE(ABORT, 'accounting: the caches'' mark moves only over entries indexed by allocation (is a program older than schema 5 writing?)');
END;
