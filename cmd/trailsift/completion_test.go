package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// complete runs cobra's hidden __complete command, as a shell does, and
// returns the candidates.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	out, stderr, code := run(t, "", append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("__complete %q: exit %d %s", args, code, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" && !strings.HasPrefix(line, ":") {
			got = append(got, line)
		}
	}
	return got
}

// TestCompletion: rule ids (--rule, --finding, rules show; a user rule of
// --rules too), --format values, --timezone and --fail-on complete.
func TestCompletion(t *testing.T) {
	mine := t.TempDir()
	if err := os.WriteFile(filepath.Join(mine, "my-rule.sql"), []byte(userRule("my-rule", "low", "select 1 where false")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"detect", "--rule", "console-b"}, []string{"console-brute-force"}},
		{[]string{"detect", "--rule", "console-brute-force,root-console-login-w"}, []string{"console-brute-force,root-console-login-without-mfa"}},
		{[]string{"rules", "show", "--rules", mine, "my-"}, []string{"my-rule"}},
		{[]string{"timeline", "--finding", "mfa-rem"}, []string{"mfa-removed-then-login"}},
		{[]string{"timeline", "--rules", mine, "--finding", "my"}, []string{"my-rule"}},
		{[]string{"rules", "show", "root-console-login"}, []string{"root-console-login", "root-console-login-without-mfa"}},
		{[]string{"detect", "--format", ""}, []string{"table", "json", "jsonl", "csv"}},
		{[]string{"report", "--format", ""}, []string{"html", "md"}},
		{[]string{"timeline", "--timezone", "Europe/Be"}, []string{"Europe/Berlin"}},
		{[]string{"signins", "--timezone", "America/New"}, []string{"America/New_York"}},
		{[]string{"detect", "--fail-on", ""}, []string{"none", "info", "low", "medium", "high", "critical"}},
	} {
		if got := complete(t, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("%q completes to %q, want %q", tt.args, got, tt.want)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out, _, code := run(t, "", "completion", shell); code != exitOK || !strings.Contains(out, "trailsift") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
	// Every --format has its choices listed, and its help names each.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup("format"); f != nil {
			choices, ok := formatChoices[c.Name()]
			if !ok {
				t.Errorf("%s --format: no completion choices", c.CommandPath())
			}
			for _, v := range choices {
				if !strings.Contains(f.Usage, v) {
					t.Errorf("%s --format completes %q, which its help does not name: %s", c.CommandPath(), v, f.Usage)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(&streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}))
}
