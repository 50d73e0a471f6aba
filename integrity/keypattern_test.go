package integrity

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// keyPattern is the unanchored regexp (?:^|[/!\\])(key)$, run only where
// a key can start: on every path, it must find what that regexp finds.
func TestKeyPatternMatchesTheRegexp(t *testing.T) {
	log := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0005Z_abc.json.gz"
	digest := "AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2024/03/01/111122223333_CloudTrail-Digest_eu-west-1_trail_us-east-1_20240301T010203Z.json.gz"
	paths := []string{
		log, digest, "/evidence/" + log, `C:\cases\` + strings.ReplaceAll(log, "/", `\`), "export.zip!" + log,
		"x" + log, "/a/AWSLogs/b/" + log, "/AWSLogs/" + log, log + "/", log + ".bak", "AWSLogs/" + digest,
		"/e/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/" + log, "", "AWSLogs/", "/a/AWSLogs!AWSLogs/x",
		strings.Replace(log, "us-east-1/2024", "US-EAST-1/2024", 1), strings.Replace(digest, ".json.gz", "_backfill.json", 1),
	}
	// And keys with a random prefix and a random edit or two (a segment
	// dropped, doubled or replaced, a separator changed), so that a key
	// starts at several places, or almost does.
	pieces := []string{"AWSLogs", "", "!", `\`, "111122223333", "o-ab", "CloudTrail", "CloudTrail-Digest", "us-east-1", "x"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		segs := strings.Split([]string{log, digest}[r.IntN(2)], "/")
		for range r.IntN(3) {
			i := r.IntN(len(segs))
			switch r.IntN(4) {
			case 0:
				segs = slices.Delete(segs, i, i+1)
			case 1:
				segs = slices.Insert(segs, i, segs[i])
			case 2:
				segs[i] = pieces[r.IntN(len(pieces))]
			case 3:
				segs = slices.Insert(segs, i, "AWSLogs")
			}
		}
		var prefix strings.Builder
		for range r.IntN(4) {
			prefix.WriteString(pieces[r.IntN(len(pieces))])
			prefix.WriteString([]string{"/", "!", `\`, ""}[r.IntN(4)])
		}
		paths = append(paths, prefix.String()+strings.Join(segs, "/"))
	}
	found := 0
	for _, c := range []struct {
		name    string
		pattern keyPattern
	}{{"log", logName}, {"digest", digestName}} {
		unanchored := regexp.MustCompile(`(?:^|[/!\\])(` + c.pattern.key + `)$`)
		for _, p := range paths {
			want := unanchored.FindStringSubmatch(p)
			got := c.pattern.FindStringSubmatch(p)
			if (want == nil) != (got == nil) || (want != nil && !slices.Equal(want[1:], got[1:])) {
				t.Fatalf("%s %q: got %q, want %q", c.name, p, got, want)
			}
			if got != nil {
				found++
			}
			if c.pattern.MatchString(p) != (want != nil) {
				t.Fatalf("%s %q: MatchString disagrees", c.name, p)
			}
		}
	}
	if found < 2000 {
		t.Fatalf("only %d paths matched: the generated paths test too little", found)
	}
}
