package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/lineage"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type traceOptions struct {
	source   storeSource
	finding  string
	rules    ruleSetFlags
	format   string
	timeline int
	newest   bool
}

func (o *traceOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVar(&o.finding, "finding", "", "trace the sessions of every finding of `RULE-ID`: those stored by analyze, else the rule is run now")
	o.rules.AddFlags(f)
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table, md (Markdown, for a case file) or json")
	f.IntVar(&o.timeline, "timeline", 20, "show `N` events of each session (0: none)")
	f.BoolVar(&o.newest, "newest", false, "show each session's newest events first (default: its first events, oldest first)")
}

func newTraceCommand(ios *streams) *cobra.Command {
	o := &traceOptions{}
	cmd := &cobra.Command{
		Use:   "trace [flags] ACCESS-KEY-ID | ARN | EVENT-ID",
		Short: "Follow a credential to its origin and show what each session did and issued",
		Long: `Follow credentials through the sessions table (one row per credential seen,
built at load time): who really acted, by which chain, and what happened next.

The argument is read by its shape:
  ACCESS-KEY-ID  AKIA... or ASIA...: the session of that key
  ARN            arn:...: the sessions acting as it (an assumed-role session ARN),
                 of that role (a role ARN), or whose origin it is (an IAM user
                 ARN gives every session that user's sign-ins and keys led to)
  EVENT-ID       anything else: the session that made the event, and the
                 sessions it issued (an AssumeRole, a console sign-in)
--finding RULE-ID traces the events of every finding of the rule instead: the
findings analyze stored in the case, or, on a store analyze did not make or
with --rules or --set, the rule run now.

For each session (at most 50; the rest are counted): the chain from the origin
(the human or workload at its root) to it, each hop with how it was issued, how
sure the link is (key, arn, creation-date), its account and time; a summary of
what it did (services, event names and errors with counts, first and last use,
source IPs, user agents); its timeline (--timeline N events, the first ones
unless --newest); and the sessions it issued, and theirs. Walks stop after 32
hops and at a loop, and say so. Times are UTC.

Formats: table (the terminal), md (Markdown for a case file), json (one object;
its fields are listed in the README). The database is opened read-only.

An argument that matches nothing is a usage error (exit 2) with what was
searched, as an --around event id that is not there: a script tells "not in
this evidence" from an empty answer. --finding with no findings exits 0.` + "\n" + exitHelp("trace"),
		Example: `  trailsift trace --db case.duckdb ASIAY34FZKBOKMUTVV7A
  trailsift trace --db case.duckdb arn:aws:iam::111111111111:user/alice --format md > alice.md
  trailsift trace --db case.duckdb 3038ebd2-c98a-4c65-9b6e-e22506292313 --timeline 50 --newest
  trailsift trace --db case.duckdb --finding signin-after-mfa-failure --format json
  trailsift trace --parquet lake/ arn:aws:iam::222222222222:role/CrossAccountAudit`,
		Args: positionalArgs(cobra.MaximumNArgs(1)),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if err := checkChoice("--format", o.format, lineage.Formats...); err != nil {
				return err
			}
			if o.timeline < 0 {
				return &usageError{"--timeline must not be negative"}
			}
			if (len(args) == 0) == (o.finding == "") {
				return &usageError{"give one ACCESS-KEY-ID, ARN or EVENT-ID, or --finding RULE-ID"}
			}
			if o.finding == "" && (o.rules.rulesDir != "" || len(o.rules.sets) > 0) {
				return &usageError{"--rules and --set choose how --finding runs its rule: give --finding RULE-ID too"}
			}
			return o.rules.parse()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), o, args, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runTrace(ctx context.Context, o *traceOptions, args []string, ios *streams) error {
	store, err := o.source.open(ctx, ios.Err)
	if err != nil {
		return err
	}
	defer store.Close()
	opts := lineage.Options{Timeline: o.timeline, Newest: o.newest}
	var tr *lineage.Trace
	var rules *ruleSet
	if o.finding != "" {
		var found []query.Finding
		if found, rules, err = traceFindings(ctx, o, store, ios); err != nil {
			return err
		}
		tr, err = lineage.TraceFindings(ctx, store.DB, o.finding, found, opts)
	} else {
		tr, err = lineage.TraceArgument(ctx, store.DB, args[0], opts)
	}
	var nf *lineage.NotFoundError
	switch {
	case errors.As(err, &nf):
		return &usageError{err.Error() + "\n(an argument is an access key id AKIA.../ASIA..., an ARN arn:..., or an event id)"}
	case errors.Is(err, lineage.ErrNoSessions):
		return &usageError{fmt.Sprintf("%v: it was made before trailsift derived credential lineage; "+
			"run `trailsift ingest` on it again (files already loaded are not read twice) to build it", err)}
	case err != nil:
		return err
	}
	if err := lineage.Write(ios.Out, tr, o.format, ios.outWidth); err != nil {
		return err
	}
	if rules != nil {
		return rules.exitErr()
	}
	return nil
}

// traceFindings are the findings of o.finding: those the last analyze
// stored, when analyze made this store and no --rules or --set asks for a
// run of its own; else the rule's findings now, with the rules loaded (a
// file of --rules that failed is said on stderr and counts in the exit).
func traceFindings(ctx context.Context, o *traceOptions, store *query.Store, ios *streams) ([]query.Finding, *ruleSet, error) {
	var analyzed bool
	if err := store.DB.QueryRowContext(ctx, `SELECT count(*) > 0 FROM integrity_checks`).Scan(&analyzed); err != nil {
		return nil, nil, err
	}
	if analyzed && o.rules.rulesDir == "" && len(o.rules.sets) == 0 {
		stored, err := query.LoadFindings(ctx, store.DB)
		if err != nil {
			return nil, nil, err
		}
		found := []query.Finding{}
		for _, f := range stored {
			if f.RuleID == o.finding {
				found = append(found, f)
			}
		}
		fmt.Fprintf(ios.Err, "%s: %d finding(s) stored by analyze\n", reports.SafeText(o.finding), len(found))
		return found, nil, nil
	}
	rules, err := o.rules.load(ios)
	if err != nil {
		return nil, nil, err
	}
	r, err := findRule(rules.rules, o.finding)
	if err != nil {
		return nil, nil, err
	}
	params := map[string]map[string]string{}
	if p, ok := o.rules.params[r.ID]; ok {
		params[r.ID] = p
	}
	loadFailures := len(rules.failed)
	found, err := query.Detect(ctx, store.DB, []query.Rule{r}, query.DetectOptions{Params: params})
	if err := rules.detectErr(ios, err); err != nil {
		return nil, nil, err
	}
	if len(rules.failed) > loadFailures {
		return nil, nil, rules.exitErr() // the rule did not run: nothing to trace
	}
	fmt.Fprintf(ios.Err, "%s: %d finding(s), the rule run now\n", r.ID, len(found))
	if found == nil {
		found = []query.Finding{}
	}
	return found, rules, nil
}
