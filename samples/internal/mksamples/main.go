// Command mksamples writes the small bundled sample files under samples/:
// one incident told across every export shape trailsift reads. Run it from
// the repository root:
//
//	go run ./samples/internal/mksamples
//
// Output is deterministic; re-running rewrites identical files.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailsift/trailsift/integrity"
	"github.com/trailsift/trailsift/samples/internal/ct"
)

const (
	acct1      = "111111111111"
	acct2      = "222222222222"
	attackerIP = "203.0.113.66"
	aliceIP    = "198.51.100.10"
	sprayIP    = "192.0.2.200"
	bruteIP    = "192.0.2.201"
	trailName  = "management-events"
	logBucket  = "acme-cloudtrail-logs-111111111111"
	idStore    = "d-9067c2a1b3"
	domain     = "example.com"

	officeIP = "198.51.100.23"
	bobIP    = "198.51.100.45"
	mariaIP  = "198.51.100.77"

	browser  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
	browser2 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0"
	attacker = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0"
	sprayUA  = "python-requests/2.31.0"
	sdkUA    = "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.51"
	goUA     = "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.7 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.1"
	ddUA     = "aws-sdk-go/1.44.327 (go1.20.7; linux; amd64) datadog-aws-integration"
)

var day = time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)

// at parses "15:04:05" on 2024-03-05.
func at(hms string) time.Time {
	t, err := time.Parse("15:04:05", hms)
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

// Shapes an event can be delivered in.
const (
	shZip     = "s3-export.zip"
	shHistory = "event-history.json"
	shLookup1 = "lookup-events-page1.json"
	shLookup2 = "lookup-events-page2.json"
	shLake    = "lake-export.ndjson"
)

type item struct {
	e      *ct.Event
	shapes []string
	story  string // timeline text; empty for background
}

type finding struct {
	Rule    string   `json:"rule_id"`
	Actor   string   `json:"actor"`
	Account string   `json:"account_id"`
	IP      string   `json:"source_ip"`
	IDs     []string `json:"event_ids"`
	why     string
}

type builder struct {
	r        *rand.Rand
	items    []*item
	findings []finding

	alice, carol, dave ct.User
	sprayed            []ct.User
	ssoAdmin, ssoRO    map[string]ct.Role
	saml               ct.Role
	lambdaRole         map[string]ct.Role
	datadog, config    map[string]ct.Role
	aliceKey           string

	// The credential chain draws from its own stream (cr), so the rest of
	// the story keeps its ids; chainIDs are its events, sessions what it
	// must produce.
	cr       *rand.Rand
	chainIDs map[string]bool
	sessions []session
}

func (b *builder) uuid() string { return ct.UUID(b.r) }

func (b *builder) add(e *ct.Event, story string, shapes ...string) *ct.Event {
	if e.EventID == "" {
		e.EventID = b.uuid()
	}
	b.items = append(b.items, &item{e: e, shapes: shapes, story: story})
	return e
}

func (b *builder) find(rule, actor, ip, why string, es ...*ct.Event) {
	b.findIn(acct1, rule, actor, ip, why, es...)
}

func (b *builder) findIn(account, rule, actor, ip, why string, es ...*ct.Event) {
	f := finding{Rule: rule, Actor: actor, Account: account, IP: ip, why: why}
	for _, e := range es {
		f.IDs = append(f.IDs, e.EventID)
	}
	b.findings = append(b.findings, f)
}

func (b *builder) user(name string) ct.User {
	return ct.User{Account: acct1, Name: name, ID: ct.UserID(b.r)}
}

func (b *builder) login(u ct.User, t time.Time, ip, ua string, success bool, mfa, device string) *ct.Event {
	c := ct.ConsoleLogin{
		Account: acct1, Identity: ct.IAMUserSignInIdentity(u, success), Time: t, IP: ip, UserAgent: ua,
		Version: "1.09", Success: success, MFAUsed: mfa,
	}
	if device != "" {
		c.MFAIdentifier = ct.MFASerial(acct1, device)
	}
	return c.Event()
}

func (b *builder) ssoLogin(account string, role ct.Role, user string, t time.Time, ip string) *ct.Event {
	c := ct.ConsoleLogin{
		Account:  account,
		Identity: ct.AssumedRoleIdentity(role, user, ct.TempKeyID(b.r), t.Add(-3*time.Second), ct.AssumedRoleOpts{}),
		Time:     t, IP: ip, UserAgent: browser2, Version: "1.08", Success: true, MFAUsed: "No", NoLoginTo: true,
	}
	return c.Event()
}

func (b *builder) api(account, region string, t time.Time, source, name string, identity []byte, ip, ua string, readOnly bool) *ct.Event {
	svc := strings.TrimSuffix(source, ".amazonaws.com")
	host := svc + "." + region + ".amazonaws.com"
	if svc == "iam" || svc == "s3" {
		host = svc + ".amazonaws.com"
	}
	return &ct.Event{
		Version: "1.08", Identity: identity, Time: t, Source: source, Name: name, Region: region,
		SourceIP: ip, UserAgent: ua, RequestID: b.uuid(), EventID: b.uuid(), ReadOnly: readOnly,
		EventType: "AwsApiCall", Recipient: account, TLSHost: host,
	}
}

func (b *builder) aliceConsole(t time.Time, name string, readOnly bool, req []byte) *ct.Event {
	id := ct.IAMUserConsoleIdentity(b.alice, b.aliceKey, at("10:07:19"), true)
	e := b.api(acct1, "us-east-1", t, "iam.amazonaws.com", name, id, attackerIP, "AWS Internal", readOnly)
	e.RequestParameters = req
	e.FromConsole = true
	return e
}

func role(account, name, path string, r *rand.Rand) ct.Role {
	return ct.Role{Account: account, Name: name, Path: path, ID: ct.RoleID(r)}
}

func newBuilder() *builder {
	b := &builder{r: ct.NewRand(20240305, 111111111111), cr: ct.NewRand(20240305, 222222222222), chainIDs: map[string]bool{}}
	b.alice = b.user("alice")
	b.carol = b.user("carol")
	b.dave = b.user("dave")
	for _, n := range []string{"erin", "frank", "grace", "heidi", "ivan", "judy"} {
		b.sprayed = append(b.sprayed, b.user(n))
	}
	b.aliceKey = ct.TempKeyID(b.r)
	b.ssoAdmin, b.ssoRO = map[string]ct.Role{}, map[string]ct.Role{}
	b.lambdaRole, b.datadog, b.config = map[string]ct.Role{}, map[string]ct.Role{}, map[string]ct.Role{}
	for _, a := range []string{acct1, acct2} {
		b.ssoAdmin[a] = role(a, "AWSReservedSSO_AdministratorAccess_"+ct.Hex(b.r, 16), "/aws-reserved/sso.amazonaws.com/", b.r)
		b.ssoRO[a] = role(a, "AWSReservedSSO_ReadOnlyAccess_"+ct.Hex(b.r, 16), "/aws-reserved/sso.amazonaws.com/", b.r)
		b.lambdaRole[a] = role(a, "orders-api-role", "/service-role/", b.r)
		b.datadog[a] = role(a, "DatadogIntegrationRole", "/", b.r)
		b.config[a] = role(a, "AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/", b.r)
	}
	b.saml = role(acct1, "okta-engineering", "/", b.r)
	return b
}

// story plants the incident and the benign sign-ins around it.
func (b *builder) story() {
	// Previous day: alice's normal sign-in.
	prev := b.login(b.alice, day.Add(-24*time.Hour+9*time.Hour+1*time.Minute+12*time.Second), aliceIP, browser, true, "Yes", "alice-iphone")
	b.add(prev, "alice signs in with MFA from her usual address (the day before)", shHistory)

	b.add(b.login(b.alice, at("08:52:10"), aliceIP, browser, true, "Yes", "alice-iphone"),
		"alice signs in with MFA from her usual address", shZip)

	dave := b.login(b.dave, at("09:12:44"), officeIP, browser2, true, "YES", "dave-yubikey")
	b.add(dave, `dave signs in; this record spells MFAUsed "YES" (upper case): MFA was used`, shHistory)

	// bob: a normal Identity Center sign-in, then federation into the account.
	for _, s := range idcWorkflow(b.r, "bob@"+domain, bobUserID, bobIP, browser, at("09:30:05"), "TOTP", true) {
		b.add(s.Event(), "", shLake)
	}
	b.items[len(b.items)-1].story = "bob@example.com signs in to IAM Identity Center (password + TOTP, success)"
	b.add(b.ssoLogin(acct1, b.ssoAdmin[acct1], "bob@"+domain, at("09:30:52"), bobIP),
		`bob federates into the account (AWSReservedSSO role, MFAUsed "No": expected for federation)`, shLake)

	// SAML federation: AssumeRoleWithSAML + ConsoleLogin saying MFAUsed No.
	b.samlLogin(at("09:41:20"), "li.wei@"+domain)

	// The attack on alice.
	f1 := b.add(b.login(b.alice, at("09:58:03"), attackerIP, attacker, false, "Yes", ""),
		"attacker has alice's password; ConsoleLogin fails at the MFA step", shZip, shHistory)
	f2 := b.add(b.login(b.alice, at("10:00:41"), attackerIP, attacker, false, "Yes", ""),
		"second MFA failure for alice", shZip, shHistory)
	s1 := b.add(b.login(b.alice, at("10:07:19"), attackerIP, attacker, true, "Yes", "alice-iphone"),
		"alice's MFA is passed (phished code): ConsoleLogin success from the attacker", shZip, shHistory)

	b.add(b.aliceConsole(at("10:09:02"), "ListMFADevices", true, ct.NewObj(32).Str("userName", "alice").Bytes()),
		"attacker lists alice's MFA devices (read-only, not a change)", shLookup2)
	m := ct.MFAChange{Account: acct1, Identity: ct.IAMUserConsoleIdentity(b.alice, b.aliceKey, at("10:07:19"), true),
		IP: attackerIP, UserAgent: "AWS Internal", FromConsole: true, UserName: "alice", Device: "alice-iphone"}
	m.Name, m.Time, m.RequestID, m.EventID = "DeactivateMFADevice", at("10:12:30"), b.uuid(), b.uuid()
	deact := b.add(m.Event(), "alice's MFA device is deactivated (by alice's session, from the attacker)", shLookup2)
	m.Name, m.Time, m.RequestID, m.EventID = "DeleteVirtualMFADevice", at("10:12:58"), b.uuid(), b.uuid()
	del := b.add(m.Event(), "and deleted", shLookup2)
	b.add(b.aliceConsole(at("10:20:11"), "ListUsers", true, ct.NewObj(32).Int("maxItems", 1000).Bytes()),
		"attacker enumerates IAM users", shLookup1)
	b.add(b.aliceConsole(at("10:21:37"), "ListAccessKeys", true, ct.NewObj(32).Str("userName", "alice").Bytes()),
		"and alice's access keys", shLookup1)

	l2 := b.add(b.login(b.alice, at("11:05:14"), attackerIP, attacker, true, "No", ""),
		"attacker signs in as alice without MFA (device gone)", shZip, shLookup1)
	root := ct.ConsoleLogin{Account: acct1, Identity: ct.RootSignInIdentity(acct1), Time: at("11:20:07"), IP: attackerIP,
		UserAgent: attacker, Version: "1.09", Success: true, MFAUsed: "No"}
	re := b.add(root.Event(), "root signs in without MFA from the attacker's address", shZip, shLookup1)

	// bob's second factor fails from the attacker's address.
	steps := idcWorkflow(b.r, "bob@"+domain, bobUserID, attackerIP, attacker, at("13:41:09"), "TOTP", false)
	var v *ct.Event
	for _, s := range steps {
		v = b.add(s.Event(), "", shLake)
	}
	b.items[len(b.items)-1].story = "bob@example.com: password accepted, TOTP verification fails (Identity Center), from the attacker"

	// Password spray: one failure each for six users from one address.
	var spray []*ct.Event
	for i, u := range b.sprayed {
		t := at("14:10:05").Add(time.Duration(i*43) * time.Second)
		e := b.add(b.login(u, t, sprayIP, sprayUA, false, "No", ""), "", shZip)
		spray = append(spray, e)
	}
	b.items[len(b.items)-len(spray)].story = "password spray from 192.0.2.200: erin, frank, grace, heidi, ivan, judy (14:10:05-14:13:40)"

	// Brute force on carol.
	var brute []*ct.Event
	for i := 0; i < 6; i++ {
		t := at("15:02:11").Add(time.Duration(i*53+i%2*7) * time.Second)
		shapes := []string{shZip}
		if i == 3 {
			shapes = append(shapes, shLake) // delivered twice: dedupe must keep one
		}
		e := b.add(b.login(b.carol, t, bruteIP, sprayUA, false, "No", ""), "", shapes...)
		brute = append(brute, e)
	}
	b.items[len(b.items)-len(brute)].story = "six password failures for carol from 192.0.2.201 in under five minutes"

	b.find("console-mfa-failure", "alice", attackerIP, "IAM ConsoleLogin failure with MFAUsed Yes", f1)
	b.find("console-mfa-failure", "alice", attackerIP, "IAM ConsoleLogin failure with MFAUsed Yes", f2)
	b.find("mfa-failure-burst", "alice", attackerIP, "2 MFA failures within 15 minutes", f1, f2)
	b.find("signin-after-mfa-failure", "alice", attackerIP, "success 6-9 minutes after the MFA failures", f1, f2, s1)
	b.find("mfa-device-change", "alice", attackerIP, "DeactivateMFADevice (alice's device)", deact)
	b.find("mfa-device-change", "alice", attackerIP, "DeleteVirtualMFADevice (alice-iphone)", del)
	b.find("console-login-without-mfa", "alice", attackerIP, `IAM user success with MFAUsed "No"`, l2)
	b.find("mfa-removed-then-login", "alice", attackerIP, "no-MFA login 53 minutes after the deactivation (and deletion)", deact, del, l2)
	b.find("root-console-login", "root", attackerIP, "root ConsoleLogin success", re)
	b.find("root-console-login-without-mfa", "root", attackerIP, `root ConsoleLogin with MFAUsed "No"`, re)
	b.find("idc-mfa-failure", "bob@"+domain, attackerIP, "CredentialVerification TOTP Failure", v)
	b.find("console-password-spray", sprayIP, sprayIP, "6 distinct users failed from one address within 10 minutes", spray...)
	b.find("console-brute-force", "carol", bruteIP, "6 failures for one user from one address within 10 minutes", brute...)

	// What the phished sign-in led to.
	b.chain([]*ct.Event{f1, f2}, s1)

	// Benign federated sign-ins that must not be reported.
	b.add(b.ssoLogin(acct1, b.ssoRO[acct1], "maria@"+domain, at("08:31:45"), mariaIP),
		`maria@example.com federates (ReadOnly SSO role), MFAUsed "No": benign`, shZip, shHistory)
	b.add(b.ssoLogin(acct2, b.ssoAdmin[acct2], "maria@"+domain, at("12:15:03"), mariaIP),
		"maria@example.com federates into 222222222222: benign", shZip)
	b.add(b.ssoLogin(acct1, b.ssoAdmin[acct1], "sam@"+domain, at("16:02:40"), officeIP),
		"", shHistory)
}

const bobUserID = "94482488-3041-7026-18f3-be45837cd0e4"

func idcWorkflow(r *rand.Rand, user, userID, ip, ua string, t time.Time, factor string, ok bool) []ct.IdCStep {
	wf := ct.UUID(r)
	mk := func(name, ctype, result string) ct.IdCStep {
		return ct.IdCStep{Account: acct1, Region: "us-east-1", UserID: userID, IdentityStoreID: idStore, UserName: user,
			WorkflowID: wf, Time: t, IP: ip, UserAgent: ua, EventID: ct.UUID(r), RequestID: ct.UUID(r),
			Name: name, CredentialType: ctype, Result: result}
	}
	steps := []ct.IdCStep{mk("CredentialChallenge", "PASSWORD", "Success")}
	t = t.Add(9 * time.Second)
	steps = append(steps, mk("CredentialVerification", "PASSWORD", "Success"))
	t = t.Add(time.Second)
	steps = append(steps, mk("CredentialChallenge", factor, "Success"))
	t = t.Add(17 * time.Second)
	if !ok {
		return append(steps, mk("CredentialVerification", factor, "Failure"))
	}
	steps = append(steps, mk("CredentialVerification", factor, "Success"))
	t = t.Add(time.Second)
	return append(steps, mk("UserAuthentication", "", "Success"))
}

func (b *builder) samlLogin(t time.Time, user string) {
	idp := "Mdxm3Ksb0TRkJpR2xTjYmqQXb5c="
	id := ct.NewObj(256).Str("type", "SAMLUser").Str("principalId", idp+":"+user).Str("userName", user).Str("identityProvider", idp).Bytes()
	e := b.api(acct1, "us-east-1", t, "sts.amazonaws.com", "AssumeRoleWithSAML", id, officeIP, browser, true)
	e.TLSHost = "sts.amazonaws.com"
	provider := "arn:aws:iam::" + acct1 + ":saml-provider/Okta"
	e.RequestParameters = ct.NewObj(256).Str("sAMLAssertionID", "_"+ct.Hex(b.r, 32)).Str("roleSessionName", user).
		Str("roleArn", b.saml.ARN()).Str("principalArn", provider).Int("durationSeconds", 3600).Bytes()
	cred := ct.NewObj(256).Str("accessKeyId", ct.TempKeyID(b.r)).Str("sessionToken", "IQoJb3JpZ2luX2VjE"+ct.Base64(b.r, 180)).
		Str("expiration", t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")).Bytes()
	aru := ct.NewObj(256).Str("assumedRoleId", b.saml.ID+":"+user).Str("arn", b.saml.SessionARN(user)).Bytes()
	e.ResponseElements = ct.NewObj(512).Raw("credentials", cred).Raw("assumedRoleUser", aru).Str("subject", user).
		Str("subjectType", "persistent").Str("issuer", "http://www.okta.com/exk1a2b3c4d5e6f7g8h9").
		Str("audience", "https://signin.aws.amazon.com/saml").Bytes()
	e.Resources = ct.Arr(
		ct.NewObj(128).Str("accountId", acct1).Str("type", "AWS::IAM::Role").Str("ARN", b.saml.ARN()).Bytes(),
		ct.NewObj(128).Str("accountId", acct1).Str("type", "AWS::IAM::SAMLProvider").Str("ARN", provider).Bytes())
	e.SharedEventID = b.uuid()
	b.add(e, "", shZip)
	c := ct.ConsoleLogin{Account: acct1, Identity: ct.AssumedRoleIdentity(b.saml, user, ct.TempKeyID(b.r), t, ct.AssumedRoleOpts{}),
		Time: t.Add(2 * time.Second), IP: officeIP, UserAgent: browser, Version: "1.08", Success: true, MFAUsed: "No",
		SAMLProvider: provider, LoginTo: "https://console.aws.amazon.com/console/home?region=us-east-1"}
	b.add(c.Event(), `li.wei@example.com signs in through Okta SAML (AssumeRoleWithSAML + ConsoleLogin, MFAUsed "No"): benign`, shZip)
}

// background adds routine API activity.
func (b *builder) background(account, region string, t time.Time, shapes ...string) *ct.Event {
	created := t.Add(-time.Duration(5+b.r.IntN(50)) * time.Minute)
	var e *ct.Event
	switch b.r.IntN(8) {
	case 0:
		e = b.api(account, region, t, "sts.amazonaws.com", "AssumeRole", ct.AWSServiceIdentity("lambda.amazonaws.com"), "lambda.amazonaws.com", "lambda.amazonaws.com", true)
		e.TLSHost = ""
		rl := b.lambdaRole[account]
		e.RequestParameters = ct.NewObj(192).Str("roleArn", rl.ARN()).Str("roleSessionName", "orders-api").Bytes()
		cred := ct.NewObj(256).Str("accessKeyId", ct.TempKeyID(b.r)).Str("sessionToken", "IQoJb3JpZ2luX2VjE"+ct.Base64(b.r, 160)).
			Str("expiration", t.Add(12*time.Hour).Format("Jan 2, 2006, 3:04:05 PM")).Bytes()
		e.ResponseElements = ct.NewObj(320).Raw("credentials", cred).Bytes()
		e.Resources = ct.Arr(ct.NewObj(128).Str("accountId", account).Str("type", "AWS::IAM::Role").Str("ARN", rl.ARN()).Bytes())
		e.SharedEventID = b.uuid()
	case 1:
		id := ct.AssumedRoleIdentity(b.lambdaRole[account], "orders-api", ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "kms.amazonaws.com", "Decrypt", id, fmt.Sprintf("52.%d.%d.%d", 1+b.r.IntN(250), b.r.IntN(256), 1+b.r.IntN(254)), sdkUA, true)
		ec := ct.NewObj(128).Str("aws:lambda:FunctionArn", "arn:aws:lambda:"+region+":"+account+":function:orders-api").Bytes()
		e.RequestParameters = ct.NewObj(192).Raw("encryptionContext", ec).Str("encryptionAlgorithm", "SYMMETRIC_DEFAULT").Bytes()
		e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", account).Str("type", "AWS::KMS::Key").Str("ARN", "arn:aws:kms:"+region+":"+account+":key/8d3f5a52-7c1e-4b8e-9a51-2f0c9e6d1b47").Bytes())
	case 2:
		id := ct.AssumedRoleIdentity(b.datadog[account], "DatadogAWSIntegration", ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "ec2.amazonaws.com", "DescribeInstances", id, fmt.Sprintf("3.233.%d.%d", 144+b.r.IntN(16), 1+b.r.IntN(254)), ddUA, true)
		e.RequestParameters = ct.NewObj(96).Int("maxResults", 1000).Raw("instancesSet", []byte("{}")).Raw("filterSet", []byte("{}")).Bytes()
	case 3:
		id := ct.AssumedRoleIdentity(b.ssoRO[account], "maria@"+domain, ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "sts.amazonaws.com", "GetCallerIdentity", id, mariaIP, "aws-cli/2.15.22 Python/3.11.6 Darwin/23.3.0 exe/x86_64 prompt/off command/sts.get-caller-identity", true)
	case 4:
		id := ct.AssumedRoleIdentity(b.datadog[account], "DatadogAWSIntegration", ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "logs.amazonaws.com", "DescribeLogStreams", id, fmt.Sprintf("3.233.%d.%d", 144+b.r.IntN(16), 1+b.r.IntN(254)), ddUA, true)
		e.RequestParameters = ct.NewObj(160).Str("logGroupName", "/aws/lambda/orders-api").Str("orderBy", "LastEventTime").Bool("descending", true).Int("limit", 50).Bytes()
	case 5:
		id := ct.AssumedRoleIdentity(b.lambdaRole[account], "orders-api", ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "logs.amazonaws.com", "CreateLogStream", id, fmt.Sprintf("54.%d.%d.%d", 1+b.r.IntN(250), b.r.IntN(256), 1+b.r.IntN(254)), "awslambda-worker/1.0 rusoto/0.48.0 rust/1.69.0 linux", false)
		e.RequestParameters = ct.NewObj(160).Str("logGroupName", "/aws/lambda/orders-api").Str("logStreamName", t.Format("2006/01/02")+"/[$LATEST]"+ct.Hex(b.r, 32)).Bytes()
	case 6:
		id := ct.AssumedRoleIdentity(b.config[account], "AWSConfig-Describe", ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{InvokedBy: "config.amazonaws.com"})
		bucket := "acme-assets-" + account[8:]
		e = b.api(account, region, t, "s3.amazonaws.com", "GetBucketAcl", id, "config.amazonaws.com", "config.amazonaws.com", true)
		e.Version, e.TLSHost, e.RequestID = "1.09", "", ct.S3RequestID(b.r)
		e.RequestParameters = ct.NewObj(128).Str("bucketName", bucket).Str("Host", bucket+".s3."+region+".amazonaws.com").Str("acl", "").Bytes()
		e.Resources = ct.Arr(ct.NewObj(128).Str("accountId", account).Str("type", "AWS::S3::Bucket").Str("ARN", "arn:aws:s3:::"+bucket).Bytes())
	default:
		id := ct.AssumedRoleIdentity(b.ssoAdmin[account], "maria@"+domain, ct.TempKeyID(b.r), created, ct.AssumedRoleOpts{})
		e = b.api(account, region, t, "ec2.amazonaws.com", "DescribeSecurityGroups", id, mariaIP, "AWS Internal", true)
		e.FromConsole = true
		e.RequestParameters = ct.NewObj(96).Raw("securityGroupSet", []byte("{}")).Raw("securityGroupIdSet", []byte("{}")).Raw("filterSet", []byte("{}")).Bytes()
	}
	return b.add(e, "", shapes...)
}

func (b *builder) backgrounds() {
	// S3 export: bursts of routine activity every half hour to two hours in each
	// account and region.
	type stream struct{ account, region string }
	for _, s := range []stream{{acct1, "us-east-1"}, {acct1, "eu-west-1"}, {acct2, "us-east-1"}, {acct2, "eu-west-1"}} {
		main := s.account == acct1 && s.region == "us-east-1"
		for t := day.Add(8 * time.Hour); t.Before(day.Add(17 * time.Hour)); {
			n := 1 + b.r.IntN(3)
			gap := 50 + b.r.IntN(60)
			if main {
				n, gap = 2+b.r.IntN(5), 30+b.r.IntN(30)
			}
			for i := 0; i < n; i++ {
				b.background(s.account, s.region, t.Add(time.Duration(b.r.IntN(290))*time.Second), shZip)
			}
			t = t.Add(time.Duration(gap) * time.Minute)
		}
	}
	for i := 0; i < 6; i++ {
		b.background(acct1, "us-east-1", day.Add(8*time.Hour+time.Duration(b.r.IntN(9*3600))*time.Second), shHistory)
	}
	for i := 0; i < 4; i++ {
		b.background(acct1, "us-east-1", day.Add(10*time.Hour+time.Duration(b.r.IntN(3600))*time.Second), shLookup1)
		b.background(acct1, "us-east-1", day.Add(9*time.Hour+time.Duration(b.r.IntN(3600))*time.Second), shLookup2)
	}
	for i := 0; i < 8; i++ {
		b.background(acct1, "us-east-1", day.Add(12*time.Hour+time.Duration(b.r.IntN(4*3600))*time.Second), shLake)
	}
	// A background event present both in the S3 export and the event
	// history download (duplicate delivery).
	b.background(acct1, "us-east-1", at("12:44:31"), shZip, shHistory)
	// An event-history record whose eventTime uses "2024-03-05 10:00:00".
	odd := b.background(acct1, "us-east-1", at("10:00:00"), shHistory)
	odd.TimeText = "2024-03-05 10:00:00"
	b.items[len(b.items)-1].story = `routine call whose eventTime is written "2024-03-05 10:00:00" (no T, no Z)`
}

func (b *builder) in(shape string) []*ct.Event {
	var out []*ct.Event
	for _, it := range b.items {
		for _, s := range it.shapes {
			if s == shape {
				out = append(out, it.e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func gz(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if _, err := zw.Write(data); err != nil {
		panic(err) // a bytes.Buffer does not fail
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func records(es []*ct.Event) []byte {
	out := []byte(`{"Records":[`)
	for i, e := range es {
		if i > 0 {
			out = append(out, ',')
		}
		out = e.AppendJSON(out)
	}
	return append(out, "]}"...)
}

type logFile struct {
	path, account, region string
	delivered             time.Time
	content               []byte // uncompressed
	oldest, newest        time.Time
}

func (b *builder) s3Files() []logFile {
	type key struct {
		account, region string
		slot            int64
	}
	groups := map[key][]*ct.Event{}
	var keys []key
	for _, e := range b.in(shZip) {
		k := key{e.Recipient, e.Region, e.Time.Unix() / 300}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], e)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.account != c.account {
			return a.account < c.account
		}
		if a.region != c.region {
			return a.region < c.region
		}
		return a.slot < c.slot
	})
	var out []logFile
	for _, k := range keys {
		es := groups[k]
		del := time.Unix((k.slot+1)*300, 0).UTC()
		// A file holding only chain events takes its name from the chain's
		// stream: the other files keep theirs.
		r := b.cr
		for _, e := range es {
			if !b.chainIDs[e.EventID] {
				r = b.r
			}
		}
		name := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", k.account, k.region,
			del.Format("2006/01/02"), k.account, k.region, del.Format("20060102T1504Z"), ct.Alnum(r, 16))
		out = append(out, logFile{path: name, account: k.account, region: k.region, delivered: del,
			content: records(es), oldest: es[0].Time, newest: es[len(es)-1].Time})
	}
	return out
}

// namedFile is a file of the zip.
type namedFile struct {
	name string
	body []byte
}

// deletedLog is the log file the samples' story removes from the export: a
// digest lists it, the zip does not hold it, and trailsift verify reports it.
// Its events happen right after root's console sign-in.
func deletedLog() logFile {
	del := at("11:25:00")
	first, last := at("11:20:31"), at("11:24:12")
	name := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%s_Qm7ZfX2pLk9TnR4s.json.gz",
		acct1, del.Format("2006/01/02"), acct1, del.Format("20060102T1504Z"))
	content := []byte(`{"Records":[{"eventVersion":"1.09","eventTime":"` + ct.FormatTime(first) + `","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","recipientAccountId":"` + acct1 + `"},` +
		`{"eventVersion":"1.09","eventTime":"` + ct.FormatTime(last) + `","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","recipientAccountId":"` + acct1 + `"}]}`)
	return logFile{path: name, account: acct1, region: "us-east-1", delivered: del, content: content, oldest: first, newest: last}
}

// digests writes, for every account and region, the hourly chain of digest
// files CloudTrail delivers with log file validation on (layout and fields:
// "CloudTrail digest file structure" in the CloudTrail user guide), signed
// with the TEST key in testkey.go. r is drawn from exactly as the single
// made-up digest of earlier versions did, so the other samples stay
// byte-for-byte the same.
func digests(files []logFile, r *rand.Rand) []namedFile {
	_, _, _ = ct.Hex(r, 32), ct.Hex(r, 64), ct.Hex(r, 512)
	key := testKey()
	fp := md5.Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	all := append(append([]logFile(nil), files...), deletedLog())
	type scope struct{ account, region string }
	var scopes []scope
	seen := map[scope]bool{}
	for _, f := range files {
		if s := (scope{f.account, f.region}); !seen[s] {
			seen[s] = true
			scopes = append(scopes, s)
		}
	}
	var out []namedFile
	for _, sc := range scopes {
		obj := func(t time.Time) string {
			return fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_us-east-1_%s.json.gz",
				sc.account, sc.region, t.Format("2006/01/02"), sc.account, sc.region, trailName, t.Format("20060102T150405Z"))
		}
		var prevObj, prevHash, prevSig string
		for end := at("09:00:00"); !end.After(at("17:00:00")); end = end.Add(time.Hour) {
			start := end.Add(-time.Hour)
			var lf [][]byte
			var oldest, newest time.Time
			for _, f := range all {
				if f.account != sc.account || f.region != sc.region || !f.delivered.After(start) || f.delivered.After(end) {
					continue
				}
				h := sha256.Sum256(f.content)
				lf = append(lf, ct.NewObj(512).Str("s3Bucket", logBucket).Str("s3Object", f.path).
					Str("hashValue", hex.EncodeToString(h[:])).Str("hashAlgorithm", "SHA-256").
					Str("newestEventTime", ct.FormatTime(f.newest)).Str("oldestEventTime", ct.FormatTime(f.oldest)).Bytes())
				if oldest.IsZero() || f.oldest.Before(oldest) {
					oldest = f.oldest
				}
				if f.newest.After(newest) {
					newest = f.newest
				}
			}
			o := ct.NewObj(4096).
				Str("awsAccountId", sc.account).
				Str("digestStartTime", ct.FormatTime(start)).
				Str("digestEndTime", ct.FormatTime(end)).
				Str("digestS3Bucket", logBucket).
				Str("digestS3Object", obj(end)).
				Str("digestPublicKeyFingerprint", hex.EncodeToString(fp[:])).
				Str("digestSignatureAlgorithm", "SHA256withRSA")
			if len(lf) > 0 {
				o.Str("newestEventTime", ct.FormatTime(newest)).Str("oldestEventTime", ct.FormatTime(oldest))
			} else {
				o.Null("newestEventTime").Null("oldestEventTime")
			}
			if prevObj == "" {
				o.Null("previousDigestS3Bucket").Null("previousDigestS3Object").Null("previousDigestHashValue").
					Null("previousDigestHashAlgorithm").Null("previousDigestSignature")
			} else {
				o.Str("previousDigestS3Bucket", logBucket).Str("previousDigestS3Object", prevObj).
					Str("previousDigestHashValue", prevHash).Str("previousDigestHashAlgorithm", "SHA-256").
					Str("previousDigestSignature", prevSig)
			}
			o.Raw("logFiles", ct.Arr(lf...))
			body := o.Bytes()
			sig, err := integrity.SignDigest(key, body)
			must(err)
			sum := sha256.Sum256(body)
			prevObj, prevHash, prevSig = obj(end), hex.EncodeToString(sum[:]), sig
			out = append(out, namedFile{obj(end), body})
		}
	}
	return out
}

func testKey() *rsa.PrivateKey {
	blk, _ := pem.Decode([]byte(testKeyPEM))
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	must(err)
	return key
}

// publicKeys is the test key as `aws cloudtrail list-public-keys` prints it.
func publicKeys() []byte {
	key := testKey()
	der := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	fp := md5.Sum(der)
	entry := ct.NewObj(1024).Float("ValidityStartTime", float64(at("00:00:00").Unix())).
		Float("ValidityEndTime", float64(at("00:00:00").AddDate(0, 0, 30).Unix())).
		Str("Value", base64.StdEncoding.EncodeToString(der)).
		Str("Fingerprint", hex.EncodeToString(fp[:])).Bytes()
	return append(indent(ct.NewObj(2048).Raw("PublicKeyList", ct.Arr(entry)).Bytes(), ""), '\n')
}

// dsStore is the start of a macOS Finder .DS_Store file (a "Bud1" buddy
// allocator header followed by padding).
func dsStore() []byte {
	b := make([]byte, 6148)
	copy(b, []byte{0, 0, 0, 1, 'B', 'u', 'd', '1', 0, 0, 0x10, 0, 0, 0, 0x08, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0x0c})
	return b
}

func writeZip(path string, files []logFile, digests []namedFile) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mod := time.Date(2024, 3, 6, 9, 14, 0, 0, time.UTC)
	dirs := map[string]bool{}
	addDir := func(p string) error {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: d, Method: zip.Store, Modified: mod}); err != nil {
				return err
			}
		}
		return nil
	}
	add := func(name string, data []byte, method uint16) error {
		if err := addDir(name); err != nil {
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mod})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := add(".DS_Store", dsStore(), zip.Deflate); err != nil {
		return err
	}
	for _, f := range files {
		if err := add(f.path, gz(f.content), zip.Store); err != nil {
			return err
		}
	}
	for _, d := range digests {
		if err := add(d.name, gz(d.body), zip.Store); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func indent(compact []byte, prefix string) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, compact, prefix, "    "); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// lookupPage renders `aws cloudtrail lookup-events` output (newest first).
