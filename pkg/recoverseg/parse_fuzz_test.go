package recoverseg

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// oneWord reports whether s is one word for strings.Fields.
func oneWord(s string) bool {
	f := strings.Fields(s)
	return len(f) == 1 && f[0] == s
}

// FuzzAnswers: of whatever the hosts' small scripts printed (a broken
// host, a hostile one), answers passes on only lines of exactly three
// words, the tag first and a dbid second, each at most once; and an answer
// written in the scripts' shape on the next host's output, or after any
// junk on the same one, is read as written. Seeds: the STATUS, WAL and
// SIZE scripts' real shapes.
func FuzzAnswers(f *testing.F) {
	f.Add("STATUS 2 0\nSTATUS 5 3\n", "STATUS")
	f.Add("WAL 2 present\nWAL 3 absent\nSIZE 4 \n", "WAL")
	f.Add("SIZE 2 1024\nSIZE x 1\nSIZE 3 1 2\n  SIZE\t4\t77  \nSIZE +5 9\n", "SIZE")
	f.Add("du: cannot access '/d': Permission denied\nSIZE 2", "SIZE")
	f.Fuzz(func(t *testing.T, out, tag string) {
		type answer struct {
			dbid  int
			value string
		}
		var got []answer
		answers([]remote.Result{{Stdout: out}}, tag, func(dbid int, value string) {
			got = append(got, answer{dbid, value})
		})
		lines := 0
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == tag {
				if _, err := strconv.Atoi(f[1]); err == nil {
					lines++
				}
			}
		}
		if len(got) != lines {
			t.Fatalf("%d answers from %d answer lines: %+v", len(got), lines, got)
		}
		for _, a := range got {
			if !oneWord(a.value) || !strings.Contains(out, a.value) {
				t.Fatalf("value %q is not one word of the output", a.value)
			}
		}
		if !oneWord(tag) {
			if len(got) > 0 {
				t.Fatalf("tag %q is no word, yet %+v", tag, got)
			}
			return
		}
		written := tag + " 7 written\n"
		for name, rs := range map[string][]remote.Result{
			"next host": {{Stdout: out}, {Stdout: written}},
			"same host": {{Stdout: out + "\n" + written}},
		} {
			var last answer
			answers(rs, tag, func(dbid int, value string) { last = answer{dbid, value} })
			if last != (answer{7, "written"}) {
				t.Fatalf("%s: wrote dbid 7 %q after %q, read %+v", name, "written", out, last)
			}
		}
	})
}

// FuzzParseResult: a recovery script's output gives a started recovery
// exactly when its first RESULT line says ok, an error with its kind and a
// one-line message for any other RESULT line, and Greenplum's
// "incremental" error when there is none; a recovery is never left neither
// started nor failed. Seeds: the script's real last lines.
func FuzzParseResult(f *testing.F) {
	f.Add("PROGRESS 1024/4096 kB (25%) copied\nRESULT ok started\n", 0)
	f.Add("RESULT validation /d does not exist: run gprecoverseg -F\n", 1)
	f.Add("RESULT interrupted the pg_rewind an earlier run started (pid 7) was stopped before it finished; /d cannot be trusted\n", 3)
	f.Add("PROGRESS RESULT ok\nRESULT \nRESULT  ok\n", 255)
	f.Fuzz(func(t *testing.T, out string, code int) {
		o := parseResult(remote.Result{Stdout: out, ExitCode: code, Stderr: "stderr"})
		if o.Started != (o.Kind == "") {
			t.Fatalf("%+v: neither started nor failed, or both", o)
		}
		if strings.Contains(o.Msg, "\n") {
			t.Fatalf("message %q is not one line", o.Msg)
		}
		var first string
		for _, line := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(line, "RESULT "); ok && !strings.HasPrefix(rest, " ") && rest != "" {
				first = rest
				break
			}
		}
		switch kind, msg, _ := strings.Cut(first, " "); {
		case first == "":
			if o.Kind != "incremental" || !strings.HasPrefix(o.Msg, "the recovery did not finish") {
				t.Fatalf("no RESULT line, yet %+v", o)
			}
		case kind == "ok":
			if !o.Started {
				t.Fatalf("first RESULT line %q, yet %+v", first, o)
			}
		case o.Kind != kind || o.Msg != msg:
			t.Fatalf("first RESULT line %q, yet %+v", first, o)
		}
		if first == "" {
			if o := parseResult(remote.Result{Stdout: out + "\nRESULT ok started\n"}); !o.Started {
				t.Fatalf("RESULT ok after %q read as %+v", out, o)
			}
		}
	})
}

