package gpstop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// pendingName is the file, in the coordinator data directory, that holds
// the catalog while a full gpstop stops the standby and the segments
// after the coordinator: once the coordinator is down, its catalog cannot
// be read, and a gpstop killed then would leave the rerun nothing to find
// the running segments by.
const pendingName = "gpstop.pending"

// pending is what a full gpstop records before it stops the coordinator.
type pending struct {
	PID      int               `json:"pid"`
	Started  time.Time         `json:"started"`
	Segments []cluster.Segment `json:"segments"`
}

// writePending records p in mdd (write, fsync, rename): it is on disk
// before the coordinator stops.
func writePending(mdd string, p pending) error {
	path := filepath.Join(mdd, pendingName)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("record the instances to stop in %s: %w", path, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("record the instances to stop in %s: %w", path, err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr, os.Rename(tmp, path)); err != nil {
		return fmt.Errorf("record the instances to stop in %s: %w", path, err)
	}
	return nil
}

// readPending returns what an earlier gpstop recorded in mdd, nil when it
// recorded nothing (or finished).
func readPending(mdd string) (*pending, error) {
	path := filepath.Join(mdd, pendingName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var p pending
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): remove it once every instance is stopped", path, err)
	}
	return &p, nil
}

// removePending removes the record: every instance it lists was stopped.
func removePending(mdd string) error {
	path := filepath.Join(mdd, pendingName)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
