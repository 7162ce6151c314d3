package gpstate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// gpstate --metrics prints the Prometheus text format that
// node_exporter's textfile collector reads (docs/monitoring.md): gauges
// only, no timestamps, one HELP and TYPE per family. The values are those
// of --json's document, built by the same functions, so the two agree.

// metricFamily is one metric name with its samples, in output order.
type metricFamily struct {
	name, help string
	samples    []metricSample
}

type metricSample struct {
	labels []metricLabel
	value  float64
}

type metricLabel struct{ name, value string }

// metricsInput is everything the metrics are made of: the run's status
// (nil when the prelude failed: the coordinator is down or the check
// could not start), its health verdict, the recovery progress by dbid, and
// when the run started and how long it took.
type metricsInput struct {
	st       *Status
	health   HealthReport
	progress map[int]errorsProgress
	started  time.Time
	took     time.Duration
}

// metricsFamilies builds the metric families (pure). Families whose value
// is not known for an instance leave that instance out, as Prometheus
// expects of an unknown value.
func metricsFamilies(in metricsInput) []metricFamily {
	coordinator := metricFamily{name: "greenplum_coordinator_up",
		help: "1 when gpstate connected to the coordinator and read its catalog, 0 when the coordinator is down or its catalog unreadable; absent when the check could not start."}
	switch {
	case in.st != nil:
		coordinator.samples = []metricSample{{value: 1}}
	case in.health.Verdict == VerdictCritical:
		coordinator.samples = []metricSample{{value: 0}}
	}
	fams := []metricFamily{
		coordinator,
		metricsVerdicts(in.health.Verdict),
		{name: "greenplum_health_exit_code", help: "The health verdict's Nagios exit code, as gpstate --health exits: 0 OK, 1 warning, 2 critical, 3 unknown.",
			samples: []metricSample{{value: float64(in.health.Verdict.ExitCode())}}},
		{name: "greenplum_gpstate_duration_seconds", help: "How long this gpstate --metrics run took.",
			samples: []metricSample{{value: in.took.Seconds()}}},
		{name: "greenplum_gpstate_timestamp_seconds", help: "When this gpstate --metrics run started, in seconds since the Unix epoch.",
			samples: []metricSample{{value: float64(in.started.UnixNano()) / 1e9}}},
	}
	if in.st == nil || in.st.Cluster == nil {
		return fams
	}
	return append(fams, metricsCluster(in)...)
}

// metricsVerdicts is the verdict as a state set: one sample per verdict,
// 1 for the run's.
func metricsVerdicts(v Verdict) metricFamily {
	f := metricFamily{name: "greenplum_health_verdict", help: "The health verdict of gpstate --health: 1 for the run's verdict, 0 for the others."}
	for w := range Verdict(len(verdictNames)) {
		f.samples = append(f.samples, metricSample{labels: []metricLabel{{"verdict", w.String()}}, value: metricBool(w == v)})
	}
	return f
}

