//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// background is a built tool running blind in the background, its output
// read as it comes: the arrival time of each line is kept, and the tool
// can be killed -9 the moment a line matches a pattern.
type background struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	began  time.Time
	killOn *regexp.Regexp
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed

	mu      sync.Mutex // guards the fields below, written by the output copier
	out     bytes.Buffer
	partial []byte
	lines   []timedLine
	killed  *timedLine // the line on which the tool was killed
}

type timedLine struct {
	text string
	at   time.Time
}

// startBackground starts tool (killed after toolTimeout at most) with the
// cluster's environment; with killOn set, the tool gets SIGKILL as soon
// as a line of its output matches killOn.
func (d rebalanceDemo) startBackground(t testing.TB, killOn, tool string, args ...string) *background {
	t.Helper()
	return startBackground(t, d.coord, d.hidden, killOn, tool, args...)
}

// startBackground starts tool blind (hidden hidden) for the cluster whose
// coordinator data directory is coord, as rebalanceDemo.startBackground.
func startBackground(t testing.TB, coord string, hidden []string, killOn, tool string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	cmd := testbed.Blind(t, exec.CommandContext(ctx, filepath.Join(toolsDir, tool), append(args, "-l", t.TempDir())...), hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+coord, "MASTER_DATA_DIRECTORY=")
	cmd.WaitDelay = 10 * time.Second
	bg := &background{cmd: cmd, cancel: cancel, exited: make(chan struct{})}
	if killOn != "" {
		bg.killOn = regexp.MustCompile(killOn)
	}
	cmd.Stdout, cmd.Stderr = bg, bg
	bg.began = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		bg.err = cmd.Wait()
		close(bg.exited)
	}()
	t.Cleanup(func() {
		bg.cancel()
		<-bg.exited
	})
	return bg
}

// Write takes the tool's output (both streams, through one copier).
func (bg *background) Write(p []byte) (int, error) {
	now := time.Now()
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bg.out.Write(p)
	bg.partial = append(bg.partial, p...)
	for {
		i := bytes.IndexByte(bg.partial, '\n')
		if i < 0 {
			break
		}
		l := timedLine{text: string(bg.partial[:i]), at: now}
		bg.partial = bg.partial[i+1:]
		bg.lines = append(bg.lines, l)
		if bg.killOn != nil && bg.killed == nil && bg.killOn.MatchString(l.text) {
			_ = bg.cmd.Process.Kill()
			bg.killed = &l
		}
	}
	return len(p), nil
}

// wait waits for the tool to exit and returns its exit code (-1: killed
// by a signal) and its output.
func (bg *background) wait(t testing.TB) (int, string) {
	t.Helper()
	<-bg.exited
	bg.cancel()
	bg.mu.Lock()
	defer bg.mu.Unlock()
	var exit *exec.ExitError
	switch {
	case bg.err == nil:
		return 0, bg.out.String()
	case errors.As(bg.err, &exit):
		return exit.ExitCode(), bg.out.String()
	}
	t.Fatalf("%s: %v\n%s", bg.cmd.Args, bg.err, bg.out.String())
	return 0, ""
}

// kill kills the tool -9 now, if it still runs.
func (bg *background) kill() {
	_ = bg.cmd.Process.Kill()
}

// killedOn is the line on which the tool was killed, if it was.
func (bg *background) killedOn() (timedLine, bool) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if bg.killed == nil {
		return timedLine{}, false
	}
	return *bg.killed, true
}

// lineAt is when the first line containing s arrived.
func (bg *background) lineAt(s string) (time.Time, bool) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	for _, l := range bg.lines {
		if strings.Contains(l.text, s) {
			return l.at, true
		}
	}
	return time.Time{}, false
}

// output is what the tool has printed so far.
func (bg *background) output() string {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return bg.out.String()
}

// running reports whether the tool has not exited yet.
func (bg *background) running() bool {
	select {
	case <-bg.exited:
		return false
	default:
		return true
	}
}
