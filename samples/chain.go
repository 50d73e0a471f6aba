package samples

import (
	"time"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// PlantedSession is one credential of a planted role chain: what the
// sessions table must say about it (issue #17). Lines of sessions-truth.jsonl.
type PlantedSession struct {
	SessionID  string   `json:"session_id"`
	Parent     *string  `json:"parent_session_id"` // null at the origin
	OriginType string   `json:"origin_type"`
	Origin     string   `json:"origin"`
	Depth      int      `json:"depth"`
	Accounts   []string `json:"accounts"` // where its events were recorded, sorted; empty when never used
}

// sessionsTruthFile is the name, inside Out, of the JSON-lines list of the
// planted chains' sessions (one PlantedSession per line).
const sessionsTruthFile = "sessions-truth.jsonl"

// The chain's fixed parts: console calls, and the client the stolen key is
// used with again.
const (
	consoleAgent = "AWS Internal"
	reuseAgent   = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0-26-generic md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)

// addIn adds an event recorded in another account than the scenario's.
func (p *planter) addIn(acct *account, e *ct.Event) string {
	if e.EventID == "" {
		e.EventID = ct.UUID(p.r)
	}
	p.cur.events = append(p.cur.events, plantedEvent{t: e.Time.Unix(), acct: acct.idx, raw: e.JSON()})
	return e.EventID
}

// call is a management API call in us-east-1 of acct.
func (p *planter) call(acct *account, t time.Time, source, name string, identity []byte, ip, agent string, readOnly bool) *ct.Event {
	svc := source[:len(source)-len(".amazonaws.com")]
	host := svc + ".us-east-1.amazonaws.com"
	if svc == "iam" || svc == "s3" {
		host = svc + ".amazonaws.com"
	}
	return &ct.Event{Version: "1.08", Identity: identity, Time: t, Source: source, Name: name, Region: "us-east-1",
		SourceIP: ip, UserAgent: agent, RequestID: ct.UUID(p.r), EventID: ct.UUID(p.r), ReadOnly: readOnly,
		EventType: "AwsApiCall", Recipient: acct.id, TLSHost: host}
}

// roleChain plants the bundled story's chain at scale: an IAM user signs in
// without MFA, the console session assumes a role, that session assumes a
// role in the next account (logged in both, one sharedEventID), creates an
// access key for another user there, and its key is used again later from
// another address. Every fourth first hop (the first one too) lacks the issued key, as
// lookup-events output often does, so the link falls back to
// assumedRoleUser.arn. With one account the chain stays in it and reaches
// no other account.
func (p *planter) roleChain(t time.Time, ip, agent string) {
	home := p.acct
	other := home
	if len(p.w.accounts) > 1 {
		other = p.w.accounts[(home.idx+1)%len(p.w.accounts)]
	}
	u := p.user()
	login := p.login(u, t, ip, agent, true, "No", "")
	p.finding(ruleLoginWithoutMFA, u.Name, ip, login)

	first := ct.Role{Account: home.id, Name: "OpsAdmin", Path: "/", ID: ct.RoleID(p.r)}
	second := ct.Role{Account: other.id, Name: "CrossAccountAudit", Path: "/", ID: ct.RoleID(p.r)}
	k0, k1, k2, newKey := ct.TempKeyID(p.r), ct.TempKeyID(p.r), ct.TempKeyID(p.r), ct.LongKeyID(p.r)
	token := func() string { return "IQoJb3JpZ2luX2VjE" + ct.Base64(p.r, 180) }

	t1 := t.Add(p.secs(90, 300))
	hop1 := ct.AssumeRole{Recipient: home.id, Region: "us-east-1", Identity: ct.IAMUserConsoleIdentity(u, k0, t, false),
		Time: t1, IP: ip, UserAgent: consoleAgent, FromConsole: true, Role: first, SessionName: u.Name,
		KeyID: k1, Token: token(), RequestID: ct.UUID(p.r), EventID: ct.UUID(p.r)}
	if p.chains%4 == 0 { // the first chain always, so every corpus has one
		hop1.KeyID, hop1.Token = "", ""
	}
	p.chains++
	hop1ID := p.addIn(home, hop1.Event())

	firstID := ct.AssumedRoleIdentity(first, u.Name, k1, t1, ct.AssumedRoleOpts{})
	t2 := t1.Add(p.secs(30, 120))
	e := p.call(home, t2, "iam.amazonaws.com", "ListRoles", firstID, ip, consoleAgent, true)
	e.FromConsole = true
	p.addIn(home, e)

	t3 := t2.Add(p.secs(60, 240))
	hop2 := ct.AssumeRole{Recipient: home.id, Region: "us-east-1", Identity: firstID, Time: t3, IP: ip,
		UserAgent: consoleAgent, FromConsole: true, Role: second, SessionName: u.Name, KeyID: k2, Token: token(),
		RequestID: ct.UUID(p.r)}
	if other != home {
		hop2.SharedID = ct.UUID(p.r)
	}
	hop2.EventID = ct.UUID(p.r)
	hop2ID := p.addIn(home, hop2.Event())
	if other != home {
		hop2.Recipient, hop2.Identity, hop2.EventID = other.id, ct.AWSAccountIdentity(first.ID+":"+u.Name, home.id), ct.UUID(p.r)
		p.addIn(other, hop2.Event())
	}

	secondID := ct.AssumedRoleIdentity(second, u.Name, k2, t3, ct.AssumedRoleOpts{})
	actor := second.Name + "/" + u.Name
	t4 := t3.Add(p.secs(30, 120))
	e = p.call(other, t4, "iam.amazonaws.com", "GetAccountAuthorizationDetails", secondID, ip, consoleAgent, true)
	e.FromConsole = true
	p.addIn(other, e)
	t5 := t4.Add(p.secs(30, 180))
	target := p.w.personName(p.r)
	e = p.call(other, t5, "iam.amazonaws.com", "CreateAccessKey", secondID, ip, consoleAgent, false)
	e.FromConsole = true
	e.RequestParameters = ct.NewObj(64).Str("userName", target).Bytes()
	e.ResponseElements = ct.NewObj(256).Raw("accessKey", ct.NewObj(192).Str("userName", target).Str("accessKeyId", newKey).
		Str("status", "Active").Str("createDate", t5.Format("Jan 2, 2006, 3:04:05 PM")).Bytes()).Bytes()
	created := p.addIn(other, e)

	// Used again within the hour the key lives, from elsewhere.
	ip2 := p.ip()
	t6 := t5.Add(p.secs(300, 1200))
	var reuse []string
	for i, name := range []string{"GetCallerIdentity", "ListBuckets", "DescribeInstances"}[:2+p.r.IntN(2)] {
		src := map[string]string{"GetCallerIdentity": "sts.amazonaws.com", "ListBuckets": "s3.amazonaws.com", "DescribeInstances": "ec2.amazonaws.com"}[name]
		reuse = append(reuse, p.addIn(other, p.call(other, t6.Add(time.Duration(i*40)*time.Second), src, name, secondID, ip2, reuseAgent, true)))
	}

	// The lineage rules list the calls that issued the credentials: the
	// chain's, those of the other account (and on the way there) after the
	// sign-in; the stolen key's before its uses.
	if other != home {
		p.finding(ruleChainAfterWeak, u.Name, ip, login, hop1ID, hop2ID, created)
	}
	p.findingIn(other, ruleChangeByOtherOrigin, actor, ip, created)
	p.findingIn(other, ruleNewLocation, actor, ip2, append([]string{hop2ID}, reuse...)...)

	origin := u.ARN()
	ptr := func(s string) *string { return &s }
	p.cur.sessions = append(p.cur.sessions,
		PlantedSession{SessionID: k0, OriginType: "IAMUser", Origin: origin, Depth: 0, Accounts: []string{home.id}},
		PlantedSession{SessionID: k1, Parent: ptr(k0), OriginType: "IAMUser", Origin: origin, Depth: 1, Accounts: []string{home.id}},
		PlantedSession{SessionID: k2, Parent: ptr(k1), OriginType: "IAMUser", Origin: origin, Depth: 2, Accounts: []string{other.id}},
		PlantedSession{SessionID: newKey, Parent: ptr(k2), OriginType: "IAMUser", Origin: origin, Depth: 3, Accounts: []string{}},
	)
}

func (p *planter) findingIn(acct *account, rule, actor, ip string, ids ...string) {
	p.cur.findings = append(p.cur.findings, Planted{
		RuleID: rule, Actor: actor, AccountID: acct.id, SourceIP: ip,
		EventIDs: append([]string(nil), ids...),
	})
}
