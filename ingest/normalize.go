package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"
	"github.com/zeebo/xxh3"
)

// recordKind says what a parsed top-level object turned out to be.
type recordKind int

const (
	kindEvent recordKind = iota
	kindLookupItem
	kindDigest
	kindOther
)

// normalizer turns raw event JSON into Events. One per worker: it reuses its
// parser and buffers.
type normalizer struct {
	bufs    readers
	p       fastjson.Parser // classify's, and the rewrite of records with repeated keys
	issued  []byte
	compact []byte // the record as strict compact JSON, at the arena's tail until kept
	dedup   []byte // the same without repeated keys, when it has some
	scratch strictScratch
	rep     repairs
	record  tape
	text    []byte    // a string's text, when it has escapes
	inner   [2]nested // parts an export gave as JSON strings (see embedded)
	strings stringArena
}

// nested is an object found inside a JSON string, made a tape of its own.
type nested struct {
	text    []byte
	compact []byte
	scratch strictScratch
	tape    tape
}

// classify reads a top-level record (strictJSON, into the normalizer's
// record tape) and says what it is. For a lookup-events item it returns
// the embedded CloudTrailEvent JSON, valid until the normalizer reads
// again; for an event, fromStrict reads it on without a second rewrite.
func (n *normalizer) classify(data []byte) (recordKind, []byte, error) {
	clean, err := strictJSON(n.strings.tail(), data, &n.scratch, &n.rep)
	n.compact = clean
	if err != nil {
		return kindOther, nil, err
	}
	if n.scratch.depth > maxJSONDepth {
		return kindOther, nil, errTooDeep
	}
	n.record = tape{json: clean, members: n.scratch.members}
	rec := n.record.root()
	if !rec.isObject() {
		return kindOther, nil, errNotObject
	}
	ct := rec.get("CloudTrailEvent")
	if k := ct.kind(); (k == '"' || k == '{') && n.rep.repaired() {
		if inner, ok := n.embeddedAsGiven(data); ok {
			return kindLookupItem, inner, nil
		}
	}
	switch ct.kind() {
	case '"':
		n.text = unescapeString(n.text[:0], ct.raw())
		return kindLookupItem, n.text, nil
	case '{':
		// Written again as it always was (appendJSON's escapes), so an
		// event identified by its content keeps its identity.
		v, err := n.p.ParseBytes(ct.raw())
		if err != nil {
			return kindOther, nil, err
		}
		return kindLookupItem, appendJSON(nil, v, false), nil
	}
	if rec.get("digestStartTime").t != nil && rec.get("logFiles").t != nil {
		return kindDigest, nil, nil
	}
	return kindEvent, nil, nil // fromStrict tells whether it is one
}

// embeddedAsGiven is the CloudTrailEvent of a lookup-events item whose
// own rewrite repaired something, taken from the item as given (fastjson
// does not repair): the event's rewrite then repairs it, warns about it
// on the event, and stores what it always stored. ok is false when the
// item cannot be read that way.
func (n *normalizer) embeddedAsGiven(data []byte) ([]byte, bool) {
	v, err := n.p.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	o, err := v.Object()
	if err != nil {
		return nil, false
	}
	// Matched as node.get matches keys: exact over case-folded, the last
	// of repeated keys.
	var exact, folded *fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch {
		case string(k) == "CloudTrailEvent":
			exact = v
		case len(k) == len("CloudTrailEvent") && strings.EqualFold(string(k), "CloudTrailEvent"):
			folded = v
		}
	})
	ct := exact
	if ct == nil {
		ct = folded
	}
	switch {
	case ct == nil:
		return nil, false
	case ct.Type() == fastjson.TypeString:
		return ct.GetStringBytes(), true
	case ct.Type() == fastjson.TypeObject:
		return appendJSON(nil, ct, false), true
	}
	return nil, false
}

type normError struct{ msg string }

func (e *normError) Error() string { return e.msg }

var errNotObject = &normError{"record is not a JSON object"}

