package awsapi_test

import (
	"context"
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
	// The other calls that take the ARN, signed by the Go SDK's signer (the CLI's start would
	// take a second each).
	for _, op := range []string{"GetChannel", "ListTags"} {
		in := map[string]any{"Channel": chARN}
		if op == "ListTags" {
			in = map[string]any{"ResourceIdList": []string{chARN}}
		}
		if code := ls.sdkCode(t, admin, op, in); code != "" {
			t.Errorf("%s %s: %s", op, chARN, code)
		}
	}
	put := func(recipient string) map[string]any {
		event, _ := json.Marshal(map[string]any{"version": "1.0", "userIdentity": map[string]any{"type": "Employee", "principalId": "alice"},
			"eventSource": "app.example.com", "eventName": "Login", "eventTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
			"UID": "u-" + recipient, "recipientAccountId": recipient})
		entries, _ := json.Marshal([]map[string]string{{"id": "e1", "eventData": string(event)}})
		if recipient != awsapi.Account { // the refusal through the SDK's signer
			out, code, err := ls.send(context.Background(), admin, "cloudtrail-data", "/PutAuditEvents?channelArn="+url.QueryEscape(chARN), "", map[string]json.RawMessage{"auditEvents": entries})
			if err != nil || code != "" {
				t.Fatalf("PutAuditEvents: %v %s", err, code)
			}
			return out
		}
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
	if code := ls.sdkCode(t, admin, "DeleteChannel", map[string]string{"Channel": chARN}); code != "" {
		t.Errorf("DeleteChannel: %s", code)
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
	dest := storeARNOf(ls, stores[1])
	out, code := ls.cliOr(t, ls.admin, []string{"cloudtrail", "update-channel", "--channel", ch.ARN, "--name", "app-renamed", "--destinations", "Type=EVENT_DATA_STORE,Location=" + dest},
		"/", "UpdateChannel", map[string]any{"Channel": ch.ARN, "Name": "app-renamed", "Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": dest}}})
	if code != "" || out["ChannelArn"] != ch.ARN || out["Name"] != "app-renamed" || out["Destinations"].([]any)[0].(map[string]any)["Location"] != storeARNOf(ls, stores[1]) {
		t.Fatalf("update-channel: %s %v", code, out)
	}
	if got, err := integration.ResolveChannel(ls.lk, ch.ARN); err != nil || got.Name != "app-renamed" || got.StoreID != stores[1].ID {
		t.Errorf("the channel after update-channel: %+v %v", got, err)
	}
	// The refusals, signed by the Go SDK's signer (the CLI's start would take a second each);
	// carol reads the CloudTrail store only: the channel into an activity store is not hers to see.
	for _, c := range []struct {
		creds access.Credentials
		in    map[string]any
		want  string
	}{
		{ls.admin, map[string]any{"Name": "taken"}, "ChannelAlreadyExistsException"},
		{ls.admin, map[string]any{"Name": "no spaces allowed"}, "InvalidParameterException"},
		{ls.admin, map[string]any{"Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": ls.store.ID}}}, "InvalidEventDataStoreCategoryException"},
		{ls.filtered, map[string]any{"Name": "mine"}, "ChannelNotFoundException"},
	} {
		c.in["Channel"] = ch.ARN
		if code := ls.sdkCode(t, c.creds, "UpdateChannel", c.in); code != c.want {
			t.Errorf("UpdateChannel %v: %q, want %q", c.in, code, c.want)
		}
	}
}

// TestAWSCLIDeleteChannelRevokesItsPutGrants: delete-channel removes the put grants on the
// channel, as auditlake channel delete does; they were left behind, listed by auditlake grants
// for a channel that no longer exists.
func TestAWSCLIDeleteChannelRevokesItsPutGrants(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	acts, err := ls.lk.Create("acts", lake.CreateOptions{Type: lake.TypeActivity})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := integration.CreateChannel(ls.lk, "app", acts.ID, integration.ChannelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := access.Open(ls.lk.Dir)
	check := func(g *access.Grant) error {
		return access.CheckPutGrant(g, func(ref string) (string, error) {
			c, err := integration.ResolveChannel(ls.lk, ref)
			return c.ID(), err
		})
	}
	if _, err := reg.AddGrant(access.Grant{Privilege: access.Put, Principal: "user:carol", Resource: "channel:app"}, check); err != nil {
		t.Fatal(err)
	}
	if _, code := ls.cliOr(t, ls.admin, []string{"cloudtrail", "delete-channel", "--channel", ch.ARN}, "/", "DeleteChannel", map[string]string{"Channel": ch.ARN}); code != "" {
		t.Fatalf("delete-channel: %s", code)
	}
	st, err := reg.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Grants {
		if g.Resource == "channel:"+ch.ID() {
			t.Errorf("grant %+v outlives its channel", g)
		}
	}
}
