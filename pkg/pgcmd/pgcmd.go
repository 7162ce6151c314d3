// Package pgcmd builds the exact pg_ctl command lines Greenplum's
// management tools run (spec §1.10), per flavour. It is pure: every
// function returns an argv; Display renders one the way Greenplum logs it
// ("$GPHOME/bin/pg_ctl ... -o \" -p 7000 -E \" start").
package pgcmd

import (
	"path"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// DefaultStopTimeout is gpstop's and gpsegstop's default -t (seconds).
const DefaultStopTimeout = 120

// DefaultStartTimeout is gpstart's default -t (seconds).
const DefaultStartTimeout = 600

// Kind is which instance a start is for; it selects the backend options.
type Kind int

// The kinds of start of spec §1.10.
const (
	CoordinatorUtility Kind = iota // gpstart's admin start (steps 3 and 5)
	CoordinatorNormal              // the final coordinator start
	Standby                        // the standby coordinator
	Segment                        // a primary or mirror started by gpstart
	RecoverySegment                // a segment started by gpsegrecovery
)

// Start describes one pg_ctl start.
type Start struct {
	Flavour cluster.Flavour
	GPHome  string
	Kind    Kind
	DataDir string
	Port    int
	Era     string // "" prints Greenplum's literal None
	Wait    bool   // -w
	Timeout int    // -t; 0 leaves it out
	// RestrictedConnections, when positive, adds
	// -c superuser_reserved_connections=<n> (gpstart -R).
	RestrictedConnections int
	// SpecialMode is "upgrade" (-U) or "maintenance" (-m); "" for none.
	SpecialMode string
}

// pgCtl is the path of pg_ctl under gphome.
func pgCtl(gphome string) string { return path.Join(gphome, "bin", "pg_ctl") }

// LogFile is the startup log pg_ctl writes: pg_log on GP6, log after.
func LogFile(f cluster.Flavour, dataDir string) string {
	if f == cluster.GP6 || f == cluster.FlavourUnknown {
		return path.Join(dataDir, "pg_log", "startup.log")
	}
	return path.Join(dataDir, "log", "startup.log")
}

// BackendOptions is the -o string without its surrounding spaces.
func (s Start) BackendOptions() string {
	var o []string
	port := "-p " + strconv.Itoa(s.Port)
	switch s.Flavour {
	case cluster.GP7:
		switch s.Kind {
		case CoordinatorUtility:
			o = append(o, "-c gp_role=utility")
		case CoordinatorNormal, Standby:
			o = append(o, "-c gp_role=dispatch")
		default:
			o = append(o, "-c gp_role=execute")
		}
	case cluster.Cloudberry:
		o = append(o, port)
		switch s.Kind {
		case CoordinatorUtility:
			o = append(o, "-c gp_role=utility")
		case CoordinatorNormal, Standby:
			o = append(o, "-c gp_role=dispatch")
		default:
			o = append(o, "-c gp_role=execute")
		}
	default: // GP6
		o = append(o, port)
		switch s.Kind {
		case CoordinatorUtility, RecoverySegment:
			o = append(o, "-c gp_role=utility")
		case CoordinatorNormal, Standby:
			o = append(o, "-E")
		}
	}
	if s.RestrictedConnections > 0 {
		o = append(o, "-c superuser_reserved_connections="+strconv.Itoa(s.RestrictedConnections))
	}
	switch s.SpecialMode {
	case "upgrade":
		o = append(o, "-U")
	case "maintenance":
		o = append(o, "-m")
	}
	return strings.Join(o, " ")
}

// Argv is the start command line as an argv, ready for remote.Command.
// Segment starts redirect stderr in Greenplum (" 2>&1"); callers that run
// Argv collect both streams anyway, so the redirection only appears in
// Display.
func (s Start) Argv() []string {
	era := s.Era
	if era == "" {
		era = "None"
	}
	argv := []string{"env", "GPSESSID=0000000000", "GPERA=" + era, pgCtl(s.GPHome),
		"-D", s.DataDir, "-l", LogFile(s.Flavour, s.DataDir)}
	if s.Wait {
		argv = append(argv, "-w")
	}
	if s.Timeout > 0 {
		argv = append(argv, "-t", strconv.Itoa(s.Timeout))
	}
	return append(argv, "-o", " "+s.BackendOptions()+" ", "start")
}

// Display renders s as Greenplum logs it.
func (s Start) Display() string {
	line := Display(s.GPHome, s.Argv())
	if s.Kind == Segment {
		line += " 2>&1"
	}
	return line
}

// Stop is pg_ctl -D <dir> -m <mode> [-w] [-t <timeout>] stop.
func Stop(gphome, dataDir, mode string, wait bool, timeout int) []string {
	argv := []string{pgCtl(gphome), "-D", dataDir, "-m", mode}
	if wait {
		argv = append(argv, "-w")
	}
	if timeout > 0 {
		argv = append(argv, "-t", strconv.Itoa(timeout))
	}
	return append(argv, "stop")
}

// StopNoWait is gpstop's smart coordinator stop: pg_ctl stop -W -m smart
// -D <dir>, after which gpstop polls Status.
func StopNoWait(gphome, dataDir, mode string) []string {
	return []string{pgCtl(gphome), "stop", "-W", "-m", mode, "-D", dataDir}
}

// Status is pg_ctl -D <dir> status (exit 0 running, 3 stopped).
func Status(gphome, dataDir string) []string {
	return []string{pgCtl(gphome), "-D", dataDir, "status"}
}

// Reload is pg_ctl reload -D <dir> (gpstop -u).
func Reload(gphome, dataDir string) []string {
	return []string{pgCtl(gphome), "reload", "-D", dataDir}
}

// Display renders argv as Greenplum logs it: gphome written as $GPHOME,
// and an argument holding spaces (the -o options) in double quotes.
func Display(gphome string, argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		if gphome != "" && strings.HasPrefix(a, gphome+"/") {
			a = "$GPHOME" + strings.TrimPrefix(a, gphome)
		}
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		words[i] = a
	}
	return strings.Join(words, " ")
}
