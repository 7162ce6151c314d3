package remote

import (
	"context"
	"errors"
	"slices"
)

// HostExecutor is an Executor that reaches other hosts and holds their
// connections: SSHExecutor, and the fakes of other packages' tests. Every
// tool that works on segment hosts opens one (app.Env.NewSSH), checks the
// hosts' keys before changing anything, and closes it when done.
type HostExecutor interface {
	Executor
	// CheckHostKeys reports every host whose key is unknown or changed,
	// with the command that fixes it, before anything runs there.
	CheckHostKeys(ctx context.Context, hosts []string) error
	Close() error
}

// Router runs each command on the right executor: Local for the hosts in
// LocalHosts (the coordinator's host, which the tools reach without SSH, as
// Greenplum's do for the coordinator's own files), Remote for every other
// host. A command for another host with no Remote fails; it never runs
// locally by mistake.
type Router struct {
	Local, Remote Executor
	LocalHosts    []string
}

// errNoRemote is the cause of a command for a remote host routed without a
// remote executor.
var errNoRemote = errors.New("no executor for remote hosts (SSH was not set up)")

// Exec runs c through Local or Remote; see Router.
func (r Router) Exec(ctx context.Context, c Command) Result {
	if slices.Contains(r.LocalHosts, c.Host) {
		return r.Local.Exec(ctx, c)
	}
	if r.Remote == nil {
		return Result{Command: c, ExitCode: -1, Err: failure(c, -1, "", errNoRemote)}
	}
	return r.Remote.Exec(ctx, c)
}
