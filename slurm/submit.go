package slurm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Runner runs a command on a site. *Client is one; the contract is Client.Run's: a
// Result for a command that ran to its end, a *RunError (IsAmbiguous) otherwise.
type Runner interface {
	Run(ctx context.Context, cmd Command) (*Result, error)
}

var _ Runner = (*Client)(nil)

// Sentinels of the submit path.
var (
	// ErrAmbiguous: sbatch may or may not have created the job. Resolve with
	// Site.Resolve (FindByTag after the fence); never resubmit before.
	ErrAmbiguous = errors.New("submission outcome unknown")
	// ErrRejected: Slurm refused the job; nothing was created.
	ErrRejected = errors.New("job rejected by slurm")
	// ErrNotFound: no job carries the tag.
	ErrNotFound = errors.New("job not found")
	// ErrMismatch: the accepted job is not what was asked (cluster, partition,
	// account, tag).
	ErrMismatch = errors.New("accepted job differs from the request")
)

// Site holds what the submit path must know of one Slurm site.
type Site struct {
	Name    string // the gateway's name for the site
	Cluster string // Slurm ClusterName
	// MessageTimeout is the site's slurm.conf MessageTimeout (default 10s): how long
	// a request already sent may still be acted on by slurmctld.
	MessageTimeout time.Duration
	// SbatchTimeout bounds a remote sbatch (default 30s); the fence is past it.
	SbatchTimeout time.Duration
	// ClockSkew is the margin taken between our clock and the site's (default 5m).
	ClockSkew time.Duration
	// CommandTimeout bounds a query (default 3 x MessageTimeout).
	CommandTimeout time.Duration
	// Now is the clock (default time.Now); tests may set it.
	Now func() time.Time
}

func (s *Site) messageTimeout() time.Duration { return or(s.MessageTimeout, 10*time.Second) }
func (s *Site) sbatchTimeout() time.Duration  { return or(s.SbatchTimeout, 30*time.Second) }
func (s *Site) clockSkew() time.Duration      { return or(s.ClockSkew, 5*time.Minute) }
func (s *Site) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// SubmitRequest is one sbatch.
type SubmitRequest struct {
	Login  string // the login the Runner is logged in as (for lookups)
	Script []byte // the batch script, sent on stdin byte for byte
	// Args are sbatch options as "--name=value" (or "--flag"), built from the
	// allowlist of package sbatch. Submit refuses the ones that steer identity or
	// routing and any that is not a long option.
	Args []string
	// Tag identifies the request across retries; it goes first in --comment.
	Tag string
	// Comment is the user's own comment, kept after the tag.
	Comment string
	// Partition and Account, when set, are checked on the accepted job.
	Partition, Account string
}

// JobRef names one Slurm job: (cluster, job id, submit time). Job ids are reused
// across clusters and after controller resets.
type JobRef struct {
	Cluster    string
	JobID      string // "1234"; for an array, the array's job id
	SubmitTime time.Time
	Partition  string
	Account    string
	User       string
	Comment    string // as Slurm holds it: tag, then the user's comment
	// StdOut and StdErr are the job's output files as the controller resolved
	// them (known from the read-back only).
	StdOut, StdErr string
}

// AmbiguousError is a submission whose outcome is unknown. The job may exist; it
// can only be looked up safely after FenceAt, when no late sbatch can still land.
type AmbiguousError struct {
	Site    string
	Tag     string
	Since   time.Time // when the sbatch started
	FenceAt time.Time
	Err     error
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("site %s: submission %s: outcome unknown (look it up after %s): %v",
		e.Site, e.Tag, e.FenceAt.UTC().Format(time.RFC3339), e.Err)
}

func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }
func (e *AmbiguousError) Unwrap() error        { return e.Err }

// RejectedError is a job Slurm refused, with Slurm's words.
type RejectedError struct {
	Site    string
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("site %s: sbatch refused the job: %s", e.Site, e.Message)
}

func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// refusedArgs steer identity, routing or the gateway's own bookkeeping.
var refusedArgs = []string{"--clusters", "--cluster", "--uid", "--gid", "--comment", "--parsable",
	"--wait", "--wrap", "--export-file", "--get-user-env", "--test-only", "--help", "--usage", "--version"}

