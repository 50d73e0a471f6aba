// Package cases owns the case workflow: trailsift analyze's load,
// integrity check, detection and reports, and what a case folder holds.
//
// What goes in: evidence paths (files, folders, archives, "-" for standard
// input) and Options (the case folder, load tuning, the rules and their
// parameters, public keys for digest signatures). Load and LoadDataset load
// evidence into a DuckDB store or a Parquet dataset for trailsift ingest
// too; Report builds the case report of any store.
//
// What comes out: a case folder holding case.duckdb (events, the evidence
// manifest, ingest_errors, the findings and every digest check, in the
// integrity_checks table), findings.jsonl, report.html and report.md; and a
// Result saying what was loaded (with the run's first problems), the digest
// check, the findings and the files written. Exit statuses are the
// caller's: Result carries what decides them.
//
// What always holds: nothing is written inside the evidence (an output
// path in an input's folder is an OutputError) and the evidence is only
// read; no case folder is created for a mistyped input path; report files
// are written atomically; a report is built from the store alone (the
// digest check included), so trailsift report on a case writes the report
// analyze wrote; an interrupted run keeps what was stored and writes no
// report.
package cases
