package main

// Sigma rules on the command line: detect --sigma, rules --sigma and
// rules show --sigma. The flags live here so the commands' own files only
// register them and make one call.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
	"github.com/trailsift/trailsift/sigma"
)

// sigmaFlags are --sigma and --strict, and the rules they loaded.
type sigmaFlags struct {
	paths  []string
	strict bool

	set    *sigma.Set
	report sigma.Report
	picked []string // --rule ids that name Sigma rules
	ruled  bool     // --rule was given: only the rules it names run
	ran    int      // Sigma rules run
}

func (s *sigmaFlags) AddFlags(f *pflag.FlagSet, strict bool) {
	f.StringArrayVar(&s.paths, "sigma", nil, "also run the Sigma rules (AWS CloudTrail ones) in `PATH`, a file or a folder read recursively (repeatable)")
	if strict {
		f.BoolVar(&s.strict, "strict", false, "fail (exit 2) when a Sigma CloudTrail rule cannot be compiled, instead of listing it and going on")
	}
}

// read loads the --sigma paths once.
func (s *sigmaFlags) read() error {
	if len(s.paths) == 0 || s.set != nil {
		return nil
	}
	set, rep, err := sigma.Load(s.paths)
	if err != nil {
		return &usageError{"--sigma: " + err.Error()}
	}
	s.set, s.report = set, rep
	return nil
}

// load reads the --sigma paths for a run and says on stderr what was
// compiled; rules that were not are listed even with --quiet.
func (s *sigmaFlags) load(ios *streams, quiet bool) error {
	if s.set != nil || len(s.paths) == 0 {
		return nil
	}
	if err := s.read(); err != nil {
		return err
	}
	rep := s.report
	if !quiet || len(rep.Failed) > 0 {
		fmt.Fprintf(ios.Err, "trailsift: sigma: %s\n", sigmaSummary(rep))
	}
	for _, p := range rep.Failed {
		fmt.Fprintf(ios.Err, "trailsift: sigma: not compiled: %s\n", reports.SafeText(p.String()))
	}
	if s.strict && len(rep.Failed) > 0 {
		return &usageError{fmt.Sprintf("--strict: %d Sigma rule(s) could not be compiled", len(rep.Failed))}
	}
	return nil
}

func sigmaSummary(rep sigma.Report) string {
	return fmt.Sprintf("%d rules compiled, %d not compiled, %d skipped (not AWS CloudTrail), from %d files",
		rep.Compiled, len(rep.Failed), rep.Skipped, rep.Files)
}

// pick loads the Sigma rules and takes the --rule ids that name Sigma
// rules out of ids. When --rule named only Sigma rules, no built-in rule
// runs; without --rule, the built-in rules run with the Sigma ones.
func (s *sigmaFlags) pick(rules []query.Rule, ids *[]string, ios *streams, quiet bool) ([]query.Rule, error) {
	if err := s.load(ios, quiet); err != nil || s.set == nil || len(*ids) == 0 {
		return rules, err
	}
	s.ruled = true
	var rest []string
	for _, id := range *ids {
		id = strings.TrimSpace(id)
		if _, ok := s.set.Rule(id); ok {
			s.picked = append(s.picked, id)
		} else {
			rest = append(rest, id)
		}
	}
	*ids = rest
	if len(rest) == 0 {
		return nil, nil
	}
	return rules, nil
}

