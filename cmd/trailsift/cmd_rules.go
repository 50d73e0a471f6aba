package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type rulesOptions struct {
	rulesDir string
	format   string
	sigma    sigmaFlags
}

func (o *rulesOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.rulesDir, "rules", "", "also load the rule files (*.sql) in `DIR`; one with a built-in rule's id replaces it")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table or json")
	o.sigma.AddFlags(f, false)
}

func newRulesCommand(ios *streams) *cobra.Command {
	o := &rulesOptions{}
	cmd := &cobra.Command{
		Use:   "rules [flags]",
		Short: "List the detection rules",
		Long: `List the detection rules: id, severity, MITRE ATT&CK techniques and title.

Rules are SQL files with a metadata header; the built-in ones are embedded in
trailsift, and --rules DIR adds your own in the same format. Show one rule in
full (description, parameters, false positives, references, SQL) with
"trailsift rules show ID".` + "\n" + exitHelp("rules"),
		Example: `  trailsift rules
  trailsift rules --rules ./my-rules/
  trailsift rules show console-login-without-mfa
  trailsift rules --sigma ~/sigma/rules/cloud/aws/`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			return checkChoice("--format", o.format, "table", "json")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.sigma.paths) > 0 {
				return o.sigma.list(ios.Out, o.format)
			}
			return runRules(o, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.AddCommand(newRulesShowCommand(ios))
	return cmd
}

func newRulesShowCommand(ios *streams) *cobra.Command {
	o := &rulesOptions{}
	cmd := &cobra.Command{
		Use:   "show [flags] ID",
		Short: "Show a detection rule in full",
		Long: `Show a detection rule in full: title, severity, ATT&CK techniques, description,
parameters with their defaults (change them with detect --set ID.NAME=VALUE),
known false positives, references and the SQL it runs.` + "\n" + exitHelp("rules"),
		Example: `  trailsift rules show console-login-without-mfa
  trailsift rules show --rules ./my-rules/ my-rule`,
		Args: positionalArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeRuleIDs(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.sigma.paths) > 0 {
				return o.sigma.show(ios.Out, args[0])
			}
			set, err := loadRuleSet(o.rulesDir, ios)
			if err != nil {
				return err
			}
			r, err := findRule(set.rules, args[0])
			if err != nil {
				return err
			}
			printRule(ios.Out, r)
			return set.exitErr()
		},
	}
	cmd.Flags().StringVar(&o.rulesDir, "rules", "", "also load the rule files (*.sql) in `DIR`")
	o.sigma.AddFlags(cmd.Flags(), false)
	return cmd
}

// ruleJSON is a rule as `rules --format json` prints it.
type ruleJSON struct {
	ID             string      `json:"id"`
	Title          string      `json:"title"`
	Severity       string      `json:"severity"`
	EscalatesTo    string      `json:"escalates_to"` // "" when findings keep severity
	Attack         []string    `json:"attack"`
	Description    string      `json:"description"`
	Params         []paramJSON `json:"params"`
	FalsePositives []string    `json:"false_positives"`
	References     []string    `json:"references"`
	Source         string      `json:"source"`
	SQL            string      `json:"sql"`
}

type paramJSON struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Default string `json:"default"`
	Doc     string `json:"description"`
}

func runRules(o *rulesOptions, ios *streams) error {
	set, err := loadRuleSet(o.rulesDir, ios)
	if err != nil {
		return err
	}
	if err := writeRules(ios.Out, o.format, set.rules); err != nil {
		return err
	}
	return set.exitErr()
}

func writeRules(w io.Writer, format string, rules []query.Rule) error {
	if format == "json" {
		out := []ruleJSON{}
		for _, r := range rules {
			j := ruleJSON{ID: r.ID, Title: r.Title, Severity: string(r.Severity), EscalatesTo: string(r.EscalatesTo), Attack: nonNil(r.Attack),
				Description: r.Description, Params: []paramJSON{}, FalsePositives: nonNil(r.FalsePositives),
				References: nonNil(r.References), Source: r.Source, SQL: r.SQL}
			for _, p := range r.Params {
				j.Params = append(j.Params, paramJSON{p.Name, p.Kind.String(), p.Default, p.Doc})
			}
			out = append(out, j)
		}
		enc := json.NewEncoder(reports.JSONWriter{W: w})
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tATT&CK\tTITLE")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", reports.SafeText(r.ID), severityRange(r), reports.SafeText(strings.Join(r.Attack, ",")), reports.SafeText(r.Title))
	}
	return tw.Flush()
}

func printRule(w io.Writer, r query.Rule) {
	fmt.Fprintf(w, "%s: %s\n\n", reports.SafeText(r.ID), reports.SafeText(r.Title))
	fmt.Fprintf(w, "severity:  %s\n", severityRange(r))
	if r.EscalatesTo != "" {
		fmt.Fprintf(w, "           (%s for the findings the description names)\n", r.EscalatesTo)
	}
	if len(r.Attack) > 0 {
		fmt.Fprintf(w, "ATT&CK:    %s\n", reports.SafeText(strings.Join(r.Attack, ", ")))
	}
	fmt.Fprintf(w, "source:    %s\n\n", reports.SafeText(r.Source))
	for _, para := range strings.Split(r.Description, "\n\n") {
		fmt.Fprintf(w, "%s\n\n", wrap(reports.SafeText(para), 78, ""))
	}
	if len(r.Params) > 0 {
		fmt.Fprintf(w, "Parameters (detect --set %s.NAME=VALUE):\n", r.ID)
		for _, p := range r.Params {
			fmt.Fprintf(w, "  %s = %s  (%s)", reports.SafeText(p.Name), reports.SafeText(p.Default), p.Kind)
			if p.Doc != "" {
				fmt.Fprintf(w, ": %s", reports.SafeText(p.Doc))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	printList(w, "Known false positives:", r.FalsePositives)
	printList(w, "References:", r.References)
	fmt.Fprintln(w, "SQL:")
	for _, line := range strings.Split(r.SQL, "\n") {
		fmt.Fprintf(w, "  %s\n", reports.SafeText(line))
	}
	for _, shared := range query.SharedRelations(r.SQL) {
		fmt.Fprintf(w, "\n%s, which the SQL reads (itself or through a table below), is defined over the same events as:\n", shared.Name)
		for _, line := range strings.Split(strings.TrimRight(shared.SQL, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// severityRange is "medium" for a rule whose findings keep its severity,
// "medium→high" for one that raises some.
func severityRange(r query.Rule) string {
	lo, hi := r.SeverityRange()
	if lo == hi {
		return string(lo)
	}
	return string(lo) + "→" + string(hi)
}

func printList(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, it := range items {
		fmt.Fprintf(w, "  - %s\n", wrap(reports.SafeText(it), 74, "    "))
	}
	fmt.Fprintln(w)
}

// wrap breaks text into lines of at most width, indenting continuations.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(word) > width {
				b.WriteString("\n" + indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

func findRule(rules []query.Rule, id string) (query.Rule, error) {
	for _, r := range rules {
		if r.ID == id {
			return r, nil
		}
	}
	return query.Rule{}, &usageError{fmt.Sprintf("no rule %q; `trailsift rules` lists them", id)}
}

func checkChoice(flag, val string, choices ...string) error {
	for _, c := range choices {
		if val == c {
			return nil
		}
	}
	return &usageError{fmt.Sprintf("%s %q: want one of %s", flag, val, strings.Join(choices, ", "))}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
