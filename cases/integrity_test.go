package cases

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/query"
)

// TestIntegrityRoundTrip: the check a report shows is the one analyze
// stored, the newest when there are several, and a store without one says
// so.
func TestIntegrityRoundTrip(t *testing.T) {
	ctx := context.Background()
	store, err := query.Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, ok, err := LatestIntegrity(ctx, store.DB); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	at := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	older := IntegrityCheck{CheckedAt: at, Inputs: []string{"-"}, Note: "The evidence came on standard input."}
	newer := IntegrityCheck{CheckedAt: at.Add(time.Hour), Inputs: []string{"ev.zip", "it's\x1b[31m|odd"}, Report: &integrity.Report{
		Inputs: []string{"ev.zip"}, Digests: 3, LogFilesListed: 5, LogFilesFound: 4, LogFilesVerified: 4,
		Chains: []integrity.Chain{{Account: "111111111111", Region: "us-east-1", Trail: "t", From: at, To: at.Add(time.Hour), Digests: 3}},
		Findings: []integrity.Finding{{Kind: integrity.KindLogMissing, Severity: integrity.SeverityFail, File: "AWSLogs/x.json.gz",
			From: at, To: at.Add(5 * time.Minute), Detail: "listed in a digest, not in the evidence"}},
		Notes: []string{"a note"},
	}}
	for _, c := range []IntegrityCheck{newer, older} { // stored out of order
		if err := SaveIntegrity(ctx, store, c); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := LatestIntegrity(ctx, store.DB)
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if !reflect.DeepEqual(got, newer) {
		t.Errorf("read back\n %+v\nwant\n %+v", got, newer)
	}
	var result string
	var fails int
	if err := store.DB.QueryRow("SELECT result, failures FROM integrity_checks ORDER BY checked_at LIMIT 1").Scan(&result, &fails); err != nil || result != "not-run" || fails != 0 {
		t.Errorf("older row: %q %d %v", result, fails, err)
	}
	if err := store.DB.QueryRow("SELECT result, failures FROM integrity_checks ORDER BY checked_at DESC LIMIT 1").Scan(&result, &fails); err != nil || result != "failed" || fails != 1 {
		t.Errorf("newer row: %q %d %v", result, fails, err)
	}
}

// TestIntegrityOlderStore: a store made before integrity_checks existed
// (opened read-only, so not given the table) has no check, and no error.
func TestIntegrityOlderStore(t *testing.T) {
	ctx := context.Background()
	store, err := query.Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.DB.Exec("DROP TABLE integrity_checks"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := LatestIntegrity(ctx, store.DB); ok || err != nil {
		t.Errorf("older store: ok=%v err=%v", ok, err)
	}
	rep, err := Report(ctx, store, nil)
	if err != nil || rep.Integrity != nil || rep.IntegrityNote != noCheckNote {
		t.Errorf("report of an older store: %v %+v %q", err, rep.Integrity, rep.IntegrityNote)
	}
}
