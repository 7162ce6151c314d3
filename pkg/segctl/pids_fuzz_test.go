package segctl

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePIDs: the pids script's output is read only when every word is
// a positive pid, the error names the word otherwise, and pids written as
// the script writes them (space separated) read back the same.
func FuzzParsePIDs(f *testing.F) {
	for _, s := range []string{"14657 14658\n", "", "1\n2 3\n", "12 x\n", "0\n", "-3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		pids, err := ParsePIDs(out)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad pid ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		words := make([]string, len(pids))
		for i, p := range pids {
			if p <= 0 {
				t.Fatalf("pid %d from %q", p, out)
			}
			words[i] = strconv.Itoa(p)
		}
		again, err := ParsePIDs(joinPIDs(pids) + "\n")
		if err != nil || strings.Join(words, " ") != joinPIDs(again) {
			t.Fatalf("wrote %v, read %v, %v", pids, again, err)
		}
	})
}
