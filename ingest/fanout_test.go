package ingest

import (
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
	dir := t.TempDir()
	writeFile(t, dir, "big.jsonl", []byte(lines))
	writeFile(t, dir, "big.json.gz", gzipBytes(t, []byte(array)))
	writeFile(t, dir, "page.json", []byte(lookup))

	read := func(fanFrom int64, workers int) (map[string]string, []string) {
		defer func(n int64) { fanOutSize = n }(fanOutSize)
		fanOutSize = fanFrom
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
	aloneFiles, aloneEvents := read(1<<62, 2)
	for _, f := range aloneFiles {
		if !strings.Contains(f, "more problems in this file") {
			t.Fatalf("a file with fewer problems than a File stores: %s", f[:200])
		}
	}
	for _, workers := range []int{2, 4} {
		files, events := read(0, workers)
		if !slices.Equal(events, aloneEvents) {
			t.Errorf("%d workers with helpers: %d events, alone %d (or other ones)", workers, len(events), len(aloneEvents))
		}
		for path, want := range aloneFiles {
			if got := files[path]; got != want {
				t.Errorf("%d workers with helpers, %s:\n got %.600s\nwant %.600s", workers, path, got, want)
			}
		}
	}
}
