package reports

import (
	"embed"
	"fmt"
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
	"utc":        formatUTC,
	"join":       func(s []string) string { return strings.Join(s, ", ") },
	"severities": func() []string { return severityNames() },
	"len64":      func(v any) int64 { return int64(lenOf(v)) },
	"chart":      activityChart,
}).ParseFS(templates, "templates/report.html.tmpl"))

func lenOf(v any) int {
	switch x := v.(type) {
	case []SigninRow:
		return len(x)
	case []FileRow:
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

func formatUTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// WriteHTML writes the report as one self-contained HTML file: no scripts,
// no fonts, no images or styles from anywhere else, and a Content Security
// Policy that forbids them.
func WriteHTML(w io.Writer, r *Report) error {
	return htmlReport.Execute(w, r)
}

// activityChart draws events per hour as an inline SVG bar chart, with the
// hours in which findings started marked in red.
func activityChart(hours []HourBucket) template.HTML {
	if len(hours) == 0 {
		return template.HTML(`<p class="muted">No events with a time.</p>`)
	}
	const width, height, pad = 1100.0, 160.0, 30.0
	var max int64 = 1
	for _, h := range hours {
		if h.Events > max {
			max = h.Events
		}
	}
	bw := (width - pad) / float64(len(hours))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="events per time bucket" width="100%%" viewBox="0 0 %.0f %.0f" xmlns="http://www.w3.org/2000/svg">`, width, height+30)
	for i, h := range hours {
		bh := float64(h.Events) / float64(max) * height
		x := pad + float64(i)*bw
		color := "#8c959f"
		if h.Findings > 0 {
			color = "#cf222e"
		}
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s: %d events, %d findings</title></rect>`,
			x, height-bh, max64(bw-1, 0.5), bh, color, formatUTC(h.Hour), h.Events, h.Findings)
	}
	fmt.Fprintf(&b, `<text x="0" y="10">%d</text><text x="0" y="%.0f">0</text>`, max, height)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`, pad, height+20, formatUTC(hours[0].Hour))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, width, height+20, formatUTC(hours[len(hours)-1].Hour))
	b.WriteString(`</svg><div class="muted">Events per bucket; red bars hold the start of a finding.</div>`)
	// Only numbers and formatted times are interpolated above.
	return template.HTML(b.String())
}

func max64(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
