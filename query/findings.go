package query

// Findings: what every rule language returns, and their order.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Severity ranks a finding. The zero value is not a valid severity.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists the valid severities, lowest first.
var Severities = []Severity{Info, Low, Medium, High, Critical}

// Rank orders severities: 1 for info up to 5 for critical, 0 when invalid.
func (s Severity) Rank() int { return slices.Index(Severities, s) + 1 }

// ParseSeverity reads a severity name, in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want one of info, low, medium, high, critical)", s)
	}
	return v, nil
}

// Finding is one detection result: a group of events a rule flagged.
type Finding struct {
	RuleID     string    `json:"rule_id"`
	Title      string    `json:"title"`
	Severity   Severity  `json:"severity"`
	Actor      string    `json:"actor"`
	AccountID  string    `json:"account_id"`
	SourceIPs  []string  `json:"source_ips"`
	UserAgents []string  `json:"user_agents"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Count      int64     `json:"count"`
	EventIDs   []string  `json:"event_ids"`
	Details    string    `json:"details"`
}

// MaxFindingEventIDs bounds the event ids a finding carries, whatever its
// rule's language: the first ones its rule lists (by time, for the
// built-in and Sigma rules), while count has them all. A rule that matches
// millions of events would otherwise make one finding of millions of ids,
// in every output and in the findings table. (Sigma's SQL also stops
// collecting them there; a SQL rule's list is cut when it is read.)
const MaxFindingEventIDs = 1000

// FindingColumns are the columns a rule's SELECT returns, in any order.
// details and severity may be left out.
var FindingColumns = []Column{
	{"actor", "VARCHAR", "who acted: user name, Identity Center user, role session, root"},
	{"account_id", "VARCHAR", "the AWS account"},
	{"source_ips", "VARCHAR[]", "source IP addresses of the events"},
	{"user_agents", "VARCHAR[]", "user agents of the events"},
	{"first_seen", "TIMESTAMPTZ", "time of the first event"},
	{"last_seen", "TIMESTAMPTZ", "time of the last event"},
	{"count", "BIGINT", "number of events (attempts, for thresholds)"},
	{"event_ids", "VARCHAR[]", "eventIDs of the events, in time order: the first 1,000 are kept (count has them all)"},
	{"details", "VARCHAR", "optional: one line saying what happened"},
	{"severity", "VARCHAR", "optional: overrides the rule's severity for this finding"},
}

// SortFindings orders findings most severe first, then by first_seen, rule
// and first event, so output is stable.
func SortFindings(found []Finding) {
	sort.SliceStable(found, func(i, j int) bool {
		a, b := &found[i], &found[j]
		if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
			return ra > rb
		}
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Actor != b.Actor {
			return a.Actor < b.Actor
		}
		return strings.Join(a.EventIDs, ",") < strings.Join(b.EventIDs, ",")
	})
}
