package gpstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
)

// Health mode's bounds on the coordinator: the connect timeout when
// --timeout is not given, and the time Open may take beyond its connect
// attempts. Hosts are bounded by hostTimeout. A check never hangs.
const (
	healthConnectTimeout = 10 * time.Second
	healthOpenSlack      = 30 * time.Second
)

// runHealth is gpstate --health: the prelude and the status of every
// instance, as -s gathers them, judged by CheckHealth; it prints the
// verdict lines on stdout, logs them and everything else to the log file
// only, and exits with the verdict's code. A coordinator that is down is a
// verdict, not an error.
func runHealth(ctx context.Context, env *app.Env, opts *Options) error {
	// env logs to the log file only (opts.MachineOutput, set before
	// logging started): stdout is the report's.
	h, _ := diagnoseHealth(ctx, env, opts)
	if err := ctx.Err(); err != nil {
		return err // interrupted: Main says so and exits 2
	}
	logHealth(env.Log, h)
	if _, err := io.WriteString(env.Out, h.Text()); err != nil {
		return fmt.Errorf("write health report: %w", err)
	}
	if code := h.Verdict.ExitCode(); code != 0 {
		return &app.ExitError{Code: code}
	}
	return nil
}

// diagnoseHealth runs the prelude and the gathering with env (whose log is the
// log file only) and judges the result. Failures of the prelude are
// verdicts: CRITICAL when the coordinator is stopped, cannot be connected
// to, or its catalog cannot be read; UNKNOWN when the check cannot start
// (GPHOME, the data directory, the installed binaries, ssh). It also
// returns the report judged (--metrics renders it), nil when the prelude
// or the gathering failed; its coordinator connection is closed.
func diagnoseHealth(ctx context.Context, shared *app.Env, opts *Options) (HealthReport, *report) {
	// A copy of the Env whose connector notes whether the coordinator
	// was dialled and answered: that tells a coordinator that is down from
	// a check that could not start. The shared Env is left as it was.
	dialed, connected := false, false
	env := new(app.Env)
	*env = *shared
	env.Connect = func(ctx context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		dialed = true
		conn, err := shared.Connect(ctx, cfg)
		connected = err == nil
		return conn, err
	}
	timeout := opts.connectTimeout()
	if timeout <= 0 {
		timeout = healthConnectTimeout
	}
	octx, cancel := context.WithTimeout(ctx, timeout*time.Duration(max(opts.Retries, 1))+healthOpenSlack)
	co, err := coordinator.Open(octx, env, coordinator.Options{DataDir: opts.DataDir, Utility: true,
		ConnectTimeout: timeout, Retries: opts.Retries, UnsafePaths: coordinator.WarnUnsafe})
	cancel()
	if err != nil {
		env.Log.Error(env.Prog + " error: " + err.Error())
		if hint := (*app.HintError)(nil); errors.As(err, &hint) {
			env.Log.Error("Hint: " + hint.Hint)
		}
		switch {
		case errors.Is(err, cluster.ErrStopped), dialed && !connected:
			return HealthReport{Verdict: VerdictCritical, Summary: "coordinator down: " + err.Error()}, nil
		case connected:
			return HealthReport{Verdict: VerdictCritical, Summary: "cannot read the catalog: " + err.Error()}, nil
		}
		return HealthReport{Verdict: VerdictUnknown, Summary: "cannot check the cluster: " + err.Error()}, nil
	}
	defer func() {
		if err := co.Close(ctx); err != nil {
			env.Log.Warn("close coordinator connection: " + err.Error())
		}
	}()
	r := &report{env: env, opts: opts, co: co, st: &Status{Flavour: co.Flavour(), Cluster: co.Cluster, DataDir: co.DataDir, Port: co.Port}}
	req, announce, _ := gathers(ModeHealth, co.Cluster)
	if err := r.gather(ctx, req, announce); err != nil {
		env.Log.Error(env.Prog + " error: " + err.Error())
		return HealthReport{Verdict: VerdictUnknown, Summary: "cannot check the segments: " + err.Error()}, nil
	}
	return CheckHealth(r.st), r
}

// logHealth writes the verdict lines to log: the status line at INFO, the
// problems at WARNING.
func logHealth(log *slog.Logger, h HealthReport) {
	for i, l := range h.Lines() {
		if i == 0 {
			log.Info("Health: " + l)
		} else {
			log.Warn(l)
		}
	}
}
