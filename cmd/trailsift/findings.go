package main

import (
	"encoding/json"
	"io"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// summarize counts findings by severity: "3 findings: 1 critical, 2 high".
func summarize(found []query.Finding) string { return reports.FindingsSummary(found) }

// bySeverity counts findings per severity, as the JSON summaries show it.
func bySeverity(found []query.Finding) map[string]int {
	n := map[string]int{}
	for _, f := range found {
		n[string(f.Severity)]++
	}
	return n
}

// writeJSONSummary writes a command's --json summary: one indented object.
// The keys mean the same in every command: seconds, findings (a count),
// by_severity, outputs (the files written), events_read...
func writeJSONSummary(w io.Writer, v any) error {
	enc := json.NewEncoder(reports.JSONWriter{W: w})
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
