//go:build integration

package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/metricscheck"
)

// gpstateModes are every mode of gpstate: Greenplum's (spec §2) and the
// additions --json, --health and --metrics.
var gpstateModes = [][]string{
	{}, {"-b"}, {"-s"}, {"-m"}, {"-c"}, {"-e"}, {"-Q"}, {"-i"}, {"-p"}, {"-f"}, {"-x"}, {"--json"}, {"--health"}, {"--metrics"},
}

// compatServerVersion is the start of version() on the compat bed:
// Greenplum's shape, the bed's release (compat/ext/gp_compat.c).
const compatServerVersion = `PostgreSQL 15\.\d+ \(Greenplum Database 7\.1\.0-compat build dev\) on `

// wantHealthyInEveryMode runs gpstate blind on d, a healthy mirrored
// cluster with a standby, in every mode (issue 11): each exits 0 and
// prints no WARNING, as Greenplum's gpstate does on a healthy cluster. -i
// finds every instance on the same software version; the coordinator
// version line of the prelude, and -s's current version, name the bed's
// Greenplum release; --json's verdict and --health's say OK; --metrics
// passes Prometheus' parser and linter and agrees with --json.
func wantHealthyInEveryMode(t *testing.T, d demo) {
	t.Helper()
	for _, args := range gpstateModes {
		name := "gpstate " + strings.Join(args, " ")
		code, out := d.blind(t, "gpstate", args...)
		if code != 0 {
			t.Errorf("%s: exit %d, want 0\n%s", name, code, out)
		}
		if strings.Contains(out, "WARNING") {
			t.Errorf("%s: a warning on a healthy cluster:\n%s", name, out)
		}
		if len(args) == 0 {
			wantLine(t, name, out, `^\[INFO\]:-coordinator Greenplum Version: '`+compatServerVersion)
			continue
		}
		switch args[0] {
		case "-s":
			wantLine(t, name, out, `^\[INFO\]:-   Greenplum current version += `+compatServerVersion)
		case "-i":
			wantLine(t, name, out, `^\[INFO\]:-All segments are running the same software version$`)
		case "--health":
			if !strings.HasPrefix(out, "GPSTATE OK - ") {
				t.Errorf("%s: not OK on a healthy cluster:\n%s", name, out)
			}
		case "--metrics":
			wantMetricsAgree(t, d, "OK", out)
		case "--json":
			var doc struct {
				Coordinator struct {
					Version string `json:"version"`
				} `json:"coordinator"`
				Summary struct {
					Warnings []string `json:"warnings"`
					Health   struct {
						Verdict string `json:"verdict"`
					} `json:"health"`
				} `json:"summary"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			if doc.Summary.Health.Verdict != "OK" || len(doc.Summary.Warnings) != 0 || !regexp.MustCompile("^"+compatServerVersion).MatchString(doc.Coordinator.Version) {
				t.Errorf("%s: verdict %q, warnings %q, coordinator version %q", name, doc.Summary.Health.Verdict, doc.Summary.Warnings, doc.Coordinator.Version)
			}
		}
	}
}

// wantLine reports an error unless a message of out matches pattern.
func wantLine(t *testing.T, name, out, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for _, m := range messages(out) {
		if re.MatchString(m) {
			return
		}
	}
	t.Errorf("%s: no line matching %q in:\n%s", name, pattern, out)
}

// wantMetricsAgree checks metrics, the output of a gpstate --metrics run
// on d, against a gpstate --json run that follows it: the metrics must pass the Prometheus client library's parser and
// linter, carry the verdict want, and agree with the document. The WAL
// lags may move between the two runs (a checkpoint writes WAL), so a pair
// that disagrees is taken again, up to three times; a disagreement that
// persists fails t.
func wantMetricsAgree(t *testing.T, d demo, want, metrics string) {
	t.Helper()
	var diffs []string
	for try := range 3 {
		if try > 0 {
			var code int
			if code, metrics = d.blind(t, "gpstate", "--metrics"); code != 0 {
				t.Fatalf("gpstate --metrics: exit %d, want 0\n%s", code, metrics)
			}
		}
		fams, err := metricscheck.Parse([]byte(metrics))
		if err != nil {
			t.Fatalf("gpstate --metrics: %v\n%s", err, metrics)
		}
		if v, ok, err := fams.Value("greenplum_health_verdict", map[string]string{"verdict": want}); err != nil || !ok || v != 1 {
			t.Fatalf("gpstate --metrics: verdict %s not 1 (%v):\n%s", want, err, metrics)
		}
		_, doc := d.blind(t, "gpstate", "--json")
		if diffs, err = metricscheck.AgreeWithJSON(fams, []byte(doc)); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(diffs) == 0 {
			return
		}
		t.Logf("gpstate --metrics and --json disagree, taking both again: %q", diffs)
	}
	t.Errorf("gpstate --metrics disagrees with --json three times in a row:\n%s", strings.Join(diffs, "\n"))
}
