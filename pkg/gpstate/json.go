package gpstate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// JSONSchemaVersion is the version of the --json document
// (docs/gpstate-json.md). It changes when a field is removed, renamed or
// changes meaning; new fields do not change it.
const JSONSchemaVersion = 1

// The --json document. Field order is output order; values that are not
// known are null, never "Unknown"; lists are never null.
type (
	jsonDocument struct {
		SchemaVersion int               `json:"schema_version"`
		Tool          string            `json:"tool"`
		GeneratedAt   string            `json:"generated_at"`
		Coordinator   jsonCoordinator   `json:"coordinator"`
		Standby       *jsonInstance     `json:"standby"`
		Segments      []jsonSegment     `json:"segments"`
		Summary       jsonStatusSummary `json:"summary"`
	}

	// jsonInstance is one row of gp_segment_configuration and what its
	// host said of it.
	jsonInstance struct {
		DBID          int           `json:"dbid"`
		Content       int           `json:"content"`
		Hostname      string        `json:"hostname"`
		Address       string        `json:"address"`
		Port          int           `json:"port"`
		DataDirectory string        `json:"data_directory"`
		Catalog       jsonCatalog   `json:"catalog"`
		Observed      *jsonObserved `json:"observed"` // null when the hosts were not asked
	}

	// jsonCatalog holds the catalog's codes: role and preferred_role p or
	// m, mode s or n, status u or d.
	jsonCatalog struct {
		Role          cluster.Role   `json:"role"`
		PreferredRole cluster.Role   `json:"preferred_role"`
		Mode          cluster.Mode   `json:"mode"`
		Status        cluster.Status `json:"status"`
	}

	jsonObserved struct {
		Reachable         bool    `json:"reachable"`           // the host gave this instance's status
		Error             *string `json:"error"`               // why not: Greenplum's host warning, then the reason
		PostmasterPIDFile *bool   `json:"postmaster_pid_file"` // <datadir>/postmaster.pid exists
		PID               *int    `json:"pid"`                 // its first line
		PIDError          *string `json:"pid_error"`           // the pid checks' error (spec §1.9)
		LockFile          *bool   `json:"lock_file"`           // /tmp/.s.PGSQL.<port>.lock exists
		Listening         *bool   `json:"listening"`           // a server listens on /tmp/.s.PGSQL.<port>
		PGIsReady         *string `json:"pg_isready"`          // its label for the current role
		PGIsReadyCode     *int    `json:"pg_isready_code"`     // its exit code
		DatabaseStatus    *string `json:"database_status"`     // -s's "Database status" / "Segment status"; null for its "Unknown -- ..."
		ProbablyDown      bool    `json:"probably_down"`       // database_status is not "Up"
	}

	jsonCoordinator struct {
		jsonInstance
		PID               *int    `json:"pid"` // -s's "postgres process ID"
		CurrentRole       string  `json:"current_role"`
		Flavour           string  `json:"flavour"`
		Version           string  `json:"version"`       // select version()
		LocalVersion      string  `json:"local_version"` // $GPHOME/bin/postgres --gp-version
		InitsystemVersion *string `json:"initsystem_version"`
		PostgresVersion   *string `json:"postgres_version"`
	}

	jsonSegment struct {
		jsonInstance
		Replication *jsonReplication `json:"replication"` // null without mirrors
	}

	// jsonReplication is -s's "Mirroring Info" and "Replication Info".
	jsonReplication struct {
		MirrorStatus         *string `json:"mirror_status"`
		RecoveryStart        *string `json:"recovery_start"`
		WALSentLocation      *string `json:"wal_sent_location"`
		WALFlushLocation     *string `json:"wal_flush_location"`
		WALReplayLocation    *string `json:"wal_replay_location"`
		CurrentWriteLocation *string `json:"current_write_location"`
		BytesRemainingSend   *int64  `json:"bytes_remaining_to_send"`
		BytesRemainingFlush  *int64  `json:"bytes_remaining_to_flush"`
		BytesRemainingReplay *int64  `json:"bytes_remaining_to_replay"`
	}

	// jsonCounts are -b's counters of one preferred role.
	jsonCounts struct {
		Total            int  `json:"total"`
		Valid            int  `json:"valid"`
		Failures         int  `json:"failures"`
		PIDFilesMissing  int  `json:"postmaster_pid_files_missing"`
		PIDFilesFound    int  `json:"postmaster_pid_files_found"`
		PIDsMissing      int  `json:"postmaster_pids_missing"`
		PIDsFound        int  `json:"postmaster_pids_found"`
		LockFilesMissing int  `json:"lock_files_missing"`
		LockFilesFound   int  `json:"lock_files_found"`
		ProcessesMissing int  `json:"postmaster_processes_missing"`
		ProcessesFound   int  `json:"postmaster_processes_found"`
		ActingAsPrimary  *int `json:"acting_as_primary"` // mirrors only
		ActingAsMirror   *int `json:"acting_as_mirror"`  // mirrors only
	}

	jsonStatusSummary struct {
		Contents            int         `json:"contents"`
		SegmentInstances    int         `json:"segment_instances"`
		Up                  int         `json:"up"`
		ProbablyDown        int         `json:"probably_down"`
		DownInConfiguration int         `json:"down_in_configuration"`
		Unreachable         int         `json:"unreachable"`
		UnreachableHosts    []string    `json:"unreachable_hosts"`
		Mirrored            bool        `json:"mirrored"`
		InSync              *int        `json:"in_sync"`
		Unbalanced          int         `json:"unbalanced"`
		PrimarySegments     jsonCounts  `json:"primary_segments"`
		MirrorSegments      *jsonCounts `json:"mirror_segments"`
		Unavailable         bool        `json:"unavailable"`
		Warnings            []string    `json:"warnings"`
		Health              jsonHealth  `json:"health"`
	}

	jsonHealth struct {
		Verdict  string        `json:"verdict"`
		ExitCode int           `json:"exit_code"`
		Summary  string        `json:"summary"`
		Problems []jsonProblem `json:"problems"`
	}

	jsonProblem struct {
		Verdict string `json:"verdict"`
		Message string `json:"message"`
		DBIDs   []int  `json:"dbids"`
	}
)

