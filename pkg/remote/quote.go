package remote

import (
	"strings"
)

// Quote returns s quoted for a POSIX shell, so that the shell passes it on as
// one word, byte for byte. Words made only of plainly safe characters
// (letters, digits and @%+=:,./_-) are returned as they are; everything else,
// including the empty string, is single-quoted; a single quote inside is
// written as quote, backslash, quote, quote (close, escaped quote, reopen).
func Quote(s string) string {
	if s != "" && isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("@%+=:,./_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Join quotes each word of argv and joins them with spaces. A first word
// containing '=' is quoted even when safe, so that the shell runs it as a
// program instead of taking it for a variable assignment.
func Join(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
		if i == 0 && strings.Contains(a, "=") && q[i] == a {
			q[i] = "'" + a + "'"
		}
	}
	return strings.Join(q, " ")
}

// CommandLine returns the line a POSIX shell receives to run c (over SSH,
// the remote login shell runs it with -c):
//
//   - Argv: the quoted words, `'pg_ctl' -D '/data/p 1' start`.
//   - Script: `sh -s -- 'arg1' 'arg2'`; the script itself goes to standard
//     input and the arguments become $1, $2, ....
//   - With PIDFile, `echo $$ > 'file' && exec <the above>`: the shell writes
//     its own pid and then replaces itself with the work, so the pid in the
//     file is the pid of the program (or, for a Script, of the sh that runs
//     it). Both sshd and LocalExecutor start the shell as a process group
//     leader, so that pid is also the process group of the work and of every
//     job a script starts in the background; Stop signals that group.
//
// CommandLine does not check c; an empty Argv gives an empty word.
func CommandLine(c Command) string {
	var line string
	if len(c.Argv) > 0 {
		line = Join(c.Argv)
	} else {
		line = "sh -s"
		if len(c.Args) > 0 {
			line += " -- " + joinArgs(c.Args)
		}
	}
	if c.PIDFile != "" {
		line = "echo $$ > " + Quote(c.PIDFile) + " && exec " + line
	}
	return line
}

func joinArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// withEnvScript prefixes line with `. 'script' && ` when script is set, the
// way Greenplum sources greenplum_path.sh before every remote command.
func withEnvScript(script, line string) string {
	if script == "" {
		return line
	}
	return ". " + Quote(script) + " && " + line
}

// describe is the command shown in errors and logs.
func describe(c Command) string {
	if len(c.Argv) == 0 && c.Script == "" {
		return ""
	}
	return CommandLine(c)
}
