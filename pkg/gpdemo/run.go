package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// connectTimeout bounds each connection to the coordinator.
const connectTimeout = 15 * time.Second

// localRouter runs every command locally until SSH is set up (--local
// keeps it so: all hosts are this host's addresses), the coordinator's
// host's always.
func localRouter(env *Env, coordinatorHost string) remote.Router {
	return remote.Router{Local: env.Exec, Remote: env.Exec, LocalHosts: []string{coordinatorHost}}
}

// runSteps runs steps in order and stops at the first that fails.
func runSteps(ctx context.Context, env *Env, ex remote.Executor, p Plan, steps []Step) error {
	for i, s := range steps {
		env.Log.Info(fmt.Sprintf("Step %d of %d: %s", i+1, len(steps), s.Name))
		if err := runStep(ctx, env, ex, p, s); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}

// runStep runs one step: its commands in parallel, or its statements in
// one transaction on the coordinator.
func runStep(ctx context.Context, env *Env, ex remote.Executor, p Plan, s Step) error {
	if len(s.Statements) > 0 {
		return execCatalog(ctx, env, p, s.Statements)
	}
	return failures(runCommands(ctx, env, ex, s.Commands))
}

// runCommands runs cmds in parallel (one per host) and logs each
// instance's result line.
func runCommands(ctx context.Context, env *Env, ex remote.Executor, cmds []remote.Command) []remote.Result {
	res := remote.Runner{Exec: ex, Limit: remote.DefaultLimit}.Run(ctx, cmds)
	for _, r := range res {
		for _, line := range strings.Split(r.Stdout, "\n") {
			if rest, ok := strings.CutPrefix(line, resultTag+" "); ok {
				env.Log.Debug(fmt.Sprintf("%s: dbid %s", r.Command.Host, rest))
			}
		}
	}
	return res
}

// failures is remote.Failures, with the instances that failed named first
// from the scripts' result lines.
func failures(res []remote.Result) error {
	err := remote.Failures(res)
	if err == nil {
		return nil
	}
	var failed []string
	for _, r := range res {
		for _, line := range strings.Split(r.Stdout, "\n") {
			rest, ok := strings.CutPrefix(line, resultTag+" ")
			if !ok {
				continue
			}
			dbid, what, _ := strings.Cut(rest, " ")
			if _, aerr := strconv.Atoi(dbid); aerr == nil && strings.HasPrefix(what, "failed") {
				failed = append(failed, fmt.Sprintf("dbid %s on %s %s", dbid, r.Command.Host, what))
			}
		}
	}
	if len(failed) == 0 {
		return err
	}
	return fmt.Errorf("%s\n%w", strings.Join(failed, "\n"), err)
}

// execCatalog runs stmts in one transaction on the coordinator, in a
// utility session of template1 as gpinitsystem does.
func execCatalog(ctx context.Context, env *Env, p Plan, stmts []cluster.Statement) (err error) {
	cfg := cluster.ConnConfig{
		Port: p.Coordinator().Port, Database: cluster.DefaultDatabase,
		Flavour: cluster.GP7, Utility: true, ConnectTimeout: connectTimeout,
	}
	env.Log.Debug(cluster.ConnectMessage(cfg))
	conn, err := env.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close coordinator connection: %w", cerr))
		}
	}()
	for _, s := range stmts {
		env.Log.Debug(s.String())
	}
	return cluster.ExecInTx(ctx, conn, stmts)
}
