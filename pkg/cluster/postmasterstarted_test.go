package cluster

import (
	"testing"
	"time"
)

func TestPostmasterStarted(t *testing.T) {
	got, err := PostmasterStarted("4242\n/data/gpseg0\n1733356800\n6000\n/tmp\n")
	if err != nil || !got.Equal(time.Unix(1733356800, 0)) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "4242\n/data/gpseg0\n", "4242\n/data\nsoon\n", "4242\n/data\n-5\n"} {
		if _, err := PostmasterStarted(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
