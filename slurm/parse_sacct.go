package slurm

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SacctQuery selects the accounting records of one sacct call (slurmdbd, not the
// controller).
type SacctQuery struct {
	JobIDs   []string // "1234" or "1234_7"; an array's job id selects all its tasks
	Users    []string // --user; ignored when JobIDs are given
	AllUsers bool     // --allusers (needs an operator login where slurmdbd hides jobs)
	Cluster  string   // --clusters: the site's ClusterName (required)
	// Since is the earliest time of interest: the gateway's submit time minus the
	// clock-skew margin. Records of jobs that ended before it (an older job that
	// had the same id) are left out. It is sent relative to Now ("now-N"), so
	// the site's clock and time zone do not matter beyond the margin.
	Since time.Time
	Now   time.Time // the gateway's clock when the query is built (required with Since)
	// Runs lists every run of a requeued job (--duplicates); without it sacct
	// shows only the latest.
	Runs bool
	// Steps adds the job steps (batch, extern, 0, ...) after each allocation row.
	Steps bool
	// Mark is the record mark (NewRecordMark). Empty: a fresh one.
	Mark string
}

// sacctFields is the --format of SacctArgs, free text (JobName, Comment) last.
var sacctFields = []string{
	"JobID", "JobIDRaw", "Cluster", "Account", "User", "Partition", "QOS", "State",
	"ExitCode", "Reason", "ElapsedRaw", "AllocCPUS", "CPUTimeRAW", "NNodes", "Submit",
	"Start", "End", "Timelimit", "NodeList", "JobName", "Comment",
}

var sacctFieldIndex = fieldIndexOf(sacctFields)

func fieldIndexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// SacctArgs builds the argument vector (sacct first) of one sacct call whose
// output ParseSacct reads: --noheader, --parsable with a marked --delimiter,
// --clusters, --jobs, --starttime, --allocations unless Steps, --duplicates with
// Runs. Run it with SLURM_TIME_FORMAT=%s.
func SacctArgs(q SacctQuery) ([]string, error) {
	mark := q.Mark
	if mark == "" {
		mark = NewRecordMark()
	}
	if !validRecordMark(mark) {
		return nil, fmt.Errorf("sacct: record mark %q: want 8 to 64 letters or digits", mark)
	}
	if !slurmLoginNameRE.MatchString(q.Cluster) {
		return nil, fmt.Errorf("sacct: cluster %q: a cluster name is required", q.Cluster)
	}
	args := []string{"sacct", "--noheader", "--parsable", "--delimiter=" + recordSeparator(mark),
		"--clusters=" + q.Cluster}
	if !q.Steps {
		args = append(args, "--allocations")
	}
	if q.Runs {
		args = append(args, "--duplicates")
	}
	switch {
	case len(q.JobIDs) > 0:
		for _, id := range q.JobIDs {
			if !slurmQueryIDRE.MatchString(id) {
				return nil, fmt.Errorf("sacct: job id %q: want 1234 or 1234_7", id)
			}
		}
		args = append(args, "--jobs="+strings.Join(q.JobIDs, ","))
	case q.AllUsers:
		args = append(args, "--allusers")
	case len(q.Users) > 0:
		for _, u := range q.Users {
			if !slurmLoginNameRE.MatchString(u) {
				return nil, fmt.Errorf("sacct: user %q is not a login name", u)
			}
		}
		args = append(args, "--user="+strings.Join(q.Users, ","))
	}
	if !q.Since.IsZero() {
		if q.Now.IsZero() {
			return nil, errors.New("sacct: Since needs Now")
		}
		ago := int64(q.Now.Sub(q.Since) / time.Second)
		if ago < 1 {
			ago = 1
		}
		args = append(args, "--starttime=now-"+strconv.FormatInt(ago, 10)+"seconds")
	}
	return append(args, "--format="+strings.Join(sacctFields, ",")), nil
}

// AcctJob is one row of sacct: one run of a job (or of an array task), or one of
// its steps. Times are UTC.
type AcctJob struct {
	JobID       string // 1234, 1234_7, 1234_[8-10] (tasks never started), 1234.batch
	JobIDRaw    string // the job's own id: 1234, 1240 (an array task), 1234.batch
	Step        string // "" for the allocation; batch, extern, 0, 1, ...
	ArrayJobID  string // the array's job id; "" when not an array
	ArrayTaskID string // 7, [8-10]; "" when not an array
	Cluster     string
	Account     string
	User        string
	Partition   string
	QOS         string
	State       JobState
	SlurmState  string // as sacct printed it: "CANCELLED by 1001", "REQUEUED"
	ExitCode    int
	ExitSignal  int
	Reason      string    // "" for None
	Elapsed     int64     // ElapsedRaw: seconds
	AllocCPUs   int       // AllocCPUS
	CPUTimeRaw  int64     // CPUTimeRAW: core-seconds (Elapsed x AllocCPUs)
	NumNodes    int       // NNodes
	Submit      time.Time // each run of a requeued job has its own
	Start       time.Time // for a job cancelled while pending: the cancel time
	End         time.Time // zero while it runs
	TimeLimit   TimeLimit // zero when unset or for steps
	NodeList    string    // hostlist expression; "" for "None assigned"
	Name        string
	Comment     string // present when the site sets AccountingStoreFlags=job_comment
}

// ParseSacct reads the output of the command SacctArgs builds: one AcctJob per
// row, in sacct's order. Judge stderr with ClassifySacctStderr.
func ParseSacct(r io.Reader) ([]AcctJob, error) {
	data, err := readAllBounded("sacct", r)
	if err != nil {
		return nil, err
	}
	recs, err := splitMarkedRecords("sacct", data, len(sacctFields))
	if err != nil {
		return nil, err
	}
	rows := make([]AcctJob, 0, len(recs))
	for _, rec := range recs {
		j, field, err := sacctRow(rec.fields)
		if err != nil {
			return nil, &ParseError{Command: "sacct", Line: rec.line, Field: field, Err: err}
		}
		rows = append(rows, j)
	}
	return rows, nil
}

func sacctRow(f []string) (AcctJob, string, error) {
	get := func(name string) string { return f[sacctFieldIndex[name]] }
	var j AcctJob
	j.JobID = strings.TrimSpace(get("JobID"))
	j.JobIDRaw = strings.TrimSpace(get("JobIDRaw"))
	id, step, hasStep := strings.Cut(j.JobID, ".")
	if !slurmJobIDRE.MatchString(id) || hasStep && !slurmStepRE.MatchString(step) {
		return j, "JobID", fmt.Errorf("job id %q", clipForError(j.JobID))
	}
	rawID, rawStep, rawHasStep := strings.Cut(j.JobIDRaw, ".")
	if _, err := strconv.ParseUint(rawID, 10, 32); err != nil || rawHasStep != hasStep || rawStep != step {
		return j, "JobIDRaw", fmt.Errorf("job id %q (JobID %q)", clipForError(j.JobIDRaw), clipForError(j.JobID))
	}
	j.Step = step
	if arr, task, ok := strings.Cut(id, "_"); ok {
		j.ArrayJobID, j.ArrayTaskID = arr, task
	}
	j.Cluster = get("Cluster")
	j.Account = get("Account")
	j.User = get("User")
	j.Partition = get("Partition")
	j.QOS = get("QOS")
	j.SlurmState = strings.TrimSpace(get("State"))
	j.State = ParseJobState(j.SlurmState)
	var err error
	if ec := strings.TrimSpace(get("ExitCode")); ec != "" {
		if j.ExitCode, j.ExitSignal, err = ParseExitCode(ec); err != nil {
			return j, "ExitCode", err
		}
	}
	j.Reason = slurmNull(strings.TrimSpace(get("Reason")))
	for _, c := range []struct {
		name string
		dst  *int64
	}{{"ElapsedRaw", &j.Elapsed}, {"CPUTimeRAW", &j.CPUTimeRaw}} {
		s := strings.TrimSpace(get(c.name))
		if s == "" {
			continue
		}
		if *c.dst, err = strconv.ParseInt(s, 10, 64); err != nil || *c.dst < 0 {
			return j, c.name, fmt.Errorf("%q: not a non-negative number", s)
		}
	}
	for _, c := range []struct {
		name string
		dst  *int
	}{{"AllocCPUS", &j.AllocCPUs}, {"NNodes", &j.NumNodes}} {
		if *c.dst, _, err = parseSlurmCount(get(c.name)); err != nil {
			return j, c.name, err
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"Submit", &j.Submit}, {"Start", &j.Start}, {"End", &j.End}} {
		if *t.dst, err = parseEpochTime(get(t.name)); err != nil {
			return j, t.name, err
		}
	}
	if j.TimeLimit, err = ParseTimeLimit(get("Timelimit")); err != nil {
		return j, "Timelimit", err
	}
	j.NodeList = strings.TrimSpace(get("NodeList"))
	if j.NodeList == "None assigned" || j.NodeList == "(null)" {
		j.NodeList = ""
	}
	j.Name = get("JobName")
	j.Comment = get("Comment")
	return j, "", nil
}

// Step names: batch, extern, interactive, TBD, or a number; heterogeneous steps
// "0+1".
var slurmStepRE = regexp.MustCompile(`^([A-Za-z]{1,16}|[0-9]{1,10}(\+[0-9]{1,5})?)$`)

// SumCPUTimeRaw adds CPUTimeRAW over the allocation rows (Step == "") it is given:
// the core-seconds a job used over all its runs when the rows are those of one job
// read with Runs (sacct -D). Step rows are skipped, so they are never counted
// twice. The caller picks the rows of the job (same JobID and cluster).
func SumCPUTimeRaw(rows []AcctJob) int64 {
	var sum int64
	for _, r := range rows {
		if r.Step == "" {
			sum += r.CPUTimeRaw
		}
	}
	return sum
}

// LatestRun returns the latest allocation row among rows of one job (the run
// with the latest Submit, then Start; on a tie the later row): its State is the
// job's. False when rows hold no allocation row.
func LatestRun(rows []AcctJob) (AcctJob, bool) {
	var best AcctJob
	found := false
	for _, r := range rows {
		if r.Step != "" {
			continue
		}
		if !found || !r.Submit.Before(best.Submit) && (r.Submit.After(best.Submit) || !r.Start.Before(best.Start)) {
			best, found = r, true
		}
	}
	return best, found
}
