package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

func TestCoordinatorDataDir(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := CoordinatorDataDir("", getenv, GP6); err == nil || err.Error() != "Environment Variable MASTER_DATA_DIRECTORY not set!" {
		t.Errorf("GP6 unset: %v", err)
	}
	if _, err := CoordinatorDataDir("", getenv, GP7); err == nil || err.Error() != "Environment Variable COORDINATOR_DATA_DIRECTORY not set!" {
		t.Errorf("GP7 unset: %v", err)
	}
	env["MASTER_DATA_DIRECTORY"] = "/data/master/gpseg-1/"
	if d, _ := CoordinatorDataDir("", getenv, GP6); d != "/data/master/gpseg-1" {
		t.Errorf("MASTER_DATA_DIRECTORY: %q", d)
	}
	env["COORDINATOR_DATA_DIRECTORY"] = "/data/coordinator/gpseg-1"
	if d, _ := CoordinatorDataDir("", getenv, GP7); d != "/data/coordinator/gpseg-1" {
		t.Errorf("COORDINATOR_DATA_DIRECTORY first: %q", d)
	}
	wd, _ := os.Getwd()
	if d, _ := CoordinatorDataDir("rel/dir", getenv, GP7); d != filepath.Join(wd, "rel/dir") {
		t.Errorf("-d relative: %q", d)
	}
	if _, err := GPHome(getenv); err == nil || err.Error() != "Environment Variable GPHOME not set" {
		t.Errorf("GPHOME: %v", err)
	}
	env["GPHOME"] = "/usr/local/gp$(reboot)"
	var unsafe *UnsafePathError
	if _, err := GPHome(getenv); !errors.As(err, &unsafe) || unsafe.What != "GPHOME" || unsafe.Char != '$' {
		t.Errorf("hostile GPHOME: %v", err)
	}
	env["GPHOME"] = "/usr/local/greenplum db 6"
	if h, err := GPHome(getenv); err != nil || h != env["GPHOME"] {
		t.Errorf("GPHOME with spaces: %q, %v", h, err)
	}
}

func TestCoordinatorState(t *testing.T) {
	mdd := t.TempDir()
	if _, err := ReadCoordinatorState(mdd); !errors.Is(err, ErrStopped) || err.Error() != "Greenplum database appears to be stopped" {
		t.Errorf("no pid file: %v", err)
	}
	write(t, filepath.Join(mdd, "postmaster.pid"), "123\n")
	write(t, filepath.Join(mdd, "postmaster.opts"), `/usr/local/gpdb/bin/postgres "-D" "/data/qddir/demoDataDir-1" "-p" "7000" "-c" "gp_role=utility" "-c" "superuser_reserved_connections=3"`+"\n")
	st, err := ReadCoordinatorState(mdd)
	if err != nil || !st.Utility || !st.Restricted {
		t.Errorf("utility restricted: %+v, %v", st, err)
	}
	if st := ParsePostmasterOpts(`/usr/local/gpdb/bin/postgres "-D" "/data/qddir" "-p" "7000" "-E"`); st.Utility || st.Restricted {
		t.Errorf("normal: %+v", st)
	}
}

