package reports

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/query"
)

// Caps keep a report small enough to open for any size of case; every cap
// is stated in the report with the full count, nothing is dropped silently.
const (
	maxEventsPerFinding = 50
	maxManifestRows     = 2000
	maxSigninRows       = 200
	maxDetailedFindings = 100 // with their own timeline; the rest get one line each
	maxTopIPs           = 10
)

// Report is everything a case report shows, gathered from a store.
type Report struct {
	Generated    time.Time
	Database     string
	First, Last  time.Time
	Events       int64
	Accounts     []string
	Regions      []string
	Files        map[string]int64 // by status
	Findings     []FindingReport
	BySeverity   map[string]int
	Signins      []SigninRow
	SigninsTotal int64
	SigninTotals SigninTotals
	Hours        []HourBucket // the activity chart's buckets, ChartStep wide
	ChartStep    string
	// Outliers are the first events far outside the bulk of the case (a
	// year 9999 typo or forgery), listed instead of charted; OutliersTotal
	// counts them all.
	Outliers      []TimeCount
	OutliersTotal int64
	TopIPs        []IPCount
	Manifest      []FileRow
	ManifestTotal int64
	Errors        int64
	Coverage      *CoverageSection
	// Integrity is the digest verification of the evidence files, when the
	// report was made from them (analyze); IntegrityNote says why not.
	Integrity     *integrity.Report
	IntegrityNote string
}

// FindingReport is a finding with the first of its events.
type FindingReport struct {
	query.Finding
	Events []EventRow
	LedTo  *LedTo // the sessions it led to and what they did; nil when none
}

// IPCount counts the events from one source IP and how many failed.
type IPCount struct {
	IP               string
	Events, Failures int64
}

// HourBucket counts events in one bucket of the activity chart (an hour
// unless the case spans weeks); Findings counts findings that started in
// it.
type HourBucket struct {
	Hour     time.Time
	Events   int64
	Findings int
}

// FileRow is one entry of the evidence manifest.
type FileRow struct {
	Path, SHA256, Shape, Status, Reason string
	Size, Events                        int64
}

// Build gathers a report from the store for the given findings.
func Build(ctx context.Context, db *sql.DB, dbName string, findings []query.Finding) (*Report, error) {
	r := &Report{Generated: time.Now().UTC(), Database: dbName, Files: map[string]int64{}, BySeverity: map[string]int{}}
	var first, last sql.NullTime
	if err := db.QueryRowContext(ctx, `SELECT min(event_time), max(event_time), count(*) FROM event_rows`).Scan(&first, &last, &r.Events); err != nil {
		return nil, fmt.Errorf("report summary: %w", err)
	}
	r.First, r.Last = first.Time.UTC(), last.Time.UTC()
	var err error
	if r.Accounts, err = strings1(ctx, db, `SELECT DISTINCT account_id FROM event_rows WHERE account_id IS NOT NULL ORDER BY 1 LIMIT 1000`); err != nil {
		return nil, err
	}
	if r.Regions, err = strings1(ctx, db, `SELECT DISTINCT aws_region FROM event_rows WHERE aws_region IS NOT NULL ORDER BY 1 LIMIT 1000`); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT status, count(*) FROM files GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return nil, err
		}
		r.Files[s] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ingest_errors WHERE severity = 'error'`).Scan(&r.Errors); err != nil {
		return nil, err
	}

	// Every finding is in the report; the first ones (most severe) also get
	// their own short timeline, read in one query for all of them.
	want := map[string][]int{} // event id -> findings showing it
	ids := []string{}
	for i, f := range findings {
		r.Findings = append(r.Findings, FindingReport{Finding: f})
		r.BySeverity[string(f.Severity)]++
		if i >= maxDetailedFindings {
			continue
		}
		for _, id := range f.EventIDs[:min(len(f.EventIDs), maxEventsPerFinding)] {
			if want[id] == nil {
				ids = append(ids, id)
			}
			want[id] = append(want[id], i)
		}
	}
	if len(ids) > 0 {
		err := EachEvent(ctx, db, TimelineFilter{EventIDs: ids}, 0, func(e EventRow) error {
			for _, i := range want[e.EventID] {
				if fr := &r.Findings[i]; len(fr.Events) < maxEventsPerFinding {
					fr.Events = append(fr.Events, e)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := r.loadLedTo(ctx, db); err != nil {
		return nil, err
	}
	if err := r.loadSignins(ctx, db); err != nil {
		return nil, err
	}
	if err := r.loadHours(ctx, db); err != nil {
		return nil, err
	}
	if err := r.loadTopIPs(ctx, db); err != nil {
		return nil, err
	}
	if err := r.loadCoverage(ctx, db); err != nil {
		return nil, err
	}
	return r, r.loadManifest(ctx, db)
}

func strings1(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (r *Report) loadSignins(ctx context.Context, db *sql.DB) error {
	var err error
	r.Signins, r.SigninTotals, err = Signins(ctx, db, SigninFilter{}, maxSigninRows)
	r.SigninsTotal = r.SigninTotals.Principals
	return err
}

func (r *Report) loadManifest(ctx context.Context, db *sql.DB) error {
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM files`).Scan(&r.ManifestTotal); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT path, coalesce(sha256, ''), coalesce(shape, ''), status, coalesce(reason, ''), size, events
FROM files ORDER BY status = 'loaded', path LIMIT %d`, maxManifestRows))
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f FileRow
		if err := rows.Scan(&f.Path, &f.SHA256, &f.Shape, &f.Status, &f.Reason, &f.Size, &f.Events); err != nil {
			return err
		}
		r.Manifest = append(r.Manifest, f)
	}
	return rows.Err()
}

func (r *Report) loadTopIPs(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT source_ip, count(*) AS n, count(*) FILTER (WHERE error_code IS NOT NULL OR outcome = 'Failure')
FROM event_rows WHERE source_ip IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT %d`, maxTopIPs))
	if err != nil {
		return fmt.Errorf("top source IPs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c IPCount
		if err := rows.Scan(&c.IP, &c.Events, &c.Failures); err != nil {
			return err
		}
		r.TopIPs = append(r.TopIPs, c)
	}
	return rows.Err()
}
