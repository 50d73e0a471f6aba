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
	return inTx(ctx, conn, func() error {
		if err := BuildSessions(ctx, conn); err != nil {
			return err
		}
		return setVersion(ctx, conn)
	})
}

// readAroundStaleSessions gives a store opened read-only whose sessions
// table is missing (version 2, not migrated) or lags its events (a load
// stopped before rebuilding it, see Store.Load) the sessions table and the
// event_sessions view as temporary views built from its events: rules and
// queries that read them run unchanged, only slower, and nothing is
// written. A store without the sessions_pending table (made before it)
// rebuilt its sessions with its events, in one transaction.
func (s *Store) readAroundStaleSessions(ctx context.Context, v int) error {
	if v >= 3 {
		var pending bool
		err := s.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
  WHERE table_schema = 'main' AND table_name = 'sessions_pending')`).Scan(&pending)
		if err == nil && pending {
			err = s.DB.QueryRowContext(ctx, "SELECT count(*) > 0 FROM sessions_pending").Scan(&pending)
		}
		if err != nil || !pending {
			return err
		}
	}
	return s.defineSessions(ctx)
}

// defineSessions defines the temporary views of readAroundStaleSessions on
// every connection of the store's pool: a temporary view is one
// connection's own, so each new connection makes them first, and the idle
// ones made before are let go.
func (s *Store) defineSessions(ctx context.Context) error {
	s.onConnect.add(
		"CREATE TEMP VIEW sessions AS "+SessionsBuildSQL(),
		strings.Replace(createViewSQL(eventSessionsView()), "CREATE OR REPLACE VIEW", "CREATE TEMP VIEW", 1),
	)
	s.DB.SetMaxIdleConns(0)
	s.DB.SetMaxIdleConns(2) // database/sql's default
	// A new connection: the views are made, or their error is reported here.
	if _, err := s.DB.ExecContext(ctx, "SELECT * FROM sessions LIMIT 0"); err != nil {
		return fmt.Errorf("define sessions over %s: %w", displayPath(s.Path), err)
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