func checkSubmitArgs(args []string) error {
	for _, a := range args {
		if !strings.HasPrefix(a, "--") || len(a) < 3 {
			return fmt.Errorf("sbatch argument %q: only long options (--name=value) are passed", a)
		}
		name, _, _ := strings.Cut(a, "=")
		for _, r := range refusedArgs {
			// getopt accepts unambiguous prefixes: refuse those too.
			if len(name) >= 4 && strings.HasPrefix(r, name) || name == r {
				return fmt.Errorf("sbatch argument %q is refused", name)
			}
		}
		if err := checkArg(a); err != nil {
			return fmt.Errorf("sbatch argument %q: %w", name, err)
		}
	}
	return nil
}

// Submit runs sbatch once, the script on stdin, the tag in --comment, and reads the
// accepted job back. Errors: *RejectedError (nothing was created),
// *AmbiguousError (resolve with Resolve, never resubmit before), ErrMismatch (the
// job exists but is not what was asked: cancel it), or an error from before
// anything was sent (safe to retry).
func (s *Site) Submit(ctx context.Context, r Runner, req SubmitRequest) (*JobRef, error) {
	if !tagRE.MatchString(req.Tag) {
		return nil, fmt.Errorf("submit: tag %q: want 1 to 64 of [A-Za-z0-9._:-]", req.Tag)
	}
	if err := checkArg(req.Comment); err != nil {
		return nil, fmt.Errorf("submit: comment: %w", err)
	}
	if err := checkSubmitArgs(req.Args); err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	if len(req.Script) == 0 {
		return nil, errors.New("submit: empty batch script")
	}
	comment := req.Tag
	if req.Comment != "" {
		comment += " " + req.Comment
	}
	args := append([]string{"sbatch", "--parsable", "--comment=" + comment}, req.Args...)
	started := s.now()
	fence := started.Add(s.sbatchTimeout() + 2*time.Second + s.messageTimeout() + time.Second)
	ambiguous := func(err error) error {
		return &AmbiguousError{Site: s.Name, Tag: req.Tag, Since: started, FenceAt: fence, Err: err}
	}
	res, err := r.Run(ctx, Command{Args: args, Stdin: req.Script, Timeout: s.sbatchTimeout()})
	if err != nil {
		if IsAmbiguous(err) {
			return nil, ambiguous(err)
		}
		return nil, fmt.Errorf("submit: %w", err)
	}
	if res.ExitCode != 0 {
		msg := strings.TrimSpace(string(res.Stderr))
		if res.TimedOut() || res.Signal != "" || sbatchMayHaveSubmitted(msg) {
			how := "exit " + strconv.Itoa(res.ExitCode)
			if res.Signal != "" {
				how = "killed by SIG" + res.Signal
			}
			return nil, ambiguous(fmt.Errorf("sbatch %s: %s", how, msg))
		}
		return nil, &RejectedError{Site: s.Name, Message: msg}
	}
	id, cluster, err := parseParsable(res.Stdout)
	if err != nil {
		// It exited 0: a job exists, but we cannot say which.
		return nil, ambiguous(err)
	}
	if cluster != "" && s.Cluster != "" && cluster != s.Cluster {
		return &JobRef{Cluster: cluster, JobID: id}, fmt.Errorf("%w: job %s went to cluster %s, want %s",
			ErrMismatch, id, cluster, s.Cluster)
	}
	ref, err := s.readBack(ctx, r, id)
	if err != nil {
		// The job exists (sbatch said so); reading it back failed. The caller
		// records the id and checks again later.
		return &JobRef{Cluster: s.Cluster, JobID: id}, fmt.Errorf("submit: read back job %s: %w", id, err)
	}
	var bad []string
	if ref.Comment != comment {
		bad = append(bad, fmt.Sprintf("comment %q, want %q", ref.Comment, comment))
	}
	if req.Partition != "" && ref.Partition != req.Partition {
		bad = append(bad, fmt.Sprintf("partition %s, want %s", ref.Partition, req.Partition))
	}
	if req.Account != "" && ref.Account != req.Account {
		bad = append(bad, fmt.Sprintf("account %s, want %s", ref.Account, req.Account))
	}
	if len(bad) > 0 {
		return ref, fmt.Errorf("%w: job %s: %s", ErrMismatch, id, strings.Join(bad, "; "))
	}
	return ref, nil
}

