//go:build integration

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// readmeMarker is the line above the README's block of post-demo commands.
const readmeMarker = "<!-- e2e/readme_integration_test.go runs this block as it is, as gpadmin -->"

// readmeCommands returns the README's post-demo commands: the sh block
// after readmeMarker, as it is.
func readmeCommands(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)" + regexp.QuoteMeta(readmeMarker) + "\n```sh\n(.*?)```\n").FindSubmatch(b)
	if m == nil {
		t.Fatalf("README.md has no ```sh block right after %q", readmeMarker)
	}
	return string(m[1])
}

// wantReadmeCommandsWork runs the README's post-demo commands literally,
// as gpadmin (these tests' user) in a directory whose demo-cluster is d,
// with the environment of a fresh login: none of the cluster's variables,
// and a PATH without the tools, which only the env file gives. Every
// command must exit 0 (bash -e, pipefail); gpstate must be found in the
// directory of the built tools, beside the gpdemo that made d, whatever
// else PATH holds (a make install in /usr/local/bin, say). d must be
// healthy and running, and is again afterwards (the block ends with
// gpstop -a and gpstart -a).
func wantReadmeCommandsWork(t *testing.T, d demo) {
	t.Helper()
	top := t.TempDir()
	if err := os.Symlink(d.dir, filepath.Join(top, "demo-cluster")); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GPHOME", "COORDINATOR_DATA_DIRECTORY", "MASTER_DATA_DIRECTORY", "PGPORT", "PGHOST", "PGDATABASE", "PATH":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	sh := func(script string) string {
		t.Helper()
		cmd, cancel := command(toolTimeout, "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-x", "-c", script)
		defer cancel()
		cmd.Dir, cmd.Env = top, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return out.String()
	}
	start := time.Now()
	out := sh(readmeCommands(t))
	t.Logf("README's commands took %s", time.Since(start).Round(time.Second))
	for _, want := range []string{"GPSTATE OK - ", `"verdict": "OK"`, "Database successfully started"} {
		if !strings.Contains(out, want) {
			t.Errorf("the README's commands' output lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.TrimSpace(sh("source demo-cluster/gpdemo_env.sh >/dev/null; command -v gpstate")), filepath.Join(toolsDir, "gpstate"); !strings.HasSuffix(got, "\n"+want) && got != want {
		t.Errorf("after sourcing the env file, gpstate is %q, want %s", got, want)
	}
}
