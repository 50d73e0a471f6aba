package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trailsift/trailsift/query"
)

// ruleFlags are the flags of every command that runs rules: --rules DIR
// and --set RULE.PARAM=VALUE, the same as detect's.
type ruleFlags struct {
	dir  string
	sets []string
}

func (r *ruleFlags) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&r.dir, "rules", "", "also load the rule files (*.sql) in `DIR`; one with a built-in rule's id replaces it")
	f.StringArrayVar(&r.sets, "set", nil, "set a rule parameter: `ID.NAME=VALUE` (repeatable), e.g. mfa-failure-burst.window=10m")
}

// parseSets reads the --set values into parameters by rule id.
func parseSets(sets []string) (map[string]map[string]string, error) {
	params := map[string]map[string]string{}
	for _, s := range sets {
		key, val, ok := strings.Cut(s, "=")
		dot := strings.LastIndexByte(key, '.')
		if !ok || dot <= 0 || dot == len(key)-1 || val == "" {
			return nil, &usageError{fmt.Sprintf("--set %q: want RULE-ID.PARAM=VALUE, e.g. mfa-failure-burst.window=10m", s)}
		}
		id, name := key[:dot], key[dot+1:]
		if params[id] == nil {
			params[id] = map[string]string{}
		}
		params[id][name] = val
	}
	return params, nil
}

// load reads the rules (the built-in ones, and those of --rules) and
// checks every --set against them: a mistyped rule or parameter is a usage
// error before anything runs.
func (r *ruleFlags) load(io *streams) ([]query.Rule, map[string]map[string]string, error) {
	params, err := parseSets(r.sets)
	if err != nil {
		return nil, nil, err
	}
	rules, err := loadRuleSet(r.dir, io)
	if err != nil {
		return nil, nil, err
	}
	for id, vals := range params {
		rule, err := findRule(rules, id)
		if err != nil {
			return nil, nil, &usageError{fmt.Sprintf("--set: %v", err)}
		}
		if err := rule.CheckParams(vals); err != nil {
			return nil, nil, &usageError{"--set: " + err.Error()}
		}
	}
	return rules, params, nil
}

// runError makes a failure of one of the user's own rules (from --rules) a
// usage error, as detect does: their rule does not run on this store.
func (r *ruleFlags) runError(err error) error {
	var re *query.RuleError
	if errors.As(err, &re) && r.dir != "" && strings.HasPrefix(re.File, r.dir) && !errors.Is(err, context.Canceled) && !query.IsEngineError(err) {
		return &usageError{err.Error()}
	}
	return err
}
