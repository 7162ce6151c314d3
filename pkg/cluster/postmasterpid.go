package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PostmasterPID returns the process id on the first line of a
// postmaster.pid file's content, where PostgreSQL writes the postmaster's.
// The line must be a positive decimal number that fits a pid (white space
// around it aside); anything else (an empty or torn file, a negative pid
// of a single-user backend, text) is an error naming the line.
func PostmasterPID(content string) (int, error) {
	first, _, _ := strings.Cut(content, "\n")
	first = strings.TrimSpace(first)
	pid, err := strconv.ParseInt(first, 10, 32)
	if err != nil || pid <= 0 || strconv.FormatInt(pid, 10) != first {
		return 0, fmt.Errorf("postmaster.pid: the first line %q is not a process id", Visible(first))
	}
	return int(pid), nil
}

// PostmasterStarted returns the start time on the third line of a
// postmaster.pid file's content (seconds since the epoch); a missing or
// malformed line is an error naming it.
func PostmasterStarted(content string) (time.Time, error) {
	lines := strings.Split(content, "\n")
	line := ""
	if len(lines) >= 3 {
		line = strings.TrimSpace(lines[2])
	}
	sec, err := strconv.ParseInt(line, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("postmaster.pid: the third line %q is not a start time", Visible(line))
	}
	return time.Unix(sec, 0), nil
}
