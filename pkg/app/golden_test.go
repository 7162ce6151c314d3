package app_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
)

// checkGolden compares got with testdata/app/<name> (golden.Check).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, "app", name, got)
}
