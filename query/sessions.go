package query

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// This file builds the sessions table: one row per credential seen in the
// evidence, tied to the event that issued it and walked up to the human or
// workload at the root of its chain (issue #17). The build is a list of
// SQL steps over event_rows (sessionsSteps): a load runs them in stages,
// each into a temporary table (StageSessions), and a view that must read
// the table without storing it runs them as one statement
// (SessionsBuildSQL).

// SessionColumns are the columns of the sessions table, in order: the
// lineage contract of issue #17, with these semantics made precise:
//   - link arn ties a session to a call by the ARN it handed out only when
//     no logged key contradicts it (the session's key, or the call's);
//   - a credential issued but never used has a row (events 0, first_seen
//     NULL); an ARN session that was used stands for its call's key;
//   - origin_type is Unknown where the walk stopped at a loop or at the
//     32-hop bound, origin_session_id then being where it stopped;
//   - events counts each logged copy of a call (as the events view does).
//
// A Parquet dataset keeps its copy in _sessions/ (lake.SessionsDir), not
// sessions/: a leading underscore keeps Hive, Spark and Athena from
// reading it as events, as for _files/.
var SessionColumns = []Column{
	{"session_id", "VARCHAR", "the access key id; when no event logged the key (lookup-events output often drops it), the session's assumed-role or federated-user ARN (ARNs start with arn:, so they never clash with a key)"},
	{"access_key_id", "VARCHAR", "AKIA... (long-term) or ASIA... (temporary); NULL when only the ARN is known"},
	{"credential_kind", "VARCHAR", "long-term (AKIA), temporary (ASIA, or an assumed-role or federated-user ARN), unknown"},
	{"issued_by", "VARCHAR", "the event that issued it: AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken, AssumeRoot, CreateAccessKey, ConsoleLogin; NULL when that event is not in the evidence"},
	{"issue_event_id", "VARCHAR", "events.event_id of the issuing event (of the copy that names the caller, when the call was logged in two accounts)"},
	{"issue_time", "TIMESTAMPTZ", "its event_time"},
	{"link", "VARCHAR", "how the session is tied to its issuing event: key (responseElements credentials accessKeyId = userIdentity.accessKeyId), arn (assumedRoleUser or federatedUser arn = userIdentity.arn: weaker, used when no key links it), creation-date (console sign-in: sessionContext.attributes.creationDate within " + consoleLinkWindow + " of a successful ConsoleLogin of the same principal), none"},
	{"parent_session_id", "VARCHAR", "session_id of the credential that called the issuing event (its access key, or its ARN); NULL at an origin"},
	{"principal_arn", "VARCHAR", "who it acts as: userIdentity.arn of its events (assumed-role session, IAM user, root, federated user), else what the issuing event names"},
	{"principal_type", "VARCHAR", "userIdentity.type of its events (AssumedRole, IAMUser, Root, FederatedUser, ...)"},
	{"role_arn", "VARCHAR", "for role sessions, the role (sessionContext.sessionIssuer.arn, else requestParameters.roleArn)"},
	{"session_name", "VARCHAR", "role session name (roleSessionName, else the last part of the assumed-role ARN); the federated user's name"},
	{"source_identity", "VARCHAR", "sourceIdentity set by the issuing call"},
	{"account_id", "VARCHAR", "the account the credential belongs to"},
	{"origin_type", "VARCHAR", "the root of the chain: IAMUser, Root, IdentityCenterUser, SAMLUser, WebIdentityUser, EC2Instance, AWSService, Unknown (also where the walk stopped at a loop or at the depth bound)"},
	{"origin", "VARCHAR", "the root's name: IAM user or root ARN, Identity Center user name, SAML or web-identity subject, EC2 instance id, service name"},
	{"origin_session_id", "VARCHAR", "session_id at the root of the chain (the session itself at depth 0)"},
	{"origin_event_id", "VARCHAR", "the event that started the chain, when it is in the evidence (the ConsoleLogin, the AssumeRoleWithSAML, the EC2 AssumeRole, ...)"},
	{"depth", "INTEGER", "hops from the origin (0 at the origin); the walk stops after 32 hops and at a loop"},
	{"chain", "VARCHAR[]", "session_ids from the origin to this session"},
	{"accounts", "VARCHAR[]", "accounts its events were recorded in (recipientAccountId), sorted"},
	{"first_seen", "TIMESTAMPTZ", "first use (NULL when issued but never used in the evidence)"},
	{"last_seen", "TIMESTAMPTZ", "last use"},
	{"events", "BIGINT", "events made with it (a call logged in two accounts counts twice, as in events)"},
	{"errors", "BIGINT", "of them, with an errorCode"},
	{"source_ips", "VARCHAR[]", "distinct source IPs of its use, sorted"},
	{"user_agents", "VARCHAR[]", "distinct user agents of its use, sorted"},
	{"issue_source_ip", "VARCHAR", "source IP of the issuing event (for an EC2 instance role: the service name)"},
	{"mfa_authenticated", "BOOLEAN", "sessionContext.attributes.mfaAuthenticated of its use (true when any event says so)"},
	{issueUserAgentColumn, "VARCHAR", "user agent of the issuing event (added in store schema version 5, so last)"},
}

// issueUserAgentColumn is the sessions column added by store schema
// version 5 (a version 4 store opened read-only gets it from its events,
// readAroundIssueUserAgent).
const issueUserAgentColumn = "issue_user_agent"

