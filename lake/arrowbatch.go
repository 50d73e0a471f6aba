//go:build duckdb_arrow

package lake

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/trailsift/trailsift/query"
)

// recordBuilder builds the Arrow record batches a streamed load hands
// DuckDB: event_rows' stored columns, a column at a time. Every event
// passes through it on one goroutine, so it is made to do little: text
// columns (all but seven) are laid out by hand in buffers the pool hands
// out again once DuckDB releases a batch, instead of Arrow's builders,
// which zeroed every buffer they reserved and went through three calls a
// value; raw, the largest, is not copied at all (viewColumn).
type recordBuilder struct {
	schema *arrow.Schema
	cols   []columnBuilder
	raw    *viewColumn
	rows   int
}

// columnBuilder builds one column.
type columnBuilder interface {
	// add appends the column of rows[i] for each i in idx.
	add(rows []eventRow, idx []int32)
	// finish returns the column of the rows added since the last finish
	// and starts the next, sized for full rows like this one's (the rows
	// a batch holds at this one's bytes of raw a row).
	finish(full int) arrow.Array
}

func newRecordBuilder(pool *bufferPool) *recordBuilder {
	texts := map[string]func(*eventRow) *string{
		"event_version": func(r *eventRow) *string { return r.EventVersion }, "event_source": func(r *eventRow) *string { return r.EventSource },
		"event_name": func(r *eventRow) *string { return r.EventName }, "event_type": func(r *eventRow) *string { return r.EventType },
		"event_category": func(r *eventRow) *string { return r.EventCategory }, "aws_region": func(r *eventRow) *string { return r.AWSRegion },
		"source_ip": func(r *eventRow) *string { return r.SourceIP }, "user_agent": func(r *eventRow) *string { return r.UserAgent },
		"error_code": func(r *eventRow) *string { return r.ErrorCode }, "error_message": func(r *eventRow) *string { return r.ErrorMessage },
		"user_type": func(r *eventRow) *string { return r.UserType }, "user_name": func(r *eventRow) *string { return r.UserName },
		"user_arn": func(r *eventRow) *string { return r.UserARN }, "principal_id": func(r *eventRow) *string { return r.PrincipalID },
		"account_id": func(r *eventRow) *string { return r.AccountID }, "access_key_id": func(r *eventRow) *string { return r.AccessKeyID },
		"session_issuer_arn": func(r *eventRow) *string { return r.SessionIssuerARN }, "session_issuer_name": func(r *eventRow) *string { return r.SessionIssuerName },
		"invoked_by": func(r *eventRow) *string { return r.InvokedBy }, "actor": func(r *eventRow) *string { return r.Actor },
		"recipient_account_id": func(r *eventRow) *string { return r.RecipientAccountID }, "event_id": func(r *eventRow) *string { return r.EventID },
		"login_result": func(r *eventRow) *string { return r.LoginResult }, "mfa_used": func(r *eventRow) *string { return r.MFAUsed },
		"mfa_identifier": func(r *eventRow) *string { return r.MFAIdentifier }, "credential_type": func(r *eventRow) *string { return r.CredentialType },
		"credential_challenge": func(r *eventRow) *string { return r.CredentialChallenge }, "auth_workflow_id": func(r *eventRow) *string { return r.AuthWorkflowID },
		"outcome": func(r *eventRow) *string { return r.Outcome }, "issued_credential": func(r *eventRow) *string { return r.IssuedCredential },
	}
	flags := map[string]func(*eventRow) *bool{
		"read_only": func(r *eventRow) *bool { return r.ReadOnly }, "management_event": func(r *eventRow) *bool { return r.ManagementEvent },
		"mfa_authenticated": func(r *eventRow) *bool { return r.MFAAuthenticated },
	}
	b := &recordBuilder{}
	var fields []arrow.Field
	for _, c := range query.StoredEventColumns() {
		var dt arrow.DataType
		var col columnBuilder
		switch {
		case c.Name == "raw":
			b.raw = newViewColumn(pool)
			dt, col = arrow.BinaryTypes.StringView, b.raw
		case texts[c.Name] != nil:
			dt, col = arrow.BinaryTypes.String, newTextColumn(pool, texts[c.Name])
		case flags[c.Name] != nil:
			get := flags[c.Name]
			dt = arrow.FixedWidthTypes.Boolean
			col = newArrowColumn(array.NewBooleanBuilder(pool), orNull[bool, *array.BooleanBuilder](func(r *eventRow) (bool, bool) {
				v := get(r)
				return v != nil && *v, v != nil
			}))
		case c.Name == "event_key":
			dt = arrow.PrimitiveTypes.Uint64
			col = newArrowColumn(array.NewUint64Builder(pool), func(b *array.Uint64Builder, r *eventRow) { b.Append(r.EventKey) })
		case c.Name == "event_time":
			t := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
			dt = t
			col = newArrowColumn(array.NewTimestampBuilder(pool, t), orNull[arrow.Timestamp, *array.TimestampBuilder](func(r *eventRow) (arrow.Timestamp, bool) {
				if r.EventTime == nil {
					return 0, false
				}
				return arrow.Timestamp(r.EventTime.UnixMicro()), true
			}))
		case c.Name == "file_id":
			dt = arrow.PrimitiveTypes.Int64
			col = newArrowColumn(array.NewInt64Builder(pool), func(b *array.Int64Builder, r *eventRow) { b.Append(r.FileID) })
		case c.Name == "record_index":
			dt = arrow.PrimitiveTypes.Int64
			col = newArrowColumn(array.NewInt64Builder(pool), func(b *array.Int64Builder, r *eventRow) { b.Append(r.RecordIndex) })
		default:
			panic("lake: no Arrow column for event_rows." + c.Name) // a column added to the schema and not here
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: dt, Nullable: true})
		b.cols = append(b.cols, col)
	}
	b.schema = arrow.NewSchema(fields, nil)
	return b
}

