package buildmirrors

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Constants of spec §6.
const (
	SlotName        = "internal_wal_replication_slot"
	WalReceiverName = "gp_walreceiver"
)

// Timeouts of the remote commands.
const (
	probeTimeout = 2 * time.Minute
	hbaTimeout   = time.Minute
	startTimeout = 11 * time.Minute // pg_ctl -t 600, plus slack
	stopTimeout  = 3 * time.Minute
)

// Mirror is one mirror to build: the acting primary of its content (the
// copy source) and the new mirror's row (dbid, content, host, address,
// port, data directory).
type Mirror struct {
	Source cluster.Segment
	Target cluster.Segment
	// Overwrite builds the mirror into the registered directory of a
	// failed instance of its content (gprecoverseg -F, in place): the
	// target row is in the catalog already, status d, not the acting
	// primary, and its directory may hold the failed instance's files,
	// which the copy replaces (pg_basebackup --force-overwrite). The run
	// checks all of it again before copying, and refuses a directory that
	// holds another instance (internal.auto.conf's gp_dbid), unless
	// PartialCopy vouches for it.
	Overwrite bool
	// PartialCopy says the caller knows that an earlier run of its own
	// was copying into the target directory when it stopped (its journal
	// says so), so what the directory holds is that half-written copy:
	// for an Overwrite mirror, a directory without the failed instance's
	// gp_dbid; for a new mirror, a directory that is not empty, which the
	// run empties (or, with OwnDir, removes and creates again) before it
	// copies. A finished copy there (its marker) is still reused.
	PartialCopy bool
	// OwnDir says the caller's earlier run created the target directory
	// (its journal says so): with PartialCopy the directory is removed and
	// made again, and it counts as made by this run, so a failure removes
	// it. Without OwnDir a directory is never removed, only emptied.
	OwnDir bool
	// From, when set, is the failed instance's row as the caller read it,
	// which this mirror replaces at a new location (gprecoverseg -i with
	// two groups, -p): Target has its dbid, content and roles and the new
	// host, address, port and data directory. The row must still be there,
	// down and not the acting primary; it is moved in the catalog after
	// the copy and the port are done and before the start (StepMove), so
	// that FTS, which trusts the primary's walreceiver whatever directory
	// it streams to, never marks up a row that names a place with no
	// mirror. The failed instance's own directory is left as it is.
	From *cluster.Segment
	// ProgressFile, when set, also receives the copy's output on the
	// target host (gprecoverseg's progress file, spec §3.2).
	ProgressFile string
}

// Label names the mirror for messages: "content 0 mirror (dbid 6) on sdw2:7002".
func (m Mirror) Label() string {
	return fmt.Sprintf("%s on %s:%d", m.Target.Label(), m.Target.Hostname, m.Target.Port)
}

// PIDFile is where the copy's pid is kept while pg_basebackup runs: next to
// the target directory (the target itself must stay empty for
// pg_basebackup), so the copy can be found and stopped.
func PIDFile(m Mirror) string {
	dir := filepath.Clean(m.Target.DataDir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".pg_basebackup.pid")
}

// MarkerFile is where a finished copy is recorded, next to the target
// directory: the only proof a later run accepts that the directory holds a
// complete copy for the mirror (its contents cannot tell: a failed
// mirror's own stale directory looks like a finished copy).
func MarkerFile(m Mirror) string {
	dir := filepath.Clean(m.Target.DataDir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".gpmgmt-copied")
}

// BaseBackupArgv is the pg_basebackup command line of spec §6.1 for flavour
// f, run on the mirror's host: GP6 lets pg_basebackup create the slot with
// --slot; GP7 and Cloudberry ask for it with --create-slot (the pipeline
// drops a leftover unused slot first, as GP7 does). An Overwrite mirror
// gets --force-overwrite, as gprecoverseg passes it.
func BaseBackupArgv(f cluster.Flavour, gphome string, m Mirror) []string {
	prog := filepath.Join(gphome, "bin", "pg_basebackup")
	src, dir, dbid := m.Source.Hostname, m.Target.DataDir, strconv.Itoa(m.Target.DBID)
	port := strconv.Itoa(m.Source.Port)
	var overwrite []string
	if m.Overwrite || m.PartialCopy {
		overwrite = []string{"--force-overwrite"}
	}
	if f == cluster.GP6 {
		argv := []string{prog, "-c", "fast", "-D", dir, "-h", src, "-p", port,
			"--slot", SlotName, "--xlog-method", "stream"}
		argv = append(argv, overwrite...)
		return append(argv, "--write-recovery-conf", "--target-gp-dbid", dbid,
			"-E", "./db_dumps", "-E", "./gpperfmon/data", "-E", "./gpperfmon/logs", "-E", "./promote",
			"--progress", "--verbose")
	}
	argv := []string{prog, "-c", "fast", "-D", dir, "-h", src, "-p", port,
		"--create-slot", "--slot", SlotName, "--wal-method", "stream", "--no-verify-checksums"}
	argv = append(argv, overwrite...)
	return append(argv, "--write-recovery-conf", "-E", "./db_dumps", "-E", "./promote", "-E", "./db_analyze",
		"--target-gp-dbid", dbid, "--progress", "--verbose")
}

