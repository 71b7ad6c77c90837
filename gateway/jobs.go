package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// principal is who a request acts for.
type principal struct {
	User  string
	Admin bool
}

// plan is an accepted request made concrete: where, as whom, with which options,
// and what it holds.
type plan struct {
	site      *site
	login     string
	account   string
	partition string
	qos       string
	opts      sbatch.Options
	nodes     int64
	cpn       int64 // CPUs per node the partition will allocate
	timeLimit time.Duration
	tasks     int64 // array tasks (1 for a plain job)
	comment   string
	exclusive bool
	decision  *api.Decision
	script    string         // as submitted: the user's, with the preamble when placed
	placement *api.Placement // placement = topology
}

// SubmitResult is the outcome of a submission request.
type SubmitResult struct {
	Job    api.Job
	Replay bool // an earlier request with the same Idempotency-Key
}

// Submit accepts a job request: checks it, routes it, writes the job and its hold
// in one transaction, then submits it to the site exactly once and returns when
// the site job id is known (or the job is REJECTED). With an idempotency key, a
// repeated request returns the first one's job.
func (g *Gateway) Submit(ctx context.Context, p principal, key string, req api.SubmitRequest) (*SubmitResult, error) {
	if g.draining.Load() {
		return nil, errShuttingDown
	}
	body, _ := json.Marshal(req)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if key != "" {
		if len(key) > 200 {
			return nil, api.FieldErrorf(api.CodeInvalid, "Idempotency-Key", "longer than 200 characters")
		}
		if j, err := g.replay(ctx, p, key, hash); err != nil || j != nil {
			if err != nil {
				return nil, err
			}
			return g.awaitSubmitted(ctx, j.ID, true)
		}
	}
	pl, dec, err := g.plan(ctx, p, req)
	if err != nil {
		return nil, err
	}
	if pl == nil && notPolledYet(dec) {
		// Right after start: a site the request could go to has not answered a
		// poll yet. Not a verdict on the job: the client may retry.
		return nil, api.Errorf(api.CodeUnavailable, "the gateway has just started and has not heard from every site yet: retry in a few seconds (%s)", noSiteMessage(dec))
	}
	if pl == nil && req.DryRun {
		return nil, &api.Error{Code: api.CodeNoSite, Message: noSiteMessage(dec)}
	}
	userSum := sha256.Sum256([]byte(req.Script))
	if req.DryRun {
		sub := sha256.Sum256([]byte(pl.script))
		return &SubmitResult{Job: api.Job{State: api.StateAccepted, Project: req.Project, User: p.User,
			Site: pl.site.cfg.Name, Cluster: pl.site.cfg.Cluster, Partition: pl.partition, Account: pl.account,
			Name: pl.opts.JobName, Nodes: []string{}, Decision: pl.decision,
			ScriptSHA256: hex.EncodeToString(userSum[:]), SubmittedSHA256: hex.EncodeToString(sub[:])}}, nil
	}
	now := g.now().UTC()
	id := newID(now)
	var j *job
	if pl == nil {
		// No site may and can run it: the job is recorded REJECTED with every
		// site's reason (explain shows them), and holds nothing.
		name := ""
		if _, o, err := parseScript(req); err == nil {
			name = o.JobName
		}
		j = &job{ID: id, Tag: "sta-" + id, State: api.StateRejected, Reason: noSiteMessage(dec), Project: req.Project,
			User: p.User, Name: name, Script: []byte(req.Script), Decision: dec, CreatedAt: now, Settled: true,
			EndedAt: &now, ScriptSHA256: hex.EncodeToString(userSum[:])}
	} else {
		args, err := pl.opts.SubmitArgs()
		if err != nil {
			return nil, api.FieldErrorf(api.CodeInvalid, "script", "%v", err)
		}
		sub := sha256.Sum256([]byte(pl.script))
		j = &job{ID: id, Tag: "sta-" + id, State: api.StateSubmitting, Project: req.Project, User: p.User,
			Login: pl.login, Site: pl.site.cfg.Name, Cluster: pl.site.cfg.Cluster, Account: pl.account,
			Partition: pl.partition, QOS: pl.qos, Name: pl.opts.JobName, Script: []byte(pl.script), Args: args,
			NodesReq: pl.nodes, CPUsPerNode: pl.cpn, TimeLimit: pl.timeLimit, ArraySpec: pl.opts.Array,
			Decision: pl.decision, CreatedAt: now,
			ScriptSHA256: hex.EncodeToString(userSum[:]), SubmittedSHA256: hex.EncodeToString(sub[:])}
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if key != "" {
		// Inside the write transaction (BEGIN IMMEDIATE): a concurrent request with
		// the same key waits for this one and then finds its row.
		var have, haveHash string
		err := tx.QueryRowContext(ctx, `SELECT job_id, body_hash FROM gateway_idempotency WHERE principal = ? AND key = ?`,
			p.User, key).Scan(&have, &haveHash)
		switch {
		case err == nil:
			tx.Rollback()
			if haveHash != hash {
				return nil, api.FieldErrorf(api.CodeConflict, "Idempotency-Key", "already used for another request")
			}
			return g.awaitSubmitted(ctx, have, true)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	if err := insertJob(ctx, tx, j); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_job_events (job_id, state, reason, at) VALUES (?, ?, ?, ?)`,
		id, string(j.State), j.Reason, ms(now)); err != nil {
		return nil, err
	}
	if key != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_idempotency (principal, key, body_hash, job_id, created_at)
			VALUES (?, ?, ?, ?, ?)`, p.User, key, hash, id, ms(now)); err != nil {
			return nil, err
		}
	}
	if pl == nil {
		rec, err := g.audit(ctx, tx, p.User, "job.rejected", id, map[string]any{"project": req.Project,
			"reason": j.Reason, "script_sha256": j.ScriptSHA256})
		if err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("record rejected job: %w", err)
		}
		g.announce(rec)
		g.log.Info("job rejected", "job", id, "project", req.Project, "user", p.User, "reason", j.Reason)
		g.metrics.submitted("", "rejected")
		g.events.publish(id)
		return &SubmitResult{Job: j.toAPI()}, nil
	}
	// One hold per ledger job: the job itself, or each task of an array (each task
	// is charged its own usage when it ends).
	var held int64
	for _, lid := range ledgerIDs(j) {
		// The ledger's tag names each ledger job (a task's is the array's tag and its
		// index); the Slurm job carries the array's tag in --comment.
		hold, err := g.led.PlaceHoldTx(ctx, tx, accounting.HoldRequest{JobID: lid, Tag: "sta-" + lid, Project: req.Project,
			Site: j.Site, Partition: j.Partition, User: p.User, Nodes: pl.nodes, CPUsPerNode: pl.cpn,
			TimeLimit: pl.timeLimit, At: now, Who: p.User, Why: "job accepted"})
		if err != nil {
			var ie *accounting.InsufficientError
			if errors.As(err, &ie) {
				need := ie.Requested * int64(len(ledgerIDs(j)))
				return nil, api.Errorf(api.CodeInsufficient,
					"project %s at %s: the job needs %.2f core-hours, %.2f are left (granted, less holds and charges)",
					req.Project, j.Site, api.CoreHours(need), api.CoreHours(ie.Available+held))
			}
			if errors.Is(err, accounting.ErrNoAllocation) {
				return nil, api.Errorf(api.CodeInsufficient, "project %s has no allocation at %s covering now", req.Project, j.Site)
			}
			return nil, fmt.Errorf("hold: %w", err)
		}
		held += hold.CoreSeconds
	}
	if j.ArraySpec != "" {
		for _, t := range j.tasks() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_array_tasks (job_id, task_id, state) VALUES (?, ?, ?)`,
				id, t, string(api.StateSubmitting)); err != nil {
				return nil, err
			}
		}
	}
	hold := accounting.Hold{CoreSeconds: held}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET hold_core_seconds = ? WHERE id = ?`, hold.CoreSeconds, id); err != nil {
		return nil, err
	}
	rec, err := g.audit(ctx, tx, p.User, "job.accepted", id, map[string]any{"project": req.Project, "site": j.Site,
		"partition": j.Partition, "account": j.Account, "login": j.Login, "hold_core_seconds": hold.CoreSeconds,
		"script_sha256": j.ScriptSHA256, "submitted_sha256": j.SubmittedSHA256, "args": j.Args})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accept job: %w", err)
	}
	g.announce(rec)
	g.metrics.submitted(j.Site, "accepted")
	g.metrics.held(j.Site, len(ledgerIDs(j)), hold.CoreSeconds)
	g.log.Info("job accepted", "job", id, "project", req.Project, "user", p.User, "site", j.Site,
		"partition", j.Partition, "hold_core_seconds", hold.CoreSeconds)
	g.events.publish(id)
	g.drive(id)
	return g.awaitSubmitted(ctx, id, false)
}

