package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type detectOptions struct {
	source   storeSource
	ruleIDs  []string
	since    string
	until    string
	sets     []string
	rulesDir string
	format   string
	failOn   string
	quiet    bool
	sigma    sigmaFlags

	// parsed in PreRunE
	detect   query.DetectOptions
	failRank int // 0: never fail
}

func (o *detectOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringSliceVar(&o.ruleIDs, "rule", nil, "run only this rule `ID` (repeat, or separate with commas; default: all)")
	f.StringVar(&o.since, "since", "", "only events at or after `TIME` (2024-03-01, 2024-03-01T10:00:00Z; UTC unless a zone is given)")
	f.StringVar(&o.until, "until", "", "only events up to `TIME`, inclusive (a date means to the end of that day)")
	f.StringArrayVar(&o.sets, "set", nil, "set a rule parameter: `ID.NAME=VALUE` (repeatable), e.g. mfa-failure-burst.window=10m")
	f.StringVar(&o.rulesDir, "rules", "", "also load the rule files (*.sql) in `DIR`; one with a built-in rule's id replaces it")
	f.StringVar(&o.format, "format", "table", "output format: table, json, jsonl or csv")
	f.StringVar(&o.failOn, "fail-on", "none", "exit with status 4 when a finding at or above `SEVERITY` fired: none, info, low, medium, high, critical")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
	o.sigma.AddFlags(f, true)
}

