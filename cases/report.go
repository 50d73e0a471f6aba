package cases

import (
	"context"
	"database/sql"
	"errors"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// Rules are the rules a case runs and their parameters.
type Rules struct {
	Rules   []query.Rule // nil: the built-in rules
	Options query.DetectOptions
	// More, when set, runs after them (another rule language: Sigma) and
	// returns found with its own findings added.
	More func(ctx context.Context, db *sql.DB, opts query.DetectOptions, found []query.Finding) ([]query.Finding, error)
}

// Run runs the rules over the store's events.
func (r Rules) Run(ctx context.Context, store *query.Store) ([]query.Finding, error) {
	rules := r.Rules
	if rules == nil {
		var err error
		if rules, err = query.BuiltinRules(); err != nil {
			return nil, err
		}
	}
	opts := r.Options
	if opts.Events == "" {
		store.Window(&opts)
	}
	found, err := query.Detect(ctx, store.DB, rules, opts)
	if failed := (query.RuleErrors)(nil); err != nil && !errors.As(err, &failed) {
		return found, err // not a rule's own failure: nothing more runs
	}
	if r.More != nil {
		more, merr := r.More(ctx, store.DB, opts, found)
		if merr != nil {
			return found, merr
		}
		found = more
	}
	return found, err
}

// Report gathers the case report of store for found: everything in it is
// read from the store, the digest check too (the newest analyze stored),
// so a report made later from the case is the one analyze wrote.
func Report(ctx context.Context, store *query.Store, found []query.Finding) (*reports.Report, error) {
	rep, err := reports.Build(ctx, store.DB, store.Path, found)
	if err != nil {
		return nil, err
	}
	check, ok, err := LatestIntegrity(ctx, store.DB)
	if err != nil {
		return nil, err
	}
	if !ok {
		rep.IntegrityNote = noCheckNote
		return rep, nil
	}
	rep.Integrity, rep.IntegrityNote = check.Report, check.Note
	return rep, nil
}
