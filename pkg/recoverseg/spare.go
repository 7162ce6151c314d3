package recoverseg

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// parseSpareHosts reads -p host[,host...] as Greenplum does: split on
// commas, white space trimmed, duplicates dropped, order kept. An empty
// name or one that is no host name is refused.
func parseSpareHosts(s string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, &app.ArgumentError{Msg: fmt.Sprintf("Invalid value for recover hosts: %q has an empty host name", s)}
		}
		a, err := cluster.ParseAddress(h)
		if err != nil {
			return nil, &app.ArgumentError{Msg: fmt.Sprintf("Invalid value for recover hosts: %v", err)}
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// ontoSpares is spec §4.4.2: every failed segment (status d, whatever its
// host's state) recovered in full onto the spare hosts of -p, placed by
// pkg/placement (grouped by failed host, zipped with the spare hosts in
// order, the lowest free port from the smallest segment port up). Spare
// hosts not needed are named in warnings shown with the display; too few,
// or a needed one that does not answer, refuse the run. A failed segment
// an earlier run of this tool moved and did not finish is recovered where
// it now is.
func (r *recovery) ontoSpares(ctx context.Context) ([]target, error) {
	spares, err := parseSpareHosts(r.opts.SpareHosts)
	if err != nil {
		return nil, err
	}
	r.spareHosts = spares
	c := r.co.Cluster
	var out []target
	var failed []cluster.Segment
	for _, s := range c.Segments() {
		if s.IsUp() {
			continue
		}
		if from, moved := r.movedEarlier(s); moved {
			source, err := r.peerOf(s)
			if err != nil {
				return nil, err
			}
			if err := validSource(s, source, r.unreachable); err != nil {
				return nil, err
			}
			r.env.Log.Info(fmt.Sprintf("dbid %d was moved from %s to %s:%d %s by an earlier gprecoverseg that did not finish; it is recovered there",
				s.DBID, from, s.Hostname, s.Port, s.DataDir))
			out = append(out, target{Failed: s, Source: source, Full: true, MovedFrom: from})
			continue
		}
		failed = append(failed, s)
	}
	moves, unneeded, err := placement.OntoSpareHosts(c, failed, spares)
	if err != nil { // too few spare hosts, or no port left on one
		return nil, app.Errorf("%w", err)
	}
	if len(unneeded) > 0 {
		r.notes = append(r.notes, "The following recovery hosts were not needed:")
		for _, h := range unneeded {
			r.notes = append(r.notes, "\t"+h)
		}
	}
	var ts []target
	for _, m := range moves {
		source, err := r.peerOf(m.Failed)
		if err != nil {
			return nil, err
		}
		if err := validSource(m.Failed, source, r.unreachable); err != nil {
			return nil, err
		}
		moved := m.Target
		ts = append(ts, target{Failed: m.Failed, Source: source, Full: true, Move: &moved})
	}
	if err := r.reachNewHosts(ctx, ts); err != nil {
		return nil, err
	}
	var down []string
	for _, h := range spares[:len(spares)-len(unneeded)] {
		if _, no := r.unreachable[h]; no {
			down = append(down, h)
		}
	}
	if len(down) > 0 {
		return nil, app.Errorf("Cannot recover. The following recovery target hosts are unreachable: %s", pyStrings(down))
	}
	return append(out, ts...), nil
}

// pyStrings prints ss as Python prints a list of strings: ['a', 'b'].
func pyStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
