// Package golden compares output with golden files under the repository's
// testdata/ folder; `go test -update` rewrites them instead, to be reviewed
// before they are committed.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing")

// Path is the absolute path of testdata/<dir>/<name> in the repository.
func Path(dir, name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(file))), "testdata", dir, name)
}

// Check compares got with testdata/<dir>/<name>, or rewrites the file
// under -update.
func Check(t testing.TB, dir, name string, got []byte) {
	t.Helper()
	path := Path(dir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}
