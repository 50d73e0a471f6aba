package ct

import "time"

// AssumeRole describes one sts:AssumeRole call, shaped like the example in
// the IAM user guide ("Logging IAM and AWS STS API calls with AWS
// CloudTrail"): the new key in responseElements.credentials.accessKeyId and
// the session in responseElements.assumedRoleUser.
type AssumeRole struct {
	Recipient   string // the account the copy is logged in
	Region      string
	Identity    []byte // the caller
	Time        time.Time
	IP          string
	UserAgent   string
	FromConsole bool
	Role        Role
	SessionName string
	KeyID       string // the issued ASIA... key; omitted when empty (lookup-events output often drops it)
	Token       string // the session token
	RequestID   string
	EventID     string
	SharedID    string // sharedEventID: set on both copies of a cross-account call
}

// Event builds the CloudTrail record.
func (a AssumeRole) Event() *Event {
	cred := NewObj(384)
	if a.KeyID != "" {
		cred.Str("accessKeyId", a.KeyID)
	}
	if a.Token != "" {
		cred.Str("sessionToken", a.Token)
	}
	cred.Str("expiration", a.Time.Add(time.Hour).UTC().Format("Jan 2, 2006, 3:04:05 PM"))
	aru := NewObj(256).Str("assumedRoleId", a.Role.ID+":"+a.SessionName).Str("arn", a.Role.SessionARN(a.SessionName)).Bytes()
	e := &Event{
		Identity:  a.Identity,
		Time:      a.Time,
		Source:    "sts.amazonaws.com",
		Name:      "AssumeRole",
		Region:    a.Region,
		SourceIP:  a.IP,
		UserAgent: a.UserAgent,
		RequestParameters: NewObj(256).Str("roleArn", a.Role.ARN()).Str("roleSessionName", a.SessionName).
			Int("durationSeconds", 3600).Bytes(),
		ResponseElements: NewObj(768).Raw("credentials", cred.Bytes()).Raw("assumedRoleUser", aru).Bytes(),
		RequestID:        a.RequestID,
		EventID:          a.EventID,
		ReadOnly:         true,
		Resources:        Arr(NewObj(160).Str("accountId", a.Role.Account).Str("type", "AWS::IAM::Role").Str("ARN", a.Role.ARN()).Bytes()),
		EventType:        "AwsApiCall",
		Recipient:        a.Recipient,
		SharedEventID:    a.SharedID,
		TLSHost:          "sts." + a.Region + ".amazonaws.com",
		FromConsole:      a.FromConsole,
	}
	return e
}

// AWSAccountIdentity is the userIdentity the role's account logs for a call
// made from another account: only the caller's principal and account (the
// key is not in it).
func AWSAccountIdentity(principalID, account string) []byte {
	return NewObj(160).Str("type", "AWSAccount").Str("principalId", principalID).Str("accountId", account).Bytes()
}
