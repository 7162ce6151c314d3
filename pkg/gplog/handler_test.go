package gplog_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// fixedConfig is the prefix of the gpstate-v.txt transcript.
func fixedConfig() gplog.Config {
	return gplog.Config{
		Prog: "gpstate",
		Host: "mdw.example.com",
		User: "gpadmin",
		PID:  16262,
		Now:  func() time.Time { return time.Date(2026, 11, 23, 18, 54, 19, 987654321, time.UTC) },
	}
}

func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(gplog.NewHandler(fixedConfig(), gplog.Sink{W: &buf, Level: slog.LevelDebug}))
	ctx := t.Context()

	log.Info("Starting gpstate with args: -v")
	log.Debug("Running Command: $GPHOME/bin/postgres --gp-version")
	log.Info("-Current GPDB mirror list and status")
	log.Info("")
	log.Warn("pg_stat_replication shows no standby connections")
	log.Error("gpstate error: ")
	log.Log(ctx, gplog.LevelCritical, "gpstate failed. (Reason='boom') exiting...")
	log.Error("Failed to kill process 6071 for segment /data/qddir/demoDataDir-1: bash: line 1: kill: (6071) - No such process\n")
	log.Info("attributes are dropped above DEBUG", "host", "sdw1")
	log.Debug("attributes are kept at DEBUG", "host", "sdw1", "cmd", "pg_ctl -D /data", "empty", "")
	log.With("content", 3).WithGroup("seg").Debug("with and group", "dbid", 9, slog.Group("g", "k", "v"))
	log.Log(ctx, gplog.LevelCritical+8, "above critical stays CRITICAL")

	checkGolden(t, "lines.golden", buf.Bytes())
}

func TestLevelName(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "DEBUG"},
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelInfo + 1, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"},
		{gplog.LevelCritical, "CRITICAL"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := gplog.LevelName(tt.level); got != tt.want {
				t.Errorf("LevelName(%v) = %q, want %q", tt.level, got, tt.want)
			}
		})
	}
}

func TestPrefixPadsPIDAndCutsHost(t *testing.T) {
	cfg := gplog.Config{Prog: "gprecoverseg", Host: "sdw1.dc1.example.com", User: "gpadmin", PID: 1234567}
	got := gplog.Prefix(cfg, time.Date(2024, 5, 11, 4, 8, 3, 0, time.UTC), slog.LevelInfo)
	want := "20240511:04:08:03:1234567 gprecoverseg:sdw1:gpadmin-[INFO]:-"
	if got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
}

// TestSinkThresholds checks which levels reach the console and the file for
// the -v and -q combinations of spec §1.3.
func TestSinkThresholds(t *testing.T) {
	all := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, gplog.LevelCritical}
	tests := []struct {
		name           string
		verbose, quiet bool
		console, file  []string
	}{
		{"default", false, false,
			[]string{"INFO", "WARNING", "ERROR", "CRITICAL"},
			[]string{"INFO", "WARNING", "ERROR", "CRITICAL"}},
		{"-v", true, false,
			[]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
			[]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}},
		{"-q", false, true,
			[]string{"WARNING", "ERROR", "CRITICAL"},
			[]string{"INFO", "WARNING", "ERROR", "CRITICAL"}},
		{"-v -q", true, true,
			[]string{"WARNING", "ERROR", "CRITICAL"},
			[]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var console, file bytes.Buffer
			log := slog.New(gplog.NewHandler(fixedConfig(),
				gplog.Sink{W: &console, Level: gplog.ConsoleLevel(tt.verbose, tt.quiet)},
				gplog.Sink{W: &file, Level: gplog.FileLevel(tt.verbose)}))
			for _, l := range all {
				log.Log(t.Context(), l, "m")
			}
			if d := cmp.Diff(tt.console, levelsOf(console.String())); d != "" {
				t.Errorf("console levels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.file, levelsOf(file.String())); d != "" {
				t.Errorf("file levels (-want +got):\n%s", d)
			}
		})
	}
}

// levelsOf returns the bracketed level of every line in s.
func levelsOf(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		_, rest, _ := strings.Cut(line, "-[")
		lvl, _, _ := strings.Cut(rest, "]")
		out = append(out, lvl)
	}
	return out
}

func TestEnabled(t *testing.T) {
	h := gplog.NewHandler(fixedConfig(),
		gplog.Sink{W: &bytes.Buffer{}, Level: slog.LevelWarn},
		gplog.Sink{W: &bytes.Buffer{}, Level: slog.LevelInfo})
	if h.Enabled(t.Context(), slog.LevelDebug) {
		t.Error("DEBUG enabled although no sink takes it")
	}
	if !h.Enabled(t.Context(), slog.LevelInfo) {
		t.Error("INFO disabled although the second sink takes it")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHandleReportsWriteErrorsAndStillWritesOtherSinks(t *testing.T) {
	var ok bytes.Buffer
	h := gplog.NewHandler(fixedConfig(),
		gplog.Sink{W: failingWriter{}, Level: slog.LevelInfo},
		gplog.Sink{W: &ok, Level: slog.LevelInfo})
	err := h.Handle(t.Context(), slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Handle error = %v, want one mentioning disk full", err)
	}
	if ok.Len() == 0 {
		t.Error("second sink got nothing")
	}
}

func TestRecordTimeUsedWithoutNow(t *testing.T) {
	var buf bytes.Buffer
	cfg := fixedConfig()
	cfg.Now = nil
	h := gplog.NewHandler(cfg, gplog.Sink{W: &buf, Level: slog.LevelInfo})
	r := slog.NewRecord(time.Date(2024, 3, 18, 10, 15, 3, 0, time.UTC), slog.LevelInfo, "Starting gpstart with args: -a", 0)
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := "20240318:10:15:03:016262 gpstate:mdw:gpadmin-[INFO]:-Starting gpstart with args: -a\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestEmit(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(gplog.NewHandler(fixedConfig(), gplog.Sink{W: &buf, Level: slog.LevelInfo}))
	gplog.Emit(t.Context(), log, []gplog.Record{
		{Level: slog.LevelInfo, Msg: "a"},
		{Level: slog.LevelDebug, Msg: "hidden"},
		{Level: slog.LevelWarn, Msg: "b"},
	})
	want := "20261123:18:54:19:016262 gpstate:mdw:gpadmin-[INFO]:-a\n" +
		"20261123:18:54:19:016262 gpstate:mdw:gpadmin-[WARNING]:-b\n"
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
