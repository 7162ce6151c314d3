package gpdemo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Defaults of gpdemo create.
const (
	DefaultHosts            = 2
	DefaultPrimariesPerHost = 2
	DefaultPortBase         = 7000
)

// lowestPort is the lowest port base accepted: ports below it need root,
// which PostgreSQL refuses to run as.
const lowestPort = 1024

// CreateOptions are the options of gpdemo create.
type CreateOptions struct {
	app.CommonOptions

	Dir              string   // --dir: the demo directory (required)
	Hosts            int      // --hosts: number of segment hosts
	PrimariesPerHost int      // --primaries-per-host
	Standby          bool     // --standby: add a coordinator standby
	PortBase         int      // --port-base: coordinator port; standby +1, primaries +2...
	HostNames        []string // --host-names: segment hosts, then the standby host with --standby
	Local            bool     // --local: run every host's work locally instead of over SSH
	GPHome           string   // --gphome: default $GPHOME
	ToolsDir         string   // --tools-dir: default gpdemo's own directory
	Mirrors          string   // --mirrors: none, group or spread

	// HostsGiven records that --hosts was on the command line, so that it
	// can be checked against --host-names.
	HostsGiven bool
}

// Validate checks the options alone, before anything runs; what needs the
// machine (GPHOME, DNS, ports, SSH) is checked by the preflight.
func (o *CreateOptions) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	if err := validateDir(o.Dir, o.DataDir); err != nil {
		return err
	}
	if o.PrimariesPerHost < 1 {
		return argErr("--primaries-per-host %d: need at least 1 primary per host", o.PrimariesPerHost)
	}
	if len(o.HostNames) > 0 {
		if err := o.validateHostNames(); err != nil {
			return err
		}
	} else if o.Hosts < 1 {
		return argErr("--hosts %d: need at least 1 segment host", o.Hosts)
	}
	switch o.Mirrors {
	case "", MirrorsNone, MirrorsGroup, MirrorsSpread:
	default:
		return argErr("--mirrors %q: want none, group or spread", o.Mirrors)
	}
	if o.PortBase < lowestPort {
		return argErr("--port-base %d: ports below %d need root, which PostgreSQL refuses to run as", o.PortBase, lowestPort)
	}
	if last := o.lastPort(); last > 65535 {
		return argErr("--port-base %d: the cluster needs ports %d..%d, beyond 65535", o.PortBase, o.PortBase, last)
	}
	return nil
}

func (o *CreateOptions) validateHostNames() error {
	seen := map[string]bool{}
	for _, h := range o.HostNames {
		if err := validHostName(h); err != nil {
			return argErr("--host-names: %v", err)
		}
		if seen[h] {
			return argErr("--host-names: %s is given twice", h)
		}
		seen[h] = true
	}
	if o.Standby && len(o.HostNames) < 2 {
		return argErr("--standby with --host-names needs one more name than segment hosts: the last name is the standby host")
	}
	if n := len(o.segmentHostNames()); o.HostsGiven && o.Hosts != n {
		return argErr("--hosts %d disagrees with --host-names, which names %d segment hosts", o.Hosts, n)
	}
	return nil
}

// validHostName accepts the letters, digits, dots and hyphens of DNS names,
// not starting with a dot or a hyphen: the name becomes a directory name
// and an SSH destination.
func validHostName(h string) error {
	if h == "" {
		return errors.New("empty host name")
	}
	if h[0] == '-' || h[0] == '.' {
		return fmt.Errorf("%q is not a valid host name", h)
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return fmt.Errorf("%q is not a valid host name", h)
		}
	}
	return nil
}

// segmentHostNames returns the segment hosts: --host-names without the
// standby host, or sdw1..sdwN.
func (o *CreateOptions) segmentHostNames() []string {
	if len(o.HostNames) > 0 {
		if o.Standby {
			return o.HostNames[:len(o.HostNames)-1]
		}
		return o.HostNames
	}
	hosts := make([]string, o.Hosts)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("sdw%d", i+1)
	}
	return hosts
}

// standbyHostName returns the standby host: the last of --host-names, or
// the sdw host after the segment hosts; "" without --standby.
func (o *CreateOptions) standbyHostName() string {
	switch {
	case !o.Standby:
		return ""
	case len(o.HostNames) > 0:
		return o.HostNames[len(o.HostNames)-1]
	}
	return fmt.Sprintf("sdw%d", o.Hosts+1)
}

// lastPort is the highest port the cluster uses.
func (o *CreateOptions) lastPort() int {
	n := len(o.segmentHostNames()) * o.PrimariesPerHost
	if o.Mirrors == MirrorsGroup || o.Mirrors == MirrorsSpread {
		n *= 2
	}
	return o.PortBase + 1 + n
}

// DestroyOptions are the options of gpdemo destroy.
type DestroyOptions struct {
	app.CommonOptions
	Dir string // --dir: the demo directory (required)
}

// Validate checks the options alone.
func (o *DestroyOptions) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	return validateDir(o.Dir, o.DataDir)
}

// validateDir checks --dir; dataDir is the common -d option, which gpdemo
// does not use.
func validateDir(dir, dataDir string) error {
	if dataDir != "" {
		return argErr("-d is not a gpdemo option: give the demo directory with --dir")
	}
	if strings.TrimSpace(dir) == "" {
		return argErr("--dir is required")
	}
	return nil
}

func argErr(format string, a ...any) error {
	return &app.ArgumentError{Msg: fmt.Sprintf(format, a...)}
}
