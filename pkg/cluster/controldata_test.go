package cluster

import (
	"strings"
	"testing"
)

func TestControlDataField(t *testing.T) {
	out := "pg_control version number:            1300\n" +
		"Catalog version number:               301908232\n" +
		"Database cluster state:               in production\n" +
		"Latest checkpoint's TimeLineID:       3\n" +
		"Data page checksum version:           1\n"
	for name, want := range map[string]string{
		ControlCatalogVersion: "301908232", ControlClusterState: "in production",
		ControlTimeLineID: "3", ControlChecksumVersion: "1",
	} {
		if got, ok := ControlDataField(out, name); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, ok, want)
		}
	}
	if got, ok := ControlDataField(out, "Latest checkpoint's NextXID"); ok {
		t.Errorf("absent field found: %q", got)
	}
}

// FuzzControlDataField: a field is found only on a line that starts with
// its name and a colon, the first such line wins, its value comes back
// trimmed and on one line, and a line written in pg_controldata's shape is
// always read back, whatever follows it. Seeds: testdata/fuzz, among them
// PostgreSQL 15's whole report.
func FuzzControlDataField(f *testing.F) {
	f.Add("Data page checksum version:           1\n", ControlChecksumVersion)
	f.Add("Catalog version number:\n", ControlCatalogVersion)
	f.Add("x\r\nDatabase cluster state: in production\r\n", ControlClusterState)
	f.Fuzz(func(t *testing.T, out, name string) {
		value, ok := ControlDataField(out, name)
		starts := strings.HasPrefix(out, name+":") || strings.Contains(out, "\n"+name+":")
		switch {
		case ok && !starts:
			t.Fatalf("found %q for %q, which no line starts with", value, name)
		case !ok && starts && !strings.Contains(name, "\n"):
			t.Fatalf("missed %q", name)
		case ok && (value != strings.TrimSpace(value) || strings.Contains(value, "\n")):
			t.Fatalf("value %q is not trimmed to one line", value)
		}
		if strings.Contains(name, "\n") {
			return
		}
		want := "written value"
		if ok {
			want = value
		}
		if got, ok := ControlDataField(name+":       "+want+"\n"+out, name); !ok || got != want {
			t.Fatalf("wrote %q, read %q, %v", want, got, ok)
		}
	})
}
