package progress

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

const (
	// keepLines is how many output lines a step remembers for Tail, the
	// TTY log view and the error log printed at Close.
	keepLines = 100
	// errorLogLines is how many of them Close prints for a failed step.
	errorLogLines = 10
	// maxLine caps a line still waiting for its newline; a longer run of
	// bytes is emitted as a line of its own so memory stays bounded.
	maxLine = 32 << 10
)

type state int

const (
	stateRunning state = iota
	stateDone
	stateCached
	stateError
	stateCanceled
)

// line is one whole line of step output and when it began, relative to the
// step's start.
type line struct {
	at   time.Duration
	text string
}

// Step is one vertex of the build. Its methods are safe for concurrent use.
type Step struct {
	d     *Display
	index int
	name  string
	start time.Time

	// Guarded by d.mu.
	end       time.Time
	state     state
	errMsg    string
	partial   []byte
	partialAt time.Time
	lines     []line
}

var _ io.Writer = (*Step)(nil)

// Write streams output of the step. Lines may arrive split across writes;
// each is shown whole once its newline arrives (or at Done). A trailing
// "\r" before the newline is dropped. Output after Done is discarded;
// output after Close is kept for Tail but not printed. Write never fails, so
// a process copying into it is never cut off by the display.
func (s *Step) Write(p []byte) (int, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.state != stateRunning {
		return len(p), nil
	}
	now := d.now()
	var b bytes.Buffer
	for rest := p; len(rest) > 0; {
		if len(s.partial) == 0 {
			s.partialAt = now
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			s.appendPartial(&b, rest)
			break
		}
		s.appendPartial(&b, rest[:i])
		s.flush(&b)
		rest = rest[i+1:]
	}
	d.write(&b)
	return len(p), nil
}

// appendPartial adds bytes to the unfinished line, emitting it early if it
// grows past maxLine.
func (s *Step) appendPartial(b *bytes.Buffer, p []byte) {
	for len(s.partial)+len(p) > maxLine {
		n := maxLine - len(s.partial)
		s.partial = append(s.partial, p[:n]...)
		p = p[n:]
		s.flush(b)
		s.partialAt = s.d.now()
	}
	s.partial = append(s.partial, p...)
}

// flush turns the unfinished line into a whole one, even when empty (an
// empty line of output is still a line).
func (s *Step) flush(b *bytes.Buffer) {
	text := string(bytes.TrimSuffix(s.partial, []byte("\r")))
	s.partial = s.partial[:0]
	l := line{at: s.partialAt.Sub(s.start), text: text}
	if len(s.lines) == keepLines {
		copy(s.lines, s.lines[1:])
		s.lines = s.lines[:keepLines-1]
	}
	s.lines = append(s.lines, l)
	switch {
	case s.d.closed:
	case s.d.mode == ModePlain:
		s.d.plain.line(b, s, l)
	case s.d.mode == ModeRawJSON:
		rawLine(b, s, l)
	}
}

// Cached marks the step as satisfied from the cache, and done.
func (s *Step) Cached() {
	s.finish(stateCached, "")
}

// Done marks the step finished: successfully when err is nil, CANCELED when
// err is (or wraps) context.Canceled, else ERROR with err's message.
func (s *Step) Done(err error) {
	switch {
	case err == nil:
		s.finish(stateDone, "")
	case errors.Is(err, context.Canceled):
		s.finish(stateCanceled, err.Error())
	default:
		s.finish(stateError, err.Error())
	}
}

// finish records the final state once; later calls are ignored.
func (s *Step) finish(st state, msg string) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.state != stateRunning {
		return
	}
	var b bytes.Buffer
	if len(s.partial) > 0 {
		s.flush(&b)
	}
	s.state, s.errMsg, s.end = st, msg, d.now()
	switch {
	case d.closed:
	case d.mode == ModePlain:
		d.plain.finish1(&b, s)
	case d.mode == ModeRawJSON:
		encodeRaw(&b, rawStatus{Vertexes: []rawVertex{s.vertex()}})
	}
	d.write(&b)
}

// Tail returns the last n whole lines the step printed, oldest first (at
// most the last 100 are kept). A line still missing its newline counts once
// Done has flushed it.
func (s *Step) Tail(n int) []string {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if n <= 0 {
		return nil
	}
	lines := s.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// elapsed is how long the step ran, or has been running at now.
func (s *Step) elapsed(now time.Time) time.Duration {
	if s.state != stateRunning {
		return s.end.Sub(s.start)
	}
	return now.Sub(s.start)
}
