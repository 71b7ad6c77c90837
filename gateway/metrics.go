package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sta-federation/sta-gateway/slurm"
)

// metrics are the daemon's Prometheus metrics (GET /metrics), all named
// sta_gateway_*. Counters count since the daemon started; the gauges of jobs and
// sites are read from the database and the sites at each scrape.
type metrics struct {
	reg         *prometheus.Registry
	submissions *prometheus.CounterVec   // site, result
	sshSeconds  *prometheus.HistogramVec // site, command
	sshErrors   *prometheus.CounterVec   // site, command
	queries     *prometheus.CounterVec   // site, command: squeue, sacct
	polls       *prometheus.CounterVec   // site, result
	holds       *prometheus.CounterVec   // site
	heldSeconds *prometheus.CounterVec   // site
	charges     *prometheus.CounterVec   // site
	charged     *prometheus.CounterVec   // site
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.submissions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_submissions_total",
		Help: "Job requests by site and result: accepted (job and hold written), submitted (Slurm job id known), rejected (by Slurm, or no site: site \"\")."},
		[]string{"site", "result"})
	m.sshSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sta_gateway_ssh_command_duration_seconds",
		Help:    "Time of each command run over SSH on a site, by program (sbatch, squeue, sacct, scontrol, scancel, ...).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}},
		[]string{"site", "command"})
	m.sshErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_ssh_command_errors_total",
		Help: "Commands that did not run to their end (connection, session or timeout failures), by site and program."},
		[]string{"site", "command"})
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_slurm_queries_total",
		Help: "squeue and sacct calls per site (each is one job query on the site's controller or database)."},
		[]string{"site", "command"})
	m.polls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_poll_ticks_total",
		Help: "Poller ticks per site, by result (ok, error)."}, []string{"site", "result"})
	m.holds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_ledger_holds_total",
		Help: "Holds placed in the ledger (one per job, one per array task)."}, []string{"site"})
	m.heldSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_ledger_held_core_seconds_total",
		Help: "Core-seconds held at acceptance."}, []string{"site"})
	m.charges = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_ledger_charges_total",
		Help: "Jobs (and array tasks) charged their real usage in the ledger."}, []string{"site"})
	m.charged = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sta_gateway_ledger_charged_core_seconds_total",
		Help: "Core-seconds charged (CPUTimeRAW x rate)."}, []string{"site"})
	m.reg.MustRegister(m.submissions, m.sshSeconds, m.sshErrors, m.queries, m.polls, m.holds, m.heldSeconds,
		m.charges, m.charged, &stateCollector{g: g},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sta_gateway_build_info",
		Help: "Always 1; the daemon's version in a label."}, []string{"version"})
	build.WithLabelValues(Version).Set(1)
	m.reg.MustRegister(build)
	// Known label values start at zero, so a scrape shows every site at once.
	for _, s := range g.cfg.Sites {
		for _, c := range []string{"squeue", "sacct"} {
			m.queries.WithLabelValues(s.Name, c)
		}
		for _, r := range []string{"ok", "error"} {
			m.polls.WithLabelValues(s.Name, r)
		}
		m.holds.WithLabelValues(s.Name)
		m.charges.WithLabelValues(s.Name)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observer returns the hook that measures a site's SSH commands.
func (m *metrics) observer(site string) func(string, time.Duration, error) {
	return func(program string, took time.Duration, err error) {
		if program == "timeout" {
			program = "unknown"
		}
		m.sshSeconds.WithLabelValues(site, program).Observe(took.Seconds())
		if err != nil {
			m.sshErrors.WithLabelValues(site, program).Inc()
		}
		if program == "squeue" || program == "sacct" {
			m.queries.WithLabelValues(site, program).Inc()
		}
	}
}

func (m *metrics) submitted(site, result string) { m.submissions.WithLabelValues(site, result).Inc() }

func (m *metrics) polled(site string, err error) {
	r := "ok"
	if err != nil {
		r = "error"
	}
	m.polls.WithLabelValues(site, r).Inc()
}

func (m *metrics) held(site string, holds int, coreSeconds int64) {
	m.holds.WithLabelValues(site).Add(float64(holds))
	m.heldSeconds.WithLabelValues(site).Add(float64(coreSeconds))
}

func (m *metrics) chargedJob(site string, coreSeconds int64) {
	m.charges.WithLabelValues(site).Inc()
	m.charged.WithLabelValues(site).Add(float64(coreSeconds))
}

// stateCollector reads, at each scrape, the jobs by state and site from the
// database and each site's reachability and view.
type stateCollector struct{ g *Gateway }

var (
	jobsDesc = prometheus.NewDesc("sta_gateway_jobs", "Jobs the gateway knows, by site and state.",
		[]string{"site", "state"}, nil)
	reachableDesc = prometheus.NewDesc("sta_gateway_site_reachable",
		"1 when the site's last poll succeeded, else 0.", []string{"site", "jurisdiction"}, nil)
	unreachableJobsDesc = prometheus.NewDesc("sta_gateway_site_unreachable_jobs",
		"Live jobs flagged site_unreachable, by site.", []string{"site"}, nil)
	freeNodesDesc = prometheus.NewDesc("sta_gateway_site_free_nodes",
		"Usable nodes with no CPU allocated, from the poller's last node read.", []string{"site"}, nil)
	pendingDesc = prometheus.NewDesc("sta_gateway_site_pending_jobs",
		"Pending jobs in the site's queue (all users; only with a monitor login).", []string{"site"}, nil)
	auditSeqDesc = prometheus.NewDesc("sta_gateway_audit_head_seq",
		"Sequence number of the audit trail's last record.", nil, nil)
	auditHeadDesc = prometheus.NewDesc("sta_gateway_audit_head_info",
		"The audit trail's head: 1, with its sequence number and MAC in labels (compare with sta-gateway audit verify --head).",
		[]string{"seq", "mac"}, nil)
	auditOKDesc = prometheus.NewDesc("sta_gateway_audit_verified",
		"1 when the audit trail verified at start, 0 when it did not (see the log).", nil, nil)
	scrapeErrDesc = prometheus.NewDesc("sta_gateway_metrics_scrape_errors",
		"1 when the database could not be read for this scrape.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, reachableDesc, unreachableJobsDesc, freeNodesDesc, pendingDesc, scrapeErrDesc,
		auditSeqDesc, auditHeadDesc, auditOKDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := 0.0
	if err := c.collectJobs(ctx, ch); err != nil {
		failed = 1
		c.g.log.Warn("metrics: read jobs", "err", err.Error())
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
	if h := c.g.auditHead.Load(); h != nil {
		ch <- prometheus.MustNewConstMetric(auditSeqDesc, prometheus.GaugeValue, float64(h.Seq))
		ch <- prometheus.MustNewConstMetric(auditHeadDesc, prometheus.GaugeValue, 1, strconv.FormatInt(h.Seq, 10), h.MAC)
	}
	ok := 1.0
	if c.g.auditProblem() != "" {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(auditOKDesc, prometheus.GaugeValue, ok)
	for _, s := range sortedSites(c.g.sites) {
		reachable, _, _, _ := s.status()
		v := 0.0
		if reachable {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(reachableDesc, prometheus.GaugeValue, v, s.cfg.Name, s.cfg.Jurisdiction)
		view := s.snapshot()
		if view.nodes != nil {
			free := 0
			for i := range view.nodes {
				if view.nodes[i].Usable() && view.nodes[i].CPUAlloc == 0 {
					free++
				}
			}
			ch <- prometheus.MustNewConstMetric(freeNodesDesc, prometheus.GaugeValue, float64(free), s.cfg.Name)
		}
		if view.queueKnown {
			pending := 0
			for i := range view.queue {
				if view.queue[i].State == slurm.StatePending {
					pending++
				}
			}
			ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(pending), s.cfg.Name)
		}
	}
}

func (c *stateCollector) collectJobs(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.g.db.QueryContext(ctx, `SELECT site, state, count(*), sum(unreachable AND settled = 0)
		FROM gateway_jobs GROUP BY site, state`)
	if err != nil {
		return err
	}
	defer rows.Close()
	unreachable := map[string]float64{}
	for rows.Next() {
		var site, state string
		var n, u float64
		if err := rows.Scan(&site, &state, &n, &u); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, n, site, state)
		unreachable[site] += u
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range c.g.cfg.Sites {
		ch <- prometheus.MustNewConstMetric(unreachableJobsDesc, prometheus.GaugeValue, unreachable[s.Name], s.Name)
	}
	return nil
}
