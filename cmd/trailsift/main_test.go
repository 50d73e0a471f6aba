package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailsift/trailsift/cases"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

// TestMain lets a test run the real binary as a child process (for the
// SIGKILL test): the test executable re-runs itself with this variable set.
func TestMain(m *testing.M) {
	if os.Getenv("TRAILSIFT_RUN_MAIN") == "1" {
		if n, err := strconv.Atoi(os.Getenv("TRAILSIFT_TEST_INTERRUPT_AT_LOAD")); err == nil {
			interruptAtLoadForTest(n)
		}
		if n, err := strconv.ParseInt(os.Getenv("TRAILSIFT_TEST_KILL_AFTER_FILES"), 10, 64); err == nil {
			atFilesDone = func(_ context.Context, files int64) {
				if files == n {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
		}
		if n, err := strconv.Atoi(os.Getenv("TRAILSIFT_TEST_COMMIT_EVENTS")); err == nil {
			lake.StreamCommitEvents, lake.StreamCommitInterval = n, 0
		}
		if os.Getenv("TRAILSIFT_TEST_KILL_AT_LOAD") == "1" {
			atStoreLoad = func(context.Context, *streams) { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		}
		if n, err := strconv.ParseInt(os.Getenv("TRAILSIFT_TEST_INTERRUPT_AFTER_FILES"), 10, 64); err == nil {
			atFilesDone = func(ctx context.Context, files int64) {
				if files == n {
					syscall.Kill(os.Getpid(), syscall.SIGINT)
					<-ctx.Done() // the run is cancelled before it takes another file
				}
			}
		}
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	removeSharedCases()
	os.Exit(code)
}

// run calls the CLI in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func fixture(name string) string { return filepath.Join("..", "..", "ingest", "testdata", name) }

func openStore(t *testing.T, path string) *sql.DB {
	t.Helper()
	return openTarget(t, "--db", path)
}

// openTarget opens a DuckDB store (--db) or a Parquet dataset (--parquet).
func openTarget(t *testing.T, flag, path string) *sql.DB {
	t.Helper()
	s := openCase(t, flag, path)
	t.Cleanup(func() { s.Close() })
	return s.DB
}

// openCase opens a store (--db) or dataset (--parquet) read-only.
func openCase(t *testing.T, flag, path string) *query.Store {
	t.Helper()
	var s *query.Store
	var err error
	if flag == "--parquet" {
		s, err = lake.Open(context.Background(), path)
	} else {
		s, err = query.Open(context.Background(), path, true)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scalar(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var v any
	if err := db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return fmt.Sprint(v)
}

func TestIngestCLI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "case.duckdb")
	stdout, stderr, code := run(t, "", "ingest", "--db", db, "--json",
		fixture("records"), fixture("lookup-events"), fixture("truncated-gzip"), fixture("digest-file"))
	if code != exitPartial {
		t.Fatalf("exit %d, want %d (a truncated file); stderr:\n%s", code, exitPartial, stderr)
	}
	var sum cases.Loaded
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if sum.FilesLoaded != 2 || sum.FilesFailed != 1 || sum.FilesSkipped != 1 || sum.EventsNew != 3 || sum.EventsDuplicate != 4 {
		t.Errorf("summary = %+v", sum)
	}
	if !strings.Contains(stderr, "cut.json.gz") || !strings.Contains(stderr, "unexpected EOF") {
		t.Errorf("stderr does not name the bad file and problem:\n%s", stderr)
	}
	// A second run adds nothing, but the failed file is read again and
	// still fails: it is not "unchanged since last run".
	stdout, stderr, code = run(t, "", "ingest", "--db", db, "--json", fixture("records"), fixture("lookup-events"), fixture("truncated-gzip"), fixture("digest-file"))
	if code != exitPartial {
		t.Fatalf("re-run exit %d; stderr:\n%s", code, stderr)
	}
	json.Unmarshal([]byte(stdout), &sum)
	if sum.EventsNew != 0 || sum.FilesUnchanged != 3 || sum.FilesFailed != 1 {
		t.Errorf("re-run summary = %+v", sum)
	}
	d := openStore(t, db)
	if got := scalar(t, d, "SELECT count(*) FROM events"); got != "3" {
		t.Errorf("events = %s", got)
	}
}

func TestIngestStdin(t *testing.T) {
	db := filepath.Join(t.TempDir(), "case.duckdb")
	data, _ := os.ReadFile(filepath.Join(fixture("ndjson"), "lake.ndjson"))
	_, stderr, code := run(t, string(data), "ingest", "--db", db, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := scalar(t, openStore(t, db), "SELECT count(*) FROM events"); got != "3" {
		t.Errorf("events = %s", got)
	}
}

func TestIngestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no paths", []string{"ingest", "--db", filepath.Join(dir, "x.duckdb")}, "requires at least 1 arg"},
		{"missing path", []string{"ingest", "--db", filepath.Join(dir, "x.duckdb"), filepath.Join(dir, "nope")}, "no such file"},
		{"db inside evidence", []string{"ingest", "--db", filepath.Join(dir, "case.duckdb"), dir}, "inside the evidence"},
		{"bad flag", []string{"ingest", "--bogus"}, "unknown flag"},
		{"record size over the limit", []string{"ingest", "--db", filepath.Join(dir, "x.duckdb"), "--max-record-size", "300000000", filepath.Join(dir, "x.json")}, "--max-record-size is at most 268435456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "case.duckdb")); err == nil {
		t.Error("a database was created inside the evidence folder")
	}
}

func TestIngestNeverWritesBesideEvidence(t *testing.T) {
	evidence := t.TempDir()
	copyTree(t, fixture("nested-archive"), evidence)
	copyTree(t, fixture("records"), evidence)
	before := listTree(t, evidence)
	os.Chmod(evidence, 0o555) // as mounted read-only
	defer os.Chmod(evidence, 0o755)
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "--db", db, evidence); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if after := listTree(t, evidence); after != before {
		t.Errorf("evidence folder changed:\nbefore %s\nafter  %s", before, after)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), data, 0o444)
	}
}

func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s:%d:%s;", p, fi.Size(), fi.ModTime())
		}
		return nil
	})
	return b.String()
}

