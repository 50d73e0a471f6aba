// Package sigma reads Sigma rules (https://sigmahq.io) for AWS CloudTrail and
// compiles them to DuckDB SQL over the events view of a trailsift store.
//
// A detection becomes one boolean SQL expression per rule; all of them run
// in one query (one scan of the events). Correlation rules (event_count,
// value_count, temporal, temporal_ordered) become one window query each over
// the matches of the rules they name.
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/trailsift/trailsift/query"
)

// Rule is one Sigma rule that compiled.
type Rule struct {
	ID             string
	Name           string // the rule's `name`, which correlation rules may use
	Title          string
	Description    string
	Status         string
	Level          string // as written
	Severity       query.Severity
	Attack         []string // ATT&CK technique ids from tags attack.tNNNN
	Tags           []string
	References     []string
	FalsePositives []string
	Source         string // file it was read from
	Doc            int    // 1-based YAML document in the file

	quiet       bool         // named by a correlation without generate: no findings of its own
	detection   *detection   // nil for a correlation rule
	correlation *correlation // nil for a detection rule
	// Where is the compiled condition: a boolean expression over the
	// columns of the events view, true exactly when the rule matches.
	Where string
}

// IsCorrelation reports whether r is a correlation rule.
func (r *Rule) IsCorrelation() bool { return r.correlation != nil }

// Problem is a rule that was not compiled, and why.
type Problem struct {
	Source string `json:"source"`
	Doc    int    `json:"document"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	who := p.ID
	if p.Title != "" {
		who = fmt.Sprintf("%s (%s)", p.ID, p.Title)
	}
	if who == "" {
		who = "rule"
	}
	return fmt.Sprintf("%s, document %d: %s: %s", p.Source, p.Doc, who, p.Reason)
}

// rawRule is a Sigma document as YAML gives it.
type rawRule struct {
	Title          string       `yaml:"title"`
	ID             string       `yaml:"id"`
	Name           string       `yaml:"name"`
	Status         string       `yaml:"status"`
	Description    string       `yaml:"description"`
	References     stringList   `yaml:"references"`
	Tags           stringList   `yaml:"tags"`
	FalsePositives stringList   `yaml:"falsepositives"`
	Level          string       `yaml:"level"`
	Action         string       `yaml:"action"`
	Logsource      logsource    `yaml:"logsource"`
	Detection      yaml.Node    `yaml:"detection"`
	Correlation    *rawCorrRule `yaml:"correlation"`
}

type logsource struct {
	Product  string `yaml:"product"`
	Service  string `yaml:"service"`
	Category string `yaml:"category"`
}

// stringList takes a YAML list of strings or a single string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!null" {
			*l = []string{n.Value}
		}
		return nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a list of strings", c.Line)
			}
			*l = append(*l, c.Value)
		}
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// maxRuleBytes bounds one rule file: Sigma rules are a few kilobytes.
const maxRuleBytes = 4 << 20

// parseFile reads every YAML document of a Sigma file. Documents that are
// not AWS CloudTrail rules are counted in skipped; documents that are but
// cannot be used are problems. Correlation rules come back uncompiled: they
// need the whole set to resolve the rules they name.
func parseFile(name string, data []byte) (rules []*Rule, problems []Problem, skipped int) {
	if len(data) > maxRuleBytes {
		return nil, []Problem{{Source: name, Doc: 1, Reason: fmt.Sprintf("file is %d bytes; a Sigma rule file is at most %d", len(data), maxRuleBytes)}}, 0
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The decoder cannot go on after a syntax error.
			problems = append(problems, Problem{Source: name, Doc: doc, Reason: "YAML: " + err.Error()})
			break
		}
		r, reason, skip := parseDoc(&node)
		r.Source, r.Doc = name, doc
		switch {
		case skip:
			skipped++
		case reason != "":
			problems = append(problems, Problem{Source: name, Doc: doc, ID: r.ID, Title: r.Title, Reason: reason})
		default:
			rules = append(rules, r)
		}
	}
	return rules, problems, skipped
}

// parseDoc reads one document; reason says why it cannot be used, skip that
// it is not for CloudTrail.
func parseDoc(node *yaml.Node) (r *Rule, reason string, skip bool) {
	r = &Rule{}
	var raw rawRule
	if err := node.Decode(&raw); err != nil {
		return r, "YAML: " + err.Error(), false
	}
	r.ID, r.Name, r.Title, r.Description, r.Status = raw.ID, raw.Name, raw.Title, raw.Description, raw.Status
	r.References, r.FalsePositives, r.Tags = raw.References, raw.FalsePositives, raw.Tags
	r.Level = raw.Level
	for _, t := range raw.Tags {
		if m := attackTag.FindStringSubmatch(strings.ToLower(t)); m != nil {
			r.Attack = append(r.Attack, strings.ToUpper(m[1]))
		}
	}
	if raw.Action != "" {
		return r, fmt.Sprintf("action: %s documents (rule collections) are not supported; write each rule whole", raw.Action), false
	}
	if raw.Correlation == nil && !isCloudTrail(raw.Logsource) {
		return r, "", true
	}
	if r.ID == "" {
		return r, "the rule has no id (trailsift names findings by it)", false
	}
	if r.Title == "" {
		return r, "the rule has no title", false
	}
	sev, err := severity(raw.Level)
	if err != nil {
		return r, err.Error(), false
	}
	r.Severity = sev
	if raw.Correlation != nil {
		c, err := parseCorrelation(raw.Correlation)
		if err != nil {
			return r, "correlation: " + err.Error(), false
		}
		r.correlation = c
		return r, "", false
	}
	d, err := parseDetection(&raw.Detection)
	if err != nil {
		return r, err.Error(), false
	}
	r.detection = d
	if r.Where, err = compileDetection(d, inline); err != nil {
		return r, err.Error(), false
	}
	return r, "", false
}

var attackTag = regexp.MustCompile(`^attack\.(t\d{4}(?:\.\d{3})?)$`)

func isCloudTrail(l logsource) bool {
	return strings.EqualFold(l.Product, "aws") && strings.EqualFold(l.Service, "cloudtrail")
}

// severity maps Sigma's level to ours. A rule without a level is medium,
// as in Sigma's own tooling.
func severity(level string) (query.Severity, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "informational":
		return query.Info, nil
	case "low":
		return query.Low, nil
	case "", "medium":
		return query.Medium, nil
	case "high":
		return query.High, nil
	case "critical":
		return query.Critical, nil
	}
	return "", fmt.Errorf("level %q is not one of informational, low, medium, high, critical", level)
}

// sortRules orders rules by id, for stable listings.
func sortRules(rules []*Rule) {
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
}