// copyScript runs the copy ($4 and on) and, when it succeeds, records it
// in the marker file $1 (dbid $2): the marker is written only after
// pg_basebackup exits 0, and removed first, so it never describes a
// copy that did not finish. With a progress file $3, the output also goes
// there (with pg_basebackup's exit status kept through the pipe).
const copyScript = `set -u
marker=$1 dbid=$2 pf=$3
shift 3
rm -f "$marker" "$marker.tmp"
if [ -n "$pf" ]; then
	mkdir -p "$(dirname "$pf")" 2>/dev/null
	rcf=$(mktemp "${TMPDIR:-/tmp}/gpmgmt-copy.XXXXXX") || exit 1
	{ "$@" 2>&1; echo $? >"$rcf"; } | tee "$pf"
	rc=$(cat "$rcf")
	rm -f "$rcf"
else
	"$@"
	rc=$?
fi
[ "$rc" = 0 ] || exit "${rc:-1}"
printf 'dbid=%s
' "$dbid" >"$marker.tmp" && mv -f "$marker.tmp" "$marker"
`

// CopyCommand runs BaseBackupArgv through copyScript with a PIDFile, its
// output streamed.
func CopyCommand(f cluster.Flavour, gphome string, m Mirror) remote.Command {
	return remote.Command{
		Host:    m.Target.Hostname,
		Script:  copyScript,
		Args:    append([]string{MarkerFile(m), strconv.Itoa(m.Target.DBID), m.ProgressFile}, BaseBackupArgv(f, gphome, m)...),
		PIDFile: PIDFile(m),
		Label:   "pg_basebackup " + m.Target.Label(),
	}
}

// UnmarkCommand removes the marker of a copy whose mirror was started and
// registered: the next recovery of that mirror copies again.
func UnmarkCommand(m Mirror) remote.Command {
	return remote.Command{Host: m.Target.Hostname, Argv: []string{"rm", "-f", MarkerFile(m)},
		Label: "forget the finished copy of " + m.Target.Label(), Timeout: probeTimeout}
}

// StartArgv is the pg_ctl start of spec §1.10 for a segment started after a
// copy: GP6 "-p <port> -c gp_role=utility" and pg_log/startup.log (as the
// GP6 transcript shows), GP7 "-c gp_role=execute" and log/startup.log.
func StartArgv(f cluster.Flavour, gphome, era string, m Mirror) []string {
	if era == "" {
		era = "None"
	}
	dir := m.Target.DataDir
	logDir, opts := "log", " -c gp_role=execute "
	if f == cluster.GP6 {
		logDir, opts = "pg_log", fmt.Sprintf(" -p %d -c gp_role=utility ", m.Target.Port)
	}
	return []string{"env", "GPSESSID=0000000000", "GPERA=" + era, filepath.Join(gphome, "bin", "pg_ctl"),
		"-D", dir, "-l", filepath.Join(dir, logDir, "startup.log"), "-w", "-t", "600", "-o", opts, "start"}
}

// startScript starts a mirror unless it already runs: $1 pg_ctl, $2 the
// data directory, then the start command line.
const startScript = `set -u
pgctl=$1 dir=$2
shift 2
if "$pgctl" -D "$dir" status >/dev/null 2>&1; then echo "already running"; exit 0; fi
mkdir -p "$dir/log" "$dir/pg_log" 2>/dev/null
exec "$@" 2>&1
`

// StartCommand starts the mirror (check before act: a running one is left).
func StartCommand(f cluster.Flavour, gphome, era string, m Mirror) remote.Command {
	args := append([]string{filepath.Join(gphome, "bin", "pg_ctl"), m.Target.DataDir}, StartArgv(f, gphome, era, m)...)
	return remote.Command{Host: m.Target.Hostname, Script: startScript, Args: args,
		Label: "start " + m.Target.Label(), Timeout: startTimeout}
}

