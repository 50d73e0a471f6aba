package query

import "context"

// migrateSessions brings a version 2 store to version 3: its events are
// already this version's, so only the sessions table (created empty by
// createSchema) is built, in one transaction with the version change.
func (s *Store) migrateSessions(ctx context.Context) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK") // the migration's own error is the one to report
		}
	}()
	if err := buildSessions(ctx, conn); err != nil {
		return err
	}
	if err := setVersion(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	committed = true
	return nil
}
