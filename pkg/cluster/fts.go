package cluster

import (
	"context"
	"fmt"
)

// FTSProbeSQL asks the coordinator's fault prober for a full probe round
// and waits for it, as gprecoverseg and gpaddmirrors do after their work
// (spec §3.1 step 15; GP6 transcript: "Triggering FTS probe"). It needs a
// normal (dispatch) connection: Greenplum refuses it in utility mode.
const FTSProbeSQL = "SELECT gp_request_fts_probe_scan()"

// FTSProbeCount is how many times the tools run FTSProbeSQL in a row after
// a recovery or an addition: once on GP6, twice on GP7 and Cloudberry.
func FTSProbeCount(f Flavour) int {
	if f == GP7 || f == Cloudberry {
		return 2
	}
	return 1
}

// RequestFTSProbe runs FTSProbeSQL once and checks that it returned true.
func RequestFTSProbe(ctx context.Context, q Querier) error {
	var ok bool
	if err := q.QueryRow(ctx, FTSProbeSQL).Scan(&ok); err != nil {
		return fmt.Errorf("request fts probe: %w", err)
	}
	if !ok {
		return fmt.Errorf("request fts probe: gp_request_fts_probe_scan() returned false")
	}
	return nil
}

// TriggerFTS runs RequestFTSProbe FTSProbeCount(f) times.
func TriggerFTS(ctx context.Context, q Querier, f Flavour) error {
	for range FTSProbeCount(f) {
		if err := RequestFTSProbe(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
