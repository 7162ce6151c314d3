//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// TestGpstateSSHReasons: for each way the SSH connection to a segment
// host fails (changed host key, unknown host key, a key sshd does not
// accept, a refused port, a listener that never speaks SSH, a session
// whose sshd stops answering mid-run), gpstate names the reason: on screen
// and in the log file at WARNING after Greenplum's "Error getting status
// from host" line, in --json's observed.error, and on --health's
// UNREACHABLE line. When the host answers but turns us away (a key
// problem or a refused user key), gpstop stops nothing and says why.
func TestGpstateSSHReasons(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	host := slot.Hosts[0]
	dir := filepath.Join(t.TempDir(), "cluster")
	run(t, "gpdemo", "create", "--dir", dir, "--gphome", gphome, "--hosts", "1", "--primaries-per-host", "1",
		"--host-names", host, "--port-base", strconv.Itoa(slot.PortBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", dir) })
	coord := filepath.Join(dir, "coordinator", "gpseg-1")
	hidden := []string{filepath.Join(dir, host)}

	real, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	realKnown := filepath.Join(real, ".ssh", "known_hosts")
	// A GPHOME whose greenplum_path.sh, sourced before every remote
	// command, waits: time to stop the sshd serving the command.
	slow := slowGPHome(t, 4)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	silent := silentPort(t)

	tests := []struct {
		name   string
		config func(home string) string // the ssh_config after "Host *" defaults
		gphome string
		stall  bool
		want   []string
	}{
		{"changed key", func(home string) string {
			kh := writeKnownHosts(t, home, host+" "+newHostKey(t)+"\n")
			return "UserKnownHostsFile " + kh
		}, gphome, false, []string{"HOST KEY CHANGED for " + host, "possible man-in-the-middle attack", "known_hosts:1", "ssh-keygen -R " + host + " -f "}},
		{"unknown key", func(home string) string {
			return "UserKnownHostsFile " + writeKnownHosts(t, home, "")
		}, gphome, false, []string{"host key for " + host + " (", "is not in known_hosts", "add it with: ssh-keyscan -p 22 -t ed25519 " + host + " >> "}},
		{"key sshd does not accept", func(home string) string {
			return "UserKnownHostsFile " + realKnown + "\n  IdentityFile " + strangerKey(t, home)
		}, gphome, false, []string{"ssh to " + host + " (", "authentication failed: the server refused every key offered for user"}},
		{"refused port", func(string) string {
			return "UserKnownHostsFile " + realKnown + "\nHost " + host + "\n  HostName 127.0.0.1\n  Port " + closedPort
		}, gphome, false, []string{"connection refused: nothing listens on port " + closedPort}},
		{"silent listener", func(string) string {
			return "UserKnownHostsFile " + realKnown + "\nHost " + host + "\n  HostName 127.0.0.1\n  Port " + silent
		}, gphome, false, []string{"timeout: the server accepted the TCP connection but did not complete the SSH handshake within 2s"}},
		{"stalled session", func(string) string {
			return "UserKnownHostsFile " + realKnown
		}, slow, true, []string{"connection lost: the host stopped answering: nothing received for 2s although keepalives were sent (ServerAliveInterval 1s, ServerAliveCountMax 2)"}},
	}
	turnsAway := map[string]bool{"changed key": true, "unknown key": true, "key sshd does not accept": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
				t.Fatal(err)
			}
			cfg := "Host *\n  GlobalKnownHostsFile none\n  ConnectTimeout 2\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n  " + tt.config(home) + "\n"
			if !strings.Contains(cfg, "IdentityFile") {
				cfg += "Host *\n  IdentityFile " + filepath.Join(real, ".ssh", "id_ed25519") + "\n"
			}
			if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"HOME=" + home, "GPHOME=" + tt.gphome, "COORDINATOR_DATA_DIRECTORY=" + coord, "MASTER_DATA_DIRECTORY=", "SSH_AUTH_SOCK="}
			seen := map[int]bool{}
			gpstate := func(args ...string) (int, string, string) {
				t.Helper()
				if tt.stall {
					resume := stopSSHDServing(t, slow, seen)
					defer resume()
				}
				return runLogged(t, env, hidden, "gpstate", args...)
			}

			code, out, log := gpstate()
			greenplum := "[WARNING]:-Error getting status from host " + host + "\n"
			for where, text := range map[string]string{"screen": out, "log file": log} {
				i := strings.Index(text, greenplum)
				if code != 0 || i < 0 {
					t.Fatalf("%s: exit %d, no %q:\n%s", where, code, greenplum, text)
				}
				next, _, _ := strings.Cut(text[i+len(greenplum):], "\n")
				if !strings.Contains(next, "[WARNING]:-") {
					t.Errorf("%s: the line after Greenplum's is not a WARNING: %q", where, next)
				}
				for _, w := range tt.want {
					if !strings.Contains(next, w) {
						t.Errorf("%s: the reason line lacks %q: %q", where, w, next)
					}
				}
			}

			code, out, _ = gpstate("--json")
			var doc struct {
				Segments []struct {
					Hostname string `json:"hostname"`
					Observed struct {
						Error *string `json:"error"`
					} `json:"observed"`
				} `json:"segments"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || len(doc.Segments) == 0 {
				t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
			}
			for _, s := range doc.Segments {
				e := s.Observed.Error
				if e == nil || !strings.HasPrefix(*e, "Error getting status from host "+host+": ") || !containsAll(*e, tt.want) {
					t.Errorf("--json: observed.error of a segment on %s: %v", s.Hostname, e)
				}
			}

			code, out, _ = gpstate("--health")
			unreachable := "\nUNREACHABLE: host " + host + " did not answer ("
			i := strings.Index(out, unreachable)
			if code != 2 || i < 0 || !containsAll(strings.SplitN(out[i+1:], "\n", 2)[0], tt.want) {
				t.Errorf("--health: exit %d, want 2 and the reason on the UNREACHABLE line:\n%s", code, out)
			}

			// A host that turns us away stops gpstop before it stops
			// anything: no half-stopped cluster.
			if turnsAway[tt.name] {
				code, out, log := runLogged(t, env, hidden, "gpstop", "-a", "-M", "fast")
				refusal := "nothing was stopped: the segments on ['" + host + "'] could not be stopped"
				for where, text := range map[string]string{"screen": out, "log file": log} {
					if code != 2 || !strings.Contains(text, refusal) || !containsAll(text, tt.want) {
						t.Errorf("gpstop, %s: exit %d, want 2, %q and the reason:\n%s", where, code, refusal, text)
					}
				}
				if _, err := os.Stat(filepath.Join(coord, "postmaster.pid")); err != nil {
					t.Fatalf("gpstop stopped the coordinator although %s turned it away: %v", host, err)
				}
			}
		})
	}
}

// runLogged runs a built tool blind with env, logging to a directory of its
// own, and returns its exit code, output and log file.
func runLogged(t *testing.T, env, hidden []string, tool string, args ...string) (int, string, string) {
	t.Helper()
	logDir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := testbed.Blind(t, exec.CommandContext(ctx, filepath.Join(toolsDir, tool), append(args, "-l", logDir)...), hidden...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v\n%s", tool, err, out.String())
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, tool+"_*.log"))
	var log []byte
	if len(logs) == 1 {
		log, _ = os.ReadFile(logs[0])
	}
	return code, out.String(), string(log)
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func newHostKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func writeKnownHosts(t *testing.T, home, text string) string {
	t.Helper()
	p := filepath.Join(home, ".ssh", "known_hosts")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// strangerKey writes a private key no sshd authorizes and returns its path.
func strangerKey(t *testing.T, home string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(home, ".ssh", "id_stranger")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// silentPort listens on loopback, accepts and never speaks.
func silentPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// slowGPHome is the compat GPHOME seen through a directory of links whose
// greenplum_path.sh sleeps for the given seconds after its usual work.
func slowGPHome(t *testing.T, seconds int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "slow-gphome")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(gphome)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "greenplum_path.sh" {
			if err := os.Symlink(filepath.Join(gphome, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	env, err := os.ReadFile(filepath.Join(gphome, "greenplum_path.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "greenplum_path.sh"), append(env, fmt.Sprintf("\nsleep %d\n", seconds)...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stopSSHDServing starts watching for the remote command that sources
// gphome's greenplum_path.sh, and stops (SIGSTOP) the sshd process that
// serves it, the first sshd above it that is not in seen. resume lets it
// go on (SIGCONT) and adds it to seen.
func stopSSHDServing(t *testing.T, gphome string, seen map[int]bool) (resume func()) {
	t.Helper()
	marker := filepath.Join(gphome, "greenplum_path.sh")
	stopped := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(stopped)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				return
			default:
			}
			if pid := sshdAbove(marker, seen); pid > 0 {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err == nil {
					stopped <- pid
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() {
		close(done)
		if pid, ok := <-stopped; ok {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			seen[pid] = true
		}
	}
}

// sshdAbove finds a process whose command line holds marker and returns
// the pid of the first sshd among its ancestors, if it is not in seen; or 0.
func sshdAbove(marker string, seen map[int]bool) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		for i := 0; i < 10 && pid > 1; i++ {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				break
			}
			s := string(stat)
			open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
			if open < 0 || closing < open {
				break
			}
			if s[open+1:closing] == "sshd" {
				if seen[pid] {
					break
				}
				return pid
			}
			fields := strings.Fields(s[closing+1:])
			if len(fields) < 2 {
				break
			}
			pid, _ = strconv.Atoi(fields[1])
		}
	}
	return 0
}
