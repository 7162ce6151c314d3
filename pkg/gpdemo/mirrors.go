package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Mirror layouts of --mirrors.
const (
	MirrorsNone   = "none"
	MirrorsGroup  = "group"
	MirrorsSpread = "spread"
)

// isMirror reports whether in is a segment mirror.
func isMirror(in Instance) bool { return in.IsSegment() && in.PreferredRole == cluster.RoleMirror }

// isPrimary reports whether in is a segment primary.
func isPrimary(in Instance) bool { return in.IsSegment() && in.PreferredRole == cluster.RolePrimary }

// Mirrors returns the planned segment mirrors, by content.
func (p Plan) Mirrors() []Instance {
	var out []Instance
	for _, in := range p.Instances {
		if isMirror(in) {
			out = append(out, in)
		}
	}
	return out
}

// PlanDemoMirrors adds to p the mirrors of layout (group or spread) placed
// by gpaddmirrors' placement (placement.PlanMirrors), with ports
// after the primaries' (offset = number of primaries) and data directories
// DIR/<host>/mirror/gpseg<content>. The mirrors are in the plan, and so in
// the manifest, before anything is created: destroy and a rollback stop
// and remove them too.
func PlanDemoMirrors(p Plan, layout string) (Plan, error) {
	if layout == "" || layout == MirrorsNone {
		return p, nil
	}
	var rows []cluster.Segment
	for _, in := range p.Instances {
		rows = append(rows, in.Segment)
	}
	c, err := cluster.New(rows)
	if err != nil {
		return p, fmt.Errorf("plan mirrors: %w", err)
	}
	n := placement.MaxPrimariesPerHost(c)
	locs := make([]string, n)
	for i := range locs {
		locs[i] = filepath.Join(p.Dir, "mirror")
	}
	ms, err := placement.PlanMirrors(c, placement.Placement{
		Spread:     layout == MirrorsSpread,
		PortOffset: len(p.Primaries()),
		Locations:  locs,
		Prefix:     "gpseg",
	})
	if err != nil {
		return p, fmt.Errorf("plan mirrors: %w", err)
	}
	var addrs = map[string][]string{}
	for _, in := range p.Instances {
		addrs[in.Hostname] = in.Listen
	}
	for _, m := range ms {
		s := m.Mirror
		s.DataDir = filepath.Join(p.Dir, s.Hostname, "mirror", fmt.Sprintf("gpseg%d", s.ContentID))
		p.Instances = append(p.Instances, Instance{Segment: s, Listen: slices.Clone(addrs[s.Hostname])})
	}
	return p, nil
}

// buildMirrors builds p's mirrors with gpaddmirrors' pipeline once the
// cluster is up: copy, start, wait until they stream, register, FTS.
func buildMirrors(ctx context.Context, env *Env, ex remote.Router, p Plan) (err error) {
	ms := p.Mirrors()
	if len(ms) == 0 {
		return nil
	}
	coord := p.Coordinator()
	cfg := cluster.ConnConfig{Port: coord.Port, Flavour: cluster.GP7, ConnectTimeout: connectTimeout}
	conn, err := env.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close coordinator connection: %w", cerr))
		}
	}()
	var bms []buildmirrors.Mirror
	for _, m := range ms {
		src, ok := primaryOf(p, m.ContentID)
		if !ok {
			return fmt.Errorf("no primary for content %d", m.ContentID)
		}
		bms = append(bms, buildmirrors.Mirror{Source: src.Segment, Target: m.Segment})
	}
	rep, err := buildmirrors.Run(ctx, buildmirrors.Env{
		Log: env.Log, Exec: ex, Conn: conn, Connect: env.Connect, LookupHost: env.LookupHost, Now: env.Now,
	}, buildmirrors.Options{
		Prog: "gpdemo", Flavour: cluster.GP7, GPHome: p.GPHome, CoordinatorPort: coord.Port,
		CoordinatorDataDir: coord.DataDir, User: env.User, BatchSize: 16, SegmentBatchSize: 64,
	}, bms)
	if err != nil {
		return err
	}
	rep.Log(env.Log)
	if f := rep.Failed(); len(f) > 0 {
		return app.Errorf("%d of %d mirrors failed", len(f), len(bms))
	}
	return nil
}

func primaryOf(p Plan, content int) (Instance, bool) {
	for _, in := range p.Instances {
		if isPrimary(in) && in.ContentID == content {
			return in, true
		}
	}
	return Instance{}, false
}
