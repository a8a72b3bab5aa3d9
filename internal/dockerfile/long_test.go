package dockerfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// runLine is a RUN line of exactly n bytes (without its newline).
func runLine(n int) string {
	return "RUN " + strings.Repeat("a", n-4)
}

// continued is a RUN over lines short lines of width bytes, joined with backslashes.
func continued(lines, width int) string {
	var b strings.Builder
	b.WriteString("RUN echo \\\n")
	for range lines {
		b.WriteString("  " + strings.Repeat("b", width) + " \\\n")
	}
	b.WriteString("  end\n")
	return b.String()
}

// TestLongLines: lines up to BuildKit's limit (MaxLineBytes) parse; a longer one is an
// error naming the line where its instruction starts (and the long line itself when that
// differs), never a wrong line or a misleading message.
func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", 70<<10)
	tests := []struct {
		name    string
		src     string
		wantRun int      // when it parses: the first RUN's command is at least this long
		want    []string // nil: parses; else substrings, the first a prefix
	}{
		{name: "60k-run", src: "FROM scratch\n" + runLine(60<<10) + "\n", wantRun: 60<<10 - 4},
		{name: "at-the-limit", src: "FROM scratch\n" + runLine(MaxLineBytes) + "\n", wantRun: MaxLineBytes - 4},
		{name: "at-the-limit-no-newline", src: "FROM scratch\n" + runLine(MaxLineBytes), wantRun: MaxLineBytes - 4},
		// As in BuildKit, a "\r" before the newline counts.
		{name: "at-the-limit-crlf", src: "FROM scratch\r\n" + runLine(MaxLineBytes-1) + "\r\n", wantRun: MaxLineBytes - 5},
		{name: "one-over-crlf", src: "FROM scratch\r\n" + runLine(MaxLineBytes) + "\r\n", want: []string{"Dockerfile:2: ", "65536 bytes"}},
		{name: "one-over", src: "FROM scratch\n" + runLine(MaxLineBytes+1) + "\n", want: []string{"Dockerfile:2: ", "65536 bytes", "65535"}},
		{name: "one-over-no-newline", src: "FROM scratch\n" + runLine(MaxLineBytes+1), want: []string{"Dockerfile:2: ", "65535"}},
		{name: "100k-run", src: "FROM scratch\n" + runLine(100<<10) + "\nRUN b\n", want: []string{"Dockerfile:2: ", "65535"}},
		{name: "1m-run", src: "FROM scratch\nRUN a\n" + runLine(1<<20) + "\n", want: []string{"Dockerfile:3: ", "65535"}},
		{name: "first-line", src: runLine(70<<10) + "\nFROM scratch\n", want: []string{"Dockerfile:1: ", "65535"}},
		{name: "in-continuation", src: "FROM scratch\nRUN a \\\n  " + long + " \\\n  b\n", want: []string{"Dockerfile:2: ", "line 3 ", "65535"}},
		{name: "in-heredoc", src: "FROM scratch\nCOPY <<EOF /x\n" + long + "\nEOF\n", want: []string{"Dockerfile:2: ", "line 3 ", "65535"}},
		{name: "comment-between", src: "FROM scratch\n# " + long + "\nRUN b\n", want: []string{"Dockerfile:2: ", "65535"}},
		{name: "after-blank-lines", src: "FROM scratch\nRUN a\n\n\n" + long + "\n", want: []string{"Dockerfile:5: ", "65535"}},
		{name: "crlf", src: "FROM scratch\r\nRUN a\r\n" + runLine(70<<10) + "\r\n", want: []string{"Dockerfile:3: ", "65535"}},
		{name: "backtick-escape", src: "# escape=`\nFROM scratch\nRUN a `\n  " + long + " `\n  b\n", want: []string{"Dockerfile:3: ", "line 4 ", "65535"}},
		{name: "second-of-two", src: "FROM scratch\nRUN a \\\n b\n" + runLine(70<<10) + "\n" + runLine(80<<10) + "\n", want: []string{"Dockerfile:4: ", "65535"}},
		// BuildKit's messages quote the word; a long one is shortened in the middle.
		{name: "long-unknown-instruction", src: "FROM scratch\n" + strings.Repeat("X", 60<<10) + " y\n", want: []string{"Dockerfile:2: ", "unknown instruction: XXXX", "bytes elided"}},
		{name: "long-env-syntax-error", src: "FROM scratch\nENV a=b " + strings.Repeat("k", 60<<10) + "\n", want: []string{"Dockerfile:2: ", "can't find =", "bytes elided"}},
		{name: "continued-1m-works", src: "FROM scratch\n" + continued(1100, 1000) + "RUN b\n", wantRun: 1100 * 1000},
		{
			// An instruction after a 1 MiB continued RUN names its own line.
			name: "after-continued-1m",
			src:  "FROM scratch\n" + continued(1100, 1000) + "FROOM y\n",
			want: []string{fmt.Sprintf("Dockerfile:%d: ", 2+1100+2), "unknown instruction: FROOM"},
		},
		{
			name: "after-continued-70k",
			src:  "FROM scratch\n" + continued(70, 1000) + "COPY\n",
			want: []string{fmt.Sprintf("Dockerfile:%d: ", 2+70+2), "COPY"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("Dockerfile", strings.NewReader(tt.src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %.300v", err)
				}
				if n := firstRunLen(f); n < tt.wantRun {
					t.Fatalf("first RUN command is %d bytes, want at least %d", n, tt.wantRun)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			t.Logf("error: %.300v", err)
			if !strings.HasPrefix(err.Error(), tt.want[0]) {
				t.Errorf("error %.300q does not start with %q", err, tt.want[0])
			}
			for _, w := range tt.want[1:] {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %.300q does not contain %q", err, w)
				}
			}
			if len(err.Error()) > 512 {
				t.Errorf("error is %d bytes; it must not carry the line", len(err.Error()))
			}
		})
	}
}

// firstRunLen is the length of the first RUN's command line, or -1.
func firstRunLen(f *File) int {
	for _, c := range f.Stages[0].Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			return len(strings.Join(r.CmdLine, " "))
		}
	}
	return -1
}
