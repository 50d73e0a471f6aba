package ct

import (
	"time"
)

// Event is one CloudTrail record. JSON parts ([]byte fields) hold encoded
// JSON; fields are written in the order CloudTrail writes them.
type Event struct {
	Version  string // eventVersion, "1.08" when empty
	Identity []byte // userIdentity object
	Time     time.Time
	TimeText string // when set, written verbatim as eventTime (odd formats)

	Source    string // eventSource
	Name      string // eventName
	Region    string // awsRegion
	SourceIP  string // sourceIPAddress
	UserAgent string

	ErrorCode    string // omitted when empty
	ErrorMessage string // omitted when empty

	RequestParameters   []byte // null when nil
	ResponseElements    []byte // null when nil
	AdditionalEventData []byte // omitted when nil

	RequestID string // omitted when empty
	EventID   string
	ReadOnly  bool
	Resources []byte // omitted when nil
	EventType string // AwsApiCall, AwsConsoleSignIn, AwsServiceEvent

	APIVersion          string // omitted when empty
	Recipient           string // recipientAccountId
	SharedEventID       string // omitted when empty
	VPCEndpointID       string // omitted when empty
	ServiceEventDetails []byte // omitted when nil

	TLSHost     string // tlsDetails.clientProvidedHostHeader; no tlsDetails when empty
	TLSVersion  string // default TLSv1.3
	CipherSuite string // default TLS_AES_128_GCM_SHA256

	FromConsole bool // sessionCredentialFromConsole "true"
}

// AppendJSON appends the event as one compact JSON object.
func (e *Event) AppendJSON(b []byte) []byte {
	v := e.Version
	if v == "" {
		v = "1.08"
	}
	b = append(b, `{"eventVersion":`...)
	b = AppendString(b, v)
	b = append(b, `,"userIdentity":`...)
	if e.Identity == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Identity...)
	}
	b = append(b, `,"eventTime":`...)
	if e.TimeText != "" {
		b = AppendString(b, e.TimeText)
	} else {
		b = append(b, '"')
		b = AppendTime(b, e.Time)
		b = append(b, '"')
	}
	b = append(b, `,"eventSource":`...)
	b = AppendString(b, e.Source)
	b = append(b, `,"eventName":`...)
	b = AppendString(b, e.Name)
	b = append(b, `,"awsRegion":`...)
	b = AppendString(b, e.Region)
	b = append(b, `,"sourceIPAddress":`...)
	b = AppendString(b, e.SourceIP)
	b = append(b, `,"userAgent":`...)
	b = AppendString(b, e.UserAgent)
	if e.ErrorCode != "" {
		b = append(b, `,"errorCode":`...)
		b = AppendString(b, e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		b = append(b, `,"errorMessage":`...)
		b = AppendString(b, e.ErrorMessage)
	}
	b = append(b, `,"requestParameters":`...)
	b = appendRaw(b, e.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendRaw(b, e.ResponseElements)
	if e.AdditionalEventData != nil {
		b = append(b, `,"additionalEventData":`...)
		b = append(b, e.AdditionalEventData...)
	}
	if e.RequestID != "" {
		b = append(b, `,"requestID":`...)
		b = AppendString(b, e.RequestID)
	}
	b = append(b, `,"eventID":`...)
	b = AppendString(b, e.EventID)
	if e.ReadOnly {
		b = append(b, `,"readOnly":true`...)
	} else {
		b = append(b, `,"readOnly":false`...)
	}
	if e.Resources != nil {
		b = append(b, `,"resources":`...)
		b = append(b, e.Resources...)
	}
	b = append(b, `,"eventType":`...)
	b = AppendString(b, e.EventType)
	if e.APIVersion != "" {
		b = append(b, `,"apiVersion":`...)
		b = AppendString(b, e.APIVersion)
	}
	b = append(b, `,"managementEvent":true,"recipientAccountId":`...)
	b = AppendString(b, e.Recipient)
	if e.SharedEventID != "" {
		b = append(b, `,"sharedEventID":`...)
		b = AppendString(b, e.SharedEventID)
	}
	if e.VPCEndpointID != "" {
		b = append(b, `,"vpcEndpointId":`...)
		b = AppendString(b, e.VPCEndpointID)
	}
	if e.ServiceEventDetails != nil {
		b = append(b, `,"serviceEventDetails":`...)
		b = append(b, e.ServiceEventDetails...)
	}
	b = append(b, `,"eventCategory":"Management"`...)
	if e.TLSHost != "" {
		tv, cs := e.TLSVersion, e.CipherSuite
		if tv == "" {
			tv = "TLSv1.3"
		}
		if cs == "" {
			cs = "TLS_AES_128_GCM_SHA256"
		}
		b = append(b, `,"tlsDetails":{"tlsVersion":`...)
		b = AppendString(b, tv)
		b = append(b, `,"cipherSuite":`...)
		b = AppendString(b, cs)
		b = append(b, `,"clientProvidedHostHeader":`...)
		b = AppendString(b, e.TLSHost)
		b = append(b, '}')
	}
	if e.FromConsole {
		b = append(b, `,"sessionCredentialFromConsole":"true"`...)
	}
	return append(b, '}')
}

// JSON returns the event as compact JSON.
func (e *Event) JSON() []byte { return e.AppendJSON(make([]byte, 0, 1536)) }

func appendRaw(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return append(b, v...)
}
