package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Shapes a file's content can have. They are detected from the content,
// never from the file name.
const (
	ShapeRecords = "records"       // {"Records":[...]}: S3 delivery, console Event history download
	ShapeLookup  = "lookup-events" // {"Events":[{"CloudTrailEvent":"..."}]}, pages may be concatenated
	ShapeNDJSON  = "ndjson"        // one event object after another (JSON lines, or a single event)
	ShapeArray   = "array"         // a bare JSON array of events or lookup-events items
	ShapeDigest  = "digest"        // a CloudTrail-Digest file: not events
	ShapeEmpty   = "empty"         // no content at all
	ShapeUnknown = "unknown"       // JSON, but not CloudTrail
)

// rawRecord is one value found in the stream, not yet parsed.
type rawRecord struct {
	data    []byte
	offset  int64  // byte offset in the decompressed stream
	index   int64  // record index in the file
	wrapper string // "Records", "Events", "" for a top-level value, "[" for a bare array
}

// streamHandler receives what the splitter finds.
type streamHandler interface {
	record(r rawRecord) error
	recordError(index, offset int64, msg string)
}

// inPlaceHandler is a handler that can also read an element of a Records
// array straight from the scanner's buffer, data, which starts with it and
// may hold less or more than it. ok says it did; used is the element's
// length. When it did not, the splitter reads the element and hands it to
// record as usual.
type inPlaceHandler interface {
	recordInPlace(data []byte, index, offset int64, limit int) (used int, ok bool, err error)
}

// splitStream walks the top level of a JSON stream and hands every record to
// h. It returns the wrapper seen ("Records", "Events", "[" or "") and a
// fatal error when the stream itself cannot be followed any further; records
// handed over before that error stay valid.
//
// Top-level objects without a wrapper are JSON lines (or concatenated,
// possibly pretty-printed, objects). Each line stands on its own there: a
// broken object is one record error, and reading resumes at the line after
// the one it started on, so the lines it swallowed are read again.
func splitStream(sc *scanner, limit int, h streamHandler) (wrapper string, err error) {
	wrapper, err = splitTop(sc, limit, h)
	if errors.Is(err, errAbandoned) {
		err = nil // reported as a record error already
	}
	return wrapper, err
}

// errAbandoned ends a stream after a problem already reported: nothing
// after it could be read.
var errAbandoned = errors.New("rest of the input abandoned")

func splitTop(sc *scanner, limit int, h streamHandler) (wrapper string, err error) {
	var index int64
	var buf []byte
	for {
		c, ok := sc.peek()
		if !ok {
			if sc.err != nil && !errors.Is(sc.err, io.EOF) {
				return wrapper, sc.readErr("")
			}
			return wrapper, nil
		}
		switch c {
		case '[':
			if wrapper == "" {
				wrapper = "["
			}
			if err := streamArray(sc, limit, "[", &index, &buf, h); err != nil {
				return wrapper, err
			}
		case '{':
			objStart := sc.pos64()
			w, err := splitObject(sc, limit, &index, &buf, h)
			if w != "" && (wrapper == "" || wrapper == "[") {
				wrapper = w
			}
			var se *syntaxError
			if err == nil || w != "" || !errors.As(err, &se) || sc.err != nil && !errors.Is(sc.err, io.EOF) {
				if err != nil {
					return wrapper, err
				}
				continue
			}
			resumeAfterLine(sc, objStart)
			h.recordError(index, objStart, fmt.Sprintf("invalid JSON: %s; skipped to the next line", se.Error()))
			index++
		default:
			if index == 0 || wrapper != "" {
				return wrapper, &syntaxError{Offset: sc.pos64(), Msg: fmt.Sprintf("expected '{' or '[' at the top level, found %s", quoteByte(c))}
			}
			// A line of something else among JSON lines: one bad record.
			off := sc.pos64()
			skipLine(sc)
			h.recordError(index, off, fmt.Sprintf("expected '{' at the start of a line, found %s; line skipped", quoteByte(c)))
			index++
		}
	}
}

// resumeAfterLine moves the scanner, after a broken top-level object that
// started at objStart, to the start of the line after the object's first
// line. The bytes after that newline were captured, so they are read again;
// when the object was too large to keep, reading goes on from the next
// line after where the error was found.
func resumeAfterLine(sc *scanner, objStart int64) {
	nl := sc.capNewline
	switch {
	case nl < 0:
		skipLine(sc) // the error is on the object's only line so far
	case !sc.capOver:
		from := nl + 1 - objStart
		sc.rewind(append([]byte(nil), sc.captured[from:]...), nl+1)
	default:
		skipLine(sc)
	}
	sc.capture = false
}

// skipLine drops input up to and including the next newline.
func skipLine(sc *scanner) {
	sc.capture = false
	for sc.fill() {
		chunk := sc.buf[sc.pos:sc.end]
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			sc.consume(i + 1)
			return
		}
		sc.consume(len(chunk))
	}
}

