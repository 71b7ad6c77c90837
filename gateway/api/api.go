// Package api holds the wire types of the gateway's HTTP API (/v1) and its error
// codes, shared by the server (package gateway) and its clients (gateway/client,
// stacli). It imports only the standard library.
//
// Routes. Every request carries "Authorization: Bearer TOKEN"; a service token may
// name the user it acts for in X-STA-User. Errors are an *Error body with the
// status of its code.
//
//	POST /v1/jobs                     SubmitRequest -> Job (201; 200 when an
//	                                  Idempotency-Key replays an earlier request;
//	                                  with dry_run: the Job with its Decision, not
//	                                  stored, or 422 no_site; a job no site may run
//	                                  is recorded REJECTED with every site's reason)
//	GET  /v1/jobs?project=&state=&site=&user=&limit=   -> []Job, newest first
//	GET  /v1/jobs/{id}                -> Job
//	GET  /v1/jobs/{id}/explain        -> Decision
//	POST /v1/jobs/{id}/cancel         -> Job
//	GET  /v1/jobs/{id}/output?stream=stdout|stderr&offset=N&wait=SECONDS -> Output
//	                                  (with wait: holds the request until new data or
//	                                  the job's end, at most SECONDS)
//	GET  /v1/jobs/{id}/events         -> text/event-stream of Event ("event: state")
//	GET  /v1/sites                    -> []Site
//	GET  /v1/sites/{name}             -> Site
//	GET  /v1/usage?project=&by=user|site|partition|month&since=&until= -> []UsageRow
//	GET  /v1/balance?project=         -> []Balance
//	GET  /v1/whoami                   -> Principal
//	GET  /v1/health                   -> Health (no token needed)
//	GET  /v1/openapi.json             -> the OpenAPI 3.1 document (no token needed)
//	GET  /healthz, /readyz, /metrics  -> liveness, readiness, Prometheus (no token)
//	POST /v1/admin/projects           Project -> Project
//	GET  /v1/admin/projects           -> []Project
//	POST /v1/admin/allocations        Grant -> Balance
//	GET  /v1/admin/audit?after=&limit= -> []AuditRecord
//
// JSON follows ARCHITECTURE.md: lists are arrays, ids are strings, times RFC 3339
// UTC, core_seconds an integer and core_hours a number. Fields are only ever added.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Version is the API's path prefix.
const Version = "/v1"

// Header names.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderAuthorization  = "Authorization"
	// HeaderActAs names the user a service token acts for.
	HeaderActAs = "X-STA-User"
)

// Limits of request bodies.
const (
	MaxScriptBytes = 1 << 20            // a batch script
	MaxBodyBytes   = MaxScriptBytes * 2 // a whole request (script JSON-escaped)
)

// JobState is a job's state in the gateway (ARCHITECTURE.md "States").
type JobState string

// The closed set of job states.
const (
	StateAccepted    JobState = "ACCEPTED"
	StateSubmitting  JobState = "SUBMITTING"
	StatePending     JobState = "PENDING"
	StateRunning     JobState = "RUNNING"
	StateSuspended   JobState = "SUSPENDED"
	StateRequeued    JobState = "REQUEUED"
	StateCompleted   JobState = "COMPLETED"
	StateFailed      JobState = "FAILED"
	StateCancelled   JobState = "CANCELLED"
	StateTimeout     JobState = "TIMEOUT"
	StateNodeFail    JobState = "NODE_FAIL"
	StateOutOfMemory JobState = "OUT_OF_MEMORY"
	StatePreempted   JobState = "PREEMPTED"
	StateBootFail    JobState = "BOOT_FAIL"
	StateDeadline    JobState = "DEADLINE"
	StateRejected    JobState = "REJECTED"
	StateUnknown     JobState = "UNKNOWN"
)

// States lists every state, in lifecycle order.
var States = []JobState{StateAccepted, StateSubmitting, StatePending, StateRunning, StateSuspended,
	StateRequeued, StateCompleted, StateFailed, StateCancelled, StateTimeout, StateNodeFail,
	StateOutOfMemory, StatePreempted, StateBootFail, StateDeadline, StateRejected, StateUnknown}

// Final says the job will not change state again.
func (s JobState) Final() bool {
	switch s {
	case StateCompleted, StateFailed, StateCancelled, StateTimeout, StateNodeFail, StateOutOfMemory,
		StatePreempted, StateBootFail, StateDeadline, StateRejected:
		return true
	}
	return false
}

