package buildmirrors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// StepMove is the step that moves the failed rows of mirrors built at a
// new location (Mirror.From) in the catalog, between the port and the
// start; it is in the plan only when there are such mirrors.
const StepMove = "move the recovered segments in the catalog"

// sameLocation reports whether a and b name the same host, port and data
// directory.
func sameLocation(a, b cluster.Segment) bool {
	return a.Hostname == b.Hostname && a.Port == b.Port && filepath.Clean(a.DataDir) == filepath.Clean(b.DataDir)
}

// moveProblems checks, on the catalog read again inside the run, that the
// row a mirror at a new location replaces is where the caller saw it, down,
// and not the acting primary of its content.
func moveProblems(c *cluster.Cluster, m Mirror) []error {
	s, ok := c.ByDBID(m.Target.DBID)
	switch {
	case !ok:
		return []error{fmt.Errorf("%s: dbid %d is no longer in the catalog", m.Label(), m.Target.DBID)}
	case !sameLocation(s, *m.From):
		return []error{fmt.Errorf("%s: its row changed in the catalog (now %s)", m.Label(), s)}
	case s.IsUp():
		return []error{fmt.Errorf("%s: dbid %d is up in the catalog: only a failed instance is moved", m.Label(), s.DBID)}
	case s.IsPrimary():
		return []error{fmt.Errorf("%s: dbid %d is the acting primary of content %d: it is never moved", m.Label(), s.DBID, s.ContentID)}
	}
	return nil
}

// MoveStatements plans the one catalog transaction that moves the failed
// rows of moves (mirrors with From) on the catalog c (spec §3.4, §4.7.2):
// each row removed and added again at its new location under the same
// dbid, down and not in sync, with Greenplum's history row ("inserted
// segment configuration for full recovery or original dbid <d>"), and its
// peer, the source, set not in sync where it is not already. A row that
// already sits at its new location (an earlier transaction committed it)
// is left out and its index returned in done; a row that is neither there
// nor where From says, or no longer down, is an error: nothing is planned.
func MoveStatements(prog string, c *cluster.Cluster, moves []Mirror) (stmts []cluster.Statement, done []int, err error) {
	segs := c.All()
	var problems []error
	for i, m := range moves {
		cur, ok := c.ByDBID(m.Target.DBID)
		if ok && sameLocation(cur, m.Target) {
			done = append(done, i)
			continue
		}
		if p := moveProblems(c, m); p != nil {
			problems = append(problems, p...)
			continue
		}
		for k := range segs {
			switch segs[k].DBID {
			case m.Target.DBID:
				segs[k].Hostname, segs[k].Address = m.Target.Hostname, m.Target.Address
				segs[k].Port, segs[k].DataDir = m.Target.Port, m.Target.DataDir
				segs[k].Mode, segs[k].Status = cluster.ModeNotSynced, cluster.StatusDown
			case m.Source.DBID:
				segs[k].Mode = cluster.ModeNotSynced
			}
		}
	}
	if len(problems) > 0 {
		return nil, nil, problemList(problems)
	}
	after, err := cluster.New(segs)
	if err != nil {
		return nil, nil, err
	}
	stmts, err = cluster.PlanCatalogUpdate(prog, c, after)
	return stmts, done, err
}

// runMove moves the failed rows of the mirrors at a new location that are
// still alive (copied, port set) in one transaction, planned from the rows
// read again inside it, uninterruptible, with its own timeout; then they
// count as registered: from here on the catalog names the new location,
// which a later failure (the start, the stream) does not take back, as in
// Greenplum. A COMMIT that fails is decided by reading the catalog again.
// When the transaction does not commit, the mirrors fail at this step and
// the catalog is as it was.
func runMove(ctx context.Context, r *run, s Step) {
	var idx []int
	var moves []Mirror
	for _, i := range r.alive() {
		if r.ms[i].From != nil {
			idx = append(idx, i)
			moves = append(moves, r.ms[i])
		}
	}
	if len(idx) == 0 {
		return
	}
	r.env.Log.Info("Updating configuration for mirrors")
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogTimeout)
	defer cancel()
	cfg := cluster.ConnConfig{Port: r.opts.CoordinatorPort, Flavour: r.opts.Flavour, AllowSystemTableMods: true, ConnectTimeout: connectTimeout}
	err := r.onCoordinator(tctx, cfg, func(conn cluster.Conn) error {
		return cluster.ExecPlannedInTx(tctx, conn, func(ctx context.Context, q cluster.Querier) ([]cluster.Statement, error) {
			segs, err := cluster.LoadSegments(ctx, q)
			if err != nil {
				return nil, err
			}
			c, err := cluster.New(segs)
			if err != nil {
				return nil, fmt.Errorf("read the catalog inside the transaction: %w", err)
			}
			stmts, done, err := MoveStatements(r.opts.Prog, c, moves)
			for _, k := range done {
				r.env.Log.Info(fmt.Sprintf("%s: the catalog already names its new location", moves[k].Label()))
			}
			for _, st := range stmts {
				r.env.Log.Debug(st.String())
			}
			return stmts, err
		})
	})
	if err != nil && errors.Is(err, cluster.ErrCommit) {
		var present bool
		present, err = r.registeredInCatalog(tctx, idx, err)
		if present {
			r.env.Log.Warn("The COMMIT of the catalog update failed, but the catalog read again names the new locations: the update was committed")
		}
	}
	if err != nil {
		r.env.Log.Error(fmt.Sprintf("Updating the catalog failed, no segment was moved: %v", err))
		for _, i := range idx {
			r.fail(i, s.Name, err)
		}
		return
	}
	r.env.Log.Debug("Committing configuration table changes")
	for _, i := range idx {
		r.out[i].Registered = true
		m := r.ms[i]
		r.env.Log.Info(fmt.Sprintf("dbid %d (content %d) moved in the catalog from %s:%d %s to %s:%d %s",
			m.Target.DBID, m.Target.ContentID, m.From.Hostname, m.From.Port, m.From.DataDir, m.Target.Hostname, m.Target.Port, m.Target.DataDir))
	}
}

// problemList is the moves' problems as one error: the messages joined by
// "; ", every cause kept for errors.As.
type problemList []error

func (l problemList) Error() string {
	msgs := make([]string, len(l))
	for i, p := range l {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

func (l problemList) Unwrap() []error { return l }
