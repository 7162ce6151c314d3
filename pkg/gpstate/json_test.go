package gpstate

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

const (
	jsonTestInitVersion   = "6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	jsonTestServerVersion = "9.4.26"
)

// jsonReport runs --json's report on fixture f with the coordinator's two
// queries answered, and returns stdout (where the console log goes too).
func jsonReport(t *testing.T, f *fixture) string {
	t.Helper()
	tr := newTestReport(t, f, &Options{JSON: true}, slog.LevelDebug)
	tr.conn.On(detailInitVersionSQL, clustertest.Text(jsonTestInitVersion))
	tr.conn.On(detailServerVersionSQL, clustertest.Text(jsonTestServerVersion))
	if err := tr.json(t.Context()); err != nil {
		t.Fatalf("json: %v", err)
	}
	return tr.out.String()
}

// TestJSONGolden pins the document of every fixture.
func TestJSONGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			golden.Check(t, "gpstate", "json_"+fx.name+".golden", []byte(jsonReport(t, fx.make())))
		})
	}
}

// jsonDecodeOnly decodes stdout as exactly one JSON value: anything
// before or after it (a log line, a second document) fails.
func jsonDecodeOnly(t *testing.T, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, stdout)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (next: %v)", err)
	}
	return doc
}

// jsonSegmentOf reads one instance object back into a catalog row, by the
// documented key names.
func jsonSegmentOf(t *testing.T, v any) cluster.Segment {
	t.Helper()
	m := v.(map[string]any)
	num := func(key string) int {
		n, err := m[key].(json.Number).Int64()
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return int(n)
	}
	cat := m["catalog"].(map[string]any)
	var s cluster.Segment
	var errs []error
	var err error
	s.Role, err = cluster.ParseRole(cat["role"].(string))
	errs = append(errs, err)
	s.PreferredRole, err = cluster.ParseRole(cat["preferred_role"].(string))
	errs = append(errs, err)
	s.Mode, err = cluster.ParseMode(cat["mode"].(string))
	errs = append(errs, err)
	s.Status, err = cluster.ParseStatus(cat["status"].(string))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s.DBID, s.ContentID, s.Port = num("dbid"), num("content"), num("port")
	s.Hostname, s.Address, s.DataDir = m["hostname"].(string), m["address"].(string), m["data_directory"].(string)
	return s
}

// jsonStrings returns the path of every string value that starts with s.
func jsonStrings(v any, path, s string) []string {
	var found []string
	switch v := v.(type) {
	case string:
		if strings.HasPrefix(v, s) {
			found = append(found, path)
		}
	case map[string]any:
		for k, e := range v {
			found = append(found, jsonStrings(e, path+"."+k, s)...)
		}
	case []any:
		for i, e := range v {
			found = append(found, jsonStrings(e, path+"["+strconv.Itoa(i)+"]", s)...)
		}
	}
	return found
}

// TestJSONDocument: on every fixture stdout is one JSON document and
// nothing else (the report logs nothing on the console, even at DEBUG);
// the coordinator, standby and segments read back, by the documented key
// names, into exactly the fixture's catalog rows; nothing is "Unknown";
// the schema version and health verdict are there.
func TestJSONDocument(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			f := fx.make()
			doc := jsonDecodeOnly(t, jsonReport(t, f))
			got := []cluster.Segment{jsonSegmentOf(t, doc["coordinator"])}
			if doc["standby"] != nil {
				got = append(got, jsonSegmentOf(t, doc["standby"]))
			}
			for _, s := range doc["segments"].([]any) {
				got = append(got, jsonSegmentOf(t, s))
			}
			c, err := cluster.New(f.segs)
			if err != nil {
				t.Fatal(err)
			}
			want := c.All()
			c2, err := cluster.New(got)
			if err != nil {
				t.Fatalf("rows read back: %v", err)
			}
			if d := cmp.Diff(want, c2.All()); d != "" {
				t.Errorf("catalog rows read back (-fixture +json):\n%s", d)
			}
			if n := len(got); n != len(f.segs) {
				t.Errorf("%d rows in the document, %d in the fixture", n, len(f.segs))
			}
			if paths := jsonStrings(doc, "", "Unknown"); len(paths) > 0 {
				t.Errorf(`"Unknown" values at %v`, paths)
			}
			if v := doc["schema_version"].(json.Number).String(); v != "1" {
				t.Errorf("schema_version %s", v)
			}
			health := doc["summary"].(map[string]any)["health"].(map[string]any)
			if want := CheckHealth(healthStatus(t, fx.make())).Verdict.String(); health["verdict"] != want {
				t.Errorf("summary.health.verdict %v, want %s", health["verdict"], want)
			}
		})
	}
}

