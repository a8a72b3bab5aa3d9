package progress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// ErrUnknownMode is returned (wrapped) by New for a mode it does not know.
var ErrUnknownMode = errors.New("unknown progress mode")

// Modes accepted by New, in the order the error message lists them.
const (
	ModeAuto  = "auto"
	ModePlain = "plain"
	ModeTTY   = "tty"
	ModeQuiet = "quiet"
)

const (
	defaultRefresh = 100 * time.Millisecond
	defaultWidth   = 80
)

// Option configures a Display.
type Option func(*options)

type options struct {
	now     func() time.Time
	width   int
	height  int
	refresh time.Duration
	color   *bool
	term    interface{ Fd() uintptr }
}

// WithClock replaces time.Now, so tests get deterministic times.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithSize fixes the terminal size used by TTY mode instead of asking the
// terminal. A height of 0 means "unlimited": every row is drawn.
func WithSize(width, height int) Option {
	return func(o *options) { o.width, o.height = width, height }
}

// WithRefresh sets how often TTY mode redraws (default 100ms). Zero or less
// disables periodic redraws: the region is then drawn once, by Close.
func WithRefresh(d time.Duration) Option {
	return func(o *options) { o.refresh = d }
}

// WithColor forces colours on or off in TTY mode. Without it colours are on
// unless the NO_COLOR environment variable is set.
func WithColor(on bool) Option {
	return func(o *options) { o.color = &on }
}

// WithTerminal names the terminal that w ultimately writes to, for when w is
// a wrapper (such as a redacting writer) that hides it. Mode "auto" and the
// TTY size then look at f; bytes are still written only to w.
func WithTerminal(f interface{ Fd() uintptr }) Option {
	return func(o *options) { o.term = f }
}

// Display shows the progress of a build. All methods are safe for concurrent
// use.
type Display struct {
	w       io.Writer
	mode    string // resolved: plain, tty or quiet
	now     func() time.Time
	width   int
	height  int
	fd      int // terminal to query for its size, or -1
	color   bool
	refresh time.Duration
	began   time.Time

	mu     sync.Mutex
	steps  []*Step
	plain  plainState
	tty    ttyState
	closed bool
	err    error // first error writing to w

	stop chan struct{}
	done chan struct{}

	// root and prefix make a prefixed view (Prefixed): its steps and warnings go to root.
	root   *Display
	prefix string
}

// New returns a Display for mode "auto" (tty when w is a terminal, else
// plain), "plain", "tty" (also allowed when w is not a terminal: rows are then
// 80 columns wide) or "quiet" (only failing steps' output, at Close). An
// empty mode means "auto".
func New(w io.Writer, mode string, opts ...Option) (*Display, error) {
	if w == nil {
		return nil, errors.New("creating progress display: nil writer")
	}
	o := options{now: time.Now, refresh: defaultRefresh}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		return nil, errors.New("creating progress display: nil clock")
	}
	if o.width < 0 || o.height < 0 {
		return nil, fmt.Errorf("creating progress display: invalid size %dx%d", o.width, o.height)
	}
	fd := terminalFd(w, o.term)
	switch mode {
	case "", ModeAuto:
		mode = ModePlain
		if fd >= 0 {
			mode = ModeTTY
		}
	case ModePlain, ModeTTY, ModeQuiet, ModeRawJSON:
	case ModeNone:
		mode = ModeQuiet
	default:
		return nil, fmt.Errorf("%w %q: want one of %s, %s, %s, %s, %s, %s",
			ErrUnknownMode, mode, ModeAuto, ModeNone, ModePlain, ModeQuiet, ModeRawJSON, ModeTTY)
	}
	color := os.Getenv("NO_COLOR") == ""
	if o.color != nil {
		color = *o.color
	}
	d := &Display{
		w:       w,
		mode:    mode,
		now:     o.now,
		width:   o.width,
		height:  o.height,
		fd:      fd,
		color:   color,
		refresh: o.refresh,
	}
	d.began = d.now()
	if d.mode == ModeTTY && d.refresh > 0 {
		d.stop = make(chan struct{})
		d.done = make(chan struct{})
		go d.loop()
	}
	return d, nil
}

