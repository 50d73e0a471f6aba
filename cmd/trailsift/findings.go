package main

import (
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/reports"
)

// summarize counts findings by severity: "3 findings: 1 critical, 2 high".
func summarize(found []query.Finding) string { return reports.FindingsSummary(found) }
