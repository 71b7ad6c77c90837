package accounting_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// A job's life in the ledger: an allocation, a hold at submission, the
// settlement at the end, and the reports.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l, err := accounting.Open(ctx, filepath.Join(dir, "state.db"), accounting.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	// An administrator sets things up.
	if _, err := l.CreateProject(ctx, accounting.NewProject{Name: "climate-ca", Who: "admin"}); err != nil {
		log.Fatal(err)
	}
	alloc, err := l.CreateAllocation(ctx, accounting.NewAllocation{
		Project: "climate-ca", Site: "narval", SlurmAccount: "def-climate",
		StartsAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		Grant: 100 * accounting.CoreHour, Who: "admin", Why: "RAC 2026",
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range []accounting.NewRate{
		{Site: "narval", Partition: "cpu", Thousandths: 1000},
		{Site: "narval", Partition: "gpu", Thousandths: 2500},
	} {
		r.EffectiveFrom, r.Who = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "admin"
		if _, err := l.SetRate(ctx, r); err != nil {
			log.Fatal(err)
		}
	}

	// The gateway accepts a job: 2 nodes x 4 CPUs for 3 hours at rate 2.5.
	h, err := l.PlaceHold(ctx, accounting.HoldRequest{JobID: "job-1", Project: "climate-ca", Site: "narval",
		Partition: "gpu", User: "alice", Nodes: 2, CPUsPerNode: 4, TimeLimit: 3 * time.Hour, Who: "gateway"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("held %.0f core-hours, %.0f left\n", h.CoreHours, float64(h.AvailableCoreSeconds)/3600)

	// A second job asks for more than is left.
	_, err = l.PlaceHold(ctx, accounting.HoldRequest{JobID: "job-2", Project: "climate-ca", Site: "narval",
		Partition: "cpu", User: "bob", Nodes: 1, CPUsPerNode: 48, TimeLimit: 2 * time.Hour, Who: "gateway"})
	var short *accounting.InsufficientError
	if errors.As(err, &short) {
		fmt.Printf("refused: %d core-seconds needed, %d left\n", short.Requested, short.Available)
	}

	// The job ends: sacct says 10 CPU-hours (CPUTimeRAW, all runs).
	s, err := l.SettleJob(ctx, accounting.ChargeRequest{JobID: "job-1", CPUSeconds: 10 * 3600,
		EndedAt: now.Add(2 * time.Hour), Who: "poller"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("charged %.0f core-hours in %s, released %.0f\n", s.Charge.CoreHours, s.Charge.Month, s.Release.CoreHours)

	b, err := l.Balance(ctx, alloc.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("granted %.0f, held %.0f, charged %.0f, remaining %.0f core-hours\n",
		b.GrantedCoreHours, b.HeldCoreHours, b.ChargedCoreHours, b.RemainingCoreHours)

	rows, err := l.Usage(ctx, accounting.UsageQuery{From: 202603, To: 202603,
		GroupBy: []accounting.Dimension{accounting.ByProject, accounting.ByUser}})
	if err != nil {
		log.Fatal(err)
	}
	if err := accounting.WriteCSV(os.Stdout, rows); err != nil {
		log.Fatal(err)
	}
	// Output:
	// held 60 core-hours, 40 left
	// refused: 345600 core-seconds needed, 144000 left
	// charged 25 core-hours in 2026-03, released 35
	// granted 100, held 0, charged 25, remaining 75 core-hours
	// month,project,site,partition,user,jobs,cpu_seconds,core_seconds,core_hours,charged_core_seconds,refunded_core_seconds,overrun_core_seconds
	// ,climate-ca,,,alice,1,36000,90000,25,90000,0,0
}

// The gateway records the accepted job and its hold in one transaction of
// its own; if the hold is refused, nothing of the ledger's is written and the
// gateway's transaction goes on.
func ExampleLedger_PlaceHoldTx() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The gateway opens the one database file with the ledger's settings
	// and gives it to the ledger, which adds its tables.
	db, err := accounting.OpenDB(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	l, err := accounting.New(ctx, db, accounting.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close() // its own write connection; db stays the gateway's
	if _, err := db.ExecContext(ctx, `CREATE TABLE jobs (id TEXT PRIMARY KEY, state TEXT)`); err != nil {
		log.Fatal(err)
	}
	if _, err := l.CreateProject(ctx, accounting.NewProject{Name: "p", Who: "admin"}); err != nil {
		log.Fatal(err)
	}
	if _, err := l.CreateAllocation(ctx, accounting.NewAllocation{Project: "p", Site: "s",
		StartsAt: time.Now().Add(-time.Hour), EndsAt: time.Now().Add(24 * time.Hour), Grant: 10 * accounting.CoreHour, Who: "admin"}); err != nil {
		log.Fatal(err)
	}
	if _, err := l.SetRate(ctx, accounting.NewRate{Site: "s", Partition: accounting.AnyPartition, Thousandths: 1000,
		EffectiveFrom: time.Now().Add(-time.Hour), Who: "admin"}); err != nil {
		log.Fatal(err)
	}

	accept := func(id string, cpus int64) error {
		tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (DSNParams)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		_, err = l.PlaceHoldTx(ctx, tx, accounting.HoldRequest{JobID: id, Project: "p", Site: "s", Partition: "cpu",
			User: "u", Nodes: 1, CPUsPerNode: cpus, TimeLimit: time.Hour, Who: "gateway"})
		state := "ACCEPTED"
		if errors.Is(err, accounting.ErrInsufficient) {
			state = "REJECTED"
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs VALUES (?, ?)`, id, state); err != nil {
			return err
		}
		return tx.Commit()
	}
	for _, j := range []struct {
		id   string
		cpus int64
	}{{"a", 8}, {"b", 8}} {
		if err := accept(j.id, j.cpus); err != nil {
			log.Fatal(err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT jobs.id, state, coalesce(hold_amount, 0) FROM jobs LEFT JOIN acct_jobs ON job_id = jobs.id ORDER BY jobs.id`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, state string
		var held int64
		if err := rows.Scan(&id, &state, &held); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, state, held)
	}
	// Output:
	// a ACCEPTED 28800
	// b REJECTED 0
}
