package addmirrors_test

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// gpdemoMirrors are the mirrors of gp6-transcripts/gpaddmirrors-i-v.txt,
// from its -i file (testdata/addmirrors/gpdemo.mirrors).
func gpdemoMirrors(t *testing.T) []addmirrors.Mirror {
	t.Helper()
	f, err := os.Open(testdataPath("gpdemo.mirrors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := addmirrors.ParseMirrorConfig(f, "/tmp/gpaddmirrors_input")
	if err != nil {
		t.Fatal(err)
	}
	m, err := addmirrors.MirrorsFromConfig(t.Context(), fixture(t, "gpdemo_mirrorless"), lines, "/tmp/gpaddmirrors_input", nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func gpdemoParameters(f cluster.Flavour) addmirrors.Parameters {
	return addmirrors.Parameters{Flavour: f, DataDir: "/data/qddir/demoDataDir-1", Port: 7000, BatchSize: 16, SegmentBatchSize: 64}
}

// logged renders records as log lines on apptest's fixed clock and host.
func logged(t *testing.T, recs []gplog.Record) []byte {
	t.Helper()
	env, _, _ := apptest.Env(t, "gpaddmirrors")
	var b bytes.Buffer
	log := slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: &b, Level: slog.LevelInfo}))
	gplog.Emit(t.Context(), log, recs)
	return b.Bytes()
}

// TestDisplayMatchesGP6Transcript compares the display, message by
// message, with the real Greenplum 6.24.3 run of
// gp6-transcripts/gpaddmirrors-i-v.txt (its lines copied to
// testdata/addmirrors/gp6_transcript_display.txt).
func TestDisplayMatchesGP6Transcript(t *testing.T) {
	raw, err := os.ReadFile(testdataPath("gp6_transcript_display.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		_, msg, ok := strings.Cut(line, "gpadmin-[INFO]:-")
		if !ok {
			t.Fatalf("not an INFO line: %q", line)
		}
		want = append(want, msg)
	}
	var got []string
	for _, r := range addmirrors.DisplayRecords(gpdemoParameters(cluster.GP6), gpdemoMirrors(t)) {
		if r.Level != slog.LevelInfo {
			t.Errorf("record %q at level %v, want INFO", r.Msg, r.Level)
		}
		got = append(got, r.Msg)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-transcript +ours):\n%s", d)
	}
}

func TestDisplayGolden(t *testing.T) {
	for _, tt := range []struct {
		flavour cluster.Flavour
		golden  string
	}{
		{cluster.GP6, "display_gp6.golden"},
		{cluster.GP7, "display_gp7.golden"},
		{cluster.Cloudberry, "display_cloudberry.golden"},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			golden.Check(t, "addmirrors", tt.golden, logged(t, addmirrors.DisplayRecords(gpdemoParameters(tt.flavour), gpdemoMirrors(t))))
		})
	}
}

// TestDisplayCloudberryWidths pins the parameter lines of a published
// Cloudberry gpaddmirrors transcript: the product lines are one column
// wider than Greenplum's.
func TestDisplayCloudberryWidths(t *testing.T) {
	p := addmirrors.Parameters{Flavour: cluster.Cloudberry, DataDir: "/data0/database/master/gpseg-1", Port: 5432, BatchSize: 16, SegmentBatchSize: 64}
	var got []string
	for _, r := range addmirrors.DisplayRecords(p, nil)[:7] {
		got = append(got, r.Msg)
	}
	want := []string{
		"Cloudberry Add Mirrors Parameters",
		"--------------------------------------------",
		"Cloudberry coordinator data directory    = /data0/database/master/gpseg-1",
		"Cloudberry coordinator port              = 5432",
		"Batch size                              = 16",
		"Segment batch size                      = 64",
		"--------------------------------------------",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-transcript +ours):\n%s", d)
	}
}
