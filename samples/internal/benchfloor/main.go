// Command benchfloor measures the baselines trailsift's ingest is compared
// with, on the same files: gunzip alone (the floor) and DuckDB's own JSON
// reader. samples/bench.sh runs it.
//
//	benchfloor gunzip DIR          decompress every .json.gz under DIR on all cores
//	benchfloor decode DIR          trailsift's decoder alone, events discarded
//	benchfloor duckdb DIR DB       load DIR with read_json into typed columns + raw
//	benchfloor store SRC DB        copy the events of store SRC into a new store DB
//	benchfloor sessions DB         time the sessions build over store DB, as a load runs it (on a copy)
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/gzip"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/query"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: benchfloor gunzip DIR | benchfloor decode DIR | benchfloor store SRC DB | benchfloor sessions DB | benchfloor duckdb DIR DB")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gunzip":
		err = gunzipAll(os.Args[2])
	case "decode":
		err = decodeAll(os.Args[2])
	case "store":
		if len(os.Args) < 4 {
			err = fmt.Errorf("store needs SRC and DB")
		} else {
			err = storeFloor(os.Args[2], os.Args[3])
		}
	case "sessions":
		err = sessionsBuild(os.Args[2])
	case "duckdb":
		if len(os.Args) < 4 {
			err = fmt.Errorf("duckdb needs DIR and DB")
		} else {
			err = duckdbNative(os.Args[2], os.Args[3])
		}
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfloor:", err)
		os.Exit(1)
	}
}

func listGz(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json.gz") {
			files = append(files, p)
		}
		return err
	})
	return files, err
}

func gunzipAll(dir string) error {
	files, err := listGz(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	var out atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One reader per goroutine, reset for each file, as the
			// ingest's workers do: the floor is not charged with
			// allocating a decompressor per file.
			var zr *gzip.Reader
			for p := range work {
				f, err := os.Open(p)
				if err != nil {
					firstErr.Store(err)
					continue
				}
				if zr == nil {
					zr, err = gzip.NewReader(f)
				} else {
					err = zr.Reset(f)
				}
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, zr)
					out.Add(n)
				}
				if err != nil {
					firstErr.Store(fmt.Errorf("%s: %w", p, err))
				}
				f.Close()
			}
		}()
	}
	for _, p := range files {
		work <- p
	}
	close(work)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return e.(error)
	}
	el := time.Since(start)
	fmt.Printf("gunzip floor: %d files, %.0f MB of JSON in %.2fs (%.0f MB/s, %d goroutines)\n",
		len(files), float64(out.Load())/1e6, el.Seconds(), float64(out.Load())/1e6/el.Seconds(), runtime.GOMAXPROCS(0))
	return nil
}

// nativeColumns are the typed columns of the read_json baseline: the
// ones trailsift's rules filter on first, read from each event's JSON.
var nativeColumns = []string{
	"TRY_CAST(e->>'eventTime' AS TIMESTAMP) AS event_time",
	"e->>'eventSource' AS event_source",
	"e->>'eventName' AS event_name",
	"e->>'awsRegion' AS aws_region",
	"e->>'sourceIPAddress' AS source_ip",
	"e->>'userAgent' AS user_agent",
	"e->>'errorCode' AS error_code",
	"e->>'eventID' AS event_id",
	"e->>'recipientAccountId' AS recipient_account_id",
	"e->>'$.userIdentity.type' AS user_type",
	"e->>'$.userIdentity.arn' AS user_arn",
	"e->>'$.userIdentity.accountId' AS account_id",
	"e->>'$.userIdentity.accessKeyId' AS access_key_id",
	"e::VARCHAR AS raw",
}

