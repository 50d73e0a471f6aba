// Package hostile generates the adversarial suite: small inputs shaped the
// way real evidence goes wrong (a byte cut, a control character, a memory
// bomb, a lookalike that is not CloudTrail) or the way an attacker would
// shape it. Each case says how many distinct CloudTrail events it holds, so
// a test can check that every one of them is stored, exactly once, and
// nothing else.
//
// Everything is generated, deterministically: the repository holds this
// code, not large hostile files. `go run ./samples/hostile/mkhostile DIR`
// writes the cases out for trying them by hand.
package hostile

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Case is one adversarial input.
type Case struct {
	Name string
	Why  string
	// Files are written under one folder and given to ingest as that folder.
	Files []File
	// Events is how many distinct CloudTrail events the input holds: what
	// must be stored, no more, no less.
	Events int
	// Args are extra ingest flags (a smaller --max-record-size, one worker).
	Args []string
	// Via is how the input reaches trailsift: "" (a folder), "stdin" or
	// "fifo" (the single file, through a pipe).
	Via string
}

// File is one input file of a case.
type File struct {
	Name string
	Data []byte
}

// Cases returns the whole suite.
func Cases() []Case {
	return []Case{
		{
			Name:   "mixed-plain-then-large-gzip",
			Why:    "one worker reads a plain file, then a gzip file larger than its read buffer",
			Files:  []File{{"a-plain.json", records(events(0, 3))}, {"b-large.json.gz", gz(records(noisyEvents(100, 400)))}},
			Events: 403,
			Args:   []string{"--workers", "1"},
		},
		{
			Name: "control-bytes-in-strings",
			Why:  "raw bytes below 0x20 inside JSON strings (NUL, 0x01, TAB, ESC), beside clean events",
			Files: []File{{"ctl.ndjson", lines(
				withRaw(event(10), "userAgent", "nul\x00byte"),
				withRaw(event(11), "userAgent", "soh\x01byte"),
				withRaw(event(12), "userAgent", "tab\tbyte"),
				withRaw(event(13), "userAgent", "esc\x1b[31mred"),
				event(14), event(15),
			)}},
			Events: 6,
		},
		{
			Name:   "ndjson-line-cut-inside-a-string",
			Why:    "a line cut inside a string must not swallow the next line",
			Files:  []File{{"cut.ndjson", lines(event(20), cut(event(21)), event(22), event(23))}},
			Events: 3,
		},
		{
			Name:   "ndjson-first-line-cut",
			Why:    "a bad first line must not lose the file",
			Files:  []File{{"first-cut.jsonl", lines(cut(event(30)), event(31), event(32))}},
			Events: 2,
		},
		{
			Name:   "records-record-missing-its-brace",
			Why:    "one record without its closing brace must not lose the records after it",
			Files:  []File{{"brace.json", recordsRaw(event(40), event(41), missingBrace(event(42)), event(43), event(44))}},
			Events: 4,
		},
		{
			Name:   "huge-value-in-a-json-line",
			Why:    "a value over --max-record-size in a JSON line is skipped without buffering it whole",
			Files:  []File{{"huge.ndjson.gz", gz(lines(event(50), withRaw(event(51), "userAgent", strings.Repeat("A", 3<<20)), event(52)))}},
			Events: 2,
			Args:   []string{"--max-record-size", "1048576"},
		},
		{
			Name:   "huge-key-before-records",
			Why:    "a huge value before the Records key is skipped without buffering it whole",
			Files:  []File{{"before.json.gz", gz([]byte(`{"padding":"` + strings.Repeat("B", 3<<20) + `","Records":[` + join(event(60), event(61), event(62)) + `]}`))}},
			Events: 3,
			Args:   []string{"--max-record-size", "1048576"},
		},
		{
			Name:   "huge-single-object",
			Why:    "a single object over the limit is skipped, not buffered whole",
			Files:  []File{{"single.json.gz", gz(withRaw(event(65), "userAgent", strings.Repeat("C", 3<<20)))}, {"ok.json", records(events(66, 2))}},
			Events: 2,
			Args:   []string{"--max-record-size", "1048576"},
		},
		{
			Name:   "extreme-times",
			Why:    "events dated 0001 and 9999 beside ordinary ones",
			Files:  []File{{"times.json", recordsRaw(withTime(event(70), "0001-01-01T00:00:00Z"), withTime(event(71), "9999-12-31T23:59:59Z"), event(72))}},
			Events: 3,
		},
		{
			Name: "one-event-two-time-spellings",
			Why:  "the same event from an S3 file and a lake export, its time written two ways",
			Files: []File{
				{"s3.json", recordsRaw(withTime(event(80), "2024-03-05T11:00:00Z"))},
				{"lake.ndjson", lines(withTime(event(80), "2024-03-05 11:00:00.000"))},
			},
			Events: 1,
		},
		{
			Name:   "not-cloudtrail-json-lines",
			Why:    "objects with an eventID and an eventName but nothing else of CloudTrail",
			Files:  []File{{"app.ndjson", lines(lookalikes(50)...)}},
			Events: 0,
		},
		{
			Name:   "not-cloudtrail-array",
			Why:    "a JSON array of other objects",
			Files:  []File{{"other.json", []byte(`[{"id":1,"name":"a"},{"id":2,"name":"b"}]`)}},
			Events: 0,
		},
		{
			Name:   "not-cloudtrail-object",
			Why:    "a single other object",
			Files:  []File{{"config.json", []byte(`{"version":2,"settings":{"a":true}}`)}},
			Events: 0,
		},
		{
			Name:   "duplicate-keys",
			Why:    "an event whose keys repeat, also inside nested objects",
			Files:  []File{{"dup.json", recordsRaw(dupKeys(event(90)))}},
			Events: 1,
		},
		{
			Name:   "time-zone-abbreviation",
			Why:    "an eventTime with a zone abbreviation",
			Files:  []File{{"tz.ndjson", lines(withTime(event(95), "2024-03-05 09:00:00 EST"), withTime(event(96), "2024-03-05 09:00:00 UTC"))}},
			Events: 2,
		},
		{
			Name:   "lookup-events-hostile-items",
			Why:    "lookup-events items whose CloudTrailEvent is broken, not JSON, or holds control bytes",
			Files:  []File{{"lookup.json", lookup(event(100), withRaw(event(101), "userAgent", "x\x07y"), []byte(`{"eventName":`), []byte(`not json`), event(102))}},
			Events: 3,
		},
		{
			Name:   "deep-nesting",
			Why:    "a value nested 100,000 levels deep beside ordinary events",
			Files:  []File{{"deep.json", recordsRaw(event(110), withRaw(event(111), "requestParameters", ""), event(112))}},
			Events: 2,
		},
		{
			Name: "archive-member-names",
			Why:  "zip members named to climb out of the archive or with absolute paths",
			Files: []File{{"names.zip", zipOf(
				File{"../../../../tmp/escape.json", records(events(120, 2))},
				File{"/abs/path.json", records(events(122, 2))},
				File{"AWSLogs/1/CloudTrail/us-east-1/2024/03/05/ok.json.gz", gz(records(events(124, 2)))},
			)}},
			Events: 6,
		},
		{
			Name:   "archives-nested-too-deep",
			Why:    "archives inside archives, deeper than trailsift opens, beside a shallow one",
			Files:  []File{{"deep.zip", nestZip(8, records(events(130, 2)))}, {"shallow.zip", nestZip(1, records(events(132, 3)))}},
			Events: 3,
		},
		{
			Name: "tarball-with-junk",
			Why:  "a tar.gz holding operating system files, a digest file and a log file",
			Files: []File{{"export.tar.gz", gz(tarOf(
				File{"__MACOSX/._x.json", []byte{0, 5, 22, 7}},
				File{".DS_Store", []byte("Bud1\x00\x00")},
				File{"AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/05/d.json.gz", gz([]byte(`{"digestStartTime":"2024-03-05T00:00:00Z","logFiles":[]}`))},
				File{"AWSLogs/1/CloudTrail/us-east-1/2024/03/05/log.json.gz", gz(records(events(140, 4)))},
			))}},
			Events: 4,
		},
		{
			Name:   "bidi-and-terminal-escapes",
			Why:    "text that reorders lines or drives a terminal",
			Files:  []File{{"bidi.json", recordsRaw(withRaw(event(150), "userAgent", "a\u202Egnp.exe\u2066b"), withString(event(151), "userAgent", "\x1b]0;owned\x07\x1b[2J"))}},
			Events: 2,
		},
		{
			Name:   "empty-shapes",
			Why:    "an empty file, white space, an empty object and an empty Records array",
			Files:  []File{{"empty.json", nil}, {"space.json", []byte(" \n\t\n")}, {"obj.json", []byte(`{}`)}, {"none.json", []byte(`{"Records":[]}`)}},
			Events: 0,
		},
		{
			Name:   "invalid-utf8",
			Why:    "bytes that are not UTF-8 inside a string",
			Files:  []File{{"utf8.json", recordsRaw(withRaw(event(160), "userAgent", "bad\xff\xfeutf8"), event(161))}},
			Events: 2,
		},
		{
			Name:   "lone-surrogate-escapes",
			Why:    `escapes such as "\ud800" that are not a character`,
			Files:  []File{{"surrogate.json", recordsRaw(withRaw(event(165), "userAgent", `lone\ud800x\udfff`), event(166))}},
			Events: 2,
		},
		{
			Name:   "odd-json-values",
			Why:    "numbers and literals in places that usually hold strings",
			Files:  []File{{"odd.json", recordsRaw(withValue(event(170), "readOnly", `"true"`), withValue(event(171), "eventVersion", `1e400`), withValue(event(172), "userAgent", `-0`), withValue(event(173), "sourceIPAddress", `null`))}},
			Events: 4,
		},
		{
			Name:   "delivered-twice",
			Why:    "the same file under two names, and one event in two files",
			Files:  []File{{"one.json", records(events(180, 3))}, {"copy-of-one.json", records(events(180, 3))}, {"other.ndjson", lines(event(181), event(183))}},
			Events: 4,
		},
		{
			Name:   "stdin-gzip",
			Why:    "gzip through standard input",
			Files:  []File{{"stdin.json.gz", gz(records(events(190, 5)))}},
			Events: 5,
			Via:    "stdin",
		},
		{
			Name:   "fifo",
			Why:    "a named pipe, as `trailsift ingest <(zcat f.gz)` gives",
			Files:  []File{{"pipe.json", records(events(200, 7))}},
			Events: 7,
			Via:    "fifo",
		},
	}
}

