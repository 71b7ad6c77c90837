package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/sta-federation/sta-gateway/accounting"
	"github.com/sta-federation/sta-gateway/gateway/api"
)

// project returns a project: one of the configuration file, or one an admin
// created at run time. Nil when there is none.
func (g *Gateway) project(name string) *ProjectConfig {
	if pc := g.cfg.Project(name); pc != nil {
		return pc
	}
	g.projMu.RLock()
	defer g.projMu.RUnlock()
	return g.projects[name]
}

// allProjects lists every project, sorted by name.
func (g *Gateway) allProjects() []*ProjectConfig {
	var out []*ProjectConfig
	for i := range g.cfg.Projects {
		out = append(out, &g.cfg.Projects[i])
	}
	g.projMu.RLock()
	for _, p := range g.projects {
		out = append(out, p)
	}
	g.projMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// loadProjects reads the projects created at run time.
func (g *Gateway) loadProjects(ctx context.Context) error {
	rows, err := g.db.QueryContext(ctx, `SELECT name, definition FROM gateway_projects`)
	if err != nil {
		return err
	}
	defer rows.Close()
	g.projects = map[string]*ProjectConfig{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		var ap api.Project
		if err := json.Unmarshal([]byte(def), &ap); err != nil {
			return fmt.Errorf("project %s: %w", name, err)
		}
		g.projects[name] = &ProjectConfig{Name: name, Members: ap.Members, Jurisdictions: ap.Jurisdictions, Accounts: ap.Accounts}
	}
	return rows.Err()
}

// CreateProject adds a project at run time (admins): checked as the configuration
// checks its projects, stored, and booked in the ledger, in one transaction.
func (g *Gateway) CreateProject(ctx context.Context, p principal, ap api.Project) (api.Project, error) {
	if !p.Admin {
		return api.Project{}, api.Errorf(api.CodeForbidden, "admin only")
	}
	if !nameRE.MatchString(ap.Name) {
		return api.Project{}, api.FieldErrorf(api.CodeInvalid, "name", "%q: want lower-case letters, digits and dashes", ap.Name)
	}
	if g.project(ap.Name) != nil {
		return api.Project{}, api.FieldErrorf(api.CodeConflict, "name", "project %s exists", ap.Name)
	}
	for _, m := range ap.Members {
		if g.cfg.User(m) == nil {
			return api.Project{}, api.FieldErrorf(api.CodeInvalid, "members", "no user %q", m)
		}
	}
	if len(ap.Jurisdictions) == 0 {
		return api.Project{}, api.FieldErrorf(api.CodeInvalid, "jurisdictions", "name where the project's data may go")
	}
	for _, j := range ap.Jurisdictions {
		if !jurisdictionRE.MatchString(j) {
			return api.Project{}, api.FieldErrorf(api.CodeInvalid, "jurisdictions", "%q is not a two-letter country code", j)
		}
	}
	for site, acct := range ap.Accounts {
		s := g.sites[site]
		if s == nil {
			return api.Project{}, api.FieldErrorf(api.CodeInvalid, "accounts", "no site %q", site)
		}
		if !accountRE.MatchString(acct) {
			return api.Project{}, api.FieldErrorf(api.CodeInvalid, "accounts", "%q is not a Slurm account name", acct)
		}
		if !slices.Contains(ap.Jurisdictions, s.cfg.Jurisdiction) {
			return api.Project{}, api.FieldErrorf(api.CodeInvalid, "accounts",
				"site %s is in %s, which the project's jurisdictions exclude", site, s.cfg.Jurisdiction)
		}
	}
	if ap.Members == nil {
		ap.Members = []string{}
	}
	if ap.Accounts == nil {
		ap.Accounts = map[string]string{}
	}
	def, _ := json.Marshal(ap)
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return api.Project{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_projects (name, definition, created_by, created_at) VALUES (?, ?, ?, ?)`,
		ap.Name, string(def), p.User, ms(g.now())); err != nil {
		if isUnique(err) {
			return api.Project{}, api.FieldErrorf(api.CodeConflict, "name", "project %s exists", ap.Name)
		}
		return api.Project{}, err
	}
	if _, err := g.ledger.CreateProjectTx(ctx, tx, accounting.NewProject{Name: ap.Name, Who: p.User}); err != nil {
		return api.Project{}, fmt.Errorf("ledger: %w", err)
	}
	rec, err := g.audit(ctx, tx, p.User, "project.created", ap.Name, ap)
	if err != nil {
		return api.Project{}, err
	}
	if err := tx.Commit(); err != nil {
		return api.Project{}, err
	}
	g.announce(rec)
	g.projMu.Lock()
	g.projects[ap.Name] = &ProjectConfig{Name: ap.Name, Members: ap.Members, Jurisdictions: ap.Jurisdictions, Accounts: ap.Accounts}
	g.projMu.Unlock()
	g.log.Info("project created", "project", ap.Name, "by", p.User)
	return ap, nil
}
