package query

// Typed events: a Parquet dataset of many small part files also keeps
// every event's stored columns but raw in a few files (package lake), as
// DuckDB's cost is per file a scan opens (a bucket's 1,443 parts: half a
// second a scan, whatever it reads). A rule runs over that copy first, and
// over the events when it reads raw.

import (
	"fmt"
	"strings"
)

// needsRawMarker is the error a query over TypedEvents raises when it
// reads raw or a column computed from it.
const needsRawMarker = "trailsift: the query reads raw"

// TypedEvents selects the events view's columns from rows, a SELECT of
// event_rows' columns (its raw, whole or not, is never read). Raw and the
// columns computed from it are an error when read: DuckDB drops the
// columns a query does not read before it runs, so a query that runs over
// it (NeedsRaw says it did not) read the same rows and values as over the
// events view.
func TypedEvents(rows string) string {
	cols := make([]string, len(EventColumns))
	for i, c := range EventColumns {
		if c.Name == "raw" || generated[c.Name] != "" {
			cols[i] = fmt.Sprintf("error(%s)::%s AS %s", StringLiteral(needsRawMarker), c.Type, c.Name)
		} else {
			cols[i] = c.Name
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM (" + rows + ") AS typed_rows"
}

// NeedsRaw says err is a query's over TypedEvents that read raw: run it
// over the events instead.
func NeedsRaw(err error) bool { return err != nil && strings.Contains(err.Error(), needsRawMarker) }

// TypedFirst runs a query with run over opts.Typed when it is set (events
// is then that SELECT), and again over the events (events "") when that
// read raw (NeedsRaw) or opts.Typed is not set.
func TypedFirst[T any](opts DetectOptions, run func(events string) (T, error)) (T, error) {
	if opts.Typed != "" {
		out, err := run(opts.Typed)
		if !NeedsRaw(err) {
			return out, err
		}
	}
	return run("")
}
