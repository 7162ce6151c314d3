package cluster

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/cluster")

const testdata = "../../testdata"

// checkGolden compares got with testdata/cluster/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, "cluster", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// readFixture reads testdata/segconfig/<name>.json.
func readFixture(t *testing.T, name string) []Segment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "segconfig", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var segs []Segment
	if err := json.Unmarshal(b, &segs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return segs
}

// mustCluster builds a Cluster from a fixture, failing the test on error.
func mustCluster(t *testing.T, name string) *Cluster {
	t.Helper()
	c, err := New(readFixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// readTranscript reads testdata/cluster/<name>: '#' header lines are
// dropped and blocks are separated by lines holding only "--".
func readTranscript(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "cluster", name))
	if err != nil {
		t.Fatal(err)
	}
	var blocks, cur []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "--":
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		default:
			cur = append(cur, line)
		}
	}
	return append(blocks, strings.Join(cur, "\n"))
}
