package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// checkTape rebuilds every object of t from its members (keys, values,
// the subtrees skipped by next) and fails unless that gives back the
// object's own bytes, and checks each key's text against encoding/json's.
func checkTape(t *testing.T, tp *tape) {
	t.Helper()
	var rebuild func(v node) []byte
	rebuild = func(v node) []byte {
		if !v.isObject() {
			return v.raw()
		}
		out := []byte{'{'}
		v.children(func(m int32) bool {
			mm := tp.members[m]
			if len(out) > 1 {
				out = append(out, ',')
			}
			quoted := tp.json[mm.keyStart:mm.keyEnd]
			var want string
			if err := json.Unmarshal(quoted, &want); err != nil {
				t.Fatalf("key %q is not a JSON string: %v", quoted, err)
			}
			var scratch []byte
			if got := tp.key(m, &scratch); string(got) != want {
				t.Fatalf("key %s read as %q, want %q", quoted, got, want)
			}
			out = append(append(append(out, quoted...), ':'), rebuild(node{tp, m})...)
			return true
		})
		return append(out, '}')
	}
	if got := rebuild(tp.root()); !bytes.Equal(got, tp.json) {
		t.Fatalf("tape rebuilds\n%s\nnot\n%s", got, tp.json)
	}
}

func tapeOf(t *testing.T, in string) (*tape, strictScratch) {
	t.Helper()
	var sc strictScratch
	var rep repairs
	out, err := strictJSON(nil, []byte(in), &sc, &rep)
	if err != nil {
		t.Fatalf("strictJSON(%s): %v", in, err)
	}
	tp := &tape{json: out, members: sc.members}
	checkTape(t, tp)
	return tp, sc
}

func TestTapeFindsMembersAsKeysAreMatchedEverywhere(t *testing.T) {
	tp, _ := tapeOf(t, `{ "list": [ {"arn": "in an array"} ], "Deep": {"arn": {"arn": "two down"}},
		"ARN": "folded", "arn": "exact", "Arn": "folded again", "esc\u0061ped": "by escape",
		"s": "a\"b\\c\u00e9\ud83d\ude00\n", "n": -1.5e3, "t": true, "z": null, "o": {} }`)
	root := tp.root()
	var n normalizer
	for _, c := range []struct{ path, want string }{
		{"arn", "exact"},             // an exact key wins over folded ones
		{"aRN", "folded again"},      // no exact match: the last folded one
		{"Deep.arn.arn", "two down"}, // through objects, not into arrays
		{"list.arn", ""},
		{"escaped", "by escape"},
		{"s", "a\"b\\c\u00e9\U0001F600\n"},
		{"n", "-1.5e3"},
		{"t", "true"},
		{"z", ""},
		{"o", ""},
		{"missing.arn", ""},
	} {
		if got := n.str(root.path(c.path)); got != c.want {
			t.Errorf("%s = %q, want %q", c.path, got, c.want)
		}
	}
}

func TestTapeTakesTheLastOfRepeatedKeys(t *testing.T) {
	tp, _ := tapeOf(t, `{"a":{"k":1},"a":{"k":2},"b":"x","B":"y","B":"z"}`)
	var n normalizer
	if got := n.str(tp.root().path("a.k")); got != "2" {
		t.Errorf("a.k = %q, want the last a's 2", got)
	}
	if got := n.str(tp.root().get("b")); got != "x" {
		t.Errorf("b = %q, want x", got)
	}
	if got := n.str(tp.root().get("B")); got != "z" {
		t.Errorf("B = %q, want the last B's z", got)
	}
}

