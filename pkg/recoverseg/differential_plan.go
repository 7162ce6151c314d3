package recoverseg

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// SQL of the plan and the skip rule of a differential recovery.
const (
	// tablespacesSQL lists the source's user tablespaces.
	tablespacesSQL = "SELECT spcname::text, pg_catalog.pg_tablespace_location(oid) FROM pg_catalog.pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1"
	// differentialRunningSQL asks a source whether a differential
	// recovery copies from it: Greenplum's own runs take an exclusive
	// backup (pg_is_in_backup), gpmgmt's hold a non-exclusive one in a
	// session named differentialAppName.
	differentialRunningSQL = "SELECT pg_catalog.pg_is_in_backup(), (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE application_name = $1)"
	// endOrphanSQL ends the backup sessions an interrupted earlier run
	// left (its host died with it, so nothing told the source).
	endOrphanSQL = "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity WHERE application_name = $1"
)

// planDifferential works out each target's plan for --differential,
// changing nothing: the source's size (the bound of what rsync sends),
// and what makes the copy impossible: a source with user tablespaces, a
// target host whose ssh cannot reach the source's with a verified host
// key, rsync missing on either, a directory rsync would read as a
// pattern.
func (r *recovery) planDifferential(ctx context.Context, ts []target) error {
	sizes, err := r.sourceSizes(ctx, ts)
	if err != nil {
		return err
	}
	probes := r.probeRsync(ctx, ts)
	for i := range ts {
		t := &ts[i]
		t.Plan.Bytes = -1
		t.Plan.BytesNote = "only what differs (rsync -c)"
		if size, ok := sizes[t.Failed.DBID]; ok {
			t.Plan.BytesNote += fmt.Sprintf("; at most the source's %s", human(size))
		}
		var why []string
		for _, dir := range []string{t.Source.DataDir, t.Failed.DataDir} {
			if strings.ContainsAny(dir, "*?[") {
				why = append(why, fmt.Sprintf("the directory %s holds a character rsync reads as a pattern", dir))
			}
		}
		spaces, err := r.userTablespaces(ctx, t.Source)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("the tablespaces of the source %s:%d could not be read: %v", t.Source.Hostname, t.Source.Port, err))
		case len(spaces) > 0:
			why = append(why, fmt.Sprintf("the source %s:%d has user tablespaces (%s); Greenplum keeps each instance's tablespace data under <location>/<dbid>, and rsync of the source's pg_tblspc links would point the target at the source's directories, so --differential does not copy them",
				t.Source.Hostname, t.Source.Port, strings.Join(spaces, ", ")))
		}
		if p := probes[t.Failed.DBID]; p != "" {
			why = append(why, p)
		}
		if len(why) > 0 {
			t.Plan.Impossible = strings.Join(why, "; ")
		}
	}
	return nil
}

// userTablespaces names the source's user tablespaces, "name at location".
func (r *recovery) userTablespaces(ctx context.Context, src cluster.Segment) ([]string, error) {
	var out []string
	err := r.onSource(ctx, src, sourceTimeout, func(c cluster.Conn) error {
		rows, err := c.Query(ctx, tablespacesSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, loc string
			if err := rows.Scan(&name, &loc); err != nil {
				return err
			}
			out = append(out, name+" at "+loc)
		}
		return rows.Err()
	})
	return out, err
}

