package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/query"
)

var sampleSigma = filepath.Join("..", "..", "samples", "sigma")

const (
	sigmaMFARemoved = "4a1e6f0c-2b8d-4d3e-9a57-0c1f3e8b6d21"
	sigmaFailedThen = "9f3c1e7a-4b2d-4a8e-9c6f-5d0b8e2a1f47"
	sigmaFailedBase = "7c2d9b4e-1f3a-4e8c-b6d5-2a9e0f7c3b18"
)

// TestDetectSigmaCLI runs the example Sigma rules over the bundled samples:
// their findings join the built-in ones, a correlation's inputs report
// nothing of their own, and --rule and --fail-on see Sigma rules.
func TestDetectSigmaCLI(t *testing.T) {
	db := samplesCase(t)
	stdout, stderr, code := run(t, "", "detect", "--db", db, "--sigma", sampleSigma, "--format", "jsonl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "sigma: 4 rules compiled, 0 not compiled") {
		t.Errorf("stderr: %s", stderr)
	}
	found := decodeJSONL(t, stdout)
	byRule := map[string][][]string{}
	for _, f := range found {
		byRule[f.RuleID] = append(byRule[f.RuleID], f.EventIDs)
	}
	want := map[string][][]string{
		sigmaMFARemoved: {{"d769bca1-c9ad-4f87-9a25-5512bbd05375", "71e923c8-64d0-4c61-b510-926f70dd8a82"}},
		sigmaFailedThen: {{"e54dc1d8-4242-42bc-8e16-1878ae030c8d", "5e804b16-6919-40fb-8a8c-5ea1aeeef967", "a2e76c7e-b53f-4b64-864a-3efeec810c1d"}},
	}
	for id, w := range want {
		if !slices.EqualFunc(byRule[id], w, slices.Equal) {
			t.Errorf("rule %s: %v, want %v", id, byRule[id], w)
		}
	}
	if byRule[sigmaFailedBase] != nil {
		t.Errorf("a correlation's input rule reported on its own: %v", byRule[sigmaFailedBase])
	}
	if byRule["root-console-login-without-mfa"] == nil {
		t.Error("the built-in rules did not run with --sigma")
	}
	if i := slices.IndexFunc(found, func(f query.Finding) bool { return f.RuleID == sigmaFailedThen }); i < 0 || found[i].Severity != "high" || found[i].Actor != "alice" {
		t.Errorf("correlation finding: %+v", found)
	}

	// The README's example prints what the command prints.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, code = run(t, "", "detect", "--db", db, "--sigma", sampleSigma, "--rule", sigmaMFARemoved, "--rule", sigmaFailedThen)
	if code != exitOK || !strings.Contains(string(readme), "\n"+stdout) {
		t.Errorf("the README's Sigma example is not what detect prints:\n%s", stdout)
	}

	stdout, _, code = run(t, "", "detect", "--db", db, "--sigma", sampleSigma, "--rule", sigmaMFARemoved, "--format", "jsonl", "--fail-on", "high")
	found = decodeJSONL(t, stdout)
	if code != exitFindings || len(found) != 1 || found[0].RuleID != sigmaMFARemoved {
		t.Errorf("--rule SIGMA-ID --fail-on high: exit %d, %+v", code, found)
	}
}

// TestSigmaNotCompiled: a rule that cannot be compiled is listed with its
// file and reason; --strict makes that exit 2.
func TestSigmaNotCompiled(t *testing.T) {
	db := samplesCase(t)
	dir := t.TempDir()
	bad := "title: bad\nid: bad-1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s:\n    eventName|sounds_like: X\n  condition: s\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "", "detect", "--db", db, "--sigma", sampleSigma, "--sigma", dir)
	if code != exitOK || !strings.Contains(stderr, "not compiled: "+filepath.Join(dir, "bad.yml")) || !strings.Contains(stderr, `unknown modifier "sounds_like"`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
	_, stderr, code = run(t, "", "detect", "--db", db, "--sigma", dir, "--strict")
	if code != exitUsage || !strings.Contains(stderr, "--strict") {
		t.Errorf("--strict: exit %d: %s", code, stderr)
	}
	stdout, _, code := run(t, "", "rules", "--sigma", sampleSigma, "--sigma", dir)
	if code != exitOK || !strings.Contains(stdout, sigmaFailedThen) || !strings.Contains(stdout, "correlation") ||
		!strings.Contains(stdout, "Not compiled:") || !strings.Contains(stdout, "bad-1 (bad): search \"s\", \"eventName|sounds_like\" (line 6): unknown modifier") {
		t.Errorf("rules --sigma: exit %d\n%s", code, stdout)
	}
	stdout, _, code = run(t, "", "rules", "show", "--sigma", sampleSigma, sigmaMFARemoved)
	if code != exitOK || !strings.Contains(stdout, "ATT&CK:    T1556.006") || !strings.Contains(stdout, "lower(event_name) = 'deactivatemfadevice'") {
		t.Errorf("rules show --sigma: exit %d\n%s", code, stdout)
	}
	_, stderr, code = run(t, "", "rules", "show", "--sigma", dir, "bad-1")
	if code != exitUsage || !strings.Contains(stderr, "was not compiled: search \"s\"") {
		t.Errorf("rules show of a rule not compiled: exit %d: %s", code, stderr)
	}
}
