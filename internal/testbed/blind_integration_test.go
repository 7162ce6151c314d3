//go:build integration

package testbed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// segmentDirs makes <tmp>/hidden holding a file "secret" (a segment's data
// directory) and <tmp>/visible holding a file "note" (the coordinator's).
func segmentDirs(t *testing.T) (hidden, visible string) {
	t.Helper()
	tmp := t.TempDir()
	hidden, visible = filepath.Join(tmp, "hidden"), filepath.Join(tmp, "visible")
	for _, f := range []string{filepath.Join(hidden, "secret"), filepath.Join(visible, "note")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(filepath.Base(f)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hidden, visible
}

// run runs cmd and returns its stdout, stderr and exit code.
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s: %v", cmd, err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs cmd and fails t unless it exits 0.
func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, errs, code := run(t, cmd)
	if code != 0 {
		t.Fatalf("%s: exit %d, stderr %q", cmd, code, errs)
	}
	return out
}

func TestBlindHidesOnlyTheGivenDirectories(t *testing.T) {
	hidden, visible := segmentDirs(t)

	if out, errs, code := run(t, Blind(t, exec.Command("cat", filepath.Join(hidden, "secret")), hidden)); code == 0 || out != "" {
		t.Errorf("cat of a hidden file: exit %d, stdout %q; want a failure", code, out)
	} else if !strings.Contains(errs, "No such file") {
		t.Errorf("cat of a hidden file: stderr %q, want No such file", errs)
	}
	if out := mustRun(t, Blind(t, exec.Command("ls", "-A", hidden), hidden)); out != "" {
		t.Errorf("ls -A of the hidden directory = %q, want it empty", out)
	}
	if _, _, code := run(t, Blind(t, exec.Command("touch", filepath.Join(hidden, "new")), hidden)); code == 0 {
		t.Error("touch in the hidden directory succeeded; want it read-only")
	}
	if out := mustRun(t, Blind(t, exec.Command("cat", filepath.Join(visible, "note")), hidden)); out != "note\n" {
		t.Errorf("cat of a file in a visible sibling = %q, want note", out)
	}
}

func TestBlindHidesEveryDirectoryGiven(t *testing.T) {
	a, _ := segmentDirs(t)
	b, _ := segmentDirs(t)
	inner := filepath.Join(a, "inner")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `for d in "$@"; do ls -A "$d"; done; test ! -e "$1/secret" && test ! -e "$2/secret"`
	if out := mustRun(t, Blind(t, exec.Command("sh", "-c", script, "sh", a, b), a, b, inner)); out != "" {
		t.Errorf("hidden directories list %q, want nothing", out)
	}
}

func TestBlindKeepsIdentityWithoutCapabilities(t *testing.T) {
	hidden, _ := segmentDirs(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{u.Uid, u.Gid, u.Username}, "\n") + "\n"
	if got := mustRun(t, Blind(t, exec.Command("sh", "-c", "id -u; id -g; id -un"), hidden)); got != want {
		t.Errorf("identity inside (uid, gid, name):\n%s\nwant:\n%s", got, want)
	}

	// The bounding set is left out: a new user namespace starts with a full
	// one, which matters only to set-user-ID-root and file-capability
	// programs, and those gain nothing where root is unmapped.
	inside := capabilities(t, mustRun(t, Blind(t, exec.Command("cat", "/proc/self/status"), hidden)))
	outside := capabilities(t, mustRun(t, exec.Command("cat", "/proc/self/status")))
	if d := cmp.Diff(outside, inside); d != "" {
		t.Errorf("capabilities inside differ from a plain child's (-outside +inside):\n%s", d)
	}
	if os.Geteuid() != 0 {
		for _, c := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
			if inside[c] != 0 {
				t.Errorf("%s = %#x inside, want 0", c, inside[c])
			}
		}
	}
}

// capabilities parses the Cap* lines of a /proc/PID/status but CapBnd.
func capabilities(t *testing.T, status string) map[string]uint64 {
	t.Helper()
	caps := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(name, "Cap") || name == "CapBnd" {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		caps[name] = v
	}
	if len(caps) == 0 {
		t.Fatalf("no Cap lines in:\n%s", status)
	}
	return caps
}

// The point of the harness: a local read of a segment file fails, while the
// same read over SSH (sshd runs outside the namespace) works.
func TestBlindLeavesSSHSeeingEverything(t *testing.T) {
	host := AcquireSlot(t).Hosts[0]
	hidden, _ := segmentDirs(t)
	secret := filepath.Join(hidden, "secret")

	if _, _, code := run(t, Blind(t, exec.Command("cat", secret), hidden)); code == 0 {
		t.Error("local cat of a hidden file succeeded")
	}
	ssh := exec.Command("ssh", "-o", "BatchMode=yes", host, "cat", secret)
	if out := mustRun(t, Blind(t, ssh, hidden)); out != "secret\n" {
		t.Errorf("ssh %s cat %s = %q, want secret", host, secret, out)
	}
}

