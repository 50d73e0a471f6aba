package samples

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// Rule ids of the detection contract.
const (
	ruleConsoleMFAFailure   = "console-mfa-failure"
	ruleIdCMFAFailure       = "idc-mfa-failure"
	ruleMFAFailureBurst     = "mfa-failure-burst"
	ruleSigninAfterMFAFail  = "signin-after-mfa-failure"
	ruleLoginWithoutMFA     = "console-login-without-mfa"
	ruleRootLogin           = "root-console-login"
	ruleRootLoginWithoutMFA = "root-console-login-without-mfa"
	ruleMFADeviceChange     = "mfa-device-change"
	ruleMFARemovedThenLogin = "mfa-removed-then-login"
	ruleBruteForce          = "console-brute-force"
	rulePasswordSpray       = "console-password-spray"

	// lineage rules: they need the sessions table (issue #17)
	ruleNewLocation         = "credential-used-from-new-location"
	ruleChainAfterWeak      = "role-chain-after-weak-signin"
	ruleChangeByOtherOrigin = "credential-change-by-other-origin"
)

// lineageRules are the rules the sign-in reference detector of the tests
// does not implement.
var lineageRules = map[string]bool{ruleNewLocation: true, ruleChainAfterWeak: true, ruleChangeByOtherOrigin: true}

// scenario kinds, in the order they are generated per repetition.
const (
	kMFAFailSingle = iota
	kMFABurst
	kMFAFailThenSignin
	kIdCMFAFailure
	kIdCBurst
	kLoginWithoutMFA
	kRootLogin
	kRootLoginNoMFA
	kMFADeviceChange
	kMFARemovedThenLogin
	kBruteForce
	kSpray
	kRoleChain // only with Options.Chains; last, so the others keep their layout without it
	numKinds
)

// kindCount is how many scenario kinds opts plants.
func kindCount(opts Options) int {
	if opts.Chains {
		return numKinds
	}
	return numKinds - 1
}

// maxSpan bounds how long any scenario lasts (seconds).
const maxSpan = 75 * 60

// plantedEvent is one pre-rendered incident event.
type plantedEvent struct {
	t    int64 // unix seconds
	acct int
	raw  []byte
}

// scenario is one planted incident: its events and the findings it must
// produce.
type scenario struct {
	events   []plantedEvent
	findings []Planted
	sessions []PlantedSession
}

// planter builds scenarios with its own random stream.
type planter struct {
	w    *world
	r    *rand.Rand
	ips  map[string]bool
	out  []scenario
	cur  *scenario
	acct *account
	// chains counts the role chains planted so far.
	chains int
}

// plantReps is how many times each incident kind is planted.
func plantReps(opts Options) int {
	if opts.Events < 1000 {
		return 0
	}
	reps := 1
	for n := opts.Events / 40000; n > 0; n /= 2 {
		reps++
	}
	if reps > 8 {
		reps = 8
	}
	// every scenario gets its own window of at least two hours
	if maxByTime := opts.Days * 24 / (2 * kindCount(opts)); reps > maxByTime {
		reps = max(1, maxByTime)
	}
	return reps
}

// plant generates all scenarios, spread over accounts and time.
func (w *world) plant(opts Options) []scenario {
	reps := plantReps(opts)
	if reps == 0 {
		return nil
	}
	p := &planter{
		w:   w,
		r:   ct.NewRand(ct.Mix(uint64(opts.Seed), 200), ct.Mix(uint64(opts.Seed), 201)),
		ips: map[string]bool{},
	}
	var kinds []int
	for i := 0; i < reps; i++ {
		for k := 0; k < kindCount(opts); k++ {
			kinds = append(kinds, k)
		}
	}
	p.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	total := int64(opts.Days) * 86400
	seg := total / int64(len(kinds))
	const margin = 10 * 60
	for i, k := range kinds {
		segStart := w.start + int64(i)*seg
		room := seg - maxSpan - 2*margin
		off := int64(margin)
		if room > 0 {
			off += p.r.Int64N(room)
		}
		t := time.Unix(segStart+off, 0).UTC()
		acct := w.accounts[i%len(w.accounts)]
		if k == kIdCMFAFailure || k == kIdCBurst {
			acct = w.accounts[0]
		}
		p.acct = acct
		p.out = append(p.out, scenario{})
		p.cur = &p.out[len(p.out)-1]
		p.build(k, t)
	}
	return p.out
}