// errNotEvent is a record that is JSON but not a CloudTrail event: it needs
// an eventName and an eventSource, and an eventTime, eventVersion or
// userIdentity. Files whose records are all like this are skipped.
var errNotEvent = &normError{"record is not a CloudTrail event (it needs eventName, eventSource, and eventTime, eventVersion or userIdentity)"}

// maxErrorText bounds what a parser's message adds to an error: its text
// grows with the input (fastjson repeats a phrase per level of nesting and
// quotes the tail), and the input is the attacker's.
const maxErrorText = 200

// invalidJSON is the record error for JSON the parser refused, bounded.
func invalidJSON(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "too big depth") {
		return "invalid JSON: nested more than 300 levels deep"
	}
	if len(msg) > maxErrorText {
		msg = strings.ToValidUTF8(msg[:maxErrorText], "") + "..."
	}
	return "invalid JSON: " + msg
}

// warning is a problem with one field; the event is still stored.
type warning string

// maxJSONDepth is how deeply a record may nest: a value inside more
// containers than this makes the record invalid. It is the limit of the
// parser records went through before (fastjson's MaxDepth), so the same
// records are refused.
const maxJSONDepth = 300

var errTooDeep = &normError{"invalid JSON: nested more than 300 levels deep"}

// normalize reads one event's JSON into ev. ev.Raw keeps the event as given,
// as compact strict JSON: white space removed, and what a strict parser
// would refuse repaired, with a warning (see strictJSON). The columns are
// read from the tape strictJSON builds on the way.
func (n *normalizer) normalize(data []byte, ev *Event) (warn warning, err error) {
	clean, err := strictJSON(n.strings.tail(), data, &n.scratch, &n.rep)
	n.compact = clean
	if err != nil {
		return "", &normError{invalidJSON(err)}
	}
	return n.fromStrict(ev)
}

// normalizePrefix is normalize of the record data starts with, when
// strictJSON takes it as it is (ok); used is its length in data. Records
// are read this way straight from the input's buffer, without the
// splitter's pass over them; anything else (a record broken, or cut by the
// buffer's end) is left to the splitter and normalize.
func (n *normalizer) normalizePrefix(data []byte, ev *Event) (used int, ok bool, warn warning, err error) {
	clean, err := strictJSONPrefix(n.strings.tail(), data, &n.scratch, &n.rep)
	n.compact = clean
	if err != nil {
		return 0, false, "", nil
	}
	used = n.scratch.end // before fromStrict, which may rewrite the record again
	warn, err = n.fromStrict(ev)
	return used, true, warn, err
}