func lookupPage(es []*ct.Event, next string) []byte {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Time.After(es[j].Time) })
	var evs [][]byte
	for _, e := range es {
		var ui struct {
			Type, UserName, AccessKeyID, ARN string
		}
		var raw struct {
			UserIdentity struct {
				Type        string `json:"type"`
				UserName    string `json:"userName"`
				AccessKeyID string `json:"accessKeyId"`
				ARN         string `json:"arn"`
			} `json:"userIdentity"`
		}
		js := e.JSON()
		_ = json.Unmarshal(js, &raw)
		ui.Type, ui.UserName, ui.AccessKeyID, ui.ARN = raw.UserIdentity.Type, raw.UserIdentity.UserName, raw.UserIdentity.AccessKeyID, raw.UserIdentity.ARN
		username := ui.UserName
		switch ui.Type {
		case "Root":
			username = "root"
		case "AssumedRole":
			username = ui.ARN[strings.LastIndexByte(ui.ARN, '/')+1:]
		case "AWSService":
			username = ""
		}
		o := ct.NewObj(4096).Str("EventId", e.EventID).Str("EventName", e.Name).Str("ReadOnly", fmt.Sprint(e.ReadOnly))
		if ui.AccessKeyID != "" {
			o.Str("AccessKeyId", ui.AccessKeyID)
		}
		o.Str("EventTime", e.Time.UTC().Format("2006-01-02T15:04:05-07:00")).Str("EventSource", e.Source)
		if username != "" {
			o.Str("Username", username)
		}
		var res [][]byte
		if e.Source == "iam.amazonaws.com" && strings.Contains(string(e.RequestParameters), `"userName":"alice"`) {
			res = append(res, ct.NewObj(64).Str("ResourceType", "AWS::IAM::User").Str("ResourceName", "alice").Bytes())
		}
		if strings.HasSuffix(e.Name, "MFADevice") {
			res = append(res, ct.NewObj(96).Str("ResourceType", "AWS::IAM::MFADevice").Str("ResourceName", ct.MFASerial(acct1, "alice-iphone")).Bytes())
		}
		if e.Name == "AssumeRole" {
			var rp struct{ RoleArn string }
			_ = json.Unmarshal(e.RequestParameters, &rp)
			res = append(res, ct.NewObj(128).Str("ResourceType", "AWS::IAM::Role").Str("ResourceName", rp.RoleArn).Bytes())
		}
		o.Raw("Resources", ct.Arr(res...)).Str("CloudTrailEvent", string(js))
		evs = append(evs, o.Bytes())
	}
	doc := ct.NewObj(65536).Raw("Events", ct.Arr(evs...))
	if next != "" {
		doc.Str("NextToken", next)
	}
	return append(indent(doc.Bytes(), ""), '\n')
}