// json is gpstate --json: everything -s knows, as one JSON document on
// stdout (schema in docs/gpstate-json.md). It logs nothing and exits 0
// once the document is written; the verdict is in summary.health.
func (r *report) json(ctx context.Context) error {
	extra := r.jsonCoordinatorExtras(ctx)
	doc := newJSONDocument(r.st, r.co.Local.Raw, r.co.ServerVersion, r.co.State.Utility, extra, r.env.Now())
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode the JSON document: %w", err)
	}
	if _, err := r.env.Out.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write the JSON document: %w", err)
	}
	return nil
}

// jsonExtras are the coordinator values -s queries for, nil when the
// query failed, and the warnings of the failures.
type jsonExtras struct {
	InitsystemVersion, PostgresVersion *string
	Warnings                           []string
}

// jsonCoordinatorExtras runs -s's two coordinator queries.
func (r *report) jsonCoordinatorExtras(ctx context.Context) jsonExtras {
	var x jsonExtras
	for _, q := range []struct {
		sql, what string
		into      **string
	}{
		{detailInitVersionSQL, "initsystem version", &x.InitsystemVersion},
		{detailServerVersionSQL, "server_version", &x.PostgresVersion},
	} {
		var s string
		qctx, cancel := cluster.WithQueryTimeout(ctx)
		err := r.co.Conn.QueryRow(qctx, q.sql).Scan(&s)
		cancel()
		if err != nil {
			x.Warnings = append(x.Warnings, fmt.Sprintf("could not read the %s %s: %s", r.st.Flavour.CoordinatorWord(), q.what, healthOneLine(err.Error())))
			continue
		}
		*q.into = &s
	}
	return x
}

// newJSONDocument builds the --json document (pure): the coordinator's
// versions, whether it runs in utility mode, the extras, and the time.
func newJSONDocument(st *Status, localVersion, serverVersion string, utility bool, x jsonExtras, now time.Time) jsonDocument {
	c := st.Cluster
	rep := st.Replication()
	co := c.Coordinator()
	role := "dispatch"
	if utility {
		role = "utility"
	}
	doc := jsonDocument{
		SchemaVersion: JSONSchemaVersion,
		Tool:          "gpstate",
		GeneratedAt:   now.Format(time.RFC3339),
		Coordinator: jsonCoordinator{
			jsonInstance:      newJSONInstance(st, co),
			CurrentRole:       role,
			Flavour:           st.Flavour.String(),
			Version:           serverVersion,
			LocalVersion:      localVersion,
			InitsystemVersion: x.InitsystemVersion,
			PostgresVersion:   x.PostgresVersion,
		},
		Segments: []jsonSegment{},
		Summary:  newJSONSummary(st, rep, x.Warnings),
	}
	if pid, warn := st.PIDText(co); !warn && st.Obs != nil {
		doc.Coordinator.PID = jsonInt(pid)
	}
	if sb, ok := c.Standby(); ok {
		in := newJSONInstance(st, sb)
		doc.Standby = &in
	}
	for _, s := range c.Segments() {
		seg := jsonSegment{jsonInstance: newJSONInstance(st, s)}
		if sr, ok := rep.ByDBID[s.DBID]; ok {
			seg.Replication = newJSONReplication(sr)
		}
		doc.Segments = append(doc.Segments, seg)
	}
	return doc
}

func newJSONInstance(st *Status, s cluster.Segment) jsonInstance {
	in := jsonInstance{DBID: s.DBID, Content: s.ContentID, Hostname: s.Hostname, Address: s.Address, Port: s.Port, DataDirectory: s.DataDir,
		Catalog: jsonCatalog{Role: s.Role, PreferredRole: s.PreferredRole, Mode: s.Mode, Status: s.Status}}
	if st.Obs == nil {
		return in
	}
	o := st.observed(s)
	label, warn := st.DatabaseStatus(s)
	ob := &jsonObserved{Reachable: o.HostErr == "", ProbablyDown: warn}
	if !strings.HasPrefix(label, unknown().Text) {
		ob.DatabaseStatus = &label
	}
	if o.HostErr != "" {
		msg := o.HostErr
		if o.Reason != "" {
			msg += ": " + o.Reason
		}
		ob.Error = &msg
	} else {
		ob.PostmasterPIDFile, ob.LockFile, ob.Listening = &o.PIDFile, &o.Lock, &o.Active
		if o.PID != 0 {
			ob.PID = &o.PID
		}
		ob.PIDError = jsonString(o.PIDError(s.Port))
		ob.PGIsReady = jsonString(o.ReadyLabel(s.IsPrimary()))
		if o.Ready >= 0 {
			ob.PGIsReadyCode = &o.Ready
		}
	}
	in.Observed = ob
	return in
}