// duckdbNative is the baseline issue 15 defines: DuckDB's own read_json
// of the same files into one table of typed columns plus the raw event,
// in one SQL statement, without dedupe.
func duckdbNative(dir, dbPath string) error {
	_ = os.Remove(dbPath) // from an earlier run, if any
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET preserve_insertion_order = false"); err != nil {
		return err
	}
	glob := filepath.Join(dir, "**", "*.json.gz")
	start := time.Now()
	q := fmt.Sprintf(`CREATE TABLE events AS SELECT %s FROM (SELECT unnest(Records) AS e FROM read_json('%s', format='auto', maximum_object_size=1073741824, union_by_name=true, columns={'Records': 'JSON[]'}))`,
		strings.Join(nativeColumns, ", "), strings.ReplaceAll(glob, "'", "''"))
	if _, err := db.Exec(q); err != nil {
		return err
	}
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		return err
	}
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		return err
	}
	el := time.Since(start)
	db.Close()
	fi, _ := os.Stat(dbPath)
	fmt.Printf("duckdb read_json baseline: %d events in %.2fs (%.0f events/s), typed columns + raw, database %.0f MB\n", n, el.Seconds(), float64(n)/el.Seconds(), float64(fi.Size())/1e6)
	return nil
}

// discard is a sink that counts events and keeps none: what decoding costs
// before any store is written.
type discard struct{ events int }

func (d *discard) WriteEvents(events []ingest.Event) error { d.events += len(events); return nil }
func (d *discard) FileDone(*ingest.File) error             { return nil }
func (d *discard) Flush() error                            { return nil }

func decodeAll(dir string) error {
	start := time.Now()
	var sink discard
	st, err := ingest.Run(context.Background(), []string{dir}, &sink, ingest.Options{})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("decode floor: %d events from %d MB gzipped in %.2fs (%.0f events/s, %d workers)\n",
		sink.events, st.Bytes/1_000_000, secs, float64(sink.events)/secs, runtime.GOMAXPROCS(0))
	return nil
}

// sessionsBuild times the sessions build over the events of the store at
// path as a load runs it (Store.UpdateSessions: the stages outside a
// transaction, the table replaced in one), on a copy of the store made
// beside it and removed after, so the store is left as it was. It prints
// the wall and CPU seconds.
func sessionsBuild(path string) error {
	ctx := context.Background()
	work := path + ".sessions-bench"
	if err := copyFile(path, work); err != nil {
		return err
	}
	// A store not checkpointed when it was closed keeps its last commits
	// in its write-ahead log.
	if _, err := os.Stat(path + ".wal"); err == nil {
		if err := copyFile(path+".wal", work+".wal"); err != nil {
			return err
		}
	}
	defer func() {
		_ = os.Remove(work)
		_ = os.Remove(work + ".wal")
	}()
	s, err := query.Open(ctx, work, false)
	if err != nil {
		return err
	}
	defer s.Close()
	var events, sessions int64
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM event_rows").Scan(&events); err != nil {
		return err
	}
	// As the first load of the events leaves the store for the build: no
	// sessions yet, and the mark a load leaves between storing its events
	// and the build. The events are read cold from the file, where a load
	// finds those it just stored in DuckDB's memory.
	for _, q := range []string{"DELETE FROM session_rows", "CHECKPOINT", "INSERT INTO sessions_pending VALUES (now())"} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	start, cpu0 := time.Now(), cpuTime()
	if err := s.UpdateSessions(ctx); err != nil {
		return err
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	if s.SessionsSkipped != nil {
		return fmt.Errorf("the sessions build failed: %w", s.SessionsSkipped)
	}
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&sessions); err != nil {
		return err
	}
	fmt.Printf("sessions build: %d sessions from %d events in %.2fs (%.2fs CPU), the store opened cold\n", sessions, events, wall.Seconds(), cpu.Seconds())
	return nil
}

// copyFile copies the file src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// storeFloor times DuckDB alone writing a store's events into a new store
// with trailsift's table definitions and settings: DuckDB's own share of
// any ingest, whatever feeds it. Reading them back from src is included,
// so it errs on the high side.
func storeFloor(src, dst string) error {
	ctx := context.Background()
	_ = os.Remove(dst) // from an earlier run, if any
	_ = os.Remove(dst + ".wal")
	s, err := query.Open(ctx, dst, false)
	if err != nil {
		return err
	}
	defer s.Close()
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH "+query.StringLiteral(src)+" AS src (READ_ONLY)"); err != nil {
		return err
	}
	start := time.Now()
	res, err := conn.ExecContext(ctx, "INSERT INTO event_rows BY NAME SELECT * EXCLUDE (event_id) FROM src.event_rows")
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	fmt.Printf("duckdb store floor: %d stored events written again into a new store in %.2fs (DuckDB's own share of an ingest)\n",
		n, time.Since(start).Seconds())
	return nil
}
