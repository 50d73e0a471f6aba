// Package reports turns query results into what people read and what other
// tools import: timelines (terminal table, Timesketch CSV and JSON lines,
// Markdown), the per-principal sign-in summary, the case report (one
// self-contained HTML file, and Markdown) and query results as aligned
// tables, CSV, JSON and JSON lines.
//
// Everything in a CloudTrail log can be written by an attacker, so every
// writer here treats cell text as hostile: control and bidi characters
// (ANSI escapes, right-to-left overrides) are shown escaped everywhere
// through SafeText and SafeLines (safe.go), CSV text cells that a
// spreadsheet would run as a formula are neutralised, HTML is escaped by html/template
// under a Content Security Policy that forbids scripts and outside
// resources, JSON is encoded, never pasted, and filters reach SQL only as
// parameters.
package reports
