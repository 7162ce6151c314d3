package gpdemo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// parseCreate parses args as gpdemo's and returns the create options after
// Validate.
func parseCreate(t *testing.T, args ...string) (*CreateOptions, error) {
	t.Helper()
	env, _, _ := apptest.Env(t, "gpdemo")
	var got *CreateOptions
	cmd := NewCommand(&Env{Env: env}, func(o *CreateOptions) error {
		got = o
		return o.Validate()
	}, nil)
	cmd.SetArgs(append([]string{"create"}, args...))
	return got, cmd.Execute()
}

func TestCreateFlags(t *testing.T) {
	got, err := parseCreate(t, "--dir", "/d", "--hosts", "3", "--primaries-per-host", "1", "--standby",
		"--port-base", "20100", "--local", "--gphome", "/g", "-v")
	if err != nil {
		t.Fatal(err)
	}
	want := CreateOptions{Dir: "/d", Hosts: 3, PrimariesPerHost: 1, Standby: true, PortBase: 20100, Local: true,
		GPHome: "/g", Mirrors: MirrorsNone, HostsGiven: true, CommonOptions: app.CommonOptions{Verbose: true}}
	if d := cmp.Diff(want, *got, cmpopts.IgnoreUnexported(app.CommonOptions{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	got, err = parseCreate(t, "--dir", "/d", "--host-names", "a,b", "--host-names", "c")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "b", "c"}, got.segmentHostNames()); d != "" || got.HostsGiven || got.PortBase != DefaultPortBase {
		t.Errorf("--host-names: %s, hosts given %t, port base %d", d, got.HostsGiven, got.PortBase)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--dir is required"},
		{[]string{"--dir", "/d", "-d", "/data"}, "-d is not a gpdemo option: give the demo directory with --dir"},
		{[]string{"--dir", "/d", "--hosts", "0"}, "--hosts 0: need at least 1 segment host"},
		{[]string{"--dir", "/d", "--hosts", "-2"}, "--hosts -2: need at least 1 segment host"},
		{[]string{"--dir", "/d", "--primaries-per-host", "0"}, "--primaries-per-host 0: need at least 1 primary per host"},
		{[]string{"--dir", "/d", "--port-base", "80"}, "--port-base 80: ports below 1024 need root, which PostgreSQL refuses to run as"},
		{[]string{"--dir", "/d", "--port-base", "65533"}, "--port-base 65533: the cluster needs ports 65533..65538, beyond 65535"},
		{[]string{"--dir", "/d", "--port-base", "65530", "--standby"}, ""},
		{[]string{"--dir", "/d", "--port-base", "65531"}, "--port-base 65531: the cluster needs ports 65531..65536, beyond 65535"},
		{[]string{"--dir", "/d", "--host-names", "a,a"}, "--host-names: a is given twice"},
		{[]string{"--dir", "/d", "--host-names", "a,,b"}, "--host-names: empty host name"},
		{[]string{"--dir", "/d", "--host-names", "a/b"}, `--host-names: "a/b" is not a valid host name`},
		{[]string{"--dir", "/d", "--host-names", "-x"}, `--host-names: "-x" is not a valid host name`},
		{[]string{"--dir", "/d", "--host-names", "a", "--standby"}, "--standby with --host-names needs one more name than segment hosts: the last name is the standby host"},
		{[]string{"--dir", "/d", "--host-names", "a,b", "--hosts", "3"}, "--hosts 3 disagrees with --host-names, which names 2 segment hosts"},
		{[]string{"--dir", "/d", "--host-names", "a,b,s", "--hosts", "2", "--standby"}, ""},
		{[]string{"--dir", "/d", "extra"}, "too many arguments: only options may be specified"},
		{[]string{"--dir", "/d/my demo"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseCreate(t, tt.args...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for args, want := range map[string]string{
		"create --hosts x": "option --hosts: invalid integer value: 'x'",
		"create --nope":    "no such option: --nope",
		"bogus":            "unknown command bogus: use create or destroy",
		"":                 "a command is required: create or destroy",
	} {
		env, _, _ := apptest.Env(t, "gpdemo")
		cmd := NewCommand(&Env{Env: env}, func(*CreateOptions) error { return nil }, nil)
		cmd.SetArgs(strings.Fields(args))
		if err := cmd.Execute(); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", args, err, want)
		}
	}
}

// TestRefusesRoot runs gpdemo through app.Main with an injected uid 0.
func TestRefusesRoot(t *testing.T) {
	for _, sub := range []string{"create", "destroy"} {
		env, stdout, _ := apptest.Env(t, "gpdemo", sub, "--dir", t.TempDir())
		e := &Env{Env: env, Geteuid: func() int { return 0 }}
		code := app.Main(NewCommand(e, nil, nil), env)
		out := stdout.String()
		if code != 2 || !strings.Contains(out, "[ERROR]:-gpdemo error: gpdemo cannot run as root: PostgreSQL refuses to run as root\n") ||
			!strings.Contains(out, "[ERROR]:-Hint: run it as the database owner, e.g. runuser -u gpadmin -- gpdemo "+sub+" --dir ") {
			t.Errorf("%s: exit %d, output:\n%s", sub, code, out)
		}
	}
}

// TestDestroyRefusesForeignDir: a directory without a manifest is never removed.
func TestDestroyRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, _ := apptest.Env(t, "gpdemo")
	e := &Env{Env: env, Geteuid: func() int { return 1001 }}
	err := Destroy(context.Background(), e, &DestroyOptions{Dir: dir})
	want := dir + " has no gpdemo.json: it was not made by gpdemo create (or is already destroyed); refusing to remove it"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatal(err)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	if exists, err := checkDir(dir); err != nil || !exists {
		t.Errorf("empty dir: %t %v", exists, err)
	}
	if exists, err := checkDir(filepath.Join(dir, "new")); err != nil || exists {
		t.Errorf("missing dir: %t %v", exists, err)
	}
	if _, err := checkDir(filepath.Join(dir, "a", "b")); err == nil || err.Error() != "--dir "+dir+"/a/b: its parent directory "+dir+"/a does not exist" {
		t.Errorf("missing parent: %v", err)
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := checkDir(dir); err == nil || err.Error() != "--dir "+dir+" is not empty: it holds a, b, c, d, e and 2 more" {
		t.Errorf("non-empty dir: %v", err)
	}
}

func TestResolveHosts(t *testing.T) {
	env, _, _ := apptest.Env(t, "gpdemo")
	e := &Env{Env: env, LookupHost: func(_ context.Context, h string) ([]string, error) {
		switch h {
		case "sdw1":
			return []string{"127.0.60.1", "127.0.60.1"}, nil
		case "far":
			return []string{"10.1.2.3"}, nil
		}
		return nil, errors.New("no such host")
	}}
	got, err := resolveHosts(context.Background(), e, []string{"sdw1", "sdw1"})
	if err != nil || !cmp.Equal(got, map[string][]string{"sdw1": {"127.0.60.1"}}) {
		t.Errorf("got %v %v", got, err)
	}
	_, err = resolveHosts(context.Background(), e, []string{"sdw1", "nohost", "far"})
	want := "host nohost does not resolve: no such host\n" +
		"host far resolves to 10.1.2.3, not a loopback address: every gpdemo host is an address of this machine"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestCheckGPHome: a GPHOME without PostgreSQL's programs is refused
// before anything runs.
func TestCheckGPHome(t *testing.T) {
	env, _, _ := apptest.Env(t, "gpdemo")
	env.Exec = remote.LocalExecutor{}
	home := t.TempDir()
	_, err := checkGPHome(context.Background(), &Env{Env: env}, home)
	want := "GPHOME " + home + " is not usable: missing bin/postgres, bin/initdb, bin/pg_ctl, bin/psql, bin/pg_basebackup, lib/postgresql/gp_compat.so, share/gp_compat/gp_compat.sql, greenplum_path.sh"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
