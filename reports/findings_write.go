package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

// FindingFormats are the formats WriteFindings writes.
var FindingFormats = []string{"table", "json", "jsonl", "csv"}

// FindingsSummary counts findings by severity: "3 findings: 1 critical, 2 high".
func FindingsSummary(found []query.Finding) string {
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

// WriteFindings writes found as a table (at most width columns wide; 0 for
// no limit), json, jsonl or csv.
func WriteFindings(w io.Writer, format string, found []query.Finding, width int) error {
	switch format {
	case "json":
		enc := json.NewEncoder(JSONWriter{W: w})
		enc.SetIndent("", "  ")
		if found == nil {
			found = []query.Finding{}
		}
		return enc.Encode(found)
	case "jsonl":
		enc := json.NewEncoder(JSONWriter{W: w})
		for _, f := range found {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		return writeFindingsCSV(w, found)
	}
	return writeFindingsTable(w, found, width)
}

const tableTimeFormat = "2006-01-02 15:04:05"

// writeFindingsTable aligns the findings; every cell is made terminal-safe
// by Table.
func writeFindingsTable(w io.Writer, found []query.Finding, width int) error {
	if len(found) == 0 {
		return nil
	}
	t := NewTable([]string{"SEVERITY", "RULE", "FIRST SEEN (UTC)", "LAST SEEN", "COUNT", "ACTOR", "ACCOUNT", "SOURCE IPS", "DETAILS"}, width)
	for _, f := range found {
		ips := strings.Join(f.SourceIPs, ",")
		if len(f.SourceIPs) > 2 {
			ips = strings.Join(f.SourceIPs[:2], ",") + fmt.Sprintf(" +%d", len(f.SourceIPs)-2)
		}
		err := t.Add(w, []string{string(f.Severity), f.RuleID, tableTime(f.FirstSeen), tableTime(f.LastSeen),
			strconv.FormatInt(f.Count, 10), orDash(f.Actor), orDash(f.AccountID), orDash(ips), f.Details})
		if err != nil {
			return err
		}
	}
	return t.Close(w)
}

func tableTime(t time.Time) string {
	if t.IsZero() {
		return NoTime
	}
	return t.UTC().Format(tableTimeFormat)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var findingsCSVHeader = []string{"rule_id", "title", "severity", "actor", "account_id", "first_seen", "last_seen",
	"count", "source_ips", "user_agents", "event_ids", "details"}

// writeFindingsCSV writes one row per finding; lists are JSON arrays in
// their cell, times RFC 3339 UTC.
func writeFindingsCSV(w io.Writer, found []query.Finding) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(findingsCSVHeader); err != nil {
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
			row[i] = SafeCSV(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