// event is an ordinary console-era IAM call, unique by n.
func event(n int) []byte {
	ev := map[string]any{
		"eventVersion": "1.08",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
			"accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "alice",
		},
		"eventTime":          fmt.Sprintf("2024-03-05T%02d:%02d:%02dZ", n/3600%24, n/60%60, n%60),
		"eventSource":        "iam.amazonaws.com",
		"eventName":          "ListUsers",
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "203.0.113.7",
		"userAgent":          "aws-cli/2.15.0",
		"requestParameters":  nil,
		"responseElements":   nil,
		"requestID":          fmt.Sprintf("req-%08d", n),
		"eventID":            eventID(n),
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": "111122223333",
		"eventCategory":      "Management",
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

func eventID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func events(from, count int) [][]byte {
	var out [][]byte
	for i := range count {
		out = append(out, event(from+i))
	}
	return out
}

// noisyEvents carry request parameters that do not compress, so a file of
// them is larger than any read buffer even gzipped.
func noisyEvents(from, count int) [][]byte {
	var out [][]byte
	x := uint64(0x9e3779b97f4a7c15)
	for i := range count {
		var b strings.Builder
		for range 48 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			fmt.Fprintf(&b, "%016x", x)
		}
		out = append(out, withValue(event(from+i), "requestParameters", `{"policyDocument":"`+b.String()+`"}`))
	}
	return out
}

