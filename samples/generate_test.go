package samples

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const testEvents = 20000

func genTo(t testing.TB, dir string, opts Options) Summary {
	t.Helper()
	opts.Out = dir
	s, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

// treeDigest maps every file under dir (relative path) to its sha256.
func treeDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	opts := Options{Events: 3000, Seed: 42, Days: 2}
	a, b := t.TempDir(), t.TempDir()
	sa := genTo(t, a, opts)
	sb := genTo(t, b, opts)
	if sa.Files != sb.Files || sa.Events != sb.Events || sa.Bytes != sb.Bytes {
		t.Fatalf("summaries differ: %+v vs %+v", sa, sb)
	}
	da, db := treeDigest(t, a), treeDigest(t, b)
	if len(da) != len(db) {
		t.Fatalf("file count differs: %d vs %d", len(da), len(db))
	}
	for p, h := range da {
		if hb, ok := db[p]; !ok {
			t.Fatalf("%s missing from second run", p)
		} else if hb != h {
			t.Fatalf("%s differs between runs", p)
		}
	}
	if len(da) != sa.Files+2 { // + ground-truth.jsonl, sessions-truth.jsonl
		t.Fatalf("%d files on disk, summary says %d (+2 truth files)", len(da), sa.Files)
	}

	// A different seed gives a different corpus.
	c := t.TempDir()
	opts.Seed = 43
	genTo(t, c, opts)
	dc := treeDigest(t, c)
	same := 0
	for p := range dc {
		if _, ok := da[p]; ok {
			same++
		}
	}
	if same > 2 { // the two truth files
		t.Fatalf("seed 43 reproduced %d file names of seed 42", same)
	}
}

