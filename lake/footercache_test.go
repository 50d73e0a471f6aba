package lake

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The footer cache says what the footers say; a reader takes an entry for
// a file of the same size and modification time (even one that lies, as
// an edited cache would), and reads the footer of a file changed since.
func TestFooterCacheStandsForUnchangedFiles(t *testing.T) {
	withTypedFrom(t, 1)
	dir := t.TempDir()
	writeRun(t, dir, mixedEvents(0))
	if err := WriteFooterCache(dir); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, glob := range []string{EventsGlob(dir), filepath.Join(dir, TypedDir, "*.parquet"), filepath.Join(dir, FilesDir, "*.parquet")} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	cache := loadFooterCache(dir)
	read, cached := readPartSchemas(files, nil), readPartSchemas(files, cache)
	if len(cache.Files) != len(files) || !reflect.DeepEqual(read, cached) {
		t.Fatalf("%d files cached of %d; from the cache:\n%+v\nread:\n%+v", len(cache.Files), len(files), cached, read)
	}
	if got := tableSources(dir); got.typed == "" || !reflect.DeepEqual(got.schemas, readPartSchemas(got.parts, nil)) {
		t.Errorf("opened with the cache: typed files read %v, footers as read: %v", got.typed != "", reflect.DeepEqual(got.schemas, readPartSchemas(got.parts, nil)))
	}

	// An entry that lies about a file as it is: taken.
	part := files[0]
	key := cache.key(part)
	e := cache.Files[key]
	e.Rows = 12345
	cache.Files[key] = e
	b, err := json.Marshal(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FooterCacheFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if f := readPartSchemas([]string{part}, loadFooterCache(dir)).footers[0]; f.rows != 12345 {
		t.Fatalf("the cache's entry for an unchanged file not taken: %d rows", f.rows)
	}
	// The file changed since (its time): read.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(part, later, later); err != nil {
		t.Fatal(err)
	}
	if f := readPartSchemas([]string{part}, loadFooterCache(dir)).footers[0]; f.rows != read.footers[0].rows {
		t.Errorf("a changed file's footer taken from the cache: %d rows, it has %d", f.rows, read.footers[0].rows)
	}
	// A cache that cannot be read is none.
	if err := os.WriteFile(filepath.Join(dir, FooterCacheFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := loadFooterCache(dir); len(c.Files) != 0 {
		t.Errorf("a broken cache read as %d entries", len(c.Files))
	}
}

// The footers a process read stand for their files while those keep
// their size and time: a file renamed over by another (as a repair does)
// is read again, not answered from what was read of the first.
func TestFooterMemoRereadsAReplacedFile(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, mixedEvents(0))
	parts, _ := filepath.Glob(EventsGlob(dir))
	footers := readPartSchemas(parts, nil).footers
	var a, b int
	for i := range parts {
		if footers[i].rows != footers[a].rows {
			b = i
		}
	}
	if footers[a].rows == footers[b].rows {
		t.Fatalf("no two parts of different sizes among %d", len(parts))
	}
	if f := readPartSchemas([]string{parts[a]}, nil).footers[0]; f.rows != footers[a].rows {
		t.Fatalf("read again: %d rows, want %d", f.rows, footers[a].rows)
	}
	if err := os.Rename(parts[b], parts[a]); err != nil {
		t.Fatal(err)
	}
	if f := readPartSchemas([]string{parts[a]}, nil).footers[0]; f.rows != footers[b].rows {
		t.Errorf("a file replaced since it was read: %d rows, want the new file's %d", f.rows, footers[b].rows)
	}
}
