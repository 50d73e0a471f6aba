package query

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and the README schema section")

// TestREADMESchemaMatchesCode fails when the README's schema reference and
// the schema in the code drift apart.
func TestREADMESchemaMatchesCode(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "<!-- schema:begin -->\n")
	end := strings.Index(s, "<!-- schema:end -->")
	if start < 0 || end < start {
		t.Fatal("README has no schema:begin/schema:end markers")
	}
	if got := s[start+len("<!-- schema:begin -->\n") : end]; got != SchemaMarkdown() {
		if *update {
			s = s[:start+len("<!-- schema:begin -->\n")] + SchemaMarkdown() + s[end:]
			if err := os.WriteFile("../README.md", []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Error("README schema section differs from query.SchemaMarkdown(); run go test ./query -run TestREADME -update")
	}
}

// TestDocumentedColumnsMatchDatabase checks every documented table and view
// has exactly the documented columns, in order, with those types.
func TestDocumentedColumnsMatchDatabase(t *testing.T) {
	s, err := Open(context.Background(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tb := range Documented() {
		rows, err := s.DB.Query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var n, typ string
			rows.Scan(&n, &typ)
			got = append(got, n+" "+strings.ReplaceAll(typ, "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
		}
		rows.Close()
		var want []string
		for _, c := range tb.declaredColumns() {
			want = append(want, c.Name+" "+c.Type)
		}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("%s:\n got  %s\n want %s", tb.Name, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
}
