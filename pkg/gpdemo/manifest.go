package gpdemo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ManifestName is the manifest's file name in the demo directory.
const ManifestName = "gpdemo.json"

// manifestVersion is the version of the manifest format.
const manifestVersion = 1

// Manifest is what gpdemo records in DIR/gpdemo.json before it creates
// anything: every planned instance, so that destroy, and a create that
// fails halfway, know what to stop and remove. Its presence is also what
// lets destroy remove DIR: a directory without one was not made by gpdemo.
type Manifest struct {
	Version int `json:"version"`
	Plan
	// DirCreated records that gpdemo created DIR (it did not exist); a
	// rollback removes DIR only then, leaving an existing empty DIR empty.
	DirCreated bool `json:"dir_created"`
}

// ManifestPath returns the manifest's path in dir.
func ManifestPath(dir string) string { return filepath.Join(dir, ManifestName) }

// Marshal returns the manifest as indented JSON with a final newline.
func (m Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteManifest writes m into m.Dir, replacing the file atomically.
func WriteManifest(m Manifest) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	path := ManifestPath(m.Dir)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("write manifest: %w", err), os.Remove(tmp))
	}
	return nil
}

// ErrNoManifest is the cause of ReadManifest's error for a directory
// without a manifest.
var ErrNoManifest = errors.New("no gpdemo manifest")

// ReadManifest reads and checks dir's manifest. A missing file gives an
// error wrapping ErrNoManifest.
func ReadManifest(dir string) (Manifest, error) {
	path := ManifestPath(dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s: %w", path, ErrNoManifest)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("read manifest %s: %w", path, err)
	}
	switch {
	case m.Version != manifestVersion:
		return Manifest{}, fmt.Errorf("read manifest %s: version %d, want %d", path, m.Version, manifestVersion)
	case m.Dir != dir:
		return Manifest{}, fmt.Errorf("read manifest %s: it describes %s, not this directory", path, m.Dir)
	case len(m.Instances) == 0 || !m.Instances[0].IsCoordinator():
		return Manifest{}, fmt.Errorf("read manifest %s: no coordinator", path)
	}
	return m, nil
}
