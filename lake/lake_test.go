package lake

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

func TestEscapeValueStaysInside(t *testing.T) {
	for _, v := range []string{"../../etc", "a/b", `a\b`, "..", ".", "x=y", strings.Repeat("9", 500), "us-east-1", "\x00\n"} {
		got := escapeValue(v)
		if strings.ContainsAny(got, `/\.=`) || got == "" {
			t.Errorf("escapeValue(%q) = %q: not a safe directory name", v, got)
		}
		if len(got) > maxValueLen+2 {
			t.Errorf("escapeValue(%q) is %d bytes long", v, len(got))
		}
		if !filepath.IsLocal(partitionDir(v, v, time.Time{}, false)) {
			t.Errorf("partition of %q leaves the dataset", v)
		}
	}
	if got := escapeValue("us-east-1"); got != "us-east-1" {
		t.Errorf("a plain region changed: %q", got)
	}
	if got := escapeValue(""); got != nullPartition {
		t.Errorf("empty value: %q", got)
	}
}

// The memo of the last partition names the same folder as partitionDir
// for every event, across midnight, before 1970, without a time, and when
// the account or region changes within a day.
func TestPartitionMemo(t *testing.T) {
	day := time.Date(2024, 3, 5, 23, 59, 59, 0, time.UTC)
	var evs []ingest.Event
	for _, tm := range []time.Time{day, day.Add(time.Second), day.Add(2 * time.Second), time.Unix(-1, 0), time.Unix(-86400, 0), time.Unix(-86401, 0), time.Unix(0, 0)} {
		evs = append(evs, ingest.Event{AccountID: "111122223333", AWSRegion: "us-east-1", Time: tm, HasTime: true})
	}
	evs = append(evs, ingest.Event{AccountID: "111122223333", AWSRegion: "us-east-1"},
		ingest.Event{AccountID: "111122223333", AWSRegion: "us-east-1", Time: time.Unix(0, 0), HasTime: true},
		ingest.Event{AccountID: "444455556666", AWSRegion: "us-east-1", Time: time.Unix(0, 0), HasTime: true},
		ingest.Event{AccountID: "444455556666", AWSRegion: "eu-west-1", Time: time.Unix(0, 0), HasTime: true})
	var m partitionMemo
	for i := range evs {
		ev := &evs[i]
		if got, want := m.dir(ev), partitionDir(ev.AccountID, ev.AWSRegion, ev.Time, ev.HasTime); got != want {
			t.Errorf("event %d (%v): memo says %s, want %s", i, ev.Time, got, want)
		}
	}
}

