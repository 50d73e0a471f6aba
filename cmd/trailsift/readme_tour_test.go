package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// readmeCommand is one ./trailsift command of the README or docs/*.md,
// with the output shown after it (for $ commands in text blocks).
type readmeCommand struct {
	line   string
	where  string // file:line, for messages
	output []string
}

// templateMarker in a command's comment marks a line about the user's own
// data (a Sigma checkout, a shell's completion folder): shown, not run.
const templateMarker = "template:"

// docTemplates is how many template lines the docs have: each needs a
// runnable line next to it, so the count may not grow unnoticed.
const docTemplates = 5

// readmeCommands are the ./trailsift commands of README.md and then
// docs/*.md, in order: "$ ./trailsift" lines of any block (continued with
// \) and "./trailsift" lines of sh blocks. A trailsift command line of an
// sh block that does not start with ./trailsift must be a template; it
// returns how many templates it skipped, and the README's text.
func readmeCommands(t *testing.T) (cmds []readmeCommand, templates int, readme string) {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{filepath.Join("..", "..", "README.md")}, docs...) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if readme == "" {
			readme = string(b)
		}
		lines := strings.Split(string(b), "\n")
		lang, inBlock, cur := "", false, -1
		for i := 0; i < len(lines); i++ {
			l, where := lines[i], fmt.Sprintf("%s:%d", filepath.Base(name), i+1)
			if strings.HasPrefix(l, "```") {
				inBlock, lang, cur = !inBlock, strings.TrimPrefix(l, "```"), -1
				continue
			}
			if !inBlock {
				continue
			}
			isCmd := strings.HasPrefix(l, "$ ") ||
				lang == "sh" && (strings.HasPrefix(l, "./trailsift") || strings.HasPrefix(l, "trailsift "))
			if !isCmd {
				if cur >= 0 {
					cmds[cur].output = append(cmds[cur].output, l)
				}
				continue
			}
			shown := strings.HasPrefix(l, "$ ") // its output follows it
			l = strings.TrimPrefix(l, "$ ")
			for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
				i++
				l = strings.TrimSpace(strings.TrimSuffix(l, `\`)) + " " + strings.TrimSpace(lines[i])
			}
			cur = -1
			switch {
			case strings.Contains(l, "# ") && strings.Contains(l[strings.Index(l, "# "):], templateMarker):
				templates++
			case strings.HasPrefix(l, "./trailsift "):
				cmds = append(cmds, readmeCommand{line: l, where: where})
				if shown {
					cur = len(cmds) - 1
				}
			case strings.HasPrefix(l, "trailsift "):
				t.Errorf("%s: %q does not run as written: start it with ./trailsift, or mark it %q in a comment", where, l, templateMarker)
			}
		}
	}
	return cmds, templates, readme
}

// documentedExit is the exit status a command's comment states ("exit
// status 5: ..."), or -1.
func documentedExit(line string) int {
	m := regexp.MustCompile(`#.*\bexit status (\d+)`).FindStringSubmatch(line)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// shellWords splits a README command as sh would: quotes, a trailing #
// comment, > and < redirections, and globs (outside quotes). A path under
// /tmp/ is taken under ./tmp/ so that runs stay in the test's folder.
func shellWords(t *testing.T, line string) (args []string, redirect, stdin string) {
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
	for i := range words {
		if strings.HasPrefix(words[i].text, "/tmp/") {
			words[i].text = "." + words[i].text
		}
	}
	for i := 1; i < len(words); i++ { // words[0] is ./trailsift
		switch w := words[i]; {
		case w.text == ">" && !w.quoted && i+1 < len(words):
			redirect = words[i+1].text
			i++
		case w.text == "<" && !w.quoted && i+1 < len(words):
			b, err := os.ReadFile(words[i+1].text)
			if err != nil {
				t.Fatal(err)
			}
			stdin = string(b)
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
	return args, redirect, stdin
}

// TestReadmeCommandsRun runs every ./trailsift command of the README and
// docs/*.md, in order, on the demo case (the first one builds it from the
// samples, as make demo does) in a folder of its own: each exits as the
// docs say (0 unless a comment or the map says otherwise), the ones that
// show data show some, and the tour's analyze prints what the README shows.
func TestReadmeCommandsRun(t *testing.T) {
	cmds, templates, readme := readmeCommands(t)
	if templates != docTemplates {
		t.Errorf("the docs have %d template lines, want %d: make a new example run on the samples, or change docTemplates knowingly", templates, docTemplates)
	}
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
	if err := os.Mkdir("tmp", 0o755); err != nil { // the docs' /tmp/
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
	for i, c := range cmds {
		args, redirect, stdin := shellWords(t, c.line)
		stdout, stderr, code := run(t, stdin, args...)
		want := exitOK
		for prefix, status := range tourExitCodes {
			if strings.HasPrefix(c.line, prefix) && !strings.Contains(c.line, "--force") {
				want = status
			}
		}
		if n := documentedExit(c.line); n >= 0 {
			want = n
		}
		if code != want {
			t.Errorf("%s: %s: exit %d, want %d\n%s", c.where, c.line, code, want, stderr)
			continue
		}
		if redirect != "" {
			if err := os.WriteFile(redirect, []byte(stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A command that shows data shows some: not an empty table.
		if slices.Contains([]string{"timeline", "signins", "detect", "query", "trace"}, args[0]) && !slices.Contains(args, "--out") {
			if rows := strings.Count(strings.TrimSpace(stdout), "\n"); rows < 1 || strings.Contains(stdout, "(0 events") {
				t.Errorf("%s: shows nothing on the demo case:\n%s", c.line, stdout)
			}
		}
		if i == tour {
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
