package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// MarshalJSON writes first_seen and last_seen as null when the finding's
// events have no time, as every JSON output writes a missing time (a zero
// time.Time would print as 0001-01-01T00:00:00Z). null reads back as the
// zero time.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding // without this method
	ts := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	return json.Marshal(struct {
		plain
		FirstSeen *time.Time `json:"first_seen"`
		LastSeen  *time.Time `json:"last_seen"`
	}{plain(f), ts(f.FirstSeen), ts(f.LastSeen)})
}

// SaveFindings replaces the findings table with found, in one transaction,
// so SQL users can join findings to events.
func (s *Store) SaveFindings(ctx context.Context, found []Finding) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, "DELETE FROM findings"); err != nil {
		return fmt.Errorf("clear findings: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?::VARCHAR[], ?::VARCHAR[], ?, ?, ?, ?::VARCHAR[], ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, f := range found {
		if _, err := stmt.ExecContext(ctx, f.RuleID, f.Title, string(f.Severity), f.Actor, f.AccountID, f.SourceIPs, f.UserAgents,
			f.FirstSeen, f.LastSeen, f.Count, f.EventIDs, nullStr(f.Details)); err != nil {
			return fmt.Errorf("store finding %s: %w", f.RuleID, err)
		}
	}
	return tx.Commit()
}

// LoadFindings reads the findings table (written by the last analyze), in
// the order Detect returns findings.
func LoadFindings(ctx context.Context, db *sql.DB) ([]Finding, error) {
	rows, err := db.QueryContext(ctx, `SELECT rule_id, title, severity, coalesce(actor, ''), coalesce(account_id, ''),
  coalesce(source_ips, []), coalesce(user_agents, []), first_seen, last_seen, count, coalesce(event_ids, []), coalesce(details, '')
FROM findings`)
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var sev string
		var ips, uas, ids any
		var first, last sql.NullTime
		if err := rows.Scan(&f.RuleID, &f.Title, &sev, &f.Actor, &f.AccountID, &ips, &uas, &first, &last, &f.Count, &ids, &f.Details); err != nil {
			return nil, fmt.Errorf("read findings: %w", err)
		}
		f.Severity = Severity(sev)
		f.SourceIPs, f.UserAgents, f.EventIDs = asStrings(ips), asStrings(uas), asStrings(ids)
		f.FirstSeen, f.LastSeen = first.Time.UTC(), last.Time.UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	SortFindings(out)
	return out, nil
}
