package segctl

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// controlDataTimeout bounds one host's pg_controldata runs.
const controlDataTimeout = 2 * time.Minute

// controlDataScript runs pg_controldata on each data directory of one
// host (spec §1.13). Arguments: GPHOME, then dbid and data directory
// pairs. For each it prints a header line "@@ <dbid> <exit code>", the
// program's standard output, a line "@@stderr", and its standard error,
// whose last line is ended.
const controlDataScript = `gphome=$1
shift
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
while [ $# -ge 2 ]; do
	out=$("$gphome/bin/pg_controldata" "$2" 2>"$err")
	rc=$?
	printf '@@ %s %s\n%s\n@@stderr\n' "$1" "$rc" "$out"
	awk 1 "$err" # its last line ended, so the next header starts a line
	shift 2
done
`

// ControlData is what pg_controldata said of one instance.
type ControlData struct {
	DBID           int
	ExitCode       int
	Stdout, Stderr string
}

// Field returns the value of one of pg_controldata's lines ("" when
// absent).
func (d ControlData) Field(name string) string {
	v, _ := cluster.ControlDataField(d.Stdout, name)
	return v
}

// ControlDataCommands returns one command per host of segs running
// pg_controldata on each of its instances, sorted by host (the
// coordinator's among them when segs holds it).
func ControlDataCommands(gphome string, segs []cluster.Segment) []remote.Command {
	byHost := map[string][]string{}
	for _, s := range segs {
		byHost[s.Hostname] = append(byHost[s.Hostname], strconv.Itoa(s.DBID), s.DataDir)
	}
	var cmds []remote.Command
	for _, h := range slices.Sorted(maps.Keys(byHost)) {
		cmds = append(cmds, remote.Command{
			Host: h, Script: controlDataScript, Args: append([]string{gphome}, byHost[h]...),
			Label: "pg_controldata", Timeout: controlDataTimeout,
		})
	}
	return cmds
}

// ParseControlData reads a ControlDataCommands command's output.
func ParseControlData(out string) []ControlData {
	var all []ControlData
	var cur *ControlData
	inErr := false
	for _, line := range strings.SplitAfter(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "@@" {
			dbid, err1 := strconv.Atoi(f[1])
			rc, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				all = append(all, ControlData{DBID: dbid, ExitCode: rc})
				cur, inErr = &all[len(all)-1], false
				continue
			}
		}
		switch {
		case cur == nil:
		case strings.TrimRight(line, "\n") == "@@stderr":
			inErr = true
		case inErr:
			cur.Stderr += line
		default:
			cur.Stdout += line
		}
	}
	return all
}
