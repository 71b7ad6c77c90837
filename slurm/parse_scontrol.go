package slurm

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Discovery and job detail, read from `scontrol show ... --oneliner`. scontrol
// prints space-separated Key=Value fields; values of a few keys (job names,
// comments, paths, a node's OS and Reason) may hold spaces, "X=Y" text and line
// breaks. Every record keeps all its fields in Fields, as printed, so a field this
// package does not interpret is still at hand.

// PartitionsArgs is the argument vector of the partition query ParsePartitions
// reads.
func PartitionsArgs() []string {
	return []string{"scontrol", "--oneliner", "show", "partition"}
}

// NodesArgs is the argument vector of the node query ParseNodes reads.
func NodesArgs() []string { return []string{"scontrol", "--oneliner", "show", "node"} }

// TopologyArgs is the argument vector of the switch-tree query ParseTopology reads.
func TopologyArgs() []string { return []string{"scontrol", "show", "topology"} }

// JobDetailArgs is the argument vector of `scontrol show job ID --oneliner`, which
// ParseJobDetail reads. It costs the controller one REQUEST_JOB_INFO_SINGLE per
// job: poll with SqueueArgs instead.
func JobDetailArgs(jobID string) ([]string, error) {
	if !slurmQueryIDRE.MatchString(jobID) {
		return nil, fmt.Errorf("scontrol: job id %q: want 1234 or 1234_7", jobID)
	}
	return []string{"scontrol", "--oneliner", "show", "job", jobID}, nil
}

// ---------------------------------------------------------------------------------
// Partitions.
// ---------------------------------------------------------------------------------

var partitionSchema = &scontrolSchema{
	cmd:   "scontrol show partition",
	first: "PartitionName",
	known: scontrolKeys("PartitionName", "AllowGroups", "AllowAccounts", "AllowQos", "AllocNodes",
		"Default", "QoS", "DefaultTime", "DisableRootJobs", "ExclusiveUser", "ExclusiveTopo",
		"GraceTime", "Hidden", "MaxNodes", "MaxTime", "MinNodes", "LLN", "MaxCPUsPerNode",
		"MaxCPUsPerSocket", "Nodes", "NodeSets", "PriorityJobFactor", "PriorityTier", "RootOnly",
		"ReqResv", "OverSubscribe", "OverTimeLimit", "PreemptMode", "State", "TotalCPUs",
		"TotalNodes", "SelectTypeParameters", "JobDefaults", "DefMemPerNode", "DefMemPerCPU",
		"MaxMemPerNode", "MaxMemPerCPU", "TRES", "TRESBillingWeights", "DenyAccounts", "DenyQos",
		"PowerDownOnIdle", "ResumeTimeout", "SuspendTimeout", "SuspendTime", "Alternate",
		"CpuBind", "Topology"),
	freeText: scontrolKeys(),
}

// Partition is one partition of a site, with the limits the gateway routes and
// holds by.
type Partition struct {
	Name        string
	Default     bool
	State       string // UP, DOWN, DRAIN, INACTIVE
	Nodes       string // hostlist expression
	TotalNodes  int
	TotalCPUs   int
	MaxTime     TimeLimit // Infinite for UNLIMITED
	DefaultTime TimeLimit // zero for NONE
	MaxNodes    int       // 0: unlimited
	MinNodes    int
	// MaxCPUsPerNode caps the CPUs a job gets per node; 0: unlimited.
	MaxCPUsPerNode int
	// OverSubscribe as printed: NO, EXCLUSIVE, YES:4, FORCE:4.
	OverSubscribe string
	// Exclusive: jobs get whole nodes (OverSubscribe=EXCLUSIVE).
	Exclusive     bool
	ExclusiveUser bool
	AllowAccounts []string // as printed; ["ALL"] allows every account
	DenyAccounts  []string
	AllowQos      []string // as printed; ["ALL"] allows every QOS
	DenyQos       []string
	AllowGroups   []string
	QOS           string // the partition's own QOS; "" for N/A
	Hidden        bool
	PriorityTier  int
	Fields        map[string]string // every field as printed
}

// AccountAllowed reports whether the partition admits jobs charged to account.
func (p *Partition) AccountAllowed(account string) bool {
	return listAdmits(p.AllowAccounts, p.DenyAccounts, account)
}

// QOSAllowed reports whether the partition admits jobs of the QOS.
func (p *Partition) QOSAllowed(qos string) bool { return listAdmits(p.AllowQos, p.DenyQos, qos) }