// terminalFd returns the descriptor of the terminal behind w (or behind the
// explicitly named terminal), or -1 when there is none.
func terminalFd(w io.Writer, named interface{ Fd() uintptr }) int {
	f, ok := w.(interface{ Fd() uintptr })
	if named != nil {
		f, ok = named, true
	}
	if !ok {
		return -1
	}
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return -1
	}
	return fd
}

// Mode reports the resolved mode: "plain", "tty", "quiet" or "rawjson".
func (d *Display) Mode() string { return d.mode }

// Start begins a step (a vertex) and returns its handle. name is shown as
// given, e.g. "[stage-1 2/5] RUN make".
func (d *Display) Start(name string) *Step {
	if d.root != nil {
		return d.root.Start(prefixed(d.prefix, name))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &Step{d: d, index: len(d.steps) + 1, name: name, start: d.now()}
	d.steps = append(d.steps, s)
	if !d.closed {
		var b bytes.Buffer
		switch d.mode {
		case ModePlain:
			d.plain.open(&b, s)
		case ModeRawJSON:
			encodeRaw(&b, rawStatus{Vertexes: []rawVertex{s.vertex()}})
		}
		d.write(&b)
	}
	return s
}

// Warn prints a warning line ("WARN: msg"). In TTY mode it appears above
// the live region at the next redraw; quiet mode drops it.
func (d *Display) Warn(msg string) {
	if d.root != nil {
		d.root.Warn(prefixed(d.prefix, msg))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	switch d.mode {
	case ModePlain:
		var b bytes.Buffer
		d.plain.warn(&b, msg)
		d.write(&b)
	case ModeTTY:
		d.tty.warnings = append(d.tty.warnings, msg)
	case ModeRawJSON:
		var b bytes.Buffer
		encodeRaw(&b, rawStatus{Warnings: []rawWarning{{Level: 1, Short: []byte(msg)}}})
		d.write(&b)
	}
}

// Close draws the final state, prints the output tail of every step that
// failed, and stops the redraw ticker. Nothing is printed after it. It
// returns the first error met writing to w. Calling it again is a no-op.
func (d *Display) Close() error {
	if d.root != nil {
		return nil
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	var b bytes.Buffer
	switch d.mode {
	case ModePlain:
		d.plain.finish(&b, d.steps)
	case ModeTTY:
		d.frame(&b, true)
	}
	if d.mode != ModeRawJSON {
		d.errorLogs(&b) // rawjson already carried every log line
	}
	d.write(&b)
	d.closed = true
	err := d.err
	d.mu.Unlock()

	if d.stop != nil {
		close(d.stop)
		<-d.done
	}
	if err != nil {
		return fmt.Errorf("writing progress: %w", err)
	}
	return nil
}

// loop redraws the TTY region until Close.
func (d *Display) loop() {
	defer close(d.done)
	t := time.NewTicker(d.refresh)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			if !d.closed {
				var b bytes.Buffer
				d.frame(&b, false)
				d.write(&b)
			}
			d.mu.Unlock()
		}
	}
}

// errorLogs appends, BuildKit style, the kept output of each failed step.
func (d *Display) errorLogs(b *bytes.Buffer) {
	for _, s := range d.steps {
		if s.state != stateError {
			continue
		}
		b.WriteString("------\n")
		fmt.Fprintf(b, " > %s:\n", s.name)
		lines := s.lines
		if len(lines) > errorLogLines {
			lines = lines[len(lines)-errorLogLines:]
		}
		for _, l := range lines {
			fmt.Fprintf(b, "%s %s\n", logTime(l.at), l.text)
		}
		b.WriteString("------\n")
	}
}

// write sends b to w in one call, remembering the first error and writing
// nothing more after it. Callers hold d.mu.
func (d *Display) write(b *bytes.Buffer) {
	if d.err != nil || len(b.Bytes()) == 0 {
		return
	}
	if _, err := d.w.Write(b.Bytes()); err != nil {
		d.err = err
	}
}
