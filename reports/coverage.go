package reports

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trailsift/trailsift/integrity"
)

// maxRangesShown caps the silent hours and delivery gaps listed per account
// and region; the count of the rest is shown, and `trailsift coverage`
// lists them all.
const maxRangesShown = 5

// CoverageSection is the coverage part of the evidence section: where the
// logs are silent and who tampered with the trail.
type CoverageSection struct {
	DeliveryGap time.Duration
	Scopes      []CoverageRow
	Tampering   []integrity.TamperEvent
}

// CoverageRow is one account and region, its gaps written out in words.
type CoverageRow struct {
	Account, Region string
	Events          int64
	First, Last     time.Time
	LogFiles        int
	Silent          string // "none", or the first ranges and a count of the rest
	Gaps            string
}

func (r *Report) loadCoverage(ctx context.Context, db *sql.DB) error {
	cov, err := integrity.Coverage(ctx, db, integrity.CoverageOptions{})
	if err != nil {
		return fmt.Errorf("report coverage: %w", err)
	}
	sec := &CoverageSection{DeliveryGap: cov.DeliveryGap, Tampering: cov.Tampering}
	for _, s := range cov.Scopes {
		sec.Scopes = append(sec.Scopes, CoverageRow{Account: s.Account, Region: s.Region, Events: s.Events,
			First: s.FirstEvent, Last: s.LastEvent, LogFiles: s.LogFiles,
			Silent: describeRanges(s.SilentHours), Gaps: describeRanges(s.DeliveryGaps)})
	}
	r.Coverage = sec
	return nil
}

// describeRanges writes the first ranges with their lengths, and how many
// more there are.
func describeRanges(rs []integrity.Range) string {
	if len(rs) == 0 {
		return "none"
	}
	var total int64
	for _, g := range rs {
		total += g.Seconds()
	}
	var parts []string
	for _, g := range rs[:min(len(rs), maxRangesShown)] {
		parts = append(parts, fmt.Sprintf("%s – %s (%s)", formatUTC(g.From), formatUTC(g.To), RangeLength(g)))
	}
	if len(rs) > maxRangesShown {
		parts = append(parts, fmt.Sprintf("and %d more", len(rs)-maxRangesShown))
	}
	return fmt.Sprintf("%d, %s in all: %s", len(rs), secondsText(total), strings.Join(parts, "; "))
}

// ShortDuration writes a gap in whole minutes: 22h, 1h45m, 1h5m, 50m; see
// secondsText for longer ones.
func ShortDuration(d time.Duration) string {
	return secondsText(int64(d.Round(time.Second) / time.Second))
}

// RangeLength writes the length of a range, from its ends: a Duration
// cannot hold the years between an event dated 0001 and one dated 2024.
func RangeLength(r integrity.Range) string { return secondsText(r.Seconds()) }

// secondsText writes a length in whole minutes up to two days (22h,
// 1h45m, 50m), then in days and hours (3d4h), then in years of 365.25 days
// past a thousand days (2023y).
func secondsText(s int64) string {
	m := (s + 30) / 60
	h, m := m/60, m%60
	switch {
	case h >= 1000*24:
		return fmt.Sprintf("%dy", h*100/(36525*24))
	case h >= 48:
		if h%24 == 0 {
			return fmt.Sprintf("%dd", h/24)
		}
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// writeCoverageMarkdown writes the coverage section in Markdown.
func writeCoverageMarkdown(b *strings.Builder, c *CoverageSection) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n## Coverage and trail tampering\n\nHours with no event at all, gaps over %s between log file deliveries, and calls that stop, delete or narrow CloudTrail. `trailsift coverage` lists every gap.\n\n", ShortDuration(c.DeliveryGap))
	if len(c.Tampering) == 0 {
		b.WriteString("No trail tampering calls (StopLogging, DeleteTrail, UpdateTrail, narrowing PutEventSelectors, DeleteEventDataStore) found.\n\n")
	} else {
		b.WriteString("| time | account | region | event | actor | source IP | target | error | detail |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, t := range c.Tampering {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", formatUTC(t.Time), mdCell(t.Account), mdCell(t.Region),
				mdCell(t.EventName), mdCell(t.Actor), mdCell(t.SourceIP), mdCell(t.Target), mdCell(t.ErrorCode), mdCell(t.Detail))
		}
		b.WriteString("\n")
	}
	b.WriteString("| account | region | events | first | last | log files | silent hours | delivery gaps |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range c.Scopes {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %d | %s | %s |\n", mdCell(s.Account), mdCell(s.Region), s.Events,
			formatUTC(s.First), formatUTC(s.Last), s.LogFiles, mdCell(s.Silent), mdCell(s.Gaps))
	}
}

// maxIntegrityRows caps the digest problems listed; trailsift verify lists
// them all.
const maxIntegrityRows = 500

// writeIntegrityMarkdown writes the digest verification section.
func writeIntegrityMarkdown(b *strings.Builder, rep *integrity.Report, note string) {
	if rep == nil {
		if note != "" {
			fmt.Fprintf(b, "\n## Log file integrity (CloudTrail digests)\n\n%s\n", note)
		}
		return
	}
	result := "OK"
	if rep.Failed() {
		result = "FAILED"
	}
	sigs := "not checked (give --public-keys)"
	if rep.SignaturesChecked {
		sigs = fmt.Sprintf("%d verified, %d failed, %d not checkable offline", rep.SignaturesVerified, rep.SignaturesFailed, rep.SignaturesUnknown)
	}
	fmt.Fprintf(b, "\n## Log file integrity (CloudTrail digests)\n\n**%s**: %d digest files in %d chains; %d log files listed in digests, %d found in the evidence, %d matching their digest hash. Signatures: %s.\n\n",
		result, rep.Digests, len(rep.Chains), rep.LogFilesListed, rep.LogFilesFound, rep.LogFilesVerified, sigs)
	if len(rep.Findings) > 0 {
		b.WriteString("| severity | kind | account | region | from | to | file | detail |\n|---|---|---|---|---|---|---|---|\n")
		for _, f := range rep.Findings[:min(len(rep.Findings), maxIntegrityRows)] {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Severity, f.Kind, mdCell(f.Account), mdCell(f.Region),
				formatUTC(f.From), formatUTC(f.To), mdCell(f.File), mdCell(f.Detail))
		}
		if len(rep.Findings) > maxIntegrityRows {
			fmt.Fprintf(b, "\nShowing %d of %d problems; `trailsift verify` lists them all.\n", maxIntegrityRows, len(rep.Findings))
		}
		b.WriteString("\n")
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(b, "%s\n\n", mdCell(n))
	}
}
