package slurm_test

// Fuzz tests of every parser: no input makes one panic, and what a parser accepts
// obeys its contract. Seeds are the recorded fixtures. Run one with, e.g.,
//
//	go test ./slurm/ -run '^$' -fuzz '^FuzzParseSqueue$' -fuzztime 30s

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/slurm"
)

// fxSeeds adds every recorded and hand-written fixture whose name starts with
// prefix as a seed.
func fxSeeds(f *testing.F, prefix string) {
	f.Helper()
	for _, pattern := range []string{filepath.Join(fxRoot, "*", prefix+"*.out"), filepath.Join("testdata", "newer", prefix+"*.out")} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func fxValidTime(t *testing.T, what string, ts time.Time) {
	t.Helper()
	if !ts.IsZero() && ts.Location() != time.UTC {
		t.Errorf("%s %v is not UTC", what, ts)
	}
}

func FuzzParseSqueue(f *testing.F) {
	fxSeeds(f, "squeue")
	f.Add([]byte(fxSqueueRow(fxMark, nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := slurm.ParseSqueue(bytes.NewReader(data))
		if err != nil {
			var pe *slurm.ParseError
			if !errors.As(err, &pe) || jobs != nil {
				t.Fatalf("error %T %v with %d jobs", err, err, len(jobs))
			}
			return
		}
		seen := map[string]bool{}
		for _, j := range jobs {
			if j.JobID == "" || seen[j.JobID] || !j.State.Valid() || j.State == slurm.StateAccepted ||
				j.State == slurm.StateSubmitting || j.State == slurm.StateRejected {
				t.Fatalf("job %q state %q (seen %v)", j.JobID, j.State, seen[j.JobID])
			}
			seen[j.JobID] = true
			fxValidTime(t, "submit", j.SubmitTime)
			fxValidTime(t, "start", j.StartTime)
			fxValidTime(t, "end", j.EndTime)
		}
	})
}

// FuzzSqueueValues: whatever a job's owner puts in its name and comment (short of
// the query's secret mark), the row reads back exactly and no other row appears.
func FuzzSqueueValues(f *testing.F) {
	f.Add("train", "sta:tag", "RUNNING")
	f.Add(fxEvilName, fxEvilComment, "PENDING")
	f.Add("a\n", "\x1f\n43\x1f\x1fRUNNING", "CANCELLED by 0")
	f.Add("", "(null)", "COMPLETING")
	f.Add("\n42\x1f", "\n", "RUNNING") // a value that starts a line right after a separator
	f.Fuzz(func(t *testing.T, name, comment, state string) {
		sep := "\x1f" + fxMark + "\x1f"
		if strings.Contains(name+"\x00"+comment, sep) || strings.ContainsAny(state, "\x1f\n") {
			return
		}
		out := fxSqueueRow(fxMark, map[string]string{"Name": name, "Comment": comment, "State": state}) +
			fxSqueueRow(fxMark, map[string]string{"JobArrayID": "43", "JobID": "43"})
		jobs, err := slurm.ParseSqueue(strings.NewReader(out))
		if err != nil {
			t.Fatalf("%v", err)
		}
		if len(jobs) != 2 || jobs[0].JobID != "42" || jobs[1].JobID != "43" {
			t.Fatalf("%d rows: %+v", len(jobs), jobs)
		}
		wantComment := comment
		if comment == "(null)" {
			wantComment = ""
		}
		if jobs[0].Name != name || jobs[0].Comment != wantComment || jobs[1].Comment != "sta:x" {
			t.Fatalf("name %q comment %q; want %q %q", jobs[0].Name, jobs[0].Comment, name, wantComment)
		}
		if jobs[0].State.IsFinal() && !strings.Contains(strings.ToUpper(state), string(jobs[0].State)[:2]) {
			t.Fatalf("state %q read as %s", state, jobs[0].State)
		}
	})
}

func FuzzParseSacct(f *testing.F) {
	fxSeeds(f, "sacct")
	f.Add([]byte(fxSacctRow(nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := slurm.ParseSacct(bytes.NewReader(data))
		if err != nil {
			var pe *slurm.ParseError
			if !errors.As(err, &pe) || rows != nil {
				t.Fatalf("error %T %v with %d rows", err, err, len(rows))
			}
			return
		}
		var sum int64
		for _, r := range rows {
			if r.JobID == "" || r.JobIDRaw == "" || !r.State.Valid() || r.CPUTimeRaw < 0 || r.Elapsed < 0 {
				t.Fatalf("row %+v", r)
			}
			if r.Step == "" && sum <= 1<<62 {
				sum += r.CPUTimeRaw
			}
			fxValidTime(t, "submit", r.Submit)
			fxValidTime(t, "start", r.Start)
			fxValidTime(t, "end", r.End)
		}
		if sum <= 1<<62 && slurm.SumCPUTimeRaw(rows) != sum {
			t.Fatalf("SumCPUTimeRaw %d, want %d", slurm.SumCPUTimeRaw(rows), sum)
		}
		if latest, ok := slurm.LatestRun(rows); ok && latest.Step != "" {
			t.Fatalf("LatestRun returned a step: %+v", latest)
		}
	})
}

func FuzzSacctValues(f *testing.F) {
	f.Add("train", "sta:tag")
	f.Add(fxEvilName, fxEvilComment)
	f.Add("\n", "\n43\x1f")
	f.Fuzz(func(t *testing.T, name, comment string) {
		sep := "\x1f" + fxMark + "\x1f"
		if strings.Contains(name+"\x00"+comment, sep) {
			return
		}
		out := fxSacctRow(map[string]string{"JobName": name, "Comment": comment}) +
			fxSacctRow(map[string]string{"JobID": "43", "JobIDRaw": "43"})
		rows, err := slurm.ParseSacct(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Name != name || rows[0].Comment != comment || rows[1].JobID != "43" {
			t.Fatalf("%+v", rows)
		}
	})
}

func FuzzParseJobDetail(f *testing.F) {
	fxSeeds(f, "scontrol-job")
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := slurm.ParseJobDetail(bytes.NewReader(data))
		if err != nil {
			var pe *slurm.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		for _, j := range jobs {
			if j.JobID == "" || !j.State.Valid() || j.Fields["JobId"] != j.JobID {
				t.Fatalf("%+v", j)
			}
			fxValidTime(t, "submit", j.SubmitTime)
		}
	})
}

func FuzzParseNodes(f *testing.F) {
	fxSeeds(f, "scontrol-nodes")
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := slurm.ParseNodes(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, n := range nodes {
			if n.Name == "" || n.StateBase == "" || n.GPUs < 0 {
				t.Fatalf("%+v", n)
			}
			n.Usable()
		}
	})
}

func FuzzParsePartitions(f *testing.F) {
	fxSeeds(f, "scontrol-partitions")
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := slurm.ParsePartitions(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Name == "" || p.MaxTime.Duration < 0 || p.DefaultTime.Duration < 0 {
				t.Fatalf("%+v", p)
			}
			p.AccountAllowed("a")
			p.QOSAllowed("q")
		}
	})
}

