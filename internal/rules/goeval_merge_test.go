package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// mergeRecords are events of AssumedRole sessions of two roles over two hours, some of them
// twice (the same id at the same time, and at another time: counted once, at its first), for
// the AssumeRole Misuse rule grouped by principal per hour.
func mergeRecords(t *testing.T, n int) []*cloudtrail.Record {
	t.Helper()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var parts []string
	for i := range n {
		role := fmt.Sprintf("role-%d", i%2)
		at := base.Add(time.Duration(i*7919%7200) * time.Second)
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		if i%5 == 3 { // the id of an earlier event again, of its role: same time, or another
			id, role = fmt.Sprintf("%08x-0000-4000-8000-%012x", i-1, i-1), fmt.Sprintf("role-%d", (i-1)%2)
			if i%10 == 3 {
				at = base.Add(time.Duration((i-1)*7919%7200) * time.Second)
			}
		}
		parts = append(parts, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"GetObject",`+
			`"awsRegion":"us-east-1","eventID":%q,"recipientAccountId":"111122223333","userIdentity":{"type":"AssumedRole",`+
			`"arn":"arn:aws:sts::111122223333:assumed-role/%s/s","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/%s"}}}}`,
			at.Format(time.RFC3339), id, role, role))
	}
	var out []*cloudtrail.Record
	if _, err := cloudtrail.Decode(strings.NewReader(`{"Records":[`+strings.Join(parts, ",")+`]}`), "merge", cloudtrail.DecodeOptions{},
		func(r *cloudtrail.Record) error {
			out = append(out, r)
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoResultMergeAndDuplicates: the groups of records evaluated in one File are those of the
// same records evaluated in several Files and merged — flat, in nested merges (a merged result
// merged again: its groups' items shared, with their arenas shifted), and left as they were
// when merged elsewhere — and an id met twice in a group counts once, at its first time, in
// small groups (compared) and large ones (a set).
func TestGoResultMergeAndDuplicates(t *testing.T) {
	ctx := context.Background()
	compiled, _, err := sigma.Load(testdata("sigma-aws-cloudtrail-rules", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []rules.Rule
	for _, r := range rules.FromSigma(compiled) {
		if r.Title == "AWS STS AssumeRole Misuse" {
			rs = append(rs, r)
		}
	}
	if len(rs) != 1 {
		t.Fatalf("%d AssumeRole Misuse rules", len(rs))
	}
	gs := []rules.Grouping{{Key: "principal", Window: time.Hour}}
	noSQL := func() (*query.Session, error) { t.Fatal("SQL needed"); return nil, nil }
	for _, small := range []int{32, 0} {
		for _, n := range []int{40, 3000} {
			t.Run(fmt.Sprintf("n=%d small=%d", n, small), func(t *testing.T) {
				rules.SetSmallGroup(t, small)
				recs := mergeRecords(t, n)
				eval := rules.NewGoEval(rs, gs)
				for _, r := range recs[:n/2] { // some judged as decoded, the others in File
					eval.Decoded(r)
				}
				whole, err := rules.EvaluateGroupedWith(ctx, noSQL, rs, gs, rules.Target{}, eval.File(recs))
				if err != nil {
					t.Fatal(err)
				}
				want := groupsText(whole[0])
				// The ids: each once, at its first time; as many as distinct ids.
				distinct := map[string]bool{} // by group (principal, hour) and id
				for _, r := range recs {
					distinct[*r.UserIdentity.ARN+r.EventTime.Truncate(time.Hour).String()+r.EventID] = true
				}
				count := 0
				for _, g := range whole[0] {
					count += len(g.EventIDs)
					if len(slices.Compact(slices.Sorted(slices.Values(g.EventIDs)))) != len(g.EventIDs) {
						t.Errorf("group %s: an id twice", g.First.Principal)
					}
					// The ids as JSON, when made, are these ids (not the duplicates dropped).
					if want, _ := json.Marshal(g.EventIDs); g.IDsJSON != "" && g.IDsJSON != string(want) {
						t.Errorf("group %s: IDsJSON %.100s, want %.100s", g.First.Principal, g.IDsJSON, want)
					}
				}
				if count != len(distinct) || len(whole[0]) < 4 {
					t.Fatalf("%d ids in %d groups, want %d ids in at least 4", count, len(whole[0]), len(distinct))
				}
				// Flat: each part's File merged into one result.
				parts := [][]*cloudtrail.Record{recs[:n/3], recs[n/3 : n/2], recs[n/2 : 3*n/4], recs[3*n/4:]}
				files := make([]*rules.GoResult, len(parts))
				for i, p := range parts {
					files[i] = eval.File(p)
				}
				flat := rules.NewGoResult()
				for _, f := range files {
					flat.Merge(f)
				}
				// Nested: two merged results, merged; and the first merged again alone.
				a, b := rules.NewGoResult(), rules.NewGoResult()
				a.Merge(files[0])
				a.Merge(files[1])
				b.Merge(files[2])
				b.Merge(files[3])
				nested := rules.NewGoResult()
				nested.Merge(b)
				nested.Merge(a)
				for name, res := range map[string]*rules.GoResult{"flat": flat, "nested": nested} {
					got, err := rules.EvaluateGroupedWith(ctx, noSQL, rs, gs, rules.Target{}, res)
					if err != nil {
						t.Fatal(err)
					}
					if g := groupsText(got[0]); !slices.Equal(g, want) {
						t.Errorf("%s: %d groups, want %d:\n%v\n%v", name, len(g), len(want), first(g, 2), first(want, 2))
					}
				}
				// The parts' results were left as they were: evaluated alone, each gives its
				// own groups still.
				for i, f := range files {
					got, err := rules.EvaluateGroupedWith(ctx, noSQL, rs, gs, rules.Target{}, f)
					if err != nil {
						t.Fatal(err)
					}
					again, err := rules.EvaluateGroupedWith(ctx, noSQL, rs, gs, rules.Target{}, eval.File(parts[i]))
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(groupsText(got[0]), groupsText(again[0])) {
						t.Errorf("part %d: its result changed by the merges", i)
					}
				}
			})
		}
	}
}

// TestCloneFactCopiesEveryStringApart: the facts a watcher keeps outlive their records
// (cloneFact, the text of all in one string): every string and pointer field of
// lifecycle.Fact, each of its own value and length (nil, empty and present among them), is
// its value again and none points into the original.
func TestCloneFactCopiesEveryStringApart(t *testing.T) {
	var f lifecycle.Fact
	v := reflect.ValueOf(&f).Elem()
	for i := range v.NumField() {
		fv, name := v.Field(i), v.Type().Field(i).Name
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(strings.Repeat(name, 1+i%3))
		case reflect.Pointer:
			switch {
			case i%5 == 0: // left nil
			case fv.Type().Elem().Kind() == reflect.String:
				s := strings.Repeat(name, i%4) // "" for some
				fv.Set(reflect.ValueOf(&s))
			default:
				fv.Set(reflect.New(fv.Type().Elem()))
				fv.Elem().SetInt(int64(7 + i))
			}
		case reflect.Struct: // time.Time: a value
		default:
			t.Fatalf("field %s of kind %s: cloneFact does not know it", name, fv.Kind())
		}
	}
	c := rules.CloneFact(f)
	cv := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		a, b, name := v.Field(i), cv.Field(i), v.Type().Field(i).Name
		switch a.Kind() {
		case reflect.String:
			if a.String() != b.String() || unsafe.StringData(a.String()) == unsafe.StringData(b.String()) {
				t.Errorf("field %s: %q, want a copy of %q", name, b.String(), a.String())
			}
		case reflect.Pointer:
			switch {
			case a.IsNil():
				if !b.IsNil() {
					t.Errorf("field %s: set, want nil", name)
				}
			case b.IsNil() || a.Pointer() == b.Pointer() || !reflect.DeepEqual(a.Elem().Interface(), b.Elem().Interface()):
				t.Errorf("field %s not copied", name)
			case a.Elem().Kind() == reflect.String && a.Elem().Len() > 0 && unsafe.StringData(a.Elem().String()) == unsafe.StringData(b.Elem().String()):
				t.Errorf("field %s: its text is the original's", name)
			}
		}
	}
}

// TestMicrosAndBucketIsTruncate: a record's time in microseconds and its window's start,
// computed in integers, are time.Time.Truncate's — for times around 1970, today and far
// ahead, with nanoseconds, in other zones, and windows that divide a day, that do not (7m,
// 90m, 1.5s, 13µs) and that are no whole microseconds (taken by Truncate itself).
func TestMicrosAndBucketIsTruncate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	windows := []time.Duration{time.Hour, 24 * time.Hour, 7 * time.Minute, 90 * time.Minute, 1500 * time.Millisecond, 13 * time.Microsecond,
		time.Microsecond, 1500 * time.Nanosecond, time.Nanosecond, 0, 7 * 24 * time.Hour}
	zones := []*time.Location{time.UTC, time.FixedZone("E", 5*3600+1800), time.FixedZone("W", -7*3600)}
	bases := []time.Time{time.Unix(0, 0), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range 20000 {
		base := bases[rng.IntN(len(bases))]
		at := base.Add(time.Duration(rng.Int64N(int64(400*24*time.Hour))) - 200*24*time.Hour).Add(time.Duration(rng.IntN(1e9))).In(zones[rng.IntN(len(zones))])
		w := windows[rng.IntN(len(windows))]
		us, bucket := rules.MicrosAndBucket(at, w)
		tu := at.UTC().Truncate(time.Microsecond)
		wantBucket := int64(0)
		if w > 0 {
			wantBucket = tu.Truncate(w).UnixMicro()
		}
		if us != tu.UnixMicro() || bucket != wantBucket {
			t.Fatalf("%s, window %s: %d, %d; want %d, %d", at, w, us, bucket, tu.UnixMicro(), wantBucket)
		}
	}
}
