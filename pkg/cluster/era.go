package cluster

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EraPath is the era file of a coordinator data directory (spec §1.12):
// pg_log/gp_era on GP6, log/gp_era on GP7 and Cloudberry (the GP7 location
// is the spec's best guess, marked UNVERIFIED there).
func EraPath(mdd string, f Flavour) string {
	if f == GP7 || f == Cloudberry {
		return filepath.Join(mdd, "log", "gp_era")
	}
	return filepath.Join(mdd, "pg_log", "gp_era")
}

var eraLine = regexp.MustCompile(`^era\s*=\s*(\w+)`)

// ParseEra returns the value of the first "era = <value>" line of content,
// as gp_era.py reads it.
func ParseEra(content string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		if m := eraLine.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			return m[1], nil
		}
	}
	return "", errors.New("no era line in gp_era")
}

// ReadEra reads the era of a coordinator data directory. A missing file
// gives "" and no error (gprecoverseg then logs "era is None").
func ReadEra(mdd string, f Flavour) (string, error) {
	b, err := os.ReadFile(EraPath(mdd, f))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read era: %w", err)
	}
	era, err := ParseEra(string(b))
	if err != nil {
		return "", fmt.Errorf("read era from %s: %w", EraPath(mdd, f), err)
	}
	return era, nil
}

// NewEra computes a new era value (spec §1.12): the first 16 hex digits of
// SHA-256 over hostname, port and data directory, then "_" and the local
// time as %y%m%d%H%M%S.
func NewEra(hostname string, port int, mdd string, now time.Time) string {
	sum := sha256.Sum256([]byte(hostname + strconv.Itoa(port) + mdd))
	return hex.EncodeToString(sum[:])[:16] + "_" + now.Format("060102150405")
}

// FormatEra is the content of a gp_era file holding era.
func FormatEra(era string) string {
	return "# Greenplum Database era.\n# Do not change the contents of this file.\nera = " + era + "\n"
}

// WriteEra replaces the era file with era, read-only for its owner (0400)
// as gp_era.py leaves it, and reads it back to verify.
func WriteEra(mdd string, f Flavour, era string) error {
	path := EraPath(mdd, f)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write era: %w", err)
	}
	if err := os.WriteFile(path, []byte(FormatEra(era)), 0o400); err != nil {
		return fmt.Errorf("write era: %w", err)
	}
	got, err := ReadEra(mdd, f)
	if err != nil {
		return err
	}
	if got != era {
		return fmt.Errorf("write era: %s holds %q after writing %q", path, got, era)
	}
	return nil
}
