package ct

import "time"

// Sign-in events are always logged in us-east-1.
const SignInRegion = "us-east-1"

// ConsoleLogin describes one signin.amazonaws.com ConsoleLogin event.
type ConsoleLogin struct {
	Account       string
	Identity      []byte
	Time          time.Time
	IP            string
	UserAgent     string
	EventID       string
	Version       string
	Success       bool
	MFAUsed       string // "Yes" or "No" as written to additionalEventData.MFAUsed
	MFAIdentifier string // optional MFA device ARN
	SAMLProvider  string // optional SAML provider ARN (federated sign-in)
	LoginTo       string // optional; a console URL by default
	NoLoginTo     bool   // omit LoginTo (SSO federation)
}

// DefaultLoginTo is the usual additionalEventData.LoginTo.
const DefaultLoginTo = "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_2e0f3c5b8a6d4c1e"

// Event builds the CloudTrail record.
func (c ConsoleLogin) Event() *Event {
	ad := NewObj(256)
	if c.SAMLProvider != "" {
		ad.Str("SamlProviderArn", c.SAMLProvider)
	}
	if !c.NoLoginTo {
		lt := c.LoginTo
		if lt == "" {
			lt = DefaultLoginTo
		}
		ad.Str("LoginTo", lt)
	}
	ad.Str("MobileVersion", "No")
	if c.MFAIdentifier != "" {
		ad.Str("MFAIdentifier", c.MFAIdentifier)
	}
	ad.Str("MFAUsed", c.MFAUsed)
	result := "Success"
	e := &Event{
		Version:             c.Version,
		Identity:            c.Identity,
		Time:                c.Time,
		Source:              "signin.amazonaws.com",
		Name:                "ConsoleLogin",
		Region:              SignInRegion,
		SourceIP:            c.IP,
		UserAgent:           c.UserAgent,
		AdditionalEventData: ad.Bytes(),
		EventID:             c.EventID,
		EventType:           "AwsConsoleSignIn",
		Recipient:           c.Account,
		TLSHost:             "signin.aws.amazon.com",
	}
	if !c.Success {
		result = "Failure"
		e.ErrorMessage = "Failed authentication"
	} else {
		e.TLSHost = "us-east-1.signin.aws.amazon.com"
	}
	e.ResponseElements = NewObj(32).Str("ConsoleLogin", result).Bytes()
	return e
}

// IdCStep is one step of an IAM Identity Center sign-in workflow:
// CredentialChallenge, CredentialVerification or UserAuthentication.
type IdCStep struct {
	Account         string
	Region          string // the Identity Center home region
	UserID          string
	IdentityStoreID string // d-XXXXXXXXXX
	UserName        string
	WorkflowID      string // AuthWorkflowID shared by all steps
	Time            time.Time
	IP              string
	UserAgent       string
	EventID         string
	RequestID       string
	Name            string // event name
	CredentialType  string // PASSWORD, TOTP, WEBAUTHN (not on UserAuthentication)
	Result          string // Success or Failure
}

// Event builds the CloudTrail record.
func (s IdCStep) Event() *Event {
	ad := NewObj(192).Str("AuthWorkflowID", s.WorkflowID)
	if s.UserName != "" {
		ad.Str("UserName", s.UserName)
	}
	if s.Name == "UserAuthentication" {
		ad.Str("LoginTo", "https://"+s.IdentityStoreID+".awsapps.com/start/")
	}
	if s.CredentialType != "" {
		ad.Str("CredentialType", s.CredentialType)
	}
	detailKey := "CredentialChallenge"
	if s.Name == "UserAuthentication" {
		detailKey = "UserAuthentication"
	}
	region := s.Region
	if region == "" {
		region = SignInRegion
	}
	return &Event{
		Version:             "1.08",
		Identity:            IdentityCenterUserIdentity(s.Account, s.UserID, s.IdentityStoreID),
		Time:                s.Time,
		Source:              "signin.amazonaws.com",
		Name:                s.Name,
		Region:              region,
		SourceIP:            s.IP,
		UserAgent:           s.UserAgent,
		AdditionalEventData: ad.Bytes(),
		RequestID:           s.RequestID,
		EventID:             s.EventID,
		EventType:           "AwsServiceEvent",
		Recipient:           s.Account,
		ServiceEventDetails: NewObj(48).Str(detailKey, s.Result).Bytes(),
	}
}

// MFAChange is an iam.amazonaws.com MFA device management call.
type MFAChange struct {
	Account     string
	Identity    []byte // who made the call
	Time        time.Time
	IP          string
	UserAgent   string // "AWS Internal" for the console
	FromConsole bool
	EventID     string
	RequestID   string
	Name        string // CreateVirtualMFADevice, EnableMFADevice, DeactivateMFADevice, DeleteVirtualMFADevice, ResyncMFADevice
	UserName    string // whose device
	Device      string // virtual MFA device name
}

// Event builds the CloudTrail record.
func (m MFAChange) Event() *Event {
	serial := MFASerial(m.Account, m.Device)
	var req, resp []byte
	switch m.Name {
	case "CreateVirtualMFADevice":
		req = NewObj(96).Str("path", "/").Str("virtualMFADeviceName", m.Device).Bytes()
		resp = NewObj(128).Raw("virtualMFADevice", NewObj(96).Str("serialNumber", serial).Bytes()).Bytes()
	case "DeleteVirtualMFADevice":
		req = NewObj(96).Str("serialNumber", serial).Bytes()
	default:
		req = NewObj(128).Str("userName", m.UserName).Str("serialNumber", serial).Bytes()
	}
	return &Event{
		Version:           "1.08",
		Identity:          m.Identity,
		Time:              m.Time,
		Source:            "iam.amazonaws.com",
		Name:              m.Name,
		Region:            "us-east-1",
		SourceIP:          m.IP,
		UserAgent:         m.UserAgent,
		RequestParameters: req,
		ResponseElements:  resp,
		RequestID:         m.RequestID,
		EventID:           m.EventID,
		EventType:         "AwsApiCall",
		Recipient:         m.Account,
		TLSHost:           "iam.amazonaws.com",
		FromConsole:       m.FromConsole,
	}
}
