package integrity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Finding kinds reported by Verify.
const (
	KindLogMissing          = "log-missing"       // a digest lists it; it is not in the evidence
	KindLogModified         = "log-modified"      // its SHA-256 differs from the digest's
	KindLogUnreadable       = "log-unreadable"    // it cannot be decompressed or read
	KindLogUncovered        = "log-uncovered"     // no digest in the evidence lists it
	KindNoDigests           = "no-digests"        // log files of an account and region with no digest at all
	KindDigestMissing       = "digest-missing"    // a digest names it as previous; it is not in the evidence
	KindDigestModified      = "digest-modified"   // its hash differs from previousDigestHashValue of the next one
	KindDigestUnreadable    = "digest-unreadable" // it cannot be decompressed or parsed
	KindDigestMoved         = "digest-moved"      // found under another key than its digestS3Object
	KindDigestConflict      = "digest-conflict"   // two different files claim the same digestS3Object
	KindChainRestart        = "chain-restart"     // a digest without a previous one after older digests
	KindSignatureInvalid    = "signature-invalid" // the signature does not verify with the supplied key
	KindSignatureKeyUnknown = "signature-key-unknown"
	KindSignatureKeyExpired = "signature-key-not-valid" // signed by the key, at a time the key was not valid
)

// Severities: a failure means the evidence is not what CloudTrail delivered
// (or part of it is gone); a warning needs a human to judge.
const (
	SeverityFail = "fail"
	SeverityWarn = "warn"
)

// Finding is one integrity problem, naming the file and the time range
// concerned. File is the path where it was found, or its S3 key when it was
// not found; Digest is the digest file that says so.
type Finding struct {
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Account  string    `json:"account,omitempty"`
	Region   string    `json:"region,omitempty"`
	File     string    `json:"file"`
	Digest   string    `json:"digest,omitempty"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Detail   string    `json:"detail"`
}

// Chain summarises one digest chain (an account, region and trail).
type Chain struct {
	Account string    `json:"account"`
	Region  string    `json:"region"`
	Trail   string    `json:"trail"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Digests int       `json:"digests"`
	Newest  string    `json:"newest_digest"`
}

// Report is the result of Verify.
type Report struct {
	Inputs             []string  `json:"inputs"`
	Digests            int       `json:"digests"`
	Chains             []Chain   `json:"chains"`
	LogFilesListed     int       `json:"log_files_listed"`
	LogFilesVerified   int       `json:"log_files_verified"`
	LogFilesFound      int       `json:"log_files_found"`
	SignaturesChecked  bool      `json:"signatures_checked"`
	SignaturesVerified int       `json:"signatures_verified"`
	SignaturesFailed   int       `json:"signatures_failed"`
	SignaturesUnknown  int       `json:"signatures_unknown"` // digests whose signature is not in the evidence
	Findings           []Finding `json:"findings"`
	Notes              []string  `json:"notes"`
}

// Failed is true when any finding is a failure.
func (r *Report) Failed() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityFail {
			return true
		}
	}
	return false
}

// Checked is false when the evidence holds no digest file at all: nothing
// could be verified, which is "not checked", not "failed".
func (r *Report) Checked() bool { return r.Digests > 0 }

// Count returns the number of failures and warnings.
func (r *Report) Count() (fails, warns int) {
	for _, f := range r.Findings {
		if f.Severity == SeverityFail {
			fails++
		} else {
			warns++
		}
	}
	return
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Keys are the public keys to check digest signatures with; nil means
	// signatures are not checked (and the report says so).
	Keys Keys
	// Known are the hashes of log files already read (by ingest), keyed
	// as the store's files table names them: the absolute path, members
	// of archives as archive!member. A known log file is not read again;
	// the others are.
	Known map[string]Hashes
}

// Hashes are the SHA-256s of a log file, in hex.
type Hashes struct {
	Stored  string // of the bytes as stored
	Content string // after gunzip: what digests hash
}

// ErrNothingFound means the inputs hold no CloudTrail log or digest file.
var ErrNothingFound = errors.New("no CloudTrail log files or digest files found")

// Verify checks the CloudTrail digest files in the inputs (folders, files,
// zip and tar archives) against each other and against the log files.
//
// The steps follow "Custom implementations of CloudTrail log file integrity
// validation" in the CloudTrail user guide, adapted to evidence copied out
// of S3: files are matched by their S3 key (from "AWSLogs/" on) wherever
// they sit; a digest's own signature lives in S3 object metadata
// (x-amz-meta-signature), which a copy loses, so it is taken from the next
// digest's previousDigestSignature: every digest but the newest of each
// chain can be checked.
func Verify(ctx context.Context, inputs []string, opts VerifyOptions) (*Report, error) {
	return verifyOpening(ctx, inputs, opts, os.Open)
}

