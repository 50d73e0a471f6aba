package integrity

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// PublicKey is one entry of `aws cloudtrail list-public-keys` output
// (API reference, "PublicKey"): Value is the DER encoded public key in
// PKCS#1 format, base64 in the CLI's JSON; Fingerprint is the hex string a
// digest names in digestPublicKeyFingerprint. AWS does not document how the
// fingerprint is computed, so keys are matched by that string, as aws-cli's
// validate-logs does, never recomputed.
type PublicKey struct {
	Fingerprint string
	Key         *rsa.PublicKey
	ValidFrom   time.Time
	ValidTo     time.Time
}

// Keys are public keys by lower-case fingerprint.
type Keys map[string]*PublicKey

// ReadKeys reads the JSON printed by `aws cloudtrail list-public-keys`
// ({"PublicKeyList":[{"Value","ValidityStartTime","ValidityEndTime",
// "Fingerprint"}]}); several outputs concatenated (one per region) are
// accepted. Validity times may be epoch seconds (CLI v1) or ISO 8601 (v2).
func ReadKeys(r io.Reader) (Keys, error) {
	keys := Keys{}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for {
		var doc struct {
			PublicKeyList []struct {
				Value             string          `json:"Value"`
				ValidityStartTime json.RawMessage `json:"ValidityStartTime"`
				ValidityEndTime   json.RawMessage `json:"ValidityEndTime"`
				Fingerprint       string          `json:"Fingerprint"`
			} `json:"PublicKeyList"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("public keys: %w (expected the JSON of aws cloudtrail list-public-keys)", err)
		}
		for i, k := range doc.PublicKeyList {
			der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Value))
			if err != nil {
				return nil, fmt.Errorf("public key %d (%s): Value is not base64: %w", i, k.Fingerprint, err)
			}
			pub, err := parseRSAPublicKey(der)
			if err != nil {
				return nil, fmt.Errorf("public key %d (%s): %w", i, k.Fingerprint, err)
			}
			if k.Fingerprint == "" {
				return nil, fmt.Errorf("public key %d: no Fingerprint", i)
			}
			keys[strings.ToLower(k.Fingerprint)] = &PublicKey{
				Fingerprint: strings.ToLower(k.Fingerprint), Key: pub,
				ValidFrom: keyTime(k.ValidityStartTime), ValidTo: keyTime(k.ValidityEndTime),
			}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("public keys: no PublicKeyList entries (expected the JSON of aws cloudtrail list-public-keys)")
	}
	return keys, nil
}

// parseRSAPublicKey reads PKCS#1 DER (what CloudTrail returns) and, to be
// forgiving, SubjectPublicKeyInfo DER.
func parseRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return pub, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("value is not a DER RSA public key (PKCS#1)")
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("value is not an RSA public key")
	}
	return pub, nil
}

func keyTime(raw json.RawMessage) time.Time {
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return time.Time{}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(int64(f), 0).UTC()
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// SigningString is the data CloudTrail signs for a digest ("Custom
// implementations of CloudTrail log file integrity validation", Data
// signing string summary; aws-cli _create_string_to_sign): the digest end
// time as written in the file, the S3 path bucket/object, the hex SHA-256
// of the uncompressed digest file and the previous digest's hex signature
// ("null" for the first digest of a chain), joined by newlines.
func SigningString(d *Digest, contentHash string) string {
	prev := "null"
	if d.PreviousSignature != nil {
		prev = *d.PreviousSignature
	}
	return d.EndTime + "\n" + d.S3Bucket + "/" + d.S3Object + "\n" + contentHash + "\n" + prev
}

// Signature outcomes.
var (
	errNoKey        = errors.New("no public key with this fingerprint was supplied")
	errBadSignature = errors.New("signature does not verify")
	errKeyNotValid  = errors.New("the key was not valid when the digest was signed")
)

// verifySignature checks a hex signature over the digest's signing string
// with SHA256withRSA (RSASSA-PKCS1-v1_5 with SHA-256, as aws-cli's
// Sha256RSADigestValidator does).
func verifySignature(keys Keys, d *Digest, sigHex string) error {
	k := keys[strings.ToLower(d.KeyFingerprint)]
	if k == nil {
		return errNoKey
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return errBadSignature
	}
	sum := sha256.Sum256([]byte(SigningString(d, d.ContentHash)))
	if rsa.VerifyPKCS1v15(k.Key, crypto.SHA256, sum[:], sig) != nil {
		return errBadSignature
	}
	// CloudTrail signs a digest when it delivers it, just after its end
	// time, with the key valid then; aws-cli only accepts keys listed for
	// the digests' time range. A signature by a key outside its validity is
	// one a retired (or leaked) key made.
	if (!k.ValidFrom.IsZero() && d.End.Before(k.ValidFrom)) || (!k.ValidTo.IsZero() && d.End.After(k.ValidTo)) {
		return errKeyNotValid
	}
	return nil
}

// Sign signs a digest as CloudTrail does and returns the hex signature. It
// exists for tests and for the bundled samples, which sign with a test key.
func Sign(key *rsa.PrivateKey, d *Digest, contentHash string) (string, error) {
	sum := sha256.Sum256([]byte(SigningString(d, contentHash)))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}

// SignDigest signs an uncompressed digest file as CloudTrail does and
// returns the hex signature (for tests and the bundled samples, which are
// signed with a test key).
func SignDigest(key *rsa.PrivateKey, content []byte) (string, error) {
	d, err := parseDigest(content)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	return Sign(key, d, hex.EncodeToString(sum[:]))
}
