package query

import (
	"context"
	"database/sql"
	"maps"
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
	if _, err := s.DB.ExecContext(ctx, insertEventsSQL(`SELECT i::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i) AS event_time,
  'ec2.amazonaws.com' AS event_source, 'DescribeInstances' AS event_name,
  CASE WHEN i % 2 = 0 THEN '10.0.0.1' ELSE '10.0.0.2' END AS source_ip,
  CASE WHEN i % 2 = 0 THEN 'boto3/' ELSE 'aws-cli/' END || ?::VARCHAR AS user_agent,
  'AssumedRole' AS user_type, 'arn:aws:sts::111111111111:assumed-role/Busy/s' AS user_arn,
  '111111111111' AS account_id, 'ASIABUSYBUSYBUSYBUSY' AS access_key_id, '111111111111' AS recipient_account_id,
  'e' || i AS event_id, '{}' AS raw, 1 AS file_id, i AS record_index
FROM range(200000) r(i)`), agent); err != nil {
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
		q := expandSessionsSQL("CREATE TEMP TABLE " + step.name + " AS " + withSteps(sessionsSteps[start:i]) + step.body())
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

// A credential used from many addresses gets them all, as one sorted list,
// however many there are: the lists are built in passes (placeStages), as
// DuckDB cannot spill a list while it grows. Here 40 keys are used from
// 25,000 addresses each, under a 128 MB cap, in passes of 100,000 places;
// in one pass the build runs out of memory.
func TestSessionsBuildListsManyPlacesInPasses(t *testing.T) {
	ctx := context.Background()
	defer func(n int64) { rowsPerPass = n }(rowsPerPass)
	rowsPerPass = 100_000
	const keys, perKey = 40, 25_000
	conn := storeOf(t, "128MB", insertEventsSQL(`SELECT i::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i) AS event_time,
  's3.amazonaws.com' AS event_source, 'GetObject' AS event_name,
  '198.51.' || (i // ?) || '.' || (i % ?) AS source_ip, 'aws-cli/2.15' AS user_agent,
  'AssumedRole' AS user_type, 'arn:aws:sts::111111111111:assumed-role/Busy/s' AS user_arn,
  '111111111111' AS account_id, 'ASIAKEY' || lpad((i // ?)::VARCHAR, 13, '0') AS access_key_id,
  'e' || i AS event_id, '{}' AS raw, 1 AS file_id, i AS record_index
FROM range(?) r(i)
UNION ALL BY NAME
SELECT 1e9::UBIGINT + i AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' AS event_time,
  'sts.amazonaws.com' AS event_source, 'GetCallerIdentity' AS event_name,
  CASE WHEN i = 0 THEN NULL ELSE '203.0.113.' || i END AS source_ip, NULL AS user_agent,
  'IAMUser' AS user_type, 'arn:aws:iam::111111111111:user/u' || i AS user_arn,
  '111111111111' AS account_id, 'AKIAONE' || lpad(i::VARCHAR, 13, '0') AS access_key_id,
  'o' || i AS event_id, '{}' AS raw, 2 AS file_id, i AS record_index
FROM range(3) r(i)`), perKey, perKey, perKey, keys*perKey)
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var varied, short, unsorted, wrongEnds int
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE len(source_ips) <> ?),
  count(*) FILTER (WHERE source_ips <> list_sort(source_ips)),
  count(*) FILTER (WHERE source_ips[1] <> '198.51.' || (substr(session_id, 8)::INT * ?) // ? || '.0')
FROM sessions WHERE session_id LIKE 'ASIAKEY%'`, perKey, perKey, perKey).Scan(&varied, &short, &unsorted, &wrongEnds); err != nil {
		t.Fatal(err)
	}
	if varied != keys || short != 0 || unsorted != 0 || wrongEnds != 0 {
		t.Errorf("busy keys: %d sessions (want %d), %d without their %d addresses, %d unsorted, %d starting elsewhere",
			varied, keys, short, perKey, unsorted, wrongEnds)
	}
	got := map[string]string{}
	rows, err := conn.QueryContext(ctx, `SELECT session_id, source_ips::VARCHAR || ' ' || user_agents::VARCHAR FROM sessions WHERE session_id LIKE 'AKIAONE%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, places string
		if err := rows.Scan(&id, &places); err != nil {
			t.Fatal(err)
		}
		got[id] = places
	}
	want := map[string]string{
		"AKIAONE0000000000000": "[] []",
		"AKIAONE0000000000001": "[203.0.113.1] []",
		"AKIAONE0000000000002": "[203.0.113.2] []",
	}
	if !maps.Equal(got, want) {
		t.Errorf("keys used from one place: %v; want %v", got, want)
	}
}

// Chains of roles deeper than the walk's bound: each session's walk to its
// origin is built a hop a round (rounds), keeping the rows where walks
// ended. In one recursive statement DuckDB held a row, with its chain, per
// session and hop: these 300 chains of 40 roles (12,000 sessions) ran the
// build out of memory under this 128 MB cap (checked by hand: 100 chains
// took 146 MB of the process, 250 failed).
func TestSessionsBuildWalksDeepChainsInRounds(t *testing.T) {
	ctx := context.Background()
	const chains, hops = 300, 40
	// Hop i of chain c: the key of hop i-1 (an IAM user's at hop 1)
	// assumes a role and gets the key of hop i.
	conn := storeOf(t, "128MB", insertEventsSQL(`SELECT (c * 1000 + i)::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i * 60 + c) AS event_time,
  'sts.amazonaws.com' AS event_source, 'AssumeRole' AS event_name, '198.51.100.' || (c % 200) AS source_ip,
  'aws-cli/2.15' AS user_agent, CASE WHEN i = 1 THEN 'IAMUser' ELSE 'AssumedRole' END AS user_type,
  CASE WHEN i = 1 THEN 'arn:aws:iam::111111111111:user/u' || c
       ELSE 'arn:aws:sts::111111111111:assumed-role/R' || (i - 1) || '/s' || c END AS user_arn,
  '111111111111' AS account_id, '111111111111' AS recipient_account_id,
  CASE WHEN i = 1 THEN 'AKIACHAIN' || lpad(c::VARCHAR, 11, '0') ELSE 'ASIA' || lpad(c::VARCHAR, 8, '0') || lpad((i - 1)::VARCHAR, 8, '0') END AS access_key_id,
  'e-' || c || '-' || i AS event_id, '{}' AS raw, 1 AS file_id, c * 1000 + i AS record_index,
  json_object('accessKeyId', 'ASIA' || lpad(c::VARCHAR, 8, '0') || lpad(i::VARCHAR, 8, '0'),
    'arn', 'arn:aws:sts::111111111111:assumed-role/R' || i || '/s' || c,
    'roleArn', 'arn:aws:iam::111111111111:role/R' || i, 'sessionName', 's' || c)::VARCHAR AS issued_credential
FROM range(?) r(c), range(1, ? + 1) h(i)`), chains, hops)
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// Hop i's session is i hops from the chain's IAM user, walked at most
	// maxChainDepth: beyond, the walk stops at the session that far up.
	var sessions, wrong int
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT (
    depth = least(i, ?) AND len(chain) = depth + 1 AND chain[-1] = session_id AND chain[1] = origin_session_id
    AND origin_session_id = CASE WHEN i <= ? THEN 'AKIACHAIN' || lpad(c::VARCHAR, 11, '0')
                                 ELSE 'ASIA' || lpad(c::VARCHAR, 8, '0') || lpad((i - ?)::VARCHAR, 8, '0') END
    AND origin_type = CASE WHEN i <= ? THEN 'IAMUser' ELSE 'Unknown' END))
FROM (SELECT *, substr(session_id, 5, 8)::INT AS c, substr(session_id, 13)::INT AS i FROM sessions WHERE session_id LIKE 'ASIA%')`,
		maxChainDepth, maxChainDepth, maxChainDepth, maxChainDepth).Scan(&sessions, &wrong); err != nil {
		t.Fatal(err)
	}
	if sessions != chains*hops || wrong != 0 {
		t.Errorf("%d role sessions (want %d), %d not walked to the origin or the bound", sessions, chains*hops, wrong)
	}
}

// Console sessions are tied to their sign-in by the creationDate in their
// first event's raw JSON. The build reads it from that event only, and
// keeps no raw event per key in memory: these 60,000 console keys' first
// events (2.5 KB each) held 150 MB that way, and ran the build out of
// memory under this 128 MB cap (checked by hand).
func TestSessionsBuildConsoleKeysWithoutHoldingRaw(t *testing.T) {
	ctx := context.Background()
	const users = 60_000
	pad := strings.Repeat("x", 2500)
	// User k signs in at second k, and makes two calls with its console
	// key, each event naming the session's creationDate.
	conn := storeOf(t, "128MB", insertEventsSQL(`SELECT (k * 3 + n)::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(k + n) AS event_time,
  'iam.amazonaws.com' AS event_source, 'ListUsers' AS event_name, '192.0.2.1' AS source_ip, 'console.amazonaws.com' AS user_agent,
  'IAMUser' AS user_type, 'arn:aws:iam::111111111111:user/u' || k AS user_arn, '111111111111' AS account_id,
  'ASIACON' || lpad(k::VARCHAR, 13, '0') AS access_key_id, '111111111111' AS recipient_account_id,
  'e-' || k || '-' || n AS event_id, 1 AS file_id, k * 3 + n AS record_index,
  json_object('userIdentity', json_object('sessionContext', json_object('attributes', json_object('creationDate',
    strftime(TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(k), '%Y-%m-%dT%H:%M:%SZ')))), 'pad', ?::VARCHAR)::VARCHAR AS raw
FROM range(?) r(k), range(1, 3) c(n)
UNION ALL BY NAME
SELECT (k * 3)::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(k) AS event_time,
  'signin.amazonaws.com' AS event_source, 'ConsoleLogin' AS event_name, '192.0.2.1' AS source_ip, 'Mozilla/5.0' AS user_agent,
  'IAMUser' AS user_type, 'arn:aws:iam::111111111111:user/u' || k AS user_arn, '111111111111' AS account_id,
  '111111111111' AS recipient_account_id, 'login-' || k AS event_id, 1 AS file_id, k * 3 AS record_index,
  'Success' AS login_result, '{}' AS raw
FROM range(?) r(k)`), pad, users, users)
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var sessions, linked int
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE link = 'creation-date' AND issued_by = 'ConsoleLogin'
    AND issue_event_id = 'login-' || substr(session_id, 8)::INT)
FROM sessions WHERE session_id LIKE 'ASIACON%'`).Scan(&sessions, &linked); err != nil {
		t.Fatal(err)
	}
	if sessions != users || linked != users {
		t.Errorf("%d console sessions (want %d), %d tied to their sign-in", sessions, users, linked)
	}
}

