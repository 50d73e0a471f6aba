package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
)

// chainLog is a CloudTrail log file in which IAM user bob's long-term key
// assumes role r<n> and the role session makes one call.
func chainLog(n int) []byte {
	return fmt.Appendf(nil, `{"Records":[
{"eventVersion":"1.08","eventTime":"2024-03-05T08:%02[1]d:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1",
 "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%[2]s:user/bob","accountId":"%[2]s","accessKeyId":"AKIABOB0000000000001","userName":"bob"},
 "sourceIPAddress":"198.51.100.1","userAgent":"aws-cli/2","requestParameters":{"roleArn":"arn:aws:iam::%[2]s:role/r%[1]d","roleSessionName":"bob"},
 "responseElements":{"credentials":{"accessKeyId":"ASIAROLE%012[1]d"},"assumedRoleUser":{"arn":"arn:aws:sts::%[2]s:assumed-role/r%[1]d/bob"}},
 "recipientAccountId":"%[2]s","eventID":"assume-%[1]d"},
{"eventVersion":"1.08","eventTime":"2024-03-05T08:%02[1]d:30Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1",
 "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::%[2]s:assumed-role/r%[1]d/bob","accountId":"%[2]s","accessKeyId":"ASIAROLE%012[1]d"},
 "sourceIPAddress":"198.51.100.1","recipientAccountId":"%[2]s","eventID":"use-%[1]d"}]}`, n, tAcct)
}

func sessionsOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out string
	if err := db.QueryRow(`SELECT coalesce(string_agg(to_json(s)::VARCHAR, E'\n' ORDER BY session_id), '') FROM sessions s`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDatasetSessions: an ingest into a Parquet dataset stores its sessions
// (the same a DuckDB store builds from the same evidence), a later ingest
// replaces them, and sessions of a dataset whose events changed behind
// their back are built from the events instead of read stale.
func TestDatasetSessions(t *testing.T) {
	ctx := context.Background()
	evidence := t.TempDir()
	first := filepath.Join(evidence, "first.json")
	write(t, first, chainLog(1))
	dir := filepath.Join(t.TempDir(), "ds")
	if _, err := LoadDataset(ctx, dir, []string{first}, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	stored, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet"))
	if len(stored) != 1 {
		t.Fatalf("stored sessions files: %v, want one", stored)
	}

	check := func(inputs ...string) {
		t.Helper()
		ds, err := lake.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Close()
		db, err := query.Open(ctx, "", false)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := Load(ctx, db, inputs, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		got, want := sessionsOf(t, ds.DB), sessionsOf(t, db.DB)
		if got != want || want == "" {
			t.Errorf("dataset sessions:\n%s\nstore sessions:\n%s", got, want)
		}
	}
	check(first)

	second := filepath.Join(evidence, "second.json")
	write(t, second, chainLog(2))
	if _, err := LoadDataset(ctx, dir, []string{second}, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	now, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet"))
	if len(now) != 1 || now[0] == stored[0] {
		t.Errorf("after a second ingest: %v (before: %v), want one new file", now, stored)
	}
	check(first, second)

	// Events added by another tool (here: an older trailsift) leave the
	// stored sessions stale: they must not be read.
	third := filepath.Join(evidence, "third.json")
	write(t, third, chainLog(3))
	keep := filepath.Join(t.TempDir(), "keep")
	if err := os.Rename(filepath.Join(dir, lake.SessionsDir), keep); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDataset(ctx, dir, []string{third}, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, lake.SessionsDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keep, filepath.Join(dir, lake.SessionsDir)); err != nil {
		t.Fatal(err)
	}
	check(first, second, third)

	// A sessions file of the release before issue_user_agent, under the
	// name it gave (the parts' fingerprint alone), is stale too.
	if err := lake.WriteSessions(ctx, dir); err != nil {
		t.Fatal(err)
	}
	current, _ := filepath.Glob(filepath.Join(dir, lake.SessionsDir, "sessions-*.parquet"))
	parts, _ := filepath.Glob(lake.EventsGlob(dir))
	for i, p := range parts {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = filepath.ToSlash(rel)
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	older := filepath.Join(dir, lake.SessionsDir, "sessions-"+hex.EncodeToString(sum[:12])+".parquet")
	if len(current) != 1 || current[0] == older {
		t.Fatalf("sessions files %v: want one, not named %s", current, older)
	}
	mem, err := query.Open(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := mem.DB.ExecContext(ctx, fmt.Sprintf("COPY (SELECT * EXCLUDE (issue_user_agent) FROM read_parquet(%s)) TO %s (FORMAT parquet)",
		query.StringLiteral(current[0]), query.StringLiteral(older))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(current[0]); err != nil {
		t.Fatal(err)
	}
	check(first, second, third)
}
