package query

import (
	"context"
	"database/sql"
	"testing"
)

// TestEventIDsReadBackAsLogged: an eventID is stored as a UUID only when
// it is one as CloudTrail writes it, and every eventID, however it was
// written, reads back as it was logged.
func TestEventIDsReadBackAsLogged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ids := []struct {
		id     sql.NullString
		asUUID bool
	}{
		{sql.NullString{String: "0f8fad5b-d9cb-469f-a165-70867728950e", Valid: true}, true},
		{sql.NullString{String: "0F8FAD5B-D9CB-469F-A165-70867728950E", Valid: true}, false}, // DuckDB would give it back lower-cased
		{sql.NullString{String: "{0f8fad5b-d9cb-469f-a165-70867728950e}", Valid: true}, false},
		{sql.NullString{String: "0f8fad5bd9cb469fa16570867728950e", Valid: true}, false},
		{sql.NullString{String: " 0f8fad5b-d9cb-469f-a165-70867728950e", Valid: true}, false},
		{sql.NullString{String: "ev-1", Valid: true}, false},
		{sql.NullString{String: "", Valid: true}, false},
		{sql.NullString{}, false},
	}
	for i, c := range ids {
		if _, err := s.DB.ExecContext(ctx, "INSERT INTO event_rows BY NAME "+StorableEventsSQL(
			"SELECT ?::UBIGINT AS event_key, ?::VARCHAR AS event_id, '{}' AS raw, 1 AS file_id, ?::BIGINT AS record_index"), i, c.id, i); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range ids {
		var id sql.NullString
		var asUUID bool
		if err := s.DB.QueryRowContext(ctx, "SELECT event_id, event_uuid IS NOT NULL FROM event_rows WHERE record_index = ?", i).Scan(&id, &asUUID); err != nil {
			t.Fatal(err)
		}
		if id != c.id {
			t.Errorf("event_id %q (valid %v) reads back as %q (valid %v)", c.id.String, c.id.Valid, id.String, id.Valid)
		}
		if asUUID != c.asUUID {
			t.Errorf("event_id %q stored as a UUID: %v, want %v", c.id.String, asUUID, c.asUUID)
		}
	}
	// The events view and a lookup by id read the same.
	var n int64
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE event_id IN ('0f8fad5b-d9cb-469f-a165-70867728950e', '0F8FAD5B-D9CB-469F-A165-70867728950E', '')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d events found by their ids, want 3", n)
	}
}

// TestEventIDInFindsWhatEventIDFinds: a lookup through the stored UUID and
// text columns finds exactly the events a lookup of the computed event_id
// finds, for every way an id can be written, one id or several at once.
func TestEventIDInFindsWhatEventIDFinds(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	stored := []string{
		"0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5B-D9CB-469F-A165-70867728950E",
		"{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5bd9cb469fa16570867728950e",
		" 0f8fad5b-d9cb-469f-a165-70867728950e", "ev-1", "", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
	}
	for i, id := range stored {
		if _, err := s.DB.ExecContext(ctx, "INSERT INTO event_rows BY NAME "+StorableEventsSQL(
			"SELECT ?::UBIGINT AS event_key, ?::VARCHAR AS event_id, '{}' AS raw, 1 AS file_id, ?::BIGINT AS record_index"), i, id, i); err != nil {
			t.Fatal(err)
		}
	}
	uuids, err := KeepsEventUUIDs(ctx, s.DB)
	if err != nil || !uuids {
		t.Fatalf("a store's event_rows keeps UUIDs: %v, %v", uuids, err)
	}
	lookups := [][]string{{"0F8fad5b-d9cb-469f-a165-70867728950e"}, {"nope"}, {}, stored, {stored[0], stored[1], "ev-1"}}
	for _, id := range stored {
		lookups = append(lookups, []string{id})
	}
	found := func(cond string, args ...any) string {
		var got string
		if err := s.DB.QueryRowContext(ctx, "SELECT coalesce(string_agg(record_index::VARCHAR, ',' ORDER BY record_index), '') FROM event_rows e WHERE "+cond, args...).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, ids := range lookups {
		want := found("e.event_id IN (SELECT unnest(?::VARCHAR[]))", ids)
		for _, uuids := range []bool{true, false} {
			cond, args := EventIDIn("e", uuids, ids)
			if got := found(cond, args...); got != want {
				t.Errorf("ids %q (uuids %v): found events %q, event_id finds %q", ids, uuids, got, want)
			}
		}
	}
	if n := len(found("e.event_id IN (SELECT unnest(?::VARCHAR[]))", stored)); n == 0 {
		t.Fatal("the lookup of every stored id found nothing")
	}

	// A dataset's event_rows keeps ids as text.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE VIEW event_rows AS SELECT 'ev-1' AS event_id"); err != nil {
		t.Fatal(err)
	}
	if uuids, err := KeepsEventUUIDs(ctx, db); err != nil || uuids {
		t.Errorf("a view of event ids as text keeps UUIDs: %v, %v", uuids, err)
	}
}