// fromStrict reads the event in n.compact, which strictJSON wrote.
func (n *normalizer) fromStrict(ev *Event) (warn warning, err error) {
	clean := n.compact
	if n.scratch.depth > maxJSONDepth {
		return "", errTooDeep
	}
	if n.rep.dupKeys > 0 {
		// One rule for every column: the last value of a repeated key.
		// The stored event is rewritten without the earlier ones, so
		// DuckDB's JSON functions (which take the first) agree.
		v, err := n.p.ParseBytes(clean)
		if err != nil {
			return "", &normError{invalidJSON(err)}
		}
		n.dedup = appendJSON(n.dedup[:0], v, true)
		var again repairs // strict already: only its tape is wanted
		if clean, err = strictJSON(n.strings.tail(), n.dedup, &n.scratch, &again); err != nil {
			return "", &normError{invalidJSON(err)}
		}
		n.compact = clean
	}
	// The rewrite is the stored event: kept where it was written, and the
	// columns are cut from it (stable), not copied.
	raw := n.strings.keep(clean)
	n.compact = nil
	n.record = tape{json: unsafe.Slice(unsafe.StringData(raw), len(raw)), members: n.scratch.members, stable: true}
	rec := n.record.root()
	if !rec.isObject() {
		return "", errNotObject
	}
	warns := n.rep.warnings()
	*ev = Event{}
	var timeRaw, uid, add, req, resp, svc, shared node
	var keyBuf [32]byte
	rec.children(func(m int32) bool {
		val := node{&n.record, m}
		switch string(lowerKey(keyBuf[:0], n.record.key(m, &n.text))) {
		case "eventtime":
			timeRaw = val
		case "@timestamp":
			if timeRaw.t == nil {
				timeRaw = val
			}
		case "eventversion":
			ev.EventVersion = n.str(val)
		case "eventsource":
			ev.EventSource = n.str(val)
		case "eventname":
			ev.EventName = n.str(val)
		case "eventtype":
			ev.EventType = n.str(val)
		case "eventcategory":
			ev.EventCategory = n.str(val)
		case "awsregion":
			ev.AWSRegion = n.str(val)
		case "sourceipaddress":
			ev.SourceIP = n.str(val)
		case "useragent":
			ev.UserAgent = n.str(val)
		case "errorcode":
			ev.ErrorCode = n.str(val)
		case "errormessage":
			ev.ErrorMessage = n.str(val)
		case "readonly":
			ev.ReadOnly = n.tristate(val)
		case "managementevent":
			ev.ManagementEvent = n.tristate(val)
		case "recipientaccountid":
			ev.RecipientAccountID = n.str(val)
		case "eventid":
			ev.EventID = n.str(val)
		case "useridentity":
			uid = val
		case "requestparameters":
			req = val
		case "responseelements":
			resp = val
		case "sharedeventid":
			shared = val
		case "additionaleventdata":
			add = val
		case "serviceeventdetails":
			svc = val
		}
		return true
	})
	if ev.EventName == "" || ev.EventSource == "" || timeRaw.t == nil && ev.EventVersion == "" && uid.t == nil {
		return "", errNotEvent
	}
	if uid.isObject() {
		n.userIdentity(uid, ev)
	}
	if add = n.embedded(add, &n.inner[0]); add.t != nil {
		if ev.MFAUsed = strings.TrimSpace(n.str(add.get("MFAUsed"))); ev.MFAUsed != "" {
			switch strings.ToLower(ev.MFAUsed) {
			case "yes", "true":
				ev.MFAUsed = "Yes"
			case "no", "false":
				ev.MFAUsed = "No"
			}
		}
		ev.MFAIdentifier = n.str(add.get("MFAIdentifier"))
		ev.CredentialType = n.str(add.get("CredentialType"))
		ev.AuthWorkflowID = n.str(add.get("AuthWorkflowID"))
		if ev.UserName == "" {
			ev.UserName = n.str(add.get("UserName"))
		}
	}
	if resp.isObject() {
		ev.LoginResult = n.str(resp.get("ConsoleLogin"))
	}
	if svc = n.embedded(svc, &n.inner[0]); svc.t != nil {
		ev.CredentialChallenge = n.str(svc.get("CredentialChallenge"))
		if ev.CredentialChallenge == "" && ev.EventName != "" {
			ev.CredentialChallenge = n.str(svc.get(ev.EventName))
		}
	}
	if IssuesCredential(ev.EventSource, ev.EventName) {
		// After additionalEventData and serviceEventDetails: their JSON
		// strings were read into n.inner[0], which this may reuse.
		ev.IssuedCredential = n.issuedCredential(n.embedded(req, &n.inner[0]), n.embedded(resp, &n.inner[1]), shared)
	}
	if ev.AccountID == "" {
		ev.AccountID = ev.RecipientAccountID
	}
	ev.Actor = actorOf(ev)
	ev.Outcome = outcomeOf(ev)

	ts := n.str(timeRaw)
	if ts != "" {
		t, note, ok := parseTime(ts)
		switch {
		case ok:
			ev.Time, ev.HasTime = t, true
			if note != "" {
				warns = append(warns, "eventTime "+quoteShort(ts)+": "+note)
			}
		case note != "":
			warns = append(warns, "unparseable eventTime "+quoteShort(ts)+" ("+note+"); event kept with no time")
		default:
			warns = append(warns, "unparseable eventTime "+quoteShort(ts)+"; event kept with no time")
		}
	} else {
		warns = append(warns, "event has no eventTime; event kept with no time")
	}

	ev.Raw, ev.RawStrict = raw, true
	ev.Key = eventKey(ev, ts)
	return warning(strings.Join(warns, "; ")), nil
}

