// Package gp6clients installs fake client programs that parse their
// arguments as Greenplum 6's do. GP6 ships PostgreSQL 9.4's psql,
// pg_isready, pg_controldata and pg_ctl, with Greenplum's own pg_basebackup
// and pg_rewind (gp6-observed.md §10.1), while the compat test bed runs
// PostgreSQL 15's: a per-host script that works on the bed can still fail on
// every GP6 cluster. The clearest case: psql 9.4 runs only the last of
// several -c options.
//
// Tests run a per-host script with this machine's sh against these fakes
// (the GPHOME whose bin/ Install fills) to prove the script speaks GP6's
// dialect: options a 9.4 program lacks are refused as it refuses them, only
// the last -c runs, and psql without -c or -f reads its standard input, as
// the real one does, so a script that lets psql inherit the script's own
// standard input (sh -s) loses its remaining lines.
//
// What the fakes answer comes from shell functions the test writes
// (Answers); every call is appended to a log the test reads with Calls.
package gp6clients

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Answers are bodies of POSIX sh functions that decide what the fakes say.
// Each sees the connection's port in $port (and host in $host); an empty
// body gives the default in parentheses.
type Answers struct {
	// SQL answers one statement, $1, run by psql: it prints the rows
	// (fields separated by $sep) and returns 0, or prints a server error to
	// stderr and returns 1. (Every statement fails: "connection refused".)
	SQL string
	// Ready is pg_isready's exit code for $port. (2: no response.)
	Ready string
	// ControlData prints pg_controldata's report of the directory $1 and
	// returns its exit code. (An error: no such directory.)
	ControlData string
	// Ctl runs pg_ctl's command $1 for the data directory $dir (the
	// remaining arguments as pg_ctl got them follow) and returns its exit
	// code. (0, printing nothing.)
	Ctl string
	// Rewind and BaseBackup run pg_rewind and pg_basebackup with their
	// arguments. (0, printing nothing.)
	Rewind, BaseBackup string
	// Version is what postgres --gp-version prints.
	// ("postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213")
	Version string
}

