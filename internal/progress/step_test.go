package progress

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		done   bool
		n      int
		want   []string
	}{
		{name: "last two", writes: []string{"a\nb\nc\n"}, n: 2, want: []string{"b", "c"}},
		{name: "more than printed", writes: []string{"a\n"}, n: 5, want: []string{"a"}},
		{name: "zero", writes: []string{"a\n"}, n: 0, want: nil},
		{name: "negative", writes: []string{"a\n"}, n: -3, want: nil},
		{name: "split across writes", writes: []string{"hel", "lo wor", "ld\nbye"}, n: 5, want: []string{"hello world"}},
		{name: "partial flushed at Done", writes: []string{"hello\nbye"}, done: true, n: 5, want: []string{"hello", "bye"}},
		{name: "CRLF and empty lines", writes: []string{"a\r\n\r\n\nb\r", "\n"}, n: 5, want: []string{"a", "", "", "b"}},
		{name: "newline split from CR", writes: []string{"x\r", "\n"}, n: 1, want: []string{"x"}},
		{name: "only the last 100 kept", writes: []string{numbered(150)}, n: 1000, want: strings.Split(strings.TrimSuffix(numbered(150)[len(numbered(50)):], "\n"), "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(new(bytes.Buffer), ModePlain)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s := d.Start("[1/1] RUN x")
			for _, w := range tt.writes {
				n, err := s.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if tt.done {
				s.Done(nil)
			}
			if got := s.Tail(tt.n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

// numbered returns "line 0\n" ... "line n-1\n".
func numbered(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// TestLongLine checks a line that never ends is cut into maxLine pieces
// instead of growing without bound, and that no byte is lost.
func TestLongLine(t *testing.T) {
	var out bytes.Buffer
	d, err := New(&out, ModePlain)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := d.Start("[1/1] RUN yes | tr -d '\\n'")
	chunk := bytes.Repeat([]byte("y"), 1000)
	for range 100 {
		s.Write(chunk)
	}
	if len(s.partial) > maxLine {
		t.Errorf("unfinished line holds %d bytes, cap is %d", len(s.partial), maxLine)
	}
	s.Done(nil)
	total := 0
	for _, l := range s.Tail(keepLines) {
		if len(l) > maxLine {
			t.Errorf("line of %d bytes, cap is %d", len(l), maxLine)
		}
		total += len(l)
	}
	if total != 100*1000 {
		t.Errorf("kept %d bytes of output, want %d", total, 100*1000)
	}
	if got := strings.Count(out.String(), "y"); got != 100*1000+1 { // +1: the "yes" in the name
		t.Errorf("printed %d y's, want %d", got, 100*1000+1)
	}
}

// TestFinishOnce checks the first of Done/Cached wins and output after it is
// discarded, without failing the writer.
func TestFinishOnce(t *testing.T) {
	var out bytes.Buffer
	d, err := New(&out, ModePlain)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := d.Start("[1/1] RUN x")
	s.Done(errors.New("boom"))
	s.Done(nil)
	s.Cached()
	if n, err := s.Write([]byte("late\n")); n != 5 || err != nil {
		t.Errorf("Write after Done = %d, %v; want 5, nil", n, err)
	}
	want := "#1 [1/1] RUN x\n#1 ERROR: boom\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	if got := s.Tail(5); len(got) != 0 {
		t.Errorf("Tail kept output written after Done: %q", got)
	}
}

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb", "a       b"},
		{"abcdefgh\tx", "abcdefgh        x"},
		{"10%\r50%\r", "50%"},
		{"\x1b[1;31mred\x1b[0m", "red"},
		{"\x1b]0;title\x07text", "text"},
		{"\x1b]8;;http://x\x1b\\link", "link"},
		{"bell\x07 and \x08backspace", "bell and backspace"},
		{"two\nlines", "two lines"},
		{"héllo ✓", "héllo ✓"},
		{"bad\xffbyte", "bad\uFFFDbyte"},
		{"\x1b[", ""},
	}
	for _, tt := range tests {
		if got := visible(tt.in); got != tt.want {
			t.Errorf("visible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "hé"},
		{"hello", 0, ""},
		{"hello", -1, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestLogTime(t *testing.T) {
	tests := []struct {
		sec  float64
		want string
	}{
		{0, "0.000"},
		{0.152, "0.152"},
		{9.9994, "9.999"},
		{12.345, "12.35"},
		{123.45, "123.5"},
	}
	for _, tt := range tests {
		if got := logTime(secs(tt.sec)); got != tt.want {
			t.Errorf("logTime(%vs) = %q, want %q", tt.sec, got, tt.want)
		}
	}
}
