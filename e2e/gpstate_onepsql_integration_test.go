//go:build integration

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestGpstateOnePsqlPerHost: gpstate reads every primary of a host in one
// psql session (\connect from one to the next) with real PostgreSQL 15
// and ssh, on 2 hosts of 2 primaries each; when a primary of a host hangs
// (SIGSTOP: its socket stays, connections time out), its host's other
// primary is still read, through the per-primary fallback, and only the
// hung one lacks its WAL position.
func TestGpstateOnePsqlPerHost(t *testing.T) {
	d := newMirroredDemo(t, 2, 2)
	written := func(t *testing.T) map[int]bool {
		t.Helper()
		code, out := d.blind(t, "gpstate", "--json")
		var doc struct {
			Segments []struct {
				DBID    int `json:"dbid"`
				Catalog struct {
					Role string `json:"role"`
				} `json:"catalog"`
				Replication *struct {
					CurrentWrite *string `json:"current_write_location"`
				} `json:"replication"`
			} `json:"segments"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("gpstate --json: exit %d, %v\n%s", code, err, out)
		}
		got := map[int]bool{}
		for _, s := range doc.Segments {
			if s.Catalog.Role == "p" {
				got[s.DBID] = s.Replication != nil && s.Replication.CurrentWrite != nil
			}
		}
		return got
	}

	var primaries []cluster.Segment
	for _, s := range d.segs {
		if s.IsSegment() && s.IsPrimary() {
			primaries = append(primaries, s)
		}
	}
	got := written(t)
	for _, p := range primaries {
		if !got[p.DBID] {
			t.Errorf("healthy: no WAL position for primary dbid %d on %s: %v", p.DBID, p.Hostname, got)
		}
	}

	// The primary of the lowest dbid hangs: it comes first in its host's
	// session (the script gets a host's instances by dbid), which stops
	// there; the host's other primary, after it, must fall back.
	hung := primaries[0]
	for _, p := range primaries {
		if p.DBID < hung.DBID {
			hung = p
		}
	}
	after := 0
	for _, p := range primaries {
		if p.Hostname == hung.Hostname && p.DBID > hung.DBID {
			after++
		}
	}
	if after == 0 {
		t.Fatalf("no primary after dbid %d on %s: the fallback would not be exercised", hung.DBID, hung.Hostname)
	}
	b, err := os.ReadFile(filepath.Join(hung.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if out, err := exec.Command("kill", "-STOP", pid).CombinedOutput(); err != nil {
		t.Fatalf("kill -STOP %s: %v %s", pid, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("kill", "-CONT", pid).Run() }) // before the cluster is destroyed
	got = written(t)
	for _, p := range primaries {
		if want := p.DBID != hung.DBID; got[p.DBID] != want {
			t.Errorf("dbid %d hung: primary dbid %d on %s has a WAL position: %v, want %v", hung.DBID, p.DBID, p.Hostname, got[p.DBID], want)
		}
	}
}
