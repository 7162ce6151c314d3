package buildmirrors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// SQL the pipeline runs on primaries (utility mode) with bound parameters.
const (
	SlotActiveSQL = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1"
	DropSlotSQL   = "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND NOT active"
	// CreateSlotSQL is GP7's call (Appendix A), made only when the slot is
	// missing; GP6's function takes the name only.
	CreateSlotSQL    = "SELECT pg_catalog.pg_create_physical_replication_slot($1, true, false) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)"
	CreateSlotSQLGP6 = "SELECT pg_catalog.pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)"
	StreamingSQL     = "SELECT count(*) FROM pg_catalog.pg_stat_replication WHERE application_name = $1 AND state = 'streaming'"
)

// preflight runs every read-only check and refuses, changing nothing, when
// one fails (safety invariant 1).
func (r *run) preflight(ctx context.Context) error {
	log := r.env.Log
	log.Info("Checking the mirror targets")
	// pg_ctl starts each mirror through a shell (safety invariant 7).
	var unsafe []error
	for _, m := range r.ms {
		if err := cluster.CheckPath("data directory", m.Target.DataDir); err != nil {
			unsafe = append(unsafe, fmt.Errorf("%s: %w", m.Label(), err))
		}
	}
	if len(unsafe) > 0 {
		return &InputError{Problems: unsafe}
	}
	if r.env.CheckHostKeys != nil {
		if err := r.env.CheckHostKeys(ctx, hostsOf(r.ms, true)); err != nil {
			return &InputError{Problems: []error{err}}
		}
	}
	var problems []error
	add := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }

	// The catalog, re-read now: sources are up acting primaries, targets new.
	c, err := cluster.Load(ctx, r.env.Conn)
	if err != nil {
		return fmt.Errorf("re-read the catalog: %w", err)
	}
	for _, m := range r.ms {
		src, ok := c.ByDBID(m.Source.DBID)
		switch {
		case !ok:
			add("%s: its source dbid %d is not in the catalog", m.Label(), m.Source.DBID)
		case !src.IsSegment() || !src.IsPrimary() || src.ContentID != m.Target.ContentID:
			add("%s: its source %s is not the acting primary of content %d", m.Label(), src.Label(), m.Target.ContentID)
		case !src.IsUp():
			add("Primary segment is not up for content %d", m.Target.ContentID)
		case src.Hostname != m.Source.Hostname || src.Port != m.Source.Port || filepath.Clean(src.DataDir) != filepath.Clean(m.Source.DataDir):
			add("%s: its source changed in the catalog (now %s)", m.Label(), src)
		}
		switch {
		case m.Overwrite:
			problems = append(problems, overwriteProblems(c, m)...)
		case m.From != nil:
			problems = append(problems, moveProblems(c, m)...)
		}
		for _, s := range c.All() {
			switch {
			case s.DBID == m.Target.DBID && (m.Overwrite || m.From != nil):
				// its own row, checked by overwriteProblems or moveProblems
			case s.DBID == m.Target.DBID:
				add("%s: dbid %d is already in the catalog (%s)", m.Label(), s.DBID, s.Label())
			case s.Hostname == m.Target.Hostname && filepath.Clean(s.DataDir) == filepath.Clean(m.Target.DataDir):
				add("%s: %s is the data directory of %s", m.Label(), m.Target.DataDir, s.Label())
			case s.Hostname == m.Target.Hostname && s.Port == m.Target.Port:
				add("%s: port %d is %s's", m.Label(), m.Target.Port, s.Label())
			}
		}
	}

	// Target directories, ports, disk space; source sizes.
	targets, sizes, err := r.probeHosts(ctx)
	if err != nil {
		return err
	}
	r.probe = targets
	r.catalog = c
	for _, m := range r.ms {
		p, ok := targets[m.Target.DBID]
		if !ok {
			add("%s: no answer from the target check", m.Label())
			continue
		}
		reuse := p.Reusable(m)
		switch {
		case p.PID != 0:
			add("%s: a postmaster (pid %d) runs in %s; stop it first", m.Label(), p.PID, m.Target.DataDir)
		case p.State == "notdir":
			add("%s: %s exists and is not a directory", m.Label(), m.Target.DataDir)
		case p.State == "notempty" && m.Overwrite && p.GPDBID != m.Target.DBID && !m.PartialCopy:
			add("%s: %s holds gp_dbid %d in internal.auto.conf, not %d: it is not this instance's directory; nothing was overwritten",
				m.Label(), m.Target.DataDir, p.GPDBID, m.Target.DBID)
		case p.State == "notempty" && !reuse && !m.Overwrite && !m.PartialCopy:
			add("for segment with port %d: Segment directory '%s' exists but is not empty!", m.Target.Port, m.Target.DataDir)
		}
		if p.Busy && p.PID == 0 {
			add("%s: port %d is in use on %s", m.Label(), m.Target.Port, m.Target.Hostname)
		}
		switch need := sizes[m.Target.DBID]; {
		case reuse, m.Overwrite, m.PartialCopy: // the copy replaces what is there
		case p.AvailKB < 0:
			add("%s: cannot read the free space where %s goes (df failed on %s)", m.Label(), m.Target.DataDir, m.Target.Hostname)
		case need > p.AvailKB:
			add("%s: %d kB free where %s goes, the primary holds %d kB", m.Label(), p.AvailKB, m.Target.DataDir, need)
		}
	}
	if len(problems) == 0 {
		problems = append(problems, r.checkSlots(ctx)...)
	}
	if len(problems) > 0 {
		return &InputError{Problems: problems}
	}
	for _, m := range r.ms {
		p := r.probe[m.Target.DBID]
		switch {
		case p.Reusable(m):
			r.env.Log.Info(fmt.Sprintf("%s: %s holds a finished copy from an earlier run; reusing it", m.Label(), m.Target.DataDir))
		case m.PartialCopy && !m.Overwrite && p.State == "notempty":
			how := "emptying it (the directory was there before) and copying again"
			if m.OwnDir {
				how = "removing it (that run made it) and copying again"
			}
			r.env.Log.Info(fmt.Sprintf("%s: %s holds the unfinished copy of an earlier run; %s", m.Label(), m.Target.DataDir, how))
		}
	}
	log.Info("Mirror targets checked: directories, ports, disk space and sources are fit")
	return nil
}

