package remote

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ReachTimeout bounds the reachability check of one host.
const ReachTimeout = 30 * time.Second

// ReachCommand asks host to echo its name, Greenplum's reachability check
// (spec §1.8).
func ReachCommand(host string) Command {
	return Command{Host: host, Argv: []string{"echo", host}, Label: "check " + host + " is up", Timeout: ReachTimeout}
}

// Reach runs ReachCommand for every host through runner and returns the
// hosts that did not answer, each with the reason: a host is reachable
// when the command exits 0 and its last line of output is the host's name.
func Reach(ctx context.Context, runner Runner, hosts []string) map[string]error {
	cmds := make([]Command, len(hosts))
	for i, h := range hosts {
		cmds[i] = ReachCommand(h)
	}
	down := map[string]error{}
	for _, r := range runner.Run(ctx, cmds) {
		h := r.Command.Host
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		switch {
		case r.Err != nil:
			down[h] = r.Err
		case lines[len(lines)-1] != h:
			down[h] = fmt.Errorf("%s answered %q instead of its name", h, strings.TrimSpace(r.Stdout))
		}
	}
	return down
}