// sbatchMayHaveSubmitted says whether sbatch's error leaves the job's existence
// unknown: the controller may have accepted the request without the reply
// reaching sbatch. A sign of a lost exchange anywhere wins; only sbatch's own
// lines ("sbatch: ...", not what a login shell's rc files print) can make a
// rejection definite; anything unrecognised counts as unknown, the safe side.
func sbatchMayHaveSubmitted(stderr string) bool {
	for _, unsure := range []string{"Socket timed out", "Unable to contact slurm controller", "Zero Bytes were transmitted",
		"Communication connection failure", "Connection timed out", "Connection refused", "Slurm temporarily unable"} {
		if strings.Contains(stderr, unsure) {
			return true
		}
	}
	for _, line := range strings.Split(stderr, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "sbatch: ") && sbatchDefinite(line) {
			return false
		}
	}
	return true
}

// sbatchDefinite says whether a line of sbatch's names a reason it refused the
// job without creating it.
func sbatchDefinite(line string) bool {
	for _, definite := range []string{
		"Invalid account", "Invalid partition", "Invalid qos", "Requested time limit is invalid",
		"Requested node configuration is not available", "Invalid job array specification",
		"Node count specification invalid", "Job violates accounting/QOS policy",
		"Invalid generic resource", "Invalid feature specification", "unrecognized option",
		"invalid option", "unknown option", "This does not look like a batch script",
		"Batch script contains DOS line breaks", "Batch script is empty",
		"Access/permission denied", "User's group not permitted to use this partition",
		"Invalid user id", "Invalid dependency specification", "Requested partition configuration not available",
		"More processors requested than permitted", "Memory required by task is not available",
		"Invalid --distribution", "invalid number", "Invalid node name specified", "Invalid time",
		"Pathname of a file, directory or other parameter too long", "Invalid job name",
	} {
		if strings.Contains(line, definite) {
			return true
		}
	}
	return false
}

// parseParsable reads `sbatch --parsable` output: "id" or "id;cluster" (warnings
// go to stderr).
func parseParsable(out []byte) (id, cluster string, err error) {
	line := strings.TrimSpace(string(out))
	id, cluster, _ = strings.Cut(line, ";")
	if _, perr := strconv.ParseUint(id, 10, 64); perr != nil || strings.ContainsAny(line, "\n ") {
		return "", "", fmt.Errorf("sbatch --parsable printed %q, want a job id", line)
	}
	return id, cluster, nil
}

// refFromQueue turns a squeue row into a JobRef (an array's tasks name the array).
func (s *Site) refFromQueue(q QueueJob) JobRef {
	id := q.RawJobID
	if q.ArrayJobID != "" {
		id = q.ArrayJobID
	}
	return JobRef{Cluster: s.Cluster, JobID: id, SubmitTime: q.SubmitTime, Partition: q.Partition,
		Account: q.Account, User: q.User, Comment: q.Comment}
}