// splitObject reads one top-level object. A "Records" or "Events" array in
// it is streamed element by element; any other object is handed over whole.
func splitObject(sc *scanner, limit int, index *int64, buf *[]byte, h streamHandler) (wrapper string, err error) {
	start := sc.pos64()
	sc.startCapture(limit)
	defer func() { sc.capture = false }()
	sc.consume(1) // '{'
	for first := true; ; first = false {
		c, ok := sc.peek()
		if !ok {
			return wrapper, sc.readErr(fmt.Sprintf("inside the object that starts at byte %d", start))
		}
		if c == '}' && first {
			sc.consume(1)
			break
		}
		key, err := sc.readKey()
		if err != nil {
			return wrapper, err
		}
		if err := sc.expect(':', "after object key"); err != nil {
			return wrapper, err
		}
		next, _ := sc.peek()
		if wrapper == "" && next == '[' && (strings.EqualFold(key, "Records") || strings.EqualFold(key, "Events")) {
			wrapper = "Records"
			if strings.EqualFold(key, "Events") {
				wrapper = "Events"
			}
			sc.capture = false // the records are handed over one by one
			if err := streamArray(sc, limit, wrapper, index, buf, h); err != nil {
				return wrapper, err
			}
		} else if err := sc.readValue(nil, 0); err != nil {
			return wrapper, err
		}
		c, ok = sc.peek()
		if !ok {
			return wrapper, sc.readErr(fmt.Sprintf("inside the object that starts at byte %d", start))
		}
		if c != ',' && c != '}' {
			return wrapper, &syntaxError{Offset: sc.pos64(), Msg: fmt.Sprintf("expected ',' or '}' in object, found %s", quoteByte(c))}
		}
		sc.consume(1)
		if c == '}' {
			break
		}
	}
	if wrapper != "" {
		return wrapper, nil
	}
	if sc.capOver {
		h.recordError(*index, start, fmt.Sprintf("record larger than the %d-byte limit, skipped", limit))
		*index++
		return "", nil
	}
	rec := rawRecord{data: sc.captured, offset: start, index: *index}
	*index++
	return "", h.record(rec)
}

// streamArray reads an array whose '[' is next, handing over each element.
// A broken element is one record error: reading resumes at the next place
// that starts a record (see seekRecordStart), searched from just after the
// broken element's start, so the records it swallowed are read again.
func streamArray(sc *scanner, limit int, wrapper string, index *int64, buf *[]byte, h streamHandler) error {
	if err := sc.expect('[', "at array start"); err != nil {
		return err
	}
	if c, ok := sc.peek(); ok && c == ']' {
		sc.consume(1)
		return nil
	}
	inPlace, _ := h.(inPlaceHandler)
	if wrapper != "Records" {
		inPlace = nil // other elements are looked at before they are read as events
	}
	for {
		if _, ok := sc.peek(); !ok {
			return sc.readErr("inside an array of records")
		}
		off := sc.pos64()
		read := false
		if inPlace != nil {
			used, ok, err := inPlace.recordInPlace(sc.buf[sc.pos:sc.end], *index, off, limit)
			if err != nil {
				return err
			}
			if ok {
				sc.consume(used)
				read = true
			}
		}
		var err error
		if !read {
			*buf = (*buf)[:0]
			err = sc.readValue(buf, limit)
		}
		var se *syntaxError
		switch {
		case read:
		case errors.Is(err, errValueTooLarge):
			h.recordError(*index, off, fmt.Sprintf("record larger than the %d-byte limit, skipped", limit))
		case errors.As(err, &se) && se.Err == nil:
			if len(*buf) > 1 {
				sc.rewind(append([]byte(nil), (*buf)[1:]...), off+1)
			}
			if err := resync(sc, *index, off, se.Msg, h); err != nil {
				return err
			}
			*index++
			continue
		case err != nil:
			return err
		default:
			if err := h.record(rawRecord{data: *buf, offset: off, index: *index, wrapper: wrapper}); err != nil {
				return err
			}
		}
		*index++
		c, ok := sc.peek()
		if !ok {
			return sc.readErr("inside an array of records")
		}
		if c != ',' && c != ']' {
			// Not a record, so no index: junk between records is skipped
			// up to the next record and reported.
			if err := resync(sc, -1, sc.pos64(), fmt.Sprintf("expected ',' or ']' between records, found %s", quoteByte(c)), h); err != nil {
				return err
			}
			continue
		}
		sc.consume(1)
		if c == ']' {
			return nil
		}
	}
}

// resync skips to the next record start after a problem at byte off, and
// records what was lost. When no record starts before the end of input, it
// says how many bytes were not read and returns errAbandoned.
func resync(sc *scanner, index, off int64, msg string, h streamHandler) error {
	if sc.seekRecordStart() {
		h.recordError(index, off, fmt.Sprintf("%s; %d bytes skipped to the next record at byte %d", msg, sc.pos64()-off, sc.pos64()))
		return nil
	}
	if sc.err != nil && !errors.Is(sc.err, io.EOF) {
		return sc.readErr("")
	}
	h.recordError(index, off, fmt.Sprintf("%s; no record starts after it, so the last %d bytes were not read", msg, sc.pos64()-off))
	return errAbandoned
}
