package awsapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/awsapi"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

// TestAWSCLIChannelARNNamesTheLakesAccount: a channel made by create-channel names the account
// the store ARNs name (000000000000), not the CLI's default 123456789012, and its ARN from
// create-channel is taken by get-channel, list-tags, put-audit-events (whose events carry that
// account as recipientAccountId) and delete-channel.
func TestAWSCLIChannelARNNamesTheLakesAccount(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	admin := ls.admin
	acts := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "acts", "--no-termination-protection-enabled",
		"--advanced-event-selectors", `[{"Name":"app","FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]`)
	storeARN := acts["EventDataStoreArn"].(string)
	ch, code := ls.cliOr(t, admin, []string{"cloudtrail", "create-channel", "--name", "app", "--source", "Custom",
		"--destinations", "Type=EVENT_DATA_STORE,Location=" + storeARN},
		"/", "CreateChannel", map[string]any{"Name": "app", "Source": "Custom", "Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": storeARN}}})
	if code != "" {
		t.Fatalf("create-channel: %s", code)
	}
	chARN := ch["ChannelArn"].(string)
	account := func(arn string) string { return strings.Split(arn, ":")[4] }
	if account(chARN) != awsapi.Account || account(storeARN) != awsapi.Account {
		t.Errorf("channel %s and store %s: want both in account %s", chARN, storeARN, awsapi.Account)
	}
	if g, _ := ls.cliOr(t, admin, []string{"cloudtrail", "get-channel", "--channel", chARN}, "/", "GetChannel", map[string]string{"Channel": chARN}); g["ChannelArn"] != chARN {
		t.Errorf("get-channel %s: %v", chARN, g)
	}
	ls.listedTags(t, chARN)
	put := func(recipient string) map[string]any {
		event, _ := json.Marshal(map[string]any{"version": "1.0", "userIdentity": map[string]any{"type": "Employee", "principalId": "alice"},
			"eventSource": "app.example.com", "eventName": "Login", "eventTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
			"UID": "u-" + recipient, "recipientAccountId": recipient})
		entries, _ := json.Marshal([]map[string]string{{"id": "e1", "eventData": string(event)}})
		out, code := ls.cliOr(t, admin, []string{"cloudtrail-data", "put-audit-events", "--channel-arn", chARN, "--audit-events", string(entries)},
			"/PutAuditEvents?channelArn="+url.QueryEscape(chARN), "", map[string]json.RawMessage{"auditEvents": entries})
		if code != "" {
			t.Fatalf("put-audit-events: %s", code)
		}
		return out
	}
	if out := put(awsapi.Account); len(out["successful"].([]any)) != 1 {
		t.Errorf("an event for the channel's account %s: %v", awsapi.Account, out)
	}
	if out := put("123456789012"); len(out["failed"].([]any)) != 1 {
		t.Errorf("an event for another account: %v", out)
	}
	if _, code := ls.cliOr(t, admin, []string{"cloudtrail", "delete-channel", "--channel", chARN}, "/", "DeleteChannel", map[string]string{"Channel": chARN}); code != "" {
		t.Errorf("delete-channel: %s", code)
	}
}

// TestAWSCLIUpdateChannelRenamesAndRedirects: update-channel renames a channel and points it at
// another activity store, keeping its ARN (so its senders' grants); a name another channel has,
// a name that is not valid, a CloudTrail store and a reader are refused with Lake's errors. It
// was UnknownOperationException.
func TestAWSCLIUpdateChannelRenamesAndRedirects(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	var stores []lake.Store
	for _, name := range []string{"acts-a", "acts-b"} {
		s, err := ls.lk.Create(name, lake.CreateOptions{Type: lake.TypeActivity})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	ch, err := integration.CreateChannel(ls.lk, "app", stores[0].ID, integration.ChannelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integration.CreateChannel(ls.lk, "taken", stores[0].ID, integration.ChannelOptions{}); err != nil {
		t.Fatal(err)
	}
	update := func(creds access.Credentials, name, dest string) (map[string]any, string) {
		args, in := []string{"cloudtrail", "update-channel", "--channel", ch.ARN}, map[string]any{"Channel": ch.ARN}
		if name != "" {
			args, in["Name"] = append(args, "--name", name), name
		}
		if dest != "" {
			args, in["Destinations"] = append(args, "--destinations", "Type=EVENT_DATA_STORE,Location="+dest), []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": dest}}
		}
		return ls.cliOr(t, creds, args, "/", "UpdateChannel", in)
	}
	out, code := update(ls.admin, "app-renamed", storeARNOf(ls, stores[1]))
	if code != "" || out["ChannelArn"] != ch.ARN || out["Name"] != "app-renamed" || out["Destinations"].([]any)[0].(map[string]any)["Location"] != storeARNOf(ls, stores[1]) {
		t.Fatalf("update-channel: %s %v", code, out)
	}
	if got, err := integration.ResolveChannel(ls.lk, ch.ARN); err != nil || got.Name != "app-renamed" || got.StoreID != stores[1].ID {
		t.Errorf("the channel after update-channel: %+v %v", got, err)
	}
	for _, c := range []struct{ name, dest, want string }{
		{"taken", "", "ChannelAlreadyExistsException"},
		{"no spaces allowed", "", "InvalidParameterException"},
		{"", ls.store.ID, "InvalidEventDataStoreCategoryException"},
	} {
		if _, code := update(ls.admin, c.name, c.dest); code != c.want {
			t.Errorf("update-channel %q %q: %q, want %q", c.name, c.dest, code, c.want)
		}
	}
	// carol reads the CloudTrail store only: the channel into an activity store is not hers to see.
	if _, code := update(ls.filtered, "mine", ""); code != "ChannelNotFoundException" {
		t.Errorf("a reader's update-channel: %q", code)
	}
}
