package configitems

import (
	"strconv"
	"strings"
	"time"
)

// KeyInfo is what an S3 key in AWS Config's delivery layout says about its object.
type KeyInfo struct {
	Account, Region string
	// Date is the delivery day from the key (UTC midnight).
	Date time.Time
	// Kind is the folder after the date: ConfigHistory, ConfigSnapshot or
	// OversizedChangeNotification.
	Kind string
	// From and To are the window of a ConfigHistory file, from its name
	// (…_ConfigHistory_<type>_<from>_<to>_<n>.json.gz); zero otherwise.
	From, To time.Time
}

// ParseKey reads a key of the form
//
//	[prefix/]AWSLogs/<account>/Config/<region>/<YYYY>/<M>/<D>/<Kind>/…
//
// where, unlike CloudTrail's layout, month and day are not zero-padded (2016/9/27); padded
// values are accepted too. ok is false for any other key.
func ParseKey(key string) (KeyInfo, bool) {
	parts := strings.Split(key, "/")
	for i := 0; i+7 < len(parts); i++ {
		if parts[i] != "AWSLogs" || parts[i+2] != "Config" {
			continue
		}
		y, err1 := strconv.Atoi(parts[i+4])
		m, err2 := strconv.Atoi(parts[i+5])
		d, err3 := strconv.Atoi(parts[i+6])
		if err1 != nil || err2 != nil || err3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
			return KeyInfo{}, false
		}
		ki := KeyInfo{Account: parts[i+1], Region: parts[i+3],
			Date: time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), Kind: parts[i+7]}
		if ki.Kind == "ConfigHistory" {
			f := strings.Split(parts[len(parts)-1], "_")
			if n := len(f); n >= 4 {
				from, err1 := time.Parse("20060102T150405Z", f[n-3])
				to, err2 := time.Parse("20060102T150405Z", f[n-2])
				if err1 == nil && err2 == nil {
					ki.From, ki.To = from, to
				}
			}
		}
		return ki, true
	}
	return KeyInfo{}, false
}

// IsNotData reports whether a key in the Config layout names an object that holds no items.
func IsNotData(key string) bool {
	return strings.HasSuffix(key, "ConfigWritabilityCheckFile") || strings.HasSuffix(key, ".metadata.json")
}