func newJSONReplication(sr SegmentReplication) *jsonReplication {
	return &jsonReplication{
		MirrorStatus:         jsonValue(sr.MirrorStatus),
		RecoveryStart:        jsonValue(sr.RecoveryStart),
		WALSentLocation:      jsonValue(sr.WALSent),
		WALFlushLocation:     jsonValue(sr.WALFlush),
		WALReplayLocation:    jsonValue(sr.WALReplay),
		CurrentWriteLocation: jsonValue(sr.CurrentWrite),
		BytesRemainingSend:   jsonBytes(sr.BytesToSend),
		BytesRemainingFlush:  jsonBytes(sr.BytesToFlush),
		BytesRemainingReplay: jsonBytes(sr.BytesToReplay),
	}
}

func newJSONSummary(st *Status, rep ReplicationReport, extraWarnings []string) jsonStatusSummary {
	c := st.Cluster
	hc := healthCount(st, rep)
	sum := jsonStatusSummary{
		Contents:         hc.contents,
		SegmentInstances: hc.instances,
		UnreachableHosts: []string{},
		Mirrored:         c.HasMirrors(),
		Unbalanced:       hc.unbalanced,
		PrimarySegments:  newJSONCounts(st.Count(cluster.RolePrimary), false),
		Unavailable:      st.Unavailable(),
		Warnings:         []string{},
	}
	for _, s := range c.Segments() {
		o := st.observed(s)
		switch {
		case st.ProbablyDown(s):
			sum.ProbablyDown++
		default:
			sum.Up++
		}
		if !s.IsUp() {
			sum.DownInConfiguration++
		}
		if o.HostErr != "" {
			sum.Unreachable++
		}
	}
	if sum.Mirrored {
		sum.InSync = &hc.inSync
		m := newJSONCounts(st.Count(cluster.RoleMirror), true)
		sum.MirrorSegments = &m
	}
	for _, h := range c.AllHosts() {
		for _, s := range c.All() {
			if s.Hostname == h && st.observed(s).HostErr != "" {
				sum.UnreachableHosts = append(sum.UnreachableHosts, h)
				break
			}
		}
		if st.Obs != nil && st.Obs.HostWarnings[h] != "" {
			sum.Warnings = append(sum.Warnings, st.Obs.HostWarnings[h])
		}
		if why := st.Obs.Reason(h); why != "" {
			sum.Warnings = append(sum.Warnings, why)
		}
	}
	sum.Warnings = append(sum.Warnings, rep.Warnings...)
	sum.Warnings = append(sum.Warnings, extraWarnings...)
	h := CheckHealth(st)
	sum.Health = jsonHealth{Verdict: h.Verdict.String(), ExitCode: h.Verdict.ExitCode(), Summary: h.Summary, Problems: []jsonProblem{}}
	for _, p := range h.Problems {
		sum.Health.Problems = append(sum.Health.Problems, jsonProblem{Verdict: p.Verdict.String(), Message: p.Message, DBIDs: p.DBIDs})
	}
	return sum
}

func newJSONCounts(c Counts, mirrors bool) jsonCounts {
	j := jsonCounts{Total: c.Total, Valid: c.Valid, Failures: c.Failures,
		PIDFilesMissing: c.PIDFilesMissing, PIDFilesFound: c.PIDFilesFound,
		PIDsMissing: c.PIDsMissing, PIDsFound: c.PIDsFound,
		LockFilesMissing: c.LockFilesMissing, LockFilesFound: c.LockFilesFound,
		ProcessesMissing: c.ProcessesMissing, ProcessesFound: c.ProcessesFound}
	if mirrors {
		j.ActingAsPrimary, j.ActingAsMirror = &c.ActingAsPrimary, &c.ActingAsMirror
	}
	return j
}

// jsonString is s, or null when empty.
func jsonString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// jsonValue is a reported value, or null when absent or unknown.
func jsonValue(v Value) *string {
	if v.Warn && v.Text == unknown().Text {
		return nil
	}
	return jsonString(v.Text)
}

// jsonBytes is a byte count (pg_lsn differences print as whole numbers),
// or null when absent, unknown or not a number.
func jsonBytes(v Value) *int64 {
	s := jsonValue(v)
	if s == nil {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(strings.TrimSpace(*s), 64)
		if ferr != nil {
			return nil
		}
		n = int64(f)
	}
	return &n
}

// jsonInt is a decimal string as an int, or null.
func jsonInt(s string) *int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &n
}
