package samples

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// allRegions is the order regions are added in: us-east-1 always first.
var allRegions = []string{
	"us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1",
	"ap-northeast-1", "us-east-2", "eu-west-2", "ca-central-1", "ap-south-1",
	"sa-east-1", "eu-north-1", "ap-southeast-1", "us-west-1", "eu-west-3",
	"ap-northeast-2",
}

// regionWeight is the relative activity of the i-th region.
func regionWeight(i int) float64 {
	switch i {
	case 0:
		return 3.0
	case 1:
		return 1.4
	case 2:
		return 0.8
	case 3:
		return 1.0
	case 4:
		return 0.7
	}
	return 0.4
}

var firstNames = []string{
	"james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda",
	"david", "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica",
	"thomas", "sarah", "charles", "karen", "christopher", "lisa", "daniel", "nancy",
	"matthew", "betty", "anthony", "margaret", "mark", "sandra", "donald", "ashley",
	"steven", "kimberly", "paul", "emily", "andrew", "donna", "joshua", "michelle",
	"kenneth", "carol", "kevin", "amanda", "brian", "melissa", "george", "deborah",
	"priya", "wei", "olga", "mateo", "aisha", "kenji", "ingrid", "tariq", "lucia", "noah",
}

var lastNames = []string{
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
	"rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
	"thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson",
	"white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker",
	"young", "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores",
	"green", "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell",
	"carter", "roberts", "kowalski", "nakamura", "okafor", "lindqvist", "haddad",
}

var functionNames = []string{
	"orders-api", "payments-webhook", "image-resizer", "nightly-report", "user-sync",
	"audit-forwarder", "inventory-updater", "email-sender", "cache-warmer", "billing-export",
}

var tableNames = []string{"orders", "customers", "sessions", "inventory", "feature-flags", "audit-log"}

var secretNames = []string{"prod/db-primary", "prod/stripe-api", "prod/sendgrid", "staging/db-primary", "shared/datadog-api-key"}

var paramNames = []string{"/app/prod/db-url", "/app/prod/redis-endpoint", "/app/prod/feature-config", "/app/staging/db-url", "/platform/ami/latest"}

var browserAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.3; rv:123.0) Gecko/20100101 Firefox/123.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
}

var attackerAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
	"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
}

var sdkAgents = []string{
	"aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.7 md/GOOS#linux md/GOARCH#amd64 api/%s#1.51.2",
	"Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.51",
	"aws-sdk-java/2.21.46 Linux/5.10.209-198.858.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
	"aws-sdk-nodejs/2.1560.0 linux/v18.19.0 exec-env/AWS_Lambda_nodejs18.x promise",
}

const (
	cliAgent       = "aws-cli/2.15.22 Python/3.11.6 Darwin/23.3.0 exe/x86_64 prompt/off command/%s"
	terraformAgent = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.38.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.50.26 (go1.21.7; linux; amd64)"
	datadogAgent   = "aws-sdk-go/1.44.327 (go1.20.7; linux; amd64) datadog-aws-integration"
	ssmAgent       = "aws-sdk-go/1.44.302 (go1.20.11; linux; amd64) amazon-ssm-agent/3.2.2303.0"
	eksAgent       = "aws-sdk-go/1.48.16 (go1.21.6; linux; amd64) eks-node/1.29"
)

// consoleUser is a background IAM user who signs in to the console with MFA.
type consoleUser struct {
	ct.User
	device string // MFA device name
	ip     string // usual source IP
	agent  string // usual browser
}

// idcUser is an IAM Identity Center user.
type idcUser struct {
	name string // sign-in user name (e-mail)
	id   string // identity store user id
	ip   string
}

// account is one AWS account's cast and resources.
type account struct {
	idx int
	id  string

	ssoAdmin, ssoReadOnly, ssoDev ct.Role
	saml                          ct.Role
	samlProvider                  string
	ci, terraform, datadog        ct.Role
	config, eksNode               ct.Role
	lambdaRoles                   []ct.Role // one per function
	ciKey                         string    // long-term key of the ci user
	ciUser                        ct.User

	consoleUsers []consoleUser
	ssoUsers     []string // e-mail session names
	officeIPs    []string
	natIPs       []string

	identityStore string // d-..., only on the Identity Center account
	idcUsers      []idcUser

	instances    []string
	buckets      []string
	kmsKeys      []string
	vpcs         []string
	functions    []string
	targetGroups []string
	trail        string
	logBucket    string
	vpcEndpoint  string
	oidcProvider string
	repo         string
}

// world is everything shared (read-only) by the file writers.
type world struct {
	start    int64 // unix seconds
	days     int
	regions  []string
	accounts []*account
	domain   string
	used     map[string]bool // user names already taken (background and planted)
}

func newWorld(opts Options) *world {
	r := ct.NewRand(ct.Mix(uint64(opts.Seed), 100), ct.Mix(uint64(opts.Seed), 101))
	w := &world{
		start:   opts.Start.Unix(),
		days:    opts.Days,
		regions: allRegions[:opts.Regions],
		domain:  "example.com",
		used:    map[string]bool{},
	}
	seenAcct := map[string]bool{}
	for i := 0; i < opts.Accounts; i++ {
		id := ct.AccountID(r)
		for seenAcct[id] {
			id = ct.AccountID(r)
		}
		seenAcct[id] = true
		w.accounts = append(w.accounts, w.newAccount(r, i, id))
	}
	return w
}

