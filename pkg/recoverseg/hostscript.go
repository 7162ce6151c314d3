package recoverseg

import (
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// hostScript gathers the arguments of one read-only script per host: the
// plan's and the rebalance's small questions ("how big is this
// directory", "is this WAL segment there", "does this postmaster run"),
// asked of every instance of a host in one command.
type hostScript struct {
	script, label string
	lead          []string // the arguments before the per-instance ones
	hosts         []string // in the order first named
	args          map[string][]string
}

// add appends one instance's arguments to host's command.
func (h *hostScript) add(host string, args ...string) {
	if h.args == nil {
		h.args = map[string][]string{}
	}
	if _, seen := h.args[host]; !seen {
		h.hosts = append(h.hosts, host)
		h.args[host] = append([]string(nil), h.lead...)
	}
	h.args[host] = append(h.args[host], args...)
}

// commands are the per-host commands, planTimeout each.
func (h *hostScript) commands() []remote.Command {
	cmds := make([]remote.Command, 0, len(h.hosts))
	for _, host := range h.hosts {
		cmds = append(cmds, remote.Command{Host: host, Script: h.script, Args: h.args[host], Label: h.label + " on " + host, Timeout: planTimeout})
	}
	return cmds
}

// answers calls fn for each line "<tag> <dbid> <value>" the scripts
// printed; other lines are ignored.
func answers(results []remote.Result, tag string, fn func(dbid int, value string)) {
	for _, res := range results {
		for _, line := range strings.Split(res.Stdout, "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != tag {
				continue
			}
			if dbid, err := strconv.Atoi(f[1]); err == nil {
				fn(dbid, f[2])
			}
		}
	}
}
