package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sessionKeys reads session lines (sessions-truth.jsonl, expected-sessions.jsonl)
// as comparable keys: id, parent, origin type and name, depth, accounts.
func sessionKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s struct {
			SessionID  string   `json:"session_id"`
			Parent     *string  `json:"parent_session_id"`
			OriginType string   `json:"origin_type"`
			Origin     string   `json:"origin"`
			Depth      int      `json:"depth"`
			Accounts   []string `json:"accounts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		parent := "-"
		if s.Parent != nil {
			parent = *s.Parent
		}
		slices.Sort(s.Accounts)
		keys = append(keys, strings.Join([]string{s.SessionID, parent, s.OriginType, s.Origin, string(rune('0' + s.Depth)), strings.Join(s.Accounts, ",")}, "|"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// storeSessionKeys reads the same keys from the store's sessions table, for
// the session ids of want and every session of their chains (one the
// truth does not list is an extra session, and fails the comparison).
func storeSessionKeys(t *testing.T, db string, want []string) []string {
	t.Helper()
	var ids []string
	for _, k := range want {
		ids = append(ids, "'"+k[:strings.IndexByte(k, '|')]+"'")
	}
	q := `SELECT session_id || '|' || coalesce(parent_session_id, '-') || '|' || origin_type || '|' || coalesce(origin, '') || '|' ||
  depth || '|' || array_to_string(list_sort(accounts), ',') AS k
FROM sessions WHERE session_id IN (` + strings.Join(ids, ",") + `)
  OR origin_session_id IN (` + strings.Join(ids, ",") + `) ORDER BY k`
	out, stderr, code := run(t, "", "query", "--db", db, "--format", "csv", q)
	if code != exitOK {
		t.Fatalf("query sessions: exit %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:] // the header
	slices.Sort(lines)
	return lines
}

// TestGeneratedChainsMatchSessionsTable generates a corpus with planted
// credential chains, ingests it and compares the store's sessions table with
// the generator's truth file, session by session.
func TestGeneratedChainsMatchSessionsTable(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "corpus")
	if _, stderr, code := run(t, "", "samples", "generate", "-q", "--out", corpus, "--events", "50000", "--accounts", "2",
		"--regions", "2", "--days", "3", "--seed", "5", "--chains"); code != exitOK {
		t.Fatalf("generate: exit %d %s", code, stderr)
	}
	db := filepath.Join(t.TempDir(), "case.duckdb")
	if _, stderr, code := run(t, "", "ingest", "-q", "--db", db, filepath.Join(corpus, "AWSLogs")); code != exitOK {
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	want := sessionKeys(t, filepath.Join(corpus, "sessions-truth.jsonl"))
	if len(want) < 8 {
		t.Fatalf("the truth file lists %d sessions, want at least two chains", len(want))
	}
	got := storeSessionKeys(t, db, want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sessions differ from sessions-truth.jsonl\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestBundledChainSessions: the bundled story's chain is in the sessions
// table as samples/expected-sessions.jsonl says.
func TestBundledChainSessions(t *testing.T) {
	db := filepath.Join(t.TempDir(), "case.duckdb")
	args := append([]string{"ingest", "-q", "--db", db}, sampleInputs()...)
	if _, stderr, code := run(t, "", args...); code != exitPartial { // the truncated file
		t.Fatalf("ingest: exit %d %s", code, stderr)
	}
	want := sessionKeys(t, filepath.Join("..", "..", "samples", "expected-sessions.jsonl"))
	got := storeSessionKeys(t, db, want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sessions differ from samples/expected-sessions.jsonl\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
