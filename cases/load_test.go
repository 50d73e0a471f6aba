package cases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// A merge at the end of an ingest that fails (here its staging folder
// cannot be made, as on a full disk) is a warning: every event is stored
// and read once, the sessions are built, and the next run stores nothing
// twice.
func TestLoadDatasetMergeFailureIsAWarning(t *testing.T) {
	ctx := context.Background()
	input := filepath.Join(t.TempDir(), "many.json")
	write(t, input, manyEventsLog(manyEvents))
	dir := filepath.Join(t.TempDir(), "ds")
	obstruct := func() {
		// A file where the merge stages its output.
		must(t, os.RemoveAll(filepath.Join(dir, "_staging")))
		must(t, os.WriteFile(filepath.Join(dir, "_staging"), []byte("in the way"), 0o644))
	}
	sum, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{AfterRead: obstruct})
	if err != nil {
		t.Fatalf("the run failed: %v", err)
	}
	var warned bool
	for _, p := range sum.Problems {
		warned = warned || (p.Path == "(merging parts)" && p.Severity == "warning" && strings.Contains(p.Message, "every event is stored"))
	}
	if !warned || sum.Interrupted {
		t.Errorf("problems %+v, interrupted %v: want the merge's warning", sum.Problems, sum.Interrupted)
	}
	events, parts := datasetEvents(t, dir)
	if events != manyEvents || parts < 2 {
		t.Errorf("%d events in %d parts, want %d in the unmerged parts", events, parts, manyEvents)
	}
	if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 1 {
		t.Errorf("stored sessions: %v, want one file", stored)
	}
	again, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{})
	if err != nil || again.EventsNew != 0 || again.FilesUnchanged != 1 {
		t.Fatalf("rerun: %+v, %v: want nothing new", again, err)
	}
	if events, _ := datasetEvents(t, dir); events != manyEvents {
		t.Errorf("after the rerun %d events, want %d", events, manyEvents)
	}
}

// Ctrl-C while the parts are merged: the run is interrupted (and says so
// in its summary as in its exit), its events are stored, and the next run
// stores nothing twice and builds the sessions the interrupted one left.
func TestLoadDatasetInterruptedWhileMerging(t *testing.T) {
	input := filepath.Join(t.TempDir(), "many.json")
	write(t, input, manyEventsLog(manyEvents))
	dir := filepath.Join(t.TempDir(), "ds")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := LoadDataset(ctx, dir, []string{input}, LoadOptions{AfterRead: cancel})
	if !errors.Is(err, ingest.ErrInterrupted) || sum == nil || !sum.Interrupted {
		t.Fatalf("summary %+v, error %v: want an interrupted run", sum, err)
	}
	if events, _ := datasetEvents(t, dir); events != manyEvents {
		t.Errorf("%d events stored, want %d", events, manyEvents)
	}
	if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 0 {
		t.Errorf("stored sessions after the interruption: %v", stored)
	}
	again, err := LoadDataset(context.Background(), dir, []string{input}, LoadOptions{})
	if err != nil || again.EventsNew != 0 {
		t.Fatalf("rerun: %+v, %v: want nothing new", again, err)
	}
	if events, _ := datasetEvents(t, dir); events != manyEvents {
		t.Errorf("after the rerun %d events, want %d", events, manyEvents)
	}
	if stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet")); len(stored) != 1 {
		t.Errorf("stored sessions after the rerun: %v, want one file", stored)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