func TestEra(t *testing.T) {
	mdd := t.TempDir()
	if era, err := ReadEra(mdd, GP6); err != nil || era != "" {
		t.Errorf("missing file: %q, %v", era, err)
	}
	for _, f := range []Flavour{GP6, GP7} {
		if err := os.MkdirAll(filepath.Dir(EraPath(mdd, f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The GP6 transcript's file (gpaddmirrors-i-v.txt, "parse:" lines).
	write(t, filepath.Join(mdd, "pg_log", "gp_era"), "# Greenplum Database era.\n# Do not change the contents of this file.\nera = 281f4dd391c358af_261123185258\n")
	if era, err := ReadEra(mdd, GP6); err != nil || era != "281f4dd391c358af_261123185258" {
		t.Errorf("GP6 era %q, %v", era, err)
	}
	era := NewEra("cdw", 5432, "/data/coordinator/gpseg-1", time.Date(2026, 11, 23, 18, 52, 58, 0, time.Local))
	if len(era) != 29 || !strings.HasSuffix(era, "_261123185258") {
		t.Errorf("NewEra = %q", era)
	}
	if err := WriteEra(mdd, GP7, era); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadEra(mdd, GP7); err != nil || got != era {
		t.Errorf("GP7 round trip %q, %v", got, err)
	}
	if err := WriteEra(mdd, GP7, era); err != nil { // replaces a read-only file
		t.Errorf("rewrite: %v", err)
	}
	if fi, _ := os.Stat(EraPath(mdd, GP7)); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := ParseEra("# nothing\n"); err == nil {
		t.Error("no era line: no error")
	}
}

func TestParseGPVersion(t *testing.T) {
	gp6 := readTranscript(t, "gp6-versions.txt")
	tests := []struct {
		in      string
		flavour Flavour
		version string
	}{
		{gp6[0], GP6, "6.24.3"},
		{gp6[1], GP6, "6.24.3"},
		{"postgres (Greenplum Database) 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515\n", GP7, "7.1.0"},
		{"PostgreSQL 12.12 (Greenplum Database 7.0.0 build commit:0a7a3566873325aca1789ae6f818c80f17a9402d) on x86_64", GP7, "7.0.0"},
		{"postgres (Cloudberry Database) 1.6.0 build 1", Cloudberry, "1.6.0"},
		{"postgres (Cloudberry Database) 1.0.0 build dev", Cloudberry, "1.0.0"},
		{"postgres (Apache Cloudberry) 2.0.0-incubating build dev", Cloudberry, "2.0.0"},
		{"PostgreSQL 14.4 (Apache Cloudberry 2.0.0-incubating build dev) on x86_64", Cloudberry, "2.0.0"},
		{"postgres (Greenplum Database) 5.28.4 build commit:abc", FlavourUnknown, "5.28.4"},
	}
	for _, tt := range tests {
		v, err := ParseGPVersion(tt.in)
		if err != nil || v.Flavour != tt.flavour || v.String() != tt.version {
			t.Errorf("ParseGPVersion(%q) = %+v, %v", tt.in, v, err)
		}
	}
	if _, err := ParseGPVersion("postgres (PostgreSQL) 15.8"); err == nil {
		t.Error("stock PostgreSQL: no error")
	}
	local, _ := ParseGPVersion(gp6[0])
	server, _ := ParseGPVersion(tests[3].in)
	if err := CheckCompatible(local, server); err == nil || err.Error() != "Cannot connect to GPDB version 7.0 from installed version 6.24" {
		t.Errorf("CheckCompatible: %v", err)
	}
	if err := CheckCompatible(local, local); err != nil {
		t.Errorf("same version: %v", err)
	}
	if FlavourFromVersionNum(62403) != GP6 || FlavourFromVersionNum(70100) != GP7 || FlavourFromVersionNum(150000) != GP7 || FlavourFromVersionNum(90400) != GP7 || FlavourFromVersionNum(50000) != FlavourUnknown {
		t.Error("FlavourFromVersionNum")
	}
}

// fakeExec answers every command with one Result.
type fakeExec struct {
	got []remote.Command
	res remote.Result
}

func (f *fakeExec) Exec(_ context.Context, c remote.Command) remote.Result {
	f.got = append(f.got, c)
	r := f.res
	r.Command = c
	return r
}

func TestLocalVersion(t *testing.T) {
	ex := &fakeExec{res: remote.Result{Stdout: "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213\n"}}
	v, err := LocalVersion(context.Background(), ex, "/usr/local/greenplum-db")
	if err != nil || v.Flavour != GP6 {
		t.Fatalf("%+v, %v", v, err)
	}
	if len(ex.got) != 1 || strings.Join(ex.got[0].Argv, " ") != "/usr/local/greenplum-db/bin/postgres --gp-version" {
		t.Errorf("commands %+v", ex.got)
	}
	ex.res = remote.Result{ExitCode: 127, Stderr: "not found\n"}
	if _, err := LocalVersion(context.Background(), ex, "/x"); err == nil || !strings.Contains(err.Error(), "exit status 127: not found") {
		t.Errorf("failure: %v", err)
	}
}
