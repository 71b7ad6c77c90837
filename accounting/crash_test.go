package accounting_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// crashChildEnv, when set to a database path, makes TestCrashDurability the
// child process that writes to it until killed.
const (
	crashChildEnv = "STA_ACCOUNTING_CRASH_DB"
	crashRoundEnv = "STA_ACCOUNTING_CRASH_ROUND"
)

// TestCrashDurability: a child process (this test binary, re-executed)
// commits entries in a loop and prints the id of every entry once its commit
// has returned; the parent kills it with SIGKILL at a random moment, 30
// times. After every kill the database opens, PRAGMA integrity_check is ok,
// Verify finds the caches equal to the entries, and every acknowledged entry
// is there, as acknowledged.
//
// SIGKILL loses what the process had not handed to the kernel; it does not
// simulate a power cut (what synchronous=FULL is for, and what this test
// cannot show).
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv(crashRoundEnv))
		return
	}
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "crash.db")
	l, err := accounting.Open(ctx, path, accounting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	MustProject(t, l, "climate")
	MustAllocation(t, l, accounting.NewAllocation{Project: "climate", Site: "ca", StartsAt: year(2000), EndsAt: year(2100),
		Overdraft: accounting.UnlimitedOverdraft, Grant: 1 << 40, Who: "admin"})
	MustRate(t, l, "ca", "cpu", 1000, year(2000))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	type ack struct {
		kind accounting.Kind
		job  string
	}
	acked := map[int64]ack{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		lines, stderr, err := runCrashChild(ctx, path, round, time.Duration(rng.IntN(80))*time.Millisecond)
		if err != nil {
			t.Fatalf("round %d: %v\nchild stderr:\n%s", round, err, stderr)
		}
		n := 0
		for _, line := range lines {
			var id int64
			var kind, job string
			if _, err := fmt.Sscanf(line, "ack %d %s %s", &id, &kind, &job); err != nil {
				t.Fatalf("round %d: bad line %q", round, line)
			}
			acked[id] = ack{accounting.Kind(kind), job}
			n++
		}
		// Open as the daemon would after a crash, and check everything.
		l, err := accounting.Open(ctx, path, accounting.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		var ok string
		if err := l.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, ok, err)
		}
		if err := l.Verify(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		es, err := l.Entries(ctx, accounting.EntryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		have := map[int64]accounting.Entry{}
		for _, e := range es {
			have[e.ID] = e
		}
		for id, a := range acked {
			e, ok := have[id]
			if !ok {
				t.Fatalf("round %d: acknowledged entry %d (%s of %s) is lost", round, id, a.kind, a.job)
			}
			if e.Kind != a.kind || (a.job != "-" && e.JobID != a.job) {
				t.Fatalf("round %d: entry %d is %s of %q, was acknowledged as %s of %q", round, id, e.Kind, e.JobID, a.kind, a.job)
			}
		}
		l.Close()
		t.Logf("round %d: %d entries acknowledged before the kill, %d in all, %d entries in the file", round, n, len(acked), len(es))
	}
	if len(acked) < rounds {
		t.Fatalf("only %d entries acknowledged in %d rounds: the child barely ran", len(acked), rounds)
	}
}

// runCrashChild starts the child, waits for its first acknowledgement, lets
// it run for d more, kills it with SIGKILL and returns the complete lines it
// printed.
func runCrashChild(ctx context.Context, path string, round int, d time.Duration) ([]string, string, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	var (
		mu    sync.Mutex
		lines []string
		first = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		once := sync.Once{}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // EOF; a last line without its newline does not count
			}
			if !strings.HasPrefix(line, "ack ") {
				continue // the testing package's own output, if any
			}
			mu.Lock()
			lines = append(lines, strings.TrimSuffix(line, "\n"))
			mu.Unlock()
			once.Do(func() { close(first) })
		}
	}()
	select {
	case <-first:
	case <-done:
		_ = cmd.Wait()
		return nil, stderr.String(), errors.New("the child exited before committing anything")
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, stderr.String(), errors.New("the child committed nothing in 2 minutes")
	}
	time.Sleep(d)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		return nil, stderr.String(), err
	}
	<-done
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != -1 { // -1: killed by a signal
		return nil, stderr.String(), fmt.Errorf("the child ended by itself (%v) instead of being killed", werr)
	}
	mu.Lock()
	defer mu.Unlock()
	return lines, stderr.String(), nil
}

// crashChild commits in a loop until killed, printing "ack <entry id> <kind>
// <job id>" after each commit, in one write.
func crashChild(path, round string) {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	l, err := accounting.Open(ctx, path, accounting.Options{})
	if err != nil {
		fail(err)
	}
	ackf := func(id int64, kind accounting.Kind, job string) {
		if _, err := io.WriteString(os.Stdout, fmt.Sprintf("ack %d %s %s\n", id, kind, job)); err != nil {
			fail(err)
		}
	}
	allocs, err := l.Allocations(ctx, "climate", "ca")
	if err != nil || len(allocs) != 1 {
		fail(fmt.Errorf("allocations: %v, %v", allocs, err))
	}
	deadline := time.Now().Add(3 * time.Minute) // in case the parent is gone
	for i := 0; time.Now().Before(deadline); i++ {
		job := fmt.Sprintf("r%s-%d", round, i)
		req := accounting.HoldRequest{JobID: job, Project: "climate", Site: "ca", Partition: "cpu", User: "u",
			Nodes: 1, CPUsPerNode: int64(i%8 + 1), TimeLimit: time.Hour, Who: "crash"}
		switch i % 4 {
		case 0, 1: // the ledger's own transaction
			h, err := l.PlaceHold(ctx, req)
			if err != nil {
				fail(err)
			}
			ackf(h.EntryID, accounting.KindHold, job)
		case 2: // a caller's transaction: hold and settlement together
			tx, err := l.DB().BeginTx(ctx, nil)
			if err != nil {
				fail(err)
			}
			h, err := l.PlaceHoldTx(ctx, tx, req)
			if err != nil {
				fail(err)
			}
			s, err := l.SettleJobTx(ctx, tx, accounting.ChargeRequest{JobID: job, CPUSeconds: int64(i), EndedAt: time.Now(), Who: "crash"})
			if err != nil {
				fail(err)
			}
			if err := tx.Commit(); err != nil {
				fail(err)
			}
			ackf(h.EntryID, accounting.KindHold, job)
			ackf(s.Charge.EntryID, accounting.KindCharge, job)
			ackf(s.Release.EntryID, accounting.KindRelease, job)
		case 3:
			// Settle the hold placed two steps before, and grant.
			prev := fmt.Sprintf("r%s-%d", round, i-2)
			s, err := l.SettleJob(ctx, accounting.ChargeRequest{JobID: prev, CPUSeconds: 3600, EndedAt: time.Now(), Who: "crash"})
			if err != nil {
				fail(err)
			}
			ackf(s.Charge.EntryID, accounting.KindCharge, prev)
			ackf(s.Release.EntryID, accounting.KindRelease, prev)
			g, err := l.Grant(ctx, accounting.GrantRequest{AllocationID: allocs[0].ID, CoreSeconds: 1, Who: "crash"})
			if err != nil {
				fail(err)
			}
			ackf(g.ID, accounting.KindGrant, "-")
		}
	}
	fail(errors.New("ran for 3 minutes without being killed"))
}
