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
