package reports

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

var signinColumns = []string{"actor", "kind", "user_type", "account_id", "successes", "failures", "with_mfa", "without_mfa",
	"mfa_failures", "source_ips", "user_agents", "first_seen", "last_seen"}

// WriteSignins writes the per-principal sign-in summary as a table, csv,
// jsonl or md. Times are in loc for table and md (and the zone is stated),
// always UTC for csv and jsonl; total.Principals beyond len(rows) are
// counted, not dropped silently.
func WriteSignins(w io.Writer, rows []SigninRow, total SigninTotals, format string, loc *time.Location, maxWidth int) error {
	if loc == nil {
		loc = time.UTC
	}
	bw := bufio.NewWriter(w)
	// csv and jsonl: RFC 3339 UTC, empty without a time; md and table: in
	// loc, NoTime without one.
	tm := func(t time.Time, l *time.Location) string {
		switch {
		case t.IsZero() && l == nil:
			return ""
		case t.IsZero():
			return NoTime
		case l == nil || l == time.UTC:
			return t.UTC().Format(time.RFC3339Nano)
		}
		return t.In(l).Format("2006-01-02 15:04:05")
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	more := total.Principals - int64(len(rows))
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(bw)
		cw.Write(signinColumns)
		for _, s := range rows {
			rec := []string{SafeCSV(s.Actor), SafeCSV(s.Kind), SafeCSV(s.UserType), SafeCSV(s.Account), n(s.Successes), n(s.Failures),
				n(s.WithMFA), n(s.WithoutMFA), n(s.MFAFailures), n(s.IPs), n(s.Agents), tm(s.First, nil), tm(s.Last, nil)}
			cw.Write(rec)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	case FormatJSONL:
		enc := json.NewEncoder(JSONWriter{bw})
		for _, s := range rows {
			if err := enc.Encode(map[string]any{"actor": s.Actor, "kind": s.Kind, "user_type": s.UserType, "account_id": s.Account,
				"successes": s.Successes, "failures": s.Failures, "with_mfa": s.WithMFA, "without_mfa": s.WithoutMFA,
				"mfa_failures": s.MFAFailures, "source_ips": s.IPs, "user_agents": s.Agents,
				"first_seen": jsonTime(s.First), "last_seen": jsonTime(s.Last)}); err != nil {
				return err
			}
		}
	case FormatMarkdown:
		fmt.Fprintf(bw, "| principal | kind | account | OK | failed | OK with MFA | OK without MFA | MFA failed | IPs | user agents | first (%[1]s) | last (%[1]s) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n", zoneName(loc))
		for _, s := range rows {
			fmt.Fprintf(bw, "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s |\n", mdCell(s.Actor), mdCell(s.Kind), mdCell(s.Account),
				s.Successes, s.Failures, s.WithMFA, s.WithoutMFA, s.MFAFailures, s.IPs, s.Agents, tm(s.First, loc), tm(s.Last, loc))
		}
		if more > 0 {
			fmt.Fprintf(bw, "\n%d more principals not shown.\n", more)
		}
	case FormatTable, "":
		if loc == time.UTC {
			tm = func(t time.Time, _ *time.Location) string { return formatUTC(t) }
		}
		t := NewTable([]string{"PRINCIPAL", "KIND", "ACCOUNT", "OK", "FAILED", "OK+MFA", "OK NO MFA", "MFA FAILED", "IPS", "AGENTS",
			"FIRST (" + zoneName(loc) + ")", "LAST"}, maxWidth)
		for _, s := range rows {
			if err := t.Add(bw, []string{s.Actor, s.Kind, s.Account, n(s.Successes), n(s.Failures), n(s.WithMFA), n(s.WithoutMFA),
				n(s.MFAFailures), n(s.IPs), n(s.Agents), tm(s.First, loc), tm(s.Last, loc)}); err != nil {
				return err
			}
		}
		if err := t.Close(bw); err != nil {
			return err
		}
		fmt.Fprintf(bw, "(%d principal%s", total.Principals, plural(total.Principals))
		if more > 0 {
			fmt.Fprintf(bw, ", %d more not shown (raise --limit)", more)
		}
		fmt.Fprintf(bw, "; federated sign-ins log MFA at the identity provider, not here; times in %s)\n", zoneName(loc))
	default:
		return fmt.Errorf("unknown format %q (use table, csv, jsonl or md)", format)
	}
	return bw.Flush()
}

// jsonTime is a time for JSON output: RFC 3339 UTC, or null for none.
func jsonTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}
