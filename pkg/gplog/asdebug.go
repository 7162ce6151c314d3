package gplog

import (
	"context"
	"log/slog"
)

// AsDebug returns a handler that passes every record to h at DEBUG level:
// how one tool logs the work of another that it runs in-process (gpstart
// logs the coordinator stop it does with gpstop's code as Greenplum logs
// the output of the gpstop it runs: at DEBUG, visible with -v).
func AsDebug(h slog.Handler) slog.Handler { return debugHandler{h} }

type debugHandler struct{ h slog.Handler }

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{d.h.WithAttrs(attrs)}
}

func (d debugHandler) WithGroup(name string) slog.Handler { return debugHandler{d.h.WithGroup(name)} }
