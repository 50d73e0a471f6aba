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
