package main

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailsift/trailsift/lineage"
	"github.com/trailsift/trailsift/query"
)

// formatChoices are the --format values of each command, for completion;
// TestCompletion checks that each is accepted.
var formatChoices = map[string][]string{
	"coverage": {"table", "json"},
	"detect":   {"table", "json", "jsonl", "csv"},
	"query":    {"table", "csv", "json", "jsonl", "parquet"},
	"report":   {"html", "md"},
	"rules":    {"table", "json"},
	"schema":   {"text", "json"},
	"signins":  {"table", "csv", "jsonl", "md"},
	"timeline": {"table", "csv", "jsonl", "md"},
	"trace":    lineage.Formats,
	"verify":   {"table", "json"},
}

// commonZones are what --timezone completes to; any IANA name is accepted.
var commonZones = []string{
	"UTC", "Africa/Johannesburg", "America/Chicago", "America/Denver", "America/Los_Angeles",
	"America/New_York", "America/Sao_Paulo", "America/Toronto", "Asia/Dubai", "Asia/Hong_Kong",
	"Asia/Kolkata", "Asia/Seoul", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
	"Europe/Amsterdam", "Europe/Berlin", "Europe/Dublin", "Europe/London", "Europe/Madrid",
	"Europe/Paris", "Europe/Stockholm", "Europe/Warsaw", "Europe/Zurich", "Pacific/Auckland",
}

// addCompletions completes flag values throughout the command tree: rule
// ids (--rule, --finding, rules show), --format, --timezone and --fail-on.
func addCompletions(c *cobra.Command) {
	for name, complete := range map[string]cobra.CompletionFunc{
		"rule":     completeRuleIDs,
		"finding":  completeRuleIDs,
		"format":   fixedChoices(formatChoices[c.Name()]...),
		"timezone": completeZones,
		"fail-on":  fixedChoices(append([]string{"none"}, severityNames()...)...),
	} {
		if c.Flags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, complete) // only fails for a flag registered twice
		}
	}
	for _, sub := range c.Commands() {
		addCompletions(sub)
	}
}

func severityNames() []string {
	var out []string
	for _, s := range query.Severities {
		out = append(out, string(s))
	}
	return out
}

func fixedChoices(choices ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(choices, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeZones(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var zones []string
	for _, z := range commonZones {
		if _, err := time.LoadLocation(z); err == nil {
			zones = append(zones, z)
		}
	}
	return withPrefix(zones, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeRuleIDs lists the built-in rules' ids and those of --rules DIR
// when it is already on the line; nothing is printed about broken files.
func completeRuleIDs(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	dir := ""
	if f := cmd.Flags().Lookup("rules"); f != nil {
		dir = f.Value.String()
	}
	if st, err := os.Stat(dir); dir != "" && (err != nil || !st.IsDir()) {
		dir = ""
	}
	set, err := loadRuleSet(dir, &streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var ids []string
	for _, r := range set.rules {
		ids = append(ids, r.ID)
	}
	// --rule a,b: complete the id after the last comma.
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	for _, id := range withPrefix(ids, last) {
		out = append(out, done+id)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func withPrefix(choices []string, prefix string) []string {
	var out []string
	for _, c := range choices {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
