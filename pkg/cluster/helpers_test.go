package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
)

const testdata = "../../testdata"

// checkGolden compares got with testdata/cluster/<name> (golden.Check).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, "cluster", name, []byte(got))
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
