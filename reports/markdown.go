package reports

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// mdCell makes log text safe in a Markdown table cell: controls escaped
// (SafeText, so no line breaks), no pipes, and no characters a renderer
// would read as markup, HTML or an entity.
func mdCell(s string) string { return mdEscaper.Replace(SafeText(s)) }

var mdEscaper = strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "&", "&amp;", "`", "\\`", "*", "\\*", "_", "\\_",
	"[", "\\[", "]", "\\]", "#", "\\#")

// WriteMarkdown writes the report as Markdown.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# trailsift case report\n\nGenerated %s from `%s`. All times are UTC.\n\n", formatUTC(r.Generated), mdCell(r.Database))
	fmt.Fprintf(&b, "## Summary\n\n| | |\n|---|---|\n| events | %d |\n| time range | %s to %s |\n| accounts | %s |\n| regions | %s |\n| files | %d loaded, %d skipped, %d failed, %d duplicate |\n| findings | %d |\n\n",
		r.Events, formatUTC(r.First), formatUTC(r.Last), mdCell(strings.Join(r.Accounts, ", ")), mdCell(strings.Join(r.Regions, ", ")),
		r.Files["loaded"], r.Files["skipped"], r.Files["failed"], r.Files["duplicate"], len(r.Findings))
	if len(r.Findings) > 0 {
		var sev []string
		for _, s := range severityNames() {
			if r.BySeverity[s] > 0 {
				sev = append(sev, fmt.Sprintf("%d %s", r.BySeverity[s], s))
			}
		}
		fmt.Fprintf(&b, "Findings by severity: %s.\n\n", strings.Join(sev, ", "))
	}
	b.WriteString("## Activity\n\n")
	if s := outliersText(r); s != "" {
		fmt.Fprintf(&b, "%s\n\n", s)
	}
	t := r.SigninTotals
	fmt.Fprintf(&b, "Sign-in attempts: %d succeeded with MFA, %d IAM/root without MFA, %d federated (MFA at the identity provider), %d Identity Center without MFA, %d failed (%d at MFA).\n\n",
		t.WithMFA, t.WithoutMFA, t.FederatedSuccesses, t.IdCSuccesses, t.Failures, t.MFAFailures)
	b.WriteString("| top source IPs | events | failed |\n|---|---|---|\n")
	for _, ip := range r.TopIPs {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", mdCell(ip.IP), ip.Events, ip.Failures)
	}
	b.WriteString("\n## Findings\n\n")
	if len(r.Findings) == 0 {
		b.WriteString("No rule fired.\n\n")
	}
	detailed := r.Findings[:min(len(r.Findings), maxDetailedFindings)]
	for _, f := range detailed {
		fmt.Fprintf(&b, "### [%s] %s (`%s`)\n\n", f.Severity, mdCell(f.Title), f.RuleID)
		fmt.Fprintf(&b, "- actor: %s; account: %s; events: %d; %s to %s\n- source IPs: %s\n",
			mdCell(f.Actor), mdCell(f.AccountID), f.Count, formatUTC(f.FirstSeen), formatUTC(f.LastSeen), mdCell(capJoin(f.SourceIPs, 20)))
		if f.Details != "" {
			fmt.Fprintf(&b, "- details: %s\n", mdCell(f.Details))
		}
		b.WriteString("\n| time | event | actor | source IP | result | detail | event ID |\n|---|---|---|---|---|---|---|\n")
		for _, e := range f.Events {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", formatUTC(e.Time), mdCell(e.Name), mdCell(e.Actor), mdCell(e.SourceIP), mdCell(e.Outcome), mdCell(e.Detail()), mdCell(e.EventID))
		}
		if len(f.EventIDs) > len(f.Events) {
			fmt.Fprintf(&b, "\nShowing %d of %d events; `trailsift timeline --finding %s` lists them all.\n", len(f.Events), len(f.EventIDs), f.RuleID)
		}
		b.WriteString("\n")
		writeLedToMarkdown(&b, f.LedTo)
	}
	if rest := r.Findings[len(detailed):]; len(rest) > 0 {
		fmt.Fprintf(&b, "### %d more findings, one line each\n\n| severity | rule | actor | account | events | first | last | source IPs |\n|---|---|---|---|---|---|---|---|\n", len(rest))
		for _, f := range rest {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s |\n", f.Severity, mdCell(f.RuleID), mdCell(f.Actor), mdCell(f.AccountID), f.Count,
				formatUTC(f.FirstSeen), formatUTC(f.LastSeen), mdCell(capJoin(f.SourceIPs, 3)))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Sign-ins by principal\n\n")
	if err := WriteSignins(&b, r.Signins, r.SigninTotals, FormatMarkdown, time.UTC, 0); err != nil {
		return err
	}
	writeIntegrityMarkdown(&b, r.Integrity, r.IntegrityNote)
	writeCoverageMarkdown(&b, r.Coverage)
	fmt.Fprintf(&b, "\n## Evidence manifest\n\n%d input files; %d errors recorded in ingest_errors.\n\n| path | size | sha256 | shape | events | status | reason |\n|---|---|---|---|---|---|---|\n", r.ManifestTotal, r.Errors)
	for _, f := range r.Manifest {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d | %s | %s |\n", mdCell(f.Path), f.Size, f.SHA256, f.Shape, f.Events, f.Status, mdCell(f.Reason))
	}
	if r.ManifestTotal > int64(len(r.Manifest)) {
		fmt.Fprintf(&b, "\nShowing %d of %d files.\n", len(r.Manifest), r.ManifestTotal)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarkdownCell makes log text safe in a Markdown table cell or list item,
// for the Markdown other packages write (as mdCell does here).
func MarkdownCell(s string) string { return mdCell(s) }

// writeLedToMarkdown writes what a finding led to, when it led to a session.
func writeLedToMarkdown(b *strings.Builder, l *LedTo) {
	if l == nil {
		return
	}
	fmt.Fprintf(b, "#### What it led to\n\n%d sessions (the chains its sign-in started, and the actor's started after it that day)", l.SessionsTotal)
	if l.Counted > 0 {
		fmt.Fprintf(b, "; their %d events, %d failed", l.Events, l.Errors)
		if int64(l.Counted) < l.SessionsTotal {
			fmt.Fprintf(b, " (of the first %d sessions)", l.Counted)
		}
	}
	b.WriteString(".\n\n| depth | session | parent | acts as | issued by | accounts | first | last | events | errors | source IPs |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range l.Sessions {
		ips := strings.Join(s.SourceIPs, ", ")
		if s.SourceIPsTotal > len(s.SourceIPs) {
			ips += fmt.Sprintf(" +%d", s.SourceIPsTotal-len(s.SourceIPs))
		}
		issued := s.IssuedBy
		if s.Link != "" && s.Link != "none" {
			issued += " (" + s.Link + ")"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n", s.Depth, mdCell(s.SessionID), mdCell(orDash(s.Parent)),
			mdCell(s.Principal), mdCell(orDash(issued)), mdCell(strings.Join(s.Accounts, ", ")), formatUTC(s.First), formatUTC(s.Last),
			s.Events, s.Errors, mdCell(ips))
	}
	if l.SessionsTotal > int64(len(l.Sessions)) {
		fmt.Fprintf(b, "\nShowing %d of %d sessions; `trailsift query \"select * from sessions\"` lists them all.\n", len(l.Sessions), l.SessionsTotal)
	}
	if len(l.Sensitive) > 0 {
		fmt.Fprintf(b, "\nMost sensitive actions first (%d):\n\n| time | account | action | why | target | result | source IP | session | event ID |\n|---|---|---|---|---|---|---|---|---|\n", l.SensitiveTotal)
		for _, e := range l.Sensitive {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", formatUTC(e.Time), mdCell(e.Account), mdCell(e.Action), e.Why,
				mdCell(e.Target), mdCell(orValue(e.ErrorCode, "Success")), mdCell(e.SourceIP), mdCell(e.Session), mdCell(e.EventID))
		}
		if l.SensitiveTotal > int64(len(l.Sensitive)) {
			fmt.Fprintf(b, "\nShowing %d of %d sensitive actions.\n", len(l.Sensitive), l.SensitiveTotal)
		}
	}
	counts := func(title string, c []ActionCount, total int) {
		if len(c) == 0 {
			return
		}
		fmt.Fprintf(b, "\n| %s | events | failed |\n|---|---|---|\n", title)
		for _, a := range c {
			fmt.Fprintf(b, "| %s | %d | %d |\n", mdCell(a.Name), a.Events, a.Errors)
		}
		if total > len(c) {
			fmt.Fprintf(b, "\nShowing %d of %d.\n", len(c), total)
		}
	}
	counts("service", l.Services, l.ServicesTotal)
	counts("action", l.Actions, l.ActionsTotal)
	counts("error", l.ErrorCodes, l.ErrorsTotal)
	b.WriteString("\n")
}

func orValue(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
