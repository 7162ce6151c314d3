package gplog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAsDebug(t *testing.T) {
	var quiet, verbose bytes.Buffer
	cfg := Config{Prog: "gpstart", Host: "mdw", User: "gpadmin", PID: 7, Now: func() time.Time { return time.Date(2026, 11, 23, 18, 54, 33, 0, time.UTC) }}
	h := NewHandler(cfg, Sink{W: &quiet, Level: slog.LevelInfo}, Sink{W: &verbose, Level: slog.LevelDebug})
	slog.New(AsDebug(h)).Warn("Commencing Master instance shutdown")
	if quiet.Len() != 0 {
		t.Errorf("an INFO sink got a demoted record: %q", quiet.String())
	}
	if !strings.Contains(verbose.String(), "-[DEBUG]:-Commencing Master instance shutdown") {
		t.Errorf("DEBUG sink: %q", verbose.String())
	}
}
