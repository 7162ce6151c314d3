package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseGPVersion: what `postgres --gp-version` or version() print is
// read only when its numbers are there as read (none lost to an overflow),
// the product decides Cloudberry and the major release Greenplum's
// flavour, and a version written in --gp-version's shape reads back the
// same. Seeds: the GP6 transcripts' lines (testdata/fuzz).
func FuzzParseGPVersion(f *testing.F) {
	for _, s := range []string{
		"postgres (Greenplum Database) 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515\n",
		"PostgreSQL 14.4 (Apache Cloudberry 2.0.0-incubating build dev) on x86_64",
		"postgres (Greenplum Database) 99999999999999999999.1.0 build x",
		"postgres (PostgreSQL) 15.8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		v, err := ParseGPVersion(out)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "unrecognised Greenplum version ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if v.Raw != strings.TrimSpace(out) || !strings.Contains(v.Raw, strconv.Itoa(v.Major)+".") {
			t.Fatalf("%+v from %q", v, out)
		}
		cloudberry := strings.Contains(v.Product, "Cloudberry")
		switch {
		case cloudberry != (v.Flavour == Cloudberry),
			!cloudberry && v.Major == 6 && v.Flavour != GP6,
			!cloudberry && v.Major == 7 && v.Flavour != GP7,
			!cloudberry && v.Major != 6 && v.Major != 7 && v.Flavour != FlavourUnknown:
			t.Fatalf("flavour %v for %+v", v.Flavour, v)
		}
		again, err := ParseGPVersion(fmt.Sprintf("postgres (%s) %s build dev", v.Product, v))
		if err != nil || again.Flavour != v.Flavour || again.String() != v.String() || again.Product != v.Product {
			t.Fatalf("wrote %+v, read %+v, %v", v, again, err)
		}
	})
}