// withValue replaces the JSON value of a top-level key with raw JSON text.
// The key must be one event writes.
func withValue(ev []byte, key, value string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev, &m); err != nil {
		panic(err)
	}
	if _, ok := m[key]; !ok {
		panic("no key " + key)
	}
	delete(m, key)
	rest, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return []byte(`{"` + key + `":` + value + `,` + string(rest[1:]))
}

// withString sets a top-level key to a string, escaped the JSON way.
func withString(ev []byte, key, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return withValue(ev, key, string(q))
}

// withRaw sets a top-level key to a string whose bytes go in unescaped, as
// a careless or hostile writer would put them. An empty s with key
// requestParameters nests 100,000 levels deep instead.
func withRaw(ev []byte, key, s string) []byte {
	if s == "" && key == "requestParameters" {
		return withValue(ev, key, strings.Repeat(`{"a":`, 100_000)+"1"+strings.Repeat("}", 100_000))
	}
	return withValue(ev, key, `"`+s+`"`)
}

func withTime(ev []byte, t string) []byte { return withString(ev, "eventTime", t) }

// cut ends an event inside its eventName string, as a torn write would.
func cut(ev []byte) []byte {
	i := bytes.Index(ev, []byte(`"eventName":"`))
	return ev[:i+len(`"eventName":"Li`)]
}

