// Package sigma compiles Sigma detection rules (https://sigmahq.io, specification v2) written
// for AWS CloudTrail (logsource product aws, service cloudtrail) into one SQL predicate over a
// CloudTrail store's columns (package ctparquet's schema): field names as in the CloudTrail
// record are mapped to columns, struct fields, the map columns' values and, as the last
// resort, the record's JSON text (fields.go); values are matched as Sigma defines it (match.go);
// the condition becomes and/or/not over the searches (condition.go). A rule that uses what is
// not supported is refused with the file, rule id and reason, never widened or narrowed.
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Rule is one compiled Sigma rule.
type Rule struct {
	ID          string
	Title       string
	Description string
	Status      string
	Level       string // informational, low, medium, high, critical ("" when the rule has none)
	Author      string
	Tags        []string
	References  []string
	// File is the path the rule was read from, Source its text; Doc its YAML document in a
	// file of several (1, 2, …; set by Load), 0 in a file of one.
	File   string
	Doc    int
	Source string
	// Predicate is the rule's detection as a DuckDB boolean expression over the columns of a
	// CloudTrail store: SELECT * FROM store WHERE Predicate returns the events it matches.
	// Run it in a session with the dialect macros installed (package query's sessions have
	// them): the cidr modifier uses them.
	Predicate string
	// Prefilter is implied by Predicate and reads only the PrefilterColumns (eventsource and
	// eventname): every event Predicate holds for, Prefilter holds for; "" when the rule says
	// nothing about them. Evaluated over the distinct (eventsource, eventname) of the events a
	// rule runs over, it gives the values the rule's events can have — exact values that prune
	// a scan where the case-insensitive Predicate cannot (package rules).
	Prefilter string
	// GoRefused says why the rule has no Go matcher (Match): a construct of its detection with
	// no exact Go equivalent; "" when it has one.
	GoRefused string
	// Warnings are what the rule may not mean as written: an unquoted value that reads as a
	// number whose text is not the value's (eventVersion: 1.10 is the number 1.1, as pySigma
	// reads it). The rule compiles as pySigma reads it; quoting the value keeps its text.
	Warnings []string

	goNode, goPre node
}

// RefusedError is a rule that cannot be compiled, and why.
type RefusedError struct {
	File   string
	Doc    int    // the YAML document of File (1, 2, …) in a file of several; 0 in a file of one
	ID     string // "" when the rule has none or could not be read
	Reason string
}

func (e *RefusedError) Error() string {
	id := e.ID
	if id == "" {
		id = "no id"
	}
	file := e.File
	if e.Doc > 0 {
		file += fmt.Sprintf(" document %d", e.Doc)
	}
	return fmt.Sprintf("sigma rule %s (%s) refused: %s", file, id, e.Reason)
}

// ErrRefused is what every *RefusedError matches with errors.Is.
var ErrRefused = errors.New("sigma rule refused")

func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// maxRuleBytes bounds one rule file: Sigma rules are a few KB; a larger file is not a rule.
const maxRuleBytes = 1 << 20

// Load reads path, a Sigma YAML file or a directory searched recursively for *.yml and *.yaml,
// and compiles every rule in it. A rule that cannot be compiled, or whose id an earlier file
// (in path order) has, is returned among refused, and the others still load; err is only for a path that cannot be read at all.
func Load(path string) (rules []*Rule, refused []*RefusedError, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read sigma rules %q: %w", path, err)
	}
	var files []string
	if !info.IsDir() {
		files = []string{path}
	} else {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if !d.IsDir() && (ext == ".yml" || ext == ".yaml") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read sigma rules %q: %w", path, err)
		}
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("read sigma rules %q: no .yml or .yaml files in it", path)
		}
	}
	slices.Sort(files)
	fileOf := map[string]string{} // rule id → the file it was loaded from
	for _, f := range files {
		data, err := readLimited(f)
		if err != nil {
			refused = append(refused, &RefusedError{File: f, Reason: err.Error()})
			continue
		}
		rs, docs, bad := ParseAll(f, data)
		refused = append(refused, bad...)
		for i, r := range rs {
			// The registry keeps one rule per id: a second would replace the first unseen.
			if first, ok := fileOf[r.ID]; ok {
				refused = append(refused, &RefusedError{File: f, Doc: docs[i], ID: r.ID, Reason: fmt.Sprintf("%s has the same id: give each rule its own id", first)})
				continue
			}
			fileOf[r.ID] = f
			r.Doc = docs[i]
			rules = append(rules, r)
		}
	}
	return rules, refused, nil
}

