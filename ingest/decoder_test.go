package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ctEvent is a compact CloudTrail event with a unique eventID; pad adds
// hard-to-compress bytes so a file can be made larger than a read buffer.
func ctEvent(i int, pad int) string {
	var p strings.Builder
	x := uint32(i*2654435761 + 12345)
	for range pad {
		x = x*1664525 + 1013904223
		p.WriteByte("0123456789abcdef"[x>>28])
	}
	return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"u%d"},"eventTime":"2024-03-05T11:%02d:%02dZ","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","requestParameters":{"pad":"%s"},"eventID":"%08d-0000-4000-8000-000000000000","recipientAccountId":"111122223333"}`,
		i, i/60%60, i%60, p.String(), i)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runInputs(t testing.TB, inputs []string, opts Options) (*memSink, Stats) {
	t.Helper()
	sink := &memSink{}
	st, err := Run(context.Background(), inputs, sink, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sink, st
}

// A worker reuses its read buffers from file to file. Whatever the order of
// plain, gzip and zstd files (each larger than a buffer), no buffer may end
// up reading from itself: that overflowed the stack.
func TestWorkerBuffersAnyFileOrder(t *testing.T) {
	kinds := map[string]func([]byte) []byte{
		"plain": func(b []byte) []byte { return b },
		"gz":    func(b []byte) []byte { return gzipBytes(t, b) },
		"zst":   func(b []byte) []byte { return zstdBytes(t, b) },
		"gzgz":  func(b []byte) []byte { return gzipBytes(t, gzipBytes(t, b)) },
		"small": func(b []byte) []byte { return gzipBytes(t, b[:strings.IndexByte(string(b), '\n')+1]) },
		// Gzipped members of an archive: a zip the walker opens, whose
		// members the workers decode as files of their own, and a tar
		// inside a gzipped file, whose members the worker decodes while
		// the file's readers are still in use.
		"zip": func(b []byte) []byte { return makeZip(gzippedMembers(t, b)) },
		"tgz": func(b []byte) []byte { return gzipBytes(t, makeTar(gzippedMembers(t, b))) },
	}
	orders := [][]string{
		{"plain", "gz"}, {"gz", "plain"}, {"plain", "zst", "plain", "gz"},
		{"gz", "gz", "plain", "plain", "gzgz", "plain"}, {"small", "plain", "gz", "zst", "gzgz", "small"},
		{"gz", "zip", "gz", "tgz", "zst", "tgz", "zip", "plain"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			dir := t.TempDir()
			want := 0
			for i, kind := range order {
				var lines strings.Builder
				for j := range 60 {
					fmt.Fprintln(&lines, ctEvent(i*1000+j, 3000)) // 180 KB, hardly compressible
				}
				data := kinds[kind]([]byte(lines.String()))
				if kind != "small" && len(data) <= 64<<10 {
					t.Fatalf("%s file is %d bytes, want more than a read buffer", kind, len(data))
				}
				if kind == "small" {
					want++
				} else {
					want += 60
				}
				writeFile(t, dir, fmt.Sprintf("%02d-%s.json", i, kind), data)
			}
			sink, st := runInputs(t, []string{dir}, Options{Workers: 1})
			if len(sink.events) != want || st.FilesFailed != 0 {
				t.Fatalf("events = %d, want %d; stats %+v", len(sink.events), want, st)
			}
		})
	}
}

// gzippedMembers splits JSON lines into three gzipped archive members.
func gzippedMembers(t *testing.T, b []byte) map[string][]byte {
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	members := map[string][]byte{}
	for i := range 3 {
		part := lines[i*len(lines)/3 : (i+1)*len(lines)/3]
		members[fmt.Sprintf("m%d.json.gz", i)] = gzipBytes(t, []byte(strings.Join(part, "")))
	}
	return members
}

// strictOK is the strict-parser oracle for a stored raw event: what
// encoding/json accepts, without lone surrogate escapes (yyjson, inside
// DuckDB, refuses those where encoding/json does not).
func strictOK(raw string) error {
	if !json.Valid([]byte(raw)) {
		return fmt.Errorf("not valid JSON: %.200q", raw)
	}
	for i := 0; i+6 <= len(raw); i++ {
		if raw[i] == '\\' {
			if raw[i+1] != 'u' {
				i++
				continue
			}
			r, _ := hex4([]byte(raw), i+1)
			if r >= 0xD800 && r <= 0xDBFF {
				lo, ok := hex4([]byte(raw), i+7)
				if i+12 > len(raw) || raw[i+6] != '\\' || !ok || lo < 0xDC00 || lo > 0xDFFF {
					return fmt.Errorf("lone surrogate at %d: %.200q", i, raw)
				}
				i += 11
				continue
			}
			if r >= 0xDC00 && r <= 0xDFFF {
				return fmt.Errorf("lone low surrogate at %d: %.200q", i, raw)
			}
			i += 5
		}
	}
	return nil
}

// One unescaped control byte in a string (NUL, 0x01, TAB, ESC) used to be
// staged as it came and make DuckDB refuse the whole load. The byte is now
// escaped in the stored event, kept as it came in the typed fields, and the
// record gets a warning with its index and offset.
func TestControlBytesAreRepairedAndWarned(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i, b := range []byte{0x00, 0x01, '\t', 0x1b, '\n'} {
		ev := ctEvent(i, 0)
		ev = strings.Replace(ev, `"userName":"u`, `"userName":"x`+string(b)+`u`, 1)
		lines = append(lines, ev)
	}
	lines = append(lines, ctEvent(9, 0)) // a clean one
	writeFile(t, dir, "ctl.json", []byte(`{"Records":[`+strings.Join(lines, ",")+`]}`))
	sink, st := runInputs(t, []string{dir}, Options{})
	if len(sink.events) != 6 || st.Errors != 0 {
		t.Fatalf("events=%d errors=%d, want all 6 kept", len(sink.events), st.Errors)
	}
	for _, e := range sink.events {
		if err := strictOK(e.Raw); err != nil {
			t.Error(err)
		}
		if e.UserName != "u9" && (len(e.UserName) != 4 || e.UserName[1] >= 0x20 && e.UserName[1] != '\t') {
			t.Errorf("typed userName = %q, want the byte as it came", e.UserName)
		}
	}
	f := sink.files[0]
	if f.Warnings != 5 || f.Status != StatusLoaded {
		t.Fatalf("warnings=%d status=%s, want 5 warnings on a loaded file: %+v", f.Warnings, f.Status, f.Errors)
	}
	for i, w := range f.Errors {
		if w.RecordIndex != int64(i) || w.ByteOffset <= 0 && i > 0 || !strings.Contains(w.Message, "control bytes") {
			t.Errorf("warning %d = %+v", i, w)
		}
	}
}

// Whatever fastjson tolerates, the stored raw event is strict JSON, and
// what could not be made strict is a reported record error, not a row.
func TestRawIsStrictJSON(t *testing.T) {
	tests := []struct {
		in, warn string
		reject   bool
	}{
		{in: `{"a":"\ud800","eventName":"x"}`, warn: "surrogate"},
		{in: `{"a":"\udc00\ud800\ud800\udc00","b":"\ud83d\ude00"}`, warn: "surrogate"},
		{in: `{"a":"\ud800\u0041"}`, warn: "surrogate"},
		{in: `{"a":"\x41\u12"}`, warn: "invalid escapes"},
		{in: `{"a":01,"b":NaN,"c":-inf,"d":+1,"e":1.,"f":1e}`, warn: "not JSON numbers"},
		{in: `{"a":1.5e+3,"b":-0,"c":[true,false,null,{}],"d":[]}`},
		{in: "{\"a\":\"\x7f\u2028\"}"},
		{in: `{"a":"\u00e9", "b" : [ 1 , 2 ] }`},
		{in: "{\"a\":\"\xff\"}", warn: "not UTF-8"},
		{in: `{"a":tru}`, reject: true},
		{in: `{"a":1,}`, reject: true},
		{in: `{"a":[1,]}`, reject: true},
		{in: `{"a":1}}`, reject: true},
		{in: `{"a":1`, reject: true},
		{in: `{"a" 1}`, reject: true},
		{in: `{"a":"x}`, reject: true},
	}
	for _, tt := range tests {
		n := &normalizer{}
		var ev Event
		in := strings.Replace(tt.in, "{", `{"eventName":"n","eventSource":"s","eventVersion":"1",`, 1)
		warn, err := n.normalize([]byte(in), &ev)
		if tt.reject {
			if err == nil {
				t.Errorf("%q accepted as %q", tt.in, ev.Raw)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if err := strictOK(ev.Raw); err != nil {
			t.Errorf("%q: %v", tt.in, err)
		}
		if tt.warn != "" && !strings.Contains(string(warn), tt.warn) {
			t.Errorf("%q: warning %q, want one about %s", tt.in, warn, tt.warn)
		}
	}
}

// Repeated keys: every column reads the last value (as JSON.parse, Go and
// Python do), and the stored event is rewritten without the earlier ones at
// any depth, so DuckDB's JSON functions (which take the first) agree.
func TestDuplicateKeysLastWins(t *testing.T) {
	in := `{"eventVersion":"1.08","eventName":"Old","eventSource":"iam.amazonaws.com","eventTime":"2024-03-05T11:00:00Z",` +
		`"userIdentity":{"userName":"first","type":"IAMUser","userName":"last"},"requestParameters":{"k":[{"x":1,"x":2}],"k2":1},` +
		`"eventName":"New","eventID":"11111111-2222-3333-4444-555555555555"}`
	n := &normalizer{}
	var ev Event
	warn, err := n.normalize([]byte(in), &ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev.EventName != "New" || ev.UserName != "last" {
		t.Errorf("typed fields %q, %q; want the last values New, last", ev.EventName, ev.UserName)
	}
	for _, gone := range []string{`"Old"`, `"first"`, `"x":1`} {
		if strings.Contains(ev.Raw, gone) {
			t.Errorf("raw still holds %s: %s", gone, ev.Raw)
		}
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(ev.Raw), &back); err != nil || back["eventName"] != "New" || !strings.Contains(ev.Raw, `"x":2`) {
		t.Errorf("raw = %s (%v)", ev.Raw, err)
	}
	if !strings.Contains(string(warn), "3 duplicate keys") {
		t.Errorf("warning = %q", warn)
	}

	// The lookup-events wrapper: a repeated CloudTrailEvent, the last wins.
	item := `{"CloudTrailEvent":"{\"eventName\":\"A\"}","CloudTrailEvent":"{\"eventName\":\"B\"}"}`
	kind, inner, err := n.classify([]byte(item))
	if err != nil || kind != kindLookupItem || string(inner) != `{"eventName":"B"}` {
		t.Errorf("lookup item: %v %s %v", kind, inner, err)
	}
}

// Each JSON line stands on its own: a line cut inside a string used to
// swallow its newline and the next line with it (silently), and a bad first
// line lost the file. Record indexes stay equal to line numbers.
func TestNDJSONEachLineStandsAlone(t *testing.T) {
	good := func(i int) string { return ctEvent(i, 0) }
	cut := func(i int) string { e := good(i); return e[:strings.Index(e, `"ListUsers`)+4] } // inside a string
	tests := []struct {
		name    string
		lines   []string
		badAt   []int // line numbers that are record errors
		noFinal bool  // no newline after the last line
	}{
		{"first line cut in a string", []string{cut(0), good(1), good(2)}, []int{0}, false},
		{"middle line cut in a string", []string{good(0), cut(1), good(2), good(3)}, []int{1}, false},
		{"two cut lines in a row", []string{good(0), cut(1), cut(2), good(3)}, []int{1, 2}, false},
		{"unclosed brace", []string{good(0), `{"a":{"b":1}`, good(2)}, []int{1}, false},
		{"wrong bracket", []string{`{"a":[1}`, good(1)}, []int{0}, false},
		{"garbage line", []string{good(0), `garbage`, good(2)}, []int{1}, false},
		{"last line cut at the end", []string{good(0), good(1), cut(2)}, []int{2}, true},
		{"only line cut", []string{cut(0)}, []int{0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := strings.Join(tt.lines, "\n")
			if !tt.noFinal {
				data += "\n"
			}
			writeFile(t, dir, "x.jsonl", []byte(data))
			sink, _ := runInputs(t, []string{dir}, Options{})
			f := sink.files[0]
			bad := map[int]bool{}
			for _, b := range tt.badAt {
				bad[b] = true
			}
			if len(sink.events)+len(tt.badAt) != len(tt.lines) {
				t.Fatalf("events=%d for %d lines with %d bad: %+v", len(sink.events), len(tt.lines), len(tt.badAt), f.Errors)
			}
			for _, e := range sink.events {
				want := fmt.Sprintf("%08d-", e.RecordIndex)
				if !strings.HasPrefix(e.EventID, want) || bad[int(e.RecordIndex)] {
					t.Errorf("event %s has record index %d", e.EventID, e.RecordIndex)
				}
			}
			if len(f.Errors) != len(tt.badAt) {
				t.Fatalf("errors = %+v, want one per bad line %v", f.Errors, tt.badAt)
			}
			for i, e := range f.Errors {
				line := tt.badAt[i]
				off := int64(len(strings.Join(tt.lines[:line], "\n")))
				if line > 0 {
					off++
				}
				if e.RecordIndex != int64(line) || e.ByteOffset != off {
					t.Errorf("error %+v, want record %d at byte %d", e, line, off)
				}
			}
		})
	}
}

// Valid pretty-printed objects one after another are still read whole.
func TestConcatenatedPrettyObjects(t *testing.T) {
	var b strings.Builder
	for i := range 3 {
		var v any
		json.Unmarshal([]byte(ctEvent(i, 0)), &v)
		out, _ := json.MarshalIndent(v, "", "  ")
		b.Write(out)
		b.WriteString("\n")
	}
	dir := t.TempDir()
	writeFile(t, dir, "pretty.json", []byte(b.String()))
	sink, st := runInputs(t, []string{dir}, Options{})
	if len(sink.events) != 3 || st.Errors != 0 {
		t.Fatalf("events=%d errors=%d", len(sink.events), st.Errors)
	}
}

// lookupItem wraps an event as a lookup-events item.
func lookupItem(ev string) string {
	q, _ := json.Marshal(ev)
	return `{"EventId":"x","EventName":"ListUsers","CloudTrailEvent":` + string(q) + `}`
}

// A broken record inside a Records, Events or bare array used to end the
// file with a file-level error. Reading now resumes at the next record.
func TestArrayRecoversAfterBrokenRecord(t *testing.T) {
	noBrace := func(e string) string { return e[:len(e)-1] }
	cutString := func(e string) string { return e[:strings.Index(e, `"ListUsers`)+4] }
	wraps := map[string]func([]string) string{
		"records": func(r []string) string { return `{"Records":[` + strings.Join(r, ",") + "]}" },
		"pretty": func(r []string) string {
			return "{\n  \"Records\": [\n    " + strings.Join(r, ",\n    ") + "\n  ]\n}\n"
		},
		"bare":   func(r []string) string { return "[" + strings.Join(r, ", ") + "]" },
		"events": func(r []string) string { return `{"Events":[` + strings.Join(r, ",") + `],"NextToken":"x"}` },
	}
	tests := []struct {
		name  string
		n     int
		bad   int64
		cut   func(string) string
		kept  []int64 // record indexes of the events kept
		fatal bool    // the rest of the file could not be read
	}{
		{"missing brace", 4, 1, noBrace, []int64{0, 2, 3}, false},
		{"cut in a string", 4, 1, cutString, []int64{0, 2, 3}, false},
		{"first record", 2, 0, noBrace, []int64{1}, false},
		{"last record", 3, 2, noBrace, []int64{0, 1}, true},
	}
	for wname, wrap := range wraps {
		for _, tt := range tests {
			t.Run(wname+"/"+tt.name, func(t *testing.T) {
				var recs []string
				for i := range tt.n {
					r := ctEvent(i, 0)
					if wname == "events" {
						r = lookupItem(r)
					}
					if int64(i) == tt.bad {
						r = tt.cut(r)
					}
					recs = append(recs, r)
				}
				dir := t.TempDir()
				writeFile(t, dir, "f.json", []byte(wrap(recs)))
				sink, _ := runInputs(t, []string{dir}, Options{})
				f := sink.files[0]
				var got []int64
				for _, e := range sink.events {
					got = append(got, e.RecordIndex)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.kept) {
					t.Fatalf("kept records %v, want %v; errors %+v", got, tt.kept, f.Errors)
				}
				if len(f.Errors) == 0 || f.Errors[0].RecordIndex != tt.bad || f.Errors[0].ByteOffset <= 0 {
					t.Fatalf("errors = %+v, want record %d first, with its offset", f.Errors, tt.bad)
				}
				msg := f.Errors[len(f.Errors)-1].Message
				if tt.fatal != strings.Contains(msg, "bytes were not read") || !tt.fatal && !strings.Contains(msg, "bytes skipped to the next record") {
					t.Errorf("message %q", msg)
				}
				if f.Status != StatusFailed {
					t.Errorf("status %s", f.Status)
				}
			})
		}
	}
}

// Junk between two records is skipped to the next record and reported.
func TestArrayJunkBetweenRecords(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.json", []byte(`{"Records":[`+ctEvent(0, 0)+`}} "x", `+ctEvent(1, 0)+`]}`))
	sink, _ := runInputs(t, []string{dir}, Options{})
	f := sink.files[0]
	if len(sink.events) != 2 || len(f.Errors) != 1 || !strings.Contains(f.Errors[0].Message, "8 bytes skipped") {
		t.Fatalf("events=%d errors=%+v", len(sink.events), f.Errors)
	}
}

// gzipBomb is prefix, then n MiB of fill, then suffix, gzipped: a small
// file that decompresses to a huge one.
func gzipBomb(t testing.TB, prefix string, fill byte, mib int, suffix string) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	zw.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte{fill}, 1<<20)
	for range mib {
		zw.Write(chunk)
	}
	zw.Write([]byte(suffix))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// --max-record-size bounds memory in every shape: a huge value used to be
// buffered whole before the limit was checked (a 0.5 MB gzip took 1.2 GB).
// Each bomb decompresses to 100 MiB; the run may allocate a fraction of it.
func TestRecordLimitBoundsMemory(t *testing.T) {
	const limit = 1 << 20
	good := ctEvent(7, 0)
	tests := []struct {
		name           string
		data           []byte
		events, errors int
	}{
		{"ndjson line", gzipBomb(t, `{"eventVersion":"1.08","x":"`, 'A', 100, "\"}\n"+good+"\n"), 1, 1},
		{"single object", gzipBomb(t, "{\n  \"x\": \"", 'A', 100, "\"\n}\n"), 0, 1},
		{"key before Records", gzipBomb(t, `{"junk":"`, 'A', 100, `","Records":[`+good+`]}`), 1, 0},
		{"lookup event string", gzipBomb(t, `{"Events":[{"EventId":"x","CloudTrailEvent":"`, 'A', 100, `"},`+lookupItem(good)+`]}`), 1, 1},
		{"deep nesting", gzipBomb(t, `{"eventVersion":"1.08","x":`, '[', 50, strings.Repeat("]", 50<<20)+"}\n"+good+"\n"), 1, 1},
		{"huge key", gzipBomb(t, `{"`, 'k', 100, "\":1}\n"+good+"\n"), 1, 1},
		{"records element", gzipBomb(t, `{"Records":[{"eventVersion":"1.08","x":"`, 'A', 100, `"},`+good+`]}`), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "bomb.json.gz", tt.data)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			sink, st := runInputs(t, []string{dir}, Options{MaxRecordSize: limit, Workers: 1})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("allocated %d MiB reading a 100 MiB bomb with a 1 MiB record limit", alloc>>20)
			}
			if len(sink.events) != tt.events || st.Errors != int64(tt.errors) {
				t.Fatalf("events=%d errors=%d, want %d and %d: %+v", len(sink.events), st.Errors, tt.events, tt.errors, sink.files[0].Errors)
			}
			if tt.errors > 0 {
				e := sink.files[0].Errors[0]
				if !strings.Contains(e.Message, "record larger than the 1048576-byte limit, skipped") || e.ByteOffset < 0 {
					t.Errorf("error = %+v", e)
				}
			}
		})
	}
}

