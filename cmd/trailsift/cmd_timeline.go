package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

type timelineOptions struct {
	source     storeSource
	actor      string
	userARN    string
	ip         string
	account    string
	region     string
	eventNames []string
	errorsOnly bool
	since      string
	until      string
	around     string
	window     string
	finding    string
	rules      ruleSetFlags
	format     string
	timezone   string
	limit      int

	// parsed in PreRunE
	filter    reports.TimelineFilter
	windowDur time.Duration
	location  *time.Location
}

func (o *timelineOptions) AddFlags(f *pflag.FlagSet) {
	o.source.AddFlags(f)
	f.StringVar(&o.actor, "actor", "", "only events of this `NAME` (the actor column, or the user name)")
	f.StringVar(&o.userARN, "user-arn", "", "only events of this user `ARN`")
	f.StringVar(&o.ip, "ip", "", "only events from this source `IP`")
	f.StringVar(&o.account, "account", "", "only events of this `ACCOUNT` id")
	f.StringVar(&o.region, "region", "", "only events in this `REGION`")
	f.StringSliceVar(&o.eventNames, "event", nil, "only these event `NAMES` (repeat, or separate with commas)")
	f.BoolVar(&o.errorsOnly, "errors", false, "only events with an error code or a failed sign-in")
	f.StringVar(&o.since, "since", "", "only events at or after `TIME` (2024-03-01, 2024-03-01T10:00, 2024-03-01T10:00Z); a time without a zone or Z is in --timezone")
	f.StringVar(&o.until, "until", "", "only events up to `TIME`, inclusive (a date means to the end of that day); a time without a zone or Z is in --timezone")
	f.StringVar(&o.around, "around", "", "only events within --window of the event with this `EVENT-ID`")
	f.StringVar(&o.window, "window", "30m", "with --around: how far before and after, a `DURATION` (e.g. 10m, 2h)")
	f.StringVar(&o.finding, "finding", "", "only the events of the findings of this `RULE-ID` (the rule is run now)")
	o.rules.AddFlags(f)
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table, csv, jsonl (csv and jsonl import into Timesketch) or md")
	f.StringVar(&o.timezone, "timezone", "UTC", "display times of table and md in this `ZONE` (e.g. Europe/Berlin); csv and jsonl are always UTC")
	f.IntVar(&o.limit, "limit", 0, "write at most `N` events (0: all); the rest are counted")
}

