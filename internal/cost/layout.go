package cost

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/auditlake/auditlake/internal/objstore"
)

// candidate is a data file chosen by the layout rules, before it is made local. unmanaged is
// set when no manifest chose it (loose files, periods without a manifest): such files are
// compared by content for copies of one report (see dedupeCopies).
type candidate struct {
	obj       objstore.Object
	period    string
	unmanaged bool
}

// Skipped is a billing data file under the source that does not count, and why: an assembly a
// newer one supersedes, a file its period's manifest does not list, or another copy of a report
// that counts (the same name compressed otherwise, or the same line items).
type Skipped struct {
	URI    string `json:"uri"`
	Reason string `json:"reason"`
}

// compressionSuffixes are the endings that make two names one report delivered twice.
var compressionSuffixes = []string{".gz", ".zip"}

// reportName is the key without a compression suffix: test_cur.csv and test_cur.csv.gz are one
// report.
func reportName(key string) string {
	l := strings.ToLower(key)
	for _, s := range compressionSuffixes {
		if strings.HasSuffix(l, s) {
			return key[:len(key)-len(s)]
		}
	}
	return key
}

// dropCompressedCopies keeps, of the files that differ only in a compression suffix, the newest
// (the first by key when equally old), and reports the others as skipped.
func dropCompressedCopies(files []candidate, skipped *[]Skipped) []candidate {
	best := map[string]int{}
	for i, c := range files {
		name := reportName(c.obj.Key)
		j, ok := best[name]
		if !ok {
			best[name] = i
			continue
		}
		o := files[j].obj
		if c.obj.ModTime.After(o.ModTime) || (c.obj.ModTime.Equal(o.ModTime) && c.obj.Key < o.Key) {
			best[name] = i
		}
	}
	var out []candidate
	for i, c := range files {
		kept := files[best[reportName(c.obj.Key)]]
		if best[reportName(c.obj.Key)] == i {
			out = append(out, c)
			continue
		}
		*skipped = append(*skipped, Skipped{URI: c.obj.URI, Reason: "another copy of " + kept.obj.URI + " (same name, other compression), which counts"})
	}
	return out
}

var (
	reCUR2 = regexp.MustCompile(`(^|/)(data|metadata)/BILLING_PERIOD=(\d{4}-\d{2})/`)
	reCUR1 = regexp.MustCompile(`(^|/)((\d{4})(\d{2})\d{2}-\d{8})/`)
	reHive = regexp.MustCompile(`(^|/)year=(\d{4})/month=(\d{1,2})/`)
)

// dataKind is "csv" or "parquet" for a billing data file, "" for anything else (manifests,
// Redshift and Athena artifacts, status files).
func dataKind(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.HasSuffix(k, ".csv"), strings.HasSuffix(k, ".csv.gz"), strings.HasSuffix(k, ".csv.zip"):
		return "csv"
	case strings.HasSuffix(k, ".parquet"):
		return "parquet"
	}
	return ""
}

func isManifest(key string) bool {
	base := path.Base(key)
	return strings.HasSuffix(base, "Manifest.json") && !strings.Contains(base, "Redshift")
}

// manifest holds the fields of CUR 1.0 and CUR 2.0 manifests that decide which files count.
type manifest struct {
	AssemblyID string   `json:"assemblyId"`
	ReportKeys []string `json:"reportKeys"`
	DataFiles  []string `json:"dataFiles"`
}

func (m manifest) keys() []string {
	return append(append([]string(nil), m.ReportKeys...), m.DataFiles...)
}

