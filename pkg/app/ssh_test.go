package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

func TestSSHOptions(t *testing.T) {
	tests := []struct {
		name   string
		flag   bool
		env    map[string]string
		gphome string
		want   remote.SSHOptions
	}{
		{
			name: "host keys verified by default",
			env:  map[string]string{"SSH_AUTH_SOCK": "/tmp/agent.sock"},
			want: remote.SSHOptions{User: "gpadmin", Home: "/home/gpadmin", AgentSocket: "/tmp/agent.sock"},
		},
		{
			name:   "greenplum_path.sh sourced from GPHOME",
			gphome: "/usr/local/greenplum-db",
			want:   remote.SSHOptions{User: "gpadmin", Home: "/home/gpadmin", EnvScript: "/usr/local/greenplum-db/greenplum_path.sh"},
		},
		{
			name: "opt-out by flag",
			flag: true,
			want: remote.SSHOptions{User: "gpadmin", Home: "/home/gpadmin", InsecureIgnoreHostKeys: true},
		},
		{
			name: "opt-out by environment",
			env:  map[string]string{InsecureHostKeysEnv: "yes"},
			want: remote.SSHOptions{User: "gpadmin", Home: "/home/gpadmin", InsecureIgnoreHostKeys: true},
		},
		{
			name: "anything else in the environment keeps checking",
			env:  map[string]string{InsecureHostKeysEnv: "0"},
			want: remote.SSHOptions{User: "gpadmin", Home: "/home/gpadmin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{User: "gpadmin", Home: "/home/gpadmin", Getenv: func(k string) string { return tt.env[k] }}
			got := env.SSHOptions(&CommonOptions{InsecureIgnoreHostKeys: tt.flag}, tt.gphome)
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(remote.SSHOptions{}, "Logger")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
