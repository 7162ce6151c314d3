//go:build integration

package e2e

import (
	"bufio"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/gpdemo"
)

// ciJobMarker is the info string of the fenced blocks of docs/ci.md that
// make up the CI job's script.
const ciJobMarker = "```sh ci-job"

// TestCIDoc runs the job's script of docs/ci.md, word for word, against a
// demo cluster, the way the document says a CI job runs it in a Greenplum
// container: as the cluster's OS user, with Greenplum's environment and
// the tools first in PATH, no terminal and no standard input, no USER or
// LOGNAME (docker exec sets neither), and a home whose known_hosts is
// empty (a fresh container's). The script asserts on the cluster itself
// (set -e, gpstate --health, jq on gpstate --json); the test then checks
// what the document promises around it.
func TestCIDoc(t *testing.T) {
	script := ciJobScript(t, filepath.Join(testbed.RepoRoot(), "docs", "ci.md"))
	d := newDemo(t)
	home := freshHome(t)
	work := t.TempDir()
	scriptPath := filepath.Join(work, "gpmgmt-check.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out := runJob(t, d, home, work, 2*toolTimeout, "exec sh "+scriptPath)
	if code != 0 {
		t.Fatalf("docs/ci.md's script: exit %d\n%s", code, out)
	}
	t.Logf("docs/ci.md's script:\n%s", out)
	if !regexp.MustCompile(`(?m)^GPSTATE OK - `).MatchString(out) {
		t.Errorf("no GPSTATE OK line from gpstate --health:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "gpstate.json")); err != nil {
		t.Errorf("the script left no gpstate.json: %v", err)
	}
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("output without a terminal holds carriage returns or escape sequences:\n%q", out)
	}

	// With USER unset, the static tools found the user in /etc/passwd:
	// the same name as this test's os/user, which asks glibc (go test
	// -race builds with cgo).
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	logLine := regexp.MustCompile(`(?m)^\d{8}:\d\d:\d\d:\d\d:\d{6} gpstop:[^:]+:([^-]*)-\[INFO\]:-`)
	if m := logLine.FindStringSubmatch(out); m == nil || m[1] != me.Username {
		t.Errorf("gpstop's log lines name user %q, want %q:\n%s", m, me.Username, out)
	}

	// ssh-keyscan put every host of the catalog in known_hosts.
	known, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range d.catalogHosts(t) {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(h) + ` `).Match(known) {
			t.Errorf("known_hosts has no key of %s:\n%s", h, known)
		}
	}

	// What the document says of a tool run without -a: it answers no,
	// changes nothing and exits 4.
	code, out = runJob(t, d, home, work, toolTimeout, "exec gpstop")
	if code != 4 || !strings.Contains(out, "[INFO]:-User abort requested, Exiting...") {
		t.Errorf("gpstop without -a and no standard input: exit %d, want 4 and the abort line\n%s", code, out)
	}
	if code, out := runJob(t, d, home, work, toolTimeout, "exec gpstate --health"); code != 0 {
		t.Errorf("the cluster after gpstop without -a: gpstate --health exit %d\n%s", code, out)
	}

	// And of unknown host keys: the tools cannot reach those hosts, and
	// gpstate --health says so; as every instance is on one of them here,
	// no content has a usable instance: DOUBLE_FAULT, exit 2.
	if err := os.Remove(filepath.Join(home, ".ssh", "known_hosts")); err != nil {
		t.Fatal(err)
	}
	code, out = runJob(t, d, home, work, toolTimeout, "exec gpstate --health")
	if code != 2 || !strings.HasPrefix(out, "GPSTATE DOUBLE_FAULT - ") {
		t.Errorf("gpstate --health with an empty known_hosts: exit %d, want 2 and DOUBLE_FAULT\n%s", code, out)
	}
	for _, h := range d.segmentHosts(t) {
		if !strings.Contains(out, "\nUNREACHABLE: host "+h+" did not answer") {
			t.Errorf("gpstate --health with an empty known_hosts: no UNREACHABLE line for %s\n%s", h, out)
		}
	}
}

// ciJobScript returns the fenced blocks of doc marked ciJobMarker, joined
// in order; it fails t when there is none, so that the document cannot
// lose its script unnoticed.
func ciJobScript(t *testing.T, doc string) string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var script strings.Builder
	in, blocks := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == ciJobMarker:
			in = true
			blocks++
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in:
			script.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if in || blocks == 0 {
		t.Fatalf("%s: want one or more complete blocks opened by %q, found %d (unterminated: %t)", doc, ciJobMarker, blocks, in)
	}
	return script.String()
}

// freshHome returns a home directory like a fresh container's gpadmin
// has: the SSH key its hosts accept, and no known_hosts.
func freshHome(t *testing.T) string {
	t.Helper()
	real, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"id_ed25519", "id_ed25519.pub"} {
		b, err := os.ReadFile(filepath.Join(real, ".ssh", name))
		if err != nil {
			t.Fatalf("the test user's SSH key (scripts/setup-test-host.sh makes it): %v", err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// runJob runs command with sh in dir the way docs/ci.md's docker exec
// line does: an environment of HOME and PATH only, then Greenplum's (the
// demo's environment file standing for greenplum_path.sh and the
// exports), the tools first in PATH; no standard input, output to a pipe;
// killed after timeout. It returns the exit code and the output.
func runJob(t *testing.T, d demo, home, dir string, timeout time.Duration, line string) (int, string) {
	t.Helper()
	cmd, cancel := command(timeout, "sh", "-c", `. "$1" && export PATH="$2:$PATH" && `+line, "sh",
		gpdemo.EnvFilePath(d.dir), toolsDir)
	defer cancel()
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin"}
	return tooltest.Run(t, cmd)
}

// catalogHosts returns the host names of the demo's catalog.
func (d demo) catalogHosts(t *testing.T) []string {
	return d.hostsWhere(t, "true")
}

// segmentHosts returns the host names of the demo's segments and standby:
// every host but the coordinator's.
func (d demo) segmentHosts(t *testing.T) []string {
	return d.hostsWhere(t, "NOT (content = -1 AND role = 'p')")
}

// hostsWhere returns the host names of the demo's catalog rows that match
// cond (SQL), sorted.
func (d demo) hostsWhere(t *testing.T, cond string) []string {
	t.Helper()
	cmd, cancel := command(time.Minute, "sh", "-c", `. "$1" && psql -d template1 -Atc "$2"`, "sh", gpdemo.EnvFilePath(d.dir),
		"SELECT DISTINCT hostname FROM gp_segment_configuration WHERE "+cond+" ORDER BY 1")
	defer cancel()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("psql: %v", err)
	}
	return strings.Fields(string(out))
}
