// Package query owns the case database (the store): its schema, the rule
// of what is the same event, loading into it, and reading it with SQL
// (users' queries and the detection rules).
//
// What goes in: a DuckDB file (Open), or the tables of a Parquet dataset
// as SELECTs (OpenSources, used by package lake); staged tables to add to
// a store (Store.Load); SQL rule files and users' queries. What comes out:
// a Store whose tables (event_rows, files, ingest_errors, findings) and
// views (events, signins, ...) are documented column by column in
// schema.go, which the README's schema reference is generated from;
// findings of the rules (Detect); query results.
//
// What always holds:
//   - One definition of "the same event" (identity.go): the identity
//     fields compared in full, the 64-bit event_key only an index, so a
//     hash collision, crafted or not, never drops an event. Store.Load and
//     the Parquet writer both use it; no other code decides it.
//   - A store records its schema version (trailsift_meta); an older store
//     is migrated in one transaction when opened for writing, a newer one
//     is refused (version.go).
//   - A load is a few transactions, the files manifest in the last: a load
//     repeated after a crash adds nothing, and finishes one stopped part-way.
//   - DuckDB stays offline and bounded whatever SQL runs: no extension is
//     installed or loaded, nothing is written to the home folder, memory is
//     capped, and the settings are locked before the first user statement.
//     Users' SQL and rule files run read-only (sql.go refuses what writes).
//   - Values from the logs are never pasted into SQL text: they reach
//     DuckDB as data or as parameters.
package query