// Valid says s is one of States.
func (s JobState) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// SubmitRequest is POST /v1/jobs. Resources given here override the script's
// #SBATCH directives; the server parses the script itself.
type SubmitRequest struct {
	Script        string   `json:"script"`
	ScriptName    string   `json:"script_name,omitempty"`
	Project       string   `json:"project"`
	Site          string   `json:"site,omitempty"`          // "" or "auto": the gateway chooses
	Jurisdictions []string `json:"jurisdictions,omitempty"` // narrows the project's
	Class         string   `json:"class,omitempty"`         // resource class (cpu, short, gpu)
	Partition     string   `json:"partition,omitempty"`
	Nodes         int      `json:"nodes,omitempty"`
	NTasksPerNode int      `json:"ntasks_per_node,omitempty"`
	CPUsPerTask   int      `json:"cpus_per_task,omitempty"`
	GPUs          int      `json:"gpus,omitempty"`
	Time          string   `json:"time,omitempty"` // Slurm time format
	JobName       string   `json:"job_name,omitempty"`
	Array         string   `json:"array,omitempty"`     // --array, e.g. 1-100%10
	Placement     string   `json:"placement,omitempty"` // none or topology
	// PinNodes (with placement = topology) pins the planned nodes with
	// --nodelist; otherwise Slurm picks within the planned leaf count.
	PinNodes bool `json:"pin_nodes,omitempty"`
	DryRun   bool `json:"dry_run,omitempty"`
}

// ArrayTasks counts an array's tasks by state.
type ArrayTasks struct {
	Total   int              `json:"total"`
	ByState map[JobState]int `json:"by_state"`
	// MaxExitCode is the highest exit code among the tasks that ended with
	// one (nil while none has); Signaled counts the tasks killed by a signal.
	// Together they give the exit code of `sbatch --wait` for the array
	// (the highest across its tasks, a signal counting as 1).
	MaxExitCode *int `json:"max_exit_code,omitempty"`
	Signaled    int  `json:"signaled,omitempty"`
}

// Job is a job as the gateway knows it.
type Job struct {
	ID          string      `json:"id"`
	State       JobState    `json:"state"`
	Reason      string      `json:"reason"`
	Project     string      `json:"project"`
	User        string      `json:"user"`
	Site        string      `json:"site"`
	Cluster     string      `json:"cluster"`
	SiteJobID   string      `json:"site_job_id"`
	Account     string      `json:"account"`
	Partition   string      `json:"partition"`
	Name        string      `json:"name"`
	Nodes       []string    `json:"nodes"`
	ExitCode    *int        `json:"exit_code"`
	ExitSignal  *int        `json:"exit_signal"`
	CoreSeconds int64       `json:"core_seconds"`
	CoreHours   float64     `json:"core_hours"`
	HoldSeconds int64       `json:"hold_core_seconds"`
	SubmittedAt *time.Time  `json:"submitted_at"`
	StartedAt   *time.Time  `json:"started_at"`
	EndedAt     *time.Time  `json:"ended_at"`
	CreatedAt   time.Time   `json:"created_at"`
	Unreachable bool        `json:"site_unreachable"`
	Array       *ArrayTasks `json:"array,omitempty"`
	Decision    *Decision   `json:"decision,omitempty"`
	// HoldProblem is what the re-check of a long-pending job's hold found: the
	// hold would not be placed now (allocation ended, rate gone, too little
	// left). Empty when fine.
	HoldProblem string `json:"hold_problem,omitempty"`
	// ScriptSHA256 is the SHA-256 (hex) of the script as the user sent it;
	// SubmittedSHA256 that of the script submitted to Slurm, which differs
	// when the gateway added its topology preamble.
	ScriptSHA256    string `json:"script_sha256,omitempty"`
	SubmittedSHA256 string `json:"submitted_script_sha256,omitempty"`
}

// Decision is a routing decision with its reasons.
type Decision struct {
	Site       string          `json:"site"`
	Partition  string          `json:"partition"`
	Candidates []SiteCandidate `json:"candidates"`
	// Named is true when the request named the site: its filters still ran,
	// scoring did not.
	Named     bool       `json:"named,omitempty"`
	Weights   *Weights   `json:"weights,omitempty"`
	Placement *Placement `json:"placement,omitempty"`
	At        time.Time  `json:"at"`
}

// Weights are the routing weights a decision was scored with.
type Weights struct {
	Wait   float64 `json:"wait"`
	Carbon float64 `json:"carbon"`
	Cost   float64 `json:"cost"`
}

