package main

import (
	"strings"
	"time"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// session is one line of expected-sessions.jsonl: a credential of the
// story's chain and where it comes from.
type session struct {
	ID         string   `json:"session_id"`
	Parent     *string  `json:"parent_session_id"`
	OriginType string   `json:"origin_type"`
	Origin     string   `json:"origin"`
	Depth      int      `json:"depth"`
	Accounts   []string `json:"accounts"`
	what       string
}

const (
	reuseIP = "198.51.100.77" // where the stolen cross-account key is used again
	reuseUA = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0-26-generic md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)

// chain plants the credential chain that follows alice's phished sign-in:
// her console session assumes OpsAdmin, which assumes CrossAccountAudit in
// the second account; that session reads, creates an access key for
// another user, and its key is used again later from another address.
//
// Everything here draws from b.cr, never b.r, so the events and files of the
// rest of the story keep their ids and names.
func (b *builder) chain(mfaFailures []*ct.Event, signin *ct.Event) {
	r := b.cr
	opsAdmin := role(acct1, "OpsAdmin", "/", r)
	audit := role(acct2, "CrossAccountAudit", "/", r)
	signedIn := at("10:07:19")
	s0 := b.aliceKey
	s1, s2 := ct.TempKeyID(r), ct.TempKeyID(r)
	newKey := ct.LongKeyID(r)
	token := func() string { return "IQoJb3JpZ2luX2VjE" + ct.Base64(r, 180) }
	add := func(e *ct.Event, story string, shapes ...string) *ct.Event {
		if e.EventID == "" {
			e.EventID = ct.UUID(r)
		}
		if e.RequestID == "" {
			e.RequestID = ct.UUID(r)
		}
		b.chainIDs[e.EventID] = true
		return b.add(e, story, shapes...)
	}
	call := func(account string, t time.Time, source, name string, identity []byte, ip, ua string, readOnly bool) *ct.Event {
		svc := strings.TrimSuffix(source, ".amazonaws.com")
		host := svc + ".us-east-1.amazonaws.com"
		if svc == "iam" || svc == "s3" {
			host = svc + ".amazonaws.com"
		}
		// like b.api, but the ids are drawn in add, from b.cr
		return &ct.Event{Version: "1.08", Identity: identity, Time: t, Source: source, Name: name, Region: "us-east-1",
			SourceIP: ip, UserAgent: ua, ReadOnly: readOnly, EventType: "AwsApiCall", Recipient: account, TLSHost: host}
	}
	const console = "AWS Internal"
	opsID := ct.AssumedRoleIdentity(opsAdmin, "alice", s1, at("10:24:05"), ct.AssumedRoleOpts{MFA: true})
	auditID := ct.AssumedRoleIdentity(audit, "alice", s2, at("10:31:12"), ct.AssumedRoleOpts{MFA: true})

	// Hop 1, only in the lookup-events pages, whose copy lacks the issued key:
	// the OpsAdmin session is tied to it by assumedRoleUser.arn.
	hop1 := add(ct.AssumeRole{Recipient: acct1, Region: "us-east-1", Identity: ct.IAMUserConsoleIdentity(b.alice, s0, signedIn, true),
		Time: at("10:24:05"), IP: attackerIP, UserAgent: console, FromConsole: true, Role: opsAdmin, SessionName: "alice"}.Event(),
		"alice's console session assumes role OpsAdmin (only in lookup-events, without the issued key)", shLookup1)

	e := call(acct1, at("10:26:40"), "iam.amazonaws.com", "ListRoles", opsID, attackerIP, console, true)
	e.FromConsole = true
	e.RequestParameters = ct.NewObj(32).Int("maxItems", 1000).Bytes()
	add(e, "the OpsAdmin session lists the roles", shZip)

	// Hop 2, cross-account: logged in both accounts with one sharedEventID;
	// the role's account sees the caller only as an AWSAccount.
	shared, reqID := ct.UUID(r), ct.UUID(r)
	hop2 := ct.AssumeRole{Recipient: acct1, Region: "us-east-1", Identity: opsID, Time: at("10:31:12"), IP: attackerIP,
		UserAgent: console, FromConsole: true, Role: audit, SessionName: "alice", KeyID: s2, Token: token(),
		RequestID: reqID, SharedID: shared}
	hop2a := add(hop2.Event(), "OpsAdmin assumes CrossAccountAudit in 222222222222 (logged in 111111111111 ...)", shZip)
	hop2.Recipient, hop2.Identity = acct2, ct.AWSAccountIdentity(opsAdmin.ID+":alice", acct1)
	hop2b := add(hop2.Event(), "... and in 222222222222, same sharedEventID", shZip)

	e = call(acct2, at("10:33:05"), "iam.amazonaws.com", "GetAccountAuthorizationDetails", auditID, attackerIP, console, true)
	e.FromConsole = true
	e.RequestParameters = ct.NewObj(32).Int("maxItems", 100).Bytes()
	add(e, "the cross-account session reads every IAM user, role and policy of 222222222222", shZip)
	e = call(acct2, at("10:34:20"), "s3.amazonaws.com", "ListBuckets", auditID, attackerIP, console, true)
	e.FromConsole = true
	e.RequestParameters = ct.NewObj(64).Str("Host", "s3.amazonaws.com").Bytes()
	add(e, "", shZip)
	bucket := "acme-assets-" + acct2[8:]
	e = call(acct2, at("10:35:02"), "s3.amazonaws.com", "GetBucketPolicy", auditID, attackerIP, console, true)
	e.FromConsole = true
	e.ErrorCode, e.ErrorMessage = "NoSuchBucketPolicy", "The bucket policy does not exist"
	e.RequestParameters = ct.NewObj(128).Str("bucketName", bucket).Str("Host", bucket+".s3.us-east-1.amazonaws.com").Str("policy", "").Bytes()
	add(e, "", shZip)
	e = call(acct2, at("10:37:48"), "iam.amazonaws.com", "CreateAccessKey", auditID, attackerIP, console, false)
	e.FromConsole = true
	e.RequestParameters = ct.NewObj(64).Str("userName", "ci-deploy").Bytes()
	e.ResponseElements = ct.NewObj(256).Raw("accessKey", ct.NewObj(192).Str("userName", "ci-deploy").Str("accessKeyId", newKey).
		Str("status", "Active").Str("createDate", "Mar 5, 2024, 10:37:48 AM").Bytes()).Bytes()
	created := add(e, "it creates an access key for IAM user ci-deploy in 222222222222", shZip)

	// The cross-account key, copied out, is used from another address and client.
	var reuse []*ct.Event
	e = call(acct2, at("11:02:31"), "sts.amazonaws.com", "GetCallerIdentity", auditID, reuseIP, reuseUA, true)
	reuse = append(reuse, add(e, "the CrossAccountAudit key is used again from 198.51.100.77 with a Python client", shZip))
	e = call(acct2, at("11:03:10"), "s3.amazonaws.com", "ListBuckets", auditID, reuseIP, reuseUA, true)
	e.RequestParameters = ct.NewObj(64).Str("Host", "s3.amazonaws.com").Bytes()
	reuse = append(reuse, add(e, "", shZip))
	e = call(acct2, at("11:04:02"), "ec2.amazonaws.com", "DescribeInstances", auditID, reuseIP, reuseUA, true)
	e.RequestParameters = ct.NewObj(96).Raw("instancesSet", []byte("{}")).Raw("filterSet", []byte("{}")).Bytes()
	reuse = append(reuse, add(e, "", shZip))

	b.findIn(acct1, "role-chain-after-weak-signin", "alice", attackerIP,
		"console sign-in after 2 MFA failures (listed too) whose chain reaches 222222222222: the calls that issued its credentials there (hop 2, the new key) and on the way (hop 1)",
		append(mfaFailures, signin, hop1, hop2a, created)...)
	b.findIn(acct2, "credential-change-by-other-origin", "CrossAccountAudit/alice", attackerIP,
		"CreateAccessKey for ci-deploy by a session whose origin is alice", created)
	b.findIn(acct2, "credential-used-from-new-location", "CrossAccountAudit/alice", reuseIP,
		"key issued to 203.0.113.66 (console; the issuing call is listed first) used from 198.51.100.77 (Python SDK)", append([]*ct.Event{hop2a}, reuse...)...)
	_ = hop2b

	alice := b.alice.ARN()
	p := func(s string) *string { return &s }
	b.sessions = []session{
		{ID: s0, OriginType: "IAMUser", Origin: alice, Depth: 0, Accounts: []string{acct1}, what: "alice's console session (creationDate = the 10:07:19 sign-in)"},
		{ID: s1, Parent: p(s0), OriginType: "IAMUser", Origin: alice, Depth: 1, Accounts: []string{acct1}, what: "OpsAdmin/alice (linked by assumedRoleUser.arn: the issuing copy lacks the key)"},
		{ID: s2, Parent: p(s1), OriginType: "IAMUser", Origin: alice, Depth: 2, Accounts: []string{acct2}, what: "CrossAccountAudit/alice in 222222222222"},
		{ID: newKey, Parent: p(s2), OriginType: "IAMUser", Origin: alice, Depth: 3, Accounts: []string{}, what: "ci-deploy's new access key (issued by CreateAccessKey, never used)"},
	}
}
