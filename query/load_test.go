package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// stagedRows is a SELECT of event_rows columns with one row per raw, as
// lake reads a staging dataset: each its own event (keys from first on),
// in file 1.
func stagedRows(first int, raws ...string) string {
	var rows []string
	for i, raw := range raws {
		var cols []string
		for _, c := range StoredEventColumns() {
			v := "NULL::" + c.Type
			switch c.Name {
			case "event_key":
				v = fmt.Sprintf("%d::UBIGINT", first+i)
			case "event_id":
				v = StringLiteral(fmt.Sprintf("id-%d", first+i))
			case "raw":
				v = StringLiteral(raw)
			case "file_id":
				v = "1::BIGINT"
			case "record_index":
				v = fmt.Sprintf("%d::BIGINT", i)
			}
			cols = append(cols, v+" AS "+c.Name)
		}
		rows = append(rows, "SELECT "+strings.Join(cols, ", "))
	}
	return strings.Join(rows, " UNION ALL ")
}

// A staging without invalid JSON loads in one pass, without the careful
// check; one invalid raw makes the load fall back to it, which keeps the
// others and counts the reject.
func TestLoadChecksCarefullyOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := carefulLoads.Load()
	inserted, rejected, err := s.Load(ctx, map[string]string{"event_rows": stagedRows(1, `{"a":1}`, `{"b":2}`)})
	if err != nil || inserted != 2 || rejected != 0 {
		t.Fatalf("clean load: %d inserted, %d rejected, %v", inserted, rejected, err)
	}
	if n := carefulLoads.Load() - before; n != 0 {
		t.Errorf("a clean load ran the careful check %d times", n)
	}
	inserted, rejected, err = s.Load(ctx, map[string]string{"event_rows": stagedRows(10, `{"c":3}`, "{\"d\":\"\x01\"}", `{"e":5}`)})
	if err != nil || inserted != 2 || rejected != 1 {
		t.Fatalf("load with an invalid raw: %d inserted, %d rejected, %v; want 2, 1", inserted, rejected, err)
	}
	if n := carefulLoads.Load() - before; n != 1 {
		t.Errorf("the careful check ran %d times, want 1", n)
	}
}
