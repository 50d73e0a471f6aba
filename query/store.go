package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/trailsift/trailsift/ingest"
)

// Store is a trailsift case database: an ordinary DuckDB file holding the
// events, files and ingest_errors tables.
type Store struct {
	DB        *sql.DB
	Path      string
	ReadOnly  bool
	Parquet   bool            // a Parquet dataset read through views (see package lake)
	Migrated  *Migration      // set when Open migrated an older store
	spillDir  string          // an in-memory or read-only database's private spill folder, removed by Close
	onConnect *connStatements // what each new connection runs first (temporary views)
	// issuedReadAround: event_rows is a temporary view computing
	// issued_credential (readAroundIssued), not the stored table.
	issuedReadAround bool
	close            func() error // closes DB, or lets go of a store opened twice (openAttached)
	// SessionsStale: a Parquet dataset whose stored sessions are missing or
	// older than its events (an ingest stopped before storing them): its
	// sessions view builds them from the events in every query that reads
	// it, until MaterializeSessions builds them once.
	SessionsStale bool
	// SessionsSkipped is the warning of an UpdateSessions whose build
	// failed, leaving the sessions table empty (nil when it rebuilt it),
	// as ingest_errors records it.
	SessionsSkipped error
	// EventsIn, for a store whose events are kept in files by day (a
	// Parquet dataset), selects the events view's columns from only the
	// files that can hold events in [since, until) (a zero time is no
	// bound); "" when that is every file. Nil for a DuckDB store. See
	// WindowEvents.
	EventsIn func(since, until time.Time) string
	// EventsHolding, for such a store, selects for each of conds (on the
	// stored columns) the events view's columns from only the files of
	// [since, until) that hold an event the condition is true of: the
	// shared relations' staging (DetectOptions.EventsHolding). "" is every
	// file of the window. Nil for a DuckDB store.
	EventsHolding func(ctx context.Context, conn *sql.Conn, since, until time.Time, conds []string) ([]string, error)
	// TypedEvents, for a Parquet dataset that keeps a copy of its events'
	// columns but raw in a few files, selects the events view's columns
	// from it (see query.TypedEvents); "" otherwise.
	TypedEvents string
}

// Window sets opts.Events, opts.EventsHolding and opts.Typed for a
// detection run over [opts.Since, opts.Until) on the store.
func (s *Store) Window(opts *DetectOptions) {
	opts.Events = s.WindowEvents(opts.Since, opts.Until)
	opts.Typed = s.TypedEvents
	if s.EventsHolding == nil {
		opts.EventsHolding = nil
		return
	}
	since, until := opts.Since, opts.Until
	opts.EventsHolding = func(ctx context.Context, conn *sql.Conn, conds []string) ([]string, error) {
		return s.EventsHolding(ctx, conn, since, until, conds)
	}
}

// WindowEvents is what DetectOptions.Events should be for a run over
// [since, until): the events of only the days of the window when the store
// keeps them by day, and "" (the events view) otherwise.
func (s *Store) WindowEvents(since, until time.Time) string {
	if s.EventsIn == nil || since.IsZero() && until.IsZero() {
		return ""
	}
	return s.EventsIn(since, until)
}

// Migration says what Open did to a store made by an older trailsift.
type Migration struct {
	From   int   // the schema version it had
	Merged int64 // stored events that this version finds to be copies of another, kept once
}

// Describe says what the migration of the store at path did, for the
// person who ran it: every migration writes the events again (see
// storeEventIDs), and DuckDB does not shrink the file.
func (m *Migration) Describe(path string) string {
	merged := ""
	if m.From == 1 { // only a migration from version 1 decodes the events again
		merged = fmt.Sprintf(" (%d stored events were copies of another and are kept once)", m.Merged)
	}
	return fmt.Sprintf("migrated %s from store schema version %d to %d%s: its events were written again, and the file keeps "+
		"the old copy's space, free for later ingests (ingest into a new database for a smaller file)", displayPath(path), m.From, SchemaVersion, merged)
}

