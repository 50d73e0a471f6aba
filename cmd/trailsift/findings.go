package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// writeFindings writes found in format, fitting a table to the terminal's
// width when w is one.
func writeFindings(w io.Writer, format string, found []query.Finding) error {
	return reports.WriteFindings(w, format, found, terminalWidth(w))
}

// summarize counts findings by severity: "3 findings: 1 critical, 2 high".
func summarize(found []query.Finding) string { return reports.FindingsSummary(found) }

// terminalWidth is w's width in columns when it is a terminal, else 0 (no
// limit).
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width, _, _ := term.GetSize(int(f.Fd()))
		return width
	}
	return 0
}
