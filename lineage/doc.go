// Package lineage answers "who really did it, and what happened next" from
// the store's sessions table (one row per credential seen, built at load
// time by package query): trace resolves an access key id, an ARN, an
// event id or a rule's findings to sessions, walks each up to its origin
// and down to the sessions it issued, summarises what each did, and
// renders it for the terminal, Markdown and JSON.
//
// What goes in: a store (DuckDB file or Parquet dataset) and the argument.
// What comes out: a Trace, whose JSON field names are the users' API
// (documented in the README).
//
// What always holds:
//   - Every walk is bounded (MaxDepth hops, a visited set): a chain that
//     loops, or a forged one a thousand hops long, ends with a note, never
//     a hang.
//   - Every list is capped, with the full count kept, so output stays
//     small whatever the evidence holds.
//   - Values reach SQL only as parameters; the events of a session are
//     selected by equality on access_key_id or user_arn, which DuckDB
//     pushes into the scan (zone maps, Parquet statistics).
//   - Every string from a log goes through reports.SafeText (terminal),
//     reports.MarkdownCell (Markdown) or reports.JSONWriter (JSON).
package lineage
