package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// eventID is what makes two events the same: their key and their time, as
// in the DuckDB store.
type eventID struct {
	key  uint64
	time int64
}

const noTime = -1 << 63

// keyCache holds the event ids of the partitions this run has written to.
// An event always lands in the partition of its own account, region and
// day, so checking that partition is enough to store it once. The cache is
// cleared when it grows past maxCachedKeys, which bounds memory however
// large the dataset; a partition touched again is read back from disk.
type keyCache struct {
	parts map[string]map[eventID]struct{}
	size  int
}

const maxCachedKeys = 4_000_000

// filter returns the rows of partition part that the dataset does not hold
// yet, and remembers them.
func (c *keyCache) filter(db *sql.DB, dir, part string, rows []eventRow) ([]eventRow, error) {
	ids, ok := c.parts[part]
	if !ok {
		if c.size > maxCachedKeys {
			clear(c.parts)
			c.size = 0
		}
		var err error
		if ids, err = readIDs(db, filepath.Join(dir, part)); err != nil {
			return nil, err
		}
		c.parts[part] = ids
		c.size += len(ids)
	}
	fresh := rows[:0]
	for _, r := range rows {
		id := eventID{r.EventKey, noTime}
		if r.EventTime != nil {
			id.time = r.EventTime.UnixMicro()
		}
		if _, dup := ids[id]; dup {
			continue
		}
		ids[id] = struct{}{}
		c.size++
		fresh = append(fresh, r)
	}
	return fresh, nil
}

// readIDs reads the event ids stored in one partition directory: two
// narrow columns, not the events.
func readIDs(db *sql.DB, partDir string) (map[eventID]struct{}, error) {
	ids := map[eventID]struct{}{}
	files, _ := filepath.Glob(filepath.Join(partDir, "*.parquet"))
	if len(files) == 0 {
		return ids, nil
	}
	rows, err := db.Query(fmt.Sprintf("SELECT event_key, coalesce(epoch_us(event_time), %d) FROM read_parquet(%s)", int64(noTime), query.StringLiteral(filepath.Join(partDir, "*.parquet"))))
	if err != nil {
		return nil, fmt.Errorf("read stored events of %s: %w", partDir, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id eventID
		if err := rows.Scan(&id.key, &id.time); err != nil {
			return nil, err
		}
		ids[id] = struct{}{}
	}
	return ids, rows.Err()
}

// openReader opens an in-memory DuckDB for reading the dataset back, with
// the store's offline settings.
func openReader() (*sql.DB, error) {
	return query.OpenMemory(context.Background(), "256MB")
}

// Manifest reads the files manifest of the dataset.
func (w *Writer) Manifest() (ingest.Manifest, error) {
	glob := filepath.Join(w.dir, FilesDir, "*.parquet")
	q := "SELECT path, sha256 FROM read_parquet(" + query.StringLiteral(glob) + ") WHERE sha256 IS NOT NULL"
	if files, _ := filepath.Glob(glob); len(files) == 0 {
		q = "SELECT NULL::VARCHAR, NULL::VARCHAR WHERE false" // read_parquet fails on no files
	}
	m, err := query.ReadManifest(context.Background(), w.db, q)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", w.dir, err)
	}
	return m, nil
}

// lockDir takes an exclusive lock on the dataset for this run, so two runs
// never write (or recover) the same directory at once. The lock goes with
// the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "_lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock dataset %s: %w", dir, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("dataset %s is being written by another trailsift run: %w", dir, err)
	}
	return f, nil
}
