package gpstate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Observed is what the status script saw of one instance (the requests of
// spec §1.9).
type Observed struct {
	// HostErr is set when the instance's host gave no status for it: the
	// host could not be reached or its script failed. Greenplum's words:
	// "Error getting status from host <address>".
	HostErr string
	// Reason says why, on one line, when the host's command failed: the
	// SSH failure (host key, authentication, refused, timeout, lost), a
	// timeout of the script, or its exit status and stderr.
	Reason  string
	PIDFile bool // postmaster.pid exists
	PID     int  // its first line; 0 when absent or unreadable
	Lock    bool // /tmp/.s.PGSQL.<port>.lock exists
	Active  bool // a server listens on /tmp/.s.PGSQL.<port>
	// Ready is pg_isready's exit code in utility mode: 0 accepting, 1
	// rejecting, 2 no response, 64 a live mirror (Greenplum's pg_isready);
	// -1 when it did not run.
	Ready   int
	Version string // version() of a primary, when asked for; "" unknown
}

// PIDError is __getPid's error (spec §1.9), "" when none.
func (o Observed) PIDError(port int) string {
	lock := fmt.Sprintf("/tmp/.s.PGSQL.%d.lock", port)
	switch {
	case !o.Lock && !o.Active:
		return fmt.Sprintf("No socket connection or lock file (%s) found for port %d", lock, port)
	case !o.Lock && o.Active:
		return fmt.Sprintf("No lock file %s but process running on port %d", lock, port)
	case o.Lock && !o.Active:
		return fmt.Sprintf("Have lock file %s but no process running on port %d", lock, port)
	case o.PID == 0:
		return "Have lock file and process is active, but did not get a pid value"
	}
	return ""
}

// ReadyLabel is getMirrorStatus's label for an instance of current role
// primary (or mirror, when primary is false); "" is Greenplum's None.
func (o Observed) ReadyLabel(primary bool) string {
	switch o.Ready {
	case 0:
		if primary {
			return "Up"
		}
		return "Acting as Primary"
	case 1:
		return "Rejecting Connections"
	case 2:
		return "Down"
	case 64:
		if primary {
			return "Acting as Mirror"
		}
		return "Up"
	}
	return ""
}

// ReplRow is one row of pg_stat_replication on a primary.
type ReplRow struct {
	AppName, State, Sent, Flush, FlushLeft, Replay, ReplayLeft, BackendStart, SentLeft string
}

// Replication is what a current primary's SQL said (spec §2.2).
type Replication struct {
	Rows         []ReplRow
	CurrentWAL   string // pg_current_xlog_location() / pg_current_wal_lsn()
	RewindStart  string // backend_start of a running pg_rewind, if any
	Err          string // the query failed: psql's message
	Queried      bool   // the primary was asked
	SegmentError string // host-level failure that prevented the query
}

// Observation is everything gathered from the hosts.
type Observation struct {
	Instances map[int]Observed     // by dbid
	Repl      map[int]*Replication // by the current primary's dbid
	Binary    map[string]string    // postgres --gp-version by host, when asked
	// HostWarnings are Greenplum's per-host warnings, by host.
	HostWarnings map[string]string
	// HostErrors are the errors of the hosts whose status command failed,
	// by host: a *remote.HostError, with an *remote.SSHError inside when
	// the connection failed (errors.As finds a changed host key there).
	HostErrors map[string]error
}

// Reason returns why host gave no status, on one line, or "".
func (o *Observation) Reason(host string) string {
	if o == nil || o.HostErrors[host] == nil {
		return ""
	}
	return failureReason(host, o.HostErrors[host])
}

// Request says what to gather beyond the pid, lock file and socket checks.
type Request struct {
	Readiness   bool     // pg_isready on every instance (Observed.Ready)
	Replication bool     // pg_stat_replication of every current primary
	Version     bool     // version() of every primary, the binaries of every host
	Hosts       []string // only these hosts; nil: every host
	// StallLimit bounds a primary's psql session once connected (the
	// host's one session: twice that); 0 means DefaultStallLimit.
	StallLimit time.Duration
}

// DefaultStallLimit is how long a primary that stopped answering holds
// its psql session: then it is reported with the reason, and the host's
// other instances are read without it.
const DefaultStallLimit = 10 * time.Second

// InstancesPerHost is how many instances of one host the status script
// observes at once (each a few processes and, for a primary, a backend):
// Greenplum's default of -b for the tools that have it.
const InstancesPerHost = 16

// hostTimeout bounds one host's status script: a host that hangs is
// reported, never waited for.
const hostTimeout = 60 * time.Second

// replicationSQL is spec §2.2's query, per flavour; its columns are ReplRow's.
func replicationSQL(f cluster.Flavour) string {
	if f == cluster.GP6 {
		return "SELECT application_name, state, sent_location, flush_location, sent_location - flush_location AS flush_left, replay_location, sent_location - replay_location AS replay_left, backend_start, pg_current_xlog_location() - sent_location AS sent_left FROM pg_stat_replication;"
	}
	return "SELECT application_name, state, sent_lsn, flush_lsn, sent_lsn - flush_lsn AS flush_left, replay_lsn, sent_lsn - replay_lsn AS replay_left, backend_start, pg_current_wal_lsn() - sent_lsn AS sent_left FROM pg_stat_replication;"
}

func currentWALSQL(f cluster.Flavour) string {
	if f == cluster.GP6 {
		return "SELECT pg_current_xlog_location();"
	}
	return "SELECT pg_current_wal_lsn();"
}

const (
	rewindSQL  = "SELECT backend_start FROM pg_stat_activity WHERE application_name = '__gprecoverseg_pg_rewind__'"
	versionSQL = "select version()"
)

// stallSeconds is the status script's limit argument: whole seconds, at
// least one.
func stallSeconds(d time.Duration) int {
	if d <= 0 {
		d = DefaultStallLimit
	}
	return max(int(d/time.Second), 1)
}

// utilityOptions is PGOPTIONS for a utility-mode session of flavour f.
func utilityOptions(f cluster.Flavour) string { return cluster.UtilityOption(f) }

// StatusCommands returns one status command per host of c (pure), hosts
// sorted, each holding every instance of that host.
func StatusCommands(gphome string, f cluster.Flavour, c *cluster.Cluster, req Request) []remote.Command {
	byHost := map[string][]cluster.Segment{}
	for _, s := range c.All() {
		byHost[s.Hostname] = append(byHost[s.Hostname], s)
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		if req.Hosts == nil || slices.Contains(req.Hosts, h) {
			hosts = append(hosts, h)
		}
	}
	sort.Strings(hosts)
	mirrored := c.HasMirrors()
	var cmds []remote.Command
	for _, h := range hosts {
		args := []string{gphome, utilityOptions(f), boolArg(req.Replication && mirrored), boolArg(req.Version), boolArg(req.Readiness),
			replicationSQL(f), currentWALSQL(f), rewindSQL, versionSQL, strconv.Itoa(InstancesPerHost), strconv.Itoa(stallSeconds(req.StallLimit))}
		for _, s := range byHost[h] {
			kind := "o"
			if s.IsSegment() && s.IsPrimary() {
				kind = "p"
			}
			if s.IsCoordinator() && req.Version {
				kind = "p" // its version() too; it has no pg_stat_replication rows of mirrors
			}
			args = append(args, strconv.Itoa(s.DBID), strconv.Itoa(s.Port), s.DataDir, s.Address, kind)
		}
		cmds = append(cmds, remote.Command{Host: h, Script: statusScript, Args: args, Label: "status of " + h, Timeout: hostTimeout})
	}
	return cmds
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Parse reads the status commands' results into an Observation. A host
// whose command failed, or gave no line for an instance, gets Greenplum's
// warning for every instance of it.
func Parse(c *cluster.Cluster, results []remote.Result) *Observation {
	o := &Observation{Instances: map[int]Observed{}, Repl: map[int]*Replication{}, Binary: map[string]string{},
		HostWarnings: map[string]string{}, HostErrors: map[string]error{}}
	byHost := map[string][]cluster.Segment{}
	for _, s := range c.All() {
		byHost[s.Hostname] = append(byHost[s.Hostname], s)
	}
	for _, r := range results {
		host := r.Command.Host
		segs := byHost[host]
		addr := host
		if len(segs) > 0 {
			addr = segs[0].Address
		}
		if r.Err != nil && r.ExitCode != 0 {
			o.HostWarnings[host] = "Error getting status from host " + addr
			o.HostErrors[host] = r.Err
			for _, s := range segs {
				o.Instances[s.DBID] = Observed{HostErr: o.HostWarnings[host], Reason: o.Reason(host), Ready: -1}
			}
			continue
		}
		seen := map[int]bool{}
		for _, line := range strings.Split(r.Stdout, "\n") {
			o.parseLine(host, line, seen)
		}
		for _, s := range segs {
			if !seen[s.DBID] {
				o.HostWarnings[host] = "No status output provided from host " + addr
				o.Instances[s.DBID] = Observed{HostErr: o.HostWarnings[host], Ready: -1}
			}
		}
	}
	return o
}

func (o *Observation) repl(dbid int) *Replication {
	r := o.Repl[dbid]
	if r == nil {
		r = &Replication{Queried: true}
		o.Repl[dbid] = r
	}
	return r
}

func (o *Observation) parseLine(host, line string, seen map[int]bool) {
	tag, rest, _ := strings.Cut(line, " ")
	if tag == "gpstate-binary" {
		o.Binary[host] = rest
		return
	}
	id, rest, _ := strings.Cut(rest, " ")
	dbid, err := strconv.Atoi(id)
	if err != nil {
		return
	}
	switch tag {
	case "gpstate-status":
		f := strings.Fields(rest)
		if len(f) != 5 {
			return
		}
		n := make([]int, 5)
		for i, s := range f {
			if n[i], err = strconv.Atoi(s); err != nil {
				return
			}
		}
		obs := o.Instances[dbid]
		obs.PIDFile, obs.PID, obs.Lock, obs.Active, obs.Ready = n[0] == 1, n[1], n[2] == 1, n[3] == 1, n[4]
		o.Instances[dbid] = obs
		seen[dbid] = true
	case "gpstate-repl":
		f := strings.Split(rest, "\x1f")
		for len(f) < 9 {
			f = append(f, "")
		}
		r := o.repl(dbid)
		r.Rows = append(r.Rows, ReplRow{AppName: f[0], State: f[1], Sent: f[2], Flush: f[3], FlushLeft: f[4], Replay: f[5], ReplayLeft: f[6], BackendStart: f[7], SentLeft: f[8]})
	case "gpstate-wal":
		o.repl(dbid).CurrentWAL = rest
	case "gpstate-rewind":
		o.repl(dbid).RewindStart = rest
	case "gpstate-sqlerr":
		r := o.repl(dbid)
		if r.Err == "" {
			r.Err = strings.TrimSpace(rest)
		}
	case "gpstate-version":
		obs := o.Instances[dbid]
		obs.Version = rest
		o.Instances[dbid] = obs
	}
}

// Gatherer runs the status commands through Exec (a remote.Router: the
// coordinator's host locally, the others over SSH), -B hosts at once.
type Gatherer struct {
	Exec     remote.Executor
	Parallel int
}

// Gather observes every instance of c.
func (g Gatherer) Gather(ctx context.Context, gphome string, f cluster.Flavour, c *cluster.Cluster, req Request) *Observation {
	cmds := StatusCommands(gphome, f, c, req)
	results := remote.Runner{Exec: g.Exec, Limit: min(max(len(cmds), 1), max(g.Parallel, 1))}.Run(ctx, cmds)
	return Parse(c, results)
}