// One rule for files that are not CloudTrail: skipped with a reason, never
// failed and never stored, whatever their shape. A file that mixes events
// with a few other records keeps the events and reports the others.
func TestNotCloudTrailIsSkipped(t *testing.T) {
	junk := func(i int) string {
		return fmt.Sprintf(`{"eventID":"%08d-0000-4000-8000-000000000000","eventName":"click","user":"u%d"}`, i, i)
	}
	s3note := `{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2024-03-05T11:00:00Z","s3":{}}`
	files := map[string]string{
		"lines.jsonl":  junk(0) + "\n" + junk(1) + "\n" + junk(2) + "\n",
		"array.json":   "[" + junk(0) + "," + junk(1) + "]",
		"object.json":  `{"name":"config","eventName":"x"}`,
		"records.json": `{"Records":[` + junk(0) + "," + s3note + "]}",
		"events.json":  `{"Events":[` + lookupItem(junk(0)) + "]}",
		"scalars.json": `[1,"a",null]`,
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, name, []byte(data))
			sink, st := runInputs(t, []string{dir}, Options{})
			f := sink.files[0]
			if len(sink.events) != 0 || f.Status != StatusSkipped || f.Shape != ShapeUnknown || st.Errors != 0 ||
				!strings.Contains(f.Reason, "not CloudTrail") {
				t.Errorf("events=%d status=%s shape=%s reason=%q errors=%d", len(sink.events), f.Status, f.Shape, f.Reason, st.Errors)
			}
		})
	}

	dir := t.TempDir()
	writeFile(t, dir, "mixed.jsonl", []byte(ctEvent(0, 0)+"\n"+junk(1)+"\n"+ctEvent(2, 0)+"\n"+junk(3)+"\n"))
	sink, _ := runInputs(t, []string{dir}, Options{})
	f := sink.files[0]
	if len(sink.events) != 2 || f.Status != StatusFailed || len(f.Errors) != 2 ||
		f.Errors[0].RecordIndex != 1 || f.Errors[1].RecordIndex != 3 || !strings.Contains(f.Errors[0].Message, "not a CloudTrail event") {
		t.Errorf("mixed: events=%d status=%s errors=%+v", len(sink.events), f.Status, f.Errors)
	}
}

