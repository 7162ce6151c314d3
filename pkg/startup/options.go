package startup

import (
	"strconv"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// DefaultParallel is gpstart's -B default.
const DefaultParallel = 64

// Options are gpstart's command-line options (Greenplum's optparse names).
type Options struct {
	app.CommonOptions
	CoordinatorOnly  bool   // -m --master_only, -c --coordinator_only
	Restricted       bool   // -R --restricted
	Timeout          int    // -t --timeout
	NoStandby        bool   // -y --no_standby
	SkipStandbyCheck bool   // -S --skip_standby_check (hidden)
	SkipHeapChecksum bool   // --skip-heap-checksum-validation
	Parallel         int    // -B --parallel
	SpecialMode      string // -U --specialMode (hidden): maintenance
}

// Validate applies Greenplum's option checks.
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	if o.Parallel < 1 || o.Parallel > 128 {
		return &app.ArgumentError{Msg: "Invalid value for parallel degree: " + strconv.Itoa(o.Parallel)}
	}
	if o.Timeout < 1 {
		return &app.ArgumentError{Msg: "Invalid value for timeout: " + strconv.Itoa(o.Timeout)}
	}
	switch o.SpecialMode {
	case "", "maintenance", "upgrade":
	default:
		return &app.ArgumentError{Msg: "Invalid value for special mode: " + o.SpecialMode + " (choose from 'maintenance')"}
	}
	return nil
}
