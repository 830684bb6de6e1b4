package integrity

import (
	"bytes"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PublicKey is one CloudTrail signing key.
type PublicKey struct {
	// Fingerprint is the lowercase hex fingerprint that digests name in
	// digestPublicKeyFingerprint.
	Fingerprint string
	Key         *rsa.PublicKey
	// ValidFrom and ValidTo come from list-public-keys output; zero for PEM keys.
	ValidFrom, ValidTo time.Time
}

// KeySet holds public keys by fingerprint. The zero value is an empty set ready to use.
type KeySet struct {
	byFingerprint map[string]PublicKey
}

// Add puts k into the set under k.Fingerprint (case-insensitive), replacing any key there.
func (s *KeySet) Add(k PublicKey) {
	if s.byFingerprint == nil {
		s.byFingerprint = make(map[string]PublicKey)
	}
	k.Fingerprint = strings.ToLower(k.Fingerprint)
	s.byFingerprint[k.Fingerprint] = k
}

// AddDER puts a key given as DER (PKCS #1 or X.509, as ListPublicKeys returns it) into the set
// under the fingerprint CloudTrail gives it.
func (s *KeySet) AddDER(der []byte, fingerprint string, from, to time.Time) error {
	if fingerprint == "" {
		return errors.New("public key without a fingerprint")
	}
	pub, err := parseDERPublicKey(der)
	if err != nil {
		return fmt.Errorf("public key %q: %w", fingerprint, err)
	}
	s.Add(PublicKey{Fingerprint: fingerprint, Key: pub, ValidFrom: from, ValidTo: to})
	return nil
}

// Lookup returns the key with the given fingerprint.
func (s KeySet) Lookup(fingerprint string) (PublicKey, bool) {
	k, ok := s.byFingerprint[strings.ToLower(fingerprint)]
	return k, ok
}

// Len is the number of fingerprints in the set (a PEM key counts under two, see ParseKeys).
func (s KeySet) Len() int { return len(s.byFingerprint) }

// Fingerprint returns the fingerprint CloudTrail uses for pub: the hex MD5 of the key's PKCS #1
// RSAPublicKey DER encoding. AWS does not document this; it is inferred from the one key AWS has
// published with its fingerprint (the aws-cli list-public-keys example, whose Value hashes to its
// Fingerprint this way; see testdata/aws-cli-list-public-keys-example). Key selection is only a
// lookup: the RSA signature check is what proves a digest authentic, so a wrong assumption makes
// validation fail closed ("no public key with fingerprint"), never pass.
func Fingerprint(pub *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(pub))
	return hex.EncodeToString(sum[:])
}

// pkixFingerprint is the hex MD5 of the X.509 SubjectPublicKeyInfo DER form of pub.
func pkixFingerprint(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := md5.Sum(der)
	return hex.EncodeToString(sum[:]), nil
}

// ParseKeys reads public keys in either of two forms, told apart by the first non-space byte:
//
//   - the JSON printed by `aws cloudtrail list-public-keys`:
//     {"PublicKeyList":[{"Value": base64 DER, "ValidityStartTime", "ValidityEndTime", "Fingerprint"}]}
//     Each key is filed under the Fingerprint AWS gives. Value may be PKCS #1 or X.509 DER.
//   - PEM text with one or more "RSA PUBLIC KEY" (PKCS #1) or "PUBLIC KEY" (X.509) blocks.
//     PEM carries no fingerprint, so each key is filed under Fingerprint (MD5 of the PKCS #1 DER)
//     and, in case AWS ever hashes the other form, under the MD5 of its X.509 DER too.
func ParseKeys(data []byte) (KeySet, error) {
	var set KeySet
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return set, errors.New("no public keys: input is empty")
	}
	if trimmed[0] == '{' {
		return parseKeyList(trimmed)
	}
	rest := trimmed
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		pub, err := parseDERPublicKey(block.Bytes)
		if err != nil {
			return set, fmt.Errorf("parse pem block %q: %w", block.Type, err)
		}
		set.Add(PublicKey{Fingerprint: Fingerprint(pub), Key: pub})
		fp, err := pkixFingerprint(pub)
		if err != nil {
			return set, err
		}
		set.Add(PublicKey{Fingerprint: fp, Key: pub})
	}
	if set.Len() == 0 {
		return set, errors.New("no public keys: input is neither list-public-keys JSON nor PEM")
	}
	return set, nil
}

type keyListJSON struct {
	PublicKeyList []struct {
		Value             string          `json:"Value"`
		ValidityStartTime json.RawMessage `json:"ValidityStartTime"`
		ValidityEndTime   json.RawMessage `json:"ValidityEndTime"`
		Fingerprint       string          `json:"Fingerprint"`
	} `json:"PublicKeyList"`
}

func parseKeyList(data []byte) (KeySet, error) {
	var set KeySet
	var list keyListJSON
	if err := json.Unmarshal(data, &list); err != nil {
		return set, fmt.Errorf("parse list-public-keys json: %w", err)
	}
	for i, k := range list.PublicKeyList {
		if k.Fingerprint == "" {
			return set, fmt.Errorf("public key %d: no Fingerprint", i)
		}
		der, err := base64.StdEncoding.DecodeString(k.Value)
		if err != nil {
			return set, fmt.Errorf("public key %q: decode base64 value: %w", k.Fingerprint, err)
		}
		from, err := parseAWSTime(k.ValidityStartTime)
		if err != nil {
			return set, fmt.Errorf("public key %q: ValidityStartTime: %w", k.Fingerprint, err)
		}
		to, err := parseAWSTime(k.ValidityEndTime)
		if err != nil {
			return set, fmt.Errorf("public key %q: ValidityEndTime: %w", k.Fingerprint, err)
		}
		if err := set.AddDER(der, k.Fingerprint, from, to); err != nil {
			return set, err
		}
	}
	if set.Len() == 0 {
		return set, errors.New("no public keys: PublicKeyList is empty")
	}
	return set, nil
}

// parseDERPublicKey accepts PKCS #1 RSAPublicKey DER and X.509 SubjectPublicKeyInfo DER: AWS's
// documentation calls the key PKCS #1 but its own sample output is SubjectPublicKeyInfo.
func parseDERPublicKey(der []byte) (*rsa.PublicKey, error) {
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return pub, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse der public key (tried pkcs #1 and x.509): %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, not rsa", k)
	}
	return pub, nil
}

// parseAWSTime reads the AWS CLI's timestamp output: an ISO 8601 string (the default
// cli_timestamp_format) or epoch seconds (the "wire" format). null or absent gives zero.
func parseAWSTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("parse time %q", s)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %s: %w", raw, err)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}
