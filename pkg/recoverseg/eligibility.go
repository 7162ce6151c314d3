package recoverseg

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// gate is spec §4.11 step 5 after the prompt: Greenplum's warning for
// each pair that is not switched, then the replay-lag check of each that
// is (unless --disable-replay-lag): one over the limit, or one whose lag
// cannot be read, refuses the whole rebalance before anything stops (exit
// 2). A mirror that is not a streaming synchronous standby is not
// switched, whatever the catalog says: FTS would not promote it, or its
// promotion could lose committed transactions.
func (r *recovery) gate(ctx context.Context, pairs []switchPair) ([]switchPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := r.env.Log
	var eligible []switchPair
	for _, p := range pairs {
		if p.Lag.Err != nil && !p.Lag.Stopped && !r.opts.DisableReplayLag {
			return nil, app.Errorf("Failed to query pg_stat_replication for host:%s, port:%d, error: %v", p.Acting.Hostname, p.Acting.Port, p.Lag.Err)
		}
		if problem := r.problem(p); problem != "" {
			log.Warn(fmt.Sprintf("Not rebalancing primary segment dbid %d with its mirror dbid %d because one is either down, unreachable, or not synchronized",
				p.Acting.DBID, p.Preferred.DBID))
			log.Warn(fmt.Sprintf("%s: %s", p.label(), problem))
			continue
		}
		if p.Lag.Stopped {
			// An interrupted earlier run stopped it after its own gate
			// (proven stopped now); FTS has not failed it over yet.
			log.Info(fmt.Sprintf("dbid %d was stopped by the earlier gprecoverseg -r; its mirror dbid %d is promoted now", p.Acting.DBID, p.Preferred.DBID))
			eligible = append(eligible, p)
			continue
		}
		if !r.opts.DisableReplayLag {
			msg := fmt.Sprintf("Allowed replay lag during rebalance is %s GB", lagLimitText(r.opts.ReplayLag))
			if r.f == cluster.GP6 {
				log.Debug(msg) // Greenplum 6 has no such check: its output stays as it was
			} else {
				log.Info(msg)
			}
			if p.Lag.Bytes < 0 {
				return nil, app.Errorf("cannot read the replay lag of mirror dbid %d: its primary dbid %d (%s:%d) reports no replay position yet; retry in a moment, or use --disable-replay-lag",
					p.Preferred.DBID, p.Acting.DBID, p.Acting.Hostname, p.Acting.Port)
			}
			if float64(p.Lag.Bytes) >= r.opts.ReplayLag*(1<<30) {
				return nil, app.Errorf("%d bytes of wal is still to be replayed on mirror with dbid %d, let mirror catchup on replay then trigger rebalance. "+
					"Use --replay-lag to configure the allowed replay lag limit or --disable-replay-lag to disable the check completely if you wish to continue with rebalance anyway",
					p.Lag.Bytes, p.Preferred.DBID)
			}
		}
		eligible = append(eligible, p)
	}
	return eligible, nil
}

// problem says why p is not switched, "" when it is: the catalog's reason,
// or the replication state its acting primary reports. An acting primary
// an interrupted run stopped, proven stopped, has no replication to ask.
func (r *recovery) problem(p switchPair) string {
	l := p.Lag
	switch {
	case p.Problem != "":
		return p.Problem
	case l.Stopped:
		return ""
	case l.Err != nil:
		return fmt.Sprintf("cannot read the replication state of dbid %d: %v", p.Acting.DBID, l.Err)
	case l.State == "":
		return fmt.Sprintf("dbid %d has no walsender for its mirror dbid %d", p.Acting.DBID, p.Preferred.DBID)
	case !l.Streaming():
		return fmt.Sprintf("dbid %d does not stream from dbid %d (walsender state %s)", p.Preferred.DBID, p.Acting.DBID, l.State)
	case l.SyncState != "sync":
		return fmt.Sprintf("dbid %d is not a synchronous standby of dbid %d (sync_state %s)", p.Preferred.DBID, p.Acting.DBID, l.SyncState)
	}
	return ""
}

// statusScript prints "STATUS <dbid> <pg_ctl status exit code>" for each
// (dbid, data directory): 3 is PostgreSQL's "no server running".
const statusScript = `gphome=$1
shift
while [ $# -ge 2 ]; do
	"$gphome/bin/pg_ctl" -D "$2" status >/dev/null 2>&1
	echo "STATUS $1 $?"
	shift 2
done
`

// proveStopped sets Lag.Stopped on the pairs whose acting primary an
// interrupted earlier rebalance stopped (or began to stop), whose query
// failed, and whose postmaster pg_ctl finds not running on its host. Any
// other failure stays a failure.
func (r *recovery) proveStopped(ctx context.Context, pairs []switchPair) {
	q := hostScript{script: statusScript, label: "pg_ctl status", lead: []string{r.co.GPHome}}
	for _, p := range pairs {
		if p.Problem == "" && p.Lag.Err != nil && r.stoppedEarlier(p.Acting.DBID) {
			q.add(p.Acting.Hostname, strconv.Itoa(p.Acting.DBID), p.Acting.DataDir)
		}
	}
	cmds := q.commands()
	stopped := map[int]bool{}
	answers(r.runner(len(cmds)).Run(ctx, cmds), "STATUS", func(dbid int, code string) {
		stopped[dbid] = code == "3"
	})
	for i := range pairs {
		pairs[i].Lag.Stopped = stopped[pairs[i].Acting.DBID]
	}
}
