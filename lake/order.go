package lake

import (
	"cmp"
	"slices"
)

// sortRows sorts idx, the rows of one partition, as compareRows orders
// them: by event source, event name and time, events without a time
// first. Each row's source and name are ranked once, so the sort compares
// integers where compareRows compares two strings, most often equal ones
// (the comparisons were 4% of an ingest's CPU). Rows that compareRows
// finds equal stay in idx's order.
func sortRows(rows []eventRow, idx []int32) {
	if len(idx) < 2 {
		return
	}
	rank := map[sourceName]int32{}
	keys := make([]rowKey, len(idx))
	for k, i := range idx {
		r := &rows[i]
		sn := sourceName{deref(r.EventSource), deref(r.EventName)}
		n, ok := rank[sn]
		if !ok {
			n = int32(len(rank))
			rank[sn] = n
		}
		keys[k] = rowKey{rank: n, row: i, pos: int32(k)}
		if t := r.EventTime; t != nil {
			keys[k].timed, keys[k].sec, keys[k].nsec = true, t.Unix(), int32(t.Nanosecond())
		}
	}
	// The ranks so far are in order of first sight: renumber them in the
	// order of their pairs.
	pairs := make([]sourceName, len(rank))
	for sn, n := range rank {
		pairs[n] = sn
	}
	byPair := make([]int32, len(pairs))
	for i := range byPair {
		byPair[i] = int32(i)
	}
	slices.SortFunc(byPair, func(a, b int32) int { return compareSourceName(pairs[a], pairs[b]) })
	ordinal := make([]int32, len(pairs))
	for o, n := range byPair {
		ordinal[n] = int32(o)
	}
	for k := range keys {
		keys[k].rank = ordinal[keys[k].rank]
	}
	slices.SortFunc(keys, compareKeys)
	for k := range keys {
		idx[k] = keys[k].row
	}
}

type sourceName struct{ source, name string }

func compareSourceName(a, b sourceName) int {
	if c := cmp.Compare(a.source, b.source); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// rowKey is what sortRows compares of a row: its (source, name) rank and
// its time as Unix seconds and nanoseconds (which, unlike Unix
// nanoseconds, hold any year a log may claim).
type rowKey struct {
	sec   int64
	rank  int32
	nsec  int32
	row   int32 // the row's index in rows
	pos   int32 // its place in idx, which breaks ties
	timed bool
}

func compareKeys(a, b rowKey) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if a.timed != b.timed {
		return cmp.Compare(boolInt(a.timed), boolInt(b.timed))
	}
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

// compareRows orders rows by event source, event name and time, events
// without a time first: the order sortRows sorts by, one pair at a time.
func compareRows(a, b *eventRow) int {
	if c := cmp.Compare(deref(a.EventSource), deref(b.EventSource)); c != 0 {
		return c
	}
	if c := cmp.Compare(deref(a.EventName), deref(b.EventName)); c != 0 {
		return c
	}
	if a.EventTime == nil || b.EventTime == nil {
		return cmp.Compare(boolInt(a.EventTime != nil), boolInt(b.EventTime != nil))
	}
	return a.EventTime.Compare(*b.EventTime)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
