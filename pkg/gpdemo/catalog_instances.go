package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// withCatalogInstances returns p with every instance the running
// coordinator's catalog lists that p lacks, such as mirrors gpaddmirrors
// added after create, so that destroy stops them too and leaves no process
// behind. Their data directories are removed like the others (they are
// this cluster's) when they lie under the demo directory; one elsewhere (a
// mirror placed on another disk, or a catalog row that names a directory
// by mistake) is stopped but left in place, with a warning: destroy never
// removes what it cannot tell it made. Directories above them that gpdemo
// did not create stay. A coordinator that does not answer leaves p as it
// is, with a warning.
func withCatalogInstances(ctx context.Context, env *Env, p Plan) Plan {
	segs, err := readCatalog(ctx, env, p)
	if err != nil {
		env.Log.Warn(fmt.Sprintf("Cannot read the catalog (%v): instances added after create, such as mirrors, are not stopped; stop them yourself", err))
		return p
	}
	known := map[int]bool{}
	for _, in := range p.Instances {
		known[in.DBID] = true
	}
	out := p
	out.Instances = append([]Instance(nil), p.Instances...)
	for _, s := range segs {
		if !known[s.DBID] {
			env.Log.Info(fmt.Sprintf("Also stopping %s, added after create", s.Label()))
			in := Instance{Segment: s}
			if !under(p.Dir, s.DataDir) {
				in.KeepDir = true
				env.Log.Warn(fmt.Sprintf("%s's data directory %s is outside %s: it is stopped but not removed; remove it yourself", s.Label(), s.DataDir, p.Dir))
			}
			out.Instances = append(out.Instances, in)
		}
	}
	return out
}

// under reports whether path lies strictly inside dir.
func under(dir, path string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != "." && filepath.IsAbs(path) && rel != ".." && !strings.HasPrefix(rel, "../")
}

// readCatalog reads gp_segment_configuration from p's coordinator in a
// utility session.
func readCatalog(ctx context.Context, env *Env, p Plan) (_ []cluster.Segment, err error) {
	cfg := cluster.ConnConfig{
		Port: p.Coordinator().Port, Flavour: cluster.GP7, Utility: true, ConnectTimeout: connectTimeout,
	}
	conn, err := env.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close coordinator connection: %w", cerr))
		}
	}()
	return cluster.LoadSegments(ctx, conn)
}
