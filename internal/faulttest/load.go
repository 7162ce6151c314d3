package faulttest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// loadKind marks a LoadRow's line in the table file; a fault Row's line
// has no kind, as before there were load rows.
const loadKind = "load"

// LoadRow is one tool loop of the load run (docs/reliability.md, "gpstate
// under load"): the tool run again and again while a client writes.
// Every field is what the test measured.
type LoadRow struct {
	Kind         string        `json:"kind"`           // "load", set by RecordLoad
	Mode         string        `json:"mode"`           // the command as run: "gpstate -s"
	Runs         int           `json:"runs"`           // runs of the loop
	Median       time.Duration `json:"median_ns"`      // wall time of a run
	P99          time.Duration `json:"p99_ns"`         // 99th percentile of the wall time
	PeakRSSFirst int64         `json:"peak_rss_first"` // KiB: the largest maxrss of the first minute's runs
	PeakRSSLast  int64         `json:"peak_rss_last"`  // KiB: of the last minute's runs
	Failed       int           `json:"failed"`         // runs that exited non-zero or printed an ERROR or WARNING
	Duration     time.Duration `json:"duration_ns"`    // how long the loop ran
	LoadAvg      string        `json:"loadavg"`        // the machine's load average when it ended (/proc/loadavg)
	Test         string        `json:"test"`
}

// RecordLoad logs r and, when TableEnv names a file, appends it there
// beside the fault rows. The kind and the test name are filled in.
func RecordLoad(t testing.TB, r LoadRow) {
	t.Helper()
	r.Kind, r.Test = loadKind, t.Name()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load table row: %s", b)
	appendLine(t, b)
}

// LoadMarkdown renders load rows as the table "gpstate under load".
func LoadMarkdown(loads []LoadRow) string {
	var b strings.Builder
	b.WriteString("| command | runs | failed | median | p99 | peak RSS, first minute | peak RSS, last minute | ran for | load average | test |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range loads {
		cells := []string{"`" + r.Mode + "`", fmt.Sprint(r.Runs), fmt.Sprint(r.Failed),
			seconds(r.Median), seconds(r.P99), mib(r.PeakRSSFirst), mib(r.PeakRSSLast),
			r.Duration.Round(time.Second).String(), r.LoadAvg, "`" + r.Test + "`"}
		b.WriteString("| " + strings.Join(escapeCells(cells), " | ") + " |\n")
	}
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