func testEvents(n int, account string) []ingest.Event {
	base := time.Date(2024, 3, 5, 23, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for i := range n {
		ev := ingest.Event{Key: uint64(1000 + i), Time: base.Add(time.Duration(i) * 7 * time.Minute), HasTime: true,
			EventName: "ConsoleLogin", EventSource: "signin.amazonaws.com", AccountID: account, AWSRegion: "us-east-1", ReadOnly: ingest.True,
			Raw: `{"eventName":"ConsoleLogin","n":` + string(rune('0'+i%10)) + `}`, FileID: 1, RecordIndex: int64(i)}
		if i%3 == 1 {
			ev.AuthWorkflowID = "wf"
		}
		evs = append(evs, ev)
	}
	evs[0].HasTime = false // a NULL time gets the default partition
	return evs
}

func writeDataset(t *testing.T, dir string, evs []ingest.Event, files ...*ingest.File) *Writer {
	t.Helper()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvents(evs); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := w.FileDone(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

// writeParts writes evs as a dataset in a new folder, and lists its event
// parts (at least one).
func writeParts(t *testing.T, evs []ingest.Event) (dir string, parts []string) {
	dir = t.TempDir()
	writeDataset(t, dir, evs)
	parts, _ = filepath.Glob(EventsGlob(dir))
	if len(parts) == 0 {
		t.Fatal("no part written")
	}
	return dir, parts
}

// readDataset writes evs as a dataset in a new folder, and opens a DuckDB
// connection that reads its files (closed when the test ends).
func readDataset(t *testing.T, evs []ingest.Event) (dir string, db *query.Store) {
	dir = t.TempDir()
	writeDataset(t, dir, evs)
	db, err := openReader()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return dir, db
}

func count(t *testing.T, s *query.Store, q string) int64 {
	t.Helper()
	var n int64
	if err := s.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestWriteReadBack writes events across partitions and reads them back
// through the same views a DuckDB store has; a second write of the same
// events adds nothing.
func TestWriteReadBack(t *testing.T) {
	dir := t.TempDir()
	f := &ingest.File{ID: 1, Path: "in.json", Size: 10, SHA256: "ab", Shape: "records", Events: 12, Status: ingest.StatusLoaded,
		Errors: []ingest.Error{{FileID: 1, Path: "in.json", RecordIndex: 3, ByteOffset: -1, Severity: "warning", Message: "bad time"}}}
	w := writeDataset(t, dir, testEvents(12, "012345678901"), f)
	if w.Inserted() != 12 || w.Duplicates() != 0 {
		t.Fatalf("first write: %d new, %d duplicates", w.Inserted(), w.Duplicates())
	}
	w = writeDataset(t, dir, testEvents(12, "012345678901"))
	if w.Inserted() != 0 || w.Duplicates() != 12 {
		t.Fatalf("second write: %d new, %d duplicates; want 0 and 12", w.Inserted(), w.Duplicates())
	}
	parts, _ := filepath.Glob(EventsGlob(dir))
	// 23:00 on the 5th plus 11*7 minutes reaches the 6th; the first has no time.
	for _, want := range []string{"date=2024-03-05", "date=2024-03-06", "date=" + nullPartition} {
		found := false
		for _, p := range parts {
			found = found || strings.Contains(p, want) && strings.Contains(p, "account=012345678901")
		}
		if !found {
			t.Errorf("no partition %s among %v", want, parts)
		}
	}
	for _, leftover := range []string{stagingDir, commitsDir} {
		if m, _ := filepath.Glob(filepath.Join(dir, leftover, "*")); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
	}

	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count(t, s, "SELECT count(*) FROM events"); n != 12 {
		t.Errorf("events: %d, want 12", n)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE event_time IS NULL AND read_only AND account_id = '012345678901'"); n != 1 {
		t.Errorf("the event without time: %d rows", n)
	}
	// Empty strings are NULL, never "" (parquet-go's optional tag on a
	// string once wrote some as values).
	if n := count(t, s, "SELECT count(*) FROM events WHERE auth_workflow_id = '' OR credential_type = ''"); n != 0 {
		t.Errorf("%d empty strings stored as values", n)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE auth_workflow_id IS NULL"); n != 8 {
		t.Errorf("%d NULL workflow ids, want 8", n)
	}
	if n := count(t, s, "SELECT count(*) FROM signins"); n != 12 {
		t.Errorf("signins view: %d rows", n)
	}
	if n := count(t, s, "SELECT count(*) FROM files WHERE sha256 = 'ab' AND status = 'loaded'"); n != 1 {
		t.Errorf("files: %d rows", n)
	}
	if n := count(t, s, "SELECT count(*) FROM ingest_errors WHERE record_index = 3 AND byte_offset IS NULL"); n != 1 {
		t.Errorf("ingest_errors: %d rows", n)
	}
}

// TestColumnTypes checks that DuckDB, a second Parquet implementation,
// reads every column of the files with the type of the store's table,
// partition columns included.
func TestColumnTypes(t *testing.T) {
	dir, db := readDataset(t, testEvents(3, "111111111111"))
	rows, err := db.DB.Query("DESCRIBE SELECT * FROM read_parquet(" + query.StringLiteral(EventsGlob(dir)) +
		", hive_partitioning = true, hive_types = {'account': VARCHAR, 'region': VARCHAR, 'date': DATE})")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	var order []string
	for rows.Next() {
		var name, typ string
		var null, key, def, extra any
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		got[name] = typ
		order = append(order, name)
	}
	want := map[string]string{"account": "VARCHAR", "region": "VARCHAR", "date": "DATE"}
	for _, c := range query.StoredEventColumns() {
		typ := c.Type
		switch typ {
		case "TIMESTAMPTZ":
			typ = "TIMESTAMP WITH TIME ZONE"
		}
		if c.Name == "raw" {
			typ = "JSON" // text with Parquet's JSON logical type; the store's view casts it back
		}
		want[c.Name] = typ
	}
	if len(got) != len(want) {
		t.Errorf("%d columns %v, want %d", len(got), order, len(want))
	}
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("column %s: %q, want %q", name, got[name], typ)
		}
	}
	for i, c := range query.StoredEventColumns() {
		if order[i] != c.Name {
			t.Errorf("column %d is %s, want %s (the store's order)", i, order[i], c.Name)
		}
	}
}

// TestRecoverFinishesCommits leaves what a killed run leaves: a commit
// file whose moves were half made, and a staged batch never committed.
// The next writer must publish the first and drop the second.
func TestRecoverFinishesCommits(t *testing.T) {
	dir, parts := writeParts(t, testEvents(4, "111111111111"))
	// Turn a published commit back into a pending one.
	id := "20240101T000000Z-feedfacefeedface-000000"
	rel, _ := filepath.Rel(dir, parts[0])
	staged := filepath.Join(stagingDir, id, filepath.Dir(rel), partName(id))
	must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(staged)), 0o755))
	must(t, os.Rename(parts[0], filepath.Join(dir, staged)))
	must(t, writeCommitFile(dir, id, []move{{staged, filepath.Join(filepath.Dir(rel), partName(id))}}))
	// And a batch that never reached its commit file.
	orphan := filepath.Join(dir, stagingDir, "20240101T000000Z-0000000000000000-000001", "account=1", "region=x", "date=2024-01-01", "part-x.parquet")
	must(t, os.MkdirAll(filepath.Dir(orphan), 0o755))
	must(t, os.WriteFile(orphan, []byte("half a file"), 0o644))

	w2, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if _, err := os.Stat(filepath.Join(dir, filepath.Dir(rel), partName(id))); err != nil {
		t.Errorf("the committed file was not published: %v", err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the uncommitted staging file is still there: %v", err)
	}
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count(t, s, "SELECT count(*) FROM events"); n != 4 {
		t.Errorf("events after recovery: %d, want 4", n)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := NewWriter(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "another trailsift run") {
		t.Fatalf("second writer: %v", err)
	}
}

func TestOpenNoDataset(t *testing.T) {
	if _, err := Open(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "ingest --parquet") {
		t.Fatalf("empty dir: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var update = flag.Bool("update", false, "rewrite docs/parquet.md's DDL from the code")

// TestDocsDDL keeps the Athena DDL in docs/parquet.md equal to AthenaDDL,
// so the documented columns cannot drift from the files written.
func TestDocsDDL(t *testing.T) {
	path := filepath.Join("..", "docs", "parquet.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- athena-ddl:begin -->\n```sql\n", "```\n<!-- athena-ddl:end -->"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, begin, end)
	}
	want := AthenaDDL("s3://YOUR-BUCKET/lake/")
	got := string(doc[i+len(begin) : j])
	if got == want {
		return
	}
	if *update {
		out := string(doc[:i+len(begin)]) + want + string(doc[j:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/parquet.md DDL is out of date: run go test ./lake -run TestDocsDDL -update")
}

// TestDatasetDictionaryEncodesLabels: the columns rules filter on
// (event_name, event_source, user_type...) are dictionary-encoded in a
// dataset, so DuckDB tests a filter once per distinct value instead of
// once per row; raw, unique per event, is not.
func TestDatasetDictionaryEncodesLabels(t *testing.T) {
	dir, db := readDataset(t, testEvents(50, "111122223333"))
	rows, err := db.DB.Query(`SELECT path_in_schema, list_contains(string_split(encodings, ', '), 'RLE_DICTIONARY')
  OR list_contains(string_split(encodings, ', '), 'PLAIN_DICTIONARY')
FROM parquet_metadata(` + query.StringLiteral(EventsGlob(dir)) + `) WHERE path_in_schema IN ('event_name', 'event_source', 'user_type', 'raw')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var col string
		var dict bool
		if err := rows.Scan(&col, &dict); err != nil {
			t.Fatal(err)
		}
		seen++
		if dict != (col != "raw") {
			t.Errorf("column %s: dictionary-encoded %v", col, dict)
		}
	}
	if err := rows.Err(); err != nil || seen < 4 {
		t.Fatalf("%d column chunks read, want 4 or more (%v)", seen, err)
	}
}

// raw's pages carry no statistics (a whole event twice in each page
// header, which no reader filters by), but its column index keeps valid
// bounds: a page index whose bounds do not hold its values would make
// Spark or Trino skip pages that match.
func TestRawPagesCarryNoStatistics(t *testing.T) {
	_, parts := writeParts(t, testEvents(50, "111122223333"))
	f, err := os.Open(parts[0])
	must(t, err)
	defer f.Close()
	st, err := f.Stat()
	must(t, err)
	pf, err := parquet.OpenFile(f, st.Size())
	must(t, err)
	checked := 0
	for i, col := range pf.Metadata().RowGroups[0].Columns {
		name := strings.Join(col.MetaData.PathInSchema, ".")
		if name != "raw" && name != "event_name" {
			continue
		}
		checked++
		loc := pf.OffsetIndexes()[i].PageLocations[0]
		header := make([]byte, min(loc.CompressedPageSize, 64<<10))
		_, err := f.ReadAt(header, loc.Offset)
		must(t, err)
		var h format.PageHeader
		must(t, thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(bytes.NewReader(header))).Decode(&h))
		stats := h.DataPageHeaderV2.V.Statistics
		if h.Type == format.DataPage {
			stats = h.DataPageHeader.V.Statistics
		}
		if hasStats := stats.MinValue != nil || stats.MaxValue != nil; hasStats != (name != "raw") {
			t.Errorf("%s: page header statistics %v, want them on event_name only", name, hasStats)
		}
		index := pf.ColumnIndexes()[i]
		for p, null := range index.NullPages {
			if !null && len(index.MaxValues[p]) == 0 {
				t.Errorf("%s: page %d of the column index has no upper bound", name, p)
			}
		}
	}
	if checked != 2 {
		t.Fatalf("%d of raw and event_name found in the part", checked)
	}
}

// TestOpenReadsPartsOfOtherSchemas: a dataset whose parts all share one
// schema is read without union_by_name; one with a part of another
// schema (an older trailsift's, say, without a column) is read with it,
// every event once, the missing column NULL.
func TestOpenReadsPartsOfOtherSchemas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, testEvents(6, "111122223333"))
	parts, _ := filepath.Glob(EventsGlob(dir))
	if !readPartSchemas(parts, nil).same() {
		t.Fatalf("the parts of one run differ in schema: %v", parts)
	}
	// An older part: the same events but for one, without auth_workflow_id.
	db, err := openReader()
	if err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(filepath.Dir(parts[len(parts)-1]), "part-older.parquet")
	_, err = db.DB.ExecContext(ctx, "COPY (SELECT * EXCLUDE (auth_workflow_id) REPLACE (event_key + 100 AS event_key, record_index + 100 AS record_index) FROM read_parquet("+
		query.StringLiteral(parts[len(parts)-1])+")) TO "+query.StringLiteral(older)+" (FORMAT parquet)")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	all, _ := filepath.Glob(EventsGlob(dir))
	if readPartSchemas(all, nil).same() {
		t.Fatal("a part without a column has the same schema")
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var events, workflows, olderEvents int
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*), count(auth_workflow_id), count(*) FILTER (WHERE record_index >= 100) FROM events").Scan(&events, &workflows, &olderEvents); err != nil {
		t.Fatal(err)
	}
	if olderEvents == 0 || events != 6+olderEvents || workflows != 2 {
		t.Errorf("events %d (%d from the older part), with a workflow id %d; want 6 plus the older part's, 2", events, olderEvents, workflows)
	}
}

// TestOpenComputesIssuedCredentialOfOlderParts: parts written before
// issued_credential existed (some of a dataset's, or all) have it computed
// from raw when read, so the sessions come out the same.
func TestOpenComputesIssuedCredentialOfOlderParts(t *testing.T) {
	ctx := context.Background()
	const bob = `{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","accessKeyId":"AKIABOB0000000000001","userName":"bob"}`
	const audit = `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Audit/bob","accountId":"111122223333","accessKeyId":"ASIAAUDIT00000000001",` +
		`"sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Audit","userName":"Audit"}}}`
	records := `{"Records":[
{"eventVersion":"1.08","userIdentity":` + bob + `,"eventTime":"2024-05-01T09:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1",
 "sourceIPAddress":"198.51.100.1","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/Audit","roleSessionName":"bob"},
 "responseElements":"{\"credentials\":{\"accessKeyId\":\"ASIAAUDIT00000000001\"},\"assumedRoleUser\":{\"arn\":\"arn:aws:sts::111122223333:assumed-role/Audit/bob\"}}",
 "eventID":"ev-assume","recipientAccountId":"111122223333"},
{"eventVersion":"1.08","userIdentity":` + audit + `,"eventTime":"2024-05-02T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"eu-west-1",
 "sourceIPAddress":"203.0.113.9","eventID":"ev-use","recipientAccountId":"111122223333"}]}`
	digest := func(dir string) (sessions string, issued int64) {
		t.Helper()
		s, err := Open(ctx, dir)
		must(t, err)
		defer s.Close()
		must(t, s.DB.QueryRowContext(ctx, `SELECT string_agg(to_json(s)::VARCHAR, e'\n' ORDER BY session_id) FROM sessions s`).Scan(&sessions))
		return sessions, count(t, s, "SELECT count(*) FROM events WHERE issued_credential ->> 'accessKeyId' = 'ASIAAUDIT00000000001'")
	}
	for _, older := range []string{"the issuing call's part", "every part"} {
		dir := t.TempDir()
		runParquet(t, dir, writeInput(t, t.TempDir(), "trail.json", records))
		want, issued := digest(dir)
		if issued != 1 || !strings.Contains(want, `"parent_session_id":"AKIABOB0000000000001"`) {
			t.Fatalf("dataset as written: %d calls issued the key, sessions:\n%s", issued, want)
		}
		parts, _ := filepath.Glob(EventsGlob(dir))
		db, err := openReader()
		must(t, err)
		for _, part := range parts {
			if older != "every part" && !strings.Contains(part, "us-east-1") {
				continue
			}
			tmp := part + ".older"
			_, err = db.DB.ExecContext(ctx, "COPY (SELECT * EXCLUDE (issued_credential) FROM read_parquet("+query.StringLiteral(part)+")) TO "+
				query.StringLiteral(tmp)+" (FORMAT parquet)")
			must(t, err)
			must(t, os.Rename(tmp, part))
		}
		db.Close()
		if got, n := digest(dir); got != want || n != 1 {
			t.Errorf("%s without issued_credential: %d calls issued the key, sessions:\n%s\nwant:\n%s", older, n, got, want)
		}
	}
}

// A staging is cut into slices of at least the target rows, in order, the
// remainder going to the last slice when it would be less than half a
// slice; every part is in exactly one slice.
func TestCutSlices(t *testing.T) {
	for _, c := range []struct {
		rows   []int64
		target int64
		want   []int
	}{
		{[]int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, 300, []int{3, 3, 4}},
		{[]int64{100, 100, 100, 100, 100, 100, 100, 100, 100}, 300, []int{3, 3, 3}},
		{[]int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, 300, []int{3, 3, 3, 3}},
		{[]int64{500, 10, 10}, 300, []int{3}},
		{[]int64{50, 50}, 300, []int{2}},
		{[]int64{5, 5, 5}, 0, []int{1, 1, 1}},
		{nil, 300, nil},
	} {
		if got := cutSlices(c.rows, c.target); !slices.Equal(got, c.want) {
			t.Errorf("cutSlices(%v, %d) = %v, want %v", c.rows, c.target, got, c.want)
		}
	}
	// Parts whose footers could not be read go in one slice, none lost.
	if got := loadSlices(3, partSchemas{}, 2); !slices.Equal(got, []int{3}) {
		t.Errorf("unreadable footers: slices %v, want [3]", got)
	}
	if got := loadSlices(0, partSchemas{}, 2); got != nil {
		t.Errorf("no parts: slices %v", got)
	}
}

// The key cache keeps at most maxCachedKeys keys, dropping the partitions
// used least recently; an event of a dropped partition written again is
// still found stored (its keys are read back from disk).
func TestKeyCacheDropsOldPartitions(t *testing.T) {
	defer func(n int) { maxCachedKeys = n }(maxCachedKeys)
	maxCachedKeys = 12
	dir := t.TempDir()
	w, err := NewWriter(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var all []ingest.Event
	for i, acct := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		evs := testEvents(8, acct)
		for j := range evs {
			evs[j].Key, evs[j].RecordIndex = uint64(100*i+j+1), int64(100*i+j)
		}
		all = append(all, evs...)
		must(t, w.WriteEvents(evs))
		must(t, w.Flush())
		if w.keys.size > maxCachedKeys {
			t.Errorf("after account %d: %d keys cached, more than %d", i, w.keys.size, maxCachedKeys)
		}
	}
	if _, ok := w.keys.parts[partitionDir("111111111111", "us-east-1", all[1].Time, true)]; ok {
		t.Error("the partition used first is still cached")
	}
	must(t, w.WriteEvents(all))
	must(t, w.Flush())
	if w.Inserted() != int64(len(all)) || w.Duplicates() != int64(len(all)) {
		t.Errorf("inserted %d, duplicates %d; want %d each", w.Inserted(), w.Duplicates(), len(all))
	}
	if n := storeCount(t, dir, true, "SELECT count(*) FROM events"); n != int64(len(all)) {
		t.Errorf("dataset holds %d events, want %d", n, len(all))
	}
}

// TestEventsInReadsTheWindowsDays: a window's events are read from the
// parts of its days only, and they are all the window's events of the
// dataset; the part of events without a time is never read, and a window
// over no day holds nothing.
func TestEventsInReadsTheWindowsDays(t *testing.T) {
	evs := testEvents(900, "111122223333") // 2024-03-05 23:00 on, 7 minutes apart: 03-05 to 03-10, and one without a time
	dir, parts := writeParts(t, evs)
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := func(v string) time.Time { t, _ := time.Parse(time.RFC3339, v); return t }
	lit := func(v time.Time) string { return "TIMESTAMPTZ '" + v.UTC().Format("2006-01-02 15:04:05") + "+00'" }
	for _, w := range []struct {
		since, until time.Time
		days         []string
	}{
		{at("2024-03-06T00:00:00Z"), at("2024-03-07T00:00:00Z"), []string{"2024-03-06"}},
		{at("2024-03-06T23:50:00Z"), at("2024-03-07T00:10:00Z"), []string{"2024-03-06", "2024-03-07"}},
		{at("2024-03-08T05:00:00Z"), time.Time{}, []string{"2024-03-08", "2024-03-09", "2024-03-10"}},
		{time.Time{}, at("2024-03-06T00:00:00Z"), []string{"2024-03-05"}},
		{at("2024-03-01T00:00:00Z"), at("2024-04-01T00:00:00Z"), []string{"2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08", "2024-03-09", "2024-03-10"}},
	} {
		q := s.WindowEvents(w.since, w.until)
		if q == "" {
			t.Fatalf("window %v - %v: no narrowed events", w.since, w.until)
		}
		for _, p := range parts {
			day := strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "date=")
			if named, want := strings.Contains(q, p), slices.Contains(w.days, day); named != want {
				t.Errorf("window %v - %v: part of %s read: %v, want %v", w.since, w.until, day, named, want)
			}
		}
		var conds []string
		if !w.since.IsZero() {
			conds = append(conds, "event_time >= "+lit(w.since))
		}
		if !w.until.IsZero() {
			conds = append(conds, "event_time < "+lit(w.until))
		}
		where := " WHERE " + strings.Join(conds, " AND ")
		got, want := count(t, s, "SELECT count(*) FROM ("+q+")"+where), count(t, s, "SELECT count(*) FROM events"+where)
		if got != want || want == 0 {
			t.Errorf("window %v - %v: %d events read, the events view holds %d", w.since, w.until, got, want)
		}
	}
	if n := count(t, s, "SELECT count(*) FROM ("+s.WindowEvents(at("2030-01-01T00:00:00Z"), time.Time{})+")"); n != 0 {
		t.Errorf("a window over no day read %d events", n)
	}
	if q := s.WindowEvents(time.Time{}, time.Time{}); q != "" {
		t.Errorf("no window: %q, want the events view", q)
	}
}

// Every column chunk of every part names its column by its path, as
// Spark's and Trino's readers look them up: also the parts a writer
// writes after its first (parquet-go v0.32.0 left their paths empty).
func TestPartsNameTheirColumns(t *testing.T) {
	dir := t.TempDir()
	// Many more partitions in one commit than cores: the commit's writers
	// (one per core) each write several parts.
	accounts := 2*runtime.GOMAXPROCS(0) + 2
	var evs []ingest.Event
	for a := range accounts {
		evs = append(evs, testEvents(3, fmt.Sprintf("%012d", a))...)
	}
	writeDataset(t, dir, evs)
	parts, _ := filepath.Glob(EventsGlob(dir))
	if len(parts) != 2*accounts {
		t.Fatalf("%d parts, want %d", len(parts), 2*accounts)
	}
	for _, p := range parts {
		if pathsMissing(p) {
			t.Errorf("%s: a column chunk without its path", p)
		}
	}
}

// A command that opened a dataset before its parts were merged (an ingest
// into it ended meanwhile) names a part that is gone: the error says why,
// and to run the command again, and it still stops the command.
func TestPartGoneWhileReading(t *testing.T) {
	dir, parts := writeParts(t, testEvents(300, "111122223333"))
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Remove(parts[len(parts)-1]); err != nil {
		t.Fatal(err)
	}
	_, err = query.Query(context.Background(), s.DB, "SELECT count(*) FROM events")
	if err == nil || !strings.Contains(err.Error(), "No files found") || !strings.Contains(err.Error(), "Run the command again") ||
		!query.IsEngineError(err) {
		t.Errorf("a part gone: %v (engine error: %v)", err, query.IsEngineError(err))
	}
	// A file the user's SQL names is not the dataset's: no advice.
	_, err = query.Query(context.Background(), s.DB, "SELECT count(*) FROM read_parquet("+query.StringLiteral(filepath.Join(dir, "typo.parquet"))+")")
	if err == nil || !strings.Contains(err.Error(), "No files found") || strings.Contains(err.Error(), "Run the command again") {
		t.Errorf("a file of the user's SQL missing: %v", err)
	}
}