// missingBrace drops the event's closing brace.
func missingBrace(ev []byte) []byte { return ev[:len(ev)-1] }

// dupKeys repeats eventName (a different value first) and a nested key.
func dupKeys(ev []byte) []byte {
	ev = withValue(ev, "eventName", `"DeleteUser","eventName":"ListUsers"`)
	return bytes.Replace(ev, []byte(`"userName":"alice"`), []byte(`"userName":"mallory","userName":"alice"`), 1)
}

// lookalikes have an eventID and an eventName and nothing else of CloudTrail.
func lookalikes(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, []byte(fmt.Sprintf(`{"eventID":"%s","eventName":"page_view","level":"info","msg":"user clicked %d"}`, eventID(9000+i), i)))
	}
	return out
}

func join(evs ...[]byte) string { return string(bytes.Join(evs, []byte(","))) }

func records(evs [][]byte) []byte { return recordsRaw(evs...) }

func recordsRaw(evs ...[]byte) []byte { return []byte(`{"Records":[` + join(evs...) + `]}`) }

func lines(evs ...[]byte) []byte {
	return append(bytes.Join(evs, []byte("\n")), '\n')
}

// lookup wraps events as `aws cloudtrail lookup-events` output does: each
// event a JSON string inside an item.
func lookup(evs ...[]byte) []byte {
	var items []string
	for i, ev := range evs {
		q, err := json.Marshal(string(ev))
		if err != nil {
			panic(err)
		}
		items = append(items, fmt.Sprintf(`{"EventId":"%s","EventName":"ListUsers","CloudTrailEvent":%s}`, eventID(5000+i), q))
	}
	return []byte(`{"Events":[` + strings.Join(items, ",") + `]}`)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func zipOf(files ...File) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			panic(err)
		}
		if _, err := fw.Write(f.Data); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func tarOf(files ...File) []byte {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, f := range files {
		if err := w.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			panic(err)
		}
		if _, err := w.Write(f.Data); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// nestZip puts content depth zips deep.
func nestZip(depth int, content []byte) []byte {
	data, name := content, "log.json"
	for i := range depth {
		data, name = zipOf(File{name, data}), fmt.Sprintf("level%d.zip", i)
	}
	return data
}

// Write writes the files of c under dir. Member names are file names here:
// a case never names a file outside dir.
func Write(dir string, c Case) error {
	for _, f := range c.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("case %s: file name %q is not local", c.Name, f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o444); err != nil {
			return err
		}
	}
	return nil
}
