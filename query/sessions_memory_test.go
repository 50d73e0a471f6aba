package query

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A credential makes thousands of calls: the sessions build holds its
// distinct addresses and programs, never every call's. Here one key makes
// 200,000 calls from two programs with 2 KB user agents: a list of every
// call's agent is 400 MB, the store's whole memory limit.
func TestSessionsBuildMemoryBoundedByDistinctValues(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "busy.duckdb"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	agent := strings.Repeat("a", 2000)
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO event_rows BY NAME
SELECT i::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i) AS event_time,
  'ec2.amazonaws.com' AS event_source, 'DescribeInstances' AS event_name,
  CASE WHEN i % 2 = 0 THEN '10.0.0.1' ELSE '10.0.0.2' END AS source_ip,
  CASE WHEN i % 2 = 0 THEN 'boto3/' ELSE 'aws-cli/' END || ?::VARCHAR AS user_agent,
  'AssumedRole' AS user_type, 'arn:aws:sts::111111111111:assumed-role/Busy/s' AS user_arn,
  '111111111111' AS account_id, 'ASIABUSYBUSYBUSYBUSY' AS access_key_id, '111111111111' AS recipient_account_id,
  'e' || i AS event_id, '{}' AS raw, 1 AS file_id, i AS record_index
FROM range(200000) r(i)`, agent); err != nil {
		t.Fatal(err)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var events int64
	var ips, agents int
	if err := conn.QueryRowContext(ctx, `SELECT events, len(source_ips), len(user_agents) FROM sessions
WHERE session_id = 'ASIABUSYBUSYBUSYBUSY'`).Scan(&events, &ips, &agents); err != nil {
		t.Fatal(err)
	}
	if events != 200000 || ips != 2 || agents != 2 {
		t.Errorf("busy key: %d events, %d addresses, %d agents; want 200000, 2, 2", events, ips, agents)
	}
}

// Most credentials are handed out and never used in the evidence (an
// instance role's keys every hour, a CI job's): the build keeps their
// issuing calls in its stages (issued, selves) and in no step between.
// DuckDB keeps whole any step a statement reads more than once unless it
// is marked inlined; on the 10M-event corpus the steps it kept (copies,
// by_key, unused: each a row per issuing call, as wide as the call)
// spilled 1.2 GB. Here no stage's plan keeps one of them.
func TestSessionsStagesKeepNoCopyOfTheCalls(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cteName := regexp.MustCompile(`"CTE Name":\s*"([a-z_]+)"`)
	start := 0
	for i, step := range sessionsSteps {
		if !step.stage {
			continue
		}
		q := expandSessionsSQL("CREATE TEMP TABLE " + step.name + " AS " + withSteps(sessionsSteps[start:i]) + step.sql)
		var key, plan string
		if err := conn.QueryRowContext(ctx, "EXPLAIN (FORMAT json) "+q).Scan(&key, &plan); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for _, m := range cteName.FindAllStringSubmatch(plan, -1) {
			if slices.Contains([]string{"copies", "by_key", "unused"}, m[1]) {
				t.Errorf("stage %s keeps step %s whole", step.name, m[1])
			}
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		start = i + 1
	}
	for _, step := range sessionsSteps {
		if step.stage {
			if _, err := conn.ExecContext(ctx, "DROP TABLE temp."+step.name); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The build drops the stages no later step reads as it goes.
	if _, drop, err := StageSessions(ctx, conn); err != nil {
		t.Fatal(err)
	} else {
		defer drop()
	}
	var kept string
	if err := conn.QueryRowContext(ctx, "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM duckdb_tables() WHERE temporary").Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != "roots selves" {
		t.Errorf("temporary tables after the stages: %s; want roots selves (the last step reads only them)", kept)
	}
}
