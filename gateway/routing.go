package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/mpi"
	"github.com/sta-federation/sta-gateway/slurm/sbatch"
)

// plan checks a request and routes it: filter the sites that may and can run it
// (jurisdiction, the user's login, the project's account, a class or partition the
// site offers, the partition's limits, accounts and QOS, GPUs, topology when asked
// for, an allocation that covers the hold, a site that answers), then score the
// rest (expected wait from the cached site view, carbon, cost; weights from
// [routing]) and take the lowest score, ties to the name that sorts first. A
// site named by the request skips scoring, never the filters. Every site
// considered is recorded with its reasons. When no site passes, the plan is nil
// and the decision says why for each site.
func (g *Gateway) plan(ctx context.Context, p principal, req api.SubmitRequest) (*plan, *api.Decision, error) {
	pc := g.project(req.Project)
	if req.Project == "" {
		return nil, nil, api.FieldErrorf(api.CodeInvalid, "project", "required")
	}
	if pc == nil {
		return nil, nil, api.FieldErrorf(api.CodeNotFound, "project", "no project %q", req.Project)
	}
	if !g.isMember(p.User, req.Project) {
		return nil, nil, api.Errorf(api.CodeForbidden, "%s is not a member of project %s", p.User, req.Project)
	}
	uc := g.cfg.User(p.User)
	if uc == nil {
		return nil, nil, api.Errorf(api.CodeForbidden, "user %s has no site logins configured", p.User)
	}
	scr, opts, err := parseScript(req)
	if err != nil {
		return nil, nil, err
	}
	for _, j := range req.Jurisdictions {
		if !jurisdictionRE.MatchString(j) {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "jurisdictions", "%q is not a two-letter code", j)
		}
	}
	switch req.Placement {
	case "", "none":
		if req.PinNodes {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "pin_nodes", "only with placement topology")
		}
	case "topology":
		if err := preambleShellOK(scr.Shebang); err != nil {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "placement", "%v", err)
		}
		if opts.Array != "" {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "placement", "placement topology is for one multi-node job, not an array")
		}
		if opts.IsSet("nodelist") || opts.IsSet("switches") {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "placement",
				"placement topology chooses --switches (and --nodelist with pin_nodes): drop them from the script")
		}
	default:
		return nil, nil, api.FieldErrorf(api.CodeInvalid, "placement", "want none or topology, not %q", req.Placement)
	}
	named := req.Site != "" && req.Site != "auto"
	if named && g.sites[req.Site] == nil {
		return nil, nil, api.FieldErrorf(api.CodeNotFound, "site", "no site %q", req.Site)
	}
	tasks := int64(1)
	if opts.Array != "" {
		n, _, err := sbatch.ArrayTasks(opts.Array)
		if err != nil {
			return nil, nil, api.FieldErrorf(api.CodeInvalid, "array", "%v", err)
		}
		tasks = int64(n)
	}
	w := g.cfg.Routing
	dec := &api.Decision{Named: named, At: g.now().UTC(), Candidates: []api.SiteCandidate{},
		Weights: &api.Weights{Wait: w.WaitWeight, Carbon: w.CarbonWeight, Cost: w.CostWeight}}
	plans := make([]*plan, 0, len(g.sites)) // by candidate, nil where not eligible
	for _, s := range sortedSites(g.sites) {
		pl, cand := g.fit(ctx, s, pc, uc, req, opts, tasks)
		plans = append(plans, pl)
		dec.Candidates = append(dec.Candidates, cand)
	}
	for {
		// The lowest score wins; ties go to the first site by name.
		bi := -1
		for i, pl := range plans {
			if pl != nil && (bi < 0 || dec.Candidates[i].Score < dec.Candidates[bi].Score) {
				bi = i
			}
		}
		if bi < 0 {
			return nil, dec, nil
		}
		best := plans[bi]
		best.decision = dec
		best.script = req.Script
		if req.Placement == "topology" {
			// A site whose usable nodes the planner cannot place the job on
			// is excluded with the planner's reason; the next one is tried.
			if err := g.placeTopology(best, scr, req.PinNodes); err != nil {
				var ae *api.Error
				if !errors.As(err, &ae) {
					return nil, nil, err
				}
				c := &dec.Candidates[bi]
				c.Eligible, c.Score, c.Parts, c.ExpectedWaitSeconds = false, 0, nil, nil
				c.Reasons = []string{"placement topology: " + ae.Message}
				plans[bi] = nil
				continue
			}
			dec.Placement = best.placement
		}
		dec.Site, dec.Partition = best.site.cfg.Name, best.partition
		return best, dec, nil
	}
}