// probeHosts runs the target and size probes, one script per host.
func (r *run) probeHosts(ctx context.Context) (map[int]TargetProbe, map[int]int64, error) {
	var cmds []remote.Command
	for _, h := range hostsOf(r.ms, false) {
		cmds = append(cmds, targetCommand(h, r.onTarget(h)))
	}
	nt := len(cmds)
	for _, h := range r.sourceHosts() {
		cmds = append(cmds, sizeCommand(h, r.onSource(h)))
	}
	res := remote.Runner{Exec: r.env.Exec, Limit: r.opts.BatchSize}.Run(ctx, cmds)
	if err := remote.Failures(res); err != nil {
		return nil, nil, &InputError{Problems: []error{err}}
	}
	targets := map[int]TargetProbe{}
	sizes := map[int]int64{}
	for i, rs := range res {
		if i < nt {
			t, err := parseTargets(rs.Stdout)
			if err != nil {
				return nil, nil, err
			}
			for k, v := range t {
				targets[k] = v
			}
			continue
		}
		for k, v := range parseSizes(rs.Stdout) {
			sizes[k] = v
		}
	}
	return targets, sizes, nil
}

func (r *run) onTarget(host string) []Mirror {
	var out []Mirror
	for _, m := range r.ms {
		if m.Target.Hostname == host {
			out = append(out, m)
		}
	}
	return out
}

func (r *run) onSource(host string) []Mirror {
	var out []Mirror
	for _, m := range r.ms {
		if m.Source.Hostname == host {
			out = append(out, m)
		}
	}
	return out
}

func (r *run) sourceHosts() []string {
	var hs []string
	for _, m := range r.ms {
		hs = append(hs, m.Source.Hostname)
	}
	return compactSorted(hs)
}

// checkSlots refuses a source whose replication slot is in use by a
// walsender: something already replicates from that primary.
func (r *run) checkSlots(ctx context.Context) []error {
	var problems []error
	for _, m := range r.ms {
		active, exists, err := r.slotState(ctx, m.Source)
		// The walsender of an earlier run's copy, just stopped, may take
		// a moment to go: ten seconds at most.
		for try := 0; err == nil && exists && active && m.PartialCopy && try < 20; try++ {
			if err = r.env.Sleep(ctx, streamPoll); err == nil {
				active, exists, err = r.slotState(ctx, m.Source)
			}
		}
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("%s: %w", m.Label(), err))
		case exists && active:
			problems = append(problems, fmt.Errorf("%s: the replication slot %s on its primary %s:%d is in use", m.Label(), SlotName, m.Source.Hostname, m.Source.Port))
		}
	}
	return problems
}

// primaryConn opens a utility connection to a primary.
func (r *run) primaryConn(ctx context.Context, p cluster.Segment) (cluster.Conn, error) {
	cfg := cluster.ConnConfig{Host: p.Address, Port: p.Port, Flavour: r.opts.Flavour, Utility: true, ConnectTimeout: connectTimeout}
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to primary %s:%d: %w", p.Address, p.Port, err)
	}
	return conn, nil
}

// onPrimary runs fn on a utility connection to p.
func (r *run) onPrimary(ctx context.Context, p cluster.Segment, fn func(cluster.Conn) error) (err error) {
	conn, err := r.primaryConn(ctx, p)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	return fn(conn)
}

// slotState says whether the slot exists on p and is active.
func (r *run) slotState(ctx context.Context, p cluster.Segment) (active, exists bool, err error) {
	err = r.onPrimary(ctx, p, func(c cluster.Conn) error {
		rows, err := c.Query(ctx, SlotActiveSQL, SlotName)
		if err != nil {
			return fmt.Errorf("read replication slots: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			exists = true
			if err := rows.Scan(&active); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	return active, exists, err
}

func compactSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// overwriteProblems checks, on the catalog read again inside the run, that
// an Overwrite target may be overwritten: its row is there, unchanged,
// down, and not the acting primary of its content.
func overwriteProblems(c *cluster.Cluster, m Mirror) []error {
	t, ok := c.ByDBID(m.Target.DBID)
	switch {
	case !ok:
		return []error{fmt.Errorf("%s: dbid %d is no longer in the catalog", m.Label(), m.Target.DBID)}
	case t.Hostname != m.Target.Hostname || t.Port != m.Target.Port || filepath.Clean(t.DataDir) != filepath.Clean(m.Target.DataDir):
		return []error{fmt.Errorf("%s: its row changed in the catalog (now %s)", m.Label(), t)}
	case t.IsUp():
		return []error{fmt.Errorf("%s: it is up in the catalog: only a failed instance is copied over", m.Label())}
	case t.IsPrimary():
		return []error{fmt.Errorf("%s: it is the acting primary of content %d: it is never copied over", m.Label(), t.ContentID)}
	}
	return nil
}
