package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/trailsift/trailsift/samples/hostile"
)

// TestAdversarialSuite ingests every hostile case into a DuckDB store and a
// Parquet dataset and checks that exactly the CloudTrail events the case
// holds were stored: none lost, none invented, none stored twice when the
// same command runs again. Nothing may crash (exit 1) or wedge the store.
func TestAdversarialSuite(t *testing.T) {
	for _, c := range hostile.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			evidence := filepath.Join(t.TempDir(), "evidence")
			if err := hostile.Write(evidence, c); err != nil {
				t.Fatal(err)
			}
			for _, flag := range []string{"--db", "--parquet"} {
				target := filepath.Join(t.TempDir(), "case")
				if flag == "--db" {
					target += ".duckdb"
				}
				for attempt := 1; attempt <= 2; attempt++ {
					args := append([]string{"ingest", "--quiet", flag, target}, c.Args...)
					stderr, code := ingestCase(t, c, evidence, args)
					if code != exitOK && code != exitPartial {
						t.Fatalf("%s run %d: exit %d: %s", flag, attempt, code, stderr)
					}
					if got := storedEvents(t, flag, target); got != c.Events {
						t.Errorf("%s run %d: %d events stored, want %d (%s); stderr: %s", flag, attempt, got, c.Events, c.Why, stderr)
					}
				}
			}
		})
	}
}

// storedEvents counts the events of a store and closes it again, so the
// next run can write to it.
func storedEvents(t *testing.T, flag, target string) int {
	t.Helper()
	s := openCase(t, flag, target)
	defer s.Close()
	var n int
	if err := s.DB.QueryRow("select count(*) from events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ingestCase feeds the case to ingest as a folder, through stdin or
// through a named pipe.
func ingestCase(t *testing.T, c hostile.Case, evidence string, args []string) (string, int) {
	t.Helper()
	switch c.Via {
	case "stdin":
		_, stderr, code := run(t, string(c.Files[0].Data), append(args, "-")...)
		return stderr, code
	case "fifo":
		fifo := filepath.Join(t.TempDir(), "pipe")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		go func() {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			f.Write(c.Files[0].Data)
			f.Close()
		}()
		_, stderr, code := run(t, "", append(args, fifo)...)
		return stderr, code
	}
	_, stderr, code := run(t, "", append(args, evidence)...)
	return stderr, code
}
