package reports

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestWriteRowsCSVNumbers: formula neutralisation is for text; numbers of
// every numeric type keep their sign, text that looks like a number or a
// formula gets its quote.
func TestWriteRowsCSVNumbers(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT -5 AS i, -5.5::DOUBLE AS d, -5.25::DECIMAL(5,2) AS dec, (-5)::HUGEINT AS h, -1::TINYINT AS t,
  '-5' AS s, '=1+2' AS f, '+1' AS p, '@x' AS a, NULL AS n, true AS b, ['-1'] AS l`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b bytes.Buffer
	if _, err := WriteRows(&b, rows, ResultOptions{Format: FormatCSV}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v: %q", err, b.String())
	}
	want := []string{"-5", "-5.5", "-5.25", "-5", "-1", "'-5", "'=1+2", "'+1", "'@x", "", "true", `["-1"]`}
	for i, w := range want {
		if recs[1][i] != w {
			t.Errorf("column %s: %q, want %q", recs[0][i], recs[1][i], w)
		}
	}
}
