package gpstate

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/internal/metricscheck"
	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// metricsStarted and metricsTook are the run's start and duration in the
// goldens.
var (
	metricsStarted = time.Date(2024, 3, 18, 10, 15, 3, 500_000_000, time.UTC)
	metricsTook    = 1250 * time.Millisecond
)

// metricsText renders fixture f's metrics as a healthy run of gpstate
// --metrics would.
func metricsText(t *testing.T, f *fixture, progress map[int]errorsProgress) string {
	t.Helper()
	st := healthStatus(t, f)
	return writeMetrics(metricsFamilies(metricsInput{st: st, health: CheckHealth(st), progress: progress, started: metricsStarted, took: metricsTook}))
}

// TestMetricsGolden pins the metrics of every fixture.
func TestMetricsGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			golden.Check(t, "gpstate", "metrics_"+fx.name+".golden", []byte(metricsText(t, fx.make(), nil)))
		})
	}
}

// TestMetricsValidAndAgreeWithJSON checks every fixture's metrics with the
// Prometheus client library's parser and linter, then against --json's
// document of the same fixture.
func TestMetricsValidAndAgreeWithJSON(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			text := metricsText(t, fx.make(), nil)
			fams, err := metricscheck.Parse([]byte(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			diffs, err := metricscheck.AgreeWithJSON(fams, []byte(jsonReport(t, fx.make())))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
}

// TestMetricsCheckerCatchesDisagreement: the comparison is not vacuous; a
// metric changed after the fact is reported.
func TestMetricsCheckerCatchesDisagreement(t *testing.T) {
	text := metricsText(t, mirrorDown(), nil)
	bad := strings.Replace(text, `greenplum_segment_up{content="1",dbid="5",hostname="mdw",port="7005"} 0`,
		`greenplum_segment_up{content="1",dbid="5",hostname="mdw",port="7005"} 1`, 1)
	if bad == text {
		t.Fatal("the mirror_down fixture's metrics lack the sample this test changes")
	}
	fams, err := metricscheck.Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := metricscheck.AgreeWithJSON(fams, []byte(jsonReport(t, mirrorDown())))
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || !strings.Contains(diffs[0], "greenplum_segment_up") {
		t.Errorf("want one disagreement on greenplum_segment_up, got %q", diffs)
	}
	if _, err := metricscheck.Parse([]byte("# TYPE gpstate_things counter\ngpstate_things 1\n")); err == nil {
		t.Error("a counter without _total and HELP passed the linter")
	}
}

// TestMetricsRecoveryProgress: a running recovery's progress lines give
// the ratio of the dbids the catalog has, with the recovery type.
func TestMetricsRecoveryProgress(t *testing.T) {
	progress := errorsParseProgress([]string{
		"full:5: 1164848/1371715 kB (84%), 0/1 tablespace",
		"incremental:99: 1/2 kB (50%)", // not in the catalog
	})
	text := metricsText(t, mirrorDown(), progress)
	fams, err := metricscheck.Parse([]byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	v, ok, err := fams.Value("greenplum_segment_recovery_progress_ratio", map[string]string{"dbid": "5", "type": "full"})
	if err != nil || !ok || v < 0.849 || v > 0.850 {
		t.Errorf("dbid 5's progress: %v (present %t, %v), want 1164848/1371715\n%s", v, ok, err, text)
	}
	if n := len(fams["greenplum_segment_recovery_progress_ratio"].GetMetric()); n != 1 {
		t.Errorf("%d recovery samples, want 1 (dbid 99 is not in the catalog)", n)
	}
}

// TestMetricsEscaping: label values and help texts are escaped as the text
// format wants.
func TestMetricsEscaping(t *testing.T) {
	got := writeMetrics([]metricFamily{{name: "x_y", help: "a \\ b\nc", samples: []metricSample{
		{labels: []metricLabel{{"hostname", "h\"1\\\n"}}, value: 0.25},
		{labels: []metricLabel{{"hostname", "h2"}}, value: 1 << 40},
	}}, {name: "empty", help: "left out"}})
	want := "# HELP x_y a \\\\ b\\nc\n# TYPE x_y gauge\nx_y{hostname=\"h\\\"1\\\\\\n\"} 0.25\nx_y{hostname=\"h2\"} 1099511627776\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := metricscheck.Parse([]byte(got)); err != nil {
		t.Error(err)
	}
}

// TestMetricsRun runs runMetrics end to end on every fixture: stdout holds
// the metrics alone, the same as the golden but for the duration and
// start (the rig's clock); it exits 0 whatever the verdict, and the prelude
// logged to the log file only.
func TestMetricsRun(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			rig := newHealthRig(t, fx.make())
			rig.opts = &Options{Metrics: true, Parallel: DefaultParallel, Retries: 1}
			if err := runMetrics(t.Context(), rig.env, rig.opts); err != nil {
				t.Fatalf("runMetrics: %v", err)
			}
			fams, err := metricscheck.Parse(rig.out.Bytes())
			if err != nil {
				t.Fatalf("%v\n%s", err, rig.out)
			}
			want := metricsText(t, fx.make(), nil)
			if d := metricsWithoutRunTimes(want); d != metricsWithoutRunTimes(rig.out.String()) {
				t.Errorf("stdout differs from the golden (run times aside):\n%s\nwant:\n%s", rig.out, want)
			}
			if _, ok, _ := fams.Value("greenplum_gpstate_duration_seconds", nil); !ok {
				t.Error("no duration")
			}
			if log := rig.logFile(t); !strings.Contains(log, "-[INFO]:-Gathering data from segments...") {
				t.Errorf("log file lacks the gathering:\n%s", log)
			}
		})
	}
}