// SessionsPendingTable marks a store whose sessions table lags its events:
// a load commits its events, then rebuilds the sessions in a transaction
// of its own (see Store.Load).
var SessionsPendingTable = Table{Name: "sessions_pending",
	Doc:     "a row while the sessions table lags the events (an ingest stopped after storing its events, before rebuilding the sessions): the next ingest rebuilds it, and until then trailsift reads lineage from the events themselves",
	Columns: []Column{{"since", "TIMESTAMPTZ", "when the events it lags were stored"}}}

// maxChainDepth bounds the walk from a session to its origin.
const maxChainDepth = 32

// consoleLinkWindow is how far a console session's creationDate may be
// from its ConsoleLogin.
const consoleLinkWindow = "10 seconds"

// issuingRows is the events of the calls that hand out a credential,
// with their issued_credential: an IS NOT NULL test DuckDB applies while
// it scans, so the build reads nothing else of the other events.
const issuingRows = "SELECT * FROM event_rows WHERE issued_credential IS NOT NULL"

// eventSessionIDSQL is the session an event of alias e belongs to: its
// access key, else (lookup-events output often drops keys) the session
// ARN of a temporary principal. An IAM user or root acting without a key
// (a console sign-in itself) has no session. The build and the
// event_sessions view use the same expression, so they always agree.
func eventSessionIDSQL(e string) string {
	return fmt.Sprintf("coalesce(%[1]s.access_key_id, CASE WHEN %[1]s.user_type IN ('AssumedRole', 'FederatedUser') THEN %[1]s.user_arn END)", e)
}

// rawPart reads one nested part of raw as JSON, as the events view does.
func rawPart(name string) string { return "(" + generated[name] + ")" }

// sessionsStep is one step of the build: a SELECT that later steps read
// by its name.
type sessionsStep struct {
	name string
	sql  string
	// stage: built step by step (StageSessions), the step is computed into
	// a temporary table, with the steps since the last stage as its common
	// table expressions; later stages read the table. Only a stage's own
	// steps may read a step that is not a stage.
	stage bool
	// materialized: the step is computed once, not inlined where it is
	// read (a step read by several others: selves, edges).
	materialized bool
	// inlined: the step is computed where it is read, never kept whole.
	// DuckDB keeps a step read more than once; one that is a wide copy of
	// a stage (most issuing calls) would hold the stage twice.
	inlined bool
	// frees: the stages no step after this stage reads, dropped once it is
	// computed: their rows (spilled to disk when large) go before the
	// next stage's.
	frees []string
	// passesOver: the stage's groups hold lists, which DuckDB keeps in
	// memory whatever its cap, so it is built in passes, one for each
	// rowsPerPass rows of this table (a stage before it), each over the
	// groups of one hash bucket ($PASS of $PASSES). One pass, as in a view
	// of the build (SessionsBuildSQL), takes every group.
	passesOver string
	// rounds: the step is recursive (see rounds), in place of sql. In one
	// statement DuckDB keeps every round's rows in memory whatever its
	// cap; staged, each round is a statement into a table of its own, and
	// the stage keeps only the rows the next round did not follow.
	rounds *rounds
}

// rounds is a recursive step: seed, then next over the rows the round
// before made ($PREV), until a round makes none. Each round follows a row
// one step further or leaves it, and the step's rows are, for each key
// (a column with at most one row in a round), the one its last round
// made: the one with the highest last.
type rounds struct {
	key, last, seed, next string
}

// sql is the step as one common table expression's body: the recursion,
// then each key's last row.
func (r *rounds) sql() string {
	return "SELECT * FROM (WITH RECURSIVE hops AS (" + r.seed + "\n  UNION ALL\n" + strings.ReplaceAll(r.next, "$PREV", "hops") +
		")\n  SELECT * FROM hops)\n  QUALIFY row_number() OVER (PARTITION BY " + r.key + " ORDER BY " + r.last + " DESC) = 1"
}

// rowsPerPass is how many rows of its passesOver table a stage built in
// passes takes in each. The 10M-event corpus's 2.5M addresses (pairs of a
// credential and an address) take 3: its build peaked at 487-498 MB under
// a 250 MB cap (in one pass it ran out of memory there), as fast as in
// one pass or in six (measured when the pairs were triples with the user
// agent); the 1.25M-event bench corpus's 479k take one.
var rowsPerPass int64 = 1_000_000

// expandSessionsSQL fills the build's placeholders in q.
func expandSessionsSQL(q string) string {
	return strings.NewReplacer(
		"$SID_E", eventSessionIDSQL("e"),
		"$ISSUING_ROWS", issuingRows,
		"$WINDOW", consoleLinkWindow,
		"$DEPTH", fmt.Sprint(maxChainDepth),
		"$COLUMNS", ColumnList(SessionColumns),
		"$ISSUED", issuedStructSQL("e"),
		"$PASSES", "1",
		"$PASS", "0",
	).Replace(q)
}

// body is the step's SELECT as one statement computes it.
func (s sessionsStep) body() string {
	if s.rounds != nil {
		return s.rounds.sql()
	}
	return s.sql
}

