package gpstop

import (
	"errors"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// unreachableReason says why a host's command never ran, on one line: the
// SSH failure as pkg/remote words it (host key, authentication, refused,
// timeout, lost connection), else the command's error.
func unreachableReason(err error) string {
	var msg string
	var he *remote.HostError
	switch se := remote.SSHFailure(err); {
	case se != nil:
		msg = se.Error()
	case errors.As(err, &he) && he.Err != nil:
		msg = he.Err.Error()
	case err != nil:
		msg = err.Error()
	}
	return strings.Join(strings.Fields(msg), " ")
}