// FuzzParseStopLine: a line of the stop script's output is taken only in
// its shape, "STOP|SHM <dbid> <state> [<detail>]", with nothing lost or
// invented; and pg_ctl's output, its newlines turned to spaces as the
// script does, is carried whole as a failed stop's detail.
func FuzzParseStopLine(f *testing.F) {
	f.Add("STOP 2 stopped pid 4242")
	f.Add("STOP 3 notrunning no postmaster.pid")
	f.Add("SHM 4 ipcrm: permission denied")
	f.Add("STOP 5 failed")
	f.Add("STOP x stopped\nSTOP 2 \nSTOP  2 stopped")
	f.Fuzz(func(t *testing.T, line string) {
		if l, ok := parseStopLine(line); ok {
			rest, found := strings.CutPrefix(line, l.Tag+" ")
			dbid, after, _ := strings.Cut(rest, " ")
			n, err := strconv.Atoi(dbid)
			switch {
			case !found || l.Tag != "STOP" && l.Tag != "SHM":
				t.Fatalf("%q read with tag %q", line, l.Tag)
			case err != nil || n != l.DBID:
				t.Fatalf("%q read with dbid %d", line, l.DBID)
			case strings.Contains(l.State, " "):
				t.Fatalf("%q read with state %q", line, l.State)
			case after != l.State && after != l.State+" "+l.Detail:
				t.Fatalf("%q read as %+v", line, l)
			}
		}
		detail := strings.ReplaceAll(line, "\n", " ")
		text := "STOP 7 failed " + detail
		if l, ok := parseStopLine(text); !ok || l != (stopLine{Tag: "STOP", DBID: 7, State: "failed", Detail: detail}) {
			t.Fatalf("wrote %q, read %+v, %v", text, l, ok)
		}
	})
}

// FuzzParseDryRun: a pg_rewind --dry-run's output gives a size only from
// pg_rewind's estimate line or its "no rewind required", never a negative
// one but the unknown -1, and a one-line summary of what it said; the
// estimate written after any junk that holds none is read as written.
// Seeds: in the shape of PostgreSQL 15's pg_rewind.
func FuzzParseDryRun(f *testing.F) {
	f.Add("pg_rewind: servers diverged at WAL location 0/3000060 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1\npg_rewind: reading source file list\npg_rewind: reading target file list\npg_rewind: reading WAL in target\npg_rewind: need to copy 207 MB (total source directory size is 331 MB)\n212011/212011 kB (100%) copied\npg_rewind: creating backup label and updating control file\npg_rewind: syncing target data directory\npg_rewind: Done!\n", 0)
	f.Add("pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required\n", 0)
	f.Add("STANDBY\n", 0)
	f.Add("pg_rewind: error: could not connect to server\n", 1)
	f.Add("pg_rewind: need to copy 99999999999999 MB\n", 0)
	f.Fuzz(func(t *testing.T, out string, code int) {
		rs := remote.Result{Stdout: out, ExitCode: code}
		d := parseDryRun(rs)
		switch {
		case d.bytes < -1:
			t.Fatalf("%q: %d bytes", out, d.bytes)
		case d.bytes >= 0 && (code != 0 || !strings.Contains(out, "need to copy") && !strings.Contains(out, "no rewind required")):
			t.Fatalf("%q (exit %d): %d bytes from no estimate", out, code, d.bytes)
		case d.standby && strings.TrimSpace(out) != "STANDBY":
			t.Fatalf("%q read as a standby", out)
		case strings.Contains(d.said, "\n"):
			t.Fatalf("summary %q is not one line", d.said)
		}
		if needToCopy.MatchString(out) || strings.TrimSpace(out) == "STANDBY" {
			return
		}
		rs.Stdout, rs.ExitCode = out+"\npg_rewind: need to copy 207 MB (total source directory size is 331 MB)\n", 0
		if d := parseDryRun(rs); d.bytes != 207<<20 {
			t.Fatalf("estimate after %q read as %d bytes", out, d.bytes)
		}
	})
}
