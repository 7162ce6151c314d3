package app

import (
	"errors"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// InsecureHostKeysEnv is the environment variable that, set to 1 (or
// true/yes), turns SSH host key checking off like --insecure-ignore-host-keys,
// for cron jobs and scripts that cannot easily gain a flag.
const InsecureHostKeysEnv = "GPMGMT_INSECURE_IGNORE_HOST_KEYS"

// SSHOptions returns the options of the SSH executor a tool uses to reach
// segment hosts: the user's ssh_config and keys, the ssh-agent of
// $SSH_AUTH_SOCK, $GPHOME/greenplum_path.sh sourced before every command
// (as Greenplum does), and host keys verified unless the user opted out by
// flag or environment variable.
func (e *Env) SSHOptions(o *CommonOptions, gphome string) remote.SSHOptions {
	opts := remote.SSHOptions{
		User:                   e.User,
		Home:                   e.Home,
		AgentSocket:            e.Getenv("SSH_AUTH_SOCK"),
		InsecureIgnoreHostKeys: o.InsecureIgnoreHostKeys || envTrue(e.Getenv(InsecureHostKeysEnv)),
		Logger:                 e.Log,
	}
	if gphome != "" {
		opts.EnvScript = filepath.Join(gphome, "greenplum_path.sh")
	}
	return opts
}

// envTrue reads a boolean environment value: 1, true or yes (any case).
func envTrue(v string) bool {
	switch v {
	case "1", "true", "TRUE", "True", "yes", "YES", "Yes":
		return true
	}
	return false
}

// OpenSSH opens the executor for the other hosts with the options of o
// and gphome (SSHOptions), through NewSSH. A failure (an unreadable
// ssh_config, say) is an ExpectedError that keeps its cause.
func (e *Env) OpenSSH(o *CommonOptions, gphome string) (remote.HostExecutor, error) {
	if e.NewSSH == nil {
		return nil, Errorf("ssh: %w", errNoSSH)
	}
	ex, err := e.NewSSH(e.SSHOptions(o, gphome))
	if err != nil {
		return nil, Errorf("ssh: %w", err)
	}
	return ex, nil
}

// errNoSSH is OpenSSH's cause when the Env has no NewSSH.
var errNoSSH = errors.New("no way to reach other hosts (Env.NewSSH is not set)")
