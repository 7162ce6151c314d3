package faulttest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A child started with a unique command line is found by it, killed -9
// and reaped.
func TestKillChildren(t *testing.T) {
	// A duration no other process has: sleep 30.<nanoseconds>.
	mark := "sleep 30." + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	cmd := exec.Command("sleep", mark[len("sleep "):])
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, _ := exec.Command("pgrep", "-f", "^"+mark+"$").Output(); len(out) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never showed its command line")
		}
	}
	pids := KillChildren(t, "^"+mark+"$")
	if len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("killed %v, want [%d]", pids, cmd.Process.Pid)
	}
	select {
	case err := <-done:
		if err == nil || err.Error() != "signal: killed" {
			t.Errorf("the child: %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the child still runs")
	}
}

func TestProblems(t *testing.T) {
	out := "20261204:10:15:03:012345 gprecoverseg:mdw:gpadmin-[INFO]:-Starting\n" +
		"20261204:10:15:04:012345 gprecoverseg:mdw:gpadmin-[WARNING]:-sdw1 (dbid 3): pg_rewind failed: signal: killed\n" +
		"progress\n" +
		"20261204:10:15:05:012345 gprecoverseg:mdw:gpadmin-[ERROR]:-gprecoverseg failed:\n" +
		"  content 1 mirror (dbid 5) on sdw2:7001: 65536 kB free\n" +
		"  second reason\n" +
		"20261204:10:15:05:012345 gprecoverseg:mdw:gpadmin-[INFO]:-next\n" +
		"unrelated\n" +
		"20261204:10:15:06:012345 gpaddmirrors:mdw:gpadmin-[ERROR]:-ssh host key check failed for 1 of 2 hosts:\n" +
		"sdw2: connection refused\n"
	want := "[WARNING]:-sdw1 (dbid 3): pg_rewind failed: signal: killed / [ERROR]:-gprecoverseg failed: content 1 mirror (dbid 5) on sdw2:7001: 65536 kB free second reason / [ERROR]:-ssh host key check failed for 1 of 2 hosts: sdw2: connection refused"
	if got := Problems(out); got != want {
		t.Errorf("Problems:\n%s\nwant\n%s", got, want)
	}
	long := "20261204:10:15:04:012345 gprecoverseg:mdw:gpadmin-[WARNING]:-dbid 2: " + strings.Repeat("x", 300) + ": exit status 137"
	if got := Problems(long); len(got) > clipAt+10 || !strings.HasPrefix(got, "[WARNING]:-dbid 2: ") || !strings.HasSuffix(got, ": exit status 137") {
		t.Errorf("a long line clipped to %q", got)
	}
}
