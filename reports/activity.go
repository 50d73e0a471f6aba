package reports

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// The activity chart costs in proportion to the events and its buckets,
// never to the time span: an event dated 9999 next to a case of 2024 must
// neither make it draw eight thousand years of empty hours nor crush the
// bars of the real case into one.
const (
	maxChartBuckets  = 400 // bars; the bucket width grows to keep under it
	maxOutliersShown = 20
	// An event is an outlier when it lies more than outlierIQRs
	// interquartile ranges (plus outlierPad) beyond the middle half of
	// the events: decades away, for a case of days or months.
	outlierIQRs = 20
	outlierPad  = 7 * 24 * 3600 // seconds
)

// TimeCount counts the events at one time.
type TimeCount struct {
	Time   time.Time
	Events int64
}

// chartStep picks the bucket width in seconds for a span: an hour, a day,
// a week, 30 days, a year, then ten times wider until under the cap.
func chartStep(span float64) (int64, string) {
	for _, s := range []struct {
		secs int64
		name string
	}{{3600, "hour"}, {86400, "day"}, {7 * 86400, "7 days"}, {30 * 86400, "30 days"}} {
		if span/float64(s.secs) < maxChartBuckets {
			return s.secs, s.name
		}
	}
	years := int64(1)
	for span/float64(years*365*86400) >= maxChartBuckets {
		years *= 10
	}
	if years == 1 {
		return 365 * 86400, "365 days"
	}
	return years * 365 * 86400, fmt.Sprintf("%d×365 days", years)
}

// loadHours fills the activity chart: events per bucket over the dense
// range of the case, and the outliers beyond it.
func (r *Report) loadHours(ctx context.Context, db *sql.DB) error {
	var n int64
	var lo, hi, q1, q3 sql.NullFloat64
	err := db.QueryRowContext(ctx, `SELECT count(*), min(epoch(event_time)), max(epoch(event_time)),
  approx_quantile(epoch(event_time), 0.25), approx_quantile(epoch(event_time), 0.75)
FROM event_rows WHERE event_time IS NOT NULL`).Scan(&n, &lo, &hi, &q1, &q3)
	if err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	if n == 0 {
		return nil
	}
	// The dense range: from the first to the last event within the fences.
	iqr := q3.Float64 - q1.Float64
	from, to := lo.Float64, hi.Float64
	if fenceLo, fenceHi := q1.Float64-outlierIQRs*iqr-outlierPad, q3.Float64+outlierIQRs*iqr+outlierPad; fenceLo > from || fenceHi < to {
		var first, last sql.NullFloat64
		err := db.QueryRowContext(ctx, `SELECT min(epoch(event_time)), max(epoch(event_time)) FROM event_rows
WHERE epoch(event_time) >= ? AND epoch(event_time) <= ?`, fenceLo, fenceHi).Scan(&first, &last)
		if err != nil {
			return fmt.Errorf("activity: %w", err)
		}
		if first.Valid { // else (approximate quartiles of odd data) chart it all
			from, to = first.Float64, last.Float64
		}
	}
	step, name := chartStep(to - from)
	r.ChartStep = name
	base := math.Floor(from/float64(step)) * float64(step)
	buckets := int(math.Floor((to-base)/float64(step))) + 1
	r.Hours = make([]HourBucket, buckets)
	for i := range r.Hours {
		r.Hours[i].Hour = time.Unix(int64(base)+int64(i)*step, 0).UTC()
	}
	rows, err := db.QueryContext(ctx, `SELECT CAST(floor((epoch(event_time) - ?) / ?) AS BIGINT) AS b, count(*)
FROM event_rows WHERE epoch(event_time) >= ? AND epoch(event_time) <= ? GROUP BY 1`, base, float64(step), from, to)
	if err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			return fmt.Errorf("activity: %w", err)
		}
		if b >= 0 && b < int64(buckets) {
			r.Hours[b].Events = c
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	for _, f := range r.Findings {
		if f.FirstSeen.IsZero() {
			continue
		}
		if b := int(math.Floor((float64(f.FirstSeen.Unix()) - base) / float64(step))); b >= 0 && b < buckets {
			r.Hours[b].Findings++
		}
	}
	return r.loadOutliers(ctx, db, from, to)
}

// loadOutliers lists the first events outside the charted range, by time.
func (r *Report) loadOutliers(ctx context.Context, db *sql.DB, from, to float64) error {
	const outside = `event_time IS NOT NULL AND (epoch(event_time) < ? OR epoch(event_time) > ?)`
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM event_rows WHERE `+outside, from, to).Scan(&r.OutliersTotal); err != nil {
		return fmt.Errorf("activity outliers: %w", err)
	}
	if r.OutliersTotal == 0 {
		return nil
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT event_time, count(*) FROM event_rows WHERE %s GROUP BY 1 ORDER BY 1 LIMIT %d`,
		outside, maxOutliersShown), from, to)
	if err != nil {
		return fmt.Errorf("activity outliers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o TimeCount
		if err := rows.Scan(&o.Time, &o.Events); err != nil {
			return fmt.Errorf("activity outliers: %w", err)
		}
		o.Time = o.Time.UTC()
		r.Outliers = append(r.Outliers, o)
	}
	return rows.Err()
}

// outliersText says which events the chart leaves out, or "".
func outliersText(r *Report) string {
	if r.OutliersTotal == 0 {
		return ""
	}
	s := fmt.Sprintf("%d event%s far outside the bulk of the case %s not charted:", r.OutliersTotal, plural(r.OutliersTotal),
		map[bool]string{true: "is", false: "are"}[r.OutliersTotal == 1])
	for i, o := range r.Outliers {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %s (%d)", formatUTC(o.Time), o.Events)
	}
	var shown int64
	for _, o := range r.Outliers {
		shown += o.Events
	}
	if shown < r.OutliersTotal {
		s += fmt.Sprintf(" and %d more", r.OutliersTotal-shown)
	}
	return s + "."
}
