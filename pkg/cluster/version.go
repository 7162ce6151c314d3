package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"time"
)

// String names the flavour as the docs do.
func (f Flavour) String() string {
	switch f {
	case GP6:
		return "Greenplum 6"
	case GP7:
		return "Greenplum 7"
	case Cloudberry:
		return "Cloudberry"
	}
	return "unknown"
}

// Version is a Greenplum-family server version.
type Version struct {
	Flavour             Flavour // FlavourUnknown for releases the tools do not support (4.x, 5.x, 8+)
	Product             string  // "Greenplum Database", "Cloudberry Database", "Apache Cloudberry"
	Major, Minor, Patch int
	Raw                 string // the whole input, trimmed
}

// String returns major.minor.patch.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Release returns major.minor, the form Greenplum's compatibility error uses.
func (v Version) Release() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// versionRE finds the product and number in both `postgres --gp-version`
// output ("postgres (Greenplum Database) 6.24.3 build commit:...") and
// version() ("PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build ...)").
var versionRE = regexp.MustCompile(`\((Greenplum Database|Cloudberry Database|Apache Cloudberry)\)? ?(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseGPVersion parses the output of `postgres --gp-version`, e.g.
//
//	postgres (Greenplum Database) 6.24.3 build commit:25d3498a...
//	postgres (Greenplum Database) 7.1.0 build commit:...
//	postgres (Cloudberry Database) 1.6.0 build 1
//	postgres (Apache Cloudberry) 2.0.0-incubating build dev
//
// or of select version(). Greenplum 6 and 7 map to GP6 and GP7, any
// Cloudberry to Cloudberry; other Greenplum majors give FlavourUnknown and
// no error, so read-only tools may still report them.
func ParseGPVersion(out string) (Version, error) {
	raw := strings.TrimSpace(out)
	m := versionRE.FindStringSubmatch(raw)
	if m == nil {
		return Version{}, fmt.Errorf("unrecognised Greenplum version %q", Visible(raw))
	}
	v := Version{Product: m[1], Raw: raw}
	for i, n := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if m[i+2] == "" {
			continue // no patch number
		}
		var err error
		if *n, err = strconv.Atoi(m[i+2]); err != nil {
			return Version{}, fmt.Errorf("unrecognised Greenplum version %q: %w", Visible(raw), err)
		}
	}
	switch {
	case strings.Contains(v.Product, "Cloudberry"):
		v.Flavour = Cloudberry
	case v.Major == 6:
		v.Flavour = GP6
	case v.Major == 7:
		v.Flavour = GP7
	}
	return v, nil
}

// VersionCommand is the local command that prints the installed version.
func VersionCommand(gphome string) remote.Command {
	return remote.Command{
		Host:  "localhost",
		Argv:  []string{filepath.Join(gphome, "bin", "postgres"), "--gp-version"},
		Label: "local version",
		// A binary on a hung file system must not hang the tool.
		Timeout: 30 * time.Second,
	}
}

// LocalVersion runs $GPHOME/bin/postgres --gp-version through exec (the
// local executor) and parses its trimmed output. This is how the tools learn
// the flavour before the first connection.
func LocalVersion(ctx context.Context, exec remote.Executor, gphome string) (Version, error) {
	res := exec.Exec(ctx, VersionCommand(gphome))
	if !res.OK() {
		err := res.Err
		if err == nil {
			err = fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(res.Stderr))
		}
		return Version{}, fmt.Errorf("get local version: %w", err)
	}
	v, err := ParseGPVersion(res.Stdout)
	if err != nil {
		return Version{}, fmt.Errorf("get local version: %w", err)
	}
	return v, nil
}

// FlavourFromVersionNum maps gp_server_version_num to a flavour: 60000..69999
// is GP6, 70000 and above GP7. Cloudberry reports GP7-style numbers and is
// told apart only by its version string (ParseGPVersion).
func FlavourFromVersionNum(n int) Flavour {
	switch {
	case n >= 60000 && n < 70000:
		return GP6
	case n >= 70000:
		return GP7
	}
	return FlavourUnknown
}

// ServerVersionNumSQL reads the server's Greenplum version number.
const ServerVersionNumSQL = "SELECT pg_catalog.current_setting('gp_server_version_num')"

// ServerVersionNum returns the server's gp_server_version_num, within
// QueryTimeout.
func ServerVersionNum(ctx context.Context, q Querier) (int, error) {
	qctx, cancel := WithQueryTimeout(ctx)
	defer cancel()
	var s string
	if err := q.QueryRow(qctx, ServerVersionNumSQL).Scan(&s); err != nil {
		return 0, fmt.Errorf("read gp_server_version_num: %w", queryErr(qctx, err))
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("read gp_server_version_num: %q is not a number", s)
	}
	return n, nil
}

// ServerVersionSQL is the statement whose result the tools log as the
// coordinator's version (spec Appendix A).
const ServerVersionSQL = "select version();"

// ServerVersion returns the coordinator's version() string, within
// QueryTimeout.
func ServerVersion(ctx context.Context, q Querier) (string, error) {
	qctx, cancel := WithQueryTimeout(ctx)
	defer cancel()
	var s string
	if err := q.QueryRow(qctx, ServerVersionSQL).Scan(&s); err != nil {
		return "", fmt.Errorf("read server version: %w", queryErr(qctx, err))
	}
	return s, nil
}

// CheckCompatible is GP6's major-version check before loading the catalog
// (spec §1.7): the server's major version must equal the installed one.
// The error reads "Cannot connect to GPDB version <x> from installed
// version <y>".
func CheckCompatible(installed, server Version) error {
	if installed.Major != server.Major || installed.Product != server.Product {
		return fmt.Errorf("Cannot connect to GPDB version %s from installed version %s", server.Release(), installed.Release())
	}
	return nil
}
