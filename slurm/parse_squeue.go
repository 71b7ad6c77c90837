package slurm

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SqueueQuery selects the jobs of one squeue call. One call answers for any
// number of job ids (one REQUEST_JOB_INFO on the controller).
type SqueueQuery struct {
	// JobIDs are the jobs asked about: "1234" or an array task "1234_7". An array's
	// job id selects all its tasks. Empty: every job the login may see.
	JobIDs []string
	// Users restricts the answer to these logins (squeue --user).
	Users []string
	// ExpandArrays prints one row per array task (squeue --array) instead of one
	// row for the tasks still pending together ("1234_[8-10]").
	ExpandArrays bool
	// Mark is the record mark (NewRecordMark). Empty: a fresh one.
	Mark string
}

// squeueFields is the --Format of SqueueArgs, in the order ParseSqueue reads:
// free text (name, comment) last.
var squeueFields = []string{
	"JobArrayID", "JobID", "ArrayJobID", "ArrayTaskID", "Cluster", "State", "Reason",
	"UserName", "Account", "Partition", "QOS", "SubmitTime", "StartTime", "EndTime",
	"NodeList", "NumNodes", "NumCPUs", "TimeLimit", "exit_code", "RestartCnt",
	"Name", "Comment",
}

var squeueFieldIndex = fieldIndexOf(squeueFields)

