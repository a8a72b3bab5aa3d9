package progress

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

// openPTY returns both ends of a new pseudo-terminal sized 50x20.
func openPTY(t *testing.T) (ptmx, pts *os.File) {
	t.Helper()
	ptmx, pts = hushtest.OpenPTY(t)
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 50, Row: 20}); err != nil {
		t.Fatalf("sizing pty: %v", err)
	}
	return ptmx, pts
}

func TestNewModes(t *testing.T) {
	_, pts := openPTY(t)
	tests := []struct {
		name    string
		w       func() any
		mode    string
		opts    []Option
		want    string
		wantErr string
	}{
		{name: "auto on a buffer is plain", mode: "auto", want: ModePlain},
		{name: "empty means auto", mode: "", want: ModePlain},
		{name: "auto on a terminal is tty", w: func() any { return pts }, mode: "auto", want: ModeTTY},
		{name: "auto through a wrapper with WithTerminal", mode: "auto", opts: []Option{WithTerminal(pts)}, want: ModeTTY},
		{name: "auto with a non-terminal WithTerminal is plain", mode: "auto", opts: []Option{WithTerminal(mustTemp(t))}, want: ModePlain},
		{name: "plain", mode: "plain", want: ModePlain},
		{name: "tty forced on a buffer", mode: "tty", want: ModeTTY},
		{name: "quiet", mode: "quiet", want: ModeQuiet},
		{name: "rawjson", mode: "rawjson", want: ModeRawJSON},
		{name: "none is quiet", mode: "none", want: ModeQuiet},
		{name: "unknown", mode: "fancy", wantErr: `unknown progress mode "fancy": want one of auto, none, plain, quiet, rawjson, tty`},
		{name: "case matters", mode: "Plain", wantErr: `"Plain"`},
		{name: "nil clock", mode: "plain", opts: []Option{WithClock(nil)}, wantErr: "nil clock"},
		{name: "negative size", mode: "tty", opts: []Option{WithSize(-1, 0)}, wantErr: "invalid size -1x0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w any = new(bytes.Buffer)
			if tt.w != nil {
				w = tt.w()
			}
			d, err := New(w.(interface{ Write([]byte) (int, error) }), tt.mode, append(tt.opts, WithRefresh(0))...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v, want it to contain %q", tt.mode, err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "mode") && !errors.Is(err, ErrUnknownMode) {
					t.Errorf("error %v does not wrap ErrUnknownMode", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.mode, err)
			}
			defer d.Close()
			if got := d.Mode(); got != tt.want {
				t.Errorf("Mode() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewNilWriter(t *testing.T) {
	if _, err := New(nil, "plain"); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func mustTemp(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "notatty")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestTTYOnTerminal draws through a real pseudo-terminal: the width comes
// from the terminal (50 columns) and the ticker redraws on its own.
func TestTTYOnTerminal(t *testing.T) {
	ptmx, pts := openPTY(t)
	var term hushtest.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(what string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if out := term.String(); strings.Contains(out, what) {
				return out
			}
		}
		t.Fatalf("terminal never showed %q; got %q", what, term.String())
		return ""
	}

	d, err := New(pts, "auto", WithRefresh(5*time.Millisecond), WithColor(false))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := d.Start("[1/1] RUN " + strings.Repeat("x", 100))
	s.Write([]byte("hello from the step\n"))
	waitFor(" => => # hello from the step") // a live frame, drawn by the ticker
	waitFor("[+] Building")
	s.Done(errors.New("exit code: 1"))
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := waitFor("------\r\n > [1/1] RUN")
	if !regexp.MustCompile(`\x1b\[\d+A\r`).MatchString(out) {
		t.Errorf("no redraw (cursor up) seen: %q", out)
	}
	for l := range strings.SplitSeq(out, "\r\n") {
		if strings.Contains(l, " => ") {
			if n := len([]rune(visible(l))); n > 49 {
				t.Errorf("row of %d columns on a 50-column terminal: %q", n, visible(l))
			}
		}
	}
}

// failingWriter fails every write after the first ok ones.
type failingWriter struct{ ok int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.ok == 0 {
		return 0, errors.New("disk full")
	}
	f.ok--
	return len(p), nil
}

func TestCloseReportsWriteError(t *testing.T) {
	tests := []struct {
		mode string
		ok   int // writes that succeed before the failure
	}{
		{ModePlain, 1}, // the header gets out, the output line fails
		{ModeTTY, 0},   // the only write is the final frame at Close
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			w := &failingWriter{ok: tt.ok}
			d, err := New(w, tt.mode, WithRefresh(0))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s := d.Start("[1/1] RUN true")
			s.Write([]byte("out\n"))
			s.Done(nil)
			err = d.Close()
			if err == nil || !strings.Contains(err.Error(), "writing progress: disk full") {
				t.Fatalf("Close() = %v, want the write error", err)
			}
		})
	}
}
