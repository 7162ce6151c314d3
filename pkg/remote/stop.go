package remote

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DefaultStopGrace is how long Stop waits after SIGTERM before SIGKILL.
const DefaultStopGrace = 10 * time.Second

// stopScript stops the process whose pid is in the file $1: SIGTERM, then
// SIGKILL after $2 seconds. It signals the process group the pid leads
// (the shell of a PIDFile command leads one under sshd and LocalExecutor,
// so a script's background jobs and a program's children go too), or the
// pid alone if it leads none. When the pid is gone but its process group
// still has members (a program killed alone, its children left), the group
// is stopped. If the process started more than 2 seconds
// after the pid file was written (where ps -o etimes works), the pid was
// reused by another program and nothing is signalled (exit 3). The pid file
// is removed once its process is gone. Exit 0: stopped, or nothing to stop.
// $2 is the grace period in tenths of a second.
const stopScript = `set -u
f=$1 grace=$2
# alive T: the process T, or the process group -T, has a member that is not
# a zombie (an orphan's zombie may never be reaped where pid 1 does not).
alive() {
	case $1 in
	-*) ps -e -o pgid= -o stat= | awk -v g="${1#-}" '$1 == g && $2 !~ /^Z/ { n++ } END { exit n == 0 }' ;;
	*) s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; case $s in Z*) return 1 ;; esac ;;
	esac
}
[ -e "$f" ] || { echo "no pid file $f: nothing to stop"; exit 0; }
# A pid file someone else wrote names no process of ours.
[ -O "$f" ] || { echo "pid file $f is not owned by $(id -un): not signalling what it names" >&2; exit 2; }
pid=$(sed -n 1p "$f" | tr -d ' \r')
case $pid in
''|*[!0-9]*) echo "pid file $f holds no pid: '$pid'" >&2; exit 2 ;;
esac
if alive "$pid"; then
	et=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
	mt=$(stat -c %Y "$f" 2>/dev/null || stat -f %m "$f" 2>/dev/null)
	now=$(date +%s)
	case $et$mt in
	''|*[!0-9]*) ;;
	*) if [ $((now - et)) -gt $((mt + 2)) ]; then
		echo "pid $pid started after $f was written: the pid was reused, not signalling it" >&2; exit 3
	   fi ;;
	esac
	target=$pid
	[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target=-$pid
elif alive "-$pid"; then
	# The leader is gone but its process group lives on: a pg_basebackup
	# killed alone leaves its WAL streamer, which still writes the target.
	# No new process can get this pid while the group exists, so the
	# members are the command's own.
	echo "pid $pid from $f is gone but its process group is not: stopping the group"
	target=-$pid
else
	echo "pid $pid from $f is not running"; rm -f "$f"; exit 0
fi
kill -s TERM -- "$target" 2>/dev/null
i=0
while alive "$target"; do
	if [ "$i" -ge "$grace" ]; then
		kill -s KILL -- "$target" 2>/dev/null
		echo "pid $pid did not stop within the grace period: killed"
		sleep 0.1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if alive "$target"; then echo "pid $pid (or its process group) is still running" >&2; exit 1; fi
rm -f "$f"
echo "stopped pid $pid"
`

// Stop stops the command started with PIDFile pidFile on host, with
// DefaultStopGrace; see StopGrace.
func Stop(ctx context.Context, ex Executor, host, pidFile string) error {
	return StopGrace(ctx, ex, host, pidFile, DefaultStopGrace)
}

// StopGrace reads the pid from pidFile on host and sends SIGTERM to it (to its
// process group when it leads one, as a PIDFile command does), then SIGKILL
// if it still runs after grace; a group whose leader is gone but whose
// members remain is stopped too. It works through ex with an ordinary
// command, never relying on SSH signals, which older sshd ignores. A missing
// pid file, or a pid no longer running, means there is nothing to stop: nil.
// A pid that was reused by a process started after the pid file was written
// is refused, not signalled. The pid file is removed once the process is gone.
func StopGrace(ctx context.Context, ex Executor, host, pidFile string, grace time.Duration) error {
	if pidFile == "" {
		return fmt.Errorf("stop on %s: no pid file given", host)
	}
	tenths := int(grace / (100 * time.Millisecond))
	r := ex.Exec(ctx, Command{
		Host:   host,
		Script: stopScript,
		Args:   []string{pidFile, strconv.Itoa(tenths)},
		Label:  "stop pid in " + pidFile,
	})
	if r.Err != nil {
		return fmt.Errorf("stop process in %s: %w", pidFile, r.Err)
	}
	return nil
}
