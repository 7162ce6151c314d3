package recoverseg

import (
	"path"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// The rsync command lines of a differential recovery (spec §4.12). rsync
// runs on the target's host and pulls from the source's host over SSH,
// with the host-key policy of the tools: OpenSSH in batch mode with
// StrictHostKeyChecking=yes, so that a source whose key is not in the
// target host's known_hosts, or has changed, is refused instead of trusted
// (Greenplum passes no option: whatever that host's ssh_config says). Only
// the user's explicit opt-out (--insecure-ignore-host-keys or
// GPMGMT_INSECURE_IGNORE_HOST_KEYS=1) turns checking off here too.

// rsyncConnectTimeout bounds rsync's SSH connection, in seconds.
const rsyncConnectTimeout = "30"

// sshOptions are the options of the ssh that rsync (and the plan's probe)
// runs on a target's host.
func sshOptions(insecure bool) []string {
	opts := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + rsyncConnectTimeout}
	if insecure {
		return append(opts, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")
	}
	return append(opts, "-o", "StrictHostKeyChecking=yes")
}

// rsyncShell is rsync's -e: ssh and its options, which rsync splits on
// blanks (none of them has one).
func rsyncShell(insecure bool) string {
	return strings.Join(append([]string{"ssh"}, sshOptions(insecure)...), " ")
}

// rsyncBase is the start of every rsync of a differential recovery:
// Greenplum's -v -a -c --progress, with the progress of the whole transfer
// (--info=progress2) rather than of each file for the progress display;
// --protect-args, so that the remote path reaches the source's rsync
// through the protocol and never through the source host's shell.
func rsyncBase(insecure bool) []string {
	return []string{"rsync", "-v", "-a", "-c", "--progress", "--info=progress2", "--protect-args", "-e", rsyncShell(insecure)}
}

// greenplumExcludes are the files and directories Greenplum 7 does not
// copy from the source's data directory (spec §4.12): those
// pg_basebackup leaves out.
var greenplumExcludes = []string{
	"/log", "pgsql_tmp", "postgresql.auto.conf.tmp", "current_logfiles.tmp", "postmaster.pid",
	"postmaster.opts", "pg_dynshmem", "pg_notify/*", "pg_replslot/*", "pg_serial/*",
	"pg_stat_tmp/*", "pg_snapshots/*", "pg_subtrans/*", "backups/*", "/db_dumps", "/promote",
}

// ownExcludes are what gpmgmt also leaves out, each for a reason:
//
//   - /backup_label, /backup_label.old, /tablespace_map: the copy's
//     backup_label comes from the end of its own non-exclusive backup; a
//     file of that name on the source belongs to someone else's exclusive
//     backup, or to the source's own past recovery;
//   - /internal.auto.conf: the target's gp_dbid, which the source's would
//     replace until the standby configuration is written, so that a run
//     stopped in between leaves a directory that still says whose it is;
//   - /pg_wal: copied after the backup, only the segments it needs (the
//     target keeps its pg_wal, a directory or a link, as it is).
var ownExcludes = []string{"/backup_label", "/backup_label.old", "/tablespace_map", "/internal.auto.conf", "/pg_wal"}

// rsyncExcludes are the --exclude options of the data directory's copy;
// logDirectory is the source's log_directory, left out too when it is a
// relative path other than Greenplum's "log" (a later Greenplum 7 does the
// same).
func rsyncExcludes(logDirectory string) []string {
	var out []string
	for _, e := range append(append([]string(nil), greenplumExcludes...), ownExcludes...) {
		out = append(out, "--exclude="+e)
	}
	if d := path.Clean(logDirectory); logDirectory != "" && !path.IsAbs(d) && d != "log" && d != "." && !strings.HasPrefix(d, "../") {
		out = append(out, "--exclude=/"+d)
	}
	return out
}

// rsyncSource is host:path in rsync's syntax (an IPv6 address in
// brackets, as Greenplum's canonicalize does).
func rsyncSource(host, p string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + p
}

// rsyncDataArgv copies the source's data directory over the target's,
// deleting what the source does not have (except what is left out, which
// rsync keeps).
func rsyncDataArgv(src cluster.Segment, targetDir, logDirectory string, insecure bool) []string {
	argv := append(rsyncBase(insecure), "--delete")
	argv = append(argv, rsyncExcludes(logDirectory)...)
	return append(argv, rsyncSource(src.Hostname, strings.TrimRight(src.DataDir, "/")+"/"), targetDir)
}

// rsyncWALArgv copies the WAL segments listed in the file list (one
// "/<name>" pattern a line, and "/*.history"), and nothing else, from the
// source's pg_wal into the target's. A target segment of the same name is
// one the target recycled, or its own: whole files are sent, as rsync's
// delta would find nothing to keep.
func rsyncWALArgv(src cluster.Segment, targetDir, list string, insecure bool) []string {
	argv := append(rsyncBase(insecure), "--whole-file", "--include-from="+list, "--exclude=*")
	return append(argv, rsyncSource(src.Hostname, path.Join(src.DataDir, "pg_wal")+"/"), path.Join(targetDir, "pg_wal")+"/")
}

// rsyncControlArgv copies the source's pg_control last, as Greenplum does.
func rsyncControlArgv(src cluster.Segment, targetDir string, insecure bool) []string {
	return append(rsyncBase(insecure), "--whole-file", rsyncSource(src.Hostname, path.Join(src.DataDir, "global", "pg_control")), path.Join(targetDir, "global", "pg_control"))
}

// confFilesArgv is Greenplum 7's pg_basebackup that copies nothing and
// writes the target's standby configuration (standby.signal,
// primary_conninfo and primary_slot_name) and internal.auto.conf (spec
// §4.12 step 8).
func confFilesArgv(gphome string, t target) []string {
	return []string{path.Join(gphome, "bin", "pg_basebackup"), "-c", "fast", "-D", t.Failed.DataDir,
		"-h", t.Source.Hostname, "-p", strconv.Itoa(t.Source.Port), "--write-conf-files-only",
		"--slot", buildmirrors.SlotName, "--wal-method", "stream", "--target-gp-dbid", strconv.Itoa(t.Failed.DBID), "--progress", "--verbose"}
}
