package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/query"
)

// readmeSection is the README text under a "### " heading, to the next
// heading of level 2 or 3.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	for _, h := range []string{"\n## ", "\n### "} {
		s, _, _ = strings.Cut(s, h)
	}
	return s
}

// fencedBlocks are the ``` blocks of text tagged lang, without the fences.
func fencedBlocks(text, lang string) []string {
	var out []string
	for _, part := range strings.Split(text, "```"+lang+"\n")[1:] {
		if end := strings.Index(part, "```"); end >= 0 {
			out = append(out, part[:end])
		}
	}
	return out
}

// TestReadmeRuleExample: the worked example of README's "Writing your own
// rules" loads, runs on the bundled samples and prints what the README
// shows; and the columns it lists are the runner's.
func TestReadmeRuleExample(t *testing.T) {
	section := readmeSection(t, "### Writing your own rules")
	rules := fencedBlocks(section, "sql")
	if len(rules) != 1 || !strings.HasPrefix(rules[0], "-- id: iam-enumeration\n") {
		t.Fatalf("want one sql block, the iam-enumeration rule; got %d", len(rules))
	}
	dir := filepath.Join(t.TempDir(), "my-rules")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "iam-enumeration.sql"), []byte(rules[0]), 0o644); err != nil {
		t.Fatal(err)
	}

	var shown string
	for _, b := range fencedBlocks(section, "text") {
		if strings.HasPrefix(b, "$ ./trailsift detect ") {
			shown = b
		}
	}
	cmdLine, want, _ := strings.Cut(shown, "\n")
	args := strings.Fields(strings.TrimPrefix(cmdLine, "$ ./trailsift "))
	for i, a := range args {
		switch a {
		case "demo-case/case.duckdb":
			args[i] = samplesCase(t)
		case "my-rules/":
			args[i] = dir + string(os.PathSeparator)
		}
	}
	stdout, stderr, code := run(t, "", args...)
	if code != exitOK || stdout != want {
		t.Errorf("%s: exit %d, stderr %q\nprints:\n%s\nthe README shows:\n%s", cmdLine, code, stderr, stdout, want)
	}
	stdout, _, code = run(t, "", "rules", "--rules", dir)
	// The id column is as wide as the longest id.
	if code != exitOK || !regexp.MustCompile(`\biam-enumeration +low→medium`).MatchString(stdout) {
		t.Errorf("rules --rules: exit %d\n%s", code, stdout)
	}

	for _, c := range query.FindingColumns {
		if !strings.Contains(section, "| `"+c.Name+"` | "+c.Type+" |") {
			t.Errorf("the README's table of rule columns lacks %s %s", c.Name, c.Type)
		}
	}
	for _, key := range []string{"id", "title", "severity", "escalates_to", "description", "attack", "references", "false_positives", "param"} {
		if !strings.Contains(section, "| `"+key+"` |") {
			t.Errorf("the README's table of header keys lacks %s", key)
		}
	}
}
