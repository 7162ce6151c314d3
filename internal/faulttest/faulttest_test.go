package faulttest

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A script that prints numbered steps, a second apart, is killed at the
// line of step 2: it printed steps 1 and 2 and nothing more.
func TestKillAtLine(t *testing.T) {
	cmd := exec.Command("sh", "-c", `for i in 1 2 3 4; do echo "Step $i of 4"; sleep 1; done`)
	k := KillAtLine(t, cmd, regexp.MustCompile(`^Step 2 of`))
	if k.Output != "Step 1 of 4\nStep 2 of 4\n" {
		t.Errorf("printed %q, want steps 1 and 2 only", k.Output)
	}
	if k.Last != "unprefixed: Step 2 of 4" {
		t.Errorf("last message %q", k.Last)
	}
}

func TestKillWhen(t *testing.T) {
	cmd := exec.Command("sh", "-c", `echo ready; sleep 30`)
	k := KillWhen(t, cmd, func(out string) bool { return strings.Contains(out, "ready") })
	if k.After > 10e9 {
		t.Errorf("killed after %s, want at once", k.After)
	}
}

func TestTableRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows")
	t.Setenv(TableEnv, path)
	t.Run("b", func(t *testing.T) { Record(t, Row{Fault: "kill -9 | late", Tool: "gpstop -a", Exit: "killed (137)"}) })
	t.Run("a", func(t *testing.T) { Record(t, Row{Fault: "kill -9 early", Tool: "gpstart -a", Lost: 0}) })
	rows, err := ReadRows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Test != "TestTableRoundTrip/a" || rows[1].Test != "TestTableRoundTrip/b" {
		t.Fatalf("rows %+v, want a then b", rows)
	}
	md := Markdown(rows)
	if !strings.Contains(md, "| kill -9 \\| late | `gpstop -a` |") || strings.Count(md, "\n") != 4 {
		t.Errorf("markdown:\n%s", md)
	}
}
