package gpdemo

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Step is one named step of gpdemo create or destroy: commands, at most one
// per host, run in parallel, or catalog statements run in one transaction
// on the coordinator in a utility session. A step runs only when the one
// before it succeeded.
type Step struct {
	Name       string
	Commands   []remote.Command
	Statements []cluster.Statement
}

// Timeouts of the commands gpdemo runs.
const (
	createTimeout = 5 * time.Minute // initdb, pg_basebackup
	startTimeout  = 3 * time.Minute // pg_ctl -w -t 120, plus slack
	stopTimeout   = 2 * time.Minute // pg_ctl stop -t 60, then immediate -t 30
	checkTimeout  = 30 * time.Second
)

// CreateSteps returns the steps that build p, in order: create every
// instance but the standby; start the primaries; start the coordinator in
// utility mode; load the gp_compat catalog everywhere; register the
// coordinator and primaries; restart the coordinator in dispatch mode; with
// a standby, copy it from the coordinator, register it and start it.
func CreateSteps(p Plan) []Step {
	coord := p.Coordinator()
	notStandby := func(in Instance) bool { return !in.IsStandby() && !isMirror(in) }
	segments := isPrimary
	steps := []Step{
		{Name: "create instances", Commands: withCreatePIDFiles(p, perHost(p, notStandby, initScript, "create", createTimeout,
			[]string{p.GPHome}, func(in Instance) []string {
				return []string{strconv.Itoa(in.DBID), strconv.Itoa(in.ContentID), strconv.Itoa(in.Port), in.DataDir, strings.Join(in.Listen, ",")}
			}))},
		{Name: "start primaries", Commands: perHost(p, segments, startScript, "start", startTimeout,
			[]string{p.GPHome, "execute"}, dbidDir)},
		{Name: "start coordinator in utility mode", Commands: perHost(p, Instance.IsCoordinator, startScript, "start", startTimeout,
			[]string{p.GPHome, "utility"}, dbidDir)},
		{Name: "load the gp_compat catalog", Commands: perHost(p, notStandby, catalogScript, "load catalog", startTimeout,
			[]string{p.GPHome}, func(in Instance) []string { return []string{strconv.Itoa(in.DBID), strconv.Itoa(in.Port)} })},
		{Name: "register coordinator and primaries", Statements: registerStatements(p)},
		{Name: "restart coordinator in dispatch mode", Commands: []remote.Command{{
			Host: coord.Hostname, Script: restartScript, Timeout: 2 * startTimeout,
			Args:  []string{p.GPHome, strconv.Itoa(coord.DBID), coord.DataDir},
			Label: "restart " + coord.Label(),
		}}},
	}
	s, ok := p.Standby()
	if !ok {
		return steps
	}
	return append(steps,
		Step{Name: "copy the standby from the coordinator", Commands: []remote.Command{{
			Host: s.Hostname, Script: standbyScript, Timeout: createTimeout,
			Args: []string{p.GPHome, strconv.Itoa(s.DBID), s.DataDir, strconv.Itoa(s.Port), strings.Join(s.Listen, ","),
				coord.Hostname, strconv.Itoa(coord.Port)},
			Label: "pg_basebackup " + s.Label(),
		}}},
		Step{Name: "register the standby", Statements: []cluster.Statement{{
			SQL:  addStandbySQL,
			Args: []any{s.Hostname, s.Address, s.DataDir, s.Port},
			Want: s.DBID,
		}}},
		Step{Name: "start the standby", Commands: perHost(p, Instance.IsStandby, startScript, "start", startTimeout,
			[]string{p.GPHome, "dispatch"}, dbidDir)},
	)
}

// addStandbySQL registers the standby as Greenplum 7's gpinitstandby does;
// it returns the new dbid (the highest).
const addStandbySQL = "SELECT gp_add_master_standby($1, $2, $3, $4)"

// registerStatements registers the coordinator and the primaries with
// their planned dbids, as gpinitsystem does.
func registerStatements(p Plan) []cluster.Statement {
	var stmts []cluster.Statement
	for _, in := range p.Instances {
		if in.IsStandby() || isMirror(in) {
			continue
		}
		s := in.Segment
		stmts = append(stmts, cluster.Statement{
			SQL:  cluster.AddSegmentSQL,
			Args: []any{s.DBID, s.ContentID, s.Role, s.PreferredRole, s.Mode, s.Status, s.Port, s.Hostname, s.Address, s.DataDir},
			Want: s.DBID,
		})
	}
	return stmts
}

