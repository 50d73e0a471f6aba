//go:build !duckdb_arrow

package lake

import (
	"context"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// streamStore is not built without the duckdb_arrow tag (duckdb-go's Arrow
// interface needs it; the Makefile sets it): every load is staged.
func streamStore(context.Context, *query.Store, []string, ingest.Options, OnStep) (StoreRun, bool, error) {
	return StoreRun{}, false, nil
}
