package lake

import (
	"fmt"
	"strings"

	"github.com/trailsift/trailsift/query"
)

// hiveType maps a store column type to the Athena/Trino (Hive DDL) type
// that reads the Parquet column.
func hiveType(t string) string {
	switch t {
	case "UBIGINT":
		// No unsigned 64-bit type there; the Parquet column is INT64 with the
		// unsigned annotation, which Trino and Spark read as DECIMAL(20,0).
		return "decimal(20,0)"
	case "TIMESTAMPTZ":
		return "timestamp"
	case "VARCHAR":
		return "string"
	case "BOOLEAN":
		return "boolean"
	case "BIGINT":
		return "bigint"
	case "INTEGER":
		return "int"
	case "VARCHAR[]":
		return "array<string>"
	}
	panic("no Hive type for " + t)
}

func hiveColumns(cols []query.Column) string {
	var b strings.Builder
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  `%s` %s%s\n", c.Name, hiveType(c.Type), sep)
	}
	return b.String()
}

// AthenaDDL is the DDL that makes the dataset at location (an s3:// URL
// ending in "/") queryable from Athena: the four tables, with partition
// projection for the events, and the events view with its JSON parts.
// docs/parquet.md shows it, and a test keeps the two equal.
func AthenaDDL(location string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE trailsift_event_rows (\n%s)\n", hiveColumns(query.StoredEventColumns()))
	b.WriteString("PARTITIONED BY (`account` string, `region` string, `date` string)\nSTORED AS PARQUET\n")
	fmt.Fprintf(&b, "LOCATION '%s'\nTBLPROPERTIES (\n", location)
	props := [][2]string{
		{"projection.enabled", "true"},
		{"projection.account.type", "injected"},
		{"projection.region.type", "enum"},
		{"projection.region.values", "us-east-1,us-east-2,us-west-1,us-west-2,eu-west-1,eu-central-1,ap-southeast-1,ap-northeast-1"},
		{"projection.date.type", "date"},
		{"projection.date.format", "yyyy-MM-dd"},
		{"projection.date.range", "2015-01-01,NOW"},
		{"projection.date.interval", "1"},
		{"projection.date.interval.unit", "DAYS"},
		{"storage.location.template", location + "account=${account}/region=${region}/date=${date}/"},
	}
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s' = '%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n\n")
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE trailsift_files (\n%s)\nSTORED AS PARQUET\nLOCATION '%s%s/';\n\n", hiveColumns(query.FileColumns), location, FilesDir)
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE trailsift_ingest_errors (\n%s)\nSTORED AS PARQUET\nLOCATION '%s%s/';\n\n", hiveColumns(query.ErrorColumns), location, ErrorsDir)
	// _sessions holds one file, the sessions of the dataset's events as
	// its last ingest built them.
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE trailsift_sessions (\n%s)\nSTORED AS PARQUET\nLOCATION '%s%s/';\n\n", hiveColumns(query.SessionColumns), location, SessionsDir)
	b.WriteString("CREATE OR REPLACE VIEW trailsift_events AS\nSELECT *,\n")
	var computed []string
	for _, p := range query.RawFields() {
		computed = append(computed, fmt.Sprintf("  coalesce(json_extract_scalar(raw, '$.%s'), json_extract_scalar(raw, '$.%s')) AS %s", p.Key, strings.ToLower(p.Key), p.Name))
	}
	for _, p := range query.JSONParts() {
		computed = append(computed, fmt.Sprintf("  coalesce(json_extract(raw, '$.%s'), json_extract(raw, '$.%s')) AS %s", p.Key, strings.ToLower(p.Key), p.Name))
	}
	b.WriteString(strings.Join(computed, ",\n") + "\n")
	b.WriteString("FROM trailsift_event_rows;\n")
	return b.String()
}
