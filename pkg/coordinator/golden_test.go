package coordinator_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
)

// checkGolden compares got with testdata/coordinator/<name> (golden.Check).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, "coordinator", name, got)
}