// metricsCluster returns the families of the standby and the segments.
func metricsCluster(in metricsInput) []metricFamily {
	st := in.st
	doc := newJSONDocument(st, "", "", false, jsonExtras{}, in.started)
	sb, hasStandby := st.Cluster.Standby()
	fams := []metricFamily{{name: "greenplum_standby_configured", help: "1 when the catalog has a standby coordinator, else 0.",
		samples: []metricSample{{value: metricBool(hasStandby)}}}}
	if hasStandby {
		o := st.observed(sb)
		fams = append(fams, metricFamily{name: "greenplum_standby_up",
			help:    "1 when the standby coordinator is up in the catalog and its postmaster runs (gpstate's \"Standby host passive\"), else 0.",
			samples: []metricSample{{labels: metricInstanceLabels(*doc.Standby), value: metricBool(sb.IsUp() && healthStandbyRunning(o, sb.Port))}}})
	}

	var (
		fUp       = metricFamily{name: "greenplum_segment_up", help: "1 when the instance answers as its role should (gpstate -s's status is Up), else 0."}
		fReach    = metricFamily{name: "greenplum_segment_host_reachable", help: "1 when the instance's host gave its status, else 0 (its state is then unknown)."}
		fRole     = metricFamily{name: "greenplum_segment_role_primary", help: "1 when the catalog's role is primary, 0 when mirror."}
		fPref     = metricFamily{name: "greenplum_segment_preferred_role_primary", help: "1 when the catalog's preferred role is primary, 0 when mirror."}
		fMode     = metricFamily{name: "greenplum_segment_mode_synchronized", help: "1 when the catalog's mode is s (synchronized), 0 when n (not in sync)."}
		fStatus   = metricFamily{name: "greenplum_segment_status_up", help: "1 when the catalog's status is u (up), 0 when d (down)."}
		fSend     = metricFamily{name: "greenplum_segment_wal_send_lag_bytes", help: "WAL a primary has written but not yet sent to its mirror (pg_stat_replication)."}
		fFlush    = metricFamily{name: "greenplum_segment_wal_flush_lag_bytes", help: "WAL a mirror has received but not yet flushed (pg_stat_replication)."}
		fReplay   = metricFamily{name: "greenplum_segment_wal_replay_lag_bytes", help: "WAL a mirror has received but not yet replayed (pg_stat_replication)."}
		fRecovery = metricFamily{name: "greenplum_segment_recovery_progress_ratio", help: "Progress of a running gprecoverseg copy or rewind of the instance, 0 to 1 (gpstate -e's \"Segments in recovery\")."}
	)
	for _, s := range doc.Segments {
		labels := metricInstanceLabels(s.jsonInstance)
		add := func(f *metricFamily, v float64) {
			f.samples = append(f.samples, metricSample{labels: labels, value: v})
		}
		add(&fUp, metricBool(s.Observed != nil && !s.Observed.ProbablyDown))
		add(&fReach, metricBool(s.Observed != nil && s.Observed.Reachable))
		add(&fRole, metricBool(s.Catalog.Role == cluster.RolePrimary))
		add(&fPref, metricBool(s.Catalog.PreferredRole == cluster.RolePrimary))
		add(&fMode, metricBool(s.Catalog.Mode == cluster.ModeSynced))
		add(&fStatus, metricBool(s.Catalog.Status == cluster.StatusUp))
		if r := s.Replication; r != nil {
			for _, m := range []struct {
				f *metricFamily
				v *int64
			}{{&fSend, r.BytesRemainingSend}, {&fFlush, r.BytesRemainingFlush}, {&fReplay, r.BytesRemainingReplay}} {
				if m.v != nil {
					add(m.f, float64(*m.v))
				}
			}
		}
		if p, ok := in.progress[s.DBID]; ok {
			if ratio, ok := p.ratio(); ok {
				fRecovery.samples = append(fRecovery.samples, metricSample{labels: append(labels, metricLabel{"type", p.Type}), value: ratio})
			}
		}
	}
	return append(fams, fUp, fReach, fRole, fPref, fMode, fStatus, fSend, fFlush, fReplay, fRecovery)
}

// ratio is the completed part of the recovery, 0 to 1; false when the
// line's numbers are not numbers.
func (p errorsProgress) ratio() (float64, bool) {
	done, err1 := strconv.ParseFloat(p.Completed, 64)
	total, err2 := strconv.ParseFloat(p.Total, 64)
	if err1 != nil || err2 != nil || total <= 0 {
		return 0, false
	}
	return min(done/total, 1), true
}

// metricInstanceLabels are the labels that name an instance.
func metricInstanceLabels(in jsonInstance) []metricLabel {
	return []metricLabel{{"content", strconv.Itoa(in.Content)}, {"dbid", strconv.Itoa(in.DBID)},
		{"hostname", in.Hostname}, {"port", strconv.Itoa(in.Port)}}
}

func metricBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeMetrics renders families in the text format; a family without
// samples is left out (a HELP with no sample says nothing).
func writeMetrics(fams []metricFamily) string {
	var b strings.Builder
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", f.name, metricEscape(f.help, false), f.name)
		for _, s := range f.samples {
			b.WriteString(f.name)
			if len(s.labels) > 0 {
				b.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", l.name, metricEscape(l.value, true))
				}
				b.WriteByte('}')
			}
			b.WriteString(" " + metricValue(s.value) + "\n")
		}
	}
	return b.String()
}

// metricEscape escapes a HELP text (backslash, newline) or a label value
// (also the double quote), as the text format wants.
func metricEscape(s string, label bool) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	if label {
		r = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	}
	return r.Replace(s)
}

// metricValue prints numbers without an exponent (byte counts up to 2^53,
// Unix times), as people read them.
func metricValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
