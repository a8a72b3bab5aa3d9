package plan_test

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// continuedRun is a RUN spread over 1+lines+1 lines of width-byte words.
func continuedRun(lines, width int) string {
	var b strings.Builder
	b.WriteString("RUN echo \\\n")
	for range lines {
		b.WriteString("  " + strings.Repeat("b", width) + " \\\n")
	}
	b.WriteString("  end\n")
	return b.String()
}

// TestLongLineErrorLines: errors the plan finds on or after very long instructions name
// the line where the failing instruction starts.
func TestLongLineErrorLines(t *testing.T) {
	run60k := "RUN " + strings.Repeat("a", 60<<10) + "\n"
	var env strings.Builder
	env.WriteString("ENV \\\n")
	for i := range 200 {
		fmt.Fprintf(&env, "  K%03d=%s \\\n", i, strings.Repeat("v", 500))
	}
	env.WriteString("  LAST=${MISSING:?required}\n")
	tests := []struct {
		name string
		src  string
		want string // error prefix
	}{
		{name: "after-60k-run", src: "FROM scratch\n" + run60k + "STOPSIGNAL bogus\n", want: "Dockerfile:3: invalid signal"},
		{name: "after-1m-continued-run", src: "FROM scratch\n" + continuedRun(1100, 1000) + "STOPSIGNAL bogus\n", want: fmt.Sprintf("Dockerfile:%d: invalid signal", 2+1100+2)},
		{name: "inside-100k-continued-env", src: "FROM scratch\nRUN a\n" + env.String(), want: `Dockerfile:3: ENV LAST: expanding "${MISSING:?required}": MISSING: required`},
		{name: "in-a-60k-word", src: "FROM scratch\nENV X=" + strings.Repeat("v", 60<<10) + "${MISSING:?required}\n", want: `Dockerfile:2: ENV X: expanding "vvvvvvvvvvvvvvvvvvvvvvvv"…"vvvv${MISSING:?required}": MISSING: required`},
		{name: "stage-after-long-lines", src: "FROM scratch\n" + run60k + continuedRun(100, 1000) + "FROM $NOPE\n", want: fmt.Sprintf("Dockerfile:%d: ", 3+100+2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := applyAll(tt.src, v1.Config{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %.300v, want prefix %q", err, tt.want)
			}
			if len(err.Error()) > 512 {
				t.Errorf("error is %d bytes; it must not carry the instruction", len(err.Error()))
			}
		})
	}
}

// TestLongRunLines: a long RUN line, or a RUN continued to over 1 MiB, plans with its
// whole command and its first line.
func TestLongRunLines(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  string
		size int
	}{
		{name: "60k-line", run: "RUN " + strings.Repeat("a", 60<<10) + "\n", size: 60 << 10},
		{name: "1m-continued", run: continuedRun(1100, 1000), size: 1100 * 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			step, err := applyAll("FROM scratch\n"+tt.run, v1.Config{})
			if err != nil {
				t.Fatalf("%.300v", err)
			}
			if step.Line != 2 || len(step.Args) != 3 || len(step.Args[2]) < tt.size {
				t.Fatalf("step line %d, %d args, command %d bytes; want line 2 and a %d-byte sh -c command", step.Line, len(step.Args), len(strings.Join(step.Args, " ")), tt.size)
			}
		})
	}
}
