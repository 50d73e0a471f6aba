package reports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Timeline formats.
const (
	FormatMarkdown = "md"
)

// TimesketchDesc is the timestamp_desc of every timeline row: the time is
// CloudTrail's eventTime.
const TimesketchDesc = "Event Time"

// TimelineOptions tune a TimelineWriter.
type TimelineOptions struct {
	Format   string         // table, csv, jsonl or md
	Location *time.Location // display zone of table and md (CSV and JSONL are always UTC)
	MaxWidth int            // table: total width to fit (0: no limit)
	Title    string         // md: what the timeline shows
}

// TimelineWriter writes a timeline as events arrive.
//
// CSV and JSON lines follow Timesketch's import format: message, datetime
// (ISO 8601, UTC), timestamp_desc, then the event's fields, one row per
// event, with request_parameters as JSON text. The steps of an Identity
// Center sign-in keep their own rows there and share auth_workflow_id and
// story.
//
// The table and Markdown formats are for reading: the steps of one
// Identity Center sign-in collapse into one row at the time of its first
// step, telling the story ("password OK → TOTP failed").
type TimelineWriter struct {
	w       *bufio.Writer
	opts    TimelineOptions
	table   *Table
	csv     *csv.Writer
	seen    map[string]bool // sign-in workflows already shown as one row
	rows    int64           // rows written
	events  int64           // events received
	untimed int64           // events without a time
	grouped int64           // sign-ins collapsed
}

var timelineColumns = []string{"message", "datetime", "timestamp_desc", "event_id", "event_name", "event_source", "event_type",
	"actor", "user_type", "user_name", "user_arn", "account_id", "region", "source_ip", "user_agent", "outcome",
	"error_code", "error_message", "mfa_used", "credential_type", "auth_workflow_id", "story", "request_parameters"}

// NewTimelineWriter starts a timeline on w.
func NewTimelineWriter(w io.Writer, opts TimelineOptions) (*TimelineWriter, error) {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	t := &TimelineWriter{w: bufio.NewWriterSize(w, 64<<10), opts: opts, seen: map[string]bool{}}
	switch opts.Format {
	case FormatCSV:
		t.csv = csv.NewWriter(t.w)
		return t, t.csv.Write(timelineColumns)
	case FormatJSONL:
	case FormatTable, "":
		t.table = NewTable([]string{"TIME (" + zoneName(opts.Location) + ")", "ACCOUNT", "REGION", "ACTOR", "EVENT", "SOURCE IP",
			"RESULT", "DETAIL", "USER AGENT", "EVENT ID"}, opts.MaxWidth)
	case FormatMarkdown:
		title := opts.Title
		if title == "" {
			title = "all events"
		}
		fmt.Fprintf(t.w, "# trailsift timeline\n\n%s. Times are %s.\n\n", mdCell(title), zoneName(opts.Location))
		t.w.WriteString("| time | account | region | actor | event | source IP | result | detail | user agent | event ID |\n|---|---|---|---|---|---|---|---|---|---|\n")
	default:
		return nil, fmt.Errorf("unknown timeline format %q (use table, csv, jsonl or md)", opts.Format)
	}
	return t, nil
}

// zoneName names a display zone: UTC, or the zone's name.
func zoneName(loc *time.Location) string {
	if loc == nil || loc == time.UTC || loc.String() == "UTC" {
		return "UTC"
	}
	return loc.String()
}

