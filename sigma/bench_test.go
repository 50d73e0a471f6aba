package sigma

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailsift/trailsift/ingest"
	"github.com/trailsift/trailsift/lake"
	"github.com/trailsift/trailsift/query"
	"github.com/trailsift/trailsift/samples"
)

const benchChunk = 1_000_000

func envInt(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("%s=%q: want a positive number", name, s)
		}
		return v
	}
	return def
}

// BenchmarkDetect runs N generated Sigma rules (TRAILSIFT_SIGMA_RULES,
// default 800, shaped as Sigma's CloudTrail rules are: see benchRules)
// over a generated corpus of
// TRAILSIFT_BENCH_EVENTS events (default 100k) in a database file opened
// read-only, and prints the time of one run.
//
//	TRAILSIFT_BENCH_EVENTS=1000000 go test ./sigma/ -run '^$' -bench Detect -benchtime 1x
func BenchmarkDetect(b *testing.B) {
	nEvents := envInt(b, "TRAILSIFT_BENCH_EVENTS", 100_000)
	nRules := envInt(b, "TRAILSIFT_SIGMA_RULES", 800)
	ctx := context.Background()
	// TRAILSIFT_BENCH_DB keeps the database of the generated events, to
	// measure several builds on the same events: it is made once, when
	// the file does not exist yet.
	path := os.Getenv("TRAILSIFT_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.duckdb")
	}
	_, statErr := os.Stat(path)
	s, err := query.Open(ctx, path, false)
	if err != nil {
		b.Fatal(err)
	}
	// Over a million events, the corpus is generated and ingested a
	// million at a time (seeds 7, 8, ...): one load of ten million runs
	// out of the store's memory limit.
	for done, seed := 0, int64(7); statErr != nil && done < nEvents; done, seed = done+benchChunk, seed+1 {
		corpus := b.TempDir()
		if _, err := samples.Generate(samples.Options{Out: corpus, Events: min(benchChunk, nEvents-done), Days: 2, Seed: seed}); err != nil {
			b.Fatal(err)
		}
		if _, err := lake.IngestStore(ctx, s, []string{corpus}, ingest.Options{}, nil); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(corpus); err != nil {
			b.Fatal(err)
		}
	}
	var stored int
	if err := s.DB.QueryRow("SELECT count(*) FROM events").Scan(&stored); err != nil {
		b.Fatal(err)
	}
	rows, err := s.DB.Query("SELECT event_source, event_name, count(*) FROM events GROUP BY ALL ORDER BY 1, 2")
	if err != nil {
		b.Fatal(err)
	}
	var calls []apiCall
	for rows.Next() {
		var c apiCall
		if err := rows.Scan(&c.source, &c.name, &c.events); err != nil {
			b.Fatal(err)
		}
		c.share = float64(c.events) / float64(stored)
		calls = append(calls, c)
	}
	rows.Close()
	s.Close()

	docs := benchRules(calls, nRules)
	set, rep := Parse("bench.yml", []byte(strings.Join(docs, "---\n")))
	if len(rep.Failed) > 0 {
		b.Fatal(rep.Failed[0])
	}
	ro, err := query.Open(ctx, path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	var found []query.Finding
	for b.Loop() {
		start := time.Now()
		if found, err = set.Detect(ctx, ro.DB, query.DetectOptions{}); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start).Seconds()
		// The target is 800 rules over 10M events in under 30 s. The
		// linear projection scales the fixed cost (planning, about half a
		// second) too, and so errs high.
		b.Logf("%d Sigma rules (%d API calls in the corpus) over %d events: %d findings in %.2fs (10M events at this rate: %.0fs)",
			set.Len(), len(calls), stored, len(found), took, took*10e6/float64(stored))
	}
	b.ReportMetric(float64(stored)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(found)), "findings")
}

// apiCall is one API call of the corpus, and its share of the events.
type apiCall struct {
	source, name string
	events       int64
	share        float64
}

