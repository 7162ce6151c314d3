package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// progressPattern is what Greenplum copies into recovery_progress.file
// (spec §4.9): pg_basebackup's and pg_rewind's "done/total kB (p%)".
var progressPattern = regexp.MustCompile(`(\d+)/(\d+) (kB|mB) \((\d+)%\)`)

// rsyncProgressPattern is rsync's progress ("  1,036,923,510  99%
// 39.90MB/s    0:00:24"), which Greenplum 7 copies too (its pattern misses
// MB/s and GB/s; this one does not).
var rsyncProgressPattern = regexp.MustCompile(`^\s*[\d,]+\s+\d+%\s+[\d.]+[kMG]B/s`)

// ProgressFileName is the coordinator's file gpstate -e reads while a
// recovery copies (spec §4.9).
const ProgressFileName = "recovery_progress.file"

// progressView shows the recoveries' progress as spec §4.9 describes: every
// second one line per segment, "<host> (dbid <d>): <last line of its
// copy>", printed again as a block (sequential: -s or no terminal) or
// redrawn in place with the rate and time left (a terminal); and the
// coordinator's recovery_progress.file, created when the recovery starts
// and removed when it ends, whatever the end. -q and --no-progress show
// nothing and write no file, as in Greenplum.
type progressView struct {
	w        io.Writer
	inPlace  bool
	file     string // "" when off
	now      func() time.Time
	ticker   gplog.TickerFunc
	mu       sync.Mutex
	targets  []target
	last     map[int]string
	first    map[int]sample // the first progress of each copy, for its rate
	drawn    int            // lines of the last in-place block
	disabled bool
}

// sample is one "done kB" reading.
type sample struct {
	at   time.Time
	done int64
}

// newProgressView returns the view for ts.
func (r *recovery) newProgressView(ts []target) *progressView {
	v := &progressView{w: r.env.Progress, now: r.env.Now, ticker: r.env.Ticker, targets: ts,
		last: map[int]string{}, first: map[int]sample{}}
	if r.opts.Quiet || r.opts.NoProgress || r.opts.MachineOutput {
		v.disabled = true
		return v
	}
	v.inPlace = r.env.Terminal != nil && !r.opts.Sequential && !r.opts.Verbose
	dir := r.opts.LogDir
	if dir == "" {
		dir = gplog.DefaultDir(r.env.Home)
	}
	v.file = filepath.Join(dir, ProgressFileName)
	return v
}

// update records the last line a segment's copy printed.
func (v *progressView) update(dbid int, line string) {
	line = strings.TrimRight(line, " \t\r")
	if line == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last[dbid] = line
	if m := progressPattern.FindStringSubmatch(line); m != nil {
		if _, seen := v.first[dbid]; !seen {
			done, _ := strconv.ParseInt(m[1], 10, 64)
			v.first[dbid] = sample{at: v.now(), done: done}
		}
	}
}

// start begins the display; the returned function draws the last block
// and removes recovery_progress.file.
func (v *progressView) start(ctx context.Context) func() error {
	if v.disabled {
		return func() error { return nil }
	}
	if err := os.WriteFile(v.file, nil, 0o644); err != nil {
		v.file = "" // gpstate -e only loses the progress; the recovery goes on
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	ticks, stopTicks := v.ticker(time.Second)
	go func() {
		defer close(done)
		defer stopTicks()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
				v.refresh()
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		v.refresh()
		if v.file == "" {
			return nil
		}
		if err := os.Remove(v.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", v.file, err)
		}
		return nil
	}
}

// refresh prints the block and appends to recovery_progress.file.
func (v *progressView) refresh() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var block, file strings.Builder
	lines := 0
	for _, t := range v.targets {
		dbid := t.Failed.DBID
		text, ok := v.last[dbid]
		if !ok {
			continue
		}
		line := fmt.Sprintf("%s (dbid %d): %s", t.at().Hostname, dbid, text)
		if v.inPlace {
			line += v.rate(dbid, text) + "\x1b[K"
		}
		block.WriteString(line + "\n")
		lines++
		if progressPattern.MatchString(text) || rsyncProgressPattern.MatchString(text) {
			fmt.Fprintf(&file, "%s:%d:%s\n", strings.ToLower(t.Method()), dbid, text)
		}
	}
	if lines == 0 {
		return
	}
	if v.inPlace && v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA", v.drawn)
	}
	_, _ = io.WriteString(v.w, block.String()) // progress output is best effort
	v.drawn = lines
	if v.file != "" && file.Len() > 0 {
		if f, err := os.OpenFile(v.file, os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			_, _ = f.WriteString(file.String())
			_ = f.Close()
		}
	}
}

// rate is ", <MB/s>, <time> left" for a copy whose progress line says
// how far it is; "" before there is a rate.
func (v *progressView) rate(dbid int, text string) string {
	m := progressPattern.FindStringSubmatch(text)
	first, ok := v.first[dbid]
	if m == nil || !ok {
		return ""
	}
	done, _ := strconv.ParseInt(m[1], 10, 64)
	total, _ := strconv.ParseInt(m[2], 10, 64)
	secs := v.now().Sub(first.at).Seconds()
	if secs < 1 || done <= first.done {
		return ""
	}
	kbps := float64(done-first.done) / secs
	left := time.Duration(float64(total-done) / kbps * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("  [%.1f MB/s, %s left]", kbps/1024, left)
}
