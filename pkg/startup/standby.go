package startup

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// standbyScript starts the standby coordinator on its host: $1 GPHOME, $2
// data directory, $3 port, then the pg_ctl start argv. First the recovery
// startup clean-up (a live postmaster of that directory is stopped fast;
// stale pid and socket files are removed; problems go to stderr as
// "cleanup: ..." lines), then pg_ctl start without -w, then up to 60 s for
// the postmaster to have more than two child processes. Exit 0 started,
// 3 pg_ctl failed, 4 not running after 60 s.
const standbyScript = `set -u
gphome=$1 dir=$2 port=$3
shift 3
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
postmaster() {
	pm=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null) || return 0
	case $pm in ''|*[!0-9]*) return 0 ;; esac
	echo "$pm"
}
if [ -e "$dir/postmaster.pid" ]; then
	pm=$(postmaster)
	if alive "$pm" && "$gphome/bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		out=$("$gphome/bin/pg_ctl" -D "$dir" -m fast -w -t 120 stop 2>&1) || echo "cleanup: $out" | tr '\n' ' ' >&2
	else
		lock=/tmp/.s.PGSQL.$port.lock
		lockpid=$(sed -n 1p "$lock" 2>/dev/null)
		case $lockpid in ''|*[!0-9]*) lockpid= ;; esac
		alive "$lockpid" || rm -f "/tmp/.s.PGSQL.$port" "$lock" || echo "cleanup: cannot remove $lock" >&2
		rm -f "$dir/postmaster.pid" || echo "cleanup: cannot remove $dir/postmaster.pid" >&2
	fi
fi
"$@" || exit 3
n=0
while [ "$n" -lt 60 ]; do
	pm=$(postmaster)
	if alive "$pm" && [ "$(pgrep -P "$pm" | wc -l)" -gt 2 ]; then
		exit 0
	fi
	sleep 1
	n=$((n + 1))
done
exit 4
`

// standbyTimeout bounds the whole standby start (its own 60 s wait
// included).
const standbyTimeout = 5 * time.Minute

// startStandby is step 18; it reports whether a standby start was tried
// and failed.
func (s *starter) startStandby(ctx context.Context) bool {
	log := s.env.Log
	sb, ok := s.cluster.Standby()
	if !ok || !s.standbyOn {
		log.Info(fmt.Sprintf("No standby %s configured.  skipping...", s.coord))
		return false
	}
	log.Info("Starting standby " + s.coord)
	log.Info(fmt.Sprintf("Checking if standby %s is running on host: %s  in directory: %s", s.coord, sb.Hostname, sb.DataDir))
	st := pgcmd.Start{Flavour: s.flavour, GPHome: s.gphome, Kind: pgcmd.Standby, DataDir: sb.DataDir, Port: sb.Port,
		Era: s.era, Timeout: s.opts.Timeout, SpecialMode: s.opts.SpecialMode}
	log.Debug("Running Command: " + st.Display())
	c := remote.Command{Host: sb.Hostname, Script: standbyScript, Args: append([]string{s.gphome, sb.DataDir, strconv.Itoa(sb.Port)}, st.Argv()...),
		Label: "start standby " + s.coord, Timeout: standbyTimeout}
	r := s.router().Exec(ctx, c)
	for _, l := range strings.Split(r.Stderr, "\n") {
		if msg, ok := strings.CutPrefix(l, "cleanup: "); ok {
			log.Warn(fmt.Sprintf("Unable to cleanup previously started standby: '%s'", strings.TrimSpace(msg)))
		}
	}
	switch {
	case r.OK():
		return false
	case r.ExitCode == 4:
		log.Warn(fmt.Sprintf("Could not start standby %s", s.coord))
	case r.ExitCode == 3:
		log.Warn(fmt.Sprintf("Could not start standby %s: %s", s.coord, st.Display()))
		log.Debug("pg_ctl: " + strings.TrimSpace(r.Stdout+" "+r.Stderr))
	default:
		log.Warn(fmt.Sprintf("Could not start standby %s on %s: %s", s.coord, sb.Hostname, resultText(r)))
	}
	return true
}
