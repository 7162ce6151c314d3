package buildmirrors

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// progressLine matches pg_basebackup --progress output, e.g.
// "  12345/67890 kB (18%), 0/1 tablespace".
var progressLine = regexp.MustCompile(`(\d+)/(\d+) kB`)

// ParseProgress returns the kB done and the total of a pg_basebackup
// progress line.
func ParseProgress(line string) (done, total int64, ok bool) {
	m := progressLine.FindStringSubmatch(line)
	if m == nil {
		return 0, 0, false
	}
	d, err1 := strconv.ParseInt(m[1], 10, 64)
	t, err2 := strconv.ParseInt(m[2], 10, 64)
	return d, t, err1 == nil && err2 == nil
}

// copyState is one copy's progress.
type copyState struct {
	label       string
	done, total int64
	start       time.Time
	last        time.Time // when the copy last said anything
	spoke       bool      // it has said something: it runs
	finished    bool
	stalled     bool // the watchdog stopped it
	bar         *mpb.Bar
}

// progress shows the copies' progress: a live bar per copy on a terminal,
// otherwise one INFO line per running copy every ProgressInterval.
type progress struct {
	r      *run
	mu     sync.Mutex
	copies map[int]*copyState
	bars   *mpb.Progress
}

func newProgress(r *run, idx []int) *progress {
	p := &progress{r: r, copies: map[int]*copyState{}}
	for _, i := range idx {
		m := r.ms[i]
		now := r.env.Now()
		p.copies[i] = &copyState{label: fmt.Sprintf("dbid %d %s:%s", m.Target.DBID, m.Target.Hostname, m.Target.DataDir), start: now, last: now}
	}
	return p
}

// onLine returns mirror i's line handler.
func (p *progress) onLine(i int) func(remote.Line) {
	return func(l remote.Line) {
		if f := p.r.env.OnCopyLine; f != nil {
			f(i, l.Text)
		}
		p.mu.Lock()
		if c := p.copies[i]; c != nil {
			c.last, c.spoke = p.r.env.Now(), true
		}
		p.mu.Unlock()
		if d, t, ok := ParseProgress(l.Text); ok {
			p.mu.Lock()
			c := p.copies[i]
			if c != nil {
				c.done, c.total = d, t
				if c.bar != nil {
					c.bar.SetTotal(t*1024, false)
					c.bar.SetCurrent(d * 1024)
				}
			}
			p.mu.Unlock()
			return
		}
		p.r.env.Log.Debug(fmt.Sprintf("pg_basebackup dbid %d: %s", p.r.ms[i].Target.DBID, l.Text))
	}
}

// start begins the display; the returned function ends it.
func (p *progress) start(ctx context.Context) func() {
	if len(p.copies) == 0 || p.r.opts.OwnProgress {
		return func() {}
	}
	if p.r.opts.Terminal != nil {
		return p.startBars(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.r.opts.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.logLines()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// logLines logs one line per running copy.
func (p *progress) logLines() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range sortedKeys(p.copies) {
		c := p.copies[i]
		if c.finished || p.r.failed(i) {
			continue
		}
		p.r.env.Log.Info(fmt.Sprintf("pg_basebackup %s: %s", c.label, rateText(c.done, c.total, p.r.env.Now().Sub(c.start))))
	}
}

// rateText is "12345/67890 kB (18%), 3.1 MB/s, ETA 20s".
func rateText(done, total int64, elapsed time.Duration) string {
	pct := int64(0)
	if total > 0 {
		pct = done * 100 / total
	}
	s := fmt.Sprintf("%d/%d kB (%d%%)", done, total, pct)
	if secs := elapsed.Seconds(); secs > 0 && done > 0 {
		rate := float64(done) / secs // kB/s
		s += fmt.Sprintf(", %.1f MB/s", rate/1024)
		if total > done {
			s += fmt.Sprintf(", ETA %s", (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second))
		}
	}
	return s
}

// startBars shows a bar per copy with bytes, rate and ETA on the terminal
// (never in the log file). Nothing else writes to the console while the
// bars run: results are logged after they stop.
func (p *progress) startBars(ctx context.Context) func() {
	cw := cupwriter.New(p.r.opts.Terminal, false)
	p.bars = mpb.NewWithContext(ctx, mpb.WithConsoleWriter(cw), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	p.mu.Lock()
	for _, i := range sortedKeys(p.copies) {
		c := p.copies[i]
		c.bar = p.bars.New(0, mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(c.label+" ", decor.WC{C: decor.DindentRight | decor.DextraSpace}),
				decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")),
			mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), " % .1f"), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
		)
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		for i, c := range p.copies {
			if p.r.failed(i) {
				c.bar.Abort(false)
			} else {
				c.bar.SetTotal(-1, true)
			}
		}
		p.mu.Unlock()
		p.bars.Wait()
	}
}

func sortedKeys(m map[int]*copyState) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// watchStalls stops, by its pid file, every copy that has said nothing for
// opts.StallTimeout: pg_basebackup reports progress every second while
// data flows, so silence means a stuck copy (for instance one whose WAL
// streamer outlived it and holds the session open), which would otherwise
// hold the whole run. The stopped copy fails and is cleaned up like any
// other. The returned function ends the watch.
func (p *progress) watchStalls(ctx context.Context) func() {
	limit := p.r.opts.StallTimeout
	if limit <= 0 || len(p.copies) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(min(limit/4, 10*time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, i := range p.stalled(limit) {
					m := p.r.ms[i]
					p.r.env.Log.Warn(fmt.Sprintf("pg_basebackup for %s said nothing for %s: stopping it", m.Label(), limit))
					if err := remote.Stop(ctx, p.r.env.Exec, m.Target.Hostname, PIDFile(m)); err != nil {
						p.r.env.Log.Warn(fmt.Sprintf("stop the stalled pg_basebackup of %s: %v", m.Label(), err))
					}
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// finish records that copy i's command has returned.
func (p *progress) finish(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.copies[i]; c != nil {
		c.finished = true
	}
}

// stalled marks and returns the running copies silent for longer than
// limit. Only a copy that has said something counts as running (copies
// waiting for their turn under -b have said nothing yet); pg_basebackup
// --verbose speaks at once.
func (p *progress) stalled(limit time.Duration) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	now := p.r.env.Now()
	for _, i := range sortedKeys(p.copies) {
		c := p.copies[i]
		if c.spoke && !c.finished && !c.stalled && !p.r.failed(i) && now.Sub(c.last) > limit {
			c.stalled = true
			out = append(out, i)
		}
	}
	return out
}