// withSteps is steps as the common table expressions of one statement.
func withSteps(steps []sessionsStep) string {
	if len(steps) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("WITH RECURSIVE\n")
	for i, s := range steps {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(s.name + " AS ")
		switch {
		case s.materialized:
			b.WriteString("MATERIALIZED ")
		case s.inlined:
			b.WriteString("NOT MATERIALIZED ")
		}
		b.WriteString("(" + s.body() + ")")
	}
	return b.String() + "\n"
}

// ConsoleRawSQL is ConsoleRaw in SQL, over event_rows' columns: for a
// copy of the events made by DuckDB.
const ConsoleRawSQL = "user_type IN ('IAMUser', 'Root') AND access_key_id LIKE 'ASIA%'"

// ConsoleRaw says whether the build reads the raw of an event with this
// user_type and access_key_id (nil for NULL): console_events' condition
// (a console session's temporary key, of an IAM user or root), for a copy
// of the events that keeps raw for those events only (package lake).
func ConsoleRaw(userType, accessKeyID *string) bool {
	return userType != nil && (*userType == "IAMUser" || *userType == "Root") &&
		accessKeyID != nil && strings.HasPrefix(*accessKeyID, "ASIA")
}

// SessionsBuildSQL is the build as one SELECT over event_rows, its steps
// as common table expressions: what a view of the sessions table runs
// (a Parquet dataset whose stored copy is stale, a store too old to have
// the table). A load builds the table in stages instead (StageSessions).
// raw is read only from the first event of each console-session key
// (the issuing calls are read through issued_credential), never from
// every event.
func SessionsBuildSQL() string {
	return expandSessionsSQL(withSteps(sessionsSteps) + sessionsFinal)
}

// StageSessions computes each stage of the build into a temporary table of
// conn named after it, and returns the build's last SELECT, which reads
// them, and a drop that removes them. Each stage is a statement of its
// own (or several, passesOver), so DuckDB holds one stage's working set
// at a time and can spill the finished ones: as one statement, the build
// held them all at once and ran out of its memory limit on a store with a
// key for most calls.
// Run inside a transaction, its tables stay in the transaction's local
// storage, which DuckDB reads more slowly: a load runs it before.
// DuckDB's allocator keeps the memory the build frees until drop
// (holdFreedMemory), so the caller runs the last SELECT before it.
func StageSessions(ctx context.Context, conn *sql.Conn) (final string, drop func(), err error) {
	var made []string
	release := holdFreedMemory()
	drop = func() {
		for _, name := range made {
			// A failed transaction takes its tables with it; nothing to report.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS temp."+name)
		}
		release()
	}
	start := 0
	for i, s := range sessionsSteps {
		if !s.stage {
			continue
		}
		ctes := withSteps(sessionsSteps[start:i])
		made = append(made, s.name) // drop removes it if it was made
		if s.rounds != nil {
			err = stageRounds(ctx, conn, s.name, s.rounds, ctes)
		} else {
			err = stageInPasses(ctx, conn, s, ctes)
		}
		if err != nil {
			drop()
			return "", func() {}, fmt.Errorf("build sessions (%s): %w", s.name, err)
		}
		for _, name := range s.frees {
			if _, err := conn.ExecContext(ctx, "DROP TABLE temp."+name); err != nil {
				drop()
				return "", func() {}, fmt.Errorf("build sessions (%s): %w", s.name, err)
			}
			made = slices.DeleteFunc(made, func(m string) bool { return m == name })
		}
		start = i + 1
	}
	return expandSessionsSQL(withSteps(sessionsSteps[start:]) + sessionsFinal), drop, nil
}

// stageRounds computes the recursive stage name into a temporary table of
// conn, round by round (see rounds), each round's statement prefixed by
// ctes. The rounds end when one makes no row: the step's own bound (the
// walk's $DEPTH) ends them; more than maxRounds is an error, not a hang.
func stageRounds(ctx context.Context, conn *sql.Conn, name string, r *rounds, ctes string) error {
	round, next := "temp."+name+"_round", "temp."+name+"_next"
	defer func() {
		for _, t := range []string{round, next} {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+t)
		}
	}()
	stmts := []string{
		"CREATE OR REPLACE TEMP TABLE " + name + "_round AS " + ctes + r.seed,
		"CREATE OR REPLACE TEMP TABLE " + name + " AS SELECT * FROM " + round + " LIMIT 0",
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, expandSessionsSQL(q)); err != nil {
			return err
		}
	}
	for n := 0; ; n++ {
		if n > maxRounds {
			return fmt.Errorf("still rows after %d rounds", maxRounds)
		}
		var rows int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+round).Scan(&rows); err != nil {
			return err
		}
		if rows == 0 {
			return nil
		}
		stmts := []string{
			"CREATE OR REPLACE TEMP TABLE " + name + "_next AS " + ctes + strings.ReplaceAll(r.next, "$PREV", round),
			// The rows no round followed: each is where its key's rounds end.
			"INSERT INTO temp." + name + " SELECT r.* FROM " + round + " r ANTI JOIN " + next + " n USING (" + r.key + ")",
			"DROP TABLE " + round,
			"ALTER TABLE " + next + " RENAME TO " + name + "_round",
		}
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, expandSessionsSQL(q)); err != nil {
				return err
			}
		}
	}
}

// maxRounds bounds stageRounds: the walk makes at most maxChainDepth.
const maxRounds = maxChainDepth + 1

