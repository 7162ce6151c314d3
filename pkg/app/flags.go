package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Positional says how a tool rejects positional (non-option) arguments,
// with the wording its Python original uses (spec §1.1).
type Positional int

const (
	// RejectWithHelp prints the help text, then
	// "too many arguments: only options may be specified"
	// (gpstate, gpaddmirrors, gprecoverseg).
	RejectWithHelp Positional = iota
	// RejectLastArgument says
	// "Argument <last> is invalid.  Is an option missing a parameter?"
	// (gpstart).
	RejectLastArgument
)

// CommonOptions are the options every tool has (spec §1.1). Each tool's
// Options embeds it and its NewCommand calls BindCommon.
type CommonOptions struct {
	Verbose        bool   // -v: DEBUG on the console and in the log file
	Quiet          bool   // -q: console shows WARNING and above; no progress output
	LogDir         string // -l: log directory ("" means ~/gpAdminLogs)
	NonInteractive bool   // -a: answer yes to every confirmation prompt
	DataDir        string // -d: coordinator data directory, as given

	// InsecureIgnoreHostKeys turns SSH host key checking off
	// (--insecure-ignore-host-keys, or GPMGMT_INSECURE_IGNORE_HOST_KEYS=1
	// for scripts that cannot gain a flag). An addition: Greenplum's own
	// tools pass StrictHostKeyChecking=no, ours verify by default.
	InsecureIgnoreHostKeys bool

	// MachineOutput is set by a tool, before logging starts, when its
	// standard output is a document for programs (gpstate --json,
	// --health): log lines then go to the log file, and to stderr only
	// from ERROR up; there is no progress output.
	MachineOutput bool

	// ProcessCount is GP_MGMT_PROCESS_COUNT, Greenplum's environment
	// default for the number of hosts handled at once (gpstart and gpstop
	// use it when -B is not given); 0 when it is not set. NewCommand reads
	// and range-checks it before anything runs, for every tool.
	ProcessCount int

	// Args are the positional arguments; Validate rejects them.
	Args []string

	help       bool
	positional Positional
}

// Validate checks the common options: no positional arguments, worded as
// the tool's Positional policy says.
func (o *CommonOptions) Validate() error {
	if len(o.Args) == 0 {
		return nil
	}
	if o.positional == RejectLastArgument {
		return &ArgumentError{Msg: fmt.Sprintf("Argument %s is invalid.  Is an option missing a parameter?", o.Args[len(o.Args)-1])}
	}
	return &ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}
}

// BindCommon adds the common options to cmd, binding them into o, and sets
// up cmd the way every tool needs it: optparse-style errors as FlagError,
// -h/-?/--help (the $GPHOME/docs/cli_help/<prog>_help file when present),
// --version, positional arguments collected for Validate, and env's
// writers. cmd.Use should be "<prog> [options]".
func BindCommon(cmd *cobra.Command, env *Env, o *CommonOptions, p Positional) {
	o.positional = p
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolVarP(&o.help, "help", "h", false, "show this help message and exit (also -?)")
	f.BoolVarP(&o.help, "?", "?", false, "show this help message and exit (also -?)")
	_ = f.MarkHidden("?") // the flag exists; hiding cannot fail
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "debug output")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "quiet mode, only show warnings and errors")
	f.StringVarP(&o.LogDir, "log-dir", "l", "", "log file `directory` (default ~/gpAdminLogs)")
	f.BoolVarP(&o.NonInteractive, "non-interactive", "a", false, "do not prompt for confirmation")
	f.StringVarP(&o.DataDir, "master_data_directory", "d", "", "coordinator data `directory`")
	f.StringVar(&o.DataDir, "coordinator_data_directory", "", "coordinator data `directory`")
	f.BoolVar(&o.InsecureIgnoreHostKeys, "insecure-ignore-host-keys", false,
		"accept any SSH host key (default: verify against known_hosts; also "+InsecureHostKeysEnv+"=1)")
	f.Bool("version", false, "show the program's version number and exit")

	cmd.Version = env.Version
	if cmd.Version == "" {
		cmd.Version = "unknown"
	}
	cmd.SetVersionTemplate(env.Prog + " version gpmgmt {{.Version}}\n")
	cmd.Args = cobra.ArbitraryArgs
	cmd.DisableFlagsInUseLine = true
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	// `<tool> completion bash|zsh|fish` prints the completion script (make
	// install installs them); cobra adds the command only when it is
	// called, so positional arguments stay the tool's.
	cmd.CompletionOptions.HiddenDefaultCmd = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &FlagError{Err: optparseError(err)}
	})
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) { writeHelp(c, env) })
	cmd.SetIn(env.In)
	cmd.SetOut(env.Out)
	cmd.SetErr(env.Err)
}