func (n *normalizer) userIdentity(uid node, ev *Event) {
	ev.UserType = n.str(uid.get("type"))
	ev.UserName = n.str(uid.get("userName"))
	ev.UserARN = n.str(uid.get("arn"))
	ev.PrincipalID = n.str(uid.get("principalId"))
	ev.AccountID = n.str(uid.get("accountId"))
	ev.AccessKeyID = n.str(uid.get("accessKeyId"))
	ev.InvokedBy = n.str(uid.get("invokedBy"))
	if sc := uid.get("sessionContext"); sc.isObject() {
		if iss := sc.get("sessionIssuer"); iss.isObject() {
			ev.SessionIssuerARN = n.str(iss.get("arn"))
			ev.SessionIssuerName = n.str(iss.get("userName"))
		}
		if at := sc.get("attributes"); at.isObject() {
			ev.MFAAuthenticated = n.tristate(at.get("mfaAuthenticated"))
		}
	}
	if ev.UserName == "" {
		if obo := uid.get("onBehalfOf"); obo.isObject() {
			// Identity Center: the readable name is in additionalEventData.UserName,
			// filled in later; the user id is the fallback.
			if id := n.str(obo.get("userId")); id != "" && ev.PrincipalID == "" {
				ev.PrincipalID = id
			}
		}
	}
}

// actorOf picks the best human name for who acted.
func actorOf(ev *Event) string {
	switch {
	case strings.EqualFold(ev.UserType, "Root"):
		return "root"
	case ev.UserName != "":
		return ev.UserName
	case strings.EqualFold(ev.UserType, "AWSService") && ev.InvokedBy != "":
		return ev.InvokedBy
	case ev.UserARN != "":
		return arnName(ev.UserARN)
	case ev.InvokedBy != "":
		return ev.InvokedBy
	}
	return ev.PrincipalID
}

// arnName is the readable tail of an ARN: the user, the role/session, or
// "root".
func arnName(arn string) string {
	rest := arn
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		rest = arn[i+1:]
	}
	switch {
	case strings.HasPrefix(rest, "assumed-role/"):
		return strings.TrimPrefix(rest, "assumed-role/")
	case rest == "root":
		return "root"
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[strings.LastIndexByte(rest, '/')+1:]
	}
	return rest
}

func outcomeOf(ev *Event) string {
	for _, r := range [...]string{ev.LoginResult, ev.CredentialChallenge} {
		switch strings.ToLower(r) {
		case "success":
			return "Success"
		case "failure", "failed":
			return "Failure"
		}
	}
	if ev.ErrorCode != "" || ev.ErrorMessage == "Failed authentication" {
		return "Failure"
	}
	return "Success"
}

// RawKeyBit is set in the key of an event identified by its whole content
// (Event.Key); it is clear in the key of one identified by its eventID.
// Stores read it to know what to compare when two keys are equal.
const RawKeyBit uint64 = 1 << 63

// eventKey identifies an event for deduplication. A real eventID, together
// with the instant and the fields that pin the event down, identifies it
// across deliveries and export shapes (the instant, not its text: S3 and a
// Lake export write the same time differently). Every field that decides
// the event's partition in a dataset (account, region, day) is part of it,
// so two copies always meet in one partition. A missing or placeholder
// eventID, or a time that cannot be read, falls back to the whole content,
// so different events that share a placeholder are all kept.
//
// The key is a 64-bit hash, an index only: stores compare the identity
// itself before they call two events the same (see Identity).
// The time's text is not used: an unreadable time is in the raw content.
func eventKey(ev *Event, _ string) uint64 {
	if usableEventID(ev.EventID) && ev.HasTime {
		b := make([]byte, 0, 160)
		b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(ev.Time.Nanosecond()))
		for _, s := range [...]string{ev.EventID, ev.EventSource, ev.EventName, ev.RecipientAccountID, ev.AWSRegion, ev.AccountID} {
			// Length-prefixed, so no field's bytes can pass for another's.
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		return xxh3.Hash(b) &^ RawKeyBit
	}
	return xxh3.HashString(ev.Raw) | RawKeyBit
}

