package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// midBuild leaves a display in the middle of a build: finished, cached,
// failed and running steps, one running step with more output than shown,
// one with a progress bar still missing its newline.
func midBuild(d *Display, clk *fakeClock) {
	d.Start("[internal] load build definition from Dockerfile").Done(nil)
	d.Start("[base 1/4] FROM docker.io/library/golang:1.26@sha256:0123456789abcdef0123456789abcdef").Cached()
	clk.Advance(300 * time.Millisecond)
	run := d.Start("[base 2/4] RUN go build -trimpath -ldflags='-s -w' -o /out/hush ./cmd/hush")
	for _, l := range []string{"go: downloading a", "go: downloading b", "", "\x1b[1mbold\x1b[0m\tcolumn", "c", "d", "e", "f"} {
		run.Write([]byte(l + "\n"))
	}
	clk.Advance(1200 * time.Millisecond)
	bar := d.Start("[stage-1 2/3] RUN curl -O https://example.com/big.tar")
	bar.Write([]byte(" 10%\r 55%\r"))
	clk.Advance(40 * time.Millisecond)
	d.Start("[stage-1 3/3] RUN false").Done(errors.New("exit code: 1"))
	clk.Advance(800 * time.Millisecond)
}

func TestTTYFrame(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		color         bool
	}{
		{"wide", 100, 0, true},
		{"narrow", 40, 0, false},
		{"short", 80, 6, false}, // finished rows scroll away, logs only if they fit
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var out bytes.Buffer
			d, err := New(&out, ModeTTY, WithClock(clk.Now), WithRefresh(0), WithSize(tt.width, tt.height), WithColor(tt.color))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			midBuild(d, clk)
			if out.Len() != 0 {
				t.Fatalf("tty printed before the first frame: %q", out.String())
			}
			var b bytes.Buffer
			d.mu.Lock()
			d.frame(&b, false)
			d.mu.Unlock()
			golden(t, "frame-"+tt.name+".golden", showEscapes(b.Bytes()))

			for i, l := range lines(stripANSI(b.String())) {
				if n := len([]rune(l)); n > tt.width-1 {
					t.Errorf("line %d is %d columns, wider than %d-1: %q", i, n, tt.width, l)
				}
			}
			if tt.height > 0 {
				if n := strings.Count(b.String(), "\n"); n > tt.height-1 {
					t.Errorf("frame has %d lines, terminal height %d", n, tt.height)
				}
			}
		})
	}
}

// TestTTYRedraw checks the second frame moves the cursor back over the
// first, prints warnings above the region, and erases leftover lines when
// the region shrinks.
func TestTTYRedraw(t *testing.T) {
	clk := newFakeClock()
	var out bytes.Buffer
	d, err := New(&out, ModeTTY, WithClock(clk.Now), WithRefresh(0), WithSize(60, 0), WithColor(false))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := d.Start("[1/2] RUN make")
	s.Write([]byte("one\ntwo\nthree\n"))
	var first, second bytes.Buffer
	d.mu.Lock()
	d.frame(&first, false)
	d.mu.Unlock()

	s.Done(nil)
	d.Warn("first warning\nsecond line")
	clk.Advance(2 * time.Second)
	d.mu.Lock()
	d.frame(&second, false)
	d.mu.Unlock()

	if got := strings.Count(first.String(), "\n"); got != 5 {
		t.Fatalf("first frame has %d lines, want header+row+3 logs:\n%s", got, showEscapes(first.Bytes()))
	}
	golden(t, "redraw.golden", showEscapes(second.Bytes()))
	if !strings.HasPrefix(second.String(), hideCursor+"\x1b[5A\r") {
		t.Errorf("second frame does not move up 5 lines: %q", second.String())
	}
	if !strings.Contains(second.String(), eraseBelow) {
		t.Errorf("shrunk region not erased below: %q", second.String())
	}
}

// stripANSI removes escape sequences, leaving what the terminal shows.
func stripANSI(s string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(s, "\n") {
		b.WriteString(visible(l))
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}
