package buildmirrors

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Step names, in order.
const (
	StepCheck    = "check targets"
	StepHBA      = "update pg_hba.conf on primaries"
	StepSlots    = "prepare replication slots"
	StepMkdir    = "create mirror directories"
	StepCopy     = "copy primaries with pg_basebackup"
	StepPort     = "set mirror ports"
	StepStart    = "start mirrors"
	StepStream   = "wait for mirrors to stream"
	StepRegister = "register mirrors in the catalog"
	StepUnmark   = "forget the finished copies"
	StepFTS      = "trigger FTS probe"
)

// SQLAction is one statement a step runs on an instance.
type SQLAction struct {
	Where string // "coordinator" or "primary <host>:<port> (utility)", for the plan
	// On is the primary the statement runs on (a utility connection); nil
	// means the coordinator.
	On *cluster.Segment
	// Mirror is the index of the mirror the statement serves (its failure
	// fails that mirror); -1 when it serves all.
	Mirror    int
	Statement cluster.Statement
}

// Step is one named step and what it runs: commands on hosts (one per
// mirror or per host), statements, or both. ByMirror maps a mirror's index
// to its command in Commands, for the per-mirror steps. The plan --dry-run
// prints and the execution are the same []Step: run executes exactly the
// step's Commands and SQL, for the mirrors that have not failed.
type Step struct {
	Name     string
	ReadOnly bool
	Commands []remote.Command
	ByMirror map[int]int
	SQL      []SQLAction

	// run executes the step; nil for the check, which runs before the
	// plan is made.
	run func(ctx context.Context, r *run, s Step)
	// onResult, for a per-mirror step run by runPerMirror, records what a
	// mirror's command did.
	onResult func(r *run, i int, res remote.Result)
}