// replay finds an earlier request with the same key (outside a transaction: the
// common case of a client's retry).
func (g *Gateway) replay(ctx context.Context, p principal, key, hash string) (*job, error) {
	var id, have string
	err := g.db.QueryRowContext(ctx, `SELECT job_id, body_hash FROM gateway_idempotency WHERE principal = ? AND key = ?`,
		p.User, key).Scan(&id, &have)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if have != hash {
		return nil, api.FieldErrorf(api.CodeConflict, "Idempotency-Key", "already used for another request")
	}
	return getJob(ctx, g.db, id)
}

// awaitSubmitted waits until the job has left SUBMITTING (or the caller gives up:
// the job is then returned as it stands).
func (g *Gateway) awaitSubmitted(ctx context.Context, id string, replay bool) (*SubmitResult, error) {
	sub := g.events.subscribe(id)
	defer g.events.unsubscribe(id, sub)
	for {
		j, err := getJob(ctx, g.db, id)
		if err != nil {
			return nil, err
		}
		if j.State != api.StateSubmitting {
			return &SubmitResult{Job: g.render(ctx, j), Replay: replay}, nil
		}
		select {
		case <-sub:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return &SubmitResult{Job: g.render(ctx, j), Replay: replay}, nil
		}
	}
}

// drive runs the exactly-once submission of a SUBMITTING job in the background
// (one driver per job).
func (g *Gateway) drive(id string) {
	if _, running := g.driving.LoadOrStore(id, struct{}{}); running {
		return
	}
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer g.driving.Delete(id)
		backoff := time.Second
		for {
			done, err := g.driveOnce(g.ctx, id)
			if done {
				return
			}
			if err != nil {
				g.log.Warn("submission not settled yet", "job", id, "err", err.Error(), "retry_in", backoff.String())
			}
			select {
			case <-g.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
		}
	}()
}

