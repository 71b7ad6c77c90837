package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm"
	"github.com/sta-federation/sta-gateway/slurm/hostlist"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// liveStates are the states the poller follows on the site.
var liveStates = []api.JobState{api.StatePending, api.StateRunning, api.StateSuspended, api.StateRequeued, api.StateUnknown}

// pollSoon wakes a site's poller before its next tick (after a cancel, say).
func (g *Gateway) pollSoon(site string) {
	if s := g.sites[site]; s != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// poll follows the site's jobs until ctx ends: one tick per poll interval, with a
// backoff while the site does not answer. A failed query changes no job's state;
// it marks the site (and its jobs) unreachable.
func (g *Gateway) poll(ctx context.Context, s *site) {
	interval := s.cfg.PollInterval.Duration
	wait := time.Duration(0)
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-time.After(wait):
		}
		err := g.pollOnce(ctx, s, tick%40 == 0)
		if ctx.Err() != nil {
			return
		}
		s.countPoll(err)
		g.metrics.polled(s.cfg.Name, err)
		if changed := s.setReachable(err); changed || err != nil {
			g.markUnreachable(ctx, s.cfg.Name, err != nil)
		}
		if err != nil {
			g.log.Warn("site poll failed", "site", s.cfg.Name, "err", err.Error())
			wait = min(max(2*wait, interval), 5*time.Minute)
			continue
		}
		wait = interval
	}
}

