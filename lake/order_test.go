package lake

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestSortRowsOrdersAsCompareRows holds sortRows to a stable sort by
// compareRows, on rows with missing sources, names and times, equal keys,
// and times no Unix nanosecond count holds.
func TestSortRowsOrdersAsCompareRows(t *testing.T) {
	str := func(s string) *string { return &s }
	sources := []*string{nil, str(""), str("iam.amazonaws.com"), str("signin.amazonaws.com"), str("s3.amazonaws.com"), str("iam.amazonaws.co")}
	names := []*string{nil, str(""), str("ConsoleLogin"), str("CreateUser"), str("Create"), str("consolelogin")}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	times := []*time.Time{nil}
	for _, t := range []time.Time{
		base, base.Add(time.Nanosecond), base.Add(-time.Nanosecond), base.Add(time.Second),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 5, time.UTC),
		base.In(time.FixedZone("east", 5*3600)), // the same instant as base
	} {
		times = append(times, &t)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		rows := make([]eventRow, 1+rng.IntN(300))
		for i := range rows {
			rows[i] = eventRow{
				EventSource: sources[rng.IntN(len(sources))],
				EventName:   names[rng.IntN(len(names))],
				EventTime:   times[rng.IntN(len(times))],
				RecordIndex: int64(i),
			}
		}
		// A partition's rows are some of the batch's, in any order.
		var idx []int32
		for _, i := range rng.Perm(len(rows)) {
			if rng.IntN(4) > 0 {
				idx = append(idx, int32(i))
			}
		}
		want := slices.Clone(idx)
		slices.SortStableFunc(want, func(i, j int32) int { return compareRows(&rows[i], &rows[j]) })
		got := slices.Clone(idx)
		sortRows(rows, got)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: sortRows gave %v, a stable sort by compareRows %v", round, got, want)
		}
	}
}