// usableEventID is false for empty, short and placeholder ids ("redacted",
// "HIDDEN"); real eventIDs are UUIDs.
func usableEventID(id string) bool {
	if len(id) < 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	// The id is ASCII by now: "redacted" in any case, without lowering a
	// copy of every id (an allocation per event).
	for i := 0; i+len("redacted") <= len(id); i++ {
		if id[i]|0x20 == 'r' && strings.EqualFold(id[i:i+len("redacted")], "redacted") {
			return false
		}
	}
	return true
}

func lowerKey(dst, k []byte) []byte {
	n := len(dst)
	dst = append(dst, k...) // one copy, then lowered in place: a byte-by-byte append was 7% of normalize
	for i := n; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// str is a value as text: strings unescaped, numbers and booleans as
// written, null and containers as "".
func (n *normalizer) str(v node) string {
	b := v.raw()
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case '"':
		if bytes.IndexByte(b, '\\') < 0 {
			return n.cut(v, b[1:len(b)-1])
		}
		n.text = unescapeString(n.text[:0], b)
		return n.strings.of(n.text)
	case '{', '[', 'n':
		return ""
	}
	return n.cut(v, b)
}

// cut is text, which is part of v's tape, as a string: the tape's own
// bytes when they are never written again (the kept record), else a copy.
func (n *normalizer) cut(v node, text []byte) string {
	if v.t.stable && len(text) > 0 {
		return unsafe.String(&text[0], len(text))
	}
	return n.strings.of(text)
}

func (n *normalizer) tristate(v node) Tristate {
	switch v.kind() {
	case 't':
		return True
	case 'f':
		return False
	case '"':
		n.text = unescapeString(n.text[:0], v.raw())
		switch strings.ToLower(string(n.text)) {
		case "true", "yes":
			return True
		case "false", "no":
			return False
		}
	}
	return Unknown
}

// embedded returns v when it is an object, or the object a JSON string
// value holds (some exports serialise nested parts as strings), read into
// slot: a node it returns lives until slot is used again.
func (n *normalizer) embedded(v node, slot *nested) node {
	switch v.kind() {
	case '{':
		return v
	case '"':
		slot.text = unescapeString(slot.text[:0], v.raw())
		if s := bytes.TrimSpace(slot.text); len(s) > 0 && s[0] == '{' {
			var rep repairs
			out, err := strictJSON(slot.compact[:0], s, &slot.scratch, &rep)
			slot.compact = out
			if err == nil && slot.scratch.depth <= maxJSONDepth {
				slot.tape = tape{json: out, members: slot.scratch.members}
				return slot.tape.root()
			}
		}
	}
	return node{}
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(strconv.Quote(s), "?")
}

// timeLayouts are the eventTime spellings seen in real exports. None has a
// zone name: Go reads those by the machine's local zone rules, so the same
// text would mean different instants on different laptops (see zoneNames).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
}

// zone is a fixed UTC offset for a zone abbreviation; alt names the other
// zones an ambiguous abbreviation is also used for.
type zone struct {
	offset time.Duration
	name   string
	alt    string
}

