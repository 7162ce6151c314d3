package segctl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Status is the outcome of one instance.
type Status string

// The statuses a result line carries.
const (
	Stopped  Status = "stopped"
	Reloaded Status = "reloaded"
	Started  Status = "started"
	Failed   Status = "failed"
)

// Stop says how to stop instances: pg_ctl's -m mode and -t timeout, and how
// many instances of one host run at once (-b).
type Stop struct {
	GPHome  string
	Mode    string // smart, fast or immediate
	Timeout int    // seconds
	Batch   int    // instances of one host in parallel
}

// Instance is one instance to act on; PIDs, when set, are the postgres
// processes to kill -9 at the end instead of those found by the script.
type Instance struct {
	Segment cluster.Segment
	PIDs    []int
}

// HostPlan is the one command that does every listed instance of a host.
type HostPlan struct {
	Command   remote.Command
	Instances []Instance
}

// byHost groups instances by host, hosts sorted, each host's instances in
// the order given.
func byHost(insts []Instance) [][]Instance {
	var hosts []string
	m := map[string][]Instance{}
	for _, in := range insts {
		h := in.Segment.Hostname
		if _, ok := m[h]; !ok {
			hosts = append(hosts, h)
		}
		m[h] = append(m[h], in)
	}
	slices.Sort(hosts)
	out := make([][]Instance, len(hosts))
	for i, h := range hosts {
		out[i] = m[h]
	}
	return out
}

func batch(n int) int { return max(n, 1) }

// Bounds of a host's script beyond its instances' own pg_ctl -t: the
// checks, pid files and gpsegstop's escalation (SIGTERM and SIGINT waits of
// 3 s, then SIGQUIT and kill -9) of each round of -b instances, and the
// session itself. A reload has no pg_ctl wait.
const (
	roundSlack  = 30 * time.Second
	scriptSlack = time.Minute
	reloadBound = 2 * time.Minute
	pidsBound   = time.Minute
)

// PlanTimeout bounds one host's script for n instances, each allowed
// timeout seconds, run b at a time: timeout × ceil(n/b), plus slack per
// round and for the script. A host that hangs is reported, never waited
// for (review finding 1).
func PlanTimeout(timeout, n, b int) time.Duration {
	rounds := (n + batch(b) - 1) / batch(b)
	return time.Duration(rounds)*(time.Duration(timeout)*time.Second+roundSlack) + scriptSlack
}

// PlanStop returns one command per host stopping that host's instances
// (pure).
func PlanStop(s Stop, insts []Instance) []HostPlan {
	var plans []HostPlan
	for _, group := range byHost(insts) {
		args := []string{s.GPHome, s.Mode, strconv.Itoa(s.Timeout), strconv.Itoa(batch(s.Batch))}
		for _, in := range group {
			g := in.Segment
			args = append(args, strconv.Itoa(g.DBID), strconv.Itoa(g.Port), g.DataDir, joinPIDs(in.PIDs))
		}
		plans = append(plans, HostPlan{
			Command: remote.Command{Host: group[0].Segment.Hostname, Script: stopScript, Args: args,
				Label:   fmt.Sprintf("stop %d instance(s) on %s", len(group), group[0].Segment.Hostname),
				Timeout: PlanTimeout(s.Timeout, len(group), s.Batch)},
			Instances: group,
		})
	}
	return plans
}

// PlanReload returns one command per host reloading the configuration of
// that host's instances (pure).
func PlanReload(gphome string, batchSize int, segs []cluster.Segment) []HostPlan {
	insts := make([]Instance, len(segs))
	for i, s := range segs {
		insts[i] = Instance{Segment: s}
	}
	var plans []HostPlan
	for _, group := range byHost(insts) {
		args := []string{gphome, strconv.Itoa(batch(batchSize))}
		for _, in := range group {
			args = append(args, strconv.Itoa(in.Segment.DBID), in.Segment.DataDir)
		}
		plans = append(plans, HostPlan{
			Command: remote.Command{Host: group[0].Segment.Hostname, Script: reloadScript, Args: args,
				Label:   fmt.Sprintf("reload %d instance(s) on %s", len(group), group[0].Segment.Hostname),
				Timeout: reloadBound},
			Instances: group,
		})
	}
	return plans
}