// UsageLine is the first line of the usage text, as optparse prints it.
func UsageLine(cmd *cobra.Command) string {
	return "Usage: " + cmd.UseLine()
}

// writeHelp prints $GPHOME/docs/cli_help/<prog>_help when it exists (as
// Greenplum does), else the generated option list.
func writeHelp(cmd *cobra.Command, env *Env) {
	w := cmd.OutOrStdout()
	if gphome := env.Getenv("GPHOME"); gphome != "" {
		if b, err := os.ReadFile(filepath.Join(gphome, "docs", "cli_help", env.Prog+"_help")); err == nil {
			_, _ = w.Write(b) // nowhere better to report a failed write to stdout
			return
		}
	}
	var b strings.Builder
	b.WriteString(UsageLine(cmd) + "\n\n")
	if cmd.Long != "" {
		b.WriteString(cmd.Long + "\n\n")
	} else if cmd.Short != "" {
		b.WriteString(cmd.Short + "\n\n")
	}
	b.WriteString("Options:\n" + cmd.Flags().FlagUsages())
	_, _ = fmt.Fprint(w, b.String())
}

// optparseError rewords pflag's parsing errors as Python's optparse words
// them, since scripts and users know those messages.
func optparseError(err error) error {
	var notExist *pflag.NotExistError
	var needsValue *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	var syntax *pflag.InvalidSyntaxError
	switch {
	case errors.As(err, &notExist):
		if notExist.GetSpecifiedShortnames() != "" {
			return fmt.Errorf("no such option: -%c", notExist.GetSpecifiedName()[0])
		}
		return fmt.Errorf("no such option: --%s", notExist.GetSpecifiedName())
	case errors.As(err, &needsValue):
		if needsValue.GetSpecifiedShortnames() != "" {
			return fmt.Errorf("-%c option requires an argument", needsValue.GetSpecifiedName()[0])
		}
		return fmt.Errorf("--%s option requires an argument", needsValue.GetSpecifiedName())
	case errors.As(err, &invalid):
		fl := invalid.GetFlag()
		name := "--" + fl.Name
		if fl.Shorthand != "" {
			name = "-" + fl.Shorthand
		}
		switch fl.Value.Type() {
		case "bool":
			return fmt.Errorf("--%s option does not take a value", fl.Name)
		case "int", "int32", "int64", "uint", "uint32", "uint64":
			return fmt.Errorf("option %s: invalid integer value: '%s'", name, invalid.GetValue())
		default:
			return fmt.Errorf("option %s: invalid value: '%s'", name, invalid.GetValue())
		}
	case errors.As(err, &syntax):
		return fmt.Errorf("no such option: %s", syntax.GetSpecifiedFlag())
	}
	return err
}

// ProcessCountEnv names Greenplum's environment default for -B.
const ProcessCountEnv = "GP_MGMT_PROCESS_COUNT"

// MaxProcessCount is the largest GP_MGMT_PROCESS_COUNT accepted (gpstart's
// -B range).
const MaxProcessCount = 128

// readProcessCount sets ProcessCount from GP_MGMT_PROCESS_COUNT. A value
// that is not a number from 1 to MaxProcessCount is refused: used as it
// is, 0 made gpstop stop the coordinator and then find every host
// "unreachable".
func (o *CommonOptions) readProcessCount(getenv func(string) string) error {
	v := strings.TrimSpace(getenv(ProcessCountEnv))
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxProcessCount {
		return &ArgumentError{Msg: fmt.Sprintf("%s=%s is not a number of parallel processes from 1 to %d; unset it or fix it", ProcessCountEnv, v, MaxProcessCount)}
	}
	o.ProcessCount = n
	return nil
}