func listAdmits(allow, deny []string, v string) bool {
	for _, d := range deny {
		if d == v {
			return false
		}
	}
	if len(allow) == 0 {
		return true
	}
	for _, a := range allow {
		if a == "ALL" || a == v {
			return true
		}
	}
	return false
}

// ParsePartitions reads `scontrol --oneliner show partition`.
func ParsePartitions(r io.Reader) ([]Partition, error) {
	recs, err := readScontrolRecords(r, partitionSchema)
	if err != nil {
		return nil, err
	}
	out := make([]Partition, 0, len(recs))
	for i := range recs {
		p, field, err := partitionFrom(&recs[i])
		if err != nil {
			return nil, &ParseError{Command: partitionSchema.cmd, Line: recs[i].line, Field: field, Err: err}
		}
		out = append(out, p)
	}
	return out, nil
}

func partitionFrom(rec *scontrolRecord) (Partition, string, error) {
	p := Partition{Fields: rec.fields}
	p.Name = rec.get("PartitionName")
	if p.Name == "" {
		return p, "PartitionName", fmt.Errorf("empty partition name")
	}
	p.Default = rec.get("Default") == "YES"
	p.State = rec.get("State")
	p.Nodes = slurmNull(rec.get("Nodes"))
	var err error
	for _, c := range []struct {
		key string
		dst *int
	}{{"TotalNodes", &p.TotalNodes}, {"TotalCPUs", &p.TotalCPUs}, {"MaxNodes", &p.MaxNodes},
		{"MinNodes", &p.MinNodes}, {"MaxCPUsPerNode", &p.MaxCPUsPerNode}, {"PriorityTier", &p.PriorityTier}} {
		if *c.dst, _, err = parseSlurmCount(rec.get(c.key)); err != nil {
			return p, c.key, err
		}
	}
	if p.MaxTime, err = ParseTimeLimit(rec.get("MaxTime")); err != nil {
		return p, "MaxTime", err
	}
	if p.DefaultTime, err = ParseTimeLimit(rec.get("DefaultTime")); err != nil {
		return p, "DefaultTime", err
	}
	p.OverSubscribe = rec.get("OverSubscribe")
	p.Exclusive = strings.HasPrefix(p.OverSubscribe, "EXCLUSIVE")
	p.ExclusiveUser = rec.get("ExclusiveUser") == "YES"
	p.AllowAccounts = scontrolList(rec.get("AllowAccounts"))
	p.DenyAccounts = scontrolList(rec.get("DenyAccounts"))
	p.AllowQos = scontrolList(rec.get("AllowQos"))
	p.DenyQos = scontrolList(rec.get("DenyQos"))
	p.AllowGroups = scontrolList(rec.get("AllowGroups"))
	p.QOS = slurmNull(rec.get("QoS"))
	p.Hidden = rec.get("Hidden") == "YES"
	return p, "", nil
}

// ---------------------------------------------------------------------------------
// Nodes.
// ---------------------------------------------------------------------------------

var nodeSchema = &scontrolSchema{
	cmd:   "scontrol show node",
	first: "NodeName",
	known: scontrolKeys("NodeName", "Arch", "CoresPerSocket", "CPUAlloc", "CPUEfctv", "CPUTot",
		"CPULoad", "CPUErr", "CPUSpecList", "CoreSpecCount", "AvailableFeatures", "ActiveFeatures",
		"Gres", "GresDrain", "GresUsed", "NodeAddr", "NodeHostName", "Port", "Version", "OS",
		"RealMemory", "AllocMem", "FreeMem", "Sockets", "Boards", "MemSpecLimit", "State",
		"ThreadsPerCore", "TmpDisk", "Weight", "Owner", "MCS_label", "Partitions", "BootTime",
		"SlurmdStartTime", "LastBusyTime", "ResumeAfterTime", "CfgTRES", "AllocTRES", "CapWatts",
		"CurrentWatts", "AveWatts", "LowestJoules", "ConsumedJoules", "ExtSensorsJoules",
		"ExtSensorsWatts", "ExtSensorsTemp", "Reason", "Comment", "Extra", "InstanceId",
		"InstanceType", "NextState", "Topology", "CertToken"),
	freeText: scontrolKeys("OS", "Reason", "Comment", "Extra"),
}

