package startup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// reachTimeout bounds the reachability check of one host.
const reachTimeout = 30 * time.Second

// localTimeout bounds the quick local checks (a file test, postgres
// --catalog-version): a hung file system is reported, not waited for.
const localTimeout = time.Minute

// checkHosts is step 7: every host but the coordinator's is asked to echo
// its name over SSH, -B at once. The segments of a host that does not
// answer are marked down in memory only; they are skipped, and the
// catalog is not changed.
//
// A host that answers but turns us away (its host key unknown or changed,
// or our key refused) is an error instead: starting the cluster without
// its segments would have the coordinator's fault prober fail their
// primaries over to their mirrors (or leave a content down), for a fault
// the user fixes on the spot. Greenplum never meets it (it passes
// StrictHostKeyChecking=no); a host that is down is still skipped as
// Greenplum skips it, and a standby's host alone is left to step 9's
// question.
func (s *starter) checkHosts(ctx context.Context) error {
	log := s.env.Log
	co := s.cluster.Coordinator().Hostname
	var cmds []remote.Command
	for _, h := range s.cluster.AllHosts() {
		if h != co {
			cmds = append(cmds, remote.Command{Host: h, Argv: []string{"echo", h}, Label: "check " + h + " is up", Timeout: reachTimeout})
		}
	}
	s.unreachable = map[string]bool{}
	var down []remote.Result
	for _, r := range s.runner(len(cmds)).Run(ctx, cmds) {
		log.Debug(fmt.Sprintf("check %s is up: rc=%d stdout=%q err=%v", r.Command.Host, r.ExitCode, r.Stdout, r.Err))
		if !r.OK() {
			s.unreachable[r.Command.Host] = true
			down = append(down, r)
		}
	}
	if len(down) == 0 {
		return nil
	}
	log.Warn("One or more hosts are not reachable via SSH.")
	slices.SortFunc(down, func(a, b remote.Result) int { return cmp.Compare(a.Command.Host, b.Command.Host) })
	var away []string
	for _, r := range down {
		log.Warn(fmt.Sprintf("Host %s is unreachable: %s", r.Command.Host, resultText(r)))
		if remote.TurnsAway(r.Err) && slices.Contains(s.cluster.Hosts(), r.Command.Host) {
			away = append(away, r.Command.Host)
		}
	}
	if len(away) > 0 {
		return app.Errorf("not starting the cluster: %s answered but turned gpstart away over SSH (see the reasons above); starting without their segments would fail their primaries over or leave contents down; fix the SSH problem and run gpstart again",
			strings.Join(away, ", "))
	}
	for _, g := range s.cluster.Segments() {
		if s.unreachable[g.Hostname] && g.IsUp() {
			log.Warn(fmt.Sprintf("Marking segment %d down because %s is unreachable", g.DBID, g.Hostname))
		}
	}
	return nil
}

// readChecksum is step 8: the coordinator's data page checksum version,
// which every segment must have.
func (s *starter) readChecksum(ctx context.Context) error {
	log := s.env.Log
	if s.opts.SkipHeapChecksum {
		log.Warn(fmt.Sprintf("Because of --skip-heap-checksum-validation, the GUC for data_checksums will not be checked between %s and segments", s.coord))
		return nil
	}
	log.Debug("Running Command: $GPHOME/bin/pg_controldata " + s.mdd)
	r := s.env.Exec.Exec(ctx, cluster.ControlDataCommand("localhost", s.gphome, s.mdd))
	v, ok := cluster.ControlDataField(r.Stdout, cluster.ControlChecksumVersion)
	n, err := strconv.Atoi(v)
	if !r.OK() || !ok || err != nil || n < 0 {
		return app.Errorf("cannot read the %s's data page checksum version with pg_controldata %s: %s", s.coord, s.mdd, resultText(r))
	}
	s.checksum = n
	return nil
}

// checkStandby is step 9: a standby whose timeline is ahead of the
// coordinator's was promoted, and this coordinator must not start. It
// also decides whether the standby is started (s.standbyOn).
func (s *starter) checkStandby(ctx context.Context) error {
	log := s.env.Log
	wctx := context.WithoutCancel(ctx)
	sb, ok := s.cluster.Standby()
	s.standbyOn = ok && !s.opts.NoStandby
	if !ok {
		return nil
	}
	if s.opts.SkipStandbyCheck {
		log.Info("Skipping Standby activation status checking.")
		return nil
	}
	log.Debug("Running Command: $GPHOME/bin/pg_controldata " + s.mdd)
	own := s.env.Exec.Exec(wctx, cluster.ControlDataCommand("localhost", s.gphome, s.mdd))
	log.Debug("Checking if standby has been activated...")
	theirs := s.router().Exec(wctx, cluster.ControlDataCommand(sb.Hostname, s.gphome, sb.DataDir))
	ownTLI, ownErr := timeline(own)
	sbTLI, sbErr := timeline(theirs)
	if ownErr != nil {
		return errors.Join(app.Errorf("cannot read the %s's timeline: %w", s.coord, ownErr), s.stopCoordinator(wctx, "fast"))
	}
	if sbErr != nil {
		log.Warn(fmt.Sprintf("Standby host is unreachable, cannot determine whether the standby is currently acting as the %s. Received error: %v", s.coord, sbErr))
		log.Warn(fmt.Sprintf("Continue only if you are certain that the standby is not acting as the %s.", s.coord))
		if s.opts.NonInteractive {
			log.Warn("Non interactive mode detected. Not starting the cluster. Start the cluster in interactive mode.")
			return errors.Join(&app.ExitError{Code: app.ExitUserAbort}, s.stopCoordinator(wctx, "fast"))
		}
		if err := s.confirm(ctx, "Continue with startup"); err != nil {
			return errors.Join(err, s.stopCoordinator(wctx, "fast"))
		}
		s.standbyOn = false
		return nil
	}
	if sbTLI > ownTLI {
		stopErr := s.stopCoordinator(wctx, "fast")
		if stopErr == nil {
			log.Info(s.coordCap + " Stopped...")
		}
		return errors.Join(app.Errorf("Standby activated, this node no more can act as %s.", s.coord), stopErr)
	}
	return nil
}

// timeline reads "Latest checkpoint's TimeLineID" from a pg_controldata run.
func timeline(r remote.Result) (int, error) {
	if !r.OK() {
		return 0, errors.New(resultText(r))
	}
	v, ok := cluster.ControlDataField(r.Stdout, cluster.ControlTimeLineID)
	if !ok {
		return 0, errors.New("pg_controldata printed no TimeLineID")
	}
	return strconv.Atoi(v)
}
