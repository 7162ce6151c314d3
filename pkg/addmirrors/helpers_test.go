package addmirrors_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// fixtureSegments reads testdata/<dir>/<name>.json.
func fixtureSegments(t *testing.T, dir, name string) []cluster.Segment {
	t.Helper()
	return clustertest.ReadSegments(t, golden.Path(dir, name+".json"))
}

// fixture reads the cluster fixture testdata/segconfig/<name>.json.
func fixture(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(fixtureSegments(t, "segconfig", name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testdataPath(name string) string { return filepath.Clean(golden.Path("addmirrors", name)) }

// planText renders mirrors one per line in Greenplum's pipe form, primary
// first.
func planText(mirrors []addmirrors.Mirror) []byte {
	var b strings.Builder
	for _, m := range mirrors {
		b.WriteString("primary " + m.Primary.String() + "\n")
		b.WriteString("mirror  " + m.Mirror.String() + "\n")
	}
	return []byte(b.String())
}
