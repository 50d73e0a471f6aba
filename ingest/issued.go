package ingest

import (
	"slices"
	"strings"
)

// IssuedField is one key of Event.IssuedCredential and where a call that
// hands out a credential holds its value: the first of Paths that has one.
// A path is dotted, from the event's top level (requestParameters.roleArn).
type IssuedField struct {
	Key   string
	Paths []string
}

// IssuedFields are what the sessions build reads of a call that hands out
// a credential (see query's sessions table), in the order they are
// written. The store's SQL reads the same paths from raw for events stored
// before the column existed, so the two cannot drift apart.
var IssuedFields = []IssuedField{
	{"accessKeyId", []string{"responseElements.credentials.accessKeyId", "responseElements.accessKey.accessKeyId"}},
	{"arn", []string{"responseElements.assumedRoleUser.arn", "responseElements.federatedUser.arn"}},
	{"roleArn", []string{"requestParameters.roleArn"}},
	{"sessionName", []string{"requestParameters.roleSessionName", "requestParameters.name"}},
	{"sourceIdentity", []string{"requestParameters.sourceIdentity", "responseElements.sourceIdentity"}},
	{"subject", []string{"responseElements.subjectFromWebIdentityToken", "responseElements.subject"}},
	{"principalArn", []string{"requestParameters.principalArn"}},
	{"issuer", []string{"responseElements.issuer"}},
	{"targetPrincipal", []string{"requestParameters.targetPrincipal"}},
	{"userName", []string{"responseElements.accessKey.userName", "requestParameters.userName"}},
	{"sharedEventID", []string{"sharedEventID"}},
}

// CredentialIssuers are the calls that hand out a credential, by event
// source: STS's AssumeRole family, GetSessionToken, GetFederationToken and
// AssumeRoot, and IAM's CreateAccessKey.
var CredentialIssuers = map[string][]string{
	"sts.amazonaws.com": {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken",
		"GetFederationToken", "AssumeRoot"},
	"iam.amazonaws.com": {"CreateAccessKey"},
}

// IssuesCredential says whether the call source/name hands out a
// credential (CredentialIssuers).
func IssuesCredential(source, name string) bool {
	return slices.Contains(CredentialIssuers[source], name)
}

// issuedCredential is Event.IssuedCredential of a call that hands out a
// credential: a JSON object of the IssuedFields that have a value, "{}"
// when none has. req, resp and shared are the event's requestParameters
// (already taken out of a JSON string where an export gave it as one),
// responseElements (the same) and sharedEventID. Keys are matched as
// node.get does, so lower-cased exports read the same.
func (n *normalizer) issuedCredential(req, resp, shared node) string {
	n.issued = append(n.issued[:0], '{')
	for _, f := range IssuedFields {
		var val string
		for _, p := range f.Paths {
			part, rest, _ := strings.Cut(p, ".")
			var v node
			switch part {
			case "requestParameters":
				v = req
			case "responseElements":
				v = resp
			case "sharedEventID":
				v = shared
			}
			if val = n.str(v.path(rest)); val != "" {
				break
			}
		}
		if val == "" {
			continue
		}
		if len(n.issued) > 1 {
			n.issued = append(n.issued, ',')
		}
		n.issued = appendJSONString(n.issued, f.Key)
		n.issued = append(n.issued, ':')
		n.issued = appendJSONString(n.issued, val)
	}
	n.issued = append(n.issued, '}')
	return n.strings.of(n.issued)
}
