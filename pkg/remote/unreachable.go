package remote

import "errors"

// ConnectError is the cause in a HostError for a command that never ran
// because its host could not be reached: the dial, the handshake, the
// host key or the authentication failed. Its message is the cause's.
type ConnectError struct {
	Host string
	Err  error
}

// Error returns the cause's message.
func (e *ConnectError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Unreachable reports whether r failed because its host could not be
// reached. A command killed by its timeout or an interrupt did reach its
// host, and is not unreachable.
func Unreachable(r Result) bool {
	var ce *ConnectError
	return errors.As(r.Err, &ce)
}