// ErrNoStore is returned when a read-only open finds no database.
var ErrNoStore = errors.New("no trailsift database")

// Open opens (creating when writable) the database at path. An empty path
// is an in-memory database, for tests.
func Open(ctx context.Context, path string, readOnly bool) (*Store, error) {
	return open(ctx, path, readOnly, storeMemoryLimit)
}

// OpenToStream opens the store at path read-only, as Open does, for a run
// that streams its rows out once (export): DuckDB's memory is capped lower,
// as it would only keep the blocks it read cached up to its cap, beside the
// Go writer's buffers (export of the 1.25M-event bench store: peak RSS 1.06
// -> 0.95 GiB, 2% slower).
func OpenToStream(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, true, streamMemoryLimit)
}

func open(ctx context.Context, path string, readOnly bool, memoryLimit string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch {
	case readOnly:
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w at %s: run `trailsift ingest --db %s EVIDENCE...` first", ErrNoStore, path, path)
		}
		if attachedHere(path) {
			return nil, fmt.Errorf("open %s read-only: this process has it open for writing", path)
		}
		s, err = openPlain(ctx, path+"?access_mode=READ_ONLY", path, true, memoryLimit)
	case path == "":
		s, err = openPlain(ctx, "?storage_compatibility_version=latest", path, false, memoryLimit)
	default:
		s, err = openAttached(ctx, path)
	}
	if err != nil {
		return nil, err
	}
	db := s.DB
	v, err := storedVersion(ctx, db)
	if err == nil {
		err = checkVersion(v, path)
	}
	if err == nil && !readOnly {
		err = s.prepare(ctx, v)
	}
	if err == nil && readOnly && v > 0 && v < 4 {
		// Before the sessions' views, which read it.
		err = s.readAroundIssued(ctx)
	}
	if err == nil && readOnly && v >= 4 {
		err = s.readAroundOldViews(ctx, v)
	}
	if err == nil && readOnly && v >= 2 {
		err = s.readAroundStaleSessions(ctx, v)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// StoredEventsSQL selects the columns of event_rows (StoredEventColumns)
// through the events view, which computes issued_credential for a store
// made before it, opened read-only (readAroundIssued).
func (s *Store) StoredEventsSQL() string {
	return "SELECT " + ColumnList(StoredEventColumns()) + " FROM events"
}

// StoredEvents reads every stored event's columns (StoredEventColumns) in
// windows of event_rows itself; a store read around (readAroundIssued),
// whose event_rows is a view, through a copy (Stream).
func (s *Store) StoredEvents(ctx context.Context) (*Rows, error) {
	if s.issuedReadAround {
		return Stream(ctx, s.DB, s.StoredEventsSQL())
	}
	return StreamTable(ctx, s.DB, "event_rows", ColumnList(StoredEventColumns()))
}

// prepare makes the database at version v a store of SchemaVersion to
// write into: it creates what is missing and migrates an older store.
func (s *Store) prepare(ctx context.Context, v int) error {
	switch v {
	case SchemaVersion:
		return s.createSchema(ctx, s.DB)
	case 0:
		conn, err := s.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return inTx(ctx, conn, func() error {
			if err := s.createSchema(ctx, conn); err != nil {
				return err
			}
			return setVersion(ctx, conn)
		})
	}
	merged, err := s.upgrade(ctx, v)
	if err != nil {
		return fmt.Errorf("migrate %s from store schema version %d to %d: %w (the store is unchanged)", displayPath(s.Path), v, SchemaVersion, err)
	}
	s.Migrated = &Migration{From: v, Merged: merged}
	return nil
}

// openPlain opens dsn as DuckDB's main database: a read-only store, or an
// in-memory one.
func openPlain(ctx context.Context, dsn, path string, readOnly bool, memoryLimit string) (*Store, error) {
	onConnect := &connStatements{}
	db, spill, err := openDB(ctx, dsn, displayPath(path), memoryLimit, onConnect, "")
	if err != nil {
		return nil, err
	}
	return &Store{DB: db, Path: path, ReadOnly: readOnly, spillDir: spill, onConnect: onConnect, close: db.Close}, nil
}

// A writable store's file is attached to an in-memory DuckDB (as
// storeCatalog, every connection's default), not opened as its main
// database: only ATTACH takes a row group size, and the store's rows go
// in row groups of storeRowGroupSize.
const (
	storeCatalog = "store"
	// Half DuckDB's default. Each thread of an insert holds the row group
	// it fills uncompressed until it is full, raw included (about 180 MB
	// of the bench corpus's events at the default): two threads spilled
	// 170 MB to disk under the store's memory cap, most of an ingest's
	// peak disk, and took a fifth longer. At this size the bench load
	// spills 12 MB and peaks 130 MB lower in memory; the bench ingest
	// took 20.8 s instead of 23.1, its peak disk 1.4x the store instead
	// of 2.05x, and the store is 0.6% larger.
	storeRowGroupSize = 61440
)

// attached is every store file this process has open for writing, by
// real path (attachKey): DuckDB does not stop two instances of one process from
// attaching one file (each would write it as if alone), so a second open
// shares the first's instance, as DuckDB does for a database it opens by
// path.
var attached = struct {
	sync.Mutex
	open map[string]*sharedStore
}{open: map[string]*sharedStore{}}

type sharedStore struct {
	db        *sql.DB
	onConnect *connStatements
	spillDir  string
	refs      int
}

// attachKey names the file at path whatever the path's spelling: relative
// or absolute, through a symbolic link or not (the file itself may not
// exist yet).
func attachKey(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// attachedHere says whether this process has the store at path open for
// writing.
func attachedHere(path string) bool {
	attached.Lock()
	defer attached.Unlock()
	return attached.open[attachKey(path)] != nil
}

// openAttached opens the store file at path for writing (see storeCatalog).
func openAttached(ctx context.Context, path string) (*Store, error) {
	key := attachKey(path)
	attached.Lock()
	defer attached.Unlock()
	sh := attached.open[key]
	if sh == nil {
		// The newest storage format compresses strings with zstd, which
		// the raw column asks for: it makes the database about 3x smaller
		// (and ingest about a third slower). Files in this format need
		// DuckDB 1.5 or newer to open.
		attach := fmt.Sprintf("ATTACH IF NOT EXISTS %s AS %s (STORAGE_VERSION 'latest', ROW_GROUP_SIZE %d)",
			StringLiteral(path), storeCatalog, storeRowGroupSize)
		// Every connection of the pool, the first included, attaches
		// (once per instance) and reads and writes the store by default.
		onConnect := &connStatements{stmts: []string{attach, "USE " + storeCatalog}}
		db, spill, err := openDB(ctx, "", displayPath(path), storeMemoryLimit, onConnect, path+".tmp")
		if err != nil {
			return nil, err
		}
		sh = &sharedStore{db: db, onConnect: onConnect, spillDir: spill}
		attached.open[key] = sh
	}
	sh.refs++
	var once sync.Once
	release := func() (err error) {
		once.Do(func() { // a Store closed twice lets go once
			attached.Lock()
			defer attached.Unlock()
			if sh.refs--; sh.refs > 0 {
				return
			}
			delete(attached.open, key)
			err = sh.db.Close()
			_ = os.Remove(sh.spillDir) // DuckDB removed its files; the folder goes if empty
		})
		return err
	}
	return &Store{DB: sh.db, Path: path, onConnect: sh.onConnect, close: release}, nil
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
// errors call it, memoryLimit DuckDB's own memory cap. An in-memory
// database (dsn without a path) spills into a private folder under the
// system's temporary folder, returned as spill for the caller to remove:
// DuckDB's default is .tmp in the working folder, which may be the
// evidence. A database file spills beside itself, as DuckDB does.
//
// onConnect, when not nil, holds statements every new connection of the
// pool runs first (see connStatements). spillDir, when not empty, is where
// it spills instead (a store file attached to an in-memory database spills
// beside itself, as when opened by path).
func openDB(ctx context.Context, dsn, name, memoryLimit string, onConnect *connStatements, spillDir string) (db *sql.DB, spill string, err error) {
	spill = spillDir
	// An in-memory database, and a store opened read-only (which may be on
	// read-only media, and whose folder a reader should not write in),
	// spill to a private folder of the system's temporary directory.
	if spill == "" && (dsn == "" || strings.HasPrefix(dsn, "?") || strings.Contains(dsn, "access_mode=READ_ONLY")) {
		sweepOnce.Do(sweepStaleSpills)
		spill = filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", ingest.SpillFolderPrefix(), spillSeq.Add(1)))
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	var initConn func(driver.ExecerContext) error
	if onConnect != nil {
		initConn = onConnect.run
	}
	connector, err := duckdb.NewConnector(dsn+sep+strings.Join(offlineSettings, "&"), initConn)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	db = sql.OpenDB(connector)
	// A file already open in this process shares its DuckDB instance, whose
	// settings are already made and locked: setting them again would fail.
	var locked bool
	if err := db.QueryRowContext(ctx, "SELECT current_setting('lock_configuration')").Scan(&locked); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	if locked {
		return db, "", nil
	}
	settings := []string{
		// GLOBAL, so every pooled connection gets it: the configuration is
		// locked below and a per-connection SET would fail.
		"SET GLOBAL TimeZone = 'UTC'",
		// Keep DuckDB's own memory bounded whatever the input size.
		"SET memory_limit = '" + memoryLimit + "'",
		"SET preserve_insertion_order = false",
		// No row groups merged at a checkpoint. A parallel insert leaves
		// each thread's last row group part-full; the checkpoint after
		// the load merged them, rewriting every row group after the
		// first part-full one and leaving the blocks they had used free
		// in the file: a 300k-event store was 1.48x its size, a third of
		// the file free blocks, and the checkpoint cost a sixth of the
		// ingest. Part-full row groups cost little to read; the row
		// groups a DELETE empties (the sessions table's, rebuilt after
		// every load) are still dropped.
		"SET max_vacuum_tasks = 0",
		// A Parquet dataset's footers are read once per process, not once
		// per query: detect --parquet ran 15% faster on the bench corpus.
		// Committed parts never change (lake writes new files).
		"SET parquet_metadata_cache = true",
		// DuckDB copies what it reads of a Parquet file into a cache of its
		// own, for remote files; for local ones the OS caches the same
		// pages. Without it the rules over the bucket corpus's dataset
		// (1,440 partitions) took 3.4 s, not 4.4, and 280 MB, not 420;
		// its sessions build 6.3 s, not 8.4.
		"SET enable_external_file_cache = false",
	}
	if spill != "" {
		settings = append(settings, "SET temp_directory = "+StringLiteral(spill))
	}
	// Last: no statement can turn the settings above back on.
	settings = append(settings, "SET lock_configuration = true")
	for _, q := range settings {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, "", fmt.Errorf("open %s: %s: %w", name, q, err)
		}
	}
	return db, spill, nil
}

// connStatements are statements each new connection of a pool runs before
// any other: a temporary view is a connection's own, and database/sql may
// run the next query on another connection of its pool.
type connStatements struct {
	mu    sync.Mutex
	stmts []string
}

func (c *connStatements) add(stmts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stmts = append(c.stmts, stmts...)
}

func (c *connStatements) run(conn driver.ExecerContext) error {
	c.mu.Lock()
	stmts := slices.Clone(c.stmts)
	c.mu.Unlock()
	for _, q := range stmts {
		if _, err := conn.ExecContext(context.Background(), q, nil); err != nil {
			return err
		}
	}
	return nil
}

// spillSeq numbers the spill folders of one process's in-memory databases.
var spillSeq atomic.Int64

// storeMemoryLimit caps DuckDB in a store. 400 MB keeps the whole process
// under 1 GiB on the bench corpus, and ran faster there than a higher cap
// (samples/bench.sh measures it).
const storeMemoryLimit = "400MB"

// streamMemoryLimit caps DuckDB in a store opened to stream its rows out
// (OpenToStream).
const streamMemoryLimit = "200MB"

// buildMemoryLimit caps DuckDB in a dataset's sessions build at the end of
// an ingest or export (OpenSourcesToBuild). DuckDB's memory outgrows its
// cap by 200 MB or more, and the process still holds about 100 MB of its
// run: under 400 MB the 10M-event bench's build peaked at 812 MiB, 1.29x
// the read's peak. The build alone on that dataset, in six runs: 456-539
// MB under 250 MB against 588-726 under 400, 24-29 s against 23-33; on the
// 1.25M-event one 345-351 MB against 453-469, 4.5-5.3 s against 4.1-5.3.
const buildMemoryLimit = "250MB"

// OpenMemory opens an empty in-memory DuckDB with the same offline,
// locked settings as a store, for code that reads files through DuckDB
// (the Parquet dataset writer reading its keys back).
func OpenMemory(ctx context.Context, memoryLimit string) (*Store, error) {
	db, spill, err := openDB(ctx, "", "in-memory database", memoryLimit, nil, "")
	if err != nil {
		return nil, err
	}
	return &Store{DB: db, spillDir: spill}, nil
}

func displayPath(p string) string {
	if p == "" {
		return "in-memory database"
	}
	return p
}

// Checkpoint writes into the store's file what its write-ahead log holds
// (small loads go through the log), as DuckDB does when the log grows
// past its threshold or the store closes. A load does it before the
// sessions build, so that the build's commit does not pay for the load.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.ReadOnly || s.Parquet {
		return nil
	}
	catalog, err := s.catalog(ctx)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, "CHECKPOINT "+catalog)
	return err
}

