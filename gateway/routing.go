package gateway

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// plan checks a request and routes it: filter the sites that may and can run it
// (jurisdiction, the user's login, the project's account, a class or partition the
// site offers, the partition's limits, an allocation that covers the hold, a site
// that answers), then score the rest (queue depth, carbon, cost) and take the best.
// Every site considered is recorded with its reasons.
func (g *Gateway) plan(ctx context.Context, p principal, req api.SubmitRequest) (*plan, error) {
	pc := g.project(req.Project)
	if req.Project == "" {
		return nil, api.FieldErrorf(api.CodeInvalid, "project", "required")
	}
	if pc == nil {
		return nil, api.FieldErrorf(api.CodeNotFound, "project", "no project %q", req.Project)
	}
	if !g.isMember(p.User, req.Project) {
		return nil, api.Errorf(api.CodeForbidden, "%s is not a member of project %s", p.User, req.Project)
	}
	uc := g.cfg.User(p.User)
	if uc == nil {
		return nil, api.Errorf(api.CodeForbidden, "user %s has no site logins configured", p.User)
	}
	opts, err := parseScript(req)
	if err != nil {
		return nil, err
	}
	for _, j := range req.Jurisdictions {
		if !jurisdictionRE.MatchString(j) {
			return nil, api.FieldErrorf(api.CodeInvalid, "jurisdictions", "%q is not a two-letter code", j)
		}
	}
	switch req.Placement {
	case "", "none", "topology":
	default:
		return nil, api.FieldErrorf(api.CodeInvalid, "placement", "want none or topology, not %q", req.Placement)
	}
	if req.Site != "" && req.Site != "auto" && g.sites[req.Site] == nil {
		return nil, api.FieldErrorf(api.CodeNotFound, "site", "no site %q", req.Site)
	}
	tasks := int64(1)
	if opts.Array != "" {
		n, _, err := sbatch.ArrayTasks(opts.Array)
		if err != nil {
			return nil, api.FieldErrorf(api.CodeInvalid, "array", "%v", err)
		}
		tasks = int64(n)
	}
	dec := &api.Decision{}
	var best *plan
	bestScore := 0.0
	for _, s := range sortedSites(g.sites) {
		cand := api.SiteCandidate{Site: s.cfg.Name}
		pl, score, why := g.fit(ctx, s, pc, uc, req, opts, tasks)
		cand.Reasons = why
		if pl != nil {
			cand.Eligible, cand.Score = true, score
			if best == nil || score < bestScore {
				best, bestScore = pl, score
			}
		}
		dec.Candidates = append(dec.Candidates, cand)
	}
	if best == nil {
		var parts []string
		for _, c := range dec.Candidates {
			parts = append(parts, c.Site+": "+strings.Join(c.Reasons, "; "))
		}
		if len(parts) == 0 {
			parts = append(parts, "the federation has no sites (add [[site]] to the configuration)")
		}
		return nil, api.Errorf(api.CodeNoSite, "no site may and can run this job: %s", strings.Join(parts, " | "))
	}
	dec.Site, dec.Partition = best.site.cfg.Name, best.partition
	best.decision = dec
	return best, nil
}

