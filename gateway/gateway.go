package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

// Ledger is what the gateway needs of the core-hour ledger (package accounting).
// Writes that go with a job's own rows take the caller's transaction; every write
// is idempotent by job id.
type Ledger interface {
	PlaceHoldTx(ctx context.Context, tx *sql.Tx, req accounting.HoldRequest) (accounting.Hold, error)
	SettleJobTx(ctx context.Context, tx *sql.Tx, req accounting.ChargeRequest) (accounting.Settlement, error)
	ReleaseJobTx(ctx context.Context, tx *sql.Tx, req accounting.ReleaseRequest) (accounting.Release, error)
	RecordSiteJobTx(ctx context.Context, tx *sql.Tx, s accounting.SiteJob) error
	Balances(ctx context.Context, q accounting.BalanceQuery) ([]accounting.Balance, error)
	Usage(ctx context.Context, q accounting.UsageQuery) ([]accounting.UsageRow, error)
	RateAt(ctx context.Context, site, partition string, at time.Time) (accounting.Rate, error)
}

var _ Ledger = (*accounting.Ledger)(nil)

// Gateway is the running daemon's core, without its HTTP listener.
type Gateway struct {
	cfg    *Config
	log    *slog.Logger
	db     *sql.DB
	ledger *accounting.Ledger
	led    Ledger
	sites  map[string]*site
	token  string
	now    func() time.Time

	ctx      context.Context // lifetime of background work
	cancel   context.CancelFunc
	bg       sync.WaitGroup // pollers, submission drivers
	draining atomic.Bool
	drained  chan struct{} // closed by Drain: event streams end
	driving  sync.Map      // job id -> struct{}: a driver runs for it
	events   *broadcaster

	metrics *metrics

	auditKey  []byte
	auditHead atomic.Pointer[AuditHead]
	// auditBroken holds why the trail did not verify at start ("" when it did).
	auditBroken atomic.Value

	projMu   sync.RWMutex
	projects map[string]*ProjectConfig // created at run time (the config's are in cfg)
}

// Open opens the state (SQLite file in the state folder), migrates it, books the
// configured projects, rates and allocations, and prepares the sites. It starts
// nothing; Start does.
func Open(ctx context.Context, cfg *Config, log *slog.Logger) (*Gateway, error) {
	// The state folder holds job scripts and the ledger: no one else's to
	// read (a folder that exists is narrowed too).
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if err := os.Chmod(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	token := cfg.Auth.Token
	if cfg.Auth.TokenFile != "" {
		b, err := readSecret("auth.token_file", cfg.Auth.TokenFile)
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(b))
		if len(token) < 16 {
			return nil, fmt.Errorf("auth.token_file %s: token shorter than 16 characters", cfg.Auth.TokenFile)
		}
	}
	dbPath := filepath.Join(cfg.StateDir, "sta-gateway.db")
	ledger, err := accounting.Open(ctx, dbPath, accounting.Options{})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", dbPath, err)
	}
	g := &Gateway{cfg: cfg, log: log, db: ledger.DB(), ledger: ledger, led: ledger, token: token,
		now: time.Now, sites: map[string]*site{}, events: newBroadcaster(), drained: make(chan struct{})}
	if err := migrate(ctx, g.db); err != nil {
		ledger.Close()
		return nil, err
	}
	if g.auditKey, err = loadAuditKey(ctx, g.db, cfg.auditKeyFile()); err != nil {
		ledger.Close()
		return nil, err
	}
	g.auditBroken.Store("")
	head, err := VerifyAudit(ctx, g.db, g.auditKey, nil)
	if err != nil {
		// Jobs must still be followed and charged: run, but say it loudly (log,
		// health, metric).
		g.auditBroken.Store(err.Error())
		log.Error("audit trail does not verify", "err", err.Error())
	}
	g.auditHead.Store(&head)
	log.Info("audit chain head", "audit_seq", head.Seq, "audit_mac", head.MAC)
	g.metrics = newMetrics(g)
	for i := range cfg.Sites {
		s, err := newSite(&cfg.Sites[i], log, g.metrics.observer(cfg.Sites[i].Name))
		if err != nil {
			ledger.Close()
			return nil, err
		}
		g.sites[s.cfg.Name] = s
	}
	if err := g.bootstrap(ctx); err != nil {
		ledger.Close()
		return nil, err
	}
	if err := g.loadProjects(ctx); err != nil {
		ledger.Close()
		return nil, err
	}
	return g, nil
}

