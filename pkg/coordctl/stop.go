// Package coordctl stops the coordinator on this host the way Greenplum's
// gpstop does (_stop_coordinator): gpstop uses it for the coordinator of a
// cluster it stops, and the cluster start (pkg/startup) for the coordinator
// it started in admin mode to read the catalog, where Greenplum runs a
// `gpstop -a -m`. It sits below both tools so that neither imports the
// other.
package coordctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// UserConnectionsSQL counts client sessions other than ours (gpstop's
// getUserConnectionInfo, counted).
const UserConnectionsSQL = "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid <> pg_backend_pid() AND datname IS NOT NULL"

// Stop says which coordinator to stop and how.
type Stop struct {
	GPHome  string
	Flavour cluster.Flavour
	// Coordinator is the coordinator's row; its data directory and port
	// are replaced by DataDir and Port, which the run read from its own
	// data directory.
	Coordinator cluster.Segment
	DataDir     string
	Port        int
	Mode        string // smart, fast or immediate
	Timeout     int    // pg_ctl -t, and smart mode's wait, in seconds
}

// Env is what a stop runs with: the local executor, the connector (smart
// mode counts the user sessions), the log, stdout (pg_ctl's words in smart
// mode, as Greenplum prints them) and the once-a-second ticker smart mode
// polls with.
type Env struct {
	Log     *slog.Logger
	Out     io.Writer
	Exec    remote.Executor
	Connect cluster.Connector
	Ticker  gplog.TickerFunc
}

// EnvOf returns the Env of a tool's app.Env.
func EnvOf(e *app.Env) Env {
	return Env{Log: e.Log, Out: e.Out, Exec: e.Exec, Connect: e.Connect, Ticker: e.Ticker}
}

// Run stops the coordinator as _stop_coordinator does: it remembers the
// coordinator's processes, stops it (smart: a no-wait stop and a poll of
// pg_ctl status once a second for Timeout seconds, then fast; fast and
// immediate: pg_ctl -w -t), then escalates and kills the remembered
// processes like gpsegstop, through segctl's per-host script. It returns
// the mode it ended with (smart turns into fast when the coordinator
// outlived the wait).
func (st Stop) Run(ctx context.Context, env Env) (mode string, err error) {
	log := env.Log
	word, title := st.Flavour.CoordinatorWord(), st.Flavour.CoordinatorTitle()
	mode = st.Mode
	co := st.Coordinator
	log.Info(fmt.Sprintf("Commencing %s instance shutdown with mode='%s'", title, mode))
	log.Info(fmt.Sprintf("%s segment instance directory=%s", title, st.DataDir))
	pidsCmd := segctl.PIDsCommand(co.Hostname, st.DataDir)
	log.Debug("Running Command: " + remote.CommandLine(pidsCmd))
	r := env.Exec.Exec(ctx, pidsCmd)
	pids, perr := segctl.ParsePIDs(r.Stdout)
	if r.Err != nil || perr != nil {
		log.Debug(fmt.Sprintf("could not list the %s's processes: %v %v", word, r.Err, perr))
	}
	log.Debug(fmt.Sprintf("Postgres processes running on %s host: %s", word, PyInts(pids)))
	if mode == "smart" {
		if mode, err = st.smart(ctx, env); err != nil {
			return mode, err
		}
	}
	log.Info(fmt.Sprintf("Attempting forceful termination of any leftover %s process", word))
	log.Info("Terminating processes for segment " + st.DataDir)
	co.DataDir, co.Port = st.DataDir, st.Port
	plan := segctl.PlanStop(segctl.Stop{GPHome: st.GPHome, Mode: mode, Timeout: st.Timeout, Batch: 1},
		[]segctl.Instance{{Segment: co, PIDs: pids}})
	log.Debug("Running Command: " + pgcmd.Display(st.GPHome, pgcmd.Stop(st.GPHome, st.DataDir, mode, true, st.Timeout)))
	res := env.Exec.Exec(ctx, plan[0].Command)
	out := segctl.Collect(plan, []remote.Result{res})[0]
	if !out.OK() {
		return mode, app.Errorf("failed to stop the %s instance in %s: %s", word, st.DataDir, out.Reason)
	}
	log.Debug(fmt.Sprintf("Successfully shutdown the %s instance in admin mode", title))
	return mode, nil
}

// smart is _stop_coordinator_smart: count the user sessions, send a
// no-wait smart stop, poll pg_ctl status once a second (env.Ticker) for
// Timeout seconds. If the coordinator is still up then, Greenplum asks
// whether to keep waiting or switch to fast or immediate; gpmgmt switches
// to fast. The wait ends early when ctx does.
func (st Stop) smart(ctx context.Context, env Env) (string, error) {
	log := env.Log
	word := st.Flavour.CoordinatorWord()
	log.Info(fmt.Sprintf("Stopping %s segment and waiting for user connections to finish ...", word))
	var sessions int
	cfg := cluster.ConnConfig{Port: st.Port, Flavour: st.Flavour, Utility: true}
	log.Debug(cluster.ConnectMessage(cfg))
	if conn, err := env.Connect(ctx, cfg); err == nil {
		if err := conn.QueryRow(ctx, UserConnectionsSQL).Scan(&sessions); err != nil {
			log.Debug("count user connections: " + err.Error())
		}
		_ = conn.Close(ctx) // a read-only session; nothing to lose
	} else {
		log.Debug("connect to count user connections: " + err.Error())
	}
	host := st.Coordinator.Hostname
	r := env.Exec.Exec(ctx, remote.Command{Host: host, Argv: pgcmd.StopNoWait(st.GPHome, st.DataDir, "smart"), Label: "stop " + word, Timeout: time.Minute})
	fmt.Fprint(env.Out, r.Stdout)
	if !r.OK() {
		return "smart", app.Errorf("pg_ctl stop smart failed: %s", strings.TrimSpace(r.Stderr))
	}
	ticker := env.Ticker
	if ticker == nil {
		ticker = gplog.RealTicker
	}
	ticks, stopTicks := ticker(time.Second)
	defer stopTicks()
	for waited := 0; ; waited++ {
		s := env.Exec.Exec(ctx, remote.Command{Host: host, Argv: pgcmd.Status(st.GPHome, st.DataDir), Label: "status of " + word, Timeout: time.Minute})
		switch s.ExitCode {
		case 3:
			return "smart", nil
		case 0:
		default:
			return "smart", app.Errorf("pg_ctl status failed with return code %d", s.ExitCode)
		}
		if waited >= st.Timeout {
			break
		}
		select {
		case <-ticks:
		case <-ctx.Done():
			return "smart", fmt.Errorf("wait for the %s to stop in smart mode: %w", word, ctx.Err())
		}
	}
	warn := fmt.Sprintf("Smart mode failed to shutdown the %s.\n", word)
	if sessions > 0 {
		warn += fmt.Sprintf("  There were %d user connections at the start of the shutdown. Note: These connections may be outdated.\n", sessions)
	}
	log.Warn(warn)
	log.Info("Continue waiting in smart mode, stop in fast mode, or stop in immediate mode.")
	log.Info("Your choice was 'f'")
	return "fast", nil
}

// PyInts prints ns as Python prints a list of ints: "[1, 2]".
func PyInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
