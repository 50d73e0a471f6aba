package cases

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/samples"
)

// On a dataset whose sign-ins are in a few of its partitions (as in a
// bucket: us-east-1 only), the shared relations are staged from only the
// parts that hold their events, and the findings are the same as when
// every part is read: with and without a window. Without one, a sign-in
// without a time (in the partition of such events) is found too.
func TestDatasetStagesFromTheirParts(t *testing.T) {
	ctx := context.Background()
	corpus := t.TempDir()
	if _, err := samples.Generate(samples.Options{Out: filepath.Join(corpus, "logs"), Events: 6000, Accounts: 2, Regions: 3, Days: 2, Seed: 5, Chains: true}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(corpus, "untimed.json"), []byte(`{"Records":[{"eventVersion":"1.08","eventSource":"signin.amazonaws.com",`+
		`"eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","eventID":"untimed-root-login",`+
		`"userIdentity":{"type":"Root","arn":"arn:aws:iam::`+tAcct+`:root","accountId":"`+tAcct+`"},"recipientAccountId":"`+tAcct+`",`+
		`"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}}]}`))
	dir := t.TempDir()
	if _, err := LoadDataset(ctx, dir, []string{corpus}, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := lake.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()

	conds := []string{}
	for _, r := range query.SharedRelations("signin_events, credential_events") {
		conds = append(conds, r.Holds)
	}
	conn, err := ds.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	picked, err := ds.EventsHolding(ctx, conn, time.Time{}, time.Time{}, conds)
	conn.Close()
	if err != nil || len(picked) != len(conds) {
		t.Fatalf("EventsHolding: %d selects, %v", len(picked), err)
	}
	parts, _ := filepath.Glob(lake.EventsGlob(dir))
	for k, q := range picked {
		var read, want int64
		if q == "" {
			t.Errorf("%s: every part read, though the sign-ins are in us-east-1 only", conds[k])
			continue
		}
		if err := ds.DB.QueryRow("SELECT count(*) FROM (" + q + ") WHERE " + conds[k]).Scan(&read); err != nil {
			t.Fatal(err)
		}
		if err := ds.DB.QueryRow("SELECT count(*) FROM events WHERE " + conds[k]).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if read != want || want == 0 {
			t.Errorf("%s: %d events in the parts picked, %d in the dataset (%d parts)", conds[k], read, want, len(parts))
		}
	}

	untimed := 0
	for _, f := range sameFindingsAsEveryPart(t, ds)[0] {
		if slices.Contains(f.EventIDs, "untimed-root-login") {
			untimed++
		}
	}
	if untimed == 0 {
		t.Error("the sign-in without a time is in no finding")
	}
}

// sameFindingsAsEveryPart runs the built-in rules over the dataset ds as
// a detect run does (Rules.Run, with its narrowed reads), without a window
// and with one, checks each run finds what the rules find reading every
// part of the window, and returns the runs' findings (the first without a
// window).
func sameFindingsAsEveryPart(t *testing.T, ds *query.Store) [][]query.Finding {
	t.Helper()
	ctx := context.Background()
	rules, err := query.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]query.Finding
	for _, w := range []query.DetectOptions{{}, {Since: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)}} {
		everyPart := w
		everyPart.Events = ds.WindowEvents(w.Since, w.Until)
		want, err := query.Detect(ctx, ds.DB, rules, everyPart)
		if err != nil || len(want) == 0 {
			t.Fatalf("since %v, every part: %d findings, %v", w.Since, len(want), err)
		}
		got, err := Rules{Options: w}.Run(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("since %v: %d findings as detect reads the dataset, %d from every part:\n%s\n%s", w.Since, len(got), len(want), b, a)
		}
		out = append(out, got)
	}
	return out
}

// A dataset of many partitions (a bucket's shape) keeps its events'
// columns but raw in typed files, and reads them where it can: the rules
// find what they find over the parts, with and without a window, and the
// stored sessions (built from the typed files) are the ones built from
// the parts, console sessions' creation dates (read from raw) too.
func TestDatasetReadsItsTypedCopy(t *testing.T) {
	ctx := context.Background()
	corpus := t.TempDir()
	if _, err := samples.Generate(samples.Options{Out: corpus, Events: 8000, Accounts: 4, Regions: 4, Days: 4, Seed: 11, Chains: true}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := LoadDataset(ctx, dir, []string{corpus}, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	typed, _ := filepath.Glob(filepath.Join(dir, lake.TypedDir, "*.parquet"))
	parts, _ := filepath.Glob(lake.EventsGlob(dir))
	if len(typed) != 1 || len(parts) < 64 {
		t.Fatalf("%d typed files for %d parts, want 1 (merged) for 64 or more", len(typed), len(parts))
	}
	ds, err := lake.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.TypedEvents == "" {
		t.Fatal("the typed file does not cover the parts")
	}

	// The sessions stored (from the typed file) against the build over
	// the parts (the query a stale dataset's sessions view runs).
	var links, differ int64
	if err := ds.DB.QueryRow("SELECT count(*) FROM sessions WHERE link = 'creation-date'").Scan(&links); err != nil || links == 0 {
		t.Fatalf("%d console sessions linked by creation date (%v): the corpus tests no raw", links, err)
	}
	build := query.SessionsBuildSQL()
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM sessions EXCEPT ALL SELECT * FROM (" + build + "))",
		"SELECT count(*) FROM (SELECT * FROM (" + build + ") EXCEPT ALL SELECT * FROM sessions)",
	} {
		if err := ds.DB.QueryRow(q).Scan(&differ); err != nil || differ != 0 {
			t.Fatalf("sessions from the typed file and from the parts: %d rows differ (%v)", differ, err)
		}
	}

	sameFindingsAsEveryPart(t, ds)
}
