package query_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"path/filepath"
	"testing"

	"github.com/trailsift/trailsift/query"
)

// issuingShapes are calls that hand out a credential in every shape the
// decoder and the SQL over raw must read alike: the story's chain, keys
// lower-cased, parts as JSON strings, a GetSessionToken with null
// requestParameters, a CreateAccessKey, a failed call, and calls that
// hand out nothing (the same name from another service).
func issuingShapes(t *testing.T) []obj {
	bob := iamUser(acctA, "bob", "AKIABOB0000000000001")
	lower, str, token := oddCalls(t, 30)
	key := call("ev-key", 33, bob, "iam.amazonaws.com", "CreateAccessKey", "198.51.100.1", "aws-cli/2.15.0", acctA)
	key["requestParameters"] = obj{"userName": "carol"}
	key["responseElements"] = obj{"accessKey": obj{"accessKeyId": "AKIACAROL00000000001", "status": "Active", "userName": "carol"}}
	failed := assumeRole("ev-failed", 34, bob, "198.51.100.1", acctB, "Audit", "nope", "")
	failed["errorCode"], failed["responseElements"] = "AccessDenied", nil
	other := assumeRole("ev-other", 35, bob, "198.51.100.1", acctB, "Audit", "other", "ASIAOTHER00000000001")
	other["eventSource"] = "iam.amazonaws.com"
	return append(storyEvents(), lower, str, token, key, failed, other,
		call("use-str", 36, assumedRole(acctB, "Audit", "str", "ASIASTRING0000000001"), "s3.amazonaws.com", "ListBuckets", "198.51.100.1", "x", acctB))
}

// issuedByEvent reads q's (event_id, issued_credential) rows, each value
// as the fields it has (null and absent alike), "" for SQL NULL.
func issuedByEvent(t *testing.T, db *sql.DB, q string) map[string]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id string
		var v sql.NullString
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		if !v.Valid {
			out[id] = ""
			continue
		}
		var fields map[string]*string
		if err := json.Unmarshal([]byte(v.String), &fields); err != nil {
			t.Fatalf("event %s: issued_credential %q: %v", id, v.String, err)
		}
		maps.DeleteFunc(fields, func(_ string, v *string) bool { return v == nil })
		b, _ := json.Marshal(fields) // sorted keys
		out[id] = string(b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigratesVersion3Store: a store made before issued_credential gets
// it when opened for writing, computed from raw by SQL: the same values
// the decoder gives the same events, every shape of the call (so the two
// readings agree), and the same sessions. Read-only, the store is read as
// it is: its sessions, rebuilt from raw while they are pending, and its
// events with issued_credential computed (what an export copies).
func TestMigratesVersion3Store(t *testing.T) {
	ctx := context.Background()
	// Quotes in its name: a read-only open names the store's catalog in SQL.
	db := filepath.Join(t.TempDir(), `it's a "v3".duckdb`)
	s, err := query.Open(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	ingestInto(t, s, writeRecords(t, t.TempDir(), "trail.json", issuingShapes(t)...))
	const byEvent = "SELECT event_id, issued_credential FROM events"
	want := issuedByEvent(t, s.DB, byEvent)
	for id, v := range map[string]string{
		"ev-hop1":   `{"accessKeyId":"ASIAOPSADMIN00000001","arn":"arn:aws:sts::111111111111:assumed-role/OpsAdmin/alice","roleArn":"arn:aws:iam::111111111111:role/OpsAdmin","sessionName":"alice"}`,
		"ev-str":    `{"accessKeyId":"ASIASTRING0000000001","arn":"arn:aws:sts::222222222222:assumed-role/Audit/str","roleArn":"arn:aws:iam::222222222222:role/Audit","sessionName":"str"}`,
		"ev-key":    `{"accessKeyId":"AKIACAROL00000000001","userName":"carol"}`,
		"ev-failed": `{"roleArn":"arn:aws:iam::222222222222:role/Audit","sessionName":"nope"}`,
		"ev-other":  "", "ev-ops-1": "",
	} {
		if want[id] != v {
			t.Errorf("decoded issued_credential of %s = %s, want %s", id, want[id], v)
		}
	}
	wantSessions := sessionsDigest(t, s.DB)
	makeOlder(t, s.DB, 3)
	if _, err := s.DB.Exec("INSERT INTO sessions_pending VALUES (now())"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro, err := query.Open(ctx, db, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := sessionsDigest(t, ro.DB); got != wantSessions {
		t.Errorf("read-only version 3 store's sessions, read around the pending mark:\n%s\nwant:\n%s", got, wantSessions)
	}
	got := issuedByEvent(t, ro.DB, "SELECT event_id, issued_credential FROM ("+ro.StoredEventsSQL()+")")
	if !maps.Equal(got, want) {
		t.Errorf("read-only version 3 store's events: issued_credential\n%v\nwant (as decoded)\n%v", got, want)
	}
	if got := issuedByEvent(t, ro.DB, byEvent); !maps.Equal(got, want) {
		t.Errorf("read-only version 3 store's events view: issued_credential\n%v\nwant (as decoded)\n%v", got, want)
	}
	if n, all := count(t, ro, "SELECT count(*) FROM event_sessions"), count(t, ro, "SELECT count(*) FROM event_rows"); n != all {
		t.Errorf("read-only version 3 store: event_sessions has %d rows, event_rows %d", n, all)
	}
	ro.Close()

	s = openMigrated(t, db, 3)
	if got := issuedByEvent(t, s.DB, byEvent); !maps.Equal(got, want) {
		t.Errorf("migrated issued_credential\n%v\nwant (as decoded)\n%v", got, want)
	}
	if err := s.UpdateSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sessionsDigest(t, s.DB); got != wantSessions {
		t.Errorf("migrated store's sessions:\n%s\nwant:\n%s", got, wantSessions)
	}
}
