package buildmirrors

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// FuzzProbeOutput: the probe scripts' output from a mirror or primary host
// (whatever it printed) is refused only for a TARGET line without a dbid,
// naming the line, and lines in the scripts' shape read back as written
// after any junk: junk never hides or bends a real answer.
func FuzzProbeOutput(f *testing.F) {
	f.Add("TARGET 7 state=absent gpdbid= port= standby=0 pid= busy=0 avail=1048576\nSIZE 7 2048\n")
	f.Add("TARGET 8 state=notempty gpdbid=8 port=7001 standby=1 pid=4242 busy=1 avail=99\nTARGET x\nSIZE 8 -1\nSIZE 8\n")
	f.Fuzz(func(t *testing.T, out string) {
		targets, err := parseTargets(out)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad probe line ") {
				t.Fatalf("error %q", err)
			}
		} else {
			want := TargetProbe{State: "notempty", GPDBID: 77, Port: 7001, Standby: true, PID: 4242, Busy: false, AvailKB: 1 << 40}
			targets, err = parseTargets(out + "\nTARGET 77 state=notempty gpdbid=77 port=7001 standby=1 pid=4242 busy=0 avail=1099511627776\n")
			if err != nil || targets[77] != want {
				t.Fatalf("after %q: %+v, %v; want %+v", out, targets[77], err, want)
			}
		}
		sizes := parseSizes(out + "\nSIZE 77 123456789\n")
		if sizes[77] != 123456789 {
			t.Fatalf("after %q: size %d", out, sizes[77])
		}
	})
}

// FuzzParseProgress: a pg_basebackup --progress line gives the amounts it
// shows, never ones it does not.
func FuzzParseProgress(f *testing.F) {
	for _, s := range []string{"  12345/67890 kB (18%), 0/1 tablespace", "1/2 kB", "99999999999999999999/1 kB", "x/1 kB", "\r 5/5 kB (100%), 1/1 tablespace\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		done, total, ok := ParseProgress(line)
		if !ok {
			return
		}
		shown := regexp.MustCompile(fmt.Sprintf(`(^|[^0-9])0*%d/0*%d kB`, done, total))
		if done < 0 || total < 0 || !shown.MatchString(line) {
			t.Fatalf("%d/%d from %q", done, total, line)
		}
	})
}
