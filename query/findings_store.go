package query

import (
	"context"
	"fmt"
)

// SaveFindings replaces the findings table with found, in one transaction,
// so SQL users can join findings to events.
func (s *Store) SaveFindings(ctx context.Context, found []Finding) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
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