// catalog is the store's database as DuckDB names it, quoted: a name that
// finds the stored table or view where a temporary one shadows it
// (catalog.main.name).
func (s *Store) catalog(ctx context.Context) (string, error) {
	var name string
	if err := s.DB.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		return "", err
	}
	return quoteIdent(name), nil
}

// Close closes the database (and removes an in-memory one's spill folder).
func (s *Store) Close() error {
	closeDB := s.close
	if closeDB == nil {
		closeDB = s.DB.Close
	}
	err := closeDB()
	if s.spillDir != "" {
		_ = os.RemoveAll(s.spillDir) // DuckDB removed its files; this is the folder
	}
	return err
}

// execQuerier is a database or one of its connections.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// execEach runs stmts on db in order, stopping at the first that fails.
func execEach(ctx context.Context, db execQuerier, stmts ...string) error {
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// createSchema creates the tables the store lacks and (again) its views,
// on db (a connection in a transaction, for a migration).
func (s *Store) createSchema(ctx context.Context, db execQuerier) error {
	for _, t := range Tables {
		if _, err := db.ExecContext(ctx, createTableSQL(t, false)); err != nil {
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
	}
	if err := s.checkEventColumns(ctx, db); err != nil {
		return err
	}
	for _, v := range Views {
		if _, err := db.ExecContext(ctx, createViewSQL(v)); err != nil {
			return fmt.Errorf("create view %s: %w", v.Name, err)
		}
	}
	return nil
}

// checkEventColumns refuses a database whose stored event columns are not
// this version's: appending to it would fail half way or misplace values.
func (s *Store) checkEventColumns(ctx context.Context, db execQuerier) error {
	rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
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
	want := ColumnNames(eventRowsTable("event_rows").declaredColumns())
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
// fails again, visibly) until it loads. A duplicate's row does not make
// its content known: it may have been committed before the file it
// repeats was read whole (a run stopped in between), and that file must
// then be read again, not called a duplicate of it.
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
		if _, ok := m.contents[sha]; !ok && status != ingest.StatusDuplicate {
			m.contents[sha] = p
		}
	}
	return m, rows.Err()
}

// nullStr stores an empty string as NULL, as every text column does.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}
