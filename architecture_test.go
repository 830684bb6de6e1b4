package auditlake_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/auditlake/auditlake"

// mapRow is one row of docs/ARCHITECTURE.md's package table.
type mapRow struct {
	pkg     string   // as written in the first cell: internal/lake, cmd/auditlake, web
	imports []string // the third cell's items, notes in parentheses removed
}

// readMap parses the package table of docs/ARCHITECTURE.md: rows `| `pkg` | purpose | imports |`.
// The imports cell is a comma- or semicolon-separated list; each item's first word names an
// auditlake package (its path under internal/) or a module (a part of its path, such as
// duckdb-go or klauspost/compress); "stdlib …" and "none" name nothing to check; text in
// parentheses is a note.
func readMap(t *testing.T) []mapRow {
	t.Helper()
	f, err := os.Open("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parens := regexp.MustCompile(`\([^()]*\)`)
	var rows []mapRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			t.Fatalf("docs/ARCHITECTURE.md: a package row needs 3 cells, has %d: %s", len(cells), line)
		}
		r := mapRow{pkg: strings.TrimSuffix(strings.Trim(strings.TrimSpace(cells[0]), "`"), "/")}
		cell := cells[2]
		for prev := ""; prev != cell; {
			prev, cell = cell, parens.ReplaceAllString(cell, "")
		}
		cell = strings.ReplaceAll(cell, "`", "")
		for _, item := range strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == ';' }) {
			words := strings.Fields(item)
			if len(words) == 0 || words[0] == "none" || words[0] == "stdlib" {
				continue
			}
			r.imports = append(r.imports, words[0])
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// goImports lists each package of the module (not its tests) with what it imports, from go list.
func goImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[f[0]] = f[1:]
	}
	return pkgs
}

// TestArchitectureMapMatchesThePackages: every package of the module has a row in
// docs/ARCHITECTURE.md, and its "imports of note" name exactly the auditlake packages it
// imports and every third-party module it imports, nothing it does not; the page links to
// nothing outside the repository.
func TestArchitectureMapMatchesThePackages(t *testing.T) {
	rows := readMap(t)
	pkgs := goImports(t)
	byPkg := map[string]mapRow{}
	for _, r := range rows {
		byPkg[r.pkg] = r
	}
	var names []string
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if p == module {
			continue // this file's own package
		}
		rel := strings.TrimPrefix(p, module+"/")
		r, ok := byPkg[rel]
		if !ok {
			t.Errorf("package %s has no row in docs/ARCHITECTURE.md", rel)
			continue
		}
		delete(byPkg, rel)
		var internal, external []string
		for _, imp := range pkgs[p] {
			switch {
			case strings.HasPrefix(imp, module+"/internal/"):
				internal = append(internal, strings.TrimPrefix(imp, module+"/internal/"))
			case strings.HasPrefix(imp, module+"/"):
				internal = append(internal, strings.TrimPrefix(imp, module+"/"))
			case strings.Contains(strings.Split(imp, "/")[0], "."):
				external = append(external, imp)
			}
		}
		matched := map[string]bool{}
		for _, imp := range internal {
			if !slices.Contains(r.imports, imp) {
				t.Errorf("%s imports %s, which its row in docs/ARCHITECTURE.md does not list", rel, imp)
			}
			matched[imp] = true
		}
		for _, imp := range external {
			found := false
			for _, tok := range r.imports {
				if moduleMatches(imp, tok) {
					found, matched[tok] = true, true
				}
			}
			if !found {
				t.Errorf("%s imports %s, which its row in docs/ARCHITECTURE.md does not name", rel, imp)
			}
		}
		for _, tok := range r.imports {
			if !matched[tok] {
				t.Errorf("docs/ARCHITECTURE.md lists %q under %s, which %s does not import", tok, rel, rel)
			}
		}
	}
	for rel := range byPkg {
		t.Errorf("docs/ARCHITECTURE.md has a row for %s, which is not a package of the module", rel)
	}
	doc, err := os.ReadFile("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`\]\((\.\./\.\./|https?://)[^)]*\)|\.\./shared`).Find(doc); m != nil {
		t.Errorf("docs/ARCHITECTURE.md points outside the repository: %s", m)
	}
}

// moduleMatches says whether tok (duckdb-go, klauspost/compress, golang.org/x/sys) names a
// run of whole segments of the import path imp.
func moduleMatches(imp, tok string) bool {
	return strings.Contains("/"+imp+"/", "/"+tok+"/")
}
