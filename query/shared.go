package query

// The shared relations: queries over the events that rules may read by
// name as tables, defined over the events each rule sees, and computed once
// for a run whose rules read them more than once.

import (
	"context"
	"database/sql"
	_ "embed" // the shared relations' SQL
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	//go:embed detections/shared/signin_events.sql
	signinEventsSQL string
	//go:embed detections/shared/credential_events.sql
	credentialEventsSQL string
	//go:embed detections/shared/signin_attempts.sql
	signinAttemptsSQL string
)

// SharedRelation is a relation rules may read as a table.
type SharedRelation struct {
	Name string
	SQL  string // its query, over events and the shared relations before it
	// Holds is a condition, on the stored columns of events, that every
	// event the relation reads (itself or through the relations before
	// it) is true of; "" when there is none. A run stages the relation
	// from only the files of a Parquet dataset that hold such an event
	// (DetectOptions.EventsHolding): sign-ins and credential changes are
	// in a few of a bucket's many partitions, and each file a scan opens
	// costs DuckDB the same whatever the filter.
	Holds string
	// reads matches a query that names it.
	reads *regexp.Regexp
}

func newShared(name, q, holds string) SharedRelation {
	return SharedRelation{Name: name, SQL: q, Holds: holds, reads: regexp.MustCompile(`(?i)\b` + name + `\b`)}
}

// The Holds conditions: the events the WHERE clauses of signin_events.sql
// and credential_events.sql keep, or more (TestSharedRelationsHoldTheirEvents
// checks each relation is the same over only the events its condition is
// true of).
var (
	signinHolds = eventClass{names: []string{"ConsoleLogin", "UserAuthentication", "Authenticate",
		"CredentialVerification", "CredentialChallenge"}, workflow: true}
	credentialHolds = eventClass{names: []string{"CreateAccessKey", "CreateVirtualMFADevice", "EnableMFADevice",
		"DeactivateMFADevice", "DeleteVirtualMFADevice", "ResyncMFADevice", "CompleteVirtualMfaDeviceRegistration",
		"CompleteWebAuthnDeviceRegistration", "CreateMfaDeviceForUser", "UpdateMfaDeviceForUser",
		"DeleteMfaDeviceForUser", "DeleteWebAuthnDevice"}}
)

// An eventClass is a Holds condition: the events named one of names, and
// when workflow those with an auth_workflow_id (IAM Identity Center's
// sign-in steps). It is SQL for a scan, and a test of one row for a
// writer, which records in each file whether it holds such an event
// (HoldsTests): a run then knows the files to read from their footers,
// without a scan of every file.
type eventClass struct {
	names    []string
	workflow bool
}

func (c eventClass) sql() string {
	quoted := make([]string, len(c.names))
	for i, n := range c.names {
		quoted[i] = StringLiteral(n)
	}
	q := "list_contains([" + strings.Join(quoted, ", ") + "], event_name)"
	if c.workflow {
		q += " OR auth_workflow_id IS NOT NULL"
	}
	return q
}

// holds is the condition's sql() as a test of a row's event_name and
// auth_workflow_id (nil is NULL).
func (c eventClass) holds(eventName, authWorkflowID *string) bool {
	return eventName != nil && slices.Contains(c.names, *eventName) || c.workflow && authWorkflowID != nil
}

// HoldsTest is a shared relation's Holds condition (Cond, the SQL) as a
// test of one stored event's event_name and auth_workflow_id (nil for
// NULL), true exactly when the SQL is.
type HoldsTest struct {
	Cond string
	Test func(eventName, authWorkflowID *string) bool
}

// HoldsTests are the shared relations' Holds conditions, each once.
func HoldsTests() []HoldsTest {
	var out []HoldsTest
	for _, c := range []eventClass{signinHolds, credentialHolds} {
		out = append(out, HoldsTest{Cond: c.sql(), Test: c.holds})
	}
	return out
}

// sharedRelations, in the order their CTEs are written: one reads only the
// ones before it. Most of the rules read one of them: each read of the
// events costs a scan (on a Parquet dataset of a bucket's 1,440 partitions
// a third of a second, whatever the filter), and computed by each rule the
// sign-ins and credential changes were read ten times a run.
var sharedRelations = []SharedRelation{
	newShared("signin_events", signinEventsSQL, signinHolds.sql()),
	newShared("credential_events", credentialEventsSQL, credentialHolds.sql()),
	newShared("signin_attempts", signinAttemptsSQL, signinHolds.sql()), // reads signin_events only
}

// readsShared[j][i] says whether sharedRelations[j]'s SQL reads the
// earlier sharedRelations[i].
var readsShared = func() [][]bool {
	out := make([][]bool, len(sharedRelations))
	for j, later := range sharedRelations {
		plain := stripComments(later.SQL)
		out[j] = make([]bool, len(sharedRelations))
		for i, r := range sharedRelations[:j] {
			out[j][i] = r.reads.MatchString(plain)
		}
	}
	return out
}()

