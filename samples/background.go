package samples

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// rec is one rendered event of the file being built.
type rec struct {
	t          int64 // unix seconds
	seq        int   // emission order, to keep sorting stable
	start, end int   // bytes in gen.arena
}

// gen builds the events of one file (one account, region and 5-minute slot).
// Each worker owns one gen and reuses its buffers.
type gen struct {
	w      *world
	seed   uint64 // the corpus seed: credentials are derived from it, not from r
	r      *rand.Rand
	a      *account
	region string
	ri     int   // region index
	slot   int64 // unix seconds of the slot start

	arena []byte
	recs  []rec
}

func (g *gen) reset(a *account, ri int, slot int64, r *rand.Rand) {
	g.a, g.ri, g.region, g.slot, g.r = a, ri, g.w.regions[ri], slot, r
	g.arena = g.arena[:0]
	g.recs = g.recs[:0]
}

func (g *gen) emit(e *ct.Event) {
	start := len(g.arena)
	g.arena = e.AppendJSON(g.arena)
	g.recs = append(g.recs, rec{t: e.Time.Unix(), seq: len(g.recs), start: start, end: len(g.arena)})
}

func (g *gen) emitRaw(t int64, raw []byte) {
	start := len(g.arena)
	g.arena = append(g.arena, raw...)
	g.recs = append(g.recs, rec{t: t, seq: len(g.recs), start: start, end: len(g.arena)})
}

// appendRecords writes {"Records":[...]} sorted by time.
func (g *gen) appendRecords(dst []byte) []byte {
	sort.Slice(g.recs, func(i, j int) bool {
		if g.recs[i].t != g.recs[j].t {
			return g.recs[i].t < g.recs[j].t
		}
		return g.recs[i].seq < g.recs[j].seq
	})
	dst = append(dst, `{"Records":[`...)
	for i, rc := range g.recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, g.arena[rc.start:rc.end]...)
	}
	return append(dst, "]}"...)
}

// ---- small helpers ----

func (g *gen) pickS(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) uuid() string { return ct.UUID(g.r) }

func (g *gen) version() string {
	if g.r.IntN(4) == 0 {
		return "1.09"
	}
	return "1.08"
}

func (g *gen) host(svc string) string { return svc + "." + g.region + ".amazonaws.com" }

// credentialLifetime is how long a background role session's credential
// is used before the workload gets a new one (STS's default is an hour).
const credentialLifetime = 3600

// roleSession returns the credential a workload acting as role with
// session name session is using at t, and when it was issued. As in real
// CloudTrail, one credential makes many calls over its lifetime: the key
// is derived from the corpus seed, the role, the session name and the
// lifetime window t falls in (windows start at a per-session offset), so
// every file, whichever worker writes it, gives that session the same key.
func (g *gen) roleSession(role ct.Role, session string, t time.Time) (key string, created time.Time) {
	h := fnv.New64a()
	h.Write([]byte(role.ID))
	h.Write([]byte{0})
	h.Write([]byte(session))
	id := h.Sum64()
	offset := int64(ct.Mix(g.seed, 11, id) % credentialLifetime)
	window := (t.Unix() - offset) / credentialLifetime
	r := ct.NewRand(ct.Mix(g.seed, 12, id, uint64(window)), ct.Mix(g.seed, 13, id, uint64(window)))
	return ct.TempKeyID(r), time.Unix(window*credentialLifetime+offset, 0).UTC()
}

// roleIdentity is role's session named session at t, with the session's
// credential of that time.
func (g *gen) roleIdentity(role ct.Role, session string, t time.Time, opt ct.AssumedRoleOpts) []byte {
	key, created := g.roleSession(role, session, t)
	return ct.AssumedRoleIdentity(role, session, key, created, opt)
}

// base returns an API call event with the common fields filled in.
func (g *gen) base(t time.Time, source, name string, identity []byte, ip, agent string, readOnly bool) *ct.Event {
	svc := strings.TrimSuffix(source, ".amazonaws.com")
	return &ct.Event{
		Version:   g.version(),
		Identity:  identity,
		Time:      t,
		Source:    source,
		Name:      name,
		Region:    g.region,
		SourceIP:  ip,
		UserAgent: agent,
		RequestID: g.uuid(),
		EventID:   g.uuid(),
		ReadOnly:  readOnly,
		EventType: "AwsApiCall",
		Recipient: g.a.id,
		TLSHost:   g.host(svc),
	}
}

// caller is who makes an API call.
type caller struct {
	identity []byte
	ip       string
	agent    string
	console  bool
	service  bool // AWS service calling on a role's behalf: no TLS details
}

func (g *gen) sdkAgent(api string) string {
	a := g.pickS(sdkAgents)
	if strings.Contains(a, "%s") {
		return fmt.Sprintf(a, api)
	}
	return a
}

// human is an SSO user in the console or on the CLI.
func (g *gen) human(t time.Time, api string) caller {
	a := g.a
	var role ct.Role
	switch g.r.IntN(3) {
	case 0:
		role = a.ssoAdmin
	case 1:
		role = a.ssoReadOnly
	default:
		role = a.ssoDev
	}
	user := g.pickS(a.ssoUsers)
	id := g.roleIdentity(role, user, t, ct.AssumedRoleOpts{})
	if g.chance(0.6) {
		return caller{identity: id, ip: g.pickS(a.officeIPs), agent: "AWS Internal", console: true}
	}
	return caller{identity: id, ip: g.pickS(a.officeIPs), agent: fmt.Sprintf(cliAgent, api)}
}

