package lake

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

// partitionRows is a partition of n rows, numbered from start.
func partitionRows(name string, start, n int) piece {
	p := piece{part: name}
	for i := range n {
		p.rows = append(p.rows, int32(start+i))
	}
	return p
}

func TestCutPieces(t *testing.T) {
	for _, c := range []struct {
		name    string
		sizes   []int
		workers int
		want    []int // the pieces' sizes, in order
	}{
		{"one partition is cut for two cores", []int{17009}, 2, []int{8504, 8505}},
		{"the large one of two", []int{2884, 14148}, 2, []int{2884, 7074, 7074}},
		{"two of about a share each", []int{9430, 7756}, 2, []int{9430, 7756}},
		{"many small partitions", slices.Repeat([]int{200}, 100), 2, slices.Repeat([]int{200}, 100)},
		{"one core", []int{17009}, 1, []int{17009}},
		{"too small to cut", []int{5000}, 2, []int{5000}},
		{"never below the least piece", []int{9000}, 8, []int{4500, 4500}},
		{"four cores", []int{40000, 1000}, 4, []int{10000, 10000, 10000, 10000, 1000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var parts []piece
			start := 0
			for i, n := range c.sizes {
				parts = append(parts, partitionRows(fmt.Sprintf("p%03d", i), start, n))
				start += n
			}
			got := cutPieces(parts, c.workers)
			var sizes []int
			var rows []int32
			for _, pc := range got {
				sizes = append(sizes, len(pc.rows))
				rows = append(rows, pc.rows...)
				if pc.of > 1 && len(pc.rows) < minPieceRows {
					t.Errorf("a cut piece of %d rows, fewer than %d", len(pc.rows), minPieceRows)
				}
			}
			if !slices.Equal(sizes, c.want) {
				t.Errorf("pieces of %v rows, want %v", sizes, c.want)
			}
			// Contiguous runs of the sorted rows, in order, each row once.
			for i, r := range rows {
				if r != int32(i) {
					t.Fatalf("row %d of the pieces is %d: not the partitions' rows in order", i, r)
				}
			}
			// Each partition's pieces are numbered 0..of-1 and named apart.
			names := map[string]bool{}
			for _, pc := range got {
				n := filepath.Join(pc.part, pc.name("RUN-000007"))
				if names[n] {
					t.Errorf("two pieces named %s", n)
				}
				names[n] = true
				if pc.of == 1 && pc.name("RUN-000007") != partName("RUN-000007") {
					t.Errorf("an uncut partition's part is %s, want %s", pc.name("RUN-000007"), partName("RUN-000007"))
				}
			}
		})
	}
}

func TestLargestFirst(t *testing.T) {
	pieces := []piece{{rows: make([]int32, 3)}, {rows: make([]int32, 9)}, {rows: make([]int32, 1)}, {rows: make([]int32, 9)}}
	if got := largestFirst(pieces); !slices.Equal(got, []int{1, 3, 0, 2}) {
		t.Errorf("order %v, want [1 3 0 2]", got)
	}
}

// TestOnePartitionCommitIsWrittenInPieces: a commit of one partition's
// events, the usual commit of a bucket walked a partition at a time, is
// written as several parts on two cores, each a contiguous run of the
// partition's sort order, together every event once.
func TestOnePartitionCommitIsWrittenInPieces(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const n = 3*minPieceRows + 100
	base := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	names := []string{"ConsoleLogin", "AssumeRole", "GetObject", "ListBuckets"}
	var evs []ingest.Event
	for i := range n {
		name := names[(i*7)%len(names)]
		evs = append(evs, ingest.Event{Key: uint64(1 + i), Time: base.Add(time.Duration(n-i) * time.Second), HasTime: true,
			EventName: name, EventSource: "s" + name[:1] + ".amazonaws.com", AccountID: "111122223333", AWSRegion: "us-east-1",
			Raw: fmt.Sprintf(`{"eventName":%q,"i":%d}`, name, i), FileID: 1, RecordIndex: int64(i)})
	}
	dir, parts := writeParts(t, evs)
	slices.Sort(parts)
	if len(parts) != 2 {
		t.Fatalf("%d parts, want the partition's share cut in two: %v", len(parts), parts)
	}
	for i, p := range parts {
		if !strings.HasSuffix(p, fmt.Sprintf("-%02d.parquet", i)) {
			t.Errorf("part %s is not named as piece %d", p, i)
		}
	}
	db, err := openReader()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := count(t, db, "SELECT count(DISTINCT record_index) FROM read_parquet("+query.StringLiteral(EventsGlob(dir))+")"); got != n {
		t.Errorf("%d distinct events in the pieces, want %d", got, n)
	}
	// The first piece ends where the second begins, in the sort order
	// (event source, event name, time): its rows are the sorted rows' first half.
	bound := func(p, agg string) string {
		var s string
		q := fmt.Sprintf("SELECT %s(event_source || '|' || event_name || '|' || strftime(event_time, '%%Y%%m%%d%%H%%M%%S')) FROM read_parquet(%s)", agg, query.StringLiteral(p))
		if err := db.DB.QueryRow(q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if last, first := bound(parts[0], "max"), bound(parts[1], "min"); last > first {
		t.Errorf("the first piece ends at %s, after the second begins (%s): the pieces are not runs of the sort order", last, first)
	}
}
