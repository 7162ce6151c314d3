package remote

import (
	"context"
	"errors"
	"testing"
)

type recorder struct{ hosts []string }

func (r *recorder) Exec(_ context.Context, c Command) Result {
	r.hosts = append(r.hosts, c.Host)
	return Result{Command: c}
}

// TestRouter: the coordinator's host runs locally, every other host
// remotely, and without a remote executor a remote host's command fails
// instead of running on this host.
func TestRouter(t *testing.T) {
	local, remote := &recorder{}, &recorder{}
	r := Router{Local: local, Remote: remote, LocalHosts: []string{"mdw", "localhost"}}
	for _, h := range []string{"mdw", "sdw1", "localhost", "sdw2"} {
		if res := r.Exec(t.Context(), Command{Host: h, Argv: []string{"true"}}); !res.OK() {
			t.Fatalf("%s: %v", h, res.Err)
		}
	}
	if got := local.hosts; len(got) != 2 || got[0] != "mdw" || got[1] != "localhost" {
		t.Errorf("local ran %v", got)
	}
	if got := remote.hosts; len(got) != 2 || got[0] != "sdw1" || got[1] != "sdw2" {
		t.Errorf("remote ran %v", got)
	}
	res := Router{Local: local, LocalHosts: []string{"mdw"}}.Exec(t.Context(), Command{Host: "sdw3", Argv: []string{"true"}})
	var he *HostError
	if res.OK() || !errors.As(res.Err, &he) || !errors.Is(res.Err, errNoRemote) || he.Host != "sdw3" {
		t.Errorf("remote host without a remote executor: %+v", res)
	}
	if len(local.hosts) != 2 {
		t.Errorf("sdw3's command ran locally: %v", local.hosts)
	}
}
