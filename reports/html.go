package reports

import (
	"embed"
	"github.com/trailsift/trailsift/integrity"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/trailsift/trailsift/query"
)

//go:embed templates/*.tmpl
var templates embed.FS

// The report template is parsed once; html/template escapes every value it
// prints, so log text can never become markup or script.
var htmlReport = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"utc":            formatUTC,
	"dur":            ShortDuration,
	"firstIntegrity": func(f []integrity.Finding) []integrity.Finding { return f[:min(len(f), maxIntegrityRows)] },
	"maxIntegrity":   func() int { return maxIntegrityRows },
	"join":           func(s []string) string { return strings.Join(s, ", ") },
	"severities":     func() []string { return severityNames() },
	"len64":          func(v any) int64 { return int64(lenOf(v)) },
	"chart":          activityChart,
	"outcomes":       outcomesChart,
	"topips":         topIPsChart,
	"capjoin":        capJoin,
	"detailed":       func(f []FindingReport) []FindingReport { return f[:min(len(f), maxDetailedFindings)] },
	"compact":        func(f []FindingReport) []FindingReport { return f[min(len(f), maxDetailedFindings):] },
	"int64":          func(n int) int64 { return int64(n) },
	"minus":          func(a, b int) int { return a - b },
	"counts": func(title string, rows []ActionCount, total int) countsTable {
		return countsTable{title, rows, total}
	},
}).ParseFS(templates, "templates/report.html.tmpl"))

// countsTable is one table of counts in what a finding led to.
type countsTable struct {
	Title string
	Rows  []ActionCount
	Total int
}

func lenOf(v any) int {
	switch x := v.(type) {
	case []SigninRow:
		return len(x)
	case []FileRow:
		return len(x)
	case []FindingReport:
		return len(x)
	}
	return 0
}

func severityNames() []string {
	out := make([]string, 0, len(query.Severities))
	for i := len(query.Severities) - 1; i >= 0; i-- {
		out = append(out, string(query.Severities[i]))
	}
	return out
}

// NoTime is how the readable formats (table, Markdown, HTML) show an event
// without a time, and a finding or principal whose events have none. The
// data formats (CSV, JSON) leave the time empty instead. A zero time.Time
// stands for it, so an eventTime of exactly 0001-01-01T00:00:00Z, which no
// CloudTrail writes, is shown so too.
const NoTime = "(no time)"

func formatUTC(t time.Time) string {
	if t.IsZero() {
		return NoTime
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// WriteHTML writes the report as one self-contained HTML file: no scripts,
// no fonts, no images or styles from anywhere else, and a Content Security
// Policy that forbids them.
//
// Control and bidi characters from the logs (an ANSI escape in a user
// agent, a right-to-left override in a file name) are shown escaped, as
// everywhere (SafeLines): the whole page goes through it, so no value in
// it, charts included, can reorder or hide text. The page's own line
// breaks are kept, and the escapes add no markup.
func WriteHTML(w io.Writer, r *Report) error {
	var b strings.Builder
	if err := htmlReport.Execute(&b, r); err != nil {
		return err
	}
	_, err := io.WriteString(w, SafeLines(b.String()))
	return err
}
