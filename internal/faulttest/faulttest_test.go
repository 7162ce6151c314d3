package faulttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// Load rows go to the same file as fault rows, a line written before
// load rows existed still reads as a fault row, and each kind is read
// back on its own.
func TestLoadRowsBesideFaultRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows")
	t.Setenv(TableEnv, path)
	old := `{"fault":"kill -9 early","tool":"gpstart -a","printed":"","exit":"killed (137)","after":"","rerun":"exit 0","lost":0,"test":"TestOld"}` + "\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("s", func(t *testing.T) {
		RecordLoad(t, LoadRow{Mode: "gpstate -s", Runs: 600, Median: 420 * time.Millisecond, P99: 1500 * time.Millisecond,
			PeakRSSFirst: 20480, PeakRSSLast: 21504, Duration: 10 * time.Minute, LoadAvg: "1.50 1.20 1.00"})
	})
	t.Run("default", func(t *testing.T) { RecordLoad(t, LoadRow{Mode: "gpstate", Runs: 3, Failed: 1}) })
	tab, err := ReadTable(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Faults) != 1 || tab.Faults[0].Test != "TestOld" || tab.Faults[0].Exit != "killed (137)" {
		t.Errorf("faults %+v, want the old line", tab.Faults)
	}
	if len(tab.Loads) != 2 || tab.Loads[0].Test != "TestLoadRowsBesideFaultRows/default" || tab.Loads[1].Kind != "load" ||
		tab.Loads[1].P99 != 1500*time.Millisecond || tab.Loads[1].PeakRSSLast != 21504 {
		t.Errorf("loads %+v, want default then s, as recorded", tab.Loads)
	}
	rows, err := ReadRows(path)
	if err != nil || len(rows) != 1 {
		t.Errorf("ReadRows: %v %+v, want the fault row only", err, rows)
	}
	md := LoadMarkdown(tab.Loads)
	want := "| `gpstate -s` | 600 | 0 | 0.42 s | 1.50 s | 20.0 MiB | 21.0 MiB | 10m0s | 1.50 1.20 1.00 | `TestLoadRowsBesideFaultRows/s` |\n"
	if !strings.HasSuffix(md, want) || strings.Count(md, "\n") != 4 {
		t.Errorf("markdown:\n%s\nwant it to end with\n%s", md, want)
	}
}

func TestReadTableRefusesUnknownKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows")
	if err := os.WriteFile(path, []byte(`{"kind":"bench"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTable(path); err == nil || !strings.Contains(err.Error(), `rows:1: unknown kind "bench"`) {
		t.Errorf("err %v, want the line and the kind named", err)
	}
}
