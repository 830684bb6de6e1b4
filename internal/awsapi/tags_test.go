package awsapi_test

import (
	"reflect"
	"testing"

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

	ls.refused(t, admin, "InvalidTagParameterException", "cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=aws:owner,Value=x")
	ls.refused(t, admin, "InvalidTagParameterException", "cloudtrail", "create-event-data-store", "--name", "badtag", "--tags-list", "Key=a<b,Value=x")
	var many []string
	for i := range 50 {
		many = append(many, "Key=k"+string(rune('A'+i/26))+string(rune('a'+i%26))+",Value=v")
	}
	ls.refused(t, admin, "TagsLimitExceededException", append([]string{"cloudtrail", "add-tags", "--resource-id", arn, "--tags-list"}, many...)...)
	ls.refused(t, admin, "ResourceTypeNotSupportedException", "cloudtrail", "list-tags", "--resource-id-list", "arn:aws:cloudtrail:us-east-1:000000000000:trail/t")
	ls.refused(t, admin, "CloudTrailARNInvalidException", "cloudtrail", "add-tags", "--resource-id", "tagged", "--tags-list", "Key=a,Value=b")
	ls.refused(t, admin, "EventDataStoreNotFoundException", "cloudtrail", "list-tags", "--resource-id-list",
		"arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/00000000-0000-4000-8000-000000000000")

	// A reader lists the tags of a store it reads; changing them needs manage.
	if got := ls.must(t, ls.filtered, "cloudtrail", "list-tags", "--resource-id-list", ls.must(t, admin, "cloudtrail", "get-event-data-store",
		"--event-data-store", ls.store.ID)["EventDataStoreArn"].(string))["ResourceTagList"].([]any); len(got) != 1 {
		t.Errorf("a reader's list-tags: %v", got)
	}
	ls.refused(t, ls.filtered, "AccessDeniedException", "cloudtrail", "add-tags", "--resource-id", storeARNOf(ls, ls.store), "--tags-list", "Key=a,Value=b")
	ls.refused(t, ls.nobody, "EventDataStoreNotFoundException", "cloudtrail", "list-tags", "--resource-id-list", arn)

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
	ls.must(t, admin, "cloudtrail", "remove-tags", "--resource-id", chARN, "--tags-list", "Key=app")
	if got := ls.listedTags(t, chARN); len(got) != 0 {
		t.Errorf("list-tags of the channel after remove-tags: %v", got)
	}
}

func storeARNOf(ls *lakeServer, s lake.Store) string {
	return "arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/" + s.ID
}