// personName returns a first.last name not used before.
func (w *world) personName(r *rand.Rand) string {
	for i := 0; ; i++ {
		n := firstNames[r.IntN(len(firstNames))] + "." + lastNames[r.IntN(len(lastNames))]
		if i > 20 {
			n += strconv.Itoa(i)
		}
		if !w.used[n] {
			w.used[n] = true
			return n
		}
	}
}

func publicIP(r *rand.Rand, firsts []int) string {
	return fmt.Sprintf("%d.%d.%d.%d", firsts[r.IntN(len(firsts))], r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

var (
	awsFirstOctets  = []int{3, 18, 34, 35, 44, 52, 54}
	homeFirstOctets = []int{24, 67, 71, 73, 76, 86, 90, 98, 174}
)

func ssoSuffix(r *rand.Rand) string { return ct.Hex(r, 16) }

func (w *world) newAccount(r *rand.Rand, idx int, id string) *account {
	a := &account{idx: idx, id: id}
	role := func(name, path string) ct.Role {
		return ct.Role{Account: id, Name: name, Path: path, ID: ct.RoleID(r)}
	}
	ssoPath := "/aws-reserved/sso.amazonaws.com/"
	a.ssoAdmin = role("AWSReservedSSO_AdministratorAccess_"+ssoSuffix(r), ssoPath)
	a.ssoReadOnly = role("AWSReservedSSO_ReadOnlyAccess_"+ssoSuffix(r), ssoPath)
	a.ssoDev = role("AWSReservedSSO_PowerUserAccess_"+ssoSuffix(r), ssoPath)
	a.saml = role("okta-engineering", "/")
	a.samlProvider = "arn:aws:iam::" + id + ":saml-provider/Okta"
	a.ci = role("github-actions-deploy", "/")
	a.terraform = role("terraform-apply", "/")
	a.datadog = role("DatadogIntegrationRole", "/")
	a.config = role("AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/")
	a.eksNode = role("eks-node-group-role", "/")
	a.ciUser = ct.User{Account: id, Name: "svc-backup-exporter", ID: ct.UserID(r)}
	a.ciKey = ct.LongKeyID(r)
	a.oidcProvider = "arn:aws:iam::" + id + ":oidc-provider/token.actions.githubusercontent.com"
	a.repo = "repo:acme-corp/platform-" + []string{"api", "infra", "web", "data"}[idx%4] + ":ref:refs/heads/main"

	nf := 4 + r.IntN(4)
	perm := r.Perm(len(functionNames))
	for i := 0; i < nf; i++ {
		fn := functionNames[perm[i]]
		a.functions = append(a.functions, fn)
		a.lambdaRoles = append(a.lambdaRoles, role(fn+"-role", "/service-role/"))
	}
	for i := 0; i < 3+r.IntN(3); i++ {
		u := consoleUser{
			User:   ct.User{Account: id, Name: w.personName(r), ID: ct.UserID(r)},
			ip:     publicIP(r, homeFirstOctets),
			agent:  browserAgents[r.IntN(len(browserAgents))],
			device: "",
		}
		u.device = u.Name + "-" + []string{"iphone", "authy", "yubikey", "pixel"}[r.IntN(4)]
		a.consoleUsers = append(a.consoleUsers, u)
	}
	for i := 0; i < 4+r.IntN(5); i++ {
		a.ssoUsers = append(a.ssoUsers, w.personName(r)+"@"+w.domain)
	}
	for i := 0; i < 3; i++ {
		a.officeIPs = append(a.officeIPs, fmt.Sprintf("%d.%d.%d.%d", []int{81, 89, 216}[i], 2+r.IntN(200), r.IntN(256), 1+r.IntN(254)))
	}
	for i := 0; i < 6; i++ {
		a.natIPs = append(a.natIPs, publicIP(r, awsFirstOctets))
	}
	if idx == 0 {
		a.identityStore = "d-90" + fmt.Sprintf("%08d", r.IntN(100000000))
		for i := 0; i < 5; i++ {
			a.idcUsers = append(a.idcUsers, idcUser{
				name: w.personName(r) + "@" + w.domain,
				id:   ct.UUID(r),
				ip:   publicIP(r, homeFirstOctets),
			})
		}
	}
	for i := 0; i < 8+r.IntN(12); i++ {
		a.instances = append(a.instances, "i-0"+ct.Hex(r, 16))
	}
	for i := 0; i < 3; i++ {
		a.vpcs = append(a.vpcs, "vpc-0"+ct.Hex(r, 16))
	}
	prefix := []string{"acme", "acme-prod", "acme-data", "acme-platform"}[idx%4]
	for _, b := range []string{"assets", "backups", "artifacts", "logs", "exports", "terraform-state"} {
		a.buckets = append(a.buckets, prefix+"-"+b+"-"+id[8:])
	}
	a.logBucket = "aws-cloudtrail-logs-" + id + "-" + ct.Hex(r, 8)
	a.trail = "organization-trail"
	for i := 0; i < 4; i++ {
		a.kmsKeys = append(a.kmsKeys, ct.UUID(r))
	}
	for i := 0; i < 4; i++ {
		a.targetGroups = append(a.targetGroups, []string{"api", "web", "admin", "grpc"}[i]+"-tg/"+ct.Hex(r, 16))
	}
	a.vpcEndpoint = "vpce-0" + ct.Hex(r, 16)
	return a
}
