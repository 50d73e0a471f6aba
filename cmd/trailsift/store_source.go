package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

// storeSource is where a read command finds the events: a DuckDB case
// database (--db). Every read command opens its store through it, so a new
// kind of store reaches all of them at once.
type storeSource struct {
	db      string
	parquet string
	flags   *pflag.FlagSet
}

func (s *storeSource) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&s.db, "db", "trailsift.duckdb", "DuckDB database `FILE` made by trailsift ingest (opened read-only)")
	f.StringVar(&s.parquet, "parquet", "", "read the Parquet dataset in `DIR` (made by ingest --parquet or export) instead of --db")
	s.flags = f
}

// open opens the store read-only. A missing store is a usage error: the
// user named the wrong file or has not ingested yet. A dataset whose
// stored sessions are stale gets them built once for the command, with a
// note on notes saying why it takes longer and how to store them.
func (s *storeSource) open(ctx context.Context, notes io.Writer) (*query.Store, error) {
	var (
		store *query.Store
		err   error
	)
	if s.parquet != "" {
		if s.flags != nil && s.flags.Changed("db") {
			return nil, &usageError{"give either --db or --parquet, not both"}
		}
		store, err = lake.Open(ctx, s.parquet)
	} else {
		store, err = query.Open(ctx, s.db, true)
	}
	if errors.Is(err, query.ErrNoStore) || errors.Is(err, lake.ErrNoDataset) {
		return nil, &usageError{err.Error()}
	}
	if err == nil && store.SessionsStale {
		fmt.Fprintf(notes, "trailsift: note: %s has no sessions stored for its current events (an ingest or export stopped before storing them, or an older trailsift stored fewer columns): building them for this command; run the same `trailsift ingest --parquet %s EVIDENCE...` (or export) again to store them\n",
			s.parquet, s.parquet)
		if err := store.MaterializeSessions(ctx); err != nil {
			// The view still builds them from the events, query by query.
			first, _, _ := strings.Cut(err.Error(), "\n")
			fmt.Fprintf(notes, "trailsift: note: the sessions could not be built at once (%s); reading them from the events instead, more slowly\n", first)
		}
	}
	return store, err
}
