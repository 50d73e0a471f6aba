// Command v1store remakes the store of the previous release (commit
// 4ea3af7, before schema versions) that TestMigratesPreviousRelease opens.
// It builds that release in a temporary folder, ingests some fixtures of
// ingest/testdata with it, and exports the database as SQL and CSV here;
// the evidence paths become $TESTDATA, which the test puts back. Run it
// from the repository root, once, when the fixture needs remaking:
//
//	go run ./query/testdata/v1store
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"
)

const release = "4ea3af7"

// inputs overlap: records, event-history and lookup-events hold the same
// three events; truncated-gzip fails; time-formats has an unreadable time.
var inputs = []string{"records", "event-history", "lookup-events", "ndjson", "time-formats", "truncated-gzip"}

func main() {
	tmp, err := os.MkdirTemp("", "trailsift-v1store-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	must(os.Mkdir(src, 0o755))
	must(sh("", "sh", "-c", "git archive "+release+" | tar -x -C "+src))
	bin := filepath.Join(tmp, "trailsift")
	must(sh(src, "go", "build", "-o", bin, "./cmd/trailsift"))
	testdata, err := filepath.Abs(filepath.Join("ingest", "testdata"))
	must(err)
	db := filepath.Join(tmp, "v1.duckdb")
	var args []string
	for _, in := range inputs {
		args = append(args, filepath.Join(testdata, in))
	}
	// Exit 3: the truncated file fails, as it should.
	if err := sh("", bin, append([]string{"ingest", "-q", "--db", db}, args...)...); err != nil {
		log.Print(err)
	}
	out := filepath.Join(tmp, "export")
	conn, err := sql.Open("duckdb", db+"?access_mode=READ_ONLY")
	must(err)
	_, err = conn.ExecContext(context.Background(), "EXPORT DATABASE '"+out+"' (FORMAT csv)")
	must(err)
	must(conn.Close())
	here := filepath.Join("query", "testdata", "v1store")
	files, err := os.ReadDir(out)
	must(err)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(out, f.Name()))
		must(err)
		s := strings.ReplaceAll(string(b), testdata, "$TESTDATA")
		s = strings.ReplaceAll(s, out, "$EXPORT")
		must(os.WriteFile(filepath.Join(here, f.Name()), []byte(s), 0o644))
	}
	fmt.Println("wrote", here)
}

func sh(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	return cmd.Run()
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