// portScript sets port=$2 in $1/postgresql.conf as Greenplum's perl
// one-liner does (spec §3.3 step 2, keeping postgresql.conf.bak), or
// appends it when the file has no port line, and removes the finished
// copy's pid file $3. Running it twice changes nothing more.
const portScript = `set -u
conf=$1/postgresql.conf port=$2
rm -f "$3"
[ -f "$conf" ] || { echo "no $conf" >&2; exit 1; }
if grep -q '^port[ ]*=' "$conf"; then
	sed -i.bak "s/^port[ ]*=[ ]*[0-9][0-9]*/port=$port/" "$conf" || exit 1
else
	cp -p "$conf" "$conf.bak" && printf 'port=%s\n' "$port" >>"$conf" || exit 1
fi
echo "port=$port"
`

// PortCommand fixes the port in the copy's postgresql.conf.
func PortCommand(m Mirror) remote.Command {
	return remote.Command{Host: m.Target.Hostname, Script: portScript,
		Args:  []string{m.Target.DataDir, strconv.Itoa(m.Target.Port), PIDFile(m)},
		Label: "set port of " + m.Target.Label(), Timeout: probeTimeout}
}

// mkdirScript creates the target directory (mode 0700, with parents) unless
// it exists, and says whether it did: "created" or "exists".
const mkdirScript = `set -u
dir=$1
if [ -d "$dir" ]; then echo exists; exit 0; fi
mkdir -p -m 0700 "$dir" || exit 1
chmod 0700 "$dir" || exit 1
echo created
`

// MkdirCommand creates the mirror's directory when absent.
func MkdirCommand(m Mirror) remote.Command {
	return remote.Command{Host: m.Target.Hostname, Script: mkdirScript, Args: []string{m.Target.DataDir},
		Label: "create directory of " + m.Target.Label(), Timeout: probeTimeout}
}

// resetScript makes the target directory $1 ready for a new copy after an
// earlier run's half-written one: with $2 = 1 (the earlier run made it) it
// is removed and made again ("created"); otherwise it is emptied and kept
// ("emptied"), or made when absent ("created"). An instance running there
// is refused.
const resetScript = `set -u
dir=$1 own=$2
if [ -f "$dir/postmaster.pid" ]; then
	pid=$(sed -n 1p "$dir/postmaster.pid" | tr -d ' ')
	case $pid in ''|*[!0-9]*) ;; *) if kill -0 "$pid" 2>/dev/null; then echo "an instance (pid $pid) runs in $dir: not touching it" >&2; exit 1; fi ;; esac
fi
if [ "$own" = 1 ]; then
	rm -rf -- "$dir" || exit 1
fi
if [ ! -d "$dir" ]; then
	mkdir -p -m 0700 "$dir" || exit 1
	chmod 0700 "$dir" || exit 1
	echo created
	exit 0
fi
rm -rf -- "$dir"/* "$dir"/.[!.]* "$dir"/..?* || exit 1
echo emptied
`

// ResetCommand makes the directory of a PartialCopy mirror ready for the
// copy (resetScript).
func ResetCommand(m Mirror) remote.Command {
	own := "0"
	if m.OwnDir {
		own = "1"
	}
	return remote.Command{Host: m.Target.Hostname, Script: resetScript, Args: []string{m.Target.DataDir, own},
		Label: "clear the unfinished copy in " + m.Target.Label(), Timeout: stopTimeout}
}

// StopArgv stops a mirror this run started (fast, as gpsegstop).
func StopArgv(gphome string, m Mirror) []string {
	return []string{filepath.Join(gphome, "bin", "pg_ctl"), "-D", m.Target.DataDir, "-m", "fast", "-w", "-t", "120", "stop"}
}

// stopScript stops the instance in $2 with the command after $2, unless it
// is not running.
const stopScript = `set -u
pgctl=$1 dir=$2
shift 2
"$pgctl" -D "$dir" status >/dev/null 2>&1 || { echo "not running"; exit 0; }
exec "$@" 2>&1
`

// StopCommand stops a mirror started by this run.
func StopCommand(gphome string, m Mirror) remote.Command {
	args := append([]string{filepath.Join(gphome, "bin", "pg_ctl"), m.Target.DataDir}, StopArgv(gphome, m)...)
	return remote.Command{Host: m.Target.Hostname, Script: stopScript, Args: args,
		Label: "stop " + m.Target.Label(), Timeout: stopTimeout}
}

