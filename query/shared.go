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
	// reads matches a query that names it.
	reads *regexp.Regexp
}

func newShared(name, q string) SharedRelation {
	return SharedRelation{Name: name, SQL: q, reads: regexp.MustCompile(`(?i)\b` + name + `\b`)}
}

// sharedRelations, in the order their CTEs are written: one reads only the
// ones before it. Most of the rules read one of them: each read of the
// events costs a scan (on a Parquet dataset of a bucket's 1,440 partitions
// a third of a second, whatever the filter), and computed by each rule the
// sign-ins and credential changes were read ten times a run.
var sharedRelations = []SharedRelation{
	newShared("signin_events", signinEventsSQL),
	newShared("credential_events", credentialEventsSQL),
	newShared("signin_attempts", signinAttemptsSQL),
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
	staged := staging{}
	for i, r := range sharedRelations {
		if !stageIt[i] {
			continue
		}
		name := stagedTable(r.Name)
		_, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+name+" AS "+narrowWith("SELECT * FROM "+r.Name, opts, staged))
		switch err = explain(err); {
		case err == nil:
			staged[r.Name] = "temp.main." + name
		case ctx.Err() != nil || IsEngineError(err):
			return staged, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	return staged, nil
}

// drop drops the tables staged.
func (st staging) drop(ctx context.Context, conn *sql.Conn) {
	for _, t := range st {
		_, _ = conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t)
	}
}