// stageInPasses computes stage s into a temporary table of conn: one
// statement, or one a pass (passesOver, rowsPerPass). The stage's own
// SELECT is the statement's body after ctes, not one more common table
// expression: DuckDB would materialize it and then copy it into the table.
func stageInPasses(ctx context.Context, conn *sql.Conn, s sessionsStep, ctes string) error {
	passes := int64(1)
	if s.passesOver != "" {
		var rows int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM temp."+s.passesOver).Scan(&rows); err != nil {
			return err
		}
		passes = max(1, (rows+rowsPerPass-1)/rowsPerPass)
	}
	for pass := int64(0); pass < passes; pass++ {
		q := "CREATE OR REPLACE TEMP TABLE " + s.name + " AS " + ctes + s.sql
		if pass > 0 {
			q = "INSERT INTO temp." + s.name + " " + ctes + s.sql
		}
		q = strings.NewReplacer("$PASSES", fmt.Sprint(passes), "$PASS", fmt.Sprint(pass)).Replace(q)
		if _, err := conn.ExecContext(ctx, expandSessionsSQL(q)); err != nil {
			return err
		}
	}
	return nil
}

// sessionsSteps are the build's steps, in order: each reads event_rows and
// the steps before it.
var sessionsSteps = slices.Concat(placeStages("source_ip", "source_ips"), placeStages("user_agent", "user_agents"), []sessionsStep{
	placeSets("source_ip", "source_ips"), placeSets("user_agent", "user_agents"),
	{name: "identities", sql: `
  -- Usage, per credential and per combination of the columns that name
  -- who used it (one combination for almost every credential). The text
  -- is a grouping key, which DuckDB spills to disk under its memory limit,
  -- not an aggregate's state (a min or a list of text), which it holds in
  -- memory whatever the limit: a 10M-event store with a new key for most
  -- calls held 4 GB that way. A credential with one combination takes it
  -- as it is; the others are aggregated on text below, from distinct
  -- values, so memory follows what varies, not how many calls were made.
  SELECT $SID_E AS session_id, e.user_arn, e.user_type, e.session_issuer_arn, e.account_id, e.recipient_account_id,
    bool_or(e.access_key_id IS NOT NULL) AS has_key,
    min(e.event_time) AS first_seen,
    max(e.event_time) AS last_seen,
    count(*) AS events,
    count(e.error_code) AS errors,
    bool_or(e.mfa_authenticated) AS mfa_authenticated
  FROM event_rows e
  WHERE $SID_E IS NOT NULL
  GROUP BY ALL`},
	{name: "varied_identities", sql: `
  SELECT session_id FROM identities GROUP BY session_id HAVING count(*) > 1`},
	{name: "used", stage: true, frees: slices.Concat(placeTables("source_ip"), placeTables("user_agent")), sql: `
  SELECT who.*, ips.source_ips, agents.user_agents
  FROM (
    SELECT session_id, CASE WHEN has_key THEN session_id END AS access_key_id, user_arn AS principal_arn,
      user_type AS principal_type, session_issuer_arn AS role_arn, account_id, first_seen, last_seen, events, errors,
      mfa_authenticated,
      CASE WHEN recipient_account_id IS NULL THEN []::VARCHAR[] ELSE [recipient_account_id] END AS accounts
    FROM identities u ANTI JOIN varied_identities v ON v.session_id = u.session_id
    UNION ALL
    SELECT u.session_id, CASE WHEN bool_or(has_key) THEN u.session_id END, min(user_arn), min(user_type),
      min(session_issuer_arn), min(account_id), min(first_seen), max(last_seen), sum(events)::BIGINT,
      sum(errors)::BIGINT, bool_or(mfa_authenticated),
      coalesce(list_sort(list(DISTINCT recipient_account_id) FILTER (WHERE recipient_account_id IS NOT NULL)), []::VARCHAR[])
    FROM identities u SEMI JOIN varied_identities v ON v.session_id = u.session_id
    GROUP BY u.session_id
  ) who
  JOIN source_ip_sets ips USING (session_id)
  JOIN user_agent_sets agents USING (session_id)`},
	{name: "copies", inlined: true, sql: `
  -- The issuing calls, and what the decoder read of each (issued_credential).
    SELECT e.event_id, e.event_time, e.event_name, e.source_ip, e.user_agent, e.user_type AS caller_type, e.user_arn AS caller_arn,
      e.user_name AS caller_name, e.invoked_by, e.recipient_account_id,
      $SID_E AS parent,
      coalesce(c.sharedEventID, e.event_id, e.file_id || ':' || e.record_index) AS call_id,
      c.accessKeyId AS new_key,
      c.arn AS new_arn,
      c.roleArn AS req_role_arn,
      c.sessionName AS req_session_name,
      c.sourceIdentity AS source_identity,
      c.subject,
      concat_ws(' ', c.roleArn, c.principalArn, c.issuer) ILIKE '%sso%' AS identity_center,
      c.targetPrincipal AS root_target,
      c.userName AS key_user
    FROM (SELECT *, $ISSUED AS c FROM ($ISSUING_ROWS) e
          WHERE error_code IS NULL) e`},
	{name: "shared", sql: `
  SELECT call_id FROM copies GROUP BY call_id HAVING count(*) > 1`},
	{name: "calls", sql: `
  -- A call logged in the caller's and the role's account (one
  -- sharedEventID) is one call: the copy that names the caller is kept,
  -- with the key of either copy. Only those calls are windowed: sorting
  -- every call's wide row cost a fifth of the build.
  SELECT *, new_key AS call_key, new_arn AS call_arn, parent AS call_parent
  FROM copies WHERE call_id NOT IN (SELECT call_id FROM shared)
  UNION ALL
  SELECT *,
    max(new_key) OVER call AS call_key, max(new_arn) OVER call AS call_arn, max(parent) OVER call AS call_parent
  FROM copies WHERE call_id IN (SELECT call_id FROM shared)
  WINDOW call AS (PARTITION BY call_id)
  QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY parent IS NULL, event_id) = 1`},
	{name: "issued", stage: true, sql: `
  SELECT event_id AS issue_event_id, event_time AS issue_time, event_name AS issued_by, source_ip AS issue_source_ip,
    user_agent AS issue_user_agent, caller_type, caller_name, invoked_by, call_key AS new_key, call_arn AS new_arn, call_parent AS parent,
    req_role_arn, req_session_name, source_identity, subject, identity_center,
    CASE event_name
      WHEN 'GetSessionToken' THEN caller_arn
      WHEN 'AssumeRoot' THEN 'arn:aws:iam::' || root_target || ':root'
      WHEN 'CreateAccessKey' THEN 'arn:aws:iam::' || recipient_account_id || ':user/' || key_user
      ELSE call_arn END AS new_principal,
    CASE event_name
      WHEN 'GetSessionToken' THEN caller_type WHEN 'AssumeRoot' THEN 'Root'
      WHEN 'CreateAccessKey' THEN 'IAMUser' WHEN 'GetFederationToken' THEN 'FederatedUser'
      ELSE 'AssumedRole' END AS new_type
  FROM calls
  WHERE coalesce(call_key, call_arn) IS NOT NULL`},
	{name: "reissued", sql: `
  SELECT new_key FROM issued WHERE new_key IS NOT NULL GROUP BY new_key HAVING count(*) > 1`},
	{name: "by_key", inlined: true, sql: `
  -- A key handed out twice (only forged evidence does) is the first call's.
  SELECT * FROM issued WHERE new_key IS NOT NULL AND new_key NOT IN (SELECT new_key FROM reissued)
  UNION ALL
  SELECT * FROM issued WHERE new_key IN (SELECT new_key FROM reissued)
  QUALIFY row_number() OVER (PARTITION BY new_key ORDER BY issue_time, issue_event_id) = 1`},
	{name: "logins", sql: `
  -- Successful console sign-ins, one for each user and instant (the least
  -- event id).
  SELECT event_id, event_time, user_arn, source_ip, user_agent FROM event_rows
  WHERE event_name = 'ConsoleLogin' AND event_source = 'signin.amazonaws.com' AND login_result = 'Success'
    AND user_arn IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY user_arn, event_time ORDER BY event_id) = 1`},
	{name: "console_events", inlined: true, sql: `
  -- The events of console sessions' keys. Two equality tests, not an IN
  -- list: DuckDB tests an equality while it scans, so it reads raw for the
  -- matching rows only; an IN list it tests after the scan, which read the
  -- raw of every temporary key's event (a tenth of the build on the bench
  -- corpus). ConsoleRaw is this condition in Go: a dataset's typed files
  -- keep raw for these events only.
  SELECT access_key_id, raw, event_time FROM event_rows WHERE user_type = 'IAMUser' AND access_key_id LIKE 'ASIA%'
  UNION ALL
  SELECT access_key_id, raw, event_time FROM event_rows WHERE user_type = 'Root' AND access_key_id LIKE 'ASIA%'`},
	{name: "console_keys", sql: `
  -- A console session's key: creationDate from its first event only (the
  -- earliest of those at its first instant). Found by time, then read:
  -- an aggregate holding each key's first raw event (arg_min) is state
  -- DuckDB keeps in memory whatever its cap, 150 MB for 60,000 keys.
  SELECT f.access_key_id, min(try_strptime(e.raw ->> '$.userIdentity.sessionContext.attributes.creationDate',
      ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%gZ', '%Y%m%dT%H%M%SZ'])) AS created
  FROM (SELECT access_key_id, min(event_time) AS first_time FROM console_events GROUP BY access_key_id) f
  JOIN console_events e ON e.access_key_id = f.access_key_id AND e.event_time = f.first_time
  GROUP BY f.access_key_id`},
	{name: "console_uses", sql: `
  SELECT k.access_key_id, k.created::TIMESTAMPTZ AS created, u.principal_arn
  FROM console_keys k JOIN used u ON u.session_id = k.access_key_id
  WHERE k.access_key_id NOT IN (SELECT new_key FROM by_key) AND k.created IS NOT NULL`},
	{name: "by_console", sql: `
  -- The sign-in of the same user nearest the key's creationDate, within
  -- the window. Each key meets two sign-ins, the last at or before it and
  -- the first after it: joined on the user, the window was tested on every
  -- pair of a key and a sign-in of its user (20,000 of each, an hourly
  -- sign-in for two years: 400M pairs, 3.4 s).
  SELECT access_key_id, event_id, event_time, source_ip, user_agent
  FROM (SELECT c.access_key_id, c.created, l.* FROM console_uses c
          ASOF JOIN logins l ON l.user_arn = c.principal_arn AND c.created >= l.event_time
        UNION ALL
        SELECT c.access_key_id, c.created, l.* FROM console_uses c
          ASOF JOIN logins l ON l.user_arn = c.principal_arn AND c.created < l.event_time)
  WHERE event_time BETWEEN created - INTERVAL '$WINDOW' AND created + INTERVAL '$WINDOW'
  QUALIFY row_number() OVER (PARTITION BY access_key_id ORDER BY abs(epoch(event_time) - epoch(created)), event_id) = 1`},
	{name: "keyless_calls", sql: `
  -- The calls that logged no key, one for each ARN and instant (the
  -- least event id): what a session with a key may be tied to by ARN.
  SELECT * FROM issued WHERE new_key IS NULL
  QUALIFY row_number() OVER (PARTITION BY new_arn, issue_time ORDER BY issue_event_id) = 1`},
	{name: "keyed_by_arn", sql: `
  SELECT session_id, first_seen AS used_from, principal_arn,
    coalesce(first_seen + INTERVAL '5 minutes', '-infinity'::TIMESTAMPTZ) AS bound
  FROM used WHERE access_key_id IS NOT NULL AND principal_type IN ('AssumedRole', 'FederatedUser')`},
	{name: "arn_links", sql: `
  -- The weaker link: a session no key ties to a call, whose ARN a call
  -- handed out: the last such call before its first use, else the first
  -- (by_arn chooses). A session with a key is never tied to a call that
  -- logged another key. A session without a key is one per ARN: it meets
  -- each call of its ARN. The many sessions with keys of one ARN (a
  -- function's role, its credentials renewed all day) meet only the
  -- calls by_arn could choose: the last at or before the bound, the first
  -- after it, one with no time. Joined with every call of their ARN, 5,000
  -- keys and 5,000 keyless calls of one ARN took a minute, and 20,000 of
  -- each filled the disk.
  SELECT u.session_id, u.first_seen AS used_from, i.*
  FROM (SELECT * FROM used WHERE access_key_id IS NULL) u JOIN issued i ON i.new_arn = u.principal_arn
  WHERE u.principal_type IN ('AssumedRole', 'FederatedUser')
  UNION ALL
  SELECT k.session_id, k.used_from, c.*
  FROM keyed_by_arn k ASOF JOIN keyless_calls c ON c.new_arn = k.principal_arn AND k.bound >= c.issue_time
  UNION ALL
  SELECT k.session_id, k.used_from, c.*
  FROM keyed_by_arn k ASOF JOIN keyless_calls c ON c.new_arn = k.principal_arn AND k.bound < c.issue_time
  UNION ALL
  SELECT k.session_id, k.used_from, c.*
  FROM keyed_by_arn k JOIN keyless_calls c ON c.new_arn = k.principal_arn AND c.issue_time IS NULL`},
	{name: "by_arn", sql: `
  SELECT * FROM arn_links u
  WHERE u.session_id NOT IN (SELECT new_key FROM by_key)
    AND u.session_id NOT IN (SELECT access_key_id FROM by_console)
  QUALIFY row_number() OVER (PARTITION BY u.session_id
    ORDER BY u.issue_time <= u.used_from + INTERVAL '5 minutes' DESC,
      CASE WHEN u.issue_time <= u.used_from + INTERVAL '5 minutes' THEN -epoch(u.issue_time) ELSE epoch(u.issue_time) END,
      u.issue_event_id) = 1`},
	{name: "unused", inlined: true, sql: `
  -- Credentials handed out but never used in the evidence (an ARN session
  -- that was used stands for its call's key).
  SELECT coalesce(i.new_key, i.new_arn) AS session_id, i.*
  FROM issued i
  -- A call whose ARN ties it to a session used with a key it did not log
  -- is that session's issuing call, not a session of its own.
  ANTI JOIN by_arn b ON b.new_arn = i.new_arn
    AND b.issue_event_id IS NOT DISTINCT FROM i.issue_event_id
    AND b.issue_time IS NOT DISTINCT FROM i.issue_time
  WHERE coalesce(i.new_key, i.new_arn) NOT IN (SELECT session_id FROM used)
    AND (i.new_arn IS NULL OR i.new_arn NOT IN (SELECT session_id FROM used))`},
	{name: "unused_twice", sql: `
  SELECT session_id FROM unused GROUP BY session_id HAVING count(*) > 1`},
	{name: "issued_only", sql: `
  -- One row each: the first call, for an ARN handed out again (only the
  -- few handed out twice are sorted).
  SELECT * FROM unused WHERE session_id NOT IN (SELECT session_id FROM unused_twice)
  UNION ALL
  SELECT * FROM unused WHERE session_id IN (SELECT session_id FROM unused_twice)
  QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY issue_time, issue_event_id) = 1`},
	{name: "nodes", sql: `
  SELECT u.session_id, u.access_key_id, u.principal_arn, u.principal_type, u.account_id, u.accounts,
    u.first_seen, u.last_seen, u.events, u.errors, u.source_ips, u.user_agents, u.mfa_authenticated,
    coalesce(u.role_arn, coalesce(k.req_role_arn, a.req_role_arn)) AS role_arn,
    coalesce(k.issued_by, CASE WHEN c.event_id IS NOT NULL THEN 'ConsoleLogin' END, a.issued_by) AS issued_by,
    coalesce(k.issue_event_id, c.event_id, a.issue_event_id) AS issue_event_id,
    coalesce(k.issue_time, c.event_time, a.issue_time) AS issue_time,
    CASE WHEN k.issue_event_id IS NOT NULL THEN 'key' WHEN c.event_id IS NOT NULL THEN 'creation-date'
         WHEN a.issue_event_id IS NOT NULL THEN 'arn' ELSE 'none' END AS link,
    coalesce(k.parent, a.parent) AS parent_session_id,
    coalesce(k.req_session_name, a.req_session_name) AS req_session_name,
    coalesce(k.source_identity, a.source_identity) AS source_identity,
    coalesce(k.issue_source_ip, c.source_ip, a.issue_source_ip) AS issue_source_ip,
    coalesce(k.issue_user_agent, c.user_agent, a.issue_user_agent) AS issue_user_agent,
    coalesce(k.caller_type, a.caller_type) AS caller_type,
    coalesce(k.caller_name, a.caller_name) AS caller_name,
    coalesce(k.invoked_by, a.invoked_by) AS invoked_by,
    coalesce(k.subject, a.subject) AS subject,
    coalesce(k.identity_center, a.identity_center) AS identity_center
  FROM used u
  LEFT JOIN by_key k ON k.new_key = u.session_id
  LEFT JOIN by_console c ON c.access_key_id = u.session_id
  LEFT JOIN by_arn a ON a.session_id = u.session_id
  UNION ALL
  SELECT session_id, new_key, new_principal, new_type,
    CASE WHEN new_principal LIKE 'arn:%' THEN nullif(split_part(new_principal, ':', 5), '') END,
    []::VARCHAR[], NULL, NULL, 0, 0, []::VARCHAR[], []::VARCHAR[], NULL,
    req_role_arn, issued_by, issue_event_id, issue_time, CASE WHEN new_key IS NOT NULL THEN 'key' ELSE 'arn' END,
    parent, req_session_name, source_identity, issue_source_ip, issue_user_agent, caller_type, caller_name, invoked_by, subject, identity_center
  FROM issued_only`},
	{name: "selves", stage: true, materialized: true, frees: []string{"used", "issued"}, sql: `
  -- What each session would be as the root of a chain, and its name.
  SELECT *,
    CASE self_type
      WHEN 'IdentityCenterUser' THEN coalesce(subject, caller_name, session_name, principal_arn)
      WHEN 'SAMLUser' THEN coalesce(subject, caller_name)
      WHEN 'WebIdentityUser' THEN coalesce(subject, caller_name)
      WHEN 'EC2Instance' THEN session_name
      WHEN 'AWSService' THEN coalesce(invoked_by, issue_source_ip, principal_arn)
      ELSE principal_arn END AS origin_name
  FROM (
    SELECT *,
      CASE WHEN issued_by = 'AssumeRoleWithSAML' AND identity_center THEN 'IdentityCenterUser'
           WHEN issued_by = 'AssumeRoleWithSAML' THEN 'SAMLUser'
           WHEN issued_by = 'AssumeRoleWithWebIdentity' THEN 'WebIdentityUser'
           WHEN issued_by IS NOT NULL AND parent_session_id IS NULL
                AND (caller_type = 'AWSService' OR issue_source_ip LIKE '%.amazonaws.com') THEN
             CASE WHEN coalesce(invoked_by, issue_source_ip) = 'ec2.amazonaws.com' AND session_name LIKE 'i-%'
                  THEN 'EC2Instance' ELSE 'AWSService' END
           WHEN principal_type IN ('Root', 'IAMUser', 'IdentityCenterUser', 'AWSService') THEN principal_type
           ELSE 'Unknown' END AS self_type
    FROM (SELECT * EXCLUDE (req_session_name),
            coalesce(req_session_name, CASE WHEN principal_arn LIKE 'arn:%:assumed-role/%' OR principal_arn LIKE 'arn:%:federated-user/%'
                                            THEN string_split(principal_arn, '/')[-1] END) AS session_name,
            coalesce(account_id, CASE WHEN principal_arn LIKE 'arn:%' THEN nullif(split_part(principal_arn, ':', 5), '') END) AS owner_account
          FROM nodes))`},
	{name: "edges", stage: true, materialized: true, sql: `
  -- Child to parent, where both are sessions: all the walk reads.
  SELECT session_id, parent_session_id AS parent FROM selves
  WHERE parent_session_id IN (SELECT session_id FROM selves)`},
	{name: "walk", stage: true, rounds: &rounds{key: "session_id", last: "depth", seed: `
  -- Up from every session that has a parent to its origin: bounded, and
  -- never through a session already on the path (a role assuming itself);
  -- the step is where each walk ended. In one recursive statement, a row
  -- per session and hop was held in memory: 20,000 chains of 40 roles ran
  -- the build out of memory under a 400 MB cap.
  SELECT session_id, parent AS top, 1 AS depth, [parent, session_id] AS chain FROM edges WHERE parent <> session_id`, next: `
  SELECT w.session_id, e.parent AS top, w.depth + 1 AS depth, list_prepend(e.parent, w.chain) AS chain
  FROM $PREV w JOIN edges e ON e.session_id = w.top
  WHERE w.depth < $DEPTH AND NOT list_contains(w.chain, e.parent)`}},
	{name: "roots", stage: true, frees: []string{"edges", "walk"}, sql: `
  -- Where each walk ended, and what is known there: narrow, so the last
  -- step joins every session to a small table (joined to the wide one,
  -- DuckDB built its hash table on the sessions and ran out of memory on
  -- a store with a key for most calls).
  SELECT w.session_id, w.top, w.depth, w.chain, o.self_type, o.origin_name, o.issue_event_id
  FROM walk w JOIN selves o ON o.session_id = w.top`},
})