// SiteCandidate is one site considered by routing: excluded with the reason
// of the filter that excluded it, or eligible with its score (lower is better)
// and the parts that make it up.
type SiteCandidate struct {
	Site     string      `json:"site"`
	Eligible bool        `json:"eligible"`
	Reasons  []string    `json:"reasons"`
	Score    float64     `json:"score"`
	Parts    []ScorePart `json:"score_parts,omitempty"`
	// ExpectedWaitSeconds is the estimated wait before the job could start
	// there, from the cached site view (nil when the view cannot tell).
	ExpectedWaitSeconds *int64 `json:"expected_wait_seconds,omitempty"`
}

// ScorePart is one term of a site's score: Value (in Unit) x Weight = Points.
type ScorePart struct {
	Name   string  `json:"name"` // wait, carbon, cost
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Weight float64 `json:"weight"`
	Points float64 `json:"points"`
}

// Placement is the topology-aware plan of a job (placement = topology).
type Placement struct {
	// Switches is the --switches the job was submitted with ("2@10:00").
	Switches string `json:"switches"`
	// Leaves is the fewest leaf switches the plan needs from the nodes free
	// when it was made; LowerBound the fewest any plan could use.
	Leaves     int `json:"leaves"`
	LowerBound int `json:"leaves_lower_bound"`
	// Nodes is the planned node order (what --nodelist pins when Pinned).
	Nodes  []string `json:"nodes"`
	Pinned bool     `json:"pinned"`
	// Note says what the plan rests on (free nodes now, or all nodes when too
	// few are free).
	Note string `json:"note"`
}

