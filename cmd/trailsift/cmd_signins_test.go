package main

import (
	"strings"
	"testing"
)

func TestSigninsGolden(t *testing.T) {
	db := samplesCase(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"signins.txt", nil},
		{"signins.csv", []string{"--format", "csv"}},
		{"signins.jsonl", []string{"--format", "jsonl"}},
		{"signins-limit.md", []string{"--format", "md", "--limit", "3", "--since", "2024-03-05T09:00Z"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, "", append([]string{"signins", "--db", db}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.name, out)
		})
	}
}

// TestSigninsAnswersTheStory checks the numbers a responder reads first
// against the samples' story.
func TestSigninsAnswersTheStory(t *testing.T) {
	out, _, _ := run(t, "", "signins", "--db", samplesCase(t), "--format", "csv")
	want := map[string]string{
		"alice,iam":                       "4,2,3,1,2", // two MFA failures, then in; one sign-in without MFA after the device was removed
		"bob@example.com,identity-center": "1,1,1,0,1", // one TOTP failure in a second workflow
		"carol,iam":                       "0,6,0,0,0", // brute force
		"root,iam":                        "1,0,0,1,0",
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 9 {
			continue
		}
		if w, ok := want[f[0]+","+f[1]]; ok {
			if got := strings.Join(f[4:9], ","); got != w {
				t.Errorf("%s %s: successes,failures,with_mfa,without_mfa,mfa_failures = %s, want %s", f[0], f[1], got, w)
			}
			delete(want, f[0]+","+f[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("principals missing: %v\n%s", want, out)
	}
}

func TestSigninsHostile(t *testing.T) {
	out, stderr, code := run(t, "", "signins", "--db", hostileCase(t))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("control characters reached the terminal:\n%q", out)
	}
	out, _, _ = run(t, "", "signins", "--db", hostileCase(t), "--format", "csv")
	if strings.Contains(out, "\n\"=HYPERLINK") || !strings.Contains(out, `"'=HYPERLINK(""http://x"")"`) {
		t.Errorf("formula not neutralised:\n%s", out)
	}
}
