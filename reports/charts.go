package reports

import (
	"fmt"
	"html/template"
	"strings"
)

// The charts are inline SVG built here: only numbers, formatted times and
// escaped text go into them, so log text cannot become markup.

// activityChart draws events per time bucket as an inline SVG bar chart,
// with a strip below it marking, in red, how many findings started in each
// bucket, and says which events lie too far out to chart.
func activityChart(r *Report) template.HTML {
	hours := r.Hours
	if len(hours) == 0 {
		return template.HTML(`<p class="muted">No events with a time.</p>`)
	}
	const width, height, pad, strip = 1100.0, 160.0, 30.0, 24.0
	var max int64 = 1
	maxF := 1
	for _, h := range hours {
		if h.Events > max {
			max = h.Events
		}
		if h.Findings > maxF {
			maxF = h.Findings
		}
	}
	bw := (width - pad) / float64(len(hours))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="chart-activity" role="img" aria-label="events per time bucket, findings below" width="100%%" viewBox="0 0 %.0f %.0f" xmlns="http://www.w3.org/2000/svg">`, width, height+strip+34)
	for i, h := range hours {
		bh := float64(h.Events) / float64(max) * height
		x := pad + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#8c959f"><title>%s: %d events, %d findings</title></rect>`,
			x, height-bh, max64(bw-1, 0.5), bh, formatUTC(h.Hour), h.Events, h.Findings)
		if h.Findings > 0 {
			fh := 4 + float64(h.Findings)/float64(maxF)*(strip-6)
			fmt.Fprintf(&b, `<rect class="finding-mark" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#cf222e"><title>%s: %d findings started</title></rect>`,
				x, height+4, max64(bw-1, 2), fh, formatUTC(h.Hour), h.Findings)
		}
	}
	fmt.Fprintf(&b, `<text x="0" y="10">%d</text><text x="0" y="%.0f">0</text><text x="0" y="%.0f" style="fill:#cf222e">findings</text>`, max, height, height+16)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`, pad, height+strip+24, formatUTC(hours[0].Hour))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, width, height+strip+24, formatUTC(hours[len(hours)-1].Hour))
	fmt.Fprintf(&b, `</svg><div class="muted">Events per %s; the red marks below count the findings that started in it (hover for numbers).</div>`, r.ChartStep)
	if s := outliersText(r); s != "" {
		fmt.Fprintf(&b, `<p id="chart-outliers">%s</p>`, template.HTMLEscapeString(s))
	}
	return template.HTML(b.String())
}

type bar struct {
	label        string // escaped when drawn
	value, part  int64  // part: the red share of value
	color, title string
}

// hbars draws labelled horizontal bars.
func hbars(id, aria string, bars []bar) template.HTML {
	const width, rowH, labelW = 560.0, 22.0, 190.0
	var max int64 = 1
	for _, b := range bars {
		if b.value > max {
			max = b.value
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" role="img" aria-label="%s" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" xmlns="http://www.w3.org/2000/svg">`,
		id, aria, width, rowH*float64(len(bars))+4, width, rowH*float64(len(bars))+4)
	for i, r := range bars {
		y := float64(i) * rowH
		w := float64(r.value) / float64(max) * (width - labelW - 60)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, labelW-6, y+15, template.HTMLEscapeString(abbreviate(r.label, 30)))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.2f" height="16" fill="%s"><title>%s</title></rect>`, labelW, y+3, max64(w, 0.5), r.color, template.HTMLEscapeString(r.title))
		if r.part > 0 {
			pw := float64(r.part) / float64(max) * (width - labelW - 60)
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.2f" height="16" fill="#cf222e"><title>%s</title></rect>`, labelW, y+3, max64(pw, 0.5), template.HTMLEscapeString(r.title))
		}
		fmt.Fprintf(&b, `<text x="%.2f" y="%.1f">%d</text>`, labelW+w+4, y+15, r.value)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// outcomesChart shows how principals signed in.
func outcomesChart(t SigninTotals) template.HTML {
	bars := []bar{
		{label: "succeeded with MFA", value: t.WithMFA, color: "#1a7f37"},
		{label: "IAM/root without MFA", value: t.WithoutMFA, color: "#bc4c00"},
		{label: "federated (MFA at IdP)", value: t.FederatedSuccesses, color: "#0969da"},
		{label: "Identity Center, no MFA", value: t.IdCSuccesses, color: "#bc4c00"},
		{label: "failed", value: t.Failures, part: t.MFAFailures, color: "#8c959f"},
	}
	for i := range bars {
		bars[i].title = fmt.Sprintf("%s: %d", bars[i].label, bars[i].value)
	}
	bars[4].title = fmt.Sprintf("failed: %d, of which at MFA: %d", t.Failures, t.MFAFailures)
	return hbars("chart-signins", "sign-in outcomes", bars) +
		template.HTML(`<div class="muted">Sign-in attempts by outcome; the red part of "failed" failed at MFA.</div>`)
}

// topIPsChart shows the busiest source IPs, their failed calls in red.
func topIPsChart(ips []IPCount) template.HTML {
	if len(ips) == 0 {
		return template.HTML(`<p class="muted">No source IPs.</p>`)
	}
	bars := make([]bar, len(ips))
	for i, ip := range ips {
		bars[i] = bar{label: ip.IP, value: ip.Events, part: ip.Failures, color: "#8c959f",
			title: fmt.Sprintf("%s: %d events, %d failed", ip.IP, ip.Events, ip.Failures)}
	}
	return hbars("chart-ips", "top source IPs", bars) +
		template.HTML(`<div class="muted">Events per source IP (the busiest); red: failed calls and sign-ins.</div>`)
}

func max64(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// capJoin joins at most n items and counts the rest.
func capJoin(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