// The bundled samples of every shape still load whole, with no error.
func TestSamplesStillLoad(t *testing.T) {
	for _, name := range []string{"lake-export.ndjson", "lookup-events-page1.json", "event-history.json", "s3-export.zip"} {
		sink, st := runInputs(t, []string{filepath.Join("..", "samples", name)}, Options{})
		if len(sink.events) == 0 || st.Errors != 0 || st.FilesFailed != 0 {
			t.Errorf("%s: events=%d stats=%+v", name, len(sink.events), st)
		}
		for _, f := range sink.files {
			if f.Status == StatusSkipped && !strings.Contains(f.Reason, "digest") && junkName(f.Path) == "" {
				t.Errorf("%s skipped: %s", f.Path, f.Reason)
			}
		}
	}
}

// A zone abbreviation means the same instant on every machine: Go's own
// parsing used the local zone's rules for it. Ambiguous ones are read by
// the table's choice with a warning; unknown ones leave the event timeless.
func TestTimeZoneNamesIgnoreLocalZone(t *testing.T) {
	saved := time.Local
	defer func() { time.Local = saved }()
	utc := func(h, m int) time.Time { return time.Date(2024, 3, 5, h, m, 0, 0, time.UTC) }
	tests := []struct {
		in   string
		want time.Time
		warn string // "" when none; the time is unset when want is zero
	}{
		{"2024-03-05 09:00:00 EST", utc(14, 0), ""},
		{"2024-03-05 09:00:00 PDT", utc(16, 0), ""},
		{"2024-03-05 09:00:00 UTC", utc(9, 0), ""},
		{"2024-03-05 09:00:00 GMT", utc(9, 0), ""},
		{"2024-03-05T09:00:00.5 JST", utc(0, 0).Add(500 * time.Millisecond), ""},
		{"2024-03-05 09:00:00 CST", utc(15, 0), "ambiguous"},
		{"2024-03-05 09:00:00 IST", utc(3, 30), "ambiguous"},
		{"2024-03-05 09:00:00 XYZ", time.Time{}, "unknown time zone XYZ"},
		{"2024-03-05T09:00:00-05:00", utc(14, 0), ""},
	}
	// Local zones that share the abbreviations with other offsets.
	for _, local := range []*time.Location{time.UTC, time.FixedZone("EST", 3*3600), time.FixedZone("CST", 8*3600), time.FixedZone("JST", -7*3600)} {
		time.Local = local
		for _, tt := range tests {
			n := &normalizer{}
			var ev Event
			in := fmt.Sprintf(`{"eventVersion":"1","eventName":"n","eventSource":"s","eventTime":%q}`, tt.in)
			warn, err := n.normalize([]byte(in), &ev)
			if err != nil {
				t.Fatal(err)
			}
			if ev.HasTime != !tt.want.IsZero() || !ev.Time.Equal(tt.want) {
				t.Errorf("local %s: %q read as %v (has time %v), want %v", local, tt.in, ev.Time, ev.HasTime, tt.want)
			}
			if (tt.warn == "") != (warn == "") || !strings.Contains(string(warn), tt.warn) {
				t.Errorf("local %s: %q warning %q, want %q", local, tt.in, warn, tt.warn)
			}
		}
	}
}