// readBack reads the accepted job from the controller with scontrol show job (one
// REQUEST_JOB_INFO_SINGLE, lighter than a squeue): ErrNotFound when the
// controller no longer knows it.
func (s *Site) readBack(ctx context.Context, r Runner, id string) (*JobRef, error) {
	d, err := s.Job(ctx, r, id)
	if errors.Is(err, ErrInvalidJobID) {
		return nil, fmt.Errorf("%w: job %s is not in the queue", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return &JobRef{Cluster: s.Cluster, JobID: id, SubmitTime: d.SubmitTime, Partition: d.Partition,
		Account: d.Account, User: d.User, Comment: d.Comment, StdOut: d.StdOut, StdErr: d.StdErr}, nil
}

// FindByTag looks for the job that carries tag, submitted by login since the given
// time: in squeue first, then in sacct (from since minus the clock-skew margin),
// for jobs that already left the queue. ErrNotFound when neither has it. Call it
// only after the fence of an ambiguous submission (see Resolve).
func (s *Site) FindByTag(ctx context.Context, r Runner, login, tag string, since time.Time) (*JobRef, error) {
	if !tagRE.MatchString(tag) {
		return nil, fmt.Errorf("find: tag %q is not a valid tag", tag)
	}
	match := func(rows []JobRef) (*JobRef, error) {
		var found []JobRef
		for _, row := range rows {
			if (row.Comment == tag || strings.HasPrefix(row.Comment, tag+" ")) &&
				!containsJob(found, row.JobID) {
				found = append(found, row)
			}
		}
		switch len(found) {
		case 0:
			return nil, nil
		case 1:
			return &found[0], nil
		}
		ids := make([]string, len(found))
		for i, f := range found {
			ids[i] = f.JobID
		}
		return &found[0], fmt.Errorf("tag %s is on %d jobs (%s): exactly-once was broken",
			tag, len(found), strings.Join(ids, ","))
	}
	var users []string
	if login != "" {
		users = []string{login}
	}
	qrows, err := s.Queue(ctx, r, SqueueQuery{Users: users})
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", tag, err)
	}
	var refs []JobRef
	for _, q := range qrows {
		refs = append(refs, s.refFromQueue(q))
	}
	if ref, err := match(refs); ref != nil || err != nil {
		return ref, err
	}
	arows, err := s.Accounting(ctx, r, SacctQuery{Users: users, AllUsers: login == "",
		Since: since.Add(-s.clockSkew()), Now: s.now()})
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", tag, err)
	}
	refs = refs[:0]
	for _, a := range arows {
		if a.Step != "" {
			continue
		}
		id := a.JobIDRaw
		if a.ArrayJobID != "" {
			id = a.ArrayJobID
		}
		refs = append(refs, JobRef{Cluster: s.Cluster, JobID: id, SubmitTime: a.Submit, Partition: a.Partition,
			Account: a.Account, User: a.User, Comment: a.Comment})
	}
	if ref, err := match(refs); ref != nil || err != nil {
		return ref, err
	}
	return nil, fmt.Errorf("%w: no job with tag %s on %s", ErrNotFound, tag, s.Name)
}

func containsJob(rows []JobRef, id string) bool {
	for _, r := range rows {
		if r.JobID == id {
			return true
		}
	}
	return false
}

// Resolve settles an ambiguous submission: it waits for the fence, then looks the
// tag up. ErrNotFound then means no job was created, and a new submission is safe.
func (s *Site) Resolve(ctx context.Context, r Runner, login string, amb *AmbiguousError) (*JobRef, error) {
	if wait := amb.FenceAt.Sub(s.now()); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.FindByTag(ctx, r, login, amb.Tag, amb.Since)
}

// Cancel cancels a job with scancel. A job that already ended is not an error.
// The job is named by id and checked by its tag first (--comment is not a scancel
// filter) so that a reused id is never cancelled; the submit time is not compared,
// as a requeue changes it.
func (s *Site) Cancel(ctx context.Context, r Runner, ref JobRef, tag string) error {
	if _, err := strconv.ParseUint(ref.JobID, 10, 64); err != nil {
		return fmt.Errorf("cancel: job id %q", ref.JobID)
	}
	if tag != "" {
		cur, err := s.readBack(ctx, r, ref.JobID)
		if errors.Is(err, ErrNotFound) {
			return nil // gone from the queue: nothing to cancel
		}
		if err != nil {
			return fmt.Errorf("cancel %s: %w", ref.JobID, err)
		}
		if cur.Comment != tag && !strings.HasPrefix(cur.Comment, tag+" ") {
			return fmt.Errorf("cancel %s: %w: it carries %q, not tag %s", ref.JobID, ErrMismatch, cur.Comment, tag)
		}
	}
	res, err := r.Run(ctx, Command{Args: []string{"scancel", ref.JobID}, Timeout: s.commandTimeout()})
	if err != nil {
		return fmt.Errorf("cancel %s: %w", ref.JobID, err)
	}
	msg := strings.TrimSpace(string(res.Stderr))
	if res.ExitCode != 0 || msg != "" {
		if strings.Contains(msg, "already completing or completed") || strings.Contains(msg, "Invalid job id") {
			return nil
		}
		return fmt.Errorf("cancel %s: scancel exit %d: %s", ref.JobID, res.ExitCode, msg)
	}
	return nil
}