// Install writes the fakes into gphome/bin (creating it) and returns the
// log file every call is appended to, one line per call: the program name
// and its arguments, each argument in single quotes; psql adds one line
// "psql ran: <statement>" per statement it ran.
func Install(t testing.TB, gphome string, a Answers) (log string) {
	t.Helper()
	bin := filepath.Join(gphome, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(gphome, "calls.log")
	def := func(body, fallback string) string {
		if strings.TrimSpace(body) == "" {
			return fallback
		}
		return body
	}
	if a.Version == "" {
		a.Version = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	}
	answers := "answer_sql() {\n" + def(a.SQL, `echo "psql: could not connect to server: Connection refused" >&2; return 2`) + "\n}\n" +
		"answer_ready() {\n" + def(a.Ready, "return 2") + "\n}\n" +
		"answer_controldata() {\n" + def(a.ControlData, `echo "pg_controldata: could not open file \"$1/global/pg_control\" for reading: No such file or directory" >&2; return 1`) + "\n}\n" +
		"answer_ctl() {\n" + def(a.Ctl, "return 0") + "\n}\n" +
		"answer_rewind() {\n" + def(a.Rewind, "return 0") + "\n}\n" +
		"answer_basebackup() {\n" + def(a.BaseBackup, "return 0") + "\n}\n"
	files := map[string]string{
		"answers.sh":     answers,
		"psql":           psql,
		"pg_isready":     pgIsReady,
		"pg_controldata": pgControlData,
		"pg_ctl":         pgCtl,
		"pg_rewind":      pgRewind,
		"pg_basebackup":  pgBaseBackup,
		"postgres":       "if [ \"$#\" -eq 1 ] && [ \"$1\" = --gp-version ]; then printf '%s\\n' " + shQuote(a.Version) + "; exit 0; fi\necho \"postgres: not a fake for $*\" >&2; exit 1\n",
	}
	for name, body := range files {
		text := "#!/bin/sh\n" + prelude(log, filepath.Join(bin, "answers.sh"), name) + body
		mode := os.FileMode(0o755)
		if name == "answers.sh" {
			text, mode = body, 0o644
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	return log
}

// Calls returns the lines of the log Install returned ("" when nothing ran).
func Calls(t testing.TB, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// prelude logs the call and loads the answers; getopt94 is a POSIX sh
// version of getopt_long as the 9.4 programs call it: short options may be
// bundled (-At) and take their value attached or as the next argument, long
// options take "=value" or the next argument, options and operands may mix,
// and an unknown option is refused with the program's message and exit 1.
func prelude(log, answers, prog string) string {
	return `log=` + shQuote(log) + `
prog=` + prog + `
{ printf '%s' "$prog"; for a; do printf " '%s'" "$a"; done; printf '\n'; } >>"$log"
. ` + shQuote(answers) + `
# getopt94 SHORT_NOARG SHORT_ARG LONG_NOARG LONG_ARG -- ARGS: prints one
# line per option, "opt<TAB>value", and one per operand, "arg<TAB>value";
# refuses (exit 1) an option the program does not know. Values may not hold
# newlines (none of the tools' do).
getopt94() {
	noarg=$1 witharg=$2 longno=" $3 " longarg=" $4 "
	shift 5
	while [ $# -gt 0 ]; do
		a=$1
		shift
		case $a in
		--) for x; do printf 'arg\t%s\n' "$x"; done; return 0 ;;
		--*=*)
			name=${a%%=*} name=${name#--}
			case $longarg in *" $name "*) printf 'opt\t--%s\t%s\n' "$name" "${a#*=}" ;; *) bad "--$name" ;; esac ;;
		--*)
			name=${a#--}
			case $longno in *" $name "*) printf 'opt\t--%s\t\n' "$name"; continue ;; esac
			case $longarg in
			*" $name "*) [ $# -gt 0 ] || bad "--$name" ; printf 'opt\t--%s\t%s\n' "$name" "$1"; shift ;;
			*) bad "--$name" ;;
			esac ;;
		-?*)
			rest=${a#-}
			while [ -n "$rest" ]; do
				c=$(printf '%s' "$rest" | cut -c1)
				rest=${rest#?}
				case $noarg in *"$c"*) printf 'opt\t-%s\t\n' "$c"; continue ;; esac
				case $witharg in
				*"$c"*)
					if [ -n "$rest" ]; then v=$rest; rest=
					elif [ $# -gt 0 ]; then v=$1; shift
					else bad "-$c"; fi
					printf 'opt\t-%s\t%s\n' "$c" "$v" ;;
				*) bad "-$c" ;;
				esac
			done ;;
		*) printf 'arg\t%s\n' "$a" ;;
		esac
	done
}
bad() {
	case $1 in
	--*) echo "$prog: unrecognized option '$1'" >&2 ;;
	*) echo "$prog: invalid option -- '${1#-}'" >&2 ;;
	esac
	echo "Try \"$prog --help\" for more information." >&2
	echo "REFUSED $1" >>"$log"
	exit 1
}
`
}

// psql is psql 9.4: only the last -c runs; without -c, the file of -f (-
// for standard input), else standard input. Lines starting with \echo
// print; "\connect DBNAME USER HOST PORT" (9.4's positional form, "-" for
// the previous value) moves to HOST and PORT, logged as "psql connect:
// HOST PORT"; other lines gather into statements ended by ";", each
// answered by answer_sql. With ON_ERROR_STOP set, the first failure ends
// psql with exit 3 (as 9.4's does for a script); a connection failure
// exits 2.
const psql = `parsed=$(getopt94 'aAeEHlnqsStxXzw01W' 'cdfFhLoPpRTUv' 'echo-all no-align echo-queries echo-hidden html list no-readline single-transaction quiet single-step single-line tuples-only expanded no-psqlrc no-password password field-separator-zero record-separator-zero' 'command dbname file field-separator host log-file output pset port record-separator table-attr username set variable' -- "$@") || exit 1
cmd= hascmd=0 file= sep='|' stop=0 host= port=5432
tab=$(printf '\t')
while IFS="$tab" read -r kind opt val; do
	[ "$kind" = opt ] || continue
	case $opt in
	-c|--command) cmd=$val hascmd=1 ;;
	-f|--file) file=$val ;;
	-F|--field-separator) sep=$val ;;
	-h|--host) host=$val ;;
	-p|--port) port=$val ;;
	-v|--set|--variable) case $val in ON_ERROR_STOP=*|ON_ERROR_STOP) stop=1 ;; esac ;;
	esac
done <<EOF
$parsed
EOF
export host port sep
run() {
	echo "psql ran: $1" >>"$log"
	answer_sql "$1"
	rc=$?
	[ $rc -eq 0 ] && return 0
	[ $rc -eq 2 ] && exit 2
	[ "$stop" = 1 ] && exit 3
	return 0
}
if [ "$hascmd" = 1 ]; then
	run "$cmd"
	exit 0
fi
if [ -n "$file" ] && [ "$file" != - ]; then exec <"$file"; fi
stmt=
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'\echo '*) printf '%s\n' "${line#\\echo }"; continue ;;
	'\connect '*|'\c '*)
		set -- ${line#\\c*[ ]}
		[ $# -ge 3 ] && [ "$3" != - ] && host=$3
		[ $# -ge 4 ] && [ "$4" != - ] && port=$4
		export host port
		echo "psql connect: $host $port" >>"$log"
		continue ;;
	'\q') break ;;
	'\'*) echo "psql: invalid command $line" >&2; [ "$stop" = 1 ] && exit 3; continue ;;
	esac
	stmt="$stmt$line"
	case $line in *';') run "$stmt"; stmt= ;; *) stmt="$stmt " ;; esac
done
exit 0
`

// pgIsReady is pg_isready 9.4.
const pgIsReady = `parsed=$(getopt94 'q' 'dhptU' 'quiet' 'dbname host port timeout username' -- "$@") || exit 1
host= port=5432
tab=$(printf '\t')
while IFS="$tab" read -r kind opt val; do
	case $opt in -h|--host) host=$val ;; -p|--port) port=$val ;; esac
done <<EOF
$parsed
EOF
export host port
answer_ready
`

// pgControlData is pg_controldata 9.4: the data directory is an operand;
// it has no -D (9.6 added it).
const pgControlData = `parsed=$(getopt94 '' '' '' '' -- "$@") || exit 1
dir=$(printf '%s\n' "$parsed" | sed -n 's/^arg	//p' | head -n 1)
[ -n "$dir" ] || { echo "pg_controldata: no data directory specified" >&2; exit 1; }
answer_controldata "$dir"
`

// pgCtl is pg_ctl 9.4 (commands and options may mix).
const pgCtl = `parsed=$(getopt94 'csWw' 'DlmNoPpStU' 'silent core-files' 'pgdata log mode timeout' -- "$@") || exit 1
dir= command=
tab=$(printf '\t')
while IFS="$tab" read -r kind opt val; do
	case $kind in
	opt) case $opt in -D|--pgdata) dir=$val ;; esac ;;
	arg) [ -z "$command" ] && command=$opt ;;
	esac
done <<EOF
$parsed
EOF
case $command in
init|initdb|start|stop|restart|reload|status|promote|kill) ;;
*) echo "pg_ctl: unrecognized operation mode \"$command\"" >&2; exit 1 ;;
esac
export dir
answer_ctl "$command" "$@"
`

// pgRewind is Greenplum 6's pg_rewind (9.5's, with --slot).
const pgRewind = `getopt94 'nNPR' 'DS' 'write-recovery-conf dry-run no-sync progress debug' 'target-pgdata slot source-pgdata source-server' -- "$@" >/dev/null || exit 1
answer_rewind "$@"
`

// pgBaseBackup is Greenplum 6's pg_basebackup: 9.4's options (--xlog-method,
// not --wal-method) with Greenplum's --target-gp-dbid, -E and
// --force-overwrite.
const pgBaseBackup = `getopt94 'RxzwWvP' 'DFrTXZlcdhpUsSE' 'write-recovery-conf xlog gzip no-password password verbose progress force-overwrite' 'pgdata format max-rate tablespace-mapping xlog-method compress label checkpoint dbname host port username status-interval slot xlogdir target-gp-dbid exclude' -- "$@" >/dev/null || exit 1
answer_basebackup "$@"
`