func newDetectCommand(io *streams) *cobra.Command {
	o := &detectOptions{}
	cmd := &cobra.Command{
		Use:   "detect [flags]",
		Short: "Run the sign-in and MFA detections over a database",
		Long: `Run detection rules over a trailsift database and print their findings, most
severe first, then by time.

The built-in rules look for console and IAM Identity Center MFA failures, bursts
of them, sign-ins right after them, console sign-ins without MFA, root sign-ins,
MFA device changes and removals followed by sign-ins, and password brute force
and spraying; "trailsift rules" lists them. Each finding carries the rule, its
severity, the actor, account, source IPs, user agents, first and last time, a
count and every event id, so a timeline can be drawn around it.

The database is opened read-only. Output is data only on stdout (table, json,
jsonl, csv); the summary goes to stderr. Text from the logs is made safe for the
terminal in tables and neutralised against formula injection in CSV.` + "\n" + exitHelp("detect"),
		Example: `  trailsift detect --db case.duckdb
  trailsift detect --db case.duckdb --format jsonl > findings.jsonl
  trailsift detect --db case.duckdb --rule console-mfa-failure --since 2024-03-01 --until 2024-03-08
  trailsift detect --db case.duckdb --set mfa-failure-burst.threshold=3 --set mfa-failure-burst.window=10m
  trailsift detect --db case.duckdb --rules ./my-rules/ --fail-on high
  trailsift detect --db case.duckdb --sigma ~/sigma/rules/cloud/aws/cloudtrail/`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			return o.parse()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetect(cmd, o, io)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// parse checks the flags that cobra cannot.
func (o *detectOptions) parse() error {
	if err := checkChoice("--format", o.format, "table", "json", "jsonl", "csv"); err != nil {
		return err
	}
	if o.failOn != "none" {
		s, err := query.ParseSeverity(o.failOn)
		if err != nil {
			return &usageError{"--fail-on: " + err.Error() + " or none"}
		}
		o.failRank = s.Rank()
	}
	var err error
	if o.detect.Since, err = parseTimeFlag("--since", o.since, false); err != nil {
		return err
	}
	if o.detect.Until, err = parseTimeFlag("--until", o.until, true); err != nil {
		return err
	}
	if !o.detect.Since.IsZero() && !o.detect.Until.IsZero() && !o.detect.Since.Before(o.detect.Until) {
		return &usageError{fmt.Sprintf("--since %s is not before --until %s", o.since, o.until)}
	}
	o.detect.Params = map[string]map[string]string{}
	for _, s := range o.sets {
		key, val, ok := strings.Cut(s, "=")
		dot := strings.LastIndexByte(key, '.')
		if !ok || dot <= 0 || dot == len(key)-1 || val == "" {
			return &usageError{fmt.Sprintf("--set %q: want RULE-ID.PARAM=VALUE, e.g. mfa-failure-burst.window=10m", s)}
		}
		id, name := key[:dot], key[dot+1:]
		if o.detect.Params[id] == nil {
			o.detect.Params[id] = map[string]string{}
		}
		o.detect.Params[id][name] = val
	}
	return nil
}

// timeLayouts are what --since and --until accept; without a zone, UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
}

// parseTimeFlag reads a --since or --until value. For --until (end), a bare
// date means the end of that day, and a time is inclusive.
func parseTimeFlag(flag, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if end {
				t = t.Add(time.Microsecond) // DuckDB's precision
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, &usageError{fmt.Sprintf("%s %q: want a date or time like 2024-03-01 or 2024-03-01T10:00:00Z", flag, s)}
}

func runDetect(cmd *cobra.Command, o *detectOptions, io *streams) error {
	start := time.Now()
	rules, err := loadRuleSet(o.rulesDir, io)
	if err != nil {
		return err
	}
	if rules, err = o.sigma.pick(rules, &o.ruleIDs, io, o.quiet); err != nil {
		return err
	}
	for id, vals := range o.detect.Params {
		r, err := findRule(rules, id)
		if err != nil {
			return &usageError{fmt.Sprintf("--set: %v", err)}
		}
		if err := r.CheckParams(vals); err != nil {
			return &usageError{"--set: " + err.Error()}
		}
	}
	if len(o.ruleIDs) > 0 {
		var picked []query.Rule
		for _, id := range o.ruleIDs {
			r, err := findRule(rules, strings.TrimSpace(id))
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(picked, func(p query.Rule) bool { return p.ID == r.ID }) {
				picked = append(picked, r)
			}
		}
		rules = picked
		for id := range o.detect.Params {
			if _, err := findRule(rules, id); err != nil {
				delete(o.detect.Params, id) // set for a rule not run this time
			}
		}
	}
	ctx := cmd.Context()
	store, err := o.source.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	found, err := query.Detect(ctx, store.DB, rules, o.detect)
	var re *query.RuleError
	if errors.As(err, &re) && o.rulesDir != "" && strings.HasPrefix(re.File, o.rulesDir) && !errors.Is(err, context.Canceled) && !query.IsEngineError(err) {
		return &usageError{err.Error()} // the user's own rule does not run
	}
	if err != nil {
		return err
	}
	if found, err = o.sigma.detect(ctx, store.DB, o.detect, found); err != nil {
		return err
	}
	if err := writeFindings(io.Out, o.format, found); err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(io.Err, "%s from %d rules in %.1fs\n", summarize(found), len(rules)+o.sigma.ran, time.Since(start).Seconds())
	}
	if o.failRank > 0 {
		n := 0
		for _, f := range found {
			if f.Severity.Rank() >= o.failRank {
				n++
			}
		}
		if n > 0 {
			return &exitCodeError{code: exitFindings, err: fmt.Errorf("%d finding(s) at or above %s (--fail-on)", n, o.failOn)}
		}
	}
	return nil
}

// summarize counts findings by severity: "3 findings: 1 critical, 2 high".
func summarize(found []query.Finding) string {
	if len(found) == 0 {
		return "no findings"
	}
	var parts []string
	for i := len(query.Severities) - 1; i >= 0; i-- {
		s := query.Severities[i]
		n := 0
		for _, f := range found {
			if f.Severity == s {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return fmt.Sprintf("%d findings: %s", len(found), strings.Join(parts, ", "))
}

func writeFindings(w io.Writer, format string, found []query.Finding) error {
	switch format {
	case "json":
		enc := json.NewEncoder(reports.JSONWriter{W: w})
		enc.SetIndent("", "  ")
		if found == nil {
			found = []query.Finding{}
		}
		return enc.Encode(found)
	case "jsonl":
		enc := json.NewEncoder(reports.JSONWriter{W: w})
		for _, f := range found {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		return writeFindingsCSV(w, found)
	}
	return writeFindingsTable(w, found)
}

const timeFormat = "2006-01-02 15:04:05"

// writeFindingsTable aligns the findings, fitting the terminal's width when
// stdout is one; every cell is made terminal-safe by reports.Table.
func writeFindingsTable(w io.Writer, found []query.Finding) error {
	if len(found) == 0 {
		return nil
	}
	width := 0
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width, _, _ = term.GetSize(int(f.Fd()))
	}
	t := reports.NewTable([]string{"SEVERITY", "RULE", "FIRST SEEN (UTC)", "LAST SEEN", "COUNT", "ACTOR", "ACCOUNT", "SOURCE IPS", "DETAILS"}, width)
	for _, f := range found {
		ips := strings.Join(f.SourceIPs, ",")
		if len(f.SourceIPs) > 2 {
			ips = strings.Join(f.SourceIPs[:2], ",") + fmt.Sprintf(" +%d", len(f.SourceIPs)-2)
		}
		err := t.Add(w, []string{string(f.Severity), f.RuleID, formatTime(f.FirstSeen), formatTime(f.LastSeen),
			strconv.FormatInt(f.Count, 10), orDash(f.Actor), orDash(f.AccountID), orDash(ips), f.Details})
		if err != nil {
			return err
		}
	}
	return t.Close(w)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return reports.NoTime
	}
	return t.UTC().Format(timeFormat)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var csvHeader = []string{"rule_id", "title", "severity", "actor", "account_id", "first_seen", "last_seen",
	"count", "source_ips", "user_agents", "event_ids", "details"}

// writeFindingsCSV writes one row per finding; lists are JSON arrays in
// their cell, times RFC 3339 UTC.
func writeFindingsCSV(w io.Writer, found []query.Finding) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	list := func(l []string) string {
		if l == nil {
			l = []string{}
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, f := range found {
		row := []string{f.RuleID, f.Title, string(f.Severity), f.Actor, f.AccountID, ts(f.FirstSeen), ts(f.LastSeen),
			strconv.FormatInt(f.Count, 10), list(f.SourceIPs), list(f.UserAgents), list(f.EventIDs), f.Details}
		for i := range row {
			row[i] = reports.SafeCSV(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
