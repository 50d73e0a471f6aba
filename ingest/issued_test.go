package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// assumeRoleJSON is an AssumeRole event shaped like AWS's documentation
// example, with req and resp as its requestParameters and
// responseElements (already JSON).
func assumeRoleJSON(source, req, resp string) string {
	return `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/bob","accountId":"111111111111","accessKeyId":"AKIABOB0000000000001"},
"eventTime":"2024-05-01T09:00:00Z","eventSource":"` + source + `","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1",
"requestParameters":` + req + `,"responseElements":` + resp + `,"eventID":"ev-1","sharedEventID":"shared-1","recipientAccountId":"111111111111"}`
}

const (
	roleReq  = `{"roleArn":"arn:aws:iam::222222222222:role/Audit","roleSessionName":"bob","sourceIdentity":"bob@example.com","durationSeconds":3600}`
	roleResp = `{"credentials":{"accessKeyId":"ASIAAUDIT00000000001","sessionToken":"t","expiration":"May 1, 2024, 10:00:00 AM"},
"assumedRoleUser":{"assumedRoleId":"AROAAUDIT:bob","arn":"arn:aws:sts::222222222222:assumed-role/Audit/bob"}}`
	roleIssued = `{"accessKeyId":"ASIAAUDIT00000000001","arn":"arn:aws:sts::222222222222:assumed-role/Audit/bob",` +
		`"roleArn":"arn:aws:iam::222222222222:role/Audit","sessionName":"bob","sourceIdentity":"bob@example.com","sharedEventID":"shared-1"}`
)

func decodeOne(t *testing.T, raw string) Event {
	t.Helper()
	var r Rereader
	var ev Event
	if err := r.Event(raw, &ev); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	return ev
}

// lowerKeys is raw with every object key lower-cased, as some exports
// write events.
func lowerKeys(t *testing.T, raw string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	var lower func(v any) any
	lower = func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for k, e := range m {
			out[strings.ToLower(k)] = lower(e)
		}
		return out
	}
	b, err := json.Marshal(lower(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIssuedCredentialOfEveryShape: the decoder reads what a call handed
// out whatever shape the export gave the call: parts as objects, as JSON
// strings (lookup-events and some SIEM exports), with lower-cased keys.
func TestIssuedCredentialOfEveryShape(t *testing.T) {
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for name, raw := range map[string]string{
		"objects":      assumeRoleJSON("sts.amazonaws.com", roleReq, roleResp),
		"JSON strings": assumeRoleJSON("sts.amazonaws.com", quoted(roleReq), quoted(roleResp)),
		"lower-cased":  lowerKeys(t, assumeRoleJSON("sts.amazonaws.com", roleReq, roleResp)),
	} {
		if got := decodeOne(t, raw).IssuedCredential; got != roleIssued {
			t.Errorf("%s: issued credential\n%s\nwant\n%s", name, got, roleIssued)
		}
	}
}

// TestIssuedCredentialOnlyForIssuingCalls: other calls, and the same name
// from another service, have none; a call that names nothing (failed,
// its parts null) has an empty object, so it is told from an event stored
// before the column existed.
func TestIssuedCredentialOnlyForIssuingCalls(t *testing.T) {
	for _, c := range []struct{ name, raw, want string }{
		{"another service", assumeRoleJSON("iam.amazonaws.com", roleReq, roleResp), ""},
		{"another call", strings.Replace(assumeRoleJSON("sts.amazonaws.com", roleReq, roleResp), `"AssumeRole"`, `"GetCallerIdentity"`, 1), ""},
		{"failed", strings.Replace(assumeRoleJSON("sts.amazonaws.com", "null", "null"), `"sharedEventID":"shared-1",`, "", 1), "{}"},
		{"access key", strings.NewReplacer(`"sts.amazonaws.com"`, `"iam.amazonaws.com"`, `"AssumeRole"`, `"CreateAccessKey"`).Replace(
			assumeRoleJSON("sts.amazonaws.com", `{"userName":"carol"}`,
				`{"accessKey":{"accessKeyId":"AKIACAROL00000000001","status":"Active","userName":"carol"}}`)),
			`{"accessKeyId":"AKIACAROL00000000001","userName":"carol","sharedEventID":"shared-1"}`},
		{"numbers and containers", assumeRoleJSON("sts.amazonaws.com", `{"roleArn":["not","text"],"roleSessionName":42}`, `{"credentials":{"accessKeyId":true}}`),
			`{"accessKeyId":"true","sessionName":"42","sharedEventID":"shared-1"}`},
	} {
		if got := decodeOne(t, c.raw).IssuedCredential; got != c.want {
			t.Errorf("%s: issued credential %q, want %q", c.name, got, c.want)
		}
	}
}

// TestIssuedCredentialIsJSONWhateverTheValues: the values are the
// attacker's; the object is valid JSON and gives them back unchanged.
func TestIssuedCredentialIsJSONWhateverTheValues(t *testing.T) {
	hostile := `a\"b\\c\u0001\n</script>',=cmd|'/C calc'!A0\u2028é` // as JSON writes it
	var name string
	if err := json.Unmarshal([]byte(`"`+hostile+`"`), &name); err != nil {
		t.Fatal(err)
	}
	raw := assumeRoleJSON("sts.amazonaws.com", `{"roleSessionName":"`+hostile+`"}`, "null")
	got := decodeOne(t, raw).IssuedCredential
	if !utf8.ValidString(got) {
		t.Errorf("not UTF-8: %q", got)
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if back["sessionName"] != name {
		t.Errorf("sessionName %q, want %q", back["sessionName"], name)
	}
}

// TestIssuedFieldsPathsArePartsOfTheEvent: every path starts at a part
// the decoder hands issuedCredential; another would be read as missing.
func TestIssuedFieldsPathsArePartsOfTheEvent(t *testing.T) {
	for _, f := range IssuedFields {
		for _, p := range f.Paths {
			part, _, _ := strings.Cut(p, ".")
			if part != "requestParameters" && part != "responseElements" && p != "sharedEventID" {
				t.Errorf("%s: path %s starts at %s", f.Key, p, part)
			}
		}
	}
}
