package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/trailsift/trailsift/ingest"
)

// Store is a trailsift case database: an ordinary DuckDB file holding the
// events, files and ingest_errors tables.
type Store struct {
	DB       *sql.DB
	Path     string
	ReadOnly bool
}

// ErrNoStore is returned when a read-only open finds no database.
var ErrNoStore = errors.New("no trailsift database")

// Open opens (creating when writable) the database at path. An empty path
// is an in-memory database, for tests.
func Open(ctx context.Context, path string, readOnly bool) (*Store, error) {
	dsn := path
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w at %s: run `trailsift ingest --db %s EVIDENCE...` first", ErrNoStore, path, path)
		}
		dsn += "?access_mode=READ_ONLY"
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", displayPath(path), err)
	}
	db := sql.OpenDB(connector)
	s := &Store{DB: db, Path: path, ReadOnly: readOnly}
	// Keep DuckDB's own memory bounded whatever the input size.
	for _, q := range []string{
		"SET memory_limit = '1GB'",
		"SET preserve_insertion_order = false",
		"SET TimeZone = 'UTC'",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %s: %w", displayPath(path), q, err)
		}
	}
	if !readOnly {
		if err := s.createSchema(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

func displayPath(p string) string {
	if p == "" {
		return "in-memory database"
	}
	return p
}

// Close closes the database.
func (s *Store) Close() error { return s.DB.Close() }

func (s *Store) createSchema(ctx context.Context) error {
	for _, t := range Tables {
		if _, err := s.DB.ExecContext(ctx, createTableSQL(t, false)); err != nil {
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
	}
	for _, v := range Views {
		if _, err := s.DB.ExecContext(ctx, createViewSQL(v)); err != nil {
			return fmt.Errorf("create view %s: %w", v.Name, err)
		}
	}
	return nil
}

// manifest is what the store holds already, loaded once per ingest run.
type manifest struct {
	paths    map[[2]string]bool
	contents map[string]string
}

func (m *manifest) Has(path, sha string) bool { return m.paths[[2]string{path, sha}] }

func (m *manifest) HasContent(sha string) (string, bool) {
	p, ok := m.contents[sha]
	return p, ok
}

// Manifest loads the stored files, so a re-run skips what it holds.
func (s *Store) Manifest(ctx context.Context) (ingest.Manifest, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT path, sha256 FROM files WHERE sha256 IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("read files manifest: %w", err)
	}
	defer rows.Close()
	m := &manifest{paths: map[[2]string]bool{}, contents: map[string]string{}}
	for rows.Next() {
		var p, sha string
		if err := rows.Scan(&p, &sha); err != nil {
			return nil, err
		}
		m.paths[[2]string{p, sha}] = true
		if _, ok := m.contents[sha]; !ok {
			m.contents[sha] = p
		}
	}
	return m, rows.Err()
}

// Writer is an ingest.Sink that appends to the store. Events are staged
// through the DuckDB Appender and moved into events in one transaction
// together with the manifest rows of the files they complete, leaving out
// events already stored: a crash at any point loses nothing that a re-run
// does not redo, and a re-run stores nothing twice.
type Writer struct {
	ctx      context.Context
	conn     *sql.Conn
	app      *duckdb.Appender
	staged   int
	pending  []*ingest.File
	batch    int
	args     []driver.Value
	inserted int64
	seen     int64
}

// CommitEvery is the number of staged events that triggers a commit.
const CommitEvery = 250_000

// NewWriter prepares the store for an ingest run.
func (s *Store) NewWriter(ctx context.Context) (*Writer, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// The Appender would store a Go string bound for a JSON column as a JSON
	// string value; staging holds the text as VARCHAR and the move into
	// events casts it, parsing it as the JSON it is.
	staging := Table{Name: "staging"}
	for _, c := range EventColumns {
		if c.Type == "JSON" {
			c.Type = "VARCHAR"
		}
		staging.Columns = append(staging.Columns, c)
	}
	if _, err := conn.ExecContext(ctx, createTableSQL(staging, true)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	w := &Writer{ctx: ctx, conn: conn, batch: CommitEvery, args: make([]driver.Value, len(EventColumns))}
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "staging")
		w.app = a
		return err
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("create appender: %w", err)
	}
	return w, nil
}

// Inserted and Duplicates count the events of this run that were new and
// that were already stored (or seen twice).
func (w *Writer) Inserted() int64   { return w.inserted }
func (w *Writer) Duplicates() int64 { return w.seen - w.inserted }

// WriteEvents stages events; it commits when enough are staged.
func (w *Writer) WriteEvents(events []ingest.Event) error {
	for i := range events {
		eventRow(&events[i], w.args)
		if err := w.app.AppendRow(w.args...); err != nil {
			return fmt.Errorf("stage event: %w", err)
		}
	}
	w.staged += len(events)
	if w.staged >= w.batch {
		return w.commit()
	}
	return nil
}

// FileDone queues a file's manifest row for the next commit, which holds
// all of its events.
func (w *Writer) FileDone(f *ingest.File) error {
	w.pending = append(w.pending, f)
	if len(w.pending) >= 20_000 {
		return w.commit()
	}
	return nil
}

// Flush commits whatever is staged.
func (w *Writer) Flush() error { return w.commit() }

// Close releases the connection; call Flush first to keep staged work.
func (w *Writer) Close() error {
	w.app.Close()
	w.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS temp.staging")
	return w.conn.Close()
}

func (w *Writer) commit() error {
	if w.staged == 0 && len(w.pending) == 0 {
		return nil
	}
	// Background, not w.ctx: once started, a commit finishes even on Ctrl-C.
	ctx := context.Background()
	if err := w.app.Flush(); err != nil {
		return fmt.Errorf("stage events: %w", err)
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int64
	if w.staged > 0 {
		// The event_time range of the batch lets DuckDB skip the row groups
		// of events that cannot hold a duplicate (zone maps), so the anti-join
		// stays cheap as the table grows.
		res, err := tx.ExecContext(ctx, `
INSERT INTO events
SELECT s.* FROM (
  SELECT * FROM temp.staging
  QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY file_id, record_index) = 1
) s
WHERE NOT EXISTS (
  SELECT 1 FROM events e
  WHERE e.event_key = s.event_key
    AND e.event_time IS NOT DISTINCT FROM s.event_time
)`)
		if err != nil {
			return fmt.Errorf("store events: %w", err)
		}
		n, _ = res.RowsAffected()
	}
	if err := insertFiles(ctx, tx, w.pending); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if _, err := w.conn.ExecContext(ctx, "DELETE FROM temp.staging"); err != nil {
		return fmt.Errorf("clear staging: %w", err)
	}
	w.inserted += n
	w.seen += int64(w.staged)
	w.staged = 0
	w.pending = w.pending[:0]
	return nil
}

func insertFiles(ctx context.Context, tx *sql.Tx, files []*ingest.File) error {
	if len(files) == 0 {
		return nil
	}
	fstmt, err := tx.PrepareContext(ctx, "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer fstmt.Close()
	estmt, err := tx.PrepareContext(ctx, "INSERT INTO ingest_errors VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer estmt.Close()
	now := time.Now().UTC()
	for _, f := range files {
		if _, err := fstmt.ExecContext(ctx, f.ID, f.Path, f.Size, nullStr(f.SHA256), nullStr(f.ContentSHA256),
			nullStr(f.Shape), f.Events, f.Status, nullStr(f.Reason), now); err != nil {
			return fmt.Errorf("record file %s: %w", f.Path, err)
		}
		for _, e := range f.Errors {
			if _, err := estmt.ExecContext(ctx, e.FileID, e.Path, nullInt(e.RecordIndex), nullInt(e.ByteOffset), e.Severity, e.Message); err != nil {
				return fmt.Errorf("record error of %s: %w", f.Path, err)
			}
		}
	}
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(v int64) any {
	if v < 0 {
		return nil
	}
	return v
}

func nullBool(t ingest.Tristate) any {
	switch t {
	case ingest.True:
		return true
	case ingest.False:
		return false
	}
	return nil
}

// eventRow fills args in EventColumns order.
func eventRow(ev *ingest.Event, args []driver.Value) {
	var ts any
	if ev.HasTime {
		ts = ev.Time
	}
	vals := [...]any{
		ev.Key, ts, nullStr(ev.EventVersion), nullStr(ev.EventSource), nullStr(ev.EventName),
		nullStr(ev.EventType), nullStr(ev.EventCategory), nullStr(ev.AWSRegion), nullStr(ev.SourceIP),
		nullStr(ev.UserAgent), nullStr(ev.ErrorCode), nullStr(ev.ErrorMessage), nullBool(ev.ReadOnly),
		nullBool(ev.ManagementEvent), nullStr(ev.UserType), nullStr(ev.UserName), nullStr(ev.UserARN),
		nullStr(ev.PrincipalID), nullStr(ev.AccountID), nullStr(ev.AccessKeyID), nullStr(ev.SessionIssuerARN),
		nullStr(ev.SessionIssuerName), nullStr(ev.InvokedBy), nullBool(ev.MFAAuthenticated), nullStr(ev.Actor),
		nullStr(ev.RecipientAccountID), nullStr(ev.EventID), nullStr(ev.RequestID), nullStr(ev.SharedEventID),
		nullStr(ev.LoginResult), nullStr(ev.MFAUsed), nullStr(ev.MFAIdentifier), nullStr(ev.CredentialType),
		nullStr(ev.CredentialChallenge), nullStr(ev.AuthWorkflowID), nullStr(ev.Outcome),
		nullStr(ev.UserIdentity), nullStr(ev.RequestParameters), nullStr(ev.ResponseElements),
		nullStr(ev.AdditionalEventData), nullStr(ev.ServiceEventDetails), nullStr(ev.Resources),
		ev.Raw, ev.FileID, ev.RecordIndex,
	}
	for i, v := range vals {
		args[i] = v
	}
}

var _ = strings.TrimSpace