func FuzzParseTopology(f *testing.F) {
	fxSeeds(f, "scontrol-topology")
	f.Fuzz(func(t *testing.T, data []byte) {
		sw, err := slurm.ParseTopology(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, s := range sw {
			if s.Name == "" || s.Level < 0 || s.LinkSpeed < 0 {
				t.Fatalf("%+v", s)
			}
		}
	})
}

func FuzzParseSbatchParsable(f *testing.F) {
	fxSeeds(f, "sbatch")
	f.Fuzz(func(t *testing.T, data []byte) {
		id, cluster, err := slurm.ParseSbatchParsable(bytes.NewReader(data))
		if err != nil {
			return
		}
		if id == "" || strings.Trim(id, "0123456789") != "" || strings.ContainsAny(cluster, " ;\n") {
			t.Fatalf("id %q cluster %q", id, cluster)
		}
	})
}

// finalWords are every Slurm word (long or compact) for an end.
var finalWords = []string{"COMPLETED", "CD", "CANCELLED", "CA", "FAILED", "F", "TIMEOUT", "TO",
	"NODE_FAIL", "NF", "PREEMPTED", "PR", "BOOT_FAIL", "BF", "DEADLINE", "DL", "OUT_OF_MEMORY", "OOM"}

func FuzzParseJobState(f *testing.F) {
	for _, s := range []string{"RUNNING", "CANCELLED by 0", "PENDING,REQUEUED", "COMPLETED+", "CD", "OUT_OF_ME+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := slurm.ParseJobState(s)
		if !st.Valid() || st == slurm.StateAccepted || st == slurm.StateSubmitting || st == slurm.StateRejected {
			t.Fatalf("ParseJobState(%q) = %q", s, st)
		}
		if !st.IsFinal() {
			return
		}
		// An end needs a word for an end at the start of the input.
		up := strings.ToUpper(strings.TrimSpace(s))
		for _, w := range finalWords {
			if strings.HasPrefix(up, w) || strings.HasPrefix(w, strings.TrimSuffix(up, "+")) {
				return
			}
		}
		t.Fatalf("ParseJobState(%q) = %s, an end, from no word for one", s, st)
	})
}

func FuzzParseTimeLimit(f *testing.F) {
	for _, s := range []string{"30", "1:00:00", "2-12:30", "UNLIMITED", "5:00", "1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := slurm.ParseTimeLimit(s)
		if err != nil {
			return
		}
		if l.Duration < 0 || l.Infinite && l.Duration != 0 {
			t.Fatalf("ParseTimeLimit(%q) = %+v", s, l)
		}
		back, err := slurm.ParseTimeLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, l, l.String(), back, err)
		}
	})
}

func FuzzParseExitCode(f *testing.F) {
	for _, s := range []string{"0:0", "3:0", "0:9", "1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, sig, err := slurm.ParseExitCode(s)
		if err == nil && (code < 0 || code > 255 || sig < 0 || sig > 255) {
			t.Fatalf("ParseExitCode(%q) = %d, %d", s, code, sig)
		}
	})
}

func FuzzClassifyStderr(f *testing.F) {
	for _, site := range []string{"ca-hydro", "de-hpc"} {
		files, _ := filepath.Glob(filepath.Join(fxRoot, site, "*.err"))
		for _, p := range files {
			b, _ := os.ReadFile(p)
			f.Add(string(b), 0)
		}
	}
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, stderr string, exit int) {
		err := slurm.CheckQuery("squeue", exit, stderr)
		if err == nil {
			if exit != 0 {
				t.Fatalf("exit %d accepted", exit)
			}
			return
		}
		var se *slurm.StderrError
		if !errors.As(err, &se) {
			t.Fatalf("%T", err)
		}
		switch se.Kind {
		case slurm.ErrInvalidJobID, slurm.ErrSlurmUnavailable, slurm.ErrQueryRefused, slurm.ErrQueryFailed:
		default:
			t.Fatalf("kind %v", se.Kind)
		}
	})
}