// notPolledYet reports whether a site was excluded only because the poller has
// not reached it since the daemon started.
func notPolledYet(dec *api.Decision) bool {
	for _, c := range dec.Candidates {
		if !c.Eligible && len(c.Reasons) == 1 && c.Reasons[0] == "site unreachable: "+notPolled {
			return true
		}
	}
	return false
}

// notPolled is the reason of a site the poller has not reached yet.
const notPolled = "not polled yet"

// noSiteMessage lists every site's reason for a decision with no site.
func noSiteMessage(dec *api.Decision) string {
	var parts []string
	for _, c := range dec.Candidates {
		parts = append(parts, c.Site+": "+strings.Join(c.Reasons, "; "))
	}
	if len(parts) == 0 {
		parts = append(parts, "the federation has no sites (add [[site]] to the configuration)")
	}
	return "no site may and can run this job: " + strings.Join(parts, " | ")
}

// fit decides whether site s may and can run the request. It returns the plan
// and the site's candidacy: its score parts, or the reason it cannot.
func (g *Gateway) fit(ctx context.Context, s *site, pc *ProjectConfig, uc *UserConfig, req api.SubmitRequest,
	opts sbatch.Options, tasks int64) (*plan, api.SiteCandidate) {
	cand := api.SiteCandidate{Site: s.cfg.Name}
	no := func(format string, a ...any) (*plan, api.SiteCandidate) {
		cand.Reasons = []string{fmt.Sprintf(format, a...)}
		return nil, cand
	}
	named := req.Site != "" && req.Site != "auto"
	if named && req.Site != s.cfg.Name {
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
	if opts.IsSet("qos") {
		qos = opts.QOS
	}
	reachable, lastErr, _, _ := s.status()
	if !reachable {
		if lastErr == "" {
			lastErr = notPolled
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
	if !part.AccountAllowed(account) {
		return no("partition %s does not admit account %s", partition, account)
	}
	if qos != "" && !part.QOSAllowed(qos) {
		return no("partition %s does not admit QOS %s", partition, qos)
	}
	// Without --nodes, Slurm gives a job as many nodes as its tasks need:
	// --ntasks over --ntasks-per-node, else its CPUs over the nodes' CPUs.
	cpt := int64(max(opts.CPUsPerTask, 1))
	nodes := int64(opts.Nodes.Min)
	switch {
	case nodes > 0:
	case opts.NTasks > 0 && opts.NTasksPerNode > 0:
		nodes = (int64(opts.NTasks) + int64(opts.NTasksPerNode) - 1) / int64(opts.NTasksPerNode)
	case opts.NTasks > 0 && nodeCPUs > 0:
		nodes = max(1, (int64(opts.NTasks)*cpt+int64(nodeCPUs)-1)/int64(nodeCPUs))
	default:
		nodes = 1
	}
	if part.MaxNodes > 0 && nodes > int64(part.MaxNodes) {
		return no("%d nodes over the partition's MaxNodes %d", nodes, part.MaxNodes)
	}
	if part.TotalNodes > 0 && nodes > int64(part.TotalNodes) {
		return no("%d nodes, the partition has %d", nodes, part.TotalNodes)
	}
	var cpn int64
	switch {
	case opts.NTasksPerNode > 0:
		cpn = int64(opts.NTasksPerNode) * cpt
	case opts.NTasks > 0:
		cpn = (int64(opts.NTasks)*cpt + nodes - 1) / nodes
	default:
		cpn = cpt
	}
	// Whole nodes: --exclusive, or a partition with OverSubscribe=EXCLUSIVE.
	// --exclusive=user|mcs share nodes and allocate what the job asks.
	exclusive := part.Exclusive || opts.Share == sbatch.ShareExclusive
	if nodeCPUs > 0 && cpn > int64(nodeCPUs) {
		return no("%d CPUs per node, nodes of %s have %d", cpn, partition, nodeCPUs)
	}
	if exclusive && nodeCPUs > 0 {
		cpn = int64(nodeCPUs)
	}
	v := s.snapshot()
	if wantsGPUs(opts) {
		gpus := 0
		for i := range v.nodes {
			if inPartition(&v.nodes[i], partition) {
				gpus = max(gpus, v.nodes[i].GPUs)
			}
		}
		if gpus == 0 {
			return no("partition %s has no GPUs", partition)
		}
	}
	if req.Placement == "topology" && v.topo == nil {
		return no("placement topology: %s", v.topoNote)
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
	// The allocation must cover the holds: one per task of an array, each
	// rounded as the ledger rounds it.
	hold, err := accounting.HoldAmount(nodes, cpn, limit, g.rate(ctx, s.cfg.Name, partition))
	if err != nil {
		return no("hold: %v", err)
	}
	hold *= tasks
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
	cand.Eligible = true
	cand.Reasons = []string{
		"jurisdiction " + s.cfg.Jurisdiction + " allowed",
		"partition " + partition + " fits (" + strconv.FormatInt(nodes, 10) + " nodes x " + strconv.FormatInt(cpn, 10) + " CPUs, " + sbatch.FormatTime(limit) + ")",
		fmt.Sprintf("allocation covers the hold (%.2f of %.2f core-hours)", api.CoreHours(hold), api.CoreHours(avail)),
	}
	est := v.expectedStart(partition, nodes, cpn, exclusive, g.now())
	if est.Known {
		secs := int64(est.Wait / time.Second)
		cand.ExpectedWaitSeconds = &secs
	}
	if named {
		cand.Reasons = append(cand.Reasons, "named by the request: not scored")
	} else {
		w := g.cfg.Routing
		cand.Parts = []api.ScorePart{
			{Name: "wait", Value: est.Wait.Minutes(), Unit: "minutes", Weight: w.WaitWeight},
			{Name: "carbon", Value: s.cfg.CarbonGPerKWh, Unit: "gCO2/kWh", Weight: w.CarbonWeight},
			{Name: "cost", Value: s.cfg.CostPerCoreHour, Unit: "per core-hour", Weight: w.CostWeight},
		}
		var desc []string
		for i := range cand.Parts {
			pt := &cand.Parts[i]
			pt.Points = pt.Value * pt.Weight
			cand.Score += pt.Points
			desc = append(desc, fmt.Sprintf("%s %.4g %s x %.4g = %.4g", pt.Name, pt.Value, pt.Unit, pt.Weight, pt.Points))
		}
		cand.Reasons = append(cand.Reasons, fmt.Sprintf("score %.4g: %s", cand.Score, strings.Join(desc, ", ")))
	}
	cand.Reasons = append(cand.Reasons, "expected start: "+est.describe())
	return &plan{site: s, login: login, account: account, partition: partition, qos: qos, opts: out,
		nodes: nodes, cpn: cpn, timeLimit: limit, tasks: tasks, exclusive: exclusive}, cand
}

// describe says what an estimate rests on.
func (e waitEstimate) describe() string {
	if !e.Known {
		return "unknown, scored as " + unknownWait.String() + " (" + e.Why + ")"
	}
	if e.Wait <= 0 {
		return "now (" + e.Why + ")"
	}
	return "in about " + e.Wait.Round(time.Minute).String() + " (" + e.Why + ")"
}

// wantsGPUs reports whether the options ask for GPUs.
func wantsGPUs(o sbatch.Options) bool {
	if o.GPUs != "" || o.GPUsPerNode != "" || o.GPUsPerTask != "" {
		return true
	}
	return strings.HasPrefix(o.Gres, "gpu")
}

// placeTopology plans a topology-aware job at its chosen site (package mpi, from
// the site's switch tree and the nodes free in the cached view), sets
// --switches=<leaves>@<routing.switch_wait> (and --nodelist when pinned), and adds
// the preamble that writes the job's hostfile and rankfile at start.
func (g *Gateway) placeTopology(pl *plan, scr *sbatch.Script, pin bool) error {
	v := pl.site.snapshot()
	if v.topo == nil {
		return api.FieldErrorf(api.CodeInvalid, "placement", "site %s: %s", pl.site.cfg.Name, v.topoNote)
	}
	tpn := pl.opts.NTasksPerNode
	req := mpi.Request{Nodes: int(pl.nodes), TasksPerNode: tpn}
	if tpn == 0 && pl.opts.NTasks > 0 {
		req.Tasks = pl.opts.NTasks
	}
	note := "planned on the nodes free now"
	mp, err := mpi.Place(v.topo, v.freeForPlacement(pl.partition, pl.cpn, pl.exclusive), req)
	if err != nil {
		note = "too few nodes free now (" + err.Error() + "): planned on every usable node of " + pl.partition
		mp, err = mpi.Place(v.topo, v.partitionNodes(pl.partition), req)
		if err != nil {
			return api.FieldErrorf(api.CodeInvalid, "placement", "site %s partition %s: %v", pl.site.cfg.Name, pl.partition, err)
		}
	}
	p := &api.Placement{Leaves: mp.LeavesSpanned, LowerBound: mp.LeavesLowerBound, Nodes: mp.Nodes, Pinned: pin, Note: note}
	p.Switches = strconv.Itoa(mp.LeavesSpanned) + "@" + sbatch.FormatTime(g.cfg.Routing.SwitchWait.Duration)
	if err := pl.opts.Set("switches", p.Switches); err != nil {
		return fmt.Errorf("switches %s: %w", p.Switches, err)
	}
	if pin {
		if err := pl.opts.Set("nodelist", mp.Nodelist); err != nil {
			return fmt.Errorf("nodelist %s: %w", mp.Nodelist, err)
		}
	}
	inPart := map[string]bool{}
	for i := range v.nodes {
		if inPartition(&v.nodes[i], pl.partition) {
			inPart[v.nodes[i].Name] = true
		}
	}
	pre, err := topologyPreamble(v.topo, func(n string) bool { return inPart[n] })
	if err != nil {
		return api.FieldErrorf(api.CodeInvalid, "placement", "site %s: %v", pl.site.cfg.Name, err)
	}
	pl.script = insertPreamble(pl.script, scr.HeaderEnd, pre)
	pl.placement = p
	return nil
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
	out := []api.Site{}
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
		v := s.snapshot()
		as.Partitions = []api.SitePartition{}
		for _, p := range s.partitionList() {
			as.Partitions = append(as.Partitions, v.partitionView(p))
		}
		for i := range v.nodes {
			if v.nodes[i].Usable() {
				as.Nodes++
				if v.nodes[i].CPUAlloc == 0 {
					as.FreeNodes++
				}
			}
		}
		if !v.at.IsZero() {
			t := v.at.UTC()
			as.ViewAt = &t
		}
		if v.queueKnown {
			pending := depth
			as.PendingJobs = &pending
		}
		as.Topology = "tree"
		if v.topo == nil {
			as.Topology = v.topoNote
			if as.Topology == "" {
				as.Topology = "not read yet"
			}
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
