package gplog

import (
	"context"
	"io"
	"time"
)

// TickerFunc starts a ticker with period d and returns its channel and a
// function that stops it. app.Env carries RealTicker; tests pass a channel
// they feed by hand.
type TickerFunc func(d time.Duration) (ticks <-chan time.Time, stop func())

// RealTicker is a TickerFunc backed by time.NewTicker.
func RealTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Dots writes Greenplum's progress dots (spec §1.3.2): one "." per second
// while the caller waits, and a newline at the end if any dot was written.
// Dots are verbatim console output: they bypass the logger and never reach
// the log file.
type Dots struct {
	// W receives the dots; nil or io.Discard (what app.Env.Progress is under
	// -q) writes nothing and starts no ticker.
	W io.Writer
	// Ticker starts the once-a-second ticker; nil means RealTicker.
	Ticker TickerFunc
}

// Run writes one dot per tick until ctx is done, then the final newline if
// any dot was written. It returns the number of dots written.
func (d Dots) Run(ctx context.Context) int {
	if d.W == nil || d.W == io.Discard {
		<-ctx.Done()
		return 0
	}
	start := d.Ticker
	if start == nil {
		start = RealTicker
	}
	ticks, stop := start(time.Second)
	defer stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			if n > 0 {
				_, _ = io.WriteString(d.W, "\n")
			}
			return n
		case <-ticks:
			// A failed write to the console cannot be reported anywhere
			// better than the console itself; keep waiting.
			_, _ = io.WriteString(d.W, ".")
			n++
		}
	}
}

// Start runs Dots in the background until ctx is done or the returned stop
// function is called. stop waits until the final newline (if any) is
// written, so output that follows starts on a fresh line.
//
//	stop := gplog.Dots{W: env.Progress, Ticker: env.Ticker}.Start(ctx)
//	results := runner.Run(ctx, cmds)
//	stop()
func (d Dots) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
