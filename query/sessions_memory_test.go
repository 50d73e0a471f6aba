package query

import (
	"context"
	"path/filepath"
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
// instance role's keys every hour, a CI job's): the build holds their
// issuing calls in its stages (issued, selves), not again in each step
// that reads them. Here 100,000 unused keys are built under a 250 MB cap
// with no room to spill; the build that kept a copy per step needed 400.
func TestSessionsBuildHoldsUnusedCredentialsOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "unused.duckdb"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	role := "arn:aws:iam::111111111111:role/" + strings.Repeat("r", 70)
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO event_rows BY NAME
SELECT i::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i) AS event_time,
  'sts.amazonaws.com' AS event_source, 'AssumeRole' AS event_name, 'ec2.amazonaws.com' AS source_ip,
  'ec2.amazonaws.com' AS user_agent, 'AWSService' AS user_type, 'ec2.amazonaws.com' AS invoked_by,
  '111111111111' AS recipient_account_id, 'e' || i AS event_id, '{}' AS raw, 1 AS file_id, i AS record_index,
  json_object('accessKeyId', 'ASIA' || lpad(i::VARCHAR, 16, '0'), 'roleArn', ?::VARCHAR,
    'arn', replace(?::VARCHAR, ':iam::', ':sts::') || '/i-' || i, 'sessionName', 'i-' || i)::VARCHAR AS issued_credential
FROM range(100000) r(i)`, role, role); err != nil {
		t.Fatal(err)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET threads = 2", "SET memory_limit = '250MB'", "SET max_temp_directory_size = '1MB'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var sessions, unused int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE events = 0 AND issued_by = 'AssumeRole'
  AND origin_type = 'EC2Instance' AND link = 'key') FROM sessions`).Scan(&sessions, &unused); err != nil {
		t.Fatal(err)
	}
	if sessions != 100000 || unused != 100000 {
		t.Errorf("%d sessions, %d of them unused EC2 keys; want 100000 of both", sessions, unused)
	}
}