// A value inside more than 300 containers makes a record invalid, as it
// did when records were parsed whole; 300 levels are read.
func TestNormalizeRefusesRecordsNestedTooDeep(t *testing.T) {
	event := func(levels int) string {
		return `{"eventName":"X","eventSource":"s","eventTime":"2024-01-01T00:00:00Z","requestParameters":` +
			strings.Repeat("[", levels-2) + "1" + strings.Repeat("]", levels-2) + `}`
	}
	var n normalizer
	var ev Event
	if _, err := n.normalize([]byte(event(maxJSONDepth)), &ev); err != nil {
		t.Fatalf("%d levels: %v", maxJSONDepth, err)
	}
	if _, err := n.normalize([]byte(event(maxJSONDepth+1)), &ev); err != errTooDeep {
		t.Fatalf("%d levels: error %v, want %v", maxJSONDepth+1, err, errTooDeep)
	}
	// Empty containers at the limit hold no value past it.
	deepEmpty := `{"eventName":"X","eventSource":"s","eventTime":"2024-01-01T00:00:00Z","r":` +
		strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`
	if _, err := n.normalize([]byte(deepEmpty), &ev); err != nil {
		t.Fatalf("empty containers %d deep: %v", maxJSONDepth, err)
	}
}

// Parts an export gave as JSON strings are read as objects, with white
// space, escapes and repeated keys as in the record itself.
func TestNormalizeReadsPartsGivenAsJSONStrings(t *testing.T) {
	in := `{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","eventTime":"2024-01-01T00:00:00Z",
		"additionalEventData":" {\"MFAUsed\" : \"no\", \"mfaIdentifier\":\"a\\u00e9\",\"MFAIdentifier\":\"exact\"} ",
		"serviceEventDetails":"{\"CredentialChallenge\":\"Success\"}",
		"responseElements":{"ConsoleLogin":"Failure"}}`
	var n normalizer
	var ev Event
	if _, err := n.normalize([]byte(in), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.MFAUsed != "No" || ev.MFAIdentifier != "exact" || ev.CredentialChallenge != "Success" || ev.LoginResult != "Failure" {
		t.Fatalf("MFAUsed %q MFAIdentifier %q CredentialChallenge %q LoginResult %q", ev.MFAUsed, ev.MFAIdentifier, ev.CredentialChallenge, ev.LoginResult)
	}
}

func TestUsableEventID(t *testing.T) {
	for id, want := range map[string]bool{
		"00000000-0000-4000-8000-000000000142": true,
		"redacted-0000-4000-8000-000000000142": false,
		"0000000000000000000000000000ReDaCtEd": false,
		"0000000000000000000000000000REDACTE":  true,
		"0000-redacte-d000000000000":           true,
		"short":                                false,
		"00000000 0000 4000 8000 000000000142": false,
		"00000000-0000-4000-8000-00000000014é": false,
	} {
		if got := usableEventID(id); got != want {
			t.Errorf("usableEventID(%q) = %v, want %v", id, got, want)
		}
	}
}

// A record size limit the decoder's 32-bit offsets cannot hold is refused
// before anything is read.
func TestRunRefusesARecordLimitOverTheDecodersOwn(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.json", []byte(`{"Records":[`+ctEvent(1, 0)+`]}`))
	sink := &memSink{}
	if _, err := Run(context.Background(), []string{dir}, sink, Options{MaxRecordSize: MaxRecordLimit + 1}); err == nil || len(sink.events) != 0 {
		t.Fatalf("limit %d: error %v, %d events", MaxRecordLimit+1, err, len(sink.events))
	}
	if _, err := Run(context.Background(), []string{dir}, sink, Options{MaxRecordSize: MaxRecordLimit}); err != nil || len(sink.events) != 1 {
		t.Fatalf("limit %d: error %v, %d events", MaxRecordLimit, err, len(sink.events))
	}
}

// A lookup-events item whose own JSON needs repairs gives its event as it
// was given: the event's rewrite repairs it and warns about it on the
// event, as before the item was rewritten too.
func TestLookupItemRepairsAreWarnedOnTheEvent(t *testing.T) {
	dir := t.TempDir()
	inner := `{"eventVersion":"1.08","eventTime":"2024-03-05T11:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","userAgent":"a` + "\xff" + `b","eventID":"00000000-0000-4000-8000-000000000001"}`
	quoted, _ := json.Marshal(string([]byte(inner))) // Marshal makes the bad byte U+FFFD: put it back
	item := `{"Events":[{"EventId":"x","CloudTrailEvent":` + strings.Replace(string(quoted), "\\ufffd", "\xff", 1) + `}]}`
	writeFile(t, dir, "page.json", []byte(item))
	sink, _ := runInputs(t, []string{dir}, Options{})
	if len(sink.events) != 1 {
		t.Fatalf("%d events, want 1", len(sink.events))
	}
	ev := sink.events[0]
	if !strings.Contains(ev.Raw, `"userAgent":"a\ufffdb"`) || ev.UserAgent != "a\ufffdb" {
		t.Errorf("raw %s, user agent %q; want the bad byte stored as \\ufffd", ev.Raw, ev.UserAgent)
	}
	errs := sink.files[0].Errors
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "not UTF-8") || errs[0].Severity != SeverityWarning {
		t.Errorf("errors %+v, want one warning about the byte that is not UTF-8", errs)
	}
}
