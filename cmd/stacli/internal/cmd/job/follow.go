package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/iostreams"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

// Polling of a job followed to its end: from PollMin, growing by half each
// time the state stays the same, up to PollMax.
const (
	DefaultPollMin = time.Second
	DefaultPollMax = 10 * time.Second
)

// follower follows a job to its end.
type follower struct {
	io      *iostreams.IOStreams
	client  *client.Client
	pollMin time.Duration
	pollMax time.Duration
}

// follow polls the job until it is final. Progress (each change of state) goes
// to stderr when stderr is a terminal. Once the gateway has answered, its
// being unreachable for a while (a restart) is waited out.
func (fl follower) follow(ctx context.Context, j *api.Job) (*api.Job, error) {
	pollMin, pollMax := fl.pollMin, fl.pollMax
	if pollMin <= 0 {
		pollMin = DefaultPollMin
	}
	if pollMax < pollMin {
		pollMax = max(DefaultPollMax, pollMin)
	}
	progress := fl.io.IsStderrTTY()
	last := ""
	show := func(j *api.Job) {
		s := string(j.State)
		if j.Reason != "" && j.Reason != "None" {
			s += " (" + j.Reason + ")"
		}
		if j.Unreachable {
			s += " [site unreachable]"
		}
		if progress && s != last {
			fmt.Fprintf(fl.io.ErrOut, "%s  job %s: %s\n", time.Now().UTC().Format("15:04:05"), j.ID, s)
		}
		last = s
	}
	show(j)
	wait := pollMin
	warned := false
	for !j.State.Final() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return j, ctx.Err()
		case <-t.C:
		}
		nj, err := fl.client.Job(ctx, j.ID)
		switch {
		case err == nil:
			if nj.State != j.State {
				wait = pollMin
			} else {
				wait = min(wait+wait/2, pollMax)
			}
			j = nj
			show(j)
			warned = false
		case ctx.Err() != nil:
			return j, ctx.Err()
		case errors.Is(err, client.ErrUnreachable) || api.ErrorCode(err) == api.CodeUnavailable:
			if !warned {
				fmt.Fprintf(fl.io.ErrOut, "stacli: %v; still waiting for job %s (Ctrl-C stops waiting, not the job)\n", err, j.ID)
				warned = true
			}
			wait = pollMax
		default:
			return j, err
		}
	}
	return j, nil
}

// WaitExitCode is the exit code of `sbatch --wait` for a job that has ended:
// its exit code; 1 if it was killed by a signal or ended without an exit
// code; for an array, the highest across its tasks. A job that did not
// complete never gives 0.
func WaitExitCode(j *api.Job) int {
	code := -1
	if a := j.Array; a != nil {
		if a.MaxExitCode != nil {
			code = *a.MaxExitCode
		}
		if a.Signaled > 0 {
			code = max(code, 1)
		}
	} else {
		switch {
		case j.ExitSignal != nil && *j.ExitSignal != 0:
			code = 1
		case j.ExitCode != nil:
			code = *j.ExitCode
		}
	}
	switch {
	case code < 0 && j.State == api.StateCompleted:
		return 0
	case code < 0:
		return 1
	case code == 0 && j.State != api.StateCompleted:
		return 1
	}
	return code
}

// finalLine says how a job ended, for stderr.
func finalLine(j *api.Job) string {
	s := fmt.Sprintf("job %s %s", j.ID, j.State)
	if j.Site != "" {
		s += " on " + j.Site
		if j.SiteJobID != "" {
			s += " (Slurm job " + j.SiteJobID + ")"
		}
	}
	if e := exitText(j); e != "" {
		s += ", exit code " + e
	}
	if j.Array != nil {
		s += ", " + arrayText(j.Array)
		if j.Array.MaxExitCode != nil {
			s += fmt.Sprintf(", highest exit code %d", *j.Array.MaxExitCode)
		}
	}
	if j.Reason != "" && j.Reason != "None" {
		s += ": " + j.Reason
	}
	return s
}

// endWait reports the end of a followed job on stderr and returns the error
// that makes stacli exit with the job's exit code (nil for 0).
func endWait(ios *iostreams.IOStreams, j *api.Job) error {
	fmt.Fprintln(ios.ErrOut, finalLine(j))
	if c := WaitExitCode(j); c != 0 {
		return &cmdutil.SilentExit{Code: c}
	}
	return nil
}

// interrupted explains an interrupted wait.
func interrupted(id string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped waiting; job %s goes on (stacli job wait %s)", id, id)
	}
	return err
}
