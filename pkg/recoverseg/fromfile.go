package recoverseg

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// fromFile is spec §4.4.3: the segments a -i file names, in file order.
// Each line's failed location must match a catalog row by address, port
// and data directory, whatever its status (a segment still up is stopped
// and waited for before it is recovered). One group: in place,
// incremental unless -F; the same location twice: in full, in place;
// another location: in full, there. A line whose failed segment an
// earlier run of this tool moved to the line's new location, without
// finishing, is that segment recovered where it now is.
func (r *recovery) fromFile(ctx context.Context) ([]target, error) {
	lines, err := readConfigFile(r.opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	log := r.env.Log
	c := r.co.Cluster
	var out []target
	for _, l := range lines {
		failed, found := rowAt(c, l.Failed)
		if !found {
			t, resumed, err := r.resumeLine(l)
			if err != nil {
				return nil, err
			}
			if resumed {
				out = append(out, t...)
				continue
			}
			return nil, app.Errorf("A segment to recover was not found in configuration.  This segment is described by address|port|directory '%s|%d|%s'",
				l.Failed.Address, l.Failed.Port, l.Failed.DataDir)
		}
		source, err := r.peerOf(failed)
		if err != nil {
			return nil, err
		}
		t := target{Failed: failed, Source: source, Full: r.opts.Full}
		switch {
		case l.New == nil:
		case *l.New == l.Failed:
			t.Full, t.Twice = true, true
		default:
			moved := failed
			moved.Hostname, moved.Address, moved.Port, moved.DataDir = l.New.Address, l.New.Address, l.New.Port, l.New.DataDir
			t.Full, t.Move = true, &moved
		}
		if _, down := r.unreachable[failed.Hostname]; down && t.Move == nil {
			log.Warn(fmt.Sprintf("Not recovering segment %d because %s is unreachable", failed.DBID, failed.Hostname))
			continue
		}
		if err := validSource(failed, source, r.unreachable); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := r.reachNewHosts(ctx, out); err != nil {
		return nil, err
	}
	for _, t := range out {
		if _, down := r.unreachable[t.at().Hostname]; down && t.Move != nil {
			return nil, app.Errorf("The recovery target segment %s (content %d) is unreachable.", t.Move.Hostname, t.Move.ContentID)
		}
	}
	return out, nil
}

// rowAt finds the catalog row at loc, as Greenplum matches a -i line: by
// address (not host name), port and data directory.
func rowAt(c *cluster.Cluster, loc Location) (cluster.Segment, bool) {
	for _, s := range c.All() {
		if s.Address == loc.Address && s.Port == loc.Port && filepath.Clean(s.DataDir) == loc.DataDir {
			return s, true
		}
	}
	return cluster.Segment{}, false
}

// resumeLine handles a line whose failed location is no longer in the
// catalog because an earlier run of this tool moved the segment to the
// line's new location (its journal says so) and stopped before the
// segment ran there: the segment is recovered in full where it now is,
// the copy found there reused. Already up there, it needs nothing.
func (r *recovery) resumeLine(l ConfigLine) ([]target, bool, error) {
	if l.New == nil {
		return nil, false, nil
	}
	s, found := rowAt(r.co.Cluster, *l.New)
	if !found {
		return nil, false, nil
	}
	from, moved := r.movedEarlier(s)
	if !moved {
		return nil, false, nil
	}
	if s.IsUp() {
		r.env.Log.Info(fmt.Sprintf("Line %d of %s: dbid %d was moved to %s by an earlier gprecoverseg and is up there; nothing to do",
			l.Line, r.opts.ConfigFile, s.DBID, l.New))
		return nil, true, nil
	}
	source, err := r.peerOf(s)
	if err != nil {
		return nil, false, err
	}
	if err := validSource(s, source, r.unreachable); err != nil {
		return nil, false, err
	}
	r.env.Log.Info(fmt.Sprintf("Line %d of %s: dbid %d was moved from %s to %s by an earlier gprecoverseg that did not finish; it is recovered there",
		l.Line, r.opts.ConfigFile, s.DBID, from, l.New))
	return []target{{Failed: s, Source: source, Full: true, MovedFrom: from}}, true, nil
}