// writeCorpus writes files of gzipped Records with unique events, enough
// for an ingest to take a while.
func writeCorpus(t *testing.T, dir string, files, perFile int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for f := range files {
		var b bytes.Buffer
		b.WriteString(`{"Records":[`)
		for i := range perFile {
			if i > 0 {
				b.WriteByte(',')
			}
			ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(f*perFile+i) * time.Second)
			fmt.Fprintf(&b, `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/App/i-%d","accountId":"111122223333"},"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"10.0.%d.%d","userAgent":"aws-sdk-go/1.44 padding %x","requestParameters":{"maxResults":%d},"responseElements":null,"eventID":"%08x-0000-4000-8000-%012x","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}`,
				rng.IntN(50), ts.Format(time.RFC3339), rng.IntN(255), rng.IntN(255), rng.Uint64(), rng.IntN(1000), f, i)
		}
		b.WriteString("]}")
		p := filepath.Join(dir, fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/%02d/f%05d.json.gz", 1+f%28, f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(fh)
		zw.Write(b.Bytes())
		zw.Close()
		fh.Close()
	}
}

// fingerprint summarises a store's rows so two stores can be compared.
func fingerprint(t *testing.T, flag, path string) string {
	d := openTarget(t, flag, path)
	return scalar(t, d, `SELECT format('{} events, {} keys, {}, {} files, {}', count(*), count(DISTINCT event_key),
		sum(hash(event_key, file_id, record_index, raw, event_time, actor)),
		(SELECT count(*) FROM files), (SELECT sum(hash(path, sha256, status, events)) FROM files)) FROM events`)
}

