// Package faulttest is the harness of the fault campaign (make
// reliability): it kills a running tool -9 at a chosen moment, the first
// line it prints that matches a pattern, or the first time a condition
// holds, and records each fault's outcome as a row of the table that
// docs/reliability.md quotes.
package faulttest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// Bounds of a kill: how long the moment may take to come, and how long the
// killed tool may take to be reaped.
const (
	momentLimit = 3 * time.Minute
	reapLimit   = 10 * time.Second
)

// Killed is what a tool killed -9 left on its output.
type Killed struct {
	Output string        // everything it printed, stdout and stderr interleaved
	Last   string        // its last message (tooltest.Messages form), "" if none
	After  time.Duration // from its start to the kill
}

// KillAtLine starts cmd and kills it -9 the moment it prints a line
// matching at: the line is read from a pipe, and the signal sent before
// the next line is read, so the tool is stopped within the step that line
// announces unless that step takes less than a scheduling slice. The tool
// exiting first, or not dying of SIGKILL, fails t.
func KillAtLine(t testing.TB, cmd *exec.Cmd, at *regexp.Regexp) Killed {
	t.Helper()
	return kill(t, cmd, at, nil)
}

// KillWhen starts cmd and kills it -9 as soon as ready holds, polled every
// 20 ms with what cmd has printed so far.
func KillWhen(t testing.TB, cmd *exec.Cmd, ready func(out string) bool) Killed {
	t.Helper()
	return kill(t, cmd, nil, ready)
}

func kill(t testing.TB, cmd *exec.Cmd, at *regexp.Regexp, ready func(string) bool) Killed {
	t.Helper()
	tool := cmd.Path
	if i := strings.LastIndexByte(tool, '/'); i >= 0 {
		tool = tool[i+1:]
	}
	// An *os.File pipe: Wait returns when the tool dies, even while a child
	// it left (an orphaned copy) still holds the write end.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	printed := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	start := time.Now()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatalf("start %s: %v", tool, err)
	}
	matched, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if at != nil && !once && at.MatchString(sc.Text()) {
				once = true
				_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				close(matched)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.After(momentLimit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-matched:
			break wait
		case err := <-exited:
			t.Fatalf("%s exited (%v) before the moment to kill it came\n%s", tool, err, printed())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("%s: the moment to kill it never came within %s\n%s", tool, momentLimit, printed())
		case <-tick.C:
			if ready != nil && ready(printed()) {
				if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill -9 %s: %v", tool, err)
				}
				break wait
			}
		}
	}
	k := Killed{After: time.Since(start)}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s after kill -9: %v, want death by SIGKILL\n%s", tool, err, printed())
		}
	case <-time.After(reapLimit):
		t.Fatalf("%s still runs %s after kill -9", tool, reapLimit)
	}
	// What the tool wrote before it died is read to the end, unless a
	// child it left still holds the pipe open.
	select {
	case <-drained:
	case <-time.After(time.Second):
	}
	k.Output = printed()
	if msgs := tooltest.Messages(k.Output); len(msgs) > 0 && k.Output != "" {
		k.Last = msgs[len(msgs)-1]
	}
	return k
}
