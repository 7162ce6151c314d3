// Package metricscheck checks gpstate --metrics output for the tests: with
// the Prometheus client library's own text parser and linter (what
// `promtool check metrics` runs), and against gpstate --json's document of
// the same cluster. Only tests import it, so the tools do not link the
// Prometheus libraries.
package metricscheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is parsed metrics text: samples by metric name.
type Families map[string]*dto.MetricFamily

// Parse parses text with the client library's text parser and lints it
// with promlint; any parse error or lint problem is an error.
func Parse(text []byte) (Families, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("lint: %v", problems)
	}
	for name, f := range fams {
		if f.GetType() != dto.MetricType_GAUGE {
			return nil, fmt.Errorf("%s is a %s; gpstate prints gauges only", name, f.GetType())
		}
	}
	return Families(fams), nil
}

// Value returns the value of metric name whose labels include want; ok is
// false when there is no such sample, and an error when there are more
// than one.
func (f Families) Value(name string, want map[string]string) (v float64, ok bool, err error) {
	fam := f[name]
	if fam == nil {
		return 0, false, nil
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, want) {
			continue
		}
		if ok {
			return 0, false, fmt.Errorf("%s%v: more than one sample", name, want)
		}
		v, ok = m.GetGauge().GetValue(), true
	}
	return v, ok, nil
}

func matches(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, in := want[l.GetName()]; in {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// document is the part of gpstate --json's document the metrics show.
type document struct {
	Standby *instance `json:"standby"`
	Segment []struct {
		instance
		Replication *struct {
			Send   *int64 `json:"bytes_remaining_to_send"`
			Flush  *int64 `json:"bytes_remaining_to_flush"`
			Replay *int64 `json:"bytes_remaining_to_replay"`
		} `json:"replication"`
	} `json:"segments"`
	Summary struct {
		Health struct {
			Verdict  string `json:"verdict"`
			ExitCode int    `json:"exit_code"`
		} `json:"health"`
	} `json:"summary"`
}

type instance struct {
	DBID     int    `json:"dbid"`
	Content  int    `json:"content"`
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
	Catalog  struct {
		Role          string `json:"role"`
		PreferredRole string `json:"preferred_role"`
		Mode          string `json:"mode"`
		Status        string `json:"status"`
	} `json:"catalog"`
	Observed *struct {
		Reachable    bool `json:"reachable"`
		ProbablyDown bool `json:"probably_down"`
	} `json:"observed"`
}

func (in instance) labels() map[string]string {
	return map[string]string{"dbid": strconv.Itoa(in.DBID), "content": strconv.Itoa(in.Content), "hostname": in.Hostname, "port": strconv.Itoa(in.Port)}
}

// AgreeWithJSON compares the metrics with gpstate --json's document of the
// same cluster state and returns every disagreement (none: nil): the
// verdict and its exit code; per segment, up, reachable, the catalog's
// role, preferred role, mode and status, and the WAL byte counts (a null
// in the document is a missing sample); the standby, when configured.
func AgreeWithJSON(f Families, jsonDoc []byte) ([]string, error) {
	var doc document
	if err := json.Unmarshal(jsonDoc, &doc); err != nil {
		return nil, fmt.Errorf("the --json document: %w", err)
	}
	var diffs []string
	want := func(name string, labels map[string]string, wantOK bool, wantV float64) {
		v, ok, err := f.Value(name, labels)
		switch {
		case err != nil:
			diffs = append(diffs, err.Error())
		case ok != wantOK:
			diffs = append(diffs, fmt.Sprintf("%s%v: present %t, --json says %t", name, sorted(labels), ok, wantOK))
		case ok && v != wantV:
			diffs = append(diffs, fmt.Sprintf("%s%v = %v, --json says %v", name, sorted(labels), v, wantV))
		}
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	want("greenplum_coordinator_up", nil, true, 1)
	want("greenplum_health_verdict", map[string]string{"verdict": doc.Summary.Health.Verdict}, true, 1)
	want("greenplum_health_exit_code", nil, true, float64(doc.Summary.Health.ExitCode))
	want("greenplum_standby_configured", nil, true, bit(doc.Standby != nil))
	if doc.Standby != nil {
		if _, ok, _ := f.Value("greenplum_standby_up", doc.Standby.labels()); !ok {
			diffs = append(diffs, "greenplum_standby_up: no sample for the standby of --json")
		}
	}
	n := 0
	for _, s := range doc.Segment {
		l := s.labels()
		n++
		up, reachable := false, false
		if s.Observed != nil {
			up, reachable = !s.Observed.ProbablyDown, s.Observed.Reachable
		}
		want("greenplum_segment_up", l, true, bit(up))
		want("greenplum_segment_host_reachable", l, true, bit(reachable))
		want("greenplum_segment_role_primary", l, true, bit(s.Catalog.Role == "p"))
		want("greenplum_segment_preferred_role_primary", l, true, bit(s.Catalog.PreferredRole == "p"))
		want("greenplum_segment_mode_synchronized", l, true, bit(s.Catalog.Mode == "s"))
		want("greenplum_segment_status_up", l, true, bit(s.Catalog.Status == "u"))
		for _, m := range []struct {
			name string
			v    func() *int64
		}{
			{"greenplum_segment_wal_send_lag_bytes", func() *int64 { return s.Replication.Send }},
			{"greenplum_segment_wal_flush_lag_bytes", func() *int64 { return s.Replication.Flush }},
			{"greenplum_segment_wal_replay_lag_bytes", func() *int64 { return s.Replication.Replay }},
		} {
			var v *int64
			if s.Replication != nil {
				v = m.v()
			}
			if v == nil {
				want(m.name, l, false, 0)
			} else {
				want(m.name, l, true, float64(*v))
			}
		}
	}
	if got := len(f["greenplum_segment_up"].GetMetric()); got != n {
		diffs = append(diffs, fmt.Sprintf("greenplum_segment_up has %d samples, --json %d segments", got, n))
	}
	return diffs, nil
}

func sorted(m map[string]string) []string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	sort.Strings(s)
	return s
}