func truncated(b *builder) []byte {
	var es []*ct.Event
	for i := 0; i < 12; i++ {
		e := b.background(acct1, "us-east-1", at("16:30:00").Add(time.Duration(i*23)*time.Second))
		es = append(es, e)
	}
	full := gz(records(es))
	return full[:len(full)*3/5]
}

func main() {
	dir := flag.String("dir", "samples", "directory to write the samples into")
	flag.Parse()
	log.SetFlags(0)

	b := newBuilder()
	b.story()
	b.backgrounds()

	files := b.s3Files()
	must(writeZip(filepath.Join(*dir, "s3-export.zip"), files, digests(files, b.r)))
	must(os.WriteFile(filepath.Join(*dir, "public-keys.json"), publicKeys(), 0o644))

	must(os.WriteFile(filepath.Join(*dir, "event-history.json"), append(indent(records(b.in(shHistory)), ""), '\n'), 0o644))
	token := "eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAxMH0=" // opaque
	must(os.WriteFile(filepath.Join(*dir, "lookup-events-page1.json"), lookupPage(b.in(shLookup1), token), 0o644))
	must(os.WriteFile(filepath.Join(*dir, "lookup-events-page2.json"), lookupPage(b.in(shLookup2), ""), 0o644))

	var lake []byte
	for _, e := range b.in(shLake) {
		lake = append(e.AppendJSON(lake), '\n')
	}
	must(os.WriteFile(filepath.Join(*dir, "lake-export.ndjson"), lake, 0o644))

	must(os.MkdirAll(filepath.Join(*dir, "corrupt"), 0o755))
	must(os.WriteFile(filepath.Join(*dir, "corrupt", "truncated.json.gz"), truncated(b), 0o644))

	var exp []byte
	for _, f := range b.findings {
		line, _ := json.Marshal(f)
		exp = append(append(exp, line...), '\n')
	}
	must(os.WriteFile(filepath.Join(*dir, "expected-findings.jsonl"), exp, 0o644))
	var sess []byte
	for _, s := range b.sessions {
		line, _ := json.Marshal(s)
		sess = append(append(sess, line...), '\n')
	}
	must(os.WriteFile(filepath.Join(*dir, "expected-sessions.jsonl"), sess, 0o644))
	must(os.WriteFile(filepath.Join(*dir, "README.md"), readme(b, files), 0o644))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