func (g *gen) datadog(t time.Time) caller {
	id := g.roleIdentity(g.a.datadog, "DatadogAWSIntegration", t, ct.AssumedRoleOpts{})
	return caller{identity: id, ip: fmt.Sprintf("3.233.%d.%d", 144+g.r.IntN(16), 1+g.r.IntN(254)), agent: datadogAgent}
}

func (g *gen) config(t time.Time) caller {
	id := g.roleIdentity(g.a.config, "AWSConfig-Describe", t, ct.AssumedRoleOpts{InvokedBy: "config.amazonaws.com"})
	return caller{identity: id, ip: "config.amazonaws.com", agent: "config.amazonaws.com", service: true}
}

func (g *gen) terraform(t time.Time) caller {
	// One terraform run per credential lifetime: its session name is the
	// credential's.
	key, created := g.roleSession(g.a.terraform, "terraform", t)
	id := ct.AssumedRoleIdentity(g.a.terraform, "terraform-"+strings.ToLower(key[len(key)-8:]), key, created, ct.AssumedRoleOpts{})
	return caller{identity: id, ip: g.pickS(g.a.natIPs), agent: terraformAgent}
}

func (g *gen) ciRole(t time.Time) caller {
	id := g.roleIdentity(g.a.ci, "GitHubActions", t, ct.AssumedRoleOpts{})
	return caller{identity: id, ip: publicIP(g.r, []int{4, 13, 20, 40, 52}), agent: g.sdkAgent("sts")}
}

func (g *gen) lambda(t time.Time, api string) (caller, string) {
	i := g.r.IntN(len(g.a.functions))
	fn := g.a.functions[i]
	id := g.roleIdentity(g.a.lambdaRoles[i], fn, t, ct.AssumedRoleOpts{})
	return caller{identity: id, ip: publicIP(g.r, awsFirstOctets), agent: g.sdkAgent(api)}, fn
}

func (g *gen) node(t time.Time, agent string) (caller, string) {
	inst := g.pickS(g.a.instances)
	id := g.roleIdentity(g.a.eksNode, inst, t, ct.AssumedRoleOpts{EC2RoleDelivery: true})
	return caller{identity: id, ip: g.pickS(g.a.natIPs), agent: agent}, inst
}

func (g *gen) callerEvent(t time.Time, source, name string, c caller, readOnly bool) *ct.Event {
	e := g.base(t, source, name, c.identity, c.ip, c.agent, readOnly)
	if c.console {
		e.FromConsole = true
	}
	if c.service {
		e.TLSHost = ""
	}
	return e
}

func items(key string, vals ...string) []byte {
	var it [][]byte
	for _, v := range vals {
		it = append(it, ct.NewObj(64).Str(key, v).Bytes())
	}
	return ct.NewObj(128).Raw("items", ct.Arr(it...)).Bytes()
}

func filterSet(name string, vals ...string) []byte {
	var it [][]byte
	for _, v := range vals {
		it = append(it, ct.NewObj(48).Str("value", v).Bytes())
	}
	f := ct.NewObj(128).Str("name", name).Raw("valueSet", ct.NewObj(128).Raw("items", ct.Arr(it...)).Bytes()).Bytes()
	return ct.NewObj(160).Raw("items", ct.Arr(f)).Bytes()
}

var emptyObj = []byte("{}")

// awsDate is the format CloudTrail uses inside some request/response fields.
func awsDate(t time.Time) string { return t.UTC().Format("Jan 2, 2006, 3:04:05 PM") }

// ---- templates ----

// template emits n events starting at time t; span is how long the sequence
// lasts (0 for single events).
type template struct {
	weight int
	n      int
	span   int64
	fn     func(g *gen, t time.Time)
}

func tEC2Describe(g *gen, t time.Time) {
	var c caller
	switch g.r.IntN(5) {
	case 0:
		c = g.datadog(t)
	case 1:
		c = g.config(t)
	case 2:
		c, _ = g.node(t, eksAgent)
	case 3:
		c = g.terraform(t)
	default:
		c = g.human(t, "ec2.describe-instances")
	}
	var name string
	var req []byte
	switch g.r.IntN(8) {
	case 0:
		name = "DescribeInstances"
		if g.chance(0.5) {
			req = ct.NewObj(256).Raw("instancesSet", items("instanceId", g.pickS(g.a.instances))).Raw("filterSet", emptyObj).Bytes()
		} else {
			req = ct.NewObj(128).Int("maxResults", 1000).Raw("instancesSet", emptyObj).Raw("filterSet", emptyObj).Bytes()
		}
	case 1:
		name = "DescribeSecurityGroups"
		req = ct.NewObj(128).Raw("securityGroupSet", emptyObj).Raw("securityGroupIdSet", emptyObj).Raw("filterSet", filterSet("vpc-id", g.pickS(g.a.vpcs))).Bytes()
	case 2:
		name = "DescribeVolumes"
		req = ct.NewObj(128).Raw("volumeSet", emptyObj).Raw("filterSet", emptyObj).Int("maxResults", 500).Bytes()
	case 3:
		name = "DescribeSubnets"
		req = ct.NewObj(256).Raw("subnetSet", emptyObj).Raw("filterSet", filterSet("vpc-id", g.pickS(g.a.vpcs))).Bytes()
	case 4:
		name = "DescribeVpcs"
		req = ct.NewObj(64).Raw("vpcSet", emptyObj).Raw("filterSet", emptyObj).Bytes()
	case 5:
		name = "DescribeNetworkInterfaces"
		req = ct.NewObj(256).Raw("networkInterfaceIdSet", emptyObj).Raw("filterSet", filterSet("attachment.instance-id", g.pickS(g.a.instances))).Bytes()
	case 6:
		name = "DescribeInstanceStatus"
		req = ct.NewObj(128).Raw("instancesSet", emptyObj).Raw("filterSet", emptyObj).Bool("includeAllInstances", true).Bytes()
	default:
		name = "DescribeTags"
		req = ct.NewObj(256).Raw("filterSet", filterSet("resource-id", g.pickS(g.a.instances))).Bytes()
	}
	e := g.callerEvent(t, "ec2.amazonaws.com", name, c, true)
	e.RequestParameters = req
	if g.chance(0.01) {
		e.ErrorCode = "Client.UnauthorizedOperation"
		e.ErrorMessage = "You are not authorized to perform this operation. User: " + arnOf(c.identity) + " is not authorized to perform: ec2:" + name + " because no identity-based policy allows the ec2:" + name + " action"
	}
	g.emit(e)
}

