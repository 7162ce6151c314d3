package addmirrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// normalizePath is Greenplum's normalizeAndValidateInputPath: the path
// trimmed, absolute, cleaned. source says where it was read ("config
// file", or "" for the prompt) and shapes Greenplum's message.
func normalizePath(p, source string) (string, error) {
	p = strings.TrimSpace(p)
	if !filepath.IsAbs(p) {
		in := " "
		if source != "" {
			in = " in " + source + " "
		}
		return "", fmt.Errorf("Path entered%sis invalid; it must be a full path.  Path: '%s'", in, p)
	}
	return filepath.Clean(p), nil
}

// checkLocation refuses a mirror data directory location (normalized)
// that cluster.CheckPath refuses, or that still ends with white space
// ("/data / " cleans to "/data "), which no one means.
func checkLocation(d string) error {
	if strings.TrimSpace(d) != d {
		return fmt.Errorf("mirror data directory location %q ends with white space; remove it", d)
	}
	return cluster.CheckPath("mirror data directory location", d)
}

// ReadDirFile reads a -m file: mirror data directory locations, one per
// line, blank lines skipped, each absolute (spec §5.3) and accepted by
// cluster.CheckPath. There must be exactly want of them (the most
// primaries on one host). name is the file name for messages, which are
// Greenplum's where Greenplum has one. What is not a text file of short
// lines is refused as scanText says.
func ReadDirFile(r io.Reader, name string, want int) ([]string, error) {
	name = cluster.Visible(name) // messages stay one line
	var dirs []string
	err := scanText(r, name, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" {
			return nil
		}
		if len(dirs) == want {
			return fmt.Errorf("Number of data directories must equal %d but more were read from %s", want, name)
		}
		d, err := normalizePath(line, "config file")
		if err != nil {
			return err
		}
		if err := checkLocation(d); err != nil {
			return app.Errorf("line %d of file %s: %v", n, name, err)
		}
		dirs = append(dirs, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(dirs) < want {
		return nil, fmt.Errorf("Number of data directories must equal %d but %d were read from %s", want, len(dirs), name)
	}
	return dirs, nil
}

// PromptDirs asks for want mirror data directory locations on env.Out and
// reads the answers from env.In, verbatim and unlogged as Greenplum does
// (spec §5.3):
//
//	Enter mirror segment data directory location 1 of 2 >
//
// An empty answer asks again; a relative path prints a blank line, the
// error and a blank line, and asks again. The same location may be given
// for every prompt. The end of input before want answers is an error (so
// a script that gives too few lines does not hang or guess); so is
// ctx ending (Ctrl-C).
func PromptDirs(ctx context.Context, env *app.Env, want int) ([]string, error) {
	var dirs []string
	for len(dirs) < want {
		if _, err := fmt.Fprintf(env.Out, "Enter mirror segment data directory location %d of %d >\n", len(dirs)+1, want); err != nil {
			return nil, fmt.Errorf("prompt: %w", err)
		}
		line, err := app.ReadLine(ctx, env.In)
		if err != nil && !(errors.Is(err, io.EOF) && strings.TrimSpace(line) != "") {
			if errors.Is(err, io.EOF) {
				return nil, &app.HintError{
					Err:  app.Errorf("end of input at mirror segment data directory location %d of %d: no directory was entered", len(dirs)+1, want),
					Hint: fmt.Sprintf("answer all %d prompts, or pass the locations with -m <file> (one directory per line) or the mirrors with -i <file>", want),
				}
			}
			return nil, fmt.Errorf("read mirror data directory location %d of %d: %w", len(dirs)+1, want, err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		d, perr := normalizePath(line, "")
		if perr != nil {
			if _, err := fmt.Fprintf(env.Out, "\n%s\n\n", perr); err != nil {
				return nil, fmt.Errorf("prompt: %w", err)
			}
			continue
		}
		// Refused, not asked again: such an answer is no typing slip.
		if err := checkLocation(d); err != nil {
			return nil, app.Errorf("mirror segment data directory location %d of %d: %v", len(dirs)+1, want, err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
