package ingest

import (
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/objstore"
)

// TestSortByDeliveryOrdersByFileTimeThenKey: files in delivery order across accounts and
// regions (the time in the file name, else the folder's day), keys breaking ties, and files
// whose key says no time first, in key order.
func TestSortByDeliveryOrdersByFileTimeThenKey(t *testing.T) {
	keys := []string{
		"AWSLogs/222222222222/CloudTrail/us-east-1/2026/09/02/222222222222_CloudTrail_us-east-1_20260902T0005Z_a.json.gz",
		"AWSLogs/111111111111/CloudTrail/eu-west-1/2026/09/02/111111111111_CloudTrail_eu-west-1_20260902T0000Z_b.json.gz",
		"misc/events.json",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/09/01/111111111111_CloudTrail_us-east-1_20260901T2355Z_c.json.gz",
		"AWSLogs/333333333333/CloudTrail/us-east-1/2026/09/02/333333333333_CloudTrail_us-east-1_20260902T0005Z_a.json.gz",
		"another/file.json",
	}
	want := []int{5, 2, 3, 1, 0, 4}
	jobs := make([]job, len(keys))
	for i, k := range keys {
		ki, ok := cloudtrail.ParseKey(k)
		jobs[i] = job{obj: objstore.Object{URI: k, Key: k}, at: deliveryTime(ki, ok), seq: i}
	}
	sortByDelivery(jobs)
	for i, j := range jobs {
		if j.seq != want[i] {
			got := make([]int, len(jobs))
			for k := range jobs {
				got[k] = jobs[k].seq
			}
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