// placeStages are the stages that find where each credential was used
// from, by one column of its events (its address, its program): the
// column's distinct values a credential, then the sorted lists of those
// used with more than one. Apart from the identities: grouped with them,
// the few places a credential is used from multiplied its rows, and
// hashing every event's ARNs with its address and user agent cost twice
// as much. Each column apart too: grouped together, the pairs of an
// address and a program multiplied the rows, and a group keyed by a long
// user agent and an address cost DuckDB four times the two groups (517k
// triples on the bench corpus, against 479k addresses and 34k programs).
//
// A list is an aggregate's state, which DuckDB holds in memory until the
// statement ends, whatever its cap: in one statement the 10M-event
// corpus's 2.5M addresses ran the build out of memory under a 250 MB cap.
// So the lists are built in passes, each over the credentials of one hash
// bucket ($PASS of $PASSES; see passesOver).
func placeStages(column, listColumn string) []sessionsStep {
	tables := placeTables(column)
	values, lists, varied := tables[0], tables[1], column+"_varied"
	return []sessionsStep{
		{name: values, stage: true, sql: fmt.Sprintf(`
  SELECT DISTINCT $SID_E AS session_id, e.%s
  FROM event_rows e
  WHERE $SID_E IS NOT NULL`, column)},
		{name: varied, sql: `
  SELECT session_id FROM ` + values + ` GROUP BY session_id HAVING count(*) > 1`},
		{name: lists, stage: true, passesOver: values, sql: fmt.Sprintf(`
  SELECT v.session_id, coalesce(list_sort(list(v.%[1]s) FILTER (WHERE v.%[1]s IS NOT NULL)), []::VARCHAR[]) AS %[2]s
  FROM %[3]s v SEMI JOIN %[4]s d ON d.session_id = v.session_id
  WHERE hash(v.session_id) %% $PASSES = $PASS
  GROUP BY v.session_id`, column, listColumn, values, varied)},
	}
}