// The many keys used with one role session's ARN (a function's role, its
// credentials renewed all day) whose calls logged no key: each key meets
// at most three calls of its ARN (arn_links), the ones by_arn may choose,
// not every call. Joined with all of them, 5,000 keys and 5,000 calls of
// one ARN took a minute, and 20,000 of each filled the disk with spill.
func TestSessionsARNLinksGrowWithKeysNotWithKeysTimesCalls(t *testing.T) {
	ctx := context.Background()
	const n = 2000
	conn := storeOf(t, storeMemoryLimit, insertEventsSQL(`SELECT i::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(i * 60) AS event_time,
  'sts.amazonaws.com' AS event_source, 'AssumeRole' AS event_name, 'lambda.amazonaws.com' AS source_ip,
  'AWSService' AS user_type, '111111111111' AS recipient_account_id, 'call-' || i AS event_id, '{}' AS raw,
  1 AS file_id, i AS record_index,
  '{"arn":"arn:aws:sts::111111111111:assumed-role/fn-role/fn","roleArn":"arn:aws:iam::111111111111:role/fn-role"}' AS issued_credential
FROM range(?) r(i)
UNION ALL BY NAME
SELECT (1e6 + i)::UBIGINT AS event_key, TIMESTAMPTZ '2024-03-05 10:00:30+00' + to_seconds(i * 60) AS event_time,
  's3.amazonaws.com' AS event_source, 'GetObject' AS event_name, '198.51.100.1' AS source_ip,
  'AssumedRole' AS user_type, 'arn:aws:sts::111111111111:assumed-role/fn-role/fn' AS user_arn, '111111111111' AS account_id,
  'ASIAFN' || lpad(i::VARCHAR, 14, '0') AS access_key_id, '111111111111' AS recipient_account_id,
  'use-' || i AS event_id, '{}' AS raw, 2 AS file_id, i AS record_index
FROM range(?) r(i)`), n, n)
	// The stages arn_links reads, then the rows it makes.
	start := 0
	for i, step := range sessionsSteps {
		if step.name == "selves" {
			var links int
			q := expandSessionsSQL(withSteps(sessionsSteps[start:i]) + "SELECT count(*) FROM arn_links")
			if err := conn.QueryRowContext(ctx, q).Scan(&links); err != nil {
				t.Fatal(err)
			}
			if links > 3*n {
				t.Errorf("arn_links made %d rows for %d keys and %d calls of one ARN; want at most 3 a key", links, n, n)
			}
			break
		}
		if step.stage {
			if _, err := conn.ExecContext(ctx, expandSessionsSQL("CREATE TEMP TABLE "+step.name+" AS "+withSteps(sessionsSteps[start:i])+step.body())); err != nil {
				t.Fatal(err)
			}
			start = i + 1
		}
	}
	if err := BuildSessions(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var linked int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sessions
WHERE session_id LIKE 'ASIAFN%' AND link = 'arn' AND issue_event_id = 'call-' || least(substr(session_id, 7)::INT + 5, ? - 1)`, n).Scan(&linked); err != nil {
		t.Fatal(err)
	}
	// Key i is first used at minute i and a half: the last call by five
	// minutes after is call i+5.
	if linked != n {
		t.Errorf("%d of %d keys tied to the last call by five minutes after their first use", linked, n)
	}
}

// storeOf is a connection to a new in-memory store capped at limit (a
// DuckDB memory limit), its events put in by insert (an INSERT INTO
// event_rows, with args); the caller builds its sessions.
func storeOf(t *testing.T, limit, insert string, args ...any) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	s, err := open(ctx, "", false, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.DB.ExecContext(ctx, insert, args...); err != nil {
		t.Fatal(err)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// insertEventsSQL inserts the rows of sel, a SELECT of event_rows'
// columns by name, as the store's writers do (StorableEventsSQL).
func insertEventsSQL(sel string) string {
	return "INSERT INTO event_rows BY NAME " + StorableEventsSQL(sel)
}
