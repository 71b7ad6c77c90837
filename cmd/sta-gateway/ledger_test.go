package main

import (
	"testing"

	"github.com/sta-federation/sta-gateway/accounting"
)

// assertChargedOnce opens the daemon's ledger (the daemon stopped) and checks that
// each job has exactly one charge and one release, and that the ledger verifies.
func assertChargedOnce(t *testing.T, dbPath string, jobIDs []string) {
	t.Helper()
	l, err := accounting.Open(t.Context(), dbPath, accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Verify(t.Context()); err != nil {
		t.Fatalf("ledger does not verify: %v", err)
	}
	for _, id := range jobIDs {
		es, err := l.Entries(t.Context(), accounting.EntryQuery{JobID: id})
		if err != nil {
			t.Fatal(err)
		}
		count := map[accounting.Kind]int{}
		for _, e := range es {
			count[e.Kind]++
		}
		if count[accounting.KindHold] != 1 || count[accounting.KindCharge] != 1 || count[accounting.KindRelease] > 1 {
			t.Errorf("job %s: ledger entries %v; want one hold, one charge, at most one release", id, count)
		}
	}
}
