package cluster

import (
	"fmt"
	"strings"
	"time"
)

// DefaultDatabase is the database the tools connect to unless told otherwise.
const DefaultDatabase = "template1"

// DefaultSocketDir is where Greenplum's servers put their Unix sockets; a
// ConnConfig with an empty Host connects there.
const DefaultSocketDir = "/tmp"

// UtilityOption returns the session option that asks for a utility-mode
// connection on flavour f (spec §1.6): GP6 "-c gp_session_role=utility",
// GP7 and Cloudberry "-c gp_role=utility". It is also what PGOPTIONS must
// hold for pg_rewind and pg_isready. It returns "" for FlavourUnknown.
func UtilityOption(f Flavour) string {
	switch f {
	case GP6:
		return "-c gp_session_role=utility"
	case GP7, Cloudberry:
		return "-c gp_role=utility"
	}
	return ""
}

// connOptions returns the libpq "options" startup parameter for cfg, in the
// order Greenplum's dbconn.py builds it. GP6 sends only the utility and
// allow_system_table_mods settings and sets the rest after connecting (see
// postConnectSQL); GP7 and Cloudberry send everything here. FlavourUnknown
// is treated as GP7, minus the utility option, which Connect refuses to
// guess.
func connOptions(cfg ConnConfig) string {
	var opts []string
	if cfg.Flavour == GP6 {
		if cfg.Utility {
			opts = append(opts, UtilityOption(GP6))
		}
		if cfg.AllowSystemTableMods {
			opts = append(opts, "-c allow_system_table_mods=true")
		}
		return strings.Join(opts, " ")
	}
	if cfg.Utility && cfg.Flavour != FlavourUnknown {
		opts = append(opts, UtilityOption(cfg.Flavour))
	}
	opts = append(opts, "-c search_path=")
	if cfg.AllowSystemTableMods {
		opts = append(opts, "-c allow_system_table_mods=true")
	}
	opts = append(opts, "-c CLIENT_MIN_MESSAGES=ERROR")
	return strings.Join(opts, " ")
}

// postConnectSQL returns the statements run on every new connection before
// it is handed out: GP6 silences notices and empties search_path
// (CVE-2018-1058) with SQL; the later flavours did both in the options.
func postConnectSQL(f Flavour) []string {
	if f == GP6 {
		return []string{
			"SET CLIENT_MIN_MESSAGES='ERROR'",
			"SELECT pg_catalog.set_config('search_path', '', false)",
		}
	}
	return nil
}

// ConnectMessage is the line the tools log before connecting (spec §1.6):
// GP6 "Connecting to dbname='template1'" (plus " connect_timeout=15" when a
// timeout is set), GP7 and Cloudberry "Connecting to db template1 on host
// localhost". It is logged at INFO when a timeout is set, else DEBUG.
func ConnectMessage(cfg ConnConfig) string {
	db := cfg.DatabaseName()
	if cfg.Flavour == GP6 {
		msg := fmt.Sprintf("Connecting to dbname='%s'", db)
		if cfg.ConnectTimeout > 0 {
			msg += fmt.Sprintf(" connect_timeout=%d", timeoutSeconds(cfg))
		}
		return msg
	}
	host := cfg.Host
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("Connecting to db %s on host %s", db, host)
}

// timeoutSeconds rounds the connect timeout up to whole seconds, libpq's unit.
func timeoutSeconds(cfg ConnConfig) int {
	s := int((cfg.ConnectTimeout + time.Second - 1) / time.Second)
	return max(s, 1)
}
