package gpstate

import (
	"fmt"
	"strings"
)

// Value is one reported value; Warn marks it as a warning row. An empty
// Text means the key is absent.
type Value struct {
	Text string
	Warn bool
}

func unknown() Value { return Value{Text: "Unknown", Warn: true} }

// SegmentReplication is the "Mirroring Info" and "Replication Info" of one
// instance (spec §2.2, §2.4.2), as Greenplum derives them from the acting
// primary's pg_stat_replication.
type SegmentReplication struct {
	MirrorStatus  Value
	RecoveryStart Value
	WALSent       Value // mirror
	WALFlush      Value // mirror
	WALReplay     Value // mirror
	CurrentWrite  Value // primary
	BytesToSend   Value // primary
	BytesToFlush  Value // mirror: "Bytes received but remain to flush"
	BytesToReplay Value // mirror: "Bytes received but remain to replay"
}

// ReplicationReport is the replication view of every instance, and the
// warnings Greenplum logs while building it.
type ReplicationReport struct {
	ByDBID   map[int]SegmentReplication
	Warnings []string
}

// stateLabel capitalises a walsender state; backup means a copy.
func stateLabel(state string) string {
	if state == "backup" {
		return "Copying files from primary"
	}
	if state == "" {
		return ""
	}
	return strings.ToUpper(state[:1]) + state[1:]
}

func valueOr(s string) Value {
	if s == "" {
		return unknown()
	}
	return Value{Text: s}
}

// Replication builds the replication view of every pair (spec §2.2). With
// no mirrors it is empty.
func (st *Status) Replication() ReplicationReport {
	rep := ReplicationReport{ByDBID: map[int]SegmentReplication{}}
	if !st.Cluster.HasMirrors() {
		return rep
	}
	for _, p := range st.Cluster.Pairs() {
		if p.Primary == nil || p.Mirror == nil {
			continue
		}
		prim, mir := *p.Primary, *p.Mirror
		pr := SegmentReplication{MirrorStatus: Value{Text: prim.Mode.Label()}}
		mr := SegmentReplication{MirrorStatus: Value{Text: mir.Mode.Label()},
			WALSent: unknown(), WALFlush: unknown(), WALReplay: unknown(), BytesToFlush: unknown(), BytesToReplay: unknown()}
		var r *Replication
		if st.Obs != nil {
			r = st.Obs.Repl[prim.DBID]
		}
		if !prim.IsUp() || r == nil {
			rep.ByDBID[prim.DBID], rep.ByDBID[mir.DBID] = pr, mr
			continue
		}
		if r.Err != "" {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("could not query segment %d (%s:%d)", prim.DBID, prim.Hostname, prim.Port))
			rep.ByDBID[prim.DBID], rep.ByDBID[mir.DBID] = pr, mr
			continue
		}
		var walreceivers []ReplRow
		for _, row := range r.Rows {
			if row.State == "backup" {
				pr.MirrorStatus = Value{Text: "Copying files from primary"}
				pr.RecoveryStart = Value{Text: row.BackendStart}
			}
			if row.AppName == "gp_walreceiver" {
				walreceivers = append(walreceivers, row)
			}
		}
		if pr.RecoveryStart.Text == "" && r.RewindStart != "" {
			pr.MirrorStatus = Value{Text: "Rewinding history to match primary timeline"}
			pr.RecoveryStart = Value{Text: r.RewindStart}
		}
		pr.CurrentWrite = valueOr(r.CurrentWAL)
		pr.BytesToSend = unknown()
		switch len(walreceivers) {
		case 0:
			rep.Warnings = append(rep.Warnings, "pg_stat_replication shows no standby connections")
		case 1:
			w := walreceivers[0]
			pr.BytesToSend = valueOr(w.SentLeft)
			mr.MirrorStatus = Value{Text: stateLabel(w.State)}
			mr.WALSent, mr.WALFlush, mr.WALReplay = valueOr(w.Sent), valueOr(w.Flush), valueOr(w.Replay)
			mr.BytesToFlush, mr.BytesToReplay = valueOr(w.FlushLeft), valueOr(w.ReplayLeft)
		default:
			rep.Warnings = append(rep.Warnings, "pg_stat_replication shows more than one standby connection")
		}
		rep.ByDBID[prim.DBID], rep.ByDBID[mir.DBID] = pr, mr
	}
	return rep
}
