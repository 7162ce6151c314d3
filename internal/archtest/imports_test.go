// Package archtest checks the shape of the code base that no single
// package's tests can see.
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

const module = "github.com/gpmgmt/gpmgmt/"

// tools are the packages of the tools themselves (design.md, "Layers": the
// tool layer). What two tools share lives below them.
var tools = []string{"pkg/addmirrors", "pkg/gpdemo", "pkg/gpstart", "pkg/gpstate", "pkg/gpstop", "pkg/recoverseg"}

// allowed are the tool-to-tool imports that remain, each with the issue
// that removes it.
var allowed = map[[2]string]string{
	{"pkg/gpdemo", "pkg/addmirrors"}: "mirror placement moves into a package of its own with gprecoverseg part 2",
}

// TestNoToolImportsAnother: no tool package imports another tool's
// package, and no package below the tools imports a tool; test files
// included. The tools share code through the layers below (pkg/remote,
// pkg/cluster, pkg/coordctl, pkg/startup, ...).
func TestNoToolImportsAnother(t *testing.T) {
	root := testbed.RepoRoot()
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			pkgs = append(pkgs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, pkg := range pkgs {
		for _, imp := range imports(t, filepath.Join(root, pkg)) {
			if !slices.Contains(tools, imp) || imp == pkg {
				continue
			}
			checked++
			switch {
			case allowed[[2]string{pkg, imp}] != "":
				t.Logf("%s imports %s (allowed until: %s)", pkg, imp, allowed[[2]string{pkg, imp}])
			case slices.Contains(tools, pkg):
				t.Errorf("tool %s imports tool %s: move what they share below the tools", pkg, imp)
			case !strings.HasSuffix(pkg, "test"):
				t.Errorf("%s, below the tools, imports tool %s", pkg, imp)
			}
		}
	}
	if len(pkgs) < len(tools) || checked == 0 {
		t.Fatalf("found %d packages under pkg/ and %d imports of tools; the walk is broken", len(pkgs), checked)
	}
}

// imports returns the module-local imports of the .go files in dir, as
// paths relative to the module ("pkg/remote").
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, err := strconv.Unquote(is.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if rel, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
	}
	return out
}
