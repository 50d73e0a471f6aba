package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// runWith runs the CLI in-process on streams the test chose (a terminal's
// width, say), as Main would on real ones.
func runWith(t *testing.T, ios *streams, args ...string) int {
	t.Helper()
	root := newRootCommand(ios)
	root.SetArgs(args)
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	return report(ios.Err, root.ExecuteContext(context.Background()))
}

// TestTerminalWidthFromStreams: tables fit the width the streams report;
// no command looks at *os.File itself (only Main does), so a test or a
// pipe gets what it asked for.
func TestTerminalWidthFromStreams(t *testing.T) {
	db := ingestedCase(t)
	widest := func(width int) int {
		var out, errb bytes.Buffer
		ios := &streams{In: strings.NewReader(""), Out: &out, Err: &errb, outWidth: width}
		if code := runWith(t, ios, "query", "--db", db, "select repeat('x', 300) as wide, event_name from events"); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		most := 0
		for _, line := range strings.Split(out.String(), "\n") {
			most = max(most, utf8.RuneCountInString(line))
		}
		return most
	}
	if got := widest(60); got > 60 {
		t.Errorf("a 60-column terminal got lines of %d columns", got)
	}
	if got := widest(0); got < 300 {
		t.Errorf("no terminal: the widest line has %d columns, want the whole value", got)
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "root.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ta, ok := n.(*ast.TypeAssertExpr); ok {
				if star, ok := ta.Type.(*ast.StarExpr); ok {
					if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "File" {
						t.Errorf("%s: a *os.File type assertion; ask the streams instead", fset.Position(ta.Pos()))
					}
				}
			}
			return true
		})
	}
}

// TestIngestNamesItsSteps: on a terminal, an ingest names each step that
// follows the reading as it begins (the sessions of 10M events take half
// a minute after the bar is done); piped, stderr has the summary only.
func TestIngestNamesItsSteps(t *testing.T) {
	sessions := "building the sessions (credential lineage) ..."
	for _, c := range []struct {
		flag string
		want []string
	}{
		{"--db", []string{"storing the events in ", sessions}},
		{"--parquet", []string{"merging each partition's parts ...", sessions}},
	} {
		for _, term := range []bool{true, false} {
			var out, errb bytes.Buffer
			ios := &streams{In: strings.NewReader(""), Out: &out, Err: &errb, errIsTerm: term}
			args := []string{"ingest", c.flag, filepath.Join(t.TempDir(), "case"), "../../samples/s3-export.zip"}
			if code := runWith(t, ios, args...); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errb.String())
			}
			at := -1
			for _, line := range c.want {
				i := strings.Index(errb.String(), line)
				if term && i <= at || !term && i >= 0 {
					t.Errorf("%v, terminal %v: %q at %d (after %d):\n%s", args, term, line, i, at, errb.String())
				}
				at = i
			}
		}
	}
}
