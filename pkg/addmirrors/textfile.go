package addmirrors

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Bounds of the files a user gives (-i, -m). A -i line is a few hundred
// bytes, and a cluster of ten thousand segments needs a file of about a
// megabyte: anything far larger is not such a file (a log, a disk image,
// /dev/zero), and is refused before it fills memory.
const (
	maxLineLength = 8192     // twice PATH_MAX
	maxFileSize   = 16 << 20 // bytes
)

// scanText reads r, the file name, line by line and calls line with each
// line's 1-based number and text (without its newline or a final \r). It
// refuses, with app.ExpectedError messages that name the file and the line,
// what is not a text file of short lines: a line longer than maxLineLength,
// a NUL byte, bytes that are not UTF-8, more than maxFileSize bytes, and
// read errors (a directory given as the file). An error from line is
// returned as it is.
func scanText(r io.Reader, name string, line func(n int, text string) error) error {
	lr := &io.LimitedReader{R: r, N: maxFileSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxLineLength+2) // and \r\n
	n := 1
	for ; sc.Scan(); n++ {
		if lr.N <= 0 {
			return tooLarge(name)
		}
		text := sc.Text()
		switch {
		case len(text) > maxLineLength:
			return tooLong(name, n)
		case strings.IndexByte(text, 0) >= 0:
			return app.Errorf("line %d of file %s holds a NUL byte: %s is not a text file", n, name, name)
		case !utf8.ValidString(text):
			return app.Errorf("line %d of file %s is not UTF-8 text: give paths and host names in UTF-8", n, name)
		}
		if err := line(n, text); err != nil {
			return err
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return tooLong(name, n)
	case err != nil:
		return app.Errorf("cannot read %s: %v", name, err)
	case lr.N <= 0:
		return tooLarge(name)
	}
	return nil
}

func tooLong(name string, n int) error {
	return app.Errorf("line %d of file %s is more than %d bytes long: is %s the right file?", n, name, maxLineLength, name)
}

func tooLarge(name string) error {
	return app.Errorf("file %s is larger than %d MiB: is it the right file?", name, maxFileSize>>20)
}