// Extreme and impossible times parse or warn, never panic; an event
// without a readable time has HasTime false.
func TestExtremeTimes(t *testing.T) {
	tests := []struct {
		in   string
		year int // 0: not read
	}{
		{"0001-01-01T00:00:00Z", 1},
		{"9999-12-31T23:59:59Z", 9999},
		{"9999-12-31T23:59:59.999999999Z", 9999},
		{"0000-01-01T00:00:00Z", 0},
		{"9999-12-31T23:00:00-14:00", 0}, // year 10000 in UTC
		{"0001-01-01T00:00:00+01:00", 0}, // year 0 in UTC
		{"10000-01-01T00:00:00Z", 0},
		{"2024-13-01T00:00:00Z", 0},
		{"2024-02-30T00:00:00Z", 0},
		{"2024-01-01T24:00:00Z", 0},
		{"-0001-01-01T00:00:00Z", 0},
		{"99999999999999999999", 0},
		{"", 0},
	}
	for _, tt := range tests {
		n := &normalizer{}
		var ev Event
		in := fmt.Sprintf(`{"eventVersion":"1","eventName":"n","eventSource":"s","eventTime":%q}`, tt.in)
		warn, err := n.normalize([]byte(in), &ev)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if tt.year == 0 {
			if ev.HasTime || !ev.Time.IsZero() || !strings.Contains(string(warn), "no time") {
				t.Errorf("%q: has time %v (%v), warning %q", tt.in, ev.HasTime, ev.Time, warn)
			}
		} else if !ev.HasTime || ev.Time.Year() != tt.year || warn != "" {
			t.Errorf("%q: read as %v (has time %v), warning %q", tt.in, ev.Time, ev.HasTime, warn)
		}
	}
}

