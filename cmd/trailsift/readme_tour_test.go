package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tourExitCodes are the README commands that do not exit 0, with the
// status the README gives them.
var tourExitCodes = map[string]int{
	"./trailsift analyze --out demo-case":                                       exitIntegrity, // "Exit status 5 says the CloudTrail digest check ... failed"
	"./trailsift report --db demo-case/case.duckdb --out demo-case/report.html": exitUsage,     // "an existing file is refused unless --force"
	"./trailsift verify samples/s3-export.zip":                                  exitIntegrity, // "result: FAILED"
}

// readmeCommand is one ./trailsift command of the README, with the output
// the README shows after it (for $ commands in text blocks).
type readmeCommand struct {
	line   string
	output []string
}

// readmeCommands are the README's ./trailsift commands in order: "$ ./trailsift"
// lines of text blocks (continued with \) and "./trailsift" lines of sh blocks.
func readmeCommands(t *testing.T) ([]readmeCommand, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []readmeCommand
	lines := strings.Split(string(b), "\n")
	inBlock, cur := false, -1
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "```") {
			inBlock, cur = !inBlock, -1
			continue
		}
		if !inBlock {
			continue
		}
		if strings.HasPrefix(l, "$ ") || strings.HasPrefix(l, "./trailsift") {
			l = strings.TrimPrefix(l, "$ ")
			for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
				i++
				l = strings.TrimSpace(strings.TrimSuffix(l, `\`)) + " " + strings.TrimSpace(lines[i])
			}
			cur = -1
			if strings.HasPrefix(l, "./trailsift") {
				cmds = append(cmds, readmeCommand{line: l})
				cur = len(cmds) - 1
			}
			continue
		}
		if cur >= 0 {
			cmds[cur].output = append(cmds[cur].output, l)
		}
	}
	return cmds, string(b)
}

// shellWords splits a README command as sh would: quotes, a trailing #
// comment, a > redirection, and globs (outside quotes).
func shellWords(t *testing.T, line string) (args []string, redirect string) {
	t.Helper()
	type word struct {
		text   string
		quoted bool
	}
	var words []word
	var w word
	inWord, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote == -1: // in a comment
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.text += string(r)
		case r == '\'' || r == '"':
			quote, inWord, w.quoted = r, true, true
		case r == '#' && !inWord:
			quote = -1 // the rest is a comment
		case r == ' ' || r == '\t':
			if inWord {
				words, w, inWord = append(words, w), word{}, false
			}
		default:
			w.text += string(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w)
	}
	for i := 1; i < len(words); i++ { // words[0] is ./trailsift
		switch w := words[i]; {
		case w.text == ">" && !w.quoted && i+1 < len(words):
			redirect = words[i+1].text
			i++
		case !w.quoted && strings.ContainsAny(w.text, "*?"):
			m, err := filepath.Glob(w.text)
			if err != nil || len(m) == 0 {
				t.Fatalf("glob %s: %v (no match)", w.text, err)
			}
			args = append(args, m...)
		default:
			args = append(args, w.text)
		}
	}
	return args, redirect
}

// TestReadmeCommandsRun runs every ./trailsift command of the README, in
// order, on the demo case (the first one builds it from the samples, as
// make demo does): each exits as the README says, the ones that show data
// show some, and the tour's analyze prints what the README shows.
func TestReadmeCommandsRun(t *testing.T) {
	cmds, readme := readmeCommands(t)
	tour := slices.IndexFunc(cmds, func(c readmeCommand) bool { return strings.HasPrefix(c.line, "./trailsift analyze --out demo-case ") })
	if len(cmds) < 15 || tour < 0 || slices.ContainsFunc(cmds[:tour], func(c readmeCommand) bool { return strings.Contains(c.line, "demo-case") }) {
		t.Fatalf("found %d README commands: want the tour's analyze before any use of demo-case", len(cmds))
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "$(BIN) "+strings.TrimPrefix(cmds[tour].line, "./trailsift ")+" ;") {
		t.Errorf("the README's tour command is not make demo's: %s", cmds[tour].line)
	}
	samplesDir, err := filepath.Abs(filepath.Join("..", "..", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Symlink(samplesDir, "samples"); err != nil {
		t.Fatal(err)
	}
	// The worked example of a rule, saved where the README says.
	sql := regexp.MustCompile("(?s)Save it as `my-rules/iam-enumeration.sql`:\n\n```sql\n(.*?)```").FindStringSubmatch(readme)
	if sql == nil {
		t.Fatal("README: no my-rules/iam-enumeration.sql example")
	}
	if err := os.MkdirAll("my-rules", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("my-rules", "iam-enumeration.sql"), []byte(sql[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		args, redirect := shellWords(t, c.line)
		stdout, stderr, code := run(t, "", args...)
		want := exitOK
		for prefix, status := range tourExitCodes {
			if strings.HasPrefix(c.line, prefix) && !strings.Contains(c.line, "--force") {
				want = status
			}
		}
		if code != want {
			t.Errorf("%s: exit %d, want %d\n%s", c.line, code, want, stderr)
			continue
		}
		if redirect != "" {
			if err := os.WriteFile(redirect, []byte(stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A command that shows data shows some: not an empty table.
		if slices.Contains([]string{"timeline", "signins", "detect", "query"}, args[0]) {
			if rows := strings.Count(strings.TrimSpace(stdout), "\n"); rows < 1 || strings.Contains(stdout, "(0 events") {
				t.Errorf("%s: shows nothing on the demo case:\n%s", c.line, stdout)
			}
		}
		if args[0] == "analyze" {
			got := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(got) != len(c.output) {
				t.Errorf("the tour shows %d lines after analyze, it prints %d:\n%s", len(c.output), len(got), stderr)
				continue
			}
			for i := range got {
				if strings.HasPrefix(got[i], "time:") && strings.HasPrefix(c.output[i], "time:") {
					continue // rates and durations vary
				}
				if got[i] != c.output[i] {
					t.Errorf("tour line %d: README %q, analyze prints %q", i+1, c.output[i], got[i])
				}
			}
		}
	}
}
