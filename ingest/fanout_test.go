package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// hardRecords are the records of a large file with every kind of problem
// among its events, more of them than a File stores: lines cut short,
// records that are not events, control bytes to repair, and lookup-events
// items. Records files wrap them in an array, where a cut record is
// skipped to the next one.
func hardRecords(n int) []string {
	var recs []string
	for i := range n {
		r := ctEvent(i, i%300)
		switch {
		case i%37 == 5:
			r = r[:len(r)/2] // broken
		case i%53 == 7:
			r = fmt.Sprintf(`{"note":"not an event","n":%d}`, i)
		case i%41 == 3:
			r = strings.Replace(r, `"eventName":"ListUsers"`, "\"eventName\":\"List\x01Users\"", 1) // repaired, warned
		}
		recs = append(recs, r)
	}
	return recs
}

// A large file read with helpers gives the events, the manifest row and
// the stored problems a worker reading it alone gives, whatever its
// shape and compression.
func TestLargeFileReadWithHelpersAsAlone(t *testing.T) {
	recs := hardRecords(4000)
	lines := strings.Join(recs, "\n") + "\n"
	array := `{"Records":[` + strings.Join(recs, ",\n") + "]}"
	var items []string
	for _, r := range recs[:2000] {
		items = append(items, lookupItem(r))
	}
	lookup := `{"Events":[` + strings.Join(items, ",") + `]}`
	// Few problems: the rows of its non-events, found in different chunks,
	// are stored, in file order.
	var few []string
	for i := range 600 {
		switch i {
		case 10, 590:
			few = append(few, fmt.Sprintf(`{"note":"not an event","n":%d}`, i))
		case 300:
			few = append(few, ctEvent(i, 0)[:50])
		default:
			few = append(few, ctEvent(i, 3000*(i%2))) // every other one larger than a small chunk
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "big.jsonl", []byte(lines))
	writeFile(t, dir, "big.json.gz", gzipBytes(t, []byte(array)))
	writeFile(t, dir, "page.json", []byte(lookup))
	writeFile(t, dir, "few.jsonl", []byte(strings.Join(few, "\n")))

	read := func(fanFrom int64, workers, perChunk, chunkSize int) (map[string]string, []string) {
		defer func(n int64, r, b int) { fanOutSize, chunkRecords, chunkBytes = n, r, b }(fanOutSize, chunkRecords, chunkBytes)
		fanOutSize, chunkRecords, chunkBytes = fanFrom, perChunk, chunkSize
		sink, _ := runInputs(t, []string{dir}, Options{Workers: workers})
		files := map[string]string{}
		for _, f := range sink.files {
			files[f.Path] = fmt.Sprintf("%s %d %s %q warnings %d errors %d %+v", f.Shape, f.Events, f.Status, f.Reason, f.Warnings, f.ErrorCount, f.Errors)
		}
		var events []string
		for _, e := range sink.events {
			events = append(events, fmt.Sprintf("%d %d %s", e.FileID, e.RecordIndex, e.Raw))
		}
		slices.Sort(events)
		return files, events
	}
	aloneFiles, aloneEvents := read(1<<62, 2, chunkRecords, chunkBytes)
	for path, f := range aloneFiles {
		if many := strings.Contains(f, "more problems in this file"); many != !strings.HasSuffix(path, "few.jsonl") {
			t.Fatalf("%s: more problems than a File stores: %v (%.200s)", path, many, f)
		}
	}
	for _, c := range []struct{ workers, perChunk, chunkSize int }{
		{2, 2048, 1 << 20},
		{4, 2048, 1 << 20},
		{2, 3, 2000}, // many chunks, some read by the reader itself, large records read where they are
	} {
		files, events := read(0, c.workers, c.perChunk, c.chunkSize)
		if !slices.Equal(events, aloneEvents) {
			t.Errorf("%+v: %d events, alone %d (or other ones)", c, len(events), len(aloneEvents))
		}
		for path, want := range aloneFiles {
			if got := files[path]; got != want {
				t.Errorf("%+v, %s:\n got %.600s\nwant %.600s", c, path, got, want)
			}
		}
	}
}

// Once the run is cancelled, a large file's handler refuses the next
// record, so the splitter stops there, as it does for a small file (it
// went on copying the rest of the file into chunks nobody read).
func TestLargeFileStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{ctx: ctx, out: make(chan message, 1), chunks: make(chan *chunk, 1)}
	f := &File{ID: 1}
	h := &fileHandler{r: r, n: &normalizer{}, f: f, fan: &fanOut{r: r, f: f, n: &normalizer{}}, log: &problemLog{}}
	rec := rawRecord{data: []byte(ctEvent(1, 0)), wrapper: ""}
	if err := h.record(rec); err != nil {
		t.Fatalf("before the cancel: %v", err)
	}
	cancel()
	if err := h.record(rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("after the cancel: %v, want %v", err, context.Canceled)
	}
	if got := len(h.fan.cur.recs); got != 1 {
		t.Errorf("%d records in the chunk, want the one taken before the cancel", got)
	}
}
