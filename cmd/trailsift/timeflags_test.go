package main

import (
	"strings"
	"testing"
	"time"
)

// TestTimeFlagsInTimezone: a --since/--until without a zone is in the zone
// the command shows (--timezone); one with a zone or Z keeps it; a bare
// --until date ends at that zone's midnight, across a DST change too.
func TestTimeFlagsInTimezone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in   string
		end  bool
		loc  *time.Location
		want string
	}{
		{"2024-03-05T10:00", false, berlin, "2024-03-05T09:00:00Z"},
		{"2024-03-05 10:00:30", false, berlin, "2024-03-05T09:00:30Z"},
		{"2024-03-05T10:00Z", false, berlin, "2024-03-05T10:00:00Z"},
		{"2024-03-05T10:00:00+02:00", false, berlin, "2024-03-05T08:00:00Z"},
		{"2024-03-05", false, berlin, "2024-03-04T23:00:00Z"},
		{"2024-03-05", true, berlin, "2024-03-05T23:00:00Z"},
		{"2024-03-31", true, berlin, "2024-03-31T22:00:00Z"}, // the day clocks go forward has 23 hours
		{"2024-03-05T10:00", false, time.UTC, "2024-03-05T10:00:00Z"},
		{"2024-03-05T10:00", true, berlin, "2024-03-05T09:00:00.000001Z"},
	} {
		got, err := parseTimeFlag("--since", tt.in, tt.end, tt.loc)
		if err != nil {
			t.Errorf("%s in %s: %v", tt.in, tt.loc, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tt.want {
			t.Errorf("%s (end %v) in %s: %s, want %s", tt.in, tt.end, tt.loc, s, tt.want)
		}
	}
}

// TestTimelineSinceInTimezone: on the samples, Berlin's 10:00 to 12:00 is
// UTC's 09:00 to 11:00, for timeline and signins alike.
func TestTimelineSinceInTimezone(t *testing.T) {
	db := samplesCase(t)
	for _, cmd := range []string{"timeline", "signins"} {
		berlin, stderr, code := run(t, "", cmd, "--db", db, "--format", "csv", "--timezone", "Europe/Berlin", "--since", "2024-03-05T10:00", "--until", "2024-03-05T12:00")
		if code != exitOK {
			t.Fatalf("%s: exit %d %s", cmd, code, stderr)
		}
		utc, _, _ := run(t, "", cmd, "--db", db, "--format", "csv", "--since", "2024-03-05T09:00Z", "--until", "2024-03-05T11:00Z")
		other, _, _ := run(t, "", cmd, "--db", db, "--format", "csv", "--since", "2024-03-05T10:00Z", "--until", "2024-03-05T12:00Z")
		if berlin != utc || berlin == other {
			t.Errorf("%s: Berlin's 10:00-12:00 gave %d lines, UTC's 09:00-11:00 %d, UTC's 10:00-12:00 %d",
				cmd, strings.Count(berlin, "\n"), strings.Count(utc, "\n"), strings.Count(other, "\n"))
		}
	}
}