func newTimelineCommand(ios *streams) *cobra.Command {
	o := &timelineOptions{}
	cmd := &cobra.Command{
		Use:   "timeline [flags]",
		Short: "List events in time order, filtered by actor, IP, time, an event or a finding",
		Long: `List events in time order. Filters combine (AND): actor, user ARN, source IP,
account, region, event names, errors only, a time window, a window around one
event (--around ID --window 30m), and the events of a rule's findings
(--finding RULE-ID, which runs that rule now, so it works on any store; with
--rules DIR and --set ID.NAME=VALUE as detect takes them).

Formats:
  table  aligned, for the terminal (control characters and ANSI escapes from the
         logs are replaced)
  csv    Timesketch's import columns: message, datetime (ISO 8601 UTC),
         timestamp_desc, then the event's fields and its requestParameters as
         JSON; cells a spreadsheet would run as formulas are neutralised
  jsonl  the same columns, one JSON object per line
  md     a Markdown table

In table and md, the steps of one IAM Identity Center sign-in (events sharing an
AuthWorkflowID) are one row telling the story: "password OK → TOTP failed". In
csv and jsonl every step keeps its own row; auth_workflow_id and story tie them.
Times are UTC unless --timezone says otherwise (table and md only), and the
zone is always stated. A --since or --until without a zone is in --timezone
too: --timezone Europe/Berlin --since 2024-03-05T10:00 is 10:00 in Berlin. The database is opened read-only.` + "\n" + exitHelp("timeline"),
		Example: `  trailsift timeline --db case.duckdb --actor alice --since 2024-03-01T00:00Z --until 2024-03-02
  trailsift timeline --db case.duckdb --ip 203.0.113.7 --format csv > ip.csv
  trailsift timeline --db case.duckdb --around 3f1c0a9e-... --window 30m
  trailsift timeline --db case.duckdb --finding console-mfa-failure --format jsonl
  trailsift timeline --db case.duckdb --finding console-brute-force --set console-brute-force.threshold=3
  trailsift timeline --db case.duckdb --finding my-rule --rules ./my-rules/
  trailsift timeline --db case.duckdb --errors --event ConsoleLogin --timezone America/New_York`,
		Args: positionalArgs(cobra.NoArgs),
		PreRunE: func(*cobra.Command, []string) error {
			return o.parse()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTimeline(cmd, o, ios)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (o *timelineOptions) parse() error {
	if err := checkChoice("--format", o.format, "table", "csv", "jsonl", "md"); err != nil {
		return err
	}
	loc, err := time.LoadLocation(o.timezone)
	if err != nil {
		return &usageError{fmt.Sprintf("--timezone %q: %v (use an IANA name such as Europe/Berlin, or UTC)", o.timezone, err)}
	}
	o.location = loc
	if o.limit < 0 {
		return &usageError{"--limit must not be negative"}
	}
	f := reports.TimelineFilter{Actor: o.actor, UserARN: o.userARN, SourceIP: o.ip, Account: o.account, Region: o.region, ErrorsOnly: o.errorsOnly}
	for _, n := range o.eventNames {
		if n = strings.TrimSpace(n); n != "" {
			f.EventNames = append(f.EventNames, n)
		}
	}
	if f.Since, err = parseTimeFlag("--since", o.since, false, loc); err != nil {
		return err
	}
	if f.Until, err = parseTimeFlag("--until", o.until, true, loc); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return &usageError{fmt.Sprintf("--since %s is not before --until %s", o.since, o.until)}
	}
	if o.windowDur, err = query.ParseDuration(o.window); err != nil || o.windowDur <= 0 {
		return &usageError{fmt.Sprintf("--window %q: want a duration such as 30m or 2h", o.window)}
	}
	f.WithRequestParameters = o.format == "csv" || o.format == "jsonl"
	if o.finding == "" && (o.rules.rulesDir != "" || len(o.rules.sets) > 0) {
		return &usageError{"--rules and --set choose how --finding runs its rule: give --finding RULE-ID too"}
	}
	if err := o.rules.parse(); err != nil {
		return err
	}
	o.filter = f
	return nil
}

func runTimeline(cmd *cobra.Command, o *timelineOptions, ios *streams) error {
	ctx := cmd.Context()
	store, err := o.source.open(ctx, ios.Err)
	if err != nil {
		return err
	}
	defer store.Close()
	f := o.filter
	var title []string
	if o.around != "" {
		t, err := reports.EventTime(ctx, store.DB, o.around)
		if errors.Is(err, reports.ErrNoEvent) {
			return &usageError{fmt.Sprintf("--around %q: %v", o.around, err)}
		}
		if errors.Is(err, reports.ErrAmbiguousEvent) {
			fmt.Fprintf(ios.Err, "trailsift: --around %q: %s\n", o.around, reports.SafeLines(err.Error()))
		} else if err != nil {
			return err
		}
		lo, hi := t.Add(-o.windowDur), t.Add(o.windowDur+time.Microsecond)
		if f.Since.IsZero() || lo.After(f.Since) {
			f.Since = lo
		}
		if f.Until.IsZero() || hi.Before(f.Until) {
			f.Until = hi
		}
		title = append(title, fmt.Sprintf("within %s of event %s", o.window, o.around))
	}
	var rules *ruleSet
	if o.finding != "" {
		if rules, err = o.rules.load(ios); err != nil {
			return err
		}
		r, err := findRule(rules.rules, o.finding)
		if err != nil {
			return err
		}
		params := map[string]map[string]string{}
		if p, ok := o.rules.params[r.ID]; ok {
			params[r.ID] = p // the others' are checked by load, and not used
		}
		loadFailures := len(rules.failed)
		found, err := query.Detect(ctx, store.DB, []query.Rule{r}, query.DetectOptions{Params: params})
		if err := rules.detectErr(ios, err); err != nil {
			return err
		}
		if len(rules.failed) > loadFailures {
			return rules.exitErr() // the rule did not run: no events to show
		}
		f.EventIDs = []string{}
		for _, fd := range found {
			f.EventIDs = append(f.EventIDs, fd.EventIDs...)
		}
		fmt.Fprintf(ios.Err, "%s: %d finding(s), %d event(s)\n", r.ID, len(found), len(f.EventIDs))
		title = append(title, fmt.Sprintf("events of the %d %s finding(s)", len(found), r.ID))
	}
	title = append(title, describeFilter(o)...)
	f.Events = store.WindowEvents(f.Since, f.Until)
	tw, err := reports.NewTimelineWriter(ios.Out, reports.TimelineOptions{Format: o.format, Location: o.location, MaxWidth: ios.outWidth,
		Title: timelineTitle(title)})
	if err != nil {
		return err
	}
	if err := reports.EachEvent(ctx, store.DB, f, o.limit, tw.Add); err != nil {
		return err
	}
	var more int64
	if o.limit > 0 && tw.Events() == int64(o.limit) {
		total, err := reports.CountEvents(ctx, store.DB, f)
		if err != nil {
			return err
		}
		more = total - tw.Events()
		if more > 0 {
			fmt.Fprintf(ios.Err, "%d more events match; raise --limit to see them\n", more)
		}
	}
	if note := tw.UntimedNote(); note != "" {
		fmt.Fprintf(ios.Err, "note: %s\n", note)
	}
	if err := tw.Close(more); err != nil {
		return err
	}
	if rules != nil {
		return rules.exitErr()
	}
	return nil
}

func timelineTitle(parts []string) string {
	if len(parts) == 0 {
		return "All events"
	}
	return "Events matching " + strings.Join(parts, "; ")
}

// describeFilter names the filters in words for the Markdown title.
func describeFilter(o *timelineOptions) []string {
	var out []string
	for _, p := range []struct{ name, val string }{{"actor", o.actor}, {"user ARN", o.userARN}, {"source IP", o.ip},
		{"account", o.account}, {"region", o.region}, {"since", o.since}, {"until", o.until}} {
		if p.val != "" {
			out = append(out, p.name+" "+p.val)
		}
	}
	if len(o.eventNames) > 0 {
		name := "event name "
		if len(o.eventNames) > 1 {
			name = "event names "
		}
		out = append(out, name+strings.Join(o.eventNames, ", "))
	}
	if o.errorsOnly {
		out = append(out, "errors only")
	}
	return out
}
