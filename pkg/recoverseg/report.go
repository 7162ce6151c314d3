package recoverseg

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// dashes58 is the separator of spec §4.10's reports.
var dashes58 = strings.Repeat("-", 58)

// report is spec §4.10 and §4.6 step 11: the failures by kind in
// Greenplum's words (each with its reason, an addition), the closing error
// and exit 1; or Greenplum's banner. The journal is removed unless a rewind
// was left at work in the background, or a full copy failed midway: its
// item, still at step copying, vouches for the half-written directory to
// the next run.
func (r *recovery) report(_ context.Context, ts []target, out []outcome) error {
	log := r.env.Log
	var copyFailed, startFailed, portFailed, streamFailed, other []int
	anyIncremental, anyDifferential, background, halfCopied := false, false, false, false
	for i, o := range out {
		switch o.Kind {
		case "":
		case "incremental", "interrupted":
			anyIncremental = true
			copyFailed = append(copyFailed, i)
			background = background || o.Kind == "interrupted"
		case "full":
			copyFailed = append(copyFailed, i)
			halfCopied = true
		case "differential":
			anyDifferential = true
			copyFailed = append(copyFailed, i)
		case "start":
			startFailed = append(startFailed, i)
		case "update":
			portFailed = append(portFailed, i)
		case "stream":
			streamFailed = append(streamFailed, i)
		default:
			other = append(other, i)
		}
	}
	for i, o := range out {
		if o.Kind == "interrupted" {
			log.Error(fmt.Sprintf("incremental recovery of dbid %d was interrupted; run gprecoverseg -F", ts[i].Failed.DBID))
		}
	}
	if len(copyFailed) > 0 {
		log.Info(dashes58)
		switch {
		case anyIncremental:
			log.Info("Failed to recover the following segments. You must run gprecoverseg -F for all incremental failures")
		case anyDifferential:
			log.Info("Failed to recover the following segments. You must run either gprecoverseg --differential or gprecoverseg -F for all differential failures")
		default:
			log.Info("Failed to recover the following segments")
		}
		for _, incremental := range []bool{true, false} {
			for _, i := range copyFailed {
				t := ts[i]
				if t.Full == incremental {
					continue
				}
				at := t.at()
				log.Info(fmt.Sprintf(" hostname: %s; port: %d; logfile: %s; recoverytype: %s", at.Hostname, at.Port, t.ProgressFile, strings.ToLower(t.Method())))
			}
		}
	}
	if len(startFailed) > 0 {
		log.Info(dashes58)
		log.Info("Failed to start the following segments. Please check the latest logs located in segment's data directory")
		r.datadirLines(ts, startFailed)
	}
	if len(portFailed) > 0 {
		log.Info(dashes58)
		log.Info("Did not start the following segments due to failure while updating the port.Please update the port in postgresql.conf located in the segment's data directory")
		r.datadirLines(ts, portFailed)
	}
	if len(streamFailed) > 0 {
		log.Info(dashes58)
		log.Info("The following segments started but do not stream from their primaries yet; check them with gpstate -e")
		r.datadirLines(ts, streamFailed)
	}
	if len(other) > 0 {
		log.Info(dashes58)
		log.Info("The following segments were not recovered")
		r.datadirLines(ts, other)
	}
	failed := 0
	for i, o := range out {
		if o.Kind != "" {
			failed++
			log.Warn(fmt.Sprintf("%s: %s: %s", ts[i].label(), o.Kind, o.Msg))
		}
	}
	if !background && !halfCopied && r.journal != nil {
		if err := r.journal.Remove(); err != nil {
			log.Warn(err.Error())
		}
	}
	if failed > 0 {
		if r.opts.Differential {
			// Greenplum 7's words, but for the log file: there is no
			// gpsegrecovery.py here, and rsync's output is in the
			// logfile of each line above.
			log.Error("gprecoverseg differential recovery failed. Please check the gprecoverseg log file and rsync log file for more details.")
		} else {
			log.Error("gprecoverseg failed. Please check the output for more details.")
		}
		return &app.HintError{Err: &app.ExitError{Code: app.ExitFailures},
			Hint: fmt.Sprintf("%d of %d segment(s) recovered; fix what is reported above and run gprecoverseg again", len(ts)-failed, len(ts))}
	}
	stars := strings.Repeat("*", 32)
	log.Info(stars)
	log.Info("Segments successfully recovered.")
	log.Info(stars)
	log.Info("Recovered mirror segments need to sync WAL with primary segments.")
	log.Info("Use 'gpstate -e' to check progress of WAL sync remaining bytes")
	return nil
}

// datadirLines are the " hostname: ...; port: ...; datadir: ..." lines.
func (r *recovery) datadirLines(ts []target, idx []int) {
	for _, i := range idx {
		at := ts[i].at()
		r.env.Log.Info(fmt.Sprintf(" hostname: %s; port: %d; datadir: %s", at.Hostname, at.Port, at.DataDir))
	}
}
