package main

import (
	"fmt"
	"sort"
	"strings"
)

func readme(b *builder, files []logFile) []byte {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	unique := map[string]bool{}
	perShape := map[string]int{}
	var dups []*item
	for _, it := range b.items {
		if len(it.shapes) == 0 {
			continue
		}
		unique[it.e.EventID] = true
		for _, s := range it.shapes {
			perShape[s]++
		}
		if len(it.shapes) > 1 {
			dups = append(dups, it)
		}
	}
	records := 0
	for _, n := range perShape {
		records += n
	}

	p("# Sample data\n\n")
	p("Small, realistic CloudTrail exports that tell one incident in account `%s` on\n", acct1)
	p("2024-03-05, spread over every input shape trailsift reads. Use them to try the\n")
	p("tool, in tests, and as a reference for what each shape looks like. All files are\n")
	p("written by `go run ./samples/internal/mksamples` (deterministic; do not edit them\n")
	p("by hand, change the program and re-run it). Addresses are from the documentation\n")
	p("ranges (RFC 5737) and accounts are fake.\n\n")

	p("| File | Shape | Records |\n|---|---|---|\n")
	p("| `s3-export.zip` | CloudTrail S3 delivery layout (`AWSLogs/<acct>/CloudTrail/<region>/2024/03/05/*.json.gz`) for accounts %s and %s, regions us-east-1 and eu-west-1, in %d log files; plus the CloudTrail-Digest files of every account and region (hourly chains, signed with a TEST key: `public-keys.json`) and a `.DS_Store` (both skipped by ingest, not loaded) | %d |\n", acct1, acct2, len(files), perShape[shZip])
	p("| `event-history.json` | Console *Event history* download: pretty-printed `{\"Records\":[...]}` | %d |\n", perShape[shHistory])
	p("| `lookup-events-page1.json`, `lookup-events-page2.json` | `aws cloudtrail lookup-events` output, two pages (newest first; page 1 has a `NextToken`); each `CloudTrailEvent` is the full event as a JSON string | %d + %d |\n", perShape[shLookup1], perShape[shLookup2])
	p("| `lake-export.ndjson` | JSON lines, one event per line (CloudTrail Lake / SIEM export) | %d |\n", perShape[shLake])
	p("| `corrupt/truncated.json.gz` | a `{\"Records\":[...]}` gzip cut off mid-stream, on purpose | 12 written, file is broken |\n")
	p("| `hunt.sql` | a hunt query over the `events` view, for the README's `query -f` example (not evidence) | - |\n")
	p("| `expected-findings.jsonl` | the findings table below, machine-readable (`rule_id`, `actor`, `account_id`, `source_ip`, `event_ids`; same format as the generator's `ground-truth.jsonl`) | - |\n")
	p("| `expected-sessions.jsonl` | the credential chain's sessions below, machine-readable (`session_id`, `parent_session_id`, `origin_type`, `origin`, `depth`, `accounts`; same format as the generator's `sessions-truth.jsonl`) | - |\n\n")

	p("Loading all five good inputs gives **%d records, %d unique events** (%d events are\n", records, len(unique), len(dups))
	p("delivered in two shapes and must be stored once). The truncated file must be reported\n")
	p("as an ingest error; its twelve routine events are benign, so whether the complete\n")
	p("records before the cut are kept does not change any finding. The digest file and\n")
	p("`.DS_Store` must be listed as skipped.\n\n")

	p("## The story\n\n")
	p("IAM user `alice` normally signs in with MFA from %s. Her password is stolen.\n", aliceIP)
	p("From %s the attacker fails MFA twice, then gets in with a phished code,\n", attackerIP)
	p("deactivates and deletes alice's virtual MFA device, looks around IAM, signs in again\n")
	p("as alice without MFA, and finally signs in as root without MFA. In between, from alice's\n")
	p("phished console session, the attacker assumes role `OpsAdmin` and from it\n")
	p("`CrossAccountAudit` in account %s, looks around there, creates an access key for\n", acct2)
	p("IAM user `ci-deploy`, and later uses that cross-account session's key again from %s\n", reuseIP)
	p("with a Python SDK (an address maria also uses: the key, not the address, is what is new).\n")
	p("The attacker's address then tries Identity Center user `bob@example.com`, whose TOTP\n")
	p("step fails. Later a password\n")
	p("spray from %s hits six users and %s brute-forces `carol`.\n", sprayIP, bruteIP)
	p("Around it: routine API calls by roles and AWS services in both accounts, federated\n")
	p("sign-ins (IAM Identity Center `AWSReservedSSO_*` roles and Okta SAML) that say\n")
	p("`MFAUsed: \"No\"` as federated sign-ins always do, and normal MFA sign-ins.\n\n")

	p("## Timeline (UTC)\n\n")
	p("| Time | In | What | eventID |\n|---|---|---|---|\n")
	var story []*item
	for _, it := range b.items {
		if it.story != "" {
			story = append(story, it)
		}
	}
	sort.SliceStable(story, func(i, j int) bool { return story[i].e.Time.Before(story[j].e.Time) })
	for _, it := range story {
		t := it.e.Time.Format("01-02 15:04:05")
		p("| %s | %s | %s | `%s` |\n", t, shapeList(it.shapes), it.story, it.e.EventID)
	}

	p("\n## Expected findings\n\n")
	accounts := map[string]bool{}
	for _, f := range b.findings {
		accounts[f.Account] = true
	}
	p("Exactly these %d findings, in %d accounts (*Account*). *Events* is the number of events in the\n", len(b.findings), len(accounts))
	p("finding. `console-password-spray` has no single user: its actor is the source address.\n\n")
	p("| # | Rule | Actor | Account | Source IP | Events | Why | Event IDs |\n|---|---|---|---|---|---|---|---|\n")
	for i, f := range b.findings {
		actor := f.Actor
		ids := make([]string, len(f.IDs))
		for j, id := range f.IDs {
			ids[j] = "`" + id + "`"
		}
		p("| %d | `%s` | %s | %s | %s | %d | %s | %s |\n", i+1, f.Rule, actor, f.Account, f.IP, len(f.IDs), f.why, strings.Join(ids, "<br>"))
	}

	p("\n## The credential chain\n\n")
	p("The sessions the phished sign-in led to (`expected-sessions.jsonl`), as the `sessions` table\n")
	p("must list them. Every one has origin_type `IAMUser` and origin `%s`.\n\n", b.alice.ARN())
	p("| Depth | Session | Parent | Accounts | What |\n|---|---|---|---|---|\n")
	for _, s := range b.sessions {
		parent := "-"
		if s.Parent != nil {
			parent = "`" + *s.Parent + "`"
		}
		accts := strings.Join(s.Accounts, ", ")
		if accts == "" {
			accts = "- (never used)"
		}
		p("| %d | `%s` | %s | %s | %s |\n", s.Depth, s.ID, parent, accts, s.what)
	}
	p("\nThe joins it exercises: alice's console session is the sign-in's by its\n")
	p("`sessionContext.attributes.creationDate` (10:07:19); hop 1 (AssumeRole into `OpsAdmin`) is\n")
	p("only in `lookup-events-page1.json`, whose copy has no `responseElements.credentials.accessKeyId`,\n")
	p("so the OpsAdmin session is tied to it by `assumedRoleUser.arn`; hop 2 (into\n")
	p("`CrossAccountAudit`) is logged in both accounts with one `sharedEventID`, the copy in %s\n", acct2)
	p("naming the caller only as an `AWSAccount` principal; its `responseElements.credentials.accessKeyId`\n")
	p("is the key the later calls in %s carry.\n", acct2)

	p("\n## Must not fire\n\n")
	p("- `dave` at 09:12:44 signs in with `\"MFAUsed\": \"YES\"` (upper case): MFA was used; compare case-insensitively.\n")
	p("- Federated console sign-ins (`AssumedRole` identities of `AWSReservedSSO_*` roles, and the Okta SAML role) with\n")
	p("  `MFAUsed: \"No\"`: expected for federation, not `console-login-without-mfa`. This includes bob's own federated\n")
	p("  sign-in at 09:30:52, which comes *before* his MFA failure.\n")
	p("- alice's sign-ins with MFA at 08:52:10 (and the day before) from her usual address.\n")
	p("- `ListMFADevices` at 10:09:02 is read-only: not an MFA device change.\n")
	p("- alice's no-MFA sign-in at 11:05:14 is more than an hour after her last MFA failure (10:00:41), so it is\n")
	p("  not a second `signin-after-mfa-failure`; it is 52m44s after the deactivation, so it is `mfa-removed-then-login`.\n")
	p("- Root sign-ins are `root-console-login*`, never `console-login-without-mfa` (that rule is for IAM users).\n")
	p("- Duplicated events count once: two console MFA failures, not four.\n")
	p("- alice's own session deactivating and deleting her own MFA device is not `credential-change-by-other-origin`\n")
	p("  (its origin is alice); only `ci-deploy`'s new key, made by a session whose origin is alice, is.\n")
	p("- The chain's sessions used from the address that obtained them (203.0.113.66) are not\n")
	p("  `credential-used-from-new-location`; maria's own sessions from 198.51.100.77 are not either.\n\n")

	p("## Deliberate oddities\n\n")
	p("Events delivered twice (same eventID, same content, different shapes):\n\n")
	for _, it := range dups {
		p("- `%s` %s %s in %s\n", it.e.EventID, it.e.Time.Format("15:04:05"), it.e.Name, shapeList(it.shapes))
	}
	p("\nOne event-history record writes its eventTime as `\"2024-03-05 10:00:00\"` instead of\n")
	p("`\"2024-03-05T10:00:00Z\"`. Identity Center sign-in steps follow AWS's order:\n")
	p("`CredentialChallenge` and `CredentialVerification` per factor (PASSWORD, then TOTP), and\n")
	p("`UserAuthentication` only when every factor passed; all steps of one sign-in share\n")
	p("`additionalEventData.AuthWorkflowID`.\n\n")
	p("The digest files form one hourly chain per account and region (08:00 to 17:00), listing\n")
	p("every log file with the SHA-256 of its uncompressed content and signed as CloudTrail signs\n")
	p("them, but with a TEST key published in `public-keys.json` (the format `aws cloudtrail\n")
	p("list-public-keys` prints): it proves nothing about real CloudTrail files. One log file that\n")
	p("the %s us-east-1 digest ending 12:00 lists (delivered 11:25, events 11:20:31 to 11:24:12,\n", acct1)
	p("right after root's sign-in) is not in the zip: `trailsift verify samples/s3-export.zip\n")
	p("--public-keys samples/public-keys.json` reports it as `log-missing` and exits with status 5.\n\n")

	p("## Large corpora\n\n")
	p("`samples.Generate` (package `github.com/trailsift/trailsift/samples`) writes a synthetic\n")
	p("S3-layout export of any size with planted incidents for every detection, and\n")
	p("`ground-truth.jsonl` listing the findings they must produce:\n\n")
	p("```go\nsum, err := samples.Generate(samples.Options{Out: dir, Events: 1_000_000, Seed: 1})\n```\n\n")
	p("Point ingest at `dir/AWSLogs` (the ground-truth file sits next to it, outside the export).\n")
	p("The background's credentials behave like real ones: a role session (an SSO user's role, a\n")
	p("Lambda function's, an EKS node's, Datadog's, Config's, CI's, a terraform run's) uses one\n")
	p("temporary key, with one `sessionContext.attributes.creationDate`, for every call it makes\n")
	p("during an hour (the key's lifetime, each session's hours starting at its own offset), then\n")
	p("a new one; the IAM CI user uses its one long-term key. So the bench corpus (1.25M events)\n")
	p("has about 7,600 keys, not one per event. The background's own STS calls (services assuming\n")
	p("roles, GitHub's web-identity calls, SAML sign-ins) hand out keys that the background does not\n")
	p("use, so no background key is tied to an issuing call and no lineage rule fires on it.\n")
	p("With `Options.Chains` (`trailsift samples generate --chains`) it also plants this story's\n")
	p("credential chain, as often as each other incident (a no-MFA sign-in, two role hops into the\n")
	p("next account, an access key created there, the last key used again from elsewhere), and\n")
	p("writes `sessions-truth.jsonl`, the chains' sessions in the format of `expected-sessions.jsonl`.\n")
	return []byte(w.String())
}

func shapeList(shapes []string) string {
	out := make([]string, len(shapes))
	for i, s := range shapes {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}