// Steps returns the pipeline's steps for opts and mirrors, the targets as
// probed (reused copies skip the copy), era, the pg_hba.conf entries by
// primary data directory and the catalog as the check read it (from which
// the move of mirrors at a new location is planned; nil without such
// mirrors): a pure function, golden-tested.
func Steps(opts Options, mirrors []Mirror, probe map[int]TargetProbe, era string, hba map[string][]string, catalog *cluster.Cluster) []Step {
	f := opts.Flavour
	perMirror := func(name string, keep func(Mirror) bool, cmd func(Mirror) remote.Command) Step {
		s := Step{Name: name, ByMirror: map[int]int{}, run: runPerMirror}
		for i, m := range mirrors {
			if keep(m) {
				s.ByMirror[i] = len(s.Commands)
				s.Commands = append(s.Commands, cmd(m))
			}
		}
		return s
	}
	all := func(Mirror) bool { return true }
	toCopy := func(m Mirror) bool { return !probe[m.Target.DBID].Reusable(m) }
	onPrimary := func(i int, m Mirror, st cluster.Statement) SQLAction {
		src := m.Source
		return SQLAction{Where: primaryWhere(src), On: &src, Mirror: i, Statement: st}
	}

	check := Step{Name: StepCheck, ReadOnly: true}
	for _, h := range hostsOf(mirrors, false) {
		check.Commands = append(check.Commands, targetCommand(h, filter(mirrors, func(m Mirror) bool { return m.Target.Hostname == h })))
	}
	var srcHosts []string
	for _, m := range mirrors {
		srcHosts = append(srcHosts, m.Source.Hostname)
	}
	for _, h := range compactSorted(srcHosts) {
		check.Commands = append(check.Commands, sizeCommand(h, filter(mirrors, func(m Mirror) bool { return m.Source.Hostname == h })))
	}
	for i, m := range mirrors {
		check.SQL = append(check.SQL, onPrimary(i, m, cluster.Statement{SQL: SlotActiveSQL, Args: []any{SlotName}}))
	}

	hbaStep := Step{Name: StepHBA, run: runHBA}
	for _, h := range compactSorted(srcHosts) {
		var dirs []string
		for _, m := range mirrors {
			if m.Source.Hostname == h && !contains(dirs, m.Source.DataDir) {
				dirs = append(dirs, m.Source.DataDir)
			}
		}
		hbaStep.Commands = append(hbaStep.Commands, HBACommand(opts.GPHome, h, dirs, hba))
	}

	// GP7 and later: pg_basebackup --create-slot fails on an existing
	// slot, so an unused leftover is dropped before a copy (GP6's
	// pg_basebackup accepts one); a reused copy gets its slot back when it
	// is missing. Both statements are conditional, so what the plan shows
	// is what runs.
	slots := Step{Name: StepSlots, run: runSQL}
	for i, m := range mirrors {
		switch {
		case !toCopy(m):
			slots.SQL = append(slots.SQL, onPrimary(i, m, createSlot(f)))
		case f != cluster.GP6:
			slots.SQL = append(slots.SQL, onPrimary(i, m, cluster.Statement{SQL: DropSlotSQL, Args: []any{SlotName}}))
		}
	}

	mkdir := perMirror(StepMkdir, toCopy, func(m Mirror) remote.Command {
		if m.PartialCopy && !m.Overwrite {
			return ResetCommand(m)
		}
		return MkdirCommand(m)
	})
	mkdir.onResult = func(r *run, i int, res remote.Result) {
		if res.OK() && strings.Contains(res.Stdout, "created") {
			r.out[i].Created = true
		}
	}
	copyStep := perMirror(StepCopy, toCopy, func(m Mirror) remote.Command { return CopyCommand(f, opts.GPHome, m) })
	copyStep.run = runCopy
	start := perMirror(StepStart, all, func(m Mirror) remote.Command { return StartCommand(f, opts.GPHome, era, m) })
	start.onResult = func(r *run, i int, res remote.Result) {
		if res.OK() {
			r.out[i].Started = true
		}
	}

	stream := Step{Name: StepStream, ReadOnly: true, run: runStream}
	register := Step{Name: StepRegister, run: runRegister}
	for i, m := range mirrors {
		stream.SQL = append(stream.SQL, onPrimary(i, m, cluster.Statement{SQL: StreamingSQL, Args: []any{WalReceiverName}}))
		for _, st := range RegisterStatements(opts.Prog, []Mirror{m}) {
			register.SQL = append(register.SQL, SQLAction{Where: "coordinator (allow_system_table_mods, one transaction)", Mirror: i, Statement: st})
		}
	}
	unmark := perMirror(StepUnmark, all, UnmarkCommand)
	fts := Step{Name: StepFTS, run: runFTS}
	for range cluster.FTSProbeCount(f) {
		fts.SQL = append(fts.SQL, SQLAction{Where: "coordinator", Mirror: -1, Statement: cluster.Statement{SQL: cluster.FTSProbeSQL, Want: true}})
	}

	steps := []Step{check, hbaStep, slots, mkdir, copyStep, perMirror(StepPort, all, PortCommand)}
	if moves := moving(mirrors); len(moves) > 0 {
		move := Step{Name: StepMove, run: runMove}
		var stmts []cluster.Statement
		if catalog != nil {
			// The check refused a catalog the moves do not fit.
			stmts, _, _ = MoveStatements(opts.Prog, catalog, moves)
		}
		for _, st := range stmts {
			move.SQL = append(move.SQL, SQLAction{Where: "coordinator (allow_system_table_mods, one transaction, planned again from the rows it reads)", Mirror: -1, Statement: st})
		}
		steps = append(steps, move)
	}
	return append(steps, start, stream, register, unmark, fts)
}

// moving returns the mirrors at a new location.
func moving(ms []Mirror) []Mirror {
	return filter(ms, func(m Mirror) bool { return m.From != nil })
}

// stepTotal is the number of steps of a run building ms.
func stepTotal(ms []Mirror) int {
	if len(moving(ms)) > 0 {
		return 12
	}
	return 11
}