// add appends rows[i] for each i in idx.
func (b *recordBuilder) add(rows []eventRow, idx []int32) {
	// A few rows at a time through every column: the rows and their
	// strings are read from the cache by the columns after the first.
	// (Each column through all rows read them from memory again: the
	// text columns took 2.0 CPU-s of an ingest of the bench corpus.)
	for len(idx) > 0 {
		chunk := idx[:min(len(idx), addChunkRows)]
		for _, c := range b.cols {
			c.add(rows, chunk)
		}
		b.rows += len(chunk)
		idx = idx[len(chunk):]
	}
}

// addChunkRows is how many rows add takes through the columns at once.
const addChunkRows = 64

// rawBytes is how many bytes of raw the rows added since the last finish
// hold.
func (b *recordBuilder) rawBytes() int { return b.raw.bytes }

// full says the batch is as large as one gets.
func (b *recordBuilder) full() bool { return batchFull(b.rows, b.rawBytes()) }

// batchFull says a record batch of rows rows and bytes of raw is as large
// as one gets: streamRecordRows rows or streamRecordBytes of raw (Arrow's
// text offsets are 32-bit).
func batchFull(rows, bytes int) bool { return rows >= streamRecordRows || bytes >= streamRecordBytes }

// finish returns the rows added since the last finish as a record batch.
func (b *recordBuilder) finish() arrow.RecordBatch {
	// A full batch holds as many rows as this one's raw allows.
	full := streamRecordRows
	if raw := b.rawBytes(); raw > 0 {
		full = max(1, min(full, int(int64(b.rows)*streamRecordBytes/int64(raw))))
	}
	cols := make([]arrow.Array, len(b.cols))
	for i, c := range b.cols {
		cols[i] = c.finish(full)
	}
	rec := array.NewRecordBatch(b.schema, cols, int64(b.rows))
	for _, c := range cols {
		c.Release()
	}
	b.rows = 0
	return rec
}

// arrowColumn builds a fixed-width column with Arrow's builder.
type arrowColumn[B array.Builder] struct {
	b   B
	put func(B, *eventRow)
}