// verifyOpening is Verify opening files with open (tests count what is read).
func verifyOpening(ctx context.Context, inputs []string, opts VerifyOptions, open func(string) (*os.File, error)) (*Report, error) {
	l := &locator{ctx: ctx, known: opts.Known, open: open}
	if err := l.walk(inputs); err != nil {
		return nil, err
	}
	if len(l.digests) == 0 && len(l.logs) == 0 {
		return nil, ErrNothingFound
	}
	v := &verifier{rep: &Report{Inputs: inputs, LogFilesFound: len(l.logs)}, keys: opts.Keys}
	v.rep.SignaturesChecked = opts.Keys != nil
	v.digests(l.digests)
	v.chains()
	v.logFiles(l.logs)
	v.finish()
	return v.rep, nil
}

type verifier struct {
	rep      *Report
	keys     Keys
	all      []*Digest
	byObject map[string]*Digest
	chainsOf map[string][]*Digest // by chainID, sorted by end time
	sigOf    map[*Digest]string
}

func (v *verifier) add(f Finding) { v.rep.Findings = append(v.rep.Findings, f) }

// digests parses every digest found and checks it sits where it says.
func (v *verifier) digests(found []*found) {
	v.byObject = map[string]*Digest{}
	for _, f := range found {
		if f.err != nil {
			v.add(Finding{Kind: KindDigestUnreadable, Severity: SeverityFail, Account: f.account, Region: f.region, File: f.path,
				Detail: fmt.Sprintf("cannot be read: %v", f.err)})
			continue
		}
		d, err := parseDigest(f.content)
		if err != nil {
			v.add(Finding{Kind: KindDigestUnreadable, Severity: SeverityFail, Account: f.account, Region: f.region, File: f.path,
				Detail: err.Error()})
			continue
		}
		d.Path, d.ContentHash, d.StoredHash = f.path, f.contentHash, f.storedHash
		key := s3Key(d.S3Object)
		if got := s3Key(f.path); got != key && !(!strings.Contains(got, "AWSLogs/") && path.Base(got) == path.Base(key)) {
			// aws-cli validate-logs: "has been moved from its original location".
			v.add(Finding{Kind: KindDigestMoved, Severity: SeverityFail, Account: f.account, Region: f.region, File: f.path,
				From: d.Start, To: d.End, Detail: fmt.Sprintf("its digestS3Object is %s: the file was renamed or moved", key)})
		}
		if prev := v.byObject[key]; prev != nil {
			if prev.ContentHash != d.ContentHash {
				v.add(Finding{Kind: KindDigestConflict, Severity: SeverityFail, Account: f.account, Region: f.region, File: f.path,
					From: d.Start, To: d.End, Detail: fmt.Sprintf("differs from %s, which claims the same digestS3Object", prev.Path)})
			}
			continue // the same digest copied twice counts once
		}
		v.byObject[key] = d
		v.all = append(v.all, d)
	}
	v.rep.Digests = len(v.all)
}

