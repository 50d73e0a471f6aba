package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestStringArenaKeepsEarlierStrings checks that strings cut from the
// arena keep their text when the buffer they came from is reused and the
// arena moves on to new blocks.
func TestStringArenaKeepsEarlierStrings(t *testing.T) {
	var a stringArena
	buf := make([]byte, 0, arenaMaxString+1)
	var got, want []string
	for i := 0; i < 3*arenaBlockSize/100; i++ {
		n := 1 + i%150
		if i%997 == 0 {
			n = arenaMaxString + 1 // too large for a block
		}
		buf = append(buf[:0], bytes.Repeat([]byte{byte('a' + i%26)}, n)...)
		got = append(got, a.of(buf))
		want = append(want, strings.Repeat(string(rune('a'+i%26)), n))
		clear(buf) // the caller's buffer is reused: the string must not be
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d is %.20q, want %.20q", i, got[i], want[i])
		}
	}
	if a.of(nil) != "" {
		t.Fatal("an empty input gave a non-empty string")
	}
}

// TestArenaKeepsWhatWasWrittenAtItsTail checks tail and keep as the strict
// rewrite uses them: a record appended to the tail and kept keeps its
// text whatever is written after it, a record written and not kept (one
// that failed) is written over, and one that outgrows the tail is kept
// from the buffer append moved it to.
func TestArenaKeepsWhatWasWrittenAtItsTail(t *testing.T) {
	var a stringArena
	var got, want []string
	for i := 0; i < 4*arenaBlockSize/500; i++ {
		n := 1 + i*37%3000
		if i%211 == 0 {
			n = arenaMinTail + i // more than some tails hold
		}
		text := strings.Repeat(string(rune('a'+i%26)), n)
		b := a.tail()
		if len(b) != 0 || cap(b) < arenaMinTail {
			t.Fatalf("tail has length %d and room %d, want 0 and at least %d", len(b), cap(b), arenaMinTail)
		}
		for j := 0; j < n; j++ { // byte by byte, as the rewrite appends
			b = append(b, text[j])
		}
		if i%5 == 4 {
			continue // not kept: the next record is written over it
		}
		got = append(got, a.keep(b))
		want = append(want, text)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d is %.20q (%d bytes), want %.20q (%d bytes)", i, got[i], len(got[i]), want[i], len(want[i]))
		}
	}
	if a.keep(a.tail()) != "" {
		t.Fatal("an empty record gave a non-empty string")
	}
}

// TestColumnsOutliveTheNextRecord checks that an event's columns keep
// their text once the normalizer reads further records: those cut from
// the kept record, and those read from a part given as a JSON string,
// whose rewrite the next record's overwrites.
func TestColumnsOutliveTheNextRecord(t *testing.T) {
	record := func(i int) string {
		return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2024-03-01T10:00:%02dZ","eventSource":"signin.amazonaws.com",`+
			`"eventName":"ConsoleLogin","awsRegion":"us-east-%d","sourceIPAddress":"10.0.0.%d",`+
			`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u%d","userName":"u%d"},`+
			`"additionalEventData":"{\"MFAUsed\":\"Yes\",\"MFAIdentifier\":\"arn:aws:iam::111122223333:mfa/d%d\",\"CredentialType\":\"T%d\"}",`+
			`"responseElements":{"ConsoleLogin":"Success"},"eventID":"id-%d"}`, i%60, i, i, i, i, i, i, i)
	}
	var n normalizer
	events := make([]Event, 200)
	for i := range events {
		if _, err := n.normalize([]byte(record(i)), &events[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	for i, ev := range events {
		want := []string{fmt.Sprintf("us-east-%d", i), fmt.Sprintf("arn:aws:iam::111122223333:user/u%d", i),
			fmt.Sprintf("arn:aws:iam::111122223333:mfa/d%d", i), fmt.Sprintf("T%d", i), fmt.Sprintf("id-%d", i)}
		got := []string{ev.AWSRegion, ev.UserARN, ev.MFAIdentifier, ev.CredentialType, ev.EventID}
		if !slices.Equal(got, want) {
			t.Fatalf("event %d reads %q, want %q", i, got, want)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(ev.Raw), &v); err != nil || v["eventID"] != fmt.Sprintf("id-%d", i) {
			t.Fatalf("event %d's raw is %.80q (%v)", i, ev.Raw, err)
		}
	}
}
