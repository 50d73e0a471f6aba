package reports

import (
	"testing"
	"time"

	"github.com/trailsift/trailsift/integrity"
)

func TestDescribeRanges(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2024, 3, 5, h, 0, 0, 0, time.UTC) }
	if got := describeRanges(nil); got != "none" {
		t.Errorf("no ranges: %q", got)
	}
	var rs []integrity.Range
	for i := range 7 {
		rs = append(rs, integrity.Range{From: at(2 * i), To: at(2*i + 1).Add(45 * time.Minute)})
	}
	got := describeRanges(rs)
	want := "7, 12h15m in all: 2024-03-05 00:00:00Z – 2024-03-05 01:45:00Z (1h45m); "
	if len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("got %q\nwant prefix %q", got, want)
	}
	if n := len(rs) - maxRangesShown; n != 2 || got[len(got)-len("and 2 more"):] != "and 2 more" {
		t.Errorf("the rest is not counted: %q", got)
	}
}

func TestSecondsText(t *testing.T) {
	for s, want := range map[int64]string{
		50 * 60: "50m", 3600: "1h", 6300: "1h45m", 22 * 3600: "22h", 47*3600 + 59*60: "47h59m",
		48 * 3600: "2d", 76 * 3600: "3d4h", 999 * 86400: "999d", 1000 * 86400: "2y",
		(time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC).Unix() - time.Date(1, 1, 1, 13, 0, 0, 0, time.UTC).Unix()): "2023y",
	} {
		if got := secondsText(s); got != want {
			t.Errorf("secondsText(%d) = %q, want %q", s, got, want)
		}
	}
	// A range longer than a Duration holds is still measured right.
	r := integrity.Range{From: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}
	if got := RangeLength(r); got != "9998y" {
		t.Errorf("RangeLength of 0001 to 9999: %q", got)
	}
}

// TestChartStep: the activity chart's bucket widens with the span, so it
// never has more than maxChartBuckets bars, whatever the span.
func TestChartStep(t *testing.T) {
	day := 86400.0
	for _, tt := range []struct {
		span float64
		want string
	}{{0, "hour"}, {2 * day, "hour"}, {16 * day, "hour"}, {17 * day, "day"}, {300 * day, "day"}, {3 * 365 * day, "7 days"},
		{10 * 365 * day, "30 days"}, {100 * 365 * day, "365 days"}, {9999 * 365 * day, "100×365 days"}} {
		step, name := chartStep(tt.span)
		if name != tt.want || tt.span/float64(step) >= maxChartBuckets {
			t.Errorf("span %.0f days: %s (%d buckets), want %s", tt.span/day, name, int(tt.span/float64(step)), tt.want)
		}
	}
}
