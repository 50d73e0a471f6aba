package lake

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go/format"

	"github.com/trailsift/trailsift/query"
)

// The typed copy. DuckDB's cost is per file a scan opens (a bucket's
// 1,443 parts, one per account, region and day: half a second a scan,
// whatever the scan reads), and the rules and the sessions build scan the
// events again and again. So a run into many partitions (see
// typedFromPartitions) also writes, with each commit, its events' columns
// but raw into one file of TypedDir, which Compact merges like the
// manifest's, and a reader whose typed files hold exactly the rows of the
// live parts (typedCovering) reads them instead where it can: the sessions
// build always (raw is kept for the events it reads raw of, ConsoleRaw),
// a rule unless it reads raw (query.TypedEvents). Like _files, a leading
// underscore keeps Hive, Spark and Athena from reading it as events.
const TypedDir = "_typed"

// typedCoversKey names, in a typed file's footer, the parts whose rows it
// holds, and how many of each: a JSON object of part path (relative to
// the dataset, slash-separated) to row count.
const typedCoversKey = "trailsift.typed_covers"

// typedRow is eventRow as a typed file stores it: raw is kept only for
// the events the sessions build reads it of (query.ConsoleRaw), NULL
// otherwise, as plain text (no JSON type: an empty value would fail a
// reader's JSON check; nothing reads it but the build, for those events).
// Converting between the two types is a plain Go conversion.
type typedRow struct {
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
	Raw                 string     `parquet:"raw,optional,plain"`
	FileID              int64      `parquet:"file_id,zstd"`
	RecordIndex         int64      `parquet:"record_index"`
	IssuedCredential    *string    `parquet:"issued_credential,optional,plain"`
	Digest              [32]byte   `parquet:"-"`
}

// typedRows are the rows of a commit's typed file: the rows of all at the
// indexes of each part (by its path relative to the dataset), and what
// its footer says it covers.
func typedRows(all []eventRow, parts map[string][]int32) ([]typedRow, string, error) {
	var rows []typedRow
	covers := map[string]int64{}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		for _, i := range parts[p] {
			r := typedRow(all[i])
			if !query.ConsoleRaw(r.UserType, r.AccessKeyID) {
				r.Raw = ""
			}
			rows = append(rows, r)
		}
		covers[filepath.ToSlash(p)] = int64(len(parts[p]))
	}
	b, err := json.Marshal(covers)
	return rows, string(b), err
}

// footerCovers is what a typed file's footer says it covers (nil for any
// other file).
func footerCovers(md *format.FileMetaData) map[string]int64 {
	for _, kv := range md.KeyValueMetadata {
		if kv.Key == typedCoversKey {
			var covers map[string]int64
			if json.Unmarshal([]byte(kv.Value), &covers) != nil {
				return map[string]int64{} // unreadable: covers nothing, so no reader trusts it
			}
			return covers
		}
	}
	return nil
}

// mergedCovers is the typedCoversKey entry of a file merged from typed
// files whose footers say covers: every part each covers.
func mergedCovers(covers []map[string]int64) ([]format.KeyValue, error) {
	if covers[0] == nil {
		return nil, nil // not typed files
	}
	all := map[string]int64{}
	for _, c := range covers {
		for p, n := range c {
			all[p] += n
		}
	}
	b, err := json.Marshal(all)
	return []format.KeyValue{{Key: typedCoversKey, Value: string(b)}}, err
}

// typedCovering returns the live typed files of the dataset at dir (and
// their footers, from cache where it has them) when, together, they hold the rows of its live parts
// (as tableSources lists them, with their footers) and no other: each
// part they name is live or merged into a live one (see partSchemas.
// live), and each live part has as many rows as they say. Otherwise (a
// dataset written before typed files, parts removed or copied in by hand,
// footers that cannot be read) nil: readers read the parts. Typed files
// are used only when they are no more than the parts.
func typedCovering(dir string, parts []string, schemas partSchemas, cache *footerCache) ([]string, partSchemas) {
	typed, typedSchemas := liveParts(filepath.Join(dir, TypedDir, "*.parquet"), cache)
	if len(typed) == 0 || len(typed) > len(parts) || typedSchemas.footers == nil || schemas.footers == nil {
		return nil, partSchemas{}
	}
	rel := func(p string) string {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	live := map[string]string{} // part path, or the path of one merged into it -> the live part
	for i, p := range parts {
		live[rel(p)] = rel(p)
		for _, name := range schemas.footers[i].merged {
			live[rel(filepath.Join(filepath.Dir(p), name))] = rel(p)
		}
	}
	held := map[string]int64{} // live part -> rows the typed files hold of it
	for _, f := range typedSchemas.footers {
		if f.covers == nil {
			return nil, partSchemas{}
		}
		var sum int64
		for p, n := range f.covers {
			l, ok := live[p]
			if !ok {
				return nil, partSchemas{}
			}
			held[l] += n
			sum += n
		}
		if sum != f.rows {
			return nil, partSchemas{}
		}
	}
	for i, p := range parts {
		if held[rel(p)] != schemas.footers[i].rows {
			return nil, partSchemas{}
		}
	}
	return typed, typedSchemas
}

// typedSQL selects the event_rows columns from the typed files, whose
// footers say schemas: raw is NULL but for the events the sessions build
// reads it of (see typedRow).
func typedSQL(files []string, schemas partSchemas) string {
	return fmt.Sprintf("SELECT %s FROM %s", query.ColumnList(query.StoredEventColumns()), readParts(files, schemas, ""))
}