// TestKillAndRerun kills ingest with SIGKILL at set points (after some
// files, with commits written or in flight, and, for a store, just before
// the load), then runs it to the end: the store must equal the one a single
// clean run makes. The kills come from hooks in the child, so every one
// lands, however fast the machine.
func TestKillAndRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a corpus and runs ingest many times")
	}
	evidence := t.TempDir()
	// 60 files of 1000 events: a commit holds 25k events, so the kills
	// after 30 and 20 files come with commits made and in flight.
	writeCorpus(t, evidence, 60, 1000)
	// A store that holds events already is loaded through a staging, a new
	// one as the events are read: both are killed.
	seed := fixture("ndjson")
	for _, kind := range []struct {
		flag, name string
		seeded     bool     // the store holds the events of seed first
		kills      []string // the hook of each killed run
		kept       bool     // the first kill keeps events committed before it
	}{
		// A first load into a new store streams, committing every 10,000
		// events here: the first kill keeps what it committed.
		{"--db", "case.duckdb", false, []string{"TRAILSIFT_TEST_KILL_AFTER_FILES=30", "TRAILSIFT_TEST_KILL_AFTER_FILES=20", "TRAILSIFT_TEST_KILL_AFTER_FILES=5", "TRAILSIFT_TEST_KILL_AT_LOAD=1"}, true},
		{"--db", "seeded.duckdb", true, []string{"TRAILSIFT_TEST_KILL_AFTER_FILES=30", "TRAILSIFT_TEST_KILL_AFTER_FILES=20", "TRAILSIFT_TEST_KILL_AFTER_FILES=5", "TRAILSIFT_TEST_KILL_AT_LOAD=1"}, false},
		{"--parquet", "lake", false, []string{"TRAILSIFT_TEST_KILL_AFTER_FILES=30", "TRAILSIFT_TEST_KILL_AFTER_FILES=20", "TRAILSIFT_TEST_KILL_AFTER_FILES=5"}, false},
	} {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			clean := filepath.Join(dir, "clean-"+kind.name)
			killed := filepath.Join(dir, "killed-"+kind.name)
			wantPrefix := "60000 events, 60000 keys"
			if kind.seeded {
				for _, target := range []string{clean, killed} {
					if _, stderr, code := run(t, "", "ingest", "-q", kind.flag, target, seed); code != 0 {
						t.Fatalf("seed: exit %d %s", code, stderr)
					}
				}
				wantPrefix = "60003 events, 60003 keys"
			}
			if _, stderr, code := run(t, "", "ingest", "-q", kind.flag, clean, evidence); code != 0 {
				t.Fatalf("clean run: exit %d %s", code, stderr)
			}
			want := fingerprint(t, kind.flag, clean)
			if !strings.HasPrefix(want, wantPrefix) {
				t.Fatalf("clean run stored %s", want)
			}

			for i, hook := range kind.kills {
				cmd := exec.Command(os.Args[0], "ingest", "-q", kind.flag, killed, evidence)
				cmd.Env = append(os.Environ(), "TRAILSIFT_RUN_MAIN=1", "TRAILSIFT_TEST_COMMIT_EVENTS=10000", hook)
				err := cmd.Run()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("%s: the run was not killed (%v)", hook, err)
				}
				if i == 0 && kind.kept {
					if n := storedEvents(t, kind.flag, killed); n == 0 {
						t.Fatalf("%s: the first kill lost every event read before it", hook)
					}
				}
			}
			if _, stderr, code := run(t, "", "ingest", "-q", kind.flag, killed, evidence); code != 0 {
				t.Fatalf("final run: exit %d %s", code, stderr)
			}
			if got := fingerprint(t, kind.flag, killed); got != want {
				t.Errorf("after %d kills and a re-run:\n got %s\nwant %s", len(kind.kills), got, want)
			}
			for _, left := range []string{killed + ".manifest", killed + ".staging"} {
				if _, err := os.Stat(left); !os.IsNotExist(err) {
					t.Errorf("left beside the store after the re-run: %s (%v)", left, err)
				}
			}
		})
	}
}

// TestInterruptStopsCleanly sends Ctrl-C (SIGINT) to a running ingest: it
// must stop with exit status 130, say how to resume, and a re-run must
// finish with the rows of a clean run.
func TestInterruptStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a corpus")
	}
	evidence := t.TempDir()
	writeCorpus(t, evidence, 60, 1000)
	dir := t.TempDir()
	db := filepath.Join(dir, "case.duckdb")
	// The child sends itself SIGINT after 30 of the 60 files and waits for
	// the run to be cancelled: the interrupt always lands mid-run.
	cmd := exec.Command(os.Args[0], "ingest", "--db", db, evidence)
	cmd.Env = append(os.Environ(), "TRAILSIFT_RUN_MAIN=1", "TRAILSIFT_TEST_INTERRUPT_AFTER_FILES=30")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	s, openErr := query.Open(context.Background(), db, true)
	if openErr != nil {
		t.Fatal(openErr)
	}
	var stored int
	openErr = s.DB.QueryRow("select count(*) from events").Scan(&stored)
	s.Close()
	if openErr != nil || stored == 0 || stored == 60000 {
		t.Fatalf("the interrupted run stored %d events (%v): the interrupt did not land mid-run", stored, openErr)
	}
	if code != exitInterrupted || !strings.Contains(stderr.String(), "run the same command again") {
		t.Fatalf("exit %d (%v), stderr:\n%s", code, err, stderr.String())
	}
	if _, errOut, code := run(t, "", "ingest", "-q", "--db", db, evidence); code != 0 {
		t.Fatalf("resume: exit %d %s", code, errOut)
	}
	clean := filepath.Join(dir, "clean.duckdb")
	if _, errOut, code := run(t, "", "ingest", "-q", "--db", clean, evidence); code != 0 {
		t.Fatalf("clean: exit %d %s", code, errOut)
	}
	if got, want := fingerprint(t, "--db", db), fingerprint(t, "--db", clean); got != want {
		t.Errorf("after interrupt and resume:\n got %s\nwant %s", got, want)
	}
}