// probeRsync checks, once per pair of target host and source host, that
// the target's host can run the copy (rsyncProbeScript); by the target's
// dbid, what is wrong, "" when nothing is.
func (r *recovery) probeRsync(ctx context.Context, ts []target) map[int]string {
	type pair struct{ target, source string }
	var pairs []pair
	seen := map[pair]bool{}
	for _, t := range ts {
		p := pair{t.Failed.Hostname, t.Source.Hostname}
		if !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	insecure := r.env.SSHOptions(&r.opts.CommonOptions, "").InsecureIgnoreHostKeys
	cmds := make([]remote.Command, len(pairs))
	for i, p := range pairs {
		cmds[i] = remote.Command{Host: p.target, Script: rsyncProbeScript, Args: append([]string{p.source}, sshOptions(insecure)...),
			Label: fmt.Sprintf("check that %s reaches %s for rsync", p.target, p.source), Timeout: planTimeout}
	}
	problem := map[pair]string{}
	for i, res := range r.runner(len(cmds)).Run(ctx, cmds) {
		problem[pairs[i]] = probeProblem(pairs[i].target, pairs[i].source, r.env.User, res)
	}
	out := map[int]string{}
	for _, t := range ts {
		out[t.Failed.DBID] = problem[pair{t.Failed.Hostname, t.Source.Hostname}]
	}
	return out
}

// probeProblem reads rsyncProbeScript's answer for target reaching source,
// naming the cause and the fix ("" when the copy can run).
func probeProblem(target, source, user string, res remote.Result) string {
	var line string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(l, "PROBE ") {
			line = strings.TrimPrefix(l, "PROBE ")
		}
	}
	f := strings.SplitN(line, " ", 3)
	switch {
	case line == "":
		return fmt.Sprintf("could not check that %s can run rsync from %s: %v", target, source, resultErr(res))
	case f[0] == "ok":
		return ""
	case f[0] == "norsync":
		return fmt.Sprintf("rsync is not installed on %s", target)
	}
	said := ""
	if len(f) == 3 {
		said = strings.TrimSpace(f[2])
	}
	how := fmt.Sprintf("ssh from %s to %s (as rsync will run it, as %s) failed", target, source, user)
	switch {
	case strings.Contains(said, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Sprintf("%s: the host key of %s has changed since %s's known_hosts recorded it (key): check why, then on %s run: ssh-keygen -R %s", how, source, target, target, remote.Quote(source))
	case strings.Contains(said, "Host key verification failed") || strings.Contains(said, "No ED25519 host key is known") || strings.Contains(said, "host key is known for"):
		return fmt.Sprintf("%s: %s's known_hosts has no key for %s (key): on %s, as %s, run: ssh-keyscan %s >> ~/.ssh/known_hosts (and check the fingerprint)", how, target, source, target, user, remote.Quote(source))
	case strings.Contains(said, "Permission denied"):
		return fmt.Sprintf("%s: %s refused the keys of %s@%s (auth): add %s's public key to %s's ~/.ssh/authorized_keys on %s", how, source, user, target, target, user, source)
	case strings.Contains(said, "Connection refused"):
		return fmt.Sprintf("%s: connection refused (refused): is sshd running on %s?", how, source)
	case strings.Contains(said, "timed out"):
		return fmt.Sprintf("%s: no answer within %s s (timeout)", how, rsyncConnectTimeout)
	case strings.Contains(said, "Could not resolve hostname"):
		return fmt.Sprintf("%s: %s cannot resolve %s (name)", how, target, source)
	case f[0] == "ssh" && len(f) >= 2 && f[1] != "255" && said == "":
		return fmt.Sprintf("rsync is not installed on %s (or not in the PATH of its ssh sessions)", source)
	}
	return fmt.Sprintf("%s (exit %s): %s", how, f[1], said)
}

// skipDifferentialRunning is the skip rule of spec §4.4.1 for a
// differential recovery that copies from a target's source: an exclusive
// backup (Greenplum's gprecoverseg --differential), or a session holding
// gpmgmt's backup. The session of an interrupted earlier run of this tool
// (its journal names the target as differential) is ended instead: its
// run is over. Greenplum 7 and Cloudberry only.
func (r *recovery) skipDifferentialRunning(ctx context.Context, ts []target) ([]target, error) {
	if r.f != cluster.GP7 && r.f != cluster.Cloudberry {
		return ts, nil
	}
	log := r.env.Log
	var kept []target
	var skip []int
	for _, t := range ts {
		var exclusive bool
		var sessions int64
		err := r.onSource(ctx, t.Source, sourceTimeout, func(c cluster.Conn) error {
			if err := c.QueryRow(ctx, differentialRunningSQL, differentialAppName).Scan(&exclusive, &sessions); err != nil {
				return err
			}
			if !exclusive && sessions > 0 && r.ownDifferential(t) {
				var n int64
				if err := c.QueryRow(ctx, endOrphanSQL, differentialAppName).Scan(&n); err != nil {
					return err
				}
				log.Warn(fmt.Sprintf("Ended %d backup session(s) an interrupted gprecoverseg --differential left on %s:%d", n, t.Source.Hostname, t.Source.Port))
				sessions = 0
			}
			return nil
		})
		switch {
		case err != nil:
			return nil, fmt.Errorf("check for a differential recovery from %s:%d: %w", t.Source.Hostname, t.Source.Port, err)
		case exclusive || sessions > 0:
			skip = append(skip, t.Source.ContentID)
			if exclusive {
				log.Warn(fmt.Sprintf("The source %s:%d of content %d is in exclusive backup mode: if no gprecoverseg --differential of Greenplum runs, an interrupted one left it so; end it with SELECT pg_stop_backup() in a utility session there",
					t.Source.Hostname, t.Source.Port, t.Source.ContentID))
			}
			continue
		}
		kept = append(kept, t)
	}
	if len(skip) > 0 {
		log.Warn(fmt.Sprintf("Found differential recovery running for segments with contentIds %s, skipping recovery of these segments", pyInts(skip)))
	}
	return kept, nil
}

// ownDifferential reports whether the earlier run's journal says it was
// copying t with rsync.
func (r *recovery) ownDifferential(t target) bool {
	if r.prev == nil {
		return false
	}
	it, ok := r.prev.Item(t.Failed.DBID)
	return ok && it.Method == "differential"
}

// halfCopied finds, by dbid, the failed instances of incremental
// recoveries whose directories an interrupted differential recovery left
// half-copied (its marker is beside them).
func (r *recovery) halfCopied(ctx context.Context, ts []target) map[int]bool {
	q := hostScript{script: markerScript, label: "look for half-copied directories"}
	for _, t := range ts {
		if !t.Full && !t.Differential {
			q.add(t.Failed.Hostname, strconv.Itoa(t.Failed.DBID), t.Failed.DataDir)
		}
	}
	cmds := q.commands()
	half := map[int]bool{}
	answers(r.runner(len(cmds)).Run(ctx, cmds), "MARKER", func(dbid int, _ string) { half[dbid] = true })
	return half
}

// refuseHalfCopied marks impossible the incremental recoveries of the
// half-copied directories: pg_rewind would trust files rsync was
// overwriting.
func refuseHalfCopied(ts []target, half map[int]bool) {
	for i := range ts {
		t := &ts[i]
		if !t.Full && !t.Differential && half[t.Failed.DBID] {
			t.Plan.Impossible = fmt.Sprintf("an interrupted differential recovery left %s half-copied (%s): only gprecoverseg --differential or -F can complete it",
				t.Failed.DataDir, differentialMarker(t.Failed.DataDir))
		}
	}
}

// dryRunDifferential prints the steps of a differential recovery and
// their commands and statements; nothing runs.
func (r *recovery) dryRunDifferential(ctx context.Context, ts []target) error {
	log := r.env.Log
	era, err := cluster.ReadEra(r.co.DataDir, r.f)
	if err != nil {
		return app.Errorf("%w", err)
	}
	hba, err := r.hbaCommands(ctx, ts)
	if err != nil {
		return err
	}
	catalog, err := r.catalogStatements(ts)
	if err != nil {
		return app.Errorf("%w", err)
	}
	var cat []string
	for _, s := range catalog {
		cat = append(cat, "coordinator (allow_system_table_mods, one transaction): "+s.String())
	}
	printStep(log.Info, "update pg_hba.conf on the sources", hba, nil)
	printStep(log.Info, "stop the failed segments that still run", r.stopCommands(ts), nil)
	printStep(log.Info, "update the catalog", nil, cat)
	insecure := r.env.SSHOptions(&r.opts.CommonOptions, "").InsecureIgnoreHostKeys
	for _, t := range ts {
		src := fmt.Sprintf("source %s:%d (utility, application_name %s): ", t.Source.Address, t.Source.Port, differentialAppName)
		dir := t.Failed.DataDir
		sql := cluster.BackupStatements(0)
		log.Info(fmt.Sprintf("Step: differential recovery of %s", t.label()))
		printStep(log.Info, "check the target", []remote.Command{{Host: t.Failed.Hostname, Script: diffPrepareScript, Args: []string{dir, strconv.Itoa(t.Failed.DBID)}}}, nil)
		printStep(log.Info, "replace the replication slot, then start a non-exclusive backup (server_version_num < 150000; 15 and later: pg_backup_start)", nil, []string{
			src + slotStateSQL + " -- " + strconv.Quote(buildmirrors.SlotName),
			src + buildmirrors.DropSlotSQL + " -- " + strconv.Quote(buildmirrors.SlotName) + ", if it exists",
			src + createSlotSQL + " -- " + strconv.Quote(buildmirrors.SlotName),
			src + sql.Start + " -- " + strconv.Quote(backupLabel),
		})
		data := append([]string{t.ProgressFile, "truncate", differentialMarker(dir), "", "", "", "", ""}, rsyncDataArgv(t.Source, dir, "log", insecure)...)
		printStep(log.Info, "rsync the data directory (pid file "+rsyncPIDFile(dir)+")", []remote.Command{{Host: t.Failed.Hostname, Script: diffRsyncScript, Args: data}}, nil)
		printStep(log.Info, "stop the backup", nil, []string{src + sql.Stop})
		printStep(log.Info, "write backup_label from the backup's stop, the configuration files, then rsync the backup's WAL and pg_control", []remote.Command{
			{Host: t.Failed.Hostname, Script: diffLabelScript, Args: []string{dir, "<backup_label>", ""}},
			{Host: t.Failed.Hostname, Argv: confFilesArgv(r.co.GPHome, t)},
			{Host: t.Failed.Hostname, Script: diffRsyncScript, Args: append([]string{t.ProgressFile, "append", "", walListFile(dir), "<timeline>", "<per id>", "<first>", "<last>"}, rsyncWALArgv(t.Source, dir, walListFile(dir), insecure)...)},
			{Host: t.Failed.Hostname, Script: diffRsyncScript, Args: append([]string{t.ProgressFile, "append", "", "", "", "", "", ""}, rsyncControlArgv(t.Source, dir, insecure)...)},
		}, nil)
		finish := append([]string{r.co.GPHome, dir, strconv.Itoa(t.Failed.Port), differentialMarker(dir), rsyncPIDFile(dir)}, buildmirrors.StartArgv(r.f, r.co.GPHome, era, buildmirrors.Mirror{Source: t.Source, Target: t.Failed})...)
		printStep(log.Info, "set the port and start", []remote.Command{{Host: t.Failed.Hostname, Script: diffFinishScript, Args: finish}}, nil)
	}
	log.Info(fmt.Sprintf("Dry run: %d segment(s) planned; nothing was changed", len(ts)))
	return nil
}
