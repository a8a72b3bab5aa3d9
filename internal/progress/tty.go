package progress

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"golang.org/x/term"
)

// ANSI sequences used by the live region.
const (
	hideCursor = "\x1b[?25l"
	showCursor = "\x1b[?25h"
	eraseLine  = "\x1b[K" // erase from the cursor to the end of the line
	eraseBelow = "\x1b[J" // erase from the cursor to the end of the screen

	colorDone   = "34" // blue, like BuildKit's finished rows
	colorError  = "31"
	colorCancel = "33"
	colorWarn   = "33"
	faint       = "2"
)

const (
	rowPrefix = " => "
	logPrefix = " => => # "
	// logRows is how many output lines are shown under a running step.
	logRows = 6
)

// ttyState is what the live region remembers between frames.
type ttyState struct {
	lines    int      // terminal lines the region took last frame
	warnings []string // printed above the region at the next frame
}

// size returns the terminal width and height to draw for; height 0 means
// no limit.
func (d *Display) size() (int, int) {
	if d.width > 0 {
		return d.width, d.height
	}
	if d.fd >= 0 {
		if w, h, err := term.GetSize(d.fd); err == nil && w > 0 && h > 0 {
			return w, h
		}
	}
	return defaultWidth, 0
}

// frame appends one redraw of the live region to b: cursor back to the top
// of the previous region, pending warnings (which then stay above it), the
// header and one row per step. final draws every step and no output lines.
func (d *Display) frame(b *bytes.Buffer, final bool) {
	now := d.now()
	width, height := d.size()
	cols := max(width-1, 1) // never touch the last column: it can wrap
	b.WriteString(hideCursor)
	if d.tty.lines > 0 {
		fmt.Fprintf(b, "\x1b[%dA\r", d.tty.lines)
	}
	for _, w := range d.tty.warnings {
		for l := range strings.SplitSeq(strings.TrimRight(w, "\n"), "\n") {
			b.WriteString(d.paint(colorWarn, "WARN: "+l))
			b.WriteString(eraseLine + "\n")
		}
	}
	d.tty.warnings = nil

	count := 0
	emit := func(s string) {
		b.WriteString(s)
		b.WriteString(eraseLine + "\n")
		count++
	}
	emit(truncate(d.header(now, final), cols))
	for _, r := range d.rows(now, cols, height, final) {
		emit(r)
	}
	if count < d.tty.lines {
		b.WriteString(eraseBelow)
	}
	d.tty.lines = count
	b.WriteString(showCursor)
}

// header is "[+] Building 1.2s (5/7)", with FINISHED once all are done.
func (d *Display) header(now time.Time, final bool) string {
	completed := 0
	for _, s := range d.steps {
		if s.state != stateRunning {
			completed++
		}
	}
	h := fmt.Sprintf("[+] Building %.1fs (%d/%d)", now.Sub(d.began).Seconds(), completed, len(d.steps))
	if final && completed == len(d.steps) && completed > 0 {
		h += " FINISHED"
	}
	return h
}

// rows renders the step rows, cols wide, and the last output lines of
// running steps. With a height limit (live frames only) finished steps
// scroll away first so running ones stay visible.
func (d *Display) rows(now time.Time, cols, height int, final bool) []string {
	steps := d.steps
	budget := -1 // unlimited
	if !final && height > 0 {
		budget = max(height-2, 1)
		steps = fit(steps, budget)
		budget -= len(steps)
	}
	var out []string
	for _, s := range steps {
		out = append(out, d.row(s, now, cols))
		if final || s.state != stateRunning {
			continue
		}
		logs := s.visibleTail(logRows)
		if budget >= 0 {
			if len(logs) > budget {
				continue
			}
			budget -= len(logs)
		}
		for _, l := range logs {
			out = append(out, d.paint(faint, logPrefix+truncate(l, cols-len(logPrefix))))
		}
	}
	return out
}

// fit drops finished steps from the front, then any from the front, until
// at most n remain.
func fit(steps []*Step, n int) []*Step {
	if len(steps) <= n {
		return steps
	}
	drop := len(steps) - n
	kept := make([]*Step, 0, len(steps))
	for _, s := range steps {
		if drop > 0 && s.state != stateRunning {
			drop--
			continue
		}
		kept = append(kept, s)
	}
	return kept[len(kept)-n:]
}

// row renders " => [2/3] RUN echo hi        0.3s", cols wide.
func (d *Display) row(s *Step, now time.Time, cols int) string {
	name := visible(s.name)
	color := colorDone
	switch s.state {
	case stateRunning:
		color = ""
	case stateCached:
		name = "CACHED " + name
	case stateError:
		name = "ERROR " + name
		color = colorError
	case stateCanceled:
		name = "CANCELED " + name
		color = colorCancel
	}
	dt := s.elapsed(now).Seconds()
	if dt < 0.05 {
		dt = 0
	}
	timer := fmt.Sprintf(" %.1fs", dt)
	room := cols - len(rowPrefix) - len(timer)
	var r string
	if room < 1 {
		r = truncate(rowPrefix+name, cols)
	} else {
		name = truncate(name, room)
		r = rowPrefix + name + strings.Repeat(" ", room-runeLen(name)) + timer
	}
	return d.paint(color, r)
}

// visibleTail returns the last n non-blank output lines of s (the line still
// missing its newline included), as a terminal would show them.
func (s *Step) visibleTail(n int) []string {
	var out []string
	if t := visible(string(s.partial)); strings.TrimSpace(t) != "" {
		out = append(out, t)
	}
	for i := len(s.lines) - 1; i >= 0 && len(out) < n; i-- {
		if t := visible(s.lines[i].text); strings.TrimSpace(t) != "" {
			out = append(out, t)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// paint wraps s in an SGR colour when colours are on.
func (d *Display) paint(code, s string) string {
	if !d.color || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
