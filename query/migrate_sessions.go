package query

import (
	"context"
	"fmt"
	"strings"
)

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
	if err := BuildSessions(ctx, conn); err != nil {
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

// defineSessions gives a version 2 store opened read-only (so not
// migrated) the sessions table and the event_sessions view, as temporary
// views built from its events: rules and queries that read them run
// unchanged, only slower, and nothing is written.
func (s *Store) defineSessions(ctx context.Context) error {
	for _, q := range []string{
		"CREATE TEMP VIEW sessions AS " + SessionsBuildSQL(),
		strings.Replace(createViewSQL(eventSessionsView()), "CREATE OR REPLACE VIEW", "CREATE TEMP VIEW", 1),
	} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("define sessions over %s: %w", displayPath(s.Path), err)
		}
	}
	return nil
}

func eventSessionsView() Table {
	for _, v := range Views {
		if v.Name == "event_sessions" {
			return v
		}
	}
	panic("no event_sessions view")
}
