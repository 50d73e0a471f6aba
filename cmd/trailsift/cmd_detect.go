package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type detectOptions struct {
	source  storeSource
	ruleIDs []string
	since   string
	until   string
	rules   ruleSetFlags
	format  string
	failOn  string
	quiet   bool
	json    bool
	sigma   sigmaFlags

	// parsed in PreRunE
	detect   query.DetectOptions
	failRank int // 0: never fail
}

func (o *detectOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringSliceVar(&o.ruleIDs, "rule", nil, "run only this rule `ID` (repeat, or separate with commas; default: all)")
	f.StringVar(&o.since, "since", "", "only events at or after `TIME` (2024-03-01, 2024-03-01T10:00, 2024-03-01T10:00+01:00; UTC unless it has a zone or Z)")
	f.StringVar(&o.until, "until", "", "only events up to `TIME`, inclusive (a date means to the end of that day; UTC unless it has a zone or Z)")
	o.rules.AddFlags(f)
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table, json, jsonl or csv")
	f.StringVar(&o.failOn, "fail-on", "none", "exit with status 4 when a finding at or above `SEVERITY` fired: none, info, low, medium, high, critical")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stderr instead of a line (stdout has the findings)")
	o.sigma.AddFlags(f, true)
}

func newDetectCommand(ios *streams) *cobra.Command {
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
			return runDetect(cmd, o, ios)
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
	if o.detect.Since, err = parseTimeFlag("--since", o.since, false, time.UTC); err != nil {
		return err
	}
	if o.detect.Until, err = parseTimeFlag("--until", o.until, true, time.UTC); err != nil {
		return err
	}
	if !o.detect.Since.IsZero() && !o.detect.Until.IsZero() && !o.detect.Since.Before(o.detect.Until) {
		return &usageError{fmt.Sprintf("--since %s is not before --until %s", o.since, o.until)}
	}
	if err := o.rules.parse(); err != nil {
		return err
	}
	o.detect.Params = o.rules.params
	return nil
}

// timeLayouts are what --since and --until accept; a time without a zone
// is in the zone the command shows times in (--timezone, else UTC).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
}

// parseTimeFlag reads a --since or --until value; a date or time without a
// zone is in loc, one with a zone or Z keeps it. For --until (end), a bare
// date means the end of that day in loc, and a time is inclusive.
func parseTimeFlag(flag, s string, end bool, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t.UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			if end {
				t = t.Add(time.Microsecond) // DuckDB's precision
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, &usageError{fmt.Sprintf("%s %q: want a date or time like 2024-03-01 or 2024-03-01T10:00:00Z", flag, s)}
}

// detectSummary is detect --json, on stderr: stdout holds the findings.
type detectSummary struct {
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	Rules      int            `json:"rules"`
	Seconds    float64        `json:"seconds"`
}

func runDetect(cmd *cobra.Command, o *detectOptions, ios *streams) error {
	start := time.Now()
	set, err := o.rules.load(ios)
	if err != nil {
		return err
	}
	rules, err := o.sigma.pick(set.rules, &o.ruleIDs, ios, o.quiet)
	if err != nil {
		return err
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
	store, err := o.source.open(ctx, ios.Err)
	if err != nil {
		return err
	}
	defer store.Close()
	store.Window(&o.detect)
	found, err := query.Detect(ctx, store.DB, rules, o.detect)
	if err := set.detectErr(ios, err); err != nil {
		return err
	}
	if found, err = o.sigma.detect(ctx, store.DB, o.detect, found); err != nil {
		return err
	}
	if err := reports.WriteFindings(ios.Out, o.format, found, ios.outWidth); err != nil {
		return err
	}
	sum := detectSummary{Findings: len(found), BySeverity: bySeverity(found), Rules: len(rules) + o.sigma.ran, Seconds: time.Since(start).Seconds()}
	switch {
	case o.json:
		if err := writeJSONSummary(ios.Err, sum); err != nil {
			return err
		}
	case !o.quiet:
		fmt.Fprintf(ios.Err, "%s from %d rules in %.1fs\n", summarize(found), sum.Rules, sum.Seconds)
	}
	// A rule that failed says the findings are incomplete: that wins.
	if err := set.exitErr(); err != nil {
		return err
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