// placeSets is every credential's list of the column's values (see
// placeStages): the one value of those used with one, as a list.
func placeSets(column, listColumn string) sessionsStep {
	tables := placeTables(column)
	values, lists := tables[0], tables[1]
	return sessionsStep{name: column + "_sets", sql: fmt.Sprintf(`
  SELECT session_id, CASE WHEN %[1]s IS NULL THEN []::VARCHAR[] ELSE [%[1]s] END AS %[2]s
  FROM %[3]s v ANTI JOIN %[4]s l ON l.session_id = v.session_id
  UNION ALL
  SELECT session_id, %[2]s FROM %[4]s`, column, listColumn, values, lists)}
}

// placeTables are the stages placeStages makes for column: its values,
// then its lists.
func placeTables(column string) []string { return []string{column + "_values", column + "_lists"} }

// sessionsFinal is the build's last step: the sessions table's rows.
const sessionsFinal = `SELECT $COLUMNS FROM (
  SELECT s.session_id, s.access_key_id,
    CASE WHEN s.access_key_id LIKE 'AKIA%' THEN 'long-term' WHEN s.access_key_id LIKE 'ASIA%' THEN 'temporary'
         WHEN s.access_key_id IS NULL AND s.principal_type IN ('AssumedRole', 'FederatedUser') THEN 'temporary'
         ELSE 'unknown' END AS credential_kind,
    s.issued_by, s.issue_event_id, s.issue_time, s.link, s.parent_session_id, s.principal_arn, s.principal_type,
    s.role_arn, s.session_name, s.source_identity, s.owner_account AS account_id,
    -- A session no walk left is its own origin (most are).
    coalesce(r.self_type, s.self_type) AS origin_type, CASE WHEN r.top IS NULL THEN s.origin_name ELSE r.origin_name END AS origin,
    coalesce(r.top, s.session_id) AS origin_session_id,
    CASE WHEN r.top IS NULL THEN s.issue_event_id ELSE r.issue_event_id END AS origin_event_id,
    coalesce(r.depth, 0)::INTEGER AS depth, coalesce(r.chain, [s.session_id]) AS chain,
    s.accounts, s.first_seen, s.last_seen, s.events, s.errors, s.source_ips, s.user_agents, s.issue_source_ip,
    s.mfa_authenticated, s.issue_user_agent
  FROM selves s LEFT JOIN roots r USING (session_id)
)`

// BuildSessions replaces the sessions table of the store on conn with the
// one its events give, inside the caller's transaction, if any (a
// migration's, whose stages must see the events it rewrote).
func BuildSessions(ctx context.Context, conn *sql.Conn) error {
	final, drop, err := StageSessions(ctx, conn)
	if err != nil {
		return err
	}
	defer drop()
	return storeSessions(ctx, conn, final)
}

// storeSessions replaces the rows of session_rows with those final (the
// build's last SELECT, StageSessions) gives.
func storeSessions(ctx context.Context, conn *sql.Conn, final string) error {
	if err := execEach(ctx, conn, "DELETE FROM session_rows", storeSessionsSQL(final)); err != nil {
		return fmt.Errorf("build sessions: %w", err)
	}
	return nil
}
