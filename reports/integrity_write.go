package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trailsift/trailsift/integrity"
)

// WriteVerify writes the digest verification as trailsift verify prints it.
func WriteVerify(w io.Writer, r *integrity.Report) error {
	fails, warns := r.Count()
	fmt.Fprintf(w, "digests:    %d in %d chains\n", r.Digests, len(r.Chains))
	for _, c := range r.Chains {
		fmt.Fprintf(w, "  %s %-14s %-20s %s – %s  %d digests\n", SafeText(c.Account), SafeText(c.Region), SafeText(c.Trail), TimeZ(c.From), TimeZ(c.To), c.Digests)
	}
	fmt.Fprintf(w, "log files:  %d found, %d listed in digests, %d of them verified\n", r.LogFilesFound, r.LogFilesListed, r.LogFilesVerified)
	if r.SignaturesChecked {
		fmt.Fprintf(w, "signatures: %d verified, %d failed, %d not checkable offline (newest digest of each chain)\n",
			r.SignaturesVerified, r.SignaturesFailed, r.SignaturesUnknown)
	} else {
		fmt.Fprintf(w, "signatures: not checked (no --public-keys)\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", SafeLines(n))
	}
	for _, f := range r.Findings {
		when := TimeZ(f.From) + " – " + TimeZ(f.To)
		if f.From.Equal(f.To) {
			when = TimeZ(f.From)
		}
		fmt.Fprintf(w, "\n%-4s  %s  %s %s  %s\n      %s\n      %s\n", strings.ToUpper(f.Severity), f.Kind, SafeText(f.Account), SafeText(f.Region), when,
			SafeText(f.File), SafeText(f.Detail))
		if f.Digest != "" {
			fmt.Fprintf(w, "      digest: %s\n", SafeText(f.Digest))
		}
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
	}
	result := "OK: every log file listed in a digest is present and unchanged, and the chain is complete"
	switch {
	case fails > 0:
		result = "FAILED"
	case !r.Checked():
		result = "NOT CHECKED: no digest files in the evidence, so nothing could be verified (a warning, not a failure)"
	case warns > 0:
		result = "OK with warnings: read them"
	}
	_, err := fmt.Fprintf(w, "result: %s (%d failures, %d warnings)\n", result, fails, warns)
	return err
}

// TimeZ formats a time in UTC with a Z, as the terminal summaries show
// times; NoTime when unknown.
func TimeZ(t time.Time) string {
	if t.IsZero() {
		return NoTime
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// WriteCoverage writes coverage gaps and tampering as trailsift coverage
// prints them.
func WriteCoverage(w io.Writer, r *integrity.CoverageReport) error {
	t := NewTable([]string{"account", "region", "events", "first event", "last event", "silent hours", "log files", "delivery gaps >" + ShortDuration(r.DeliveryGap)}, 0)
	for _, s := range r.Scopes {
		var silent int64 // seconds; a Duration overflows past 292 years
		for _, g := range s.SilentHours {
			silent += g.Seconds()
		}
		if err := t.Add(w, []string{s.Account, s.Region, fmt.Sprint(s.Events), TimeZ(s.FirstEvent), TimeZ(s.LastEvent),
			fmt.Sprintf("%d in %d ranges", silent/3600, len(s.SilentHours)), fmt.Sprint(s.LogFiles), fmt.Sprint(len(s.DeliveryGaps))}); err != nil {
			return err
		}
	}
	if err := t.Close(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	gt := NewTable([]string{"account", "region", "kind", "from", "to", "length"}, 0)
	n := 0
	for _, s := range r.Scopes {
		for _, kind := range []struct {
			name   string
			ranges []integrity.Range
		}{{"silent", s.SilentHours}, {"delivery gap", s.DeliveryGaps}} {
			for _, g := range kind.ranges {
				n++
				if err := gt.Add(w, []string{s.Account, s.Region, kind.name, TimeZ(g.From), TimeZ(g.To), RangeLength(g)}); err != nil {
					return err
				}
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "gaps: none")
	} else if err := gt.Close(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(r.Tampering) == 0 {
		_, err := fmt.Fprintln(w, "tampering: no StopLogging, DeleteTrail, UpdateTrail, narrowing PutEventSelectors or event data store deletion")
		return err
	}
	tt := NewTable([]string{"time", "account", "region", "event", "actor", "source ip", "target", "detail", "event id"}, 0)
	for _, e := range r.Tampering {
		if err := tt.Add(w, []string{TimeZ(e.Time), e.Account, e.Region, e.EventName, e.Actor, e.SourceIP, e.Target, e.Detail, e.EventID}); err != nil {
			return err
		}
	}
	return tt.Close(w)
}
