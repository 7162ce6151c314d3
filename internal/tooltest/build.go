// Package tooltest runs the built gpmgmt tools in integration tests as a
// DBA would: the tools and the compat GPHOME built once per test binary,
// their Greenplum log lines read back, the processes they leave found, and
// a segment host made unreachable to them through their own ssh_config.
package tooltest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// Install is where Main built the tools and the compat GPHOME.
type Install struct {
	Tools  string // gpstate, gpaddmirrors, gprecoverseg, ..., gpdemo
	GPHome string // the compat GPHOME
}

// Main builds the tools and the compat GPHOME into a temporary directory,
// hands where they are to ready, runs m and removes the directory; its
// result is the exit status for os.Exit. It refuses to run as root, which
// PostgreSQL refuses.
//
//	func TestMain(m *testing.M) { os.Exit(tooltest.Main(m, func(in tooltest.Install) { install = in })) }
func Main(m *testing.M, ready func(Install)) int {
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "FAIL: these tests must run as a non-root user such as gpadmin: PostgreSQL refuses to run as root")
		return 1
	}
	root, err := os.MkdirTemp("", "gpmgmt-tools-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(root)
	in := Install{Tools: filepath.Join(root, "bin"), GPHome: filepath.Join(root, "gphome")}
	for _, build := range []func() error{
		func() error { return testbed.BuildTools(in.Tools) },
		func() error { return testbed.BuildCompatGPHome(in.GPHome) },
	} {
		if err := build(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
	}
	ready(in)
	return m.Run()
}