// PIDsCommand lists the postgres processes of the instance in dataDir on
// host: its postmaster and the postmaster's children.
func PIDsCommand(host, dataDir string) remote.Command {
	return remote.Command{Host: host, Script: pidsScript, Args: []string{dataDir}, Label: "list postgres processes of " + dataDir, Timeout: pidsBound}
}

// ParsePIDs reads PIDsCommand's output.
func ParsePIDs(stdout string) ([]int, error) {
	var pids []int
	for _, f := range strings.Fields(stdout) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad pid %q in %q", f, stdout)
		}
		pids = append(pids, n)
	}
	return pids, nil
}

func joinPIDs(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, " ")
}

// Line is one parsed result line.
type Line struct {
	DBID   int
	Status Status
	Reason string
}

// ParseLine parses "segctl-result <dbid> <status> <reason>"; ok is false
// for any other line.
func ParseLine(s string) (Line, bool) {
	rest, ok := strings.CutPrefix(s, Tag+" ")
	if !ok {
		return Line{}, false
	}
	id, rest, _ := strings.Cut(rest, " ")
	dbid, err := strconv.Atoi(id)
	if err != nil || dbid < 0 || strconv.Itoa(dbid) != id {
		return Line{}, false
	}
	st, reason, _ := strings.Cut(rest, " ")
	switch Status(st) {
	case Stopped, Reloaded, Started, Failed:
	default:
		return Line{}, false
	}
	return Line{DBID: dbid, Status: Status(st), Reason: strings.TrimRight(reason, " ")}, true
}

// Parse returns the result lines of a script's stdout, by dbid; other lines
// are ignored.
func Parse(stdout string) map[int]Line {
	out := map[int]Line{}
	for _, l := range strings.Split(stdout, "\n") {
		if r, ok := ParseLine(l); ok {
			out[r.DBID] = r
		}
	}
	return out
}

// Outcome is what happened to one instance.
type Outcome struct {
	Segment cluster.Segment
	Status  Status
	Reason  string
	// HostErr is set when the host's command gave no line for this
	// instance (unreachable host, script failure): its error.
	HostErr error
}

// OK reports whether the instance stopped, reloaded or started.
func (o Outcome) OK() bool { return o.Status != Failed }

// Run runs plans with runner (-B hosts at once) and returns one Outcome
// per instance, in plan order.
func Run(ctx context.Context, runner remote.Runner, plans []HostPlan) []Outcome {
	cmds := make([]remote.Command, len(plans))
	for i, p := range plans {
		cmds[i] = p.Command
	}
	return Collect(plans, runner.Run(ctx, cmds))
}

// hostReason says why a host's command gave no result: the host could
// not be reached (the command never ran), the script did not finish (its
// timeout or an interrupt killed it), or it failed.
func hostReason(host string, r remote.Result) string {
	cause := r.Err
	var he *remote.HostError
	if errors.As(cause, &he) && he.Err != nil {
		cause = he.Err
	}
	switch {
	case remote.Unreachable(r):
		return fmt.Sprintf("host %s is unreachable: %v", host, cause)
	case r.ExitCode == -1:
		return fmt.Sprintf("on host %s, the script did not finish: %v", host, cause)
	}
	return fmt.Sprintf("on host %s: %v", host, cause)
}

// Collect matches results (index-aligned with plans) to instances.
func Collect(plans []HostPlan, results []remote.Result) []Outcome {
	var out []Outcome
	for i, p := range plans {
		r := results[i]
		lines := Parse(r.Stdout)
		for _, in := range p.Instances {
			l, ok := lines[in.Segment.DBID]
			switch {
			case ok:
				out = append(out, Outcome{Segment: in.Segment, Status: l.Status, Reason: l.Reason})
			case r.Err != nil:
				out = append(out, Outcome{Segment: in.Segment, Status: Failed, Reason: hostReason(p.Command.Host, r), HostErr: r.Err})
			default:
				out = append(out, Outcome{Segment: in.Segment, Status: Failed, Reason: "no result line from " + p.Command.Host})
			}
		}
	}
	return out
}