// arnOf pulls the first "arn" value out of an identity (for error messages).
func arnOf(identity []byte) string {
	s := string(identity)
	i := strings.Index(s, `"arn":"`)
	if i < 0 {
		return "unknown"
	}
	s = s[i+7:]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return s
}

var assumeServices = []string{"lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "config.amazonaws.com", "eks.amazonaws.com"}

func (g *gen) sessionToken() string {
	return "IQoJb3JpZ2luX2VjE" + ct.Base64(g.r, 600+g.r.IntN(300))
}

func tAssumeRoleService(g *gen, t time.Time) {
	svc := g.pickS(assumeServices)
	var role ct.Role
	var session string
	switch svc {
	case "lambda.amazonaws.com":
		i := g.r.IntN(len(g.a.functions))
		role, session = g.a.lambdaRoles[i], g.a.functions[i]
	case "ec2.amazonaws.com", "eks.amazonaws.com":
		role, session = g.a.eksNode, g.pickS(g.a.instances)
	case "config.amazonaws.com":
		role, session = g.a.config, "AWSConfig-Describe"
	default:
		role, session = g.a.lambdaRoles[0], ct.Hex(g.r, 32)
	}
	e := g.base(t, "sts.amazonaws.com", "AssumeRole", ct.AWSServiceIdentity(svc), svc, svc, true)
	e.TLSHost = ""
	e.RequestParameters = ct.NewObj(256).Str("roleArn", role.ARN()).Str("roleSessionName", session).Bytes()
	cred := ct.NewObj(1024).
		Str("accessKeyId", ct.TempKeyID(g.r)).
		Str("sessionToken", g.sessionToken()).
		Str("expiration", awsDate(t.Add(time.Hour))).Bytes()
	e.ResponseElements = ct.NewObj(1100).Raw("credentials", cred).Bytes()
	e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::IAM::Role").Str("ARN", role.ARN()).Bytes())
	e.SharedEventID = g.uuid()
	g.emit(e)
}

func tAssumeRoleWebIdentity(g *gen, t time.Time) {
	id := ct.NewObj(512).
		Str("type", "WebIdentityUser").
		Str("principalId", g.a.oidcProvider+":sts.amazonaws.com:"+g.a.repo).
		Str("userName", g.a.repo).
		Str("identityProvider", g.a.oidcProvider).Bytes()
	ip := publicIP(g.r, []int{4, 13, 20, 40, 52})
	e := g.base(t, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", id, ip, "aws-sdk-nodejs/2.1560.0 linux/v20.11.1 configure-aws-credentials-for-github-actions promise", true)
	e.TLSHost = "sts.amazonaws.com"
	session := "GitHubActions"
	e.RequestParameters = ct.NewObj(256).Str("roleArn", g.a.ci.ARN()).Str("roleSessionName", session).Int("durationSeconds", 3600).Bytes()
	cred := ct.NewObj(1024).
		Str("accessKeyId", ct.TempKeyID(g.r)).
		Str("sessionToken", g.sessionToken()).
		Str("expiration", awsDate(t.Add(time.Hour))).Bytes()
	aru := ct.NewObj(256).Str("assumedRoleId", g.a.ci.ID+":"+session).Str("arn", g.a.ci.SessionARN(session)).Bytes()
	e.ResponseElements = ct.NewObj(1400).Raw("credentials", cred).Str("subjectFromWebIdentityToken", g.a.repo).Raw("assumedRoleUser", aru).Str("provider", g.a.oidcProvider).Str("audience", "sts.amazonaws.com").Bytes()
	e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::IAM::Role").Str("ARN", g.a.ci.ARN()).Bytes())
	e.SharedEventID = g.uuid()
	g.emit(e)
}

func (g *gen) keyARN() string {
	return "arn:aws:kms:" + g.region + ":" + g.a.id + ":key/" + g.pickS(g.a.kmsKeys)
}

func tKMSDecrypt(g *gen, t time.Time) {
	key := g.keyARN()
	var e *ct.Event
	if g.chance(0.5) {
		c, fn := g.lambda(t, "kms")
		e = g.callerEvent(t, "kms.amazonaws.com", "Decrypt", c, true)
		ec := ct.NewObj(128).Str("aws:lambda:FunctionArn", "arn:aws:lambda:"+g.region+":"+g.a.id+":function:"+fn).Bytes()
		e.RequestParameters = ct.NewObj(256).Raw("encryptionContext", ec).Str("encryptionAlgorithm", "SYMMETRIC_DEFAULT").Bytes()
	} else {
		c, _ := g.node(t, eksAgent)
		c.identity = g.roleIdentity(g.a.eksNode, g.pickS(g.a.instances), t, ct.AssumedRoleOpts{EC2RoleDelivery: true, InvokedBy: "s3.amazonaws.com"})
		c.ip, c.agent, c.service = "s3.amazonaws.com", "s3.amazonaws.com", true
		e = g.callerEvent(t, "kms.amazonaws.com", "Decrypt", c, true)
		obj := "arn:aws:s3:::" + g.pickS(g.a.buckets) + "/" + ct.Hex(g.r, 2) + "/" + ct.Hex(g.r, 24) + ".parquet"
		ec := ct.NewObj(128).Str("aws:s3:arn", obj).Bytes()
		e.RequestParameters = ct.NewObj(256).Str("keyId", key).Raw("encryptionContext", ec).Str("encryptionAlgorithm", "SYMMETRIC_DEFAULT").Bytes()
	}
	e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::KMS::Key").Str("ARN", key).Bytes())
	g.emit(e)
}

func tKMSCloudTrail(g *gen, t time.Time) {
	key := "arn:aws:kms:us-east-1:" + g.a.id + ":key/" + g.a.kmsKeys[0]
	e := g.base(t, "kms.amazonaws.com", "GenerateDataKey", ct.AWSServiceIdentity("cloudtrail.amazonaws.com"), "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com", true)
	e.TLSHost = ""
	ts := t.UTC().Format("20060102T1504Z")
	obj := "arn:aws:s3:::" + g.a.logBucket + "/AWSLogs/" + g.a.id + "/CloudTrail/" + g.region + "/" + t.UTC().Format("2006/01/02") + "/" + g.a.id + "_CloudTrail_" + g.region + "_" + ts + "_" + ct.Alnum(g.r, 16) + ".json.gz"
	ec := ct.NewObj(384).Str("aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:"+g.a.id+":trail/"+g.a.trail).Str("aws:s3:arn", obj).Bytes()
	e.RequestParameters = ct.NewObj(640).Str("keyId", key).Raw("encryptionContext", ec).Str("keySpec", "AES_256").Bytes()
	e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::KMS::Key").Str("ARN", key).Bytes())
	e.SharedEventID = g.uuid()
	g.emit(e)
}

func tGetCallerIdentity(g *gen, t time.Time) {
	var c caller
	switch g.r.IntN(4) {
	case 0:
		c = g.ciRole(t)
	case 1:
		c = g.terraform(t)
	case 2:
		c = g.human(t, "sts.get-caller-identity")
		c.console, c.agent = false, fmt.Sprintf(cliAgent, "sts.get-caller-identity")
	default:
		c = caller{identity: ct.IAMUserKeyIdentity(g.a.ciUser, g.a.ciKey), ip: g.pickS(g.a.natIPs), agent: g.sdkAgent("sts")}
	}
	e := g.callerEvent(t, "sts.amazonaws.com", "GetCallerIdentity", c, true)
	g.emit(e)
}

func tDescribeLogStreams(g *gen, t time.Time) {
	var c caller
	if g.chance(0.6) {
		c = g.datadog(t)
	} else {
		c = g.human(t, "logs.describe-log-streams")
	}
	e := g.callerEvent(t, "logs.amazonaws.com", "DescribeLogStreams", c, true)
	e.RequestParameters = ct.NewObj(192).Str("logGroupName", "/aws/lambda/"+g.pickS(g.a.functions)).Str("orderBy", "LastEventTime").Bool("descending", true).Int("limit", 50).Bytes()
	g.emit(e)
}

func tCreateLogStream(g *gen, t time.Time) {
	c, fn := g.lambda(t, "logs")
	c.agent = "awslambda-worker/1.0 rusoto/0.48.0 rust/1.69.0 linux"
	e := g.callerEvent(t, "logs.amazonaws.com", "CreateLogStream", c, false)
	stream := t.UTC().Format("2006/01/02") + "/[$LATEST]" + ct.Hex(g.r, 32)
	e.RequestParameters = ct.NewObj(192).Str("logGroupName", "/aws/lambda/"+fn).Str("logStreamName", stream).Bytes()
	g.emit(e)
}

func (g *gen) s3Extra() []byte {
	return ct.NewObj(256).
		Str("SignatureVersion", "SigV4").
		Str("CipherSuite", "TLS_AES_128_GCM_SHA256").
		Int("bytesTransferredIn", 0).
		Str("AuthenticationMethod", "AuthHeader").
		Str("x-amz-id-2", ct.Base64(g.r, 76)+"=").
		Int("bytesTransferredOut", int64(200+g.r.IntN(4000))).Bytes()
}

func tS3ListBuckets(g *gen, t time.Time) {
	var c caller
	switch g.r.IntN(3) {
	case 0:
		c = g.datadog(t)
	case 1:
		c = g.human(t, "s3.ls")
	default:
		c = g.terraform(t)
	}
	e := g.callerEvent(t, "s3.amazonaws.com", "ListBuckets", c, true)
	e.Version = "1.09"
	e.RequestID = ct.S3RequestID(g.r)
	e.TLSHost = "s3.amazonaws.com"
	e.RequestParameters = ct.NewObj(48).Str("Host", "s3.amazonaws.com").Bytes()
	e.AdditionalEventData = g.s3Extra()
	g.emit(e)
}

var bucketReads = []string{"GetBucketAcl", "GetBucketPolicy", "GetBucketEncryption", "GetBucketVersioning", "GetBucketLocation", "GetBucketPublicAccessBlock", "GetBucketTagging"}

var bucketSubresource = map[string]string{
	"GetBucketAcl": "acl", "GetBucketPolicy": "policy", "GetBucketEncryption": "encryption",
	"GetBucketVersioning": "versioning", "GetBucketLocation": "location",
	"GetBucketPublicAccessBlock": "publicAccessBlock", "GetBucketTagging": "tagging",
}

func tS3BucketRead(g *gen, t time.Time) {
	var c caller
	if g.chance(0.7) {
		c = g.config(t)
	} else {
		c = g.datadog(t)
	}
	bucket := g.pickS(g.a.buckets)
	name := g.pickS(bucketReads)
	e := g.callerEvent(t, "s3.amazonaws.com", name, c, true)
	e.Version = "1.09"
	e.RequestID = ct.S3RequestID(g.r)
	sub := bucketSubresource[name]
	host := bucket + ".s3." + g.region + ".amazonaws.com"
	e.RequestParameters = ct.NewObj(192).Str("bucketName", bucket).Str("Host", host).Str(sub, "").Bytes()
	e.AdditionalEventData = g.s3Extra()
	e.Resources = ct.Arr(ct.NewObj(128).Str("accountId", g.a.id).Str("type", "AWS::S3::Bucket").Str("ARN", "arn:aws:s3:::"+bucket).Bytes())
	if !c.service {
		e.TLSHost = host
	}
	if name == "GetBucketPolicy" && g.chance(0.5) {
		e.ErrorCode = "NoSuchBucketPolicy"
		e.ErrorMessage = "The bucket policy does not exist"
	}
	g.emit(e)
}

var metricNames = []string{"CPUUtilization", "NetworkIn", "NetworkOut", "StatusCheckFailed", "DiskReadOps"}

func tMonitoring(g *gen, t time.Time) {
	c := g.datadog(t)
	if g.chance(0.8) {
		e := g.callerEvent(t, "monitoring.amazonaws.com", "GetMetricData", c, true)
		dim := ct.Arr(ct.NewObj(96).Str("name", "InstanceId").Str("value", g.pickS(g.a.instances)).Bytes())
		metric := ct.NewObj(256).Str("namespace", "AWS/EC2").Str("metricName", g.pickS(metricNames)).Raw("dimensions", dim).Bytes()
		stat := ct.NewObj(320).Raw("metric", metric).Int("period", 300).Str("stat", "Average").Bytes()
		q := ct.NewObj(400).Str("id", "m"+ct.Hex(g.r, 6)).Raw("metricStat", stat).Bool("returnData", true).Bytes()
		end := t.Truncate(5 * time.Minute)
		e.RequestParameters = ct.NewObj(600).Raw("metricDataQueries", ct.Arr(q)).Str("startTime", awsDate(end.Add(-20*time.Minute))).Str("endTime", awsDate(end)).Bytes()
		g.emit(e)
		return
	}
	e := g.callerEvent(t, "monitoring.amazonaws.com", "DescribeAlarms", c, true)
	e.RequestParameters = ct.NewObj(64).Int("maxRecords", 100).Bytes()
	g.emit(e)
}

func tLambdaRead(g *gen, t time.Time) {
	c := g.datadog(t)
	if g.chance(0.3) {
		c = g.config(t)
	}
	if g.chance(0.5) {
		e := g.callerEvent(t, "lambda.amazonaws.com", "ListFunctions20150331", c, true)
		e.RequestParameters = ct.NewObj(48).Str("functionVersion", "ALL").Bytes()
		g.emit(e)
		return
	}
	e := g.callerEvent(t, "lambda.amazonaws.com", "GetFunction20150331v2", c, true)
	e.RequestParameters = ct.NewObj(64).Str("functionName", g.pickS(g.a.functions)).Bytes()
	g.emit(e)
}

func tSSMGetParameters(g *gen, t time.Time) {
	c, _ := g.lambda(t, "ssm")
	e := g.callerEvent(t, "ssm.amazonaws.com", "GetParameters", c, true)
	e.RequestParameters = ct.NewObj(128).Raw("names", ct.StrArr(g.pickS(paramNames))).Bool("withDecryption", true).Bytes()
	g.emit(e)
}

func tSSMUpdateInstance(g *gen, t time.Time) {
	c, inst := g.node(t, ssmAgent)
	e := g.callerEvent(t, "ssm.amazonaws.com", "UpdateInstanceInformation", c, false)
	ip := fmt.Sprintf("10.0.%d.%d", g.r.IntN(64), 1+g.r.IntN(254))
	az := g.region + string(rune('a'+g.r.IntN(3)))
	e.RequestParameters = ct.NewObj(512).
		Str("instanceId", inst).
		Str("agentVersion", "3.2.2303.0").
		Str("agentStatus", "Active").
		Str("platformType", "Linux").
		Str("platformName", "Amazon Linux").
		Str("platformVersion", "2023").
		Str("iPAddress", ip).
		Str("computerName", "ip-"+strings.ReplaceAll(ip, ".", "-")+"."+g.region+".compute.internal").
		Str("agentName", "amazon-ssm-agent").
		Str("availabilityZone", az).
		Str("sSMConnectionChannel", "ssmmessages").Bytes()
	if g.chance(0.3) {
		e.VPCEndpointID = g.a.vpcEndpoint
		e.SourceIP = ip
	}
	g.emit(e)
}

func tSecretsManager(g *gen, t time.Time) {
	c, _ := g.lambda(t, "secretsmanager")
	e := g.callerEvent(t, "secretsmanager.amazonaws.com", "GetSecretValue", c, true)
	secret := "arn:aws:secretsmanager:" + g.region + ":" + g.a.id + ":secret:" + g.pickS(secretNames) + "-" + ct.Alnum(g.r, 6)
	e.RequestParameters = ct.NewObj(192).Str("secretId", secret).Bytes()
	if g.chance(0.01) {
		e.ErrorCode = "ResourceNotFoundException"
		e.ErrorMessage = "Secrets Manager can't find the specified secret."
	}
	g.emit(e)
}

func tCloudTrailRead(g *gen, t time.Time) {
	c := g.human(t, "cloudtrail.lookup-events")
	names := []string{"DescribeTrails", "GetTrailStatus", "LookupEvents", "ListTrails"}
	name := g.pickS(names)
	e := g.callerEvent(t, "cloudtrail.amazonaws.com", name, c, true)
	switch name {
	case "GetTrailStatus":
		e.RequestParameters = ct.NewObj(128).Str("name", "arn:aws:cloudtrail:us-east-1:"+g.a.id+":trail/"+g.a.trail).Bytes()
	case "LookupEvents":
		e.RequestParameters = ct.NewObj(192).Str("startTime", awsDate(t.Add(-24*time.Hour))).Str("endTime", awsDate(t)).Int("maxResults", 50).Bytes()
	case "DescribeTrails":
		e.RequestParameters = ct.NewObj(64).Bool("includeShadowTrails", true).Bytes()
	}
	g.emit(e)
}

func tECR(g *gen, t time.Time) {
	c, _ := g.node(t, eksAgent)
	e := g.callerEvent(t, "ecr.amazonaws.com", "GetAuthorizationToken", c, true)
	e.RequestParameters = ct.NewObj(64).Raw("registryIds", ct.StrArr(g.a.id)).Bytes()
	g.emit(e)
}

func tELB(g *gen, t time.Time) {
	c := g.datadog(t)
	e := g.callerEvent(t, "elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", c, true)
	e.RequestParameters = ct.NewObj(192).Str("targetGroupArn", "arn:aws:elasticloadbalancing:"+g.region+":"+g.a.id+":targetgroup/"+g.pickS(g.a.targetGroups)).Bytes()
	g.emit(e)
}

func tDynamoDB(g *gen, t time.Time) {
	c, _ := g.lambda(t, "dynamodb")
	if g.chance(0.4) {
		c = g.datadog(t)
	}
	e := g.callerEvent(t, "dynamodb.amazonaws.com", "DescribeTable", c, true)
	table := g.pickS(tableNames)
	e.RequestParameters = ct.NewObj(64).Str("tableName", table).Bytes()
	e.Resources = ct.Arr(ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::DynamoDB::Table").Str("ARN", "arn:aws:dynamodb:"+g.region+":"+g.a.id+":table/"+table).Bytes())
	g.emit(e)
}

func tEC2CreateTags(g *gen, t time.Time) {
	c := g.terraform(t)
	e := g.callerEvent(t, "ec2.amazonaws.com", "CreateTags", c, false)
	tags := ct.NewObj(192).Raw("items", ct.Arr(
		ct.NewObj(64).Str("key", "Owner").Str("value", "platform").Bytes(),
		ct.NewObj(64).Str("key", "CostCenter").Str("value", "cc-"+ct.Hex(g.r, 4)).Bytes())).Bytes()
	e.RequestParameters = ct.NewObj(256).Raw("resourcesSet", items("resourceId", g.pickS(g.a.instances))).Raw("tagSet", tags).Bytes()
	e.ResponseElements = ct.NewObj(96).Str("requestId", e.RequestID).Bool("_return", true).Bytes()
	g.emit(e)
}

func tLambdaUpdate(g *gen, t time.Time) {
	id := g.roleIdentity(g.a.ci, "GitHubActions", t, ct.AssumedRoleOpts{})
	c := caller{identity: id, ip: publicIP(g.r, []int{4, 13, 20, 40, 52}), agent: g.sdkAgent("lambda")}
	fn := g.pickS(g.a.functions)
	e := g.callerEvent(t, "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", c, false)
	e.RequestParameters = ct.NewObj(256).Str("functionName", fn).Str("s3Bucket", g.a.buckets[2]).Str("s3Key", fn+"/"+ct.Hex(g.r, 40)+".zip").Bool("publish", true).Bool("dryRun", false).Bytes()
	e.ResponseElements = ct.NewObj(512).
		Str("functionName", fn).
		Str("functionArn", "arn:aws:lambda:"+g.region+":"+g.a.id+":function:"+fn).
		Str("runtime", "python3.11").
		Str("handler", "app.handler").
		Int("codeSize", int64(100000+g.r.IntN(5000000))).
		Str("codeSha256", ct.Base64(g.r, 43)+"=").
		Str("version", fmt.Sprint(1+g.r.IntN(200))).
		Str("state", "Active").
		Str("lastUpdateStatus", "InProgress").Bytes()
	g.emit(e)
}

var iamReads = []string{"GetRole", "ListRoles", "GetAccountSummary", "ListAttachedRolePolicies", "GetPolicyVersion", "ListUsers", "GetAccountPasswordPolicy"}

func tIAMRead(g *gen, t time.Time) {
	var c caller
	switch g.r.IntN(3) {
	case 0:
		c = g.config(t)
	case 1:
		c = g.terraform(t)
	default:
		c = g.datadog(t)
	}
	name := g.pickS(iamReads)
	e := g.callerEvent(t, "iam.amazonaws.com", name, c, true)
	if !c.service {
		e.TLSHost = "iam.amazonaws.com"
	}
	switch name {
	case "GetRole", "ListAttachedRolePolicies":
		e.RequestParameters = ct.NewObj(64).Str("roleName", g.a.lambdaRoles[g.r.IntN(len(g.a.lambdaRoles))].Name).Bytes()
	case "GetPolicyVersion":
		e.RequestParameters = ct.NewObj(128).Str("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess").Str("versionId", fmt.Sprintf("v%d", 100+g.r.IntN(30))).Bytes()
	case "ListRoles", "ListUsers":
		e.RequestParameters = ct.NewObj(48).Int("maxItems", 100).Bytes()
	}
	g.emit(e)
}

// tIAMListMFA is a read-only look at MFA devices (the console's security
// credentials page): it must not count as an MFA device change.
func tIAMListMFA(g *gen, t time.Time) {
	c := g.human(t, "iam.list-mfa-devices")
	name := "ListMFADevices"
	if g.chance(0.4) {
		name = "ListVirtualMFADevices"
	}
	e := g.callerEvent(t, "iam.amazonaws.com", name, c, true)
	e.TLSHost = "iam.amazonaws.com"
	if name == "ListMFADevices" {
		e.RequestParameters = ct.NewObj(64).Str("userName", g.a.consoleUsers[g.r.IntN(len(g.a.consoleUsers))].Name).Bytes()
	} else {
		e.RequestParameters = ct.NewObj(64).Str("assignmentStatus", "Any").Bytes()
	}
	g.emit(e)
}

// ---- background sign-ins (us-east-1 only) ----

func tIAMUserLogin(g *gen, t time.Time) {
	u := g.a.consoleUsers[g.r.IntN(len(g.a.consoleUsers))]
	c := ct.ConsoleLogin{
		Account:       g.a.id,
		Identity:      ct.IAMUserSignInIdentity(u.User, true),
		Time:          t,
		IP:            u.ip,
		UserAgent:     u.agent,
		EventID:       g.uuid(),
		Version:       g.version(),
		Success:       true,
		MFAUsed:       "Yes",
		MFAIdentifier: ct.MFASerial(g.a.id, u.device),
	}
	g.emit(c.Event())
}

func tSSOLogin(g *gen, t time.Time) {
	role := g.a.ssoAdmin
	if g.chance(0.5) {
		role = g.a.ssoReadOnly
	}
	user := g.pickS(g.a.ssoUsers)
	c := ct.ConsoleLogin{
		Account:   g.a.id,
		Identity:  ct.AssumedRoleIdentity(role, user, ct.TempKeyID(g.r), t.Add(-time.Duration(1+g.r.IntN(20))*time.Second), ct.AssumedRoleOpts{}),
		Time:      t,
		IP:        g.pickS(g.a.officeIPs),
		UserAgent: g.pickS(browserAgents),
		EventID:   g.uuid(),
		Version:   g.version(),
		Success:   true,
		MFAUsed:   "No",
		NoLoginTo: true,
	}
	g.emit(c.Event())
}

// tSAMLLogin is AssumeRoleWithSAML followed by the federated ConsoleLogin.
func tSAMLLogin(g *gen, t time.Time) {
	user := g.pickS(g.a.ssoUsers)
	ip := g.pickS(g.a.officeIPs)
	agent := g.pickS(browserAgents)
	idpHash := ct.Base64(g.r, 27) + "="
	samlID := ct.NewObj(256).
		Str("type", "SAMLUser").
		Str("principalId", idpHash+":"+user).
		Str("userName", user).
		Str("identityProvider", idpHash).Bytes()
	e := g.base(t, "sts.amazonaws.com", "AssumeRoleWithSAML", samlID, ip, agent, true)
	e.Region = "us-east-1"
	e.TLSHost = "sts.amazonaws.com"
	e.RequestParameters = ct.NewObj(256).Str("sAMLAssertionID", "_"+ct.Hex(g.r, 32)).Str("roleSessionName", user).Str("roleArn", g.a.saml.ARN()).Str("principalArn", g.a.samlProvider).Int("durationSeconds", 3600).Bytes()
	cred := ct.NewObj(1024).Str("accessKeyId", ct.TempKeyID(g.r)).Str("sessionToken", g.sessionToken()).Str("expiration", awsDate(t.Add(time.Hour))).Bytes()
	aru := ct.NewObj(256).Str("assumedRoleId", g.a.saml.ID+":"+user).Str("arn", g.a.saml.SessionARN(user)).Bytes()
	e.ResponseElements = ct.NewObj(1400).Raw("credentials", cred).Raw("assumedRoleUser", aru).Int("packedPolicySize", 7).Str("subject", user).Str("subjectType", "persistent").Str("issuer", "http://www.okta.com/exk"+ct.Alnum(g.r, 17)).Str("audience", "https://signin.aws.amazon.com/saml").Str("nameQualifier", ct.Base64(g.r, 27)+"=").Bytes()
	e.Resources = ct.Arr(
		ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::IAM::Role").Str("ARN", g.a.saml.ARN()).Bytes(),
		ct.NewObj(160).Str("accountId", g.a.id).Str("type", "AWS::IAM::SAMLProvider").Str("ARN", g.a.samlProvider).Bytes())
	e.SharedEventID = g.uuid()
	g.emit(e)

	lt := t.Add(time.Duration(1+g.r.IntN(3)) * time.Second)
	c := ct.ConsoleLogin{
		Account:      g.a.id,
		Identity:     ct.AssumedRoleIdentity(g.a.saml, user, ct.TempKeyID(g.r), t, ct.AssumedRoleOpts{}),
		Time:         lt,
		IP:           ip,
		UserAgent:    agent,
		EventID:      g.uuid(),
		Version:      g.version(),
		Success:      true,
		MFAUsed:      "No",
		SAMLProvider: g.a.samlProvider,
		LoginTo:      "https://console.aws.amazon.com/console/home?region=us-east-1",
	}
	g.emit(c.Event())
}

// tIdCLogin is a successful Identity Center sign-in: password then TOTP.
func tIdCLogin(g *gen, t time.Time) {
	u := g.a.idcUsers[g.r.IntN(len(g.a.idcUsers))]
	agent := g.pickS(browserAgents)
	for _, s := range idcSteps(g.r, g.a, u.name, u.id, u.ip, agent, t, "TOTP", true) {
		g.emit(s.Event())
	}
}

// idcSteps builds an Identity Center sign-in workflow: password challenge and
// verification, then the second factor. ok=false makes the second factor
// fail (and no UserAuthentication follows).
func idcSteps(r *rand.Rand, a *account, user, userID, ip, agent string, t time.Time, factor string, ok bool) []ct.IdCStep {
	wf := ct.UUID(r)
	mk := func(name, ctype, result string) ct.IdCStep {
		return ct.IdCStep{
			Account: a.id, Region: "us-east-1", UserID: userID, IdentityStoreID: a.identityStore,
			UserName: user, WorkflowID: wf, Time: t, IP: ip, UserAgent: agent,
			EventID: ct.UUID(r), RequestID: ct.UUID(r), Name: name, CredentialType: ctype, Result: result,
		}
	}
	var steps []ct.IdCStep
	steps = append(steps, mk("CredentialChallenge", "PASSWORD", "Success"))
	t = t.Add(time.Duration(4+r.IntN(12)) * time.Second)
	steps = append(steps, mk("CredentialVerification", "PASSWORD", "Success"))
	t = t.Add(time.Second)
	steps = append(steps, mk("CredentialChallenge", factor, "Success"))
	t = t.Add(time.Duration(6+r.IntN(20)) * time.Second)
	if !ok {
		steps = append(steps, mk("CredentialVerification", factor, "Failure"))
		return steps
	}
	steps = append(steps, mk("CredentialVerification", factor, "Success"))
	t = t.Add(time.Second)
	steps = append(steps, mk("UserAuthentication", "", "Success"))
	return steps
}

// Template tables. Weights are relative (per ~10,000 events).
var regionalTemplates = []template{
	{weight: 2200, n: 1, fn: tEC2Describe},
	{weight: 1300, n: 1, fn: tAssumeRoleService},
	{weight: 100, n: 1, fn: tAssumeRoleWebIdentity},
	{weight: 900, n: 1, fn: tKMSDecrypt},
	{weight: 150, n: 1, fn: tKMSCloudTrail},
	{weight: 500, n: 1, fn: tGetCallerIdentity},
	{weight: 450, n: 1, fn: tDescribeLogStreams},
	{weight: 250, n: 1, fn: tS3ListBuckets},
	{weight: 500, n: 1, fn: tS3BucketRead},
	{weight: 600, n: 1, fn: tMonitoring},
	{weight: 300, n: 1, fn: tLambdaRead},
	{weight: 350, n: 1, fn: tSSMGetParameters},
	{weight: 300, n: 1, fn: tSecretsManager},
	{weight: 150, n: 1, fn: tCloudTrailRead},
	{weight: 200, n: 1, fn: tECR},
	{weight: 300, n: 1, fn: tELB},
	{weight: 250, n: 1, fn: tDynamoDB},
	// write calls
	{weight: 220, n: 1, fn: tCreateLogStream},
	{weight: 180, n: 1, fn: tSSMUpdateInstance},
	{weight: 50, n: 1, fn: tEC2CreateTags},
	{weight: 30, n: 1, fn: tLambdaUpdate},
}

var usEast1Templates = []template{
	{weight: 500, n: 1, fn: tIAMRead},
	{weight: 15, n: 1, fn: tIAMListMFA},
	{weight: 6, n: 1, fn: tIAMUserLogin},
	{weight: 6, n: 1, fn: tSSOLogin},
	{weight: 3, n: 2, span: 4, fn: tSAMLLogin},
}

var idcTemplates = []template{
	{weight: 3, n: 5, span: 60, fn: tIdCLogin},
}

// table is a weighted template list with cumulative weights.
type table struct {
	ts  []template
	cum []int
}

func newTable(parts ...[]template) *table {
	t := &table{}
	total := 0
	for _, p := range parts {
		for _, tp := range p {
			total += tp.weight
			t.ts = append(t.ts, tp)
			t.cum = append(t.cum, total)
		}
	}
	return t
}

func (tb *table) pick(r *rand.Rand) *template {
	x := r.IntN(tb.cum[len(tb.cum)-1])
	i := sort.SearchInts(tb.cum, x+1)
	return &tb.ts[i]
}

var (
	tableRegional = newTable(regionalTemplates)
	tableUSEast1  = newTable(regionalTemplates, usEast1Templates)
	tableIdC      = newTable(regionalTemplates, usEast1Templates, idcTemplates)
)

// fill emits n background events into the slot.
func (g *gen) fill(n int) {
	tb := tableRegional
	if g.region == "us-east-1" {
		tb = tableUSEast1
		if g.a.identityStore != "" {
			tb = tableIdC
		}
	}
	for n > 0 {
		tp := tb.pick(g.r)
		if tp.n > n {
			tp = &regionalTemplates[0]
		}
		off := g.r.Int64N(slotSeconds - tp.span)
		tp.fn(g, time.Unix(g.slot+off, 0).UTC())
		n -= tp.n
	}
}
