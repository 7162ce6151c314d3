package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocalExecutor(t *testing.T) {
	tests := []struct {
		name       string
		c          Command
		wantOut    string
		wantErrOut string
		wantCode   int
		wantErr    bool
	}{
		{"argv", Command{Argv: []string{"printf", `%s|`, "a b", "it's"}}, "a b|it's|", "", 0, false},
		{"exit code", Command{Argv: []string{"sh", "-c", "echo oops >&2; exit 3"}}, "", "oops\n", 3, true},
		{"script args", Command{Script: `echo "$#:$1:$2"`, Args: []string{"x y", "$(z)"}}, "2:x y:$(z)\n", "", 0, false},
		{"missing program", Command{Argv: []string{"/nonexistent/prog"}}, "", "", -1, true},
		{"invalid", Command{}, "", "", -1, true},
		{"both", Command{Argv: []string{"true"}, Script: "true"}, "", "", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Host = "mdw"
			r := LocalExecutor{}.Exec(t.Context(), tt.c)
			got := []any{r.Stdout, r.Stderr, r.ExitCode, r.Err != nil}
			want := []any{tt.wantOut, tt.wantErrOut, tt.wantCode, tt.wantErr}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("(-want +got):\n%s\nerr: %v", d, r.Err)
			}
			var he *HostError
			if tt.wantErr && !errors.As(r.Err, &he) {
				t.Fatalf("Err is not a *HostError: %v", r.Err)
			}
		})
	}
}

func TestLocalTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	c := Command{
		Script: `sleep 30 & sleep 30 & echo started; wait`,
		// Long enough for sh to print "started" on a loaded machine,
		// far shorter than the sleeps.
		Timeout: 2 * time.Second,
		PIDFile: filepath.Join(dir, "s.pid"),
	}
	start := time.Now()
	r := LocalExecutor{}.Exec(t.Context(), c)
	elapsed := time.Since(start)
	if r.ExitCode != -1 || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("exit %d, err %v", r.ExitCode, r.Err)
	}
	if r.Stdout != "started\n" {
		t.Fatalf("output before the kill lost: %q", r.Stdout)
	}
	if elapsed > 15*time.Second {
		t.Fatalf("timeout took %s", elapsed)
	}
	t.Logf("2s timeout returned after %s", elapsed)
	pid, _ := os.ReadFile(c.PIDFile)
	if out, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat"); len(out) > 0 && !strings.Contains(string(out), ") Z ") {
		t.Fatalf("script still running: %s", out)
	}
}

func TestLocalStreaming(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []Line
	)
	c := Command{
		Script: "echo one; sleep 0.2; echo two >&2; printf three",
	}
	firstSeen := make(chan time.Duration, 1)
	start := time.Now()
	c.OnLine = func(l Line) {
		mu.Lock()
		if len(lines) == 0 {
			firstSeen <- time.Since(start)
		}
		lines = append(lines, l)
		mu.Unlock()
	}
	r := LocalExecutor{}.Exec(t.Context(), c)
	want := []Line{{Stdout, "one"}, {Stderr, "two"}, {Stdout, "three"}}
	if d := cmp.Diff(want, lines); d != "" {
		t.Fatalf("lines (-want +got):\n%s", d)
	}
	if first := <-firstSeen; first >= r.Duration-100*time.Millisecond {
		t.Fatalf("first line arrived at %s of %s: not streamed", first, r.Duration)
	}
	if r.Stdout != "one\nthree" || r.Stderr != "two\n" {
		t.Fatalf("captured %q %q", r.Stdout, r.Stderr)
	}
}

func TestStopLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pid dir 'x'")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "basebackup.pid")
	tests := []struct {
		name string
		c    Command
	}{
		{"argv", Command{Argv: []string{"sleep", "60"}, PIDFile: pidFile}},
		{"script with jobs", Command{Script: "sleep 60 & sleep 60 & wait", PIDFile: pidFile}},
		{"ignores TERM", Command{Script: "trap '' TERM; sleep 60 & wait; sleep 60", PIDFile: pidFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan Result, 1)
			go func() { done <- LocalExecutor{}.Exec(t.Context(), tt.c) }()
			waitFile(t, pidFile)
			start := time.Now()
			if err := StopGrace(t.Context(), LocalExecutor{}, "mdw", pidFile, 500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				if r.OK() {
					t.Fatal("stopped command succeeded")
				}
				t.Logf("stopped after %s: %v", time.Since(start), r.Err)
			case <-time.After(5 * time.Second):
				t.Fatal("command still running after Stop")
			}
			if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
				t.Fatalf("pid file left behind: %v", err)
			}
		})
	}

	// The leader killed alone (as the OOM killer kills pg_basebackup) leaves
	// its child in the group, still running: Stop stops the group.
	t.Run("leader killed, child left", func(t *testing.T) {
		childFile := filepath.Join(dir, "child.pid")
		done := make(chan Result, 1)
		go func() {
			done <- LocalExecutor{}.Exec(t.Context(), Command{
				Script: `sh -c 'echo $$ > "$1"; exec sleep 60' child "$1" & wait`, Args: []string{childFile}, PIDFile: pidFile})
		}()
		waitFile(t, pidFile)
		waitFile(t, childFile)
		leader, child := readPID(t, pidFile), readPID(t, childFile)
		if err := syscall.Kill(leader, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if err := syscall.Kill(child, 0); err != nil {
			t.Fatalf("the child should outlive its leader here: %v", err)
		}
		if err := StopGrace(t.Context(), LocalExecutor{}, "mdw", pidFile, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for syscall.Kill(child, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("child %d still running after Stop", child)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
			t.Fatalf("pid file left behind: %v", err)
		}
	})

	// nothing to stop
	if err := Stop(t.Context(), LocalExecutor{}, "mdw", pidFile); err != nil {
		t.Fatalf("missing pid file: %v", err)
	}
	if err := os.WriteFile(pidFile, []byte("not a pid\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Stop(t.Context(), LocalExecutor{}, "mdw", pidFile); err == nil || !strings.Contains(err.Error(), "holds no pid") {
		t.Fatalf("bad pid file: %v", err)
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	for range 200 {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

// readPID reads the pid on the first line of path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}
