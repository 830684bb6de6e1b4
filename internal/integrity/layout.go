package integrity

import (
	"regexp"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/objstore"
)

// The trail layout (reference/aws-formats.md §2.2, §2.3). Group 1 is the key from "AWSLogs/" on,
// which is the same in S3 and in a local copy whatever prefix or directory holds it.
var (
	digestKeyRE = regexp.MustCompile(`(?:^|/)(AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail-Digest_[a-z0-9-]+_(.+)_([a-z0-9-]+)_(\d{8}T\d{6}Z)\.json\.gz)$`)
	logKeyRE    = regexp.MustCompile(`(?:^|/)(AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_?[A-Za-z0-9]+\.json\.gz)$`)
)

// entry is one listed digest or log file.
type entry struct {
	obj objstore.Object
	// layout is the key from "AWSLogs/" on; base is what precedes it (S3 prefix or local dir).
	layout, base string
	// scope names the account and region (with base), shared by a region's logs and digests.
	scope string
	// chain names one digest chain: scope plus trail name and home region. Empty for logs.
	chain string
	// time is the digest's end time or the log file's delivery minute, from the name.
	time time.Time
}

func parseDigestEntry(o objstore.Object) (entry, bool) {
	m := digestKeyRE.FindStringSubmatchIndex(o.Key)
	if m == nil {
		return entry{}, false
	}
	sub := func(i int) string { return o.Key[m[2*i]:m[2*i+1]] }
	t, err := time.Parse("20060102T150405Z", sub(6))
	if err != nil {
		return entry{}, false
	}
	layout := sub(1)
	e := entry{obj: o, layout: layout, base: o.Key[:m[2]], time: t}
	e.scope = e.base + strings.Replace(layout[:strings.Index(layout, "/CloudTrail-Digest/")+len("/CloudTrail-Digest/")], "/CloudTrail-Digest/", "/", 1) + sub(3)
	e.chain = e.scope + " " + sub(4) + " " + sub(5)
	return e, true
}

func parseLogEntry(o objstore.Object) (entry, bool) {
	m := logKeyRE.FindStringSubmatchIndex(o.Key)
	if m == nil {
		return entry{}, false
	}
	sub := func(i int) string { return o.Key[m[2*i]:m[2*i+1]] }
	t, err := time.Parse("20060102T1504Z", sub(4))
	if err != nil {
		return entry{}, false
	}
	layout := sub(1)
	e := entry{obj: o, layout: layout, base: o.Key[:m[2]], time: t}
	e.scope = e.base + strings.Replace(layout[:strings.Index(layout, "/CloudTrail/")+len("/CloudTrail/")], "/CloudTrail/", "/", 1) + sub(3)
	return e, true
}

// layoutOf returns key from its "AWSLogs/" segment on, or key itself when it has none.
func layoutOf(key string) string {
	if strings.HasPrefix(key, "AWSLogs/") {
		return key
	}
	if i := strings.LastIndex(key, "/AWSLogs/"); i >= 0 {
		// A prefix may itself contain "/AWSLogs/"; the layout regexps anchor the real one.
		if m := digestKeyRE.FindStringSubmatch(key); m != nil {
			return m[1]
		}
		if m := logKeyRE.FindStringSubmatch(key); m != nil {
			return m[1]
		}
		return key[i+1:]
	}
	return key
}