// The mounts exist only in the tool's namespace, while it runs.
func TestBlindMountsStayInside(t *testing.T) {
	hidden, _ := segmentDirs(t)
	cmd := Blind(t, exec.Command("sh", "-c", `ls -A "$1"; read -r line || true`, "sh", hidden), hidden)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	insideMounts := waitForMount(t, cmd.Process.Pid, hidden)
	if !strings.Contains(insideMounts, " - tmpfs gpmgmt-blind ro") {
		t.Errorf("mount over %s inside is not a read-only tmpfs:\n%s", hidden, insideMounts)
	}
	if m := mountsOn(t, "/proc/self/mountinfo", hidden); m != "" {
		t.Errorf("the test process sees the mount over %s while the tool runs:\n%s", hidden, m)
	}
	if _, err := os.ReadFile(filepath.Join(hidden, "secret")); err != nil {
		t.Errorf("the test process cannot read the hidden file while the tool runs: %v", err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Errorf("ls -A inside = %q, want it empty", out.String())
	}
	if b, err := os.ReadFile(filepath.Join(hidden, "secret")); err != nil || string(b) != "secret\n" {
		t.Errorf("after the tool exits, reading the hidden file = %q, %v", b, err)
	}
	if out := mustRun(t, exec.Command("ls", "-A", hidden)); out != "secret\n" {
		t.Errorf("after the tool exits, ls -A %s = %q", hidden, out)
	}
}

// waitForMount returns the mountinfo lines of pid for dir, once the helper
// has mounted it and executed the tool.
func waitForMount(t *testing.T, pid int, dir string) string {
	t.Helper()
	file := "/proc/" + strconv.Itoa(pid) + "/mountinfo"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := mountsOn(t, file, dir); m != "" {
			return m
		}
	}
	t.Fatalf("no mount on %s in %s", dir, file)
	return ""
}

func mountsOn(t *testing.T, mountinfo, dir string) string {
	t.Helper()
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestBlindPassesThroughIOAndExitCode(t *testing.T) {
	hidden, visible := segmentDirs(t)
	cmd := exec.Command("sh", "-c", `cat; echo "$GPMGMT_BLIND_TEST"; pwd; echo oops >&2; exit 7`)
	cmd.Stdin = strings.NewReader("from stdin\n")
	cmd.Env = append(os.Environ(), "GPMGMT_BLIND_TEST=from env")
	cmd.Dir = visible
	out, errs, code := run(t, Blind(t, cmd, hidden))
	if want := "from stdin\nfrom env\n" + visible + "\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if errs != "oops\n" {
		t.Errorf("stderr = %q, want oops", errs)
	}
	if code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
}

// Setting Stdout or Env after Blind works too: Blind only rewrites the
// program, its arguments and the process attributes.
func TestBlindThenConfigure(t *testing.T) {
	hidden, _ := segmentDirs(t)
	cmd := Blind(t, exec.Command("sh", "-c", `echo "$GPMGMT_BLIND_TEST"`), hidden)
	cmd.Env = []string{"GPMGMT_BLIND_TEST=late"}
	if out := mustRun(t, cmd); out != "late\n" {
		t.Errorf("stdout = %q, want late", out)
	}
}

func TestBlindWorkingDirectoryInsideHidden(t *testing.T) {
	hidden, _ := segmentDirs(t)
	cmd := exec.Command("ls", "-A")
	cmd.Dir = hidden
	if out := mustRun(t, Blind(t, cmd, hidden)); out != "" {
		t.Errorf("ls -A in the hidden working directory = %q, want it empty", out)
	}
}

func TestBlindToolNotFound(t *testing.T) {
	hidden, _ := segmentDirs(t)
	cmd := exec.Command("/bin/sh")
	cmd.Path = filepath.Join(t.TempDir(), "no-such-tool") // as if removed after exec.Command
	_, errs, code := run(t, Blind(t, cmd, hidden))
	if code != 127 || !strings.Contains(errs, "testbed.Blind: exec") {
		t.Errorf("exit %d, stderr %q; want 127 and a testbed.Blind message", code, errs)
	}
}

// A setup failure inside is loud (exit 125 and a message), never a run of
// the tool with the directory visible.
func TestBlindSetupFailureIsLoud(t *testing.T) {
	hidden, _ := segmentDirs(t)
	cmd := Blind(t, exec.Command("cat", filepath.Join(hidden, "secret")), hidden)
	if err := os.RemoveAll(hidden); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, cmd)
	if code != 125 || out != "" || !strings.Contains(errs, "testbed.Blind: hide "+hidden) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 125 and a testbed.Blind message", code, out, errs)
	}
}

func TestBlindKeepsTheContext(t *testing.T) {
	hidden, _ := segmentDirs(t)
	ctx, cancel := context.WithCancel(t.Context())
	cmd := Blind(t, exec.CommandContext(ctx, "sleep", "60"), hidden)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForMount(t, cmd.Process.Pid, hidden) // the helper has made way for sleep
	start := time.Now()
	cancel()
	if err := cmd.Wait(); err == nil {
		t.Fatal("sleep 60 exited 0 after cancel")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v to stop the tool", d)
	}
}
