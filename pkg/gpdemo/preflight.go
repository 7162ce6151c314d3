package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// checkNotRoot refuses to run as root: PostgreSQL refuses it.
func checkNotRoot(env *Env) error {
	if env.Geteuid() != 0 {
		return nil
	}
	return &app.HintError{
		Err:  app.Errorf("gpdemo cannot run as root: PostgreSQL refuses to run as root"),
		Hint: "run it as the database owner, e.g. runuser -u gpadmin -- gpdemo " + strings.Join(env.Args, " "),
	}
}

// absDir returns dir made absolute and clean.
func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", app.Errorf("--dir %s: %w", dir, err)
	}
	return abs, nil
}

// checkDir accepts a missing dir whose parent exists, or an empty
// directory, and reports whether dir exists.
func checkDir(dir string) (exists bool, err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(dir)
		if pfi, perr := os.Stat(parent); perr != nil || !pfi.IsDir() {
			return false, app.Errorf("--dir %s: its parent directory %s does not exist", dir, parent)
		}
		return false, nil
	}
	if err != nil {
		return false, app.Errorf("--dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return false, app.Errorf("--dir %s exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, app.Errorf("--dir %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return false, app.Errorf("--dir %s is not empty: it holds %s", dir, listNames(entries))
	}
	return true, nil
}

// listNames names the first few entries: "a, b, c and 4 more".
func listNames(entries []fs.DirEntry) string {
	const show = 5
	var names []string
	for i, e := range entries {
		if i == show {
			break
		}
		names = append(names, e.Name())
	}
	s := strings.Join(names, ", ")
	if n := len(entries) - show; n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// gpHome returns the GPHOME to use (--gphome, else $GPHOME), made absolute.
func gpHome(env *Env, flag string) (string, error) {
	home := flag
	if home == "" {
		home = env.Getenv("GPHOME")
	}
	if home == "" {
		return "", app.Errorf("no GPHOME: pass --gphome or set GPHOME (source greenplum_path.sh)")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", app.Errorf("GPHOME %s: %w", home, err)
	}
	if err := cluster.CheckPath("GPHOME", abs); err != nil {
		return "", &app.ExpectedError{Err: err}
	}
	return abs, nil
}

// gpHomeFiles are the files gpdemo needs in a GPHOME.
var gpHomeFiles = []string{
	"bin/postgres", "bin/initdb", "bin/pg_ctl", "bin/psql", "bin/pg_basebackup",
	"lib/postgresql/gp_compat.so", "share/gp_compat/gp_compat.sql", "greenplum_path.sh",
}

// checkGPHome checks that home has the programs and files gpdemo runs and
// that its postgres answers --gp-version; it returns the version.
func checkGPHome(ctx context.Context, env *Env, home string) (cluster.Version, error) {
	var missing []string
	for _, f := range gpHomeFiles {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return cluster.Version{}, app.Errorf("GPHOME %s is not usable: missing %s", home, strings.Join(missing, ", "))
	}
	v, err := cluster.LocalVersion(ctx, env.Exec, home)
	if err != nil {
		return cluster.Version{}, app.Errorf("GPHOME %s: %s/bin/postgres --gp-version: %w", home, home, err)
	}
	return v, nil
}

// resolveHosts looks every host up and returns its addresses, sorted. A
// host that does not resolve, or resolves to an address that is not a
// loopback one, is refused: every gpdemo host is an address of this machine.
func resolveHosts(ctx context.Context, env *Env, hosts []string) (map[string][]string, error) {
	addrs := map[string][]string{}
	var errs []error
	for _, h := range hosts {
		if _, done := addrs[h]; done {
			continue
		}
		got, err := env.LookupHost(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("host %s does not resolve: %w", h, err))
			continue
		}
		slices.Sort(got)
		got = slices.Compact(got)
		for _, a := range got {
			if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
				errs = append(errs, fmt.Errorf("host %s resolves to %s, not a loopback address: every gpdemo host is an address of this machine", h, a))
			}
		}
		addrs[h] = got
	}
	if len(errs) > 0 {
		return nil, &app.ExpectedError{Err: errors.Join(errs...)}
	}
	return addrs, nil
}

