// Package reports turns query results into what people read and what other
// tools import: aligned terminal tables, CSV, JSON, JSON lines, Markdown.
//
// Everything in a CloudTrail log can be written by an attacker, so every
// writer here treats cell text as hostile: terminal output has control
// characters (and so ANSI escapes) replaced, CSV cells that a spreadsheet
// would run as a formula are neutralised, and JSON is encoded, never pasted.
package reports