// Node is one compute node.
type Node struct {
	Name           string
	Addr, Hostname string
	State          string   // as printed: IDLE, MIXED+DRAIN, IDLE+CLOUD+POWERED_DOWN, DOWN*
	StateBase      string   // IDLE, MIXED, ALLOCATED, DOWN, FUTURE, UNKNOWN, ...
	StateFlags     []string // DRAIN, NOT_RESPONDING, POWERED_DOWN, ... (also from *, ~, # marks)
	CPUs           int      // CPUTot
	CPUsEffective  int      // CPUEfctv (22.05+): CPUs jobs may use; CPUs when absent
	CPUAlloc       int
	Sockets        int
	CoresPerSocket int
	ThreadsPerCore int
	RealMemoryMB   int64
	AllocMemMB     int64
	Gres           string // as printed ("gpu:a100:4(S:0-1)"); "" for (null)
	GPUs           int    // from CfgTRES gres/gpu=N, else counted in Gres
	Features       []string
	ActiveFeatures []string
	Partitions     []string
	Weight         int
	Reason         string // why down or drained
	Fields         map[string]string
}

// Usable reports whether the node can take new jobs now or after a power-up: a
// base state of IDLE, MIXED or ALLOCATED and none of the flags that keep jobs off
// (drained or draining, failing, maintenance, not responding, reboot pending,
// powering down, invalid registration).
func (n *Node) Usable() bool {
	switch n.StateBase {
	case "IDLE", "MIXED", "ALLOCATED":
	default:
		return false
	}
	for _, f := range n.StateFlags {
		switch f {
		case "DRAIN", "FAIL", "MAINTENANCE", "NOT_RESPONDING", "REBOOT_REQUESTED",
			"REBOOT_ISSUED", "POWERING_DOWN", "POWER_DOWN", "INVALID_REG", "DOWN":
			return false
		}
	}
	return true
}

// ParseNodes reads `scontrol --oneliner show node`.
func ParseNodes(r io.Reader) ([]Node, error) {
	recs, err := readScontrolRecords(r, nodeSchema)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(recs))
	for i := range recs {
		n, field, err := nodeFrom(&recs[i])
		if err != nil {
			return nil, &ParseError{Command: nodeSchema.cmd, Line: recs[i].line, Field: field, Err: err}
		}
		out = append(out, n)
	}
	return out, nil
}

func nodeFrom(rec *scontrolRecord) (Node, string, error) {
	n := Node{Fields: rec.fields}
	n.Name = rec.get("NodeName")
	if n.Name == "" {
		return n, "NodeName", fmt.Errorf("empty node name")
	}
	n.Addr = slurmNull(rec.get("NodeAddr"))
	n.Hostname = slurmNull(rec.get("NodeHostName"))
	n.State = rec.get("State")
	n.StateBase, n.StateFlags = parseNodeState(n.State)
	var err error
	for _, c := range []struct {
		key string
		dst *int
	}{{"CPUTot", &n.CPUs}, {"CPUEfctv", &n.CPUsEffective}, {"CPUAlloc", &n.CPUAlloc},
		{"Sockets", &n.Sockets}, {"CoresPerSocket", &n.CoresPerSocket},
		{"ThreadsPerCore", &n.ThreadsPerCore}, {"Weight", &n.Weight}} {
		if *c.dst, _, err = parseSlurmCount(rec.get(c.key)); err != nil {
			return n, c.key, err
		}
	}
	if _, ok := rec.fields["CPUEfctv"]; !ok {
		n.CPUsEffective = n.CPUs
	}
	for _, c := range []struct {
		key string
		dst *int64
	}{{"RealMemory", &n.RealMemoryMB}, {"AllocMem", &n.AllocMemMB}} {
		v, _, err := parseSlurmCount(rec.get(c.key))
		if err != nil {
			return n, c.key, err
		}
		*c.dst = int64(v)
	}
	n.Gres = slurmNull(rec.get("Gres"))
	if n.GPUs, err = gpusOf(rec.get("CfgTRES"), n.Gres); err != nil {
		return n, "Gres", err
	}
	n.Features = scontrolList(rec.get("AvailableFeatures"))
	n.ActiveFeatures = scontrolList(rec.get("ActiveFeatures"))
	n.Partitions = scontrolList(rec.get("Partitions"))
	n.Reason = slurmNull(rec.get("Reason"))
	return n, "", nil
}

// nodeStateMarks are the one-character suffixes of compact node states (sinfo,
// older scontrol): "DOWN*", "IDLE~".
var nodeStateMarks = map[byte]string{
	'*': "NOT_RESPONDING", '~': "POWERED_DOWN", '#': "POWERING_UP", '!': "POWER_DOWN",
	'%': "POWERING_DOWN", '$': "MAINTENANCE", '@': "REBOOT_REQUESTED", '^': "REBOOT_ISSUED",
	'-': "PLANNED",
}