// checkPorts checks that no planned port is taken: a TCP bind on each
// address the instance will listen on, and no live socket or lock file in
// /tmp, which every instance shares whatever its address. A lock file
// whose process is gone (a server killed -9) is stale: PostgreSQL replaces
// it, and so it does not count.
func checkPorts(p Plan) error {
	var errs []error
	for _, in := range p.Instances {
		where := fmt.Sprintf("port %d of the %s on %s", in.Port, in.Label(), in.Hostname)
		if f, busy := socketBusy(in.Port); busy {
			errs = append(errs, fmt.Errorf("%s is in use: %s exists", where, f))
		}
		for _, a := range in.Listen {
			l, err := net.Listen("tcp", net.JoinHostPort(a, fmt.Sprint(in.Port)))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s is in use: %w", where, err))
				continue
			}
			_ = l.Close() // a listener that was only a probe
		}
	}
	if len(errs) > 0 {
		return &app.ExpectedError{Err: errors.Join(errs...)}
	}
	return nil
}

// socketBusy reports whether port's lock file in /tmp names a live
// process (an unreadable one counts as live), or, without a lock file,
// whether its socket accepts connections; f is the file that says so.
func socketBusy(port int) (f string, busy bool) {
	lock := socketPath(port) + ".lock"
	if b, err := os.ReadFile(lock); err == nil || !errors.Is(err, fs.ErrNotExist) {
		first, _, _ := strings.Cut(string(b), "\n")
		pid, perr := strconv.Atoi(strings.TrimSpace(first))
		return lock, perr != nil || pid <= 0 || processAlive(pid)
	}
	if c, err := net.DialTimeout("unix", socketPath(port), time.Second); err == nil {
		_ = c.Close() // only a probe
		return socketPath(port), true
	}
	return "", false
}

// processAlive reports whether pid is a process that is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: kill said it exists
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// socketPath is the Unix socket of port in /tmp, where the demo's servers
// and Greenplum's lock-file checks look.
func socketPath(port int) string {
	return filepath.Join(cluster.DefaultSocketDir, fmt.Sprintf(".s.PGSQL.%d", port))
}

// checkSSH verifies the remote hosts' keys (listing each unknown one with
// the ssh-keyscan line that fixes it) and runs the GPHOME check on each.
func checkSSH(ctx context.Context, env *Env, ex remote.HostExecutor, p Plan) error {
	hosts := p.RemoteHosts()
	if len(hosts) == 0 {
		return nil
	}
	if err := ex.CheckHostKeys(ctx, hosts); err != nil {
		return &app.HintError{Err: &app.ExpectedError{Err: err},
			Hint: "add the keys to ~/.ssh/known_hosts as shown, or pass --local to run without SSH"}
	}
	res := runCommands(ctx, env, ex, PreflightCommands(p))
	if err := failures(res); err != nil {
		return app.Errorf("segment hosts are not ready: %w", err)
	}
	return nil
}

// toolsDir returns the directory of the management tools that the env
// file puts first in PATH: dir when given, which must hold gpstate; else
// gpdemo's own directory when gpstate is beside it (make build and the
// tests build every tool into one directory); else "" with a warning, and
// the env file leaves PATH's tools as they are.
func toolsDir(env *Env, dir string) (string, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", app.Errorf("--tools-dir %s: %w", dir, err)
		}
		if !isExecutable(filepath.Join(abs, "gpstate")) {
			return "", app.Errorf("--tools-dir %s: no gpstate there; give the directory make build fills (bin/ of the checkout)", dir)
		}
		return abs, nil
	}
	exe, err := env.Executable()
	if err == nil && isExecutable(filepath.Join(filepath.Dir(exe), "gpstate")) {
		return filepath.Dir(exe), nil
	}
	env.Log.Warn("gpstate is not beside gpdemo: the env file leaves the management tools in PATH as they are (--tools-dir names them)")
	return "", nil
}

// isExecutable reports whether path is a regular file someone may run.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
