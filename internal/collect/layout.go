package collect

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/objstore"
)

// folder is the key folder of a source type's files under an account: AWSLogs/<account>/CloudTrail/<region>/.
func folder(typ string) string {
	if typ == TypeConfig {
		return "Config"
	}
	return "CloudTrail"
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	orgRE     = regexp.MustCompile(`^o-[a-z0-9]{4,32}$`)
)

// leafOf returns the account/region prefix that prefix lies in or is ("…/CloudTrail/us-east-1/"),
// or "" when prefix is above that level.
func leafOf(prefix, kind string) string {
	segs := strings.Split(prefix, "/")
	for i, s := range segs {
		if s == kind && i+1 < len(segs) && segs[i+1] != "" {
			return strings.Join(segs[:i+2], "/") + "/"
		}
	}
	return ""
}

// discover finds the account/region prefixes under prefix in bucket: it walks the folders with
// delimiter listings (one request per folder: AWSLogs/, the organization, each account's
// CloudTrail/ folder), never the objects. It returns the prefixes and the requests made.
func discover(ctx context.Context, cl *objstore.Client, bucket, prefix, kind string) ([]string, int, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if leaf := leafOf(prefix, kind); leaf != "" {
		return []string{prefix}, 0, nil
	}
	var leaves []string
	requests := 0
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		l, err := cl.List(ctx, bucket, p, "", "/")
		requests += l.Requests
		if err != nil {
			return err
		}
		for _, child := range l.Prefixes {
			base := strings.TrimSuffix(strings.TrimPrefix(child, p), "/")
			switch {
			case strings.HasSuffix(p, "/"+kind+"/") || p == kind+"/":
				leaves = append(leaves, child) // a region
			case base == kind:
				if err := walk(child, depth+1); err != nil {
					return err
				}
			case depth < 4 && (base == "AWSLogs" || accountRE.MatchString(base) || orgRE.MatchString(base)):
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk(prefix, 0)
	return leaves, requests, err
}

// dayKey is the key prefix of day t under a region prefix: CloudTrail pads the month and day
// (2026/03/07/), Config does not (2026/3/7/).
func dayKey(leaf, kind string, t time.Time) string {
	t = t.UTC()
	if kind == "Config" {
		return fmt.Sprintf("%s%d/%d/%d/", leaf, t.Year(), int(t.Month()), t.Day())
	}
	return leaf + t.Format("2006/01/02") + "/"
}

// isRegionLeaf reports whether leaf is exactly an account/region prefix (day folders below it).
func isRegionLeaf(leaf, kind string) bool { return leafOf(leaf, kind) == leaf }

// startAfter is where a CloudTrail poll of leaf lists from: after the last key committed, but no
// later than the start of yesterday's day folder, so that files CloudTrail delivers late into
// yesterday or today are found (what the store holds already is skipped by its ingest state);
// on the first poll, from the start, or from the day before from (--from).
func startAfter(leaf, kind, pos string, now, from time.Time) string {
	if !isRegionLeaf(leaf, kind) {
		return pos
	}
	if pos == "" {
		if from.IsZero() {
			return ""
		}
		return strings.TrimSuffix(dayKey(leaf, kind, from.AddDate(0, 0, -1)), "/")
	}
	window := strings.TrimSuffix(dayKey(leaf, kind, now.AddDate(0, 0, -1)), "/")
	return min(pos, window)
}
