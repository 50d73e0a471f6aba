package lake

import (
	"time"

	"github.com/trailsift/trailsift/ingest"
)

// eventRow is one row of an events file. Its columns are the event_rows
// table of the DuckDB store, in the same order, with the same names and
// types; the JSON parts of the events view are computed from raw by the
// readers (see docs/parquet.md), so each event's JSON is stored once.
// Empty strings are written as NULL, as the DuckDB store does. The text
// columns with few distinct values are dictionary-encoded ("dict"): the
// rules filter on them, and DuckDB then tests a filter once per distinct
// value, not per row (detect --parquet took about 12% less CPU on a 300k
// event dataset, which came out 2% smaller; samples/bench.sh measures it).
// Those columns are not compressed: the rules read them in every scan,
// and DuckDB then skips decompressing them (the rules ran 10% faster on
// the bench corpus, whose dataset grew 2%). Leaving every typed column
// uncompressed made them 25% faster, but the dataset 16% larger, more
// than the gzipped evidence. The other columns take the writer's zstd
// level (writerOptions), but for the ones tagged zstd, which parquet-go
// compresses at its default level: random ids and times, whose encoding
// zstd's fastest level does not shrink well (event_id 65% larger).
type eventRow struct {
	EventKey            uint64     `parquet:"event_key"`
	EventTime           *time.Time `parquet:"event_time,timestamp(microsecond),zstd"`
	EventVersion        *string    `parquet:"event_version,optional,dict,uncompressed"`
	EventSource         *string    `parquet:"event_source,optional,dict,uncompressed"`
	EventName           *string    `parquet:"event_name,optional,dict,uncompressed"`
	EventType           *string    `parquet:"event_type,optional,dict,uncompressed"`
	EventCategory       *string    `parquet:"event_category,optional,dict,uncompressed"`
	AWSRegion           *string    `parquet:"aws_region,optional,dict,uncompressed"`
	SourceIP            *string    `parquet:"source_ip,optional,dict,uncompressed"`
	UserAgent           *string    `parquet:"user_agent,optional,dict,uncompressed"`
	ErrorCode           *string    `parquet:"error_code,optional,dict,uncompressed"`
	ErrorMessage        *string    `parquet:"error_message,optional"`
	ReadOnly            *bool      `parquet:"read_only,optional"`
	ManagementEvent     *bool      `parquet:"management_event,optional"`
	UserType            *string    `parquet:"user_type,optional,dict,uncompressed"`
	UserName            *string    `parquet:"user_name,optional,dict,uncompressed"`
	UserARN             *string    `parquet:"user_arn,optional,dict,uncompressed"`
	PrincipalID         *string    `parquet:"principal_id,optional,dict,uncompressed"`
	AccountID           *string    `parquet:"account_id,optional,dict,uncompressed"`
	AccessKeyID         *string    `parquet:"access_key_id,optional,dict,uncompressed"`
	SessionIssuerARN    *string    `parquet:"session_issuer_arn,optional,dict,uncompressed"`
	SessionIssuerName   *string    `parquet:"session_issuer_name,optional,dict,uncompressed"`
	InvokedBy           *string    `parquet:"invoked_by,optional,dict,uncompressed"`
	MFAAuthenticated    *bool      `parquet:"mfa_authenticated,optional"`
	Actor               *string    `parquet:"actor,optional,dict,uncompressed"`
	RecipientAccountID  *string    `parquet:"recipient_account_id,optional,dict,uncompressed"`
	EventID             *string    `parquet:"event_id,optional,zstd"`
	LoginResult         *string    `parquet:"login_result,optional,dict,uncompressed"`
	MFAUsed             *string    `parquet:"mfa_used,optional,dict,uncompressed"`
	MFAIdentifier       *string    `parquet:"mfa_identifier,optional"`
	CredentialType      *string    `parquet:"credential_type,optional,dict,uncompressed"`
	CredentialChallenge *string    `parquet:"credential_challenge,optional,dict,uncompressed"`
	AuthWorkflowID      *string    `parquet:"auth_workflow_id,optional"`
	Outcome             *string    `parquet:"outcome,optional,dict,uncompressed"`
	// Plain encoding: the original events are unique long strings, which a
	// dictionary would only bloat; zstd does the compressing. The JSON
	// logical type tells other engines what the text is.
	Raw         string `parquet:"raw,plain,json"`
	FileID      int64  `parquet:"file_id,zstd"`
	RecordIndex int64  `parquet:"record_index"`
	// Unique small objects, like raw (plain); NULL for most events.
	IssuedCredential *string `parquet:"issued_credential,optional,plain"`
	// The event's identity digest (ingest.Event.Digest), which the key
	// cache compares; not stored.
	Digest [32]byte `parquet:"-"`
}

