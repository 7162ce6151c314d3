//go:build integration

package coordinator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/compat/compattest/bed"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// realEnv is an Env for gpstate with the real local executor and
// connector, the compat GPHOME and coordinator data directory in its
// environment, and a console of INFO lines in the returned buffer.
func realEnv(t *testing.T, b *bed.Bed) (*app.Env, *bytes.Buffer) {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstate")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelInfo}))
	vars := map[string]string{
		"GPHOME":                     b.GPHome,
		"COORDINATOR_DATA_DIRECTORY": b.Coord.Dir,
		"USER":                       b.User,
	}
	env.Getenv = func(k string) string { return vars[k] }
	env.Exec = remote.LocalExecutor{}
	env.Connect = cluster.Dialer{Getenv: env.Getenv}.Connect
	return env, out
}

func openReal(t *testing.T, env *app.Env, opts coordinator.Options) (*coordinator.Coordinator, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := coordinator.Open(ctx, env, opts)
	if err == nil {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	return c, err
}

// catalogExec runs sql in template1 of the coordinator with
// allow_system_table_mods, in a utility session when the coordinator runs
// in utility mode.
func catalogExec(t *testing.T, b *bed.Bed, utility bool, sql string, args ...any) {
	t.Helper()
	opts := "-c allow_system_table_mods=true"
	if utility {
		opts += " -c gp_role=utility"
	}
	conn := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": opts})
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// logLine matches a log line of our gpstate on the fixed clock, pid and host
// of apptest.Env, whatever the message.
var logLine = regexp.MustCompile(`^20261123:18:54:19:016262 gpstate:mdw:gpadmin-\[(INFO|DEBUG|WARNING|ERROR)\]:-`)

func TestOpenCompatCoordinator(t *testing.T) {
	b := bed.New(t) // coordinator in utility mode, catalog bootstrapped
	p1 := bed.Instance{Dir: filepath.Join(b.Root, "p1"), Port: bed.FreePort(t), DBID: 3, Content: 1}

	// Registration as gpinitsystem does it, in a utility session: the
	// coordinator and two primaries (p1 is never created: Open does not
	// contact segments).
	conn := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
	for _, in := range []bed.Instance{b.Coord, b.Primary, p1} {
		if _, err := conn.Exec(t.Context(), `SELECT pg_catalog.gp_add_segment($1::int2, $2::int2, 'p', 'p', 'n', 'u', $3, 'cdw', '127.0.0.1', $4)`,
			in.DBID, in.Content, in.Port, in.Dir); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.Close(t.Context())
	seg := func(in bed.Instance, role cluster.Role, mode cluster.Mode, status cluster.Status) cluster.Segment {
		return cluster.Segment{DBID: in.DBID, ContentID: in.Content, Role: role, PreferredRole: role, Mode: mode, Status: status,
			Hostname: "cdw", Address: "127.0.0.1", Port: in.Port, DataDir: in.Dir}
	}
	registered := []cluster.Segment{
		seg(b.Coord, cluster.RolePrimary, cluster.ModeNotSynced, cluster.StatusUp),
		seg(b.Primary, cluster.RolePrimary, cluster.ModeNotSynced, cluster.StatusUp),
		seg(p1, cluster.RolePrimary, cluster.ModeNotSynced, cluster.StatusUp),
	}

	t.Run("utility coordinator, utility connection, log file", func(t *testing.T) {
		env, out := realEnv(t, b)
		logDir := filepath.Join(t.TempDir(), "gpAdminLogs")
		if err := env.SetupLogging(&app.CommonOptions{LogDir: logDir}); err != nil {
			t.Fatal(err)
		}
		c, err := openReal(t, env, coordinator.Options{Utility: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(registered, c.Cluster.All()); d != "" {
			t.Errorf("loaded cluster (-want +got):\n%s", d)
		}
		if !c.State.Utility || c.Flavour() != cluster.GP7 || c.Port != b.Coord.Port || c.DataDir != b.Coord.Dir || c.GPHome != b.GPHome {
			t.Errorf("coordinator %+v", *c)
		}
		localVersion := strings.TrimSpace(b.Run(t, "postgres", "--gp-version"))
		serverVersion := b.RunEnv(t, []string{"PGOPTIONS=-c gp_role=utility"}, "psql", "-X", "-At", "-p", fmt.Sprint(b.Coord.Port), "-d", "template1", "-c", "select version();")
		want := []string{
			"[INFO]:-Starting gpstate with args: ",
			"[INFO]:-local Greenplum Version: '" + localVersion + "'",
			"[INFO]:-coordinator Greenplum Version: '" + strings.TrimSpace(serverVersion) + "'",
			"[INFO]:-Obtaining Segment details from coordinator...",
		}
		if c.Local.Raw != localVersion {
			t.Errorf("local version %q, want %q", c.Local.Raw, localVersion)
		}
		checkLines(t, "console", out.String(), want)
		// The log file: the same lines (INFO without -v), and no others.
		file := bed.ReadFile(t, filepath.Join(logDir, gplog.FileName("gpstate", apptest.At)))
		checkLines(t, "log file", file, want)
	})

	// A coordinator started normally (as gprecoverseg and gpaddmirrors
	// require): Open with a dispatch connection, and with a utility one.
	b.Stop(t, b.Coord.Dir)
	b.Start(t, b.Coord.Dir, "-c gp_role=dispatch")

	for _, utility := range []bool{false, true} {
		t.Run(fmt.Sprintf("dispatch coordinator, utility connection %t", utility), func(t *testing.T) {
			env, out := realEnv(t, b)
			c, err := openReal(t, env, coordinator.Options{Utility: utility})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(registered, c.Cluster.All()); d != "" {
				t.Errorf("loaded cluster (-want +got):\n%s", d)
			}
			if c.State.Utility {
				t.Error("State.Utility on a dispatch coordinator")
			}
			// The connection is the one asked for.
			var role string
			if err := c.Conn.QueryRow(t.Context(), "SHOW gp_role").Scan(&role); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "dispatch", true: "utility"}[utility]; role != want {
				t.Errorf("session gp_role = %s, want %s", role, want)
			}
			if !strings.Contains(out.String(), "-coordinator Greenplum Version: 'PostgreSQL 15") {
				t.Errorf("console:\n%s", out)
			}
		})
	}

	// A bad pair state: content 0 primary synced, its mirror down and
	// synced (u,s,d,s). The mirror (dbid 4) is never created.
	m0 := bed.Instance{Dir: filepath.Join(b.Root, "m0"), Port: bed.FreePort(t), DBID: 4, Content: 0}
	catalogExec(t, b, false, `SELECT pg_catalog.gp_add_segment($1::int2, $2::int2, 'm', 'm', 'n', 'd', $3, 'cdw', '127.0.0.1', $4)`,
		m0.DBID, m0.Content, m0.Port, m0.Dir)
	catalogExec(t, b, false, `UPDATE pg_catalog.gp_segment_configuration SET mode = 's' WHERE content = 0`)
	broken := []cluster.Segment{
		registered[0],
		seg(b.Primary, cluster.RolePrimary, cluster.ModeSynced, cluster.StatusUp),
		seg(m0, cluster.RoleMirror, cluster.ModeSynced, cluster.StatusDown),
		registered[2],
	}

	t.Run("dispatch coordinator validates pairs", func(t *testing.T) {
		env, _ := realEnv(t, b)
		_, err := openReal(t, env, coordinator.Options{})
		const want = "Invalid GpArray: content 0: invalid pair state (u,s,d,s) (primary dbid 2, mirror dbid 4)"
		var expected *app.ExpectedError
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &expected) {
			t.Fatalf("err = %v, want an ExpectedError starting %q", err, want)
		}
	})

	b.Stop(t, b.Coord.Dir)
	b.Start(t, b.Coord.Dir, "-c gp_role=utility")

	t.Run("utility coordinator skips pair validation", func(t *testing.T) {
		env, _ := realEnv(t, b)
		c, err := openReal(t, env, coordinator.Options{Utility: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(broken, c.Cluster.All()); d != "" {
			t.Errorf("loaded cluster (-want +got):\n%s", d)
		}
		if !c.State.Utility {
			t.Error("State.Utility = false")
		}
	})

	b.Stop(t, b.Coord.Dir)

	t.Run("stopped coordinator", func(t *testing.T) {
		env, _ := realEnv(t, b)
		_, err := openReal(t, env, coordinator.Options{Utility: true})
		var hint *app.HintError
		if err == nil || err.Error() != "Greenplum database appears to be stopped" || !errors.As(err, &hint) ||
			hint.Hint != "no postmaster.pid in "+b.Coord.Dir+": start the cluster with gpstart" {
			t.Fatalf("err = %v (%#v)", err, hint)
		}
	})
}

// checkLines compares text's log lines, their fixed prefix checked and
// removed, with want.
func checkLines(t *testing.T, what, text string, want []string) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !logLine.MatchString(line) {
			t.Errorf("%s: not a gpstate log line: %q", what, line)
			continue
		}
		got = append(got, line[strings.Index(line, "["):])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s lines (-want +got):\n%s", what, d)
	}
}