// fit decides whether site s may and can run the request. It returns the plan and
// its score (lower is better), or nil and the reasons it cannot.
func (g *Gateway) fit(ctx context.Context, s *site, pc *ProjectConfig, uc *UserConfig, req api.SubmitRequest,
	opts sbatch.Options, tasks int64) (*plan, float64, []string) {
	no := func(format string, a ...any) (*plan, float64, []string) {
		return nil, 0, []string{fmt.Sprintf(format, a...)}
	}
	if req.Site != "" && req.Site != "auto" && req.Site != s.cfg.Name {
		return no("not the site asked for (%s)", req.Site)
	}
	if !slices.Contains(pc.Jurisdictions, s.cfg.Jurisdiction) {
		return no("jurisdiction %s is not allowed for project %s (allowed: %s)", s.cfg.Jurisdiction, pc.Name,
			strings.Join(pc.Jurisdictions, ","))
	}
	if len(req.Jurisdictions) > 0 && !slices.Contains(req.Jurisdictions, s.cfg.Jurisdiction) {
		return no("jurisdiction %s is not among those asked for (%s)", s.cfg.Jurisdiction, strings.Join(req.Jurisdictions, ","))
	}
	login := uc.Logins[s.cfg.Name]
	if login == "" {
		return no("user %s has no login here", uc.Name)
	}
	account := pc.Accounts[s.cfg.Name]
	if account == "" {
		return no("project %s has no Slurm account here", pc.Name)
	}
	partition, qos := opts.Partition, ""
	if !opts.IsSet("partition") {
		class := req.Class
		if class == "" {
			class = "cpu"
		}
		cl, ok := s.cfg.Classes[class]
		if !ok {
			return no("no resource class %q (offers %s)", class, strings.Join(s.cfg.ClassNames(), ", "))
		}
		partition, qos = cl.Partition, cl.QOS
	} else if req.Class != "" {
		cl, ok := s.cfg.Classes[req.Class]
		if !ok || cl.Partition != partition {
			return no("partition %s is not class %s here", partition, req.Class)
		}
	}
	reachable, lastErr, _, depth := s.status()
	if !reachable {
		if lastErr == "" {
			lastErr = "not polled yet"
		}
		return no("site unreachable: %s", lastErr)
	}
	part, nodeCPUs, ok := s.partition(partition)
	if !ok {
		return no("no partition %s", partition)
	}
	if part.State != "" && part.State != "UP" {
		return no("partition %s is %s", partition, part.State)
	}
	nodes := int64(opts.Nodes.Min)
	if nodes == 0 {
		nodes = 1
	}
	if part.MaxNodes > 0 && nodes > int64(part.MaxNodes) {
		return no("%d nodes over the partition's MaxNodes %d", nodes, part.MaxNodes)
	}
	if part.TotalNodes > 0 && nodes > int64(part.TotalNodes) {
		return no("%d nodes, the partition has %d", nodes, part.TotalNodes)
	}
	cpt := int64(max(opts.CPUsPerTask, 1))
	var cpn int64
	switch {
	case opts.NTasksPerNode > 0:
		cpn = int64(opts.NTasksPerNode) * cpt
	case opts.NTasks > 0:
		cpn = (int64(opts.NTasks)*cpt + nodes - 1) / nodes
	default:
		cpn = cpt
	}
	exclusive := part.Exclusive || (opts.IsSet("exclusive") && opts.Share != sbatch.ShareDefault && opts.Share.String() != "YES")
	if nodeCPUs > 0 && cpn > int64(nodeCPUs) {
		return no("%d CPUs per node, nodes of %s have %d", cpn, partition, nodeCPUs)
	}
	if exclusive && nodeCPUs > 0 {
		cpn = int64(nodeCPUs)
	}
	limit := opts.Time
	switch {
	case opts.IsSet("time") && limit == sbatch.Infinite:
		return no("an unlimited time limit is refused")
	case opts.IsSet("time"):
	case !part.DefaultTime.Infinite && part.DefaultTime.Duration > 0:
		limit = part.DefaultTime.Duration
	case !part.MaxTime.Infinite && part.MaxTime.Duration > 0:
		limit = part.MaxTime.Duration
	default:
		return no("partition %s has no DefaultTime and an unlimited MaxTime: give --time", partition)
	}
	if !part.MaxTime.Infinite && part.MaxTime.Duration > 0 && limit > part.MaxTime.Duration {
		return no("time limit %s over the partition's MaxTime %s", sbatch.FormatTime(limit), sbatch.FormatTime(part.MaxTime.Duration))
	}
	// The allocation must cover the hold.
	hold, err := accounting.HoldAmount(nodes*tasks, cpn, limit, g.rate(ctx, s.cfg.Name, partition))
	if err != nil {
		return no("hold: %v", err)
	}
	bals, err := g.led.Balances(ctx, accounting.BalanceQuery{Project: pc.Name, Site: s.cfg.Name, ActiveOnly: true})
	if err != nil {
		return no("allocation: %v", err)
	}
	var avail int64
	var overdraft bool
	for _, b := range bals {
		avail += b.RemainingCoreSeconds
		overdraft = overdraft || b.Overdraft != 0
	}
	if len(bals) == 0 {
		return no("project %s has no allocation here covering now", pc.Name)
	}
	if hold > avail && !overdraft {
		return no("the hold of %.2f core-hours exceeds the %.2f left in project %s's allocation",
			api.CoreHours(hold), api.CoreHours(avail), pc.Name)
	}
	// Score: expected wait (pending jobs), carbon, cost; lower is better.
	score := float64(depth) + s.cfg.CarbonGPerKWh/100 + s.cfg.CostPerCoreHour*10
	out := opts
	out.Unset("comment")
	for _, kv := range [][2]string{{"account", account}, {"partition", partition}, {"time", sbatch.FormatTime(limit)}} {
		if err := out.Set(kv[0], kv[1]); err != nil {
			return no("%s: %v", kv[0], err)
		}
	}
	if qos != "" {
		if err := out.Set("qos", qos); err != nil {
			return no("qos: %v", err)
		}
	}
	reasons := []string{
		"jurisdiction " + s.cfg.Jurisdiction + " allowed",
		"partition " + partition + " fits (" + strconv.FormatInt(nodes, 10) + " nodes x " + strconv.FormatInt(cpn, 10) + " CPUs, " + sbatch.FormatTime(limit) + ")",
		fmt.Sprintf("allocation covers the hold (%.2f of %.2f core-hours)", api.CoreHours(hold), api.CoreHours(avail)),
		fmt.Sprintf("score %.2f: %d pending, %.0f gCO2/kWh, %.3f per core-hour", score, depth, s.cfg.CarbonGPerKWh, s.cfg.CostPerCoreHour),
	}
	return &plan{site: s, login: login, account: account, partition: partition, qos: qos, opts: out,
		nodes: nodes, cpn: cpn, timeLimit: limit, tasks: tasks}, score, reasons
}