// Job id grammar: 1234, array task 1234_7, pending tasks 1234_[8-10,12%2],
// heterogeneous job component 1234+0.
var (
	slurmJobIDRE     = regexp.MustCompile(`^[0-9]{1,10}(_([0-9]{1,10}|\[[0-9,\-:%]+\]))?$|^[0-9]{1,10}\+[0-9]{1,5}$`)
	slurmQueryIDRE   = regexp.MustCompile(`^[0-9]{1,10}(_[0-9]{1,10})?$`)
	slurmLoginNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$`)
)

// SqueueArgs builds the argument vector (squeue first) of one squeue call whose
// output ParseSqueue reads: --noheader, --states=all, --jobs, --Format with a
// marked separator after every field. It refuses job ids and users that are not
// plain ids and login names, so no value can become an option.
//
// The command must run with SLURM_TIME_FORMAT=%s and without -M/SLURM_CLUSTERS
// (the transport sees to both).
func SqueueArgs(q SqueueQuery) ([]string, error) {
	mark := q.Mark
	if mark == "" {
		mark = NewRecordMark()
	}
	if !validRecordMark(mark) {
		return nil, fmt.Errorf("squeue: record mark %q: want 8 to 64 letters or digits", mark)
	}
	args := []string{"squeue", "--noheader", "--states=all"}
	if q.ExpandArrays {
		args = append(args, "--array")
	}
	if len(q.JobIDs) > 0 {
		for _, id := range q.JobIDs {
			if !slurmQueryIDRE.MatchString(id) {
				return nil, fmt.Errorf("squeue: job id %q: want 1234 or 1234_7", id)
			}
		}
		args = append(args, "--jobs="+strings.Join(q.JobIDs, ","))
	}
	if len(q.Users) > 0 {
		for _, u := range q.Users {
			if !slurmLoginNameRE.MatchString(u) {
				return nil, fmt.Errorf("squeue: user %q is not a login name", u)
			}
		}
		args = append(args, "--user="+strings.Join(q.Users, ","))
	}
	sep := recordSeparator(mark)
	f := make([]string, len(squeueFields))
	for i, name := range squeueFields {
		// "Name:SUFFIX" (no width): the whole value, unpadded, then the suffix.
		f[i] = name + ":" + sep
	}
	return append(args, "--Format="+strings.Join(f, ",")), nil
}

// QueueJob is one row of squeue: a job (or array task) the controller holds.
// Times are UTC; while a job pends or runs, StartTime and EndTime are Slurm's
// expectations, not facts.
type QueueJob struct {
	JobID       string // 1234, 1234_7, or 1234_[8-10] for array tasks still pending together
	RawJobID    string // the job's own id (each array task has one)
	ArrayJobID  string // the array's job id; "" when not an array
	ArrayTaskID string // "7", "8-10"; "" when not an array
	Cluster     string
	State       JobState
	SlurmState  string // as squeue printed it: COMPLETING, CANCELLED, ...
	Reason      string // why pending or held, or why it failed; "" for None
	User        string
	Account     string
	Partition   string
	QOS         string
	SubmitTime  time.Time // changes when the job is requeued
	StartTime   time.Time
	EndTime     time.Time
	NodeList    string // hostlist expression; "" before the job runs
	NumNodes    int
	NumCPUs     int
	TimeLimit   TimeLimit
	ExitCode    int // of a job that ended (still in squeue for MinJobAge)
	ExitSignal  int
	Restarts    int // times the job was requeued
	Name        string
	Comment     string // the gateway's tag lives here (--comment)
}

// ParseSqueue reads the output of the command SqueueArgs builds. Every row must
// be whole and well formed; a job id that appears twice is an error (squeue
// prints each job once). It reads stdout only: judge stderr with
// ClassifySqueueStderr, since squeue can print an error, no rows, and exit 0.
func ParseSqueue(r io.Reader) ([]QueueJob, error) {
	data, err := readAllBounded("squeue", r)
	if err != nil {
		return nil, err
	}
	recs, err := splitMarkedRecords("squeue", data, len(squeueFields))
	if err != nil {
		return nil, err
	}
	jobs := make([]QueueJob, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for _, rec := range recs {
		j, field, err := squeueRow(rec.fields)
		if err != nil {
			return nil, &ParseError{Command: "squeue", Line: rec.line, Field: field, Err: err}
		}
		if seen[j.JobID] {
			return nil, &ParseError{Command: "squeue", Line: rec.line, Field: "JobArrayID",
				Err: fmt.Errorf("job %s appears twice", j.JobID)}
		}
		seen[j.JobID] = true
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func squeueRow(f []string) (QueueJob, string, error) {
	get := func(name string) string { return f[squeueFieldIndex[name]] }
	var j QueueJob
	j.JobID = strings.TrimSpace(get("JobArrayID"))
	if !slurmJobIDRE.MatchString(j.JobID) {
		return j, "JobArrayID", fmt.Errorf("job id %q", clipForError(j.JobID))
	}
	j.RawJobID = strings.TrimSpace(get("JobID"))
	if _, err := strconv.ParseUint(j.RawJobID, 10, 32); err != nil {
		return j, "JobID", fmt.Errorf("job id %q", clipForError(j.RawJobID))
	}
	if task := slurmNull(strings.TrimSpace(get("ArrayTaskID"))); task != "" {
		j.ArrayTaskID = task
		j.ArrayJobID = strings.TrimSpace(get("ArrayJobID"))
		if _, err := strconv.ParseUint(j.ArrayJobID, 10, 32); err != nil {
			return j, "ArrayJobID", fmt.Errorf("array job id %q", clipForError(j.ArrayJobID))
		}
	}
	j.Cluster = slurmNull(get("Cluster"))
	j.SlurmState = strings.TrimSpace(get("State"))
	j.State = ParseJobState(j.SlurmState)
	j.Reason = slurmNull(strings.TrimSpace(get("Reason")))
	j.User = get("UserName")
	j.Account = slurmNull(get("Account"))
	j.Partition = slurmNull(get("Partition"))
	j.QOS = slurmNull(get("QOS"))
	var err error
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"SubmitTime", &j.SubmitTime}, {"StartTime", &j.StartTime}, {"EndTime", &j.EndTime}} {
		if *t.dst, err = parseEpochTime(get(t.name)); err != nil {
			return j, t.name, err
		}
	}
	j.NodeList = slurmNull(strings.TrimSpace(get("NodeList")))
	for _, c := range []struct {
		name string
		dst  *int
	}{{"NumNodes", &j.NumNodes}, {"NumCPUs", &j.NumCPUs}, {"RestartCnt", &j.Restarts}} {
		if *c.dst, _, err = parseSlurmCount(get(c.name)); err != nil {
			return j, c.name, err
		}
	}
	if j.TimeLimit, err = ParseTimeLimit(get("TimeLimit")); err != nil {
		return j, "TimeLimit", err
	}
	if ec := strings.TrimSpace(get("exit_code")); ec != "" && ec != "N/A" {
		if j.ExitCode, j.ExitSignal, err = exitFromWaitStatus(ec); err != nil {
			return j, "exit_code", err
		}
	}
	j.Name = get("Name")
	// squeue prints "(null)" for no comment; a comment "None" stays "None".
	if j.Comment = get("Comment"); j.Comment == "(null)" {
		j.Comment = ""
	}
	return j, "", nil
}
