package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ctRule = `title: t
id: %s
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    eventName: CreateUser
  condition: s
`

// TestLoadReportsEveryRule: folders are read recursively, other log
// sources are counted as skipped, and every CloudTrail rule that cannot be
// used is listed with its file and reason, never dropped.
func TestLoadReportsEveryRule(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/good.yml", strings.Replace(ctRule, "%s", "good-1", 1))
	write("a/b/dup.yaml", strings.Replace(ctRule, "%s", "good-1", 1))
	write("win.yml", "title: w\nid: w1\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s:\n    Image|endswith: cmd.exe\n  condition: s\n")
	write("broken.yml", "title: [unclosed\n")
	write("notes.txt", "not a rule")
	set, rep, err := Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 4 || rep.Compiled != 1 || rep.Skipped != 1 || len(rep.Failed) != 2 || set.Len() != 1 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Failed[0].String(), "dup.yaml") || !strings.Contains(rep.Failed[0].Reason, "already used") {
		t.Errorf("duplicate id: %v", rep.Failed[0])
	}
	if !strings.Contains(rep.Failed[1].String(), "broken.yml") || !strings.Contains(rep.Failed[1].Reason, "YAML") {
		t.Errorf("broken file: %v", rep.Failed[1])
	}
	if _, _, err := Load([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("a path that does not exist loaded")
	}
}
