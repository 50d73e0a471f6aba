package query

import "strings"

// UpdateGolden is the -update flag, for the tests of package query_test.
var UpdateGolden = update

// OldEventsViewSQL is the events view as trailsift made it before it parsed
// raw once a row: each computed column parsed raw itself.
func OldEventsViewSQL() string {
	var cols []string
	for _, c := range EventColumns {
		if g := generated[c.Name]; g != "" {
			cols = append(cols, "("+g+")::"+c.Type+" AS "+c.Name)
		} else {
			cols = append(cols, c.Name)
		}
	}
	return "CREATE OR REPLACE VIEW events AS SELECT " + strings.Join(cols, ", ") + " FROM event_rows"
}