// ip returns a documentation-range address not used by another scenario.
func (p *planter) ip() string {
	nets := []string{"203.0.113.", "198.51.100.", "192.0.2."}
	for {
		ip := nets[p.r.IntN(len(nets))] + fmt.Sprint(1+p.r.IntN(254))
		if !p.ips[ip] {
			p.ips[ip] = true
			return ip
		}
	}
}

func (p *planter) agent() string { return attackerAgents[p.r.IntN(len(attackerAgents))] }

func (p *planter) user() ct.User {
	return ct.User{Account: p.acct.id, Name: p.w.personName(p.r), ID: ct.UserID(p.r)}
}

func (p *planter) add(e *ct.Event) string {
	if e.EventID == "" {
		e.EventID = ct.UUID(p.r)
	}
	p.cur.events = append(p.cur.events, plantedEvent{t: e.Time.Unix(), acct: p.acct.idx, raw: e.JSON()})
	return e.EventID
}

func (p *planter) finding(rule, actor, ip string, ids ...string) {
	p.cur.findings = append(p.cur.findings, Planted{
		RuleID: rule, Actor: actor, AccountID: p.acct.id, SourceIP: ip,
		EventIDs: append([]string(nil), ids...),
	})
}

func (p *planter) secs(lo, hi int) time.Duration {
	return time.Duration(lo+p.r.IntN(hi-lo+1)) * time.Second
}

func (p *planter) login(u ct.User, t time.Time, ip, agent string, success bool, mfa string, device string) string {
	c := ct.ConsoleLogin{
		Account:   p.acct.id,
		Identity:  ct.IAMUserSignInIdentity(u, success),
		Time:      t,
		IP:        ip,
		UserAgent: agent,
		Version:   "1.09",
		Success:   success,
		MFAUsed:   mfa,
	}
	if success && mfa == "Yes" && device != "" {
		c.MFAIdentifier = ct.MFASerial(p.acct.id, device)
	}
	return p.add(c.Event())
}

func (p *planter) rootLogin(t time.Time, ip, agent, mfa string) string {
	c := ct.ConsoleLogin{
		Account:   p.acct.id,
		Identity:  ct.RootSignInIdentity(p.acct.id),
		Time:      t,
		IP:        ip,
		UserAgent: agent,
		Version:   "1.09",
		Success:   true,
		MFAUsed:   mfa,
	}
	if mfa == "Yes" {
		c.MFAIdentifier = ct.MFASerial(p.acct.id, "root-account-mfa-device")
	}
	return p.add(c.Event())
}

func (p *planter) mfaCall(u ct.User, key string, created, t time.Time, ip, name, device string) string {
	m := ct.MFAChange{
		Account:     p.acct.id,
		Identity:    ct.IAMUserConsoleIdentity(u, key, created, true),
		Time:        t,
		IP:          ip,
		UserAgent:   "AWS Internal",
		FromConsole: true,
		RequestID:   ct.UUID(p.r),
		Name:        name,
		UserName:    u.Name,
		Device:      device,
	}
	return p.add(m.Event())
}

func (p *planter) idcUser() idcUser {
	return idcUser{name: p.w.personName(p.r) + "@" + p.w.domain, id: ct.UUID(p.r)}
}

func (p *planter) idcFailure(u idcUser, ip, agent string, t time.Time) string {
	factor := "TOTP"
	if p.r.IntN(4) == 0 {
		factor = "WEBAUTHN"
	}
	steps := idcSteps(p.r, p.acct, u.name, u.id, ip, agent, t, factor, false)
	var last string
	for _, s := range steps {
		last = p.add(s.Event())
	}
	return last
}