// detect adds the Sigma rules' findings to found, sorted together.
func (s *sigmaFlags) detect(ctx context.Context, db *sql.DB, opts query.DetectOptions, found []query.Finding) ([]query.Finding, error) {
	if s.set == nil {
		return found, nil
	}
	set := s.set
	if s.ruled {
		if len(s.picked) == 0 {
			return found, nil
		}
		set = set.Only(s.picked)
	}
	s.ran = set.Len()
	more, err := set.Detect(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	found = append(found, more...)
	query.SortFindings(found)
	return found, nil
}

// rules lists the Sigma rules of --sigma: compiled ones, then the others
// with the reason.
func (s *sigmaFlags) list(w io.Writer, format string) error {
	if err := s.read(); err != nil {
		return err
	}
	if format == "json" {
		type ruleOut struct {
			ID             string   `json:"id"`
			Title          string   `json:"title"`
			Severity       string   `json:"severity"`
			Attack         []string `json:"attack"`
			Kind           string   `json:"kind"`
			Source         string   `json:"source"`
			References     []string `json:"references"`
			FalsePositives []string `json:"false_positives"`
			SQL            string   `json:"sql"`
		}
		out := struct {
			Rules       []ruleOut       `json:"rules"`
			NotCompiled []sigma.Problem `json:"not_compiled"`
			Skipped     int             `json:"skipped_not_cloudtrail"`
		}{Rules: []ruleOut{}, NotCompiled: nonNilProblems(s.report.Failed), Skipped: s.report.Skipped}
		for _, r := range s.set.Rules() {
			out.Rules = append(out.Rules, ruleOut{r.ID, r.Title, string(r.Severity), nonNil(r.Attack), sigmaKind(r), r.Source,
				nonNil(r.References), nonNil(r.FalsePositives), r.SQL()})
		}
		enc := json.NewEncoder(reports.JSONWriter{W: w})
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tATT&CK\tKIND\tTITLE")
	for _, r := range s.set.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", reports.SafeText(r.ID), r.Severity, reports.SafeText(strings.Join(r.Attack, ",")), sigmaKind(r), reports.SafeText(r.Title))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.report.Failed) > 0 {
		fmt.Fprintf(w, "\nNot compiled:\n")
		for _, p := range s.report.Failed {
			fmt.Fprintf(w, "  %s\n", reports.SafeText(p.String()))
		}
	}
	fmt.Fprintf(w, "\n%s\n", sigmaSummary(s.report))
	return nil
}

func nonNilProblems(p []sigma.Problem) []sigma.Problem {
	if p == nil {
		return []sigma.Problem{}
	}
	return p
}

func sigmaKind(r *sigma.Rule) string {
	if r.IsCorrelation() {
		return "correlation"
	}
	return "detection"
}

// show prints one Sigma rule and the SQL it became.
func (s *sigmaFlags) show(w io.Writer, id string) error {
	if err := s.read(); err != nil {
		return err
	}
	r, ok := s.set.Rule(id)
	if !ok {
		if i := slices.IndexFunc(s.report.Failed, func(p sigma.Problem) bool { return p.ID == id }); i >= 0 {
			return &usageError{"Sigma rule " + id + " was not compiled: " + s.report.Failed[i].Reason}
		}
		return &usageError{fmt.Sprintf("no Sigma rule %q in %s; `trailsift rules --sigma PATH` lists them", id, strings.Join(s.paths, ", "))}
	}
	fmt.Fprintf(w, "%s: %s\n\n", reports.SafeText(r.ID), reports.SafeText(r.Title))
	fmt.Fprintf(w, "severity:  %s (level %s)\n", r.Severity, reports.SafeText(cmp.Or(r.Level, "-")))
	if len(r.Attack) > 0 {
		fmt.Fprintf(w, "ATT&CK:    %s\n", reports.SafeText(strings.Join(r.Attack, ", ")))
	}
	fmt.Fprintf(w, "kind:      Sigma %s rule\n", sigmaKind(r))
	fmt.Fprintf(w, "source:    %s\n\n", reports.SafeText(r.Source))
	if r.Description != "" {
		fmt.Fprintf(w, "%s\n\n", wrap(reports.SafeText(r.Description), 78, ""))
	}
	printList(w, "Known false positives:", r.FalsePositives)
	printList(w, "References:", r.References)
	fmt.Fprintln(w, "SQL:")
	for _, line := range strings.Split(r.SQL(), "\n") {
		fmt.Fprintf(w, "  %s\n", reports.SafeText(line))
	}
	return nil
}
