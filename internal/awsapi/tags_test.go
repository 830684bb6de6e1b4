package awsapi_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

// listedTags is list-tags of one resource as key → value.
func (ls *lakeServer) listedTags(t *testing.T, arn string) map[string]string {
	t.Helper()
	out := ls.must(t, ls.admin, "cloudtrail", "list-tags", "--resource-id-list", arn)["ResourceTagList"].([]any)
	if len(out) != 1 || out[0].(map[string]any)["ResourceId"] != arn {
		t.Fatalf("list-tags %s: %v", arn, out)
	}
	tags := map[string]string{}
	list, _ := out[0].(map[string]any)["TagsList"].([]any)
	for _, x := range list {
		tg := x.(map[string]any)
		tags[tg["Key"].(string)] = tg["Value"].(string)
	}
	return tags
}

// TestAWSCLITagsStoresAndChannels: a store's TagsList is kept and listed (list-tags by the
// store's ARN), add-tags and remove-tags change it, a channel's tags likewise; a reader may
// list but not change them; bad keys, too many tags and ARNs of what auditlake does not tag get
// Lake's errors. Tags were accepted and dropped.
func TestAWSCLITagsStoresAndChannels(t *testing.T) {
	t.Parallel() // each waits mostly on the CLI starting
	requireTool(t, "aws", "--version")
	ls := startLakeServer(t, 5, awsapiDefaults)
	admin := ls.admin

	c := ls.must(t, admin, "cloudtrail", "create-event-data-store", "--name", "tagged", "--no-termination-protection-enabled",
		"--tags-list", "Key=env,Value=prod", "Key=team,Value=sec ops")
	arn := c["EventDataStoreArn"].(string)
	want := map[string]string{"env": "prod", "team": "sec ops"}
	if got := ls.listedTags(t, arn); !reflect.DeepEqual(got, want) {
		t.Errorf("list-tags after create-event-data-store --tags-list: %v, want %v", got, want)
	}
	ls.must(t, admin, "cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=env,Value=dev", "Key=owner,Value=alice@example.com")
	ls.must(t, admin, "cloudtrail", "remove-tags", "--resource-id", arn, "--tags-list", "Key=team")
	want = map[string]string{"env": "dev", "owner": "alice@example.com"}
	if got := ls.listedTags(t, arn); !reflect.DeepEqual(got, want) {
		t.Errorf("list-tags after add-tags and remove-tags: %v, want %v", got, want)
	}
	// The tags are the store's: another call of the catalog sees them.
	if s, err := ls.lk.Resolve("tagged"); err != nil || !reflect.DeepEqual(s.Tags, want) {
		t.Errorf("the catalog holds %v (%v), want %v", s.Tags, err, want)
	}

	// The refusals, signed by the Go SDK's signer (the CLI's start would take a second each).
	tags := func(kv ...string) []map[string]string {
		var out []map[string]string
		for i := 0; i < len(kv); i += 2 {
			out = append(out, map[string]string{"Key": kv[i], "Value": kv[i+1]})
		}
		return out
	}
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("k%02d", i), "v")
	}
	readable := storeARNOf(ls, ls.store)
	for _, c := range []struct {
		creds access.Credentials
		op    string
		in    map[string]any
		want  string
	}{
		{admin, "AddTags", map[string]any{"ResourceId": arn, "TagsList": tags("aws:owner", "x")}, "InvalidTagParameterException"},
		{admin, "CreateEventDataStore", map[string]any{"Name": "badtag", "TagsList": tags("a<b", "x")}, "InvalidTagParameterException"},
		{admin, "AddTags", map[string]any{"ResourceId": arn, "TagsList": tags(many...)}, "TagsLimitExceededException"},
		{admin, "ListTags", map[string]any{"ResourceIdList": []string{"arn:aws:cloudtrail:us-east-1:000000000000:trail/t"}}, "ResourceTypeNotSupportedException"},
		{admin, "AddTags", map[string]any{"ResourceId": "tagged", "TagsList": tags("a", "b")}, "CloudTrailARNInvalidException"},
		{admin, "ListTags", map[string]any{"ResourceIdList": []string{"arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/00000000-0000-4000-8000-000000000000"}}, "EventDataStoreNotFoundException"},
		// A reader lists the tags of a store it reads; changing them needs manage.
		{ls.filtered, "ListTags", map[string]any{"ResourceIdList": []string{readable}}, ""},
		{ls.filtered, "AddTags", map[string]any{"ResourceId": readable, "TagsList": tags("a", "b")}, "AccessDeniedException"},
		{ls.nobody, "ListTags", map[string]any{"ResourceIdList": []string{arn}}, "EventDataStoreNotFoundException"},
	} {
		if code := ls.sdkCode(t, c.creds, c.op, c.in); code != c.want {
			t.Errorf("%s %v: %q, want %q", c.op, c.in, code, c.want)
		}
	}
	if _, err := ls.lk.Resolve("badtag"); err == nil {
		t.Error("a store with a refused tag was made")
	}

	acts, err := ls.lk.Create("app-activity", lake.CreateOptions{Type: lake.TypeActivity})
	if err != nil {
		t.Fatal(err)
	}
	ch, code := ls.cliOr(t, admin, []string{"cloudtrail", "create-channel", "--name", "app", "--source", "Custom",
		"--destinations", "Type=EVENT_DATA_STORE,Location=" + acts.ID, "--tags", "Key=app,Value=billing"},
		"/", "CreateChannel", map[string]any{"Name": "app", "Source": "Custom", "Destinations": []map[string]string{{"Type": "EVENT_DATA_STORE", "Location": acts.ID}},
			"Tags": []map[string]string{{"Key": "app", "Value": "billing"}}})
	if code != "" {
		t.Fatalf("create-channel --tags: %s", code)
	}
	chARN := ch["ChannelArn"].(string)
	if got := ls.listedTags(t, chARN); !reflect.DeepEqual(got, map[string]string{"app": "billing"}) {
		t.Errorf("list-tags of the channel: %v", got)
	}
	if code := ls.sdkCode(t, admin, "RemoveTags", map[string]any{"ResourceId": chARN, "TagsList": tags("app", "")}); code != "" {
		t.Fatalf("RemoveTags of the channel: %s", code)
	}
	if ch, err := integration.ResolveChannel(ls.lk, chARN); err != nil || len(ch.Tags) != 0 {
		t.Errorf("the channel after RemoveTags: %+v %v", ch, err)
	}
}

// sdkCode sends op signed by the AWS SDK for Go's signer and returns its error code ("" on
// success): refusals checked by the dozen without a CLI start (a second) each.
func (ls *lakeServer) sdkCode(t *testing.T, creds access.Credentials, op string, in any) string {
	t.Helper()
	_, code, err := ls.call(context.Background(), creds, op, in)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return code
}

func storeARNOf(ls *lakeServer, s lake.Store) string {
	return "arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/" + s.ID
}
