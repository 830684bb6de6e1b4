package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedOrganizationReportMatchesGroundTruth generates an organization with cost files,
// ingests and registers it through the CLI, and checks the launch-compliance report against the
// generator's ground truth instance by instance: who launched it, how, from which template,
// whether it is approved, when it ended, and what it cost.
func TestGeneratedOrganizationReportMatchesGroundTruth(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "20000", "--seed", "11", "--cur", "--force")
	var truth struct {
		Approved  []string `json:"approvedTemplateIds"`
		Instances []struct {
			ID          string  `json:"instanceId"`
			Account     string  `json:"account"`
			Principal   string  `json:"principalArn"`
			Launcher    string  `json:"launcher"`
			TemplateID  string  `json:"templateId"`
			Approved    bool    `json:"approved"`
			Terminated  string  `json:"terminationTime"`
			Cost        float64 `json:"cost"`
			SavingsPlan bool    `json:"savingsPlanCovered"`
		} `json:"instances"`
	}
	b, err := os.ReadFile(filepath.Join(src, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	createStore(t, dir, "org")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "org", filepath.Join(src, "AWSLogs"))
	mustRun(t, 0, dir, "cur", "register", "cur.generated", filepath.Join(src, "cur"))
	args := []string{"report", "launch-compliance", "--eds", "org", "--cur", "cur.generated", "--format", "json"}
	for _, id := range truth.Approved {
		args = append(args, "--approved-template", id)
	}
	var rep struct {
		Rows []struct {
			InstanceID   string  `json:"instance_id"`
			Account      string  `json:"account_id"`
			LaunchedBy   string  `json:"launched_by"`
			Launcher     string  `json:"launcher"`
			TemplateID   string  `json:"template_id"`
			Status       string  `json:"status"`
			TerminatedAt *string `json:"terminated_at"`
			Unblended    float64 `json:"unblended_cost"`
			Effective    float64 `json:"effective_cost"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, dir, args...)), &rep); err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for i, r := range rep.Rows {
		rows[r.InstanceID] = i
	}
	if len(rep.Rows) != len(truth.Instances) {
		t.Errorf("report has %d instances, truth %d", len(rep.Rows), len(truth.Instances))
	}
	launcher := map[string]string{"autoscaling": "autoscaling", "ec2fleet": "ec2_fleet", "spotfleet": "spot_fleet", "emr": "emr",
		"eks": "eks_nodegroup", "console": "console", "cli": "cli", "sdk": "sdk"}
	for _, in := range truth.Instances {
		i, ok := rows[in.ID]
		if !ok {
			t.Errorf("%s: launched (truth) but not in the report", in.ID)
			continue
		}
		r := rep.Rows[i]
		status := "not_approved"
		switch {
		case in.Approved:
			status = "approved"
		case in.TemplateID == "":
			status = "no_template"
		}
		end := ""
		if r.TerminatedAt != nil {
			end = *r.TerminatedAt
		}
		if r.Status != status || r.TemplateID != in.TemplateID || r.LaunchedBy != in.Principal || r.Account != in.Account ||
			r.Launcher != launcher[in.Launcher] || end != in.Terminated {
			t.Errorf("%s: report {%s %s %s %s %s end=%s}, truth {%s %s %s %s %s end=%s}", in.ID,
				r.Status, r.TemplateID, r.LaunchedBy, r.Account, r.Launcher, end,
				status, in.TemplateID, in.Principal, in.Account, launcher[in.Launcher], in.Terminated)
		}
		// Savings Plan covered hours net to zero unblended (the negation lines) and cost less
		// effective; other instances cost the same both ways.
		wantUnblended, effLow, effHigh := in.Cost, in.Cost, in.Cost
		if in.SavingsPlan {
			wantUnblended, effLow, effHigh = 0, 0, in.Cost
		}
		if math.Abs(r.Unblended-wantUnblended) > 1e-4 || r.Effective < effLow-1e-4 || r.Effective > effHigh+1e-4 {
			t.Errorf("%s: cost unblended %.6f effective %.6f, truth %.6f (savings plan %v)", in.ID, r.Unblended, r.Effective, in.Cost, in.SavingsPlan)
		}
	}
}