// stagedEventRow is eventRow as a staging dataset stores it (see
// StagingDir): raw without the JSON logical type, so DuckDB's reader does
// not fail the whole load on one record it finds invalid. The writer left
// out what is not valid JSON (rejects); the load checks the raw of a
// staging left by an older trailsift (rawCheckedKey) and reports the
// rejects. Converting between the
// two types is a plain Go conversion: their fields are the same.
type stagedEventRow struct {
	EventKey            uint64     `parquet:"event_key"`
	EventTime           *time.Time `parquet:"event_time,timestamp(microsecond)"`
	EventVersion        *string    `parquet:"event_version,optional"`
	EventSource         *string    `parquet:"event_source,optional"`
	EventName           *string    `parquet:"event_name,optional"`
	EventType           *string    `parquet:"event_type,optional"`
	EventCategory       *string    `parquet:"event_category,optional"`
	AWSRegion           *string    `parquet:"aws_region,optional"`
	SourceIP            *string    `parquet:"source_ip,optional"`
	UserAgent           *string    `parquet:"user_agent,optional"`
	ErrorCode           *string    `parquet:"error_code,optional"`
	ErrorMessage        *string    `parquet:"error_message,optional"`
	ReadOnly            *bool      `parquet:"read_only,optional"`
	ManagementEvent     *bool      `parquet:"management_event,optional"`
	UserType            *string    `parquet:"user_type,optional"`
	UserName            *string    `parquet:"user_name,optional"`
	UserARN             *string    `parquet:"user_arn,optional"`
	PrincipalID         *string    `parquet:"principal_id,optional"`
	AccountID           *string    `parquet:"account_id,optional"`
	AccessKeyID         *string    `parquet:"access_key_id,optional"`
	SessionIssuerARN    *string    `parquet:"session_issuer_arn,optional"`
	SessionIssuerName   *string    `parquet:"session_issuer_name,optional"`
	InvokedBy           *string    `parquet:"invoked_by,optional"`
	MFAAuthenticated    *bool      `parquet:"mfa_authenticated,optional"`
	Actor               *string    `parquet:"actor,optional"`
	RecipientAccountID  *string    `parquet:"recipient_account_id,optional"`
	EventID             *string    `parquet:"event_id,optional"`
	LoginResult         *string    `parquet:"login_result,optional"`
	MFAUsed             *string    `parquet:"mfa_used,optional"`
	MFAIdentifier       *string    `parquet:"mfa_identifier,optional"`
	CredentialType      *string    `parquet:"credential_type,optional"`
	CredentialChallenge *string    `parquet:"credential_challenge,optional"`
	AuthWorkflowID      *string    `parquet:"auth_workflow_id,optional"`
	Outcome             *string    `parquet:"outcome,optional"`
	Raw                 string     `parquet:"raw,plain"`
	FileID              int64      `parquet:"file_id"`
	RecordIndex         int64      `parquet:"record_index"`
	IssuedCredential    *string    `parquet:"issued_credential,optional,plain"`
	Digest              [32]byte   `parquet:"-"`
}

