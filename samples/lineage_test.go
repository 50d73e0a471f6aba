package samples

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// A reference implementation of the lineage joins (issue #17), used to prove
// the bundled chain and the generator's planted chains produce the sessions
// their truth files list. It is deliberately plain: the sessions table in
// query/ is the real one.

// ctRecord is the part of a CloudTrail record the lineage joins read.
type ctRecord struct {
	EventID       string `json:"eventID"`
	EventTime     string `json:"eventTime"`
	EventSource   string `json:"eventSource"`
	EventName     string `json:"eventName"`
	Recipient     string `json:"recipientAccountId"`
	SharedEventID string `json:"sharedEventID"`
	ErrorCode     string `json:"errorCode"`
	UserIdentity  struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		AccessKeyID    string `json:"accessKeyId"`
		SessionContext struct {
			Attributes struct {
				CreationDate string `json:"creationDate"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	ResponseElements struct {
		ConsoleLogin string `json:"ConsoleLogin"`
		Credentials  struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
		AccessKey struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"accessKey"`
	} `json:"responseElements"`
	t time.Time
}

// truthSession is one line of expected-sessions.jsonl / sessions-truth.jsonl.
type truthSession struct {
	SessionID  string   `json:"session_id"`
	Parent     *string  `json:"parent_session_id"`
	OriginType string   `json:"origin_type"`
	Origin     string   `json:"origin"`
	Depth      int      `json:"depth"`
	Accounts   []string `json:"accounts"`
}

func (s truthSession) key() string {
	p := ""
	if s.Parent != nil {
		p = *s.Parent
	}
	accts := slices.Clone(s.Accounts)
	sort.Strings(accts)
	return strings.Join([]string{s.SessionID, p, s.OriginType, s.Origin, string(rune('0' + s.Depth)), strings.Join(accts, ",")}, "|")
}

func parseRecord(t *testing.T, raw []byte) *ctRecord {
	t.Helper()
	r := &ctRecord{}
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatalf("record: %v", err)
	}
	var err error
	if r.t, err = time.Parse(time.RFC3339, r.EventTime); err != nil {
		r.t, _ = time.Parse("2006-01-02 15:04:05", r.EventTime)
	}
	return r
}

// resolveSessions applies the joins to unique records and returns every
// session found, keyed by session id.
func resolveSessions(recs []*ctRecord) map[string]truthSession {
	type node struct {
		parent     string
		originType string
		origin     string
		accounts   map[string]bool
		root       bool
	}
	nodes := map[string]*node{}
	get := func(id string) *node {
		n := nodes[id]
		if n == nil {
			n = &node{accounts: map[string]bool{}}
			nodes[id] = n
		}
		return n
	}
	// Uses: a key's events, the ARN and creation date it acted with.
	type use struct{ arn, typ, created string }
	uses := map[string]use{}
	for _, r := range recs {
		if k := r.UserIdentity.AccessKeyID; k != "" {
			get(k).accounts[r.Recipient] = true
			uses[k] = use{r.UserIdentity.ARN, r.UserIdentity.Type, r.UserIdentity.SessionContext.Attributes.CreationDate}
		}
	}
	// The caller key of each sharedEventID, for the copy that lacks it.
	sharedCaller := map[string]string{}
	for _, r := range recs {
		if r.SharedEventID != "" && r.UserIdentity.AccessKeyID != "" {
			sharedCaller[r.SharedEventID] = r.UserIdentity.AccessKeyID
		}
	}
	// Issues: response key, else the session that acted as assumedRoleUser.arn.
	for _, r := range recs {
		if r.ErrorCode != "" {
			continue
		}
		issued := r.ResponseElements.Credentials.AccessKeyID
		if issued == "" {
			issued = r.ResponseElements.AccessKey.AccessKeyID
		}
		if issued == "" && r.ResponseElements.AssumedRoleUser.ARN != "" {
			for k, u := range uses {
				if u.arn == r.ResponseElements.AssumedRoleUser.ARN && u.created == r.EventTime {
					issued = k
				}
			}
		}
		if issued == "" {
			continue
		}
		caller := r.UserIdentity.AccessKeyID
		if caller == "" {
			caller = sharedCaller[r.SharedEventID]
		}
		if caller != "" && caller != issued {
			get(issued).parent = caller
		}
	}
	// Origins: a console session is its sign-in's (creationDate = the
	// ConsoleLogin's time, same ARN); a key nobody issued is its user's.
	logins := map[string]bool{}
	for _, r := range recs {
		if r.EventName == "ConsoleLogin" && r.ResponseElements.ConsoleLogin == "Success" {
			logins[r.UserIdentity.ARN+"|"+r.EventTime] = true
		}
	}
	for k, u := range uses {
		n := get(k)
		if n.parent != "" {
			continue
		}
		if (u.typ == "IAMUser" || u.typ == "Root") && (logins[u.arn+"|"+u.created] || strings.HasPrefix(k, "AKIA")) {
			n.root, n.origin, n.originType = true, u.arn, u.typ
		}
	}
	out := map[string]truthSession{}
	for id, n := range nodes {
		s := truthSession{SessionID: id, OriginType: "Unknown", Accounts: []string{}}
		if n.parent != "" {
			p := n.parent
			s.Parent = &p
		}
		cur, seen := n, map[*node]bool{}
		for cur != nil && !cur.root && cur.parent != "" && !seen[cur] && s.Depth < 32 {
			seen[cur] = true
			cur = nodes[cur.parent]
			s.Depth++
		}
		if cur != nil && cur.root {
			s.OriginType, s.Origin = cur.originType, cur.origin
		}
		for a := range n.accounts {
			s.Accounts = append(s.Accounts, a)
		}
		sort.Strings(s.Accounts)
		out[id] = s
	}
	return out
}

// checkSessions compares the truth file's sessions with the reference joins.
func checkSessions(t *testing.T, recs []*ctRecord, truth []truthSession) {
	t.Helper()
	got := resolveSessions(recs)
	for _, want := range truth {
		g, ok := got[want.SessionID]
		if !ok {
			t.Errorf("session %s of the truth file is not in the events", want.SessionID)
			continue
		}
		if g.key() != want.key() {
			t.Errorf("session %s: the joins give\n  %s\nthe truth file says\n  %s", want.SessionID, g.key(), want.key())
		}
	}
}

func readSessionsTruth(t *testing.T, path string) []truthSession {
	t.Helper()
	out := readSessionsTruthOrEmpty(t, path)
	if len(out) == 0 {
		t.Fatalf("%s lists no sessions", path)
	}
	return out
}

// readSessionsTruthOrEmpty reads a truth file that may list no session.
func readSessionsTruthOrEmpty(t *testing.T, path string) []truthSession {
	t.Helper()
	var out []truthSession
	for _, line := range readLines(t, path) {
		if line == "" {
			continue
		}
		var s truthSession
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, s)
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}
