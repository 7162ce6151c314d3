package gplog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultDirName is the log directory under the user's home directory.
const DefaultDirName = "gpAdminLogs"

// DefaultDir returns the default log directory, <home>/gpAdminLogs.
func DefaultDir(home string) string {
	return filepath.Join(home, DefaultDirName)
}

// FileName returns the log file name of prog for the process start time,
// <prog>_<YYYYMMDD>.log (one file per program per day).
func FileName(prog string, start time.Time) string {
	return prog + "_" + start.Format("20060102") + ".log"
}

// Open opens (creating it if needed) the log file <dir>/<prog>_<YYYYMMDD>.log
// for appending. Like Greenplum, it creates a missing dir with a single
// non-recursive mkdir (mode 0777 before umask): when the parent of dir does
// not exist either, it fails with a message that says so.
func Open(dir, prog string, start time.Time) (*os.File, error) {
	if err := mkdirOnce(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName(prog, start))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// mkdirOnce creates dir unless it exists; it never creates parents.
func mkdirOnce(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("log directory %s exists but is not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("log directory: %w", err)
	}
	err = os.Mkdir(dir, 0o777)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot create log directory %s: parent directory %s does not exist", dir, filepath.Dir(filepath.Clean(dir)))
	default:
		return fmt.Errorf("cannot create log directory: %w", err)
	}
}