// RegisterStatements are Greenplum's catalog statements for the mirrors
// (spec §3.4): for a new mirror gp_add_segment with the planned dbid, role
// m, mode n, status d, then the history row; for an Overwrite mirror,
// whose row stays, the mode and status UPDATE when its row is not already
// n and d (after FTS marked it down it is, and nothing is written, as
// Greenplum writes nothing for an in-place recovery). A mirror at a new
// location was registered by StepMove already.
func RegisterStatements(prog string, mirrors []Mirror) []cluster.Statement {
	var out []cluster.Statement
	for _, m := range mirrors {
		switch t := m.Target; {
		case m.From != nil:
		case !m.Overwrite:
			out = append(out, cluster.AddMirror(t), cluster.HistoryInsert(t.DBID, cluster.HistoryAddedMirror(prog)))
		case t.Mode != cluster.ModeNotSynced || t.Status != cluster.StatusDown:
			out = append(out, cluster.UpdateModeStatus(t.DBID, cluster.ModeNotSynced, cluster.StatusDown),
				cluster.HistoryInsert(t.DBID, cluster.HistoryModeStatus(prog)))
		}
	}
	return out
}

func createSlot(f cluster.Flavour) cluster.Statement {
	if f == cluster.GP6 {
		return cluster.Statement{SQL: CreateSlotSQLGP6, Args: []any{SlotName}}
	}
	return cluster.Statement{SQL: CreateSlotSQL, Args: []any{SlotName}}
}

func primaryWhere(p cluster.Segment) string {
	return fmt.Sprintf("primary %s:%d (utility)", p.Address, p.Port)
}

func filter(ms []Mirror, keep func(Mirror) bool) []Mirror {
	var out []Mirror
	for _, m := range ms {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// RenderSteps is the plan as text: every step, then each command per host
// (the command line as the host's shell receives it; scripts are shown as
// "sh -s -- <args>" after their first comment-free line count) and each
// statement with its arguments inlined.
func RenderSteps(steps []Step) string {
	var b strings.Builder
	for i, s := range steps {
		ro := ""
		if s.ReadOnly {
			ro = " (read-only)"
		}
		fmt.Fprintf(&b, "Step %d of %d: %s%s\n", i+1, len(steps), s.Name, ro)
		if len(s.Commands) == 0 && len(s.SQL) == 0 {
			b.WriteString("  (nothing to do)\n")
		}
		for _, c := range s.Commands {
			fmt.Fprintf(&b, "  %s: %s\n", c.Host, remote.CommandLine(c))
		}
		for _, q := range s.SQL {
			fmt.Fprintf(&b, "  %s: %s\n", q.Where, q.Statement.String())
		}
	}
	return b.String()
}

// steps computes the steps of this run (the pg_hba.conf entries need the
// host addresses).
func (r *run) steps(ctx context.Context) ([]Step, error) {
	hba, err := r.hbaEntries(ctx)
	if err != nil {
		return nil, err
	}
	if moves := moving(r.ms); len(moves) > 0 {
		if _, _, err := MoveStatements(r.opts.Prog, r.catalog, moves); err != nil {
			return nil, &InputError{Problems: []error{err}}
		}
	}
	return Steps(r.opts, r.ms, r.probe, r.era, hba, r.catalog), nil
}

// hbaEntries computes the entries per primary data directory.
func (r *run) hbaEntries(ctx context.Context) (map[string][]string, error) {
	addrs := map[string][]string{}
	if !r.opts.HBAHostnames {
		for _, h := range hostsOf(r.ms, true) {
			if r.env.LookupHost == nil {
				addrs[h] = []string{h}
				continue
			}
			a, err := r.env.LookupHost(ctx, h)
			if err != nil {
				return nil, &InputError{Problems: []error{fmt.Errorf("resolve %s for pg_hba.conf: %w", h, err)}}
			}
			addrs[h] = compactSorted(a)
		}
	}
	out := map[string][]string{}
	for _, m := range r.ms {
		var mh []string
		for _, o := range r.ms {
			if o.Source.DBID == m.Source.DBID {
				mh = append(mh, o.Target.Hostname)
			}
		}
		out[m.Source.DataDir] = HBAEntries(r.opts.User, r.opts.HBAHostnames, m.Source, compactSorted(mh), addrs)
	}
	return out, nil
}

// printPlan logs the steps for --dry-run.
func (r *run) printPlan(_ context.Context, steps []Step) {
	r.env.Log.Info("Dry run: the steps below would run; only the read-only checks ran")
	for _, line := range strings.Split(strings.TrimRight(RenderSteps(steps), "\n"), "\n") {
		r.env.Log.Info(line)
	}
}
