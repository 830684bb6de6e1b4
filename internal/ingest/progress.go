package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// progress shows a bar on a terminal, and a log line every few seconds otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	files    int
	bytes    int64
	start    time.Time
	last     time.Time
	log      *slog.Logger
	drawn    bool
}

func newProgress(w io.Writer, terminal bool, total int, log *slog.Logger) *progress {
	return &progress{w: w, terminal: terminal, total: total, start: time.Now(), log: log}
}

func (p *progress) fileDone(n int64, s *Summary) {
	p.files++
	p.bytes += n
	if p.w == nil {
		return
	}
	now := time.Now()
	if p.terminal {
		if now.Sub(p.last) < 100*time.Millisecond && p.files != p.total {
			return
		}
		p.last = now
		const width = 30
		filled := width
		if p.total > 0 {
			filled = p.files * width / p.total
		}
		rate := float64(s.Records) / max(now.Sub(p.start).Seconds(), 0.001)
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d files  %d events  %.0f events/s  %d errors ",
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.files, p.total, s.Records, rate, s.Errors)
		p.drawn = true
		return
	}
	if now.Sub(p.last) >= 5*time.Second || p.files == p.total {
		p.last = now
		p.log.Info("ingest progress", "files", p.files, "of", p.total, "records", s.Records, "errors", s.Errors)
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
