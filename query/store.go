package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"slices"
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
	Parquet  bool // a Parquet dataset read through views (see package lake)
}

// ErrNoStore is returned when a read-only open finds no database.
var ErrNoStore = errors.New("no trailsift database")

// Open opens (creating when writable) the database at path. An empty path
// is an in-memory database, for tests.
func Open(ctx context.Context, path string, readOnly bool) (*Store, error) {
	dsn := path
	if !readOnly {
		// The newest storage format compresses strings with zstd, which the
		// raw column asks for: it makes the database about 3x smaller (and
		// ingest about a third slower). Files in this format need DuckDB 1.5
		// or newer to open.
		dsn += "?storage_compatibility_version=latest"
	}
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w at %s: run `trailsift ingest --db %s EVIDENCE...` first", ErrNoStore, path, path)
		}
		dsn += "?access_mode=READ_ONLY"
	}
	db, err := openDB(ctx, dsn, displayPath(path), storeMemoryLimit)
	if err != nil {
		return nil, err
	}
	s := &Store{DB: db, Path: path, ReadOnly: readOnly}
	if !readOnly {
		if err := s.createSchema(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// offlineSettings keep DuckDB off the network and out of the home folder
// whatever SQL runs: no extension is installed or loaded behind the user's
// back (a remote URL in a query would otherwise download httpfs into
// ~/.duckdb), none from outside DuckDB's signed set, no secret is written to
// ~/.duckdb, and an explicit INSTALL finds no repository to download from.
// They go in the DSN, so they hold from the first statement.
var offlineSettings = []string{
	"autoinstall_known_extensions=false",
	"autoload_known_extensions=false",
	"allow_community_extensions=false",
	"allow_unsigned_extensions=false",
	"allow_persistent_secrets=false",
	"custom_extension_repository=/trailsift-is-offline",
	"autoinstall_extension_repository=/trailsift-is-offline",
}

// openDB opens a DuckDB database with trailsift's settings; name is what
// errors call it, memoryLimit DuckDB's own memory cap.
func openDB(ctx context.Context, dsn, name, memoryLimit string) (*sql.DB, error) {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	connector, err := duckdb.NewConnector(dsn+sep+strings.Join(offlineSettings, "&"), nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	db := sql.OpenDB(connector)
	// A file already open in this process shares its DuckDB instance, whose
	// settings are already made and locked: setting them again would fail.
	var locked bool
	if err := db.QueryRowContext(ctx, "SELECT current_setting('lock_configuration')").Scan(&locked); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if locked {
		return db, nil
	}
	for _, q := range []string{
		// GLOBAL, so every pooled connection gets it: the configuration is
		// locked below and a per-connection SET would fail.
		"SET GLOBAL TimeZone = 'UTC'",
		// Keep DuckDB's own memory bounded whatever the input size.
		"SET memory_limit = '" + memoryLimit + "'",
		"SET preserve_insertion_order = false",
		// Last: no statement can turn the settings above back on.
		"SET lock_configuration = true",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %s: %w", name, q, err)
		}
	}
	return db, nil
}

// storeMemoryLimit caps DuckDB in a store. 400 MB keeps the whole process
// under 1 GiB on the 1.25M-event benchmark, and ran faster there than 1 GB
// did (84 s against 138 s).
const storeMemoryLimit = "400MB"

// OpenMemory opens an empty in-memory DuckDB with the same offline,
// locked settings as a store, for code that reads files through DuckDB
// (the Parquet dataset writer reading its keys back).
func OpenMemory(ctx context.Context, memoryLimit string) (*sql.DB, error) {
	return openDB(ctx, "", "in-memory database", memoryLimit)
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
	if err := s.checkEventColumns(ctx); err != nil {
		return err
	}
	for _, v := range Views {
		if _, err := s.DB.ExecContext(ctx, createViewSQL(v)); err != nil {
			return fmt.Errorf("create view %s: %w", v.Name, err)
		}
	}
	return nil
}

// checkEventColumns refuses a database whose stored event columns are not
// this version's: appending to it would fail half way or misplace values.
func (s *Store) checkEventColumns(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
WHERE table_schema = 'main' AND table_name = 'event_rows' ORDER BY ordinal_position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		have = append(have, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	want := ColumnNames(StoredEventColumns())
	if !slices.Equal(have, want) {
		return fmt.Errorf("%s was made by another version of trailsift (its events table stores other columns): ingest into a new database with --db NEW.duckdb", displayPath(s.Path))
	}
	return nil
}

// manifest is what a store holds already, loaded once per ingest run.
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
	return ReadManifest(ctx, s.DB, "SELECT path, sha256, status FROM files WHERE sha256 IS NOT NULL")
}

// ReadManifest builds a manifest from q, a query returning the path, sha256
// and status of every stored file: from a store's files table, or from a
// Parquet dataset's. A failed file is not stored: it is read again (and
// fails again, visibly) until it loads.
func ReadManifest(ctx context.Context, db *sql.DB, q string) (ingest.Manifest, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read files manifest: %w", err)
	}
	defer rows.Close()
	m := &manifest{paths: map[[2]string]bool{}, contents: map[string]string{}}
	for rows.Next() {
		var p, sha, status string
		if err := rows.Scan(&p, &sha, &status); err != nil {
			return nil, err
		}
		if status == ingest.StatusFailed {
			continue
		}
		m.paths[[2]string{p, sha}] = true
		if _, ok := m.contents[sha]; !ok {
			m.contents[sha] = p
		}
	}
	return m, rows.Err()
}

// Writer is an ingest.Sink that appends to the store through DuckDB's
// Appender. trailsift ingest does not use it: staging the events as
// Parquet and loading them in one INSERT measured twice as fast (see
// lake.StagingDir). It loads small sets in process, as the tests of this
// package do. Events are appended inside a transaction; the manifest rows
// of the files they complete commit with them, so a crash loses nothing a
// re-run does not redo. Before a commit, events already stored are deleted
// again, so a re-run stores nothing twice.
type Writer struct {
	conn      *sql.Conn
	app       *duckdb.Appender
	inTx      bool
	watermark int64             // rowids below it were stored before this transaction
	batch     map[[32]byte]bool // identity digests appended in this transaction
	args      []driver.Value
	pending   []*ingest.File
	staged    int // events handed over since the last commit
	deduped   int64
	inserted  int64
	seen      int64
}

// CommitEvery is the number of appended events that triggers a commit.
const CommitEvery = 50_000

// NewWriter prepares the store for appending events.
func (s *Store) NewWriter(ctx context.Context) (*Writer, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &Writer{conn: conn, batch: map[[32]byte]bool{}, args: make([]driver.Value, len(StoredEventColumns()))}
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", "event_rows")
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

// WriteEvents appends the events whose key this transaction has not
// appended yet; it commits when enough are appended.
func (w *Writer) WriteEvents(events []ingest.Event) error {
	if err := w.begin(); err != nil {
		return err
	}
	for i := range events {
		ev := &events[i]
		k := ingest.IdentityOf(ev).Digest()
		if w.batch[k] {
			w.deduped++
			continue
		}
		w.batch[k] = true
		eventRow(ev, w.args)
		if err := w.app.AppendRow(w.args...); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
	}
	w.seen += int64(len(events))
	w.staged += len(events)
	if w.staged >= CommitEvery {
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

// Flush commits whatever is pending.
func (w *Writer) Flush() error { return w.commit() }

// Close releases the connection; uncommitted work is rolled back.
func (w *Writer) Close() error {
	if w.conn == nil {
		return nil
	}
	err := w.app.Close()
	if w.inTx {
		_, _ = w.conn.ExecContext(context.Background(), "ROLLBACK") // uncommitted work goes, as documented
	}
	err = errors.Join(err, w.conn.Close())
	w.conn = nil
	return err
}

func (w *Writer) begin() error {
	if w.inTx {
		return nil
	}
	ctx := context.Background()
	if _, err := w.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.inTx = true
	// Rows stored before this transaction have lower rowids than the rows
	// it appends.
	if err := w.conn.QueryRowContext(ctx, "SELECT coalesce(max(rowid) + 1, 0) FROM event_rows").Scan(&w.watermark); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// SameEventSQL is the condition under which row o (stored) and row n (new)
// of event_rows are one event. The 64-bit key is only the index: the
// identity itself is compared (the fields of ingest.Identity), so a key
// collision, crafted or not, can never drop an event. For an event
// identified by its content (ingest.RawKeyBit set) that is raw itself.
func SameEventSQL(o, n string) string {
	return SameEventColumnsSQL(o, n) + fmt.Sprintf("\n    AND (%[2]s.event_key < %[3]d::UBIGINT OR %[1]s.raw = %[2]s.raw)", o, n, ingest.RawKeyBit)
}

// SameEventColumnsSQL is SameEventSQL without raw: equalities only, which
// DuckDB runs as a hash join without reading the stored events' raw.
// Alone it decides for events identified by their eventID (a key below
// ingest.RawKeyBit).
func SameEventColumnsSQL(o, n string) string {
	cond := []string{fmt.Sprintf("%s.event_key = %s.event_key", o, n)}
	for _, c := range []string{"event_time", "event_id", "event_source", "event_name", "recipient_account_id", "aws_region", "account_id"} {
		cond = append(cond, fmt.Sprintf("%[1]s.%[3]s IS NOT DISTINCT FROM %[2]s.%[3]s", o, n, c))
	}
	return strings.Join(cond, "\n    AND ")
}

// dedupeSQL deletes the events appended in this transaction (rowid at or
// above the watermark taken at its start) whose key and time were stored
// before. It reads two narrow columns, not the events themselves.
var dedupeSQL = `DELETE FROM event_rows WHERE rowid IN (
  SELECT n.rowid FROM event_rows n
  WHERE n.rowid >= ? AND EXISTS (
    SELECT 1 FROM event_rows o
    WHERE o.rowid < ? AND ` + SameEventSQL("o", "n") + `))`

// commit flushes the appender, deletes this transaction's duplicates and
// commits the events with the manifest rows of the files they complete.
// It uses the background context: once started, a commit finishes even
// on Ctrl-C.
func (w *Writer) commit() error {
	if w.staged == 0 && len(w.pending) == 0 {
		return nil
	}
	ctx := context.Background()
	if err := w.begin(); err != nil {
		return err
	}
	if err := w.app.Flush(); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	res, err := w.conn.ExecContext(ctx, dedupeSQL, w.watermark, w.watermark)
	if err != nil {
		return fmt.Errorf("remove duplicates: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := insertFiles(w.conn, w.pending); err != nil {
		return err
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.inTx = false
	w.inserted += int64(w.staged) - w.deduped - n
	w.staged, w.deduped = 0, 0
	w.pending = w.pending[:0]
	clear(w.batch)
	return nil
}

// insertFiles appends manifest and error rows on conn, inside its open
// transaction.
func insertFiles(conn *sql.Conn, files []*ingest.File) error {
	if len(files) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		fa, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", "files")
		if err != nil {
			return err
		}
		defer func() { _ = fa.Close() }() // the rows are flushed and checked below
		ea, err := duckdb.NewAppender(dc.(driver.Conn), "", "main", "ingest_errors")
		if err != nil {
			return err
		}
		defer func() { _ = ea.Close() }()
		now := time.Now().UTC()
		for _, f := range files {
			if err := fa.AppendRow(f.ID, f.Path, f.Size, nullStr(f.SHA256), nullStr(f.ContentSHA256),
				nullStr(f.Shape), f.Events, f.Status, nullStr(f.Reason), now); err != nil {
				return fmt.Errorf("record file %s: %w", f.Path, err)
			}
			for _, e := range f.Errors {
				if err := ea.AppendRow(e.FileID, e.Path, nullInt(e.RecordIndex), nullInt(e.ByteOffset), e.Severity, e.Message); err != nil {
					return fmt.Errorf("record error of %s: %w", f.Path, err)
				}
			}
		}
		if err := fa.Flush(); err != nil {
			return fmt.Errorf("record files: %w", err)
		}
		if err := ea.Flush(); err != nil {
			return fmt.Errorf("record errors: %w", err)
		}
		return nil
	})
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

// eventRow fills args in StoredEventColumns order.
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
		nullStr(ev.RecipientAccountID), nullStr(ev.EventID),
		nullStr(ev.LoginResult), nullStr(ev.MFAUsed), nullStr(ev.MFAIdentifier), nullStr(ev.CredentialType),
		nullStr(ev.CredentialChallenge), nullStr(ev.AuthWorkflowID), nullStr(ev.Outcome),
		ev.Raw, ev.FileID, ev.RecordIndex,
	}
	for i, v := range vals {
		args[i] = v
	}
}
