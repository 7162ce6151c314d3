package gpstate

import (
	"context"
	"regexp"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// versions is gpstate -i (spec §2.4.7, __showVersionInfo): the software
// version of the coordinator, the standby and every segment, then whether
// they agree. It always exits 0. Its table follows the rules told at
// mirrors; its header too has an extra empty (fifth) cell.
func (r *report) versions(ctx context.Context) error {
	// "Loading version information" was logged by gather, before the hosts
	// were asked.
	gplog.Emit(ctx, r.env.Log, versionsRecords(r.st))
	return nil
}

// versionsRecords builds -i's table and verdict (pure).
func versionsRecords(st *Status) []gplog.Record {
	t := &render.Table{Arrows: true}
	t.Add("Host", "Datadir", "Port", "Version", "")
	builds := map[string]bool{}
	missing := false
	for _, s := range st.Cluster.All() {
		v := versionsShown(st, s)
		if v == "" {
			t.Warn(append(modeTriplet(s), "unable to retrieve version")...)
			missing = true
			continue
		}
		t.Add(append(modeTriplet(s), v)...)
		builds[versionsBuild(v)] = true
	}
	recs := t.Records()
	if len(builds) > 1 {
		recs = append(recs, modeWarn("Versions for some segments do not match.  Review table above for details.")...)
	}
	if missing {
		recs = append(recs, modeWarn("Unable to retrieve version data from all segments.  Review table above for details.")...)
	}
	if len(builds) == 1 && !missing {
		recs = append(recs, modeInfo("All segments are running the same software version")...)
	}
	return recs
}

// versionsShown is the version -i shows for s, "" when none is known.
//
// Greenplum asks every instance up in the catalog: a primary or the
// coordinator answers select version(); a mirror or the standby refuses
// the session, and Greenplum 6 reads the version from the refusal's
// "- VERSION: " line. The status script does the same (Observed.Version).
// A refusal that carries no version (PostgreSQL-based mirrors, such as the
// compat test bed's) leaves it empty: then, for an instance that Greenplum
// could have asked -- up in the catalog, its host answered, its postmaster
// running -- -i shows the version of the binaries installed on its host
// (`postgres --gp-version`), which is what that postmaster runs unless the
// binaries were replaced under it. An instance down in the catalog, on a
// host that did not answer, or whose postmaster is not running gets
// Greenplum's "unable to retrieve version", as it does in Greenplum.
func versionsShown(st *Status, s cluster.Segment) string {
	o := st.observed(s)
	if o.Version != "" {
		return o.Version
	}
	if st.Obs == nil || !s.IsUp() || o.HostErr != "" || o.PIDError(s.Port) != "" {
		return ""
	}
	return st.Obs.Binary[s.Hostname]
}

// versionsBuildRE finds the product, release and build in both forms -i
// shows: version() ("PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build
// commit:25d3...) on x86_64...") and postgres --gp-version ("postgres
// (Greenplum Database) 6.24.3 build commit:25d3...").
var versionsBuildRE = regexp.MustCompile(`\((Greenplum Database|Cloudberry Database|Apache Cloudberry)\)? ?(\S+) build ([^\s)]+)`)

// versionsBuild is what the version-match check compares of a shown
// version: "Greenplum Database 6.24.3 build commit:25d3...", so that a
// primary's version() and a mirror's binaries of the same build agree
// while two builds differ; a version of another shape is compared whole.
func versionsBuild(v string) string {
	m := versionsBuildRE.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	return m[1] + " " + m[2] + " build " + m[3]
}
