package gateway

import (
	"context"
	"strings"
	"time"
)

// recheckHolds re-checks, until ctx ends, the holds of jobs pending longer than
// PendingRecheck (ARCHITECTURE.md "Holds and charges"): would the hold still be
// placed now (an allocation covering now, a rate, enough left)? A hold that would
// not is flagged on its job (hold_problem, shown to the user and in the log);
// nothing is cancelled: the admin decides.
func (g *Gateway) recheckHolds(ctx context.Context) {
	age := g.cfg.PendingRecheck.Duration
	every := min(age/4, time.Hour)
	if every < time.Second {
		every = time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if err := g.recheckOnce(ctx, age); err != nil && ctx.Err() == nil {
			g.log.Warn("hold re-check failed", "err", err.Error())
		}
	}
}

func (g *Gateway) recheckOnce(ctx context.Context, age time.Duration) error {
	checks, err := g.ledger.RecheckHolds(ctx, g.now().Add(-age))
	if err != nil {
		return err
	}
	problems := map[string]string{} // gateway job id -> problem
	for _, c := range checks {
		id, _, _ := strings.Cut(c.Hold.JobID, "_") // an array task's hold names the array
		if !c.OK && problems[id] == "" {
			problems[id] = c.Problem + ": " + c.Detail
		} else if _, seen := problems[id]; !seen {
			problems[id] = ""
		}
	}
	for id, problem := range problems {
		res, err := g.db.ExecContext(ctx, `UPDATE gateway_jobs SET hold_problem = ?
			WHERE id = ? AND hold_problem != ? AND state IN ('PENDING', 'SUBMITTING', 'REQUEUED', 'SUSPENDED')`,
			problem, id, problem)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if problem != "" {
				g.log.Warn("hold of a long-pending job no longer holds", "job", id, "problem", problem)
			} else {
				g.log.Info("hold of a long-pending job holds again", "job", id)
			}
			g.events.publish(id)
		}
	}
	return nil
}