func newArrowColumn[B array.Builder](b B, put func(B, *eventRow)) *arrowColumn[B] {
	b.Reserve(streamRecordRows)
	return &arrowColumn[B]{b: b, put: put}
}

func (c *arrowColumn[B]) add(rows []eventRow, idx []int32) {
	for _, i := range idx {
		c.put(c.b, &rows[i])
	}
}

func (c *arrowColumn[B]) finish(int) arrow.Array {
	a := c.b.NewArray()
	c.b.Reserve(streamRecordRows)
	return a
}

// orNull appends the value get gives, or NULL when it gives none.
func orNull[T any, B interface {
	Append(T)
	AppendNull()
}](get func(*eventRow) (T, bool)) func(B, *eventRow) {
	return func(b B, r *eventRow) {
		if v, ok := get(r); ok {
			b.Append(v)
		} else {
			b.AppendNull()
		}
	}
}

// textColumn builds a text column (Arrow's utf8: a validity bitmap, 32-bit
// offsets, the bytes) in buffers from the pool.
type textColumn struct {
	get     func(*eventRow) *string
	pool    *bufferPool
	valid   []byte  // a bit a row, set when not NULL
	offsets []int32 // rows+1 of them, over offBuf's bytes
	offBuf  []byte
	data    []byte
	rows    int
	nulls   int
	reserve int // bytes of data a batch starts with
}

func newTextColumn(pool *bufferPool, get func(*eventRow) *string) *textColumn {
	c := &textColumn{get: get, pool: pool}
	c.start(streamRecordRows)
	return c
}

// start begins a batch with room for rows rows.
func (c *textColumn) start(rows int) {
	c.valid = c.pool.Allocate((rows + 7) / 8)
	clear(c.valid)
	c.offBuf = c.pool.Allocate(4 * (rows + 1))
	c.offsets = unsafe.Slice((*int32)(unsafe.Pointer(&c.offBuf[0])), rows+1)
	c.offsets[0] = 0
	c.data = c.pool.Allocate(max(c.reserve, 1))[:0]
	c.rows, c.nulls = 0, 0
}

func (c *textColumn) add(rows []eventRow, idx []int32) {
	if c.rows+len(idx) >= len(c.offsets) {
		c.growRows(c.rows + len(idx))
	}
	for _, i := range idx {
		if v := c.get(&rows[i]); v != nil {
			c.valid[c.rows>>3] |= 1 << (c.rows & 7)
			if len(c.data)+len(*v) > cap(c.data) {
				c.growData(len(c.data) + len(*v))
			}
			c.data = append(c.data, *v...)
		} else {
			c.nulls++
		}
		c.rows++
		c.offsets[c.rows] = int32(len(c.data))
	}
}

// growRows makes room for rows rows: a batch is cut at streamRecordRows,
// so only a caller that adds more at once comes here.
func (c *textColumn) growRows(rows int) {
	valid, offBuf := c.pool.Allocate((rows+7)/8), c.pool.Allocate(4*(rows+1))
	clear(valid[copy(valid, c.valid):])
	copy(offBuf, c.offBuf[:4*(c.rows+1)])
	c.pool.Free(c.valid)
	c.pool.Free(c.offBuf)
	c.valid, c.offBuf = valid, offBuf
	c.offsets = unsafe.Slice((*int32)(unsafe.Pointer(&c.offBuf[0])), rows+1)
}

// growData makes room for n bytes of data. A batch's raw is cut at
// streamRecordBytes, plus one record of at most ingest.MaxRecordLimit:
// its offsets stay within 32 bits.
func (c *textColumn) growData(n int) {
	if n > math.MaxInt32 {
		panic("lake: a record batch column over 2 GiB") // the limits above make it impossible
	}
	data := c.pool.Allocate(max(n, 2*cap(c.data)))[:len(c.data)]
	copy(data, c.data)
	c.pool.Free(c.data)
	c.data = data
}