// ParseAll compiles every rule of data, a file (read from file, for messages) of one YAML
// document or several (separated by ---): each rule document is compiled on its own (Parse,
// its Source the document's text), and a document that is not a rule — a correlation, a
// filter — or cannot be compiled is refused alone, naming its number (docs[i] is rules[i]'s,
// 0 in a file of one document). A document without an id is named by the file's name, and
// the second and later ones by the file's name and their number (name-2). Only malformed YAML
// refuses the whole file. A Sigma rule collection (action: global, reset, repeat) is not
// merged: its action documents, and each document that follows a global one (until a reset),
// are refused — compiled without the global part they would match other events than the
// collection means.
func ParseAll(file string, data []byte) (rules []*Rule, docs []int, refused []*RefusedError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var lines []int // each document's first line
	var nodes []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, []*RefusedError{{File: file, Reason: fmt.Sprintf("malformed YAML: %v", err)}}
		}
		lines = append(lines, n.Line)
		nodes = append(nodes, &n)
	}
	if len(nodes) <= 1 {
		r, err := Parse(file, data)
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, nil, []*RefusedError{re}
		}
		return []*Rule{r}, []int{0}, nil
	}
	text := strings.SplitAfter(string(data), "\n")
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	global := 0 // the document of the collection's global part in effect, 0 for none
	for k, n := range nodes {
		doc := k + 1
		root := n
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document: a --- at the end of the file
		}
		refuse := func(format string, args ...any) {
			id := ""
			if v := yamlMapValue(root, "id"); v != nil && v.Kind == yaml.ScalarNode {
				id = truncate(v.Value, 80)
			}
			refused = append(refused, &RefusedError{File: file, Doc: doc, ID: id, Reason: fmt.Sprintf(format, args...)})
		}
		if a := yamlMapValue(root, "action"); a != nil {
			switch a.Value {
			case "global":
				global = doc
			case "reset":
				global = 0
			}
			refuse("action %q: Sigma rule collections (action: global, reset, repeat) are not supported: write each rule in full", truncate(a.Value, 40))
			continue
		}
		if global > 0 {
			refuse("this rule takes the collection's global part (document %d, action: global), which is not supported: write the rule in full", global)
			continue
		}
		first, end := 1, len(text)
		if k > 0 {
			first = max(lines[k], 1)
		}
		if k+1 < len(lines) {
			end = min(lines[k+1]-1, len(text))
		}
		src := strings.Join(text[first-1:max(end, first-1)], "")
		defaultID := base
		if doc > 1 {
			defaultID = fmt.Sprintf("%s-%d", base, doc)
		}
		r, err := parse(file, []byte(src), defaultID)
		var re *RefusedError
		if errors.As(err, &re) {
			re.Doc = doc
			refused = append(refused, re)
			continue
		}
		rules, docs = append(rules, r), append(docs, doc)
	}
	return rules, docs, refused
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRuleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRuleBytes {
		return nil, fmt.Errorf("file is larger than %d bytes: not a Sigma rule", maxRuleBytes)
	}
	return data, nil
}

// ruleDoc is the part of a Sigma rule's YAML read into Go values; detection is read from the
// node tree, to keep value types (null, number, string) as written.
type ruleDoc struct {
	Title       string    `yaml:"title"`
	ID          string    `yaml:"id"`
	Status      string    `yaml:"status"`
	Description string    `yaml:"description"`
	Author      string    `yaml:"author"`
	Level       string    `yaml:"level"`
	Type        string    `yaml:"type"`
	Action      string    `yaml:"action"`
	Tags        []string  `yaml:"tags"`
	References  []string  `yaml:"references"`
	Logsource   logsource `yaml:"logsource"`
	Detection   yaml.Node `yaml:"detection"`
	Correlation yaml.Node `yaml:"correlation"`
	Filter      yaml.Node `yaml:"filter"`
}

// correlation says whether document n holds a Sigma 2 correlation section (correlation:
// with its type, rules, group-by, timespan, condition), and its type (event_count,
// value_count, temporal, …; "?" when it names none).
func correlation(n *yaml.Node) (typ string, ok bool) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	c := yamlMapValue(n, "correlation")
	if c == nil {
		return "", false
	}
	return correlationType(c), true
}

// correlationType is the type a correlation section names, "?" when none.
func correlationType(c *yaml.Node) string {
	if t := yamlMapValue(c, "type"); t != nil && t.Kind == yaml.ScalarNode {
		return truncate(t.Value, 40)
	}
	return "?"
}

