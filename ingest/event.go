package ingest

import "time"

// Event is one normalised CloudTrail event, ready to be stored. The typed
// fields are the ones people filter on; the JSON parts and the whole
// original event are kept verbatim so nothing is lost.
//
// String fields hold "" where the event had no value; sinks store that as
// NULL. Every string is attacker-controlled text from the log.
type Event struct {
	// Key identifies the event for deduplication: a hash of the eventID and
	// the fields that pin it down, or of the whole content when the eventID
	// cannot identify it (missing, redacted, placeholder).
	Key uint64
	// Digest is the SHA-256 of the event's Identity, which stores compare
	// to keep one copy of an event; the decoder computes it (on every
	// core), not the one goroutine every event then goes through. It is
	// set once the event is whole: nothing changes the fields of its
	// Identity after.
	Digest [32]byte

	Time    time.Time // UTC; zero when missing or unparseable
	HasTime bool

	EventVersion        string
	EventSource         string
	EventName           string
	EventType           string
	EventCategory       string
	AWSRegion           string
	SourceIP            string
	UserAgent           string
	ErrorCode           string
	ErrorMessage        string
	ReadOnly            Tristate
	ManagementEvent     Tristate
	UserType            string
	UserName            string
	UserARN             string
	PrincipalID         string
	AccountID           string
	AccessKeyID         string
	SessionIssuerARN    string
	SessionIssuerName   string
	InvokedBy           string
	MFAAuthenticated    Tristate
	Actor               string
	RecipientAccountID  string
	EventID             string
	LoginResult         string // responseElements.ConsoleLogin
	MFAUsed             string // additionalEventData.MFAUsed, normalised to Yes/No
	MFAIdentifier       string
	CredentialType      string
	CredentialChallenge string // serviceEventDetails result of an Identity Center sign-in step
	AuthWorkflowID      string
	Outcome             string // Success or Failure: the sign-in result, or the API call's

	// IssuedCredential is, for a call that hands out a credential
	// (IssuesCredential), what it handed out and how it was asked for: a
	// JSON object of IssuedFields ("{}" when it names none). "" for other
	// events. The sessions build reads it instead of the whole event.
	IssuedCredential string

	// Raw is the whole original event as compact JSON. Its nested parts
	// (requestParameters, ...) are not copied: stores derive them from Raw.
	Raw string
	// RawStrict says Raw came out of the decoder's strict rewriter
	// (strictJSON), which makes it valid JSON for DuckDB by construction
	// (FuzzNormalize checks it), so a sink need not check it again: that
	// check cost as much as the rewrite. Sinks check any other Raw.
	RawStrict bool

	FileID      int64 // provenance: the file the event came from
	RecordIndex int64 // position of the event in that file, from 0
}

// Tristate is a boolean that may be absent from the event.
type Tristate int8

// Tristate values.
const (
	Unknown Tristate = iota
	False
	True
)