// bootstrap books what the configuration declares: projects, rates, allocations.
// Each write is idempotent, so a restart books nothing twice.
func (g *Gateway) bootstrap(ctx context.Context) error {
	have := map[string]bool{}
	projects, err := g.ledger.Projects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		have[p.Name] = true
	}
	for _, p := range g.cfg.Projects {
		if !have[p.Name] {
			if _, err := g.ledger.CreateProject(ctx, accounting.NewProject{Name: p.Name, Who: "config"}); err != nil {
				return fmt.Errorf("project %s: %w", p.Name, err)
			}
		}
	}
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range g.cfg.Sites {
		rates := map[string]float64{accounting.AnyPartition: 1}
		for p, r := range s.Rates {
			rates[p] = r
		}
		for part, mult := range rates {
			th := int64(math.Round(mult * float64(accounting.RateUnit)))
			cur, err := g.ledger.RateAt(ctx, s.Name, part, g.now())
			if err == nil && cur.Thousandths == th && cur.Partition == part {
				continue
			}
			from := g.now().Truncate(time.Second)
			if err != nil {
				from = epoch
			}
			if _, err := g.ledger.SetRate(ctx, accounting.NewRate{Site: s.Name, Partition: part,
				EffectiveFrom: from, Thousandths: th, Who: "config", Why: "rate in the configuration"}); err != nil {
				return fmt.Errorf("site %s: rate %s: %w", s.Name, part, err)
			}
		}
	}
	for _, p := range g.cfg.Projects {
		for _, a := range p.Allocations {
			start := a.Start.UTC().Truncate(time.Second)
			if start.IsZero() {
				start = epoch
			}
			end := a.End.UTC().Truncate(time.Second)
			if end.IsZero() {
				end = start.AddDate(100, 0, 0)
			}
			grant := int64(math.Round(a.CoreHours * float64(accounting.CoreHour)))
			od := accounting.NoOverdraft
			if a.Overdraft {
				od = -1
			}
			sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d|%d|%d|%v", p.Name, a.Site, start.Unix(), end.Unix(), grant, a.Overdraft)))
			if _, err := g.ledger.CreateAllocation(ctx, accounting.NewAllocation{Project: p.Name, Site: a.Site,
				SlurmAccount: p.Accounts[a.Site], StartsAt: start, EndsAt: end, Overdraft: od, Grant: grant,
				Who: "config", Why: "allocation in the configuration",
				RequestID: "config:" + hex.EncodeToString(sum[:12])}); err != nil {
				return fmt.Errorf("project %s: allocation at %s: %w", p.Name, a.Site, err)
			}
		}
	}
	return nil
}

// Start discovers the sites, resumes the jobs a previous run left SUBMITTING, and
// starts one poller per site. Background work stops at Close.
func (g *Gateway) Start(ctx context.Context) {
	g.ctx, g.cancel = context.WithCancel(context.Background())
	for _, s := range sortedSites(g.sites) {
		g.bg.Add(1)
		go func() {
			defer g.bg.Done()
			g.poll(g.ctx, s)
		}()
	}
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		g.recheckHolds(g.ctx)
	}()
	jobs, err := listJobs(ctx, g.db, jobFilter{States: []api.JobState{api.StateSubmitting}})
	if err != nil {
		g.log.Error("resume submissions", "err", err.Error())
		return
	}
	for _, j := range jobs {
		g.log.Info("resuming submission", "job", j.ID, "site", j.Site, "attempts", j.Attempts)
		g.drive(j.ID)
	}
}

// Drain stops accepting new jobs; submissions under way go on.
func (g *Gateway) Drain() {
	if !g.draining.Swap(true) {
		close(g.drained)
	}
}

// Close stops the pollers and waits for the submission drivers, then closes the
// sites and the database.
func (g *Gateway) Close() error {
	g.Drain()
	if g.cancel != nil {
		g.cancel()
	}
	g.bg.Wait()
	for _, s := range g.sites {
		s.close()
	}
	return g.ledger.Close()
}

// newID returns a job id: time-ordered (base-36 milliseconds), random-suffixed,
// short enough to type.
func newID(now time.Time) string {
	var b [5]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return "j" + strconv.FormatInt(now.UnixMilli(), 36) + hex.EncodeToString(b[:])
}

// errShuttingDown is the answer to submissions while draining.
var errShuttingDown = api.Errorf(api.CodeUnavailable, "the gateway is shutting down; retry with the same Idempotency-Key")

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