// SharedRelations returns the shared relations q reads, itself or through
// another, in the order they are defined.
func SharedRelations(q string) []SharedRelation {
	var out []SharedRelation
	for i, read := range needed(stripComments(q), nil) {
		if read {
			out = append(out, sharedRelations[i])
		}
	}
	return out
}

// staging maps a shared relation's name to the temporary table that holds
// its rows for a run (see stageShared); a relation not in it is computed by
// each query that reads it.
type staging map[string]string

// needed says, for each of sharedRelations, whether plain (a query without
// comments) needs its CTE: it reads it, or reads a later relation that is
// computed (not staged) and reads it.
func needed(plain string, staged staging) []bool {
	need := make([]bool, len(sharedRelations))
	for i := len(sharedRelations) - 1; i >= 0; i-- {
		need[i] = sharedRelations[i].reads.MatchString(plain)
		for j := i + 1; j < len(sharedRelations) && !need[i]; j++ {
			need[i] = need[j] && staged[sharedRelations[j].Name] == "" && readsShared[j][i]
		}
	}
	return need
}

// sharedCTEs are the CTEs of the shared relations q needs, read from their
// staged tables where staged has one.
func sharedCTEs(q string, staged staging) []string {
	var ctes []string
	for i, read := range needed(stripComments(q), staged) {
		r := sharedRelations[i]
		switch {
		case !read:
		case staged[r.Name] != "":
			ctes = append(ctes, r.Name+" AS (SELECT * FROM "+staged[r.Name]+")")
		default:
			ctes = append(ctes, r.Name+" AS (\n"+r.SQL+")")
		}
	}
	return ctes
}

// stagedTable is the temporary table that holds a shared relation's rows
// for a run, by the name queries read it by (temporary tables are in
// temp.main).
func stagedTable(name string) string { return "trailsift_" + name }

// stageShared computes, into temporary tables of conn, the shared
// relations that the run's queries would compute more than once, the
// staging of later relations counting as one reader. The tables hold the
// same rows the CTEs would, over the same narrowed events. When DuckDB
// refuses one (not for the engine's own failures, which stop the run), the
// queries compute it, and each reports the failure as its own, as before.
func stageShared(ctx context.Context, conn *sql.Conn, queries []RuleQuery, opts DetectOptions) (staging, error) {
	// Readers, counted from the last relation back: whether a later one is
	// staged decides how often it reads an earlier one.
	plain := make([]string, len(queries))
	for k, q := range queries {
		plain[k] = stripComments(q.SQL)
	}
	readers := make([]int, len(sharedRelations))
	stageIt := make([]bool, len(sharedRelations))
	for i := len(sharedRelations) - 1; i >= 0; i-- {
		for _, q := range plain {
			if sharedRelations[i].reads.MatchString(q) {
				readers[i]++
			}
		}
		for j := i + 1; j < len(sharedRelations); j++ {
			if !readsShared[j][i] {
				continue
			}
			if stageIt[j] {
				readers[i]++
			} else {
				readers[i] += readers[j]
			}
		}
		stageIt[i] = readers[i] >= 2
	}
	events, err := eventsHolding(ctx, conn, stageIt, opts)
	if err != nil {
		return nil, err
	}
	staged := staging{}
	for i, r := range sharedRelations {
		if !stageIt[i] {
			continue
		}
		name := stagedTable(r.Name)
		_, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+name+" AS "+narrowFrom("SELECT * FROM "+r.Name, opts, staged, events[i]))
		switch err = explain(err); {
		case err == nil:
			staged[r.Name] = "temp.main." + name
		case ctx.Err() != nil || IsEngineError(err):
			return staged, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	return staged, nil
}

// eventsHolding is, for each of sharedRelations, the events its staging
// reads when not opts.Events: those of the files holding an event its
// Holds condition is true of, when opts.EventsHolding can tell (one scan of
// the conditions' columns for every relation staged); "" otherwise. When
// DuckDB refuses that scan (not for the engine's own failures, which stop
// the run), every relation reads every file.
func eventsHolding(ctx context.Context, conn *sql.Conn, stageIt []bool, opts DetectOptions) ([]string, error) {
	events := make([]string, len(sharedRelations))
	if opts.EventsHolding == nil {
		return events, nil
	}
	var conds []string
	of := make([]int, len(sharedRelations)) // relation -> its condition in conds
	for i, r := range sharedRelations {
		if !stageIt[i] || r.Holds == "" {
			continue
		}
		if of[i] = slices.Index(conds, r.Holds); of[i] < 0 {
			of[i], conds = len(conds), append(conds, r.Holds)
		}
	}
	if len(conds) == 0 {
		return events, nil
	}
	picked, err := opts.EventsHolding(ctx, conn, conds)
	switch err = explain(err); {
	case err == nil:
		for i, r := range sharedRelations {
			if stageIt[i] && r.Holds != "" {
				events[i] = picked[of[i]]
			}
		}
	case ctx.Err() != nil || IsEngineError(err):
		return nil, fmt.Errorf("the files holding the shared relations' events: %w", err)
	}
	return events, nil
}

// drop drops the tables staged.
func (st staging) drop(ctx context.Context, conn *sql.Conn) {
	for _, t := range st {
		_, _ = conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t)
	}
}