// zoneNames is the fixed table of abbreviations a time may end with. An
// ambiguous one is read as the zone listed, with a warning; one not listed
// makes the time unparseable.
var zoneNames = map[string]zone{
	"UTC": {0, "UTC", ""}, "GMT": {0, "GMT", ""}, "UT": {0, "UT", ""}, "Z": {0, "UTC", ""},
	"EST": {-5 * time.Hour, "US Eastern", ""}, "EDT": {-4 * time.Hour, "US Eastern daylight", ""},
	"CST": {-6 * time.Hour, "US Central", "China (UTC+8), Cuba (UTC-5)"}, "CDT": {-5 * time.Hour, "US Central daylight", "Cuba daylight (UTC-4)"},
	"MST": {-7 * time.Hour, "US Mountain", ""}, "MDT": {-6 * time.Hour, "US Mountain daylight", ""},
	"PST": {-8 * time.Hour, "US Pacific", "Philippines (UTC+8)"}, "PDT": {-7 * time.Hour, "US Pacific daylight", ""},
	"AKST": {-9 * time.Hour, "Alaska", ""}, "AKDT": {-8 * time.Hour, "Alaska daylight", ""},
	"HST": {-10 * time.Hour, "Hawaii", ""},
	"AST": {-4 * time.Hour, "Atlantic", "Arabia (UTC+3)"}, "ADT": {-3 * time.Hour, "Atlantic daylight", ""},
	"NST": {-(3*time.Hour + 30*time.Minute), "Newfoundland", ""}, "NDT": {-(2*time.Hour + 30*time.Minute), "Newfoundland daylight", ""},
	"BRT": {-3 * time.Hour, "Brasilia", ""}, "ART": {-3 * time.Hour, "Argentina", ""},
	"WET": {0, "Western European", ""}, "WEST": {time.Hour, "Western European summer", ""},
	"BST": {time.Hour, "British summer", "Bangladesh (UTC+6)"},
	"CET": {time.Hour, "Central European", ""}, "CEST": {2 * time.Hour, "Central European summer", ""},
	"EET": {2 * time.Hour, "Eastern European", ""}, "EEST": {3 * time.Hour, "Eastern European summer", ""},
	"MSK": {3 * time.Hour, "Moscow", ""}, "SAST": {2 * time.Hour, "South Africa", ""},
	"IST": {5*time.Hour + 30*time.Minute, "India", "Ireland (UTC+1), Israel (UTC+2)"},
	"PKT": {5 * time.Hour, "Pakistan", ""}, "ICT": {7 * time.Hour, "Indochina", ""}, "WIB": {7 * time.Hour, "Western Indonesia", ""},
	"SGT": {8 * time.Hour, "Singapore", ""}, "HKT": {8 * time.Hour, "Hong Kong", ""}, "AWST": {8 * time.Hour, "Australian Western", ""},
	"JST": {9 * time.Hour, "Japan", ""}, "KST": {9 * time.Hour, "Korea", ""},
	"ACST": {9*time.Hour + 30*time.Minute, "Australian Central", ""}, "ACDT": {10*time.Hour + 30*time.Minute, "Australian Central daylight", ""},
	"AEST": {10 * time.Hour, "Australian Eastern", ""}, "AEDT": {11 * time.Hour, "Australian Eastern daylight", ""},
	"NZST": {12 * time.Hour, "New Zealand", ""}, "NZDT": {13 * time.Hour, "New Zealand daylight", ""},
}

// parseTime reads an eventTime; times without a zone are UTC, as
// CloudTrail's are. note explains an ambiguous zone (ok) or why the time
// could not be read (not ok). Instants outside the years 1 to 9999 are not
// read: nothing downstream can show them.
func parseTime(s string) (t time.Time, note string, ok bool) {
	if t, ok := parseCanonicalTime(s); ok {
		return t, "", true
	}
	var offset time.Duration
	if i := strings.LastIndexByte(s, ' '); i > 0 && isZoneName(s[i+1:]) {
		z, known := zoneNames[s[i+1:]]
		if !known {
			return time.Time{}, "unknown time zone " + s[i+1:], false
		}
		if z.alt != "" {
			note = fmt.Sprintf("time zone %s is ambiguous: read as %s (UTC%s), not %s", s[i+1:], z.name, fmtOffset(z.offset), z.alt)
		}
		s, offset = s[:i], z.offset
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.Add(-offset).UTC()
			if y := t.Year(); y < 1 || y > 9999 {
				return time.Time{}, "outside the years 1 to 9999", false
			}
			return t, note, true
		}
	}
	return time.Time{}, "", false
}

func isZoneName(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func fmtOffset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	if m := int(d.Minutes()) % 60; m != 0 {
		return fmt.Sprintf("%s%d:%02d", sign, int(d.Hours()), m)
	}
	return fmt.Sprintf("%s%d", sign, int(d.Hours()))
}

// parseCanonicalTime is the fast path for CloudTrail's own
// "2006-01-02T15:04:05Z".
func parseCanonicalTime(s string) (time.Time, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		v := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	se, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}