// abusedCalls are API calls of the kind Sigma's CloudTrail rules select
// (logging turned off, keys and policies changed, data shared out): calls
// that change things, rare in an archive, and not emitted by the corpus
// generator.
var abusedCalls = map[string][]string{
	"cloudtrail":     {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"},
	"ec2":            {"DeleteFlowLogs", "ModifySnapshotAttribute", "ModifyImageAttribute", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "CreateKeyPair", "ImportKeyPair", "GetPasswordData", "ModifyInstanceAttribute", "DisableEbsEncryptionByDefault", "CreateNetworkAclEntry", "CreateRoute", "CreateVpcPeeringConnection", "RunInstances", "CreateSnapshot", "DeleteVpc", "DeleteSecurityGroup"},
	"iam":            {"CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy", "CreateUser", "DeleteUser", "AddUserToGroup", "DeleteSAMLProvider", "UpdateSAMLProvider", "DeleteRolePermissionsBoundary"},
	"s3":             {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketVersioning", "DeleteBucket", "PutBucketLifecycle", "PutBucketReplication", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketLogging"},
	"guardduty":      {"DeleteDetector", "UpdateDetector", "DisassociateFromMasterAccount", "CreateIPSet"},
	"config":         {"StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel"},
	"kms":            {"ScheduleKeyDeletion", "DisableKey", "ImportKeyMaterial", "CreateCustomKeyStore"},
	"rds":            {"ModifyDBInstance", "RestoreDBInstanceFromDBSnapshot", "ModifyDBSnapshotAttribute", "DeleteDBCluster", "DeleteDBInstance"},
	"lambda":         {"CreateFunction20150331", "AddPermission20150331v2", "UpdateFunctionConfiguration20150331v2", "CreateFunctionUrlConfig20211031", "PublishLayerVersion20181031"},
	"sts":            {"GetFederationToken", "GetSessionToken"},
	"signin":         {"GetSigninToken"},
	"ssm":            {"SendCommand", "StartSession"},
	"secretsmanager": {"BatchGetSecretValue", "DeleteSecret"},
	"organizations":  {"LeaveOrganization", "CreateAccount"},
	"route53domains": {"TransferDomainToAnotherAwsAccount", "DisableDomainTransferLock"},
	"securityhub":    {"BatchUpdateFindings", "DisableSecurityHub"},
	"logs":           {"DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy"},
	"backup":         {"DeleteBackupVault", "DeleteRecoveryPoint"},
	"dynamodb":       {"ExportTableToPointInTime", "DeleteTable", "DeleteBackup"},
	"eks":            {"CreateCluster", "DeleteCluster"},
	"glue":           {"CreateDevEndpoint"},
}

// benchRules writes n rules shaped as Sigma's CloudTrail rules are. Almost
// all select an API call by eventSource and eventName: the calls above,
// and the corpus's. A call that changes things (the calls above, and the
// corpus's rare calls: sign-ins, MFA devices) is selected whole by its
// first rule; the corpus's routine calls (AssumeRole, Decrypt, Describe*)
// only with a narrower selection, as Sigma's rules on such calls have
// (ListBuckets unless by an assumed role). Further rules on a call narrow
// it another way, by a typed field or, on calls under 1% of the events, a
// JSON path into requestParameters. One rule in 50 has no eventName and
// reads typed fields (root activity, a tool's user agent, an ARN), as
// Sigma's few such rules do: every event is tested against those. One
// rule selects the corpus's IAM, S3 and CloudTrail discovery calls
// (Describe*, List*, Get*: a tenth of the events), as Sigma's discovery
// rule does before counting. (All its discovery calls, two thirds of the
// events, made 776,000 findings at 10M events, one per role session of
// the corpus: more than the store's 400 MB holds while aggregating.) The
// corpus has no event of most of the calls above, so few rules match: as
// on a real archive.
func benchRules(corpus []apiCall, nRules int) []string {
	calls := append([]apiCall(nil), corpus...)
	have := map[string]bool{}
	for _, c := range corpus {
		have[c.name] = true
	}
	var services []string
	for s := range abusedCalls {
		services = append(services, s)
	}
	slices.Sort(services)
	for _, svc := range services {
		for _, n := range abusedCalls[svc] {
			if !have[n] {
				calls = append(calls, apiCall{source: svc + ".amazonaws.com", name: n})
			}
		}
	}
	typed := []string{
		"    userAgent|contains: 'bench-%d'\n",
		"    errorCode: 'Bench%d'\n",
		"    sourceIPAddress|cidr: 203.0.113.%d/32\n",
		"    userIdentity.arn|endswith: ':user/bench-%d'\n",
	}
	json := []string{
		"    requestParameters.userName|startswith: 'bench-%d'\n",
		"    requestParameters.policyDocument|contains: 'bench-%d'\n",
	}
	fieldOnly := []string{
		"  sel:\n    userIdentity.type: Root\n  filter:\n    eventType: AwsServiceEvent\n  condition: sel and not filter\n",
		"  sel:\n    userAgent|contains: ['bench-tool-%d', 'bench-scanner']\n  condition: sel\n",
		"  sel:\n    userIdentity.arn|contains: ':assumed-role/bench-%d'\n    errorCode: AccessDenied\n  condition: sel\n",
	}
	var discovery []string
	for _, c := range corpus {
		svc := strings.TrimSuffix(c.source, ".amazonaws.com")
		if (svc == "iam" || svc == "s3" || svc == "cloudtrail") &&
			(strings.HasPrefix(c.name, "Describe") || strings.HasPrefix(c.name, "List") || strings.HasPrefix(c.name, "Get")) {
			discovery = append(discovery, c.name)
		}
	}
	var docs []string
	add := func(i int, detection string) {
		docs = append(docs, fmt.Sprintf("title: bench %d\nid: bench-%d\nlevel: low\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n%s", i, i, detection))
	}
	for i := 0; len(docs) < nRules; i++ {
		switch {
		case i == 0:
			add(i, "  sel:\n    eventName: ['"+strings.Join(discovery, "', '")+"']\n  condition: sel\n")
			continue
		case i%50 == 49:
			add(i, strings.ReplaceAll(fieldOnly[i/50%len(fieldOnly)], "%d", strconv.Itoa(i)))
			continue
		}
		c := calls[i%len(calls)]
		sel := fmt.Sprintf("    eventSource: %s\n    eventName: %s\n", c.source, c.name)
		cond := "sel"
		switch {
		case i < len(calls) && c.name == "ListBuckets":
			sel += "  filter:\n    userIdentity.type: AssumedRole\n"
			cond = "sel and not filter"
		case i < len(calls) && c.share < 0.001:
			// the call whole
		case c.share < 0.01 && i%3 == 0:
			sel += fmt.Sprintf(json[i%len(json)], i)
		default:
			sel += fmt.Sprintf(typed[i%len(typed)], i%256)
		}
		add(i, "  sel:\n"+sel+"  condition: "+cond+"\n")
	}
	return docs
}