// Keys are compared by their text, whether or not they are written with
// escapes: the fast path for plain keys must not miss an escaped copy.
func TestDuplicateKeysWithEscapes(t *testing.T) {
	for in, want := range map[string]int{
		`{"a":1,"\u0061":2}`:             1,
		`{"\u0061":1,"a":2}`:             1,
		`{"\u0061":1,"\u0061":2}`:        1,
		`{"a\u0062":1,"ab":2,"a\"":3}`:   1,
		`{"ab":1,"a\u0063":2,"a":3}`:     0,
		`{"a":1,"b":2,"ab":3,"a\\":4}`:   0,
		`{"a\\":1,"a\u005c":2,"a\/":3}`:  1,
		`{"x":{"a":1},"y":{"\u0061":1}}`: 0,
		// Keys alike in their first bytes and length (keySpan.head).
		`{"eventNameA":1,"eventNameB":2,"eventNameA":3}`: 1,
		`{"abcdefgh1":1,"abcdefgh2":2}`:                  0,
		`{"abcdefghij":1,"abcdefghi\u006a":2}`:           1,
	} {
		var sc strictScratch
		var rep repairs
		if _, err := strictJSON(nil, []byte(in), &sc, &rep); err != nil || rep.dupKeys != want {
			t.Errorf("%s: %d duplicate keys (%v), want %d", in, rep.dupKeys, err, want)
		}
	}
}

