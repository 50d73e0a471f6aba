package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	zip := filepath.Join("..", "..", "samples", "s3-export.zip")
	keys := filepath.Join("..", "..", "samples", "public-keys.json")
	out, stderr, code := run(t, "", "verify", zip, "--public-keys", keys)
	if code != exitIntegrity || !strings.Contains(out, "log-missing") || !strings.Contains(stderr, "integrity check failed") {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	out, _, code = run(t, "", "verify", zip, "--format", "json")
	var rep struct {
		SignaturesChecked bool `json:"signatures_checked"`
		Findings          []struct {
			Kind, Severity, File string
		} `json:"findings"`
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitIntegrity {
		t.Fatalf("code %d, %v: %s", code, err, out)
	}
	if rep.SignaturesChecked || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "NOT checked") {
		t.Errorf("without keys the output must say signatures were not checked: %+v", rep.Notes)
	}
	if _, stderr, code := run(t, "", "verify", filepath.Join("..", "..", "samples", "corrupt")); code != exitUsage || !strings.Contains(stderr, "no CloudTrail") {
		t.Errorf("a folder without CloudTrail files: code %d: %s", code, stderr)
	}
	if _, _, code := run(t, "", "verify", zip, "--public-keys", zip); code != exitUsage {
		t.Errorf("a keys file that is not list-public-keys output: code %d", code)
	}
}
