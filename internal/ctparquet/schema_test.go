package ctparquet

import "testing"

func TestStructureMatchesTheSchema(t *testing.T) {
	got := Structure("STRUCT(a VARCHAR, b STRUCT(c TIMESTAMP, d MAP(VARCHAR, VARCHAR)), e STRUCT(f VARCHAR)[])")
	want := `{"a":"VARCHAR","b":{"c":"TIMESTAMP","d":"MAP(VARCHAR, VARCHAR)"},"e":[{"f":"VARCHAR"}]}`
	if got != want {
		t.Fatalf("structure:\n got %s\nwant %s", got, want)
	}
}