// TestParseErrorsAreBounded: a parser's message grows with the input
// (fastjson repeats itself per level of nesting and quotes the tail); the
// record error stays short whatever the record.
func TestParseErrorsAreBounded(t *testing.T) {
	deep := `{"eventName":"n","eventSource":"s","eventVersion":"1","a":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}"
	n := &normalizer{}
	var ev Event
	_, err := n.normalize([]byte(deep), &ev)
	if err == nil {
		t.Fatal("a record nested 5,000 deep was accepted")
	}
	if msg := err.Error(); len(msg) > 300 || !strings.Contains(msg, "nested more than 300 levels") {
		t.Errorf("error of %d bytes: %.400s", len(msg), msg)
	}
	long := errors.New(strings.Repeat("cannot parse object value: ", 1000))
	if msg := invalidJSON(long); len(msg) > 300 || !strings.HasSuffix(msg, "...") {
		t.Errorf("error of %d bytes", len(msg))
	}
}

// The count of repeated keys matches the keys' decoded text, over random
// objects whose keys share lengths and first bytes, with and without
// escapes.
func TestDuplicateKeysMatchDecodedText(t *testing.T) {
	keys := []string{`"a"`, `"\u0061"`, `"ab"`, `"abcdefg1"`, `"abcdefg2"`, `"abcdefg\u0031"`, `"abcdefgh"`, `"abcdefgi"`, `"b"`, `"a\\"`, `"a\u005c"`}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(12)
		var b strings.Builder
		b.WriteByte('{')
		seen := map[string]bool{}
		want := 0
		for i := range n {
			k := keys[rng.IntN(len(keys))]
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s:%d", k, i)
			var text string
			if err := json.Unmarshal([]byte(k), &text); err != nil {
				t.Fatal(err)
			}
			if seen[text] {
				want++
			}
			seen[text] = true
		}
		b.WriteByte('}')
		var sc strictScratch
		var rep repairs
		if _, err := strictJSON(nil, []byte(b.String()), &sc, &rep); err != nil || rep.dupKeys != want {
			t.Fatalf("%s: %d duplicate keys (%v), want %d", b.String(), rep.dupKeys, err, want)
		}
	}
}

// Records are read in place from the scanner's buffer when they fit in
// what it holds; one cut by the buffer's end, or larger than the buffer,
// is read by the splitter. Whatever the sizes, every event is read once,
// in order, with its own bytes and offset, and the size limit still holds.
func TestRecordsReadInPlaceAcrossBufferEnds(t *testing.T) {
	var recs []string
	for i := range 400 {
		pad := (i * 997) % 3000
		if i == 150 {
			pad = 3 * scanBufSize // never in one buffer
		}
		if i == 300 {
			pad = 20000 // over the limit below
		}
		recs = append(recs, ctEvent(i, pad))
	}
	content := "{\"Records\": [\n" + strings.Join(recs, ",\n  ") + "]}"
	for name, data := range map[string][]byte{"plain": []byte(content), "gzip": gzipBytes(t, []byte(content))} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "f.json", data)
			sink, _ := runInputs(t, []string{dir}, Options{MaxRecordSize: 3*scanBufSize + 1000})
			if len(sink.events) != len(recs) {
				t.Fatalf("%d events, want %d", len(sink.events), len(recs))
			}
			for i, e := range sink.events {
				if e.RecordIndex != int64(i) || e.Raw != recs[i] {
					t.Fatalf("event %d: record %d, raw %.60q..., want %.60q...", i, e.RecordIndex, e.Raw, recs[i])
				}
			}
			sink, _ = runInputs(t, []string{dir}, Options{MaxRecordSize: 10000})
			f := sink.files[0]
			if len(sink.events) != len(recs)-2 || len(f.Errors) != 2 || f.Errors[0].RecordIndex != 150 || f.Errors[1].RecordIndex != 300 {
				t.Fatalf("limit 10000: %d events, errors %+v; want records 150 and 300 refused", len(sink.events), f.Errors)
			}
			if want := int64(strings.Index(content, recs[300])); f.Errors[1].ByteOffset != want || !strings.Contains(f.Errors[1].Message, "larger than the 10000-byte limit") {
				t.Fatalf("error %+v, want the limit at byte %d", f.Errors[1], want)
			}
		})
	}
}

// recordInPlace reads a record that lies whole in the window, up to the
// size limit, and leaves anything else to the splitter.
func TestRecordInPlace(t *testing.T) {
	rec := ctEvent(1, 10)
	h := &fileHandler{n: &normalizer{}, f: &File{ID: 7}}
	for _, c := range []struct {
		name   string
		window string
		limit  int
		ok     bool
	}{
		{"whole, the next one cut", rec + ",\n  " + rec[:40], len(rec), true},
		{"ends the window", rec, len(rec), true},
		{"over the limit", rec + ",", len(rec) - 1, false},
		{"cut by the window's end", rec[:len(rec)-1], len(rec), false},
		{"broken", strings.Replace(rec, `"eventName":`, `"eventName"`, 1) + ",", len(rec), false},
		{"not an object", `"` + rec + `"`, 2 * len(rec), false},
	} {
		before := len(h.batch)
		used, ok, err := h.recordInPlace([]byte(c.window), 3, 100, c.limit)
		switch {
		case err != nil || ok != c.ok:
			t.Errorf("%s: ok %v, error %v; want ok %v", c.name, ok, err, c.ok)
		case ok && (used != len(rec) || len(h.batch) != before+1 || h.batch[before].Raw != rec || h.batch[before].RecordIndex != 3):
			t.Errorf("%s: used %d of %d, events %d -> %d", c.name, used, len(rec), before, len(h.batch))
		case !ok && (len(h.batch) != before || h.failed != 0):
			t.Errorf("%s: not read in place, yet %d events and %d errors recorded", c.name, len(h.batch)-before, h.failed)
		}
	}
}

// A record read in place whose keys repeat is written again without
// them, and the splitter goes on after the record as given: the rewrite
// of the shorter record must not move where the record ended (it did, and
// the rest of the file was lost).
func TestRecordWithRepeatedKeysInPlace(t *testing.T) {
	dup := strings.Replace(ctEvent(1, 10), `"eventName":`, `"eventName":"DeleteUser","eventName":`, 1)
	var recs []string
	for i, r := range []string{dup, ctEvent(2, 10), dup, ctEvent(3, 10)} {
		recs = append(recs, strings.Replace(r, "00000001-", fmt.Sprintf("0000000%d-", i+5), 1))
	}
	dir := t.TempDir()
	writeFile(t, dir, "dup.json.gz", gzipBytes(t, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`)))
	sink, _ := runInputs(t, []string{dir}, Options{})
	f := sink.files[0]
	if len(sink.events) != 4 || f.Status != StatusLoaded {
		t.Fatalf("%d events, file %s %+v; want all 4", len(sink.events), f.Status, f.Errors)
	}
	for _, e := range f.Errors {
		if e.Severity != SeverityWarning || !strings.Contains(e.Message, "duplicate keys") {
			t.Fatalf("problem %+v; want only the duplicate keys' warnings", e)
		}
	}
	for _, ev := range sink.events {
		if ev.EventName != "ListUsers" || strings.Contains(ev.Raw, "DeleteUser") {
			t.Fatalf("event %s: name %q, raw %.120s", ev.EventID, ev.EventName, ev.Raw)
		}
	}
}