// metricsWithoutRunTimes drops the two samples that depend on the clock.
func metricsWithoutRunTimes(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "greenplum_gpstate_duration_seconds ") && !strings.HasPrefix(l, "greenplum_gpstate_timestamp_seconds ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestMetricsCoordinatorDown: a stopped coordinator is reported in the
// metrics (coordinator_up 0, CRITICAL), exit 0, so that the textfile is
// replaced; a check that cannot start leaves coordinator_up out (UNKNOWN).
func TestMetricsCoordinatorDown(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(t *testing.T, rig *healthRig)
		verdict string
		up      string
	}{
		{"stopped", func(t *testing.T, rig *healthRig) {
			if err := os.Remove(filepath.Join(rig.dir, "postmaster.pid")); err != nil {
				t.Fatal(err)
			}
		}, "CRITICAL", "greenplum_coordinator_up 0\n"},
		{"no GPHOME", func(t *testing.T, rig *healthRig) { delete(rig.vars, "GPHOME") }, "UNKNOWN", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newHealthRig(t, healthyGP6())
			tt.setup(t, rig)
			var stderr bytes.Buffer
			rig.env.Err = &stderr
			rig.env.Args = []string{"--metrics"}
			if code := app.Main(NewCommand(rig.env, nil), rig.env); code != 0 {
				t.Errorf("exit %d, want 0 (the metrics were written)", code)
			}
			out := rig.out.String()
			fams, err := metricscheck.Parse([]byte(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if v, ok, _ := fams.Value("greenplum_health_verdict", map[string]string{"verdict": tt.verdict}); !ok || v != 1 {
				t.Errorf("verdict %s not 1:\n%s", tt.verdict, out)
			}
			if tt.up != "" && !strings.Contains(out, tt.up) {
				t.Errorf("stdout lacks %q:\n%s", tt.up, out)
			}
			if tt.up == "" && strings.Contains(out, "greenplum_coordinator_up ") {
				t.Errorf("coordinator_up given when the check could not start:\n%s", out)
			}
			if strings.Contains(out, "greenplum_segment_") {
				t.Errorf("segment metrics without a catalog:\n%s", out)
			}
			if !strings.Contains(stderr.String(), "-[ERROR]:-gpstate error: ") {
				t.Errorf("stderr lacks the error line: %q", stderr.String())
			}
		})
	}
}

// TestMetricsDocumented: docs/monitoring.md's table names every metric
// gpstate --metrics prints on the fixtures (a family without samples
// counts: it is printed when it has some), and no other.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(greenplum_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	printed := map[string]bool{}
	for _, fx := range fixtures {
		st := healthStatus(t, fx.make())
		for _, f := range metricsFamilies(metricsInput{st: st, health: CheckHealth(st)}) {
			printed[f.name] = true
		}
	}
	for name := range printed {
		if !documented[name] {
			t.Errorf("%s is not in docs/monitoring.md's table", name)
		}
		delete(documented, name)
	}
	for name := range documented {
		t.Errorf("docs/monitoring.md documents %s, which gpstate --metrics does not print", name)
	}
}
