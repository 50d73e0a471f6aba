package query

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestSessionsManyCredentials: a store where almost every event has its
// own key (short-lived role sessions), and some keys are used twice with
// another ARN, address and agent, gets one session per key, with the
// counts and lists of all its events. The build takes most credentials'
// text as their one combination and aggregates text only for the others
// (so that DuckDB can spill it: an aggregate's text state stays in
// memory whatever the limit; a 10M-event store held 4 GB that way): both
// kinds are here, and must give what one aggregate over all events gives.
func TestSessionsManyCredentials(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "many.duckdb")
	db, _, err := openDB(ctx, path, "test store", "250MB", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &Store{DB: db, Path: path}
	if err := s.createSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	// 300k events, each with its own key and a long ARN, user agent and
	// address; every tenth key is used a second time from elsewhere.
	const events = 300_000
	if _, err := db.ExecContext(ctx, `INSERT INTO event_rows (event_key, file_id, record_index, event_time,
    event_name, event_source, access_key_id, user_type, user_arn, session_issuer_arn, account_id,
    recipient_account_id, source_ip, user_agent, raw)
  SELECT i, 1, i, TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(i), 'GetObject', 's3.amazonaws.com',
    'ASIA' || lpad((i // 2 * 2 + CASE WHEN i % 20 = 1 THEN 0 ELSE i % 2 END)::VARCHAR, 16, '0'), 'AssumedRole',
    'arn:aws:sts::111111111111:assumed-role/a-role-with-a-rather-long-name/session-' || i, 
    'arn:aws:iam::111111111111:role/a-role-with-a-rather-long-name', '111111111111', '111111111111',
    '10.' || (i % 250) || '.' || (i // 250 % 250) || '.1',
    'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2 ' || i,
    '{}'
  FROM range(?) t(i)`, events); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatalf("%v", err)
	}
	var sessions, shared, listed int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE events = 2),
    count(*) FILTER (WHERE len(source_ips) = 2 AND len(user_agents) = 2) FROM sessions`).Scan(&sessions, &shared, &listed); err != nil {
		t.Fatal(err)
	}
	// Keys of odd events are their own; an even event shares its key with
	// the next one when the next one's index is 1 modulo 20.
	if wantShared := int64(events / 20); sessions != events-wantShared || shared != wantShared || listed != wantShared {
		t.Errorf("%d sessions, %d used twice, %d with two addresses and agents; want %d, %d, %d",
			sessions, shared, listed, events-wantShared, wantShared, wantShared)
	}
	var arn, ips, first, last string
	if err := db.QueryRowContext(ctx, `SELECT principal_arn, source_ips::VARCHAR, first_seen::VARCHAR, last_seen::VARCHAR
    FROM sessions WHERE session_id = 'ASIA0000000000000020'`).Scan(&arn, &ips, &first, &last); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(arn, "/session-20") || ips != "[10.20.0.1, 10.21.0.1]" ||
		first != "2024-05-01 00:00:20+00" || last != "2024-05-01 00:00:21+00" {
		t.Errorf("the key of events 20 and 21: %s, %s, %s to %s", arn, ips, first, last)
	}
}
