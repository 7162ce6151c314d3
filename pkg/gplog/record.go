package gplog

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// Record is one log line before it is logged: output code builds []Record
// as a pure function of its model, tests compare them, and Emit logs them.
type Record struct {
	Level slog.Level
	Msg   string
}

// Emit logs every record, in order, through log.
func Emit(ctx context.Context, log *slog.Logger, recs []Record) {
	for _, r := range recs {
		log.Log(ctx, r.Level, r.Msg)
	}
}

// SyncWriter serialises writes to W, so that log lines and verbatim output
// (progress dots) written from different goroutines never interleave
// within one Write.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSyncWriter returns a SyncWriter around w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

// Write writes p to the underlying writer under the lock.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
