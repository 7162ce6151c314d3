package render_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
)

// checkGolden compares got with testdata/render/<name> (golden.Check).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, "render", name, got)
}
