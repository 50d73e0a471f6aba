package cases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
)

// manyEventsLog is a log file of n events in one partition (one account,
// region and day): enough of them (more than a commit holds) for a run to
// write several parts there, which its end merges.
func manyEventsLog(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.08","eventTime":"2024-03-05T08:%02d:%02dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1",`+
			`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%[3]s:user/bob","accountId":"%[3]s","accessKeyId":"AKIABOB0000000000001","userName":"bob"},`+
			`"sourceIPAddress":"198.51.100.1","recipientAccountId":"%[3]s","eventID":"ev-%[4]d"}`, i/60%60, i%60, tAcct, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// datasetEvents counts the events of the dataset at dir, and its parts.
func datasetEvents(t *testing.T, dir string) (events int64, parts int) {
	t.Helper()
	ds, err := lake.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := ds.DB.QueryRow(`SELECT count(*) FROM events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	all, _ := filepath.Glob(lake.EventsGlob(dir))
	return events, len(all)
}

const manyEvents = 60_000 // three commits

// What fails at the end of an ingest --parquet, once its events are
// stored, is a warning: the merge of its parts (here its staging folder
// cannot be made, as on a full disk), or the sessions' file (its folder
// cannot be made). Every event is stored and read once, the warning is
// counted and listed, and the next run stores nothing twice.
func TestLoadDatasetEndFailuresAreWarnings(t *testing.T) {
	ctx := context.Background()
	input := filepath.Join(t.TempDir(), "many.json")
	write(t, input, manyEventsLog(manyEvents))
	for _, c := range []struct {
		folder   string // made a file, where the step writes
		problem  string
		merged   bool // the parts were merged
		sessions bool // the sessions were stored
	}{
		{"_staging", "(merging parts)", false, true},
		{lake.SessionsDir, "(sessions)", true, false},
	} {
		t.Run(c.problem, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			obstruct := func() {
				must(t, os.RemoveAll(filepath.Join(dir, c.folder)))
				must(t, os.WriteFile(filepath.Join(dir, c.folder), []byte("in the way"), 0o644))
			}
			sum, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{AfterRead: obstruct})
			if err != nil {
				t.Fatalf("the run failed: %v", err)
			}
			var warned bool
			for _, p := range sum.Problems {
				warned = warned || (p.Path == c.problem && p.Severity == "warning" && strings.Contains(p.Message, "every event is stored"))
			}
			// Counted (the summary prints its problems when there are
			// warnings), and in --json.
			if !warned || sum.Warnings != 1 || len(sum.RunWarnings) != 1 || sum.Interrupted {
				t.Errorf("problems %+v, warnings %d %q, interrupted %v: want the warning", sum.Problems, sum.Warnings, sum.RunWarnings, sum.Interrupted)
			}
			events, parts := datasetEvents(t, dir)
			if events != manyEvents || (parts == 1) != c.merged {
				t.Errorf("%d events in %d parts, want %d, merged %v", events, parts, manyEvents, c.merged)
			}
			stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet"))
			if (len(stored) == 1) != c.sessions {
				t.Errorf("stored sessions: %v, want them %v", stored, c.sessions)
			}
			must(t, os.RemoveAll(filepath.Join(dir, c.folder))) // the writer's Close removes a _staging it finds
			again, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{})
			if err != nil || again.EventsNew != 0 || again.FilesUnchanged != 1 || again.Warnings != 0 {
				t.Fatalf("rerun: %+v, %v: want nothing new", again, err)
			}
			if events, _ := datasetEvents(t, dir); events != manyEvents {
				t.Errorf("after the rerun %d events, want %d", events, manyEvents)
			}
			if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 1 {
				t.Errorf("stored sessions after the rerun: %v, want one file", stored)
			}
		})
	}
}

// cancelWhen is a context cancelled the first time it is asked (Err,
// Done) once it is armed and ready says so: a Ctrl-C that lands at the
// point of a run the test names, whatever the timing.
type cancelWhen struct {
	context.Context
	cancel context.CancelFunc
	armed  atomic.Bool
	ready  func() bool
}

func newCancelWhen(ready func() bool) *cancelWhen {
	ctx, cancel := context.WithCancel(context.Background())
	return &cancelWhen{Context: ctx, cancel: cancel, ready: ready}
}

func (c *cancelWhen) check() {
	if c.armed.Load() && c.ready() {
		c.cancel()
	}
}

func (c *cancelWhen) Done() <-chan struct{} { c.check(); return c.Context.Done() }
func (c *cancelWhen) Err() error            { c.check(); return c.Context.Err() }

// partsOf counts the Parquet files of the dataset at dir matching glob.
func partsOf(dir, glob string) int {
	m, _ := filepath.Glob(filepath.Join(dir, glob))
	return len(m)
}

// Ctrl-C at the end of an ingest --parquet, once its events are read: part
// way through the merge of its parts (the manifest's merged, the events'
// not yet), or in the sessions build. The run is interrupted, and says so
// in its summary as in its exit; its events are all stored; the next run
// stores nothing twice and builds the sessions the interrupted one left.
func TestLoadDatasetInterruptedAtTheEnd(t *testing.T) {
	input := filepath.Join(t.TempDir(), "many.json")
	write(t, input, manyEventsLog(manyEvents))
	for _, c := range []struct {
		name   string
		ready  func(dir string) bool
		merged bool // the events' parts were merged before the interruption
	}{
		{"merging", func(dir string) bool { return partsOf(dir, "_files/*.parquet") == 1 }, false},
		{"building the sessions", func(dir string) bool { return partsOf(dir, "account=*/*/*/*.parquet") == 1 }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			ctx := newCancelWhen(func() bool { return c.ready(dir) })
			defer ctx.cancel()
			sum, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{AfterRead: func() { ctx.armed.Store(true) }})
			if !errors.Is(err, ingest.ErrInterrupted) || sum == nil || !sum.Interrupted {
				t.Fatalf("summary %+v, error %v: want an interrupted run", sum, err)
			}
			events, parts := datasetEvents(t, dir)
			if events != manyEvents || (parts == 1) != c.merged {
				t.Errorf("%d events in %d parts, want %d, merged %v", events, parts, manyEvents, c.merged)
			}
			if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 0 {
				t.Errorf("stored sessions after the interruption: %v", stored)
			}
			again, err := LoadDataset(context.Background(), dir, []string{input}, LoadOptions{})
			if err != nil || again.EventsNew != 0 || again.Interrupted {
				t.Fatalf("rerun: %+v, %v: want nothing new", again, err)
			}
			if events, _ := datasetEvents(t, dir); events != manyEvents {
				t.Errorf("after the rerun %d events, want %d", events, manyEvents)
			}
			if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 1 {
				t.Errorf("stored sessions after the rerun: %v, want one file", stored)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
