package lake

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
)

// The footer cache. Every command that opens a dataset reads the footer of
// each of its files (readPartSchemas); on a bucket's 1,443 parts that was
// 0.4 CPU-s, a fifth of a detect there. A run's end writes what they say
// into FooterCacheFile, by file, with its size and modification time;
// a reader takes an entry whose file still has both, and reads the footer
// of any other file. Files are never changed once committed (a repair is a
// new file renamed over the old), so a file of the same size and time is
// the file the entry was read from.
const FooterCacheFile = "_footers.json"

// footerCache is the cache file's content.
type footerCache struct {
	// Schemas are the distinct schemas, which entries name by index: a
	// dataset's thousands of parts share one or two.
	Schemas []cachedSchema          `json:"schemas"`
	Files   map[string]cachedFooter `json:"files"` // by path relative to the dataset, slash-separated
	dir     string
}

type cachedSchema struct {
	Text    string   `json:"text"`
	Columns []string `json:"columns"`
}

// cachedFooter is a partFooter, and the file it was read from.
type cachedFooter struct {
	Size         int64            `json:"size"`
	ModTime      int64            `json:"mtime_ns"`
	Schema       int              `json:"schema"`
	RawChecked   bool             `json:"raw_checked,omitempty"`
	Rows         int64            `json:"rows"`
	Merged       []string         `json:"merged,omitempty"`
	PathsMissing bool             `json:"paths_missing,omitempty"`
	Holds        map[string]bool  `json:"holds,omitempty"`
	Covers       map[string]int64 `json:"covers,omitempty"`
}

// loadFooterCache reads the cache of the dataset at dir: empty when there
// is none or it cannot be read.
func loadFooterCache(dir string) *footerCache {
	c := &footerCache{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, FooterCacheFile))
	if err != nil || json.Unmarshal(b, c) != nil {
		return &footerCache{dir: dir}
	}
	return c
}

// lookup is the cached footer of the file at path, if the cache has one
// for it as it is (its size and time; a file the cache does not name is
// not looked at).
func (c *footerCache) lookup(path string) (partFooter, bool) {
	if c == nil || len(c.Files) == 0 {
		return partFooter{}, false
	}
	e, ok := c.Files[c.key(path)]
	if !ok || e.Schema < 0 || e.Schema >= len(c.Schemas) {
		return partFooter{}, false
	}
	if !unchanged(path, e.Size, e.ModTime) {
		return partFooter{}, false
	}
	s := c.Schemas[e.Schema]
	return partFooter{schema: s.Text, columns: s.Columns, rawChecked: e.RawChecked, rows: e.Rows, merged: e.Merged,
		pathsMissing: e.PathsMissing, holds: e.Holds, covers: e.Covers}, true
}

func (c *footerCache) key(path string) string { return relPath(c.dir, path) }

// unchanged says whether the file at path still has this size and
// modification time (in nanoseconds): then it is the file a footer was
// read from (see FooterCacheFile).
func unchanged(path string, size, mtime int64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() == size && st.ModTime().UnixNano() == mtime
}

// WriteFooterCache stores what the footers of every file of the dataset at
// dir say (see FooterCacheFile): the footers of the files the old cache
// has as they are are taken from it, as every reader takes them, the
// others read. Written to a temporary file, renamed into place. For the
// end of a run: no commit may be in flight.
func WriteFooterCache(dir string) error {
	var files []string
	for _, glob := range []string{EventsGlob(dir), filepath.Join(dir, TypedDir, "*.parquet"),
		filepath.Join(dir, FilesDir, "*.parquet"), filepath.Join(dir, ErrorsDir, "*.parquet")} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	c := &footerCache{Files: map[string]cachedFooter{}, dir: dir}
	stats := make([]os.FileInfo, len(files))
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		stats[i] = st
	}
	footers := readPartSchemas(files, loadFooterCache(dir)).footers
	if footers == nil && len(files) > 0 {
		// A file that cannot be read: no cache, and each reader finds out
		// for itself.
		if err := os.Remove(filepath.Join(dir, FooterCacheFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	for i, p := range footers {
		k := slices.IndexFunc(c.Schemas, func(s cachedSchema) bool { return s.Text == p.schema })
		if k < 0 {
			k = len(c.Schemas)
			c.Schemas = append(c.Schemas, cachedSchema{p.schema, p.columns})
		}
		c.Files[c.key(files[i])] = cachedFooter{Size: stats[i].Size(), ModTime: stats[i].ModTime().UnixNano(), Schema: k,
			RawChecked: p.rawChecked, Rows: p.rows, Merged: p.merged, PathsMissing: p.pathsMissing, Holds: p.holds, Covers: p.covers}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+newRunID()+".footers.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, FooterCacheFile)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
