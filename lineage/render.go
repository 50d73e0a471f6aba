package lineage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/trailsift/trailsift/reports"
)

// Formats Write writes.
var Formats = []string{"table", "md", "json"}

// Write writes the trace as a terminal table, Markdown or JSON. maxWidth
// fits the tables to a terminal (0: no limit). Times are UTC.
func Write(w io.Writer, tr *Trace, format string, maxWidth int) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "json":
		enc := json.NewEncoder(reports.JSONWriter{W: bw})
		enc.SetIndent("", "  ")
		err = enc.Encode(tr)
	case "md":
		writeMarkdown(bw, tr)
	case "table", "":
		err = writeTable(bw, tr, maxWidth)
	default:
		return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// title names what was traced; it is made safe where it is written.
func title(tr *Trace) string {
	what := map[string]string{KindAccessKey: "access key id", KindARN: "ARN", KindEventID: "event", KindFinding: "the findings of rule"}[tr.Kind]
	return fmt.Sprintf("Trace of %s %s", what, tr.Argument)
}

func tm(t *time.Time) string {
	if t == nil {
		return reports.NoTime
	}
	return reports.TimeZ(*t)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortService drops the domain of an event source: iam, s3, sts.
func shortService(s string) string { return strings.TrimSuffix(s, ".amazonaws.com") }

// countList is "a 3, b 2 (1 failed), and 4 more"; failures says whether
// to count the failed ones (not for error codes: they all failed).
func countList(cs []Count, total int64, failures bool, name func(string) string, mark func(string) string) string {
	if len(cs) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range cs {
		p := mark(name(c.Name)) + " " + strconv.FormatInt(c.Events, 10)
		if c.Errors > 0 && failures {
			p += fmt.Sprintf(" (%d failed)", c.Errors)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ") + more(total, len(cs))
}

func list(items []string, total int64, mark func(string) string) string {
	if len(items) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range items {
		parts = append(parts, mark(s))
	}
	return strings.Join(parts, ", ") + more(total, len(items))
}

func more(total int64, shown int) string {
	if total > int64(shown) {
		return fmt.Sprintf(", and %d more", total-int64(shown))
	}
	return ""
}

func same(s string) string { return s }

// lines are the facts of a session, one per line, each value through mark.
func lines(s *SessionTrace, mark func(string) string) []string {
	kind := s.CredentialKind
	if kind == "" {
		kind = "unknown"
	}
	out := []string{
		fmt.Sprintf("credential: %s, %s; acts as %s (%s) in account %s", mark(orNone(s.AccessKeyID)), mark(kind),
			mark(orNone(s.PrincipalARN)), mark(orNone(s.PrincipalType)), mark(orNone(s.AccountID))),
		fmt.Sprintf("origin: %s %s", mark(orNone(s.OriginType)), mark(orNone(s.Origin))),
	}
	if s.OriginEventID != "" {
		out[1] += fmt.Sprintf(", signed in by event %s", mark(s.OriginEventID))
	}
	if s.IssuedBy != "" {
		from := mark(orNone(s.IssueSourceIP))
		if s.IssueUserAgent != "" {
			from += " with " + mark(s.IssueUserAgent)
		}
		out = append(out, fmt.Sprintf("issued by %s (event %s at %s from %s; link %s)", mark(s.IssuedBy), mark(orNone(s.IssueEventID)),
			tm(s.IssueTime), from, mark(orNone(s.Link))))
	} else {
		out = append(out, "issued by: not in the evidence")
	}
	if s.RoleARN != "" || s.SourceIdentity != "" {
		out = append(out, fmt.Sprintf("role %s, session name %s, source identity %s", mark(orNone(s.RoleARN)), mark(orNone(s.SessionName)),
			mark(orNone(s.SourceIdentity))))
	}
	mfa := "unknown"
	if s.MFAAuthenticated != nil {
		mfa = strconv.FormatBool(*s.MFAAuthenticated)
	}
	out = append(out,
		fmt.Sprintf("used: %d events, %d failed, %s to %s; MFA-authenticated: %s", s.Events, s.Errors, tm(s.FirstSeen), tm(s.LastSeen), mfa),
		"accounts: "+list(s.Accounts, s.AccountsTotal, mark),
		"services: "+countList(s.Summary.Services, s.Summary.ServicesTotal, true, shortService, mark),
		"event names: "+countList(s.Summary.EventNames, s.Summary.EventNamesTotal, true, same, mark),
		"errors: "+countList(s.Summary.ErrorCodes, s.Summary.ErrorCodesTotal, false, same, mark),
		"source IPs: "+list(s.SourceIPs, s.SourceIPsTotal, mark),
		"user agents: "+list(s.UserAgents, s.UserAgentsTotal, mark),
	)
	return out
}

func chainEnd(s *SessionTrace) string {
	switch s.ChainEnd {
	case EndLoop:
		return "the chain loops back on itself here; the walk stopped"
	case EndDepthLimit:
		return fmt.Sprintf("the walk stopped after %d hops", MaxDepth)
	case EndParentMissing:
		return "the first session's own credential is not in the evidence"
	}
	return ""
}

func hopRow(i int, h Hop) []string {
	if h.Missing {
		return []string{strconv.Itoa(i), h.SessionID, "(not in the evidence)", "", "", "", "", ""}
	}
	return []string{strconv.Itoa(i), h.SessionID, orNone(h.IssuedBy), orNone(h.Link), orNone(h.AccountID), tm(h.IssueTime), orNone(h.PrincipalARN),
		strconv.FormatInt(h.Events, 10)}
}

var hopColumns = []string{"HOP", "SESSION", "ISSUED BY", "LINK", "ACCOUNT", "ISSUED (UTC)", "ACTS AS", "EVENTS"}

func eventRow(e Event) []string {
	return []string{tm(e.Time), e.Account, e.Region, shortService(e.EventSource) + ":" + e.EventName, e.SourceIP, orNone(e.ErrorCode), e.UserAgent, e.EventID}
}

var eventColumns = []string{"TIME (UTC)", "ACCOUNT", "REGION", "EVENT", "SOURCE IP", "ERROR", "USER AGENT", "EVENT ID"}

func timelineTitle(tr *Trace, s *SessionTrace) string {
	order := "oldest first"
	if tr.TimelineOrder == "newest-first" {
		order = "newest first"
	}
	t := fmt.Sprintf("Timeline, %s: %d of %d events", order, len(s.Timeline), s.Events)
	if int64(len(s.Timeline)) < s.Events {
		t += " (--timeline N shows more)"
	}
	return t
}

func issuedTitle(s *SessionTrace) string {
	t := fmt.Sprintf("Sessions it issued, and theirs: %d", len(s.Issued))
	if s.IssuedTruncated {
		t += fmt.Sprintf(" (more not shown: at most %d, %d levels)", MaxIssued, MaxDepth)
	}
	return t
}

func sessionsLine(tr *Trace) string {
	l := fmt.Sprintf("%d session(s)", tr.SessionsTotal)
	if tr.SessionsTotal > len(tr.Sessions) {
		l += fmt.Sprintf(", the first %d (oldest) traced", len(tr.Sessions))
	}
	return l + "; times in UTC"
}

func writeTable(w *bufio.Writer, tr *Trace, width int) error {
	fmt.Fprintf(w, "%s: %s\n", reports.SafeText(title(tr)), sessionsLine(tr))
	for _, f := range tr.Findings {
		fmt.Fprintf(w, "  finding: %s on %s (account %s), %d events, %s to %s: sessions %s\n", reports.SafeText(f.RuleID),
			reports.SafeText(orNone(f.Actor)), reports.SafeText(orNone(f.AccountID)), f.Events, tm(f.FirstSeen), tm(f.LastSeen),
			list(f.Sessions, int64(len(f.Sessions)), reports.SafeText))
	}
	table := func(cols []string, rows [][]string) error {
		t := reports.NewTable(cols, width)
		for _, r := range rows {
			if err := t.Add(w, r); err != nil {
				return err
			}
		}
		return t.Close(w)
	}
	for i := range tr.Sessions {
		s := &tr.Sessions[i]
		fmt.Fprintf(w, "\n== Session %s\n", reports.SafeText(s.SessionID))
		for _, l := range lines(s, reports.SafeText) {
			fmt.Fprintf(w, "  %s\n", l)
		}
		fmt.Fprintf(w, "\nChain, origin first:\n")
		var rows [][]string
		for i, h := range s.Chain {
			rows = append(rows, hopRow(i, h))
		}
		if err := table(hopColumns, rows); err != nil {
			return err
		}
		if e := chainEnd(s); e != "" {
			fmt.Fprintf(w, "(%s)\n", e)
		}
		if tr.TimelineLimit > 0 {
			fmt.Fprintf(w, "\n%s\n", timelineTitle(tr, s))
			rows = nil
			for _, e := range s.Timeline {
				rows = append(rows, eventRow(e))
			}
			if err := table(eventColumns, rows); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "\n%s\n", issuedTitle(s))
		if len(s.Issued) > 0 {
			rows = nil
			for i, h := range s.Issued {
				rows = append(rows, hopRow(i+1, h))
			}
			if err := table(hopColumns, rows); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeMarkdown(w *bufio.Writer, tr *Trace) {
	md := reports.MarkdownCell
	fmt.Fprintf(w, "# %s\n\n%s.\n\n", md(title(tr)), sessionsLine(tr))
	for _, f := range tr.Findings {
		fmt.Fprintf(w, "- finding %s on %s (account %s), %d events, %s to %s: sessions %s\n", md(f.RuleID), md(orNone(f.Actor)),
			md(orNone(f.AccountID)), f.Events, tm(f.FirstSeen), tm(f.LastSeen), list(f.Sessions, int64(len(f.Sessions)), md))
	}
	table := func(cols []string, rows [][]string) {
		var head, sep []string
		for _, c := range cols {
			head, sep = append(head, strings.ToLower(c)), append(sep, "---")
		}
		fmt.Fprintf(w, "\n| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(sep, "|"))
		for _, r := range rows {
			for i := range r {
				r[i] = md(r[i])
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
	}
	for i := range tr.Sessions {
		s := &tr.Sessions[i]
		fmt.Fprintf(w, "\n## Session %s\n\n", md(s.SessionID))
		for _, l := range lines(s, md) {
			fmt.Fprintf(w, "- %s\n", l)
		}
		fmt.Fprintf(w, "\n### Chain, origin first\n")
		var rows [][]string
		for i, h := range s.Chain {
			rows = append(rows, hopRow(i, h))
		}
		table(hopColumns, rows)
		if e := chainEnd(s); e != "" {
			fmt.Fprintf(w, "\n(%s)\n", e)
		}
		if tr.TimelineLimit > 0 {
			fmt.Fprintf(w, "\n### %s\n", timelineTitle(tr, s))
			rows = nil
			for _, e := range s.Timeline {
				rows = append(rows, eventRow(e))
			}
			table(eventColumns, rows)
		}
		fmt.Fprintf(w, "\n### %s\n", issuedTitle(s))
		if len(s.Issued) > 0 {
			rows = nil
			for i, h := range s.Issued {
				rows = append(rows, hopRow(i+1, h))
			}
			table(hopColumns, rows)
		}
	}
}
