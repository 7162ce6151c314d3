package gplog

import "log/slog"

// LevelCritical is Greenplum's CRITICAL (Python's logger.fatal): unexpected
// errors that end the program. It sits above slog.LevelError.
const LevelCritical = slog.LevelError + 4

// LevelName returns the name Greenplum prints between the brackets for a
// level: DEBUG, INFO, WARNING, ERROR or CRITICAL. Levels between the named
// ones print as the next lower named level.
func LevelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < LevelCritical:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

// ConsoleLevel is the console (stdout) threshold for the common options
// (spec §1.3): WARNING with -q, else DEBUG with -v, else INFO.
func ConsoleLevel(verbose, quiet bool) slog.Level {
	switch {
	case quiet:
		return slog.LevelWarn
	case verbose:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// FileLevel is the log file threshold: DEBUG with -v, else INFO. -q does not
// affect the file.
func FileLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
