package remote

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of SSHOptions.
const (
	DefaultSessionsPerHost = 8                // below sshd's default MaxSessions (10)
	DefaultDialTimeout     = 10 * time.Second // TCP connect plus SSH handshake
	DefaultSystemConfig    = "/etc/ssh/ssh_config"
)

// SSHOptions configures an SSHExecutor. Everything the executor needs from
// the environment (user, home, agent socket) is passed in here; the package
// reads no environment variables.
type SSHOptions struct {
	// User is the login name used when ssh_config sets no User for a host,
	// as OpenSSH uses the local user name. Required.
	User string
	// Home is the local home directory, for ~ and %d in paths and for the
	// default ~/.ssh files. Required.
	Home string

	// ConfigFile is the user's ssh_config; "" means Home/.ssh/config and
	// "none" means none (as ssh -F none). A missing file is no error.
	ConfigFile string
	// SystemConfigFile is read after ConfigFile, as OpenSSH does; ""
	// means DefaultSystemConfig and "none" means none.
	SystemConfigFile string
	// NoConfig reads no ssh_config file at all.
	NoConfig bool

	// KnownHostsFiles, when not empty, replaces the UserKnownHostsFile and
	// GlobalKnownHostsFile of every host. The first one is named in the
	// ssh-keyscan line of an unknown-key error.
	KnownHostsFiles []string
	// InsecureIgnoreHostKeys accepts any host key. Only for an explicit
	// user opt-out (a flag or an environment variable).
	InsecureIgnoreHostKeys bool

	// AgentSocket is the ssh-agent socket (SSH_AUTH_SOCK); "" uses no agent.
	AgentSocket string

	// SessionsPerHost caps concurrent sessions on one host's connection;
	// 0 means DefaultSessionsPerHost, otherwise it must be 1..9 to stay
	// below sshd's default MaxSessions of 10.
	SessionsPerHost int
	// DialTimeout bounds the TCP connect and the SSH handshake
	// (authentication included). 0 means the host's ssh_config
	// ConnectTimeout, else DefaultDialTimeout; a positive value wins over
	// ConnectTimeout, as ssh -o does.
	DialTimeout time.Duration

	// KeepaliveInterval is how long a connection may stay silent before a
	// keepalive is sent (ssh's ServerAliveInterval); KeepaliveCountMax how
	// many intervals of silence end it (ServerAliveCountMax), so that a
	// host that stops answering mid-run is reported within interval ×
	// count. 0 means the host's ssh_config value, else
	// DefaultKeepaliveInterval and DefaultKeepaliveCountMax; a negative
	// interval sends none. A positive value wins over ssh_config.
	KeepaliveInterval time.Duration
	KeepaliveCountMax int

	// EnvScript, when set, is sourced before every remote command line:
	// `. '<EnvScript>' && <command>`, as Greenplum sources
	// $GPHOME/greenplum_path.sh.
	EnvScript string

	// Logger receives debug messages (keys skipped, handshake retries);
	// nil discards them.
	Logger *slog.Logger
}

// withDefaults checks o and returns a copy with defaults filled in.
func (o SSHOptions) withDefaults() (SSHOptions, error) {
	if o.User == "" {
		return o, errors.New("ssh options: User is required")
	}
	if o.Home == "" {
		return o, errors.New("ssh options: Home is required")
	}
	switch {
	case o.SessionsPerHost == 0:
		o.SessionsPerHost = DefaultSessionsPerHost
	case o.SessionsPerHost < 1 || o.SessionsPerHost > 9:
		return o, fmt.Errorf("ssh options: %d sessions per host is outside 1..9 (sshd allows 10 by default)", o.SessionsPerHost)
	}
	if o.KeepaliveCountMax < 0 {
		return o, fmt.Errorf("ssh options: negative keepalive count %d", o.KeepaliveCountMax)
	}
	if o.DialTimeout < 0 {
		return o, fmt.Errorf("ssh options: negative dial timeout %s", o.DialTimeout)
	}
	if o.ConfigFile == "" {
		o.ConfigFile = o.Home + "/.ssh/config"
	}
	if o.SystemConfigFile == "" {
		o.SystemConfigFile = DefaultSystemConfig
	}
	if o.NoConfig {
		o.ConfigFile, o.SystemConfigFile = "none", "none"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
