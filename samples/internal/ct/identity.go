package ct

import "time"

// Role is an IAM role a session can be issued from.
type Role struct {
	Account string
	Name    string
	Path    string // "/" when empty
	ID      string // AROA...
}

// ARN is the role's IAM ARN.
func (r Role) ARN() string {
	p := r.Path
	if p == "" {
		p = "/"
	}
	return "arn:aws:iam::" + r.Account + ":role" + p + r.Name
}

// SessionARN is the STS ARN of a session of the role.
func (r Role) SessionARN(session string) string {
	return "arn:aws:sts::" + r.Account + ":assumed-role/" + r.Name + "/" + session
}

// User is an IAM user.
type User struct {
	Account string
	Name    string
	ID      string // AIDA...
}

// ARN is the user's IAM ARN.
func (u User) ARN() string { return "arn:aws:iam::" + u.Account + ":user/" + u.Name }

// MFASerial is the ARN of a virtual MFA device of the account.
func MFASerial(account, device string) string {
	return "arn:aws:iam::" + account + ":mfa/" + device
}

func sessionAttrs(o *Obj, created time.Time, mfa bool) {
	a := NewObj(80)
	a.Str("creationDate", FormatTime(created))
	if mfa {
		a.Str("mfaAuthenticated", "true")
	} else {
		a.Str("mfaAuthenticated", "false")
	}
	o.Raw("attributes", a.Bytes())
}

// AssumedRoleOpts are the optional parts of an AssumedRole identity.
type AssumedRoleOpts struct {
	MFA             bool
	InvokedBy       string // AWS service acting with the session
	EC2RoleDelivery bool   // instance-profile credentials
	SourceIdentity  string
}

// AssumedRoleIdentity is the userIdentity of a role session.
func AssumedRoleIdentity(r Role, session, keyID string, created time.Time, opt AssumedRoleOpts) []byte {
	si := NewObj(256).
		Str("type", "Role").
		Str("principalId", r.ID).
		Str("arn", r.ARN()).
		Str("accountId", r.Account).
		Str("userName", r.Name).Bytes()
	sc := NewObj(512).Raw("sessionIssuer", si).Raw("webIdFederationData", []byte("{}"))
	sessionAttrs(sc, created, opt.MFA)
	if opt.SourceIdentity != "" {
		sc.Str("sourceIdentity", opt.SourceIdentity)
	}
	if opt.EC2RoleDelivery {
		sc.Str("ec2RoleDelivery", "2.0")
	}
	o := NewObj(768).
		Str("type", "AssumedRole").
		Str("principalId", r.ID+":"+session).
		Str("arn", r.SessionARN(session)).
		Str("accountId", r.Account).
		Str("accessKeyId", keyID).
		Raw("sessionContext", sc.Bytes())
	if opt.InvokedBy != "" {
		o.Str("invokedBy", opt.InvokedBy)
	}
	return o.Bytes()
}

// IAMUserKeyIdentity is an IAM user calling with a long-term access key.
func IAMUserKeyIdentity(u User, keyID string) []byte {
	return NewObj(256).
		Str("type", "IAMUser").
		Str("principalId", u.ID).
		Str("arn", u.ARN()).
		Str("accountId", u.Account).
		Str("accessKeyId", keyID).
		Str("userName", u.Name).Bytes()
}

// IAMUserConsoleIdentity is an IAM user acting in the console (temporary
// console credentials with a session context).
func IAMUserConsoleIdentity(u User, keyID string, created time.Time, mfa bool) []byte {
	sc := NewObj(256).Raw("sessionIssuer", []byte("{}")).Raw("webIdFederationData", []byte("{}"))
	sessionAttrs(sc, created, mfa)
	return NewObj(512).
		Str("type", "IAMUser").
		Str("principalId", u.ID).
		Str("arn", u.ARN()).
		Str("accountId", u.Account).
		Str("accessKeyId", keyID).
		Str("userName", u.Name).
		Raw("sessionContext", sc.Bytes()).Bytes()
}

// IAMUserSignInIdentity is the userIdentity of an IAM user's ConsoleLogin.
// Failed sign-ins carry no ARN and an empty accessKeyId, as CloudTrail
// writes them.
func IAMUserSignInIdentity(u User, success bool) []byte {
	o := NewObj(256).Str("type", "IAMUser").Str("principalId", u.ID)
	if success {
		o.Str("arn", u.ARN()).Str("accountId", u.Account)
	} else {
		o.Str("accountId", u.Account).Str("accessKeyId", "")
	}
	return o.Str("userName", u.Name).Bytes()
}

// RootSignInIdentity is the userIdentity of a root ConsoleLogin.
func RootSignInIdentity(account string) []byte {
	return NewObj(160).
		Str("type", "Root").
		Str("principalId", account).
		Str("arn", "arn:aws:iam::"+account+":root").
		Str("accountId", account).
		Str("accessKeyId", "").Bytes()
}

// AWSServiceIdentity is an AWS service principal.
func AWSServiceIdentity(invokedBy string) []byte {
	return NewObj(80).Str("type", "AWSService").Str("invokedBy", invokedBy).Bytes()
}

// IdentityCenterUserIdentity is the userIdentity of an IAM Identity Center
// user in sign-in events.
func IdentityCenterUserIdentity(account, userID, identityStoreID string) []byte {
	ob := NewObj(160).
		Str("userId", userID).
		Str("identityStoreArn", "arn:aws:identitystore::"+account+":identitystore/"+identityStoreID).Bytes()
	return NewObj(256).
		Str("type", "IdentityCenterUser").
		Str("accountId", account).
		Raw("onBehalfOf", ob).Bytes()
}
