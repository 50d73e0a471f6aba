package ingest

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// memSink keeps what a run produces, for assertions.
type memSink struct {
	events []Event
	files  []*File
}

func (m *memSink) WriteEvents(evs []Event) error { m.events = append(m.events, evs...); return nil }
func (m *memSink) FileDone(f *File) error        { m.files = append(m.files, f); return nil }
func (m *memSink) Flush() error                  { return nil }

func (m *memSink) file(t *testing.T, suffix string) *File {
	t.Helper()
	for _, f := range m.files {
		if strings.HasSuffix(f.Path, suffix) {
			return f
		}
	}
	t.Fatalf("no file ending in %q among %d files", suffix, len(m.files))
	return nil
}

func runDir(t *testing.T, dir string, opts Options) (*memSink, Stats) {
	t.Helper()
	sink := &memSink{}
	st, err := Run(context.Background(), []string{filepath.Join("testdata", dir)}, sink, opts)
	if err != nil {
		t.Fatalf("Run(%s): %v", dir, err)
	}
	return sink, st
}

func eventIDs(evs []Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.EventID)
	}
	sort.Strings(ids)
	return ids
}

var threeIDs = []string{"0f6a7c8e-1111-4c4c-9d9d-222233334444", "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "d38ce1b3-4575-4cb8-a632-611b8243bfc3"}

func TestShapes(t *testing.T) {
	tests := []struct {
		dir    string
		shape  string
		status string
		ids    []string
	}{
		{"records", ShapeRecords, StatusLoaded, threeIDs},
		{"event-history", ShapeRecords, StatusLoaded, threeIDs},
		{"lookup-events", ShapeLookup, StatusLoaded, threeIDs},
		{"ndjson", ShapeNDJSON, StatusLoaded, threeIDs},
		{"array", ShapeArray, StatusLoaded, threeIDs},
		{"empty-records", ShapeRecords, StatusLoaded, nil},
		{"digest-file", ShapeDigest, StatusSkipped, nil},
		{"empty-file", ShapeEmpty, StatusFailed, nil},
		{"not-json", ShapeUnknown, StatusFailed, nil},
		{"truncated-gzip", ShapeRecords, StatusFailed, []string{"d38ce1b3-4575-4cb8-a632-611b8243bfc3"}}, // the record before the cut is kept
		{"invalid-utf8", ShapeRecords, StatusLoaded, []string{"0f6a7c8e-1111-4c4c-9d9d-222233334444", "cccccccc-0000-0000-0000-000000000001", "d38ce1b3-4575-4cb8-a632-611b8243bfc3"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			sink, _ := runDir(t, tt.dir, Options{})
			if len(sink.files) != 1 {
				t.Fatalf("got %d files, want 1", len(sink.files))
			}
			f := sink.files[0]
			if f.Shape != tt.shape || f.Status != tt.status {
				t.Errorf("shape, status = %q, %q; want %q, %q (reason %q)", f.Shape, f.Status, tt.shape, tt.status, f.Reason)
			}
			if got := eventIDs(sink.events); strings.Join(got, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("event ids = %v, want %v", got, tt.ids)
			}
			if f.Events != int64(len(tt.ids)) {
				t.Errorf("file events = %d, want %d", f.Events, len(tt.ids))
			}
			if f.SHA256 == "" || len(f.SHA256) != 64 {
				t.Errorf("sha256 = %q", f.SHA256)
			}
			if tt.status == StatusFailed && len(f.Errors) == 0 {
				t.Errorf("failed file has no error recorded")
			}
		})
	}
}

func TestTruncatedGzipKeepsRecordsAndNamesOffset(t *testing.T) {
	sink, st := runDir(t, "truncated-gzip", Options{})
	f := sink.files[0]
	if st.FilesFailed != 1 || len(f.Errors) != 1 {
		t.Fatalf("failed=%d errors=%v", st.FilesFailed, f.Errors)
	}
	e := f.Errors[0]
	if !strings.Contains(e.Message, "unexpected EOF") || e.ByteOffset <= 0 || !strings.HasSuffix(e.Path, "cut.json.gz") {
		t.Errorf("error = %+v, want unexpected EOF with an offset and the file name", e)
	}
	// Records fully decompressed before the cut are kept.
	if int64(len(sink.events)) != f.Events {
		t.Errorf("events %d != file events %d", len(sink.events), f.Events)
	}
}

// TestInvalidUTF8IsRepaired: a byte that is not UTF-8 must not cost the
// event; it becomes U+FFFD and the record gets a warning with its place.
func TestInvalidUTF8IsRepaired(t *testing.T) {
	sink, st := runDir(t, "invalid-utf8", Options{})
	f := sink.files[0]
	if st.Errors != 0 || st.Warnings != 1 || len(f.Errors) != 1 {
		t.Fatalf("errors %d, warnings %d: %v", st.Errors, st.Warnings, f.Errors)
	}
	if e := f.Errors[0]; e.RecordIndex != 1 || e.Severity != SeverityWarning || !strings.Contains(e.Message, "not UTF-8") || e.ByteOffset <= 0 {
		t.Errorf("warning = %+v, want record 1, not UTF-8, with offset", e)
	}
	for _, ev := range sink.events {
		if ev.EventID == "cccccccc-0000-0000-0000-000000000001" && (ev.EventName != "\ufffd\ufffd" || !strings.Contains(ev.Raw, `\ufffd`)) {
			t.Errorf("repaired event: name %q, raw %s", ev.EventName, ev.Raw)
		}
	}
}

func TestNormalisedFields(t *testing.T) {
	sink, _ := runDir(t, "records", Options{})
	byID := map[string]Event{}
	for _, e := range sink.events {
		byID[e.EventID] = e
	}
	login := byID["d38ce1b3-4575-4cb8-a632-611b8243bfc3"]
	if login.Actor != "alice" || login.LoginResult != "Failure" || login.MFAUsed != "Yes" || login.Outcome != "Failure" ||
		login.AccountID != "111122223333" || login.SourceIP != "203.0.113.5" || login.UserType != "IAMUser" {
		t.Errorf("login = %+v", login)
	}
	if want := time.Date(2023, 8, 24, 21, 7, 8, 0, time.UTC); !login.HasTime || !login.Time.Equal(want) {
		t.Errorf("time = %v, want %v", login.Time, want)
	}
	if login.ReadOnly != False {
		t.Errorf("readOnly=%v", login.ReadOnly)
	}
	role := byID["0f6a7c8e-1111-4c4c-9d9d-222233334444"]
	if role.Actor != "Admin/bob" || role.SessionIssuerName != "Admin" || role.MFAAuthenticated != True ||
		!strings.Contains(role.Raw, `"serialNumber":"arn:aws:iam::111122223333:mfa/alice"`) {
		t.Errorf("role event = %+v", role)
	}
	idc := byID["7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
	if idc.Actor != "bob@example.com" || idc.UserName != "bob@example.com" || idc.CredentialType != "PASSWORD,TOTP" ||
		idc.CredentialChallenge != "Failure" || idc.Outcome != "Failure" || idc.AuthWorkflowID != "9de74b32-8362-4a01-a524-de21df59fd83" ||
		idc.UserType != "IdentityCenterUser" || idc.PrincipalID != "94482488-3041-7026-18f3-be45837cd0e4" {
		t.Errorf("identity center event = %+v", idc)
	}
	for _, e := range sink.events {
		if !strings.HasPrefix(e.Raw, "{") || strings.Contains(e.Raw, "\n") {
			t.Errorf("raw not compact JSON: %.80s", e.Raw)
		}
	}
}

func TestPrettyAndCompactGiveSameEvents(t *testing.T) {
	a, _ := runDir(t, "records", Options{})
	b, _ := runDir(t, "event-history", Options{})
	c, _ := runDir(t, "lookup-events", Options{})
	keys := func(evs []Event) map[uint64]string {
		m := map[uint64]string{}
		for _, e := range evs {
			m[e.Key] = e.EventID
		}
		return m
	}
	ka, kb, kc := keys(a.events), keys(b.events), keys(c.events)
	for k, id := range ka {
		if kb[k] != id || kc[k] != id {
			t.Errorf("event %s has a different key in another shape", id)
		}
	}
}

func TestTimeFormatsAndPlaceholderIDs(t *testing.T) {
	sink, st := runDir(t, "time-formats", Options{})
	if len(sink.events) != 7 {
		t.Fatalf("got %d events, want 7 (all kept)", len(sink.events))
	}
	want := map[string]time.Time{
		"aaaaaaaa-0000-0000-0000-000000000000": time.Date(2023, 8, 24, 21, 7, 8, 0, time.UTC),
		"aaaaaaaa-0000-0000-0000-000000000001": time.Date(2025, 1, 21, 17, 49, 47, 0, time.UTC),
		"aaaaaaaa-0000-0000-0000-000000000002": time.Date(2022, 9, 15, 13, 45, 24, 0, time.UTC),
		"aaaaaaaa-0000-0000-0000-000000000003": time.Date(2024, 3, 5, 8, 0, 0, 123e6, time.UTC),
	}
	keys := map[uint64]bool{}
	noTime := 0
	for _, e := range sink.events {
		keys[e.Key] = true
		if w, ok := want[e.EventID]; ok && !e.Time.Equal(w) {
			t.Errorf("%s: time %v, want %v", e.EventID, e.Time, w)
		}
		if !e.HasTime {
			noTime++
		}
	}
	if noTime != 1 {
		t.Errorf("%d events without time, want 1 (the unparseable one)", noTime)
	}
	if len(keys) != 7 {
		t.Errorf("%d distinct keys, want 7: events sharing the placeholder id %q must not collapse", len(keys), "redacted")
	}
	if st.Warnings != 1 || st.Errors != 0 {
		t.Errorf("warnings=%d errors=%d, want 1 warning for the unparseable time", st.Warnings, st.Errors)
	}
}

func TestLowercaseKeys(t *testing.T) {
	sink, _ := runDir(t, "lowercase-keys", Options{})
	if len(sink.events) != 1 || sink.events[0].EventName != "ConsoleLogin" || sink.events[0].Actor != "alice" || sink.events[0].MFAUsed != "Yes" {
		t.Fatalf("lower-cased export: %+v", sink.events)
	}
}

func TestNestedArchive(t *testing.T) {
	sink, st := runDir(t, "nested-archive", Options{})
	if got := eventIDs(sink.events); len(got) != 6 {
		t.Fatalf("got %d events, want 6 (3 in the tar.gz's json.gz, 3 in the ndjson)", len(got))
	}
	f := sink.file(t, "outer.zip!inner.tar.gz!AWSLogs/111122223333_CloudTrail_us-east-1_20230824T2110Z_abc.json.gz")
	if f.Shape != ShapeRecords || f.Events != 3 {
		t.Errorf("nested member = %+v", f)
	}
	if st.FilesFailed != 0 {
		t.Errorf("failed = %d", st.FilesFailed)
	}
	outer := sink.file(t, "outer.zip")
	if outer.Shape != "zip" || outer.SHA256 == "" {
		t.Errorf("archive row = %+v", outer)
	}
}

func TestRecordTooLarge(t *testing.T) {
	sink, st := runDir(t, "records", Options{MaxRecordSize: 500})
	if st.Errors != 3 || len(sink.events) != 0 {
		t.Fatalf("errors=%d events=%d: records over the limit must be reported and skipped", st.Errors, len(sink.events))
	}
	if !strings.Contains(sink.files[0].Errors[0].Message, "limit") {
		t.Errorf("error = %+v", sink.files[0].Errors[0])
	}
}

func TestSkipsJunkAndDuplicateContent(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/ndjson/lake.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.ndjson"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "b.ndjson"), data, 0o644)
	os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte{0, 0, 0, 1, 'B', 'u', 'd', '1'}, 0o644)
	os.Symlink(dir, filepath.Join(dir, "loop")) // a folder that contains itself
	sink := &memSink{}
	st, err := Run(context.Background(), []string{dir}, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesLoaded != 1 || st.FilesDuplicate != 1 || st.FilesSkipped != 1 || len(sink.events) != 3 {
		t.Errorf("stats = %+v, events = %d", st, len(sink.events))
	}
}

func TestStdin(t *testing.T) {
	data, err := os.ReadFile("testdata/records/111122223333_CloudTrail_us-east-1_20230824T2110Z_abc.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	st, err := Run(context.Background(), []string{"-"}, sink, Options{Stdin: strings.NewReader(string(data))})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesLoaded != 1 || len(sink.events) != 3 || sink.files[0].Path != "stdin:"+sink.files[0].SHA256[:16] {
		t.Errorf("stats = %+v files=%+v", st, sink.files)
	}
}

func TestMissingInputIsAnInputError(t *testing.T) {
	_, err := Run(context.Background(), []string{"testdata/does-not-exist"}, &memSink{}, Options{})
	if _, ok := err.(*InputError); !ok {
		t.Fatalf("err = %v, want *InputError", err)
	}
}

func TestNDJSONBrokenLineKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	lines, _ := os.ReadFile("testdata/ndjson/lake.ndjson")
	parts := strings.SplitAfter(string(lines), "\n")
	bad := parts[0] + "{\"eventID\": broken\n" + parts[1] + parts[2]
	os.WriteFile(filepath.Join(dir, "x.jsonl"), []byte(bad), 0o644)
	sink := &memSink{}
	st, _ := Run(context.Background(), []string{dir}, sink, Options{})
	if len(sink.events) != 3 || st.Errors != 1 {
		t.Fatalf("events=%d errors=%d, want 3 and 1", len(sink.events), st.Errors)
	}
	if e := sink.files[0].Errors[0]; e.RecordIndex != 1 {
		t.Errorf("error at record %d, want 1: %+v", e.RecordIndex, e)
	}
}

// Every event the decoder hands over carries its identity's digest, which
// stores compare to keep one copy: the same for the same event read from
// two shapes, different for different events.
func TestEventDigest(t *testing.T) {
	byID := map[string][32]byte{}
	for _, dir := range []string{"records", "ndjson", "lookup-events"} {
		sink, _ := runDir(t, dir, Options{})
		for _, ev := range sink.events {
			if ev.Digest != ev.Identity().Digest() {
				t.Fatalf("%s: event %s: digest %x, its identity's is %x", dir, ev.EventID, ev.Digest, ev.Identity().Digest())
			}
			if d, seen := byID[ev.EventID]; seen && d != ev.Digest {
				t.Errorf("%s: event %s has another digest than in the shapes before", dir, ev.EventID)
			}
			byID[ev.EventID] = ev.Digest
		}
	}
	distinct := map[[32]byte]bool{}
	for _, d := range byID {
		distinct[d] = true
	}
	if len(byID) != 3 || len(distinct) != 3 {
		t.Fatalf("%d events, %d digests; want 3 of each", len(byID), len(distinct))
	}
}
