//go:build integration && reliability

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// Keepalives of the stalled-session test's ssh_config: the tool gives up
// on a silent host after about stallInterval × stallCount.
const (
	stallInterval = 2
	stallCount    = 3
)

// TestFaultAddMirrorsSessionStalled: while gpaddmirrors copies content
// 1's primary, the sshd serving the copy on the mirror's host stops
// answering (SIGSTOP: the TCP connection stays open, nothing comes back).
// The tool's ssh_config asks for keepalives every 2 s, 3 unanswered at
// most. gpaddmirrors must not hang: it gives up on that host naming it and
// the reason, and exits 1. The sshd is let go (SIGCONT) once the tool
// has exited; the same command then finishes, nothing lost.
func TestFaultAddMirrorsSessionStalled(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	d := newMirrorless(t)
	before := d.writeRows(t, "before_fault")
	big := d.fillContent(t, 1, killRows)
	file, targets := d.spreadMirrorFile(t)
	target := targets[1]
	host := d.hosts[0] // content 1's mirror goes there
	copying := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(target) + `( |$)`

	cmd := d.command(t, t.Context(), "gpaddmirrors", "-a", "-i", file)
	cmd.Env = append(cmd.Env, "HOME="+impatientHome(t))
	var stopped int
	defer func() {
		if stopped > 0 {
			_ = syscall.Kill(stopped, syscall.SIGCONT)
		}
	}()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(2 * time.Minute); stopped == 0; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("gpaddmirrors exited (%v) before its copy's session was stalled\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no copy into %s with 32 MB on disk within 2 minutes\n%s", target, out.String())
		}
		if len(tooltest.Pgrep(t, copying)) == 0 || tooltest.DirSize(target) < 32<<20 {
			continue
		}
		if pid := sshdAbove(target, nil); pid > 0 {
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatalf("SIGSTOP sshd %d: %v", pid, err)
			}
			stopped = pid
		}
	}
	stalledAt := time.Since(start)
	var err error
	select {
	case err = <-exited:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("gpaddmirrors still runs 3 minutes after the session of its copy stalled: it hangs\n%s", out.String())
	}
	gaveUp := time.Since(start) - stalledAt
	_ = syscall.Kill(stopped, syscall.SIGCONT)
	code := cmd.ProcessState.ExitCode()
	t.Logf("sshd %d stopped %.1f s after gpaddmirrors started (%d MB of %d copied); it exited %d (%v) %.1f s later",
		stopped, stalledAt.Seconds(), tooltest.DirSize(target)>>20, big>>20, code, err, gaveUp.Seconds())
	problems := faulttest.Problems(out.String())
	if code != 1 {
		t.Errorf("gpaddmirrors with a stalled session: exit %d, want 1\n%s", code, out.String())
	}
	if problems == "" || !strings.Contains(out.String(), host) || !strings.Contains(out.String(), "connection lost: the host stopped answering") {
		t.Errorf("the failure does not name %s and the stalled session:\n%s", host, out.String())
	}
	// What the stalled session left settles once its sshd runs again.
	time.Sleep(2 * time.Second)
	after := d.describe(t)

	rerun := time.Now()
	rcode, rout := d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	took := time.Since(rerun)
	if rcode != 0 {
		t.Fatalf("the rerun of gpaddmirrors: exit %d\n%s", rcode, rout)
	}
	d.checkMirrored(t, before)
	d.checkTrueToDisk(t)
	lost := d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}, "big": {1: killRows}})
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault: fmt.Sprintf("the SSH session of content 1's copy stalled (SIGSTOP of its sshd on %s, keepalives every %d s, %d unanswered at most), let go after the tool exited",
			host, stallInterval, stallCount),
		Tool:    "gpaddmirrors -a -i FILE",
		Printed: faulttest.Short(problems, d.dir),
		Exit:    fmt.Sprintf("exit %d, %.1f s after the stall", code, gaveUp.Seconds()),
		After:   faulttest.Short(after, d.dir),
		Rerun:   fmt.Sprintf("exit %d in %.1f s: %s", rcode, took.Seconds(), faulttest.Said(rout)),
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

// impatientHome is a HOME whose ssh_config reaches every host with the
// test user's own key and known_hosts, and gives up on a host after
// stallCount keepalives sent stallInterval seconds apart go unanswered.
func impatientHome(t *testing.T) string {
	t.Helper()
	real, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("Host *\n  IdentityFile %s/.ssh/id_ed25519\n  UserKnownHostsFile %[1]s/.ssh/known_hosts\n  ServerAliveInterval %d\n  ServerAliveCountMax %d\n",
		real, stallInterval, stallCount)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}