// chains follows every chain through previousDigestS3Object and
// previousDigestHashValue, and checks the signatures it learns on the way.
func (v *verifier) chains() {
	v.chainsOf = map[string][]*Digest{}
	v.sigOf = map[*Digest]string{}
	for _, d := range v.all {
		if d.Backfill {
			continue // backfill digests list late log files; they are not links of the chain
		}
		id := chainID(d.S3Object)
		v.chainsOf[id] = append(v.chainsOf[id], d)
	}
	ids := make([]string, 0, len(v.chainsOf))
	for id := range v.chainsOf {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ds := v.chainsOf[id]
		sort.Slice(ds, func(i, j int) bool { return ds[i].End.Before(ds[j].End) })
		acct, region := digestScope(ds[0])
		for i, d := range ds {
			if d.PreviousS3Object == nil || *d.PreviousS3Object == "" {
				if i > 0 {
					p := ds[i-1]
					v.add(Finding{Kind: KindChainRestart, Severity: SeverityWarn, Account: acct, Region: region, File: d.Path,
						From: p.End, To: d.Start,
						Detail: fmt.Sprintf("starts a new chain after %s: CloudTrail logging or log file validation was off in between, or the digests between were removed (look for StopLogging/UpdateTrail in trailsift coverage)", p.Path)})
				}
				continue
			}
			prevKey := s3Key(*d.PreviousS3Object)
			p := v.byObject[prevKey]
			if p == nil {
				f := Finding{Kind: KindDigestMissing, Severity: SeverityFail, Account: acct, Region: region, File: prevKey, Digest: d.Path,
					To: d.Start, Detail: "named as previous digest but not in the evidence: the log files it listed cannot be verified"}
				if i > 0 {
					f.From = ds[i-1].End
				}
				v.add(f)
				continue
			}
			if h := strings.ToLower(ptr(d.PreviousHashValue)); h != p.ContentHash && h != p.StoredHash {
				// The user guide defines previousDigestHashValue as the hex
				// hash of the previous digest file's uncompressed content;
				// the hash of the stored .gz bytes is accepted too.
				v.add(Finding{Kind: KindDigestModified, Severity: SeverityFail, Account: acct, Region: region, File: p.Path, Digest: d.Path,
					From: p.Start, To: p.End, Detail: "its SHA-256 differs from previousDigestHashValue in the next digest: it was changed after delivery"})
			}
			if d.PreviousSignature != nil {
				v.sigOf[p] = *d.PreviousSignature
			}
		}
		newest := ds[len(ds)-1]
		v.rep.Chains = append(v.rep.Chains, Chain{Account: acct, Region: region, Trail: trailName(newest), From: ds[0].Start, To: newest.End,
			Digests: len(ds), Newest: newest.Path})
	}
	for _, d := range v.all {
		sig, known := v.sigOf[d]
		if !known {
			v.rep.SignaturesUnknown++
			continue
		}
		if v.keys == nil {
			continue
		}
		acct, region := digestScope(d)
		switch err := verifySignature(v.keys, d, sig); {
		case err == nil:
			v.rep.SignaturesVerified++
		case errors.Is(err, errNoKey):
			v.rep.SignaturesFailed++
			v.add(Finding{Kind: KindSignatureKeyUnknown, Severity: SeverityFail, Account: acct, Region: region, File: d.Path,
				From: d.Start, To: d.End, Detail: fmt.Sprintf("no supplied public key has fingerprint %s (list-public-keys for region %s, covering this time)", d.KeyFingerprint, region)})
		case errors.Is(err, errKeyNotValid):
			v.rep.SignaturesFailed++
			k := v.keys[strings.ToLower(d.KeyFingerprint)]
			v.add(Finding{Kind: KindSignatureKeyExpired, Severity: SeverityFail, Account: acct, Region: region, File: d.Path,
				From: d.Start, To: d.End, Detail: fmt.Sprintf("signed with key %s, which is valid from %s to %s only: a retired or leaked key signed it", d.KeyFingerprint,
					k.ValidFrom.Format(time.RFC3339), k.ValidTo.Format(time.RFC3339))})
		default:
			v.rep.SignaturesFailed++
			v.add(Finding{Kind: KindSignatureInvalid, Severity: SeverityFail, Account: acct, Region: region, File: d.Path,
				From: d.Start, To: d.End, Detail: "the signature (previousDigestSignature of the next digest) does not verify with the CloudTrail public key: the digest or its signature was forged"})
		}
	}
}

