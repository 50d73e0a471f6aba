package lake

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// keyCache holds the identities (ingest.Identity digests) of the events in
// the partitions this run has written to. An event always lands in the
// partition of its own account, region and day, all part of its identity,
// so checking that partition is enough to store it once. The identity is
// compared, not the 64-bit key: a key collision cannot drop an event. When
// the cache grows past maxCachedKeys, the partitions used least recently
// are dropped, which bounds memory however large the dataset; a partition
// touched again is read back from disk. Evidence comes partition by
// partition (CloudTrail's folders are account, region, day), so that is
// rare. (Clearing all 3M keys at once, as it did before, made a 10M-event
// ingest 5% slower, with a fifth more time in the kernel.)
type keyCache struct {
	parts map[string]*partKeys
	size  int
	clock int
}

type partKeys struct {
	ids  map[[32]byte]struct{}
	used int // the cache's clock when last used
}

// maxCachedKeys bounds the cache: about 70 MB of keys. A variable, so tests
// can make it small.
var maxCachedKeys = 1_000_000

// filter returns the indexes, among idx, of the rows of all in partition
// part that the store does not hold yet, and remembers them. load reads
// the identities the store holds in a partition the cache does not.
func (c *keyCache) filter(part string, all []eventRow, idx []int32, load func(part string) (map[[32]byte]struct{}, error)) ([]int32, error) {
	c.clock++
	pk, ok := c.parts[part]
	if !ok {
		ids, err := load(part)
		if err != nil {
			return nil, err
		}
		pk = &partKeys{ids: ids}
		c.parts[part] = pk
		c.size += len(ids)
	}
	pk.used = c.clock
	fresh := idx[:0]
	for _, j := range idx {
		id := all[j].Digest
		if _, dup := pk.ids[id]; dup {
			continue
		}
		pk.ids[id] = struct{}{}
		c.size++
		fresh = append(fresh, j)
	}
	c.evict(part)
	return fresh, nil
}

// evict drops the partitions used least recently, but not keep, once the
// cache holds more than maxCachedKeys, until it holds half that: a sort
// now and then, not at every commit.
func (c *keyCache) evict(keep string) {
	if c.size <= maxCachedKeys {
		return
	}
	names := slices.SortedFunc(maps.Keys(c.parts), func(a, b string) int { return cmp.Compare(c.parts[a].used, c.parts[b].used) })
	for _, name := range names {
		if c.size <= maxCachedKeys/2 {
			return
		}
		if name != keep {
			c.size -= len(c.parts[name].ids)
			delete(c.parts, name)
		}
	}
}

// readIDs reads the identities of the events stored in one partition
// directory.
func readIDs(db *sql.DB, partDir string) (map[[32]byte]struct{}, error) {
	glob := filepath.Join(partDir, "*.parquet")
	if files, _ := filepath.Glob(glob); len(files) == 0 {
		return map[[32]byte]struct{}{}, nil
	}
	ids, err := query.ReadIdentities(context.Background(), db, "read_parquet("+query.StringLiteral(glob)+")")
	if err != nil {
		return nil, fmt.Errorf("read stored events of %s: %w", partDir, err)
	}
	return ids, nil
}

// openReader opens an in-memory DuckDB for reading the dataset back, with
// the store's offline settings.
func openReader() (*query.Store, error) {
	return query.OpenMemory(context.Background(), "256MB")
}

// Manifest reads the files manifest of the dataset. It also remembers
// every row, so a file recorded again with the same outcome (a failed file
// is read again by each run) does not get a second row.
func (w *Writer) Manifest() (ingest.Manifest, error) {
	glob := filepath.Join(w.dir, FilesDir, "*.parquet")
	q := "SELECT path, sha256, status FROM read_parquet(" + query.StringLiteral(glob) + ") WHERE sha256 IS NOT NULL"
	if files, _ := filepath.Glob(glob); len(files) == 0 {
		q = "SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR WHERE false" // read_parquet fails on no files
	}
	m, err := query.ReadManifest(context.Background(), w.reader.DB, q)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", w.dir, err)
	}
	// Every row, those without a sha256 too (a folder that could not be
	// listed, a dangling link): they are recorded again by every run.
	all := "SELECT path, coalesce(sha256, ''), status FROM read_parquet(" + query.StringLiteral(glob) + ")"
	if files, _ := filepath.Glob(glob); len(files) == 0 {
		all = "SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR WHERE false"
	}
	rows, err := w.reader.DB.Query(all)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", w.dir, err)
	}
	defer rows.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for rows.Next() {
		var r recordedFile
		if err := rows.Scan(&r.path, &r.sha, &r.status); err != nil {
			return nil, err
		}
		w.recorded[r] = true
	}
	return m, rows.Err()
}

// Recorded says whether the dataset's manifest holds f's row already: the
// same path, content and outcome, read by Manifest or written since.
func (w *Writer) Recorded(f *ingest.File) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.recorded[recordedFile{f.Path, f.SHA256, f.Status}]
}

// recordedFile is a manifest row as far as a repeat is concerned.
type recordedFile struct{ path, sha, status string }

// recordedFiles are the manifest rows a run has recorded: a file is
// recorded once per path, content and outcome.
type recordedFiles map[recordedFile]bool

// first says whether f's row is not recorded yet, and records it.
func (m recordedFiles) first(f *ingest.File) bool {
	r := recordedFile{f.Path, f.SHA256, f.Status}
	if m[r] {
		return false
	}
	m[r] = true
	return true
}

// lockDir takes an exclusive lock on the dataset for this run, so two runs
// never write (or recover) the same directory at once. The lock goes with
// the process, however it ends; unlockDir removes the file on a clean end.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, "_lock")
	for {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock dataset %s: %w", dir, err)
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("dataset %s is being written by another trailsift run: %w", dir, err)
		}
		// The run before may have removed the file between our open and our
		// lock: a lock on a removed file guards nothing, so take it again.
		held, err1 := f.Stat()
		now, err2 := os.Stat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
}

// unlockDir removes the lock file, while still holding the lock (see
// lockDir), and releases it.
func unlockDir(f *os.File) {
	_ = os.Remove(f.Name()) // a lock file left behind only costs a retake
	f.Close()
}
