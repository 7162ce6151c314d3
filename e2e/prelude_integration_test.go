//go:build integration

// Package e2e runs the built tools as a DBA would, against a gpdemo cluster
// over real SSH, with every segment data directory hidden from them
// (testbed.Blind): whatever a tool learns of a segment, it learns over SSH
// or SQL.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// Built once by TestMain.
var (
	toolsDir string // gpstate, gpaddmirrors, ..., gpdemo
	gphome   string // the compat GPHOME
)

func TestMain(m *testing.M) {
	os.Exit(tooltest.Main(m, func(in tooltest.Install) { toolsDir, gphome = in.Tools, in.GPHome }))
}

// demo is a gpdemo cluster made for one test.
type demo struct {
	dir     string
	coord   string   // coordinator data directory
	hidden  []string // every segment host's and the standby's directories
	primary int      // number of primaries
}

// newDemo creates a cluster on the test's slot: 2 hosts with 1 primary
// each, and a standby; it is destroyed when the test ends.
func newDemo(t *testing.T) demo {
	t.Helper()
	slot := testbed.AcquireSlot(t)
	d := demo{dir: filepath.Join(t.TempDir(), "cluster"), primary: 2}
	d.coord = filepath.Join(d.dir, "coordinator", "gpseg-1")
	run(t, "gpdemo", "create", "--dir", d.dir, "--gphome", gphome, "--hosts", "2", "--primaries-per-host", "1",
		"--standby", "--host-names", strings.Join(slot.Hosts[:3], ","), "--port-base", strconv.Itoa(slot.PortBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", d.dir) })
	for _, h := range slot.Hosts[:2] {
		d.hidden = append(d.hidden, filepath.Join(d.dir, h))
	}
	d.hidden = append(d.hidden, filepath.Join(d.dir, "standby"))
	return d
}

// toolTimeout bounds one run of a tool in these tests: a tool that hangs
// fails its test instead of holding the suite until go test's timeout.
const toolTimeout = 5 * time.Minute

// command is exec.Command killed after d, its output pipes closed at most
// 5 s after it is killed (a daemon it started may hold them). It does not
// derive from t.Context(), which is cancelled before the cleanups that
// destroy clusters run; the caller calls cancel when the command is done.
func command(d time.Duration, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd, cancel
}

// run runs a built tool and fails t unless it exits 0.
func run(t testing.TB, tool string, args ...string) {
	t.Helper()
	args = append(args, "-l", t.TempDir())
	cmd, cancel := command(toolTimeout, filepath.Join(toolsDir, tool), args...)
	defer cancel()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// blind runs a built tool with the cluster's environment, the segment
// directories hidden, and returns its exit code and output.
func (d demo) blind(t *testing.T, tool string, args ...string) (int, string) {
	t.Helper()
	return d.blindEnv(t, nil, tool, args...)
}

// blindEnv is blind with extra environment variables (NAME=value).
func (d demo) blindEnv(t *testing.T, env []string, tool string, args ...string) (int, string) {
	t.Helper()
	cmd, cancel := d.blindCmd(t, tool, args...)
	defer cancel()
	cmd.Env = append(cmd.Env, env...)
	return tooltest.Run(t, cmd)
}

// blindCmd is the command of a built tool with the cluster's environment,
// the segment directories hidden, bounded by toolTimeout; the caller
// calls cancel when it is done.
func (d demo) blindCmd(t testing.TB, tool string, args ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	c, cancel := command(toolTimeout, filepath.Join(toolsDir, tool), append(args, "-l", t.TempDir())...)
	cmd := testbed.Blind(t, c, d.hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY=")
	return cmd, cancel
}

// messages strips Greenplum's line prefix, leaving "[LEVEL]:-message".
func messages(out string) []string { return tooltest.Messages(out) }

// wantInOrder fails t unless every pattern matches a message, in order.
func wantInOrder(t *testing.T, out string, patterns ...string) {
	t.Helper()
	tooltest.WantInOrder(t, out, patterns...)
}

// TestPreludeOnDemoCluster runs the tools that read the catalog and do
// gpstate's and gprecoverseg's prelude against a running cluster: the
// versions and catalog load of spec §1.5-1.7, in utility mode (gpstate,
// which then reports) and dispatch mode (gprecoverseg, which on this
// mirrorless cluster stops where Greenplum's does, exit 2). A stopped coordinator is
// reported as Greenplum words it.
func TestPreludeOnDemoCluster(t *testing.T) {
	d := newDemo(t)
	prelude := func(tool string) []string {
		return []string{
			`^\[INFO\]:-Starting ` + tool + ` with args: -v -l `,
			`^\[INFO\]:-local Greenplum Version: 'postgres \(Greenplum Database\) 7\.1\.0-compat build dev'$`,
			`^\[DEBUG\]:-Read from postgresql.conf port=\d+$`,
			`^\[INFO\]:-coordinator Greenplum Version: 'PostgreSQL 15\.`,
			`^\[INFO\]:-Obtaining Segment details from coordinator\.\.\.$`,
			`^\[DEBUG\]:-Validating configuration\.\.\.$`,
		}
	}
	t.Run("gpstate", func(t *testing.T) {
		code, out := d.blind(t, "gpstate", "-v")
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		wantInOrder(t, out, append(prelude("gpstate"), `^\[INFO\]:-Gathering data from segments\.\.\.$`,
			`^\[INFO\]:-   Total segment instance count from metadata += `+strconv.Itoa(d.primary)+`$`)...)
	})
	t.Run("gprecoverseg", func(t *testing.T) {
		code, out := d.blind(t, "gprecoverseg", "-v")
		if code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
		wantInOrder(t, out, append(prelude("gprecoverseg"),
			`^\[ERROR\]:-gprecoverseg error: GPDB Mirroring replication is not configured for this Greenplum Database instance\.$`)...)
	})

	t.Run("stopped coordinator", func(t *testing.T) {
		pgctl, cancel := command(2*time.Minute, filepath.Join(gphome, "bin", "pg_ctl"), "-D", d.coord, "-m", "fast", "-w", "stop")
		defer cancel()
		if out, err := pgctl.CombinedOutput(); err != nil {
			t.Fatalf("stop the coordinator: %v\n%s", err, out)
		}
		code, out := d.blind(t, "gpstate")
		if code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
		wantInOrder(t, out,
			`^\[ERROR\]:-gpstate error: Greenplum database appears to be stopped$`,
			`^\[ERROR\]:-Hint: no postmaster.pid in .*: start the cluster with gpstart$`,
		)
	})
}