// driveOnce takes one step of the protocol: a job with an earlier attempt is
// looked up by its tag after the fence; only when it is not found is sbatch run
// (again), and every attempt is recorded before it starts.
func (g *Gateway) driveOnce(ctx context.Context, id string) (done bool, err error) {
	j, err := getJob(ctx, g.db, id)
	if err != nil {
		return false, err
	}
	if j.State != api.StateSubmitting {
		return true, nil
	}
	s := g.sites[j.Site]
	if s == nil {
		return recorded(g.reject(ctx, j, "site "+j.Site+" is no longer configured"))
	}
	c, err := s.client(j.Login)
	if err != nil {
		return false, err
	}
	if j.Attempts > 0 {
		// An attempt may have created the job: look before submitting again.
		fence := j.AttemptAt.Add(s.cfg.SbatchTimeout.Duration + s.cfg.MessageTimeout.Duration + 3*time.Second)
		if wait := fence.Sub(g.now()); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return true, nil
			}
		}
		ref, err := s.slurm.FindByTag(ctx, c, j.Login, j.Tag, j.AttemptAt)
		if errors.Is(err, slurm.ErrNotFound) {
			// A job that ended and left the queue can take a few seconds to show
			// in sacct's time-window queries: look once more before concluding
			// that no job was created.
			select {
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
				return true, nil
			}
			ref, err = s.slurm.FindByTag(ctx, c, j.Login, j.Tag, j.AttemptAt)
		}
		switch {
		case err == nil:
			g.log.Info("submission found by its tag", "job", id, "site_job_id", ref.JobID)
			return recorded(g.submitted(ctx, j, ref))
		case ref != nil:
			// Several jobs carry the tag (FindByTag returns the first with the
			// error): keep it, and say so loudly.
			g.log.Error("exactly-once broken", "job", id, "err", err.Error())
			return recorded(g.submitted(ctx, j, ref))
		case !errors.Is(err, slurm.ErrNotFound):
			s.setReachable(err)
			return false, err
		}
	}
	if j.CancelRequested {
		return recorded(g.finishUnsubmitted(ctx, j, api.StateCancelled, "cancelled before submission"))
	}
	// sbatch failed this often, and the lookups proved that no job exists,
	// while the site answers the poller's queries: the failure is not the
	// site being away. Give up rather than hold the core-hours for ever.
	if reachable, _, _, _ := s.status(); j.Attempts >= maxSubmitAttempts && reachable {
		return recorded(g.reject(ctx, j, fmt.Sprintf("sbatch failed %d times (%s)", j.Attempts, j.Reason)))
	}
	// Record the attempt before sbatch runs: a crash from here on leads to a
	// lookup, never to a blind resubmission.
	at := g.now().UTC()
	if _, err := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET attempts = attempts + 1, attempt_at = ? WHERE id = ?`,
		ms(at), id); err != nil {
		return false, err
	}
	j.Attempts++
	j.AttemptAt = at
	comment := ""
	ref, err := s.slurm.Submit(ctx, c, slurm.SubmitRequest{Login: j.Login, Script: j.Script, Args: j.Args,
		Tag: j.Tag, Comment: comment, Partition: j.Partition, Account: j.Account})
	var rej *slurm.RejectedError
	switch {
	case err == nil:
		s.setReachable(nil)
		return recorded(g.submitted(ctx, j, ref))
	case errors.As(err, &rej):
		s.setReachable(nil)
		return recorded(g.reject(ctx, j, rej.Message))
	case errors.Is(err, slurm.ErrMismatch) && ref != nil:
		// The job exists but is not what was asked: cancel it and reject ours.
		// If the cancel fails, follow it as ours, marked cancelled: the
		// poller cancels it again and charges what it used.
		g.log.Error("accepted job differs from the request; cancelling it", "job", id, "err", err.Error())
		// No tag check: the comment may be what differs, and the id was
		// sbatch's answer a moment ago.
		if cerr := s.slurm.Cancel(ctx, c, *ref, ""); cerr != nil {
			g.log.Error("cancel of the differing job failed; following it until it ends", "job", id, "err", cerr.Error())
			if _, uerr := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET cancel_requested = 1 WHERE id = ?`, id); uerr != nil {
				return false, uerr
			}
			j.CancelRequested = true
			return recorded(g.submitted(ctx, j, ref))
		}
		return recorded(g.reject(ctx, j, err.Error()))
	case ref != nil:
		// sbatch gave an id but the read-back failed: the job exists.
		return recorded(g.submitted(ctx, j, ref))
	case errors.Is(err, slurm.ErrAmbiguous):
		g.log.Warn("submission outcome unknown; looking it up after the fence", "job", id, "attempt", j.Attempts, "err", err.Error())
		// The job shows why it is still SUBMITTING, and the last attempt's
		// error is the reason if it is given up (below).
		if _, uerr := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET reason = ? WHERE id = ?`,
			truncateReason(fmt.Sprintf("sbatch attempt %d: %v", j.Attempts, err)), id); uerr != nil {
			return false, uerr
		}
		return false, nil
	default:
		if ctx.Err() == nil {
			s.setReachable(err)
		}
		return false, err
	}
}

// maxSubmitAttempts is how many sbatch attempts that created no job the
// driver makes, while the site answers queries, before it rejects the job.
const maxSubmitAttempts = 8

// recorded is a driver step's outcome: done once what happened is recorded;
// a failure to record it (the database busy) is retried, never dropped.
func recorded(err error) (done bool, _ error) { return err == nil, err }

// truncateReason keeps a reason to a line of reasonable length.
func truncateReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// submitted records the site's job id: the job leaves SUBMITTING.
func (g *Gateway) submitted(ctx context.Context, j *job, ref *slurm.JobRef) error {
	s := g.sites[j.Site]
	stdout, stderr := ref.StdOut, ref.StdErr
	if stdout == "" {
		// Found by its tag (not read back): ask the controller for the paths.
		if c, err := s.client(j.Login); err == nil {
			if d, err := s.slurm.Job(ctx, c, ref.JobID); err == nil {
				stdout, stderr = d.StdOut, d.StdErr
			}
		}
	}
	now := g.now().UTC()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET site_job_id = ?, site_submit_time = ?, submitted_at = ?,
		stdout_path = ?, stderr_path = ? WHERE id = ?`, ref.JobID, ref.SubmitTime.Unix(), ms(now), stdout, stderr, j.ID); err != nil {
		return err
	}
	for i, lid := range ledgerIDs(j) {
		sid := ref.JobID
		if ts := j.tasks(); len(ts) > 0 {
			sid += "_" + ts[i]
		}
		if err := g.led.RecordSiteJobTx(ctx, tx, accounting.SiteJob{JobID: lid, Cluster: j.Cluster, SiteJobID: sid}); err != nil {
			return fmt.Errorf("record site job: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_array_tasks SET state = ? WHERE job_id = ? AND state = ?`,
		string(api.StatePending), j.ID, string(api.StateSubmitting)); err != nil {
		return err
	}
	if err := setState(ctx, tx, j, api.StatePending, "", now); err != nil {
		return err
	}
	rec, err := g.audit(ctx, tx, "gateway", "job.submitted", j.ID, map[string]any{"site": j.Site, "cluster": j.Cluster,
		"site_job_id": ref.JobID, "site_submit_time": ref.SubmitTime.UTC(), "login": j.Login})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(rec)
	g.metrics.submitted(j.Site, "submitted")
	g.log.Info("job submitted", "job", j.ID, "site", j.Site, "site_job_id", ref.JobID)
	g.events.publish(j.ID)
	// A cancel may have come while sbatch ran: read the mark again now that
	// the site's job id is recorded (a cancel from now on sends scancel
	// itself). A failed scancel is sent again by the poller.
	cancel := j.CancelRequested
	if err := g.db.QueryRowContext(ctx, `SELECT cancel_requested FROM gateway_jobs WHERE id = ?`, j.ID).Scan(&cancel); err != nil {
		g.log.Warn("read cancel mark", "job", j.ID, "err", err.Error())
	}
	if cancel {
		g.cancelAtSite(ctx, j.ID, s, j.Login, *ref, j.Tag)
	}
	return nil
}

// cancelAtSite sends scancel for a job whose cancel was asked for, logging a
// failure (the poller sends it again while the job lives).
func (g *Gateway) cancelAtSite(ctx context.Context, id string, s *site, login string, ref slurm.JobRef, tag string) {
	c, err := s.client(login)
	if err == nil {
		err = s.slurm.Cancel(ctx, c, ref, tag)
	}
	if err != nil {
		g.log.Warn("scancel failed; sent again at the next poll", "job", id, "site", s.cfg.Name, "site_job_id", ref.JobID, "err", err.Error())
		return
	}
	g.log.Info("job cancel sent", "job", id, "site", s.cfg.Name, "site_job_id", ref.JobID)
}

// reject ends a job that Slurm refused (or that cannot be submitted): its hold is
// released in full.
func (g *Gateway) reject(ctx context.Context, j *job, why string) error {
	g.log.Info("job rejected", "job", j.ID, "site", j.Site, "reason", why)
	g.metrics.submitted(j.Site, "rejected")
	return g.finishUnsubmitted(ctx, j, api.StateRejected, why)
}

func (g *Gateway) finishUnsubmitted(ctx context.Context, j *job, st api.JobState, why string) error {
	now := g.now().UTC()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, lid := range ledgerIDs(j) {
		if _, err := g.led.ReleaseJobTx(ctx, tx, accounting.ReleaseRequest{JobID: lid, Who: "gateway", Why: why}); err != nil {
			return fmt.Errorf("release hold: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_array_tasks SET state = ?, settled = 1 WHERE job_id = ?`,
		string(st), j.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET settled = 1, ended_at = ? WHERE id = ?`, ms(now), j.ID); err != nil {
		return err
	}
	if err := setState(ctx, tx, j, st, why, now); err != nil {
		return err
	}
	rec, err := g.audit(ctx, tx, "gateway", "job."+strings.ToLower(string(st)), j.ID, map[string]any{"site": j.Site,
		"reason": why, "released": "the whole hold"})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(rec)
	g.events.publish(j.ID)
	return nil
}

// Cancel cancels a job: scancel on the site, or, before submission, a mark the
// submission driver obeys. The poller records the end.
func (g *Gateway) Cancel(ctx context.Context, p principal, id string) (api.Job, error) {
	j, err := g.jobFor(ctx, p, id)
	if err != nil {
		return api.Job{}, err
	}
	if j.State.Final() {
		return g.render(ctx, j), nil
	}
	if _, err := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET cancel_requested = 1 WHERE id = ?`, id); err != nil {
		return api.Job{}, err
	}
	if err := g.auditAlone(ctx, p.User, "job.cancel_requested", id, map[string]any{"site": j.Site,
		"site_job_id": j.SiteJobID, "state": j.State}); err != nil {
		return api.Job{}, err
	}
	// Read the job again: its submission may have been recorded since (the
	// driver reads the mark after recording it, so one of the two cancels).
	if j, err = getJob(ctx, g.db, id); err != nil {
		return api.Job{}, err
	}
	if j.SiteJobID != "" && !j.State.Final() {
		s := g.sites[j.Site]
		if s == nil {
			return api.Job{}, api.Errorf(api.CodeUnavailable, "site %s is no longer configured", j.Site)
		}
		c, err := s.client(j.Login)
		if err != nil {
			return api.Job{}, err
		}
		ref := slurm.JobRef{Cluster: j.Cluster, JobID: j.SiteJobID}
		if err := s.slurm.Cancel(ctx, c, ref, j.Tag); err != nil {
			return api.Job{}, api.Errorf(api.CodeUnavailable, "cancel on %s: %v", j.Site, err)
		}
		g.log.Info("job cancel sent", "job", id, "site", j.Site, "site_job_id", j.SiteJobID, "by", p.User)
		g.pollSoon(j.Site)
	}
	j, err = getJob(ctx, g.db, id)
	if err != nil {
		return api.Job{}, err
	}
	return g.render(ctx, j), nil
}

// jobFor returns a job the principal may see: their own, or any for an admin, or
// any of a project they are a member of.
func (g *Gateway) jobFor(ctx context.Context, p principal, id string) (*job, error) {
	j, err := getJob(ctx, g.db, id)
	if errors.Is(err, errNoJob) {
		return nil, api.Errorf(api.CodeNotFound, "no job %s", id)
	}
	if err != nil {
		return nil, err
	}
	if !p.Admin && j.User != p.User && !g.isMember(p.User, j.Project) {
		return nil, api.Errorf(api.CodeForbidden, "job %s belongs to another user", id)
	}
	return j, nil
}

func (g *Gateway) isMember(user, project string) bool {
	pc := g.project(project)
	if pc == nil {
		return false
	}
	for _, m := range pc.Members {
		if m == user {
			return true
		}
	}
	return false
}

// Output reads a chunk of a job's stdout or stderr from the site, as its owner.
func (g *Gateway) Output(ctx context.Context, p principal, id, stream string, offset int64, wait time.Duration) (api.Output, error) {
	j, err := g.jobFor(ctx, p, id)
	if err != nil {
		return api.Output{}, err
	}
	path := j.StdoutPath
	if stream == "stderr" {
		path = j.StderrPath
	} else if stream != "" && stream != "stdout" {
		return api.Output{}, api.FieldErrorf(api.CodeInvalid, "stream", "want stdout or stderr, not %q", stream)
	}
	out := api.Output{Stream: stream, Offset: offset, Next: offset}
	if out.Stream == "" {
		out.Stream = "stdout"
	}
	if j.SiteJobID == "" {
		if j.State.Final() {
			out.EOF = true
			return out, nil
		}
		return out, nil
	}
	if path == "" || path == "/dev/null" {
		out.EOF = j.State.Final()
		return out, nil
	}
	// Before the job starts, its output file is not its own yet: a file of that
	// name may be left by an older job with the same id (ids are reused after a
	// controller reset) until Slurm opens it for this job.
	for j.StartedAt == nil {
		if j.State.Final() {
			out.EOF = true
			return out, nil
		}
		if wait <= 0 || ctx.Err() != nil {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(time.Second):
			wait -= time.Second
		}
		if j, err = getJob(ctx, g.db, id); err != nil {
			return api.Output{}, err
		}
	}
	s := g.sites[j.Site]
	if s == nil {
		return api.Output{}, api.Errorf(api.CodeUnavailable, "site %s is no longer configured", j.Site)
	}
	c, err := s.client(j.Login)
	if err != nil {
		return api.Output{}, err
	}
	deadline := time.Now().Add(wait)
	for {
		chunk, err := s.slurm.ReadOutput(ctx, c, path, offset, 1<<20)
		if err != nil {
			return api.Output{}, api.Errorf(api.CodeUnavailable, "read output on %s: %v", j.Site, err)
		}
		final := j.State.Final()
		if len(chunk.Data) > 0 || final || time.Now().After(deadline) {
			out.Data = string(chunk.Data)
			out.Next = offset + int64(len(chunk.Data))
			out.EOF = final && (chunk.Size < 0 || out.Next >= chunk.Size)
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(time.Second):
		}
		if j, err = getJob(ctx, g.db, id); err != nil {
			return api.Output{}, err
		}
	}
}

// parseScript reads the request's script and options as sbatch would, the
// request's fields overriding the script's directives.
func parseScript(req api.SubmitRequest) (*sbatch.Script, sbatch.Options, error) {
	if req.Script == "" {
		return nil, sbatch.Options{}, api.FieldErrorf(api.CodeInvalid, "script", "empty")
	}
	if len(req.Script) > api.MaxScriptBytes {
		return nil, sbatch.Options{}, api.FieldErrorf(api.CodeTooLarge, "script", "over %d bytes", api.MaxScriptBytes)
	}
	scr, err := sbatch.Parse(bytes.NewReader([]byte(req.Script)))
	if err != nil {
		return nil, sbatch.Options{}, scriptError(err)
	}
	if err := sbatch.DefaultPolicy().Check(scr); err != nil {
		return nil, sbatch.Options{}, scriptError(err)
	}
	var over sbatch.Options
	set := func(field, name, value string) error {
		if err := over.Set(name, value); err != nil {
			return api.FieldErrorf(api.CodeInvalid, field, "%v", err)
		}
		return nil
	}
	for _, f := range []struct {
		field, name, value string
		ok                 bool
	}{
		{"nodes", "nodes", strconv.Itoa(req.Nodes), req.Nodes != 0},
		{"ntasks_per_node", "ntasks-per-node", strconv.Itoa(req.NTasksPerNode), req.NTasksPerNode != 0},
		{"cpus_per_task", "cpus-per-task", strconv.Itoa(req.CPUsPerTask), req.CPUsPerTask != 0},
		{"gpus", "gpus", strconv.Itoa(req.GPUs), req.GPUs != 0},
		{"time", "time", req.Time, req.Time != ""},
		{"job_name", "job-name", req.JobName, req.JobName != ""},
		{"partition", "partition", req.Partition, req.Partition != ""},
		{"array", "array", req.Array, req.Array != ""},
	} {
		if f.ok {
			if err := set(f.field, f.name, f.value); err != nil {
				return nil, sbatch.Options{}, err
			}
		}
	}
	opts := sbatch.Merge(scr.Options, over)
	if err := sbatch.DefaultPolicy().CheckOptions(opts); err != nil {
		return nil, sbatch.Options{}, scriptError(err)
	}
	return scr, opts, nil
}

func scriptError(err error) error {
	var se *sbatch.Error
	if errors.As(err, &se) && se.Line > 0 {
		msg := se.Msg
		if se.Option != "" {
			msg = se.Option + ": " + msg
		}
		return api.FieldErrorf(api.CodeInvalid, "script", "line %d: %s", se.Line, msg)
	}
	return api.FieldErrorf(api.CodeInvalid, "script", "%v", err)
}
