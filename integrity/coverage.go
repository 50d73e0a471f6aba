package integrity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// CoverageOptions configure Coverage.
type CoverageOptions struct {
	// DeliveryGap is the longest time between two log file deliveries of an
	// account and region that is not reported; 0 means one hour. CloudTrail
	// delivers about every 5 minutes while there is activity, so quiet
	// accounts have natural gaps: raise it for them.
	DeliveryGap time.Duration
}

// Range is a span of time, From inclusive, To exclusive.
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Duration is To - From; it saturates past 292 years (an event dated 0001
// next to one dated 2024): Seconds does not.
func (r Range) Duration() time.Duration { return r.To.Sub(r.From) }

// Seconds is the length of the range in whole seconds, for any years.
func (r Range) Seconds() int64 { return r.To.Unix() - r.From.Unix() }

// Scope is the coverage of one account and region.
type Scope struct {
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Events       int64     `json:"events"`
	FirstEvent   time.Time `json:"first_event,omitzero"` // zero (left out) for a scope with log files but no timed event
	LastEvent    time.Time `json:"last_event,omitzero"`
	SilentHours  []Range   `json:"silent_hours"`  // whole hours with no event at all, consecutive ones merged
	LogFiles     int       `json:"log_files"`     // S3 log files seen for it
	DeliveryGaps []Range   `json:"delivery_gaps"` // between consecutive log file deliveries, longer than the threshold
}

// TamperEvent is a call that stops, deletes or narrows what CloudTrail
// records. Everything in it comes from the logs: attacker-controlled text.
type TamperEvent struct {
	Time      time.Time `json:"time,omitzero"` // zero (left out) when the event has no time
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	EventName string    `json:"event_name"`
	Actor     string    `json:"actor"`
	SourceIP  string    `json:"source_ip"`
	UserAgent string    `json:"user_agent"`
	Target    string    `json:"target"` // the trail or event data store
	ErrorCode string    `json:"error_code,omitempty"`
	EventID   string    `json:"event_id"`
	Detail    string    `json:"detail"`
}

// CoverageReport is the result of Coverage.
type CoverageReport struct {
	DeliveryGap time.Duration `json:"delivery_gap_threshold_ns"`
	Scopes      []Scope       `json:"scopes"`
	Tampering   []TamperEvent `json:"tampering"`
}

// Tampered is true when a tampering call succeeded.
func (r *CoverageReport) Tampered() bool {
	for _, t := range r.Tampering {
		if t.ErrorCode == "" {
			return true
		}
	}
	return false
}

// tamperNames are the CloudTrail calls Coverage reports. PutEventSelectors
// is reported only when it narrows what is logged (see narrowing).
var tamperNames = []string{"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "DeleteEventDataStore", "StopEventDataStoreIngestion"}

// Coverage measures, per account and region in a case database, the hours
// without any event, the gaps between log file deliveries, and the calls
// that stop, delete or narrow CloudTrail. db is an open store (query.Store's
// DB); it is only read.
func Coverage(ctx context.Context, db *sql.DB, opts CoverageOptions) (*CoverageReport, error) {
	if opts.DeliveryGap <= 0 {
		opts.DeliveryGap = time.Hour
	}
	rep := &CoverageReport{DeliveryGap: opts.DeliveryGap, Scopes: []Scope{}, Tampering: []TamperEvent{}}
	scopes := map[[2]string]*Scope{}
	scope := func(acct, region string) *Scope {
		k := [2]string{acct, region}
		if scopes[k] == nil {
			scopes[k] = &Scope{Account: acct, Region: region, SilentHours: []Range{}, DeliveryGaps: []Range{}}
		}
		return scopes[k]
	}
	if err := silentHours(ctx, db, scope); err != nil {
		return nil, err
	}
	if err := deliveryGaps(ctx, db, opts.DeliveryGap, scope); err != nil {
		return nil, err
	}
	var err error
	if rep.Tampering, err = tampering(ctx, db); err != nil {
		return nil, err
	}
	for _, s := range scopes {
		rep.Scopes = append(rep.Scopes, *s)
	}
	sort.Slice(rep.Scopes, func(i, j int) bool {
		a, b := rep.Scopes[i], rep.Scopes[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.Region < b.Region
	})
	return rep, nil
}

func silentHours(ctx context.Context, db *sql.DB, scope func(a, r string) *Scope) error {
	// Scopes with their first and last event and count.
	rows, err := db.QueryContext(ctx, `
		select coalesce(recipient_account_id, account_id, ''), coalesce(aws_region, ''),
		       min(event_time::timestamp), max(event_time::timestamp), count(*)
		from event_rows where event_time is not null group by all order by 1, 2`)
	if err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	for rows.Next() {
		var acct, region string
		var first, last time.Time
		var n int64
		if err := rows.Scan(&acct, &region, &first, &last, &n); err != nil {
			rows.Close()
			return fmt.Errorf("coverage: %w", err)
		}
		s := scope(acct, region)
		s.FirstEvent, s.LastEvent, s.Events = first.UTC(), last.UTC(), n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	// Empty hours between the first and the last, merged into ranges: the
	// gap after each hour that has events, up to the next such hour. Only
	// hours with events are read, so the cost follows the events, never the
	// span (a grid of every hour from an event dated 0001 to one dated 9999
	// is 88 million rows).
	rows, err = db.QueryContext(ctx, `
		with ev as (
			select coalesce(recipient_account_id, account_id, '') as acct, coalesce(aws_region, '') as region,
			       date_trunc('hour', event_time::timestamp) as h
			from event_rows where event_time is not null group by all),
		seq as (select acct, region, h, lead(h) over (partition by acct, region order by h) as next from ev)
		select acct, region, h + interval 1 hour, next from seq
		where next > h + interval 1 hour
		order by 1, 2, 3`)
	if err != nil {
		return fmt.Errorf("coverage: silent hours: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var acct, region string
		var from, to time.Time
		if err := rows.Scan(&acct, &region, &from, &to); err != nil {
			return fmt.Errorf("coverage: %w", err)
		}
		s := scope(acct, region)
		s.SilentHours = append(s.SilentHours, Range{From: from.UTC(), To: to.UTC()})
	}
	return rows.Err()
}

// deliveryGaps reads the delivery time stamps in the names of the S3 log
// files recorded in the files table (..._<YYYYMMDDTHHMMZ>_<unique>.json.gz).
func deliveryGaps(ctx context.Context, db *sql.DB, threshold time.Duration, scope func(a, r string) *Scope) error {
	rows, err := db.QueryContext(ctx, `select path from files where path like ?`, "%AWSLogs/%/CloudTrail/%")
	if err != nil {
		return fmt.Errorf("coverage: delivery gaps: %w", err)
	}
	defer rows.Close()
	times := map[[2]string][]time.Time{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("coverage: %w", err)
		}
		m := logName.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		at, err := time.Parse("20060102T1504Z", m[5])
		if err != nil {
			continue
		}
		k := [2]string{m[2], m[3]}
		times[k] = append(times[k], at)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	for k, ts := range times {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		s := scope(k[0], k[1])
		s.LogFiles = len(ts)
		for i := 1; i < len(ts); i++ {
			if ts[i].Sub(ts[i-1]) > threshold {
				s.DeliveryGaps = append(s.DeliveryGaps, Range{From: ts[i-1], To: ts[i]})
			}
		}
	}
	return nil
}

func tampering(ctx context.Context, db *sql.DB) ([]TamperEvent, error) {
	args := []any{"cloudtrail.amazonaws.com"}
	marks := make([]string, len(tamperNames))
	for i, n := range tamperNames {
		marks[i] = "?"
		args = append(args, n)
	}
	rows, err := db.QueryContext(ctx, `
		select event_time, coalesce(recipient_account_id, account_id, ''), coalesce(aws_region, ''), event_name,
		       coalesce(actor, ''), coalesce(source_ip, ''), coalesce(user_agent, ''), coalesce(error_code, ''),
		       coalesce(event_id, ''), coalesce(request_parameters::varchar, '')
		from events
		where event_source = ? and event_name in (`+strings.Join(marks, ", ")+`)
		order by event_time, event_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("coverage: tampering: %w", err)
	}
	defer rows.Close()
	out := []TamperEvent{}
	for rows.Next() {
		var t TamperEvent
		var at sql.NullTime
		var params string
		if err := rows.Scan(&at, &t.Account, &t.Region, &t.EventName, &t.Actor, &t.SourceIP, &t.UserAgent, &t.ErrorCode, &t.EventID, &params); err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
		t.Time = at.Time.UTC()
		var rp map[string]json.RawMessage
		_ = json.Unmarshal([]byte(params), &rp)
		t.Target = firstString(rp, "name", "trailName", "eventDataStore")
		switch t.EventName {
		case "StopLogging":
			t.Detail = "logging stopped: nothing is recorded until StartLogging"
		case "DeleteTrail":
			t.Detail = "trail deleted"
		case "DeleteEventDataStore":
			t.Detail = "CloudTrail Lake event data store deleted"
		case "StopEventDataStoreIngestion":
			t.Detail = "CloudTrail Lake ingestion stopped"
		case "UpdateTrail":
			t.Detail = updateTrailDetail(rp)
		case "PutEventSelectors":
			why := narrowing(rp)
			if why == "" {
				continue // widening or unchanged scope: not tampering
			}
			t.Detail = "event selectors narrowed: " + why
		}
		if t.ErrorCode != "" {
			t.Detail = "attempt failed (" + t.ErrorCode + "): " + t.Detail
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func firstString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// updateTrailDetail names the changes of an UpdateTrail that weaken the
// trail; any UpdateTrail is reported (it can move the logs elsewhere).
func updateTrailDetail(rp map[string]json.RawMessage) string {
	var parts []string
	isFalse := func(k string) bool { return strings.TrimSpace(string(rp[k])) == "false" }
	if isFalse("enableLogFileValidation") {
		parts = append(parts, "log file validation turned off")
	}
	if isFalse("isMultiRegionTrail") {
		parts = append(parts, "made single-region")
	}
	if isFalse("includeGlobalServiceEvents") {
		parts = append(parts, "global service events (IAM, STS, sign-in) excluded")
	}
	if b := firstString(rp, "s3BucketName"); b != "" {
		parts = append(parts, "logs now delivered to bucket "+b)
	}
	if _, ok := rp["s3KeyPrefix"]; ok {
		parts = append(parts, "S3 key prefix changed")
	}
	if len(parts) == 0 {
		return "trail settings changed"
	}
	return "trail changed: " + strings.Join(parts, "; ")
}

// narrowing says how a PutEventSelectors request narrows what a trail
// logs, or "" when it does not. Heuristics, from requestParameters:
//   - eventSelectors with readWriteType ReadOnly or WriteOnly (half the
//     calls are no longer logged);
//   - eventSelectors with includeManagementEvents false;
//   - excludeManagementEventSources not empty (e.g. KMS or RDS Data API
//     events dropped);
//   - both selector lists empty (nothing selected);
//   - advancedEventSelectors with no selector for eventCategory Management,
//     a readOnly field selector, or any NotEquals/NotStartsWith/NotEndsWith
//     condition (events excluded).
func narrowing(rp map[string]json.RawMessage) string {
	var basic []struct {
		ReadWriteType                 string          `json:"readWriteType"`
		IncludeManagementEvents       *bool           `json:"includeManagementEvents"`
		ExcludeManagementEventSources []string        `json:"excludeManagementEventSources"`
		DataResources                 json.RawMessage `json:"dataResources"`
	}
	var advanced []struct {
		Name           string `json:"name"`
		FieldSelectors []struct {
			Field         string   `json:"field"`
			Equals        []string `json:"equals"`
			NotEquals     []string `json:"notEquals"`
			NotStartsWith []string `json:"notStartsWith"`
			NotEndsWith   []string `json:"notEndsWith"`
		} `json:"fieldSelectors"`
	}
	_ = json.Unmarshal(rp["eventSelectors"], &basic)
	_ = json.Unmarshal(rp["advancedEventSelectors"], &advanced)
	var why []string
	add := func(s string) {
		for _, w := range why {
			if w == s {
				return
			}
		}
		why = append(why, s)
	}
	for _, s := range basic {
		switch s.ReadWriteType {
		case "ReadOnly", "WriteOnly":
			add("readWriteType " + s.ReadWriteType)
		}
		if s.IncludeManagementEvents != nil && !*s.IncludeManagementEvents {
			add("management events off")
		}
		if len(s.ExcludeManagementEventSources) > 0 {
			add("management events excluded from " + strings.Join(s.ExcludeManagementEventSources, ", "))
		}
	}
	if _, hasAdv := rp["advancedEventSelectors"]; hasAdv && len(advanced) > 0 {
		management := false
		for _, s := range advanced {
			for _, f := range s.FieldSelectors {
				if f.Field == "eventCategory" {
					for _, e := range f.Equals {
						if e == "Management" {
							management = true
						}
					}
				}
				if f.Field == "readOnly" {
					add("advanced selector logs only readOnly=" + strings.Join(f.Equals, ","))
				}
				if n := len(f.NotEquals) + len(f.NotStartsWith) + len(f.NotEndsWith); n > 0 {
					add("advanced selector excludes some " + f.Field + " values")
				}
			}
		}
		if !management {
			add("no advanced selector for management events")
		}
	}
	if len(basic) == 0 && len(advanced) == 0 && (rp["eventSelectors"] != nil || rp["advancedEventSelectors"] != nil) {
		add("no selectors: nothing selected")
	}
	return strings.Join(why, "; ")
}
