package main

import (
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
)

func TestRenderPrintsBothTables(t *testing.T) {
	tab := faulttest.Table{
		Faults: []faulttest.Row{{Fault: "kill -9", Tool: "gpstop -a", Test: "TestFaultA"}},
		Loads:  []faulttest.LoadRow{{Mode: "gpstate --json", Runs: 60, Test: "TestLoadGpstate/json"}},
	}
	var b strings.Builder
	if !render(&b, tab) {
		t.Error("render failed a clean table")
	}
	out := b.String()
	fault, load := strings.Index(out, "| kill -9 |"), strings.Index(out, "gpstate under load:")
	if fault < 0 || load < fault || !strings.Contains(out, "| `gpstate --json` | 60 | 0 |") ||
		!strings.Contains(out, "1 faults, 0 rows lost") || !strings.HasSuffix(out, "1 loops, 60 runs, 0 failed\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestRenderFailsOnLossOrFailedRun(t *testing.T) {
	for name, tab := range map[string]faulttest.Table{
		"lost":   {Faults: []faulttest.Row{{Lost: 1}}},
		"failed": {Loads: []faulttest.LoadRow{{Runs: 5, Failed: 1}}},
	} {
		var b strings.Builder
		if render(&b, tab) {
			t.Errorf("%s: render passed\n%s", name, b.String())
		}
	}
	var b strings.Builder
	if !render(&b, faulttest.Table{Loads: []faulttest.LoadRow{{Runs: 5}}}) || strings.Contains(b.String(), "faults") {
		t.Errorf("loads only:\n%s", b.String())
	}
}
