package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConnOptionsGolden(t *testing.T) {
	var b strings.Builder
	for _, f := range []Flavour{GP6, GP7, Cloudberry, FlavourUnknown} {
		for _, utility := range []bool{false, true} {
			for _, mods := range []bool{false, true} {
				cfg := ConnConfig{Flavour: f, Utility: utility, AllowSystemTableMods: mods}
				fmt.Fprintf(&b, "%s utility=%t allow_system_table_mods=%t\n  options: %q\n", f, utility, mods, connOptions(cfg))
				for _, s := range postConnectSQL(f) {
					fmt.Fprintf(&b, "  after connect: %s\n", s)
				}
			}
		}
		fmt.Fprintf(&b, "  log: %s\n  log with timeout: %s\n", ConnectMessage(ConnConfig{Flavour: f}),
			ConnectMessage(ConnConfig{Flavour: f, Host: "cdw", Database: "postgres", ConnectTimeout: 15 * time.Second}))
	}
	checkGolden(t, "connect_options.golden", b.String())
}

func TestConnectMessageMatchesGP6(t *testing.T) {
	want := readTranscript(t, "gp6-connect.txt")
	got := []string{
		ConnectMessage(ConnConfig{Flavour: GP6}),
		ConnectMessage(ConnConfig{Flavour: GP6, ConnectTimeout: 15 * time.Second, Retries: 4}),
		ConnectMessage(ConnConfig{Flavour: GP6, Database: "postgres"}),
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}
}

func TestPgxConfig(t *testing.T) {
	env := map[string]string{"USER": "gpadmin", "PGPORT": "6432"}
	d := Dialer{Getenv: func(k string) string { return env[k] }}
	c, err := d.PgxConfig(ConnConfig{Flavour: GP7, Utility: true, ConnectTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "/tmp" || c.Port != 6432 || c.User != "gpadmin" || c.Database != "template1" {
		t.Errorf("host %q port %d user %q db %q", c.Host, c.Port, c.User, c.Database)
	}
	if got := c.RuntimeParams["options"]; got != "-c gp_role=utility -c search_path= -c CLIENT_MIN_MESSAGES=ERROR" {
		t.Errorf("options %q", got)
	}
	if c.ConnectTimeout != 1500*time.Millisecond {
		t.Errorf("timeout %v", c.ConnectTimeout)
	}
	env["PGUSER"] = "o'neil \\ x"
	c, err = d.PgxConfig(ConnConfig{Flavour: GP6, Host: "cdw", Port: 5432, Database: "my db"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "cdw" || c.Port != 5432 || c.User != "o'neil \\ x" || c.Database != "my db" {
		t.Errorf("host %q port %d user %q db %q", c.Host, c.Port, c.User, c.Database)
	}
	if _, ok := c.RuntimeParams["options"]; ok {
		t.Errorf("GP6 normal connection sends options %q", c.RuntimeParams["options"])
	}
	if _, err := d.PgxConfig(ConnConfig{Utility: true}); err == nil {
		t.Error("utility with unknown flavour: no error")
	}
	if _, err := (Dialer{}).PgxConfig(ConnConfig{Flavour: GP6}); err == nil || !strings.Contains(err.Error(), "PGUSER") {
		t.Errorf("no user: %v", err)
	}
	// Without PGUSER and USER (docker exec, cron), the OS user, as libpq.
	c, err = (Dialer{OSUser: "gpadmin"}).PgxConfig(ConnConfig{Flavour: GP6})
	if err != nil || c.User != "gpadmin" {
		t.Errorf("PGUSER and USER unset, OSUser gpadmin: user %q, %v", c.User, err)
	}
	env["USER"], env["PGUSER"] = "alice", ""
	d.OSUser = "gpadmin"
	if c, err := d.PgxConfig(ConnConfig{Flavour: GP6}); err != nil || c.User != "alice" {
		t.Errorf("USER alice, OSUser gpadmin: user %q, %v; want USER's", c.User, err)
	}
}
