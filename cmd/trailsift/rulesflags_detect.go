package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// ruleSetFlags are the rule flags of the commands that run rules (detect,
// timeline --finding): the user's rule folder and parameter values.
type ruleSetFlags struct {
	rulesDir string
	sets     []string
	params   map[string]map[string]string // from sets, by parse: rule id → name → value
}

// AddFlags registers --rules and --set.
func (f *ruleSetFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.rulesDir, "rules", "", "also load the rule files (*.sql) in `DIR`; one with a built-in rule's id replaces it")
	fs.StringArrayVar(&f.sets, "set", nil, "set a rule parameter: `ID.NAME=VALUE` (repeatable), e.g. mfa-failure-burst.window=10m")
}

// parse reads the --set values; whether the rules take them is checked
// once the rules are loaded (load).
func (f *ruleSetFlags) parse() error {
	f.params = map[string]map[string]string{}
	for _, s := range f.sets {
		key, val, ok := strings.Cut(s, "=")
		dot := strings.LastIndexByte(key, '.')
		if !ok || dot <= 0 || dot == len(key)-1 || val == "" {
			return &usageError{fmt.Sprintf("--set %q: want RULE-ID.PARAM=VALUE, e.g. mfa-failure-burst.window=10m", s)}
		}
		id, name := key[:dot], key[dot+1:]
		if f.params[id] == nil {
			f.params[id] = map[string]string{}
		}
		f.params[id][name] = val
	}
	return nil
}

// ruleSet is the rules a command runs and those that failed.
type ruleSet struct {
	rules  []query.Rule
	mine   map[string]bool  // the files from --rules: their failures are usage errors
	failed query.RuleErrors // files that did not load, then rules that did not run
}

// load is loadRuleSet for the flags; the --set values must fit the rules
// that loaded.
func (f *ruleSetFlags) load(ios *streams) (*ruleSet, error) {
	set, err := loadRuleSet(f.rulesDir, ios)
	if err != nil {
		return nil, err
	}
	for id, vals := range f.params {
		r, err := findRule(set.rules, id)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--set: %v", err)}
		}
		if err := r.CheckParams(vals); err != nil {
			return nil, &usageError{"--set: " + err.Error()}
		}
	}
	return set, nil
}

// detectErr takes the error of query.Detect: the rules that failed are
// said on stderr and kept for the exit status; any other error is returned.
func (s *ruleSet) detectErr(ios *streams, err error) error {
	var failed query.RuleErrors
	if err == nil || !errors.As(err, &failed) {
		return err
	}
	s.fail(ios, failed)
	return nil
}

func (s *ruleSet) fail(ios *streams, failed query.RuleErrors) {
	for _, re := range failed {
		fmt.Fprintf(ios.Err, "trailsift: %s\n", reports.SafeLines(re.Error()))
	}
	s.failed = append(s.failed, failed...)
}

// exitErr is nil when every rule loaded and ran. Otherwise it makes the
// exit status say so: a usage error when the rules are the user's (theirs
// to fix), an error when a built-in one failed.
func (s *ruleSet) exitErr() error {
	if len(s.failed) == 0 {
		return nil
	}
	var o outcome
	for _, re := range s.failed {
		if s.mine[re.File] {
			o.usage = true
		} else {
			o.failed = true
		}
	}
	return &exitCodeError{code: exitStatus(o), err: fmt.Errorf("%d rule(s) could not be loaded or run (said above); the other rules ran", len(s.failed))}
}

// loadRuleSet is the built-in rules plus those in dir (when set); a rule in
// dir with a built-in's id replaces it, which is said on stderr. A file of
// dir that cannot be loaded is said on stderr and kept in failed, named by
// its path as the user wrote dir; the others are used.
func loadRuleSet(dir string, ios *streams) (*ruleSet, error) {
	rules, err := query.BuiltinRules()
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	set := &ruleSet{rules: rules, mine: map[string]bool{}}
	if dir == "" {
		return set, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--rules %s: %v", dir, err)}
	}
	if !fi.IsDir() {
		return nil, &usageError{fmt.Sprintf("--rules %s: not a directory", dir)}
	}
	mine, err := query.LoadRules(os.DirFS(dir))
	var failed query.RuleErrors
	if err != nil && !errors.As(err, &failed) {
		return nil, &usageError{fmt.Sprintf("--rules %s: %v", dir, err)}
	}
	for _, re := range failed {
		re.File = filepath.Join(dir, filepath.FromSlash(re.File))
		set.mine[re.File] = true
	}
	set.fail(ios, failed)
	if len(mine) == 0 && len(failed) == 0 {
		fmt.Fprintf(ios.Err, "trailsift: note: no *.sql rule files in %s\n", reports.SafeText(dir))
	}
	for _, m := range mine {
		m.Source = filepath.Join(dir, filepath.FromSlash(m.Source))
		set.mine[m.Source] = true
		replaced := false
		for i := range set.rules {
			if set.rules[i].ID == m.ID {
				fmt.Fprintf(ios.Err, "trailsift: note: rule %s from %s replaces the built-in one\n", m.ID, reports.SafeText(m.Source))
				set.rules[i], replaced = m, true
			}
		}
		if !replaced {
			set.rules = append(set.rules, m)
		}
	}
	return set, nil
}
