// Package segctltest answers segctl's per-host scripts for the tests of the
// tools that run them through a remotetest.Fake, reading each script's
// arguments the way the script itself does.
package segctltest

import (
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// Stop answers stop scripts: every instance stopped, except the dbids in
// fail (pg_ctl could not stop them, nor could the escalation).
func Stop(fail map[int]bool) func(remote.Command) (remotetest.Response, bool) {
	return func(c remote.Command) (remotetest.Response, bool) {
		if !strings.Contains(c.Script, "stop_one()") {
			return remotetest.Response{}, false
		}
		var b strings.Builder
		rc := 0
		for i := 4; i+3 < len(c.Args); i += 4 {
			dbid, _ := strconv.Atoi(c.Args[i])
			if fail[dbid] {
				rc = 1
				b.WriteString(segctl.Tag + " " + c.Args[i] + " failed Failed forceful termnation: rc: 1 stdout:  stderr: pg_ctl: server does not shut down.\n")
				continue
			}
			b.WriteString(segctl.Tag + " " + c.Args[i] + " stopped Shutdown Succeeded\n")
		}
		return remotetest.Response{Stdout: b.String(), ExitCode: rc}, true
	}
}

// StartArgs is one instance of a start script's arguments.
type StartArgs struct {
	DBID    int
	Port    int
	DataDir string
	Argv    []string // the pg_ctl start command line
}

// ParseStart returns the instances a start script was given; ok is false
// for any other command.
func ParseStart(c remote.Command) (insts []StartArgs, ok bool) {
	if !strings.Contains(c.Script, "start_one()") || len(c.Args) < 5 {
		return nil, false
	}
	a := c.Args[5:]
	for len(a) >= 4 {
		dbid, _ := strconv.Atoi(a[0])
		port, _ := strconv.Atoi(a[1])
		n, _ := strconv.Atoi(a[3])
		if n > len(a)-4 {
			return nil, false
		}
		insts = append(insts, StartArgs{DBID: dbid, Port: port, DataDir: a[2], Argv: a[4 : 4+n]})
		a = a[4+n:]
	}
	return insts, true
}

// Start answers start scripts: every instance started, except the dbids in
// fail, whose pg_ctl start failed.
func Start(fail map[int]bool) func(remote.Command) (remotetest.Response, bool) {
	return func(c remote.Command) (remotetest.Response, bool) {
		insts, ok := ParseStart(c)
		if !ok {
			return remotetest.Response{}, false
		}
		var b strings.Builder
		rc := 0
		for _, in := range insts {
			id := strconv.Itoa(in.DBID)
			if fail[in.DBID] {
				rc = 1
				b.WriteString(segctl.Tag + " " + id + " failed PG_CTL failed. stdout: waiting for server to start.... stopped waiting pg_ctl: could not start server\n")
				continue
			}
			b.WriteString(segctl.Tag + " " + id + " started Start Succeeded\n")
		}
		return remotetest.Response{Stdout: b.String(), ExitCode: rc}, true
	}
}
