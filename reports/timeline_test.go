package reports

import (
	"os"
	"strings"
	"testing"
	"time"
)

var exampleEvents = []EventRow{
	{Time: time.Date(2024, 3, 5, 13, 41, 9, 0, time.UTC), Account: "111111111111", Region: "us-east-1", Source: "signin.amazonaws.com",
		Name: "CredentialChallenge", Actor: "bob@example.com", SourceIP: "203.0.113.66", Outcome: "Success", CredentialType: "PASSWORD",
		EventID: "e1", AuthWorkflowID: "0850e394-1f26", Story: "password OK → TOTP failed", Steps: 2},
	{Time: time.Date(2024, 3, 5, 13, 41, 36, 0, time.UTC), Account: "111111111111", Region: "us-east-1", Source: "signin.amazonaws.com",
		Name: "CredentialVerification", Actor: "bob@example.com", SourceIP: "203.0.113.66", Outcome: "Failure", CredentialType: "TOTP",
		EventID: "e2", AuthWorkflowID: "0850e394-1f26", Story: "password OK → TOTP failed", Steps: 2},
	{Time: time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC), Account: "111111111111", Region: "us-east-1", Source: "iam.amazonaws.com",
		Name: "CreateUser", Actor: "=cmd|' /C calc'!A0", SourceIP: "203.0.113.66", ErrorCode: "AccessDenied", EventID: "e3"},
}

// The readable formats fold an Identity Center sign-in into one row; the
// Timesketch formats keep one row per event.
func ExampleTimelineWriter() {
	for _, format := range []string{FormatTable, FormatCSV} {
		tw, _ := NewTimelineWriter(os.Stdout, TimelineOptions{Format: format})
		for _, e := range exampleEvents {
			e.UserAgent = "Mozilla/5.0"
			tw.Add(e)
		}
		tw.Close(0)
	}
	// Output:
	// TIME (UTC)           ACCOUNT       REGION     ACTOR               EVENT                              SOURCE IP     RESULT   DETAIL                                         USER AGENT   EVENT ID
	// -------------------  ------------  ---------  ------------------  ---------------------------------  ------------  -------  ---------------------------------------------  -----------  --------
	// 2024-03-05 13:41:09  111111111111  us-east-1  bob@example.com     Identity Center sign-in (2 steps)  203.0.113.66  Failure  workflow 0850e394…: password OK → TOTP failed  Mozilla/5.0  e1
	// 2024-03-05 14:00:00  111111111111  us-east-1  =cmd|' /C calc'!A0  iam:CreateUser                     203.0.113.66  Failure  error AccessDenied                             Mozilla/5.0  e3
	// (3 events, 1 Identity Center sign-in step shown in their sign-in's row; times in UTC)
	// message,datetime,timestamp_desc,event_id,event_name,event_source,event_type,actor,user_type,user_name,user_arn,account_id,region,source_ip,user_agent,outcome,error_code,error_message,mfa_used,credential_type,auth_workflow_id,story,request_parameters
	// "bob@example.com CredentialChallenge (signin) from 203.0.113.66: Success, PASSWORD, sign-in: password OK → TOTP failed",2024-03-05T13:41:09Z,Event Time,e1,CredentialChallenge,signin.amazonaws.com,,bob@example.com,,,,111111111111,us-east-1,203.0.113.66,Mozilla/5.0,Success,,,,PASSWORD,0850e394-1f26,password OK → TOTP failed,
	// "bob@example.com CredentialVerification (signin) from 203.0.113.66: Failure, TOTP, sign-in: password OK → TOTP failed",2024-03-05T13:41:36Z,Event Time,e2,CredentialVerification,signin.amazonaws.com,,bob@example.com,,,,111111111111,us-east-1,203.0.113.66,Mozilla/5.0,Failure,,,,TOTP,0850e394-1f26,password OK → TOTP failed,
	// '=cmd|' /C calc'!A0 CreateUser (iam) from 203.0.113.66: error AccessDenied,2024-03-05T14:00:00Z,Event Time,e3,CreateUser,iam.amazonaws.com,,'=cmd|' /C calc'!A0,,,,111111111111,us-east-1,203.0.113.66,Mozilla/5.0,,AccessDenied,,,,,,
}

func TestStoryOutcome(t *testing.T) {
	for story, want := range map[string]string{
		"password OK → TOTP OK → signed in": "Success",
		"password OK → TOTP failed":         "Failure",
		"password OK":                       "Success",
		"credential asked for":              "",
		"password failed → password OK":     "Success",
	} {
		if got := storyOutcome(story); got != want {
			t.Errorf("%q: %q, want %q", story, got, want)
		}
	}
	if !strings.Contains(exampleEvents[1].Message(), "TOTP failed") {
		t.Error(exampleEvents[1].Message())
	}
}