// removeScript removes a directory this run created, unless an instance
// runs in it (postmaster.pid with a live pid).
const removeScript = `set -u
dir=$1
[ -e "$dir" ] || exit 0
if [ -f "$dir/postmaster.pid" ]; then
	pid=$(sed -n 1p "$dir/postmaster.pid" | tr -d ' ')
	case $pid in ''|*[!0-9]*) ;; *) if kill -0 "$pid" 2>/dev/null; then echo "an instance (pid $pid) runs in $dir: not removing it" >&2; exit 1; fi ;; esac
fi
rm -rf -- "$dir"
`

// RemoveCommand removes the directory of a failed mirror this run created.
func RemoveCommand(m Mirror) remote.Command {
	return remote.Command{Host: m.Target.Hostname, Script: removeScript, Args: []string{m.Target.DataDir},
		Label: "remove directory of " + m.Target.Label(), Timeout: stopTimeout}
}

// HBAEntries are the replication entries of spec §6.4 for one primary, for
// all its mirrors: "host replication <user> samehost trust", then per
// mirror host, in CIDR mode, "host all" and "host replication" for each
// of its addresses and "host replication" for the primary host's when it
// differs; with hostnames, the names instead. Duplicates are dropped,
// order kept. addrs maps a host name to its addresses.
func HBAEntries(user string, hostnames bool, primary cluster.Segment, mirrorHosts []string, addrs map[string][]string) []string {
	var out []string
	add := func(e string) {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	add(fmt.Sprintf("host replication %s samehost trust", user))
	for _, mh := range mirrorHosts {
		if hostnames {
			add(fmt.Sprintf("host all %s %s trust", user, mh))
			add(fmt.Sprintf("host replication %s %s trust", user, mh))
			if primary.Hostname != mh {
				add(fmt.Sprintf("host replication %s %s trust", user, primary.Hostname))
			}
			continue
		}
		for _, ip := range addrs[mh] {
			add(fmt.Sprintf("host all %s %s trust", user, cidr(ip)))
		}
		ips := slices.Clone(addrs[mh])
		if primary.Hostname != mh {
			ips = append(ips, addrs[primary.Hostname]...)
		}
		for _, ip := range ips {
			add(fmt.Sprintf("host replication %s %s trust", user, cidr(ip)))
		}
	}
	return out
}

func cidr(ip string) string {
	if strings.Contains(ip, ":") {
		return ip + "/128"
	}
	return ip + "/32"
}

// hbaScript adds missing entries to pg_hba.conf of each primary and reloads
// it: $1 pg_ctl, then pairs of (data directory, entries, one per line).
// Lines are compared with blanks squeezed; existing lines keep their
// order; the new file is written beside the old one (same mode) and
// renamed over it. A primary whose file already has every entry is left
// alone (not even reloaded). One line per primary: "HBA <dir> added <n>"
// or "HBA <dir> failed".
const hbaScript = `set -u
pgctl=$1
shift
rc=0
while [ $# -ge 2 ]; do
	dir=$1 entries=$2
	shift 2
	hba=$dir/pg_hba.conf tmp=$dir/pg_hba.conf.gpmgmt.tmp
	n=0
	rm -f "$tmp"
	while IFS= read -r e; do
		[ -n "$e" ] || continue
		if awk -v e="$e" 'BEGIN { gsub(/[ \t]+/, " ", e) } { $1 = $1 } $0 == e { f = 1 } END { exit !f }' "$hba"; then continue; fi
		[ -f "$tmp" ] || cp -p "$hba" "$tmp" || break
		printf '%s\n' "$e" >>"$tmp"
		n=$((n + 1))
	done <<EOF
$entries
EOF
	if [ "$n" -gt 0 ]; then
		if mv -f "$tmp" "$hba" && "$pgctl" reload -D "$dir" >/dev/null; then
			echo "HBA $dir added $n"
		else
			echo "HBA $dir failed"; rc=1
		fi
	else
		rm -f "$tmp"
		echo "HBA $dir added 0"
	fi
done
exit $rc
`

// HBACommand updates pg_hba.conf of every primary on host (entries by
// primary data directory, in dirs order).
func HBACommand(gphome, host string, dirs []string, entries map[string][]string) remote.Command {
	args := []string{filepath.Join(gphome, "bin", "pg_ctl")}
	for _, d := range dirs {
		args = append(args, d, strings.Join(entries[d], "\n"))
	}
	return remote.Command{Host: host, Script: hbaScript, Args: args,
		Label: "update pg_hba.conf on " + host, Timeout: hbaTimeout}
}
