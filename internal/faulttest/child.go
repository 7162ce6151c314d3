package faulttest

import (
	"errors"
	"fmt"
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

// KillChildren kills -9, as "pkill -9 -f" would, every process whose full
// command line matches the extended regular expression pattern (a tool's
// remote pg_basebackup, pg_rewind, rsync or pg_ctl, which the test bed's
// hosts run on this machine) and waits, reapLimit at most, until they are
// gone. It returns their pids; none matching fails t.
func KillChildren(t testing.TB, pattern string) []int {
	t.Helper()
	pids := tooltest.Pgrep(t, pattern)
	if len(pids) == 0 {
		t.Fatalf("no process matches %s", pattern)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("kill -9 %d: %v", pid, err)
		}
	}
	for _, pid := range pids {
		for deadline := time.Now().Add(reapLimit); alive(pid); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs %s after kill -9", pid, reapLimit)
			}
		}
	}
	return pids
}

// alive reports whether pid runs; a zombie (dead, not yet reaped by its
// parent) does not.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := readProc(pid, "stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// problem is the level of a message that says something went wrong.
var problem = regexp.MustCompile(`^\[(ERROR|WARNING|CRITICAL|FATAL)\]:-`)

// Problems is the tool's ERROR and WARNING messages in out (without the
// timestamp and program prefix), each with the unprefixed lines that
// continue it (indented, or after a message that ends with a colon),
// joined by " / ": the Printed of a row for a tool that ran to its end.
func Problems(out string) string {
	var lines []string
	in, colon := false, false // within a problem; its last line ends with ':'
	for _, m := range tooltest.Messages(out) {
		text, unprefixed := strings.CutPrefix(m, "unprefixed: ")
		switch {
		case !unprefixed && problem.MatchString(m):
			lines, in = append(lines, strings.TrimSpace(m)), true
		case in && unprefixed && strings.TrimSpace(text) != "" && (strings.HasPrefix(text, " ") || colon):
			lines[len(lines)-1] += " " + strings.TrimSpace(text)
		default:
			in = false
		}
		colon = in && strings.HasSuffix(lines[len(lines)-1], ":")
	}
	for i := range lines {
		lines[i] = clip(lines[i])
	}
	return strings.Join(lines, " / ")
}

// clipAt is the longest line Problems keeps whole: a longer one (a
// remote command line quoted in an error) keeps its start, where the
// instance is named, and its end, where the reason is.
const clipAt = 240

func clip(line string) string {
	if len(line) <= clipAt {
		return line
	}
	return line[:clipAt*2/3] + " … " + line[len(line)-clipAt/3:]
}

// readProc reads /proc/<pid>/<name>.
func readProc(pid int, name string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	return string(b), err
}

// Short replaces each of dirs in s by DIR: a row reads the same whatever
// temporary directory the test bed had.
func Short(s string, dirs ...string) string {
	for _, d := range dirs {
		if d != "" {
			s = strings.ReplaceAll(s, d, "DIR")
		}
	}
	return s
}

// Said is the tool's last message in out that is not a line of
// asterisks: the key message of a run that finished.
func Said(out string) string {
	msgs := tooltest.Messages(out)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if strings.Trim(m[strings.Index(m, ":")+1:], "-* ") != "" && !strings.HasPrefix(m, "unprefixed: ") {
			return m
		}
	}
	return ""
}

// Child is what a tool printed and how it ended after a fault while it
// ran (one of its children killed, a host gone).
type Child struct {
	Output string        // everything it printed, stdout and stderr interleaved
	Exit   int           // its exit code
	Pids   []int         // the children killed, by KillChild
	After  time.Duration // from its start to the fault
	Took   time.Duration // from its start to its exit
}

// childLimit bounds how long a tool may take to give up after a fault:
// longer is a hang.
const childLimit = 3 * time.Minute

// KillChild starts cmd, waits (momentLimit at most) until a process
// matching pattern runs and ready holds, kills those processes -9
// (KillChildren) and waits for cmd to end, childLimit at most: a tool
// still running then hangs, and fails t. cmd ending before the moment
// came, or by a signal, fails t too.
func KillChild(t testing.TB, cmd *exec.Cmd, pattern string, ready func() bool) Child {
	t.Helper()
	var pids []int
	c := FaultWhen(t, cmd, func(string) bool { return len(tooltest.Pgrep(t, pattern)) > 0 && ready() },
		func() { pids = KillChildren(t, pattern) })
	c.Pids = pids
	return c
}

// FaultWhen starts cmd, waits (momentLimit at most) until ready holds,
// polled every 20 ms with what cmd has printed so far, then calls fault and waits for cmd to end,
// childLimit at most: a tool still running then hangs, and fails t. cmd
// ending before the moment came, or by a signal, fails t too.
func FaultWhen(t testing.TB, cmd *exec.Cmd, ready func(out string) bool, fault func()) Child {
	t.Helper()
	tool := cmd.Path
	if i := strings.LastIndexByte(tool, '/'); i >= 0 {
		tool = tool[i+1:]
	}
	var out lockedBuilder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", tool, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(momentLimit); !ready(out.String()); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("%s exited (%v) before the moment of the fault came\n%s", tool, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s: the moment of the fault never came within %s\n%s", tool, momentLimit, out.String())
		}
	}
	c := Child{After: time.Since(start)}
	fault()
	var err error
	select {
	case err = <-exited:
	case <-time.After(childLimit):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("%s still runs %s after the fault: it hangs\n%s", tool, childLimit, out.String())
	}
	c.Took, c.Output = time.Since(start), out.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		c.Exit = ee.ExitCode()
	default:
		t.Fatalf("%s: %v\n%s", tool, err, c.Output)
	}
	return c
}

// lockedBuilder is a strings.Builder a running command writes while the
// test reads it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