// markUnreachable sets the unreachable flag of the site's live jobs.
func (g *Gateway) markUnreachable(ctx context.Context, site string, down bool) {
	if _, err := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET unreachable = ? WHERE site = ? AND settled = 0`,
		down, site); err != nil {
		g.log.Error("mark jobs unreachable", "site", site, "err", err.Error())
	}
}

// pollLogin is a login through which the poller may read the site: its monitor,
// else any user's login there.
func (g *Gateway) pollLogin(s *site) string {
	if s.cfg.Monitor != "" {
		return s.cfg.Monitor
	}
	for _, u := range g.cfg.Users {
		if l := u.Logins[s.cfg.Name]; l != "" {
			return l
		}
	}
	return ""
}

// pollOnce is one tick: discovery when due, ONE squeue (as the monitor: every job
// of the site; else one per login with live jobs), sacct for the gateway's jobs that
// left the queue, and the settlement of those that ended.
func (g *Gateway) pollOnce(ctx context.Context, s *site, discover bool) error {
	login := g.pollLogin(s)
	if login == "" {
		return errors.New("no login to read the site with (set monitor, or give a user a login here)")
	}
	if discover || !s.discovered {
		if err := s.discover(ctx, login); err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
	} else {
		// The node table feeds the site view (free nodes for routing and
		// placement): one node query, no job query.
		c, err := s.client(login)
		if err != nil {
			return err
		}
		nodes, err := s.slurm.Nodes(ctx, c)
		if err != nil {
			return fmt.Errorf("nodes: %w", err)
		}
		s.setNodes(nodes, time.Now())
	}
	jobs, err := g.siteJobs(ctx, s.cfg.Name)
	if err != nil {
		return err
	}
	byLogin := map[string][]*job{}
	for _, j := range jobs {
		byLogin[j.Login] = append(byLogin[j.Login], j)
	}
	failed := map[string]error{}            // login -> why its squeue failed (no monitor)
	seen := map[string]slurm.QueueJob{}     // site job id -> row
	arrays := map[string][]slurm.QueueJob{} // array job id -> a row per task
	remember := func(rows []slurm.QueueJob) {
		for _, q := range rows {
			if q.ArrayJobID != "" {
				arrays[q.ArrayJobID] = append(arrays[q.ArrayJobID], q)
				continue
			}
			seen[q.RawJobID] = q
		}
	}
	if s.cfg.Monitor != "" {
		c, err := s.monitorClient()
		if err != nil {
			return err
		}
		rows, err := s.slurm.Queue(ctx, c, slurm.SqueueQuery{ExpandArrays: true})
		if err != nil {
			return err
		}
		depth := 0
		for _, q := range rows {
			if q.State == slurm.StatePending {
				depth++
			}
		}
		s.mu.Lock()
		s.queueDepth = depth
		s.mu.Unlock()
		s.setQueue(rows)
		remember(rows)
	} else {
		// One squeue per login. A login that fails (its key or certificate,
		// its account locked) leaves its jobs as they are this tick; the
		// others are followed. Only when every login fails is the site away.
		tried := 0
		for l, js := range byLogin {
			var ids []string
			for _, j := range js {
				if !j.State.Final() {
					ids = append(ids, j.SiteJobID)
				}
			}
			if len(ids) == 0 {
				continue
			}
			tried++
			c, err := s.client(l)
			if err == nil {
				var rows []slurm.QueueJob
				if rows, err = s.slurm.Queue(ctx, c, slurm.SqueueQuery{JobIDs: ids, Users: []string{l}, ExpandArrays: true}); err == nil {
					remember(rows)
					continue
				}
			}
			failed[l] = err
		}
		if tried > 0 && len(failed) == tried {
			for _, err := range failed {
				return err
			}
		}
		for l, err := range failed {
			g.log.Warn("site poll failed for one login; its jobs wait for the next tick", "site", s.cfg.Name, "login", l, "err", err.Error())
		}
	}
	var gone []*job
	for _, j := range jobs {
		if failed[j.Login] != nil {
			continue
		}
		if j.ArraySpec != "" {
			var mine []slurm.QueueJob
			for _, q := range arrays[j.SiteJobID] {
				if strings.HasPrefix(q.Comment, j.Tag) {
					mine = append(mine, q)
				}
			}
			needAcct, err := g.observeArray(ctx, j, mine)
			if err != nil {
				return err
			}
			if needAcct {
				gone = append(gone, j)
			}
			continue
		}
		q, ok := seen[j.SiteJobID]
		if ok && !strings.HasPrefix(q.Comment, j.Tag) {
			ok = false // the id now names another job
		}
		if !ok || slurm.JobState(q.State).IsFinal() || j.State.Final() {
			gone = append(gone, j)
			continue
		}
		if err := g.observe(ctx, j, q); err != nil {
			return err
		}
		if j.CancelRequested {
			// Cancelled, and still in the queue: the scancel failed or
			// came too soon (a job being submitted); send it again. This
			// tick's squeue row carries the job's tag: no read-back.
			g.cancelAtSite(ctx, j.ID, s, j.Login, slurm.JobRef{Cluster: j.Cluster, JobID: j.SiteJobID}, "")
		}
	}
	if len(gone) > 0 {
		if err := g.account(ctx, s, gone); err != nil {
			return err
		}
	}
	return nil
}

// siteJobs are the site's jobs the poller follows: live ones, and ended ones not
// yet settled.
func (g *Gateway) siteJobs(ctx context.Context, site string) ([]*job, error) {
	return queryJobs(ctx, g.db, `SELECT `+jobColumns+` FROM gateway_jobs
		WHERE site = ? AND site_job_id != '' AND settled = 0`, site)
}

// observe records what squeue says of a live job.
func (g *Gateway) observe(ctx context.Context, j *job, q slurm.QueueJob) error {
	st := api.JobState(q.State)
	if !st.Valid() {
		st = api.StateUnknown
	}
	nodes := q.NodeList
	changed := st != j.State || q.Reason != j.Reason || (nodes != "" && nodes != j.Nodes) ||
		(j.StartedAt == nil && !q.StartTime.IsZero() && st == api.StateRunning)
	if !changed {
		return nil
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if nodes != "" && nodes != j.Nodes {
		if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET nodes = ? WHERE id = ?`, nodes, j.ID); err != nil {
			return err
		}
	}
	if j.StartedAt == nil && !q.StartTime.IsZero() && st == api.StateRunning {
		if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET started_at = ? WHERE id = ?`, ms(q.StartTime), j.ID); err != nil {
			return err
		}
	}
	if err := setState(ctx, tx, j, st, q.Reason, g.now()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.events.publish(j.ID)
	return nil
}

// account reads sacct for jobs that left the queue (every run, -D) and settles
// those that ended: charge CPUTimeRAW summed over the runs, release the rest.
func (g *Gateway) account(ctx context.Context, s *site, jobs []*job) error {
	byLogin := map[string][]*job{}
	if s.cfg.Monitor != "" {
		byLogin[s.cfg.Monitor] = jobs
	} else {
		for _, j := range jobs {
			byLogin[j.Login] = append(byLogin[j.Login], j)
		}
	}
	var errs []error
	for login, js := range byLogin {
		if err := g.accountLogin(ctx, s, login, js); err != nil {
			errs = append(errs, fmt.Errorf("login %s: %w", login, err))
		}
	}
	// As for squeue: the site is away only when no login could read sacct.
	if len(errs) > 0 && len(errs) == len(byLogin) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		g.log.Warn("accounting failed for one login; its jobs wait for the next tick", "site", s.cfg.Name, "err", err.Error())
	}
	return nil
}

// accountLogin reads sacct through one login for its jobs and settles those
// that ended.
func (g *Gateway) accountLogin(ctx context.Context, s *site, login string, js []*job) error {
	c, err := s.client(login)
	if err != nil {
		return err
	}
	ids := make([]string, len(js))
	since := g.now()
	for i, j := range js {
		ids[i] = j.SiteJobID
		if j.CreatedAt.Before(since) {
			since = j.CreatedAt
		}
	}
	rows, err := s.slurm.Accounting(ctx, c, slurm.SacctQuery{JobIDs: ids, Runs: true,
		Since: since.Add(-s.cfg.ClockSkew.Duration), Now: g.now()})
	if err != nil {
		return err
	}
	for _, j := range js {
		var mine []slurm.AcctJob
		for _, r := range rows {
			if r.Step != "" || r.Cluster != "" && r.Cluster != j.Cluster {
				continue
			}
			id := r.JobIDRaw
			if r.ArrayJobID != "" {
				id = r.ArrayJobID
			}
			if id != j.SiteJobID || (r.Comment != "" && !strings.HasPrefix(r.Comment, j.Tag)) {
				continue
			}
			mine = append(mine, r)
		}
		if len(mine) == 0 {
			continue // not in accounting yet: look again next tick
		}
		settle := g.settle
		if j.ArraySpec != "" {
			settle = g.settleArray
		}
		if err := settle(ctx, j, mine); err != nil {
			return err
		}
	}
	return nil
}

// settle books the end of a job from its sacct rows (all runs; for an array,
// every task): the charge of the real usage and the release of the rest of the
// hold, in one transaction with the job's final state.
func (g *Gateway) settle(ctx context.Context, j *job, rows []slurm.AcctJob) error {
	var end time.Time
	var nodes []string
	final := true
	state := api.StateCompleted
	var exitCode, exitSignal *int
	worst := -1
	// Group by task (a plain job has one task, "").
	tasks := map[string][]slurm.AcctJob{}
	for _, r := range rows {
		tasks[r.ArrayTaskID] = append(tasks[r.ArrayTaskID], r)
	}
	for _, runs := range tasks {
		last, ok := slurm.LatestRun(runs)
		if !ok || !last.State.IsFinal() {
			final = false
			continue
		}
		if last.End.After(end) {
			end = last.End
		}
		if last.NodeList != "" {
			if hs, err := hostlist.Expand(last.NodeList); err == nil {
				nodes = append(nodes, hs...)
			}
		}
		if last.State != slurm.StateCompleted {
			state = api.JobState(last.State)
		}
		code := last.ExitCode
		if last.ExitSignal != 0 {
			code = 128 + last.ExitSignal
		}
		if code > worst {
			worst = code
			ec, es := last.ExitCode, last.ExitSignal
			exitCode, exitSignal = &ec, &es
		}
	}
	if !final {
		// Some task or run has not ended: the job is live (sacct knows more than
		// squeue showed, e.g. between requeue and restart).
		return nil
	}
	cpu := slurm.SumCPUTimeRaw(rows)
	if end.IsZero() {
		end = g.now()
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := g.led.SettleJobTx(ctx, tx, accounting.ChargeRequest{JobID: j.ID, CPUSeconds: cpu, EndedAt: end,
		Who: "gateway", Why: fmt.Sprintf("%s job %s ended %s", j.Cluster, j.SiteJobID, state)})
	if err != nil {
		return fmt.Errorf("settle %s: %w", j.ID, err)
	}
	nodeList := j.Nodes
	if len(nodes) > 0 {
		hostlist.Sort(nodes)
		if c, err := hostlist.Compress(dedupe(nodes)); err == nil {
			nodeList = c
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET settled = 1, core_seconds = ?, exit_code = ?, exit_signal = ?,
		ended_at = ?, nodes = ?, unreachable = 0 WHERE id = ?`, st.Charge.CoreSeconds, exitCode, exitSignal, ms(end), nodeList, j.ID); err != nil {
		return err
	}
	if j.StartedAt == nil {
		for _, r := range rows {
			if !r.Start.IsZero() && r.NodeList != "" { // it ran (a job cancelled while pending has a Start but no nodes)
				if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET started_at = ? WHERE id = ? AND started_at IS NULL`,
					ms(r.Start), j.ID); err != nil {
					return err
				}
				break
			}
		}
	}
	if err := setState(ctx, tx, j, state, "", end); err != nil {
		return err
	}
	rec, err := g.audit(ctx, tx, "gateway", "job.settled", j.ID, map[string]any{"site": j.Site, "site_job_id": j.SiteJobID,
		"state": state, "cpu_seconds": cpu, "charged_core_seconds": st.Charge.CoreSeconds,
		"released_core_seconds": st.Release.CoreSeconds})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(rec)
	g.metrics.chargedJob(j.Site, st.Charge.CoreSeconds)
	g.log.Info("job settled", "job", j.ID, "site", j.Site, "site_job_id", j.SiteJobID, "state", string(state),
		"cpu_seconds", cpu, "charged_core_seconds", st.Charge.CoreSeconds, "released_core_seconds", st.Release.CoreSeconds)
	g.events.publish(j.ID)
	return nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// broadcaster wakes the waiters of a job when it changes.
type broadcaster struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[string]map[chan struct{}]bool{}} }

func (b *broadcaster) subscribe(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[id] == nil {
		b.subs[id] = map[chan struct{}]bool{}
	}
	b.subs[id][ch] = true
	return ch
}

func (b *broadcaster) unsubscribe(id string, ch chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs[id], ch)
	if len(b.subs[id]) == 0 {
		delete(b.subs, id)
	}
}

func (b *broadcaster) publish(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// observeArray records what squeue says of an array's tasks and the array's state
// (RUNNING while a task runs, else PENDING while one waits). It reports whether
// some task ended or left the queue, for sacct to settle.
func (g *Gateway) observeArray(ctx context.Context, j *job, rows []slurm.QueueJob) (needAcct bool, err error) {
	ts, err := arrayTasks(ctx, g.db, j.ID)
	if err != nil {
		return false, err
	}
	inQueue := map[string]slurm.QueueJob{}
	for _, q := range rows {
		inQueue[q.ArrayTaskID] = q
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	running, pending := 0, 0
	reason := ""
	var nodes []string
	var started time.Time
	unsettled := 0
	for id, t := range ts {
		if t.Settled {
			continue
		}
		unsettled++
		q, ok := inQueue[id]
		if !ok || q.State.IsFinal() {
			needAcct = true
			continue
		}
		st := api.JobState(q.State)
		if !st.Valid() {
			st = api.StateUnknown
		}
		switch st {
		case api.StateRunning:
			running++
			if hs, err := hostlist.Expand(q.NodeList); err == nil {
				nodes = append(nodes, hs...)
			}
			if started.IsZero() || (!q.StartTime.IsZero() && q.StartTime.Before(started)) {
				started = q.StartTime
			}
		case api.StatePending:
			pending++
			if reason == "" {
				reason = q.Reason
			}
		}
		if st != t.State {
			if _, err := tx.ExecContext(ctx, `UPDATE gateway_array_tasks SET state = ? WHERE job_id = ? AND task_id = ?`,
				string(st), j.ID, id); err != nil {
				return false, err
			}
		}
	}
	st, why := j.State, j.Reason
	switch {
	case running > 0:
		st, why = api.StateRunning, ""
	case pending > 0:
		st, why = api.StatePending, reason
	}
	if len(nodes) > 0 {
		hostlist.Sort(nodes)
		if c, err := hostlist.Compress(dedupe(nodes)); err == nil && c != j.Nodes {
			if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET nodes = ? WHERE id = ?`, c, j.ID); err != nil {
				return false, err
			}
		}
	}
	if j.StartedAt == nil && !started.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET started_at = ? WHERE id = ?`, ms(started), j.ID); err != nil {
			return false, err
		}
	}
	if err := setState(ctx, tx, j, st, why, g.now()); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	g.events.publish(j.ID)
	// Every task settled but the array not closed (its last transaction
	// failed, the daemon stopped): settleArray closes it.
	return needAcct || unsettled == 0, nil
}

// severity orders the end states of an array's tasks: the array ends in the most
// severe one its tasks reached.
var severity = map[api.JobState]int{api.StateCompleted: 0, api.StateCancelled: 1, api.StatePreempted: 2,
	api.StateDeadline: 3, api.StateTimeout: 4, api.StateFailed: 5, api.StateOutOfMemory: 6,
	api.StateBootFail: 7, api.StateNodeFail: 8}

// settleArray charges each task of an array that ended its own usage (every run),
// in a transaction per task, and ends the array when its last task has ended.
func (g *Gateway) settleArray(ctx context.Context, j *job, rows []slurm.AcctJob) error {
	ts, err := arrayTasks(ctx, g.db, j.ID)
	if err != nil {
		return err
	}
	byTask := map[string][]slurm.AcctJob{}
	for _, r := range rows {
		spec := strings.Trim(r.ArrayTaskID, "[]")
		idx, err := sbatch.ArrayIndexes(spec)
		if err != nil {
			g.log.Warn("array task id", "job", j.ID, "task", r.ArrayTaskID, "err", err.Error())
			continue
		}
		for _, n := range idx {
			id := strconv.Itoa(n)
			byTask[id] = append(byTask[id], r)
		}
	}
	for id, t := range ts {
		if t.Settled || len(byTask[id]) == 0 {
			continue
		}
		runs := byTask[id]
		last, ok := slurm.LatestRun(runs)
		if !ok || !last.State.IsFinal() {
			continue
		}
		cpu := slurm.SumCPUTimeRaw(runs)
		end := last.End
		if end.IsZero() {
			end = g.now()
		}
		tx, err := g.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := g.led.SettleJobTx(ctx, tx, accounting.ChargeRequest{JobID: j.ID + "_" + id, CPUSeconds: cpu, EndedAt: end,
			Who: "gateway", Why: fmt.Sprintf("%s job %s_%s ended %s", j.Cluster, j.SiteJobID, id, last.State)})
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("settle %s_%s: %w", j.ID, id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gateway_array_tasks SET state = ?, exit_code = ?, exit_signal = ?,
			core_seconds = ?, settled = 1 WHERE job_id = ? AND task_id = ?`, string(last.State), last.ExitCode,
			last.ExitSignal, st.Charge.CoreSeconds, j.ID, id); err != nil {
			tx.Rollback()
			return err
		}
		rec, err := g.audit(ctx, tx, "gateway", "job.task_settled", j.ID+"_"+id, map[string]any{"site": j.Site,
			"site_job_id": j.SiteJobID + "_" + id, "state": last.State, "cpu_seconds": cpu,
			"charged_core_seconds": st.Charge.CoreSeconds, "released_core_seconds": st.Release.CoreSeconds})
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		g.announce(rec)
		g.metrics.chargedJob(j.Site, st.Charge.CoreSeconds)
		t.Settled, t.State, t.CoreSeconds = true, api.JobState(last.State), st.Charge.CoreSeconds
		ec, es := last.ExitCode, last.ExitSignal
		t.ExitCode, t.ExitSignal = &ec, &es
	}
	for _, t := range ts {
		if !t.Settled {
			g.events.publish(j.ID)
			return nil // tasks still to end
		}
	}
	// The last task has ended: so has the array.
	state := api.StateCompleted
	var total int64
	var exitCode, exitSignal *int
	for _, t := range ts {
		total += t.CoreSeconds
		if severity[t.State] > severity[state] {
			state = t.State
		}
		if t.ExitSignal != nil && *t.ExitSignal != 0 && (exitSignal == nil || *exitSignal == 0) {
			exitSignal, exitCode = t.ExitSignal, t.ExitCode
		}
		if (exitSignal == nil || *exitSignal == 0) && t.ExitCode != nil && (exitCode == nil || *t.ExitCode > *exitCode) {
			exitCode, exitSignal = t.ExitCode, t.ExitSignal
		}
	}
	var end time.Time // the last task's end (sacct returns every task's rows)
	for _, r := range rows {
		if r.End.After(end) {
			end = r.End
		}
	}
	if end.IsZero() {
		end = g.now()
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE gateway_jobs SET settled = 1, core_seconds = ?, exit_code = ?, exit_signal = ?,
		ended_at = ?, unreachable = 0 WHERE id = ?`, total, exitCode, exitSignal, ms(end), j.ID); err != nil {
		return err
	}
	if err := setState(ctx, tx, j, state, "", end); err != nil {
		return err
	}
	rec, err := g.audit(ctx, tx, "gateway", "job.settled", j.ID, map[string]any{"site": j.Site, "site_job_id": j.SiteJobID,
		"state": state, "tasks": len(ts), "charged_core_seconds": total})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(rec)
	g.log.Info("array settled", "job", j.ID, "site", j.Site, "site_job_id", j.SiteJobID, "tasks", len(ts),
		"state", string(state), "charged_core_seconds", total)
	g.events.publish(j.ID)
	return nil
}
