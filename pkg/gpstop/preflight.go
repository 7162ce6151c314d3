package gpstop

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// checkHosts runs before anything is stopped. Every segment host gpstop
// will reach over SSH (the coordinator's own is local) is asked to echo
// its name, on the connection the stop then uses. A standby's host alone
// is not asked: a standby left running beside a stopped cluster only waits
// for WAL, and keeps Greenplum's "Standby is unreachable" warning, now
// with its reason.
//
// A host that answers but will not let us in (its host key is unknown or
// changed, or sshd refused our keys) is refused here: stopping the
// coordinator first and then failing there would leave a half-stopped
// cluster, the coordinator down and that host's segments running, for a
// fault the user fixes in a minute. Greenplum's own gpstop cannot meet it
// (it passes StrictHostKeyChecking=no); ours verifies keys, so it checks.
//
// A host that does not answer at all (nothing listens, no route, no
// handshake in time) is Greenplum's unreachable host and is not refused: a
// dead host must never keep the DBA from stopping the rest. Its segments
// are reported failed after the others are stopped, with the reason (it is
// not dialled again, so its dial timeout is waited for once).
func (s *stopper) checkHosts(ctx context.Context, segs []cluster.Segment) error {
	local := s.cluster.Coordinator().Hostname
	set := map[string]bool{}
	for _, g := range segs {
		set[g.Hostname] = true
	}
	delete(set, local)
	if len(set) == 0 {
		return nil
	}
	hosts := slices.Sorted(maps.Keys(set))
	down := remote.Reach(ctx, remote.Runner{Exec: s.router(), Limit: min(len(hosts), s.opts.Parallel)}, hosts)
	if err := ctx.Err(); err != nil {
		return err
	}
	var refusing []string
	for _, h := range hosts {
		err, ok := down[h]
		switch {
		case !ok:
		case remote.TurnsAway(err):
			refusing = append(refusing, h)
			s.env.Log.Error(fmt.Sprintf("Host %s does not let gpstop in over SSH: %s", h, unreachableReason(err)))
		case remote.Unreachable(remote.Result{Err: err}):
			if s.down == nil {
				s.down = map[string]error{}
			}
			s.down[h] = err
		}
	}
	if len(refusing) == 0 {
		return nil
	}
	return app.Errorf("nothing was stopped: the segments on %s could not be stopped after the %s, which would leave the cluster half stopped; fix the SSH problem reported above and run gpstop again",
		pyList(refusing), s.coord)
}