// logFiles checks every log file the digests list and finds the log files
// no digest lists.
func (v *verifier) logFiles(logs []*found) {
	byKey := map[string][]*found{}
	byBase := map[string][]*found{}
	for _, f := range logs {
		byKey[f.key] = append(byKey[f.key], f)
		byBase[path.Base(f.key)] = append(byBase[path.Base(f.key)], f)
	}
	listed := map[string]bool{}
	for _, d := range v.all {
		acct, region := digestScope(d)
		for _, lf := range d.LogFiles {
			key := s3Key(lf.S3Object)
			if listed[key] {
				continue
			}
			listed[key] = true
			v.rep.LogFilesListed++
			copies := byKey[key]
			if len(copies) == 0 && len(byBase[path.Base(key)]) == 1 {
				copies = byBase[path.Base(key)] // copied without its folders
			}
			from, to := parseTime(lf.OldestEventTime), parseTime(lf.NewestEventTime)
			if len(copies) == 0 {
				v.add(Finding{Kind: KindLogMissing, Severity: SeverityFail, Account: acct, Region: region, File: key, Digest: d.Path,
					From: from, To: to, Detail: "listed in the digest but not in the evidence: deleted, or not copied"})
				continue
			}
			ok := true
			for _, c := range copies {
				switch {
				case c.err != nil:
					ok = false
					v.add(Finding{Kind: KindLogUnreadable, Severity: SeverityFail, Account: acct, Region: region, File: c.path, Digest: d.Path,
						From: from, To: to, Detail: fmt.Sprintf("cannot be read: %v", c.err)})
				case c.contentHash != strings.ToLower(lf.HashValue):
					ok = false
					v.add(Finding{Kind: KindLogModified, Severity: SeverityFail, Account: acct, Region: region, File: c.path, Digest: d.Path,
						From: from, To: to, Detail: fmt.Sprintf("SHA-256 of the content is %s, the digest says %s: changed after delivery", c.contentHash, lf.HashValue)})
				}
			}
			if ok {
				v.rep.LogFilesVerified++
			}
		}
	}
	listedBase := map[string]bool{}
	for k := range listed {
		listedBase[path.Base(k)] = true
	}
	// Spans of the chains per account and region.
	type span struct{ from, to time.Time }
	spans := map[[2]string]*span{}
	for _, c := range v.rep.Chains {
		k := [2]string{c.Account, c.Region}
		if s := spans[k]; s == nil {
			spans[k] = &span{c.From, c.To}
		} else {
			if c.From.Before(s.from) {
				s.from = c.From
			}
			if c.To.After(s.to) {
				s.to = c.To
			}
		}
	}
	type orphan struct {
		n        int
		from, to time.Time
		dir      string
	}
	orphans := map[[2]string]*orphan{}
	for _, f := range logs {
		if listed[f.key] || listedBase[path.Base(f.key)] {
			continue
		}
		at, _ := time.Parse("20060102T1504Z", f.stamp)
		k := [2]string{f.account, f.region}
		s := spans[k]
		if s == nil {
			o := orphans[k]
			if o == nil {
				o = &orphan{from: at, to: at, dir: path.Dir(path.Dir(path.Dir(path.Dir(f.key)))) + "/"}
				orphans[k] = o
			}
			o.n++
			if at.Before(o.from) {
				o.from = at
			}
			if at.After(o.to) {
				o.to = at
			}
			continue
		}
		fd := Finding{Kind: KindLogUncovered, Severity: SeverityFail, Account: f.account, Region: f.region, File: f.path, From: at, To: at}
		switch {
		case at.After(s.to):
			fd.Severity = SeverityWarn
			fd.Detail = fmt.Sprintf("delivered after the newest digest in the evidence (%s): its digest was not copied, not yet written, or removed", s.to.Format(time.RFC3339))
		case at.Before(s.from):
			fd.Severity = SeverityWarn
			fd.Detail = fmt.Sprintf("delivered before the oldest digest in the evidence (%s): validation was not on yet, or older digests were not copied", s.from.Format(time.RFC3339))
		default:
			fd.Detail = "no digest lists it although digests cover its delivery time: it was added after delivery, or the digest that listed it is missing"
		}
		v.add(fd)
	}
	keys := make([][2]string, 0, len(orphans))
	for k := range orphans {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		o := orphans[k]
		// Not checked is not tampered: without any digest nothing could be
		// verified, which Report.Checked says; it is a warning, not a failure.
		v.add(Finding{Kind: KindNoDigests, Severity: SeverityWarn, Account: k[0], Region: k[1], File: o.dir, From: o.from, To: o.to,
			Detail: fmt.Sprintf("%d log files and no digest file for this account and region: they cannot be verified (is log file validation on? were the CloudTrail-Digest folders copied?)", o.n)})
	}
}

func (v *verifier) finish() {
	r := v.rep
	if r.SignaturesChecked {
		if r.SignaturesUnknown > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%d digests (the newest of each chain) could not be signature-checked offline: a digest's own signature is S3 object metadata (x-amz-meta-signature), lost when copied; the next digest carries it", r.SignaturesUnknown))
		}
	} else if len(v.all) > 0 {
		r.Notes = append(r.Notes, "signatures were NOT checked: pass --public-keys with the output of `aws cloudtrail list-public-keys` saved while online; hashes and the chain were checked")
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if !a.From.Equal(b.From) {
			return a.From.Before(b.From)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.File < b.File
	})
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
}

// digestScope returns the account and region of a digest from its key.
func digestScope(d *Digest) (account, region string) {
	if m := digestName.FindStringSubmatch(s3Key(d.S3Object)); m != nil {
		return m[2], m[3]
	}
	return d.AccountID, ""
}

// trailName is the trail part of a digest name
// (<acct>_CloudTrail-Digest_<region>_<trail>_<home-region>).
func trailName(d *Digest) string {
	m := digestName.FindStringSubmatch(s3Key(d.S3Object))
	if m == nil {
		return ""
	}
	rest := strings.TrimPrefix(m[4], m[2]+"_CloudTrail-Digest_"+m[3]+"_")
	if i := strings.LastIndexByte(rest, '_'); i > 0 {
		return rest[:i]
	}
	return rest
}
