package cloudtrail

import (
	"strings"
	"time"
)

// KeyKind says which CloudTrail folder an object key is in.
type KeyKind int

const (
	// KindLog is a trail log file (…/CloudTrail/…): the input of ingest.
	KindLog KeyKind = iota + 1
	// KindInsight is an Insights events file (…/CloudTrail-Insight/…).
	KindInsight
	// KindDigest is a digest file (…/CloudTrail-Digest/…): not events; ingest skips it.
	KindDigest
)

// KeyInfo is what a trail object key says about its content (aws-formats.md §2.2, §2.3).
type KeyInfo struct {
	Kind KeyKind
	// Prefix is the part of the key before "AWSLogs/" (the trail's S3 key prefix), with its
	// trailing slash; empty when there is none.
	Prefix  string
	OrgID   string // "o-…" for an organization trail, else empty
	Account string
	Region  string
	// Date is the UTC day of the folder (YYYY/MM/DD) at midnight UTC.
	Date time.Time
	// FileTime is the delivery time in the file name (YYYYMMDDTHHmmZ for logs,
	// YYYYMMDDTHHmmssZ for digests); zero when the name does not follow the AWS pattern.
	FileTime time.Time
}

// ParseKey recognises the S3 key of a trail log, Insights or digest file:
//
//	[prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail[-Insight|-Digest]/<region>/YYYY/MM/DD/<file>
//
// It reports false for any other key. The file name is checked only for its account and region
// (when it follows the AWS pattern, they must match the folders) and its timestamp, which is
// optional: files copied or renamed by hand are still recognised by their folders. Keys that are
// digests (IsDigestKey) are recognised too; they hold no events.
func ParseKey(key string) (KeyInfo, bool) {
	var ki KeyInfo
	at := strings.LastIndex(key, "AWSLogs/")
	if at < 0 || (at > 0 && key[at-1] != '/') {
		return ki, false
	}
	ki.Prefix = key[:at]
	parts := strings.Split(key[at+len("AWSLogs/"):], "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "o-") && len(parts[0]) > 2 {
		ki.OrgID = parts[0]
		parts = parts[1:]
	}
	// <account>/<folder>/<region>/YYYY/MM/DD/<file>
	if len(parts) != 7 || !isAccount(parts[0]) || parts[2] == "" || parts[6] == "" {
		return ki, false
	}
	ki.Account, ki.Region = parts[0], parts[2]
	switch parts[1] {
	case "CloudTrail":
		ki.Kind = KindLog
	case "CloudTrail-Insight":
		ki.Kind = KindInsight
	case "CloudTrail-Digest":
		ki.Kind = KindDigest
	default:
		return ki, false
	}
	y, ok1 := fixedDigits(parts[3], 4)
	m, ok2 := fixedDigits(parts[4], 2)
	d, ok3 := fixedDigits(parts[5], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return ki, false
	}
	ki.Date = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if ki.Date.Day() != d {
		return ki, false
	}
	ki.FileTime = fileTime(parts[6], ki)
	return ki, true
}

// fileTime extracts the timestamp from <account>_<folder>_<region>_<YYYYMMDDTHHmm[ss]Z>… and
// checks it against the folders; zero when the name does not follow that pattern.
func fileTime(name string, ki KeyInfo) time.Time {
	folder := "CloudTrail"
	switch ki.Kind {
	case KindInsight:
		folder = "CloudTrail-Insight"
	case KindDigest:
		folder = "CloudTrail-Digest"
	}
	head := ki.Account + "_" + folder + "_" + ki.Region + "_"
	if !strings.HasPrefix(name, head) {
		return time.Time{}
	}
	rest := name[len(head):]
	if ki.Kind == KindDigest {
		// <trail-name>_<home-region>_<YYYYMMDDTHHmmssZ>.json.gz: the AWS CLI reads key[-24:-8].
		if len(rest) < 24 || !strings.HasSuffix(rest, ".json.gz") {
			return time.Time{}
		}
		ts := rest[len(rest)-24 : len(rest)-8]
		if t, err := time.Parse("20060102T150405Z", ts); err == nil {
			return t
		}
		return time.Time{}
	}
	// YYYYMMDDTHHmmZ, then an optional "_" and the random part.
	if len(rest) < 14 {
		return time.Time{}
	}
	t, err := time.Parse("20060102T1504Z", rest[:14])
	if err != nil {
		return time.Time{}
	}
	return t
}

// IsDigestKey reports whether key is a CloudTrail digest file (…/CloudTrail-Digest/…). Digests
// describe log files and hold no events; ingest must skip them.
func IsDigestKey(key string) bool {
	ki, ok := ParseKey(key)
	if ok {
		return ki.Kind == KindDigest
	}
	return strings.Contains(key, "/CloudTrail-Digest/") || strings.Contains(key, "_CloudTrail-Digest_")
}

// IsInsightKey reports whether key is a CloudTrail Insights events file
// (…/CloudTrail-Insight/…). Insights events belong in an Insights event data store.
func IsInsightKey(key string) bool {
	ki, ok := ParseKey(key)
	if ok {
		return ki.Kind == KindInsight
	}
	return strings.Contains(key, "/CloudTrail-Insight/") || strings.Contains(key, "_CloudTrail-Insight_")
}

func isAccount(s string) bool {
	_, ok := fixedDigits(s, 12)
	return ok
}

func fixedDigits(s string, n int) (int, bool) {
	if len(s) != n {
		return 0, false
	}
	return digits(s)
}
