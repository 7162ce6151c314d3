// Package gplog writes Greenplum's log lines through log/slog.
//
// Every line has the format of Greenplum's Python gplog (spec §1.3):
//
//	20261123:18:54:19:016262 gpstate:mdw:gpadmin-[INFO]:-Gathering data from segments...
//
// that is <YYYYMMDD>:<HH>:<MM>:<SS>:<pid %06d> <prog>:<host>:<user>-[<LEVEL>]:-<message>.
// The message is written verbatim, newlines included. One Handler feeds any
// number of sinks (the console and the log file), each with its own
// threshold.
//
// Attribute policy: Greenplum's lines carry no key/value pairs, and scripts
// parse them. Attributes (from the record or from WithAttrs/WithGroup) are
// therefore appended as " key=value" only to DEBUG records, where they help
// whoever runs with -v; on INFO and above they are dropped, so those lines
// stay byte-identical to Greenplum's. Put anything the user must see into
// the message itself.
package gplog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Config holds the fixed parts of every line. It is injected (from app.Env)
// so that output is deterministic in tests.
type Config struct {
	Prog string // program name, e.g. "gpstate"
	Host string // host name; printed up to its first '.'
	User string // OS user name
	PID  int    // printed %06d

	// Now gives the time printed on each line, formatted in the location of
	// the returned time (the real clock gives local time, as Greenplum
	// prints). When nil, the record's own time is used.
	Now func() time.Time
}

// Sink is one destination of log lines with its own threshold.
type Sink struct {
	W     io.Writer
	Level slog.Leveler // records below this level are not written to W
}

// Handler is a slog.Handler that writes Greenplum log lines to its sinks.
// It is safe for concurrent use; lines are written whole, one Write per
// sink per record.
type Handler struct {
	cfg    Config
	sinks  []Sink
	mu     *sync.Mutex // shared by handlers derived with WithAttrs/WithGroup
	attrs  string      // preformatted " key=value" pairs from WithAttrs
	groups string      // "a.b." prefix from WithGroup
}

// NewHandler returns a handler writing to the given sinks.
func NewHandler(cfg Config, sinks ...Sink) *Handler {
	return &Handler{cfg: cfg, sinks: append([]Sink(nil), sinks...), mu: &sync.Mutex{}}
}

// Enabled reports whether any sink takes records at level l.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	for _, s := range h.sinks {
		if l >= s.Level.Level() {
			return true
		}
	}
	return false
}

// Handle formats r as one Greenplum line and writes it to every sink whose
// threshold it meets. Write errors of all sinks are joined.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if h.cfg.Now != nil {
		t = h.cfg.Now()
	}
	b.WriteString(Prefix(h.cfg, t, r.Level))
	b.WriteString(r.Message)
	if r.Level < slog.LevelInfo {
		b.WriteString(h.attrs)
		r.Attrs(func(a slog.Attr) bool {
			appendAttr(&b, h.groups, a)
			return true
		})
	}
	b.WriteByte('\n')
	line := []byte(b.String())

	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, s := range h.sinks {
		if r.Level < s.Level.Level() {
			continue
		}
		if _, err := s.W.Write(line); err != nil {
			errs = append(errs, fmt.Errorf("write log line: %w", err))
		}
	}
	return errors.Join(errs...)
}

// WithAttrs returns a handler that adds attrs to DEBUG records (see the
// package documentation for the attribute policy).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.groups, a)
	}
	h2 := *h
	h2.attrs = b.String()
	return &h2
}

// WithGroup returns a handler that qualifies later attribute keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = h.groups + name + "."
	return &h2
}

// Prefix returns everything of a line before the message, e.g.
// "20261123:18:54:19:016262 gpstate:mdw:gpadmin-[INFO]:-".
func Prefix(cfg Config, t time.Time, l slog.Level) string {
	return fmt.Sprintf("%s:%06d %s:%s:%s-[%s]:-",
		t.Format("20060102:15:04:05"), cfg.PID, cfg.Prog, ShortHost(cfg.Host), cfg.User, LevelName(l))
}

// ShortHost cuts a host name at its first '.', as Greenplum prints it.
func ShortHost(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		return host[:i]
	}
	return host
}

// appendAttr writes " group.key=value" for a, flattening nested groups.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	b.WriteString(quoteIfNeeded(a.Value.String()))
}

// quoteIfNeeded quotes s when it is empty or holds spaces, quotes, '=' or
// non-printable characters, so a key=value pair stays one token.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
