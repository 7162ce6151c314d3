package gpstate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Verdict is a verdict of gpstate --health (an addition; design.md,
// "Health exit codes"), ordered from best to worst: when a cluster has
// several problems, the greatest Verdict is the result. See
// docs/gpstate-json.md.
type Verdict int

// The verdicts, best first.
const (
	VerdictOK          Verdict = iota // nothing to report: exit 0
	VerdictUnbalanced                 // some content runs with its roles switched: exit 1
	VerdictNotSynced                  // some pair is up but not in sync: exit 1
	VerdictDegraded                   // some instance or the standby is down, every content is served: exit 1
	VerdictUnknown                    // the check could not run (environment, ssh setup): exit 3
	VerdictUnreachable                // some host did not answer: exit 3
	VerdictDoubleFault                // some content has no usable instance: exit 2
	VerdictCritical                   // the coordinator is down or its catalog unreadable: exit 2
)

var verdictNames = [...]string{"OK", "UNBALANCED", "NOT_SYNCED", "DEGRADED", "UNKNOWN", "UNREACHABLE", "DOUBLE_FAULT", "CRITICAL"}

// String is the verdict's word, as printed: "OK", "NOT_SYNCED", ...
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// ExitCode is the verdict's Nagios exit code: 0 OK, 1 WARNING, 2
// CRITICAL, 3 UNKNOWN.
func (v Verdict) ExitCode() int {
	switch v {
	case VerdictOK:
		return 0
	case VerdictUnbalanced, VerdictNotSynced, VerdictDegraded:
		return 1
	case VerdictDoubleFault, VerdictCritical:
		return 2
	}
	return 3
}

// HealthProblem is one problem found, one line of the health report.
type HealthProblem struct {
	Verdict Verdict
	Message string // without the "<VERDICT>: " prefix
	DBIDs   []int  // the instances concerned
}

// HealthReport is the result of a health check: the verdict, a one-line
// summary of the cluster and the problems, worst first.
type HealthReport struct {
	Verdict  Verdict
	Summary  string
	Problems []HealthProblem
}

// Lines returns the report as printed: "GPSTATE <VERDICT> - <summary>",
// then "<VERDICT>: <message>" per problem.
func (h HealthReport) Lines() []string {
	lines := []string{"GPSTATE " + h.Verdict.String() + " - " + healthOneLine(h.Summary)}
	for _, p := range h.Problems {
		lines = append(lines, p.Verdict.String()+": "+healthOneLine(p.Message))
	}
	return lines
}

// Text is the report as printed on stdout: Lines, each ending in a
// newline.
func (h HealthReport) Text() string { return strings.Join(h.Lines(), "\n") + "\n" }

// healthOneLine keeps a message on one line: Nagios reads the first line as the
// status text.
func healthOneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// CheckHealth judges the cluster from what gpstate knows of it (pure; the
// coordinator is up, since the catalog was read). Each content is, in
// this order:
//
//   - DOUBLE_FAULT when none of its instances is usable (Status.Usable: a
//     current primary not probably down, or a current mirror not probably
//     down whose primary is in sync); nothing else is reported for it;
//   - DEGRADED for each of its instances that is down (in the catalog, or
//     by what its host said);
//   - NOT_SYNCED when both instances are up but the pair is not in sync
//     (the catalog's mode, or a walsender that is not streaming);
//   - UNBALANCED when its roles are switched.
//
// The standby is DEGRADED when it is marked down or has no running
// postmaster (Greenplum's "Standby host DOWN"). Each host that did not
// answer is UNREACHABLE, listing the instances whose state is therefore
// unknown. Problems are sorted worst first, then by content.
func CheckHealth(st *Status) HealthReport {
	rep := st.Replication()
	var probs []HealthProblem
	for _, p := range st.Cluster.Pairs() {
		probs = append(probs, healthPair(st, p, rep)...)
	}
	if sb, ok := st.Cluster.Standby(); ok {
		probs = append(probs, healthStandby(st, sb)...)
	}
	probs = append(probs, healthHosts(st)...)
	slices.SortStableFunc(probs, func(a, b HealthProblem) int { return cmp.Compare(b.Verdict, a.Verdict) })
	h := HealthReport{Summary: healthSummary(st, rep), Problems: probs}
	for _, p := range probs {
		h.Verdict = max(h.Verdict, p.Verdict)
	}
	return h
}

// healthState is what the health check makes of one instance.
type healthState int

const (
	healthUp      healthState = iota
	healthDown                // marked down, or probably down by what its host said
	healthUnknown             // its host did not answer
)

// healthInstance classifies s and says why it is not up: the catalog's
// word first, then the host's error, then the database status of spec
// §2.2.
func healthInstance(st *Status, s cluster.Segment) (healthState, string) {
	if !s.IsUp() {
		return healthDown, "Down in configuration"
	}
	if o := st.observed(s); o.HostErr != "" {
		return healthUnknown, o.HostErr
	}
	if label, warn := st.DatabaseStatus(s); warn {
		return healthDown, label
	}
	return healthUp, ""
}

// healthRole is the current role in lower case: "primary" or "mirror".
func healthRole(s cluster.Segment) string { return strings.ToLower(s.Role.Label()) }

// healthPair returns the problems of one content.
func healthPair(st *Status, p cluster.Pair, rep ReplicationReport) []HealthProblem {
	var insts []cluster.Segment
	for _, s := range []*cluster.Segment{p.Primary, p.Mirror} {
		if s != nil {
			insts = append(insts, *s)
		}
	}
	ids := make([]int, len(insts))
	for i, s := range insts {
		ids[i] = s.DBID
	}
	if !st.Usable(p, p.Primary) && !st.Usable(p, p.Mirror) {
		var why []string
		for _, s := range insts {
			why = append(why, healthRole(s)+fmt.Sprintf(" dbid %d ", s.DBID)+healthUnusable(st, p, s))
		}
		if p.Mirror == nil {
			why = append(why, "no mirror")
		}
		return []HealthProblem{{Verdict: VerdictDoubleFault, DBIDs: ids,
			Message: fmt.Sprintf("content %d has no usable instance (%s)", p.Content, strings.Join(why, ", "))}}
	}
	var probs []HealthProblem
	allUp := true
	for _, s := range insts {
		state, why := healthInstance(st, s)
		if state != healthUp {
			allUp = false
		}
		if state != healthDown {
			continue // an unknown instance is reported with its host
		}
		msg := fmt.Sprintf("content %d %s dbid %d on %s:%d is down (%s); %s", p.Content, healthRole(s), s.DBID, s.Hostname, s.Port, why, healthServedBy(st, p))
		probs = append(probs, HealthProblem{Verdict: VerdictDegraded, Message: msg, DBIDs: []int{s.DBID}})
	}
	if p.Mirror != nil && allUp {
		if detail, synced := healthSync(st, p, rep); !synced {
			probs = append(probs, HealthProblem{Verdict: VerdictNotSynced, DBIDs: ids,
				Message: fmt.Sprintf("content %d is not in sync (primary dbid %d, mirror dbid %d): %s", p.Content, p.Primary.DBID, p.Mirror.DBID, detail)})
		}
	}
	if !p.Balanced() {
		msg := fmt.Sprintf("content %d roles switched: primary dbid %d is its preferred %s", p.Content, p.Primary.DBID, strings.ToLower(p.Primary.PreferredRole.Label()))
		if p.Mirror != nil {
			msg += fmt.Sprintf(", mirror dbid %d its preferred %s", p.Mirror.DBID, strings.ToLower(p.Mirror.PreferredRole.Label()))
		}
		probs = append(probs, HealthProblem{Verdict: VerdictUnbalanced, Message: msg, DBIDs: ids})
	}
	return probs
}

// healthUnusable says why s cannot serve its content.
func healthUnusable(st *Status, p cluster.Pair, s cluster.Segment) string {
	switch state, why := healthInstance(st, s); {
	case state == healthDown && why == "Down in configuration":
		return "down"
	case state == healthDown:
		return "down (" + why + ")"
	case state == healthUnknown:
		return "unreachable (" + why + ")"
	}
	if s.IsMirror() {
		return "up but not in sync"
	}
	return "not usable"
}

// healthServedBy names the instance that serves the content of a DEGRADED
// pair.
func healthServedBy(st *Status, p cluster.Pair) string {
	if st.Usable(p, p.Primary) {
		return fmt.Sprintf("content %d is served by primary dbid %d", p.Content, p.Primary.DBID)
	}
	return fmt.Sprintf("mirror dbid %d can take over content %d", p.Mirror.DBID, p.Content)
}

// healthSync reports whether a mirrored pair is in sync: the catalog says
// so (both rows mode s) and the primary's pg_stat_replication, when it was
// read, shows its mirror streaming. detail says what is not in sync.
func healthSync(st *Status, p cluster.Pair, rep ReplicationReport) (detail string, synced bool) {
	if !p.Primary.IsSynced() || !p.Mirror.IsSynced() {
		var parts []string
		if ms := rep.ByDBID[p.Mirror.DBID].MirrorStatus.Text; ms != "" {
			parts = append(parts, "mirror status "+ms)
		}
		if v := rep.ByDBID[p.Primary.DBID].BytesToSend; v.Text != "" && !v.Warn {
			parts = append(parts, v.Text+" bytes left to send")
		}
		if v := rep.ByDBID[p.Mirror.DBID].BytesToReplay; v.Text != "" && !v.Warn {
			parts = append(parts, v.Text+" bytes left to replay")
		}
		if len(parts) == 0 {
			parts = append(parts, "the catalog says Not In Sync")
		}
		return strings.Join(parts, ", "), false
	}
	if st.Obs == nil {
		return "", true
	}
	r := st.Obs.Repl[p.Primary.DBID]
	if r == nil || r.Err != "" {
		return "", true // not read: the catalog's word stands
	}
	var states []string
	for _, row := range r.Rows {
		if row.AppName == "gp_walreceiver" {
			states = append(states, row.State)
		}
	}
	switch {
	case len(states) == 0:
		return "the catalog says Synchronized but pg_stat_replication shows no standby connection", false
	case len(states) > 1:
		return "the catalog says Synchronized but pg_stat_replication shows more than one standby connection", false
	case states[0] != "streaming":
		return "the catalog says Synchronized but the mirror is " + stateLabel(states[0]), false
	}
	return "", true
}

// healthStandbyRunning is Greenplum's test of a running standby (spec §2.4.1,
// "Standby host passive"): postmaster.pid holds a pid and the pid checks
// pass.
func healthStandbyRunning(o Observed, port int) bool {
	return o.HostErr == "" && o.PIDFile && o.PID > 0 && o.PIDError(port) == ""
}

// healthStandby returns the standby's problem, if any (an unreachable
// standby is reported with its host).
func healthStandby(st *Status, sb cluster.Segment) []HealthProblem {
	o := st.observed(sb)
	var why string
	switch {
	case !sb.IsUp():
		why = "Down in configuration"
	case o.HostErr != "":
		return nil
	case healthStandbyRunning(o, sb.Port):
		return nil
	case !o.PIDFile:
		why = "no postmaster.pid"
	case o.PIDError(sb.Port) != "":
		why = o.PIDError(sb.Port)
	default:
		why = "no pid in postmaster.pid"
	}
	return []HealthProblem{{Verdict: VerdictDegraded, DBIDs: []int{sb.DBID},
		Message: fmt.Sprintf("standby dbid %d on %s:%d is down (%s)", sb.DBID, sb.Hostname, sb.Port, why)}}
}

// healthHosts returns one UNREACHABLE problem per host that gave no status
// for some instance other than the coordinator, with the reason: the SSH
// failure (host key, authentication, refused, timeout, lost connection),
// else Greenplum's host warning.
func healthHosts(st *Status) []HealthProblem {
	var probs []HealthProblem
	for _, h := range st.Cluster.AllHosts() {
		var names []string
		var ids []int
		var why string
		for _, s := range st.Cluster.All() {
			if o := st.observed(s); s.Hostname == h && !s.IsCoordinator() && o.HostErr != "" {
				names = append(names, s.Label())
				ids = append(ids, s.DBID)
				why = cmp.Or(why, o.Reason, o.HostErr)
			}
		}
		if len(ids) > 0 {
			probs = append(probs, HealthProblem{Verdict: VerdictUnreachable, DBIDs: ids,
				Message: fmt.Sprintf("host %s did not answer (%s); state unknown of %s", h, why, strings.Join(names, ", "))})
		}
	}
	return probs
}

// healthCounts are the numbers of the summary line (and of --json's
// summary).
type healthCounts struct {
	contents, instances, up, down, unknown int
	mirrored, inSync, unbalanced           int
	unreachableHosts                       []string
}

func healthCount(st *Status, rep ReplicationReport) healthCounts {
	c := healthCounts{contents: st.Cluster.NumContents()}
	for _, s := range st.Cluster.Segments() {
		c.instances++
		switch state, _ := healthInstance(st, s); state {
		case healthUp:
			c.up++
		case healthDown:
			c.down++
		default:
			c.unknown++
		}
	}
	for _, p := range st.Cluster.Pairs() {
		if !p.Balanced() {
			c.unbalanced++
		}
		if p.Mirror == nil {
			continue
		}
		c.mirrored++
		pState, _ := healthInstance(st, *p.Primary)
		mState, _ := healthInstance(st, *p.Mirror)
		if _, synced := healthSync(st, p, rep); synced && pState != healthDown && mState != healthDown {
			c.inSync++
		}
	}
	for _, h := range st.Cluster.AllHosts() {
		for _, s := range st.Cluster.All() {
			if s.Hostname == h && !s.IsCoordinator() && st.observed(s).HostErr != "" {
				c.unreachableHosts = append(c.unreachableHosts, h)
				break
			}
		}
	}
	return c
}

// healthPlural returns "1 content" or "2 contents".
func healthPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// healthSummary is the status line's text, e.g. "2 contents, 3 of 4
// segment instances up (1 down), 1 of 2 pairs in sync, 1 unbalanced".
func healthSummary(st *Status, rep ReplicationReport) string {
	c := healthCount(st, rep)
	parts := []string{healthPlural(c.contents, "content", "contents")}
	if c.up == c.instances {
		parts = append(parts, healthPlural(c.instances, "segment instance", "segment instances")+" up")
	} else {
		var not []string
		if c.down > 0 {
			not = append(not, fmt.Sprintf("%d down", c.down))
		}
		if c.unknown > 0 {
			not = append(not, fmt.Sprintf("%d unknown", c.unknown))
		}
		parts = append(parts, fmt.Sprintf("%d of %s up (%s)", c.up, healthPlural(c.instances, "segment instance", "segment instances"), strings.Join(not, ", ")))
	}
	if c.mirrored == 0 {
		parts = append(parts, "no mirrors")
	} else {
		parts = append(parts, fmt.Sprintf("%d of %s in sync", c.inSync, healthPlural(c.mirrored, "pair", "pairs")))
	}
	if c.unbalanced > 0 {
		parts = append(parts, fmt.Sprintf("%d unbalanced", c.unbalanced))
	}
	if sb, ok := st.Cluster.Standby(); ok {
		switch o := st.observed(sb); {
		case !sb.IsUp():
			parts = append(parts, "standby down")
		case o.HostErr != "":
			parts = append(parts, "standby unknown")
		case healthStandbyRunning(o, sb.Port):
			parts = append(parts, "standby up")
		default:
			parts = append(parts, "standby down")
		}
	}
	if n := len(c.unreachableHosts); n > 0 {
		parts = append(parts, healthPlural(n, "host", "hosts")+" unreachable")
	}
	return strings.Join(parts, ", ")
}