// TeardownSteps returns the steps that stop every instance of p and remove
// what gpdemo created on each host: stop (mode fast for destroy, with an
// immediate stop after a failure or timeout; immediate for a rollback),
// then remove the data directories and the directories around them.
func TeardownSteps(p Plan, mode string) []Step {
	var remove []remote.Command
	for _, h := range p.Hosts() {
		var ins []Instance
		for _, in := range p.OnHost(h) {
			if !in.KeepDir {
				ins = append(ins, in)
			}
		}
		args := []string{strconv.Itoa(len(ins))}
		var made []string
		for _, in := range ins {
			args = append(args, in.DataDir)
			made = append(made, madeDirs(p.Dir, in.DataDir)...)
		}
		slices.SortFunc(made, func(a, b string) int {
			return cmp.Or(strings.Count(b, "/")-strings.Count(a, "/"), strings.Compare(a, b))
		})
		remove = append(remove, remote.Command{
			Host: h, Script: removeScript, Args: append(args, slices.Compact(made)...),
			Label: "remove data directories", Timeout: stopTimeout,
		})
	}
	return []Step{
		{Name: "stop instances", Commands: perHost(p, func(Instance) bool { return true }, stopScript, "stop", stopTimeout,
			[]string{p.GPHome, mode}, dbidDir)},
		{Name: "remove data directories", Commands: remove},
	}
}

// madeDirs returns the directories between dir and dataDir that gpdemo
// creates (DIR/sdw1/primary, DIR/sdw1), deepest first.
func madeDirs(dir, dataDir string) []string {
	var out []string
	for d := filepath.Dir(dataDir); d != dir && strings.HasPrefix(d, dir+"/"); d = filepath.Dir(d) {
		out = append(out, d)
	}
	return out
}

// PreflightCommands returns one command per host reached over SSH that
// checks the GPHOME programs are there (and, by running at all, that the
// host accepts us).
func PreflightCommands(p Plan) []remote.Command {
	var cmds []remote.Command
	for _, h := range p.RemoteHosts() {
		cmds = append(cmds, remote.Command{Host: h, Script: checkScript, Args: []string{p.GPHome},
			Label: "check GPHOME", Timeout: checkTimeout})
	}
	return cmds
}

// CreatePIDFile is where the per-host command that creates host's
// instances of the demo in dir leaves its pid, in /tmp, which every host
// has before dir's subdirectories exist: a create killed midway leaves its
// initdb running, and the destroy that precedes the rerun stops it first
// (an initdb that fails cleans up by removing its data directory, which
// would be the rerun's by then).
func CreatePIDFile(dir, host string) string {
	sum := sha256.Sum256([]byte(dir))
	return fmt.Sprintf("/tmp/gpdemo-create.%s.%x.pid", host, sum[:6])
}

// withCreatePIDFiles gives each create command its CreatePIDFile.
func withCreatePIDFiles(p Plan, cmds []remote.Command) []remote.Command {
	for i := range cmds {
		cmds[i].PIDFile = CreatePIDFile(p.Dir, cmds[i].Host)
	}
	return cmds
}

func dbidDir(in Instance) []string { return []string{strconv.Itoa(in.DBID), in.DataDir} }

// perHost returns one command per host that has instances keep accepts:
// script with args, then each instance's parameters, in plan order.
func perHost(p Plan, keep func(Instance) bool, script, verb string, timeout time.Duration,
	args []string, params func(Instance) []string) []remote.Command {
	var cmds []remote.Command
	for _, h := range p.Hosts() {
		a := slices.Clone(args)
		var labels []string
		for _, in := range p.OnHost(h) {
			if keep(in) {
				a = append(a, params(in)...)
				labels = append(labels, fmt.Sprintf("dbid %d", in.DBID))
			}
		}
		if len(labels) == 0 {
			continue
		}
		cmds = append(cmds, remote.Command{
			Host: h, Script: script, Args: a, Timeout: timeout,
			Label: verb + " " + strings.Join(labels, ", "),
		})
	}
	return cmds
}

// RenderSteps is steps as text, for logs and golden files: each step's
// name, then each command's host, label and command line (the script itself
// goes on stdin) or each statement with its arguments.
func RenderSteps(steps []Step) string {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "step %d: %s\n", i+1, s.Name)
		for _, c := range s.Commands {
			fmt.Fprintf(&b, "  %s [%s] %s\n", c.Host, c.Label, remote.CommandLine(c))
		}
		for _, st := range s.Statements {
			fmt.Fprintf(&b, "  coordinator: %s\n", st)
		}
	}
	return b.String()
}