var (
	yes = true
	no  = false
)

func tristate(t ingest.Tristate) *bool {
	switch t {
	case ingest.True:
		return &yes
	case ingest.False:
		return &no
	}
	return nil
}

// newEventRow makes the row of ev. Its text fields point into ev, which
// the writer owns once handed over (ingest.Sink): no copy of each string
// to allocate.
func newEventRow(ev *ingest.Event) eventRow {
	r := eventRow{
		EventKey: ev.Key, EventVersion: ref(&ev.EventVersion), EventSource: ref(&ev.EventSource), EventName: ref(&ev.EventName),
		EventType: ref(&ev.EventType), EventCategory: ref(&ev.EventCategory), AWSRegion: ref(&ev.AWSRegion), SourceIP: ref(&ev.SourceIP),
		UserAgent: ref(&ev.UserAgent), ErrorCode: ref(&ev.ErrorCode), ErrorMessage: ref(&ev.ErrorMessage),
		ReadOnly: tristate(ev.ReadOnly), ManagementEvent: tristate(ev.ManagementEvent),
		UserType: ref(&ev.UserType), UserName: ref(&ev.UserName), UserARN: ref(&ev.UserARN), PrincipalID: ref(&ev.PrincipalID),
		AccountID: ref(&ev.AccountID), AccessKeyID: ref(&ev.AccessKeyID), SessionIssuerARN: ref(&ev.SessionIssuerARN),
		SessionIssuerName: ref(&ev.SessionIssuerName), InvokedBy: ref(&ev.InvokedBy), MFAAuthenticated: tristate(ev.MFAAuthenticated),
		Actor: ref(&ev.Actor), RecipientAccountID: ref(&ev.RecipientAccountID), EventID: ref(&ev.EventID),
		LoginResult: ref(&ev.LoginResult), MFAUsed: ref(&ev.MFAUsed),
		MFAIdentifier: ref(&ev.MFAIdentifier), CredentialType: ref(&ev.CredentialType), CredentialChallenge: ref(&ev.CredentialChallenge),
		AuthWorkflowID: ref(&ev.AuthWorkflowID), Outcome: ref(&ev.Outcome), Raw: ev.Raw, FileID: ev.FileID, RecordIndex: ev.RecordIndex,
		IssuedCredential: ref(&ev.IssuedCredential), Digest: ev.Digest,
	}
	if r.Digest == ([32]byte{}) {
		r.Digest = ev.Identity().Digest() // an event not from the decoder: Export's, tests'
	}
	if ev.HasTime {
		t := ev.Time.UTC()
		r.EventTime = &t
	}
	return r
}

// str is a nullable string: "" is NULL, as in the DuckDB store. (Pointers,
// not parquet-go's "optional" tag on a string: v0.32 wrote some empty
// strings as non-NULL values that way.)
// ref is s, or nil (NULL) when it is empty.
func ref(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// fileRow is one row of the files manifest.
type fileRow struct {
	FileID        int64     `parquet:"file_id"`
	Path          string    `parquet:"path"`
	Size          int64     `parquet:"size"`
	SHA256        *string   `parquet:"sha256,optional"`
	ContentSHA256 *string   `parquet:"content_sha256,optional"`
	Shape         *string   `parquet:"shape,optional"`
	Events        int64     `parquet:"events"`
	Status        string    `parquet:"status"`
	Reason        *string   `parquet:"reason,optional"`
	IngestedAt    time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// errorRow is one row of ingest_errors.
type errorRow struct {
	FileID      int64  `parquet:"file_id"`
	Path        string `parquet:"path"`
	RecordIndex *int64 `parquet:"record_index,optional"`
	ByteOffset  *int64 `parquet:"byte_offset,optional"`
	Severity    string `parquet:"severity"`
	Message     string `parquet:"message"`
}

func knownOrNull(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}
