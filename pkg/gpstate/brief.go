package gpstate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// brief is gpstate's default report and -b (spec §2.4.1,
// __showStatusStatistics): the "instance status summary" heading, then one
// table for the whole block, so that the '=' column is aligned over the
// coordinator rows and both segment groups. It always exits 0.
func (r *report) brief(ctx context.Context) error {
	gplog.Emit(ctx, r.env.Log, briefRecords(r.st, briefExpansionInProgress(r.co.DataDir)))
	return nil
}

// briefRecords builds the brief report (pure). expanding adds gpexpand's
// "Cluster Expansion = In Progress" rows at the end.
func briefRecords(st *Status, expanding bool) []gplog.Record {
	f := st.Flavour
	at := "(at " + f.CoordinatorWord() + ")"
	t := &render.Table{Arrows: true}
	t.Separator()
	t.Add(f.CoordinatorTitle()+" instance", "= Active")
	briefStandbyRows(st, t)
	t.Add("Total segment instance count from metadata", fmt.Sprintf("= %d", len(st.Cluster.Segments())))
	t.Separator()
	for _, g := range []struct {
		role cluster.Role
		name string
	}{{cluster.RolePrimary, "Primary"}, {cluster.RoleMirror, "Mirror"}} {
		t.Add(g.name + " Segment Status")
		t.Separator()
		c := st.Count(g.role)
		if g.role == cluster.RoleMirror && c.Total == 0 {
			t.Add("Mirrors not configured on this array")
			t.Separator()
			continue
		}
		lower := strings.ToLower(g.name)
		t.Add(fmt.Sprintf("Total %s segments", lower), fmt.Sprintf("= %d", c.Total))
		t.Add(fmt.Sprintf("Total %s segment valid %s", lower, at), fmt.Sprintf("= %d", c.Valid))
		t.AddIf(c.Failures > 0, fmt.Sprintf("Total %s segment failures %s", lower, at), fmt.Sprintf("= %d", c.Failures))
		t.AddIf(c.PIDFilesMissing > 0, "Total number of postmaster.pid files missing", fmt.Sprintf("= %d", c.PIDFilesMissing))
		t.Add("Total number of postmaster.pid files found", fmt.Sprintf("= %d", c.PIDFilesFound))
		t.AddIf(c.PIDsMissing > 0, "Total number of postmaster.pid PIDs missing", fmt.Sprintf("= %d", c.PIDsMissing))
		t.Add("Total number of postmaster.pid PIDs found", fmt.Sprintf("= %d", c.PIDsFound))
		t.AddIf(c.LockFilesMissing > 0, "Total number of /tmp lock files missing", fmt.Sprintf("= %d", c.LockFilesMissing))
		t.Add("Total number of /tmp lock files found", fmt.Sprintf("= %d", c.LockFilesFound))
		t.AddIf(c.ProcessesMissing > 0, "Total number postmaster processes missing", fmt.Sprintf("= %d", c.ProcessesMissing))
		t.Add("Total number postmaster processes found", fmt.Sprintf("= %d", c.ProcessesFound))
		if g.role == cluster.RoleMirror {
			t.AddIf(c.ActingAsPrimary > 0, "Total number mirror segments acting as primary segments", fmt.Sprintf("= %d", c.ActingAsPrimary))
			t.Add("Total number mirror segments acting as mirror segments", fmt.Sprintf("= %d", c.ActingAsMirror))
		}
		t.Separator()
	}
	if expanding {
		briefExpansionRows(t, false)
	}
	recs := []gplog.Record{{Level: slog.LevelInfo, Msg: f.ProductWord() + " instance status summary"}}
	return append(recs, t.Records()...)
}

// briefStandbyRows appends the standby rows that -b and -s share
// (__appendStandbySummary): "Master standby" and, when one is configured,
// "Standby master state" from what its host said.
func briefStandbyRows(st *Status, t *render.Table) {
	f := st.Flavour
	word, title := f.CoordinatorWord(), f.CoordinatorTitle()
	sb, ok := st.Cluster.Standby()
	if !ok {
		t.Add(title+" standby", "= No "+word+" standby configured")
		return
	}
	t.Add(title+" standby", "= "+sb.Hostname)
	key := "Standby " + word + " state"
	o := st.observed(sb)
	switch {
	case o.HostErr != "":
		t.Warn(key, "= Status could not be determined: "+o.HostErr)
	case o.PIDFile && o.PID > 0 && o.PIDError(sb.Port) == "":
		t.Add(key, "= Standby host passive")
	default:
		t.Warn(key, "= Standby host DOWN")
	}
}

// briefExpansionInProgress reports whether gpexpand is in its first phase:
// MDD/gpexpand.status exists (spec §2.4.10). The second phase (the
// gpexpand.status table, read over a normal connection) is not checked.
func briefExpansionInProgress(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "gpexpand.status"))
	return err == nil
}

// briefExpansionRows appends __showExpandStatusSummary's rows: a separator
// first when pre is set, then "Cluster Expansion = In Progress" and a
// separator.
func briefExpansionRows(t *render.Table, pre bool) {
	if pre {
		t.Separator()
	}
	t.Add("Cluster Expansion", "= In Progress")
	t.Separator()
}
