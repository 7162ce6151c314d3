package gpstate

import (
	"context"
	"fmt"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// config is gpstate -c (spec §2.4.4, __showClusterConfig): each preferred
// primary with its preferred mirror, from the catalog only. It always
// exits 0. Its table follows the rules told at mirrors.
func (r *report) config(ctx context.Context) error {
	gplog.Emit(ctx, r.env.Log, configRecords(r.st))
	return nil
}

// configRecords builds -c's lines (pure).
func configRecords(st *Status) []gplog.Record {
	c := st.Cluster
	t := &render.Table{Arrows: true}
	if !c.HasMirrors() {
		t.Add("Primary", "Datadir", "Port")
		for _, s := range c.Segments() {
			t.Add(modeTriplet(s)...)
		}
		recs := modeInfo(mirrorsDashes, "-Primary list [Mirror not used]", mirrorsDashes)
		recs = append(recs, t.Records()...)
		return append(recs, modeInfo(mirrorsDashes)...)
	}

	mirrorOf := map[int]cluster.Segment{} // preferred mirrors by content
	for _, s := range c.Segments() {
		if s.PreferredRole == cluster.RoleMirror {
			mirrorOf[s.ContentID] = s
		}
	}
	t.Add("Status", "Data State", "Primary", "Datadir", "Port", "Mirror", "Datadir", "Port")
	var switched, unsynced int
	for _, p := range c.Segments() {
		if p.PreferredRole != cluster.RolePrimary {
			continue
		}
		m, ok := mirrorOf[p.ContentID]
		if !ok {
			continue // not a valid Greenplum configuration; Greenplum would fail
		}
		actingPrimary, actingMirror := p, m
		status := "Primary Active, Mirror "
		if p.IsMirror() {
			actingPrimary, actingMirror = m, p
			status = "Mirror Active, Primary "
			switched++
		}
		if actingMirror.IsUp() {
			status += "Available"
		} else {
			status += "Failed"
		}
		warn := !actingPrimary.IsSynced()
		if warn {
			unsynced++
		}
		cells := append([]string{status, actingPrimary.Mode.Label()}, modeTriplet(p)...)
		t.AddIf(warn, append(cells, modeTriplet(m)...)...)
	}
	recs := mirrorsHeading(st)
	recs = append(recs, t.Records()...)
	recs = append(recs, modeInfo(mirrorsDashes)...)
	if switched > 0 {
		recs = append(recs, modeWarn(fmt.Sprintf("%d segment(s) configured as mirror(s) are acting as primaries", switched))...)
	}
	if unsynced > 0 {
		recs = append(recs, modeWarn(fmt.Sprintf("%d primary segment(s) are not synchronized", unsynced))...)
	}
	return recs
}
