// Package archtest checks the shape of the code base that no single
// package's tests can see.
package archtest

import (
	"fmt"
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

// TestNoToolImportsAnother: no tool package imports another tool's
// package, and no package below the tools imports a tool (test helper
// packages such as pkg/app/apptest aside); test files included, no
// exemptions. The tools share code through the layers below (pkg/remote,
// pkg/cluster, pkg/buildmirrors, pkg/placement, pkg/coordctl, pkg/startup,
// ...).
func TestNoToolImportsAnother(t *testing.T) {
	pkgs, local, bad := toolImports(t, testbed.RepoRoot())
	for _, b := range bad {
		t.Error(b)
	}
	// Every tool imports pkg/app and pkg/cluster at least: far fewer
	// module-local imports than that means the walk saw nothing.
	if pkgs < len(tools) || local < 2*len(tools) {
		t.Fatalf("found %d packages under pkg/ and %d module-local imports; the walk is broken", pkgs, local)
	}
}

// TestToolImportsCheckFails: the check reports a tool importing a tool and
// a lower package importing a tool, in a made-up tree.
func TestToolImportsCheckFails(t *testing.T) {
	root := t.TempDir()
	for path, imp := range map[string]string{
		"pkg/gpstart/start.go":    "pkg/gpstop",
		"pkg/gpstop/stop.go":      "pkg/cluster",
		"pkg/cluster/cluster.go":  "pkg/recoverseg",
		"pkg/app/apptest/fake.go": "pkg/gpstate",
	} {
		file := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		src := fmt.Sprintf("package %s\n\nimport _ %q\n", filepath.Base(filepath.Dir(file)), module+imp)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, local, bad := toolImports(t, root)
	want := []string{
		"pkg/cluster, below the tools, imports tool pkg/recoverseg",
		"tool pkg/gpstart imports tool pkg/gpstop: move what they share below the tools",
	}
	slices.Sort(bad)
	if !slices.Equal(bad, want) || local != 4 {
		t.Errorf("%d imports, violations:\n%s\nwant:\n%s", local, strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
}

// toolImports walks root's pkg/ tree and returns how many packages and
// module-local imports it saw, and every import that breaks the layering.
func toolImports(t *testing.T, root string) (pkgs, local int, bad []string) {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range dirs {
		for _, imp := range imports(t, filepath.Join(root, pkg)) {
			local++
			if !slices.Contains(tools, imp) || imp == pkg {
				continue
			}
			switch {
			case slices.Contains(tools, pkg):
				bad = append(bad, fmt.Sprintf("tool %s imports tool %s: move what they share below the tools", pkg, imp))
			case !strings.HasSuffix(pkg, "test"):
				bad = append(bad, fmt.Sprintf("%s, below the tools, imports tool %s", pkg, imp))
			}
		}
	}
	return len(dirs), local, bad
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