// A bucket is mostly small files, read by the hundred thousand: a worker
// decodes each with the buffers it reuses (the walker's buffer of the
// file's size is too small to tell apart here). A 64 KiB buffer allocated
// per file made GC a third of such an ingest's CPU.
func TestSmallFilesReuseBuffers(t *testing.T) {
	const files = 500
	dir := t.TempDir()
	for i := range files {
		writeFile(t, dir, fmt.Sprintf("f%04d.json.gz", i), gzipBytes(t, []byte(`{"Records":[`+ctEvent(i, 0)+`]}`)))
	}
	runInputs(t, []string{dir}, Options{Workers: 1}) // warm: the worker's buffers exist
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sink, _ := runInputs(t, []string{dir}, Options{Workers: 1})
	runtime.ReadMemStats(&after)
	if len(sink.events) != files {
		t.Fatalf("%d events, want %d", len(sink.events), files)
	}
	perFile := (after.TotalAlloc - before.TotalAlloc) / files
	t.Logf("%d bytes allocated per file", perFile)
	if perFile > 32<<10 {
		t.Errorf("%d bytes allocated per small file; want under 32 KiB", perFile)
	}
}

// The walker reads ahead by many small inputs, but holds no more than
// queuedBytes of content in the queue: a second large input waits until a
// worker takes the first, and a cancelled run stops waiting.
func TestQueueBoundsBytes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &run{ctx: ctx, units: make(chan *unit, queuedUnits), queued: semaphore.NewWeighted(queuedBytes), queuedBytes: queuedBytes}
	const size = queuedBytes * 3 / 4
	big := func() *unit { return &unit{src: &source{data: make([]byte, size), size: size}} }
	// A spooled archive member holds disk, not memory: it counts the same.
	spooled := func() *unit { return &unit{src: &source{spooled: true, size: size}} }
	for range queuedUnits / 2 { // small ones go in at once
		if !r.queue(&unit{src: &source{data: make([]byte, 100)}}) {
			t.Fatal("a small input was not queued")
		}
	}
	if !r.queue(big()) {
		t.Fatal("the first large input was not queued")
	}
	queued := make(chan bool)
	go func() { queued <- r.queue(spooled()) }()
	select {
	case <-queued:
		t.Fatal("a second large input was queued while the first waits: the queue holds more than queuedBytes")
	case <-time.After(50 * time.Millisecond):
	}
	for range queuedUnits/2 + 1 { // a worker takes the small ones and the first large one
		u := <-r.units
		r.queued.Release(u.held)
	}
	if !<-queued {
		t.Fatal("the second large input was not queued once the first was taken")
	}
	go func() { queued <- r.queue(big()) }()
	cancel()
	if <-queued {
		t.Fatal("a cancelled run queued an input")
	}
}

