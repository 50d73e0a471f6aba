package cases

import (
	"context"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// Rules are the rules a case runs and their parameters.
type Rules struct {
	Rules   []query.Rule // nil: the built-in rules
	Options query.DetectOptions
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
	return query.Detect(ctx, store.DB, rules, r.Options)
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
