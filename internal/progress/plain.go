package progress

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// plainState is BuildKit's plain printer: output is grouped in blocks
// headed "#N name"; when another step interrupts a block that is still
// running, the block is closed with "#N ..." and reopened (header again)
// when that step prints next. Blocks are separated by a blank line.
type plainState struct {
	current *Step // step whose block is open, or nil
	started bool  // something was printed, so the next block needs a blank line
}

// open makes s the step whose block is open, printing its header if needed.
func (p *plainState) open(b *bytes.Buffer, s *Step) {
	if p.current == s {
		return
	}
	p.interrupt(b)
	fmt.Fprintf(b, "#%d %s\n", s.index, s.name)
	p.current = s
}

// interrupt closes the open block, if any, and starts a new one.
func (p *plainState) interrupt(b *bytes.Buffer) {
	if p.current != nil {
		fmt.Fprintf(b, "#%d ...\n", p.current.index)
		p.current = nil
	}
	if p.started {
		b.WriteByte('\n')
	}
	p.started = true
}

// line prints one whole output line of s.
func (p *plainState) line(b *bytes.Buffer, s *Step, l line) {
	p.open(b, s)
	fmt.Fprintf(b, "#%d %s %s\n", s.index, logTime(l.at), l.text)
}

// finish1 prints the final state of s and closes its block.
func (p *plainState) finish1(b *bytes.Buffer, s *Step) {
	p.open(b, s)
	switch s.state {
	case stateCached:
		fmt.Fprintf(b, "#%d CACHED\n", s.index)
	case stateCanceled:
		fmt.Fprintf(b, "#%d CANCELED\n", s.index)
	case stateError:
		fmt.Fprintf(b, "#%d ERROR: %s\n", s.index, s.errMsg)
	default:
		fmt.Fprintf(b, "#%d DONE %.1fs\n", s.index, s.elapsed(s.end).Seconds())
	}
	p.current = nil
}

// warn prints a warning as a block of its own.
func (p *plainState) warn(b *bytes.Buffer, msg string) {
	p.interrupt(b)
	b.WriteString("WARN: ")
	b.WriteString(strings.TrimRight(msg, "\n"))
	b.WriteByte('\n')
}

// finish flushes the unfinished last lines of steps still running at Close,
// so no output they were given is lost.
func (p *plainState) finish(b *bytes.Buffer, steps []*Step) {
	for _, s := range steps {
		if s.state == stateRunning && len(s.partial) > 0 {
			s.flush(b)
		}
	}
}

// logTime formats an output line's offset from its step's start the way
// BuildKit does: three decimals under 10s, two under 100s, else one.
func logTime(d time.Duration) string {
	sec := d.Seconds()
	switch {
	case sec < 10:
		return fmt.Sprintf("%.3f", sec)
	case sec < 100:
		return fmt.Sprintf("%.2f", sec)
	default:
		return fmt.Sprintf("%.1f", sec)
	}
}
