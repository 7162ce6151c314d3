package gpdemo

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// EnvFileName is the environment file's name in the demo directory.
const EnvFileName = "gpdemo_env.sh"

// EnvFile returns the text of DIR/gpdemo_env.sh: source it to reach the
// demo cluster with psql and the management tools. Besides what Greenplum's
// demo sets (GPHOME, PATH, COORDINATOR_DATA_DIRECTORY,
// MASTER_DATA_DIRECTORY, PGPORT), it puts gpmgmt's tools first in PATH,
// before GPHOME's (a real Greenplum's bin has its own gpstate), as a DBA
// does after sourcing greenplum_path.sh; it sets PGHOST=/tmp, because
// Debian's libpq looks for sockets in /var/run/postgresql while
// Greenplum's (and the demo's servers) use /tmp, and PGDATABASE=postgres,
// because no database is named after the user.
func EnvFile(p Plan) string {
	c := p.Coordinator()
	var b strings.Builder
	b.WriteString("# Environment of a gpdemo cluster: source this file.\n")
	fmt.Fprintf(&b, "export GPHOME=%s\n", remote.Quote(p.GPHome))
	if p.ToolsDir != "" {
		b.WriteString("# gpmgmt's gpstate, gpstart, ... first, then the Greenplum install's programs.\n")
		fmt.Fprintf(&b, "export PATH=%s:\"$GPHOME/bin:$PATH\"\n", remote.Quote(p.ToolsDir))
	} else {
		b.WriteString("export PATH=\"$GPHOME/bin:$PATH\"\n")
	}
	fmt.Fprintf(&b, "export COORDINATOR_DATA_DIRECTORY=%s\n", remote.Quote(c.DataDir))
	fmt.Fprintf(&b, "export MASTER_DATA_DIRECTORY=%s\n", remote.Quote(c.DataDir))
	fmt.Fprintf(&b, "export PGPORT=%d\n", c.Port)
	b.WriteString("export PGHOST=/tmp\n")
	b.WriteString("export PGDATABASE=postgres\n")
	return b.String()
}

// EnvFilePath returns the environment file's path in dir.
func EnvFilePath(dir string) string { return filepath.Join(dir, EnvFileName) }
