package accounting_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

func TestReconcile(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	MustProject(t, f.l, "bio")
	MustAllocation(t, f.l, accounting.NewAllocation{Project: "bio", Site: "ca", SlurmAccount: "def-bio",
		StartsAt: year(2026), EndsAt: year(2027), Grant: 10 * accounting.CoreHour, Who: "admin"})
	end := t0.Add(2 * time.Hour)
	submit := func(id, siteJob string) {
		t.Helper()
		req := hold(id, 4, 2*time.Hour)
		req.Tag = "sta-" + id
		MustHold(t, f.l, req)
		if siteJob != "" {
			if err := f.l.RecordSiteJob(ctx, accounting.SiteJob{JobID: id, Cluster: "narval", SiteJobID: siteJob}); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit("ok", "101")        // charged right
	submit("requeued", "102")  // ran twice; charged the sum
	submit("wrong", "103")     // charged for less than sacct shows
	submit("uncharged", "104") // ended in Slurm, never charged
	submit("running", "105")   // still running
	submit("lost", "106")      // submitted, charged, sacct has nothing
	submit("notag", "107")     // sacct lost the comment: matched by job id
	submit("rejected", "")     // never reached Slurm; released
	MustSettle(t, f.l, "ok", 3600, end)
	MustSettle(t, f.l, "requeued", 1000+2000, end)
	MustSettle(t, f.l, "wrong", 500, end)
	MustSettle(t, f.l, "lost", 100, end)
	MustSettle(t, f.l, "notag", 50, end)
	if _, err := f.l.ReleaseJob(ctx, accounting.ReleaseRequest{JobID: "rejected", Who: "gw", Why: "sbatch refused"}); err != nil {
		t.Fatal(err)
	}

	rows := []accounting.SacctRow{
		{Cluster: "narval", JobID: "101", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 3600, End: end, Comment: "sta-ok"},
		{Cluster: "narval", JobID: "102", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 1000, End: end.Add(-time.Hour), Comment: "sta-requeued"},
		{Cluster: "narval", JobID: "102", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 2000, End: end, Comment: "sta-requeued"},
		{Cluster: "narval", JobID: "103", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 900, End: end, Comment: "sta-wrong"},
		{Cluster: "narval", JobID: "104", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 70, End: end, Comment: "sta-uncharged"},
		{Cluster: "narval", JobID: "105", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 10, Comment: "sta-running"},
		{Cluster: "narval", JobID: "107", Account: "def-climate", User: "alice", Partition: "cpu", CPUTimeRAW: 50, End: end},
		// Not through the gateway: on the projects' accounts...
		{Cluster: "narval", JobID: "900", Account: "def-climate", User: "dave", Partition: "gpu", CPUTimeRAW: 3600, End: end, Comment: "my run"},
		{Cluster: "narval", JobID: "901", Account: "def-bio", User: "erin", Partition: "cpu", CPUTimeRAW: 60, End: end},
		// ... and on an account the ledger does not know.
		{Cluster: "narval", JobID: "902", Account: "def-other", User: "frank", Partition: "cpu", CPUTimeRAW: 1, End: end},
	}
	r, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if r.SacctJobs != 9 || r.Matched != 6 || r.Running != 1 || r.Ignored != 1 || r.Clean() {
		t.Errorf("counts: sacct %d matched %d running %d ignored %d", r.SacctJobs, r.Matched, r.Running, r.Ignored)
	}
	if len(r.Mismatches) != 2 {
		t.Fatalf("mismatches = %+v", r.Mismatches)
	}
	byJob := map[string]accounting.ChargeMismatch{}
	for _, m := range r.Mismatches {
		byJob[m.JobID] = m
	}
	if m := byJob["wrong"]; !m.Charged || m.ChargedCoreSeconds != 500 || m.SacctCPUSeconds != 900 || m.ExpectedCoreSeconds != 900 ||
		m.DifferenceCoreSeconds != 400 || m.SiteJobID != "103" || m.Rate != 1000 {
		t.Errorf("wrong = %+v", m)
	}
	if m := byJob["uncharged"]; m.Charged || m.ExpectedCoreSeconds != 70 || m.DifferenceCoreSeconds != 70 {
		t.Errorf("uncharged = %+v", m)
	}
	if len(r.MissingInSacct) != 1 || r.MissingInSacct[0].JobID != "lost" || !r.MissingInSacct[0].Charged ||
		r.MissingInSacct[0].ChargedCoreSeconds != 100 || r.MissingInSacct[0].SiteJobID != "106" {
		t.Errorf("missing = %+v", r.MissingInSacct)
	}
	if len(r.Foreign) != 2 {
		t.Fatalf("foreign = %+v", r.Foreign)
	}
	fu := r.Foreign
	if fu[0].SiteJobID != "900" || fu[0].Project != "climate" || fu[0].User != "dave" || fu[0].Rate != 2500 || fu[0].CoreSeconds != 9000 ||
		fu[0].End == nil || !fu[0].End.Equal(end) {
		t.Errorf("foreign[0] = %+v", fu[0])
	}
	if fu[1].SiteJobID != "901" || fu[1].Project != "bio" || fu[1].CoreSeconds != 60 {
		t.Errorf("foreign[1] = %+v", fu[1])
	}
	if r.ForeignCoreSeconds != 9060 {
		t.Errorf("foreign total = %d", r.ForeignCoreSeconds)
	}

	// A window that holds none of the jobs expects none of them.
	r, err = f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)})
	if err != nil || len(r.MissingInSacct) != 0 || !r.Clean() {
		t.Errorf("empty window: %+v, %v", r, err)
	}
	// Rows of another site, or a bad window, are refused.
	if _, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: t0, To: t0.Add(time.Hour),
		Rows: []accounting.SacctRow{{Site: "de", JobID: "1"}}}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("row of another site: %v", err)
	}
	if _, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: t0, To: t0}); !errors.Is(err, accounting.ErrInvalid) {
		t.Errorf("empty window: %v", err)
	}
}

// When every gateway job is charged as sacct says, reconciliation is clean.
func TestReconcileClean(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	var rows []accounting.SacctRow
	for i := range 20 {
		id := jobName(i)
		req := hold(id, 2, time.Hour)
		req.Partition = []string{"cpu", "gpu"}[i%2]
		MustHold(t, f.l, req)
		end := t0.Add(time.Duration(i) * time.Minute)
		cpu := int64(i*97 + 1)
		MustSettle(t, f.l, id, cpu, end)
		rows = append(rows, accounting.SacctRow{Site: "ca", Cluster: "c", JobID: "s" + id, Account: "def-climate",
			User: "alice", Partition: req.Partition, CPUTimeRAW: cpu, End: end, Comment: id})
	}
	r, err := f.l.Reconcile(ctx, accounting.ReconcileRequest{Site: "ca", From: t0.Add(-time.Minute), To: t0.Add(time.Minute), Rows: rows})
	if err != nil || !r.Clean() || r.Matched != 20 {
		t.Errorf("reconciliation = %+v, %v", r, err)
	}
}