func (c *textColumn) finish(full int) arrow.Array {
	n := c.rows
	var valid *memory.Buffer
	if c.nulls > 0 {
		valid = memory.NewBufferWithAllocator(c.valid[:(n+7)/8], c.pool)
	} else {
		c.pool.Free(c.valid) // all valid: Arrow needs no bitmap
	}
	offsets := memory.NewBufferWithAllocator(c.offBuf[:4*(n+1)], c.pool)
	data := memory.NewBufferWithAllocator(c.data, c.pool)
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, offsets, data}, nil, c.nulls, 0)
	for _, b := range []*memory.Buffer{valid, offsets, data} {
		if b != nil {
			b.Release() // d holds them now
		}
	}
	a := array.NewStringData(d)
	d.Release()
	// The next batch starts with room for a full batch at this one's
	// bytes a row, and an eighth more, unless this one was short (each
	// send ends with one) and a full one was seen.
	if n >= full/8 || c.reserve == 0 {
		per := int(int64(len(c.data)) * int64(full) / int64(max(n, 1)))
		c.reserve = min(per+per/8, streamRecordBytes)
	}
	c.start(streamRecordRows)
	return a
}

// viewColumn builds raw as an Arrow string view column: a 16-byte header
// a row, pointing at the event's raw where the decoder wrote it (the
// strict rewrite's bytes in its arena blocks), which Arrow reads as one
// of the column's data buffers. DuckDB reads raw from there: the largest
// column is not copied into the batch first.
//
// Each value is a buffer of its own: two raws side by side in memory may
// lie in two allocations, and a buffer spanning both would keep only the
// first from the collector while DuckDB reads the second.
type viewColumn struct {
	pool    *bufferPool
	headBuf []byte
	heads   []arrow.ViewHeader
	bufs    []*memory.Buffer // the validity bitmap (none), the headers, then a buffer a value
	rows    int
	bytes   int // of raw in the rows
}

func newViewColumn(pool *bufferPool) *viewColumn {
	c := &viewColumn{pool: pool}
	c.start(streamRecordRows)
	return c
}

// start begins a batch with room for rows rows.
func (c *viewColumn) start(rows int) {
	c.headBuf = c.pool.Allocate(arrow.ViewHeaderTraits.BytesRequired(rows))
	c.heads = arrow.ViewHeaderTraits.CastFromBytes(c.headBuf)
	c.bufs = make([]*memory.Buffer, 2, 2+rows)
	c.rows, c.bytes = 0, 0
}

func (c *viewColumn) add(rows []eventRow, idx []int32) {
	if c.rows+len(idx) > len(c.heads) {
		c.growRows(c.rows + len(idx))
	}
	for _, i := range idx {
		raw := rows[i].Raw
		h := &c.heads[c.rows]
		*h = arrow.ViewHeader{}
		h.SetString(raw)
		if !h.IsInline() {
			h.SetIndexOffset(int32(len(c.bufs)-2), 0)
			c.bufs = append(c.bufs, memory.NewBufferBytes(unsafe.Slice(unsafe.StringData(raw), len(raw))))
		}
		c.bytes += len(raw)
		c.rows++
	}
}

// growRows makes room for rows rows (see textColumn.growRows).
func (c *viewColumn) growRows(rows int) {
	headBuf := c.pool.Allocate(arrow.ViewHeaderTraits.BytesRequired(rows))
	copy(headBuf, c.headBuf[:arrow.ViewHeaderTraits.BytesRequired(c.rows)])
	c.pool.Free(c.headBuf)
	c.headBuf, c.heads = headBuf, arrow.ViewHeaderTraits.CastFromBytes(headBuf)
}

func (c *viewColumn) finish(int) arrow.Array {
	n := c.rows
	heads := memory.NewBufferWithAllocator(c.headBuf[:arrow.ViewHeaderTraits.BytesRequired(n)], c.pool)
	c.bufs[1] = heads
	d := array.NewData(arrow.BinaryTypes.StringView, n, c.bufs, nil, 0, 0)
	heads.Release() // d holds it now
	a := array.NewStringViewData(d)
	d.Release()
	c.start(streamRecordRows)
	return a
}
