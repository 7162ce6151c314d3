package gpstate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// failureReason says on one line why host's status command failed, for the
// warning gpstate adds after Greenplum's "Error getting status from host"
// and for --json and --health: the SSH failure as remote words it (a
// changed host key names the known_hosts file and line and the command
// that removes it, and warns of a possible man in the middle), a script
// that did not finish in time, or the script's exit status and stderr.
func failureReason(host string, err error) string {
	if se := remote.SSHFailure(err); se != nil {
		return oneLine(se.Error())
	}
	cause := err
	stderr := ""
	var he *remote.HostError
	if errors.As(err, &he) {
		cause, stderr = he.Err, he.Stderr
	}
	var ee *remote.ExitError
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Sprintf("the status script on %s did not finish within %s and was stopped", host, hostTimeout)
	case errors.As(cause, &ee) && stderr != "":
		return oneLine(fmt.Sprintf("the status script on %s failed with exit status %d: %s", host, ee.Code, stderr))
	case errors.As(cause, &ee):
		return fmt.Sprintf("the status script on %s failed with exit status %d", host, ee.Code)
	case cause != nil:
		return oneLine(fmt.Sprintf("status of %s: %v", host, cause))
	}
	return ""
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