// Add writes one event (or, in table and md, folds it into its sign-in).
func (t *TimelineWriter) Add(e EventRow) error {
	t.events++
	if e.Time.IsZero() {
		t.untimed++
	}
	switch t.opts.Format {
	case FormatCSV:
		rec := timesketchFields(e)
		for i := range rec {
			rec[i] = SafeCSV(rec[i])
		}
		t.rows++
		return t.csv.Write(rec)
	case FormatJSONL:
		rec := timesketchFields(e)
		t.w.WriteByte('{')
		for i, c := range timelineColumns {
			if i > 0 {
				t.w.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			v, _ := json.Marshal(rec[i])
			if c == "datetime" && rec[i] == "" {
				v = []byte("null") // no time, as every JSON output writes it
			}
			t.w.Write(k)
			t.w.WriteByte(':')
			t.w.Write(escapeJSON(v))
		}
		t.w.WriteString("}\n")
		t.rows++
		return nil
	}
	cells, ok := t.readable(e)
	if !ok {
		return nil
	}
	t.rows++
	if t.table != nil {
		return t.table.Add(t.w, cells)
	}
	for i := range cells {
		cells[i] = mdCell(cells[i])
	}
	_, err := t.w.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	return err
}

// readable makes the cells of a table or md row; ok is false for a later
// step of a sign-in already shown.
func (t *TimelineWriter) readable(e EventRow) (cells []string, ok bool) {
	name := e.Name
	if src := shortSource(e.Source); src != "" {
		name = src + ":" + e.Name
	}
	detail := e.Detail()
	outcome := e.Outcome
	if outcome == "" && e.ErrorCode != "" {
		outcome = "Failure"
	}
	if e.AuthWorkflowID != "" {
		if t.seen[e.AuthWorkflowID] {
			t.grouped++
			return nil, false
		}
		t.seen[e.AuthWorkflowID] = true
		name = fmt.Sprintf("Identity Center sign-in (%d steps)", e.Steps)
		detail = fmt.Sprintf("workflow %s: %s", abbreviate(e.AuthWorkflowID, 8), e.Story)
		outcome = storyOutcome(e.Story)
	}
	tm := NoTime
	if !e.Time.IsZero() {
		tm = e.Time.In(t.opts.Location).Format("2006-01-02 15:04:05")
	}
	return []string{tm, e.Account, e.Region, e.Actor, name, e.SourceIP, outcome, detail, e.UserAgent, e.EventID}, true
}

// storyOutcome reads a sign-in story's result from its last step.
func storyOutcome(story string) string {
	switch {
	case strings.HasSuffix(story, "signed in"), strings.HasSuffix(story, " OK"):
		return "Success"
	case strings.HasSuffix(story, "failed"):
		return "Failure"
	}
	return ""
}

func abbreviate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// timesketchFields are the values of one row in timelineColumns order. An
// event without a time has an empty datetime (null in JSON lines;
// Timesketch skips such rows on import: UntimedNote says so) and a message
// that starts with NoTime.
func timesketchFields(e EventRow) []string {
	dt, msg := "", NoTime+" "+e.Message()
	if !e.Time.IsZero() {
		dt, msg = e.Time.UTC().Format(time.RFC3339Nano), e.Message()
	}
	return []string{msg, dt, TimesketchDesc, e.EventID, e.Name, e.Source, e.Type, e.Actor, e.UserType, e.UserName,
		e.UserARN, e.Account, e.Region, e.SourceIP, e.UserAgent, e.Outcome, e.ErrorCode, e.ErrorMessage, e.MFAUsed,
		e.CredentialType, e.AuthWorkflowID, e.Story, e.RequestParameters}
}

// Close finishes the timeline; more is how many further events matched but
// were not written (a limit), stated in the readable formats.
func (t *TimelineWriter) Close(more int64) error {
	switch {
	case t.csv != nil:
		t.csv.Flush()
		if err := t.csv.Error(); err != nil {
			return err
		}
	case t.table != nil:
		if err := t.table.Close(t.w); err != nil {
			return err
		}
		fmt.Fprintf(t.w, "(%s; times in %s)\n", t.summary(more), zoneName(t.opts.Location))
	case t.opts.Format == FormatMarkdown:
		fmt.Fprintf(t.w, "\n%s.\n", t.summary(more))
	}
	return t.w.Flush()
}

func (t *TimelineWriter) summary(more int64) string {
	s := fmt.Sprintf("%d event%s", t.events, plural(t.events))
	if t.grouped > 0 {
		s += fmt.Sprintf(", %d Identity Center sign-in step%s shown in their sign-in's row", t.grouped, plural(t.grouped))
	}
	if more > 0 {
		s += fmt.Sprintf("; %d more not shown (raise --limit)", more)
	}
	return s
}

// Events is how many events were written or folded into a sign-in.
func (t *TimelineWriter) Events() int64 { return t.events }

// UntimedNote says how many events had no time and how the format shows
// them, or "" when all had one.
func (t *TimelineWriter) UntimedNote() string {
	if t.untimed == 0 {
		return ""
	}
	s := fmt.Sprintf("%d event%s without a time", t.untimed, plural(t.untimed))
	if t.csv != nil || t.opts.Format == FormatJSONL {
		return s + ": their datetime is empty (null in JSON lines) and their message starts with " + NoTime +
			"; Timesketch skips rows without a datetime on import"
	}
	return s + ", shown as " + NoTime + " after the timed ones"
}