func readManifest(ctx context.Context, c *objstore.Client, o objstore.Object) (manifest, error) {
	var m manifest
	r, err := c.Open(ctx, o.URI)
	if err != nil {
		return m, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return m, fmt.Errorf("read manifest %q: %w", o.URI, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse manifest %q: %w", o.URI, err)
	}
	return m, nil
}

// resolveLayout picks the data files that count among objs (everything under the source):
// CUR 2.0 billing periods through their manifests, CUR 1.0 billing periods through the newest
// assembly, Athena Parquet year=/month= partitions, and loose files. hive reports whether every
// file sits in a year=/month= partition; skipped lists the data files that do not count.
func resolveLayout(ctx context.Context, c *objstore.Client, objs []objstore.Object) (files []candidate, hive bool, skipped []Skipped, err error) {
	type group struct {
		period    string
		manifests []objstore.Object
		data      []objstore.Object
	}
	cur2 := map[string]*group{}
	cur1 := map[string]*group{}
	var hiveFiles, loose []candidate
	for _, o := range objs {
		kind := dataKind(o.Key)
		if strings.Contains(o.Key, "cost_and_usage_data_status/") {
			continue // the Athena integration's READY/UPDATING flag, not billing data
		}
		if kind == "" && !isManifest(o.Key) {
			continue
		}
		if m := reCUR2.FindStringSubmatchIndex(o.Key); m != nil {
			root := o.Key[:m[3]] // the export's prefix, without data/ or metadata/
			period := o.Key[m[6]:m[7]]
			g := cur2[root+"|"+period]
			if g == nil {
				g = &group{period: period}
				cur2[root+"|"+period] = g
			}
			if o.Key[m[4]:m[5]] == "metadata" {
				if isManifest(o.Key) {
					g.manifests = append(g.manifests, o)
				}
			} else if kind != "" {
				g.data = append(g.data, o)
			}
			continue
		}
		if m := reHive.FindStringSubmatch(o.Key); m != nil {
			if kind != "" {
				month := m[3]
				if len(month) == 1 {
					month = "0" + month
				}
				hiveFiles = append(hiveFiles, candidate{obj: o, period: m[2] + "-" + month})
			}
			continue
		}
		if m := reCUR1.FindStringSubmatchIndex(o.Key); m != nil {
			dir := o.Key[:m[5]] + "/" // up to and including the period directory
			g := cur1[dir]
			if g == nil {
				g = &group{period: o.Key[m[6]:m[7]] + "-" + o.Key[m[8]:m[9]]}
				cur1[dir] = g
			}
			if isManifest(o.Key) {
				g.manifests = append(g.manifests, o)
			} else {
				g.data = append(g.data, o)
			}
			continue
		}
		if kind != "" {
			loose = append(loose, candidate{obj: o})
		}
	}

	for _, key := range sortedKeys(cur2) {
		g := cur2[key]
		if len(g.manifests) == 0 {
			for _, o := range g.data {
				files = append(files, candidate{obj: o, period: g.period, unmanaged: true})
			}
			continue
		}
		newest := newestObject(g.manifests)
		m, err := readManifest(ctx, c, newest)
		if err != nil {
			return nil, false, nil, err
		}
		picked, err := matchKeys(newest, m.keys(), g.data)
		if err != nil {
			return nil, false, nil, err
		}
		for _, o := range picked {
			files = append(files, candidate{obj: o, period: g.period})
		}
		skipped = append(skipped, notPicked(g.data, picked, "not listed in the newest manifest "+newest.URI)...)
	}

	for _, dir := range sortedKeys(cur1) {
		g := cur1[dir]
		picked, managed, why, err := pickAssembly(ctx, c, dir, g.manifests, g.data)
		if err != nil {
			return nil, false, nil, err
		}
		for _, o := range picked {
			files = append(files, candidate{obj: o, period: g.period, unmanaged: !managed})
		}
		skipped = append(skipped, notPicked(g.data, picked, why)...)
	}
	files = append(files, hiveFiles...)
	for i := range loose {
		loose[i].unmanaged = true
	}
	files = append(files, loose...)
	hive = len(hiveFiles) > 0 && len(hiveFiles) == len(files)
	files = dropCompressedCopies(files, &skipped)
	return files, hive, skipped, nil
}

// notPicked lists the data files of all that picked leaves out, with the reason.
func notPicked(all, picked []objstore.Object, reason string) []Skipped {
	in := map[string]bool{}
	for _, o := range picked {
		in[o.URI] = true
	}
	var out []Skipped
	for _, o := range all {
		if !in[o.URI] && dataKind(o.Key) != "" {
			out = append(out, Skipped{URI: o.URI, Reason: reason})
		}
	}
	return out
}

// pickAssembly chooses the files of one CUR 1.0 billing period directory. With report versions
// kept, each refresh is an assembly subdirectory; only the newest counts: the one the
// period-level manifest names, else the one whose manifest (or, lacking one, newest file) is
// newest. Without assemblies (overwrite mode) the files in the period directory count. managed
// reports whether a manifest chose the files; why says why the others do not count.
func pickAssembly(ctx context.Context, c *objstore.Client, dir string, manifests, data []objstore.Object) (files []objstore.Object, managed bool, why string, err error) {
	byAssembly := map[string][]objstore.Object{}
	asmManifest := map[string]objstore.Object{}
	var direct []objstore.Object
	var periodManifests []objstore.Object
	for _, o := range data {
		rest := strings.TrimPrefix(o.Key, dir)
		if asm, _, ok := strings.Cut(rest, "/"); ok {
			byAssembly[asm] = append(byAssembly[asm], o)
		} else {
			direct = append(direct, o)
		}
	}
	for _, o := range manifests {
		rest := strings.TrimPrefix(o.Key, dir)
		if asm, _, ok := strings.Cut(rest, "/"); ok {
			if prev, seen := asmManifest[asm]; !seen || o.ModTime.After(prev.ModTime) {
				asmManifest[asm] = o
			}
		} else {
			periodManifests = append(periodManifests, o)
		}
	}
	if len(byAssembly) == 0 {
		if len(periodManifests) > 0 {
			pm := newestObject(periodManifests)
			m, err := readManifest(ctx, c, pm)
			if err != nil {
				return nil, false, "", err
			}
			if len(m.keys()) > 0 {
				files, err := matchKeys(pm, m.keys(), direct)
				return files, true, "not listed in the period's manifest " + pm.URI, err
			}
		}
		return direct, false, "", nil
	}
	chosen := ""
	if len(periodManifests) > 0 {
		pm := newestObject(periodManifests)
		m, err := readManifest(ctx, c, pm)
		if err != nil {
			return nil, false, "", err
		}
		if m.AssemblyID != "" {
			if _, ok := byAssembly[m.AssemblyID]; !ok {
				return nil, false, "", fmt.Errorf("manifest %q names assembly %q, which has no data files under %q", pm.URI, m.AssemblyID, dir)
			}
			chosen = m.AssemblyID
			managed = true
			why = "superseded: the period's manifest " + pm.URI + " names assembly " + chosen
		}
	}
	if chosen == "" {
		var best objstore.Object
		for _, asm := range sortedKeys(byAssembly) {
			stamp, ok := asmManifest[asm]
			if !ok {
				stamp = newestObject(byAssembly[asm])
			}
			if chosen == "" || stamp.ModTime.After(best.ModTime) {
				chosen, best = asm, stamp
			}
		}
		why = "superseded by the newer assembly " + chosen
	}
	files = byAssembly[chosen]
	if mo, ok := asmManifest[chosen]; ok {
		m, err := readManifest(ctx, c, mo)
		if err != nil {
			return nil, false, "", err
		}
		if len(m.keys()) > 0 {
			files, err := matchKeys(mo, m.keys(), files)
			return files, true, why, err
		}
	}
	return files, managed, why, nil
}

// matchKeys finds, for every key a manifest lists (an S3 key or s3:// URI, possibly under
// another bucket or prefix than the source), the listed object whose key ends with the longest
// part of it, at least the file name and its directory.
func matchKeys(man objstore.Object, keys []string, objs []objstore.Object) ([]objstore.Object, error) {
	var out []objstore.Object
	for _, k := range keys {
		if objstore.IsS3(k) {
			if _, key, err := objstore.SplitS3(k); err == nil {
				k = key
			}
		}
		parts := strings.Split(strings.Trim(k, "/"), "/")
		found := false
		for n := len(parts); n >= 2 && !found; n-- {
			suffix := strings.Join(parts[len(parts)-n:], "/")
			for _, o := range objs {
				if o.Key == suffix || strings.HasSuffix(o.Key, "/"+suffix) {
					out = append(out, o)
					found = true
					break
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("manifest %q lists %q, which is not among the source's data files", man.URI, k)
		}
	}
	return out, nil
}

func newestObject(objs []objstore.Object) objstore.Object {
	best := objs[0]
	for _, o := range objs[1:] {
		if o.ModTime.After(best.ModTime) || (o.ModTime.Equal(best.ModTime) && o.Key > best.Key) {
			best = o
		}
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
