package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trailsift/trailsift/query"
)

// SessionsDir holds the dataset's sessions table (see query.SessionsTable),
// one Parquet file named by the fingerprint of the event parts it was
// built from and of the sessions columns (a file of an older trailsift,
// with fewer, is stale). Like _files, a leading underscore keeps Hive,
// Spark and Athena from reading it as part of the events.
const SessionsDir = "_sessions"

// partsFingerprint names the set of live event part files of the dataset
// at dir (parts, as tableSources lists them), and the sessions columns.
// Parts are never changed once committed, only added, merged into new
// ones (Compact) or removed by hand, so the names say which events a
// sessions file was built from, and with which columns.
func partsFingerprint(dir string, parts []string) string {
	parts = slices.Clone(parts)
	for i, p := range parts {
		if rel, err := filepath.Rel(dir, p); err == nil {
			parts[i] = filepath.ToSlash(rel)
		}
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(query.ColumnList(query.SessionColumns) + "\n" + strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:12])
}

func sessionsFile(dir, fingerprint string) string {
	return filepath.Join(dir, SessionsDir, "sessions-"+fingerprint+".parquet")
}

// sessionsSource reads the stored sessions when they were built from the
// dataset's current event parts (parts, as listed); otherwise (stale) it is
// the build query itself, so the sessions are never stale, only slower
// (see query.Store.MaterializeSessions).
func sessionsSource(dir string, parts []string) (source string, stale bool) {
	f := sessionsFile(dir, partsFingerprint(dir, parts))
	if _, err := os.Stat(f); err != nil {
		return query.SessionsBuildSQL(), true
	}
	return fmt.Sprintf("SELECT %s FROM read_parquet(%s)", query.ColumnList(query.SessionColumns), query.StringLiteral(f)), false
}

// WriteSessions stores the sessions of the dataset at dir, when the stored
// ones are missing or stale: built by DuckDB into a temporary file, renamed
// into place, then the stale files are removed. A reader sees the old file,
// the new one, or none (and builds them itself), never half a file.
func WriteSessions(ctx context.Context, dir string) error {
	// The parts are listed, and their footers read, once: for the name of
	// the sessions file and for the build.
	t := tableSources(dir)
	target := sessionsFile(dir, partsFingerprint(dir, t.parts))
	if _, err := os.Stat(target); err == nil {
		return nil
	}
	if t.typed != "" {
		// The build reads raw of console_events only, which the typed
		// files keep (typedRaw): it reads them, not the parts.
		t.sources["event_rows"] = t.typed
	}
	s, err := openTables(ctx, dir, t, query.OpenSourcesToBuild)
	if errors.Is(err, ErrNoDataset) {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(target), "."+newRunID()+".tmp")
	if err := copySessions(ctx, s, tmp); err != nil {
		_ = os.Remove(tmp) // the error below is the one to report
		return fmt.Errorf("write the sessions of %s: %w", dir, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, SessionsDir, "sessions-*.parquet"))
	for _, f := range old {
		if f != target {
			_ = os.Remove(f) // a stale file left behind is ignored by readers
		}
	}
	return nil
}

// sessionsRowGroup is the row group size of a dataset's sessions file, an
// eighth of DuckDB's default. DuckDB reads a file's row groups on as many
// threads as there are groups: the 10M-event bench dataset's 1.5M sessions
// were 13 groups, and the rules over it took 3.56 s against 2.86 s in 92;
// the build itself (its last step writes the file) took about a tenth less
// (medians 27.9 s against 24.6 s over four runs each), the file the same
// size. On the 1.25M-event dataset: the rules 1.18 s against 1.09 s.
const sessionsRowGroup = 16384

// copySessions builds the sessions of the dataset open in s in stages (as
// a store's load does, so memory holds one stage at a time) and writes
// them to the Parquet file path, with zstd's level 1 (DuckDB's default is
// 3): the bench dataset's 190k sessions were written in 1.23-1.58 s
// against 1.33-1.90 s (three of each, alone), and the file was 4% smaller
// (19.3 MB against 20.1: its columns of random ids, which zstd cannot
// shrink, each 3-7% smaller).
func copySessions(ctx context.Context, s *query.Store, path string) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	final, drop, err := query.StageSessions(ctx, conn)
	if err != nil {
		return err
	}
	defer drop()
	_, err = conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE %d)",
		final, query.StringLiteral(path), sessionsRowGroup))
	return err
}