func TestGenerateRefusesNonEmptyOut(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evidence.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Options{Out: dir, Events: 10}); err == nil {
		t.Fatal("Generate wrote into a non-empty directory")
	}
	if _, err := Generate(Options{Events: 10}); err == nil {
		t.Fatal("Generate accepted an empty Out")
	}
	// An existing empty directory is fine.
	s, err := Generate(Options{Out: t.TempDir(), Events: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 100 || len(s.Planted) != 0 {
		t.Fatalf("small corpus: %+v", s)
	}
}

// event is the subset of a CloudTrail record the tests look at.
type event struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type           string `json:"type"`
		UserName       string `json:"userName"`
		ARN            string `json:"arn"`
		AccessKeyID    string `json:"accessKeyId"`
		SessionContext struct {
			Attributes struct {
				CreationDate string `json:"creationDate"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventTime         string          `json:"eventTime"`
	EventSource       string          `json:"eventSource"`
	EventName         string          `json:"eventName"`
	AWSRegion         string          `json:"awsRegion"`
	SourceIP          string          `json:"sourceIPAddress"`
	UserAgent         string          `json:"userAgent"`
	ErrorMessage      string          `json:"errorMessage"`
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
	AdditionalData    map[string]any  `json:"additionalEventData"`
	ServiceDetails    map[string]any  `json:"serviceEventDetails"`
	EventID           string          `json:"eventID"`
	ReadOnly          *bool           `json:"readOnly"`
	EventType         string          `json:"eventType"`
	ManagementEvent   *bool           `json:"managementEvent"`
	Recipient         string          `json:"recipientAccountId"`
	EventCategory     string          `json:"eventCategory"`

	t time.Time
}

var fileRE = regexp.MustCompile(`^AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$`)

func TestGenerateCorpus(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		checkCorpus(t, Options{Events: testEvents, Seed: 7}, 2, 3)
	})
	t.Run("chains", func(t *testing.T) {
		checkCorpus(t, Options{Events: testEvents, Seed: 11, Days: 3, Chains: true}, 2, 3)
	})
	t.Run("chains-one-account", func(t *testing.T) {
		checkCorpus(t, Options{Events: 8000, Seed: 12, Days: 2, Accounts: 1, Regions: 2, Chains: true}, 1, 2)
	})
	t.Run("odd", func(t *testing.T) {
		start := time.Date(2024, 6, 15, 13, 37, 0, 0, time.UTC)
		checkCorpus(t, Options{Events: 12000, Seed: -3, Days: 1, Accounts: 3, Regions: 1, Start: start}, 3, 1)
	})
}

func checkCorpus(t *testing.T, opts Options, wantAccounts, wantRegions int) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	if !opts.Start.IsZero() {
		start = opts.Start
	}
	days := 7
	if opts.Days != 0 {
		days = opts.Days
	}
	end := start.Add(time.Duration(days) * 24 * time.Hour)
	dir := t.TempDir()
	sum := genTo(t, dir, opts)

	if d := sum.Events - opts.Events; d < -opts.Events/10 || d > opts.Events/10 {
		t.Errorf("Summary.Events = %d, want about %d", sum.Events, opts.Events)
	}

	ids := map[string]int{}
	keyCreated := map[string]map[string]bool{} // temporary key -> creationDates
	var roleCalls int                          // events made with an assumed role's key
	var signins []*event                       // sign-in and IAM MFA events, for the reference detector
	var records []*ctRecord                    // every record, for the lineage joins (with chains)
	var total, files, readOnly int
	var bytesOnDisk int64
	regions := map[string]bool{}
	accounts := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		m := fileRE.FindStringSubmatch(rel)
		if m == nil {
			return fmt.Errorf("unexpected file name %s", rel)
		}
		if m[1] != m[6] || m[2] != m[7] || m[3]+m[4]+m[5] != m[8][:8] {
			return fmt.Errorf("inconsistent path %s", rel)
		}
		files++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		bytesOnDisk += int64(len(raw))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s: %v", rel, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return fmt.Errorf("%s: %v", rel, err)
		}
		var doc struct {
			Records []json.RawMessage `json:"Records"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("%s: %v", rel, err)
		}
		if len(doc.Records) == 0 {
			return fmt.Errorf("%s: no records", rel)
		}
		for i, r := range doc.Records {
			if !json.Valid(r) {
				return fmt.Errorf("%s record %d: invalid JSON", rel, i)
			}
			e := &event{}
			if err := json.Unmarshal(r, e); err != nil {
				return fmt.Errorf("%s record %d: %v", rel, i, err)
			}
			e.t, err = time.Parse(time.RFC3339, e.EventTime)
			if err != nil {
				return fmt.Errorf("%s record %d: eventTime %q", rel, i, e.EventTime)
			}
			if e.t.Before(start) || !e.t.Before(end) {
				return fmt.Errorf("%s record %d: eventTime %s outside the range", rel, i, e.EventTime)
			}
			if e.Recipient != m[1] || e.AWSRegion != m[2] {
				return fmt.Errorf("%s record %d: account/region %s/%s", rel, i, e.Recipient, e.AWSRegion)
			}
			if e.EventID == "" || e.EventSource == "" || e.EventName == "" || e.UserIdentity.Type == "" ||
				e.ReadOnly == nil || e.ManagementEvent == nil || e.EventCategory != "Management" ||
				(e.EventVersion != "1.08" && e.EventVersion != "1.09") || e.EventType == "" || e.SourceIP == "" || e.UserAgent == "" {
				return fmt.Errorf("%s record %d: missing fields: %s", rel, i, r)
			}
			if e.EventSource == "signin.amazonaws.com" && e.AWSRegion != "us-east-1" {
				return fmt.Errorf("%s record %d: sign-in outside us-east-1", rel, i)
			}
			if *e.ReadOnly {
				readOnly++
			}
			ids[e.EventID]++
			total++
			if k := e.UserIdentity.AccessKeyID; e.UserIdentity.Type == "AssumedRole" && strings.HasPrefix(k, "ASIA") {
				roleCalls++
				if keyCreated[k] == nil {
					keyCreated[k] = map[string]bool{}
				}
				keyCreated[k][e.UserIdentity.SessionContext.Attributes.CreationDate] = true
			}
			if opts.Chains {
				records = append(records, parseRecord(t, r))
			}
			regions[e.AWSRegion] = true
			accounts[e.Recipient] = true
			if e.EventSource == "signin.amazonaws.com" || (e.EventSource == "iam.amazonaws.com" && strings.Contains(e.EventName, "MFADevice")) {
				signins = append(signins, e)
			}
		}
		if i := len(doc.Records) - 1; i > 0 {
			// one 5-minute slot per file, records in time order
			var first, last event
			_ = json.Unmarshal(doc.Records[0], &first)
			_ = json.Unmarshal(doc.Records[i], &last)
			a, _ := time.Parse(time.RFC3339, first.EventTime)
			b, _ := time.Parse(time.RFC3339, last.EventTime)
			if b.Sub(a) >= 5*time.Minute || b.Before(a) {
				return fmt.Errorf("%s: records span %s..%s", rel, first.EventTime, last.EventTime)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != sum.Events || files != sum.Files || bytesOnDisk != sum.Bytes {
		t.Errorf("corpus has %d events in %d files (%d bytes); summary says %+v", total, files, bytesOnDisk, sum)
	}
	if len(regions) != wantRegions || len(accounts) != wantAccounts {
		t.Errorf("regions %v accounts %v", regions, accounts)
	}
	if frac := float64(readOnly) / float64(total); frac < 0.9 {
		t.Errorf("read-only share %.3f, want >= 0.9", frac)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("eventID %s appears %d times", id, n)
		}
	}
	// A role session's key makes many calls over its lifetime (20 per key at 1.25M events, fewer in small corpora), as in real
	// CloudTrail (the sessions table and its benchmark depend on it), and
	// every call names the same creation date.
	if roleCalls < total/2 || len(keyCreated) > roleCalls/2 {
		t.Errorf("%d temporary keys for %d assumed-role calls (of %d events): want at least 2 calls per key", len(keyCreated), roleCalls, total)
	}
	for k, dates := range keyCreated {
		if len(dates) != 1 {
			t.Errorf("key %s has creation dates %v, want one", k, slices.Sorted(maps.Keys(dates)))
		}
	}

	// Ground truth file matches the summary.
	gt := readGroundTruth(t, filepath.Join(dir, "ground-truth.jsonl"))
	if !slices.EqualFunc(gt, sum.Planted, func(a, b Planted) bool { return plantedKey(a) == plantedKey(b) }) {
		t.Fatalf("ground-truth.jsonl differs from Summary.Planted")
	}
	rules := map[string]int{}
	plantedIDs := map[string]bool{}
	for _, p := range gt {
		rules[p.RuleID]++
		for _, id := range p.EventIDs {
			if ids[id] != 1 {
				t.Errorf("planted event %s (%s) found %d times", id, p.RuleID, ids[id])
			}
			plantedIDs[id] = true
		}
	}
	wantRules := []string{ruleConsoleMFAFailure, ruleIdCMFAFailure, ruleMFAFailureBurst, ruleSigninAfterMFAFail,
		ruleLoginWithoutMFA, ruleRootLogin, ruleRootLoginWithoutMFA, ruleMFADeviceChange, ruleMFARemovedThenLogin,
		ruleBruteForce, rulePasswordSpray}
	if opts.Chains {
		wantRules = append(wantRules, ruleNewLocation, ruleChangeByOtherOrigin)
		if wantAccounts > 1 {
			wantRules = append(wantRules, ruleChainAfterWeak)
		}
	}
	for _, r := range wantRules {
		if rules[r] == 0 {
			t.Errorf("no planted %s", r)
		}
	}
	if opts.Chains && wantAccounts == 1 && rules[ruleChainAfterWeak] != 0 {
		t.Errorf("%d %s planted with one account: no chain reaches another", rules[ruleChainAfterWeak], ruleChainAfterWeak)
	}

	// The planted chains' sessions are what the lineage joins give.
	truth := readSessionsTruthOrEmpty(t, filepath.Join(dir, sessionsTruthFile))
	if len(truth) != len(sum.Sessions) {
		t.Fatalf("%s has %d sessions, Summary.Sessions %d", sessionsTruthFile, len(truth), len(sum.Sessions))
	}
	if opts.Chains != (len(truth) > 0) || len(truth)%4 != 0 {
		t.Fatalf("%d planted sessions with Chains %v: want 4 per chain", len(truth), opts.Chains)
	}
	if opts.Chains {
		checkSessions(t, records, truth)
		keyless := 0 // hops whose issued key only assumedRoleUser.arn can tie
		for _, r := range records {
			if r.EventName == "AssumeRole" && r.ResponseElements.Credentials.AccessKeyID == "" && r.ResponseElements.AssumedRoleUser.ARN != "" {
				keyless++
			}
		}
		if keyless == 0 {
			t.Error("no planted role hop lacks its issued key: the ARN link is not exercised")
		}
	}

	// Background sign-ins are benign: no failures at all.
	for _, e := range signins {
		if plantedIDs[e.EventID] {
			continue
		}
		if e.EventName == "ConsoleLogin" && resp(e) != "Success" {
			t.Errorf("background ConsoleLogin that is not a success: %s", e.EventID)
		}
		if e.ServiceDetails != nil && e.ServiceDetails["CredentialChallenge"] == "Failure" {
			t.Errorf("background Identity Center failure: %s", e.EventID)
		}
	}

	// The reference detector finds exactly the planted findings.
	got := detect(signins)
	want := map[string]int{}
	for _, p := range gt {
		if !lineageRules[p.RuleID] {
			want[plantedKey(p)]++
		}
	}
	for k, n := range got {
		if want[k] != n {
			t.Errorf("reference detector found %d× %s, ground truth has %d", n, k, want[k])
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("ground truth has %d× %s, reference detector found %d", n, k, got[k])
		}
	}
}

func readGroundTruth(t *testing.T, path string) []Planted {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Planted
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p Planted
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("ground truth line %q: %v", sc.Text(), err)
		}
		out = append(out, p)
	}
	return out
}