// Event is one state change of a job (GET /v1/jobs/{id}/events, Server-Sent
// Events).
type Event struct {
	JobID  string    `json:"job_id"`
	Seq    int64     `json:"seq"`
	State  JobState  `json:"state"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Output is a chunk of a job's stdout or stderr (GET /v1/jobs/{id}/output).
type Output struct {
	Stream string `json:"stream"` // stdout or stderr
	Offset int64  `json:"offset"` // of Data in the file
	Data   string `json:"data"`
	// Next is the offset to ask for next; EOF says the job has ended and Next is
	// the end of the file.
	Next int64 `json:"next"`
	EOF  bool  `json:"eof"`
}

// Site is a site as the gateway sees it.
type Site struct {
	Name          string     `json:"name"`
	Jurisdiction  string     `json:"jurisdiction"`
	Cluster       string     `json:"cluster"`
	Reachable     bool       `json:"reachable"`
	LastError     string     `json:"last_error,omitempty"`
	LastPoll      *time.Time `json:"last_poll"`
	Classes       []string   `json:"classes"`
	CarbonGPerKWh float64    `json:"carbon_g_per_kwh"`
	CostPerCoreHr float64    `json:"cost_per_core_hour"`
	LiveJobs      int        `json:"live_jobs"`
	QueueDepth    int        `json:"queue_depth"`
	// Polls and PollErrors count the poller's ticks since the daemon started.
	Polls      int64 `json:"polls"`
	PollErrors int64 `json:"poll_errors"`
	// Nodes and FreeNodes count the site's usable nodes and those with no CPU
	// allocated, as of ViewAt (the poller's last node read); PendingJobs is nil
	// when the gateway cannot see the whole queue (no monitor login).
	Nodes       int             `json:"nodes"`
	FreeNodes   int             `json:"free_nodes"`
	PendingJobs *int            `json:"pending_jobs"`
	ViewAt      *time.Time      `json:"view_at"`
	Partitions  []SitePartition `json:"partitions"`
	// Topology says whether topology-aware placement is possible here, and if
	// not, why.
	Topology string `json:"topology"`
}

// SitePartition is one partition of a site as the gateway last saw it.
type SitePartition struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	TotalNodes  int    `json:"total_nodes"`
	TotalCPUs   int    `json:"total_cpus"`
	UsableNodes int    `json:"usable_nodes"`
	IdleNodes   int    `json:"idle_nodes"` // no CPU allocated
	FreeCPUs    int    `json:"free_cpus"`
	MaxTime     string `json:"max_time,omitempty"`
	DefaultTime string `json:"default_time,omitempty"`
	// PendingJobs and RunningJobs are nil when the queue is not visible.
	PendingJobs *int `json:"pending_jobs"`
	RunningJobs *int `json:"running_jobs"`
}

// UsageRow is one row of a usage report.
type UsageRow struct {
	Project     string  `json:"project"`
	User        string  `json:"user,omitempty"`
	Site        string  `json:"site,omitempty"`
	Partition   string  `json:"partition,omitempty"`
	Month       string  `json:"month,omitempty"` // YYYY-MM
	Jobs        int64   `json:"jobs"`
	CoreSeconds int64   `json:"core_seconds"`
	CoreHours   float64 `json:"core_hours"`
}

// Balance is an allocation's balance.
type Balance struct {
	Project          string    `json:"project"`
	Site             string    `json:"site"`
	AllocationID     string    `json:"allocation_id"`
	Start            time.Time `json:"start"`
	End              time.Time `json:"end"`
	GrantedSeconds   int64     `json:"granted_core_seconds"`
	HeldSeconds      int64     `json:"held_core_seconds"`
	ChargedSeconds   int64     `json:"charged_core_seconds"`
	RemainingSeconds int64     `json:"remaining_core_seconds"`
	GrantedHours     float64   `json:"granted_core_hours"`
	RemainingHours   float64   `json:"remaining_core_hours"`
}

// CoreHours converts integer core-seconds to core-hours.
func CoreHours(coreSeconds int64) float64 { return float64(coreSeconds) / 3600 }

// Code is a machine-readable error code.
type Code string

// Error codes. One table (Status) maps them to HTTP statuses.
const (
	CodeInvalid         Code = "invalid"           // the request is malformed or a value is wrong
	CodeUnauthenticated Code = "unauthenticated"   // no or bad token
	CodeForbidden       Code = "forbidden"         // authenticated, not allowed
	CodeNotFound        Code = "not_found"         // no such job, site, project
	CodeConflict        Code = "conflict"          // idempotency key reused with another body
	CodeTooLarge        Code = "too_large"         // body or script over the limit
	CodeInsufficient    Code = "insufficient"      // allocation too small for the hold
	CodeNoSite          Code = "no_site"           // no site may and can run the job
	CodeUnavailable     Code = "unavailable"       // shutting down, or a site unreachable
	CodeInternal        Code = "internal"          // a bug or an I/O failure
	CodeRejected        Code = "rejected_by_slurm" // the site's Slurm refused the job
)

var statuses = map[Code]int{
	CodeInvalid:         http.StatusBadRequest,
	CodeUnauthenticated: http.StatusUnauthorized,
	CodeForbidden:       http.StatusForbidden,
	CodeNotFound:        http.StatusNotFound,
	CodeConflict:        http.StatusConflict,
	CodeTooLarge:        http.StatusRequestEntityTooLarge,
	CodeInsufficient:    http.StatusUnprocessableEntity,
	CodeNoSite:          http.StatusUnprocessableEntity,
	CodeRejected:        http.StatusUnprocessableEntity,
	CodeUnavailable:     http.StatusServiceUnavailable,
	CodeInternal:        http.StatusInternalServerError,
}

// Status is the HTTP status of an error code.
func (c Code) Status() int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus rebuilds a code from a status when a body carried none (a proxy's
// error page, say).
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalid
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}

// Error is the body of every error response, and the error clients return.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"` // the request field at fault
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one request field.
func FieldErrorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns err's code: the code of an *Error in its chain, else
// CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Principal is who a request acts for.
type Principal struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

// Health is GET /v1/health.
type Health struct {
	Status  string            `json:"status"` // ok, degraded
	Version string            `json:"version"`
	Sites   map[string]string `json:"sites"` // site -> ok or its last error
	// Audit is "ok", or why the audit trail did not verify at start.
	Audit string `json:"audit,omitempty"`
}

// AuditRecord is one record of the audit trail (GET /v1/admin/audit). MAC is
// HMAC-SHA256 over the previous record's MAC and this record's fields, with a
// key the database does not hold.
type AuditRecord struct {
	Seq     int64           `json:"seq"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
	MAC     string          `json:"mac"`
}

// Project is a project as an admin manages it.
type Project struct {
	Name          string            `json:"name"`
	Members       []string          `json:"members"`
	Jurisdictions []string          `json:"jurisdictions"`
	Accounts      map[string]string `json:"accounts"` // site -> Slurm account
}

// Grant is POST /v1/admin/allocations: core-hours for a project at a site.
type Grant struct {
	Project   string     `json:"project"`
	Site      string     `json:"site"`
	CoreHours float64    `json:"core_hours"`
	Start     *time.Time `json:"start,omitempty"` // default now
	End       *time.Time `json:"end,omitempty"`   // default one year after start
	Overdraft bool       `json:"overdraft,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}
