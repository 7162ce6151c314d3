package gpstate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// pipeColumns are the 19 fields of --segmentStatusPipeSeparatedForTableUse
// with their SQL types (spec §2.4.11), in order.
var pipeColumns = []struct{ name, typ string }{
	{"dbid", "int"}, {"contentid", "int"},
	{"hostname", "text"}, {"address", "text"}, {"datadir", "text"}, {"port", "int"},
	{"role", "text"}, {"preferred_role", "text"}, {"mirror_status", "text"}, {"mirror_recovery_start", "text"},
	{"status_in_config", "text"}, {"instance_status", "text"}, {"has_status_warning", "bool"},
	{"error_getting_status", "text"},
	{"postmaster_pid_file_exists", "bool"}, {"postmaster_pid", "int"}, {"lock_files_exist", "bool"}, {"active_pid", "int"},
	{"version", "text"},
}

// pipe is --segmentStatusPipeSeparatedForTableUse: one line of 19
// '|'-separated fields per segment (coordinator and standby left out),
// written to stdout and not logged. The replication warnings are logged
// as -s logs them (so -q keeps them out of the table).
func (r *report) pipe(ctx context.Context) error {
	rep := r.st.Replication()
	for _, w := range rep.Warnings {
		gplog.Emit(ctx, r.env.Log, []gplog.Record{{Level: slog.LevelWarn, Msg: w}})
	}
	var b strings.Builder
	for _, row := range pipeRows(r.st, rep) {
		b.WriteString(pipeLine(row))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(r.env.Out, b.String()); err != nil {
		return fmt.Errorf("write the segment rows: %w", err)
	}
	return nil
}

// pipeRows returns the fields of every segment (pure), in -s's order; a
// value Greenplum does not know is "".
func pipeRows(st *Status, rep ReplicationReport) [][]string {
	mirrored := st.Cluster.HasMirrors()
	var rows [][]string
	for _, s := range st.Cluster.Segments() {
		o := st.observed(s)
		dbStatus, warn := st.DatabaseStatus(s)
		row := []string{
			strconv.Itoa(s.DBID), strconv.Itoa(s.ContentID),
			s.Hostname, s.Address, s.DataDir, strconv.Itoa(s.Port),
			s.Role.Label(), s.PreferredRole.Label(), detailMirrorStatus(rep, s, mirrored), rep.ByDBID[s.DBID].RecoveryStart.Text,
			s.Status.Label(), dbStatus, pipeBool(warn),
			o.HostErr,
		}
		if o.HostErr != "" {
			row = append(row, "", "", "", "", "")
		} else {
			pid, active := "", ""
			if o.PID != 0 {
				pid = strconv.Itoa(o.PID)
			}
			if o.PIDError(s.Port) == "" {
				active = pid
			}
			row = append(row, pipeBool(o.PIDFile), pid, pipeBool(o.Lock), active, o.Version)
		}
		rows = append(rows, row)
	}
	return rows
}

// pipeLine joins fields with '|', each '|' inside a value becoming '_'.
func pipeLine(fields []string) string {
	escaped := make([]string, len(fields))
	for i, f := range fields {
		escaped[i] = strings.ReplaceAll(f, "|", "_")
	}
	return strings.Join(escaped, "|")
}

func pipeBool(b bool) string {
	if b {
		return "t"
	}
	return "f"
}

// sampleSQL is --printSampleExternalTableSql: the DDL of an external web
// table over --segmentStatusPipeSeparatedForTableUse, printed to stdout.
// The command is this gpstate, in the directory of the running executable
// (Greenplum's sys.path[0]); $GPHOME/bin if that cannot be known.
func (r *report) sampleSQL(ctx context.Context) error {
	dir := filepath.Join(r.co.GPHome, "bin")
	if exe, err := os.Executable(); err == nil {
		dir = filepath.Dir(exe)
	}
	if _, err := io.WriteString(r.env.Out, sampleSQLText(r.st.Flavour, dir, r.co.DataDir)); err != nil {
		return fmt.Errorf("write the sample SQL: %w", err)
	}
	return nil
}

// sampleSQLText is the printed DDL (pure), byte for byte what Greenplum's
// print(sql) writes: a blank line first and one after.
func sampleSQLText(f cluster.Flavour, dir, dataDir string) string {
	cols := make([]string, len(pipeColumns))
	for i, c := range pipeColumns {
		cols[i] = c.name + " " + c.typ
	}
	script := fmt.Sprintf("%s/gpstate --segmentStatusPipeSeparatedForTableUse -q -d %s", dir, dataDir)
	return "\nDROP EXTERNAL TABLE IF EXISTS gpstate_segment_status;\n\n\nCREATE EXTERNAL WEB TABLE gpstate_segment_status\n" +
		"(" + strings.Join(cols, ", ") + ")\nEXECUTE '" + script + "' ON " + strings.ToUpper(f.CoordinatorWord()) +
		"\nFORMAT 'TEXT' (DELIMITER '|' NULL AS '');\n\n"
}