// nodeStateWords are node_state_string's words that fold a flag into the base.
var nodeStateWords = map[string][2]string{
	"DRAINED":  {"IDLE", "DRAIN"},
	"DRAINING": {"ALLOCATED", "DRAIN"},
	"FAIL":     {"IDLE", "FAIL"},
	"FAILING":  {"ALLOCATED", "FAIL"},
	"MAINT":    {"IDLE", "MAINTENANCE"},
	"REBOOT":   {"IDLE", "REBOOT_REQUESTED"},
	"INVAL":    {"UNKNOWN", "INVALID_REG"},
	"RESERVED": {"IDLE", "RESERVED"},
	"BLOCKED":  {"IDLE", "BLOCKED"},
	"PLANNED":  {"IDLE", "PLANNED"},
	"ALLOC":    {"ALLOCATED", ""},
	"COMP":     {"IDLE", "COMPLETING"},
}

// parseNodeState splits "MIXED+DRAIN" or "DOWN*" into base state and flags.
func parseNodeState(s string) (base string, flags []string) {
	parts := strings.Split(strings.ToUpper(strings.TrimSpace(s)), "+")
	base = parts[0]
	for len(base) > 1 {
		f, ok := nodeStateMarks[base[len(base)-1]]
		if !ok {
			break
		}
		flags = append(flags, f)
		base = base[:len(base)-1]
	}
	if w, ok := nodeStateWords[base]; ok {
		base = w[0]
		if w[1] != "" {
			flags = append(flags, w[1])
		}
	}
	if base == "" {
		base = "UNKNOWN"
	}
	for _, f := range parts[1:] {
		if f != "" {
			flags = append(flags, f)
		}
	}
	return base, flags
}

// gpusOf counts a node's GPUs: CfgTRES's gres/gpu=N when present, else the gpu
// entries of Gres ("gpu:4", "gpu:a100:4(S:0-1)", "gpu:a100:2,gpu:v100:2").
func gpusOf(cfgTRES, gres string) (int, error) {
	for _, t := range strings.Split(cfgTRES, ",") {
		if v, ok := strings.CutPrefix(t, "gres/gpu="); ok {
			n, _, err := parseSlurmCount(v)
			return n, err
		}
	}
	total := 0
	for _, g := range splitOutsideParens(gres) {
		g, _, _ = strings.Cut(g, "(")
		parts := strings.Split(g, ":")
		if parts[0] != "gpu" {
			continue
		}
		count := 1
		if len(parts) > 1 {
			last := parts[len(parts)-1]
			n, err := strconv.Atoi(last)
			switch {
			case err == nil && n >= 0:
				count = n
			case len(parts) == 3:
				return 0, fmt.Errorf("gres %q: count %q", clipForError(gres), last)
			}
		}
		total += count
	}
	return total, nil
}

