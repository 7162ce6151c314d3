package gplog_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// fakeTicker is a TickerFunc whose channel the test feeds; it records the
// period it was started with and whether it was stopped.
type fakeTicker struct {
	c       chan time.Time
	period  time.Duration
	started bool
	stopped bool
}

func (f *fakeTicker) start(d time.Duration) (<-chan time.Time, func()) {
	f.started, f.period = true, d
	return f.c, func() { f.stopped = true }
}

func TestDots(t *testing.T) {
	tests := []struct {
		name  string
		ticks int
		want  string
	}{
		{"no tick, no newline", 0, ""},
		{"one tick", 1, ".\n"},
		{"three ticks", 3, "...\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			ft := &fakeTicker{c: make(chan time.Time)} // unbuffered: a send returns once Dots took it
			stop := gplog.Dots{W: &buf, Ticker: ft.start}.Start(t.Context())
			for range tt.ticks {
				ft.c <- time.Time{}
			}
			stop()
			if buf.String() != tt.want {
				t.Errorf("output %q, want %q", buf.String(), tt.want)
			}
			if ft.period != time.Second || !ft.stopped {
				t.Errorf("ticker period %v stopped %v, want 1s and stopped", ft.period, ft.stopped)
			}
		})
	}
}

func TestDotsQuiet(t *testing.T) {
	for _, w := range []io.Writer{nil, io.Discard} {
		ft := &fakeTicker{c: make(chan time.Time)}
		stop := gplog.Dots{W: w, Ticker: ft.start}.Start(t.Context())
		stop()
		if ft.started {
			t.Errorf("W=%v: ticker started under -q", w)
		}
	}
}

func TestDotsStopWhenParentContextEnds(t *testing.T) {
	var buf bytes.Buffer
	ft := &fakeTicker{c: make(chan time.Time)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() { done <- gplog.Dots{W: &buf, Ticker: ft.start}.Run(ctx) }()
	ft.c <- time.Time{}
	ft.c <- time.Time{}
	cancel()
	if n := <-done; n != 2 || buf.String() != "..\n" {
		t.Errorf("Run wrote %d dots, output %q; want 2 and %q", n, buf.String(), "..\n")
	}
}
