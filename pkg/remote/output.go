package remote

import (
	"bytes"
	"errors"

	"sync"
)

// output collects a command's stdout and stderr and, when onLine is set,
// hands each complete line to it as it arrives. It is safe for concurrent
// writes from both streams; onLine is called by one goroutine at a time.
type output struct {
	mu      sync.Mutex
	onLine  func(Line)
	bufs    [2]bytes.Buffer
	partial [2][]byte
	closed  bool // after finish: late writes are dropped
}

func newOutput(onLine func(Line)) *output { return &output{onLine: onLine} }

// writer returns the io.Writer of one stream.
func (o *output) writer(s Stream) *streamWriter { return &streamWriter{o: o, s: s} }

func (o *output) write(s Stream, p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.bufs[s].Write(p)
	if o.onLine == nil {
		return
	}
	o.partial[s] = append(o.partial[s], p...)
	for {
		i := bytes.IndexByte(o.partial[s], '\n')
		if i < 0 {
			break
		}
		o.onLine(Line{Stream: s, Text: string(o.partial[s][:i])})
		o.partial[s] = o.partial[s][i+1:]
	}
}

// finish hands unterminated last lines to onLine and drops any later write,
// so that onLine is never called after the command's Result is returned.
func (o *output) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for s := range o.partial {
		if len(o.partial[s]) > 0 && o.onLine != nil {
			o.onLine(Line{Stream: Stream(s), Text: string(o.partial[s])})
		}
		o.partial[s] = nil
	}
}

// strings returns what was collected so far.
func (o *output) strings() (stdout, stderr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bufs[Stdout].String(), o.bufs[Stderr].String()
}

type streamWriter struct {
	o *output
	s Stream
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.o.write(w.s, p)
	return len(p), nil
}

// check reports whether c says what to run: exactly one of Argv and Script,
// and Args only with Script.
func (c Command) check() error {
	switch {
	case len(c.Argv) > 0 && c.Script != "":
		return errors.New("invalid command: both Argv and Script are set")
	case len(c.Argv) == 0 && c.Script == "":
		return errors.New("invalid command: neither Argv nor Script is set")
	case len(c.Argv) > 0 && len(c.Args) > 0:
		return errors.New("invalid command: Args are for Script, not Argv")
	}
	return nil
}
