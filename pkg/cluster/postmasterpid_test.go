package cluster

import (
	"strconv"
	"strings"
	"testing"
)

func TestPostmasterPID(t *testing.T) {
	for in, want := range map[string]int{
		"12345\n/data/qddir/demoDataDir-1\n1732892059\n7000\n/tmp\n*\n  7000001         0\nready   \n": 12345,
		" 42 \n": 42,
		"7":      7,
	} {
		if got, err := PostmasterPID(in); err != nil || got != want {
			t.Errorf("PostmasterPID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n12", "-12\n", "0\n", "+12\n", "012\n", "12a\n", "99999999999\n", "１２\n"} {
		if pid, err := PostmasterPID(in); err == nil {
			t.Errorf("PostmasterPID(%q) = %d, want an error", in, pid)
		}
	}
}

// FuzzPostmasterPID: a pid is read only from a first line that is exactly
// its decimal form, and a file written with a pid reads back as that pid
// whatever follows.
func FuzzPostmasterPID(f *testing.F) {
	for _, s := range []string{"12345\n/data\n", "", "-1\n", " 7 ", "2147483647\n", "2147483648\n", "0x10\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pid, err := PostmasterPID(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "postmaster.pid: the first line ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: not one line naming the file", err)
			}
			return
		}
		first, _, _ := strings.Cut(in, "\n")
		if pid <= 0 || strings.TrimSpace(first) != strconv.Itoa(pid) {
			t.Fatalf("PostmasterPID(%q) = %d", in, pid)
		}
		if again, err := PostmasterPID(strconv.Itoa(pid) + "\n" + in); err != nil || again != pid {
			t.Fatalf("written %d, read %d, %v", pid, again, err)
		}
	})
}