func (p *planter) build(kind int, t time.Time) {
	ip, agent := p.ip(), p.agent()
	switch kind {
	case kMFAFailSingle:
		u := p.user()
		id := p.login(u, t, ip, agent, false, "Yes", "")
		p.finding(ruleConsoleMFAFailure, u.Name, ip, id)

	case kMFABurst:
		u := p.user()
		n := 2 + p.r.IntN(2)
		var ids []string
		for i := 0; i < n; i++ {
			ids = append(ids, p.login(u, t, ip, agent, false, "Yes", ""))
			t = t.Add(p.secs(40, 240))
		}
		for _, id := range ids {
			p.finding(ruleConsoleMFAFailure, u.Name, ip, id)
		}
		p.finding(ruleMFAFailureBurst, u.Name, ip, ids...)

	case kMFAFailThenSignin:
		u := p.user()
		device := u.Name + "-iphone"
		n := 1 + p.r.IntN(2)
		var ids []string
		for i := 0; i < n; i++ {
			if i > 0 {
				t = t.Add(p.secs(40, 180))
			}
			ids = append(ids, p.login(u, t, ip, agent, false, "Yes", ""))
		}
		t = t.Add(p.secs(180, 1500))
		ok := p.login(u, t, ip, agent, true, "Yes", device)
		for _, id := range ids {
			p.finding(ruleConsoleMFAFailure, u.Name, ip, id)
		}
		if n >= 2 {
			p.finding(ruleMFAFailureBurst, u.Name, ip, ids...)
		}
		p.finding(ruleSigninAfterMFAFail, u.Name, ip, append(ids, ok)...)

	case kIdCMFAFailure:
		u := p.idcUser()
		id := p.idcFailure(u, ip, agent, t)
		p.finding(ruleIdCMFAFailure, u.name, ip, id)

	case kIdCBurst:
		u := p.idcUser()
		a := p.idcFailure(u, ip, agent, t)
		b := p.idcFailure(u, ip, agent, t.Add(p.secs(120, 360)))
		p.finding(ruleIdCMFAFailure, u.name, ip, a)
		p.finding(ruleIdCMFAFailure, u.name, ip, b)
		p.finding(ruleMFAFailureBurst, u.name, ip, a, b)

	case kLoginWithoutMFA:
		u := p.user()
		id := p.login(u, t, ip, agent, true, "No", "")
		p.finding(ruleLoginWithoutMFA, u.Name, ip, id)

	case kRootLogin:
		id := p.rootLogin(t, ip, agent, "Yes")
		p.finding(ruleRootLogin, "root", ip, id)

	case kRootLoginNoMFA:
		id := p.rootLogin(t, ip, agent, "No")
		p.finding(ruleRootLogin, "root", ip, id)
		p.finding(ruleRootLoginWithoutMFA, "root", ip, id)

	case kMFADeviceChange:
		u := p.user()
		old := u.Name + "-iphone"
		p.login(u, t, ip, agent, true, "Yes", old)
		key := ct.TempKeyID(p.r)
		created := t
		t = t.Add(p.secs(120, 600))
		dev := u.Name + "-yubikey"
		a := p.mfaCall(u, key, created, t, ip, "CreateVirtualMFADevice", dev)
		t = t.Add(p.secs(20, 90))
		b := p.mfaCall(u, key, created, t, ip, "EnableMFADevice", dev)
		p.finding(ruleMFADeviceChange, u.Name, ip, a)
		p.finding(ruleMFADeviceChange, u.Name, ip, b)

	case kMFARemovedThenLogin:
		u := p.user()
		dev := u.Name + "-iphone"
		p.login(u, t, ip, agent, true, "Yes", dev)
		key := ct.TempKeyID(p.r)
		created := t
		t = t.Add(p.secs(180, 480))
		deact := p.mfaCall(u, key, created, t, ip, "DeactivateMFADevice", dev)
		t = t.Add(p.secs(20, 60))
		del := p.mfaCall(u, key, created, t, ip, "DeleteVirtualMFADevice", dev)
		t = t.Add(p.secs(600, 2400))
		login := p.login(u, t, ip, agent, true, "No", "")
		p.finding(ruleMFADeviceChange, u.Name, ip, deact)
		p.finding(ruleMFADeviceChange, u.Name, ip, del)
		p.finding(ruleLoginWithoutMFA, u.Name, ip, login)
		p.finding(ruleMFARemovedThenLogin, u.Name, ip, deact, del, login)

	case kBruteForce:
		u := p.user()
		n := 5 + p.r.IntN(4)
		var ids []string
		for i := 0; i < n; i++ {
			if i > 0 {
				t = t.Add(p.secs(15, 60))
			}
			ids = append(ids, p.login(u, t, ip, agent, false, "No", ""))
		}
		p.finding(ruleBruteForce, u.Name, ip, ids...)

	case kSpray:
		n := 5 + p.r.IntN(4)
		var ids []string
		for i := 0; i < n; i++ {
			if i > 0 {
				t = t.Add(p.secs(10, 50))
			}
			ids = append(ids, p.login(p.user(), t, ip, agent, false, "No", ""))
		}
		p.finding(rulePasswordSpray, ip, ip, ids...) // no single user: the actor is the address

	case kRoleChain:
		p.roleChain(t, ip, agent)
	}
}