// Every unit a worker takes gives its bytes back: a run moves many times
// the walker's read-ahead through it, and a cancelled run walking an
// archive stops rather than waiting for members that were never queued.
func TestQueueReleasesAndCancels(t *testing.T) {
	dir := t.TempDir()
	var lines strings.Builder
	for i := range 40 {
		writeFile(t, dir, fmt.Sprintf("f%02d.json", i), []byte(ctEvent(i, 8000)+"\n"))
		fmt.Fprintln(&lines, ctEvent(100+i, 8000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sink := &memSink{}
	_, err := Run(ctx, []string{dir}, sink, Options{Workers: 1, queuedBytes: 20 << 10}) // two files of 8 KB at a time
	if err != nil || len(sink.events) != 40 {
		t.Fatalf("%d events, err %v: want 40 and nil (a run that stalls ends when its minute is up)", len(sink.events), err)
	}

	zip := makeZip(gzippedMembers(t, []byte(lines.String())))
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	r := &run{ctx: cancelled, out: make(chan message, 8), units: make(chan *unit, 1),
		queued: semaphore.NewWeighted(queuedBytes), queuedBytes: queuedBytes, seen: map[string]string{}}
	walked := make(chan error, 1)
	go func() { walked <- r.walkArchive("a.zip", &source{data: zip, size: int64(len(zip)), sha: "x"}) }()
	select {
	case err := <-walked:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("walkArchive of a cancelled run: %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("walkArchive of a cancelled run waits for members that were never queued")
	}
}
