package gpstate

import (
	"context"
	"fmt"
	"io"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// runMetrics is gpstate --metrics (an addition): what --health judges and
// --json shows, as Prometheus gauges in the text format that
// node_exporter's textfile collector reads (docs/monitoring.md). Like
// --health it logs to the log file only and takes a coordinator that is
// down for a state to report, not an error; unlike it, it exits 0
// whenever the metrics were written, so that a cron job replaces the
// textfile on every run (the verdict is a gauge). It exits 2 when
// interrupted or when stdout cannot be written.
func runMetrics(ctx context.Context, env *app.Env, opts *Options) error {
	started := env.Now()
	h, r := diagnoseHealth(ctx, env, opts)
	if err := ctx.Err(); err != nil {
		return err // interrupted: Main says so and exits 2
	}
	logHealth(env.Log, h)
	in := metricsInput{health: h, started: started}
	if r != nil {
		in.st = r.st
		if errorsRecoveryRunning(r.st.Flavour, r.st.DataDir) {
			in.progress = r.errorsRecoveryProgress()
		}
	}
	in.took = env.Now().Sub(started)
	if _, err := io.WriteString(env.Out, writeMetrics(metricsFamilies(in))); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}
