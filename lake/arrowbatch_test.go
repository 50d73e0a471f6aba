//go:build duckdb_arrow

package lake

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The record builder's batches hold each row's columns as given: NULLs,
// empty strings, values larger than the room reserved, more rows at once
// than a batch is sized for; and buffers handed out again (the pool's,
// which a released batch's go back to) show nothing of what they held.
func TestRecordBuilderColumns(t *testing.T) {
	pool := newBufferPool(64 << 20)
	// Every buffer the builder starts with has been used: none is clear.
	for class := minPoolClass; class <= 16; class++ {
		for range 100 {
			dirty := make([]byte, 1<<class)
			for i := range dirty {
				dirty[i] = 0xff
			}
			pool.Free(dirty)
		}
	}
	b := newRecordBuilder(pool)
	text := func(s string) *string { return &s }
	when := time.Date(2024, 3, 1, 10, 0, 0, 123000, time.UTC)
	row := func(i int) eventRow {
		r := eventRow{EventKey: uint64(i), Raw: fmt.Sprintf(`{"n":%d}`, i), FileID: int64(i % 7), RecordIndex: int64(i)}
		switch i % 4 {
		case 0: // NULLs
		case 1:
			r.EventName, r.ReadOnly, r.EventTime = text(""), new(bool), &when
		case 2:
			r.EventName, r.UserAgent = text(strings.Repeat("é", 10_000+i)), text("ua")
		case 3:
			yes := true
			r.EventName, r.IssuedCredential, r.ReadOnly = text(fmt.Sprint("n", i)), text(`{"accessKeyId":"ASIA"}`), &yes
		}
		return r
	}
	check := func(rec arrow.RecordBatch, rows []eventRow) {
		t.Helper()
		if int(rec.NumRows()) != len(rows) {
			t.Fatalf("%d rows, want %d", rec.NumRows(), len(rows))
		}
		col := func(name string) arrow.Array {
			i := rec.Schema().FieldIndices(name)
			if len(i) != 1 {
				t.Fatalf("no column %s", name)
			}
			return rec.Column(i[0])
		}
		texts := map[string]func(*eventRow) *string{
			"event_name": func(r *eventRow) *string { return r.EventName }, "user_agent": func(r *eventRow) *string { return r.UserAgent },
			"issued_credential": func(r *eventRow) *string { return r.IssuedCredential }, "raw": func(r *eventRow) *string { return &r.Raw },
		}
		for name, get := range texts {
			a := col(name).(interface {
				NullN() int
				IsNull(int) bool
				Value(int) string
			})
			nulls := 0
			for i := range rows {
				if get(&rows[i]) == nil {
					nulls++
				}
			}
			if a.NullN() != nulls {
				t.Fatalf("%s: %d NULLs, want %d", name, a.NullN(), nulls)
			}
			for i := range rows {
				want := get(&rows[i])
				if (want == nil) != a.IsNull(i) || (want != nil && a.Value(i) != *want) {
					t.Fatalf("%s of row %d: null %v %.20q, want %v", name, i, a.IsNull(i), a.Value(i), want)
				}
			}
		}
		// raw is read where the decoder wrote it, not copied.
		raw := col("raw").(*array.StringView)
		for i := range rows {
			if v := raw.Value(i); len(v) > arrow.ViewHeaderSizeBytes-4 && unsafe.StringData(v) != unsafe.StringData(rows[i].Raw) {
				t.Fatalf("raw of row %d is a copy", i)
			}
		}
		keys, ro, tm := col("event_key").(*array.Uint64), col("read_only").(*array.Boolean), col("event_time").(*array.Timestamp)
		files, records := col("file_id").(*array.Int64), col("record_index").(*array.Int64)
		for i, r := range rows {
			if files.Value(i) != r.FileID || records.Value(i) != r.RecordIndex {
				t.Fatalf("row %d: file %d record %d", i, files.Value(i), records.Value(i))
			}
			if keys.Value(i) != r.EventKey || ro.IsNull(i) != (r.ReadOnly == nil) || tm.IsNull(i) != (r.EventTime == nil) {
				t.Fatalf("row %d: key %d read_only null %v time null %v", i, keys.Value(i), ro.IsNull(i), tm.IsNull(i))
			}
			if r.ReadOnly != nil && ro.Value(i) != *r.ReadOnly {
				t.Fatalf("row %d: read_only %v", i, ro.Value(i))
			}
			if r.EventTime != nil && tm.Value(i) != arrow.Timestamp(r.EventTime.UnixMicro()) {
				t.Fatalf("row %d: time %d", i, tm.Value(i))
			}
		}
	}
	build := func(n, from int) (arrow.RecordBatch, []eventRow) {
		rows := make([]eventRow, n)
		idx := make([]int32, n)
		for i := range rows {
			rows[i], idx[i] = row(i+from), int32(i)
		}
		// Added in two calls, out of order: idx says which rows.
		idx[0], idx[n-1] = idx[n-1], idx[0]
		b.add(rows, idx[:n/2])
		b.add(rows, idx[n/2:])
		rec := b.finish()
		ordered := make([]eventRow, n)
		for i, j := range idx {
			ordered[i] = rows[j]
		}
		return rec, ordered
	}
	// A batch DuckDB still holds keeps its buffers while later batches
	// are built from the pool (and released, their buffers coming back).
	held, heldRows := build(40, 1000)
	// Batches of 3 rows, then more than a batch's rows at once.
	for _, n := range []int{3, 3, 40, streamRecordRows + 5, 3} {
		rec, rows := build(n, n)
		check(rec, rows)
		rec.Release()
	}
	check(held, heldRows)
	held.Release()
}

// The pool hands back what it was given, keeps no more than its bound
// (dropping the buffers of the class used longest ago), and leaves
// buffers it did not make to the collector.
func TestBufferPool(t *testing.T) {
	p := newBufferPool(1 << 10)
	a := p.Allocate(100)
	if len(a) != 100 || cap(a) != 128 {
		t.Fatalf("len %d cap %d, want 100 128", len(a), cap(a))
	}
	p.Free(a)
	if b := p.Allocate(65); &b[:1][0] != &a[:1][0] || len(b) != 65 {
		t.Fatal("a freed buffer of the class was not handed out again")
	}
	p.Free(make([]byte, 100)) // not a power of two: not ours
	p.Free(p.Allocate(2048))  // over the bound
	if p.bytes != 0 {
		t.Fatalf("the pool holds %d bytes, want 0", p.bytes)
	}
	c := p.Allocate(10)
	c = p.Reallocate(300, c)
	if len(c) != 300 || cap(c) != 512 || p.bytes != 64 {
		t.Fatalf("reallocated: len %d cap %d, pool %d bytes", len(c), cap(c), p.bytes)
	}
	p.Free(c)
	// Full, it drops the class used longest ago for what it is given.
	p = newBufferPool(1 << 10)
	big, small1, small2 := p.Allocate(512), p.Allocate(256), p.Allocate(256)
	p.Free(big)
	p.Free(small1)
	p.Free(small2)
	p.Free(p.Allocate(128)) // the pool is full: the 512-byte class goes
	if p.bytes != 256+256+128 || len(p.free[9]) != 0 || len(p.free[8]) != 2 || len(p.free[7]) != 1 {
		t.Fatalf("pool of %d bytes, classes 9, 8, 7: %d %d %d buffers", p.bytes, len(p.free[9]), len(p.free[8]), len(p.free[7]))
	}
}