// yamlMapValue is the value of key in mapping n, nil when n is no mapping or has no such key.
func yamlMapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// correlationRefused is why a correlation rule is refused.
func correlationRefused(typ string) string {
	return fmt.Sprintf("correlation rule (%s): Sigma correlation rules are not supported (a rule matches single events); add its base rules on their own, each in a file of its own", typ)
}

type logsource struct {
	Product  string `yaml:"product"`
	Service  string `yaml:"service"`
	Category string `yaml:"category"`
}

// idRE is what a rule id may be: it is printed in terminals and named on command lines.
var idRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

var levels = []string{"informational", "low", "medium", "high", "critical"}

// Parse compiles the Sigma rule in data (read from file, for messages). Every problem is a
// *RefusedError naming the file, the rule id and the reason.
func Parse(file string, data []byte) (*Rule, error) {
	return parse(file, data, strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
}

// parse is Parse, the rule named defaultID when it has no id.
func parse(file string, data []byte, defaultID string) (*Rule, error) {
	refuse := func(id, format string, args ...any) error {
		return &RefusedError{File: file, ID: id, Reason: fmt.Sprintf(format, args...)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc ruleDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, refuse("", "empty file")
		}
		return nil, refuse("", "malformed YAML: %v", err)
	}
	if doc.Correlation.Kind != 0 {
		return nil, refuse(doc.ID, "%s", correlationRefused(correlationType(&doc.Correlation)))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		// A correlation rule is often written after its base rules in one file.
		for k := 2; err == nil; k++ {
			if typ, ok := correlation(&extra); ok {
				return nil, refuse(doc.ID, "document %d is a %s", k, correlationRefused(typ))
			}
			err = dec.Decode(&extra)
		}
		return nil, refuse(doc.ID, "more than one YAML document: Sigma rule collections (action: global/reset/repeat) are not supported; write one rule per file")
	} else if !errors.Is(err, io.EOF) {
		return nil, refuse(doc.ID, "malformed YAML: %v", err)
	}
	id := strings.TrimSpace(doc.ID)
	if id == "" {
		id = defaultID
	}
	switch {
	case !idRE.MatchString(id):
		return nil, refuse("", "id %q is not a rule id: use 1-128 letters, digits, '.', '_', ':' or '-' (Sigma ids are UUIDs)", truncate(id, 80))
	case strings.ContainsFunc(doc.Title, unicode.IsControl) || len(doc.Title) > 512:
		return nil, refuse(id, "title has control characters or is longer than 512 bytes")
	case doc.Action != "":
		return nil, refuse(id, "action %q: Sigma rule collections are not supported", doc.Action)
	case doc.Type != "":
		return nil, refuse(id, "type %q: correlation rules are not supported (only detection rules)", doc.Type)
	case strings.TrimSpace(doc.Title) == "":
		return nil, refuse(id, "no title (a Sigma rule needs one)")
	case !strings.EqualFold(doc.Logsource.Product, "aws") || !strings.EqualFold(doc.Logsource.Service, "cloudtrail"):
		return nil, refuse(id, "logsource is product %q service %q: only product aws, service cloudtrail rules compile over a CloudTrail store",
			doc.Logsource.Product, doc.Logsource.Service)
	case doc.Level != "" && !slices.Contains(levels, strings.ToLower(doc.Level)):
		return nil, refuse(id, "level %q is not one of %s", doc.Level, strings.Join(levels, ", "))
	}
	if doc.Detection.Kind == 0 && doc.Filter.Kind != 0 {
		return nil, refuse(id, "a Sigma filter (filter:) is not supported: write its exclusion into the rules it names (condition: selection and not filter)")
	}
	if doc.Detection.Kind == 0 {
		return nil, refuse(id, "no detection")
	}
	det, err := compileDetection(&doc.Detection)
	if err != nil {
		return nil, refuse(id, "%v", err)
	}
	return &Rule{
		Warnings: numberWarnings(&doc.Detection),
		ID:       id, Title: strings.TrimSpace(doc.Title), Description: strings.TrimSpace(doc.Description),
		Status: doc.Status, Level: strings.ToLower(doc.Level), Author: doc.Author,
		Tags: doc.Tags, References: doc.References, File: file, Source: string(data), Predicate: det.sql, Prefilter: det.pre,
		GoRefused: det.why, goNode: det.m, goPre: det.pm,
	}, nil
}
