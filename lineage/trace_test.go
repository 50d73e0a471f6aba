package lineage_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/lineage"
	"github.com/trailsift/trailsift/lineage/lineagetest"
	"github.com/trailsift/trailsift/query"
)

// storyStore is an in-memory store of the lineagetest story, its sessions
// built by the load; with extra rows, the table is replaced by the story's
// rows and them.
func storyStore(t *testing.T, extra ...lineagetest.Row) *sql.DB {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "story.ndjson")
	if err := os.WriteFile(path, []byte(lineagetest.Events()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := lake.IngestStore(ctx, s, []string{path}, ingest.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 {
		if err := lineagetest.ReplaceSessions(ctx, s.DB, append(lineagetest.Rows(), extra...)); err != nil {
			t.Fatal(err)
		}
	}
	return s.DB
}

func chainIDs(s lineage.SessionTrace) []string {
	var out []string
	for _, h := range s.Chain {
		out = append(out, h.SessionID)
	}
	return out
}

func sessionIDs(tr *lineage.Trace) []string {
	var out []string
	for _, s := range tr.Sessions {
		out = append(out, s.SessionID)
	}
	return out
}

// TestTraceKinds: each kind of argument resolves to its sessions, and each
// session's chain runs from the origin to it.
func TestTraceKinds(t *testing.T) {
	db := storyStore(t)
	ctx := context.Background()
	opts := lineage.Options{Timeline: 10}
	for _, tt := range []struct {
		arg, kind string
		want      []string
	}{
		{lineagetest.AuditKey, lineage.KindAccessKey, []string{lineagetest.AuditKey}},
		// A user ARN: every session whose origin is alice.
		{lineagetest.Alice, lineage.KindARN, []string{lineagetest.ConsoleKey, lineagetest.OpsKey, lineagetest.AuditKey}},
		// A role ARN: the role's sessions.
		{lineagetest.AuditRole, lineage.KindARN, []string{lineagetest.AuditKey}},
		// An assumed-role session ARN: the sessions acting as it.
		{"arn:aws:sts::111111111111:assumed-role/OpsAdmin/alice", lineage.KindARN, []string{lineagetest.OpsKey}},
		// An issuing event: the session that made it and the one it issued.
		{lineagetest.AssumeOps, lineage.KindEventID, []string{lineagetest.ConsoleKey, lineagetest.OpsKey}},
		// A sign-in: the console session it started.
		{lineagetest.LoginEvent, lineage.KindEventID, []string{lineagetest.ConsoleKey}},
	} {
		tr, err := lineage.TraceArgument(ctx, db, tt.arg, opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.arg, err)
		}
		if tr.Kind != tt.kind || !slices.Equal(sessionIDs(tr), tt.want) {
			t.Errorf("%s: kind %s, sessions %v; want %s %v", tt.arg, tr.Kind, sessionIDs(tr), tt.kind, tt.want)
		}
	}
	tr, err := lineage.TraceArgument(ctx, db, lineagetest.AuditKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Sessions[0]
	if want := []string{lineagetest.ConsoleKey, lineagetest.OpsKey, lineagetest.AuditKey}; !slices.Equal(chainIDs(s), want) || s.ChainEnd != lineage.EndOrigin {
		t.Errorf("chain %v ending %s, want %v ending at the origin", chainIDs(s), s.ChainEnd, want)
	}
	if s.Chain[0].IssuedBy != "ConsoleLogin" || s.Chain[2].AccountID != "222222222222" || s.Origin != lineagetest.Alice {
		t.Errorf("chain hops: %+v", s.Chain)
	}
	// What it did: 4 events, by service, by name, the error; the timeline
	// oldest first.
	sum := s.Summary
	if fmt.Sprint(sum.Services) != "[{iam.amazonaws.com 2 0} {s3.amazonaws.com 1 1} {sts.amazonaws.com 1 0}]" ||
		sum.EventNamesTotal != 4 || fmt.Sprint(sum.ErrorCodes) != "[{AccessDenied 1 1}]" {
		t.Errorf("summary %+v", sum)
	}
	if len(s.Timeline) != 4 || s.Timeline[0].EventName != "ListUsers" || s.Timeline[3].SourceIP != "198.51.100.77" {
		t.Errorf("timeline %+v", s.Timeline)
	}
	// Newest first, bounded.
	tr, err = lineage.TraceArgument(ctx, db, lineagetest.AuditKey, lineage.Options{Timeline: 1, Newest: true})
	if err != nil {
		t.Fatal(err)
	}
	if tl := tr.Sessions[0].Timeline; len(tl) != 1 || tl[0].EventName != "GetCallerIdentity" || tr.TimelineOrder != "newest-first" {
		t.Errorf("newest first: %+v", tl)
	}
	// Descendants of the console session: both role sessions, in order.
	tr, err = lineage.TraceArgument(ctx, db, lineagetest.ConsoleKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	var issued []string
	for _, h := range tr.Sessions[0].Issued {
		issued = append(issued, h.SessionID)
	}
	if !slices.Equal(issued, []string{lineagetest.OpsKey, lineagetest.AuditKey}) || tr.Sessions[0].IssuedTruncated {
		t.Errorf("issued %v", issued)
	}
}

// TestTraceNotFound: what matches nothing says what was searched.
func TestTraceNotFound(t *testing.T) {
	db := storyStore(t)
	for arg, want := range map[string]string{
		"ASIANOTHERE000000001":                    "not used or issued in the evidence",
		"arn:aws:iam::111111111111:user/mallory":  "no session acts as this ARN",
		"no-such-event":                           "no event has this id",
		lineagetest.FailedLogin:                   "made with no credential tied to a session",
		"arn:aws:iam::111111111111:role/Nonesuch": "no session acts as this ARN",
	} {
		_, err := lineage.TraceArgument(context.Background(), db, arg, lineage.Options{})
		var nf *lineage.NotFoundError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", arg, err, want)
		}
	}
}

// TestTraceLoop: sessions that are each other's parent end the walk up
// and down with a note, not a hang; a chain deeper than MaxDepth stops at
// it.
func TestTraceLoop(t *testing.T) {
	// Loops come only from rows given here: the load's walk stops at them.
	var deep []lineagetest.Row
	for i := range lineage.MaxDepth + 10 {
		r := lineagetest.Row{SessionID: fmt.Sprintf("arn:aws:sts::444444444444:assumed-role/Deep/%03d", i), Kind: "unknown", Link: "arn"}
		if i > 0 {
			r.Parent = deep[i-1].SessionID
		}
		deep = append(deep, r)
	}
	db := storyStore(t, deep...)
	ctx := context.Background()
	tr, err := lineage.TraceArgument(ctx, db, lineagetest.LoopA, lineage.Options{Timeline: 5})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Sessions[0]
	if s.ChainEnd != lineage.EndLoop || !slices.Equal(chainIDs(s), []string{lineagetest.LoopB, lineagetest.LoopA}) {
		t.Errorf("loop: chain %v ending %s", chainIDs(s), s.ChainEnd)
	}
	if len(s.Issued) != 1 || s.Issued[0].SessionID != lineagetest.LoopB {
		t.Errorf("loop: issued %+v", s.Issued)
	}
	last := deep[len(deep)-1].SessionID
	tr, err = lineage.TraceArgument(ctx, db, last, lineage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.Sessions[0]; s.ChainEnd != lineage.EndDepthLimit || len(s.Chain) != lineage.MaxDepth+1 || s.Chain[len(s.Chain)-1].SessionID != last {
		t.Errorf("deep: %d hops ending %s", len(s.Chain), s.ChainEnd)
	}
	tr, err = lineage.TraceArgument(ctx, db, deep[0].SessionID, lineage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.Sessions[0]; !s.IssuedTruncated || len(s.Issued) != lineage.MaxDepth {
		t.Errorf("deep descendants: %d, truncated %v", len(s.Issued), s.IssuedTruncated)
	}
}

// TestTraceFindings: a sign-in finding leads to the session it started.
func TestTraceFindings(t *testing.T) {
	db := storyStore(t)
	found := []query.Finding{{RuleID: "console-login-without-mfa", Actor: "alice", EventIDs: []string{lineagetest.LoginEvent}},
		{RuleID: "console-login-without-mfa", Actor: "bob", EventIDs: []string{"unknown-event"}}}
	tr, err := lineage.TraceFindings(context.Background(), db, "console-login-without-mfa", found, lineage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sessionIDs(tr), []string{lineagetest.ConsoleKey}) || len(tr.Findings) != 2 ||
		!slices.Equal(tr.Findings[0].Sessions, []string{lineagetest.ConsoleKey}) || len(tr.Findings[1].Sessions) != 0 {
		t.Errorf("findings trace: %v %+v", sessionIDs(tr), tr.Findings)
	}
}

// TestWriteHostile: a user agent with ANSI escapes and bidi controls is
// neutralised in every format, </script> in those read as HTML (Markdown,
// JSON), and JSON keeps the value.
func TestWriteHostile(t *testing.T) {
	db := storyStore(t)
	// The contract's rows: every issuing call's user agent is hostile too.
	if err := lineagetest.ReplaceSessions(context.Background(), db, lineagetest.Rows()); err != nil {
		t.Fatal(err)
	}
	tr, err := lineage.TraceArgument(context.Background(), db, lineagetest.AuditKey, lineage.Options{Timeline: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range lineage.Formats {
		var b bytes.Buffer
		if err := lineage.Write(&b, tr, format, 0); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, bad := range []string{"\x1b", "\u202e", "</script>"} {
			// A terminal runs no HTML: only the controls matter there.
			if strings.Contains(out, bad) && (format != "table" || bad != "</script>") {
				t.Errorf("%s output holds %q raw:\n%s", format, bad, out)
			}
		}
		if !strings.Contains(out, "198.51.100.77") || !strings.Contains(out, "curl/8.0") {
			t.Errorf("%s output lacks the reused key's use:\n%s", format, out)
		}
		if format == "json" {
			var back lineage.Trace
			if err := json.Unmarshal(b.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(back.Sessions[0].UserAgents, lineagetest.HostileAgent) {
				t.Errorf("json changed the user agent: %q", back.Sessions[0].UserAgents)
			}
			if back.Sessions[0].IssueUserAgent != lineagetest.HostileAgent {
				t.Errorf("json changed the issuing call's user agent: %q", back.Sessions[0].IssueUserAgent)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	for arg, want := range map[string]string{
		"AKIAIOSFODNN7EXAMPLE": lineage.KindAccessKey, "ASIAY34FZKBOKMUTVV7A": lineage.KindAccessKey,
		"arn:aws:iam::111111111111:user/alice": lineage.KindARN, "3038ebd2-c98a-4c65-9b6e-e22506292313": lineage.KindEventID,
		"AKIA": lineage.KindEventID, "asiay34fzkbokmutvv7a": lineage.KindEventID,
	} {
		if got := lineage.Classify(arg); got != want {
			t.Errorf("%s: %s, want %s", arg, got, want)
		}
	}
}
