package cost_test

import (
	"testing"

	"github.com/auditlake/auditlake/internal/cost"
)

func TestAthenaNameFollowsTheCURGuideTransformRules(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := cost.AthenaName(in); got != want {
			t.Errorf("AthenaName(%q) = %q, want %q", in, got, want)
		}
	}
	// The examples the CUR user guide gives.
	f("lineItem/UnblendedCost", "line_item_unblended_cost")
	f("lineItem/ResourceId", "line_item_resource_id")
	f("reservation/ReservationARN", "reservation_reservation_a_r_n")
	f("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n")
	f("resourceTags/user:Name", "resource_tags_user_name")
	f("resourceTags/aws:createdBy", "resource_tags_aws_created_by")
	// Koku headers next to the names Koku's own Athena-style file uses.
	f("product/maxIopsvolume", "product_max_iopsvolume")
	f("product/clockSpeed", "product_clock_speed")
	f("costCategory/Charge type", "cost_category_charge_type")
	f("identity/TimeInterval", "identity_time_interval")
	// Already-normalised names are left alone.
	f("line_item_usage_start_date", "line_item_usage_start_date")
	f("savings_plan_savings_plan_a_r_n", "savings_plan_savings_plan_a_r_n")
	f("__odd//Name__", "odd_name")
}
