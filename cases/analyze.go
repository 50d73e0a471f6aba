package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// The files of a case folder.
const (
	DatabaseFile = "case.duckdb"
	FindingsFile = "findings.jsonl"
	HTMLFile     = "report.html"
	MarkdownFile = "report.md"
)

// Options configure Analyze.
type Options struct {
	// Out is the case folder, created if missing; empty: "<first input's
	// name>-case" in the current folder.
	Out   string
	Load  LoadOptions
	Rules Rules
	// Keys check digest signatures too; nil: signatures are not checked
	// (and the report says so).
	Keys integrity.Keys
}

// Result is what Analyze did.
type Result struct {
	Case      string  // the case folder
	Database  string  // its database
	Loaded    *Loaded // what this run loaded, and its first problems
	Integrity IntegrityCheck
	Findings  []query.Finding
	Report    *reports.Report
	// Events counts the events in the case after the run (this run's and
	// earlier ones'); -1 when it could not be read.
	Events  int64
	Outputs []string // the files written, the database first
	// RuleFailures are the rules that could not run; the others did.
	RuleFailures query.RuleErrors
	// Migrated is the migration of a case database an older trailsift
	// made, nil when there was none.
	Migrated *query.Migration
}

// Analyze is the main job: load inputs into the case folder's database,
// check the evidence's CloudTrail digests, run the rules, store the
// findings and the check in the case, and write findings.jsonl and the
// reports. A nil Result.Loaded means nothing ran (the error says why);
// otherwise Result says how far the run got: interrupted, it stops after
// the load, keeping what was stored.
func Analyze(ctx context.Context, inputs []string, opts Options) (Result, error) {
	res := Result{Case: opts.Out, Events: -1}
	if res.Case == "" {
		res.Case = defaultFolder(inputs)
	}
	res.Database = filepath.Join(res.Case, DatabaseFile)
	if err := CheckOutsideEvidence("--out", res.Case, inputs); err != nil {
		return res, err
	}
	if err := ingest.CheckInputs(inputs); err != nil {
		return res, err // before the case folder exists
	}
	if err := os.MkdirAll(res.Case, 0o755); err != nil {
		return res, fmt.Errorf("create case folder: %w", err)
	}
	store, err := query.Open(ctx, res.Database, false)
	if err != nil {
		return res, err
	}
	defer store.Close()
	res.Migrated = store.Migrated
	res.Loaded, err = Load(ctx, store, inputs, opts.Load)
	if res.Loaded == nil || err != nil { // interrupted: keep what is stored, skip the rest
		return res, err
	}
	res.Findings, err = opts.Rules.Run(ctx, store)
	if errors.As(err, &res.RuleFailures) {
		err = nil // the other rules' findings make the case; the caller says which failed
	}
	if err != nil {
		return res, err
	}
	if err := store.SaveFindings(ctx, res.Findings); err != nil {
		return res, err
	}
	known, err := KnownHashes(ctx, store.DB)
	if err != nil {
		return res, err
	}
	res.Integrity = VerifyEvidence(ctx, inputs, opts.Keys, known)
	if err := SaveIntegrity(ctx, store, res.Integrity); err != nil {
		return res, err
	}
	if res.Report, err = Report(ctx, store, res.Findings); err != nil {
		return res, err
	}
	res.Events = res.Report.Events
	res.Outputs = []string{res.Database}
	for _, w := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{FindingsFile, func(b *bytes.Buffer) error { return reports.WriteFindings(b, "jsonl", res.Findings, 0) }},
		{HTMLFile, func(b *bytes.Buffer) error { return reports.WriteHTML(b, res.Report) }},
		{MarkdownFile, func(b *bytes.Buffer) error { return reports.WriteMarkdown(b, res.Report) }},
	} {
		var b bytes.Buffer
		if err := w.write(&b); err != nil {
			return res, fmt.Errorf("%s: %w", w.name, err)
		}
		p := filepath.Join(res.Case, w.name)
		if err := reports.WriteFileAtomically(p, b.Bytes()); err != nil {
			return res, fmt.Errorf("write %s: %w", p, err)
		}
		res.Outputs = append(res.Outputs, p)
	}
	return res, nil
}

// defaultFolder is "<first input's name>-case".
func defaultFolder(inputs []string) string {
	first := "-"
	if len(inputs) > 0 {
		first = inputs[0]
	}
	base := strings.TrimSuffix(filepath.Base(filepath.Clean(first)), filepath.Ext(first))
	if first == "-" || base == "" || base == "." || base == string(filepath.Separator) {
		base = "trailsift"
	}
	return base + "-case"
}
