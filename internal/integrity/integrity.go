// Package integrity validates CloudTrail log file integrity the way `aws cloudtrail
// validate-logs` does (reference/aws-formats.md §2.3), over an S3 prefix or a local copy of one.
//
// Each digest file is signed (RSASSA-PKCS1-v1_5 with SHA-256) over its end time, its own
// location, the SHA-256 of its uncompressed content and the previous digest's signature, and it
// lists the SHA-256 of every log file delivered in its hour. Digests of one trail and region form
// a chain backwards through previousDigestS3Object, previousDigestSignature and
// previousDigestHashValue. Validate walks every chain from its newest digest, and then checks
// the log files the valid digests list. It reports a verdict for every digest and log file:
// digests are valid, modified, invalid-signature or missing (a gap: referenced by a successor but
// absent); log files are valid, modified, deleted (listed but absent) or not-covered (present
// but listed by no valid digest).
//
// The newest digest's signature lives only in its S3 user metadata; for a local copy it is read
// from a "<digest>.metadata.json" sidecar (see CopyDigestMetadata). Older digests are verified
// with the signature their successor repeats, so their own metadata is not needed.
package integrity

import (
	"fmt"
	"sort"
)

// Kind says what a verdict is about.
type Kind string

// The kinds of file a Report covers.
const (
	KindLog    Kind = "log"
	KindDigest Kind = "digest"
)

// Status is a verdict on one file.
type Status string

// Log file statuses are Valid, Modified, Deleted and NotCovered; digest statuses are Valid,
// Modified, InvalidSignature and Missing.
const (
	StatusValid Status = "valid"
	// StatusModified: a log file's hash differs from its digest's listing, or a digest's content
	// differs from its successor's previousDigestHashValue, is not a readable digest, or sits
	// somewhere other than the location it names.
	StatusModified Status = "modified"
	// StatusDeleted: a log file listed in a valid digest is absent.
	StatusDeleted Status = "deleted"
	// StatusNotCovered: a log file is present but no valid digest lists it.
	StatusNotCovered Status = "not-covered"
	// StatusInvalidSignature: no signature, no public key with the digest's fingerprint, or the
	// signature does not verify.
	StatusInvalidSignature Status = "invalid-signature"
	// StatusMissing: a digest named as previousDigestS3Object by a valid successor is absent.
	StatusMissing Status = "missing"
)

// Verdict is the outcome for one file. File is the object's URI as the source names it (a local
// path or s3://bucket/key); for a deleted or missing file, where it should be.
type Verdict struct {
	File   string `json:"file"`
	Kind   Kind   `json:"kind"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report lists the verdicts of one validation run: digests first, then log files, each sorted
// by File.
type Report struct {
	Verdicts []Verdict
	byFile   map[string]int
}

// Lookup returns the verdict for a file URI, as ingest needs to refuse or flag a file.
func (r *Report) Lookup(file string) (Verdict, bool) {
	i, ok := r.byFile[file]
	if !ok {
		return Verdict{}, false
	}
	return r.Verdicts[i], true
}

// OK reports whether every verdict is valid.
func (r *Report) OK() bool {
	for _, v := range r.Verdicts {
		if v.Status != StatusValid {
			return false
		}
	}
	return true
}

// Counts tallies verdicts by kind and status.
type Counts struct {
	Digests, Logs int
	Log           map[Status]int
	Digest        map[Status]int
}

// Counts tallies the report.
func (r *Report) Counts() Counts {
	c := Counts{Log: map[Status]int{}, Digest: map[Status]int{}}
	for _, v := range r.Verdicts {
		switch v.Kind {
		case KindLog:
			c.Logs++
			c.Log[v.Status]++
		case KindDigest:
			c.Digests++
			c.Digest[v.Status]++
		}
	}
	return c
}

// String is the one-line summary, e.g. "validated 24 digest files and 310 log files: 309 valid,
// 1 modified, 0 deleted, 0 not covered; digests: 24 valid, 0 modified, 0 invalid signature,
// 0 missing".
func (c Counts) String() string {
	return fmt.Sprintf("validated %d digest files and %d log files: %d valid, %d modified, %d deleted, %d not covered; digests: %d valid, %d modified, %d invalid signature, %d missing",
		c.Digests, c.Logs,
		c.Log[StatusValid], c.Log[StatusModified], c.Log[StatusDeleted], c.Log[StatusNotCovered],
		c.Digest[StatusValid], c.Digest[StatusModified], c.Digest[StatusInvalidSignature], c.Digest[StatusMissing])
}

func (r *Report) finish() {
	sort.SliceStable(r.Verdicts, func(i, j int) bool {
		a, b := r.Verdicts[i], r.Verdicts[j]
		if a.Kind != b.Kind {
			return a.Kind == KindDigest
		}
		return a.File < b.File
	})
	r.byFile = make(map[string]int, len(r.Verdicts))
	for i, v := range r.Verdicts {
		r.byFile[v.File] = i
	}
}
