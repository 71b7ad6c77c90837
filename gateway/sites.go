package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sta-federation/sta-gateway/slurm"
)

// site is one Slurm site at run time: its SSH clients (one per login), what the
// gateway last learnt of it, and whether it answers.
type site struct {
	cfg   *SiteConfig
	slurm *slurm.Site
	kh    *slurm.KnownHosts
	log   *slog.Logger
	ca    ssh.Signer // kind "ca": the user CA the site trusts
	// observe measures each SSH command (metrics).
	observe func(string, time.Duration, error)

	mu         sync.Mutex
	clients    map[string]*slurm.Client
	partitions map[string]slurm.Partition
	nodeCPUs   map[string]int // partition -> CPUs of its largest node
	reachable  bool
	lastErr    string
	lastPoll   time.Time
	queueDepth int // pending jobs seen by the monitor
	view       view
	discovered bool
	kick       chan struct{} // wakes the poller
	polls      int64         // ticks that succeeded
	pollErrors int64         // ticks that failed
}

func newSite(cfg *SiteConfig, log *slog.Logger, observe func(string, time.Duration, error)) (*site, error) {
	kh, err := slurm.LoadKnownHosts(cfg.KnownHosts...)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", cfg.Name, err)
	}
	s := &site{
		cfg: cfg, kh: kh, log: log.With("site", cfg.Name),
		slurm: &slurm.Site{Name: cfg.Name, Cluster: cfg.Cluster, MessageTimeout: cfg.MessageTimeout.Duration,
			SbatchTimeout: cfg.SbatchTimeout.Duration, ClockSkew: cfg.ClockSkew.Duration,
			CommandTimeout: cfg.CommandTimeout.Duration},
		clients: map[string]*slurm.Client{},
		kick:    make(chan struct{}, 1),
		observe: observe,
	}
	if cfg.Credential.Kind == "ca" {
		b, err := readSecret("site "+cfg.Name+": credentials.ca_key", cfg.Credential.CAKey)
		if err != nil {
			return nil, err
		}
		s.ca, err = ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("site %s: credentials.ca_key %s: %w", cfg.Name, cfg.Credential.CAKey, err)
		}
	}
	return s, nil
}

// auth returns how to log in as login at this site.
func (s *site) auth(login string) (ssh.AuthMethod, error) {
	switch s.cfg.Credential.Kind {
	case "ca":
		return slurm.Certificates(func() (ssh.Signer, error) { return s.mint(login) }), nil
	case "keys":
		return slurm.KeyFile(filepath.Join(s.cfg.Credential.KeyDir, login))
	default:
		return slurm.Agent()
	}
}

// mint signs a fresh key for login with the site's user CA, valid for the
// configured TTL (minutes): the gateway never holds users' personal keys.
func (s *site) mint(login string) (ssh.Signer, error) {
	_, priv, err := ed25519Key()
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             signer.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "sta-gateway:" + s.cfg.Name + ":" + login,
		ValidPrincipals: []string{login},
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()),
		ValidBefore:     uint64(now.Add(s.cfg.Credential.CertTTL.Duration).Unix()),
		Permissions:     ssh.Permissions{Extensions: map[string]string{}},
	}
	if err := cert.SignCert(rand.Reader, s.ca); err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", login, err)
	}
	return ssh.NewCertSigner(cert, signer)
}

// client returns the SSH client of login at this site, opening it lazily.
func (s *site) client(login string) (*slurm.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[login]; c != nil {
		return c, nil
	}
	auth, err := s.auth(login)
	if err != nil {
		return nil, fmt.Errorf("site %s: credentials for %s: %w", s.cfg.Name, login, err)
	}
	var jumps []slurm.Hop
	for _, j := range s.cfg.Jumps {
		ja, err := slurm.KeyFile(j.Key)
		if err != nil {
			return nil, fmt.Errorf("site %s: jump %s: %w", s.cfg.Name, j.SSH, err)
		}
		jumps = append(jumps, slurm.Hop{Addr: j.SSH, User: j.Login, Auth: []ssh.AuthMethod{ja}, KnownHosts: s.kh})
	}
	c, err := slurm.NewClient(slurm.Config{
		Site:        s.cfg.Name,
		Hop:         slurm.Hop{Addr: s.cfg.SSH, User: login, Auth: []ssh.AuthMethod{auth}, KnownHosts: s.kh},
		Jumps:       jumps,
		MaxSessions: s.cfg.MaxSession,
		Shells:      s.cfg.Shells,
		Forced:      s.cfg.ForcedCommand,
		Logger:      s.log,
		Observe:     s.observe,
	})
	if err != nil {
		return nil, err
	}
	s.clients[login] = c
	return c, nil
}

// monitorClient returns the client of the site's monitor login, or nil.
func (s *site) monitorClient() (*slurm.Client, error) {
	if s.cfg.Monitor == "" {
		return nil, nil
	}
	return s.client(s.cfg.Monitor)
}

func (s *site) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.Close()
	}
	s.clients = map[string]*slurm.Client{}
}

// setReachable records the outcome of talking to the site.
func (s *site) setReachable(err error) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.reachable
	s.reachable = err == nil
	if err != nil {
		s.lastErr = err.Error()
	} else {
		s.lastErr = ""
		s.lastPoll = time.Now()
	}
	return was != s.reachable
}

// countPoll counts a poller tick.
func (s *site) countPoll(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.pollErrors++
	} else {
		s.polls++
	}
}

// discover reads the site's partitions and nodes through login.
func (s *site) discover(ctx context.Context, login string) error {
	c, err := s.client(login)
	if err != nil {
		return err
	}
	parts, err := s.slurm.Partitions(ctx, c)
	if err != nil {
		return err
	}
	nodes, err := s.slurm.Nodes(ctx, c)
	if err != nil {
		return err
	}
	pm := map[string]slurm.Partition{}
	cpus := map[string]int{}
	for _, p := range parts {
		pm[p.Name] = p
	}
	for _, n := range nodes {
		c := n.CPUsEffective
		if c == 0 {
			c = n.CPUs
		}
		for _, p := range n.Partitions {
			if c > cpus[p] {
				cpus[p] = c
			}
		}
	}
	topo, terr := s.slurm.Topology(ctx, c)
	s.setTopology(topo, terr)
	s.mu.Lock()
	s.partitions, s.nodeCPUs, s.discovered = pm, cpus, true
	s.mu.Unlock()
	s.setNodes(nodes, time.Now())
	return nil
}

// partition returns what discovery learnt of a partition.
func (s *site) partition(name string) (slurm.Partition, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.partitions[name]
	return p, s.nodeCPUs[name], ok
}

// partitionList returns what discovery learnt of the partitions, by name.
func (s *site) partitionList() []slurm.Partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]slurm.Partition, 0, len(s.partitions))
	for _, p := range s.partitions {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *site) status() (reachable bool, lastErr string, lastPoll time.Time, depth int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reachable, s.lastErr, s.lastPoll, s.queueDepth
}

func (s *site) pollCounts() (ok, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls, s.pollErrors
}

func sortedSites(m map[string]*site) []*site {
	out := make([]*site, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cfg.Name < out[j].cfg.Name })
	return out
}

func ed25519Key() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}
