package addmirrors

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// checksumTimeout bounds one host's pg_controldata calls.
const checksumTimeout = 2 * time.Minute

// checksumScript runs pg_controldata on each data directory of one host
// (spec §1.13). Arguments: GPHOME, then dbid and data directory pairs. For
// each it prints a header line "@@ <dbid> <exit code>", the program's
// standard output, a line "@@stderr", and its standard error.
const checksumScript = `gphome=$1
shift
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
while [ $# -ge 2 ]; do
	out=$("$gphome/bin/pg_controldata" "$2" 2>"$err")
	rc=$?
	printf '@@ %s %s\n%s\n@@stderr\n' "$1" "$rc" "$out"
	cat "$err"
	shift 2
done
`

// controlData is what pg_controldata said of one instance.
type controlData struct {
	dbid           int
	rc             int
	stdout, stderr string
}

// version is the "Data page checksum version" value, or "" if absent.
func (d controlData) version() string {
	for _, line := range strings.Split(d.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "Data page checksum version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ChecksumCommands returns one command per host of segs running
// pg_controldata on each of its instances, sorted by host.
func ChecksumCommands(gphome string, segs []cluster.Segment) []remote.Command {
	byHost := map[string][]string{}
	for _, s := range segs {
		byHost[s.Hostname] = append(byHost[s.Hostname], strconv.Itoa(s.DBID), s.DataDir)
	}
	var cmds []remote.Command
	for _, h := range slices.Sorted(maps.Keys(byHost)) {
		cmds = append(cmds, remote.Command{
			Host: h, Script: checksumScript, Args: append([]string{gphome}, byHost[h]...),
			Label: "pg_controldata", Timeout: checksumTimeout,
		})
	}
	return cmds
}

// parseControlData reads checksumScript's output.
func parseControlData(out string) []controlData {
	var all []controlData
	var cur *controlData
	inErr := false
	for _, line := range strings.SplitAfter(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "@@" {
			dbid, err1 := strconv.Atoi(f[1])
			rc, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				all = append(all, controlData{dbid: dbid, rc: rc})
				cur, inErr = &all[len(all)-1], false
				continue
			}
		}
		switch {
		case cur == nil:
		case strings.TrimRight(line, "\n") == "@@stderr":
			inErr = true
		case inErr:
			cur.stderr += line
		default:
			cur.stdout += line
		}
	}
	return all
}

// CheckHeapChecksums is step 2 of spec §5.2: every segment's heap checksum
// setting must match the coordinator's. Segment hosts are reached with ex,
// the coordinator's data directory with env.Exec (locally). As Greenplum
// does, when no segment answers it says so and goes on.
func CheckHeapChecksums(ctx context.Context, env *app.Env, ex remote.Executor, c *cluster.Cluster, f cluster.Flavour, gphome, mdd string, batch int) error {
	word := f.CoordinatorWord()
	segs := c.Segments()
	var answered []controlData
	for _, res := range (remote.Runner{Exec: ex, Limit: batch}).Run(ctx, ChecksumCommands(gphome, segs)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if res.Err != nil && res.ExitCode != 0 {
			env.Log.Warn(fmt.Sprintf("cannot access pg_controldata on host %s: %v", res.Command.Host, res.Err))
		}
		for _, d := range parseControlData(res.Stdout) {
			s, ok := c.ByDBID(d.dbid)
			if !ok {
				continue
			}
			if d.rc != 0 {
				env.Log.Warn(fmt.Sprintf("cannot access pg_controldata for dbid %d on host %s", d.dbid, s.Hostname))
				continue
			}
			env.Log.Info(fmt.Sprintf("Successfully finished pg_controldata %s for dbid %d:\nstdout: %s\nstderr: %s", s.DataDir, d.dbid, d.stdout, d.stderr))
			answered = append(answered, d)
		}
	}

	coord := c.Coordinator()
	env.Log.Debug("Running Command: $GPHOME/bin/pg_controldata " + coord.DataDir)
	local := env.Exec.Exec(ctx, remote.Command{Host: coord.Hostname, Script: checksumScript,
		Args: []string{gphome, strconv.Itoa(coord.DBID), mdd}, Label: "pg_controldata", Timeout: checksumTimeout})
	mine := parseControlData(local.Stdout)
	if len(mine) != 1 || mine[0].rc != 0 || mine[0].version() == "" {
		return app.Errorf("cannot read the heap checksum setting of the %s: pg_controldata %s: %s",
			c.Coordinator().Label(), mdd, strings.TrimSpace(local.Stdout+" "+local.Stderr))
	}
	want := mine[0].version()

	if len(answered) == 0 {
		env.Log.Log(ctx, gplog.LevelCritical, "No segments responded to ssh query for heap checksum. Not expanding the cluster.")
		return nil
	}
	var differ []string
	for _, d := range answered {
		if v := d.version(); v != want {
			differ = append(differ, fmt.Sprintf("dbid: %d checksum set to %s differs from %s checksum set to %s", d.dbid, v, word, want))
		}
	}
	if len(differ) == 0 {
		env.Log.Info("Heap checksum setting consistent across cluster")
		return nil
	}
	env.Log.Log(ctx, gplog.LevelCritical, "Cluster heap checksum setting differences reported")
	env.Log.Log(ctx, gplog.LevelCritical, fmt.Sprintf("Heap checksum settings on %d of %d segment instances do not match %s <<<<<<<<", len(differ), len(segs), word))
	env.Log.Warn("Failed checksum consistency validation:")
	for _, d := range differ {
		env.Log.Warn(d)
	}
	env.Log.Log(ctx, gplog.LevelCritical, "gpaddmirrors error: Cluster will not be modified as checksum settings are not consistent across the cluster.")
	return app.Errorf("Segments have heap_checksum set inconsistently to %s", word)
}