// rate is the rate of a partition now, in thousandths (1000 when none is set).
func (g *Gateway) rate(ctx context.Context, site, partition string) int64 {
	r, err := g.led.RateAt(ctx, site, partition, g.now())
	if err != nil {
		return accounting.RateUnit
	}
	return r.Thousandths
}

// siteList renders the sites for the API.
func (g *Gateway) siteList(ctx context.Context) []api.Site {
	var out []api.Site
	live, _ := g.liveCounts(ctx)
	for _, s := range sortedSites(g.sites) {
		reachable, lastErr, lastPoll, depth := s.status()
		as := api.Site{Name: s.cfg.Name, Jurisdiction: s.cfg.Jurisdiction, Cluster: s.cfg.Cluster,
			Reachable: reachable, LastError: lastErr, Classes: s.cfg.ClassNames(),
			CarbonGPerKWh: s.cfg.CarbonGPerKWh, CostPerCoreHr: s.cfg.CostPerCoreHour,
			LiveJobs: live[s.cfg.Name], QueueDepth: depth}
		as.Polls, as.PollErrors = s.pollCounts()
		if !lastPoll.IsZero() {
			t := lastPoll.UTC()
			as.LastPoll = &t
		}
		out = append(out, as)
	}
	return out
}

func (g *Gateway) liveCounts(ctx context.Context) (map[string]int, error) {
	rows, err := g.db.QueryContext(ctx, `SELECT site, count(*) FROM gateway_jobs WHERE state IN
		('SUBMITTING','PENDING','RUNNING','SUSPENDED','REQUEUED','UNKNOWN') GROUP BY site`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