func splitOutsideParens(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// ---------------------------------------------------------------------------------
// Topology.
// ---------------------------------------------------------------------------------

var topologySchema = &scontrolSchema{
	cmd:      "scontrol show topology",
	first:    "SwitchName",
	known:    scontrolKeys("SwitchName", "Level", "LinkSpeed", "Nodes", "Switches"),
	freeText: scontrolKeys(),
}

// Switch is one switch of the tree (topology/tree). Nodes and Switches are
// hostlist expressions as scontrol prints them; a switch above the leaves lists
// every node below it in Nodes as well.
type Switch struct {
	Name      string
	Level     int // 0 for leaf switches
	LinkSpeed int
	Nodes     string
	Switches  string
}

// ParseTopology reads `scontrol show topology` of the topology/tree plugin. Empty
// output (no topology) gives no switches. Other plugins' records (BlockName=, of
// topology/block) are an error: they are not a switch tree.
func ParseTopology(r io.Reader) ([]Switch, error) {
	recs, err := readScontrolRecords(r, topologySchema)
	if err != nil {
		return nil, err
	}
	out := make([]Switch, 0, len(recs))
	for i := range recs {
		rec := &recs[i]
		sw := Switch{Name: rec.get("SwitchName"), Nodes: rec.get("Nodes"), Switches: rec.get("Switches")}
		if sw.Name == "" {
			return nil, &ParseError{Command: topologySchema.cmd, Line: rec.line, Field: "SwitchName", Err: fmt.Errorf("empty switch name")}
		}
		for _, c := range []struct {
			key string
			dst *int
		}{{"Level", &sw.Level}, {"LinkSpeed", &sw.LinkSpeed}} {
			if *c.dst, _, err = parseSlurmCount(rec.get(c.key)); err != nil {
				return nil, &ParseError{Command: topologySchema.cmd, Line: rec.line, Field: c.key, Err: err}
			}
		}
		out = append(out, sw)
	}
	return out, nil
}

// ---------------------------------------------------------------------------------
// One job.
// ---------------------------------------------------------------------------------

// jobSchema: keys that can follow a free-text value must be known, or they would
// be read as part of it. Keys always printed (JobId, UserId, Account, Partition,
// JobState, NodeList, NumNodes, SubmitTime, TimeLimit, StdOut, ...) are caught
// when a value imitates them.
var jobSchema = &scontrolSchema{
	cmd:   "scontrol show job",
	first: "JobId",
	known: scontrolKeys("JobId", "ArrayJobId", "ArrayTaskId", "ArrayTaskThrottle", "HetJobId",
		"HetJobOffset", "HetJobIdSet", "JobName", "UserId", "GroupId", "MCS_label", "Priority",
		"Nice", "Account", "QOS", "JobState", "Reason", "Dependency", "Requeue", "Restarts",
		"BatchFlag", "Reboot", "ExitCode", "DerivedExitCode", "RunTime", "TimeLimit", "TimeMin",
		"SubmitTime", "EligibleTime", "AccrueTime", "StartTime", "EndTime", "Deadline",
		"PreemptEligibleTime", "PreemptTime", "SuspendTime", "SecsPreSuspend", "LastSchedEval",
		"Scheduler", "Partition", "AllocNode:Sid", "ReqNodeList", "ExcNodeList", "NodeList",
		"SchedNodeList", "BatchHost", "NumNodes", "NumCPUs", "NumTasks", "CPUs/Task",
		"ReqB:S:C:T", "TRES", "ReqTRES", "AllocTRES", "Socks/Node", "NtasksPerN:B:S:C",
		"CoreSpec", "MinCPUsNode", "MinMemoryNode", "MinMemoryCPU", "MinTmpDiskNode", "Features",
		"Prefer", "ClusterFeatures", "DelayBoot", "OverSubscribe", "Contiguous", "Licenses",
		"LicensesAlloc", "Network", "Command", "WorkDir", "AdminComment", "SystemComment",
		"Comment", "StdErr", "StdIn", "StdOut", "Power", "Reservation", "MailUser", "MailType",
		"CpusPerTres", "MemPerTres", "TresBind", "TresFreq", "TresPerJob", "TresPerNode",
		"TresPerSocket", "TresPerTask", "NtasksPerTRES", "BurstBuffer", "BurstBufferState",
		"CpuFreqMin", "CpuFreqMax", "CpuFreqGov", "Container", "ContainerID", "Extra",
		"ResvPorts", "SegmentSize", "KillOInInvalidDependent", "ThreadSpec", "Gres",
		"Switches", "Wait-for-Switch", "OOMKillStep"),
	freeText: scontrolKeys("JobName", "Comment", "AdminComment", "SystemComment", "Command",
		"WorkDir", "StdErr", "StdIn", "StdOut", "Extra", "Container", "ContainerID", "MailUser",
		"Dependency", "Features", "Prefer", "ClusterFeatures", "BurstBuffer", "BurstBufferState",
		"Reason"),
}

// JobDetail is one job (or array task) as `scontrol show job` prints it.
type JobDetail struct {
	JobID       string // this job's own id
	ArrayJobID  string // "" when not an array
	ArrayTaskID string // "7", or "1-2" for tasks pending together
	Name        string
	User        string // login name (UserId=alice(1001))
	UID         int
	Account     string
	QOS         string
	Partition   string
	// Cluster is ClusterName= where scontrol prints it; Slurm 22.05 does not (the
	// job is on the cluster the command ran against).
	Cluster     string
	State       JobState
	SlurmState  string
	Reason      string // "" for None
	ExitCode    int
	ExitSignal  int
	Restarts    int
	NodeList    string
	BatchHost   string
	NumNodes    int // the minimum for a pending job that asked for a range
	NumCPUs     int
	NumTasks    int
	CPUsPerTask int
	TimeLimit   TimeLimit
	SubmitTime  time.Time
	StartTime   time.Time
	EndTime     time.Time
	Comment     string
	WorkDir     string
	StdOut      string // the path pattern as Slurm resolved it
	StdErr      string
	StdIn       string
	Command     string
	Fields      map[string]string
}

// ParseJobDetail reads `scontrol --oneliner show job ID`: one record per job or
// array task (an array's id lists its tasks).
//
// scontrol's format cannot always be read unambiguously: a job's owner chooses its
// name and comment, and may write " Account=x" into them. A record in which a
// field appears twice is refused (ParseError), which catches imitations of the
// fields scontrol always prints; but an imitated field that scontrol omits for
// this job (Comment when there is none, ArrayJobId, Reservation) cannot be told
// from a real one. Read anything the gateway must trust with ParseSqueue.
func ParseJobDetail(r io.Reader) ([]JobDetail, error) {
	recs, err := readScontrolRecords(r, jobSchema)
	if err != nil {
		return nil, err
	}
	out := make([]JobDetail, 0, len(recs))
	for i := range recs {
		j, field, err := jobDetailFrom(&recs[i])
		if err != nil {
			return nil, &ParseError{Command: jobSchema.cmd, Line: recs[i].line, Field: field, Err: err}
		}
		out = append(out, j)
	}
	return out, nil
}

func jobDetailFrom(rec *scontrolRecord) (JobDetail, string, error) {
	j := JobDetail{Fields: rec.fields}
	j.JobID = rec.get("JobId")
	if _, err := strconv.ParseUint(j.JobID, 10, 32); err != nil {
		return j, "JobId", fmt.Errorf("job id %q", clipForError(j.JobID))
	}
	j.ArrayJobID = rec.get("ArrayJobId")
	j.ArrayTaskID = rec.get("ArrayTaskId")
	j.Name = rec.get("JobName")
	var err error
	if j.User, j.UID, err = nameAndID(rec.get("UserId")); err != nil {
		return j, "UserId", err
	}
	j.Account = slurmNull(rec.get("Account"))
	j.QOS = slurmNull(rec.get("QOS"))
	j.Partition = slurmNull(rec.get("Partition"))
	j.Cluster = slurmNull(rec.get("ClusterName"))
	j.SlurmState = rec.get("JobState")
	j.State = ParseJobState(j.SlurmState)
	j.Reason = slurmNull(rec.get("Reason"))
	if ec := rec.get("ExitCode"); ec != "" {
		if j.ExitCode, j.ExitSignal, err = ParseExitCode(ec); err != nil {
			return j, "ExitCode", err
		}
	}
	j.NodeList = slurmNull(rec.get("NodeList"))
	j.BatchHost = slurmNull(rec.get("BatchHost"))
	for _, c := range []struct {
		key string
		dst *int
	}{{"Restarts", &j.Restarts}, {"NumNodes", &j.NumNodes}, {"NumCPUs", &j.NumCPUs},
		{"NumTasks", &j.NumTasks}, {"CPUs/Task", &j.CPUsPerTask}} {
		v := rec.get(c.key)
		if lo, _, ok := strings.Cut(v, "-"); ok { // a range "1-4" of a pending job
			v = lo
		}
		if *c.dst, _, err = parseSlurmCount(v); err != nil {
			return j, c.key, err
		}
	}
	if j.TimeLimit, err = ParseTimeLimit(rec.get("TimeLimit")); err != nil {
		return j, "TimeLimit", err
	}
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{"SubmitTime", &j.SubmitTime}, {"StartTime", &j.StartTime}, {"EndTime", &j.EndTime}} {
		if *t.dst, err = parseEpochTime(rec.get(t.key)); err != nil {
			return j, t.key, err
		}
	}
	j.Comment = rec.get("Comment")
	j.WorkDir = rec.get("WorkDir")
	j.StdOut = rec.get("StdOut")
	j.StdErr = rec.get("StdErr")
	j.StdIn = rec.get("StdIn")
	j.Command = slurmNull(rec.get("Command"))
	return j, "", nil
}

// nameAndID splits "alice(1001)".
func nameAndID(v string) (string, int, error) {
	name, rest, ok := strings.Cut(v, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", 0, fmt.Errorf("%q: want name(id)", clipForError(v))
	}
	id, err := strconv.Atoi(strings.TrimSuffix(rest, ")"))
	if err != nil || id < 0 {
		return "", 0, fmt.Errorf("%q: want name(id)", clipForError(v))
	}
	return name, id, nil
}