func plantedKey(p Planted) string {
	ids := slices.Clone(p.EventIDs)
	sort.Strings(ids)
	return p.RuleID + "|" + p.Actor + "|" + p.AccountID + "|" + p.SourceIP + "|" + strings.Join(ids, ",")
}

func resp(e *event) string {
	var r struct{ ConsoleLogin string }
	_ = json.Unmarshal(e.ResponseElements, &r)
	return r.ConsoleLogin
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func actorOf(e *event) string {
	switch {
	case e.UserIdentity.Type == "Root":
		return "root"
	case e.UserIdentity.Type == "IdentityCenterUser":
		return str(e.AdditionalData, "UserName")
	}
	return e.UserIdentity.UserName
}

// detect is a straightforward reference implementation of the detection
// contract, used to prove the corpus triggers exactly the planted findings.
func detect(evs []*event) map[string]int {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].t.Before(evs[j].t) })
	out := map[string]int{}
	add := func(rule, actor, acct, ip string, es ...*event) {
		p := Planted{RuleID: rule, Actor: actor, AccountID: acct, SourceIP: ip}
		for _, e := range es {
			p.EventIDs = append(p.EventIDs, e.EventID)
		}
		out[plantedKey(p)]++
	}
	isLogin := func(e *event) bool { return e.EventName == "ConsoleLogin" && e.EventSource == "signin.amazonaws.com" }
	mfaFail := map[string][]*event{}    // account|actor -> MFA failures
	pwFailUser := map[string][]*event{} // account|user|ip -> password failures
	pwFailIP := map[string][]*event{}   // ip -> password failures
	var deactivations, deletions []*event
	for _, e := range evs {
		k := e.Recipient + "|" + actorOf(e)
		switch {
		case isLogin(e) && resp(e) == "Failure" && str(e.AdditionalData, "MFAUsed") == "Yes":
			add(ruleConsoleMFAFailure, actorOf(e), e.Recipient, e.SourceIP, e)
			mfaFail[k] = append(mfaFail[k], e)
		case e.EventName == "CredentialVerification" && str(e.ServiceDetails, "CredentialChallenge") == "Failure" &&
			(str(e.AdditionalData, "CredentialType") == "TOTP" || str(e.AdditionalData, "CredentialType") == "WEBAUTHN"):
			add(ruleIdCMFAFailure, actorOf(e), e.Recipient, e.SourceIP, e)
			mfaFail[k] = append(mfaFail[k], e)
		case isLogin(e) && resp(e) == "Failure" && str(e.AdditionalData, "MFAUsed") == "No":
			pwFailUser[k+"|"+e.SourceIP] = append(pwFailUser[k+"|"+e.SourceIP], e)
			pwFailIP[e.SourceIP] = append(pwFailIP[e.SourceIP], e)
		case isLogin(e) && resp(e) == "Success":
			mfa := strings.EqualFold(str(e.AdditionalData, "MFAUsed"), "Yes")
			switch e.UserIdentity.Type {
			case "Root":
				add(ruleRootLogin, "root", e.Recipient, e.SourceIP, e)
				if !mfa {
					add(ruleRootLoginWithoutMFA, "root", e.Recipient, e.SourceIP, e)
				}
			case "IAMUser":
				if !mfa {
					add(ruleLoginWithoutMFA, actorOf(e), e.Recipient, e.SourceIP, e)
					for _, d := range deactivations {
						var rp struct{ UserName string }
						_ = json.Unmarshal(d.RequestParameters, &rp)
						if d.Recipient == e.Recipient && rp.UserName == actorOf(e) && e.t.Sub(d.t) <= time.Hour && !e.t.Before(d.t) {
							// The removal is the deactivation and, when the
							// device was deleted too, the deletion.
							removal := []*event{d}
							for _, del := range deletions {
								if del.Recipient == d.Recipient && serial(del) == serial(d) && !del.t.Before(d.t) && !e.t.Before(del.t) {
									removal = append(removal, del)
								}
							}
							add(ruleMFARemovedThenLogin, actorOf(e), e.Recipient, e.SourceIP, append(removal, e)...)
						}
					}
				}
				var prior []*event
				for _, f := range mfaFail[k] {
					if !e.t.Before(f.t) && e.t.Sub(f.t) <= time.Hour {
						prior = append(prior, f)
					}
				}
				if len(prior) > 0 {
					add(ruleSigninAfterMFAFail, actorOf(e), e.Recipient, e.SourceIP, append(prior, e)...)
				}
			}
		case e.EventSource == "iam.amazonaws.com" && slices.Contains([]string{"CreateVirtualMFADevice", "EnableMFADevice", "DeactivateMFADevice", "DeleteVirtualMFADevice", "ResyncMFADevice"}, e.EventName):
			add(ruleMFADeviceChange, actorOf(e), e.Recipient, e.SourceIP, e)
			switch e.EventName {
			case "DeactivateMFADevice":
				deactivations = append(deactivations, e)
			case "DeleteVirtualMFADevice":
				deletions = append(deletions, e)
			}
		}
	}
	// windows: a group starts at its first event and takes what follows
	// within the window
	groups := func(es []*event, window time.Duration) [][]*event {
		var out [][]*event
		for i := 0; i < len(es); {
			j := i + 1
			for j < len(es) && es[j].t.Sub(es[i].t) <= window {
				j++
			}
			out = append(out, es[i:j])
			i = j
		}
		return out
	}
	for _, k := range sortedKeys(mfaFail) {
		for _, g := range groups(mfaFail[k], 15*time.Minute) {
			if len(g) >= 2 {
				add(ruleMFAFailureBurst, actorOf(g[0]), g[0].Recipient, g[0].SourceIP, g...)
			}
		}
	}
	for _, k := range sortedKeys(pwFailUser) {
		for _, g := range groups(pwFailUser[k], 10*time.Minute) {
			if len(g) >= 5 {
				add(ruleBruteForce, actorOf(g[0]), g[0].Recipient, g[0].SourceIP, g...)
			}
		}
	}
	for _, k := range sortedKeys(pwFailIP) {
		for _, g := range groups(pwFailIP[k], 10*time.Minute) {
			users := map[string]bool{}
			for _, e := range g {
				users[actorOf(e)] = true
			}
			if len(users) >= 5 {
				add(rulePasswordSpray, g[0].SourceIP, g[0].Recipient, g[0].SourceIP, g...)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func BenchmarkGenerate(b *testing.B) {
	opts := Options{Events: 100000, Seed: 1}
	events := 0
	for i := 0; i < b.N; i++ {
		opts.Out = filepath.Join(b.TempDir(), "out")
		s, err := Generate(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(s.Bytes) // compressed bytes written per run
		events += s.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// serial is the MFA device an IAM call names.
func serial(e *event) string {
	var rp struct{ SerialNumber string }
	_ = json.Unmarshal(e.RequestParameters, &rp)
	return rp.SerialNumber
}