// TestJSONUnknownsAreNull: what the hosts could not say is null, never
// "Unknown" nor false: a mirror down has no WAL positions, a host that did
// not answer has no pid file answer.
func TestJSONUnknownsAreNull(t *testing.T) {
	seg := func(doc map[string]any, dbid string) map[string]any {
		for _, s := range doc["segments"].([]any) {
			if m := s.(map[string]any); m["dbid"].(json.Number).String() == dbid {
				return m
			}
		}
		t.Fatalf("no dbid %s", dbid)
		return nil
	}
	doc := jsonDecodeOnly(t, jsonReport(t, mirrorDown()))
	repl := seg(doc, "5")["replication"].(map[string]any)
	for _, k := range []string{"wal_sent_location", "wal_flush_location", "wal_replay_location", "bytes_remaining_to_flush", "bytes_remaining_to_replay"} {
		if v, ok := repl[k]; !ok || v != nil {
			t.Errorf("mirror down: replication.%s = %v, want null", k, v)
		}
	}
	doc = jsonDecodeOnly(t, jsonReport(t, hostUnreachable()))
	obs := seg(doc, "4")["observed"].(map[string]any)
	want := map[string]any{"reachable": false, "error": "Error getting status from host sdw2: " + noRoute("sdw2").Error(), "postmaster_pid_file": nil, "pid": nil,
		"pid_error": nil, "lock_file": nil, "listening": nil, "pg_isready": nil, "pg_isready_code": nil,
		"database_status": nil, "probably_down": true}
	if d := cmp.Diff(want, obs); d != "" {
		t.Errorf("unreachable instance's observed (-want +got):\n%s", d)
	}
}

// TestJSONCoordinatorQueriesFail: -s's coordinator queries failing leave
// their values null and say why in the warnings; the document is still
// written.
func TestJSONCoordinatorQueriesFail(t *testing.T) {
	tr := newTestReport(t, healthyGP6(), &Options{JSON: true}, slog.LevelInfo)
	tr.conn.On(detailServerVersionSQL, clustertest.Text(jsonTestServerVersion))
	if err := tr.json(t.Context()); err != nil {
		t.Fatal(err)
	}
	doc := jsonDecodeOnly(t, tr.out.String())
	co := doc["coordinator"].(map[string]any)
	if co["initsystem_version"] != nil || co["postgres_version"] != jsonTestServerVersion {
		t.Errorf("initsystem_version %v, postgres_version %v", co["initsystem_version"], co["postgres_version"])
	}
	warnings := doc["summary"].(map[string]any)["warnings"].([]any)
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "could not read the master initsystem version: ") {
		t.Errorf("warnings %q", warnings)
	}
}

// TestJSONWriteFails: a stdout that cannot be written is an error.
func TestJSONWriteFails(t *testing.T) {
	tr := newTestReport(t, healthyGP6(), &Options{JSON: true}, slog.LevelInfo)
	tr.conn.On(detailInitVersionSQL, clustertest.Text(jsonTestInitVersion))
	tr.conn.On(detailServerVersionSQL, clustertest.Text(jsonTestServerVersion))
	tr.env.Out = jsonBrokenWriter{}
	if err := tr.json(t.Context()); err == nil || !strings.Contains(err.Error(), "write the JSON document") {
		t.Errorf("err = %v", err)
	}
	if tr.out.Len() != 0 {
		t.Errorf("console got %q", tr.out)
	}
}

type jsonBrokenWriter struct{}

func (jsonBrokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestJSONRun runs the whole --json path (prelude, gathering through the
// status scripts, report) with the log file only, as --json logs:
// stdout is exactly the document,
// the same as TestJSONGolden's, and the log lines are in the log file.
func TestJSONRun(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			rig := newHealthRig(t, fx.make())
			rig.opts.Health, rig.opts.JSON = false, true
			rig.conn.On(detailInitVersionSQL, clustertest.Text(jsonTestInitVersion))
			rig.conn.On(detailServerVersionSQL, clustertest.Text(jsonTestServerVersion))
			if err := Run(t.Context(), rig.env, rig.opts); err != nil {
				t.Fatalf("Run: %v", err)
			}
			golden.Check(t, "gpstate", "json_"+fx.name+".golden", rig.out.Bytes())
			if log := rig.logFile(t); !strings.Contains(log, "-[INFO]:-Gathering data from segments...\n") {
				t.Errorf("log file:\n%s", log)
			}
		})
	}
}
