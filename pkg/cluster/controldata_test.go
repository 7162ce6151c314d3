package cluster

import "testing"

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
